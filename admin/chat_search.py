"""Finding chats: filters, full-text search (SQLite FTS5 table ``chat_fts``) and paging.

``chat_fts`` is kept by triggers (migration 0002): one row per chat, rowid = chat.id, with the
caller's name and number, summary, tags and the whole transcript. Other databases fall back to
a LIKE search."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, text

from models import Chat, ChatStatus, Turn, db
from models.phone import search_spellings

from .formatting import local_day_start_utc

OPEN_STATUSES = (ChatStatus.NEU, ChatStatus.IN_ARBEIT)
# Status filter value -> label; "offen" is what still needs someone's attention.
STATUS_FILTERS = {"offen": "Offen", **{s.value: s.label for s in ChatStatus}, "alle": "Alle"}
_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBERISH = re.compile(r"^[\d\s+/()-]+$")


@dataclass(frozen=True)
class ChatFilter:
    q: str = ""
    status: str = "alle"
    agent: str = ""
    tag: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @classmethod
    def from_args(cls, args: Any, default_status: str = "alle") -> tuple[ChatFilter, list[str]]:
        """Read the filter from query arguments; returns German messages for unusable input."""
        errors: list[str] = []
        status = args.get("status", default_status)
        if status not in STATUS_FILTERS:
            status = default_status
        dates: dict[str, dt.date | None] = {}
        for key, label in (("von", "Von"), ("bis", "Bis")):
            raw = (args.get(key) or "").strip()
            dates[key] = None
            if raw:
                try:
                    dates[key] = dt.date.fromisoformat(raw)
                except ValueError:
                    errors.append(f"„{label}“ ist kein gültiges Datum.")
        return cls(
            q=(args.get("q") or "").strip()[:200], status=status,
            agent=(args.get("agent") or "").strip()[:200],
            tag=(args.get("tag") or "").strip()[:100],
            date_from=dates["von"], date_to=dates["bis"],
        ), errors

    def as_args(self) -> dict[str, str]:
        args = {"q": self.q, "status": self.status, "agent": self.agent, "tag": self.tag,
                "von": self.date_from.isoformat() if self.date_from else "",
                "bis": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in args.items() if v}


def fts_query(user_text: str) -> str:
    """An FTS5 MATCH expression: every word must occur, as a word prefix. Quoting each word
    keeps FTS5 syntax (AND, NEAR, *, :) in the user's text from being interpreted."""
    words = _WORD.findall(user_text)
    return " ".join(f'"{w}"*' for w in words[:12])


def _uses_fts() -> bool:
    return db.engine.dialect.name == "sqlite"


def _number_condition(user_text: str) -> ColumnElement[bool] | None:
    if not _NUMBERISH.match(user_text) or len(re.sub(r"\D", "", user_text)) < 3:
        return None
    return or_(*(Chat.caller_number.like(f"%{v}%") for v in sorted(search_spellings(user_text))))


def _text_condition(user_text: str) -> ColumnElement[bool]:
    if _uses_fts():
        match = fts_query(user_text)
        if not match:
            return Chat.id.is_(None)
        ids = select(text("rowid")).select_from(text("chat_fts")).where(
            text("chat_fts MATCH :fts_q").bindparams(fts_q=match))
        return Chat.id.in_(ids)
    like = f"%{user_text}%"
    return or_(
        Chat.caller_name.ilike(like), Chat.caller_number.ilike(like), Chat.summary.ilike(like),
        exists().where(and_(Turn.chat_id == Chat.id, Turn.text.ilike(like))),
    )


def _tag_condition(tag: str) -> ColumnElement[bool]:
    each = func.json_each(Chat.tags).table_valued("value")
    exact = exists(select(1).select_from(each).where(each.c.value == tag))
    if _uses_fts() and fts_query(tag):
        narrowed = select(text("rowid")).select_from(text("chat_fts")).where(
            text("chat_fts MATCH :tag_q").bindparams(tag_q=f"tags : ({fts_query(tag)})"))
        return and_(Chat.id.in_(narrowed), exact)
    return exact


def build_query(f: ChatFilter) -> Select[tuple[Chat]]:
    query = select(Chat)
    if f.status == "offen":
        query = query.where(Chat.status.in_(OPEN_STATUSES))
    elif ChatStatus.of(f.status):
        query = query.where(Chat.status == f.status)
    if f.q:
        conditions = [_text_condition(f.q)]
        number = _number_condition(f.q)
        if number is not None:
            conditions.append(number)
        query = query.where(or_(*conditions))
    if f.agent:
        query = query.where(Chat.last_agent_name == f.agent)
    if f.tag:
        query = query.where(_tag_condition(f.tag))
    if f.date_from:
        query = query.where(Chat.started_at >= local_day_start_utc(f.date_from))
    if f.date_to:
        query = query.where(
            Chat.started_at < local_day_start_utc(f.date_to + dt.timedelta(days=1)))
    return query


def find_chats(f: ChatFilter, page: int = 1, per_page: int = 25) -> tuple[list[Chat], bool]:
    """One page of chats, newest first, and whether there are more.

    With a full-text condition the order is by id: the controller creates the chat row when the
    call starts, so that is the same order, and SQLite then need not sort every match (32 ms
    instead of 4 ms for a word in 16,000 of 100,000 chats)."""
    page = max(1, page)
    if f.q or f.tag:
        order = (Chat.id.desc(),)
    else:
        order = (Chat.started_at.desc(), Chat.id.desc())
    query = (build_query(f).order_by(*order)
             .offset((page - 1) * per_page).limit(per_page + 1))
    rows = list(db.session.scalars(query))
    return rows[:per_page], len(rows) > per_page


def status_counts() -> dict[str, int]:
    """Chats per status, plus "offen" and "alle" (counted on the status index)."""
    counts = {status.value: 0 for status in ChatStatus}
    for status, count in db.session.execute(
            select(Chat.status, func.count()).group_by(Chat.status)):
        counts[status] = count
    counts["offen"] = sum(counts.get(s, 0) for s in OPEN_STATUSES)
    counts["alle"] = sum(v for k, v in counts.items() if ChatStatus.of(k))
    return counts

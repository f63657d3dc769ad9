"""Data protection on the node: the audit log, the journal of recording files still to delete,
what a call to a number may record, and finding every chat of one caller however the number
was written."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .chats import Chat, utcnow
from .config import PhoneNumber
from .db import db
from .phone import normalize_number, same_number

# Stored action -> German label in the admin's "Protokoll".
AUDIT_ACTIONS = {
    "login": "Angemeldet",
    "chat.open": "Chat geöffnet",
    "recording.play": "Aufnahme abgespielt",
    "recording.download": "Aufnahme heruntergeladen",
    "data.export": "Daten exportiert",
    "data.erase": "Daten gelöscht",
    "retention.purge": "Aufbewahrungsfrist: gelöscht",
    "settings.change": "Einstellungen geändert",
    "agent.create": "Agent angelegt",
    "agent.change": "Agent geändert",
    "agent.delete": "Agent gelöscht",
    "knowledge.upload": "Wissensdokument hochgeladen",
    "knowledge.delete": "Wissensdokument gelöscht",
    "number.create": "Nummer angelegt",
    "number.change": "Nummer geändert",
    "number.delete": "Nummer gelöscht",
    "window.create": "Zeitfenster angelegt",
    "window.change": "Zeitfenster geändert",
    "window.delete": "Zeitfenster gelöscht",
    "user.create": "Benutzer angelegt",
}


class AuditEntry(db.Model):
    """Who did what to which target, and when (DSGVO Art. 30). Never conversation content:
    ``target`` names a chat by id, a caller by a masked number."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_target_ref", "target_ref"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # UTC, naive
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), default=None)
    actor: Mapped[str] = mapped_column(String(120), default="")  # user name, "System", "CLI …"
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")  # shown: "Chat 17", "+49170…67"
    # what a filter matches: "chat:17", "agent:3", "caller:<keyed hash of the number>"
    target_ref: Mapped[str] = mapped_column(String(80), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # counts, field names


class PendingFileDeletion(db.Model):
    """A recording file whose rows are already deleted; removed from disk right after the
    commit, and by the next purge if the process died in between (no orphaned files)."""

    __tablename__ = "pending_file_deletion"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(500))  # relative to the recordings folder
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class RecordingPolicy:
    """What a call to one number does before and while it talks."""

    record: bool = True
    announcement: str = ""  # spoken before the greeting; "" = none


def recording_policy(session: Session, called_number: str) -> RecordingPolicy:
    """The policy of the configured number ``called_number`` (any spelling); unknown numbers
    record, without announcement (they go to the fallback anyway)."""
    for row in session.scalars(select(PhoneNumber)):
        if same_number(called_number, row.number):
            text = (row.announcement_text or "").strip() if row.announcement_enabled else ""
            return RecordingPolicy(record=bool(row.recording_enabled), announcement=text)
    return RecordingPolicy()


def caller_spellings(session: Session, number: str) -> list[str]:
    """Every stored ``Chat.caller_number`` that is ``number`` (``+49…``, ``0049…``, ``0…``,
    with or without separators), compared after ``normalize_number`` on both sides."""
    wanted = normalize_number(number)
    if not wanted:
        return []
    stored = session.scalars(select(Chat.caller_number).distinct())
    return sorted(raw for raw in stored if raw and normalize_number(raw) == wanted)


def add_audit(session: Session, action: str, *, actor: str, user_id: int | None = None,
              target: str = "", target_ref: str = "", **details: Any) -> AuditEntry:
    """One audit entry (the caller commits). ``details``: counts and field names only."""
    entry = AuditEntry(action=action, actor=actor[:120], user_id=user_id, target=target[:200],
                       target_ref=target_ref[:80], details=details, at=utcnow())
    session.add(entry)
    return entry


def caller_ref(secret: str, number: str) -> str:
    """What the audit log stores to find a caller again: a keyed hash of the normalised number
    (the number itself would outlive its erasure there)."""
    digest = hmac.new(secret.encode(), normalize_number(number).encode(), hashlib.sha256)
    return "caller:" + digest.hexdigest()[:32]


"""Chats: the card view (main view), the searchable list, the detail page and quick actions."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from models import END_REASONS, Agent, Chat, ChatStatus, CustomerSettings, Recording, db

from .audit import record as audit
from .auth import login_required
from .chat_search import STATUS_FILTERS, ChatFilter, find_chats, status_counts
from .formatting import format_datetime, local_now

log = logging.getLogger(__name__)

bp = Blueprint("chats", __name__, url_prefix="/chats")
bp.add_app_template_global(ChatStatus, "ChatStatus")  # the templates compare with its members

CARDS_PER_PAGE = 24
LIST_PER_PAGE = 50
MAX_POLL_IDS = 200

EVENT_LABELS = {
    "window": "Zeitfenster gewählt",
    "handover": "Übergabe an anderen Agenten",
    "transfer": "Weiterleitung",
    "tool_call": "Werkzeug benutzt",
    "hangup": "Aufgelegt",
    "fallback": "Ersatzweiterleitung",
    "error": "Fehler",
    "recording_off": "Keine Aufnahme",
    "dtmf": "Tastendruck",
}
TIMING_LABELS = {
    "endpoint": "Sprechende erkannt", "stt": "Spracherkennung", "llm_ttft": "KI erstes Wort",
    "tts_first_audio": "Sprachausgabe", "overhead": "Sonstiges", "total": "Antwortzeit",
}


def _page() -> int:
    return max(1, request.args.get("seite", 1, type=int) or 1)


def _back(default: str) -> str:
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


@bp.get("/")
@login_required
def cards() -> str:
    chat_filter, _ = ChatFilter.from_args(request.args, default_status="offen")
    chat_filter = ChatFilter(status=chat_filter.status)
    chats, has_more = find_chats(chat_filter, _page(), CARDS_PER_PAGE)
    return render_template(
        "chats/cards.html", chats=chats, has_more=has_more, page=_page(),
        status=chat_filter.status, counts=status_counts(), status_filters=STATUS_FILTERS,
        poll_seconds=current_app.config["CHAT_POLL_SECONDS"],
    )


@bp.get("/liste")
@login_required
def search() -> str:
    chat_filter, errors = ChatFilter.from_args(request.args)
    for message in errors:
        flash(message, "error")
    chats, has_more = find_chats(chat_filter, _page(), LIST_PER_PAGE)
    settings = db.session.get(CustomerSettings, 1)
    agent_names = db.session.scalars(select(Agent.name).order_by(Agent.name)).all()
    return render_template(
        "chats/list.html", chats=chats, has_more=has_more, page=_page(), f=chat_filter,
        status_filters=STATUS_FILTERS, agent_names=agent_names,
        tag_choices=(settings.tag_choices if settings else []) or [],
        poll_seconds=current_app.config["CHAT_POLL_SECONDS"],
    )


def _timeline(chat: Chat) -> list[dict[str, Any]]:
    """Turns and events in the order they happened."""
    entries: list[dict[str, Any]] = []
    for turn in chat.turns:
        entries.append({"type": "turn", "at": turn.at, "order": (turn.at, 1, turn.seq),
                        "turn": turn})
    for event in chat.events:
        entries.append({"type": "event", "at": event.at, "order": (event.at, 0, event.seq),
                        "event": event, "label": EVENT_LABELS.get(event.kind, event.kind)})
    entries.sort(key=lambda e: e["order"])
    return entries


@bp.get("/<int:chat_id>")
@login_required
def detail(chat_id: int) -> str:
    chat = db.session.scalar(
        select(Chat).where(Chat.id == chat_id).options(
            selectinload(Chat.turns), selectinload(Chat.events), selectinload(Chat.recordings)))
    if chat is None:
        abort(404)
    audit("chat.open", f"Chat {chat.id}", f"chat:{chat.id}")
    return render_template(
        "chats/detail.html", chat=chat, timeline=_timeline(chat), end_reasons=END_REASONS,
        timing_labels=TIMING_LABELS, poll_seconds=current_app.config["CHAT_POLL_SECONDS"],
    )


def _chat_for_action(chat_id: int) -> Chat:
    chat = db.session.get(Chat, chat_id)
    if chat is None:
        abort(404)
    return chat


@bp.post("/<int:chat_id>/erledigt")
@login_required
def mark_done(chat_id: int) -> Response:
    chat = _chat_for_action(chat_id)
    if chat.status == ChatStatus.IN_ARBEIT:
        flash("Der Anruf läuft noch – der Chat kann danach erledigt werden.", "error")
    else:
        chat.status = ChatStatus.ERLEDIGT
        db.session.commit()
        flash(f"Chat mit {chat.caller_name or chat.caller_number or 'Unbekannt'} ist erledigt.",
              "success")
    return redirect(_back(url_for("chats.cards")))


@bp.post("/<int:chat_id>/rueckruf")
@login_required
def note_callback(chat_id: int) -> Response:
    """The callback is written down: the note says who and when, the chat counts as done."""
    chat = _chat_for_action(chat_id)
    if chat.status == ChatStatus.IN_ARBEIT:
        flash("Der Anruf läuft noch – ein Rückruf kann danach notiert werden.", "error")
        return redirect(_back(url_for("chats.cards")))
    note = request.form.get("notiz", "").strip()[:1000]
    line = f"Rückruf notiert von {g.user.username} am {format_datetime(local_now())}"
    line += f": {note}" if note else ""
    chat.followup_note = f"{chat.followup_note}\n{line}".strip()
    chat.status = ChatStatus.ERLEDIGT
    db.session.commit()
    flash("Rückruf notiert – der Chat ist erledigt.", "success")
    return redirect(_back(url_for("chats.cards")))


@bp.post("/<int:chat_id>/wieder-oeffnen")
@login_required
def reopen(chat_id: int) -> Response:
    chat = _chat_for_action(chat_id)
    if chat.status == ChatStatus.ERLEDIGT:
        chat.status = ChatStatus.NEU
        db.session.commit()
        flash("Der Chat ist wieder offen.", "success")
    return redirect(_back(url_for("chats.detail", chat_id=chat_id)))


@bp.get("/status.json")
@login_required
def status_json() -> Response:
    """Current status of the chats a page shows (its script polls this)."""
    ids = [int(x) for x in request.args.get("ids", "").split(",") if x.isdigit()][:MAX_POLL_IDS]
    rows = db.session.execute(
        select(Chat.id, Chat.status, Chat.last_agent_name, Chat.summary, Chat.tags)
        .where(Chat.id.in_(ids))).all() if ids else []
    newest = db.session.scalar(select(Chat.id).order_by(Chat.id.desc()).limit(1))
    return jsonify(
        newest_id=newest or 0,
        chats={str(r.id): {"status": r.status, "label": ChatStatus.label_of(r.status),
                           "last_agent": r.last_agent_name, "summary": r.summary,
                           "tags": list(r.tags or [])} for r in rows},
    )


@bp.get("/<int:chat_id>/aufnahme/<int:recording_id>")
@login_required
def recording(chat_id: int, recording_id: int) -> Response:
    """The call's audio, only from inside the recordings folder."""
    rec = db.session.get(Recording, recording_id)
    if rec is None or rec.chat_id != chat_id:
        abort(404)
    folder = Path(current_app.config["RECORDINGS_DIR"]).resolve()
    download = request.args.get("herunterladen") == "1"
    # a player fetches in ranges: audited once per playback, at its first byte
    if download or request.headers.get("Range", "bytes=0-").startswith("bytes=0-"):
        audit("recording.download" if download else "recording.play",
              f"Chat {chat_id}, Aufnahme {recording_id}", f"chat:{chat_id}")
    # send_from_directory refuses paths that leave the folder (safe_join) with a 404.
    return send_from_directory(folder, rec.path, conditional=True, as_attachment=download)

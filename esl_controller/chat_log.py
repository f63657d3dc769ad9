"""Writes a call's chat to the database as it happens: one short transaction per fact, so the
admin sees the call live and a crash or hangup loses nothing already said."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from models import Chat, ChatEvent, ChatStatus, Recording, Turn, db, utcnow

log = logging.getLogger(__name__)


class ChatLog:
    def __init__(self, app: Flask, call_uuid: str):
        self.app = app
        self.call_uuid = call_uuid
        self.chat_id: int | None = None
        self._turn_seq = 0
        self._event_seq = 0

    def _write(self, fn) -> Any:
        with self.app.app_context():
            try:
                result = fn()
                db.session.commit()
                return result
            except Exception:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    def open(self, *, called_number: str, caller_number: str, caller_name: str) -> int:
        def create() -> int:
            chat = Chat(call_uuid=self.call_uuid, called_number=called_number,
                        caller_number=caller_number, caller_name=caller_name,
                        status=ChatStatus.IN_ARBEIT, started_at=utcnow())
            db.session.add(chat)
            db.session.flush()
            return chat.id

        self.chat_id = self._write(create)
        return self.chat_id

    def started_with(self, window_name: str, agent_id: int, agent_name: str) -> None:
        """The time window and its start agent, on the chat and its timeline."""
        self.update(window_name=window_name, start_agent_id=agent_id, start_agent_name=agent_name,
                    last_agent_id=agent_id, last_agent_name=agent_name)
        self.note("window", window=window_name, agent=agent_name)

    def close(self, *, end_reason: str, transferred_to: str, last_agent: Any = None) -> None:
        """Status Neu, end time and outcome: written before anything else after the call, so
        the chat never stays In Arbeit."""
        if self.chat_id is None:
            return
        fields: dict[str, Any] = {"status": ChatStatus.NEU, "ended_at": utcnow(),
                                  "end_reason": end_reason, "transferred_to": transferred_to}
        if last_agent is not None:
            fields.update(last_agent_id=last_agent.id, last_agent_name=last_agent.name)
        self.update(**fields)

    def add_summary(self, summary: Any, *, caller_name: bool) -> None:
        """The call summary and tags (``agents.summary.CallSummary``); with ``caller_name`` also
        the name the caller gave, where the line did not tell it."""
        fields: dict[str, Any] = {"summary": summary.summary, "tags": summary.tags,
                                  "summary_is_extract": summary.is_extract}
        if caller_name and summary.caller_name:
            fields["caller_name"] = summary.caller_name
        self.update(**fields)

    def update(self, **fields: Any) -> None:
        def apply() -> None:
            chat = db.session.get(Chat, self.chat_id)
            for key, value in fields.items():
                setattr(chat, key, value)

        self._write(apply)

    def add_turn(self, role: str, text: str, *, agent_name: str = "", interrupted: bool = False,
                 timings: dict[str, Any] | None = None) -> None:
        self._turn_seq += 1
        seq = self._turn_seq
        self._write(lambda: db.session.add(Turn(
            chat_id=self.chat_id, seq=seq, role=role, text=text, agent_name=agent_name,
            interrupted=interrupted, timings=timings or {}, at=utcnow())))

    def add_event(self, kind: str, **data: Any) -> None:
        self._event_seq += 1
        seq = self._event_seq
        self._write(lambda: db.session.add(ChatEvent(
            chat_id=self.chat_id, seq=seq, kind=kind, data=data, at=utcnow())))

    def note(self, kind: str, **data: Any) -> None:
        """An event on the timeline, best effort: a failed write is logged, the call goes on
        (before the chat exists there is nothing to note it on)."""
        if self.chat_id is None:
            return
        try:
            self.add_event(kind, **data)
        except Exception:
            log.exception("could not store %s event", kind)

    def add_recording(self, path: str, sample_rate: int, duration_s: float) -> None:
        self._write(lambda: db.session.add(Recording(
            chat_id=self.chat_id, path=path, sample_rate=sample_rate, channels=2,
            duration_s=duration_s)))

    def transcript(self) -> list[tuple[str, str]]:
        with self.app.app_context():
            try:
                rows = db.session.scalars(
                    db.select(Turn).filter_by(chat_id=self.chat_id).order_by(Turn.seq)).all()
                return [(t.role, t.text) for t in rows]
            finally:
                db.session.remove()

"""What a call leaves behind: the chat, its turns, its timeline events and its recording."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import db


class ChatStatus(StrEnum):
    """Where a chat stands: In Arbeit while the call runs, Neu once it ended, Erledigt when the
    office has dealt with it. The values are what the database stores."""

    IN_ARBEIT = "in_arbeit"
    NEU = "neu"
    ERLEDIGT = "erledigt"

    @property
    def label(self) -> str:
        """The German label the admin shows."""
        return _STATUS_LABELS[self]

    @classmethod
    def of(cls, value: str) -> ChatStatus | None:
        """The status a stored or submitted value names; None for anything else."""
        try:
            return cls(value)
        except ValueError:
            return None

    @classmethod
    def label_of(cls, value: str) -> str:
        """The label of a stored value; an unknown value shows as it is."""
        status = cls.of(value)
        return status.label if status else value


_STATUS_LABELS = {ChatStatus.IN_ARBEIT: "In Arbeit", ChatStatus.NEU: "Neu",
                  ChatStatus.ERLEDIGT: "Erledigt"}

# How a call ended (Chat.end_reason).
END_REASONS = {
    "agent_hangup": "Vom Agenten beendet",
    "caller_hangup": "Anrufer hat aufgelegt",
    "transfer": "Weitergeleitet",
    "fallback": "Ersatzweiterleitung",
    "error": "Fehler",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Chat(db.Model):
    """One call. Agent names are copied so a deleted agent does not blank old chats."""

    __tablename__ = "chat"
    __table_args__ = (
        Index("ix_chat_started_at", "started_at"),
        Index("ix_chat_status_started", "status", "started_at"),
        Index("ix_chat_last_agent_started", "last_agent_name", "started_at"),  # admin filter
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(64), unique=True)
    called_number: Mapped[str] = mapped_column(String(40), default="")
    caller_number: Mapped[str] = mapped_column(String(40), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    window_name: Mapped[str] = mapped_column(String(200), default="")
    start_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent.id", ondelete="SET NULL"), default=None
    )
    start_agent_name: Mapped[str] = mapped_column(String(200), default="")
    last_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent.id", ondelete="SET NULL"), default=None
    )
    last_agent_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=ChatStatus.IN_ARBEIT.value)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # UTC, naive
    answered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str] = mapped_column(String(32), default="")
    transferred_to: Mapped[str] = mapped_column(String(40), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_is_extract: Mapped[bool] = mapped_column(default=False)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    followup_note: Mapped[str] = mapped_column(Text, default="")
    turns: Mapped[list[Turn]] = relationship(
        back_populates="chat", cascade="all, delete-orphan", order_by="Turn.seq"
    )
    events: Mapped[list[ChatEvent]] = relationship(
        back_populates="chat", cascade="all, delete-orphan", order_by="ChatEvent.seq"
    )
    recordings: Mapped[list[Recording]] = relationship(
        back_populates="chat", cascade="all, delete-orphan"
    )

    @property
    def status_label(self) -> str:
        return ChatStatus.label_of(self.status)

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class Turn(db.Model):
    """One utterance: the caller's (transcribed) or an agent's (spoken)."""

    __tablename__ = "turn"
    __table_args__ = (Index("ix_turn_chat_seq", "chat_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"))
    seq: Mapped[int]
    role: Mapped[str] = mapped_column(String(16))  # caller | agent
    agent_name: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    interrupted: Mapped[bool] = mapped_column(default=False)
    # per-turn latency breakdown in ms: endpoint, stt, llm_ttft, tts_first_audio, overhead, total
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    chat: Mapped[Chat] = relationship(back_populates="turns")


class ChatEvent(db.Model):
    """A timeline entry: window chosen, handover, transfer, tool call, error, hangup."""

    __tablename__ = "chat_event"
    __table_args__ = (Index("ix_chat_event_chat_seq", "chat_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    chat: Mapped[Chat] = relationship(back_populates="events")


class Recording(db.Model):
    """The call's audio file: two channels, caller left and agent right."""

    __tablename__ = "recording"
    __table_args__ = (Index("ix_recording_chat_id", "chat_id"),)  # erase and purge by chat
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(500))  # relative to the recordings folder
    sample_rate: Mapped[int] = mapped_column(default=8000)
    channels: Mapped[int] = mapped_column(default=2)
    duration_s: Mapped[float] = mapped_column(default=0.0)
    chat: Mapped[Chat] = relationship(back_populates="recordings")

"""What the customer configures: settings, phone numbers, time windows, agents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.turn_taking import DEFAULT_TURN_TAKING

from .db import db

WINDOW_KINDS = ("immer", "weekly", "date")
DEFAULT_AUDIT_RETENTION_DAYS = 365
DEFAULT_ANNOUNCEMENT = "Dieses Gespräch wird zur Qualitätssicherung aufgezeichnet."
# What a window is for; only shown in the admin, resolution uses ``kind`` and ``priority``.
WINDOW_CATEGORIES = {
    "regulaer": "Reguläre Öffnungszeiten",
    "ausserhalb": "Außerhalb der Öffnungszeiten",
    "mittag": "Mittagspause",
    "feiertag": "Feiertag",
    "urlaub": "Urlaub",
    "notdienst": "Notdienst",
    "immer": "Immer",
}


class CustomerSettings(db.Model):
    """One row: the customer this VM serves."""

    __tablename__ = "customer_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    fallback_number: Mapped[str] = mapped_column(String(40), default="")
    voicemail_box: Mapped[str] = mapped_column(String(40), default="")
    tag_choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(8), default="de")
    # Retention in days (None: "unbegrenzt"); the hourly purge deletes what is older.
    chat_retention_days: Mapped[int | None] = mapped_column(default=None)
    recording_retention_days: Mapped[int | None] = mapped_column(default=None)
    audit_retention_days: Mapped[int | None] = mapped_column(default=DEFAULT_AUDIT_RETENTION_DAYS)

    @classmethod
    def get(cls) -> CustomerSettings:
        row = db.session.get(cls, 1)
        if row is None:
            row = cls(id=1, timezone="Europe/Berlin", tag_choices=[])
            db.session.add(row)
            db.session.flush()
        return row


class PhoneNumber(db.Model):
    __tablename__ = "phone_number"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # digits as FreeSWITCH sees them
    label: Mapped[str] = mapped_column(String(200), default="")
    # Calls to this number: recorded or not, and an optional announcement before the greeting.
    recording_enabled: Mapped[bool] = mapped_column(default=True)
    announcement_enabled: Mapped[bool] = mapped_column(default=False)
    announcement_text: Mapped[str] = mapped_column(Text, default=DEFAULT_ANNOUNCEMENT)
    windows: Mapped[list[TimeWindow]] = relationship(
        back_populates="phone_number", cascade="all, delete-orphan", order_by="TimeWindow.id"
    )


class Agent(db.Model):
    """A filled-in template: template key + parameter values + language and voice."""

    __tablename__ = "agent"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(8), default="de")
    voice: Mapped[str] = mapped_column(String(100), default="")
    form_of_address: Mapped[str] = mapped_column(String(8), default="Sie")  # Sie | Du
    endpoint_silence_ms: Mapped[int] = mapped_column(
        default=DEFAULT_TURN_TAKING.endpoint_silence_ms)  # the other turn-taking options: defaults
    created_at: Mapped[dt.datetime] = mapped_column(default=lambda: dt.datetime.now(dt.UTC))
    windows: Mapped[list[TimeWindow]] = relationship(
        back_populates="agent", cascade="all, delete-orphan"
    )


class TimeWindow(db.Model):
    """A window of one phone number, linked to exactly one start agent.

    ``kind``: ``immer`` (always), ``weekly`` (periods per weekday) or ``date`` (a date range,
    e.g. holiday/vacation; all day unless it has periods). Overlaps: date beats weekly beats
    immer; inside a kind the higher ``priority`` wins.
    """

    __tablename__ = "time_window"
    id: Mapped[int] = mapped_column(primary_key=True)
    phone_number_id: Mapped[int] = mapped_column(ForeignKey("phone_number.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="weekly")
    category: Mapped[str] = mapped_column(String(16), default="regulaer")
    priority: Mapped[int] = mapped_column(default=0)
    date_from: Mapped[dt.date | None] = mapped_column(default=None)
    date_to: Mapped[dt.date | None] = mapped_column(default=None)  # inclusive
    phone_number: Mapped[PhoneNumber] = relationship(back_populates="windows")
    agent: Mapped[Agent] = relationship(back_populates="windows")
    periods: Mapped[list[WindowPeriod]] = relationship(
        back_populates="window", cascade="all, delete-orphan",
        order_by="(WindowPeriod.weekday, WindowPeriod.start)",
    )


class WindowPeriod(db.Model):
    """A time range inside a window. ``weekday`` 0=Monday…6=Sunday (None: every day of a date
    window). ``end`` <= ``start`` means the period runs past midnight into the next day;
    00:00–00:00 is the whole day."""

    __tablename__ = "window_period"
    __table_args__ = (UniqueConstraint("window_id", "weekday", "start", name="uq_period_start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("time_window.id", ondelete="CASCADE"))
    weekday: Mapped[int | None] = mapped_column(default=None)
    start: Mapped[dt.time]
    end: Mapped[dt.time]
    window: Mapped[TimeWindow] = relationship(back_populates="periods")


class User(db.Model):
    """An admin login (roles: admin configures, user reads and works chats)."""

    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[dt.datetime] = mapped_column(default=lambda: dt.datetime.now(dt.UTC))

"""The master's own database: nodes, their credentials, routed numbers, desired config, health.

Deliberately nothing here can hold conversation data: no transcript, summary, recording, caller
number or agent prompt has a column to land in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class MasterBase(DeclarativeBase):
    pass


mdb = SQLAlchemy(model_class=MasterBase)

NODE_STATES = {"wartet": "Wartet auf Registrierung", "aktiv": "Aktiv", "gesperrt": "Gesperrt"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Node(mdb.Model):
    """One customer VM."""

    __tablename__ = "node"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    customer: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16), default="wartet")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    enrolled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    reported_version: Mapped[str] = mapped_column(String(40), default="")
    last_health_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    desired_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    config_version: Mapped[int] = mapped_column(default=1)
    applied_config_version: Mapped[int | None] = mapped_column(default=None)
    config_error: Mapped[str] = mapped_column(Text, default="")
    numbers: Mapped[list[RoutedNumber]] = relationship(
        back_populates="node", cascade="all, delete-orphan", order_by="RoutedNumber.number"
    )
    certificates: Mapped[list[NodeCertificate]] = relationship(
        back_populates="node", cascade="all, delete-orphan", order_by="NodeCertificate.id"
    )

    @property
    def state_label(self) -> str:
        return NODE_STATES.get(self.state, self.state)


class EnrollmentToken(mdb.Model):
    """A one-time enrolment token; only its SHA-256 is stored."""

    __tablename__ = "enrollment_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class NodeCertificate(mdb.Model):
    """A client certificate the CA issued to a node (public data only; the key stays on the
    node)."""

    __tablename__ = "node_certificate"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"))
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[dt.datetime]
    not_after: Mapped[dt.datetime]
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    node: Mapped[Node] = relationship(back_populates="certificates")


class RoutedNumber(mdb.Model):
    """A phone number and the node calls to it are routed to."""

    __tablename__ = "routed_number"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    node: Mapped[Node] = relationship(back_populates="numbers")


class HealthReport(mdb.Model):
    """One health push, exactly the allow-listed fields of ``sync_contract.health_schema``."""

    __tablename__ = "health_report"
    __table_args__ = (Index("ix_health_node_received", "node_id", "received_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime]
    seq: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[str] = mapped_column(String(40))
    uptime_s: Mapped[int] = mapped_column(BigInteger)
    calls_in_progress: Mapped[int]
    error_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    disk_free_bytes: Mapped[int] = mapped_column(BigInteger)
    disk_total_bytes: Mapped[int] = mapped_column(BigInteger)
    engine_status: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    applied_config_version: Mapped[int | None] = mapped_column(default=None)
    config_error: Mapped[str] = mapped_column(Text, default="")
    gap_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    gap_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    gap_failed_attempts: Mapped[int | None] = mapped_column(default=None)

    @property
    def disk_free_percent(self) -> float | None:
        if not self.disk_total_bytes:
            return None
        return 100.0 * self.disk_free_bytes / self.disk_total_bytes


class Operator(mdb.Model):
    """A login for the master's operator UI and JSON API."""

    __tablename__ = "operator"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

"""Flask-SQLAlchemy models, database set-up, migrations, time-window resolution and the one
phone-number rule (``models.phone``).

Imports only ``config`` of ours (tests/test_layers.py)."""

from .chats import END_REASONS, Chat, ChatEvent, ChatStatus, Recording, Turn, utcnow
from .config import (
    WINDOW_CATEGORIES,
    WINDOW_KINDS,
    Agent,
    CustomerSettings,
    PhoneNumber,
    TimeWindow,
    User,
    WindowPeriod,
)
from .db import Base, create_db_app, db, init_db, upgrade_schema
from .knowledge import KnowledgeChunk, KnowledgeDocument
from .phone import masked_number
from .privacy import (
    AUDIT_ACTIONS,
    AuditEntry,
    PendingFileDeletion,
    RecordingPolicy,
    add_audit,
    caller_ref,
    caller_spellings,
    recording_policy,
)

__all__ = [
    "AUDIT_ACTIONS", "END_REASONS", "WINDOW_CATEGORIES", "WINDOW_KINDS",
    "Agent", "AuditEntry", "Base", "Chat", "ChatEvent", "ChatStatus",
    "CustomerSettings", "KnowledgeChunk",
    "KnowledgeDocument", "PendingFileDeletion", "PhoneNumber", "Recording", "RecordingPolicy",
    "TimeWindow", "Turn", "User", "WindowPeriod",
    "add_audit", "caller_ref", "caller_spellings", "create_db_app", "db", "init_db",
    "masked_number", "recording_policy", "upgrade_schema", "utcnow",
]

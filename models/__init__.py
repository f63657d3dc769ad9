"""Flask-SQLAlchemy models, database set-up, migrations and time-window resolution.

Imports nothing else of ours."""

from .chats import CHAT_STATUSES, END_REASONS, Chat, ChatEvent, Recording, Turn, utcnow
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
from .privacy import (
    AuditEntry,
    PendingFileDeletion,
    RecordingPolicy,
    caller_spellings,
    recording_policy,
)

__all__ = [
    "CHAT_STATUSES", "END_REASONS", "WINDOW_CATEGORIES", "WINDOW_KINDS",
    "Agent", "AuditEntry", "Base", "Chat", "ChatEvent", "CustomerSettings", "KnowledgeChunk",
    "KnowledgeDocument", "PendingFileDeletion", "PhoneNumber", "Recording", "RecordingPolicy",
    "TimeWindow", "Turn", "User", "WindowPeriod",
    "caller_spellings", "create_db_app", "db", "init_db", "recording_policy", "upgrade_schema",
    "utcnow",
]

"""admin: chat search (FTS5, kept by triggers) and an index for the agent filter

The dashboard searches 100,000+ chats by caller, number and transcript text within 100 ms;
a LIKE over every turn cannot do that, an FTS5 index can. ``chat_fts`` holds one row per chat
(rowid = chat.id): caller name and number, summary, tags and the whole transcript. Triggers
keep it current as the controller writes chats and turns. SQLite only; other databases use the
admin's LIKE fallback.

Revision ID: 0002_admin_indexes
Revises: 0001
Create Date: 2026-11-25 15:00:00

"""
from alembic import op

revision = "0002_admin_indexes"
down_revision = "0001"
branch_labels = None
depends_on = None

_TRANSCRIPT = (
    "(SELECT coalesce(group_concat(text, char(10)), '') FROM "
    "(SELECT text FROM turn WHERE chat_id = {chat} ORDER BY seq))"
)

# Tags are stored as JSON (non-ASCII escaped); the index gets the words themselves.
_TAGS = "(SELECT coalesce(group_concat(value, ' '), '') FROM json_each({tags}))"

_TRIGGERS = {
    "chat_fts_chat_insert": f"""
        CREATE TRIGGER chat_fts_chat_insert AFTER INSERT ON chat BEGIN
            INSERT INTO chat_fts(rowid, caller_name, caller_number, summary, tags, transcript)
            VALUES (new.id, new.caller_name, new.caller_number, new.summary,
                    {_TAGS.format(tags="new.tags")},
                    {_TRANSCRIPT.format(chat="new.id")});
        END""",
    "chat_fts_chat_update": f"""
        CREATE TRIGGER chat_fts_chat_update
        AFTER UPDATE OF caller_name, caller_number, summary, tags ON chat BEGIN
            UPDATE chat_fts SET caller_name = new.caller_name, caller_number = new.caller_number,
                summary = new.summary, tags = {_TAGS.format(tags="new.tags")}
                WHERE rowid = new.id;
        END""",
    "chat_fts_chat_delete": """
        CREATE TRIGGER chat_fts_chat_delete AFTER DELETE ON chat BEGIN
            DELETE FROM chat_fts WHERE rowid = old.id;
        END""",
    "chat_fts_turn_insert": """
        CREATE TRIGGER chat_fts_turn_insert AFTER INSERT ON turn BEGIN
            UPDATE chat_fts SET transcript = CASE WHEN transcript = '' THEN new.text
                ELSE transcript || char(10) || new.text END WHERE rowid = new.chat_id;
        END""",
    "chat_fts_turn_update": f"""
        CREATE TRIGGER chat_fts_turn_update AFTER UPDATE OF text, seq, chat_id ON turn BEGIN
            UPDATE chat_fts SET transcript = {_TRANSCRIPT.format(chat="old.chat_id")}
                WHERE rowid = old.chat_id;
            UPDATE chat_fts SET transcript = {_TRANSCRIPT.format(chat="new.chat_id")}
                WHERE rowid = new.chat_id;
        END""",
    "chat_fts_turn_delete": f"""
        CREATE TRIGGER chat_fts_turn_delete AFTER DELETE ON turn BEGIN
            UPDATE chat_fts SET transcript = {_TRANSCRIPT.format(chat="old.chat_id")}
                WHERE rowid = old.chat_id;
        END""",
}


def upgrade():
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.create_index("ix_chat_last_agent_started", ["last_agent_name", "started_at"])
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE VIRTUAL TABLE chat_fts USING fts5("
        "caller_name, caller_number, summary, tags, transcript, "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )
    for sql in _TRIGGERS.values():
        op.execute(sql)
    op.execute(
        "INSERT INTO chat_fts(rowid, caller_name, caller_number, summary, tags, transcript) "
        f"SELECT id, caller_name, caller_number, summary, {_TAGS.format(tags='chat.tags')}, "
        f"{_TRANSCRIPT.format(chat='chat.id')} FROM chat"
    )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS chat_fts")
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_last_agent_started")

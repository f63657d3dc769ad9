"""privacy: retention per customer, recording and announcement per number, audit log, journal of
recording files to delete

``customer_settings`` gets the retention in days for chats, recordings and the audit log (NULL:
"unbegrenzt"); ``phone_number`` whether its calls are recorded and the announcement spoken
before the greeting; ``audit_log`` who read or changed what; ``pending_file_deletion`` the
recording files whose rows are gone but whose file may still be on disk (a purge killed
between commit and unlink finishes them on its next run).

Revision ID: 0004_privacy
Revises: 0003_knowledge
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_privacy"
down_revision = "0003_knowledge"
branch_labels = None
depends_on = None

ANNOUNCEMENT = "Dieses Gespräch wird zur Qualitätssicherung aufgezeichnet."


def upgrade():
    with op.batch_alter_table("customer_settings") as batch:
        batch.add_column(sa.Column("chat_retention_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("recording_retention_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("audit_retention_days", sa.Integer(), nullable=True,
                                   server_default="365"))
    with op.batch_alter_table("phone_number") as batch:
        batch.add_column(sa.Column("recording_enabled", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("announcement_enabled", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("announcement_text", sa.Text(), nullable=False,
                                   server_default=ANNOUNCEMENT))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("target_ref", sa.String(length=80), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.create_index("ix_audit_log_at", ["at"])
        batch.create_index("ix_audit_log_action_at", ["action", "at"])
        batch.create_index("ix_audit_log_target_ref", ["target_ref"])
    op.create_table(
        "pending_file_deletion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recording") as batch:
        batch.create_index("ix_recording_chat_id", ["chat_id"])


def downgrade():
    with op.batch_alter_table("recording") as batch:
        batch.drop_index("ix_recording_chat_id")
    op.drop_table("pending_file_deletion")
    op.drop_table("audit_log")
    with op.batch_alter_table("phone_number") as batch:
        batch.drop_column("announcement_text")
        batch.drop_column("announcement_enabled")
        batch.drop_column("recording_enabled")
    with op.batch_alter_table("customer_settings") as batch:
        batch.drop_column("audit_retention_days")
        batch.drop_column("recording_retention_days")
        batch.drop_column("chat_retention_days")

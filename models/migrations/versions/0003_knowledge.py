"""knowledge documents and chunks (Wissen agents)

Revision ID: 0003_knowledge
Revises: 0002_admin_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_knowledge"
down_revision = "0002_admin_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "knowledge_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("characters", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("embedding_model", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledge_document") as batch:
        batch.create_index("ix_knowledge_document_agent_id", ["agent_id"])
    op.create_table(
        "knowledge_chunk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("embedding", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["knowledge_document.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledge_chunk") as batch:
        batch.create_index("ix_knowledge_chunk_doc_seq", ["document_id", "seq"])


def downgrade():
    op.drop_table("knowledge_chunk")
    op.drop_table("knowledge_document")

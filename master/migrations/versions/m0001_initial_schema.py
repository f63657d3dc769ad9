"""master: initial schema (nodes, enrolment tokens, certificates, routed numbers, health,
operators)

Revision ID: m0001
Revises:
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'm0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('node',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('customer', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(), nullable=True),
    sa.Column('reported_version', sa.String(length=40), nullable=False),
    sa.Column('last_health_seq', sa.BigInteger(), nullable=False),
    sa.Column('desired_config', sa.JSON(), nullable=False),
    sa.Column('config_version', sa.Integer(), nullable=False),
    sa.Column('applied_config_version', sa.Integer(), nullable=True),
    sa.Column('config_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('operator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('enrollment_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('health_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('uptime_s', sa.BigInteger(), nullable=False),
    sa.Column('calls_in_progress', sa.Integer(), nullable=False),
    sa.Column('error_counts', sa.JSON(), nullable=False),
    sa.Column('disk_free_bytes', sa.BigInteger(), nullable=False),
    sa.Column('disk_total_bytes', sa.BigInteger(), nullable=False),
    sa.Column('engine_status', sa.JSON(), nullable=False),
    sa.Column('applied_config_version', sa.Integer(), nullable=True),
    sa.Column('config_error', sa.Text(), nullable=False),
    sa.Column('gap_since', sa.DateTime(), nullable=True),
    sa.Column('gap_until', sa.DateTime(), nullable=True),
    sa.Column('gap_failed_attempts', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('health_report', schema=None) as batch_op:
        batch_op.create_index('ix_health_node_received', ['node_id', 'received_at'], unique=False)

    op.create_table('node_certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=False),
    sa.Column('not_after', sa.DateTime(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('serial')
    )
    op.create_table('routed_number',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )


def downgrade() -> None:
    op.drop_table('routed_number')
    op.drop_table('node_certificate')
    with op.batch_alter_table('health_report', schema=None) as batch_op:
        batch_op.drop_index('ix_health_node_received')

    op.drop_table('health_report')
    op.drop_table('enrollment_token')
    op.drop_table('operator')
    op.drop_table('node')

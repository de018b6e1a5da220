"""Diarization and editing: session.num_speakers and speaker_roles, segment role and history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session") as batch_op:
        # NULL means "estimate the number"; sessions that exist already keep the old default of two.
        batch_op.add_column(sa.Column("num_speakers", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("speaker_roles", sa.JSON(), nullable=False, server_default="{}"))
    op.execute("UPDATE session SET num_speakers = 2")
    with op.batch_alter_table("transcript_segment") as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("history", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("transcript_segment") as batch_op:
        batch_op.drop_column("history")
        batch_op.drop_column("role")
    with op.batch_alter_table("session") as batch_op:
        batch_op.drop_column("speaker_roles")
        batch_op.drop_column("num_speakers")

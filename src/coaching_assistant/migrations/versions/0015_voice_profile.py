"""Voice profiles: speaker_voice (each transcribed speaker's voice), voice_sample (a confirmed
coach voice, one per session) and users.voice_learning

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("voice_learning", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "speaker_voice",
        sa.Column("session_id", sa.Uuid(), sa.ForeignKey("session.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("speaker_id", sa.Integer(), primary_key=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    op.create_table(
        "voice_sample",
        sa.Column("session_id", sa.Uuid(), sa.ForeignKey("session.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_voice_sample_user_id", "voice_sample", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_voice_sample_user_id", table_name="voice_sample")
    op.drop_table("voice_sample")
    op.drop_table("speaker_voice")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("voice_learning")

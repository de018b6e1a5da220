"""session.audio_deleted_at: when the retention sweep removed the audio

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 02:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session") as batch_op:
        batch_op.add_column(sa.Column("audio_deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session") as batch_op:
        batch_op.drop_column("audio_deleted_at")

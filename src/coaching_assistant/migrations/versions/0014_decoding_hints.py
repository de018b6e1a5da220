"""Decoding hints: session.prompt and session.temperature (Whisper's initial prompt and temperature)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("session", sa.Column("prompt", sa.Text(), nullable=True))
    op.add_column("session", sa.Column("temperature", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session") as batch:
        batch.drop_column("temperature")
        batch.drop_column("prompt")

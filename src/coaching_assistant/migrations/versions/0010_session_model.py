"""The Whisper model a session asks for: session.model (auto, tiny.en, base, an operator's name)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing sessions keep NULL: the worker then uses WHISPER_MODEL, as it used the one model before.
    op.add_column("session", sa.Column("model", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session") as batch:
        batch.drop_column("model")

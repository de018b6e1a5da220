"""Language detection: session.detected_language and session.language_probability

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("session", sa.Column("detected_language", sa.String(length=16), nullable=True))
    op.add_column("session", sa.Column("language_probability", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session") as batch:
        batch.drop_column("language_probability")
        batch.drop_column("detected_language")

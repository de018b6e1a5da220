"""English translation: session.translate and transcript_segment.translation

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 16:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("session", sa.Column("translate", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("transcript_segment", sa.Column("translation", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcript_segment") as batch:
        batch.drop_column("translation")
    with op.batch_alter_table("session") as batch:
        batch.drop_column("translate")

"""Retries per session: session.retry_count (MAX_RETRIES_PER_SESSION)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `attempts` starts again at 0 on every retry, so it cannot bound retries; this only goes up.
    with op.batch_alter_table("session") as batch_op:
        batch_op.add_column(sa.Column("retry_count", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("session") as batch_op:
        batch_op.drop_column("retry_count")

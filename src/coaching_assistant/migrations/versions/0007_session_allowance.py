"""Sessions per hour counted on the user: users.session_window_started_at, sessions_in_window

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 11:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Counting the user's existing sessions let create-then-delete loops through
    # MAX_SESSIONS_PER_HOUR; a counter on the user survives deletes.
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("session_window_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sessions_in_window", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("sessions_in_window")
        batch_op.drop_column("session_window_started_at")

"""session.lease_owner: the token of the attempt that holds the lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session") as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session") as batch_op:
        batch_op.drop_column("lease_owner")

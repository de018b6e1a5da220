"""Compare-and-set edits: transcript_segment.version, session.speaker_roles_version

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing segments start at version 1 (as imported and transcribed ones do); the roles of a
    # session at 0. Both only ever go up, one per edit.
    with op.batch_alter_table("transcript_segment") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("session") as batch_op:
        batch_op.add_column(sa.Column("speaker_roles_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("session") as batch_op:
        batch_op.drop_column("speaker_roles_version")
    with op.batch_alter_table("transcript_segment") as batch_op:
        batch_op.drop_column("version")

"""find-a-time (meetings/availability.py): index the chair and the creator of meetings, so that
the meetings a person organises (convener, chair or creator: busy without an invitation) are
found by index lookups instead of a scan of the window's occurrences

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetings_chair_id"), ["chair_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meetings_created_by_id"), ["created_by_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetings_created_by_id"))
        batch_op.drop_index(batch_op.f("ix_meetings_chair_id"))

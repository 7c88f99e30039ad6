"""meeting occurrences record when and why one was cancelled (cancelMeetingOccurrence,
rescheduling that drops an occurrence kept for its check-ins, minutes or leave requests)

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import office_api.db

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meeting_occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", office_api.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meeting_occurrences", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_at")

"""room bookings keep the approver's remark (the reason of a refusal, DOMAIN §7.1)

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("room_bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_remark", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("room_bookings", schema=None) as batch_op:
        batch_op.drop_column("decision_remark")

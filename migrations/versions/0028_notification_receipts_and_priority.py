"""notifications: priority (normal / urgent 加急 / extra_urgent 特急), the unit a person received
it for, and read receipts (delivered, acknowledged 已知悉; opened is read_at); an index by subject
for per-unit receipt roll-ups

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-29 22:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import office_api.db

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.String(length=16), nullable=False, server_default="normal"))
        batch_op.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", office_api.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", office_api.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_notifications_subject", ["subject_type", "subject_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_notifications_unit_id_org_units"), "org_units", ["unit_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_notifications_unit_id_org_units"), type_="foreignkey")
        batch_op.drop_index("ix_notifications_subject")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("unit_id")
        batch_op.drop_column("priority")

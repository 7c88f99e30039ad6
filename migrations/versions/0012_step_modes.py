"""step modes: quorum k on route steps; assignees by duty or unit on step assignees

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("route_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quorum", sa.Integer(), nullable=True))
    with op.batch_alter_table("step_assignees", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duty", sa.String(length=16), nullable=True))
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f("fk_step_assignees_unit_id_org_units"), "org_units", ["unit_id"], ["id"])


def downgrade() -> None:
    # Assignees by duty or unit cannot be represented before this revision.
    op.execute("DELETE FROM step_assignees WHERE user_id IS NULL")
    with op.batch_alter_table("step_assignees", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_step_assignees_unit_id_org_units"), type_="foreignkey")
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("duty")
        batch_op.drop_column("unit_id")
    with op.batch_alter_table("route_steps", schema=None) as batch_op:
        batch_op.drop_column("quorum")

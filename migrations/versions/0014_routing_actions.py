"""routing actions: the other person and the target step of a history entry

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("document_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("to_step_index", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_document_actions_target_user_id_users"), "users", ["target_user_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("document_actions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_document_actions_target_user_id_users"), type_="foreignkey")
        batch_op.drop_column("to_step_index")
        batch_op.drop_column("target_user_id")

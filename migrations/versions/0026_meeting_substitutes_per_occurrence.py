"""meetings: a substitute for single occurrences of a series (meeting_invitations.occurrences_only)

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meeting_invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurrences_only", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("meeting_invitations", schema=None) as batch_op:
        batch_op.drop_column("occurrences_only")

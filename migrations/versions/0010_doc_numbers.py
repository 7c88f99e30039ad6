"""doc numbers: registration (登记) assigns 发文字号 from a gapless counter per (code, year)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import office_api.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "doc_number_counters",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", "year", name=op.f("pk_doc_number_counters")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("doc_number", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("doc_number_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("doc_number_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("doc_number_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("registered_at", office_api.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("registered_by_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_documents_doc_number"), ["doc_number"])
        batch_op.create_foreign_key(
            batch_op.f("fk_documents_registered_by_id_users"), "users", ["registered_by_id"], ["id"]
        )
    with op.batch_alter_table("document_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("doc_number", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("document_actions", schema=None) as batch_op:
        batch_op.drop_column("doc_number")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_documents_registered_by_id_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_documents_doc_number"), type_="unique")
        batch_op.drop_column("registered_by_id")
        batch_op.drop_column("registered_at")
        batch_op.drop_column("doc_number_seq")
        batch_op.drop_column("doc_number_year")
        batch_op.drop_column("doc_number_code")
        batch_op.drop_column("doc_number")
    op.drop_table("doc_number_counters")

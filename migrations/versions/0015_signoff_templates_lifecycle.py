"""sign-off (签发) on route steps and documents, revoke/repeal (撤销/废止), route templates

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import office_api.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("route_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="review", nullable=False))
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("important", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("signed_off_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("signed_off_at", office_api.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("signed_body_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("signed_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", office_api.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("repealed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("void_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("voided_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_documents_signed_off_by_id_users"), "users", ["signed_off_by_id"], ["id"]
        )
        batch_op.create_foreign_key(batch_op.f("fk_documents_voided_by_id_users"), "users", ["voided_by_id"], ["id"])
    op.create_table(
        "route_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.String(length=20), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_route_templates_created_by_id_users")),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_route_templates_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_templates")),
    )
    with op.batch_alter_table("route_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_route_templates_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("route_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_templates_unit_id"))
    op.drop_table("route_templates")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_documents_voided_by_id_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_documents_signed_off_by_id_users"), type_="foreignkey")
        for column in (
            "voided_by_id",
            "void_reason",
            "repealed_on",
            "revoked_at",
            "signed_version",
            "signed_body_sha256",
            "signed_off_at",
            "signed_off_by_id",
            "important",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("route_steps", schema=None) as batch_op:
        batch_op.drop_column("kind")

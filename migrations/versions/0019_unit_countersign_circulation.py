"""unit countersign (sub-tasks routed by a unit's clerk) and circulation for reading (传阅)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import office_api.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("parent_task_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_tasks_parent_task_id"), ["parent_task_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_tasks_unit_id_org_units"), "org_units", ["unit_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_tasks_parent_task_id_tasks"), "tasks", ["parent_task_id"], ["id"])
    op.create_table(
        "unit_routings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("parent_task_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("assignee_ids", sa.JSON(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_unit_routings_created_by_id_users")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_unit_routings_document_id_documents")),
        sa.ForeignKeyConstraint(["parent_task_id"], ["tasks.id"], name=op.f("fk_unit_routings_parent_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_routings")),
    )
    with op.batch_alter_table("unit_routings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_routings_parent_task_id"), ["parent_task_id"], unique=False)
    op.create_table(
        "circulations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("reader_id", sa.Integer(), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=False),
        sa.Column("via_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("sent_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", office_api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_circulations_document_id_documents")),
        sa.ForeignKeyConstraint(["reader_id"], ["users.id"], name=op.f("fk_circulations_reader_id_users")),
        sa.ForeignKeyConstraint(["sent_by_id"], ["users.id"], name=op.f("fk_circulations_sent_by_id_users")),
        sa.ForeignKeyConstraint(["via_id"], ["circulations.id"], name=op.f("fk_circulations_via_id_circulations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_circulations")),
    )
    with op.batch_alter_table("circulations", schema=None) as batch_op:
        batch_op.create_index("ix_circulations_reader", ["reader_id", "id"], unique=False)
        batch_op.create_index("ix_circulations_document_reader", ["document_id", "reader_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("circulations", schema=None) as batch_op:
        batch_op.drop_index("ix_circulations_document_reader")
        batch_op.drop_index("ix_circulations_reader")
    op.drop_table("circulations")
    with op.batch_alter_table("unit_routings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_routings_parent_task_id"))
    op.drop_table("unit_routings")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tasks_parent_task_id_tasks"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_tasks_unit_id_org_units"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_tasks_parent_task_id"))
        batch_op.drop_column("parent_task_id")
        batch_op.drop_column("unit_id")

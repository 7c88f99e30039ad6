"""incoming documents: dispatch and the incoming procedure

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 12:42:35.003891
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import office_api.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incoming_counters",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_incoming_counters_unit_id_org_units")),
        sa.PrimaryKeyConstraint("unit_id", "year", name=op.f("pk_incoming_counters")),
    )
    op.create_table(
        "incoming_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("dispatched_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_by_id", sa.Integer(), nullable=False),
        sa.Column("external_issuer", sa.String(length=200), nullable=True),
        sa.Column("external_number", sa.String(length=40), nullable=True),
        sa.Column("external_title", sa.String(length=200), nullable=True),
        sa.Column("external_urgency", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("received_at", office_api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_by_id", sa.Integer(), nullable=True),
        sa.Column("serial_year", sa.Integer(), nullable=True),
        sa.Column("serial_seq", sa.Integer(), nullable=True),
        sa.Column("registered_at", office_api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("proposal", sa.Text(), nullable=True),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=True),
        sa.Column("instructed_at", office_api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_at", office_api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("returned_reason", sa.Text(), nullable=True),
        sa.Column("returned_at", office_api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", office_api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispatched_by_id"], ["users.id"], name=op.f("fk_incoming_documents_dispatched_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_incoming_documents_document_id_documents")
        ),
        sa.ForeignKeyConstraint(["leader_id"], ["users.id"], name=op.f("fk_incoming_documents_leader_id_users")),
        sa.ForeignKeyConstraint(
            ["received_by_id"], ["users.id"], name=op.f("fk_incoming_documents_received_by_id_users")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_incoming_documents_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_documents")),
        sa.UniqueConstraint("document_id", "unit_id", name=op.f("uq_incoming_documents_document_id_unit_id")),
        sa.UniqueConstraint(
            "unit_id", "serial_year", "serial_seq", name=op.f("uq_incoming_documents_unit_id_serial_year_serial_seq")
        ),
    )
    with op.batch_alter_table("incoming_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_documents_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incoming_documents_leader_id"), ["leader_id"], unique=False)
        batch_op.create_index("ix_incoming_documents_unit_state", ["unit_id", "state", "id"], unique=False)

    op.create_table(
        "incoming_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incoming_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=True),
        sa.Column("created_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_incoming_actions_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["incoming_id"], ["incoming_documents.id"], name=op.f("fk_incoming_actions_incoming_id_incoming_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_actions")),
    )
    with op.batch_alter_table("incoming_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_actions_incoming_id"), ["incoming_id"], unique=False)

    op.create_table(
        "incoming_handlers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incoming_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("is_lead", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("handled_at", office_api.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incoming_id"], ["incoming_documents.id"], name=op.f("fk_incoming_handlers_incoming_id_incoming_documents")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_incoming_handlers_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_handlers")),
        sa.UniqueConstraint("incoming_id", "user_id", name=op.f("uq_incoming_handlers_incoming_id_user_id")),
    )
    with op.batch_alter_table("incoming_handlers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_handlers_incoming_id"), ["incoming_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incoming_handlers_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incoming_handlers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incoming_handlers_user_id"))
        batch_op.drop_index(batch_op.f("ix_incoming_handlers_incoming_id"))

    op.drop_table("incoming_handlers")
    with op.batch_alter_table("incoming_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incoming_actions_incoming_id"))

    op.drop_table("incoming_actions")
    with op.batch_alter_table("incoming_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_incoming_documents_unit_state")
        batch_op.drop_index(batch_op.f("ix_incoming_documents_leader_id"))
        batch_op.drop_index(batch_op.f("ix_incoming_documents_document_id"))

    op.drop_table("incoming_documents")
    op.drop_table("incoming_counters")

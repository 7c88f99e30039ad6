"""attachments (附件) and body versions of documents

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 13:00:00.000000
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import office_api.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=100), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attested_no_state_secret", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_document_attachments_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["users.id"], name=op.f("fk_document_attachments_uploaded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_attachments")),
    )
    op.create_index(op.f("ix_document_attachments_document_id"), "document_attachments", ["document_id"], unique=False)
    versions = op.create_table(
        "document_body_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_document_body_versions_author_id_users")),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_document_body_versions_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_body_versions")),
        sa.UniqueConstraint("document_id", "number", name=op.f("uq_document_body_versions_document_id_number")),
    )
    # Existing documents: their current body becomes version 1 (by the drafter, at the last change).
    docs = sa.table(
        "documents",
        sa.column("id", sa.Integer()),
        sa.column("body", sa.Text()),
        sa.column("drafter_id", sa.Integer()),
        sa.column("updated_at", office_api.db.UTCDateTime(timezone=True)),
    )
    rows = op.get_bind().execute(sa.select(docs.c.id, docs.c.body, docs.c.drafter_id, docs.c.updated_at)).all()
    if rows:
        op.bulk_insert(
            versions,
            [
                {
                    "document_id": r.id,
                    "number": 1,
                    "body": r.body or "",
                    "sha256": hashlib.sha256((r.body or "").encode("utf-8")).hexdigest(),
                    "length": len(r.body or ""),
                    "author_id": r.drafter_id,
                    "created_at": r.updated_at,
                }
                for r in rows
            ],
        )


def downgrade() -> None:
    op.drop_table("document_body_versions")
    op.drop_index(op.f("ix_document_attachments_document_id"), table_name="document_attachments")
    op.drop_table("document_attachments")

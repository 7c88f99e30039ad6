"""lists and search: document_search (+ PostgreSQL GIN index / SQLite FTS5 table), opinion
phrases (常用意见), the document-open log

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 13:00:00.000000

The PostgreSQL expression index ``ix_document_search_tsv`` and the SQLite FTS5 table
``document_search_fts`` (external content = ``document_search``, kept in step by the three
``document_search_a*`` triggers) are not in the models: migrations/env.py leaves them out of
``alembic check``. Existing documents are indexed here (documents/search.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import office_api.db
from documents.search import index_terms

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE document_search_fts USING fts5(terms, content='document_search', content_rowid='document_id')",
    """CREATE TRIGGER document_search_ai AFTER INSERT ON document_search BEGIN
  INSERT INTO document_search_fts(rowid, terms) VALUES (new.document_id, new.terms);
END""",
    """CREATE TRIGGER document_search_ad AFTER DELETE ON document_search BEGIN
  INSERT INTO document_search_fts(document_search_fts, rowid, terms) VALUES ('delete', old.document_id, old.terms);
END""",
    """CREATE TRIGGER document_search_au AFTER UPDATE ON document_search BEGIN
  INSERT INTO document_search_fts(document_search_fts, rowid, terms) VALUES ('delete', old.document_id, old.terms);
  INSERT INTO document_search_fts(rowid, terms) VALUES (new.document_id, new.terms);
END""",
]


def upgrade() -> None:
    op.create_table(
        "document_search",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_document_search_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_document_search")),
    )
    op.create_table(
        "opinion_phrases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_opinion_phrases_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion_phrases")),
        sa.UniqueConstraint("user_id", "text", name=op.f("uq_opinion_phrases_user_id_text")),
    )
    with op.batch_alter_table("opinion_phrases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opinion_phrases_user_id"), ["user_id"], unique=False)
    op.create_table(
        "document_open_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_document_open_log_client_id_api_clients")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_document_open_log_document_id_documents")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_document_open_log_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_open_log")),
    )
    with op.batch_alter_table("document_open_log", schema=None) as batch_op:
        batch_op.create_index("ix_document_open_log_document_opened", ["document_id", "opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_open_log_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_open_log_user_id"), ["user_id"], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_document_search_tsv ON document_search USING gin (to_tsvector('simple'::regconfig, terms))"
        )
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)
    docs = sa.table(
        "documents", sa.column("id", sa.Integer), sa.column("doc_number"), sa.column("title"), sa.column("body")
    )
    search = sa.table("document_search", sa.column("document_id", sa.Integer), sa.column("terms", sa.Text))
    rows = bind.execute(sa.select(docs.c.id, docs.c.doc_number, docs.c.title, docs.c.body)).all()
    if rows:
        op.bulk_insert(
            search, [{"document_id": r.id, "terms": " ".join(index_terms(r.doc_number, r.title, r.body))} for r in rows]
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_document_search_tsv")
    else:
        for trigger in ("document_search_ai", "document_search_ad", "document_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS document_search_fts")
    with op.batch_alter_table("document_open_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_open_log_user_id"))
        batch_op.drop_index(batch_op.f("ix_document_open_log_opened_at"))
        batch_op.drop_index("ix_document_open_log_document_opened")
    op.drop_table("document_open_log")
    with op.batch_alter_table("opinion_phrases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opinion_phrases_user_id"))
    op.drop_table("opinion_phrases")
    op.drop_table("document_search")

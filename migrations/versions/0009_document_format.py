"""document format: the GB/T 9704-2012 elements of a document (direction, 份号, 签发人, 主送/抄送
text, 附件说明, 附注, 成文日期, 印发机关/印发日期, 发文机关署名)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "direction",
    "copy_number",
    "signers",
    "main_recipients_text",
    "cc_text",
    "attachment_titles",
    "note",
    "issued_on",
    "printing_office",
    "printed_on",
    "issuer_signature",
)


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("direction", sa.String(length=16), server_default="downward", nullable=False))
        batch.add_column(sa.Column("copy_number", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("signers", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("main_recipients_text", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("cc_text", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("attachment_titles", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("note", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("issued_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("printing_office", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("printed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("issuer_signature", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)

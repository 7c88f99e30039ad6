"""Body versions: every change of a document's body text is kept as a numbered version.

:func:`record_body` is called by ``create_document`` and ``update_document`` (inside their
unit of work, with the document row locked or new), so version numbers are gapless from 1
per document: concurrent edits are serialized by the document lock and the unique
(document, number) constraint backs it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, defer, mapped_column

from documents.models import Document
from office_api.db import Base, UTCDateTime, utcnow


class BodyVersion(Base):
    """Version ``number`` (from 1) of a document's body, who wrote it and when (UTC)."""

    __tablename__ = "document_body_versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    number: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    #: SHA-256 of the body encoded as UTF-8, 64 hex digits.
    sha256: Mapped[str] = mapped_column(String(64))
    #: Length of the body in characters.
    length: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def body_sha256(body: str) -> str:
    """SHA-256 of ``body`` as UTF-8, hex."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


async def record_body(session: AsyncSession, doc: Document, author_id: int) -> BodyVersion | None:
    """Keep ``doc.body`` as the next version unless it equals the latest one; the new row or None.

    Call with ``doc`` locked (or just created) in the caller's transaction.
    """
    body = doc.body or ""
    digest = body_sha256(body)
    latest = (
        await session.execute(
            select(BodyVersion.number, BodyVersion.sha256)
            .where(BodyVersion.document_id == doc.id)
            .order_by(BodyVersion.number.desc())
            .limit(1)
        )
    ).first()
    if latest is not None and latest.sha256 == digest:
        return None
    row = BodyVersion(
        document_id=doc.id,
        number=(latest.number if latest else 0) + 1,
        body=body,
        sha256=digest,
        length=len(body),
        author_id=author_id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def versions_of_documents(session: AsyncSession, document_ids: Sequence[int]) -> list[BodyVersion]:
    """The versions of several documents without their bodies, newest first (one query)."""
    q = (
        select(BodyVersion)
        .options(defer(BodyVersion.body, raiseload=True))
        .where(BodyVersion.document_id.in_(list(document_ids)))
        .order_by(BodyVersion.document_id, BodyVersion.number.desc())
    )
    return list((await session.execute(q)).scalars())


async def get_version(session: AsyncSession, document_id: int, number: int) -> BodyVersion | None:
    """One version with its body, or None."""
    q = select(BodyVersion).where(BodyVersion.document_id == document_id, BodyVersion.number == number)
    return (await session.execute(q)).scalar_one_or_none()


async def count_versions(session: AsyncSession, document_id: int) -> int:
    q = select(func.count()).select_from(BodyVersion).where(BodyVersion.document_id == document_id)
    return int((await session.execute(q)).scalar_one())

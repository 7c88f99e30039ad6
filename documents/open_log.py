"""The document-open log: who opened which document, when (查阅记录).

A row is written for each opening of a document through the root ``document(id)`` query
(not for nested fields such as ``task.document``, which only show the document in a list):
the person (``user_id``), or the integration client (``client_id``) reading with
``documents:read``, and the UTC instant. The audit admin reads the log
(``documentOpenLog``).

Best effort, after the read: the request's openings are written in one short write
transaction after the operation has run (schema/open_log.py). The read itself uses the
read engine and never waits for the write lock; if the write fails (SQLite busy past its
timeout, a PostgreSQL failover), the reader still gets the document and the failure is
logged as ``open_log_write_failed`` with the user, client and document ids, so that
operations can see and reconcile the gap. Writing in the read's own transaction would turn
a busy database into failed reads for every viewer, which the platform refuses to do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Index, Integer, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UnitOfWork, UTCDateTime, utcnow


class DocumentOpen(Base):
    """One opening of ``document_id`` by ``user_id`` (a person) or ``client_id`` (an
    integration client) at ``opened_at`` (UTC)."""

    __tablename__ = "document_open_log"
    __table_args__ = (Index("ix_document_open_log_document_opened", "document_id", "opened_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


@dataclass(frozen=True)
class Opening:
    document_id: int
    user_id: int | None
    client_id: int | None


async def write(uow: UnitOfWork, openings: Sequence[Opening], now: dt.datetime) -> None:
    """Insert one row per opening, all at ``now`` (UTC, aware)."""
    if not openings:
        return
    rows = [
        {"document_id": o.document_id, "user_id": o.user_id, "client_id": o.client_id, "opened_at": now}
        for o in openings
    ]
    await uow.session.execute(insert(DocumentOpen), rows)


@dataclass(frozen=True)
class OpenLogFilter:
    """All optional, combined with AND; ``since`` inclusive, ``until`` exclusive (UTC)."""

    document_id: int | None = None
    user_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


async def search(session: AsyncSession, flt: OpenLogFilter, before_id: int | None, limit: int) -> list[DocumentOpen]:
    """Rows matching ``flt``, newest first (descending id), ``limit`` after the cursor."""
    q = select(DocumentOpen).order_by(DocumentOpen.id.desc()).limit(limit)
    if flt.document_id is not None:
        q = q.where(DocumentOpen.document_id == flt.document_id)
    if flt.user_id is not None:
        q = q.where(DocumentOpen.user_id == flt.user_id)
    if flt.since is not None:
        q = q.where(DocumentOpen.opened_at >= flt.since)
    if flt.until is not None:
        q = q.where(DocumentOpen.opened_at < flt.until)
    if before_id is not None:
        q = q.where(DocumentOpen.id < before_id)
    return list((await session.execute(q)).scalars())

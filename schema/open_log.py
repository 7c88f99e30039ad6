"""GraphQL surface of the document-open log (documents/open_log.py).

:func:`record_opening` notes an opening for the request (the root ``document(id)`` query and
a root ``node(id)`` resolving a Document); :class:`DocumentOpenLogWriter` writes the
request's openings in one transaction after the operation, best effort (a failure is
logged, the read still answers). ``documentOpenLog`` is the audit admin's view.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from documents import open_log
from documents.open_log import DocumentOpen as OpenModel
from office_api.errors import DomainError, ErrorCode
from schema.common import (
    Connection,
    IsAuditAdmin,
    decode_cursor,
    decode_id,
    make_connection,
    page_size,
)
from schema.org import User, user_by_id

log = logging.getLogger("office_api.open_log")

_STATE = "_document_openings"


async def record_opening(info: Info, document_id: int) -> None:
    """Note that the request's person or integration client opened ``document_id``; only for
    root fields (a nested ``document`` of a task or list is not an opening)."""
    if info.path.prev is not None:
        return
    ctx = info.context
    client = getattr(ctx, "client", None)
    actor = await ctx.get_actor() if client is None else None
    openings: dict[tuple[int, int | None, int | None], None] = ctx.__dict__.setdefault(_STATE, {})
    key = (document_id, actor.user_id if actor is not None else None, client.id if client is not None else None)
    openings[key] = None


class DocumentOpenLogWriter(SchemaExtension):
    """Writes the request's document openings after the operation, in one transaction.

    Best effort (documents/open_log.py explains why): an error is logged as
    ``open_log_write_failed`` with the ids and does not fail the read."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        ctx = self.execution_context.context
        openings = ctx.__dict__.pop(_STATE, None) if ctx is not None else None
        if not openings:
            return
        rows = [open_log.Opening(doc, user, client) for doc, user, client in openings]
        try:
            async with ctx.db.unit_of_work() as uow:
                await open_log.write(uow, rows, ctx.platform.clock())
        except Exception:  # a read never fails on its log (see documents/open_log.py)
            log.error(
                "open_log_write_failed",
                extra={"openings": [[r.document_id, r.user_id, r.client_id] for r in rows]},
            )


@strawberry.type(description="One opening of a document (document-open log).")
class DocumentOpenEntry:
    id: strawberry.ID = strawberry.field(description="Global id of the row (type DocumentOpenEntry).")
    document_id: strawberry.ID = strawberry.field(description="Global id of the document opened (type Document).")
    api_client_id: strawberry.ID | None = strawberry.field(
        description="Global id of the integration client (type ApiClient) that opened it; null for a person."
    )
    opened_at: dt.datetime = strawberry.field(description="UTC instant of the opening.")
    user_id: strawberry.Private[int | None]

    @strawberry.field(description="The person who opened it; null for an integration client.")
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self.user_id)

    @classmethod
    def from_model(cls, m: OpenModel) -> DocumentOpenEntry:
        return cls(
            id=strawberry.ID(str(relay.GlobalID("DocumentOpenEntry", str(m.id)))),
            document_id=strawberry.ID(str(relay.GlobalID("Document", str(m.document_id)))),
            api_client_id=strawberry.ID(str(relay.GlobalID("ApiClient", str(m.client_id)))) if m.client_id else None,
            opened_at=m.opened_at,
            user_id=m.user_id,
        )


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is not None and value.utcoffset() is None:
        raise DomainError(ErrorCode.INVALID_VALUE, field, detail="an instant with a time zone")
    return value


@strawberry.type
class OpenLogQuery:
    @strawberry.field(
        description="Who opened which document and when (the root `document` query), newest first; audit admin "
        "only. All filters optional, combined with AND. `first`: 1–100, default 20.",
        permission_classes=[IsAuditAdmin],
    )
    async def document_open_log(
        self,
        info: Info,
        document_id: Annotated[
            relay.GlobalID | None, strawberry.argument(description="Only openings of this document.")
        ] = None,
        user_id: Annotated[
            relay.GlobalID | None, strawberry.argument(description="Only openings by this user.")
        ] = None,
        from_: Annotated[
            dt.datetime | None,
            strawberry.argument(name="from", description="From this UTC instant (inclusive; with a time zone)."),
        ] = None,
        to: Annotated[
            dt.datetime | None,
            strawberry.argument(description="Until this UTC instant (exclusive; with a time zone)."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1–100 (default 20).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor of the previous page's end.")] = None,
    ) -> Connection[DocumentOpenEntry]:
        limit = page_size(first)
        flt = open_log.OpenLogFilter(
            document_id=decode_id(document_id, "Document", "documentId") if document_id is not None else None,
            user_id=decode_id(user_id, "User", "userId") if user_id is not None else None,
            since=_aware(from_, "from"),
            until=_aware(to, "to"),
        )
        async with info.context.db.read() as s:
            rows = await open_log.search(s, flt, decode_cursor(after), limit + 1)
        return make_connection(rows, limit, lambda r: r.id, DocumentOpenEntry.from_model, after=after)

"""GraphQL surface of the lists people work from (documents/lists.py), full-text search and
archiving (documents/archive.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from documents import archive, lists
from documents.types import DocType, DocumentStatus, Urgency
from office_api.org.permissions import Actor
from schema.common import (
    Connection,
    Edge,
    IsAuthenticated,
    decode_id,
    idempotency_key_field,
    page_size,
    require_actor,
    run_mutation,
)
from schema.documents import DocTypeEnum, Document, DocumentPayload, DocumentStatusEnum, Task, UrgencyEnum


@strawberry.input(
    description="Filters of a list; all optional, combined with AND. `from`/`to` are Asia/Shanghai calendar dates "
    "(both inclusive) on the list's own time: when a to-do was received (myTasks), when you acted (myDoneTasks), "
    "when the document was created (myDraftedDocuments, searchDocuments) or archived (myArchivedDocuments), when "
    "it was circulated to you (toRead), when the copy was dispatched or, for an external document, registered on "
    "arrival (incomingDocuments). On an external incoming document (no document in the system) `urgency` and "
    "`search` apply to what its header says (urgency; number, title and issuer), `docType` and `status` exclude it."
)
class DocumentListFilter:
    doc_type: DocTypeEnum | None = strawberry.field(default=None, description="Only this document type.")  # type: ignore[valid-type]
    urgency: UrgencyEnum | None = strawberry.field(default=None, description="Only this urgency.")  # type: ignore[valid-type]
    status: DocumentStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only documents in this status."
    )
    from_: dt.date | None = strawberry.field(
        default=None, name="from", description="From this Asia/Shanghai date (inclusive)."
    )
    to: dt.date | None = strawberry.field(
        default=None, description="Until this Asia/Shanghai date (inclusive); not before `from` (INVALID_VALUE)."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Full-text search in the document number (发文字号), title and body: every part of the text must "
        "occur (安全生产 finds 关于做好安全生产工作的通知; 鲁政办发〔2026〕5号, 5号 and 2026 find that number). "
        "At most 200 characters are used; punctuation is ignored.",
    )


def _filter(f: DocumentListFilter | None) -> lists.ListFilter:
    if f is None:
        return lists.ListFilter()
    return lists.ListFilter(
        doc_type=DocType(f.doc_type).value if f.doc_type is not None else None,
        urgency=Urgency(f.urgency).value if f.urgency is not None else None,
        status=DocumentStatus(f.status).value if f.status is not None else None,
        date_from=f.from_,
        date_to=f.to,
        search=f.search,
    )


async def box_connection(
    info: Info,
    box: str,
    convert: Callable[[Any], Any],
    flt: DocumentListFilter | None,
    first: int | None,
    after: str | None,
    *,
    owner_id: int | None = None,
    extra: tuple[ColumnElement[bool], ...] = (),
    check: Callable[[AsyncSession, Actor], Awaitable[None]] | None = None,
) -> Connection[Any]:
    """One page of box ``box`` (two SQL statements; the rows' fields are read through the
    request's DataLoaders). ``owner_id``: whose box (default the signed-in person); ``extra``:
    the box's own conditions; ``check``: a permission check run first in the same session."""
    actor = await require_actor(info)
    limit = page_size(first)
    cursor = lists.Cursor.decode(after)
    flt_ = _filter(flt)
    async with info.context.db.read() as s:
        if check is not None:
            await check(s, actor)
        owner = actor.user_id if owner_id is None else owner_id
        rows, total = await lists.page(s, box, owner, flt_, cursor, limit + 1, extra)
    has_next = len(rows) > limit
    rows = rows[:limit]
    edges = [Edge(cursor=lists.cursor_of(box, r), node=convert(r)) for r in rows]
    return Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


FilterArg = Annotated[DocumentListFilter | None, strawberry.argument(description="Optional filters.")]
FirstArg = Annotated[int | None, strawberry.argument(description="Page size, 1–100 (default 20).")]
AfterArg = Annotated[str | None, strawberry.argument(description="Opaque cursor: the previous page's endCursor.")]


@strawberry.type
class DocumentListQuery:
    @strawberry.field(
        description="To do (待办): your pending tasks, newest first (by when you received them). `first`: 1–100, "
        "default 20; totalCount counts the filtered list.",
        permission_classes=[IsAuthenticated],
    )
    async def my_tasks(
        self, info: Info, first: FirstArg = None, after: AfterArg = None, filter: FilterArg = None
    ) -> Connection[Task]:
        return await box_connection(info, "todo", Task.from_model, filter, first, after)

    @strawberry.field(
        description="Done (已办): the tasks you approved or returned, most recently acted on first.",
        permission_classes=[IsAuthenticated],
    )
    async def my_done_tasks(
        self, info: Info, first: FirstArg = None, after: AfterArg = None, filter: FilterArg = None
    ) -> Connection[Task]:
        return await box_connection(info, "done", Task.from_model, filter, first, after)

    @strawberry.field(
        description="My outgoing documents (我的发文): the documents you drafted, in any status, newest first.",
        permission_classes=[IsAuthenticated],
    )
    async def my_drafted_documents(
        self, info: Info, first: FirstArg = None, after: AfterArg = None, filter: FilterArg = None
    ) -> Connection[Document]:
        return await box_connection(info, "drafted", Document.from_model, filter, first, after)

    @strawberry.field(
        description="Archived (归档): the ARCHIVED documents you can read (drafted or on their route), most recently "
        "archived first.",
        permission_classes=[IsAuthenticated],
    )
    async def my_archived_documents(
        self, info: Info, first: FirstArg = None, after: AfterArg = None, filter: FilterArg = None
    ) -> Connection[Document]:
        return await box_connection(info, "archived", Document.from_model, filter, first, after)

    @strawberry.field(
        description="Every document you can read (drafted or on its route), newest first; with `filter.search` a "
        "full-text search by document number, title and body.",
        permission_classes=[IsAuthenticated],
    )
    async def search_documents(
        self, info: Info, first: FirstArg = None, after: AfterArg = None, filter: FilterArg = None
    ) -> Connection[Document]:
        return await box_connection(info, "visible", Document.from_model, filter, first, after)


@strawberry.input(description="Archive (归档) a handled document.")
class ArchiveDocumentInput:
    document_id: relay.GlobalID = strawberry.field(
        description="A REGISTERED, DISPATCHED, REVOKED or REPEALED document you drafted, or one of your unit's if you "
        "are its clerk (文书)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type
class DocumentListMutation:
    @strawberry.mutation(
        description="Archive (归档, REG Art. 27) a handled document: REGISTERED, DISPATCHED, REVOKED or REPEALED → "
        "ARCHIVED, read-only from then on (changes are INVALID_STATE). For the drafter or a clerk (文书) of the "
        "issuing unit; the drafter is notified. Archiving again returns the document unchanged. Errors: "
        "INVALID_STATE, FORBIDDEN, NOT_FOUND.",
        permission_classes=[IsAuthenticated],
    )
    async def archive_document(self, info: Info, input: ArchiveDocumentInput) -> DocumentPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await archive.archive_document(
                uow, ctx.broker, actor, decode_id(input.document_id, "Document", "documentId"), now=ctx.platform.clock()
            )

        doc, errors = await run_mutation(info, work, idempotent=input)
        return DocumentPayload(document=Document.from_model(doc) if doc else None, errors=errors)

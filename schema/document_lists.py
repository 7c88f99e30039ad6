"""GraphQL surface of the lists people work from (documents/lists.py), full-text search and
archiving (documents/archive.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from enum import Enum
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
    clock: bool = False,
) -> Connection[Any]:
    """One page of box ``box`` (two SQL statements; the rows' fields are read through the
    request's DataLoaders). ``owner_id``: whose box (default the signed-in person); ``extra``:
    the box's own conditions; ``check``: a permission check run first in the same session;
    ``clock``: join the tasks' deadlines (for :func:`lists.due_conditions` in ``extra``)."""
    actor = await require_actor(info)
    limit = page_size(first)
    cursor = lists.Cursor.decode(after)
    flt_ = _filter(flt)
    async with info.context.db.read() as s:
        if check is not None:
            await check(s, actor)
        owner = actor.user_id if owner_id is None else owner_id
        rows, total = await lists.page(s, box, owner, flt_, cursor, limit + 1, extra, clock=clock)
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


@strawberry.enum(description="The order of a to-do list.")
class TaskOrder(Enum):
    RECEIVED = strawberry.enum_value("received", description="Newest first, by when you received the task (default).")
    DUE_DATE = strawberry.enum_value(
        "due_date",
        description="Soonest due first, by the due instant (`Task.deadline.dueAt`); tasks without a deadline last; "
        "ties by task id. The cursor holds the due instant and the id, so pages stay stable.",
    )


DueWhenEnum = strawberry.enum(
    lists.DueWhen,
    name="DueWhen",
    description="OVERDUE: the due instant has passed. DUE_TODAY: not overdue, due by 24:00 Asia/Shanghai today. "
    "DUE_SOON: not overdue, due by the end of the `soonWorkingDays`-th working day after today (today included). "
    "NOT_OVERDUE: has a deadline not yet passed. NO_DEADLINE: no policy applied.",
)


@strawberry.input(
    description="Due-date filters of a to-do list (Task.deadline), all optional, combined with AND and with "
    "`filter`. Today is the Asia/Shanghai date of the request; working days follow the working-day calendar."
)
class DueFilter:
    when: DueWhenEnum | None = strawberry.field(default=None, description="Which tasks by their deadline.")  # type: ignore[valid-type]
    soon_working_days: int = strawberry.field(
        default=1,
        description="N of DUE_SOON, 0–30 working days (default 1: due today or on the next working day, the "
        "yellow-card day); INVALID_VALUE on due.soonWorkingDays otherwise.",
    )
    from_: dt.date | None = strawberry.field(
        default=None, name="from", description="Due on or after this Asia/Shanghai date."
    )
    to: dt.date | None = strawberry.field(
        default=None, description="Due on or before this Asia/Shanghai date; not before `from` (INVALID_VALUE)."
    )


async def _my_tasks(
    info: Info,
    first: int | None,
    after: str | None,
    flt: DocumentListFilter | None,
    order: TaskOrder,
    due: DueFilter | None,
) -> Connection[Task]:
    extra: tuple[ColumnElement[bool], ...] = ()
    if due is not None:
        cal = await info.context.work_calendar()
        extra = lists.due_conditions(
            lists.DueFilter(
                when=lists.DueWhen(due.when) if due.when is not None else None,
                soon_working_days=due.soon_working_days,
                due_from=due.from_,
                due_to=due.to,
            ),
            cal,
            info.context.platform.clock(),
        )
    if order is TaskOrder.RECEIVED:
        return await box_connection(
            info, "todo", Task.from_model, flt, first, after, extra=extra, clock=due is not None
        )
    actor = await require_actor(info)
    limit = page_size(first)
    cursor = lists.DueCursor.decode(after)
    async with info.context.db.read() as s:
        rows, total = await lists.due_page(s, "todo", actor.user_id, _filter(flt), cursor, limit + 1, extra)
    has_next = len(rows) > limit
    edges = [Edge(cursor=lists.DueCursor(d, t.id).encode(), node=Task.from_model(t)) for t, d in rows[:limit]]
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


@strawberry.type
class DocumentListQuery:
    @strawberry.field(
        description="To do (待办): your pending tasks, newest first (by when you received them), or with "
        "`orderBy: DUE_DATE` soonest due first. `due` filters by due date (overdue, due today, due soon, a range of "
        "due dates). `first`: 1–100, default 20; totalCount counts the filtered list. Each task's due date and "
        "working days left: `deadline`.",
        permission_classes=[IsAuthenticated],
    )
    async def my_tasks(
        self,
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
        filter: FilterArg = None,
        order_by: Annotated[
            TaskOrder,
            strawberry.argument(description="RECEIVED (default) or DUE_DATE; a cursor is valid for its order."),
        ] = TaskOrder.RECEIVED,
        due: Annotated[DueFilter | None, strawberry.argument(description="Optional due-date filters.")] = None,
    ) -> Connection[Task]:
        return await _my_tasks(info, first, after, filter, order_by, due)

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

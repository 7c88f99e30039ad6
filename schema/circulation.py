"""GraphQL surface of circulation for reading (传阅): circulateDocument, markCirculationRead, toRead."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated

import strawberry
from sqlalchemy import ColumnElement
from strawberry import relay
from strawberry.types import Info

from documents import circulation as circ
from documents.models import Circulation as CirculationModel
from schema.common import (
    Connection,
    IsAuthenticated,
    UserError,
    decode_id,
    decode_ids,
    idempotency_key_field,
    require_actor,
    run_mutation,
)
from schema.document_lists import FilterArg, box_connection
from schema.documents import Document
from schema.org import User


@strawberry.type(description="One reader's item of a document's circulation (传阅): who sent it, when, read or not.")
class CirculationItem(relay.Node):
    id: relay.NodeID[int]
    note: str | None = strawberry.field(description="The sender's note to the reader.")
    sent_at: dt.datetime = strawberry.field(description="UTC instant it was sent.")
    read_at: dt.datetime | None = strawberry.field(
        description="UTC instant the reader first marked it read; null while unread."
    )
    comment: str | None = strawberry.field(description="The reader's comment (阅批), if any.")
    document_id: strawberry.Private[int]
    reader_id: strawberry.Private[int]
    sent_by_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: CirculationModel) -> CirculationItem:
        return cls(
            id=m.id,
            note=m.note,
            sent_at=m.sent_at,
            read_at=m.read_at,
            comment=m.comment,
            document_id=m.document_id,
            reader_id=m.reader_id,
            sent_by_id=m.sent_by_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[CirculationItem | None]:
        actor = await require_actor(info)
        ids = [int(i) for i in node_ids]
        async with info.context.db.read() as s:
            found = await circ.visible_items(s, actor, ids)
        return [cls.from_model(found[i]) if i in found else None for i in ids]

    @strawberry.field(description="Who it was sent to.")
    async def reader(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.reader_id))

    @strawberry.field(description="Who sent it (the drafter, a route participant, or a reader passing it on).")
    async def sent_by(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.sent_by_id))

    @strawberry.field(description="The document circulated.")
    async def document(self, info: Info) -> Document:
        return Document.from_model(await info.context.loaders.document.load(self.document_id))


@strawberry.type(description="How far a document's circulation got: n of m readers have read it.")
class CirculationSummary:
    readers: int = strawberry.field(description="Readers it was circulated to (each counted once).")
    read: int = strawberry.field(description="Readers whose latest item is read.")

    @strawberry.field(description="Readers whose latest item is still unread.")
    def unread(self) -> int:
        return self.readers - self.read


async def document_circulation(info: Info, document_id: int) -> list[CirculationItem]:
    rows: list[CirculationModel] = await info.context.loaders.document_circulation.load(document_id)
    return [CirculationItem.from_model(r) for r in rows]


async def document_circulation_summary(info: Info, document_id: int) -> CirculationSummary:
    rows: list[CirculationModel] = await info.context.loaders.document_circulation.load(document_id)
    summary = circ.summarize(rows)
    return CirculationSummary(readers=summary.readers, read=summary.read)


@strawberry.input(description="Circulate a document for reading (传阅).")
class CirculateDocumentInput:
    document_id: relay.GlobalID = strawberry.field(
        description="A document you can read (drafter, on its route, or a reader); not a draft."
    )
    reader_ids: list[relay.GlobalID] = strawberry.field(
        description="Active users, 1 to 100, no repeats, not yourself. A reader who still has an unread item of the "
        "document is skipped (see the payload's `skipped`)."
    )
    note: str | None = strawberry.field(default=None, description="Note to the readers, at most 500 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The circulation items created, the readers skipped, or errors.")
class CirculateDocumentPayload:
    document: Document | None = strawberry.field(description="The document circulated.")
    circulation: list[CirculationItem] = strawberry.field(
        description="The items created, in the order of `readerIds` (readers skipped left out)."
    )
    skipped: list[User] = strawberry.field(
        description="Readers not sent to again because they still have an unread item of the document."
    )
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="Mark one of your circulation items read (阅), optionally with a comment.")
class MarkCirculationReadInput:
    circulation_id: relay.GlobalID = strawberry.field(description="Your circulation item (CirculationItem id).")
    comment: str | None = strawberry.field(
        default=None, description="Your comment (阅批), at most 2,000 characters; kept once written."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The item after marking it read, or errors.")
class MarkCirculationReadPayload:
    item: CirculationItem | None = strawberry.field(description="The circulation item.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type
class CirculationQuery:
    @strawberry.field(
        description="Your to-read list (待阅): documents circulated to you, newest first (by when they were sent). "
        "`unread`: true = only unread items, false = only read ones, omitted = all. `filter`: the same filters as "
        "the other lists, on the circulated document (`from`/`to` on when it was sent to you). `first`: 1–100, "
        "default 20; totalCount counts the filtered list.",
        permission_classes=[IsAuthenticated],
    )
    async def to_read(
        self,
        info: Info,
        unread: Annotated[
            bool | None, strawberry.argument(description="true: unread only; false: read only; null: all.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1–100 (default 20).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor of the last item seen.")] = None,
        filter: FilterArg = None,
    ) -> Connection[CirculationItem]:
        extra: tuple[ColumnElement[bool], ...] = ()
        if unread is True:
            extra = (CirculationModel.read_at.is_(None),)
        elif unread is False:
            extra = (CirculationModel.read_at.is_not(None),)
        return await box_connection(info, "to_read", CirculationItem.from_model, filter, first, after, extra=extra)


@strawberry.type
class CirculationMutation:
    @strawberry.mutation(
        description="Circulate a document for reading (传阅, REG Art. 24(5)) to readers with a note: each gets an item "
        "in toRead and a notification, and may then read the document and pass it on. Errors: NOT_FOUND, "
        "INVALID_STATE (a draft), CIRCULATION_RESTRICTED (a work secret passed on by a reader), and on "
        "`readerIds.N`: DUPLICATE, INVALID_VALUE (yourself), NOT_FOUND, INACTIVE.",
        permission_classes=[IsAuthenticated],
    )
    async def circulate_document(self, info: Info, input: CirculateDocumentInput) -> CirculateDocumentPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await circ.circulate_document(
                uow,
                ctx.broker,
                actor,
                decode_id(input.document_id, "Document", "documentId"),
                decode_ids(input.reader_ids, "User", "readerIds"),
                input.note,
            )

        result, errors = await run_mutation(info, work, idempotent=input)
        if result is None:
            return CirculateDocumentPayload(document=None, circulation=[], skipped=[], errors=errors)
        skipped = await info.context.loaders.user.load_many(result.skipped_ids)
        return CirculateDocumentPayload(
            document=Document.from_model(result.document),
            circulation=[CirculationItem.from_model(c) for c in result.created],
            skipped=[User.from_model(u) for u in skipped if u],
            errors=errors,
        )

    @strawberry.mutation(
        description="Mark your circulation item read, optionally with a comment. Idempotent: marking again keeps the "
        "first readAt (a comment is added only if none was written). Only the reader: NOT_FOUND otherwise.",
        permission_classes=[IsAuthenticated],
    )
    async def mark_circulation_read(self, info: Info, input: MarkCirculationReadInput) -> MarkCirculationReadPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await circ.mark_read(
                uow,
                ctx.broker,
                actor,
                decode_id(input.circulation_id, "CirculationItem", "circulationId"),
                input.comment,
            )

        item, errors = await run_mutation(info, work, idempotent=input)
        return MarkCirculationReadPayload(item=CirculationItem.from_model(item) if item else None, errors=errors)

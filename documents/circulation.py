"""Circulation for reading (传阅, REG Art. 24(5)): send a document to readers, with a trail.

"Always know where it is": every send is a :class:`Circulation` row per reader (who sent it,
when, with which note; when the reader read it and their comment). Anyone who can read the
document (drafter, route participants, earlier readers) circulates it to active users, who
are told and may then read it (:func:`service.visible_to`). Readers may pass it on; the row
records the sender and the item it came through (``via_id``), so the trail shows who sent it
to whom.

Decisions: a draft is not circulated (``INVALID_STATE``); nobody circulates to themselves; a
reader who still has an unread item of the document is skipped (not duplicated) and reported
in the result; a reader who has read it gets a new item. A ``work_secret`` document (工作秘密:
restricted readership, DOMAIN §3.2) is circulated only by its drafter and route participants
(``CIRCULATION_RESTRICTED`` for a reader passing it on). Circulation does not change the
document's ``version`` (it is not an edit). Writes lock the document row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from documents import service
from documents.models import Circulation, Document, DocumentAction, Task
from documents.types import ActionKind, DocumentStatus, Sensitivity
from messaging.models import NotificationKind, document_priority
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork, utcnow
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.models import User
from office_api.org.permissions import Actor
from office_api.text import trimmed

#: At most this many readers per call.
MAX_READERS = 100
#: Characters of the sender's note.
MAX_NOTE = 500
#: Characters of a reader's comment.
MAX_COMMENT = 2_000


@dataclass
class CirculationResult:
    """What :func:`circulate_document` did: the items created (in the order of the readers
    given) and the readers skipped because they still have an unread item of the document."""

    document: Document
    created: list[Circulation]
    skipped_ids: list[int]


@dataclass(frozen=True)
class Summary:
    """Readers of a document and how many of them have read it (each reader counted once,
    by their latest item)."""

    readers: int
    read: int


def summarize(items: Sequence[Circulation]) -> Summary:
    """The :class:`Summary` of a document's circulation items (any order)."""
    latest: dict[int, Circulation] = {}
    for item in items:
        current = latest.get(item.reader_id)
        if current is None or item.id > current.id:
            latest[item.reader_id] = item
    return Summary(readers=len(latest), read=sum(1 for i in latest.values() if i.read_at is not None))


def _participant(user_id: int):
    """SQL condition: the drafter or someone with a task on the document (not only a reader)."""
    return or_(
        Document.drafter_id == user_id,
        exists().where(Task.document_id == Document.id, Task.assignee_id == user_id),
        exists().where(Task.document_id == Document.id, Task.on_behalf_of_id == user_id),
    )


async def circulate_document(
    uow: UnitOfWork, broker: Publisher, actor: Actor, document_id: int, reader_ids: Sequence[int], note: str | None
) -> CirculationResult:
    """Circulate ``document_id`` to ``reader_ids`` (1 to :data:`MAX_READERS`, in order) with
    ``note`` (at most :data:`MAX_NOTE` characters).

    One item per new reader (``sent_at`` now, ``sent_by`` the actor, ``via_id`` the actor's
    latest item of the document when they are a reader passing it on), one ``circulated``
    history entry (opinion: the note) and a ``DOCUMENT_CIRCULATED`` notification per reader.
    Readers with an unread item of the document are skipped; when every reader is skipped
    nothing is written.

    Errors: ``NOT_FOUND`` (``documentId``: not readable by the actor), ``INVALID_STATE``
    (a draft), ``CIRCULATION_RESTRICTED`` (work secret passed on by a reader), ``REQUIRED`` /
    ``TOO_MANY`` (``readerIds``), per reader ``readerIds.N``: ``DUPLICATE``, ``INVALID_VALUE``
    (yourself), ``NOT_FOUND``, ``INACTIVE``; ``TOO_LONG`` (``note``). REG Art. 24(5).
    """
    session = uow.session
    text = trimmed(note) or None
    if text is not None and len(text) > MAX_NOTE:
        raise DomainError(ErrorCode.TOO_LONG, "note", limit=MAX_NOTE)
    await service._lock_document(session, document_id)
    doc = await service.get_visible_document(session, actor, document_id)
    if doc is None:
        raise DomainError(ErrorCode.NOT_FOUND, "documentId")
    if doc.status == DocumentStatus.DRAFT.value:
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)
    if doc.sensitivity == Sensitivity.WORK_SECRET.value:
        participant = await session.execute(
            select(Document.id).where(Document.id == doc.id, _participant(actor.user_id))
        )
        if participant.first() is None:
            raise DomainError(ErrorCode.CIRCULATION_RESTRICTED, "documentId")
    errors = ErrorCollector()
    if not reader_ids:
        errors.add(ErrorCode.REQUIRED, "readerIds")
    elif len(reader_ids) > MAX_READERS:
        errors.add(ErrorCode.TOO_MANY, "readerIds", limit=MAX_READERS)
    errors.raise_if_any()
    users = {
        row.id: row.is_active
        for row in (await session.execute(select(User.id, User.is_active).where(User.id.in_(list(reader_ids)))))
    }
    seen: set[int] = set()
    for i, uid in enumerate(reader_ids):
        path = f"readerIds.{i}"
        if uid in seen:
            errors.add(ErrorCode.DUPLICATE, path, detail="listed twice")
        elif uid == actor.user_id:
            errors.add(ErrorCode.INVALID_VALUE, path, detail="you cannot circulate a document to yourself")
        elif uid not in users:
            errors.add(ErrorCode.NOT_FOUND, path)
        elif not users[uid]:
            errors.add(ErrorCode.INACTIVE, path, detail=f"user {uid}")
        seen.add(uid)
    errors.raise_if_any()
    unread = set(
        (
            await session.execute(
                select(Circulation.reader_id).where(
                    Circulation.document_id == doc.id,
                    Circulation.reader_id.in_(list(reader_ids)),
                    Circulation.read_at.is_(None),
                )
            )
        ).scalars()
    )
    via = (
        await session.execute(
            select(Circulation.id)
            .where(Circulation.document_id == doc.id, Circulation.reader_id == actor.user_id)
            .order_by(Circulation.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    now = utcnow()
    created = [
        Circulation(
            document_id=doc.id,
            reader_id=uid,
            sent_by_id=actor.user_id,
            via_id=via,
            note=text,
            sent_at=now,
        )
        for uid in reader_ids
        if uid not in unread
    ]
    skipped = [uid for uid in reader_ids if uid in unread]
    if not created:
        return CirculationResult(doc, [], skipped)
    session.add_all(created)
    await session.flush()
    session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.CIRCULATED.value,
            round=doc.round,
            opinion=text,
        )
    )
    body = f"{actor.display_name} 传阅《{doc.title}》" + (f"：{service._excerpt(text)}" if text else "")
    await notify(
        uow,
        broker,
        [
            Message(
                user_id=c.reader_id,
                kind=NotificationKind.DOCUMENT_CIRCULATED.value,
                title=f"待阅：{doc.title}",
                body=body,
                subject_type="Document",
                subject_id=doc.id,
                actor_id=actor.user_id,
                payload={"circulationId": c.id},
                priority=document_priority(NotificationKind.DOCUMENT_CIRCULATED, doc.urgency),
            )
            for c in created
        ],
    )
    await session.flush()
    return CirculationResult(doc, created, skipped)


async def mark_read(
    uow: UnitOfWork, broker: Publisher, actor: Actor, circulation_id: int, comment: str | None
) -> Circulation:
    """Mark ``actor``'s circulation item read (阅), optionally with a ``comment`` (at most
    :data:`MAX_COMMENT` characters).

    Idempotent: the first call sets ``read_at``; a later one keeps it, and adds a comment only
    if the item has none yet (an existing comment is never replaced). A call that changes
    something writes a ``circulation_read`` history entry and tells the sender
    (``CIRCULATION_READ``); one that changes nothing writes nothing.
    Errors: ``NOT_FOUND`` (``circulationId``: no such item of the actor), ``TOO_LONG``
    (``comment``).
    """
    session = uow.session
    text = trimmed(comment) or None
    if text is not None and len(text) > MAX_COMMENT:
        raise DomainError(ErrorCode.TOO_LONG, "comment", limit=MAX_COMMENT)
    item = await session.get(Circulation, circulation_id)
    if item is None or item.reader_id != actor.user_id:
        raise DomainError(ErrorCode.NOT_FOUND, "circulationId")
    doc = await service._lock_document(session, item.document_id)
    await session.refresh(item)
    first_read = item.read_at is None
    add_comment = text is not None and item.comment is None
    if not first_read and not add_comment:
        return item
    if first_read:
        item.read_at = utcnow()
    if add_comment:
        item.comment = text
    session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.CIRCULATION_READ.value,
            round=doc.round,
            opinion=text if add_comment else None,
        )
    )
    await notify(
        uow,
        broker,
        [
            Message(
                user_id=item.sent_by_id,
                kind=NotificationKind.CIRCULATION_READ.value,
                title=f"已阅：{doc.title}",
                body=f"{actor.display_name}：{service._excerpt(text or '已阅')}",
                subject_type="Document",
                subject_id=doc.id,
                actor_id=actor.user_id,
                payload={"circulationId": item.id},
            )
        ],
    )
    await session.flush()
    return item


# ---- reads -----------------------------------------------------------------------------


async def circulation_of_documents(session: AsyncSession, document_ids: Sequence[int]) -> list[Circulation]:
    """The circulation items of several documents, oldest first (one query)."""
    q = select(Circulation).where(Circulation.document_id.in_(list(document_ids))).order_by(Circulation.id)
    return list((await session.execute(q)).scalars())


async def visible_items(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, Circulation]:
    """The circulation items among ``ids`` whose document ``actor`` may read, by id."""
    q = (
        select(Circulation)
        .join(Document, Document.id == Circulation.document_id)
        .where(Circulation.id.in_(list(ids)), service.visible_to(actor.user_id))
    )
    return {c.id: c for c in (await session.execute(q)).scalars()}

"""Dispatch (核发, DOMAIN §1.4 step 4; REG Art. 25(4)): send a registered document to its
recipient units, and the sender's roll-up of what those units did with it.

Dispatch writes one :class:`~documents.incoming_models.IncomingDocument` per recipient unit
(the document's main 主送 and cc 抄送 :class:`~documents.models.DocumentRecipient` rows), in
state ``pending_receipt``, and tells each unit's clerks (文书). The recipient units then run
the incoming procedure (:mod:`documents.incoming_service`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from documents.incoming import IncomingState, IncomingStep
from documents.incoming_models import IncomingAction, IncomingDocument
from documents.models import Document, DocumentAction
from documents.service import _lock_document, recipients_of_documents, require_drafter_or_clerk
from documents.types import ActionKind, DocumentStatus, RecipientKind
from messaging.models import NotificationKind, document_priority
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.duties import duty_holders_of_units, resolve_duty
from office_api.org.models import Duty, OrgUnit
from office_api.org.permissions import Actor


async def dispatch_document(
    uow: UnitOfWork, broker: Publisher, actor: Actor, document_id: int, *, now: dt.datetime
) -> Document:
    """Dispatch (核发) a REGISTERED document to its main and cc recipient units.

    Who: the drafter or a clerk (Duty CLERK) of the issuing unit (others: ``FORBIDDEN`` when
    they can see the document, else ``NOT_FOUND``). The document row is locked; a document
    already DISPATCHED is returned unchanged (no new rows, history or notifications), so a
    retry is harmless. ``INVALID_STATE`` unless REGISTERED or when it names no recipient
    unit. Every recipient unit needs an active clerk: otherwise one ``NO_ASSIGNEE`` per
    such unit, on ``mainRecipientIds.<i>`` / ``ccRecipientIds.<i>`` naming the unit, and
    nothing is written. Writes one incoming record per unit (state ``pending_receipt``,
    ``dispatched_at`` = ``now``, a UTC instant) with a ``dispatch`` history entry, a
    ``dispatched`` document history entry; status → DISPATCHED; the clerks of every unit
    get INCOMING_ARRIVED (one notify call).
    """
    session = uow.session
    doc = await _lock_document(session, document_id)
    await require_drafter_or_clerk(session, actor, doc)
    if doc.status == DocumentStatus.DISPATCHED.value:
        return doc
    if doc.status != DocumentStatus.REGISTERED.value:
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)
    recipients = sorted(
        await recipients_of_documents(session, [doc.id]), key=lambda r: (r.kind != RecipientKind.MAIN.value, r.position)
    )
    if not recipients:
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail="the document names no recipient unit")
    unit_ids = [r.unit_id for r in recipients]
    clerks: dict[int, list[int]] = {u: [] for u in unit_ids}
    for unit_id, duty, user_id in await duty_holders_of_units(session, unit_ids):
        if duty == Duty.CLERK.value and user_id not in clerks[unit_id]:
            clerks[unit_id].append(user_id)
    units = {u.id: u for u in (await session.execute(select(OrgUnit).where(OrgUnit.id.in_(unit_ids)))).scalars()}
    errors = ErrorCollector()
    for r in recipients:
        if not clerks[r.unit_id]:
            key = "mainRecipientIds" if r.kind == RecipientKind.MAIN.value else "ccRecipientIds"
            unit = units[r.unit_id]
            errors.add(
                ErrorCode.NO_ASSIGNEE, f"{key}.{r.position}", detail=f"{unit.name} ({unit.code}) has no active clerk"
            )
    errors.raise_if_any()
    rows = [
        IncomingDocument(
            document_id=doc.id,
            unit_id=r.unit_id,
            kind=r.kind,
            position=r.position,
            state=IncomingState.PENDING_RECEIPT.value,
            version=1,
            dispatched_at=now,
            dispatched_by_id=actor.user_id,
            updated_at=now,
        )
        for r in recipients
    ]
    session.add_all(rows)
    await session.flush()
    session.add_all(
        IncomingAction(
            incoming_id=row.id,
            actor_id=actor.user_id,
            action=IncomingStep.DISPATCH.value,
            state=IncomingState.PENDING_RECEIPT.value,
            created_at=now,
        )
        for row in rows
    )
    doc.status = DocumentStatus.DISPATCHED.value
    doc.version += 1
    session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.DISPATCHED.value,
            round=doc.round,
            created_at=now,
        )
    )
    number = f"（{doc.doc_number}）" if doc.doc_number else ""
    messages = [
        Message(
            user_id=clerk_id,
            kind=NotificationKind.INCOMING_ARRIVED.value,
            title=f"收文待签收：{doc.title}",
            body=f"{actor.display_name} 发来《{doc.title}》{number}，请签收",
            subject_type="IncomingDocument",
            subject_id=row.id,
            actor_id=actor.user_id,
            payload={"documentId": doc.id, "unitId": row.unit_id, "kind": row.kind},
            priority=document_priority(NotificationKind.INCOMING_ARRIVED, doc.urgency),
            unit_id=row.unit_id,
        )
        for row in rows
        for clerk_id in clerks[row.unit_id]
    ]
    await notify(uow, broker, messages)
    await session.flush()
    return doc


# ---- the sender's roll-up ----------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """What the recipient units did with a dispatched document (the sender's view).

    ``received``: copies signed for (签收), whatever happened next; ``replied``: copies with a
    reply (答复); ``returned``: copies returned at the precheck; ``pending``: not yet signed
    for; ``closed``: copies whose procedure ended with 办结. ``units``: every copy, main
    recipients first, each in the order the document lists them.
    """

    total: int
    received: int
    replied: int
    returned: int
    pending: int
    closed: int
    units: list[IncomingDocument]


def roll_up(rows: Sequence[IncomingDocument]) -> Distribution:
    """The :class:`Distribution` of one document's incoming records (no database)."""
    ordered = sorted(rows, key=lambda r: (r.kind != RecipientKind.MAIN.value, r.position, r.id))
    return Distribution(
        total=len(ordered),
        received=sum(1 for r in ordered if r.received_at is not None),
        replied=sum(1 for r in ordered if r.replied_at is not None),
        returned=sum(1 for r in ordered if r.state == IncomingState.RETURNED_TO_SENDER.value),
        pending=sum(1 for r in ordered if r.state == IncomingState.PENDING_RECEIPT.value),
        closed=sum(1 for r in ordered if r.state == IncomingState.CLOSED.value),
        units=ordered,
    )


async def incoming_of_documents(session: AsyncSession, document_ids: Sequence[int]) -> list[IncomingDocument]:
    """The incoming records of several documents (one query, for the roll-up loader)."""
    q = select(IncomingDocument).where(IncomingDocument.document_id.in_(list(document_ids)))
    return list((await session.execute(q.order_by(IncomingDocument.id))).scalars())


async def is_sender(session: AsyncSession, user_id: int, doc: Document) -> bool:
    """Whether ``user_id`` is on the sending side of ``doc``: its drafter, who registered it,
    who dispatched any of its copies, or an active clerk of its issuing unit (the audience of
    the sender's roll-ups: ``Document.distribution``, the notifications' read receipts)."""
    if user_id in (doc.drafter_id, doc.registered_by_id):
        return True
    dispatched = await session.execute(
        select(IncomingDocument.id)
        .where(IncomingDocument.document_id == doc.id, IncomingDocument.dispatched_by_id == user_id)
        .limit(1)
    )
    if dispatched.first() is not None:
        return True
    return user_id in await resolve_duty(session, doc.issuing_unit_id, Duty.CLERK)

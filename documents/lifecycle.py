"""Revoke (撤销) and repeal (废止) of issued documents (REG Art. 33).

A revoked document is void from the start; a repealed one loses effect from its repeal date.
Both apply to a document that has been registered (``registered``) or dispatched
(``dispatched``); any other state, including one already revoked or repealed, is
``INVALID_STATE``.

Who: the head (主要负责人, duty ``head``) of the issuing unit, who decides it, or a clerk
(文书, duty ``clerk``) of the issuing unit, who records the decision on the unit's behalf.
Others get ``NOT_FOUND`` when they cannot see the document, else ``FORBIDDEN``.

A reason is required (at most :data:`MAX_REASON` characters). Each writes a history entry
(``revoked`` / ``repealed``, the reason as its opinion) and notifies the drafter and the
signer (not the actor). The document row is locked, so two concurrent attempts end with one
winner and one ``INVALID_STATE``; dispatch locks it too, so a dispatch racing a revocation
either comes first (the copies exist and are told) or is refused (``INVALID_STATE``).

A dispatched document's recipient units are told as well
(:func:`documents.incoming_service.record_void`): every copy not returned to the sender gets
a ``revoked`` / ``repealed`` history entry (state unchanged), and the unit's clerks, the
copy's named leader and its handlers get the same notification kind, subject the copy; all
in the same transaction and one notify call. After a revocation the copies may only be
closed (办结); after a repeal their procedure goes on (:mod:`documents.incoming`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from documents.incoming import IncomingStep
from documents.incoming_service import record_void
from documents.models import Document, DocumentAction
from documents.service import _lock_document, visible_to
from documents.types import ActionKind, DocumentStatus
from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode
from office_api.org.duties import resolve_duty
from office_api.org.models import Duty
from office_api.org.permissions import Actor
from office_api.text import trimmed

MAX_REASON = 500
#: The states a document can be revoked or repealed from.
VOIDABLE = (DocumentStatus.REGISTERED.value, DocumentStatus.DISPATCHED.value)


async def _load_for_void(uow: UnitOfWork, actor: Actor, document_id: int, reason: str | None) -> tuple[Document, str]:
    session = uow.session
    doc = await _lock_document(session, document_id)
    may = set(await resolve_duty(session, doc.issuing_unit_id, Duty.HEAD))
    may |= set(await resolve_duty(session, doc.issuing_unit_id, Duty.CLERK))
    if actor.user_id not in may:
        visible = (
            await session.execute(select(Document.id).where(Document.id == doc.id, visible_to(actor.user_id)))
        ).first()
        raise DomainError(ErrorCode.FORBIDDEN if visible else ErrorCode.NOT_FOUND, "documentId")
    if doc.status not in VOIDABLE:
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)
    text = trimmed(reason)
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "reason")
    if len(text) > MAX_REASON:
        raise DomainError(ErrorCode.TOO_LONG, "reason", limit=MAX_REASON)
    return doc, text


def _messages(doc: Document, actor: Actor, kind: NotificationKind, title: str, body: str) -> list[Message]:
    """One message each to the drafter and the signer, leaving out the actor."""
    users = [u for u in dict.fromkeys([doc.drafter_id, doc.signed_off_by_id]) if u is not None and u != actor.user_id]
    return [
        Message(
            user_id=u,
            kind=kind.value,
            title=title,
            body=body,
            subject_type="Document",
            subject_id=doc.id,
            actor_id=actor.user_id,
            payload={"docNumber": doc.doc_number},
        )
        for u in users
    ]


async def revoke_document(
    uow: UnitOfWork, broker: Publisher, actor: Actor, document_id: int, reason: str | None, *, now: dt.datetime
) -> Document:
    """Revoke (撤销) a registered or dispatched document: void from the start (REG Art. 33).

    Sets status ``revoked``, ``revoked_at`` = ``now`` (UTC, aware), ``void_reason`` and
    ``voided_by_id``; bumps ``version``. Errors: ``NOT_FOUND``/``FORBIDDEN`` (not the head or
    a clerk of the issuing unit), ``INVALID_STATE`` (not registered or dispatched, e.g.
    revoked already), ``REQUIRED``/``TOO_LONG`` on ``reason``. When it was dispatched, the
    recipient units' copies are told and may from then on only be closed (module docstring).
    """
    doc, text = await _load_for_void(uow, actor, document_id, reason)
    dispatched = doc.status == DocumentStatus.DISPATCHED.value
    doc.status = DocumentStatus.REVOKED.value
    doc.revoked_at = now
    doc.void_reason = text
    doc.voided_by_id = actor.user_id
    doc.version += 1
    uow.session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.REVOKED.value,
            round=doc.round,
            opinion=text,
            created_at=now,
        )
    )
    name = doc.doc_number or doc.title
    kind, title = NotificationKind.DOCUMENT_REVOKED, f"已撤销：{doc.title}"
    messages = _messages(doc, actor, kind, title, f"{name} 已撤销，自始无效：{text}")
    if dispatched:
        body = f"{name} 已撤销，自始无效，收文停止办理（可办结归档）：{text}"
        messages += await record_void(uow.session, doc, actor, IncomingStep.REVOKED, kind, title, body, text, now)
    await notify(uow, broker, messages)
    await uow.session.flush()
    return doc


async def repeal_document(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    document_id: int,
    reason: str | None,
    effective_on: dt.date,
    *,
    now: dt.datetime,
) -> Document:
    """Repeal (废止) a registered or dispatched document from ``effective_on`` (an Asia/Shanghai
    date, not before its 成文日期 ``issued_on``; REG Art. 33).

    Sets status ``repealed``, ``repealed_on``, ``void_reason``, ``voided_by_id``; bumps
    ``version``; the history entry is dated ``now`` (UTC). Errors as
    :func:`revoke_document`, plus ``INVALID_VALUE`` on ``effectiveOn`` before ``issued_on``.
    When it was dispatched, the recipient units' copies are told; their procedure goes on.
    """
    doc, text = await _load_for_void(uow, actor, document_id, reason)
    if doc.issued_on is not None and effective_on < doc.issued_on:
        raise DomainError(
            ErrorCode.INVALID_VALUE, "effectiveOn", detail=f"not before the 成文日期 {doc.issued_on.isoformat()}"
        )
    dispatched = doc.status == DocumentStatus.DISPATCHED.value
    doc.status = DocumentStatus.REPEALED.value
    doc.repealed_on = effective_on
    doc.void_reason = text
    doc.voided_by_id = actor.user_id
    doc.version += 1
    uow.session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.REPEALED.value,
            round=doc.round,
            opinion=text,
            created_at=now,
        )
    )
    name = doc.doc_number or doc.title
    day = f"{effective_on.year}年{effective_on.month}月{effective_on.day}日"
    kind, title, body = NotificationKind.DOCUMENT_REPEALED, f"已废止：{doc.title}", f"{name} 自{day}起废止：{text}"
    messages = _messages(doc, actor, kind, title, body)
    if dispatched:
        opinion = f"自{day}起废止：{text}"
        messages += await record_void(uow.session, doc, actor, IncomingStep.REPEALED, kind, title, body, opinion, now)
    await notify(uow, broker, messages)
    await uow.session.flush()
    return doc

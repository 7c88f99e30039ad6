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

from documents import clocks
from documents.incoming import IncomingStep
from documents.incoming_service import record_void
from documents.models import Document, DocumentAction
from documents.service import _lock_document, refuse
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
        await refuse(session, actor, doc)
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


async def _void(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    doc: Document,
    reason: str,
    now: dt.datetime,
    *,
    status: DocumentStatus,
    kind: NotificationKind,
    title: str,
    body: str,
    copy_body: str,
    copy_opinion: str,
) -> Document:
    """What revoking and repealing share: the status, reason and actor, a history entry
    (``revoked``/``repealed``, dated ``now``), the drafter and signer told (``body``) and, when
    the document was dispatched, every recipient copy told (``copy_body``) with an entry
    carrying ``copy_opinion`` (:func:`record_void`); one notify call."""
    dispatched = doc.status == DocumentStatus.DISPATCHED.value
    doc.status = status.value
    doc.void_reason = reason
    doc.voided_by_id = actor.user_id
    doc.version += 1
    action = ActionKind.REVOKED if status is DocumentStatus.REVOKED else ActionKind.REPEALED
    uow.session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=action.value,
            round=doc.round,
            opinion=reason,
            created_at=now,
        )
    )
    messages = _messages(doc, actor, kind, title, body)
    if dispatched:
        step = IncomingStep.REVOKED if status is DocumentStatus.REVOKED else IncomingStep.REPEALED
        messages += await record_void(uow.session, doc, actor, step, kind, title, copy_body, copy_opinion, now)
        if status is DocumentStatus.REVOKED:
            await clocks.cancel_incoming_of_document(uow, doc.id, now)
    await notify(uow, broker, messages)
    await uow.session.flush()
    return doc


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
    doc.revoked_at = now
    name = doc.doc_number or doc.title
    return await _void(
        uow,
        broker,
        actor,
        doc,
        text,
        now,
        status=DocumentStatus.REVOKED,
        kind=NotificationKind.DOCUMENT_REVOKED,
        title=f"已撤销：{doc.title}",
        body=f"{name} 已撤销，自始无效：{text}",
        copy_body=f"{name} 已撤销，自始无效，收文停止办理（可办结归档）：{text}",
        copy_opinion=text,
    )


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
    doc.repealed_on = effective_on
    name = doc.doc_number or doc.title
    day = f"{effective_on.year}年{effective_on.month}月{effective_on.day}日"
    body = f"{name} 自{day}起废止：{text}"
    return await _void(
        uow,
        broker,
        actor,
        doc,
        text,
        now,
        status=DocumentStatus.REPEALED,
        kind=NotificationKind.DOCUMENT_REPEALED,
        title=f"已废止：{doc.title}",
        body=body,
        copy_body=body,
        copy_opinion=f"自{day}起废止：{text}",
    )

"""Registration (登记, DOMAIN §1.4 step 2): assign the document number (发文字号) after sign-off.

The number is ``<issuer code>〔<year>〕<seq>号`` (documents/doc_number.py). The issuer code
comes from the ``doc_number_root`` of the document's issuing unit or its nearest ancestor
that has one (:func:`documents.doc_number.issuer_code` adds the form marker 发/函). The year
is the Asia/Shanghai calendar year of the registration instant (2026-12-31T16:30Z is 2027).
The sequence runs per (code, year) from 1 and is gapless: it is taken from a
:class:`~documents.models.DocNumberCounter` row incremented in the registering transaction
(a row lock held until commit on PostgreSQL; SQLite serializes write transactions with
``BEGIN IMMEDIATE``), so concurrent registrations get distinct consecutive numbers and a
registration that rolls back gives its number back.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from documents import doc_number, search, signoff
from documents.models import DocNumberCounter, Document, DocumentAction
from documents.service import require_drafter_or_clerk
from documents.types import ActionKind, DocType, DocumentStatus
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import OrgUnit
from office_api.org.permissions import Actor

#: Registration years and dates are those of the platform's time zone.
TIMEZONE = ZoneInfo("Asia/Shanghai")


def registration_year(now: dt.datetime) -> int:
    """The Asia/Shanghai calendar year of the UTC instant ``now`` (aware)."""
    return now.astimezone(TIMEZONE).year


async def code_root_of_unit(session: AsyncSession, unit_id: int) -> str | None:
    """``doc_number_root`` of the unit, or of its nearest ancestor that has one; None if none does."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None:
        return None
    chain = [*unit.ancestor_ids(), unit.id]
    roots = dict(
        (await session.execute(select(OrgUnit.id, OrgUnit.doc_number_root).where(OrgUnit.id.in_(chain)))).all()
    )
    for uid in reversed(chain):
        root = (roots.get(uid) or "").strip()
        if root:
            return root
    return None


async def next_sequence(session: AsyncSession, code: str, year: int) -> int:
    """Increment and return the counter of (``code``, ``year``), creating it at 0 first.

    The counter row stays locked until the caller's transaction ends; on rollback the
    increment is undone, so no number is lost.
    """
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(DocNumberCounter)
    await session.execute(ins.values(code=code, year=year, last_seq=0).on_conflict_do_nothing())
    result = await session.execute(
        update(DocNumberCounter)
        .where(DocNumberCounter.code == code, DocNumberCounter.year == year)
        .values(last_seq=DocNumberCounter.last_seq + 1)
        .returning(DocNumberCounter.last_seq)
    )
    return int(result.scalar_one())


async def register_document(uow: UnitOfWork, actor: Actor, document_id: int, *, now: dt.datetime) -> Document:
    """Register an approved (signed-off) document: give it the next 发文字号 of its series.

    Who: the drafter, or a clerk (Duty CLERK, 文书) of the issuing unit. Others get
    ``NOT_FOUND`` when they cannot see the document, else ``FORBIDDEN``. A document that
    already has a number is returned unchanged (same number, no new history entry), so a
    retried or double-tapped registration is harmless. ``INVALID_STATE`` unless the status
    is approved; a registered document's status becomes ``registered``. ``SIGN_OFF_REQUIRED``
    when it was approved without a sign-off step (REG Art. 22, documents/signoff.py) or its
    body no longer matches the body signed.
    ``NO_DOC_NUMBER_CODE`` when neither the issuing unit nor an ancestor has a
    ``doc_number_root``. ``now`` is the registration instant (UTC, aware); its Asia/Shanghai
    year is the number's year. Writes ``doc_number*``, ``registered_at``/``registered_by_id``
    and a ``registered`` history entry carrying the number; bumps ``version``.
    """
    session = uow.session
    doc = (
        await session.execute(select(Document).where(Document.id == document_id).with_for_update())
    ).scalar_one_or_none()
    if doc is None:
        raise DomainError(ErrorCode.NOT_FOUND, "documentId")
    await require_drafter_or_clerk(session, actor, doc)
    if doc.doc_number is not None:
        return doc
    if doc.status != DocumentStatus.APPROVED.value:
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)
    if not signoff.is_signed_off(doc):
        raise DomainError(ErrorCode.SIGN_OFF_REQUIRED, "documentId", detail="approved without a valid sign-off step")
    root = await code_root_of_unit(session, doc.issuing_unit_id)
    if root is None:
        raise DomainError(ErrorCode.NO_DOC_NUMBER_CODE, "documentId", detail=f"unit {doc.issuing_unit_id}")
    code = doc_number.issuer_code(root, DocType(doc.doc_type))
    if not doc_number.CODE_RE.match(code):
        raise DomainError(ErrorCode.NO_DOC_NUMBER_CODE, "documentId", detail=f"invalid issuer code {code}")
    year = registration_year(now)
    seq = await next_sequence(session, code, year)
    if seq > doc_number.MAX_SEQ:
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=f"{code} {year}: numbers exhausted")
    number = doc_number.format_number(code, year, seq)
    doc.doc_number = number
    doc.doc_number_code = code
    doc.doc_number_year = year
    doc.doc_number_seq = seq
    doc.registered_at = now
    doc.registered_by_id = actor.user_id
    doc.status = DocumentStatus.REGISTERED.value
    doc.version += 1
    session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.REGISTERED.value,
            round=doc.round,
            doc_number=number,
            created_at=now,
        )
    )
    await session.flush()
    await search.reindex(session, doc)
    return doc

"""Archiving (归档, REG Art. 27; DOMAIN §1.4 last step): a handled document becomes read-only.

REG Art. 27 asks that documents be filed once handled (办毕). A document counts as handled
here when it has been issued or its life has ended: REGISTERED (发文字号 given), DISPATCHED
(sent), REVOKED or REPEALED (REG Art. 33). An APPROVED document is not archived: it still
has to be registered (the archive record keys on the 发文字号). ARCHIVED is final: no
operation changes an archived document (see :func:`is_read_only`; ``updateDocument`` and
``submitDocument`` refuse every status but draft/returned with ``INVALID_STATE``).
"""

from __future__ import annotations

import datetime as dt

from documents.models import Document, DocumentAction
from documents.service import _lock_document, require_drafter_or_clerk
from documents.types import ActionKind, DocumentStatus
from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode
from office_api.org.permissions import Actor

#: Statuses from which a document may be archived.
ARCHIVABLE = frozenset(
    {DocumentStatus.REGISTERED, DocumentStatus.DISPATCHED, DocumentStatus.REVOKED, DocumentStatus.REPEALED}
)


def is_read_only(status: DocumentStatus | str) -> bool:
    """True for an archived document: every write must refuse it with ``INVALID_STATE``."""
    return DocumentStatus(status) is DocumentStatus.ARCHIVED


async def archive_document(
    uow: UnitOfWork, broker: Publisher, actor: Actor, document_id: int, *, now: dt.datetime
) -> Document:
    """Archive a handled document (REG Art. 27): status ARCHIVED, an ``archived`` history
    entry at ``now`` (UTC, aware), ``version`` + 1, the drafter told (DOCUMENT_ARCHIVED)
    unless they archived it themselves.

    Who: the drafter, or a clerk (Duty CLERK, 文书) of the issuing unit; others get
    ``NOT_FOUND`` when they cannot see the document, else ``FORBIDDEN``. Archiving an
    archived document again returns it unchanged (no new entry), so a double tap is
    harmless. ``INVALID_STATE`` unless REGISTERED, DISPATCHED, REVOKED or REPEALED.
    The document row is locked, so of concurrent archivings exactly one writes.
    """
    session = uow.session
    doc = await _lock_document(session, document_id)
    await require_drafter_or_clerk(session, actor, doc)
    status = DocumentStatus(doc.status)
    if status is DocumentStatus.ARCHIVED:
        return doc
    if status not in ARCHIVABLE:
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)
    doc.status = DocumentStatus.ARCHIVED.value
    doc.version += 1
    doc.updated_at = now
    session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.ARCHIVED.value,
            round=doc.round,
            created_at=now,
        )
    )
    messages = []
    if doc.drafter_id != actor.user_id:
        messages.append(
            Message(
                user_id=doc.drafter_id,
                kind=NotificationKind.DOCUMENT_ARCHIVED.value,
                title=f"已归档：{doc.title}",
                body=f"{actor.display_name} 已将《{doc.title}》归档",
                subject_type="Document",
                subject_id=doc.id,
                actor_id=actor.user_id,
            )
        )
    await notify(uow, broker, messages)
    await session.flush()
    return doc

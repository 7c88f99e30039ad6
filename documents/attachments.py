"""Attachments (附件) of a document: upload, remove, reorder, and the 附件说明 check.

An upload happens in two phases so that no database lock is held while bytes arrive:

1. :func:`receive_file` (no transaction): the name is sanitised and its extension checked,
   the bytes are streamed into :mod:`documents.storage` (SHA-256 and size computed on the
   way, ``TOO_LARGE`` as soon as the limit is passed), then the content is sniffed and the
   header block scanned for a state-secret mark (:mod:`documents.file_scan`, DOMAIN §3.3).
   Any refusal deletes the stored file.
2. :func:`add_attachment` (one unit of work): locks the document row, checks that the actor
   is its drafter and that it is DRAFT or RETURNED, the count limit and the title, writes the
   row (with the uploader's attestation 本文件不涉及国家秘密) and a history entry.

The caller deletes the stored file when phase 2 does not commit (see
``schema/attachments.py``), so a committed row always names an existing file, and a removed
attachment's file is deleted only after the removal commits (``uow.after_commit``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Boolean, ForeignKey, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from documents import file_scan, routing, validation
from documents.models import Document, DocumentAction
from documents.storage import FileStorage, StoredFile, TooLarge
from documents.types import ActionKind, DocumentStatus
from office_api.db import Base, UnitOfWork, UTCDateTime, utcnow
from office_api.errors import DomainError, ErrorCode
from office_api.org.permissions import Actor
from office_api.text import trimmed


class Attachment(Base):
    """One uploaded file of a document, at ``position`` (0-based) in the attachment list."""

    __tablename__ = "document_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    #: The attachment's name as listed in 附件说明 (GB/T 9704-2012 §7.3.5).
    title: Mapped[str] = mapped_column(String(validation.MAX_ATTACHMENT_TITLE))
    #: The sanitised file name (no path), sent back in Content-Disposition.
    filename: Mapped[str] = mapped_column(String(file_scan.MAX_FILENAME))
    #: The type found by content sniffing (never the client's claim), e.g. application/pdf.
    content_type: Mapped[str] = mapped_column(String(100))
    #: Size in bytes.
    size: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the bytes, 64 hex digits.
    sha256: Mapped[str] = mapped_column(String(64))
    #: Key in the file storage (documents/storage.py).
    storage_key: Mapped[str] = mapped_column(String(100))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The uploader attested 本文件不涉及国家秘密 (always true: uploads without it are refused).
    attested_no_state_secret: Mapped[bool] = mapped_column(Boolean, default=True)


@dataclass(frozen=True)
class ReceivedFile:
    """A file stored and checked by :func:`receive_file`, not yet attached."""

    filename: str
    content_type: str
    stored: StoredFile


async def receive_file(
    storage: FileStorage, filename: str | None, chunks: AsyncIterator[bytes], *, max_bytes: int, allowed: list[str]
) -> ReceivedFile:
    """Store an upload and check it (phase 1, outside any transaction).

    Errors, all on field ``file``: ``REQUIRED`` (no usable file name), ``UNSUPPORTED_TYPE``
    (extension not in ``allowed`` or content not matching it), ``TOO_LARGE`` (over
    ``max_bytes`` bytes; reading stops there), ``EMPTY_FILE``, ``STATE_SECRET_REFUSED``
    (a state-secret mark in the header block, DOMAIN §3.3 item 2). Nothing stays stored
    after an error.
    """
    name = file_scan.safe_filename(filename)
    kind = file_scan.kind_of(name, allowed)
    try:
        stored = await storage.save(chunks, limit=max_bytes)
    except TooLarge as exc:
        raise DomainError(ErrorCode.TOO_LARGE, "file", limit=max_bytes) from exc
    try:
        if stored.size == 0:
            raise DomainError(ErrorCode.EMPTY_FILE, "file")
        inspected = await asyncio.to_thread(file_scan.inspect_file, kind, storage.path(stored.key))
    except BaseException:
        await storage.delete(stored.key)
        raise
    return ReceivedFile(filename=name, content_type=inspected.content_type, stored=stored)


async def _lock_editable(session: AsyncSession, actor: Actor, document_id: int) -> Document:
    """The document row locked; ``NOT_FOUND`` unless the actor drafted it, ``INVALID_STATE``
    unless DRAFT or RETURNED."""
    doc = (
        await session.execute(select(Document).where(Document.id == document_id).with_for_update())
    ).scalar_one_or_none()
    if doc is None or doc.drafter_id != actor.user_id:
        raise DomainError(ErrorCode.NOT_FOUND, "documentId")
    if not routing.can_submit(DocumentStatus(doc.status)):
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)
    return doc


async def check_editable(session: AsyncSession, actor: Actor, document_id: int) -> None:
    """The rules of :func:`_lock_editable` without the lock: a cheap early refusal before an
    upload's bytes are read (they are checked again, locked, when the attachment is added)."""
    doc = await session.get(Document, document_id)
    if doc is None or doc.drafter_id != actor.user_id:
        raise DomainError(ErrorCode.NOT_FOUND, "documentId")
    if not routing.can_submit(DocumentStatus(doc.status)):
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)


async def attachments_of(session: AsyncSession, document_id: int) -> list[Attachment]:
    """A document's attachments in list order."""
    q = select(Attachment).where(Attachment.document_id == document_id).order_by(Attachment.position, Attachment.id)
    return list((await session.execute(q)).scalars())


def _title(raw: str | None, filename: str) -> str:
    """The given title trimmed, or the file name without its extension."""
    title = trimmed(raw)
    if not title:
        stem, dot, _ext = filename.rpartition(".")
        title = trimmed(stem if dot else filename)
    if not title:
        raise DomainError(ErrorCode.REQUIRED, "title")
    if len(title) > validation.MAX_ATTACHMENT_TITLE:
        raise DomainError(ErrorCode.TOO_LONG, "title", limit=validation.MAX_ATTACHMENT_TITLE)
    if title[-1] in validation._END_PUNCTUATION:
        raise DomainError(ErrorCode.INVALID_VALUE, "title", detail="no punctuation after an attachment name")
    return title


def _history(doc: Document, actor: Actor, kind: ActionKind, *, attested: bool = False) -> DocumentAction:
    return DocumentAction(
        document_id=doc.id,
        actor_id=actor.user_id,
        action=kind.value,
        round=doc.round,
        attested_no_state_secret=attested,
    )


async def add_attachment(
    uow: UnitOfWork,
    actor: Actor,
    document_id: int,
    received: ReceivedFile,
    *,
    title: str | None,
    attest_no_state_secret: bool,
    max_per_document: int,
) -> Attachment:
    """Attach a received file at the end of the document's list (phase 2).

    Only the drafter (``NOT_FOUND`` for others), only while DRAFT or RETURNED
    (``INVALID_STATE``). ``attest_no_state_secret`` must be true (``ATTESTATION_REQUIRED``,
    DOMAIN §3.3: every upload carries 本文件不涉及国家秘密; recorded on the row and in the
    history). ``title`` defaults to the file name without extension; at most
    ``validation.MAX_ATTACHMENT_TITLE`` characters, no final punctuation (GB/T 9704-2012),
    unique within the document (``DUPLICATE``). ``TOO_MANY`` on ``file`` past
    ``max_per_document``.
    """
    if not attest_no_state_secret:
        raise DomainError(ErrorCode.ATTESTATION_REQUIRED, "attestNoStateSecret")
    session = uow.session
    doc = await _lock_editable(session, actor, document_id)
    existing = await attachments_of(session, doc.id)
    if len(existing) >= max_per_document:
        raise DomainError(ErrorCode.TOO_MANY, "file", limit=max_per_document)
    name = _title(title, received.filename)
    if any(a.title == name for a in existing):
        raise DomainError(ErrorCode.DUPLICATE, "title", detail=name)
    now = utcnow()
    row = Attachment(
        document_id=doc.id,
        position=len(existing),
        title=name,
        filename=received.filename,
        content_type=received.content_type,
        size=received.stored.size,
        sha256=received.stored.sha256,
        storage_key=received.stored.key,
        uploaded_by_id=actor.user_id,
        uploaded_at=now,
        attested_no_state_secret=True,
    )
    session.add(row)
    session.add(_history(doc, actor, ActionKind.ATTACHMENT_ADDED, attested=True))
    doc.version += 1
    await session.flush()
    return row


async def remove_attachment(uow: UnitOfWork, storage: FileStorage, actor: Actor, attachment_id: int) -> Document:
    """Remove an attachment; later ones move up one position. The file is deleted after commit.

    Same rules as :func:`add_attachment` (``NOT_FOUND`` on ``attachmentId`` for an unknown
    attachment or one of another drafter's document, ``INVALID_STATE``). Returns the document.
    """
    session = uow.session
    document_id = (
        await session.execute(select(Attachment.document_id).where(Attachment.id == attachment_id))
    ).scalar_one_or_none()
    if document_id is None:
        raise DomainError(ErrorCode.NOT_FOUND, "attachmentId")
    try:
        doc = await _lock_editable(session, actor, document_id)
    except DomainError as exc:
        if exc.code is ErrorCode.NOT_FOUND:
            raise DomainError(ErrorCode.NOT_FOUND, "attachmentId") from exc
        raise
    rows = await attachments_of(session, doc.id)
    row = next((a for a in rows if a.id == attachment_id), None)
    if row is None:  # removed meanwhile by a concurrent request
        raise DomainError(ErrorCode.NOT_FOUND, "attachmentId")
    key = row.storage_key
    await session.delete(row)
    await session.flush()
    for i, a in enumerate(r for r in rows if r.id != attachment_id):
        a.position = i
    session.add(_history(doc, actor, ActionKind.ATTACHMENT_REMOVED))
    doc.version += 1
    await session.flush()
    uow.after_commit(lambda: storage.delete(key))
    return doc


async def reorder_attachments(uow: UnitOfWork, actor: Actor, document_id: int, attachment_ids: list[int]) -> Document:
    """Put the document's attachments in the order of ``attachment_ids`` (every one exactly once).

    ``INVALID_VALUE`` on ``attachmentIds`` unless the ids are exactly the document's
    attachments; otherwise the rules of :func:`add_attachment`.
    """
    session = uow.session
    doc = await _lock_editable(session, actor, document_id)
    rows = await attachments_of(session, doc.id)
    by_id = {a.id: a for a in rows}
    if len(attachment_ids) != len(rows) or set(attachment_ids) != set(by_id):
        raise DomainError(
            ErrorCode.INVALID_VALUE, "attachmentIds", detail="list every attachment of the document exactly once"
        )
    for i, aid in enumerate(attachment_ids):
        by_id[aid].position = i
    session.add(_history(doc, actor, ActionKind.ATTACHMENTS_ORDERED))
    doc.version += 1
    await session.flush()
    return doc


def _mismatch(listed: Sequence[str], uploaded: Sequence[str]) -> str | None:
    """What differs between 附件说明 and the uploaded titles, or None when they are equal."""
    if list(listed) == list(uploaded):
        return None
    for i in range(max(len(listed), len(uploaded))):
        a = listed[i] if i < len(listed) else None
        b = uploaded[i] if i < len(uploaded) else None
        if a != b:
            return (
                f"{len(listed)} listed, {len(uploaded)} uploaded; "
                f"attachment {i + 1}: listed {a or '(none)'}, uploaded {b or '(none)'}"
            )
    return None  # pragma: no cover - unequal lists differ somewhere


async def check_attachment_list(session: AsyncSession, doc: Document) -> None:
    """At submission: 附件说明 (``attachment_titles``) must equal the uploaded attachments'
    titles in order (GB/T 9704-2012 §7.3.5, DOMAIN §2). ``ATTACHMENTS_MISMATCH`` on field
    ``attachmentTitles`` with the first difference otherwise."""
    listed = [trimmed(t) for t in doc.attachment_titles or []]
    uploaded = [a.title for a in await attachments_of(session, doc.id)]
    detail = _mismatch(listed, uploaded)
    if detail is not None:
        raise DomainError(ErrorCode.ATTACHMENTS_MISMATCH, "attachmentTitles", detail=detail)


async def attachments_of_documents(session: AsyncSession, document_ids: Sequence[int]) -> list[Attachment]:
    """The attachments of several documents in list order (one query)."""
    q = (
        select(Attachment)
        .where(Attachment.document_id.in_(list(document_ids)))
        .order_by(Attachment.document_id, Attachment.position, Attachment.id)
    )
    return list((await session.execute(q)).scalars())


async def visible_attachment(session: AsyncSession, user_id: int, attachment_id: int) -> Attachment | None:
    """The attachment if ``user_id`` may read its document (documents.service.visible_to), else None."""
    from documents.service import visible_to

    q = (
        select(Attachment)
        .join(Document, Document.id == Attachment.document_id)
        .where(Attachment.id == attachment_id, visible_to(user_id))
    )
    return (await session.execute(q)).scalar_one_or_none()


async def count_attachments(session: AsyncSession, document_id: int) -> int:
    q = select(func.count()).select_from(Attachment).where(Attachment.document_id == document_id)
    return int((await session.execute(q)).scalar_one())

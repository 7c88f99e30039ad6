"""GraphQL surface of attachments (附件) and body versions of documents.

Uploads use the GraphQL multipart request spec (``operations``, ``map``, then the file
parts) with strawberry's ``Upload`` scalar; the file is streamed to storage and checked
before the database transaction opens (documents/attachments.py). Files are downloaded
over plain HTTP: ``GET /files/attachments/{id}`` (office_api/attachments_http.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry import relay
from strawberry.file_uploads import Upload
from strawberry.types import Info

from documents import attachments as att
from documents.attachments import Attachment as AttachmentModel
from documents.models import Document as DocumentModel
from documents.storage import CHUNK, LocalDiskStorage
from documents.versions import BodyVersion as BodyVersionModel
from office_api.config import Settings
from office_api.errors import DomainError, DomainErrors, ErrorCode
from schema.common import (
    IsAuthenticated,
    UserError,
    decode_id,
    decode_ids,
    idempotency_key_field,
    require_actor,
    run_mutation,
    user_errors,
)
from schema.documents import Document
from schema.org import User

#: URL path of a download; ``{id}`` is the attachment's integer key.
DOWNLOAD_PATH = "/files/attachments/{id}"


def storage_for(settings: Settings) -> LocalDiskStorage:
    """The attachment storage configured by ``settings`` (``OFFICE_ATTACHMENT_DIR``)."""
    return LocalDiskStorage(settings.attachment_root)


@strawberry.type(description="An attached file (附件) of a document.")
class Attachment(relay.Node):
    id: relay.NodeID[int]
    title: str = strawberry.field(description="The attachment's name as listed in 附件说明 (attachmentTitles).")
    filename: str = strawberry.field(description="File name as uploaded (sanitised: no path, no control characters).")
    content_type: str = strawberry.field(
        description="MIME type found from the content (not the client's claim), e.g. application/pdf."
    )
    size: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the bytes, 64 lower-case hex digits.")
    position: int = strawberry.field(description="0-based place in the document's attachment list.")
    uploaded_at: dt.datetime = strawberry.field(description="UTC instant of the upload.")
    attested_no_state_secret: bool = strawberry.field(
        description="The uploader attested 本文件不涉及国家秘密 (always true: uploads without it are refused)."
    )
    uploaded_by_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: AttachmentModel) -> Attachment:
        return cls(
            id=m.id,
            title=m.title,
            filename=m.filename,
            content_type=m.content_type,
            size=m.size,
            sha256=m.sha256,
            position=m.position,
            uploaded_at=m.uploaded_at,
            attested_no_state_secret=m.attested_no_state_secret,
            uploaded_by_id=m.uploaded_by_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Attachment | None]:
        return [None for _ in node_ids]

    @strawberry.field(description="Who uploaded it.")
    async def uploaded_by(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.uploaded_by_id))

    @strawberry.field(
        description="Path of the download on this server (GET with the same bearer token): the bytes with "
        "Content-Type, Content-Disposition (UTF-8 file name) and ETag = the SHA-256."
    )
    def download_path(self) -> str:
        return DOWNLOAD_PATH.format(id=self.id)


@strawberry.type(description="One version of a document's body text (every change of the body is kept).")
class BodyVersion:
    number: int = strawberry.field(description="Version number, from 1, gapless per document.")
    sha256: str = strawberry.field(description="SHA-256 of the body as UTF-8, 64 hex digits.")
    length: int = strawberry.field(description="Length of the body, in characters.")
    created_at: dt.datetime = strawberry.field(description="UTC instant the version was written.")
    version_id: strawberry.Private[int]
    author_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: BodyVersionModel) -> BodyVersion:
        return cls(
            number=m.number,
            sha256=m.sha256,
            length=m.length,
            created_at=m.created_at,
            version_id=m.id,
            author_id=m.author_id,
        )

    @strawberry.field(description="Who wrote this version.")
    async def author(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.author_id))

    @strawberry.field(description="The full body text of this version.")
    async def body(self, info: Info) -> str:
        row = await info.context.loaders.body_version.load(self.version_id)
        return row.body if row else ""


# ---- resolvers of Document fields (schema/documents.py) ------------------------------------


async def document_attachments(info: Info, document_id: int) -> list[Attachment]:
    rows: list[AttachmentModel] = await info.context.loaders.document_attachments.load(document_id)
    return [Attachment.from_model(r) for r in rows]


async def document_body_versions(info: Info, document_id: int) -> list[BodyVersion]:
    rows: list[BodyVersionModel] = await info.context.loaders.document_body_versions.load(document_id)
    return [BodyVersion.from_model(r) for r in rows]


async def document_body_version(info: Info, document_id: int, number: int) -> BodyVersion | None:
    rows = await document_body_versions(info, document_id)
    return next((v for v in rows if v.number == number), None)


# ---- inputs and payloads ----------------------------------------------------------------------


@strawberry.input(
    description="Upload one file as an attachment of a draft or returned document you drafted. Send it as a "
    "GraphQL multipart request (operations, map, file)."
)
class UploadAttachmentInput:
    document_id: relay.GlobalID = strawberry.field(description="The document (you must be its drafter).")
    file: Upload = strawberry.field(
        description="The file: PDF, Word (.docx), plain text (UTF-8 or GB18030), PNG or JPEG; the content must "
        "match the extension; at most OFFICE_ATTACHMENT_MAX_BYTES bytes (default 20 MiB)."
    )
    attest_no_state_secret: bool = strawberry.field(
        description="Must be true: you attest 本文件不涉及国家秘密 (the file holds no state secret). Recorded."
    )
    title: str | None = strawberry.field(
        default=None,
        description="Name in 附件说明, at most 200 characters, no final punctuation, unique in the document; "
        "default: the file name without its extension.",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Remove an attachment from a draft or returned document you drafted.")
class RemoveAttachmentInput:
    attachment_id: relay.GlobalID = strawberry.field(description="The attachment.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Put a document's attachments in a new order.")
class ReorderAttachmentsInput:
    document_id: relay.GlobalID = strawberry.field(description="The document (you must be its drafter).")
    attachment_ids: list[relay.GlobalID] = strawberry.field(
        description="Every attachment of the document exactly once, in the new order (at most 50)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The attachment concerned and its document, or errors.")
class AttachmentPayload:
    attachment: Attachment | None = strawberry.field(description="The attachment uploaded; null otherwise.")
    document: Document | None = strawberry.field(description="The document after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@dataclass
class _UploadFingerprint:
    """What an idempotency key of uploadAttachment stands for: the input with the file's digest."""

    document_id: str
    title: str | None
    attest_no_state_secret: bool
    filename: str
    sha256: str
    size: int
    idempotency_key: str | None


async def _chunks(upload: Any) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


async def _payload(info: Info, attachment: AttachmentModel | None, document_id: int | None) -> AttachmentPayload:
    doc = None
    if document_id is not None:
        async with info.context.db.read() as s:
            doc = await s.get(DocumentModel, document_id)
    return AttachmentPayload(
        attachment=Attachment.from_model(attachment) if attachment else None,
        document=Document.from_model(doc) if doc else None,
        errors=[],
    )


@strawberry.type
class AttachmentMutation:
    @strawberry.mutation(
        description="Attach a file to a DRAFT or RETURNED document you drafted (multipart request). Refused: "
        "ATTESTATION_REQUIRED (attestNoStateSecret must be true), TOO_LARGE, EMPTY_FILE, UNSUPPORTED_TYPE (the "
        "extension or the content), STATE_SECRET_REFUSED (a state-secret mark such as 机密★10年 in the file's "
        "header lines or properties; 涉密不上网), TOO_MANY, DUPLICATE (title), INVALID_STATE, NOT_FOUND.",
        permission_classes=[IsAuthenticated],
    )
    async def upload_attachment(self, info: Info, input: UploadAttachmentInput) -> AttachmentPayload:
        actor = await require_actor(info)
        ctx = info.context
        settings: Settings = ctx.settings
        storage = storage_for(settings)
        try:
            if not input.attest_no_state_secret:
                raise DomainError(ErrorCode.ATTESTATION_REQUIRED, "attestNoStateSecret")
            document_id = decode_id(input.document_id, "Document", "documentId")
            if not hasattr(input.file, "read"):
                raise DomainError(ErrorCode.REQUIRED, "file")
            async with ctx.db.read() as session:
                await att.check_editable(session, actor, document_id)  # before reading the bytes
            received = await att.receive_file(
                storage,
                getattr(input.file, "filename", None),
                _chunks(input.file),
                max_bytes=settings.attachment_max_bytes,
                allowed=settings.attachment_types,
            )
        except (DomainError, DomainErrors) as exc:
            return AttachmentPayload(attachment=None, document=None, errors=user_errors(exc, ctx.lang))

        async def work(uow):
            return await att.add_attachment(
                uow,
                actor,
                document_id,
                received,
                title=input.title,
                attest_no_state_secret=input.attest_no_state_secret,
                max_per_document=settings.attachment_max_per_document,
            )

        fingerprint = _UploadFingerprint(
            document_id=str(input.document_id),
            title=input.title,
            attest_no_state_secret=input.attest_no_state_secret,
            filename=received.filename,
            sha256=received.stored.sha256,
            size=received.stored.size,
            idempotency_key=input.idempotency_key,
        )
        row: AttachmentModel | None = None
        try:
            row, errors = await run_mutation(info, work, idempotent=fingerprint)
        finally:
            # Keep the file only when a committed row names it (not on errors, failures or a
            # replayed idempotent result, which names the first upload's file).
            if row is None or row.storage_key != received.stored.key:
                await storage.delete(received.stored.key)
        if row is None:
            return AttachmentPayload(attachment=None, document=None, errors=errors)
        return await _payload(info, row, row.document_id)

    @strawberry.mutation(
        description="Remove an attachment of a DRAFT or RETURNED document you drafted; the later ones move up. "
        "Errors: NOT_FOUND, INVALID_STATE.",
        permission_classes=[IsAuthenticated],
    )
    async def remove_attachment(self, info: Info, input: RemoveAttachmentInput) -> AttachmentPayload:
        actor = await require_actor(info)
        storage = storage_for(info.context.settings)

        async def work(uow):
            pk = decode_id(input.attachment_id, "Attachment", "attachmentId")
            return await att.remove_attachment(uow, storage, actor, pk)

        doc, errors = await run_mutation(info, work, idempotent=input)
        if doc is None:
            return AttachmentPayload(attachment=None, document=None, errors=errors)
        return await _payload(info, None, doc.id)

    @strawberry.mutation(
        description="Reorder the attachments of a DRAFT or RETURNED document you drafted (附件说明 must follow the "
        "same order at submission). Errors: INVALID_VALUE (not exactly the document's attachments), NOT_FOUND, "
        "INVALID_STATE.",
        permission_classes=[IsAuthenticated],
    )
    async def reorder_attachments(self, info: Info, input: ReorderAttachmentsInput) -> AttachmentPayload:
        actor = await require_actor(info)

        async def work(uow):
            if len(input.attachment_ids) > 50:
                raise DomainError(ErrorCode.TOO_MANY, "attachmentIds", limit=50)
            pk = decode_id(input.document_id, "Document", "documentId")
            ids = decode_ids(input.attachment_ids, "Attachment", "attachmentIds")
            return await att.reorder_attachments(uow, actor, pk, ids)

        doc, errors = await run_mutation(info, work, idempotent=input)
        if doc is None:
            return AttachmentPayload(attachment=None, document=None, errors=errors)
        return await _payload(info, None, doc.id)

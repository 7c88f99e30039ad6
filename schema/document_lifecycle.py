"""GraphQL surface of revoke (撤销) and repeal (废止) of issued documents (REG Art. 33)."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry import relay
from strawberry.types import Info

from documents import lifecycle
from schema.common import IsAuthenticated, decode_id, idempotency_key_field, require_actor, run_mutation
from schema.documents import Document, DocumentPayload


@strawberry.input(description="Revoke (撤销) a registered or dispatched document: void from the start.")
class RevokeDocumentInput:
    document_id: relay.GlobalID = strawberry.field(
        description="A REGISTERED or DISPATCHED document of a unit you head or are a clerk (文书) of."
    )
    reason: str = strawberry.field(description="Why, 1–500 characters (required).")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Repeal (废止) a registered or dispatched document from a date.")
class RepealDocumentInput:
    document_id: relay.GlobalID = strawberry.field(
        description="A REGISTERED or DISPATCHED document of a unit you head or are a clerk (文书) of."
    )
    reason: str = strawberry.field(description="Why, 1–500 characters (required).")
    effective_on: dt.date = strawberry.field(
        description="Asia/Shanghai date from which the document is void; not before its 成文日期 (issuedOn)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type
class DocumentLifecycleMutation:
    @strawberry.mutation(
        description="Revoke (撤销, REG Art. 33) a REGISTERED or DISPATCHED document: it is void from the start; "
        "status REVOKED, revokedAt and voidReason set, the drafter and signer notified. For the head or a clerk "
        "(文书) of the issuing unit. Errors: INVALID_STATE (other states, e.g. revoked or repealed already), "
        "REQUIRED/TOO_LONG on reason, FORBIDDEN, NOT_FOUND.",
        permission_classes=[IsAuthenticated],
    )
    async def revoke_document(self, info: Info, input: RevokeDocumentInput) -> DocumentPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await lifecycle.revoke_document(
                uow,
                ctx.broker,
                actor,
                decode_id(input.document_id, "Document", "documentId"),
                input.reason,
                now=ctx.platform.clock(),
            )

        doc, errors = await run_mutation(info, work, idempotent=input)
        return DocumentPayload(document=Document.from_model(doc) if doc else None, errors=errors)

    @strawberry.mutation(
        description="Repeal (废止, REG Art. 33) a REGISTERED or DISPATCHED document from effectiveOn: status "
        "REPEALED, repealedOn and voidReason set, the drafter and signer notified. For the head or a clerk (文书) of "
        "the issuing unit. Errors: INVALID_STATE (other states, e.g. revoked or repealed already), INVALID_VALUE on "
        "effectiveOn (before issuedOn), REQUIRED/TOO_LONG on reason, FORBIDDEN, NOT_FOUND.",
        permission_classes=[IsAuthenticated],
    )
    async def repeal_document(self, info: Info, input: RepealDocumentInput) -> DocumentPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await lifecycle.repeal_document(
                uow,
                ctx.broker,
                actor,
                decode_id(input.document_id, "Document", "documentId"),
                input.reason,
                input.effective_on,
                now=ctx.platform.clock(),
            )

        doc, errors = await run_mutation(info, work, idempotent=input)
        return DocumentPayload(document=Document.from_model(doc) if doc else None, errors=errors)

"""GraphQL surface of the routing actions (documents/actions.py, docs/routing.md): withdraw,
transfer, single-task delegation, add/remove signer, reroute by an administrator, comments.
The return to an earlier step is ``returnTask(input: {toStepIndex})`` in schema/documents.py."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from documents import actions
from documents.models import Document as DocumentModel
from schema.common import (
    IsAdmin,
    IsAuthenticated,
    UserError,
    decode_id,
    idempotency_key_field,
    require_actor,
    run_mutation,
)
from schema.documents import Document, TaskPayload, _task_payload

_OPINION = "Opinion or note, at most 2,000 characters; kept in the document's history."


@strawberry.type(description="The document after a routing action, or errors.")
class DocumentActionPayload:
    document: Document | None = strawberry.field(description="The document after the action; null on errors.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def _payload(doc: DocumentModel | None, errors: list[UserError]) -> DocumentActionPayload:
    return DocumentActionPayload(document=Document.from_model(doc) if doc else None, errors=errors)


@strawberry.input(description="Withdraw (撤回) what you last sent on a document, while nobody has acted on it.")
class WithdrawDocumentInput:
    document_id: relay.GlobalID = strawberry.field(
        description="The document: you submitted it, or your approval opened its pending tasks."
    )
    opinion: str | None = strawberry.field(default=None, description=_OPINION)
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Pass one of your pending tasks to another person.")
class _PassTaskInput:
    task_id: relay.GlobalID = strawberry.field(description="Your pending task.")
    to_user_id: relay.GlobalID = strawberry.field(description="An active user without a pending task in the same step.")
    opinion: str | None = strawberry.field(default=None, description=_OPINION)
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Transfer (转办) one of your pending tasks to another person.")
class TransferTaskInput(_PassTaskInput):
    pass


@strawberry.input(description="Delegate (单件委托) one of your pending tasks: the delegate acts on your behalf.")
class DelegateTaskInput(_PassTaskInput):
    pass


@strawberry.input(description="Add (加签) or remove (减签) a signer of a document's open step.")
class _ChangeSignerInput:
    document_id: relay.GlobalID = strawberry.field(
        description="An IN_REVIEW document you drafted, or whose open step you sent."
    )
    user_id: relay.GlobalID = strawberry.field(
        description="The signer: an active user to add, or a user named by id on the open step to remove."
    )
    opinion: str | None = strawberry.field(default=None, description=_OPINION)
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Add a signer (加签) to a document's open step.")
class AddSignerInput(_ChangeSignerInput):
    pass


@strawberry.input(description="Remove a signer (减签) from a document's open step.")
class RemoveSignerInput(_ChangeSignerInput):
    pass


@strawberry.input(description="Replace a person on the rest of an in-review document's route (administrators).")
class RerouteDocumentInput:
    document_id: relay.GlobalID = strawberry.field(
        description="An IN_REVIEW document whose issuing unit is inside the subtree you administer."
    )
    from_user_id: relay.GlobalID = strawberry.field(
        description="The person to replace (pending tasks of the round, and the open and later steps)."
    )
    to_user_id: relay.GlobalID = strawberry.field(description="The active user who takes their place.")
    opinion: str | None = strawberry.field(default=None, description=_OPINION)
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Comment (评论/意见) on a document without acting on it.")
class CommentDocumentInput:
    document_id: relay.GlobalID = strawberry.field(description="A document you drafted or are on the route of.")
    opinion: str = strawberry.field(description="The comment, 1–2,000 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type
class DocumentActionMutation:
    @strawberry.mutation(
        description="Withdraw (撤回) what you last sent while nobody has acted on it: the drafter's submission (the "
        "pending tasks are cancelled, the document is RETURNED to the drafter for editing) or your approval (the "
        "tasks it opened are cancelled, your task is pending again). Errors: WITHDRAW_TOO_LATE, NOT_THE_SENDER, "
        "NOT_FOUND.",
        permission_classes=[IsAuthenticated],
    )
    async def withdraw_document(self, info: Info, input: WithdrawDocumentInput) -> DocumentActionPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await actions.withdraw(
                uow, ctx.broker, actor, decode_id(input.document_id, "Document", "documentId"), input.opinion
            )

        doc, errors = await run_mutation(info, work, idempotent=input)
        return _payload(doc, errors)

    @strawberry.mutation(
        description="Transfer (转办) your pending task: it becomes TRANSFERRED and a new task opens for toUserId in "
        "the same step and round. The new assignee and the drafter are told.",
        permission_classes=[IsAuthenticated],
    )
    async def transfer_task(self, info: Info, input: TransferTaskInput) -> TaskPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await actions.transfer_task(
                uow,
                ctx.broker,
                actor,
                decode_id(input.task_id, "Task", "taskId"),
                decode_id(input.to_user_id, "User", "toUserId"),
                input.opinion,
            )

        task, errors = await run_mutation(info, work, idempotent=input)
        return await _task_payload(info, task, errors)

    @strawberry.mutation(
        description="Delegate (单件委托) one pending task: toUserId acts on your behalf (the task's onBehalfOf is "
        "you); you keep sight of the document and are told of the result (DELEGATED_TASK_DONE).",
        permission_classes=[IsAuthenticated],
    )
    async def delegate_task(self, info: Info, input: DelegateTaskInput) -> TaskPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await actions.delegate_task(
                uow,
                ctx.broker,
                actor,
                decode_id(input.task_id, "Task", "taskId"),
                decode_id(input.to_user_id, "User", "toUserId"),
                input.opinion,
            )

        task, errors = await run_mutation(info, work, idempotent=input)
        return await _task_payload(info, task, errors)

    @strawberry.mutation(
        description="Add a signer (加签) to the open step (drafter or the step's sender). PARALLEL_ALL, ANY_ONE, "
        "QUORUM (k unchanged): their task opens now; SEQUENTIAL: in turn, after the last signer; SINGLE refuses.",
        permission_classes=[IsAuthenticated],
    )
    async def add_signer(self, info: Info, input: AddSignerInput) -> DocumentActionPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await actions.add_signer(
                uow,
                ctx.broker,
                actor,
                decode_id(input.document_id, "Document", "documentId"),
                decode_id(input.user_id, "User", "userId"),
                input.opinion,
            )

        doc, errors = await run_mutation(info, work, idempotent=input)
        return _payload(doc, errors)

    @strawberry.mutation(
        description="Remove a signer (减签) from the open step (drafter or the step's sender): their pending task is "
        "cancelled; if everyone left has approved, the route advances. A step keeps one assignee at least and "
        "QUORUM k ≤ n (INVALID_VALUE on userId).",
        permission_classes=[IsAuthenticated],
    )
    async def remove_signer(self, info: Info, input: RemoveSignerInput) -> DocumentActionPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await actions.remove_signer(
                uow,
                ctx.broker,
                actor,
                decode_id(input.document_id, "Document", "documentId"),
                decode_id(input.user_id, "User", "userId"),
                input.opinion,
            )

        doc, errors = await run_mutation(info, work, idempotent=input)
        return _payload(doc, errors)

    @strawberry.mutation(
        description="Administrators of the issuing unit's subtree: replace fromUserId by toUserId on the rest of an "
        "IN_REVIEW document's route (pending tasks move; the open and later steps name the new person). Audited.",
        permission_classes=[IsAdmin],
    )
    async def reroute_document(self, info: Info, input: RerouteDocumentInput) -> DocumentActionPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await actions.reroute(
                uow,
                ctx.broker,
                actor,
                decode_id(input.document_id, "Document", "documentId"),
                decode_id(input.from_user_id, "User", "fromUserId"),
                decode_id(input.to_user_id, "User", "toUserId"),
                input.opinion,
            )

        doc, errors = await run_mutation(info, work, idempotent=input)
        return _payload(doc, errors)

    @strawberry.mutation(
        description="Comment (评论/意见) on a document you can see, without acting: a COMMENTED history entry; the "
        "drafter and the holders of pending tasks are told.",
        permission_classes=[IsAuthenticated],
    )
    async def comment_document(self, info: Info, input: CommentDocumentInput) -> DocumentActionPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await actions.comment(
                uow, ctx.broker, actor, decode_id(input.document_id, "Document", "documentId"), input.opinion
            )

        doc, errors = await run_mutation(info, work, idempotent=input)
        return _payload(doc, errors)

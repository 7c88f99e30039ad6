"""GraphQL surface of delegation (委托) and handover (交接)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from documents.handover import hand_over_tasks
from documents.types import DocType
from office_api.errors import DomainError, ErrorCode
from office_api.org import delegation as dlg
from office_api.org.models import Delegation as DelegationModel
from schema.common import (
    Connection,
    IsAdmin,
    IsAuthenticated,
    UserError,
    decode_cursor,
    decode_id,
    idempotency_key_field,
    make_connection,
    page_size,
    require_actor,
    run_mutation,
)
from schema.documents import DocTypeEnum, Task
from schema.org import User

#: Most document types one delegation may list.
MAX_DOC_TYPES = 15


@strawberry.type(description="A delegation (委托): the delegator's new tasks go to the delegate for a date range.")
class Delegation(relay.Node):
    id: relay.NodeID[int]
    start_date: dt.date = strawberry.field(description="First day (Asia/Shanghai), inclusive.")
    end_date: dt.date = strawberry.field(description="Last day (Asia/Shanghai), inclusive.")
    doc_types: list[DocTypeEnum] | None = strawberry.field(  # type: ignore[valid-type]
        description="Only tasks on documents of these types are delegated; null for every type."
    )
    reason: str | None = strawberry.field(description="Why, e.g. 出差 or 休假.")
    created_at: dt.datetime = strawberry.field(description="UTC instant of creation.")
    cancelled_at: dt.datetime | None = strawberry.field(description="UTC instant it was cancelled; null while live.")
    delegator_id: strawberry.Private[int]
    delegate_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: DelegationModel) -> Delegation:
        return cls(
            id=m.id,
            start_date=m.start_date,
            end_date=m.end_date,
            doc_types=[DocType(t) for t in m.doc_types] if m.doc_types is not None else None,
            reason=m.reason,
            created_at=m.created_at,
            cancelled_at=m.cancelled_at,
            delegator_id=m.delegator_id,
            delegate_id=m.delegate_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Delegation | None]:
        actor = await require_actor(info)
        ids = [int(i) for i in node_ids]
        async with info.context.db.read() as s:
            found = await dlg.visible_delegations(s, actor, ids)
        return [cls.from_model(found[i]) if i in found else None for i in ids]

    @strawberry.field(description="Who delegates (委托人).")
    async def delegator(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.delegator_id))

    @strawberry.field(description="Who acts for them (受托人).")
    async def delegate(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.delegate_id))


@strawberry.input(description="Delegate your new tasks to a colleague for a date range.")
class CreateDelegationInput:
    delegate_id: relay.GlobalID = strawberry.field(description="Who acts for you; not yourself (SELF_DELEGATION).")
    start_date: dt.date = strawberry.field(description="First day (Asia/Shanghai), inclusive.")
    end_date: dt.date = strawberry.field(
        description="Last day (Asia/Shanghai), inclusive; not before the start or today, at most 366 days in all."
    )
    doc_types: list[DocTypeEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only these document types (1–15, no repeats); omit for every type."
    )
    reason: str | None = strawberry.field(default=None, description="Why, at most 200 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Cancel one of your delegations.")
class CancelDelegationInput:
    id: relay.GlobalID = strawberry.field(description="The delegation (you must be its delegator).")


@strawberry.type(description="The delegation created or cancelled, or errors.")
class DelegationPayload:
    delegation: Delegation | None = strawberry.field(description="The delegation after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="Move every pending task of one user to another (交接).")
class HandOverTasksInput:
    from_user_id: relay.GlobalID = strawberry.field(description="The departing user whose pending tasks move.")
    to_user_id: relay.GlobalID = strawberry.field(description="The active user who takes them over.")


@strawberry.type(description="The tasks moved, or errors.")
class HandOverTasksPayload:
    moved_count: int = strawberry.field(description="How many pending tasks moved (0 when there were none).")
    tasks: list[Task] = strawberry.field(description="The tasks moved, by id, now assigned to the new user.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def _payload(d: DelegationModel | None, errors: list[UserError]) -> DelegationPayload:
    return DelegationPayload(delegation=Delegation.from_model(d) if d else None, errors=errors)


@strawberry.type
class DelegationQuery:
    @strawberry.field(
        description="Delegations you gave (or with `received: true`, those given to you), newest first; live "
        "ones only unless `includeEnded`. `first`: 1–100, default 20.",
        permission_classes=[IsAuthenticated],
    )
    async def my_delegations(
        self,
        info: Info,
        received: Annotated[bool, strawberry.argument(description="Those given to you.")] = False,
        include_ended: Annotated[bool, strawberry.argument(description="Also cancelled and past ones.")] = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Delegation]:
        actor = await require_actor(info)
        limit = page_size(first)
        async with info.context.db.read() as s:
            rows = await dlg.delegations_of(
                s,
                actor.user_id,
                received=received,
                include_ended=include_ended,
                after_id=decode_cursor(after),
                limit=limit + 1,
            )
        return make_connection(rows, limit, lambda r: r.id, Delegation.from_model, after=after)


@strawberry.type
class DelegationMutation:
    @strawberry.mutation(
        description="Delegate your new tasks for a date range, optionally for some document types. Errors: "
        "SELF_DELEGATION, DELEGATION_OVERLAP (with another of yours), DELEGATION_CYCLE (the delegate delegates "
        "back to you then).",
        permission_classes=[IsAuthenticated],
    )
    async def create_delegation(self, info: Info, input: CreateDelegationInput) -> DelegationPayload:
        actor = await require_actor(info)

        async def work(uow):
            doc_types = None
            if input.doc_types is not None:
                if len(input.doc_types) > MAX_DOC_TYPES:
                    raise DomainError(ErrorCode.TOO_MANY, "docTypes", limit=MAX_DOC_TYPES)
                doc_types = [DocType(t).value for t in input.doc_types]
            return await dlg.create_delegation(
                uow,
                actor,
                dlg.DelegationInput(
                    delegate_id=decode_id(input.delegate_id, "User", "delegateId"),
                    start_date=input.start_date,
                    end_date=input.end_date,
                    doc_types=doc_types,
                    reason=input.reason,
                ),
                today=dlg.local_today(info.context.settings.timezone),
            )

        d, errors = await run_mutation(info, work, idempotent=input)
        return _payload(d, errors)

    @strawberry.mutation(
        description="Cancel one of your delegations now; tasks already routed stay with the delegate.",
        permission_classes=[IsAuthenticated],
    )
    async def cancel_delegation(self, info: Info, input: CancelDelegationInput) -> DelegationPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await dlg.cancel_delegation(uow, actor, decode_id(input.id, "Delegation", "id"))

        d, errors = await run_mutation(info, work)
        return _payload(d, errors)

    @strawberry.mutation(
        description="Handover (交接): move every pending task of a user to another in one action (admins of both "
        "users' units). Both are notified per task; each document's history records it.",
        permission_classes=[IsAdmin],
    )
    async def hand_over_tasks(self, info: Info, input: HandOverTasksInput) -> HandOverTasksPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await hand_over_tasks(
                uow,
                ctx.broker,
                actor,
                decode_id(input.from_user_id, "User", "fromUserId"),
                decode_id(input.to_user_id, "User", "toUserId"),
            )

        tasks, errors = await run_mutation(info, work)
        moved = tasks or []
        return HandOverTasksPayload(moved_count=len(moved), tasks=[Task.from_model(t) for t in moved], errors=errors)

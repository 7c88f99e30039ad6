"""GraphQL surface of urging (催办) and extension requests (延期申请) on a deadline clock:
urgeDeadline, requestExtension, decideExtension, extensionRequests. The rules live in
:mod:`office_api.reminders` and :mod:`office_api.extensions`; the yellow/red cards and escalation
are sent by the daily sweep of :mod:`office_api.reminders`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from office_api import extensions, reminders
from office_api.extensions import ExtensionRequest as RequestModel
from office_api.extensions import ExtensionStatus
from office_api.reminders import DeadlineUrge as UrgeModel
from schema.common import IsAuthenticated, UserError, idempotency_key_field, require_actor, run_mutation
from schema.deadlines import DeadlineType
from schema.org import User

ExtensionStatusEnum = strawberry.enum(
    ExtensionStatus,
    name="ExtensionStatus",
    description="PENDING until an approver APPROVED or REFUSED it; LAPSED when the deadline closed (met, missed or "
    "cancelled) before a decision: it can no longer be decided.",
)


@strawberry.type(name="DeadlineUrge", description="One urge (催办) of a deadline: who urged, when, with what message.")
class DeadlineUrgeType:
    id: int = strawberry.field(description="Database id.")
    deadline_id: int = strawberry.field(description="The deadline urged (`Deadline.id`).")
    message: str = strawberry.field(description="The message the holder was sent.")
    created_at: dt.datetime = strawberry.field(description="UTC instant of the urge.")
    urged_by_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: UrgeModel) -> DeadlineUrgeType:
        return cls(
            id=m.id, deadline_id=m.deadline_id, message=m.message, created_at=m.created_at, urged_by_id=m.urged_by_id
        )

    @strawberry.field(description="Who urged: the assigner or a leader over the holder unit.")
    async def urged_by(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.urged_by_id))


@strawberry.type(
    name="ExtensionRequest", description="A holder's request for more working days (延期申请) and its decision."
)
class ExtensionRequestType:
    id: int = strawberry.field(description="Database id (the `requestId` of decideExtension).")
    deadline_id: int = strawberry.field(description="The deadline to extend (`Deadline.id`).")
    working_days: int = strawberry.field(description="Working days asked for.")
    reason: str = strawberry.field(description="Why, as the holder wrote it.")
    status: ExtensionStatusEnum = strawberry.field(description="PENDING, APPROVED, REFUSED or LAPSED.")  # type: ignore[valid-type]
    due_on_before: dt.date | None = strawberry.field(
        description="Asia/Shanghai due date when it was requested (null if the clock was paused)."
    )
    due_on_after: dt.date | None = strawberry.field(
        description="Asia/Shanghai due date the approval gave; null unless APPROVED."
    )
    note: str | None = strawberry.field(description="The approver's note.")
    created_at: dt.datetime = strawberry.field(description="UTC instant of the request.")
    decided_at: dt.datetime | None = strawberry.field(
        description="UTC instant of the decision (of the lapse: when the deadline closed); null while PENDING."
    )
    requested_by_id: strawberry.Private[int]
    decided_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, m: RequestModel) -> ExtensionRequestType:
        return cls(
            id=m.id,
            deadline_id=m.deadline_id,
            working_days=m.working_days,
            reason=m.reason,
            status=ExtensionStatus(m.status),
            due_on_before=m.due_on_before,
            due_on_after=m.due_on_after,
            note=m.note,
            created_at=m.created_at,
            decided_at=m.decided_at,
            requested_by_id=m.requested_by_id,
            decided_by_id=m.decided_by_id,
        )

    @strawberry.field(description="Who asked (the holder).")
    async def requested_by(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.requested_by_id))

    @strawberry.field(description="Who decided; null while PENDING.")
    async def decided_by(self, info: Info) -> User | None:
        if self.decided_by_id is None:
            return None
        return User.from_model(await info.context.loaders.user.load(self.decided_by_id))


@strawberry.input(description="Urge (催办) the holder of a deadline.")
class UrgeDeadlineInput:
    deadline_id: int = strawberry.field(description="`Deadline.id` of an open deadline.")
    message: str = strawberry.field(description="What to tell the holder, 1–500 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The urge recorded and sent, or errors.")
class UrgeDeadlinePayload:
    urge: DeadlineUrgeType | None = strawberry.field(description="The urge; null on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="Ask for more working days before the deadline passes (延期申请).")
class RequestExtensionInput:
    deadline_id: int = strawberry.field(description="`Deadline.id` of an open deadline you hold.")
    working_days: int = strawberry.field(
        description="Working days to add, at least 1 and at most the policy's extension limit (without a policy: "
        "the deadline's own limit) minus what was granted already, never past 1000 working days in all."
    )
    reason: str = strawberry.field(description="Why, 1–500 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The pending request, or errors.")
class RequestExtensionPayload:
    request: ExtensionRequestType | None = strawberry.field(description="The request; null on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="Approve or refuse a pending extension request.")
class DecideExtensionInput:
    request_id: int = strawberry.field(description="`ExtensionRequest.id` of a PENDING request.")
    approve: bool = strawberry.field(description="true: approve (the due date moves); false: refuse.")
    note: str | None = strawberry.field(default=None, description="A note to the holder, at most 500 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The decided request and the deadline after it, or errors.")
class DecideExtensionPayload:
    request: ExtensionRequestType | None = strawberry.field(description="The request; null on error.")
    deadline: DeadlineType | None = strawberry.field(description="The deadline (its new due date on approval).")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type
class ReminderQuery:
    @strawberry.field(
        description="The extension requests of a deadline, oldest first. For the holder, the assigner, leaders over "
        "the holder unit and the approvers; NOT_FOUND for anyone else.",
        permission_classes=[IsAuthenticated],
    )
    async def extension_requests(
        self,
        info: Info,
        deadline_id: Annotated[int, strawberry.argument(description="`Deadline.id`.")],
    ) -> list[ExtensionRequestType]:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            rows = await extensions.extension_requests(s, info.context.settings, actor, deadline_id)
        return [ExtensionRequestType.from_model(r) for r in rows]


@strawberry.type
class ReminderMutation:
    @strawberry.mutation(
        description="Urge (催办) the holder of an open deadline with a message; the holder (or, for a unit, its "
        "clerks) "
        "gets a DEADLINE_URGED notification and the urge is kept. For the assigner and the heads and deputy heads of "
        "the holder unit and the units above it (DOMAIN §5.3). Errors on `deadlineId`: NOT_FOUND, FORBIDDEN, "
        "DEADLINE_CLOSED (the item is closed or cancelled); on `message`: REQUIRED, TOO_LONG.",
        permission_classes=[IsAuthenticated],
    )
    async def urge_deadline(self, info: Info, input: UrgeDeadlineInput) -> UrgeDeadlinePayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await reminders.urge(uow, ctx.broker, ctx.settings, actor, input.deadline_id, input.message, uow.now)

        row, errors = await run_mutation(info, work, idempotent=input)
        return UrgeDeadlinePayload(urge=DeadlineUrgeType.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        description="Ask the approver for more working days (延期申请): only the holder, only before the due instant "
        "(24:00 Asia/Shanghai on the due date), one pending request at a time, within the policy's extension limit "
        "(DOMAIN §5.2–§5.3). The approvers (the policy's extension_approver: the assigner by default) get "
        "EXTENSION_REQUESTED. Errors on `deadlineId`: NOT_FOUND, FORBIDDEN, DEADLINE_CLOSED, "
        "EXTENSION_AFTER_DEADLINE, INVALID_STATE (a request is pending), INVALID_VALUE (not counted in working "
        "days), NO_ASSIGNEE (nobody may approve); on `workingDays`: INVALID_VALUE, EXTENSION_OVER_LIMIT; on "
        "`reason`: REQUIRED, TOO_LONG.",
        permission_classes=[IsAuthenticated],
    )
    async def request_extension(self, info: Info, input: RequestExtensionInput) -> RequestExtensionPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await extensions.request_extension(
                uow,
                ctx.broker,
                ctx.settings,
                actor,
                input.deadline_id,
                input.working_days,
                input.reason,
                uow.now,
            )

        row, errors = await run_mutation(info, work, idempotent=input)
        return RequestExtensionPayload(request=ExtensionRequestType.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        description="Approve or refuse a pending extension request (the policy's approver only). Approval adds the "
        "working days to the deadline: its due date moves by that many working days and the reminder cards start "
        "over. The requester gets EXTENSION_APPROVED (the assigner too) or EXTENSION_REFUSED. Errors on "
        "`requestId`: NOT_FOUND, FORBIDDEN, INVALID_STATE (already decided), DEADLINE_CLOSED, EXTENSION_OVER_LIMIT; "
        "on `note`: TOO_LONG.",
        permission_classes=[IsAuthenticated],
    )
    async def decide_extension(self, info: Info, input: DecideExtensionInput) -> DecideExtensionPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await extensions.decide_extension(
                uow,
                ctx.broker,
                ctx.settings,
                actor,
                input.request_id,
                input.approve,
                input.note,
                uow.now,
            )

        result, errors = await run_mutation(info, work, idempotent=input)
        if result is None:
            return DecideExtensionPayload(request=None, deadline=None, errors=errors)
        req, d = result
        cal = await ctx.work_calendar()
        return DecideExtensionPayload(
            request=ExtensionRequestType.from_model(req),
            deadline=DeadlineType.build(d, cal, ctx.platform.clock()),
            errors=errors,
        )

"""GraphQL surface of countersign inside a unit (单位内部会签): routeWithinUnit, cancelWithinUnit."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from documents import unit_countersign as uc
from schema.common import (
    IsAuthenticated,
    decode_id,
    decode_ids,
    idempotency_key_field,
    require_actor,
    run_mutation,
)
from schema.documents import TaskPayload, _task_payload

WithinUnitModeEnum = strawberry.enum(
    uc.WithinUnitMode,
    name="WithinUnitMode",
    description="How the members of a unit act on a task routed within the unit: SEQUENTIAL (one after another: "
    "the next member's sub-task opens when the previous approves) or PARALLEL_ALL (all at once; all must approve).",
)


@strawberry.input(description="Route your unit task to members of the unit before the unit answers (单位内部会签).")
class RouteWithinUnitInput:
    task_id: relay.GlobalID = strawberry.field(
        description="Your pending task that the route sent to a unit's clerk (文书) (`Task.unit` is set)."
    )
    assignee_ids: list[relay.GlobalID] = strawberry.field(
        description="Members, 1 to 20, in order, no repeats, not yourself: active users holding a post in the "
        "task's unit or a unit below it (otherwise NOT_IN_UNIT on `assigneeIds.N`)."
    )
    mode: WithinUnitModeEnum = strawberry.field(  # type: ignore[valid-type]
        description="SEQUENTIAL or PARALLEL_ALL."
    )
    note: str | None = strawberry.field(
        default=None, description="What you ask of the members, at most 500 characters (shown to them, in history)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Cancel the open routing of your unit task within the unit.")
class CancelWithinUnitInput:
    task_id: relay.GlobalID = strawberry.field(description="Your unit task whose routing is open.")
    note: str | None = strawberry.field(default=None, description="Why, at most 500 characters (told to members).")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type
class UnitCountersignMutation:
    @strawberry.mutation(
        description="As a unit's clerk (文书), route your pending unit task to members of the unit (REG Art. 19, 会签 "
        "by the unit). Each member gets a sub-task in myTasks (SEQUENTIAL: one after another) and approves it with "
        "an opinion or returns it to you (approveTask/returnTask); you then approve the task with one consolidated "
        "opinion (SUBTASKS_PENDING while a sub-task is open). Errors: NOT_A_UNIT_TASK, SUBTASKS_PENDING, "
        "NOT_YOUR_TASK, TASK_ALREADY_HANDLED, NOT_IN_UNIT / NOT_FOUND / INACTIVE / DUPLICATE / INVALID_VALUE on "
        "`assigneeIds.N`.",
        permission_classes=[IsAuthenticated],
    )
    async def route_within_unit(self, info: Info, input: RouteWithinUnitInput) -> TaskPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await uc.route_within_unit(
                uow,
                ctx.broker,
                actor,
                decode_id(input.task_id, "Task", "taskId"),
                decode_ids(input.assignee_ids, "User", "assigneeIds"),
                uc.WithinUnitMode(input.mode),
                input.note,
            )

        task, errors = await run_mutation(info, work, idempotent=input)
        return await _task_payload(info, task, errors)

    @strawberry.mutation(
        description="Cancel the open routing of your unit task within the unit: the members' pending sub-tasks are "
        "cancelled (they are told); approved ones keep their opinions. Errors: NOT_A_UNIT_TASK, INVALID_STATE (no "
        "routing open), NOT_YOUR_TASK, TASK_ALREADY_HANDLED.",
        permission_classes=[IsAuthenticated],
    )
    async def cancel_within_unit(self, info: Info, input: CancelWithinUnitInput) -> TaskPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await uc.cancel_within_unit(
                uow, ctx.broker, actor, decode_id(input.task_id, "Task", "taskId"), input.note
            )

        task, errors = await run_mutation(info, work, idempotent=input)
        return await _task_payload(info, task, errors)

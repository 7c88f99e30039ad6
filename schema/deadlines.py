"""GraphQL types of the deadline clock and SLA policies, shared by every type that has a due date.

Types with a clock expose ``deadline: Deadline`` through :func:`deadline_of` (a DataLoader per
subject type, so a list issues one query). ``workingDaysLeft`` is counted from the request's
Asia/Shanghai date with the working-day calendar loaded once per request
(:meth:`schema.context.Context.work_calendar`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from office_api import deadlines as clock
from office_api.deadlines import DeadlineStatus
from office_api.sla import SlaPolicy as PolicyModel
from office_api.sla import TimeUnit

if TYPE_CHECKING:
    from schema.sla_admin import SlaBindingType

TimeUnitEnum = strawberry.enum(TimeUnit, name="TimeUnit", description="What a time limit counts.")
DeadlineStatusEnum = strawberry.enum(
    DeadlineStatus,
    name="DeadlineStatus",
    description="RUNNING and PAUSED are open; MET (closed before the due instant), MISSED and CANCELLED are closed.",
)


@strawberry.type(name="SlaPolicy", description="A time-limit policy (办理时限政策), DOMAIN §5.1.")
class SlaPolicyType:
    id: int = strawberry.field(description="Database id.")
    code: str = strawberry.field(description="Stable code, e.g. `hotline-12345`, `3545-real-estate`.")
    name: str = strawberry.field(description="Name, e.g. 12345 热线工单办理.")
    basis: str = strawberry.field(description="The legal or local basis of the limit (citation).")
    unit: TimeUnitEnum = strawberry.field(description="What the limit counts.")  # type: ignore[valid-type]
    limit: int = strawberry.field(description="The limit, in `unit`.")
    extension_limit: int = strawberry.field(
        description="Working days extensions may add in all (extensions always count working days; 0 for HOURS)."
    )
    extension_approver: str = strawberry.field(
        description="Who approves an extension: assigner, unit_head, general_office."
    )
    clock_stops_for: list[str] = strawberry.field(
        description="Periods not counted, e.g. returned_to_drafter, expert_review, hearing, testing."
    )
    yellow_before: int = strawberry.field(description="Working days before the due date of the yellow card (黄牌).")
    escalate_after: int = strawberry.field(
        description="Overdue working days after which the holder unit's head is told."
    )
    matter_type: str | None = strawberry.field(
        description='"3545" matter type (business_licence, real_estate_registration, construction_permit) or null.'
    )
    active: bool = strawberry.field(description="Inactive policies bind nothing new.")

    @strawberry.field(
        description="Where the policy applies: each binding names a target and, optionally, a document type, urgency "
        "and route step name (null = any). The most specific active binding wins (resolveSlaPolicy)."
    )
    async def bindings(self, info: Info) -> list[Annotated[SlaBindingType, strawberry.lazy("schema.sla_admin")]]:
        from schema.sla_admin import SlaBindingType  # imports this module

        return [SlaBindingType.from_model(b) for b in await info.context.loaders.policy_bindings.load(self.id)]

    @classmethod
    def from_model(cls, m: PolicyModel) -> SlaPolicyType:
        return cls(
            id=m.id,
            code=m.code,
            name=m.name,
            basis=m.basis,
            unit=TimeUnit(m.unit),
            limit=m.limit,
            extension_limit=m.extension_limit,
            extension_approver=m.extension_approver,
            clock_stops_for=list(m.clock_stops_for or []),
            yellow_before=m.yellow_before,
            escalate_after=m.escalate_after,
            matter_type=m.matter_type,
            active=m.active,
        )


@strawberry.type(
    name="Deadline", description="The due date of a task, document, incoming document or supervision item."
)
class DeadlineType:
    id: int = strawberry.field(description="Database id of the clock (for urging and extension requests).")
    status: DeadlineStatusEnum = strawberry.field(description="Open (RUNNING, PAUSED) or closed.")  # type: ignore[valid-type]
    due_on: dt.date | None = strawberry.field(
        description="Asia/Shanghai due date, due at 24:00 that day (Civil Code Art. 203); null while paused or for an "
        "hours limit."
    )
    due_at: dt.datetime | None = strawberry.field(description="UTC instant the deadline passes; null while paused.")
    provisional: bool = strawberry.field(
        description="True when the count crossed a year with no official holiday arrangement yet (statutory holidays "
        "only); recomputed when that year is loaded."
    )
    unit: TimeUnitEnum = strawberry.field(description="What the limit counts.")  # type: ignore[valid-type]
    limit: int = strawberry.field(description="The limit it started with, in `unit` (for a chosen date: working days).")
    extension: int = strawberry.field(description="Working days added by approved extensions.")
    started_at: dt.datetime = strawberry.field(
        description="UTC instant the clock started (counting begins the next day)."
    )
    paused_at: dt.datetime | None = strawberry.field(description="UTC instant the clock stopped; null when not paused.")
    pause_reason: str | None = strawberry.field(description="Why it stopped, e.g. returned_to_drafter.")
    closed_at: dt.datetime | None = strawberry.field(description="UTC instant it closed.")
    overdue: bool = strawberry.field(description="Open and past its due instant.")
    working_days_left: int | None = strawberry.field(
        description="Working days from today (Asia/Shanghai) to the due date: 0 = due today, 1 = the yellow-card day, "
        "-1 = the first working day past it; null when closed, paused or counted in hours."
    )
    policy_id: strawberry.Private[int | None]

    @strawberry.field(description="The policy it follows; null for a date or limit chosen by a person.")
    async def policy(self, info: Info) -> SlaPolicyType | None:
        if self.policy_id is None:
            return None
        m = await info.context.loaders.sla_policy.load(self.policy_id)
        return SlaPolicyType.from_model(m) if m else None

    @classmethod
    def build(cls, d: clock.Deadline, cal: object, now: dt.datetime) -> DeadlineType:
        return cls(
            id=d.id,
            status=DeadlineStatus(d.status),
            due_on=d.due_on,
            due_at=d.due_at,
            provisional=d.provisional,
            unit=TimeUnit(d.unit),
            limit=d.limit,
            extension=d.extension,
            started_at=d.started_at,
            paused_at=d.paused_at,
            pause_reason=d.pause_reason,
            closed_at=d.closed_at,
            overdue=clock.overdue(d, now),
            working_days_left=clock.working_days_left(cal, d, now),  # type: ignore[arg-type]
            policy_id=d.policy_id,
        )


async def deadline_of(info: Info, subject_type: str, subject_id: int) -> DeadlineType | None:
    """The clock of one subject through the request's DataLoader, or None when it has none."""
    d = await info.context.loaders.deadline.load((subject_type, subject_id))
    if d is None:
        return None
    cal = await info.context.work_calendar()
    return DeadlineType.build(d, cal, info.context.platform.clock())

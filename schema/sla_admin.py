"""GraphQL surface of SLA policy administration (office_api/sla_admin.py, DOMAIN §5.1).

Any signed-in user reads the policies and asks which one applies; a province-level
administrator (system administrator, or unit administrator of the root unit) writes them.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from documents.types import DocType, Urgency
from office_api import sla, sla_admin
from office_api.sla import BindingTarget, SlaBinding, TimeUnit
from schema.common import IsAdmin, IsAuthenticated, UserError, require_actor, run_mutation
from schema.deadlines import SlaPolicyType, TimeUnitEnum
from schema.documents import DocTypeEnum, UrgencyEnum

SlaTargetEnum = strawberry.enum(
    BindingTarget,
    name="SlaTarget",
    description="What a bound policy times: DOCUMENT (a document's whole processing), TASK (a route step's task), "
    "INCOMING (an incoming document's handling), SUPERVISION (a supervision item).",
)


@strawberry.type(name="SlaBinding", description="Where a policy applies; a null attribute matches any value.")
class SlaBindingType:
    id: int = strawberry.field(description="Database id (for unbindSlaPolicy).")
    target: SlaTargetEnum = strawberry.field(description="What the policy times.")  # type: ignore[valid-type]
    doc_type: DocTypeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Document type it is limited to; null = any."
    )
    urgency: UrgencyEnum | None = strawberry.field(description="Urgency it is limited to; null = any.")  # type: ignore[valid-type]
    step_name: str | None = strawberry.field(description="Route step name it is limited to (e.g. 核稿); null = any.")
    policy_id: strawberry.Private[int]

    @strawberry.field(description="The bound policy.")
    async def policy(self, info: Info) -> SlaPolicyType | None:
        m = await info.context.loaders.sla_policy.load(self.policy_id)
        return SlaPolicyType.from_model(m) if m else None

    @classmethod
    def from_model(cls, b: SlaBinding) -> SlaBindingType:
        return cls(
            id=b.id,
            target=BindingTarget(b.target),
            doc_type=DocType(b.doc_type) if b.doc_type else None,
            urgency=Urgency(b.urgency) if b.urgency else None,
            step_name=b.step_name,
            policy_id=b.policy_id,
        )


@strawberry.input(description="A new SLA policy (DOMAIN §5.1). Omitted fields take the defaults named.")
class CreateSlaPolicyInput:
    code: str = strawberry.field(description="Stable code: 2–64 lower-case letters, digits and hyphens; unique.")
    name: str = strawberry.field(description="Name, at most 200 characters, e.g. 12345 热线工单办理.")
    limit: int = strawberry.field(
        description="The limit in `unit`: 1–1000 working days, 1–1500 calendar days or 1–8784 hours."
    )
    unit: TimeUnitEnum = strawberry.field(  # type: ignore[valid-type]
        default=TimeUnit.WORKING_DAYS, description="What the limit counts; default WORKING_DAYS."
    )
    basis: str = strawberry.field(default="", description="Legal or local basis (citation), at most 500 characters.")
    extension_limit: int = strawberry.field(
        default=0, description="Working days extensions may add in all (0 for an HOURS limit); default 0."
    )
    extension_approver: str = strawberry.field(
        default="assigner", description="Who approves an extension: assigner (default), unit_head, general_office."
    )
    clock_stops_for: list[str] = strawberry.field(
        default_factory=list,
        description="Periods not counted: returned_to_drafter, expert_review, hearing, testing; default none.",
    )
    yellow_before: int = strawberry.field(default=1, description="Working days before the due date of the yellow card.")
    escalate_after: int = strawberry.field(
        default=3, description="Overdue working days (1–60) after which the holder unit's head is told."
    )
    matter_type: str | None = strawberry.field(
        default=None,
        description='"3545" matter type: business_licence, real_estate_registration, construction_permit; or null.',
    )


@strawberry.input(description="Changes to an SLA policy: an omitted field stays as it is; the code never changes.")
class UpdateSlaPolicyInput:
    id: int = strawberry.field(description="The policy's database id.")
    name: str | None = strawberry.field(default=UNSET, description="New name.")
    basis: str | None = strawberry.field(default=UNSET, description="New basis.")
    unit: TimeUnitEnum | None = strawberry.field(default=UNSET, description="New unit.")  # type: ignore[valid-type]
    limit: int | None = strawberry.field(default=UNSET, description="New limit (for clocks started from now on).")
    extension_limit: int | None = strawberry.field(default=UNSET, description="New extension limit.")
    extension_approver: str | None = strawberry.field(default=UNSET, description="New extension approver.")
    clock_stops_for: list[str] | None = strawberry.field(default=UNSET, description="New clock stops (replace all).")
    yellow_before: int | None = strawberry.field(default=UNSET, description="New yellow-card lead, working days.")
    escalate_after: int | None = strawberry.field(default=UNSET, description="New escalation delay, working days.")
    matter_type: str | None = strawberry.field(default=UNSET, description='New "3545" matter type; null clears it.')
    active: bool | None = strawberry.field(
        default=UNSET, description="False: resolveSlaPolicy and new clocks no longer use it; running clocks keep it."
    )


@strawberry.input(description="Attach a policy (by id or by code: exactly one) to a target.")
class BindSlaPolicyInput:
    target: SlaTargetEnum = strawberry.field(description="What the policy times.")  # type: ignore[valid-type]
    policy_id: int | None = strawberry.field(default=None, description="The policy's id.")
    policy_code: str | None = strawberry.field(default=None, description="The policy's code, e.g. hotline-12345.")
    doc_type: DocTypeEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only for this document type; null = any."
    )
    urgency: UrgencyEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only for this urgency; null = any."
    )
    step_name: str | None = strawberry.field(
        default=None, description="Only for route steps of this name (at most 64 characters); null = any."
    )


@strawberry.input(description="Remove a binding.")
class UnbindSlaPolicyInput:
    binding_id: int = strawberry.field(description="The binding's id (SlaPolicy.bindings).")


@strawberry.type(description="The policy created or changed, or errors.")
class SlaPolicyPayload:
    sla_policy: SlaPolicyType | None = strawberry.field(description="The policy after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The binding made or removed, or errors.")
class SlaBindingPayload:
    binding: SlaBindingType | None = strawberry.field(description="The binding (as it was, for unbind).")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def _value(v: object) -> object:
    return None if v is UNSET else v


@strawberry.type
class SlaQuery:
    @strawberry.field(
        description="Every SLA policy (by code) with its bindings; inactive ones too unless `activeOnly`.",
        permission_classes=[IsAuthenticated],
    )
    async def sla_policies(
        self,
        info: Info,
        active_only: Annotated[bool, strawberry.argument(description="Only active policies.")] = False,
    ) -> list[SlaPolicyType]:
        async with info.context.db.read() as s:
            rows = await sla.policies(s, include_inactive=not active_only)
        return [SlaPolicyType.from_model(p) for p in rows]

    @strawberry.field(
        description="The policy a clock of `target` would follow for these attributes: the active binding naming the "
        "most of them (step name over urgency over document type on ties); null when none matches.",
        permission_classes=[IsAuthenticated],
    )
    async def resolve_sla_policy(
        self,
        info: Info,
        target: Annotated[SlaTargetEnum, strawberry.argument(description="What is timed.")],  # type: ignore[valid-type]
        doc_type: Annotated[DocTypeEnum | None, strawberry.argument(description="Document type.")] = None,  # type: ignore[valid-type]
        urgency: Annotated[UrgencyEnum | None, strawberry.argument(description="Urgency.")] = None,  # type: ignore[valid-type]
        step_name: Annotated[str | None, strawberry.argument(description="Route step name.")] = None,
    ) -> SlaPolicyType | None:
        async with info.context.db.read() as s:
            p = await sla.resolve_policy(
                s,
                BindingTarget(target),
                doc_type=DocType(doc_type).value if doc_type else None,
                urgency=Urgency(urgency).value if urgency else None,
                step_name=(step_name or "").strip() or None,
            )
        return SlaPolicyType.from_model(p) if p else None


@strawberry.type
class SlaMutation:
    @strawberry.mutation(
        description="Province-level administrators: create an SLA policy. Errors: DUPLICATE on code; INVALID_VALUE on "
        "code, limit (negative, zero or absurd), extensionLimit, yellowBefore, escalateAfter, extensionApprover, "
        "clockStopsFor.<i>, matterType; REQUIRED/TOO_LONG on name, basis. Audited.",
        permission_classes=[IsAdmin],
    )
    async def create_sla_policy(self, info: Info, input: CreateSlaPolicyInput) -> SlaPolicyPayload:
        actor = await require_actor(info)
        data = sla_admin.PolicyInput(
            code=input.code,
            name=input.name,
            basis=input.basis,
            unit=TimeUnit(input.unit).value,
            limit=input.limit,
            extension_limit=input.extension_limit,
            extension_approver=input.extension_approver,
            clock_stops_for=list(input.clock_stops_for),
            yellow_before=input.yellow_before,
            escalate_after=input.escalate_after,
            matter_type=input.matter_type,
        )

        async def work(uow):
            return await sla_admin.create_policy(uow, actor, data)

        p, errors = await run_mutation(info, work)
        return SlaPolicyPayload(sla_policy=SlaPolicyType.from_model(p) if p else None, errors=errors)

    @strawberry.mutation(
        description="Province-level administrators: change an SLA policy's fields (checked as after the change; "
        "running clocks keep their limit). Errors: NOT_FOUND on id, and those of createSlaPolicy. Audited.",
        permission_classes=[IsAdmin],
    )
    async def update_sla_policy(self, info: Info, input: UpdateSlaPolicyInput) -> SlaPolicyPayload:
        actor = await require_actor(info)
        unit = _value(input.unit)
        data = sla_admin.PolicyInput(
            name=_value(input.name),  # type: ignore[arg-type]
            basis=_value(input.basis),  # type: ignore[arg-type]
            unit=TimeUnit(unit).value if unit else None,  # type: ignore[arg-type]
            limit=_value(input.limit),  # type: ignore[arg-type]
            extension_limit=_value(input.extension_limit),  # type: ignore[arg-type]
            extension_approver=_value(input.extension_approver),  # type: ignore[arg-type]
            clock_stops_for=_value(input.clock_stops_for),  # type: ignore[arg-type]
            yellow_before=_value(input.yellow_before),  # type: ignore[arg-type]
            escalate_after=_value(input.escalate_after),  # type: ignore[arg-type]
            matter_type=_value(input.matter_type),  # type: ignore[arg-type]
            clear_matter_type=input.matter_type is None,
            active=_value(input.active),  # type: ignore[arg-type]
        )

        async def work(uow):
            return await sla_admin.update_policy(uow, actor, input.id, data)

        p, errors = await run_mutation(info, work)
        return SlaPolicyPayload(sla_policy=SlaPolicyType.from_model(p) if p else None, errors=errors)

    @strawberry.mutation(
        description="Province-level administrators: attach a policy to a target, optionally only for a document type, "
        "urgency and/or route step name. Errors: REQUIRED on policyId (neither or both of policyId, policyCode), "
        "NOT_FOUND / INACTIVE on policyId or policyCode, DUPLICATE on target (a binding with exactly these attributes "
        "exists), TOO_LONG on stepName. Audited.",
        permission_classes=[IsAdmin],
    )
    async def bind_sla_policy(self, info: Info, input: BindSlaPolicyInput) -> SlaBindingPayload:
        actor = await require_actor(info)
        binding = sla_admin.BindingInput(
            target=BindingTarget(input.target).value,
            doc_type=DocType(input.doc_type).value if input.doc_type else None,
            urgency=Urgency(input.urgency).value if input.urgency else None,
            step_name=input.step_name,
        )

        async def work(uow):
            return await sla_admin.bind_policy(
                uow, actor, policy_id=input.policy_id, policy_code=input.policy_code, binding=binding
            )

        b, errors = await run_mutation(info, work)
        return SlaBindingPayload(binding=SlaBindingType.from_model(b) if b else None, errors=errors)

    @strawberry.mutation(
        description="Province-level administrators: remove a binding (clocks already started keep their policy). "
        "Errors: NOT_FOUND on bindingId. Audited.",
        permission_classes=[IsAdmin],
    )
    async def unbind_sla_policy(self, info: Info, input: UnbindSlaPolicyInput) -> SlaBindingPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await sla_admin.unbind_policy(uow, actor, input.binding_id)

        b, errors = await run_mutation(info, work)
        return SlaBindingPayload(binding=SlaBindingType.from_model(b) if b else None, errors=errors)

"""GraphQL surface of route templates (流程模板, documents/templates.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated

import strawberry
from strawberry import UNSET, relay
from strawberry.types import Info

from documents import service as docs
from documents import templates
from documents.models import RouteTemplate as TemplateModel
from documents.types import DocType, StepMode
from office_api.org.models import Duty
from schema.common import (
    IsAdmin,
    IsAuthenticated,
    UserError,
    decode_id,
    decode_ids,
    idempotency_key_field,
    require_actor,
    run_mutation,
)
from schema.documents import DocTypeEnum, RouteStepInput, StepModeEnum
from schema.org import DutyEnum, OrgUnit, User, unit_by_id, user_by_id


@strawberry.type(
    description="Who a template step names: a user, a duty in a unit, a unit's clerk, or a duty in the document's "
    "issuing unit (`issuingUnit` true)."
)
class RouteTemplateAssignee:
    duty: DutyEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="HEAD, DEPUTY_HEAD or CLERK; null for a user named by id (a unit without duty = its clerk)."
    )
    issuing_unit: bool = strawberry.field(
        description="True when the duty is in the issuing unit of each document made from the template."
    )
    user_id: strawberry.Private[int | None]
    unit_id: strawberry.Private[int | None]

    @strawberry.field(description="The user named by id; null otherwise.")
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self.user_id)

    @strawberry.field(description="The unit of a duty or clerk assignee; null for a user or the issuing unit.")
    async def unit(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.unit_id)


@strawberry.type(description="One step of a route template.")
class RouteTemplateStep:
    index: int = strawberry.field(description="0-based position in the route.")
    name: str = strawberry.field(description="What the step is for, e.g. 核稿, 签发.")
    mode: StepModeEnum = strawberry.field(description="How the step completes.")  # type: ignore[valid-type]
    quorum: int | None = strawberry.field(description="k of a QUORUM step; null otherwise.")
    sign_off: bool = strawberry.field(description="True for the sign-off step (签发).")
    assignees: list[RouteTemplateAssignee] = strawberry.field(description="The assignees in order.")


@strawberry.type(description="A route template (流程模板) of a unit for one document type, or for any type.")
class RouteTemplate(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Name shown to drafters, e.g. 省政府办公厅发文流程.")
    doc_type: DocTypeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The document type it is for; null = any type."
    )
    version: int = strawberry.field(description="Increases on every change.")
    created_at: dt.datetime = strawberry.field(description="UTC instant of creation.")
    updated_at: dt.datetime = strawberry.field(description="UTC instant of the last change.")
    steps: list[RouteTemplateStep] = strawberry.field(
        description="The steps copied into a document's route when it is created from the template."
    )
    unit_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: TemplateModel) -> RouteTemplate:
        return cls(
            id=m.id,
            name=m.name,
            doc_type=DocType(m.doc_type) if m.doc_type else None,
            version=m.version,
            created_at=m.created_at,
            updated_at=m.updated_at,
            unit_id=m.unit_id,
            steps=[
                RouteTemplateStep(
                    index=i,
                    name=s["name"],
                    mode=StepMode(s["mode"]),
                    quorum=s.get("quorum"),
                    sign_off=bool(s.get("signOff")),
                    assignees=[
                        RouteTemplateAssignee(
                            duty=Duty(a["duty"]) if a.get("duty") else None,
                            issuing_unit=a.get("userId") is None and a.get("unitId") is None,
                            user_id=a.get("userId"),
                            unit_id=a.get("unitId"),
                        )
                        for a in s["assignees"]
                    ],
                )
                for i, s in enumerate(m.steps)
            ],
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[RouteTemplate | None]:
        return [None for _ in node_ids]

    @strawberry.field(description="The unit the template is defined on; it applies to that unit's subtree.")
    async def unit(self, info: Info) -> OrgUnit:
        return OrgUnit.from_model(await info.context.loaders.unit.load(self.unit_id))


@strawberry.input(description="A new route template.")
class CreateRouteTemplateInput:
    unit_id: relay.GlobalID = strawberry.field(description="A unit inside the subtree you administer.")
    name: str = strawberry.field(description="Name, at most 64 characters.")
    steps: list[RouteStepInput] = strawberry.field(
        description="Steps in order, 1 to 20, as in a document's route; an assignee with a duty and no unitId names "
        "that duty in the document's issuing unit."
    )
    doc_type: DocTypeEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The document type it is for; omitted or null = any type. One per unit and type."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Changes to a route template: an omitted field stays as it is.")
class UpdateRouteTemplateInput:
    id: relay.GlobalID = strawberry.field(description="The template.")
    expected_version: int | None = strawberry.field(
        default=None, description="If given, refuse with STALE_VERSION unless the template still has this version."
    )
    name: str | None = strawberry.field(default=UNSET, description="New name, at most 64 characters.")
    steps: list[RouteStepInput] | None = strawberry.field(
        default=UNSET, description="New steps (replace all); documents already created keep their route."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Delete a route template (documents created from it keep their route).")
class DeleteRouteTemplateInput:
    id: relay.GlobalID = strawberry.field(description="The template.")
    expected_version: int | None = strawberry.field(
        default=None, description="If given, refuse with STALE_VERSION unless the template still has this version."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The route template created or changed, or errors.")
class RouteTemplatePayload:
    route_template: RouteTemplate | None = strawberry.field(description="The template after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The id of the deleted route template, or errors.")
class DeleteRouteTemplatePayload:
    deleted_id: relay.GlobalID | None = strawberry.field(description="Global id of the deleted template.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def template_steps(steps: list[RouteStepInput]) -> list[docs.StepInput]:
    """Template step inputs decoded (ids errors name ``steps.<i>.…``)."""
    out = []
    for i, s in enumerate(steps):
        prefix = f"steps.{i}"
        assignees = [
            docs.AssigneeInput(
                user_id=decode_id(a.user_id, "User", f"{prefix}.assignees.{j}.userId") if a.user_id else None,
                unit_id=decode_id(a.unit_id, "OrgUnit", f"{prefix}.assignees.{j}.unitId") if a.unit_id else None,
                duty=Duty(a.duty) if a.duty else None,
            )
            for j, a in enumerate(s.assignees)
        ]
        out.append(
            docs.StepInput(
                s.name,
                StepMode(s.mode),
                decode_ids(s.assignee_ids, "User", f"{prefix}.assigneeIds"),
                assignees,
                s.quorum,
                s.sign_off,
            )
        )
    return out


def _payload(tpl: TemplateModel | None, errors: list[UserError]) -> RouteTemplatePayload:
    return RouteTemplatePayload(route_template=RouteTemplate.from_model(tpl) if tpl else None, errors=errors)


@strawberry.type
class RouteTemplateQuery:
    @strawberry.field(
        description="The route templates you may use for a document of `docType` (your primary unit's and those of "
        "the units above it, for that type or any type), closest unit first; the first is the one createDocument "
        "uses when given neither `route` nor `routeTemplateId`.",
        permission_classes=[IsAuthenticated],
    )
    async def applicable_route_templates(
        self,
        info: Info,
        doc_type: Annotated[DocTypeEnum, strawberry.argument(description="The document type.")],  # type: ignore[valid-type]
    ) -> list[RouteTemplate]:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            rows = await templates.applicable_to_actor(s, actor, DocType(doc_type))
        return [RouteTemplate.from_model(r) for r in rows]

    @strawberry.field(
        description="The route templates defined on a unit you administer (FORBIDDEN otherwise), typed ones first.",
        permission_classes=[IsAdmin],
    )
    async def route_templates(
        self,
        info: Info,
        unit_id: Annotated[relay.GlobalID, strawberry.argument(description="A unit inside your subtree.")],
    ) -> list[RouteTemplate]:
        actor = await require_actor(info)
        pk = decode_id(unit_id, "OrgUnit", "unitId")
        async with info.context.db.read() as s:
            rows = await templates.templates_of_unit(s, actor, pk)
        return [RouteTemplate.from_model(r) for r in rows]


@strawberry.type
class RouteTemplateMutation:
    @strawberry.mutation(
        description="Create a route template on a unit inside your subtree, for one document type or any type. "
        "Errors: DUPLICATE on docType (the unit has one for that type), INACTIVE, field errors on name and steps.",
        permission_classes=[IsAdmin],
    )
    async def create_route_template(self, info: Info, input: CreateRouteTemplateInput) -> RouteTemplatePayload:
        actor = await require_actor(info)

        async def work(uow):
            data = templates.TemplateInput(
                unit_id=decode_id(input.unit_id, "OrgUnit", "unitId"),
                doc_type=DocType(input.doc_type) if input.doc_type else None,
                name=input.name,
                steps=template_steps(input.steps),
            )
            return await templates.create_template(uow, actor, data)

        tpl, errors = await run_mutation(info, work, idempotent=input)
        return _payload(tpl, errors)

    @strawberry.mutation(
        description="Rename a route template or replace its steps. Documents created from it keep their route. "
        "Errors: STALE_VERSION, NOT_FOUND, field errors.",
        permission_classes=[IsAdmin],
    )
    async def update_route_template(self, info: Info, input: UpdateRouteTemplateInput) -> RouteTemplatePayload:
        actor = await require_actor(info)

        async def work(uow):
            return await templates.update_template(
                uow,
                actor,
                decode_id(input.id, "RouteTemplate", "id"),
                name=None if input.name is UNSET else input.name,
                steps=None if input.steps is UNSET or input.steps is None else template_steps(input.steps),
                expected_version=input.expected_version,
            )

        tpl, errors = await run_mutation(info, work, idempotent=input)
        return _payload(tpl, errors)

    @strawberry.mutation(
        description="Delete a route template. Documents created from it keep their route. Errors: STALE_VERSION, "
        "NOT_FOUND.",
        permission_classes=[IsAdmin],
    )
    async def delete_route_template(self, info: Info, input: DeleteRouteTemplateInput) -> DeleteRouteTemplatePayload:
        actor = await require_actor(info)

        async def work(uow):
            return await templates.delete_template(
                uow, actor, decode_id(input.id, "RouteTemplate", "id"), input.expected_version
            )

        pk, errors = await run_mutation(info, work, idempotent=input)
        return DeleteRouteTemplatePayload(
            deleted_id=relay.GlobalID("RouteTemplate", str(pk)) if pk else None, errors=errors
        )

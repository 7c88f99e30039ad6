"""Route templates (流程模板, DOMAIN §1.3): routes that administrators define per issuing unit
and document type, copied into a document's route when it is created.

A template belongs to a unit and a document type (``doc_type`` None = any type). It applies
to the documents of the unit and of every unit below it. For a document of issuing unit U
and type T the applicable templates are those on U and its ancestors for T or for any type,
**closest unit first**; on one unit the template for T comes before the one for any type.
The first of them is the default template: ``createDocument`` uses it when it is given
neither a route nor a template. A unit has at most one template per type (and one for any
type).

Steps take the shapes of document routes (mode, quorum, sign-off, assignees by user, by duty
in a unit, or by unit clerk), plus **a duty with no unit: that duty in the document's issuing
unit**, so that one template on a parent unit serves every unit below it. The steps are copied
at creation: editing or deleting a template later does not change documents in flight; the
copied route is validated like a route given by hand (its errors name ``route.steps.…``).

Administrators manage the templates of units inside the subtree they administer (top-level
``FORBIDDEN`` otherwise, as for the other organization operations); each change writes an
audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from documents import service, signoff
from documents.models import RouteTemplate
from documents.service import AssigneeInput, DocumentInput, StepInput
from documents.types import DocType, StepMode
from office_api import audit
from office_api.db import UnitOfWork
from office_api.errors import DomainError, DomainErrors, ErrorCode, ErrorCollector
from office_api.org.duties import lock_unit
from office_api.org.models import Duty, OrgUnit
from office_api.org.permissions import Actor
from office_api.org.service import primary_unit_id
from office_api.text import trimmed

MAX_NAME = 64
AUDIT_CREATE = "route_template.create"
AUDIT_UPDATE = "route_template.update"
AUDIT_DELETE = "route_template.delete"


@dataclass
class TemplateInput:
    """A new template: ``unit_id``, ``doc_type`` (None = any type), ``name``, ``steps``."""

    unit_id: int
    doc_type: DocType | None
    name: str
    steps: list[StepInput] = field(default_factory=list)


# ---- JSON form of the steps --------------------------------------------------------------


def steps_to_json(steps: Sequence[StepInput]) -> list[dict[str, Any]]:
    """The stored form of template steps (see :class:`~documents.models.RouteTemplate`)."""
    out = []
    for s in steps:
        assignees = []
        for a in s.named()[1]:
            item: dict[str, Any] = {}
            if a.user_id is not None:
                item["userId"] = a.user_id
            if a.unit_id is not None:
                item["unitId"] = a.unit_id
            if a.duty is not None:
                item["duty"] = Duty(a.duty).value
            assignees.append(item)
        out.append(
            {
                "name": trimmed(s.name),
                "mode": s.mode.value,
                "quorum": s.quorum,
                "signOff": s.sign_off,
                "assignees": assignees,
            }
        )
    return out


def steps_from_json(data: Sequence[dict[str, Any]], issuing_unit_id: int | None = None) -> list[StepInput]:
    """Template steps as route input; an assignee by duty without a unit gets ``issuing_unit_id``
    (left without a unit when None)."""
    return [
        StepInput(
            name=s["name"],
            mode=StepMode(s["mode"]),
            assignees=[
                AssigneeInput(
                    user_id=a.get("userId"),
                    unit_id=a.get("unitId", issuing_unit_id if a.get("userId") is None else None),
                    duty=Duty(a["duty"]) if a.get("duty") else None,
                )
                for a in s["assignees"]
            ],
            quorum=s.get("quorum"),
            sign_off=bool(s.get("signOff")),
        )
        for s in data
    ]


# ---- validation --------------------------------------------------------------------------


def _renamed(exc: DomainError | DomainErrors) -> list[DomainError]:
    """Route errors renamed from ``route.steps.…`` to the template input's ``steps.…``."""
    items = exc.errors if isinstance(exc, DomainErrors) else [exc]
    out = []
    for e in items:
        name = e.field or ""
        if name.startswith("route."):
            name = name[len("route.") :]
        out.append(DomainError(e.code, name or None, **e.params))
    return out


async def _validate(session: AsyncSession, unit_id: int, doc_type: DocType | None, name: str, steps: list[StepInput]):
    errors = ErrorCollector()
    text = trimmed(name)
    if not text:
        errors.add(ErrorCode.REQUIRED, "name")
    elif len(text) > MAX_NAME:
        errors.add(ErrorCode.TOO_LONG, "name", limit=MAX_NAME)
    # An assignee by duty alone stands for the issuing unit: check it as the template's own unit.
    checked = []
    for si, s in enumerate(steps):
        assignees = []
        for i, a in enumerate(s.assignees):
            if a.user_id is None and a.unit_id is None and a.duty is not None:
                if s.sign_off and Duty(a.duty) not in (Duty.HEAD, Duty.DEPUTY_HEAD):
                    errors.add(
                        ErrorCode.WRONG_SIGNER,
                        f"steps.{si}.assignees.{i}",
                        detail="the signer is the head or a deputy head of the issuing unit",
                    )
                a = replace(a, unit_id=unit_id)
            assignees.append(a)
        checked.append(replace(s, assignees=assignees))
    for fld, detail in signoff.shape_problems([signoff.StepRef(i, s.sign_off, s.mode) for i, s in enumerate(steps)]):
        errors.add(ErrorCode.INVALID_VALUE, fld[len("route.") :], detail=detail)
    try:
        await service._validate(
            session, DocumentInput(title="流程模板", doc_type=doc_type or DocType.NOTICE, steps=checked)
        )
    except (DomainError, DomainErrors) as exc:
        errors.errors += _renamed(exc)
    errors.raise_if_any()
    return text


async def _locked_unit_for_admin(session: AsyncSession, actor: Actor, unit_id: int, field_name: str) -> OrgUnit:
    unit = await lock_unit(session, unit_id)
    if unit is None:
        raise DomainError(ErrorCode.NOT_FOUND, field_name)
    actor.require_admin_of(unit)
    return unit


# ---- administration ----------------------------------------------------------------------


async def create_template(uow: UnitOfWork, actor: Actor, data: TemplateInput) -> RouteTemplate:
    """Create a template on ``data.unit_id`` (inside the actor's subtree: ``FORBIDDEN``).

    Errors: ``NOT_FOUND`` on ``unitId``, ``INACTIVE`` (deactivated unit), ``DUPLICATE`` on
    ``docType`` (the unit has a template for that type, or for any type, already), field
    errors on ``name`` and ``steps.…`` (as routes: :func:`documents.service._validate`, and
    the sign-off shape of documents/signoff.py).
    """
    session = uow.session
    unit = await _locked_unit_for_admin(session, actor, data.unit_id, "unitId")
    if not unit.is_active:
        raise DomainError(ErrorCode.INACTIVE, "unitId", detail=unit.name)
    name = await _validate(session, unit.id, data.doc_type, data.name, data.steps)
    type_value = data.doc_type.value if data.doc_type else None
    taken = (
        await session.execute(
            select(RouteTemplate.id).where(
                RouteTemplate.unit_id == unit.id,
                RouteTemplate.doc_type.is_(None) if type_value is None else RouteTemplate.doc_type == type_value,
            )
        )
    ).first()
    if taken is not None:
        raise DomainError(ErrorCode.DUPLICATE, "docType", detail=f"route template {taken[0]} of this unit")
    tpl = RouteTemplate(
        unit_id=unit.id,
        doc_type=type_value,
        name=name,
        steps=steps_to_json(data.steps),
        version=1,
        created_by_id=actor.user_id,
    )
    session.add(tpl)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        action=AUDIT_CREATE,
        target_type="RouteTemplate",
        target_id=tpl.id,
        after={"unitId": unit.id, "docType": type_value, "name": name},
    )
    return tpl


async def _load_for_change(
    session: AsyncSession, actor: Actor, template_id: int, expected_version: int | None
) -> RouteTemplate:
    tpl = await session.get(RouteTemplate, template_id)
    if tpl is None:
        raise DomainError(ErrorCode.NOT_FOUND, "id")
    await _locked_unit_for_admin(session, actor, tpl.unit_id, "id")
    await session.refresh(tpl)
    if expected_version is not None and expected_version != tpl.version:
        raise DomainError(ErrorCode.STALE_VERSION, "expectedVersion")
    return tpl


async def update_template(
    uow: UnitOfWork,
    actor: Actor,
    template_id: int,
    *,
    name: str | None = None,
    steps: list[StepInput] | None = None,
    expected_version: int | None = None,
) -> RouteTemplate:
    """Rename a template and/or replace its steps (None = unchanged); bumps ``version``.

    Documents created from it before keep their copied route. Errors: ``NOT_FOUND`` on
    ``id``, ``FORBIDDEN`` outside the actor's subtree, ``STALE_VERSION``, field errors as
    :func:`create_template`.
    """
    session = uow.session
    tpl = await _load_for_change(session, actor, template_id, expected_version)
    new_steps = steps if steps is not None else steps_from_json(tpl.steps)
    text = await _validate(
        session,
        tpl.unit_id,
        DocType(tpl.doc_type) if tpl.doc_type else None,
        name if name is not None else tpl.name,
        new_steps,
    )
    before = {"name": tpl.name, "version": tpl.version}
    tpl.name = text
    tpl.steps = steps_to_json(new_steps)
    tpl.version += 1
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        action=AUDIT_UPDATE,
        target_type="RouteTemplate",
        target_id=tpl.id,
        before=before,
        after={"name": tpl.name, "version": tpl.version},
    )
    return tpl


async def delete_template(uow: UnitOfWork, actor: Actor, template_id: int, expected_version: int | None = None) -> int:
    """Delete a template; returns its id. Documents created from it keep their route.
    Errors: ``NOT_FOUND``, ``FORBIDDEN``, ``STALE_VERSION``."""
    session = uow.session
    tpl = await _load_for_change(session, actor, template_id, expected_version)
    audit.record(
        session,
        actor_id=actor.user_id,
        action=AUDIT_DELETE,
        target_type="RouteTemplate",
        target_id=tpl.id,
        before={"unitId": tpl.unit_id, "docType": tpl.doc_type, "name": tpl.name},
    )
    await session.delete(tpl)
    await session.flush()
    return template_id


async def templates_of_unit(session: AsyncSession, actor: Actor, unit_id: int) -> list[RouteTemplate]:
    """The templates defined on one unit the actor administers (``FORBIDDEN`` otherwise;
    ``NOT_FOUND`` on ``unitId``), any-type template last."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None:
        raise DomainError(ErrorCode.NOT_FOUND, "unitId")
    actor.require_admin_of(unit)
    rows = (await session.execute(select(RouteTemplate).where(RouteTemplate.unit_id == unit_id))).scalars()
    return sorted(rows, key=lambda t: (t.doc_type is None, t.doc_type or "", t.id))


# ---- use by documents --------------------------------------------------------------------


async def applicable_templates(session: AsyncSession, unit_id: int, doc_type: DocType) -> list[RouteTemplate]:
    """Templates that apply to a document of ``doc_type`` issued by ``unit_id``: on the unit or
    an ancestor, for that type or any type; closest unit first, the typed one before the
    any-type one on the same unit. The first is the default."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None:
        return []
    chain = [unit.id, *reversed(unit.ancestor_ids())]
    rows = (
        await session.execute(
            select(RouteTemplate).where(
                RouteTemplate.unit_id.in_(chain),
                or_(RouteTemplate.doc_type == doc_type.value, RouteTemplate.doc_type.is_(None)),
            )
        )
    ).scalars()
    rank = {uid: i for i, uid in enumerate(chain)}
    return sorted(rows, key=lambda t: (rank[t.unit_id], t.doc_type is None, t.id))


async def applicable_to_actor(session: AsyncSession, actor: Actor, doc_type: DocType) -> list[RouteTemplate]:
    """:func:`applicable_templates` for a document the actor would draft (their primary unit);
    empty when they hold no post."""
    unit_id = await primary_unit_id(session, actor.user_id)
    return [] if unit_id is None else await applicable_templates(session, unit_id, doc_type)


async def route_for_document(
    session: AsyncSession, actor: Actor, doc_type: DocType, template_id: int | None, *, unit_id: int | None = None
) -> list[StepInput]:
    """The route steps of a document the actor creates without a route: copied from template
    ``template_id``, or from the default template of (their primary unit, ``doc_type``).
    ``unit_id``: the issuing unit when it is not the actor's primary unit (see
    ``service.create_document``'s ``issuing_unit_id``).

    Errors: ``NO_POSITION``; ``NOT_FOUND`` on ``routeTemplateId`` for a template that does not
    apply to the actor's unit (missing, or on a unit that is not theirs or above it);
    ``INVALID_VALUE`` on ``routeTemplateId`` for a template of another document type;
    ``REQUIRED`` on ``route`` when no template applies.
    """
    unit_id = unit_id or await primary_unit_id(session, actor.user_id)
    if unit_id is None:
        raise DomainError(ErrorCode.NO_POSITION)
    if template_id is None:
        found = await applicable_templates(session, unit_id, doc_type)
        if not found:
            raise DomainError(ErrorCode.REQUIRED, "route")
        return steps_from_json(found[0].steps, unit_id)
    tpl = await session.get(RouteTemplate, template_id)
    unit = await session.get(OrgUnit, unit_id)
    assert unit is not None
    if tpl is None or tpl.unit_id not in {unit.id, *unit.ancestor_ids()}:
        raise DomainError(ErrorCode.NOT_FOUND, "routeTemplateId")
    if tpl.doc_type is not None and tpl.doc_type != doc_type.value:
        raise DomainError(ErrorCode.INVALID_VALUE, "routeTemplateId", detail=f"the template is for {tpl.doc_type}")
    return steps_from_json(tpl.steps, unit_id)

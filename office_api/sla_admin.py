"""Administration of SLA policies and their bindings (DOMAIN §5.1), province-wide data.

Writes need a province-level administrator (:func:`office_api.org.permissions.require_province_admin`)
and are audited (``sla_policy.create`` / ``.update`` / ``.bind`` / ``.unbind``). A changed
limit applies to clocks started afterwards; running clocks keep the limit they started with
(``office_api.deadlines``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from documents.types import DocType, Urgency
from office_api import audit
from office_api.audit import Action
from office_api.db import UnitOfWork
from office_api.errors import DomainError, DomainErrors, ErrorCode, ErrorCollector
from office_api.org.permissions import Actor, require_province_admin
from office_api.sla import BindingTarget, ExtensionApprover, SlaBinding, SlaPolicy, TimeUnit, validate_policy
from office_api.text import trimmed

#: "3545" linked-matter types (DOMAIN §5.1).
MATTER_TYPES = ("business_licence", "real_estate_registration", "construction_permit")
#: A policy code: lower-case letters, digits and hyphens, 2–64 characters, e.g. ``hotline-12345``.
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
MAX_NAME, MAX_BASIS, MAX_STEP_NAME = 200, 500, 64


@dataclass
class PolicyInput:
    """The fields of a policy; for an update, None leaves a field as it is."""

    code: str | None = None
    name: str | None = None
    basis: str | None = None
    unit: str | None = None
    limit: int | None = None
    extension_limit: int | None = None
    extension_approver: str | None = None
    clock_stops_for: list[str] | None = None
    yellow_before: int | None = None
    escalate_after: int | None = None
    matter_type: str | None = None
    #: Set the matter type to null (an update's explicit null).
    clear_matter_type: bool = False
    active: bool | None = None


def policy_state(p: SlaPolicy) -> dict[str, Any]:
    """The audited fields of a policy."""
    return {
        "code": p.code,
        "name": p.name,
        "basis": p.basis,
        "unit": p.unit,
        "limit": p.limit,
        "extensionLimit": p.extension_limit,
        "extensionApprover": p.extension_approver,
        "clockStopsFor": list(p.clock_stops_for or []),
        "yellowBefore": p.yellow_before,
        "escalateAfter": p.escalate_after,
        "matterType": p.matter_type,
        "active": p.active,
    }


def binding_state(b: SlaBinding) -> dict[str, Any]:
    return {
        "policyId": b.policy_id,
        "target": b.target,
        "docType": b.doc_type,
        "urgency": b.urgency,
        "stepName": b.step_name,
    }


def _text(errors: ErrorCollector, name: str, value: str | None, limit: int, required: bool = True) -> str:
    value = trimmed(value)
    if required and not value:
        errors.add(ErrorCode.REQUIRED, name)
    elif len(value) > limit:
        errors.add(ErrorCode.TOO_LONG, name, limit=limit)
    return value


def _check(p: SlaPolicy, errors: ErrorCollector) -> None:
    """Validate the merged policy: the text fields collected in ``errors``, then the numbers."""
    if p.matter_type is not None and p.matter_type not in MATTER_TYPES:
        errors.add(ErrorCode.INVALID_VALUE, "matterType", detail=", ".join(MATTER_TYPES))
    stops = p.clock_stops_for or []
    if len(stops) != len(set(stops)):
        errors.add(ErrorCode.DUPLICATE, "clockStopsFor", detail="each stop once")
    try:
        validate_policy(
            unit=p.unit,
            limit=p.limit,
            extension_limit=p.extension_limit,
            yellow_before=p.yellow_before,
            escalate_after=p.escalate_after,
            extension_approver=p.extension_approver,
            clock_stops_for=list(stops),
        )
    except DomainError as e:
        errors.errors.append(e)
    except DomainErrors as e:
        errors.errors.extend(e.errors)
    errors.raise_if_any()


def _apply(p: SlaPolicy, data: PolicyInput, errors: ErrorCollector) -> None:
    if data.name is not None:
        p.name = _text(errors, "name", data.name, MAX_NAME)
    if data.basis is not None:
        p.basis = _text(errors, "basis", data.basis, MAX_BASIS, required=False)
    for attr in ("unit", "limit", "extension_limit", "extension_approver", "yellow_before", "escalate_after", "active"):
        value = getattr(data, attr)
        if value is not None:
            setattr(p, attr, value)
    if data.clock_stops_for is not None:
        p.clock_stops_for = list(data.clock_stops_for)
    if data.clear_matter_type:
        p.matter_type = None
    elif data.matter_type is not None:
        p.matter_type = data.matter_type


async def create_policy(uow: UnitOfWork, actor: Actor, data: PolicyInput) -> SlaPolicy:
    """Create a policy. ``code``, ``name``, ``limit`` are required; the rest default as in
    :class:`~office_api.sla.SlaPolicy` (working days, no extension, assigner approves, yellow
    card 1 working day before, escalation after 3 overdue working days, active).

    Errors: ``FORBIDDEN`` (not a province-level administrator); ``INVALID_VALUE`` on ``code``
    (format), ``unit``, ``limit`` (1 to 1000 working days, 1500 calendar days, 8784 hours),
    ``extensionLimit``, ``yellowBefore``, ``escalateAfter``, ``extensionApprover``,
    ``clockStopsFor.<i>``, ``matterType``; ``REQUIRED`` / ``TOO_LONG`` on ``name``, ``basis``;
    ``DUPLICATE`` on ``code``.
    """
    await require_province_admin(uow.session, actor)
    errors = ErrorCollector()
    code = trimmed(data.code)
    if not code:
        errors.add(ErrorCode.REQUIRED, "code")
    elif not CODE_RE.match(code):
        errors.add(ErrorCode.INVALID_VALUE, "code", detail="2–64 lower-case letters, digits and hyphens")
    if data.limit is None:
        errors.add(ErrorCode.REQUIRED, "limit")
    p = SlaPolicy(
        code=code,
        name="",
        basis="",
        unit=TimeUnit.WORKING_DAYS.value,
        limit=data.limit if data.limit is not None else 1,
        extension_limit=0,
        extension_approver=ExtensionApprover.ASSIGNER.value,
        clock_stops_for=[],
        yellow_before=1,
        escalate_after=3,
        matter_type=None,
        active=True,
    )
    _apply(p, PolicyInput(**{**data.__dict__, "name": data.name if data.name is not None else ""}), errors)
    _check(p, errors)
    s = uow.session
    if (await s.execute(select(SlaPolicy.id).where(SlaPolicy.code == code))).first() is not None:
        raise DomainError(ErrorCode.DUPLICATE, "code", detail=code)
    s.add(p)
    try:
        async with s.begin_nested():
            await s.flush()
    except IntegrityError:  # a concurrent create of the same code committed first
        raise DomainError(ErrorCode.DUPLICATE, "code", detail=code) from None
    audit.record(
        s,
        actor_id=actor.user_id,
        action=Action.SLA_POLICY_CREATE,
        target_type="SlaPolicy",
        target_id=p.id,
        after=policy_state(p),
    )
    await s.flush()
    return p


async def update_policy(uow: UnitOfWork, actor: Actor, policy_id: int, data: PolicyInput) -> SlaPolicy:
    """Change the given fields of a policy (the code never changes); the row is locked, so
    concurrent updates of different fields both take effect. Running clocks keep their limit.

    Errors as :func:`create_policy`, checked on the policy as it would be after the change;
    ``NOT_FOUND`` on ``id``.
    """
    await require_province_admin(uow.session, actor)
    s = uow.session
    p = (
        await s.execute(
            select(SlaPolicy)
            .where(SlaPolicy.id == policy_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if p is None:
        raise DomainError(ErrorCode.NOT_FOUND, "id")
    before = policy_state(p)
    errors = ErrorCollector()
    _apply(p, data, errors)
    _check(p, errors)  # on an error the transaction rolls back: nothing is written
    after = policy_state(p)
    if after != before:
        changed = {k for k in after if after[k] != before[k]}
        audit.record(
            s,
            actor_id=actor.user_id,
            action=Action.SLA_POLICY_UPDATE,
            target_type="SlaPolicy",
            target_id=p.id,
            before={k: before[k] for k in sorted(changed)},
            after={k: after[k] for k in sorted(changed)},
        )
    await s.flush()
    return p


async def find_policy(session: AsyncSession, policy_id: int | None, code: str | None) -> SlaPolicy:
    """The policy named by id or code (exactly one of them: ``REQUIRED`` on ``policyId``
    otherwise); ``NOT_FOUND`` on ``policyId`` / ``policyCode``."""
    if (policy_id is None) == (code is None):
        raise DomainError(ErrorCode.REQUIRED, "policyId", detail="give policyId or policyCode")
    if policy_id is not None:
        p = await session.get(SlaPolicy, policy_id)
        if p is None:
            raise DomainError(ErrorCode.NOT_FOUND, "policyId")
        return p
    p = (await session.execute(select(SlaPolicy).where(SlaPolicy.code == trimmed(code)))).scalar_one_or_none()
    if p is None:
        raise DomainError(ErrorCode.NOT_FOUND, "policyCode")
    return p


@dataclass(frozen=True)
class BindingInput:
    """Where a policy applies: a target, narrowed by document type, urgency and step name (None = any)."""

    target: str
    doc_type: str | None = None
    urgency: str | None = None
    step_name: str | None = None


def check_binding(b: BindingInput) -> BindingInput:
    """Refuse unknown targets, document types and urgencies and over-long step names; the
    binding with the step name trimmed (blank = any step)."""
    errors = ErrorCollector()
    if b.target not in {t.value for t in BindingTarget}:
        errors.add(ErrorCode.INVALID_VALUE, "target", detail=", ".join(t.value for t in BindingTarget))
    if b.doc_type is not None and b.doc_type not in {t.value for t in DocType}:
        errors.add(ErrorCode.INVALID_VALUE, "docType", detail="one of the 15 document types")
    if b.urgency is not None and b.urgency not in {u.value for u in Urgency}:
        errors.add(ErrorCode.INVALID_VALUE, "urgency", detail=", ".join(u.value for u in Urgency))
    step = trimmed(b.step_name) or None
    if step is not None and len(step) > MAX_STEP_NAME:
        errors.add(ErrorCode.TOO_LONG, "stepName", limit=MAX_STEP_NAME)
    errors.raise_if_any()
    return BindingInput(b.target, b.doc_type, b.urgency, step)


async def bind_policy(
    uow: UnitOfWork, actor: Actor, *, policy_id: int | None, policy_code: str | None, binding: BindingInput
) -> SlaBinding:
    """Attach a policy to a target for a document type, urgency and/or step name (None = any).

    Errors: ``FORBIDDEN``; ``NOT_FOUND`` on ``policyId`` / ``policyCode``; ``INACTIVE`` on the
    same for an inactive policy; field errors per :func:`check_binding`; ``DUPLICATE`` on
    ``target`` when a binding with exactly these attributes exists (for this or another policy:
    the most specific binding must be one). Binding writes are serialized by locking the
    policies, so two concurrent identical bindings cannot both be made.
    """
    await require_province_admin(uow.session, actor)
    s = uow.session
    b = check_binding(binding)
    policy = await find_policy(s, policy_id, policy_code)
    if not policy.active:
        raise DomainError(ErrorCode.INACTIVE, "policyId" if policy_id is not None else "policyCode")
    await s.execute(select(SlaPolicy.id).order_by(SlaPolicy.id).with_for_update())
    same = (
        await s.execute(
            select(SlaBinding, SlaPolicy.code)
            .join(SlaPolicy, SlaPolicy.id == SlaBinding.policy_id)
            .where(
                SlaBinding.target == b.target,
                SlaBinding.doc_type.is_(None) if b.doc_type is None else SlaBinding.doc_type == b.doc_type,
                SlaBinding.urgency.is_(None) if b.urgency is None else SlaBinding.urgency == b.urgency,
                SlaBinding.step_name.is_(None) if b.step_name is None else SlaBinding.step_name == b.step_name,
            )
        )
    ).first()
    if same is not None:
        raise DomainError(ErrorCode.DUPLICATE, "target", detail=f"binding {same[0].id} of {same[1]}")
    row = SlaBinding(
        policy_id=policy.id, target=b.target, doc_type=b.doc_type, urgency=b.urgency, step_name=b.step_name
    )
    s.add(row)
    await s.flush()
    audit.record(
        s,
        actor_id=actor.user_id,
        action=Action.SLA_POLICY_BIND,
        target_type="SlaBinding",
        target_id=row.id,
        after=binding_state(row),
    )
    await s.flush()
    return row


async def unbind_policy(uow: UnitOfWork, actor: Actor, binding_id: int) -> SlaBinding:
    """Remove a binding (clocks already started keep their policy). ``NOT_FOUND`` on ``bindingId``."""
    await require_province_admin(uow.session, actor)
    s = uow.session
    row = (
        await s.execute(select(SlaBinding).where(SlaBinding.id == binding_id).with_for_update())
    ).scalar_one_or_none()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, "bindingId")
    audit.record(
        s,
        actor_id=actor.user_id,
        action=Action.SLA_POLICY_UNBIND,
        target_type="SlaBinding",
        target_id=row.id,
        before=binding_state(row),
    )
    await s.delete(row)
    await s.flush()
    return row

"""Supervision items (督办事项, DOMAIN §5.3): creation, progress reports, result, closing, status.

Practice followed (DOMAIN §5.3, PRACTICE): a leader's instruction (批示) or a meeting's decided
matter (议定事项) becomes an item; multi-unit items name a **lead unit (主办)** and
**co-handler units (协办)**, each with a deadline; the units report progress periodically; the
lead unit reports the result back to the assigner (交办单位), who then closes the item (办结).

Clocks (office_api.deadlines): the item has one (subject ``supervision``, held by the lead
unit) and each assigned unit has its own (subject ``supervision_unit``, id of the
:class:`~documents.supervision_models.SupervisionUnit` row, held by that unit), all assigned by
the creator. The default limit is the policy bound to target ``supervision``
(``supervision-instruction``: 15 calendar days); a meeting matter defaults to
``supervision-minutes`` (20 calendar days); a ``policyCode`` (e.g. ``3545-real-estate``), an
explicit number of working days or an explicit date override it. A unit's clock defaults to
the item's due date. A co-handler's clock closes with its 100 % report, the lead's with the
result, every clock that is still open when the creator closes the item.

**Who may create** (:func:`supervising_paths`): a person holding, in a unit that is the
assigned unit itself or one of its ancestors, a *supervising post*: a post carrying the duty
head (主要负责人), deputy head (副职) or clerk (文书), or a leader post (``is_leader``). A
supervising post in a government's General Office (unit code ending ``-general_office``)
covers that government's whole subtree, since the General Office supervises for its
government (DOMAIN §5.2: supervision orders come from the General Office). Every assigned unit
must be covered, else ``FORBIDDEN`` on that unit's field. Administrator roles grant nothing
here (they manage the organization, not the work).

**Who may see** an item: its creator, members (any post) of an assigned unit, and whoever
may see its lead unit (:func:`can_see_unit`). **Who reports**: members of an assigned unit,
for that unit. **Who closes**: the creator.

Errors name the input field: ``REQUIRED``, ``TOO_LONG``, ``TOO_MANY``, ``INVALID_VALUE``
(dates before today, limits out of range, a unit's date after the item's), ``LEAD_REQUIRED``,
``DUPLICATE`` (a unit twice, the lead also a co-handler), ``NOT_FOUND``, ``INACTIVE``,
``FORBIDDEN``, ``INVALID_STATE`` (reporting on or closing an item in the wrong state).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from documents import service as documents
from documents.incoming_service import get_visible_incoming
from documents.models import Document
from documents.supervision_models import (
    ItemState,
    ReportKind,
    SourceType,
    SupervisionItem,
    SupervisionReport,
    SupervisionUnit,
)
from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api import deadlines as clock
from office_api import sla
from office_api.db import UnitOfWork
from office_api.errors import AuthError, DomainError, ErrorCode, ErrorCollector
from office_api.org.directory import is_sqlite, subtree_of
from office_api.org.models import Duty, OrgUnit, Position, PositionDuty
from office_api.org.permissions import Actor
from office_api.reminders import answering_for_units
from office_api.sla import MAX_LIMIT, SlaPolicy, TimeUnit
from office_api.text import trimmed
from office_api.workdays import WorkCalendar, local_date

ITEM = "supervision"
UNIT = "supervision_unit"
MAX_TITLE = 200
MAX_TEXT = 2_000
MAX_RESULT = 10_000
MAX_STAGE = 40
MAX_CO_HANDLERS = 20
#: Working days between periodic progress reports: 1 to 60.
MAX_REPORT_EVERY = 60
#: Code suffix of a government's General Office, whose supervising posts cover the government.
GENERAL_OFFICE_SUFFIX = "-general_office"
SUPERVISING_DUTIES = (Duty.HEAD.value, Duty.DEPUTY_HEAD.value, Duty.CLERK.value)
DEFAULT_MEETING_POLICY = "supervision-minutes"
NOTIFICATION_EXCERPT = 200


class Colour(StrEnum):
    """Status of an open item: GREEN on track, AMBER due soon or a report missed, RED overdue."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"


@dataclass(frozen=True)
class UnitAssignment:
    """An assigned unit and, optionally, its own due date (Asia/Shanghai; default: the item's)."""

    unit_id: int
    due_on: dt.date | None = None


@dataclass(frozen=True)
class ItemInput:
    """What :func:`create_item` needs.

    ``source_type``: document | incoming | meeting_matter | manual; ``source_id`` the document,
    incoming copy or meeting matter (none for manual). ``title`` and ``instruction`` may be
    omitted for a document or incoming source (taken from its title and its 批示).
    Timing, first given wins: ``due_on`` (a date, not before today), ``working_days`` (1–1000),
    ``policy_code``, the default policy. ``report_every``: working days between progress
    reports (1–60), or None.
    """

    source_type: SourceType | str
    lead: UnitAssignment | None
    co_handlers: Sequence[UnitAssignment] = ()
    source_id: int | None = None
    title: str | None = None
    instruction: str | None = None
    due_on: dt.date | None = None
    working_days: int | None = None
    policy_code: str | None = None
    report_every: int | None = None


def _excerpt(text: str) -> str:
    return text if len(text) <= NOTIFICATION_EXCERPT else text[: NOTIFICATION_EXCERPT - 1] + "…"


def _text(errors: ErrorCollector, value: str | None, field: str, limit: int, *, required: bool) -> str | None:
    text = trimmed(value)
    if required and not text:
        errors.add(ErrorCode.REQUIRED, field)
    elif len(text) > limit:
        errors.add(ErrorCode.TOO_LONG, field, limit=limit)
    return text or None


# ---- who covers what ------------------------------------------------------------------------


def _parent_path(path: str) -> str:
    parts = path.strip("/").split("/")
    return "/" + "".join(p + "/" for p in parts[:-1]) if len(parts) > 1 else path


async def supervising_paths(session: AsyncSession, user_id: int) -> list[str]:
    """Materialized paths of the subtrees ``user_id`` may assign supervision items in.

    A supervising post (duty head, deputy head or clerk, or a leader post) in an active unit
    covers that unit's subtree; one in a General Office (code ending ``-general_office``)
    covers its parent government's subtree as well. One query.
    """
    duty = exists().where(PositionDuty.position_id == Position.id, PositionDuty.duty.in_(SUPERVISING_DUTIES))
    rows = await session.execute(
        select(OrgUnit.path, OrgUnit.code)
        .join(Position, Position.unit_id == OrgUnit.id)
        .where(Position.user_id == user_id, OrgUnit.is_active.is_(True), or_(Position.is_leader.is_(True), duty))
    )
    paths: list[str] = []
    for path, code in rows:
        paths.append(path)
        if code.endswith(GENERAL_OFFICE_SUFFIX):
            paths.append(_parent_path(path))
    return sorted(set(paths))


async def member_paths(session: AsyncSession, user_id: int) -> list[str]:
    """Paths of the units ``user_id`` holds any post in (one query)."""
    rows = await session.execute(
        select(OrgUnit.path).join(Position, Position.unit_id == OrgUnit.id).where(Position.user_id == user_id)
    )
    return sorted({r[0] for r in rows})


async def can_see_unit(session: AsyncSession, actor: Actor, unit: OrgUnit) -> bool:
    """Whether ``actor`` may see the supervision items and dashboard of ``unit`` (and its subtree):
    a post in the unit or an ancestor, a supervising post covering it (see
    :func:`supervising_paths`), or an administrator role whose subtree contains it."""
    if actor.administers_path(unit.path):
        return True
    paths = await member_paths(session, actor.user_id) + await supervising_paths(session, actor.user_id)
    return any(unit.path.startswith(p) for p in paths)


async def visible_unit(session: AsyncSession, actor: Actor, unit_id: int) -> OrgUnit:
    """The unit ``unit_id`` for a supervision list or dashboard: ``NOT_FOUND`` on ``unitId`` when
    there is none, ``FORBIDDEN`` when :func:`can_see_unit` says no."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None:
        raise DomainError(ErrorCode.NOT_FOUND, "unitId")
    if not await can_see_unit(session, actor, unit):
        raise AuthError(ErrorCode.FORBIDDEN)
    return unit


async def _member_of(session: AsyncSession, user_id: int, unit_ids: Sequence[int]) -> set[int]:
    rows = await session.execute(
        select(Position.unit_id).where(Position.user_id == user_id, Position.unit_id.in_(list(unit_ids)))
    )
    return {r[0] for r in rows}


# ---- creation --------------------------------------------------------------------------------


async def _default_policy(session: AsyncSession, source_type: str) -> SlaPolicy | None:
    if source_type == SourceType.MEETING_MATTER.value:
        policy = await sla.policy_by_code(session, DEFAULT_MEETING_POLICY)
        if policy is not None and policy.active:
            return policy
    return await sla.resolve_policy(session, sla.BindingTarget.SUPERVISION)


def _check_units(errors: ErrorCollector, data: ItemInput, today: dt.date) -> list[tuple[str, UnitAssignment]]:
    """Shape of the unit list: lead present, co-handlers ≤ 20, no unit twice, dates not past.
    Returns (field prefix, assignment), lead first."""
    out: list[tuple[str, UnitAssignment]] = []
    if data.lead is None:
        errors.add(ErrorCode.LEAD_REQUIRED, "lead", detail="a supervision item needs a lead unit (主办)")
    else:
        out.append(("lead", data.lead))
    if len(data.co_handlers) > MAX_CO_HANDLERS:
        errors.add(ErrorCode.TOO_MANY, "coHandlers", limit=MAX_CO_HANDLERS)
    seen = {data.lead.unit_id} if data.lead else set()
    for i, a in enumerate(data.co_handlers[:MAX_CO_HANDLERS]):
        if data.lead is not None and a.unit_id == data.lead.unit_id:
            errors.add(ErrorCode.DUPLICATE, f"coHandlers.{i}.unitId", detail="the lead unit cannot also co-handle")
        elif a.unit_id in seen:
            errors.add(ErrorCode.DUPLICATE, f"coHandlers.{i}.unitId", detail="unit listed twice")
        seen.add(a.unit_id)
        out.append((f"coHandlers.{i}", a))
    for prefix, a in out:
        if a.due_on is not None and a.due_on < today:
            errors.add(ErrorCode.INVALID_VALUE, f"{prefix}.dueOn", detail=f"not before today ({today.isoformat()})")
    return out


async def _source(
    session: AsyncSession, actor: Actor, data: ItemInput, errors: ErrorCollector
) -> tuple[str | None, str | None]:
    """Check the source and return the (title, instruction) it offers as defaults."""
    kind = data.source_type
    if kind == SourceType.MANUAL.value:
        if data.source_id is not None:
            errors.add(ErrorCode.INVALID_VALUE, "sourceId", detail="a manual item has no source")
        return None, None
    if data.source_id is None:
        errors.add(ErrorCode.REQUIRED, "sourceId")
        return None, None
    if kind == SourceType.INCOMING.value:
        inc = await get_visible_incoming(session, actor, data.source_id)
        if inc is None:
            errors.add(ErrorCode.NOT_FOUND, "sourceId")
            return None, None
        if not inc.instruction:
            errors.add(
                ErrorCode.INVALID_STATE, "sourceId", detail="the incoming document has no instruction (批示) yet"
            )
        title = inc.external_title
        if inc.document_id is not None:
            doc = await session.get(Document, inc.document_id)
            title = doc.title if doc else title
        return title, inc.instruction
    if kind == SourceType.DOCUMENT.value:
        doc = await documents.get_visible_document(session, actor, data.source_id)
        if doc is None:
            errors.add(ErrorCode.NOT_FOUND, "sourceId")
            return None, None
        return doc.title, None
    return None, None  # meeting_matter: the meeting module vouches for its matter


async def create_item(
    uow: UnitOfWork, broker: Publisher, cal: WorkCalendar, actor: Actor, data: ItemInput, *, now: dt.datetime
) -> SupervisionItem:
    """Create a supervision item, its unit assignments and their clocks; tell the units' clerks.

    See :class:`ItemInput` for the fields and the module docstring for who may create. The
    meeting module creates items from decided matters through
    :func:`create_from_meeting_matter`. Raises ``DomainErrors``/``DomainError`` (nothing is
    written): the codes listed in the module docstring, on ``title``, ``instruction``,
    ``sourceId``, ``lead.unitId``, ``lead.dueOn``, ``coHandlers.<i>.unitId``/``dueOn``,
    ``dueOn``, ``workingDays``, ``policyCode``, ``reportEvery``. Each assigned unit's active
    clerks (文书), or, in a unit
    with no clerk, its head and deputy heads, get SUPERVISION_ASSIGNED.
    """
    session = uow.session
    errors = ErrorCollector()
    today = local_date(now)
    try:
        source_type = SourceType(data.source_type).value
    except ValueError:
        source_type = ""
        errors.add(ErrorCode.INVALID_VALUE, "sourceType", detail=", ".join(s.value for s in SourceType))
    data = replace(data, source_type=source_type)
    assignments = _check_units(errors, data, today)
    if data.due_on is not None and data.working_days is not None:
        errors.add(ErrorCode.INVALID_VALUE, "workingDays", detail="give a due date or a number of days, not both")
    if data.due_on is not None and data.due_on < today:
        errors.add(ErrorCode.INVALID_VALUE, "dueOn", detail=f"not before today ({today.isoformat()})")
    cap = MAX_LIMIT[TimeUnit.WORKING_DAYS]
    if data.working_days is not None and not 1 <= data.working_days <= cap:
        errors.add(ErrorCode.INVALID_VALUE, "workingDays", detail=f"between 1 and {cap} working days")
    if data.report_every is not None and not 1 <= data.report_every <= MAX_REPORT_EVERY:
        errors.add(ErrorCode.INVALID_VALUE, "reportEvery", detail=f"between 1 and {MAX_REPORT_EVERY} working days")
    errors.raise_if_any()

    # The units: they exist, are active, and the actor covers each (before the source is read).
    unit_ids = [a.unit_id for _, a in assignments]
    units = {u.id: u for u in (await session.execute(select(OrgUnit).where(OrgUnit.id.in_(unit_ids)))).scalars()}
    covered = await supervising_paths(session, actor.user_id)
    for prefix, a in assignments:
        unit = units.get(a.unit_id)
        if unit is None:
            errors.add(ErrorCode.NOT_FOUND, f"{prefix}.unitId")
        elif not unit.is_active:
            errors.add(ErrorCode.INACTIVE, f"{prefix}.unitId", detail=unit.name)
        elif not any(unit.path.startswith(p) for p in covered):
            errors.add(ErrorCode.FORBIDDEN, f"{prefix}.unitId")
    errors.raise_if_any()

    policy: SlaPolicy | None = None
    if data.policy_code is not None:
        policy = await sla.policy_by_code(session, data.policy_code.strip())
        if policy is None:
            errors.add(ErrorCode.NOT_FOUND, "policyCode")
        elif not policy.active:
            errors.add(ErrorCode.INACTIVE, "policyCode", detail=policy.code)
    elif data.due_on is None and data.working_days is None:
        policy = await _default_policy(session, source_type)
        if policy is None:
            errors.add(ErrorCode.REQUIRED, "dueOn", detail="no supervision policy is bound: give a due date")
    src_title, src_instruction = await _source(session, actor, data, errors)
    errors.raise_if_any()  # a refused source offers no defaults: report it alone
    title = _text(errors, data.title or src_title, "title", MAX_TITLE, required=True)
    instruction = _text(errors, data.instruction or src_instruction, "instruction", MAX_TEXT, required=True)
    errors.raise_if_any()
    assert title is not None
    assert instruction is not None

    lead = assignments[0][1]
    item = SupervisionItem(
        title=title,
        source_type=source_type,
        source_id=data.source_id,
        instruction=instruction,
        policy_id=policy.id if policy else None,
        matter_type=policy.matter_type if policy else None,
        yellow_before=policy.yellow_before if policy else 1,
        report_every=data.report_every,
        creator_id=actor.user_id,
        lead_unit_id=lead.unit_id,
        state=ItemState.OPEN.value,
        created_at=now,
        start_on=today,
    )
    session.add(item)
    await session.flush()
    limit, unit = (data.working_days, TimeUnit.WORKING_DAYS.value) if data.working_days is not None else (None, None)
    timing = {"policy": policy, "limit": limit, "unit": unit}
    item_clock = await clock.start_clock(
        uow,
        cal,
        subject_type=ITEM,
        subject_id=item.id,
        started_at=now,
        due_on=data.due_on,
        holder_unit_id=lead.unit_id,
        assigner_user_id=actor.user_id,
        **timing,  # type: ignore[arg-type]
    )
    rows = [
        SupervisionUnit(item_id=item.id, unit_id=a.unit_id, is_lead=i == 0, position=i)
        for i, (_, a) in enumerate(assignments)
    ]
    session.add_all(rows)
    await session.flush()
    dues: dict[int, clock.Deadline] = {}
    for row, (prefix, a) in zip(rows, assignments, strict=True):
        if a.due_on is not None and item_clock.due_on is not None and a.due_on > item_clock.due_on:
            errors.add(
                ErrorCode.INVALID_VALUE,
                f"{prefix}.dueOn",
                detail=f"not after the item's due date ({item_clock.due_on.isoformat()})",
            )
            continue
        dues[row.unit_id] = await clock.start_clock(
            uow,
            cal,
            subject_type=UNIT,
            subject_id=row.id,
            started_at=now,
            due_on=a.due_on if a.due_on is not None else data.due_on,
            holder_unit_id=a.unit_id,
            assigner_user_id=actor.user_id,
            **({} if a.due_on is not None else timing),  # type: ignore[arg-type]
        )
    errors.raise_if_any()
    await notify(uow, broker, await _assigned_messages(session, item, rows, dues, actor))
    await session.flush()
    return item


async def create_from_meeting_matter(
    uow: UnitOfWork,
    broker: Publisher,
    cal: WorkCalendar,
    actor: Actor,
    *,
    matter_id: int,
    matter_text: str,
    title: str,
    lead: UnitAssignment,
    co_handlers: Sequence[UnitAssignment] = (),
    due_on: dt.date | None = None,
    policy_code: str | None = None,
    report_every: int | None = None,
    now: dt.datetime,
) -> SupervisionItem:
    """For the meeting module: an item from a decided matter (议定事项) of a meeting's minutes.

    ``matter_id`` is the meeting module's id of the matter (stored as ``source_id`` with
    ``source_type`` meeting_matter; the caller vouches that ``actor`` may act on it);
    ``matter_text`` becomes the instruction. Without ``due_on`` or ``policy_code`` the
    ``supervision-minutes`` policy applies (20 calendar days, DOMAIN §5.3). Same rules and
    errors as :func:`create_item`.
    """
    return await create_item(
        uow,
        broker,
        cal,
        actor,
        ItemInput(
            source_type=SourceType.MEETING_MATTER,
            source_id=matter_id,
            title=title,
            instruction=matter_text,
            lead=lead,
            co_handlers=co_handlers,
            due_on=due_on,
            policy_code=policy_code,
            report_every=report_every,
        ),
        now=now,
    )


async def _clerks_of(session: AsyncSession, unit_ids: Sequence[int]) -> dict[int, list[int]]:
    """Who is told for each unit: its clerks, or its head and deputy heads when it has no clerk
    (the rule of the reminder cards, ``reminders.answering_for_unit``)."""
    return await answering_for_units(session, unit_ids)


def _message(
    item: SupervisionItem,
    user_id: int,
    kind: NotificationKind,
    actor: Actor,
    title: str,
    body: str,
    unit_id: int | None = None,
) -> Message:
    """A notification about ``item``; ``unit_id``: the assigned unit it is for (SUPERVISION_ASSIGNED
    to its clerks) or from (SUPERVISION_PROGRESS / RESULT to the creator), for receipt roll-ups."""
    return Message(
        unit_id=unit_id,
        user_id=user_id,
        kind=kind.value,
        title=title,
        body=body,
        subject_type="SupervisionItem",
        subject_id=item.id,
        actor_id=actor.user_id,
        payload={"state": item.state, "leadUnitId": item.lead_unit_id},
    )


async def _assigned_messages(
    session: AsyncSession,
    item: SupervisionItem,
    rows: Sequence[SupervisionUnit],
    dues: dict[int, clock.Deadline],
    actor: Actor,
) -> list[Message]:
    clerks = await _clerks_of(session, [r.unit_id for r in rows])
    out = []
    for r in rows:
        due = dues[r.unit_id].due_on
        by = f"，办理时限 {due.isoformat()}" if due else ""
        role = "主办" if r.is_lead else "协办"
        out += [
            _message(
                item,
                uid,
                NotificationKind.SUPERVISION_ASSIGNED,
                actor,
                f"督办事项：{item.title}",
                f"{actor.display_name} 交贵单位{role}：{_excerpt(item.instruction)}{by}",
                unit_id=r.unit_id,
            )
            for uid in clerks.get(r.unit_id, [])
            if uid != actor.user_id
        ]
    return out


async def follow_unit_extension(
    uow: UnitOfWork, cal: WorkCalendar, unit_clock: clock.Deadline
) -> clock.Deadline | None:
    """Keep a unit's date no later than its item's: after an extension moved ``unit_clock``
    (subject ``supervision_unit``) past the item's due date, move the item's clock (subject
    ``supervision``) to the same date, in the same transaction (``deadlines.extend_clock`` by the
    working days, or calendar days for a clock counted so, between the two; the item's reminder
    cards start over). Called by ``extensions.decide_extension`` on approval. Returns the item's
    clock when it moved, else None (not later, item clock closed or paused, no such row)."""
    if unit_clock.subject_type != UNIT or unit_clock.due_on is None:
        return None
    row = await uow.session.get(SupervisionUnit, unit_clock.subject_id)
    if row is None:
        return None
    item_clock = await clock.deadline_of(uow.session, ITEM, row.item_id, lock=True)
    if item_clock is None or item_clock.status != clock.DeadlineStatus.RUNNING.value or item_clock.due_on is None:
        return None
    target = unit_clock.due_on
    if target <= item_clock.due_on:
        return None
    if item_clock.unit == TimeUnit.CALENDAR_DAYS.value and not item_clock.explicit:
        assert item_clock.base_on is not None
        n = (target - (item_clock.base_on + dt.timedelta(days=item_clock.remaining))).days
    else:
        n = cal.working_days_between(item_clock.due_on, target)
    await clock.extend_clock(uow, cal, item_clock, n)
    return item_clock


# ---- reports, result, closing ------------------------------------------------------------------


async def _lock(session: AsyncSession, item_id: int) -> SupervisionItem:
    item = (
        await session.execute(select(SupervisionItem).where(SupervisionItem.id == item_id).with_for_update())
    ).scalar_one_or_none()
    if item is None:
        raise DomainError(ErrorCode.NOT_FOUND, "itemId")
    return item


async def units_of_items(session: AsyncSession, item_ids: Sequence[int]) -> list[SupervisionUnit]:
    """The assigned units of several items, lead first then in order (one query)."""
    q = select(SupervisionUnit).where(SupervisionUnit.item_id.in_(list(item_ids)))
    return list((await session.execute(q.order_by(SupervisionUnit.item_id, SupervisionUnit.position))).scalars())


async def reports_of_items(session: AsyncSession, item_ids: Sequence[int]) -> list[SupervisionReport]:
    """The reports of several items, oldest first (one query)."""
    q = select(SupervisionReport).where(SupervisionReport.item_id.in_(list(item_ids))).order_by(SupervisionReport.id)
    return list((await session.execute(q)).scalars())


async def may_see(session: AsyncSession, actor: Actor, item: SupervisionItem) -> bool:
    """The creator, members of an assigned unit, and whoever may see the lead unit."""
    if item.creator_id == actor.user_id:
        return True
    units = await units_of_items(session, [item.id])
    if await _member_of(session, actor.user_id, [u.unit_id for u in units]):
        return True
    lead = await session.get(OrgUnit, item.lead_unit_id)
    return lead is not None and await can_see_unit(session, actor, lead)


async def get_visible_item(session: AsyncSession, actor: Actor, item_id: int) -> SupervisionItem | None:
    """The item if ``actor`` may see it (:func:`may_see`), else None (existence not revealed)."""
    item = await session.get(SupervisionItem, item_id)
    return item if item is not None and await may_see(session, actor, item) else None


async def _refuse(session: AsyncSession, actor: Actor, item: SupervisionItem) -> DomainError:
    """FORBIDDEN to someone who may see the item, NOT_FOUND otherwise."""
    code = ErrorCode.FORBIDDEN if await may_see(session, actor, item) else ErrorCode.NOT_FOUND
    return DomainError(code, "itemId")


def _require_not_closed(item: SupervisionItem) -> None:
    if item.state == ItemState.CLOSED.value:
        raise DomainError(ErrorCode.INVALID_STATE, "itemId", detail="the supervision item is closed (办结)")


async def _reporting_unit(
    session: AsyncSession, actor: Actor, item: SupervisionItem, unit_id: int | None, *, lead_only: bool
) -> SupervisionUnit:
    units = await units_of_items(session, [item.id])
    mine = await _member_of(session, actor.user_id, [u.unit_id for u in units])
    candidates = [u for u in units if u.unit_id in mine and (u.is_lead or not lead_only)]
    if unit_id is not None:
        if not any(u.unit_id == unit_id for u in units):
            raise DomainError(ErrorCode.INVALID_VALUE, "unitId", detail="not a unit assigned to this item")
        candidates = [u for u in candidates if u.unit_id == unit_id]
    if not candidates:
        raise await _refuse(session, actor, item)
    return candidates[0]


async def report_progress(
    uow: UnitOfWork,
    broker: Publisher,
    cal: WorkCalendar,
    actor: Actor,
    item_id: int,
    *,
    text: str | None,
    percent: int | None = None,
    stage: str | None = None,
    unit_id: int | None = None,
    now: dt.datetime,
) -> SupervisionReport:
    """A progress report (进展) by a member of an assigned unit, for that unit.

    ``text`` required (≤ 2,000 characters); ``percent`` 0–100 or None; ``stage`` ≤ 40
    characters or None; ``unit_id``: which assigned unit reports (default: the actor's, lead
    first). A co-handler unit's 100 % report finishes its part (its clock closes, met or
    missed). Errors: ``REQUIRED``/``TOO_LONG``/``INVALID_VALUE`` on the fields,
    ``NOT_FOUND``/``FORBIDDEN`` on ``itemId`` (not a member of an assigned unit),
    ``INVALID_STATE`` on ``itemId`` once the item is closed. The creator gets
    SUPERVISION_PROGRESS.
    """
    session = uow.session
    errors = ErrorCollector()
    body = _text(errors, text, "text", MAX_TEXT, required=True)
    stage_text = _text(errors, stage, "stage", MAX_STAGE, required=False)
    if percent is not None and not 0 <= percent <= 100:
        errors.add(ErrorCode.INVALID_VALUE, "percent", detail="between 0 and 100")
    errors.raise_if_any()
    assert body is not None
    item = await _lock(session, item_id)
    unit = await _reporting_unit(session, actor, item, unit_id, lead_only=False)
    _require_not_closed(item)
    report = SupervisionReport(
        item_id=item.id,
        unit_id=unit.unit_id,
        author_id=actor.user_id,
        kind=ReportKind.PROGRESS.value,
        text=body,
        percent=percent,
        stage=stage_text,
        created_at=now,
    )
    session.add(report)
    item.last_report_at = now
    item.version += 1
    if percent == 100 and not unit.is_lead and unit.done_at is None:
        unit.done_at = now
        d = await clock.deadline_of(session, UNIT, unit.id, lock=True)
        if d is not None:
            await clock.close_clock(uow, d, now)
    unit_name = await _unit_name(session, unit.unit_id)
    done = f"（{percent}%）" if percent is not None else ""
    await notify(
        uow,
        broker,
        [
            _message(
                item,
                item.creator_id,
                NotificationKind.SUPERVISION_PROGRESS,
                actor,
                f"督办进展：{item.title}",
                f"{unit_name} {actor.display_name}{done}：{_excerpt(body)}",
                unit_id=unit.unit_id,
            )
        ]
        if item.creator_id != actor.user_id
        else [],
    )
    await session.flush()
    return report


async def _unit_name(session: AsyncSession, unit_id: int) -> str:
    unit = await session.get(OrgUnit, unit_id)
    return unit.name if unit else str(unit_id)


async def report_result(
    uow: UnitOfWork, broker: Publisher, actor: Actor, item_id: int, *, text: str | None, now: dt.datetime
) -> SupervisionItem:
    """The lead unit reports the result (办理结果, ≤ 10,000 characters) back to the creator.

    By a member of the lead unit (``FORBIDDEN``/``NOT_FOUND`` on ``itemId`` otherwise). OPEN or
    RESULT_REPORTED (a corrected result replaces the earlier one) → RESULT_REPORTED; the lead
    unit's clock closes. ``INVALID_STATE`` once closed. The creator gets SUPERVISION_RESULT.
    """
    session = uow.session
    errors = ErrorCollector()
    body = _text(errors, text, "result", MAX_RESULT, required=True)
    errors.raise_if_any()
    assert body is not None
    item = await _lock(session, item_id)
    unit = await _reporting_unit(session, actor, item, None, lead_only=True)
    _require_not_closed(item)
    session.add(
        SupervisionReport(
            item_id=item.id,
            unit_id=unit.unit_id,
            author_id=actor.user_id,
            kind=ReportKind.RESULT.value,
            text=body,
            percent=100,
            created_at=now,
        )
    )
    item.result, item.result_at, item.result_by_id = body, now, actor.user_id
    item.state = ItemState.RESULT_REPORTED.value
    item.last_report_at = now
    item.version += 1
    if unit.done_at is None:
        unit.done_at = now
    d = await clock.deadline_of(session, UNIT, unit.id, lock=True)
    if d is not None:
        await clock.close_clock(uow, d, now)
    unit_name = await _unit_name(session, unit.unit_id)
    messages = [
        _message(
            item,
            item.creator_id,
            NotificationKind.SUPERVISION_RESULT,
            actor,
            f"督办事项已报结果：{item.title}",
            f"{unit_name} {actor.display_name}：{_excerpt(body)}",
            unit_id=unit.unit_id,
        )
    ]
    await notify(uow, broker, [m for m in messages if m.user_id != actor.user_id])
    await session.flush()
    return item


async def close_item(
    uow: UnitOfWork,
    broker: Publisher,
    cal: WorkCalendar,
    actor: Actor,
    item_id: int,
    *,
    remark: str | None,
    now: dt.datetime,
) -> SupervisionItem:
    """办结: the creator closes an item whose result was reported (``remark`` ≤ 2,000, optional).

    Closes every clock still open (met before its due instant, else missed) and stores, for the
    dashboard, the Asia/Shanghai close date, the handling time in working days (those in
    ``(start_on, closed_on]``) and whether the item's own clock was met (``on_time``).
    Errors: ``FORBIDDEN``/``NOT_FOUND`` on ``itemId`` (not the creator), ``INVALID_STATE`` on
    ``itemId`` (no result yet, or closed already). The assigned units' clerks (or, without
    one, heads and deputy heads) get SUPERVISION_CLOSED.
    """
    session = uow.session
    errors = ErrorCollector()
    text = _text(errors, remark, "remark", MAX_TEXT, required=False)
    errors.raise_if_any()
    item = await _lock(session, item_id)
    if item.creator_id != actor.user_id:
        raise await _refuse(session, actor, item)
    _require_not_closed(item)
    if item.state != ItemState.RESULT_REPORTED.value:
        raise DomainError(ErrorCode.INVALID_STATE, "itemId", detail="the lead unit has not reported the result yet")
    units = await units_of_items(session, [item.id])
    unit_clocks = await clock.deadlines_for(session, UNIT, [u.id for u in units])
    for d in unit_clocks.values():
        await clock.close_clock(uow, d, now)
    item_clock = await clock.deadline_of(session, ITEM, item.id, lock=True)
    if item_clock is not None:
        await clock.close_clock(uow, item_clock, now)
    item.state = ItemState.CLOSED.value
    item.closed_at, item.closed_by_id, item.close_remark = now, actor.user_id, text
    item.closed_on = local_date(now)
    item.handling_days = cal.working_days_between(item.start_on, item.closed_on)
    item.on_time = item_clock is None or item_clock.status == clock.DeadlineStatus.MET.value
    item.version += 1
    clerks = await _clerks_of(session, [u.unit_id for u in units])
    recipients = dict.fromkeys(uid for u in units for uid in clerks.get(u.unit_id, []) if uid != actor.user_id)
    await notify(
        uow,
        broker,
        [
            _message(
                item,
                uid,
                NotificationKind.SUPERVISION_CLOSED,
                actor,
                f"督办事项已办结：{item.title}",
                f"{actor.display_name} 已办结" + (f"：{_excerpt(text)}" if text else ""),
            )
            for uid in recipients
        ],
    )
    await session.flush()
    return item


# ---- status ------------------------------------------------------------------------------------


def report_missed(cal: WorkCalendar, item: SupervisionItem, now: dt.datetime) -> bool:
    """Whether a periodic report is overdue: the item is OPEN, asks for a report every
    ``report_every`` working days, and more than that many working days lie in
    ``(date of the last report (or of creation), today]`` (Asia/Shanghai)."""
    if item.report_every is None or item.state != ItemState.OPEN.value:
        return False
    last = local_date(item.last_report_at or item.created_at)
    return cal.working_days_between(last, local_date(now)) > item.report_every


def colour_of(
    cal: WorkCalendar,
    item: SupervisionItem,
    item_clock: clock.Deadline | None,
    unit_clocks: Sequence[clock.Deadline | None],
    now: dt.datetime,
) -> Colour | None:
    """The status colour of an item at ``now``; None once closed.

    * RED: the item's clock or an open unit clock is past its due instant (24:00 Asia/Shanghai
      on the due date);
    * AMBER: not red, and an open clock is due within ``yellow_before`` working days (its
      working days left, counted from today's Asia/Shanghai date, is at most the item's
      ``yellow_before``: the yellow-card day of DOMAIN §5.2 when that is 1), or a periodic
      report is missed (:func:`report_missed`);
    * GREEN: otherwise (on track). Paused clocks count as neither.
    """
    if item.state == ItemState.CLOSED.value:
        return None
    clocks = [c for c in (item_clock, *unit_clocks) if c is not None and c.is_open]
    if any(clock.overdue(c, now) for c in clocks):
        return Colour.RED
    today = local_date(now)
    if any(c.due_on is not None and cal.working_days_left(c.due_on, today) <= item.yellow_before for c in clocks):
        return Colour.AMBER
    if report_missed(cal, item, now):
        return Colour.AMBER
    return Colour.GREEN


async def items_in_unit(
    session: AsyncSession,
    unit: OrgUnit,
    *,
    subtree: bool,
    state: str | None,
    after_id: int | None,
    limit: int,
) -> list[SupervisionItem]:
    """Items whose lead unit is ``unit`` (or lies in its subtree), newest first (descending id)."""
    q = select(SupervisionItem)
    if subtree:
        q = q.join(OrgUnit, OrgUnit.id == SupervisionItem.lead_unit_id).where(subtree_of(unit.path, is_sqlite(session)))
    else:
        q = q.where(SupervisionItem.lead_unit_id == unit.id)
    if state is not None:
        q = q.where(SupervisionItem.state == state)
    if after_id is not None:
        q = q.where(SupervisionItem.id < after_id)
    return list((await session.execute(q.order_by(SupervisionItem.id.desc()).limit(limit))).scalars())

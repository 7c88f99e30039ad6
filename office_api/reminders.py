"""Reminders, escalation and urging (催办) on the deadline clock; who is who for a clock.

Sources: DOMAIN §5.2 (Shandong provincial complaint line: a yellow card when 1 working day is
left, a red card on the first working day past the deadline, a supervision order after that)
and §5.3 (chasing practice: a pre-deadline reminder, an overdue notice, then the assigner or
a leader chases). Extension requests are in :mod:`office_api.extensions`.

The daily sweep (:func:`sweep`, job ``deadline.reminders`` at 09:00 Asia/Shanghai through
:mod:`office_api.scheduler`, so that with several server processes each card goes out once)
looks at every running clock counted in days (``hours`` clocks have no daily card) and, on
working days only:

* **yellow card** (``DEADLINE_YELLOW``) when at most ``yellow_before`` working days are left
  (policy; 1 without a policy) and the due date has not passed: to the holder;
* **red card** (``DEADLINE_RED``) on the first working day past the due date: to the holder
  and the assigner;
* for a clock counted in **hours**, no daily card: the red card comes within 5 minutes of
  the due instant, any day (:func:`sweep_hours`, job ``deadline.hours`` every 5 minutes);
* **escalation** (``DEADLINE_ESCALATED``) once more than ``escalate_after`` working days
  (policy; 3 without one) past the due date have gone by, i.e. at the sweep of the
  (``escalate_after`` + 1)-th working day past it: to the head (duty ``head``) of the holder
  unit, or of its parent unit when the holder is that head.

A supervision item's own clock (subject ``supervision``) sends no card to its holder, the
lead unit: each assigned unit, the lead included, gets the cards of its own clock (subject
``supervision_unit``), and the item clock's red card and escalation go to the assigner (the
item's creator) alone. Notifications about a unit's clock point at the item
(``SupervisionItem``, see :func:`send`).

Each stage is sent once per clock (``yellow_at`` / ``red_at`` / ``escalated_at``; an extension
or a recomputed due date clears them). "The holder" is the holder user, or, when only a unit
holds the clock, that unit's clerks (文书, duty ``clerk``), or, in a unit with no clerk, its head
and deputy heads (:func:`answering_for_unit`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Integer, String, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from messaging.models import URGENT_DEADLINE_KINDS, NotificationKind, NotificationPriority
from messaging.outbox import Message, Publisher, notify
from office_api import scheduler
from office_api.config import Settings
from office_api.db import Base, UnitOfWork, UTCDateTime, utcnow
from office_api.deadlines import Deadline, DeadlineStatus
from office_api.errors import DomainError, ErrorCode
from office_api.org.duties import duty_holders_of_units
from office_api.org.models import Duty, OrgUnit, Position
from office_api.org.permissions import Actor
from office_api.sla import ExtensionApprover, SlaPolicy, TimeUnit
from office_api.workdays import SHANGHAI, WorkCalendar, load_calendar, local_date

#: Defaults of clocks without a policy (the same as the seeded policies').
DEFAULT_YELLOW_BEFORE, DEFAULT_ESCALATE_AFTER = 1, 3
#: The most working days a yellow card may come before the due date (sla.validate_policy).
MAX_YELLOW_BEFORE = 30
MESSAGE_MAX = 500
SWEEP_KIND = "deadline.reminders"
#: Subject type of a supervision item's own clock (documents.supervision.ITEM).
ITEM_SUBJECT = "supervision"
#: Notification subject type of each clock subject type (clients open the subject).
SUBJECT_TYPES = {
    "document": "Document",
    "task": "Task",
    "incoming": "IncomingDocument",
    "supervision": "SupervisionItem",
    # A unit's part of a supervision item opens the item (:func:`send` sets the item's id).
    "supervision_unit": "SupervisionItem",
}


class DeadlineUrge(Base):
    """One urge (催办) of a clock: who, when, with what message (kept for the record)."""

    __tablename__ = "deadline_urges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"), index=True)
    urged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    message: Mapped[str] = mapped_column(String(MESSAGE_MAX))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---- who is who for a clock --------------------------------------------------------------


def answering_for_unit(duties: Iterable[tuple[str, int]]) -> list[int]:
    """Who answers for work a unit holds, from its ``(duty, user_id)`` pairs: the unit's clerks
    (文书, duty ``clerk``); a unit with no clerk: its head, then its deputy heads (they answer for
    the unit's work, :func:`may_hold`). Empty when the unit has none of them. The one rule for the
    reminder cards, urges (:func:`urge`) and supervision notifications of a unit."""
    pairs = list(duties)
    clerks = [u for d, u in pairs if d == Duty.CLERK.value]
    if clerks:
        return list(dict.fromkeys(clerks))
    leaders = [u for d, u in pairs if d == Duty.HEAD.value] + [u for d, u in pairs if d == Duty.DEPUTY_HEAD.value]
    return list(dict.fromkeys(leaders))


async def answering_for_units(session: AsyncSession, unit_ids: Sequence[int]) -> dict[int, list[int]]:
    """:func:`answering_for_unit` of several units (one query); units with nobody are absent."""
    pairs: dict[int, list[tuple[str, int]]] = {}
    for unit_id, duty, user_id in await duty_holders_of_units(session, list(unit_ids)):
        pairs.setdefault(unit_id, []).append((duty, user_id))
    out = {unit_id: answering_for_unit(p) for unit_id, p in pairs.items()}
    return {unit_id: users for unit_id, users in out.items() if users}


async def holder_units(session: AsyncSession, d: Deadline) -> list[int]:
    """The holder unit, or, for a clock held by a person only, the units of that person's posts."""
    if d.holder_unit_id is not None:
        return [d.holder_unit_id]
    if d.holder_user_id is None:
        return []
    rows = await session.execute(
        select(Position.unit_id).where(Position.user_id == d.holder_user_id).order_by(Position.id)
    )
    return list(dict.fromkeys(rows.scalars()))


@dataclass
class People:
    """Holders and unit heads of many clocks, read with three queries (the sweep's recipients)."""

    units_of_user: dict[int, list[int]]
    parent_of: dict[int, int | None]
    holders_of_unit: dict[int, list[tuple[str, int]]]

    @classmethod
    async def load(cls, session: AsyncSession, clocks: Sequence[Deadline]) -> People:
        users = {d.holder_user_id for d in clocks if d.holder_user_id is not None and d.holder_unit_id is None}
        units_of_user: dict[int, list[int]] = {}
        if users:
            rows = await session.execute(
                select(Position.user_id, Position.unit_id).where(Position.user_id.in_(users)).order_by(Position.id)
            )
            for user_id, unit_id in rows.all():
                units_of_user.setdefault(user_id, []).append(unit_id)
        units = {d.holder_unit_id for d in clocks if d.holder_unit_id is not None}
        units |= {u for us in units_of_user.values() for u in us}
        parent_of: dict[int, int | None] = {}
        if units:
            rows = await session.execute(select(OrgUnit.id, OrgUnit.parent_id).where(OrgUnit.id.in_(units)))
            parent_of = dict(rows.all())
        holders_of_unit: dict[int, list[tuple[str, int]]] = {}
        wanted = units | {p for p in parent_of.values() if p is not None}
        if wanted:
            for unit_id, duty, user_id in await duty_holders_of_units(session, sorted(wanted)):
                holders_of_unit.setdefault(unit_id, []).append((duty, user_id))
        return cls(units_of_user, parent_of, holders_of_unit)

    def _with_duty(self, unit_id: int, duty: Duty) -> list[int]:
        return list(dict.fromkeys(u for d, u in self.holders_of_unit.get(unit_id, []) if d == duty.value))

    def holder_unit(self, d: Deadline) -> int | None:
        """The holder unit, or the unit of the holder user's first post."""
        if d.holder_unit_id is not None:
            return d.holder_unit_id
        units = self.units_of_user.get(d.holder_user_id or 0, [])
        return units[0] if units else None

    def holders(self, d: Deadline) -> list[int]:
        """Who holds the clock: the holder user, else who answers for the holder unit
        (:func:`answering_for_unit`: its clerks, or without one its head and deputy heads)."""
        if d.holder_user_id is not None:
            return [d.holder_user_id]
        if d.holder_unit_id is not None:
            return answering_for_unit(self.holders_of_unit.get(d.holder_unit_id, []))
        return []

    def card_holders(self, d: Deadline) -> list[int]:
        """Who gets a clock's yellow and red cards as its holder: :meth:`holders`, except for a
        supervision item's own clock (subject ``supervision``): nobody, since every assigned
        unit, the lead unit included, has its own clock with its own cards (one card per thing,
        not two to the lead unit's clerks); the item clock's red card goes to the assigner only."""
        return [] if d.subject_type == ITEM_SUBJECT else self.holders(d)

    def escalation_to(self, d: Deadline) -> int | None:
        """Who gets the escalation: :meth:`head`; for a supervision item's own clock, the assigner
        (the creator who supervises it; the lead unit's head is escalated to by the lead unit's
        own clock)."""
        if d.subject_type == ITEM_SUBJECT:
            return d.assigner_user_id
        return self.head(d)

    def head(self, d: Deadline) -> int | None:
        """The head of the holder unit; the parent unit's head when the holder is that head."""
        unit_id = self.holder_unit(d)
        for uid in (unit_id, self.parent_of.get(unit_id or 0)):
            if uid is None:
                break
            heads = self._with_duty(uid, Duty.HEAD)
            if heads and heads[0] != d.holder_user_id:
                return heads[0]
        return None


async def holders(session: AsyncSession, d: Deadline) -> list[int]:
    """Who holds the clock (:meth:`People.holders`)."""
    return (await People.load(session, [d])).holders(d)


async def unit_head(session: AsyncSession, d: Deadline) -> int | None:
    """The head of the holder unit; the parent unit's head when the holder is that head."""
    return (await People.load(session, [d])).head(d)


async def _leaders_over(session: AsyncSession, d: Deadline) -> set[int]:
    """Heads and deputy heads of the holder unit and of every unit above it."""
    unit_ids: list[int] = []
    for uid in await holder_units(session, d):
        unit = await session.get(OrgUnit, uid)
        if unit is not None:
            unit_ids += [unit.id, *unit.ancestor_ids()]
    if not unit_ids:
        return set()
    leaders = {Duty.HEAD.value, Duty.DEPUTY_HEAD.value}
    return {user for _, duty, user in await duty_holders_of_units(session, unit_ids) if duty in leaders}


async def may_supervise(session: AsyncSession, actor: Actor, d: Deadline) -> bool:
    """Who may urge (催办): the assigner, or a leader (head or deputy head) of the holder unit or
    of a unit above it. Organization administrators are not supervisors: they administer the
    tree and take no part in the business (office_api/org/permissions.py)."""
    return actor.user_id == d.assigner_user_id or actor.user_id in await _leaders_over(session, d)


async def may_hold(session: AsyncSession, actor: Actor, d: Deadline) -> bool:
    """Whether ``actor`` holds the clock: the holder user, or, for a unit-held clock, a clerk,
    the head or a deputy head of the holder unit (they answer for the unit's work)."""
    if d.holder_user_id is not None:
        return actor.user_id == d.holder_user_id
    if d.holder_unit_id is None:
        return False
    duties = {Duty.CLERK.value, Duty.HEAD.value, Duty.DEPUTY_HEAD.value}
    rows = await duty_holders_of_units(session, [d.holder_unit_id])
    return any(user == actor.user_id and duty in duties for _, duty, user in rows)


async def approvers(session: AsyncSession, settings: Settings, d: Deadline, policy: SlaPolicy | None) -> list[int]:
    """Who decides an extension (``extension_approver`` of the policy; the assigner without one):
    ``assigner``: the assigner; ``unit_head``: the head of the holder unit (see :func:`unit_head`);
    ``general_office``: the head and deputy heads of the unit ``settings.general_office_unit``."""
    kind = policy.extension_approver if policy else ExtensionApprover.ASSIGNER.value
    if kind == ExtensionApprover.UNIT_HEAD.value:
        head = await unit_head(session, d)
        return [head] if head is not None else []
    if kind == ExtensionApprover.GENERAL_OFFICE.value:
        unit_id = (
            await session.execute(select(OrgUnit.id).where(OrgUnit.code == settings.general_office_unit))
        ).scalar_one_or_none()
        if unit_id is None:
            return []
        leaders = {Duty.HEAD.value, Duty.DEPUTY_HEAD.value}
        return list(
            dict.fromkeys(u for _, duty, u in await duty_holders_of_units(session, [unit_id]) if duty in leaders)
        )
    return [d.assigner_user_id] if d.assigner_user_id is not None else []


async def involved(session: AsyncSession, settings: Settings, actor: Actor, d: Deadline) -> bool:
    """Whether ``actor`` may see the clock's urges and extension requests at all."""
    policy = await session.get(SlaPolicy, d.policy_id) if d.policy_id else None
    return (
        await may_hold(session, actor, d)
        or await may_supervise(session, actor, d)
        or actor.user_id in await approvers(session, settings, d, policy)
    )


# ---- notifications -----------------------------------------------------------------------


def due_text(d: Deadline) -> str:
    """The due date or instant as people read it: ``2026-09-30 24:00`` for a clock counted in days
    (Asia/Shanghai date), ``2026-11-30 01:09（北京时间）`` for one counted in hours (the UTC instant
    shown in Asia/Shanghai time, to the minute), ``—`` while paused."""
    if d.due_on is not None:
        return f"{d.due_on.isoformat()} 24:00"
    if d.due_at is not None:
        return f"{d.due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}（北京时间）"
    return "—"


def messages_for(
    d: Deadline,
    user_ids: Sequence[int],
    kind: NotificationKind,
    title: str,
    body: str = "",
    *,
    actor_id: int | None = None,
    extra: dict | None = None,
) -> list[Message]:
    payload = {
        "deadlineId": d.id,
        "subjectType": d.subject_type,
        "subjectId": d.subject_id,
        "dueOn": d.due_on.isoformat() if d.due_on else None,
        **(extra or {}),
    }
    return [
        Message(
            user_id=uid,
            kind=kind.value,
            title=title[:300],
            body=body[:1000],
            subject_type=SUBJECT_TYPES.get(d.subject_type, d.subject_type),
            subject_id=d.subject_id,
            actor_id=actor_id,
            payload=payload,
            priority=NotificationPriority.URGENT.value
            if kind in URGENT_DEADLINE_KINDS
            else NotificationPriority.NORMAL.value,
        )
        for uid in dict.fromkeys(user_ids)
        if uid != actor_id
    ]


async def send(uow: UnitOfWork, broker: Publisher, messages: list[Message]) -> None:
    """Store and publish ``messages`` (:func:`messaging.outbox.notify`), after pointing those about
    a supervision unit's clock (subject ``supervision_unit``) at what clients open: subject
    ``SupervisionItem`` with the item's id; the payload keeps ``subjectType``/``subjectId`` of the
    clock (the unit assignment) and gains ``supervisionItemId``. One query at most."""
    ours = [m for m in messages if m.payload.get("subjectType") == "supervision_unit"]
    if ours:
        from documents.supervision_models import SupervisionUnit  # documents builds on this module

        wanted = {m.payload["subjectId"] for m in ours}
        rows = await uow.session.execute(
            select(SupervisionUnit.id, SupervisionUnit.item_id).where(SupervisionUnit.id.in_(wanted))
        )
        item_of = dict(rows.all())
        for m in ours:
            item_id = item_of.get(m.payload["subjectId"])
            if item_id is not None:
                m.subject_type, m.subject_id = "SupervisionItem", item_id
                m.payload = {**m.payload, "supervisionItemId": item_id}
    await notify(uow, broker, messages)


# ---- the daily sweep ---------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    """How many clocks got each card in one sweep (0s on a non-working day)."""

    yellow: int = 0
    red: int = 0
    escalated: int = 0


async def sweep(uow: UnitOfWork, broker: Publisher, now: dt.datetime, cal: WorkCalendar | None = None) -> SweepResult:
    """Send the reminder cards due at ``now`` (see the module docstring); nothing on a day that is
    not a working day. Locks the clocks it stamps (PostgreSQL), so an extension approved at the
    same time is not overwritten. Returns the counts."""
    session = uow.session
    cal = cal or await load_calendar(session)
    today = local_date(now)
    if not cal.is_workday(today):
        return SweepResult()
    # The furthest a yellow card may come: the largest yellow_before of any policy (1 by default).
    widest = (await session.execute(select(func.max(SlaPolicy.yellow_before)))).scalar_one_or_none()
    horizon = cal.add_working_days(today, min(max(widest or 0, DEFAULT_YELLOW_BEFORE), MAX_YELLOW_BEFORE)).on
    q = (
        select(Deadline)
        .where(
            Deadline.status == DeadlineStatus.RUNNING.value,
            Deadline.due_on.is_not(None),
            Deadline.due_on <= horizon,
            or_(
                and_(Deadline.yellow_at.is_(None), Deadline.due_on >= today),
                Deadline.red_at.is_(None),
                Deadline.escalated_at.is_(None),
            ),
        )
        .order_by(Deadline.id)
        .with_for_update()
    )
    clocks = list((await session.execute(q)).scalars())
    policy_ids = {d.policy_id for d in clocks if d.policy_id}
    policies = (
        {p.id: p for p in (await session.execute(select(SlaPolicy).where(SlaPolicy.id.in_(policy_ids)))).scalars()}
        if policy_ids
        else {}
    )
    people = await People.load(session, clocks)
    messages: list[Message] = []
    yellow = red = escalated = 0
    for d in clocks:
        assert d.due_on is not None
        policy = policies.get(d.policy_id) if d.policy_id else None
        yellow_before = policy.yellow_before if policy else DEFAULT_YELLOW_BEFORE
        escalate_after = policy.escalate_after if policy else DEFAULT_ESCALATE_AFTER
        left = cal.working_days_left(d.due_on, today)
        passed = d.due_at is not None and now >= d.due_at
        if not passed and d.yellow_at is None and left <= yellow_before:
            d.yellow_at = now
            yellow += 1
            when = "今日" if left <= 0 else f"还剩 {left} 个工作日，"
            messages += messages_for(
                d,
                people.card_holders(d),
                NotificationKind.DEADLINE_YELLOW,
                f"黄牌提醒：办理期限{when}{due_text(d)} 到期",
                "请抓紧办理；确需延期的，请在期限届满前申请。",
                extra={"workingDaysLeft": left},
            )
        if passed and d.red_at is None:
            d.red_at = now
            red += 1
            recipients = people.card_holders(d)
            if d.assigner_user_id is not None:
                recipients.append(d.assigner_user_id)
            messages += messages_for(
                d,
                recipients,
                NotificationKind.DEADLINE_RED,
                f"红牌警告：已超过办理期限（{due_text(d)} 到期）",
                "事项已超期，请立即办理并说明情况。",
                extra={"workingDaysLeft": left},
            )
        if passed and d.escalated_at is None and -left > escalate_after:
            d.escalated_at = now
            escalated += 1
            head = people.escalation_to(d)
            messages += messages_for(
                d,
                [head] if head is not None else [],
                NotificationKind.DEADLINE_ESCALATED,
                f"超期督办：事项已超期 {-left} 个工作日（{due_text(d)} 到期）",
                "事项超期未办结，请督促办理。",
                extra={"workingDaysLeft": left},
            )
    await session.flush()
    await send(uow, broker, messages)
    return SweepResult(yellow, red, escalated)


@scheduler.daily(SWEEP_KIND, at=dt.time(9, 0))
async def _daily_sweep(uow: UnitOfWork, ctx: scheduler.JobContext, job: scheduler.Job) -> None:
    """The 09:00 reminder sweep (one run per local date, whichever server process claims it)."""
    await sweep(uow, ctx.broker, ctx.now)


# ---- clocks counted in hours ----------------------------------------------------------------

HOURS_KIND = "deadline.hours"
#: How often clocks counted in hours are checked for their red card (seconds).
HOURS_CHECK_SECONDS = 300


async def sweep_hours(uow: UnitOfWork, broker: Publisher, now: dt.datetime) -> int:
    """The red card of every running clock counted in ``hours`` (e.g. an extra-urgent task: 24
    hours) whose due instant has passed, to the holder and the assigner, once (``red_at``); on
    any day, working or not, since such limits run round the clock. Returns how many."""
    session = uow.session
    q = (
        select(Deadline)
        .where(
            Deadline.status == DeadlineStatus.RUNNING.value,
            Deadline.unit == TimeUnit.HOURS.value,
            Deadline.due_at <= now,
            Deadline.red_at.is_(None),
        )
        .order_by(Deadline.id)
        .with_for_update()
    )
    clocks = list((await session.execute(q)).scalars())
    people = await People.load(session, clocks)
    messages: list[Message] = []
    for d in clocks:
        d.red_at = now
        recipients = people.card_holders(d) + ([d.assigner_user_id] if d.assigner_user_id is not None else [])
        messages += messages_for(
            d,
            recipients,
            NotificationKind.DEADLINE_RED,
            f"红牌警告：已超过办理时限（{due_text(d)} 到期）",
            "事项已超时，请立即办理并说明情况。",
        )
    await session.flush()
    await send(uow, broker, messages)
    return len(clocks)


@scheduler.every(HOURS_KIND, seconds=HOURS_CHECK_SECONDS)
async def _hours_sweep(uow: UnitOfWork, ctx: scheduler.JobContext, job: scheduler.Job) -> None:
    """Every 5 minutes: red cards of clocks counted in hours (at most 5 minutes late)."""
    await sweep_hours(uow, ctx.broker, ctx.now)


# ---- urge (催办) --------------------------------------------------------------------------


async def clock_of(session: AsyncSession, deadline_id: int, *, lock: bool = True) -> Deadline:
    q = select(Deadline).where(Deadline.id == deadline_id)
    if lock:
        q = q.with_for_update()
    d = (await session.execute(q)).scalar_one_or_none()
    if d is None:
        raise DomainError(ErrorCode.NOT_FOUND, "deadlineId")
    return d


async def open_clock_for(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    deadline_id: int,
    allowed: Callable[[AsyncSession, Actor, Deadline], Awaitable[bool]],
) -> Deadline:
    """The clock ``deadline_id``, locked, for an action ``allowed`` to ``actor`` on an open clock.

    ``NOT_FOUND`` on ``deadlineId`` when there is none or ``actor`` may not see it; ``FORBIDDEN``
    when they see it but ``allowed`` says no; ``DEADLINE_CLOSED`` when it is closed.
    """
    d = await clock_of(session, deadline_id)
    if not await allowed(session, actor, d):
        visible = await involved(session, settings, actor, d)
        raise DomainError(ErrorCode.FORBIDDEN if visible else ErrorCode.NOT_FOUND, "deadlineId")
    if not d.is_open:
        raise DomainError(ErrorCode.DEADLINE_CLOSED, "deadlineId", detail=d.status)
    return d


def clean_text(value: str | None, field: str, limit: int, *, required: bool = True) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise DomainError(ErrorCode.REQUIRED, field)
        return None
    if len(text) > limit:
        raise DomainError(ErrorCode.TOO_LONG, field, limit=limit)
    return text


async def urge(
    uow: UnitOfWork,
    broker: Publisher,
    settings: Settings,
    actor: Actor,
    deadline_id: int,
    message: str,
    now: dt.datetime,
) -> DeadlineUrge:
    """催办: tell the holder to hurry, with ``message`` (1–500 characters), and keep a record.

    Allowed to the assigner and to leaders over the holder unit (:func:`may_supervise`), except
    to a holder: nobody urges himself.
    The holders (:meth:`People.holders`) get ``DEADLINE_URGED``.
    Errors: ``NOT_FOUND`` (no such clock, or one the actor has nothing to do with),
    ``FORBIDDEN`` (involved but not a supervisor; or one of those the urge would go to, e.g. a
    deputy head urging a task he holds himself), ``DEADLINE_CLOSED`` (the
    item is closed or cancelled: nothing to urge), ``REQUIRED`` / ``TOO_LONG`` on ``message``,
    ``NO_ASSIGNEE`` on ``deadlineId`` (nobody holds it: no holder user, and the holder unit has
    no clerk, head or deputy head), nothing recorded then.
    """
    session = uow.session
    d = await open_clock_for(session, settings, actor, deadline_id, may_supervise)
    text = clean_text(message, "message", MESSAGE_MAX)
    assert text is not None
    recipients = await holders(session, d)
    if actor.user_id in recipients:
        raise DomainError(ErrorCode.FORBIDDEN, "deadlineId", detail="the holder cannot urge himself")
    if not recipients:
        raise DomainError(ErrorCode.NO_ASSIGNEE, "deadlineId", detail="nobody holds this item to be urged")
    row = DeadlineUrge(deadline_id=d.id, urged_by_id=actor.user_id, message=text, created_at=now)
    session.add(row)
    await session.flush()
    await send(
        uow,
        broker,
        messages_for(
            d,
            recipients,
            NotificationKind.DEADLINE_URGED,
            f"催办：{actor.display_name} 催促办理（{due_text(d)} 到期）",
            text,
            actor_id=actor.user_id,
            extra={"urgeId": row.id},
        ),
    )
    return row

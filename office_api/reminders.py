"""Reminders, escalation, urging (催办) and extension requests (延期) on the deadline clock.

Sources: DOMAIN §5.2 (Shandong provincial complaint line: a yellow card when 1 working day is
left, a red card on the first working day past the deadline, a supervision order after that)
and §5.3 (chasing practice: extensions are requested *before* the deadline, with a reason,
and approved by the assigning body).

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

Each stage is sent once per clock (``yellow_at`` / ``red_at`` / ``escalated_at``; an extension
or a recomputed due date clears them). "The holder" is the holder user, or, when only a unit
holds the clock, that unit's clerks (文书, duty ``clerk``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, Integer, String, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api import scheduler
from office_api.config import Settings
from office_api.db import Base, UnitOfWork, UTCDateTime, utcnow
from office_api.deadlines import Deadline, DeadlineStatus, extend_clock
from office_api.errors import DomainError, ErrorCode
from office_api.org.duties import duty_holders_of_units
from office_api.org.models import Duty, OrgUnit, Position
from office_api.org.permissions import Actor
from office_api.sla import MAX_LIMIT, ExtensionApprover, SlaPolicy, TimeUnit
from office_api.workdays import WorkCalendar, load_calendar, local_date

#: Defaults of clocks without a policy (the same as the seeded policies').
DEFAULT_YELLOW_BEFORE, DEFAULT_ESCALATE_AFTER = 1, 3
#: The most working days a yellow card may come before the due date (sla.validate_policy).
MAX_YELLOW_BEFORE = 30
MESSAGE_MAX, REASON_MAX, NOTE_MAX = 500, 500, 500
SWEEP_KIND = "deadline.reminders"
#: Notification subject type of each clock subject type (clients open the subject).
SUBJECT_TYPES = {
    "document": "Document",
    "task": "Task",
    "incoming": "IncomingDocument",
    "supervision": "SupervisionItem",
    "supervision_unit": "SupervisionUnit",
}


class ExtensionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class DeadlineUrge(Base):
    """One urge (催办) of a clock: who, when, with what message (kept for the record)."""

    __tablename__ = "deadline_urges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"), index=True)
    urged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    message: Mapped[str] = mapped_column(String(MESSAGE_MAX))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExtensionRequest(Base):
    """A holder's request for more working days (延期申请) and its decision.

    ``due_on_before`` is the due date when requested; ``due_on_after`` the due date the
    approval gave (null until approved).
    """

    __tablename__ = "extension_requests"
    __table_args__ = (Index("ix_extension_requests_deadline_status", "deadline_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    working_days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(REASON_MAX))
    status: Mapped[str] = mapped_column(String(12), default=ExtensionStatus.PENDING.value)
    due_on_before: Mapped[dt.date | None] = mapped_column(Date)
    due_on_after: Mapped[dt.date | None] = mapped_column(Date)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---- who is who for a clock --------------------------------------------------------------


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
        """Who holds the clock: the holder user, else the clerks (文书) of the holder unit."""
        if d.holder_user_id is not None:
            return [d.holder_user_id]
        if d.holder_unit_id is not None:
            return self._with_duty(d.holder_unit_id, Duty.CLERK)
        return []

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
    """Who holds the clock: the holder user, else the clerks (文书) of the holder unit."""
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


async def _involved(session: AsyncSession, settings: Settings, actor: Actor, d: Deadline) -> bool:
    """Whether ``actor`` may see the clock's urges and extension requests at all."""
    policy = await session.get(SlaPolicy, d.policy_id) if d.policy_id else None
    return (
        await may_hold(session, actor, d)
        or await may_supervise(session, actor, d)
        or actor.user_id in await approvers(session, settings, d, policy)
    )


# ---- notifications -----------------------------------------------------------------------


def _due_text(d: Deadline) -> str:
    if d.due_on is not None:
        return f"{d.due_on.isoformat()} 24:00"
    if d.due_at is not None:
        return d.due_at.isoformat()
    return "—"


def _messages(
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
        )
        for uid in dict.fromkeys(user_ids)
        if uid != actor_id
    ]


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
            messages += _messages(
                d,
                people.holders(d),
                NotificationKind.DEADLINE_YELLOW,
                f"黄牌提醒：办理期限{when}{_due_text(d)} 到期",
                "请抓紧办理；确需延期的，请在期限届满前申请。",
                extra={"workingDaysLeft": left},
            )
        if passed and d.red_at is None:
            d.red_at = now
            red += 1
            recipients = people.holders(d)
            if d.assigner_user_id is not None:
                recipients.append(d.assigner_user_id)
            messages += _messages(
                d,
                recipients,
                NotificationKind.DEADLINE_RED,
                f"红牌警告：已超过办理期限（{_due_text(d)} 到期）",
                "事项已超期，请立即办理并说明情况。",
                extra={"workingDaysLeft": left},
            )
        if passed and d.escalated_at is None and -left > escalate_after:
            d.escalated_at = now
            escalated += 1
            head = people.head(d)
            messages += _messages(
                d,
                [head] if head is not None else [],
                NotificationKind.DEADLINE_ESCALATED,
                f"超期督办：事项已超期 {-left} 个工作日（{_due_text(d)} 到期）",
                "事项超期未办结，请督促办理。",
                extra={"workingDaysLeft": left},
            )
    await session.flush()
    await notify(uow, broker, messages)
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
        recipients = people.holders(d) + ([d.assigner_user_id] if d.assigner_user_id is not None else [])
        messages += _messages(
            d,
            recipients,
            NotificationKind.DEADLINE_RED,
            f"红牌警告：已超过办理时限（{_due_text(d)} 到期）",
            "事项已超时，请立即办理并说明情况。",
        )
    await session.flush()
    await notify(uow, broker, messages)
    return len(clocks)


@scheduler.every(HOURS_KIND, seconds=HOURS_CHECK_SECONDS)
async def _hours_sweep(uow: UnitOfWork, ctx: scheduler.JobContext, job: scheduler.Job) -> None:
    """Every 5 minutes: red cards of clocks counted in hours (at most 5 minutes late)."""
    await sweep_hours(uow, ctx.broker, ctx.now)


# ---- urge (催办) --------------------------------------------------------------------------


async def _clock(session: AsyncSession, deadline_id: int, *, lock: bool = True) -> Deadline:
    q = select(Deadline).where(Deadline.id == deadline_id)
    if lock:
        q = q.with_for_update()
    d = (await session.execute(q)).scalar_one_or_none()
    if d is None:
        raise DomainError(ErrorCode.NOT_FOUND, "deadlineId")
    return d


def _text(value: str | None, field: str, limit: int, *, required: bool = True) -> str | None:
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

    Allowed to the assigner and to leaders over the holder unit (:func:`may_supervise`).
    Errors: ``NOT_FOUND`` (no such clock, or one the actor has nothing to do with),
    ``FORBIDDEN`` (involved but not a supervisor, e.g. the holder), ``DEADLINE_CLOSED`` (the
    item is closed or cancelled: nothing to urge), ``REQUIRED`` / ``TOO_LONG`` on ``message``.
    """
    session = uow.session
    d = await _clock(session, deadline_id)
    if not await may_supervise(session, actor, d):
        visible = await _involved(session, settings, actor, d)
        raise DomainError(ErrorCode.FORBIDDEN if visible else ErrorCode.NOT_FOUND, "deadlineId")
    if not d.is_open:
        raise DomainError(ErrorCode.DEADLINE_CLOSED, "deadlineId", detail=d.status)
    text = _text(message, "message", MESSAGE_MAX)
    assert text is not None
    row = DeadlineUrge(deadline_id=d.id, urged_by_id=actor.user_id, message=text, created_at=now)
    session.add(row)
    await session.flush()
    await notify(
        uow,
        broker,
        _messages(
            d,
            await holders(session, d),
            NotificationKind.DEADLINE_URGED,
            f"催办：{actor.display_name} 催促办理（{_due_text(d)} 到期）",
            text,
            actor_id=actor.user_id,
            extra={"urgeId": row.id},
        ),
    )
    return row


# ---- extension requests (延期申请) ----------------------------------------------------------


def _granted_left(d: Deadline, policy: SlaPolicy | None) -> int:
    """Working days still grantable: the policy's ``extension_limit`` minus what was granted
    (without a policy: up to the absurd-limit cap)."""
    cap = policy.extension_limit if policy else MAX_LIMIT[TimeUnit.WORKING_DAYS]
    return max(0, cap - d.extension)


async def request_extension(
    uow: UnitOfWork,
    broker: Publisher,
    settings: Settings,
    actor: Actor,
    deadline_id: int,
    working_days: int,
    reason: str,
    now: dt.datetime,
) -> ExtensionRequest:
    """The holder asks for ``working_days`` more working days, with a ``reason`` (1–500 characters).

    Rules (DOMAIN §5.2, §5.3): only the holder (:func:`may_hold`); only while the clock is open
    and before its due instant (``EXTENSION_AFTER_DEADLINE``); a clock counted in working days
    (``INVALID_VALUE`` on ``deadlineId`` for hours or calendar days); 1 ≤ ``working_days`` ≤ the
    policy's ``extension_limit`` minus what was granted (``EXTENSION_OVER_LIMIT`` naming what is
    left); one pending request at a time (``INVALID_STATE``); someone must be able to decide
    (``NO_ASSIGNEE``). The approvers (:func:`approvers`) get ``EXTENSION_REQUESTED``.
    Errors otherwise: ``NOT_FOUND``, ``FORBIDDEN``, ``DEADLINE_CLOSED``, ``REQUIRED`` /
    ``TOO_LONG`` on ``reason``.
    """
    session = uow.session
    d = await _clock(session, deadline_id)
    if not await may_hold(session, actor, d):
        visible = await _involved(session, settings, actor, d)
        raise DomainError(ErrorCode.FORBIDDEN if visible else ErrorCode.NOT_FOUND, "deadlineId")
    if not d.is_open:
        raise DomainError(ErrorCode.DEADLINE_CLOSED, "deadlineId", detail=d.status)
    if d.unit != TimeUnit.WORKING_DAYS.value:
        raise DomainError(ErrorCode.INVALID_VALUE, "deadlineId", detail=f"only working-day limits extend; {d.unit}")
    if d.due_at is not None and now >= d.due_at:
        raise DomainError(ErrorCode.EXTENSION_AFTER_DEADLINE, "deadlineId", due=_due_text(d))
    policy = await session.get(SlaPolicy, d.policy_id) if d.policy_id else None
    left = _granted_left(d, policy)
    if working_days < 1:
        raise DomainError(ErrorCode.INVALID_VALUE, "workingDays", detail="at least 1 working day")
    if working_days > left:
        raise DomainError(ErrorCode.EXTENSION_OVER_LIMIT, "workingDays", left=left)
    text = _text(reason, "reason", REASON_MAX)
    assert text is not None
    pending = (
        await session.execute(
            select(ExtensionRequest.id).where(
                ExtensionRequest.deadline_id == d.id, ExtensionRequest.status == ExtensionStatus.PENDING.value
            )
        )
    ).first()
    if pending is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "deadlineId", detail="an extension request is already pending")
    deciders = await approvers(session, settings, d, policy)
    if not deciders:
        raise DomainError(ErrorCode.NO_ASSIGNEE, "deadlineId", detail="nobody may approve an extension of this item")
    row = ExtensionRequest(
        deadline_id=d.id,
        requested_by_id=actor.user_id,
        working_days=working_days,
        reason=text,
        status=ExtensionStatus.PENDING.value,
        due_on_before=d.due_on,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await notify(
        uow,
        broker,
        _messages(
            d,
            deciders,
            NotificationKind.EXTENSION_REQUESTED,
            f"延期申请：{actor.display_name} 申请延期 {working_days} 个工作日（原定 {_due_text(d)} 到期）",
            text,
            actor_id=actor.user_id,
            extra={"extensionRequestId": row.id, "workingDays": working_days},
        ),
    )
    return row


async def decide_extension(
    uow: UnitOfWork,
    broker: Publisher,
    settings: Settings,
    actor: Actor,
    request_id: int,
    approve: bool,
    note: str | None,
    now: dt.datetime,
) -> tuple[ExtensionRequest, Deadline]:
    """Approve or refuse a pending extension request, with an optional ``note`` (≤ 500 characters).

    Only an approver of the clock (:func:`approvers`, evaluated now) decides. Approval adds the
    working days to the clock (``deadlines.extend_clock``: the due date moves by that many
    working days and the reminder cards start over); a request made in time may be approved
    after the due date passed (the holder is not penalized for a slow decision). The
    requester gets ``EXTENSION_APPROVED`` or ``EXTENSION_REFUSED``; on approval the assigner
    too. Errors: ``NOT_FOUND`` on ``requestId``, ``FORBIDDEN``, ``INVALID_STATE`` (already
    decided), ``DEADLINE_CLOSED``, ``EXTENSION_OVER_LIMIT`` (another grant used the room),
    ``TOO_LONG`` on ``note``.
    """
    session = uow.session
    req = (
        await session.execute(select(ExtensionRequest).where(ExtensionRequest.id == request_id).with_for_update())
    ).scalar_one_or_none()
    if req is None:
        raise DomainError(ErrorCode.NOT_FOUND, "requestId")
    d = await _clock(session, req.deadline_id)
    policy = await session.get(SlaPolicy, d.policy_id) if d.policy_id else None
    if actor.user_id not in await approvers(session, settings, d, policy):
        visible = await _involved(session, settings, actor, d)
        raise DomainError(ErrorCode.FORBIDDEN if visible else ErrorCode.NOT_FOUND, "requestId")
    if req.status != ExtensionStatus.PENDING.value:
        raise DomainError(ErrorCode.INVALID_STATE, "requestId", detail=f"already {req.status}")
    text = _text(note, "note", NOTE_MAX, required=False)
    if approve:
        if not d.is_open:
            raise DomainError(ErrorCode.DEADLINE_CLOSED, "requestId", detail=d.status)
        left = _granted_left(d, policy)
        if req.working_days > left:
            raise DomainError(ErrorCode.EXTENSION_OVER_LIMIT, "requestId", left=left)
        cal = await load_calendar(session)
        await extend_clock(uow, cal, d, req.working_days)
        req.due_on_after = d.due_on
    req.status = (ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED).value
    req.decided_by_id, req.decided_at, req.note = actor.user_id, now, text
    await session.flush()
    if approve:
        title = f"延期已批准：延期 {req.working_days} 个工作日，{_due_text(d)} 到期"
        recipients = [req.requested_by_id, *([d.assigner_user_id] if d.assigner_user_id else [])]
        kind = NotificationKind.EXTENSION_APPROVED
    else:
        title = f"延期未批准：仍于 {_due_text(d)} 到期"
        recipients = [req.requested_by_id]
        kind = NotificationKind.EXTENSION_REFUSED
    await notify(
        uow,
        broker,
        _messages(
            d,
            recipients,
            kind,
            title,
            text or "",
            actor_id=actor.user_id,
            extra={"extensionRequestId": req.id, "workingDays": req.working_days},
        ),
    )
    return req, d


async def extension_requests(
    session: AsyncSession, settings: Settings, actor: Actor, deadline_id: int
) -> list[ExtensionRequest]:
    """The extension requests of a clock, oldest first, for anyone involved in it (holder,
    supervisor, approver); ``NOT_FOUND`` otherwise."""
    d = await _clock(session, deadline_id, lock=False)
    if not await _involved(session, settings, actor, d):
        raise DomainError(ErrorCode.NOT_FOUND, "deadlineId")
    rows = await session.execute(
        select(ExtensionRequest).where(ExtensionRequest.deadline_id == d.id).order_by(ExtensionRequest.id)
    )
    return list(rows.scalars())

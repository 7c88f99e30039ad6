"""The deadline clock: one row per thing that has a due date (办理时限).

A task, a document's whole processing, an incoming document's handling or a supervision item
gets a :class:`Deadline` (``subject_type``, ``subject_id``) when its clock starts. The row keeps
what the due date is counted from (``base_on`` / ``base_at``) and how many units are left from
there (``remaining``), so that:

* a pause (e.g. a document returned to its drafter, when the policy says so) keeps the working
  days already used, and the resume moves the due date by the paused working days;
* an extension adds units to the same count;
* a provisional due date (one that crossed a year with no official arrangement) is recomputed
  when that year is loaded, and so is every due date counted across a year that is reloaded
  (:func:`recompute`, called by ``workdays.load_year``).

The due instant is 24:00 Asia/Shanghai on the due date (Civil Code Art. 203); ``hours`` limits
are exact instants. Instants are UTC; dates are Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UnitOfWork, UTCDateTime
from office_api.errors import DomainError, ErrorCode
from office_api.sla import MAX_LIMIT, SlaPolicy, TimeUnit
from office_api.workdays import DueDate, WorkCalendar, local_date


class DeadlineStatus(StrEnum):
    """``running`` and ``paused`` are open; ``met``, ``missed`` and ``cancelled`` are closed."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    MISSED = "missed"
    CANCELLED = "cancelled"


OPEN_STATUSES = (DeadlineStatus.RUNNING.value, DeadlineStatus.PAUSED.value)
#: The furthest a chosen due date may lie ahead (about 1,000 working days).
MAX_AHEAD_DAYS = 1500


class Deadline(Base):
    """The clock of one subject. See the module docstring for how the due date is kept."""

    __tablename__ = "deadlines"
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id"),
        Index("ix_deadlines_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[int] = mapped_column(Integer)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id"))
    unit: Mapped[str] = mapped_column(String(16))
    limit: Mapped[int] = mapped_column(Integer)
    #: Units granted by approved extensions so far.
    extension: Mapped[int] = mapped_column(Integer, default=0)
    count_start_day: Mapped[bool] = mapped_column(Boolean, default=False)
    #: A due date a person chose (not counted from a limit): kept as chosen, never provisional.
    explicit: Mapped[bool] = mapped_column(Boolean, default=False)
    holder_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    holder_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    assigner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    base_on: Mapped[dt.date | None] = mapped_column(Date)
    base_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    remaining: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default=DeadlineStatus.RUNNING.value)
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    pause_reason: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    yellow_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    red_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def _compute(cal: WorkCalendar, d: Deadline) -> None:
    """Set ``due_on``/``due_at``/``provisional`` from ``base_*`` and ``remaining``."""
    if d.unit == TimeUnit.HOURS.value:
        assert d.base_at is not None
        d.due_on, d.due_at, d.provisional = None, d.base_at + dt.timedelta(hours=d.remaining), False
        return
    assert d.base_on is not None
    if d.unit == TimeUnit.CALENDAR_DAYS.value:
        due = cal.add_calendar_days(d.base_on, d.remaining)
    else:
        due = cal.add_working_days(d.base_on, d.remaining, count_start_day=d.count_start_day)
    d.due_on, d.due_at, d.provisional = due.on, due.at, due.provisional


def _check_limit(unit: str, limit: int, field: str = "limit") -> None:
    cap = MAX_LIMIT[TimeUnit(unit)]
    if not 0 <= limit <= cap:
        raise DomainError(ErrorCode.INVALID_VALUE, field, detail=f"between 0 and {cap} {unit}")


async def deadline_of(
    session: AsyncSession, subject_type: str, subject_id: int, *, lock: bool = False
) -> Deadline | None:
    """The clock of one subject, or None. ``lock`` takes a row lock (PostgreSQL) for a read-modify-write."""
    q = select(Deadline).where(Deadline.subject_type == subject_type, Deadline.subject_id == subject_id)
    if lock:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def deadlines_for(session: AsyncSession, subject_type: str, ids: Iterable[int]) -> dict[int, Deadline]:
    """The clocks of many subjects of one type, by subject id (for DataLoaders)."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    q = select(Deadline).where(Deadline.subject_type == subject_type, Deadline.subject_id.in_(wanted))
    return {d.subject_id: d for d in (await session.execute(q)).scalars()}


async def start_clock(
    uow: UnitOfWork,
    cal: WorkCalendar,
    *,
    subject_type: str,
    subject_id: int,
    started_at: dt.datetime,
    policy: SlaPolicy | None = None,
    limit: int | None = None,
    unit: str | None = None,
    due_on: dt.date | None = None,
    count_start_day: bool = False,
    holder_user_id: int | None = None,
    holder_unit_id: int | None = None,
    assigner_user_id: int | None = None,
) -> Deadline:
    """Start (or restart) the clock of a subject and return it, flushed.

    The due date is, by priority: ``due_on`` (a date a person chose; refused with
    ``INVALID_VALUE`` on ``dueOn`` when before the start's local date or more than
    :data:`MAX_AHEAD_DAYS` ahead; a day off rolls forward to the next working day, Civil Code
    Art. 203); ``limit`` in ``unit``;
    the ``policy``'s limit and unit. Counting starts the day after ``started_at``'s local date
    (Civil Code Art. 201) unless ``count_start_day``. Raises ``INVALID_VALUE`` on ``limit`` for a
    negative or absurd limit. Restarting replaces the earlier row's count and reminder stages.
    """
    start_day = local_date(started_at)
    if due_on is not None:
        if due_on < start_day:
            raise DomainError(ErrorCode.INVALID_VALUE, "dueOn", detail=f"not before {start_day.isoformat()}")
        if (due_on - start_day).days > MAX_AHEAD_DAYS:
            raise DomainError(ErrorCode.INVALID_VALUE, "dueOn", detail=f"at most {MAX_AHEAD_DAYS} days ahead")
        if not cal.is_workday(due_on):  # Civil Code Art. 203: a period ending on a day off ends on the next working day
            due_on = cal.next_workday(due_on)
        unit = TimeUnit.WORKING_DAYS.value
        limit = cal.working_days_between(start_day, due_on)
    elif limit is None:
        if policy is None:
            raise ValueError("start_clock needs a due date, a limit or a policy")
        limit, unit = policy.limit, policy.unit
    unit = unit or (policy.unit if policy else TimeUnit.WORKING_DAYS.value)
    _check_limit(unit, limit)
    d = await deadline_of(uow.session, subject_type, subject_id, lock=True)
    if d is None:
        d = Deadline(subject_type=subject_type, subject_id=subject_id)
        uow.session.add(d)
    d.policy_id = policy.id if policy else None
    d.unit, d.limit, d.extension, d.remaining = unit, limit, 0, limit
    d.count_start_day, d.explicit = count_start_day, due_on is not None
    d.holder_user_id, d.holder_unit_id, d.assigner_user_id = holder_user_id, holder_unit_id, assigner_user_id
    d.started_at, d.base_on, d.base_at = started_at, start_day, started_at
    d.status, d.paused_at, d.pause_reason, d.closed_at = DeadlineStatus.RUNNING.value, None, None, None
    d.yellow_at = d.red_at = d.escalated_at = None
    if due_on is not None:
        d.due_on, d.due_at, d.provisional = due_on, DueDate(due_on, False).at, False
    else:
        _compute(cal, d)
    await uow.session.flush()
    return d


def _require_open(d: Deadline) -> None:
    if not d.is_open:
        raise DomainError(ErrorCode.DEADLINE_CLOSED, "deadlineId", detail=d.status)


def used_units(cal: WorkCalendar, d: Deadline, at: dt.datetime) -> int:
    """Units of the current count used between its base and ``at`` (the local day of ``at`` counts)."""
    if d.unit == TimeUnit.HOURS.value:
        assert d.base_at is not None
        return max(0, math.floor((at - d.base_at).total_seconds() / 3600))
    assert d.base_on is not None
    today = local_date(at)
    if d.unit == TimeUnit.CALENDAR_DAYS.value:
        return max(0, (today - d.base_on).days)
    first = d.base_on - dt.timedelta(days=1) if d.count_start_day else d.base_on
    return max(0, cal.working_days_between(first, today))


async def pause_clock(uow: UnitOfWork, cal: WorkCalendar, d: Deadline, at: dt.datetime, reason: str) -> bool:
    """Stop a running clock at ``at`` (e.g. ``returned_to_drafter``); False when it was not running.

    The units used so far are kept; the due date is unknown (null) until :func:`resume_clock`.
    """
    if d.status != DeadlineStatus.RUNNING.value:
        return False
    d.remaining = max(0, d.remaining - used_units(cal, d, at))
    d.status, d.paused_at, d.pause_reason = DeadlineStatus.PAUSED.value, at, reason[:40]
    d.due_on = d.due_at = None
    d.explicit = False
    await uow.session.flush()
    return True


async def resume_clock(uow: UnitOfWork, cal: WorkCalendar, d: Deadline, at: dt.datetime) -> bool:
    """Restart a paused clock at ``at`` with the units it had left; False when it was not paused.

    The resume day itself is not counted (as a start day, Civil Code Art. 201).
    """
    if d.status != DeadlineStatus.PAUSED.value:
        return False
    d.base_on, d.base_at, d.count_start_day = local_date(at), at, False
    d.status, d.paused_at, d.pause_reason = DeadlineStatus.RUNNING.value, None, None
    _compute(cal, d)
    await uow.session.flush()
    return True


async def extend_clock(uow: UnitOfWork, cal: WorkCalendar, d: Deadline, n: int) -> Deadline:
    """Move an open day-based clock's due date ``n`` working days later (an approved extension).

    Extensions are counted in working days whatever the clock counts: a calendar-day clock gets
    the calendar days that reach the same date. Raises ``DEADLINE_CLOSED`` on a closed clock,
    ``INVALID_STATE`` on a paused one,
    ``INVALID_VALUE`` on ``workingDays`` for n < 1 or an hours clock, ``EXTENSION_OVER_LIMIT`` on
    ``workingDays`` when the limit plus extensions would pass :data:`office_api.sla.MAX_LIMIT`.
    """
    _require_open(d)
    if d.status != DeadlineStatus.RUNNING.value:
        raise DomainError(ErrorCode.INVALID_STATE, "deadlineId", detail="the clock is stopped; extend it once it runs")
    if n < 1 or d.unit == TimeUnit.HOURS.value:
        raise DomainError(ErrorCode.INVALID_VALUE, "workingDays", detail="at least 1, on a clock counted in days")
    cap = MAX_LIMIT[TimeUnit(d.unit)]
    if d.limit + d.extension + n > cap:
        raise DomainError(ErrorCode.EXTENSION_OVER_LIMIT, "workingDays", left=max(0, cap - d.limit - d.extension))
    d.extension += n
    assert d.due_on is not None
    due = cal.add_working_days(d.due_on, n)
    if d.explicit:
        d.remaining += n
        d.due_on, d.due_at, d.provisional = due.on, due.at, due.provisional
        d.explicit = not due.provisional
    else:
        # A calendar-day count reaches the new date exactly (it is a working day, so no roll-forward).
        d.remaining = d.remaining + n if d.unit == TimeUnit.WORKING_DAYS.value else (due.on - d.base_on).days
        _compute(cal, d)
    d.yellow_at = d.red_at = d.escalated_at = None
    await uow.session.flush()
    return d


async def _lapse_requests(uow: UnitOfWork, d: Deadline, at: dt.datetime) -> None:
    """A closed clock's pending extension requests lapse (they can no longer be decided)."""
    from office_api.extensions import lapse_pending  # extensions builds on this module

    await lapse_pending(uow, d.id, at)


async def close_clock(uow: UnitOfWork, d: Deadline, at: dt.datetime) -> Deadline:
    """Close an open clock: ``met`` when ``at`` is before the due instant (or the clock was paused), else
    ``missed``; its pending extension requests lapse."""
    if not d.is_open:
        return d
    on_time = d.due_at is None or at < d.due_at
    d.status = DeadlineStatus.MET.value if on_time else DeadlineStatus.MISSED.value
    d.closed_at = at
    await uow.session.flush()
    await _lapse_requests(uow, d, at)
    return d


async def cancel_clock(uow: UnitOfWork, d: Deadline, at: dt.datetime) -> Deadline:
    """Close an open clock without a result (the task was cancelled, the item withdrawn); its pending
    extension requests lapse."""
    if d.is_open:
        d.status, d.closed_at = DeadlineStatus.CANCELLED.value, at
        await uow.session.flush()
        await _lapse_requests(uow, d, at)
    return d


async def recompute(uow: UnitOfWork, cal: WorkCalendar, year: int) -> int:
    """Recompute, with ``cal``, every running clock whose count touches ``year`` (just loaded or
    reloaded): those counted across it (due on or after Jan 1 and started on or before Dec 31)
    and every provisional one. Returns how many got a new due date or became exact.

    Called by ``workdays.load_year`` in the same transaction. Extensions are kept (they are part
    of ``remaining``); a due date a person chose (``explicit``) and hours clocks stay as they
    are; a changed date clears the reminder stages, so the cards follow the new date.
    """
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    q = (
        select(Deadline)
        .where(
            Deadline.status == DeadlineStatus.RUNNING.value,
            Deadline.unit != TimeUnit.HOURS.value,
            Deadline.explicit.is_(False),
            or_(Deadline.provisional.is_(True), and_(Deadline.due_on >= first, Deadline.base_on <= last)),
        )
        .order_by(Deadline.id)
        .with_for_update()
    )
    changed = 0
    for d in (await uow.session.execute(q)).scalars():
        before = (d.due_on, d.provisional)
        _compute(cal, d)
        if (d.due_on, d.provisional) != before:
            changed += 1
        if d.due_on != before[0]:
            d.yellow_at = d.red_at = d.escalated_at = None
    await uow.session.flush()
    return changed


def working_days_left(cal: WorkCalendar, d: Deadline, now: dt.datetime) -> int | None:
    """Working days from ``now``'s local date to the due date (see ``WorkCalendar.working_days_left``).

    None for a closed or paused clock and for an ``hours`` clock.
    """
    if not d.is_open or d.due_on is None:
        return None
    return cal.working_days_left(d.due_on, local_date(now))


def overdue(d: Deadline, now: dt.datetime) -> bool:
    """Whether an open clock's due instant has passed."""
    return d.is_open and d.due_at is not None and now >= d.due_at

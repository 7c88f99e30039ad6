"""Supervision dashboard (督办统计): counts, handling times and "3545" compliance, in SQL.

Every figure is an aggregate query over indexed columns; no item rows are loaded into Python.
The scope is the items whose **lead unit** (主办) is the unit, or lies in its subtree (the
org tree's materialized path, ``office_api.org.directory.subtree_of``: an indexed prefix).

* ``open``: items not closed (OPEN or RESULT_REPORTED), as of ``now``;
* ``overdue``: open items whose own clock (subject ``supervision``) is running and past its due
  instant (24:00 Asia/Shanghai on the due date);
* ``due_soon``: open items, not overdue, whose clock is running and due within the item's
  ``yellow_before`` working days: working days left (``WorkCalendar.working_days_left`` from
  today's Asia/Shanghai date) at most ``yellow_before``. Since that count grows with the due
  date, the test is ``due_on < the (yellow_before + 1)-th working day after today``, one date
  per ``yellow_before`` value (0–30), computed in Python and compared in SQL;
* ``closed``: items closed with an Asia/Shanghai close date in ``[closed_from, closed_to]``
  (either bound optional);
* ``average_handling_days`` / ``p90_handling_days``: over those closed items, of the handling
  time stored at closing (working days in ``(start_on, closed_on]``). The 90th percentile is
  the nearest-rank one: the smallest value with at least 90 % of the items at or below it
  (the ``ceil(0.9 n)``-th smallest; PostgreSQL's ``percentile_disc(0.9)``);
* ``compliance``: per "3545" matter type (business licence 3, real-estate registration 5,
  construction permit 45 working days; DOMAIN §5.1), of the closed items of that type in the
  date range, how many closed on time (before their clock's due instant) and the rate
  on time / closed (None when none closed).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import Date, Select, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from documents.supervision import ITEM
from documents.supervision_models import ItemState, SupervisionItem
from office_api.deadlines import Deadline, DeadlineStatus
from office_api.errors import DomainError, ErrorCode
from office_api.org.directory import is_sqlite, subtree_of
from office_api.org.models import OrgUnit
from office_api.workdays import WorkCalendar, local_date

#: The "3545" matter types, in the order of the slogan (DOMAIN §5.1).
MATTER_TYPES = ("business_licence", "real_estate_registration", "construction_permit")
OPEN_STATES = (ItemState.OPEN.value, ItemState.RESULT_REPORTED.value)
#: yellow_before is 0–30 working days (office_api.sla.validate_policy).
MAX_YELLOW_BEFORE = 30


@dataclass(frozen=True)
class MatterCompliance:
    """Closed items of one "3545" matter type in the range, and how many closed on time."""

    matter_type: str
    closed: int
    on_time: int

    @property
    def rate(self) -> float | None:
        """on_time / closed, 0.0–1.0; None when nothing closed."""
        return self.on_time / self.closed if self.closed else None


@dataclass(frozen=True)
class Dashboard:
    """The figures of one unit (or subtree); see the module docstring for each definition."""

    open: int
    due_soon: int
    overdue: int
    closed: int
    average_handling_days: float | None
    p90_handling_days: int | None
    compliance: list[MatterCompliance]


def _scoped(q: Select, session: AsyncSession, unit: OrgUnit, subtree: bool) -> Select:
    if subtree:
        return q.join(OrgUnit, OrgUnit.id == SupervisionItem.lead_unit_id).where(
            subtree_of(unit.path, is_sqlite(session))
        )
    return q.where(SupervisionItem.lead_unit_id == unit.id)


def check_range(closed_from: dt.date | None, closed_to: dt.date | None) -> None:
    """``INVALID_VALUE`` on ``closedTo`` when the range ends before it starts."""
    if closed_from is not None and closed_to is not None and closed_to < closed_from:
        raise DomainError(ErrorCode.INVALID_VALUE, "closedTo", detail=f"not before {closed_from.isoformat()}")


async def dashboard(
    session: AsyncSession,
    cal: WorkCalendar,
    unit: OrgUnit,
    *,
    subtree: bool,
    now: dt.datetime,
    closed_from: dt.date | None = None,
    closed_to: dt.date | None = None,
) -> Dashboard:
    """The dashboard of ``unit`` (with its subtree when ``subtree``) at ``now`` (UTC).

    Two aggregate queries: the open items with their clocks, and the closed items grouped by
    (handling days, matter type, on time), a histogram of at most a few hundred rows from which
    the count, mean, nearest-rank percentile and compliance rates are taken.
    ``closed_from``/``closed_to``: Asia/Shanghai dates, inclusive, of the
    close date for the closed count, handling times and compliance. Raises ``INVALID_VALUE``
    on ``closedTo`` for a reversed range. Permission is the caller's business
    (``documents.supervision.can_see_unit``).
    """
    check_range(closed_from, closed_to)
    today = local_date(now)
    clock = aliased(Deadline)
    item = SupervisionItem
    running = clock.status == DeadlineStatus.RUNNING.value
    soon_before = case(
        {k: literal(cal.add_working_days(today, k + 1).on, Date) for k in range(MAX_YELLOW_BEFORE + 1)},
        value=item.yellow_before,
    )

    def count(cond: object) -> object:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)  # type: ignore[arg-type]

    # Open items with their clocks (the clock is read only for them).
    q = (
        select(
            func.count(),
            count(and_(running, clock.due_at <= now)),
            count(and_(running, clock.due_at > now, clock.due_on < soon_before)),
        )
        .select_from(item)
        .outerjoin(clock, and_(clock.subject_type == ITEM, clock.subject_id == item.id))
        .where(item.state.in_(OPEN_STATES))
    )
    n_open, n_overdue, n_soon = (await session.execute(_scoped(q, session, unit, subtree))).one()
    # Closed items in the range, as a histogram of (handling days, matter type, on time): a few
    # hundred groups at most, from which the count, mean, percentile and rates follow.
    closed = item.state == ItemState.CLOSED.value
    if closed_from is not None:
        closed = and_(closed, item.closed_on >= closed_from)
    if closed_to is not None:
        closed = and_(closed, item.closed_on <= closed_to)
    hq = (
        select(item.handling_days, item.matter_type, item.on_time, func.count())
        .select_from(item)
        .where(closed)
        .group_by(item.handling_days, item.matter_type, item.on_time)
    )
    hist: dict[int, int] = {}
    groups: dict[str, list[int]] = {m: [0, 0] for m in MATTER_TYPES}
    for days, matter, on_time, n in await session.execute(_scoped(hq, session, unit, subtree)):
        hist[int(days or 0)] = hist.get(int(days or 0), 0) + int(n)
        if matter in groups:
            groups[matter][0] += int(n)
            groups[matter][1] += int(n) if on_time else 0
    n_closed = sum(hist.values())
    avg = sum(d * n for d, n in hist.items()) / n_closed if n_closed else None
    p90 = None
    if n_closed:
        rank, seen = math.ceil(0.9 * n_closed), 0
        for days in sorted(hist):
            seen += hist[days]
            if seen >= rank:
                p90 = days
                break
    return Dashboard(
        open=int(n_open),
        due_soon=int(n_soon),
        overdue=int(n_overdue),
        closed=int(n_closed),
        average_handling_days=avg,
        p90_handling_days=p90,
        compliance=[MatterCompliance(m, *groups[m]) for m in MATTER_TYPES],
    )

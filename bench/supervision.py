"""Benchmark of the supervision dashboard: ``python -m bench.supervision [options]``.

Generates a year (2026) of supervision items for the province: 100,000 items (``--scale``
shrinks it) led by random units below the 16 cities of a 20,000-unit tree, each with its item
clock and its lead unit's clock in ``deadlines``; 70 % closed (handling time 0–40 working days,
stored as at closing), 30 % of them "3545" matters. Then times, in the same run,
``documents.supervision_dashboard.dashboard`` (counts, average, p90 and 3545 compliance over
the year) for the province, a city and a county against a plain SQL ``count(*)`` of the same
items (the floor any dashboard pays), and, for a city, against loading the rows into Python
and counting there. Before timing, the figures of the SQL dashboard are checked against the
Python count. Each figure is the median of ``--repeat`` runs after one warm-up; the ratio is
baseline / ours (above 1 means ours is faster). See bench/README.md.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.__main__ import PG_ADMIN, Result, bulk_insert, format_results, fresh_database, generate, run_cli, timed
from documents import supervision_dashboard as board
from documents.supervision_models import SupervisionItem
from office_api.db import Database
from office_api.deadlines import Deadline
from office_api.org import directory
from office_api.org.models import OrgUnit
from office_api.workdays import SHANGHAI, WorkCalendar, end_of_day, local_date

FULL_ITEMS = 100_000
FULL_UNITS = 20_000
YEAR = 2026
#: The dashboard is read on the last working afternoon of the year.
NOW = dt.datetime(YEAR, 12, 31, 15, 0, tzinfo=SHANGHAI).astimezone(dt.UTC)
MATTERS = (("business_licence", 3), ("real_estate_registration", 5), ("construction_permit", 45))


def _workday_index(cal: WorkCalendar, year: int) -> tuple[list[dt.date], dict[dt.date, int]]:
    """The working days of ``year`` and the next, and for every day the number of working days
    up to and including it (so working days in (a, b] = index[b] - index[a])."""
    day, end = dt.date(year, 1, 1), dt.date(year + 1, 12, 31)
    workdays: list[dt.date] = []
    index: dict[dt.date, int] = {}
    count = 0
    while day <= end:
        if cal.is_workday(day):
            count += 1
            workdays.append(day)
        index[day] = count
        day += dt.timedelta(days=1)
    return workdays, index


async def seed_items(db: Database, n_items: int, n_users: int, seed: int = 5) -> dict[str, float]:
    """Bulk-load ``n_items`` items of 2026 and their clocks; returns seconds per phase."""
    rng = random.Random(seed)
    cal = WorkCalendar()
    workdays, index = _workday_index(cal, YEAR)
    year_days = [d for d in workdays if d.year == YEAR and d < local_date(NOW)]
    async with db.read() as s:
        leads = [r[0] for r in await s.execute(select(OrgUnit.id).where(OrgUnit.depth >= 1))]
    t0 = time.perf_counter()
    items, clocks = [], []
    for i in range(1, n_items + 1):
        start_on = rng.choice(year_days)
        created = dt.datetime.combine(start_on, dt.time(9 + i % 8), tzinfo=SHANGHAI).astimezone(dt.UTC)
        matter = MATTERS[i % 3] if rng.random() < 0.3 else None
        limit = matter[1] if matter else rng.choice((5, 10, 15, 20))
        due_on = workdays[index[start_on] + limit - 1]
        due_at = end_of_day(due_on)
        handling = max(0, round(rng.gauss(limit, limit / 2 + 2)))
        close_on = workdays[index[start_on] + handling - 1] if handling else start_on
        closed = rng.random() < 0.7 and close_on < local_date(NOW)
        closed_at = dt.datetime.combine(close_on, dt.time(16), tzinfo=SHANGHAI).astimezone(dt.UTC)
        on_time = closed_at < due_at
        items.append(
            {
                "id": i,
                "title": f"督办事项{i}",
                "source_type": "manual",
                "source_id": None,
                "instruction": "按期办结",
                "policy_id": None,
                "matter_type": matter[0] if matter else None,
                "yellow_before": 1,
                "report_every": None,
                "creator_id": 1 + i % n_users,
                "lead_unit_id": rng.choice(leads),
                "state": "closed" if closed else "open",
                "version": 1,
                "created_at": created,
                "start_on": start_on,
                "closed_at": closed_at if closed else None,
                "closed_on": close_on if closed else None,
                "handling_days": index[close_on] - index[start_on] if closed else None,
                "on_time": on_time if closed else None,
            }
        )
        status = ("met" if on_time else "missed") if closed else "running"
        for n, subject_type in enumerate(("supervision", "supervision_unit")):
            clocks.append(
                {
                    "id": 2 * i - 1 + n,
                    "subject_type": subject_type,
                    "subject_id": i,
                    "policy_id": None,
                    "unit": "working_days",
                    "limit": limit,
                    "extension": 0,
                    "count_start_day": False,
                    "explicit": False,
                    "holder_unit_id": items[-1]["lead_unit_id"],
                    "assigner_user_id": items[-1]["creator_id"],
                    "started_at": created,
                    "base_on": start_on,
                    "base_at": created,
                    "remaining": limit,
                    "due_on": due_on,
                    "due_at": due_at,
                    "provisional": False,
                    "status": status,
                    "closed_at": closed_at if closed else None,
                }
            )
    timings = {"prepare items": time.perf_counter() - t0}
    await bulk_insert(
        db, timings, [("insert items", SupervisionItem.__table__, items), ("insert clocks", Deadline.__table__, clocks)]
    )
    return timings


def _in_subtree(s: AsyncSession, unit: OrgUnit) -> Any:
    return (
        select(SupervisionItem)
        .join(OrgUnit, OrgUnit.id == SupervisionItem.lead_unit_id)
        .where(directory.subtree_of(unit.path, directory.is_sqlite(s)))
    )


async def plain_count(s: AsyncSession, unit: OrgUnit) -> int:
    """The baseline: ``count(*)`` of the items led in the subtree."""
    q = _in_subtree(s, unit).with_only_columns(func.count())
    return int((await s.execute(q)).scalar_one())


async def python_dashboard(s: AsyncSession, cal: WorkCalendar, unit: OrgUnit) -> tuple[Any, ...]:
    """The naive dashboard: load every item of the subtree with its clock, count in Python."""
    q = _in_subtree(s, unit).outerjoin(
        Deadline, and_(Deadline.subject_type == "supervision", Deadline.subject_id == SupervisionItem.id)
    )
    rows = (await s.execute(q.with_only_columns(SupervisionItem, Deadline))).all()
    today = local_date(NOW)
    soon = cal.add_working_days(today, 2).on
    n_open = n_overdue = n_soon = 0
    handling: list[int] = []
    for item, d in rows:
        if item.state != "closed":
            n_open += 1
            if d is not None and d.status == "running" and d.due_at is not None:
                if d.due_at <= NOW:
                    n_overdue += 1
                elif d.due_on is not None and d.due_on < soon:
                    n_soon += 1
        elif item.closed_on is not None and item.closed_on.year == YEAR:
            handling.append(item.handling_days)
    handling.sort()
    p90 = handling[math.ceil(0.9 * len(handling)) - 1] if handling else None
    avg = sum(handling) / len(handling) if handling else None
    return n_open, n_soon, n_overdue, len(handling), avg, p90


async def ours(s: AsyncSession, cal: WorkCalendar, unit: OrgUnit) -> board.Dashboard:
    return await board.dashboard(
        s, cal, unit, subtree=True, now=NOW, closed_from=dt.date(YEAR, 1, 1), closed_to=dt.date(YEAR, 12, 31)
    )


async def measure(db: Database, backend: str, repeat: int) -> list[Result]:
    cal = WorkCalendar()
    async with db.read() as s:
        province = (await s.execute(select(OrgUnit).where(OrgUnit.depth == 0).limit(1))).scalar_one()
        city = (await s.execute(select(OrgUnit).where(OrgUnit.depth == 1).order_by(OrgUnit.id).limit(1))).scalar()
        county = (await s.execute(select(OrgUnit).where(OrgUnit.depth == 2).order_by(OrgUnit.id).limit(1))).scalar()
        # The SQL figures equal the Python count (checked once, untimed).
        for unit in (province, city, county):
            if unit is None:
                continue
            d = await ours(s, cal, unit)
            got = (d.open, d.due_soon, d.overdue, d.closed, d.average_handling_days, d.p90_handling_days)
            want = await python_dashboard(s, cal, unit)
            if got[:4] != want[:4] or got[5] != want[5] or not math.isclose(got[4] or 0, want[4] or 0):
                raise AssertionError(f"dashboard of unit {unit.id}: SQL {got} != Python {want}")
    results: list[Result] = []
    for label, unit in (("province", province), ("city", city), ("county", county)):
        if unit is None:
            continue
        o_ms, d = await timed(db, lambda s, u=unit: ours(s, cal, u), repeat)
        b_ms, n = await timed(db, lambda s, u=unit: plain_count(s, u), repeat)
        assert d.open + d.closed <= n
        results.append(Result(backend, f"dashboard of a {label} vs count(*)", n, o_ms, b_ms))
        if label == "city":
            p_ms, _ = await timed(db, lambda s, u=unit: python_dashboard(s, cal, u), repeat)
            results.append(Result(backend, "dashboard of a city vs rows in Python", n, o_ms, p_ms))
    return results


async def run_backend(
    backend: str, scale: float, repeat: int, *, pg_admin: str = PG_ADMIN, keep: bool = False, out: Any = sys.stdout
) -> list[Result]:
    """Build the tree and a year of items at ``scale`` on a fresh ``backend`` database, measure, drop it."""
    n_units = max(60, int(FULL_UNITS * scale))
    n_items = max(300, int(FULL_ITEMS * scale))
    n_users = 100
    async with fresh_database(backend, pg_admin, keep) as db:
        print(f"[{backend}] generating {n_units:,} units and {n_items:,} items ...", file=out, flush=True)
        timings = await generate(db, n_units, n_users)
        timings.update(await seed_items(db, n_items, n_users))
        print(f"[{backend}] " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()), file=out, flush=True)
        return await measure(db, backend, repeat)


def main(argv: Sequence[str] | None = None) -> int:
    results = run_cli(
        argv,
        "python -m bench.supervision",
        __doc__.split("\n\n")[0],
        "1.0 = 100,000 items over 20,000 units",
        run_backend,
    )
    table = format_results(results).splitlines()[:-1]
    print(
        "\n".join(
            [*table, "ratio = baseline / ours; baselines: count(*) of the same items, or the rows counted in Python"]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

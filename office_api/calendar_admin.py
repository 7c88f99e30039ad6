"""Loading a year's holiday arrangement (节假日安排) by an administrator, and reading it back.

The State Council General Office publishes next year's arrangement each autumn; until an
administrator loads it, deadlines that reach into that year are counted with the statutory
holidays only and marked provisional (``office_api.workdays``). Loading goes through
:func:`load_arrangement` from GraphQL (``loadWorkCalendarYear``) and from the command line
(``office-api calendar load``); both are audited (``calendar.load``).

The arrangement file (``office_api/data/calendar-2026.json`` is the 2026 notice)::

    {"year": 2027, "source": "国办发明电〔2026〕N号",
     "holidays": ["2027-01-01", ...], "workdays": ["2027-02-06", ...]}
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from office_api import audit
from office_api.audit import Action
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.permissions import Actor, require_province_admin
from office_api.workdays import (
    MAX_YEAR,
    MIN_YEAR,
    CalendarDay,
    CalendarYear,
    WorkCalendar,
    YearSummary,
    load_calendar,
    load_year,
    parse_days,
    validate_year,
)

#: Longest ``source`` text (the ``calendar_years.source`` column).
MAX_SOURCE = 300
#: More days than a year has is refused before looking at each (366).
MAX_DAYS = 366


@dataclass(frozen=True)
class Arrangement:
    """One year's arrangement as an administrator supplies it."""

    year: int
    holidays: list[dt.date]
    workdays: list[dt.date]
    source: str = ""


@dataclass(frozen=True)
class YearInfo:
    """A year's summary plus who loaded it and when (null for a year not loaded)."""

    summary: YearSummary
    loaded_at: dt.datetime | None = None
    loaded_by_id: int | None = None
    source_text: str | None = None


def check_arrangement(arr: Arrangement) -> str:
    """Refuse a malformed arrangement, naming the field and the rule; returns the trimmed source.

    Rules: ``source`` (the notice it comes from) required (``REQUIRED``) and at most 300
    characters (``TOO_LONG``); at most 366 days per list
    (``TOO_MANY``); then :func:`office_api.workdays.validate_year` (year 2004–2100, days in the
    year and listed once, no day both holiday and workday: ``CALENDAR_DAY_CONFLICT``, make-up
    workdays on a Saturday or Sunday, at least one holiday, a plausible number of working days).
    """
    errors = ErrorCollector()
    source = (arr.source or "").strip()
    if not source:
        errors.add(ErrorCode.REQUIRED, "source")
    elif len(source) > MAX_SOURCE:
        errors.add(ErrorCode.TOO_LONG, "source", limit=MAX_SOURCE)
    for name, days in (("holidays", arr.holidays), ("workdays", arr.workdays)):
        if len(days) > MAX_DAYS:
            errors.add(ErrorCode.TOO_MANY, name, limit=MAX_DAYS)
    errors.raise_if_any()
    validate_year(arr.year, arr.holidays, arr.workdays)
    return source


async def _lock_year(uow: UnitOfWork, year: int) -> tuple[CalendarYear, bool]:
    """The year's row, created if missing, locked (two loads of one year run one after the
    other), and whether it existed before."""
    session = uow.session
    existed = True
    if await session.get(CalendarYear, year) is None:
        try:
            async with session.begin_nested():
                session.add(CalendarYear(year=year, source=""))
            existed = False
        except IntegrityError:  # a concurrent load created it first; its commit is visible now
            pass
    q = (
        select(CalendarYear)
        .where(CalendarYear.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(q)).scalar_one(), existed


async def _days_of(session: AsyncSession, year: int) -> tuple[list[str], list[str]]:
    rows = (await session.execute(select(CalendarDay).where(CalendarDay.year == year))).scalars()
    holidays, workdays = [], []
    for r in rows:
        (workdays if r.workday else holidays).append(r.day.isoformat())
    return sorted(holidays), sorted(workdays)


async def load_arrangement(
    uow: UnitOfWork, actor: Actor | None, arr: Arrangement, *, via: str | None = None
) -> tuple[WorkCalendar, int]:
    """Load (or replace) a year's arrangement and recompute the open deadlines counted across it; audited.

    ``actor`` must administer province-wide data (``FORBIDDEN`` otherwise); None is the
    operator of the server (``office-api calendar load``; ``via`` then says so in the audit
    row). Field errors per :func:`check_arrangement`; nothing is written on any error.
    Returns the new calendar and how many provisional due dates changed.
    """
    if actor is not None:
        await require_province_admin(uow.session, actor)
    source = check_arrangement(arr)
    row, existed = await _lock_year(uow, arr.year)
    before: dict[str, Any] | None = None
    if existed:
        holidays, workdays = await _days_of(uow.session, arr.year)
        before = {"source": row.source, "holidays": holidays, "workdays": workdays}
    actor_id = actor.user_id if actor is not None else None
    cal, changed = await load_year(
        uow, actor_id=actor_id, year=arr.year, holidays=arr.holidays, workdays=arr.workdays, source=source
    )
    after: dict[str, Any] = {
        "source": source,
        "holidays": sorted(d.isoformat() for d in arr.holidays),
        "workdays": sorted(d.isoformat() for d in arr.workdays),
        "recomputedDeadlines": changed,
    }
    if via:
        after["via"] = via
    audit.record(
        uow.session,
        actor_id=actor_id,
        action=Action.CALENDAR_LOAD,
        target_type="CalendarYear",
        target_id=arr.year,
        before=before,
        after=after,
    )
    await uow.session.flush()
    return cal, changed


async def year_info(session: AsyncSession, year: int, cal: WorkCalendar | None = None) -> YearInfo:
    """The summary of ``year`` (``INVALID_VALUE`` on ``year`` outside 2004–2100) and its loading record."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DomainError(ErrorCode.INVALID_VALUE, "year", detail=f"between {MIN_YEAR} and {MAX_YEAR}")
    cal = cal or await load_calendar(session)
    summary = cal.year_summary(year)
    row = await session.get(CalendarYear, year) if year in cal.loaded else None
    if row is None:
        return YearInfo(summary)
    return YearInfo(summary, row.loaded_at, row.loaded_by_id, row.source)


def parse_arrangement(text: str, year: int | None = None) -> Arrangement:
    """An arrangement from the JSON file format (module docstring), refusing a bad one by field.

    ``year`` (the command line's ``--year``) must match the file's ``year`` when both are given.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DomainError(ErrorCode.INVALID_VALUE, "file", detail=f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise DomainError(ErrorCode.INVALID_VALUE, "file", detail="a JSON object with year, holidays and workdays")
    errors = ErrorCollector()
    file_year = data.get("year")
    if file_year is None and year is None:
        errors.add(ErrorCode.REQUIRED, "year")
    elif file_year is not None and (not isinstance(file_year, int) or isinstance(file_year, bool)):
        errors.add(ErrorCode.INVALID_VALUE, "year", detail="a whole number, e.g. 2027")
    elif file_year is not None and year is not None and file_year != year:
        errors.add(ErrorCode.INVALID_VALUE, "year", detail=f"the file is for {file_year}, not {year}")
    lists: dict[str, list[Any]] = {}
    for name in ("holidays", "workdays"):
        value = data.get(name, [] if name == "workdays" else None)
        if value is None:
            errors.add(ErrorCode.REQUIRED, name)
        elif not isinstance(value, list):
            errors.add(ErrorCode.INVALID_VALUE, name, detail="a list of YYYY-MM-DD dates")
        else:
            lists[name] = value
    source = data.get("source", "")
    if not isinstance(source, str):
        errors.add(ErrorCode.INVALID_VALUE, "source", detail="text")
    errors.raise_if_any()
    return Arrangement(
        year=file_year if file_year is not None else year,  # type: ignore[arg-type]
        holidays=parse_days(lists["holidays"], "holidays"),
        workdays=parse_days(lists["workdays"], "workdays"),
        source=source,
    )


def summary_lines(info: YearInfo) -> list[str]:
    """The command line's rendering of a year (``office-api calendar show``)."""
    s = info.summary
    lines = [
        f"year {s.year}: {s.source}{'' if s.exact else ' (provisional: statutory holidays only, no make-up days)'}",
        f"working days: {s.working_days}",
        f"weekdays off ({len(s.weekdays_off)}): {' '.join(d.isoformat() for d in s.weekdays_off) or '-'}",
        f"make-up workdays ({len(s.makeup_workdays)}): {' '.join(d.isoformat() for d in s.makeup_workdays) or '-'}",
    ]
    if info.loaded_at is not None:
        by = "command line" if info.loaded_by_id is None else f"user {info.loaded_by_id}"
        lines.append(f"loaded {info.loaded_at.isoformat()} by {by}: {info.source_text or '(no source given)'}")
    return lines

"""The working-day calendar (工作日): deadlines counted in Chinese working days.

Sources (DOMAIN §4):

* Administrative Licensing Law Art. 82 and the laws that follow it count limits in working
  days, excluding statutory holidays; each year's State Council notice moves days off and
  makes some Saturdays/Sundays working days (调休). That arrangement is data, not a rule.
* Civil Code Art. 201: the start day is not counted (configurable: ``count_start_day``);
  Art. 203: a period whose last day is a holiday ends on the next working day, and the last
  day ends at 24:00. A deadline is therefore a local date, due at 24:00 Asia/Shanghai.

Where a day's status comes from, first match wins:

1. a year an administrator loaded (``calendar_years`` / ``calendar_days``): the listed
   holidays are off, the listed make-up workdays are on, every other day follows the week;
2. the ``chinese-calendar`` package (official data, 2004 through its last year);
3. past those: the statutory holidays only (the ``holidays`` package's China calendar,
   no make-up workdays). Such a day is *not exact*, and any deadline that depends on one is
   ``provisional``; loading that year recomputes them (``office_api.deadlines``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays as holidays_lib
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UnitOfWork, UTCDateTime, utcnow
from office_api.errors import DomainError, ErrorCode, ErrorCollector

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Years an administrator may load: the first year of chinese-calendar's data to far ahead.
MIN_YEAR, MAX_YEAR = 2004, 2100
#: How far one count may run: a limit of 1,000 working days is about four years.
MAX_COUNT = 1000
#: Working days a loaded year may have. Every official arrangement from 2004 to 2026 gave
#: 248–252 (chinese-calendar's data); a year outside this range is a mistake in the file, such
#: as a notice's holidays half copied or the whole year listed.
PLAUSIBLE_WORKING_DAYS = (240, 256)


def _package_years() -> tuple[int, int]:
    years = [d.year for d in chinese_calendar.constants.holidays] + [
        d.year for d in chinese_calendar.constants.workdays
    ]
    return min(years), max(years)


PACKAGE_FIRST_YEAR, PACKAGE_LAST_YEAR = _package_years()


def local_date(instant: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of a timezone-aware instant."""
    return instant.astimezone(SHANGHAI).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """24:00 Asia/Shanghai on ``day`` (= 00:00 of the next day) as a UTC instant (Civil Code Art. 203)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)


@dataclass(frozen=True)
class DueDate:
    """A deadline: the local date ``on`` (due at 24:00 Asia/Shanghai) and whether it is provisional.

    ``provisional`` is true when the count crossed a day of a year with no official arrangement.
    """

    on: dt.date
    provisional: bool

    @property
    def at(self) -> dt.datetime:
        """The UTC instant the deadline passes."""
        return end_of_day(self.on)


@cache
def _statutory_days_off(year: int) -> frozenset[dt.date]:
    """Statutory holidays of a year with no official arrangement (the ``holidays`` package's estimate)."""
    return frozenset(holidays_lib.China(years=year, categories=(holidays_lib.PUBLIC,)).keys())


@dataclass(frozen=True)
class LoadedYear:
    """An administrator-loaded arrangement for one year."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str = ""


@dataclass(frozen=True)
class WorkCalendar:
    """An immutable snapshot of the working-day calendar. Build it with :func:`load_calendar`."""

    loaded: dict[int, LoadedYear] = field(default_factory=dict)

    def is_exact(self, day: dt.date) -> bool:
        """Whether ``day``'s status comes from official data (a loaded year or chinese-calendar)."""
        return day.year in self.loaded or PACKAGE_FIRST_YEAR <= day.year <= PACKAGE_LAST_YEAR

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day (make-up weekend days count; holidays and swapped days do not)."""
        year = self.loaded.get(day.year)
        if year is not None:
            if day in year.holidays:
                return False
            return day in year.workdays or day.weekday() < 5
        if PACKAGE_FIRST_YEAR <= day.year <= PACKAGE_LAST_YEAR:
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5 and day not in _statutory_days_off(day.year)

    def next_workday(self, day: dt.date) -> dt.date:
        """The first working day after ``day``."""
        return self.add_working_days(day, 1).on

    def add_working_days(self, start: dt.date, n: int, *, count_start_day: bool = False) -> DueDate:
        """The ``n``-th working day after ``start`` (Civil Code Art. 201: ``start`` itself is not counted).

        With ``count_start_day`` the start day counts as day 1 when it is a working day.
        ``n`` = 0 gives ``start`` (or the next working day when ``start`` is not one).
        Raises ``ValueError`` for a negative ``n`` or one over :data:`MAX_COUNT`.
        """
        if n < 0 or n > MAX_COUNT:
            raise ValueError(f"working days must be 0..{MAX_COUNT}, not {n}")
        provisional = False
        cur = start
        if count_start_day or n == 0:
            provisional = not self.is_exact(cur)
            if self.is_workday(cur):
                if n <= 1:
                    return DueDate(cur, provisional)
                n -= 1
            elif n == 0:
                n = 1
        k = 0
        while k < n:
            cur += dt.timedelta(days=1)
            provisional = provisional or not self.is_exact(cur)
            if self.is_workday(cur):
                k += 1
        return DueDate(cur, provisional)

    def count_for_caller(self, start: dt.date, n: int, *, count_start_day: bool = False) -> DueDate:
        """:meth:`add_working_days` for input from outside: ``INVALID_VALUE`` on ``count`` outside
        0–:data:`MAX_COUNT`, on ``from`` outside 2004–2095 (the holidays package's lunar data
        must reach the end of the count)."""
        if not 0 <= n <= MAX_COUNT:
            raise DomainError(ErrorCode.INVALID_VALUE, "count", detail=f"between 0 and {MAX_COUNT}")
        if not MIN_YEAR <= start.year <= MAX_YEAR - 5:
            raise DomainError(ErrorCode.INVALID_VALUE, "from", detail=f"between {MIN_YEAR} and {MAX_YEAR - 5}")
        return self.add_working_days(start, n, count_start_day=count_start_day)

    def add_calendar_days(self, start: dt.date, n: int) -> DueDate:
        """``start`` + ``n`` calendar days; a last day that is not a working day rolls forward (Civil Code Art. 203)."""
        if n < 0 or n > MAX_COUNT * 2:
            raise ValueError(f"calendar days must be 0..{MAX_COUNT * 2}, not {n}")
        day = start + dt.timedelta(days=n)
        provisional = not self.is_exact(day)
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
            provisional = provisional or not self.is_exact(day)
        return DueDate(day, provisional)

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        """How many working days lie in ``(a, b]``; negative (minus those in ``(b, a]``) when ``b`` < ``a``."""
        if b < a:
            return -self.working_days_between(b, a)
        count, cur = 0, a
        while cur < b:
            cur += dt.timedelta(days=1)
            if self.is_workday(cur):
                count += 1
        return count

    def working_days_left(self, due_on: dt.date, today: dt.date) -> int:
        """Working days left to a deadline seen on ``today``: those in ``(today, due_on]``.

        Due today → 0; due on the next working day → 1 (the day of the yellow card); overdue →
        minus the working days in ``(due_on, today]``, so the first working day past it gives -1.
        Whether a deadline has passed is ``now >= DueDate.at``, not the sign of this count.
        """
        return self.working_days_between(today, due_on)

    def year_summary(self, year: int) -> YearSummary:
        """The holidays (weekdays off), make-up workdays and working-day count of ``year``."""
        day, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
        off: list[dt.date] = []
        extra: list[dt.date] = []
        working = 0
        while day <= end:
            work = self.is_workday(day)
            working += work
            if not work and day.weekday() < 5:
                off.append(day)
            if work and day.weekday() >= 5:
                extra.append(day)
            day += dt.timedelta(days=1)
        source = (
            "loaded"
            if year in self.loaded
            else "chinese-calendar"
            if PACKAGE_FIRST_YEAR <= year <= PACKAGE_LAST_YEAR
            else "statutory-estimate"
        )
        return YearSummary(year, source, tuple(off), tuple(extra), working)


@dataclass(frozen=True)
class YearSummary:
    """One year as the calendar sees it; ``source`` is loaded | chinese-calendar | statutory-estimate."""

    year: int
    source: str
    weekdays_off: tuple[dt.date, ...]
    makeup_workdays: tuple[dt.date, ...]
    working_days: int

    @property
    def exact(self) -> bool:
        return self.source != "statutory-estimate"


class CalendarYear(Base):
    """A year whose official arrangement an administrator loaded (it replaces chinese-calendar's)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(300), default="")
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarDay(Base):
    """A holiday (``workday`` false) or make-up working day (true) of a loaded year."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_years.year", ondelete="CASCADE"), index=True)
    workday: Mapped[bool] = mapped_column(Boolean)


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """The calendar with every loaded year (two small queries)."""
    years = {y.year: y.source for y in (await session.execute(select(CalendarYear))).scalars()}
    days: dict[int, tuple[set[dt.date], set[dt.date]]] = {y: (set(), set()) for y in years}
    for row in (await session.execute(select(CalendarDay))).scalars():
        days[row.year][1 if row.workday else 0].add(row.day)
    return WorkCalendar(
        {y: LoadedYear(y, frozenset(days[y][0]), frozenset(days[y][1]), source) for y, source in years.items()}
    )


def _check_days(errors: ErrorCollector, name: str, days: Sequence[dt.date], year: int) -> None:
    seen: set[dt.date] = set()
    for i, day in enumerate(days):
        if day.year != year:
            errors.add(ErrorCode.INVALID_VALUE, f"{name}.{i}", detail=f"{day.isoformat()} is not in {year}")
        elif day in seen:
            errors.add(ErrorCode.DUPLICATE, f"{name}.{i}", detail=day.isoformat())
        seen.add(day)


def validate_year(year: int, holidays: Sequence[dt.date], workdays: Sequence[dt.date]) -> None:
    """Refuse a malformed arrangement, naming each bad field (``holidays.3``, ``workdays.0`` …).

    Rules: the year lies in 2004–2100; every day lies in that year and is listed once; a day is
    not both a holiday and a make-up workday (``CALENDAR_DAY_CONFLICT``); a make-up workday is a
    Saturday or Sunday (a weekday already works); at least one holiday (New Year's Day is
    statutory, 全国年节及纪念日放假办法 Art. 2); and the year then has a plausible number of
    working days (:data:`PLAUSIBLE_WORKING_DAYS`; ``INVALID_VALUE`` on ``holidays``): 13
    statutory days off plus the weekday swaps leave about 250, so "New Year's Day only" (260)
    or a list of every day is refused.
    """
    errors = ErrorCollector()
    if not MIN_YEAR <= year <= MAX_YEAR:
        errors.add(ErrorCode.INVALID_VALUE, "year", detail=f"between {MIN_YEAR} and {MAX_YEAR}")
        errors.raise_if_any()
    if not holidays:
        errors.add(ErrorCode.REQUIRED, "holidays")
    _check_days(errors, "holidays", holidays, year)
    _check_days(errors, "workdays", workdays, year)
    off = set(holidays)
    for i, day in enumerate(workdays):
        if day in off:
            errors.add(ErrorCode.CALENDAR_DAY_CONFLICT, f"workdays.{i}", day=day.isoformat())
        elif day.year == year and day.weekday() < 5:
            errors.add(
                ErrorCode.INVALID_VALUE, f"workdays.{i}", detail=f"{day.isoformat()} is a weekday, not a make-up day"
            )
    errors.raise_if_any()
    arrangement = LoadedYear(year, frozenset(holidays), frozenset(workdays))
    working = WorkCalendar({year: arrangement}).year_summary(year).working_days
    low, high = PLAUSIBLE_WORKING_DAYS
    if not low <= working <= high:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            "holidays",
            detail=f"{year} would have {working} working days; an official arrangement gives {low}–{high} "
            "(every official year since 2004: 248–252). List every day off of the notice.",
        )


async def load_year(
    uow: UnitOfWork,
    *,
    actor_id: int | None,
    year: int,
    holidays: Sequence[dt.date],
    workdays: Sequence[dt.date],
    source: str = "",
) -> tuple[WorkCalendar, int]:
    """Load (or replace) the official arrangement of ``year`` and recompute the deadlines it touches.

    ``holidays``: the days off listed in the State Council notice (weekend days inside a break may
    be listed or not); ``workdays``: the make-up working days (调休上班). Raises
    :class:`~office_api.errors.DomainErrors` per :func:`validate_year`. Returns the new calendar
    and how many open deadlines got a new due date or lost ``provisional``
    (``office_api.deadlines.recompute``).
    """
    from office_api import deadlines

    validate_year(year, holidays, workdays)
    session = uow.session
    await session.execute(delete(CalendarDay).where(CalendarDay.year == year))
    existing = await session.get(CalendarYear, year)
    if existing is None:
        session.add(CalendarYear(year=year, source=source, loaded_by_id=actor_id))
    else:
        existing.source, existing.loaded_by_id, existing.loaded_at = source, actor_id, utcnow()
    await session.flush()
    session.add_all(CalendarDay(day=d, year=year, workday=False) for d in holidays)
    session.add_all(CalendarDay(day=d, year=year, workday=True) for d in workdays)
    await session.flush()
    cal = await load_calendar(session)
    changed = await deadlines.recompute(uow, cal, year)
    return cal, changed


def parse_days(values: Iterable[str], name: str) -> list[dt.date]:
    """ISO dates from text (CLI and files), refusing a bad one by its position in ``name``."""
    errors = ErrorCollector()
    out: list[dt.date] = []
    for i, value in enumerate(values):
        try:
            out.append(dt.date.fromisoformat(str(value).strip()))
        except ValueError:
            errors.add(ErrorCode.INVALID_VALUE, f"{name}.{i}", detail=f"{value!r} is not a YYYY-MM-DD date")
    errors.raise_if_any()
    return out

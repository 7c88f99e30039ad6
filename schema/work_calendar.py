"""GraphQL surface of the working-day calendar (office_api/workdays.py, office_api/calendar_admin.py).

Dates are Asia/Shanghai calendar dates; instants are UTC. Counting follows Civil Code
Art. 201 (the start day is not counted unless asked) and Art. 203 (due at 24:00 of the last
day). A result is ``provisional`` when the count crossed a year whose official arrangement is
not known yet (statutory holidays only, no make-up workdays).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from office_api import calendar_admin
from schema.common import IsAdmin, IsAuthenticated, UserError, require_actor, run_mutation
from schema.org import User, user_by_id


@strawberry.type(description="One year of the working-day calendar as deadlines see it.")
class WorkCalendarYear:
    year: int = strawberry.field(description="The year.")
    source: str = strawberry.field(
        description="Where the days come from: `loaded` (an administrator loaded the official arrangement), "
        "`chinese-calendar` (the package's official data), `statutory-estimate` (no official data yet: the statutory "
        "holidays only, no make-up workdays; deadlines in this year are provisional)."
    )
    exact: bool = strawberry.field(description="False for `statutory-estimate`.")
    weekdays_off: list[dt.date] = strawberry.field(
        description="Monday–Friday dates that are not working days (holidays and swapped days off), in order."
    )
    makeup_workdays: list[dt.date] = strawberry.field(
        description="Saturday/Sunday dates that are working days (调休上班), in order."
    )
    working_days: int = strawberry.field(description="How many working days the year has (2026: 248).")
    loaded_at: dt.datetime | None = strawberry.field(description="UTC instant the year was loaded; null if not loaded.")
    source_text: str | None = strawberry.field(
        description="The source the administrator gave (e.g. the State Council notice's number); null if not loaded."
    )
    loaded_by_id: strawberry.Private[int | None]

    @strawberry.field(description="Who loaded it; null when not loaded or loaded from the command line.")
    async def loaded_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.loaded_by_id)

    @classmethod
    def build(cls, info: calendar_admin.YearInfo) -> WorkCalendarYear:
        s = info.summary
        return cls(
            year=s.year,
            source=s.source,
            exact=s.exact,
            weekdays_off=list(s.weekdays_off),
            makeup_workdays=list(s.makeup_workdays),
            working_days=s.working_days,
            loaded_at=info.loaded_at,
            source_text=info.source_text,
            loaded_by_id=info.loaded_by_id,
        )


@strawberry.type(description="The result of counting working days from a date.")
class WorkingDayCount:
    due_on: dt.date = strawberry.field(description="The Asia/Shanghai date reached; the deadline is 24:00 that day.")
    due_at: dt.datetime = strawberry.field(description="The UTC instant the deadline passes (24:00 Asia/Shanghai).")
    provisional: bool = strawberry.field(
        description="True when the count crossed a year with no official arrangement yet; it may change when that "
        "year is loaded."
    )


@strawberry.input(description="A year's official holiday arrangement (the State Council General Office's notice).")
class LoadWorkCalendarYearInput:
    year: int = strawberry.field(description="The year, 2004–2100.")
    holidays: list[dt.date] = strawberry.field(
        description="The days off of the notice (weekend days inside a break may be listed or not); at least one."
    )
    workdays: list[dt.date] = strawberry.field(
        description="The make-up working days (Saturdays or Sundays worked, 调休上班); may be empty."
    )
    source: str | None = strawberry.field(
        default=None, description="Where it comes from, e.g. 国办发明电〔2026〕N号; at most 300 characters."
    )


@strawberry.type(description="The loaded year and how many open deadlines were recomputed, or errors.")
class LoadWorkCalendarYearPayload:
    year: WorkCalendarYear | None = strawberry.field(description="The year as the calendar now sees it.")
    recomputed_deadlines: int | None = strawberry.field(
        description="How many open deadlines got a new due date or became exact (deadlines.recompute)."
    )
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type
class WorkCalendarQuery:
    @strawberry.field(
        description="A year of the working-day calendar: its weekdays off, make-up workdays, working-day count and "
        "where they come from. Errors: INVALID_VALUE on year outside 2004–2100.",
        permission_classes=[IsAuthenticated],
    )
    async def work_calendar(
        self, info: Info, year: Annotated[int, strawberry.argument(description="The year, 2004–2100.")]
    ) -> WorkCalendarYear:
        cal = await info.context.work_calendar()
        async with info.context.db.read() as s:
            got = await calendar_admin.year_info(s, year, cal)
        return WorkCalendarYear.build(got)

    @strawberry.field(
        description="The `count`-th working day after `from` (Civil Code Art. 201: `from` itself is not counted unless "
        "`countStartDay`; Art. 203: due at 24:00 Asia/Shanghai that day). `count` 0 gives `from`, or the next working "
        "day when `from` is not one. Errors: INVALID_VALUE on `count` outside 0–1000, on `from` outside the years "
        "2004–2095.",
        permission_classes=[IsAuthenticated],
    )
    async def working_days(
        self,
        info: Info,
        from_: Annotated[
            dt.date, strawberry.argument(name="from", description="The start date (Asia/Shanghai), 2004–2095.")
        ],
        count: Annotated[int, strawberry.argument(description="Working days to count, 0–1000.")],
        count_start_day: Annotated[
            bool, strawberry.argument(description="Count `from` as day 1 when it is a working day.")
        ] = False,
    ) -> WorkingDayCount:
        cal = await info.context.work_calendar()
        due = cal.count_for_caller(from_, count, count_start_day=count_start_day)
        return WorkingDayCount(due_on=due.on, due_at=due.at, provisional=due.provisional)


@strawberry.type
class WorkCalendarMutation:
    @strawberry.mutation(
        description="Province-level administrators (system administrator, or unit administrator of the root unit): "
        "load or replace a year's official holiday arrangement. It replaces chinese-calendar's data for that year; "
        "every open deadline counted across the year (provisional ones, and any counted across a reloaded year) is "
        "recomputed in the same transaction. Errors: INVALID_VALUE on year (2004–2100), holidays.<i> / workdays.<i> (a "
        "day outside the year; a make-up workday on a weekday), holidays (a year left with fewer than 240 or more than "
        "256 working days); DUPLICATE on a day listed twice; CALENDAR_DAY_CONFLICT on workdays.<i> for a day also "
        "listed as a holiday; REQUIRED on holidays (empty) and source; TOO_LONG on source. Nothing is written on "
        "any error. Audited (calendar.load).",
        permission_classes=[IsAdmin],
    )
    async def load_work_calendar_year(
        self, info: Info, input: LoadWorkCalendarYearInput
    ) -> LoadWorkCalendarYearPayload:
        actor = await require_actor(info)
        arr = calendar_admin.Arrangement(
            year=input.year, holidays=list(input.holidays), workdays=list(input.workdays), source=input.source or ""
        )

        async def work(uow):
            cal, changed = await calendar_admin.load_arrangement(uow, actor, arr)
            return await calendar_admin.year_info(uow.session, arr.year, cal), changed

        result, errors = await run_mutation(info, work)
        if result is None:
            return LoadWorkCalendarYearPayload(year=None, recomputed_deadlines=None, errors=errors)
        got, changed = result
        return LoadWorkCalendarYearPayload(year=WorkCalendarYear.build(got), recomputed_deadlines=changed, errors=[])

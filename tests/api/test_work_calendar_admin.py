"""The working-day calendar through GraphQL and its administration, on SQLite and PostgreSQL:
reading a year, counting working days, loading next year's arrangement (who may, what is
refused, what is audited), and a provisional deadline across 2026/2027 becoming exact."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from sqlalchemy import select

from office_api import deadlines
from office_api.calendar_admin import parse_arrangement
from office_api.org.models import AuditEntry, Role
from office_api.workdays import CalendarDay, CalendarYear, load_calendar
from tests.api.test_accounts import make_user
from tests.conftest import GraphQLClient

D = dt.date
ROOT = Path(__file__).resolve().parents[2]
CALENDAR_2026 = ROOT / "office_api" / "data" / "calendar-2026.json"

YEAR_FIELDS = "year source exact weekdaysOff makeupWorkdays workingDays loadedAt sourceText loadedBy { username }"
WORK_CALENDAR = f"query($y: Int!) {{ workCalendar(year: $y) {{ {YEAR_FIELDS} }} }}"
WORKING_DAYS = """query($f: Date!, $n: Int!, $s: Boolean) {
  workingDays(from: $f, count: $n, countStartDay: $s) { dueOn dueAt provisional } }"""
LOAD = f"""mutation($input: LoadWorkCalendarYearInput!) {{ loadWorkCalendarYear(input: $input) {{
  year {{ {YEAR_FIELDS} }} recomputedDeadlines errors {{ field code message }} }} }}"""

#: An arrangement for 2027 as a notice might give it (invented for the tests): New Year Jan 1–3
#: with Mon Jan 4 also off, Sat Jan 9 worked; Spring Festival Feb 6–14 with Sat Jan 30 worked.
ARRANGEMENT_2027 = {
    "year": 2027,
    "source": "国务院办公厅关于2027年部分节假日安排的通知",
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"] + [f"2027-02-{d:02d}" for d in range(6, 15)],
    "workdays": ["2027-01-09", "2027-01-30"],
}


async def working_days(c: GraphQLClient, start: str, n: int, count_start_day: bool | None = None) -> dict[str, Any]:
    variables: dict[str, Any] = {"f": start, "n": n}
    if count_start_day is not None:  # omitted: the argument's default (false)
        variables["s"] = count_start_day
    data = await c.execute(WORKING_DAYS, variables)
    assert "errors" not in data, data
    return data["data"]["workingDays"]


async def load(c: GraphQLClient, data: dict[str, Any]) -> dict[str, Any]:
    result = await c.execute(LOAD, {"input": data})
    assert "errors" not in result, result
    return result["data"]["loadWorkCalendarYear"]


async def calendar_rows(platform: Any) -> tuple[list[tuple], list[tuple]]:
    async with platform.db.read() as s:
        years = [(y.year, y.source, y.loaded_by_id) for y in (await s.execute(select(CalendarYear))).scalars()]
        days = [
            (d.day, d.year, d.workday)
            for d in (await s.execute(select(CalendarDay).order_by(CalendarDay.day))).scalars()
        ]
    return years, days


async def audit_rows(platform: Any) -> list[AuditEntry]:
    async with platform.db.read() as s:
        q = select(AuditEntry).where(AuditEntry.action == "calendar.load").order_by(AuditEntry.id)
        return list((await s.execute(q)).scalars())


# ---- reading -------------------------------------------------------------------------------


async def test_a_year_from_the_package_and_one_past_it(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute(WORK_CALENDAR, {"y": 2026})
    year = data["data"]["workCalendar"]
    assert (year["source"], year["exact"], year["workingDays"]) == ("chinese-calendar", True, 248)
    assert year["makeupWorkdays"] == [
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ]
    # The 33 holiday dates less the weekend days among them: the weekdays off.
    assert len(year["weekdaysOff"]) == 19
    assert year["weekdaysOff"][:3] == ["2026-01-01", "2026-01-02", "2026-02-16"]
    assert (year["loadedAt"], year["sourceText"], year["loadedBy"]) == (None, None, None)

    estimate = (await clerk.execute(WORK_CALENDAR, {"y": 2027}))["data"]["workCalendar"]
    assert (estimate["source"], estimate["exact"], estimate["makeupWorkdays"]) == ("statutory-estimate", False, [])
    assert "2027-01-01" in estimate["weekdaysOff"]

    bad = await clerk.execute(WORK_CALENDAR, {"y": 1999})
    assert bad["data"] is None
    assert (bad["errors"][0]["extensions"]["code"], bad["errors"][0]["extensions"]["field"]) == (
        "INVALID_VALUE",
        "year",
    )


async def test_reading_needs_a_signed_in_user(client: GraphQLClient) -> None:
    data = await client.execute(WORKING_DAYS, {"f": "2026-09-30", "n": 1})
    assert data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-09-30", 1, "2026-10-08"),
        ("2026-02-13", 3, "2026-02-25"),
        ("2026-04-30", 5, "2026-05-11"),
        ("2025-12-31", 3, "2026-01-06"),
        ("2026-06-15", 15, "2026-07-07"),
        ("2026-09-18", 45, "2026-11-26"),
    ],
)
async def test_the_worked_examples_through_graphql(client: GraphQLClient, start: str, n: int, expected: str) -> None:
    clerk = await client.login("clerk")
    got = await working_days(clerk, start, n)
    # Due at 24:00 Asia/Shanghai = 16:00 UTC the same day.
    assert got == {"dueOn": expected, "dueAt": f"{expected}T16:00:00+00:00", "provisional": False}


async def test_count_start_day_and_zero(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    # Mon 2026-11-02 counted as day 1: 5 working days end Fri Nov 6 (not Mon Nov 9).
    assert (await working_days(clerk, "2026-11-02", 5, True))["dueOn"] == "2026-11-06"
    assert (await working_days(clerk, "2026-11-02", 5))["dueOn"] == "2026-11-09"
    # 0 on a holiday: the next working day.
    assert (await working_days(clerk, "2026-10-01", 0))["dueOn"] == "2026-10-08"


@pytest.mark.parametrize(("n", "field"), [(-1, "count"), (1001, "count")])
async def test_count_out_of_range_is_refused(client: GraphQLClient, n: int, field: str) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute(WORKING_DAYS, {"f": "2026-09-30", "n": n})
    assert data["data"] is None
    err = data["errors"][0]
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("INVALID_VALUE", field)
    assert "1000" in err["message"]


async def test_a_start_outside_the_supported_years_is_refused(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute(WORKING_DAYS, {"f": "2099-06-01", "n": 1000})
    assert (data["errors"][0]["extensions"]["code"], data["errors"][0]["extensions"]["field"]) == (
        "INVALID_VALUE",
        "from",
    )


# ---- the 2026/2027 boundary ("Done when") ------------------------------------------------


async def test_a_deadline_across_the_year_boundary_is_provisional_until_2027_is_loaded(
    client: GraphQLClient, platform: Any
) -> None:
    clerk = await client.login("clerk")
    before = await working_days(clerk, "2026-12-25", 5)
    assert before == {"dueOn": "2027-01-04", "dueAt": "2027-01-04T16:00:00+00:00", "provisional": True}

    # A real clock started on Fri 2026-12-25 10:00 Shanghai with 5 working days: provisional too.
    started = dt.datetime(2026, 12, 25, 2, 0, tzinfo=dt.UTC)
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        d = await deadlines.start_clock(uow, cal, subject_type="test", subject_id=1, started_at=started, limit=5)
        assert (d.due_on, d.provisional) == (D(2027, 1, 4), True)
        exact = await deadlines.start_clock(
            uow, cal, subject_type="test", subject_id=2, started_at=started - dt.timedelta(days=14), limit=3
        )
        assert exact.provisional is False

    admin = await client.login("admin")
    payload = await load(admin, ARRANGEMENT_2027)
    assert payload["errors"] == []
    assert payload["recomputedDeadlines"] == 1
    year = payload["year"]
    assert (year["year"], year["source"], year["exact"]) == (2027, "loaded", True)
    assert year["sourceText"] == ARRANGEMENT_2027["source"]
    assert year["loadedBy"] == {"username": "admin"}
    assert year["makeupWorkdays"] == ["2027-01-09", "2027-01-30"]
    assert year["weekdaysOff"][:2] == ["2027-01-01", "2027-01-04"]

    # The same query is now exact and follows the loaded days: Dec 28–31 are days 1–4, Jan 1–4
    # are off, so day 5 is Tue Jan 5.
    after = await working_days(clerk, "2026-12-25", 5)
    assert after == {"dueOn": "2027-01-05", "dueAt": "2027-01-05T16:00:00+00:00", "provisional": False}
    # Sat Jan 9 counts: 5 working days after Wed Jan 6 are Jan 7, 8, 9, 11, 12.
    assert await working_days(clerk, "2027-01-06", 5) == {
        "dueOn": "2027-01-12",
        "dueAt": "2027-01-12T16:00:00+00:00",
        "provisional": False,
    }
    async with platform.db.read() as s:
        row = await deadlines.deadline_of(s, "test", 1)
        untouched = await deadlines.deadline_of(s, "test", 2)
    assert row is not None
    assert untouched is not None
    assert (row.due_on, row.provisional, row.due_at) == (
        D(2027, 1, 5),
        False,
        dt.datetime(2027, 1, 5, 16, 0, tzinfo=dt.UTC),
    )
    assert untouched.due_on == exact.due_on

    seen = (await clerk.execute(WORK_CALENDAR, {"y": 2027}))["data"]["workCalendar"]
    assert seen == year

    [entry] = await audit_rows(platform)
    assert (entry.target_type, entry.target_id, entry.before) == ("CalendarYear", "2027", None)
    assert entry.after is not None
    assert entry.after["recomputedDeadlines"] == 1
    assert entry.after["workdays"] == ["2027-01-09", "2027-01-30"]
    assert len(entry.after["holidays"]) == 13


async def test_loading_again_replaces_the_year(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    assert (await load(admin, ARRANGEMENT_2027))["errors"] == []
    # A correction: Mon Jan 4 is not off after all, and no make-up days.
    corrected = [d for d in ARRANGEMENT_2027["holidays"] if d != "2027-01-04"]
    second = {**ARRANGEMENT_2027, "source": "更正", "holidays": corrected, "workdays": []}
    payload = await load(admin, second)
    assert payload["errors"] == []
    assert payload["recomputedDeadlines"] == 0
    assert (payload["year"]["sourceText"], payload["year"]["makeupWorkdays"]) == ("更正", [])
    years, days = await calendar_rows(platform)
    assert [y[:2] for y in years] == [(2027, "更正")]
    assert days == [(D.fromisoformat(d), 2027, False) for d in corrected]
    _first, again = await audit_rows(platform)
    assert again.before == {
        "source": ARRANGEMENT_2027["source"],
        "holidays": sorted(ARRANGEMENT_2027["holidays"]),
        "workdays": ARRANGEMENT_2027["workdays"],
    }


async def test_concurrent_loads_of_one_year_both_succeed_one_after_the_other(
    client: GraphQLClient, platform: Any
) -> None:
    admin = await client.login("admin")
    other = {**ARRANGEMENT_2027, "source": "另一份", "workdays": []}
    results = await asyncio.gather(load(admin, ARRANGEMENT_2027), load(admin, other))
    assert [r["errors"] for r in results] == [[], []]
    years, days = await calendar_rows(platform)
    assert len(years) == 1
    winner = ARRANGEMENT_2027 if years[0][1] == ARRANGEMENT_2027["source"] else other
    assert [d[0].isoformat() for d in days if d[2]] == winner["workdays"]
    assert len(await audit_rows(platform)) == 2


async def test_the_shipped_2026_file_changes_nothing(client: GraphQLClient, platform: Any) -> None:
    arr = parse_arrangement(CALENDAR_2026.read_text(encoding="utf-8"), 2026)
    assert (len(arr.holidays), len(arr.workdays)) == (33, 6)
    admin = await client.login("admin")
    data = json.loads(CALENDAR_2026.read_text(encoding="utf-8"))
    payload = await load(admin, data)
    assert payload["errors"] == []
    assert (payload["year"]["source"], payload["year"]["workingDays"]) == ("loaded", 248)
    async with platform.db.read() as s:
        cal = await load_calendar(s)
    assert 2026 in cal.loaded
    day = D(2026, 1, 1)
    while day.year == 2026:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


# ---- refusals and permissions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"workdays": ["2027-01-02"]}, [("workdays.0", "CALENDAR_DAY_CONFLICT")]),
        ({"holidays": ["2027-01-01", "2028-01-01"]}, [("holidays.1", "INVALID_VALUE")]),
        ({"holidays": ["2027-01-01", "2027-01-01"]}, [("holidays.1", "DUPLICATE")]),
        ({"workdays": ["2027-01-05"]}, [("workdays.0", "INVALID_VALUE")]),
        ({"holidays": []}, [("holidays", "REQUIRED")]),
        ({"year": 1990, "holidays": ["1990-01-01"]}, [("year", "INVALID_VALUE")]),
        ({"source": "x" * 301}, [("source", "TOO_LONG")]),
    ],
)
async def test_a_bad_arrangement_is_refused_and_nothing_is_written(
    client: GraphQLClient, platform: Any, change: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    admin = await client.login("admin")
    payload = await load(admin, {**ARRANGEMENT_2027, **change})
    assert [(e["field"], e["code"]) for e in payload["errors"]] == expected
    assert (payload["year"], payload["recomputedDeadlines"]) == (None, None)
    assert await calendar_rows(platform) == ([], [])
    assert await audit_rows(platform) == []


async def test_the_conflict_message_names_the_day(client: GraphQLClient) -> None:
    client.lang = "en"
    admin = await client.login("admin")
    payload = await load(admin, {**ARRANGEMENT_2027, "workdays": ["2027-01-02"]})
    assert "2027-01-02" in payload["errors"][0]["message"]


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("clerk", "FORBIDDEN"),
        ("security_admin", "FORBIDDEN"),
        ("audit_admin", "FORBIDDEN"),
        ("jinan_admin", "FORBIDDEN"),
    ],
)
async def test_only_a_province_level_administrator_loads_a_year(
    client: GraphQLClient, platform: Any, who: str, code: str
) -> None:
    await make_user(platform, "jinan_admin", "370100", Role.UNIT_ADMIN)
    actor = await client.login(who)
    data = await actor.execute(LOAD, {"input": ARRANGEMENT_2027})
    assert data["data"] is None
    assert data["errors"][0]["extensions"]["code"] == code
    assert await calendar_rows(platform) == ([], [])
    assert await audit_rows(platform) == []


async def test_an_administrator_of_the_root_unit_loads_a_year(client: GraphQLClient, platform: Any) -> None:
    await make_user(platform, "province_admin", "370000", Role.UNIT_ADMIN)
    actor = await client.login("province_admin")
    payload = await load(actor, ARRANGEMENT_2027)
    assert payload["errors"] == []
    assert payload["year"]["loadedBy"] == {"username": "province_admin"}


async def test_a_context_reads_the_calendar_again_after_a_mutation(platform: Any) -> None:
    """A request or websocket connection caches the calendar; run_mutation forgets it, since the
    mutation may have loaded a year."""
    from office_api.workdays import load_year
    from schema.context import Context

    ctx = Context(platform, authorization=None, lang="en")
    before = await ctx.work_calendar()
    assert not before.is_exact(D(2027, 1, 4))
    async with platform.db.unit_of_work() as uow:
        await load_year(
            uow,
            actor_id=None,
            year=2027,
            holidays=[D.fromisoformat(d) for d in ARRANGEMENT_2027["holidays"]],
            workdays=[D.fromisoformat(d) for d in ARRANGEMENT_2027["workdays"]],
        )
    assert await ctx.work_calendar() is before
    ctx.forget_calendar()
    assert (await ctx.work_calendar()).is_exact(D(2027, 1, 4))

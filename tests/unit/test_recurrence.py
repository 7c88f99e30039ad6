"""Expanding RFC 5545 rules into occurrences (meetings.recurrence): local times across
daylight-saving changes, overnight and all-day occurrences, UNTIL as a local date, bounds,
and the rules refused. Pure functions: no database."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from meetings.recurrence import MAX_OCCURRENCES, canonical, expand, rebound, rule_parts, zone
from office_api.errors import DomainError, ErrorCode

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC


def at(tz: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)  # type: ignore[misc]


def starts(rule: str | None, start: dt.datetime, end: dt.datetime, tz: str = "Asia/Shanghai") -> list[str]:
    return [i.start.strftime("%Y-%m-%d %H:%M") for i in expand(rule, start, end, tz)]


def spans(rule: str | None, start: dt.datetime, end: dt.datetime, tz: str = "Asia/Shanghai") -> list[tuple[str, str]]:
    fmt = "%Y-%m-%d %H:%M"
    return [(i.start.strftime(fmt), i.end.strftime(fmt)) for i in expand(rule, start, end, tz)]


def refused(rule: str, start: dt.datetime, end: dt.datetime, tz: str = "Asia/Shanghai") -> tuple[ErrorCode, str, str]:
    with pytest.raises(DomainError) as info:
        expand(rule, start, end, tz)
    return info.value.code, info.value.field or "", info.value.message("en")


def test_a_single_meeting_is_one_instance_in_utc() -> None:
    (only,) = expand(None, at(SHANGHAI, 2026, 6, 2, 9), at(SHANGHAI, 2026, 6, 2, 10), "Asia/Shanghai")
    assert (only.recurrence_id, only.start, only.end) == (
        dt.datetime(2026, 6, 2, 1, tzinfo=UTC),
        dt.datetime(2026, 6, 2, 1, tzinfo=UTC),
        dt.datetime(2026, 6, 2, 2, tzinfo=UTC),
    )


def test_new_york_weekly_nine_oclock_keeps_local_time_across_the_2027_dst_change() -> None:
    # DST starts Sunday 2027-03-14: 09:00 EST is 14:00 UTC, 09:00 EDT is 13:00 UTC.
    got = spans("FREQ=WEEKLY;COUNT=4", at(NEW_YORK, 2027, 3, 1, 9), at(NEW_YORK, 2027, 3, 1, 10), "America/New_York")
    assert got == [
        ("2027-03-01 14:00", "2027-03-01 15:00"),
        ("2027-03-08 14:00", "2027-03-08 15:00"),
        ("2027-03-15 13:00", "2027-03-15 14:00"),
        ("2027-03-22 13:00", "2027-03-22 14:00"),
    ]
    # ...and back on 2027-11-07.
    autumn = starts(
        "FREQ=WEEKLY;COUNT=2", at(NEW_YORK, 2027, 11, 1, 9), at(NEW_YORK, 2027, 11, 1, 10), "America/New_York"
    )
    assert autumn == ["2027-11-01 13:00", "2027-11-08 14:00"]


def test_shanghai_series_keep_nine_oclock_all_year() -> None:
    got = starts("FREQ=MONTHLY;COUNT=12", at(SHANGHAI, 2027, 1, 5, 9), at(SHANGHAI, 2027, 1, 5, 10))
    assert got == [f"2027-{m:02d}-05 01:00" for m in range(1, 13)]


def test_an_overnight_series_ends_the_next_morning() -> None:
    got = spans("FREQ=WEEKLY;COUNT=2", at(SHANGHAI, 2026, 6, 5, 22), at(SHANGHAI, 2026, 6, 6, 2))
    assert got == [("2026-06-05 14:00", "2026-06-05 18:00"), ("2026-06-12 14:00", "2026-06-12 18:00")]


def test_an_all_day_series_runs_midnight_to_midnight_even_on_a_23_hour_day() -> None:
    shanghai = spans("FREQ=WEEKLY;COUNT=2", at(SHANGHAI, 2026, 6, 3, 0), at(SHANGHAI, 2026, 6, 4, 0))
    assert shanghai == [("2026-06-02 16:00", "2026-06-03 16:00"), ("2026-06-09 16:00", "2026-06-10 16:00")]
    ny = expand(
        "FREQ=WEEKLY;COUNT=2",
        at(NEW_YORK, 2027, 3, 7, 0),
        at(NEW_YORK, 2027, 3, 8, 0),
        "America/New_York",
        all_day=True,
    )
    assert [(i.start, i.end) for i in ny] == [
        (dt.datetime(2027, 3, 7, 5, tzinfo=UTC), dt.datetime(2027, 3, 8, 5, tzinfo=UTC)),
        (dt.datetime(2027, 3, 14, 5, tzinfo=UTC), dt.datetime(2027, 3, 15, 4, tzinfo=UTC)),  # 23 hours
    ]
    # A timed 24-hour meeting stays 24 hours (RFC 5545 §3.8.5.3: the exact duration).
    timed = expand("FREQ=WEEKLY;COUNT=2", at(NEW_YORK, 2027, 3, 7, 0), at(NEW_YORK, 2027, 3, 8, 0), "America/New_York")
    assert [i.end - i.start for i in timed] == [dt.timedelta(hours=24)] * 2


def utc_spans(rule: str, start: dt.datetime, end: dt.datetime, tz: str) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(i.start, i.end) for i in expand(rule, start, end, tz)]


def z(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_every_instance_lasts_the_exact_duration_across_the_autumn_change() -> None:
    # 2027-11-07 01:30 happens twice in New York; the rule's 01:30 is the first (EDT, fold=0).
    got = utc_spans(
        "FREQ=DAILY;COUNT=3", at(NEW_YORK, 2027, 11, 6, 1, 30), at(NEW_YORK, 2027, 11, 6, 2), "America/New_York"
    )
    assert got == [
        (z(2027, 11, 6, 5, 30), z(2027, 11, 6, 6)),
        (z(2027, 11, 7, 5, 30), z(2027, 11, 7, 6)),
        (z(2027, 11, 8, 6, 30), z(2027, 11, 8, 7)),
    ]


def test_a_start_in_the_spring_forward_gap_is_read_with_the_offset_before_it() -> None:
    # 2027-03-14 02:30 does not exist in New York: fold=0 reads it as EST, 07:30 UTC (03:30 EDT).
    start = dt.datetime.fromisoformat("2027-03-13T02:30:00-05:00")
    got = utc_spans("FREQ=DAILY;COUNT=3", start, start + dt.timedelta(minutes=30), "America/New_York")
    assert got == [
        (z(2027, 3, 13, 7, 30), z(2027, 3, 13, 8)),
        (z(2027, 3, 14, 7, 30), z(2027, 3, 14, 8)),
        (z(2027, 3, 15, 6, 30), z(2027, 3, 15, 7)),
    ]


def test_a_trailing_semicolon_is_ignored_and_rules_are_stored_canonical() -> None:
    start, end = at(SHANGHAI, 2026, 6, 2, 9), at(SHANGHAI, 2026, 6, 2, 10)
    assert starts("FREQ=DAILY;COUNT=2;", start, end) == ["2026-06-02 01:00", "2026-06-03 01:00"]
    assert canonical(" rrule:freq=weekly; interval=2;;count=3; ") == "FREQ=WEEKLY;INTERVAL=2;COUNT=3"


@pytest.mark.parametrize("name", ["localtime", "Factory", "Asia/Nowhere", ""])
def test_only_iana_place_zones_are_accepted(name: str) -> None:
    with pytest.raises(DomainError) as info:
        zone(name)
    assert (info.value.code, info.value.field) == (ErrorCode.INVALID_VALUE, "timeZone")
    assert zone("America/New_York").key == "America/New_York"
    assert zone("UTC").key == "UTC"


def test_until_as_a_local_date_includes_that_days_occurrence() -> None:
    start, end = at(SHANGHAI, 2026, 6, 2, 9), at(SHANGHAI, 2026, 6, 2, 10)
    assert starts("FREQ=WEEKLY;UNTIL=20260616", start, end) == [
        "2026-06-02 01:00",
        "2026-06-09 01:00",
        "2026-06-16 01:00",
    ]
    # A local date-time is read in the meeting's zone; a Z one is UTC.
    assert starts("FREQ=WEEKLY;UNTIL=20260616T085959", start, end)[-1] == "2026-06-09 01:00"
    assert starts("FREQ=WEEKLY;UNTIL=20260616T010000Z", start, end)[-1] == "2026-06-16 01:00"
    # In New York the date's end is local midnight, 04:59 UTC the next day.
    late = starts(
        "FREQ=DAILY;UNTIL=20270302", at(NEW_YORK, 2027, 3, 1, 23), at(NEW_YORK, 2027, 3, 1, 23, 30), "America/New_York"
    )
    assert late == ["2027-03-02 04:00", "2027-03-03 04:00"]


def test_prefix_case_and_interval_are_accepted() -> None:
    start, end = at(SHANGHAI, 2026, 6, 2, 9), at(SHANGHAI, 2026, 6, 2, 10)
    assert starts("RRULE:freq=weekly;interval=2;count=3", start, end) == [
        "2026-06-02 01:00",
        "2026-06-16 01:00",
        "2026-06-30 01:00",
    ]
    assert len(expand("FREQ=DAILY;COUNT=500", start, end, "Asia/Shanghai")) == MAX_OCCURRENCES


@pytest.mark.parametrize(
    ("rule", "code", "words"),
    [
        ("FREQ=WEEKLY", ErrorCode.RECURRENCE_UNBOUNDED, "COUNT or UNTIL"),
        ("FREQ=WEEKLY;COUNT=2;UNTIL=20260630", ErrorCode.RECURRENCE_INVALID, "not both"),
        ("FREQ=WEEKLY;COUNT=0", ErrorCode.RECURRENCE_INVALID, "COUNT must be"),
        ("FREQ=WEEKLY;COUNT=two", ErrorCode.RECURRENCE_INVALID, "COUNT must be"),
        ("FREQ=HOURLY;COUNT=3", ErrorCode.RECURRENCE_INVALID, "FREQ must be"),
        ("COUNT=3", ErrorCode.RECURRENCE_INVALID, "FREQ is required"),
        ("FREQ=WEEKLY;COUNT=3;FOO=1", ErrorCode.RECURRENCE_INVALID, "FOO"),
        ("DTSTART=20260602T090000;FREQ=WEEKLY;COUNT=3", ErrorCode.RECURRENCE_INVALID, "DTSTART"),
        ("FREQ=WEEKLY;COUNT=3\nRRULE:FREQ=DAILY;COUNT=3", ErrorCode.RECURRENCE_INVALID, "one RRULE line"),
        ("FREQ=WEEKLY;UNTIL=20261399", ErrorCode.RECURRENCE_INVALID, "not a valid date"),
        ("FREQ=WEEKLY;UNTIL=20260601", ErrorCode.RECURRENCE_INVALID, "UNTIL is before the start"),
        ("FREQ=WEEKLY;BYDAY=MO;COUNT=3", ErrorCode.RECURRENCE_INVALID, "first occurrence"),
        ("FREQ=DAILY;COUNT=501", ErrorCode.TOO_MANY, "500"),
        ("FREQ=DAILY;UNTIL=20991231", ErrorCode.TOO_MANY, "500"),
        ("FREQ=YEARLY;COUNT=22", ErrorCode.RECURRENCE_INVALID, "20 years"),
        ("FREQ=YEARLY;UNTIL=20470602", ErrorCode.RECURRENCE_INVALID, "20 years"),
        ("FREQ=DAILY;INTERVAL=0;COUNT=3", ErrorCode.RECURRENCE_INVALID, "INTERVAL must be"),
        ("FREQ=DAILY;INTERVAL=-1;COUNT=3", ErrorCode.RECURRENCE_INVALID, "INTERVAL must be"),
        ("FREQ=DAILY;COUNT=3;COUNT=400", ErrorCode.RECURRENCE_INVALID, "COUNT given twice"),
        ("FREQ=DAILY;freq=weekly;COUNT=3", ErrorCode.RECURRENCE_INVALID, "FREQ given twice"),
        ("FREQ=DAILY;COUNT=3;BYDAY", ErrorCode.RECURRENCE_INVALID, "not NAME=value"),
        ("FREQ=DAILY;BYHOUR=9;BYMINUTE=0,30;COUNT=4", ErrorCode.RECURRENCE_INVALID, "occurrences overlap"),
    ],
)
def test_bad_rules_are_refused_naming_recurrence(rule: str, code: ErrorCode, words: str) -> None:
    got = refused(rule, at(SHANGHAI, 2026, 6, 2, 9), at(SHANGHAI, 2026, 6, 2, 10))
    assert (got[0], got[1]) == (code, "recurrence")
    assert words in got[2]


def test_a_series_may_span_exactly_twenty_years() -> None:
    got = starts("FREQ=YEARLY;COUNT=21", at(SHANGHAI, 2026, 6, 2, 9), at(SHANGHAI, 2026, 6, 2, 10))
    assert (len(got), got[-1]) == (21, "2046-06-02 01:00")


def test_an_unknown_time_zone_names_time_zone() -> None:
    assert refused("FREQ=WEEKLY;COUNT=2", at(SHANGHAI, 2026, 6, 2, 9), at(SHANGHAI, 2026, 6, 2, 10), "Mars/Olympus")[
        :2
    ] == (ErrorCode.INVALID_VALUE, "timeZone")


@pytest.mark.parametrize(
    ("rule", "day"),
    [
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=1", dt.date(2026, 6, 2)),  # never matches
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;COUNT=500", dt.date(2044, 2, 29)),  # every ~28 years
    ],
)
def test_sparse_rules_are_refused_quickly(rule: str, day: dt.date) -> None:
    # Unchecked, dateutil walks day by day towards year 9999 (about 5 s of CPU for each).
    began = time.perf_counter()
    got = refused(rule, dt.datetime.combine(day, dt.time(9), SHANGHAI), dt.datetime.combine(day, dt.time(10), SHANGHAI))
    assert got[:2] == (ErrorCode.RECURRENCE_INVALID, "recurrence")
    assert time.perf_counter() - began < 2.0


def test_rebound_replaces_count_or_until_and_keeps_the_rest() -> None:
    cut = dt.datetime(2026, 6, 16, 0, 59, 59, tzinfo=UTC)
    assert rebound("RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10", until=cut) == "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260616T005959Z"
    assert rebound("FREQ=WEEKLY;UNTIL=20261231;INTERVAL=2", count=3) == "FREQ=WEEKLY;INTERVAL=2;COUNT=3"
    assert rule_parts("rrule:freq=weekly;count=3") == {"FREQ": "weekly", "COUNT": "3"}
    with pytest.raises(ValueError, match="exactly one"):
        rebound("FREQ=WEEKLY;COUNT=3")

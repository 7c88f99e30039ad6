"""The in-memory half of find-a-time (meetings/availability.py): merging busy intervals, the
candidate slots of working hours on working days, the sweep and the ranking."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from pydantic import ValidationError

from meetings.availability import (
    BusyRow,
    Interval,
    Status,
    WorkingHours,
    candidate_slots,
    merge,
    rank,
    slot_marks,
)
from office_api.config import Settings
from office_api.workdays import SHANGHAI, LoadedYear, WorkCalendar

D = dt.date
B, T, F = Status.BUSY, Status.TENTATIVE, Status.FREE


def at(day: D, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI).astimezone(dt.UTC)


DAY = D(2026, 6, 2)


def row(h0: float, h1: float, status: Status = B, meeting: int = 1) -> BusyRow:
    def t(h: float) -> dt.datetime:
        return at(DAY, 0) + dt.timedelta(minutes=round(h * 60))

    return BusyRow("user", 7, t(h0), t(h1), meeting, status)


def spans(intervals: list[Interval]) -> list[tuple[str, str, str, list[int]]]:
    fmt = "%H:%M"
    return [
        (
            i.start.astimezone(SHANGHAI).strftime(fmt),
            i.end.astimezone(SHANGHAI).strftime(fmt),
            i.status.name,
            i.meeting_ids,
        )
        for i in intervals
    ]


# ---- working hours ----------------------------------------------------------------------------


def test_working_hours_come_from_settings_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    hours = WorkingHours.from_settings(Settings())
    assert hours.periods() == [(dt.time(9), dt.time(12)), (dt.time(13, 30), dt.time(17, 30))]
    monkeypatch.setenv("OFFICE_MEETING_DAY_START", "08:30")
    monkeypatch.setenv("OFFICE_MEETING_LUNCH_START", "12:00")
    monkeypatch.setenv("OFFICE_MEETING_LUNCH_END", "12:00")
    monkeypatch.setenv("OFFICE_MEETING_DAY_END", "17:00")
    assert WorkingHours.from_settings(Settings()).periods() == [(dt.time(8, 30), dt.time(17))]


@pytest.mark.parametrize(
    ("env", "pattern"),
    [
        ({"OFFICE_MEETING_DAY_START": "13:00"}, "_START < OFFICE_MEETING_LUNCH_START"),  # after lunch starts
        ({"OFFICE_MEETING_LUNCH_END": "11:00"}, "_START < OFFICE_MEETING_LUNCH_START"),  # break ends before it starts
        ({"OFFICE_MEETING_DAY_END": "13:00"}, "_START < OFFICE_MEETING_LUNCH_START"),  # day ends inside the break
        ({"OFFICE_MEETING_DAY_START": "9 o'clock"}, "meeting_day_start"),
    ],
)
def test_working_hours_out_of_order_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], pattern: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=pattern):
        Settings()


# ---- merging ----------------------------------------------------------------------------------


def test_merge_busy_wins_over_tentative_and_touching_stretches_join() -> None:
    rows = [
        row(9, 10, B, 1),
        row(9.5, 11, T, 2),  # tentative beyond the busy hour only
        row(14, 15, B, 3),
        row(15, 16, B, 4),  # touching: one stretch
        row(16.5, 17, T, 5),
        row(16.75, 17.5, T, 6),  # overlapping tentatives: one stretch
    ]
    assert spans(merge(rows, at(DAY, 0), at(DAY + dt.timedelta(days=1), 0))) == [
        ("09:00", "10:00", "BUSY", [1, 2]),
        ("10:00", "11:00", "TENTATIVE", [2]),
        ("14:00", "16:00", "BUSY", [3, 4]),
        ("16:30", "17:30", "TENTATIVE", [5, 6]),
    ]


def test_merge_a_busy_meeting_inside_a_tentative_one_splits_it_and_the_window_clips() -> None:
    rows = [row(9, 12, T, 1), row(10, 11, B, 2), row(10, 11, B, 2)]  # the same meeting twice (convener and chair)
    assert spans(merge(rows, at(DAY, 0), at(DAY, 23))) == [
        ("09:00", "10:00", "TENTATIVE", [1]),
        ("10:00", "11:00", "BUSY", [1, 2]),
        ("11:00", "12:00", "TENTATIVE", [1]),
    ]
    assert spans(merge(rows, at(DAY, 10, 30), at(DAY, 11, 30))) == [
        ("10:30", "11:00", "BUSY", [1, 2]),
        ("11:00", "11:30", "TENTATIVE", [1]),
    ]
    assert merge(rows, at(DAY, 13), at(DAY, 14)) == []


# ---- candidate slots --------------------------------------------------------------------------


def local_starts(slots: list[tuple[dt.datetime, dt.datetime]]) -> list[str]:
    return [s.astimezone(SHANGHAI).strftime("%m-%d %H:%M") for s, _ in slots]


def test_slots_fill_the_morning_and_the_afternoon_but_not_lunch() -> None:
    slots = candidate_slots(WorkCalendar(), WorkingHours(), DAY, DAY, 60, 30)
    assert local_starts(slots) == [
        "06-02 09:00",
        "06-02 09:30",
        "06-02 10:00",
        "06-02 10:30",
        "06-02 11:00",
        "06-02 13:30",
        "06-02 14:00",
        "06-02 14:30",
        "06-02 15:00",
        "06-02 15:30",
        "06-02 16:00",
        "06-02 16:30",
    ]
    assert all(e - s == dt.timedelta(hours=1) for s, e in slots)
    # Nothing before now (10:15): the first slot is 10:30.
    later = candidate_slots(WorkCalendar(), WorkingHours(), DAY, DAY, 60, 30, not_before=at(DAY, 10, 15))
    assert local_starts(later)[:2] == ["06-02 10:30", "06-02 11:00"]


def test_slots_only_on_working_days_2026_national_day() -> None:
    # DOMAIN §4.2: 09-25..09-27 and 10-01..10-07 off; Sun 09-20 and Sat 10-10 are make-up working days.
    slots = candidate_slots(WorkCalendar(), WorkingHours(), D(2026, 9, 19), D(2026, 10, 11), 240, 60)
    assert local_starts(slots) == [
        f"{d} 13:30"
        for d in ("09-20", "09-21", "09-22", "09-23", "09-24", "09-28", "09-29", "09-30", "10-08", "10-09", "10-10")
    ]


def test_an_administrator_loaded_year_decides_the_days() -> None:
    # A loaded arrangement that gives 2026-06-02 off and makes Saturday 06-06 a working day.
    holidays = frozenset({D(2026, 6, 2)})
    cal = WorkCalendar({2026: LoadedYear(2026, holidays, frozenset({D(2026, 6, 6)}))})
    slots = candidate_slots(cal, WorkingHours(), D(2026, 6, 1), D(2026, 6, 7), 180, 60)
    assert local_starts(slots) == [f"06-0{d} {t}" for d in (1, 3, 4, 5, 6) for t in ("09:00", "13:30", "14:30")]


def test_a_meeting_longer_than_half_a_day_may_span_lunch() -> None:
    hours = WorkingHours()
    assert local_starts(candidate_slots(WorkCalendar(), hours, DAY, DAY, 300, 60)) == [
        "06-02 09:00",
        "06-02 10:00",
        "06-02 11:00",
        "06-02 12:00",
    ]
    # Without a lunch break the working day is one period.
    no_lunch = WorkingHours(dt.time(9), dt.time(12), dt.time(12), dt.time(17))
    assert local_starts(candidate_slots(WorkCalendar(), no_lunch, DAY, DAY, 420, 15)) == [
        "06-02 09:00",
        "06-02 09:15",
        "06-02 09:30",
        "06-02 09:45",
        "06-02 10:00",
    ]


# ---- the sweep --------------------------------------------------------------------------------


def test_the_marks_agree_with_checking_every_slot_against_every_interval() -> None:
    rng = random.Random(6)
    cal, hours = WorkCalendar(), WorkingHours()
    first, last = D(2026, 6, 1), D(2026, 6, 30)
    window = (at(first, 0), at(last + dt.timedelta(days=1), 0))
    for duration, step in ((15, 15), (60, 30), (90, 60), (240, 15), (480, 30)):
        slots = candidate_slots(cal, hours, first, last, duration, step)
        starts = [s for s, _ in slots]
        for _ in range(20):
            rows = []
            for m in range(rng.randint(0, 60)):
                start = window[0] + dt.timedelta(minutes=15 * rng.randint(-8, 30 * 96))
                end = start + dt.timedelta(minutes=15 * rng.randint(1, 40))
                rows.append(BusyRow("user", 1, start, end, m, rng.choice((B, T))))
            got = slot_marks(rows, starts, dt.timedelta(minutes=duration))
            want = {
                k: worst
                for k, (s, e) in enumerate(slots)
                if (worst := max((r.status for r in rows if r.start < e and r.end > s), default=F)) != F
            }
            assert got == want


# ---- ranking ----------------------------------------------------------------------------------


def marks(*statuses: Status) -> dict[int, Status]:
    return {k: st for k, st in enumerate(statuses) if st != F}


def test_rank_orders_by_tentative_then_optional_then_time_and_filters() -> None:
    slots = [(at(DAY, h), at(DAY, h + 1)) for h in (9, 10, 11, 14, 15)]
    required = {1: marks(B, F, T, F, F), 2: marks(F, F, F, F, F)}
    optional = {3: marks(F, B, F, B, F), 4: marks(F, F, F, B, T)}
    got = rank(slots, required, optional, [], 0, 10)
    assert [
        (s.start.astimezone(SHANGHAI).hour, s.tentative_user_ids, s.unavailable_optional_user_ids, s.optional_percent)
        for s in got
    ] == [
        (10, [], [3], 50.0),
        (14, [], [3, 4], 0.0),
        (11, [1], [], 100.0),  # one tentative person each: the earlier first
        (15, [4], [], 100.0),
    ]
    # at least half of the optional people: 14:00 drops; everyone: 10:00 too.
    assert [s.start.astimezone(SHANGHAI).hour for s in rank(slots, required, optional, [], 50, 10)] == [10, 11, 15]
    assert [s.start.astimezone(SHANGHAI).hour for s in rank(slots, required, optional, [], 100, 1)] == [11]
    # Rooms in preference order: the first free one is proposed; no free room, no slot.
    rooms = [(20, marks(F, B, F, B, F)), (21, marks(F, F, B, B, F))]
    with_rooms = rank(slots, required, {}, rooms, 0, 10)
    assert [(s.start.astimezone(SHANGHAI).hour, s.room_id, s.optional_percent) for s in with_rooms] == [
        (10, 21, 100.0),
        (15, 20, 100.0),
        (11, 20, 100.0),
    ]

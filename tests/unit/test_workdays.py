"""The working-day calendar: DOMAIN §4.5's worked examples and the counting conventions."""

from __future__ import annotations

import datetime as dt

import pytest

from office_api.errors import DomainError, DomainErrors, ErrorCode
from office_api.workdays import (
    PACKAGE_LAST_YEAR,
    DueDate,
    LoadedYear,
    WorkCalendar,
    end_of_day,
    local_date,
    validate_year,
)

D = dt.date
CAL = WorkCalendar()


@pytest.mark.parametrize(
    ("start", "n", "due", "provisional"),
    [
        (D(2026, 9, 30), 1, D(2026, 10, 8), False),  # Oct 1–7 is the National Day break
        (D(2026, 2, 13), 3, D(2026, 2, 25), False),  # Sat Feb 14 is a make-up workday
        (D(2026, 4, 30), 5, D(2026, 5, 11), False),  # Sat May 9 counts
        (D(2025, 12, 31), 3, D(2026, 1, 6), False),  # Sun Jan 4 counts
        (D(2026, 6, 15), 15, D(2026, 7, 7), False),  # Jun 19 Dragon Boat skipped
        (D(2026, 9, 18), 45, D(2026, 11, 26), False),  # Sep 20 and Oct 10 count
        (D(2026, 12, 25), 5, D(2027, 1, 4), True),  # coverage boundary: statutory only, provisional
    ],
)
def test_domain_worked_examples(start: dt.date, n: int, due: dt.date, provisional: bool) -> None:
    assert CAL.add_working_days(start, n) == DueDate(due, provisional)


def test_2026_has_248_working_days_and_the_official_makeup_days() -> None:
    year = CAL.year_summary(2026)
    assert year.working_days == 248
    assert year.makeup_workdays == (
        D(2026, 1, 4),
        D(2026, 2, 14),
        D(2026, 2, 28),
        D(2026, 5, 9),
        D(2026, 9, 20),
        D(2026, 10, 10),
    )
    assert year.source == "chinese-calendar"


def test_past_the_package_data_only_statutory_holidays_count() -> None:
    assert PACKAGE_LAST_YEAR == 2026
    year = CAL.year_summary(2027)
    assert year.source == "statutory-estimate"
    assert not year.exact
    assert year.makeup_workdays == ()  # never guessed
    assert not CAL.is_workday(D(2027, 1, 1))  # New Year's Day, statutory
    assert CAL.is_workday(D(2027, 1, 4))
    assert not CAL.is_exact(D(2027, 1, 4))
    assert CAL.is_exact(D(2026, 12, 31))


def test_a_loaded_year_replaces_the_estimate_and_makes_the_count_exact() -> None:
    # A made-up arrangement: Jan 1–3 off (Fri–Sun), Mon Jan 4 off too, Sat Jan 9 works.
    loaded = WorkCalendar(
        {2027: LoadedYear(2027, frozenset({D(2027, 1, 1), D(2027, 1, 4)}), frozenset({D(2027, 1, 9)}))}
    )
    # 2026-12-25 + 5: Dec 28, 29, 30, 31 = 1–4; Jan 1–4 off; Jan 5 = 5.
    assert loaded.add_working_days(D(2026, 12, 25), 5) == DueDate(D(2027, 1, 5), False)
    assert loaded.is_workday(D(2027, 1, 9))
    assert not loaded.is_workday(D(2027, 1, 10))
    # A loaded year also wins over the package's data (extraordinary changes, e.g. 2020's extension).
    changed = WorkCalendar({2026: LoadedYear(2026, frozenset({D(2026, 3, 2)}), frozenset())})
    assert not changed.is_workday(D(2026, 3, 2))
    assert changed.is_workday(D(2026, 2, 14)) is False  # the package's make-up day is gone with the reload


def test_counting_the_start_day_is_configurable() -> None:
    # "within 3 working days of receipt" counting the receipt day (a local rule).
    assert CAL.add_working_days(D(2026, 11, 23), 3, count_start_day=True) == DueDate(D(2026, 11, 25), False)
    assert CAL.add_working_days(D(2026, 11, 23), 3) == DueDate(D(2026, 11, 26), False)
    # A start on a rest day is not a working day, so counting starts on the next one either way.
    assert CAL.add_working_days(D(2026, 11, 28), 1, count_start_day=True) == DueDate(D(2026, 11, 30), False)
    assert CAL.add_working_days(D(2026, 11, 28), 0) == DueDate(D(2026, 11, 30), False)


def test_calendar_days_end_on_a_working_day() -> None:
    # Civil Code Art. 203: Sep 30 + 1 day = Oct 1, a holiday, so the period ends Oct 8.
    assert CAL.add_calendar_days(D(2026, 9, 30), 1) == DueDate(D(2026, 10, 8), False)
    assert CAL.add_calendar_days(D(2026, 11, 2), 30) == DueDate(D(2026, 12, 2), False)


def test_working_days_left_and_overdue() -> None:
    due = D(2026, 9, 30)
    assert CAL.working_days_left(due, D(2026, 9, 30)) == 0
    assert CAL.working_days_left(due, D(2026, 9, 29)) == 1  # the yellow-card day
    assert CAL.working_days_left(due, D(2026, 9, 28)) == 2
    assert CAL.working_days_left(due, D(2026, 10, 3)) == 0  # past, but no working day has passed yet
    assert CAL.working_days_left(due, D(2026, 10, 8)) == -1  # the red-card day
    assert CAL.working_days_left(due, D(2026, 10, 9)) == -2


def test_due_instant_is_24_00_in_shanghai() -> None:
    assert end_of_day(D(2026, 10, 8)) == dt.datetime(2026, 10, 8, 16, 0, tzinfo=dt.UTC)
    assert DueDate(D(2026, 10, 8), False).at == dt.datetime(2026, 10, 8, 16, 0, tzinfo=dt.UTC)
    assert local_date(dt.datetime(2026, 10, 8, 16, 0, tzinfo=dt.UTC)) == D(2026, 10, 9)
    assert local_date(dt.datetime(2026, 10, 8, 15, 59, tzinfo=dt.UTC)) == D(2026, 10, 8)


def test_counts_are_bounded() -> None:
    with pytest.raises(ValueError, match=r"0\.\.1000"):
        CAL.add_working_days(D(2026, 1, 1), -1)
    with pytest.raises(ValueError, match=r"0\.\.1000"):
        CAL.add_working_days(D(2026, 1, 1), 100_000)


def _codes(exc: pytest.ExceptionInfo[BaseException]) -> list[tuple[str, str | None]]:
    errs = exc.value.errors if isinstance(exc.value, DomainErrors) else [exc.value]
    return [(str(e.code), e.field) for e in errs]


def test_a_day_both_holiday_and_workday_is_refused() -> None:
    with pytest.raises(DomainError) as exc:
        validate_year(2027, [D(2027, 1, 1), D(2027, 2, 6)], [D(2027, 2, 6)])
    assert _codes(exc) == [(ErrorCode.CALENDAR_DAY_CONFLICT, "workdays.0")]
    assert "2027-02-06" in exc.value.message("en")


def test_malformed_arrangements_name_each_field() -> None:
    with pytest.raises(DomainErrors) as exc:
        validate_year(2027, [D(2026, 1, 1), D(2027, 1, 1), D(2027, 1, 1)], [D(2027, 1, 5)])
    assert _codes(exc) == [
        (ErrorCode.INVALID_VALUE, "holidays.0"),  # not in 2027
        (ErrorCode.DUPLICATE, "holidays.2"),
        (ErrorCode.INVALID_VALUE, "workdays.0"),  # a Tuesday is no make-up day
    ]
    with pytest.raises(DomainError) as one:
        validate_year(2027, [], [])
    assert _codes(one) == [(ErrorCode.REQUIRED, "holidays")]
    with pytest.raises(DomainError) as year:
        validate_year(1999, [D(1999, 1, 1)], [])
    assert _codes(year) == [(ErrorCode.INVALID_VALUE, "year")]


def test_an_implausible_year_is_refused() -> None:
    # New Year's Day alone would leave 260 working days; every day listed would leave none.
    with pytest.raises(DomainError) as one:
        validate_year(2027, [D(2027, 1, 1)], [])
    assert _codes(one) == [(ErrorCode.INVALID_VALUE, "holidays")]
    assert "260 working days" in one.value.message("en")
    everything = [D(2028, 1, 1) + dt.timedelta(days=i) for i in range(300)]
    with pytest.raises(DomainError) as all_off:
        validate_year(2028, everything, [])
    assert "2028 would have 46 working days" in all_off.value.message("en")
    # The official 2026 arrangement passes (248).
    import chinese_calendar

    holidays = sorted(d for d in chinese_calendar.constants.holidays if d.year == 2026)
    workdays = sorted(d for d in chinese_calendar.constants.workdays if d.year == 2026)
    validate_year(2026, holidays, workdays)

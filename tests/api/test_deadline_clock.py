"""The deadline clock on both databases: start, pause/resume, extension, closing, policies, and
provisional due dates recomputed when an administrator loads the next year's arrangement."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from office_api import deadlines, sla
from office_api.errors import DomainError, DomainErrors, ErrorCode
from office_api.org.models import User
from office_api.workdays import SHANGHAI, load_calendar, load_year

D = dt.date
SPRING_2027 = [D(2027, 2, d) for d in range(6, 15)]


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """``hour``:00 Asia/Shanghai on ``day`` as a UTC instant."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI).astimezone(dt.UTC)


async def start(platform: Any, subject_id: int, started: dt.datetime, **kw: Any) -> deadlines.Deadline:
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        return await deadlines.start_clock(
            uow, cal, subject_type="test", subject_id=subject_id, started_at=started, **kw
        )


async def test_a_deadline_across_the_year_boundary_becomes_exact_when_the_year_is_loaded(platform: Any) -> None:
    d = await start(platform, 1, at(D(2026, 12, 25)), limit=5)
    assert (d.due_on, d.provisional) == (D(2027, 1, 4), True)
    assert d.due_at == dt.datetime(2027, 1, 4, 16, 0, tzinfo=dt.UTC)
    exact = await start(platform, 2, at(D(2026, 12, 1)), limit=5)
    assert (exact.due_on, exact.provisional) == (D(2026, 12, 8), False)

    # The (here invented) 2027 notice: Jan 1–3 off and Mon Jan 4 given off, Sat Jan 9 worked;
    # Spring Festival Feb 6–14.
    async with platform.db.unit_of_work() as uow:
        admin = (await uow.session.execute(select(User.id).where(User.username == "admin"))).scalar_one()
        _, changed = await load_year(
            uow,
            actor_id=admin,
            year=2027,
            holidays=[D(2027, 1, 1), D(2027, 1, 2), D(2027, 1, 3), D(2027, 1, 4), *SPRING_2027],
            workdays=[D(2027, 1, 9)],
            source="国办发明电〔2026〕X号",
        )
    assert changed == 1
    async with platform.db.read() as s:
        got = await deadlines.deadline_of(s, "test", 1)
        untouched = await deadlines.deadline_of(s, "test", 2)
    assert got is not None
    assert untouched is not None
    assert (got.due_on, got.provisional) == (D(2027, 1, 5), False)
    assert (untouched.due_on, untouched.provisional) == (D(2026, 12, 8), False)


async def test_the_clock_stops_while_paused(platform: Any) -> None:
    # 5 working days from Mon 2026-11-02: due Mon Nov 9.
    d = await start(platform, 3, at(D(2026, 11, 2)), limit=5)
    assert d.due_on == D(2026, 11, 9)
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        d = await deadlines.deadline_of(uow.session, "test", 3, lock=True)
        # Returned on Wed Nov 4: Nov 3 and 4 used, 3 left.
        assert await deadlines.pause_clock(uow, cal, d, at(D(2026, 11, 4)), "returned_to_drafter")
        assert (d.status, d.remaining, d.due_on) == ("paused", 3, None)
        assert not await deadlines.pause_clock(uow, cal, d, at(D(2026, 11, 5)), "again")
        assert deadlines.working_days_left(cal, d, at(D(2026, 11, 5))) is None
        # Resubmitted Tue Nov 10 (a week later): Nov 11, 12, 13 → due Fri Nov 13.
        assert await deadlines.resume_clock(uow, cal, d, at(D(2026, 11, 10)))
        assert (d.status, d.due_on) == ("running", D(2026, 11, 13))
        assert deadlines.working_days_left(cal, d, at(D(2026, 11, 12))) == 1


async def test_extension_and_closing(platform: Any) -> None:
    d = await start(platform, 4, at(D(2026, 9, 18)), limit=5)
    assert d.due_on == D(2026, 9, 24)  # Sun Sep 20 is a make-up workday (day 1)
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        d = await deadlines.deadline_of(uow.session, "test", 4, lock=True)
        await deadlines.extend_clock(uow, cal, d, 4)
        # Sep 25–27 and Oct 1–7 are off: Sep 28, 29, 30, then Oct 8.
        assert (d.due_on, d.extension, d.limit) == (D(2026, 10, 8), 4, 5)
        assert not deadlines.overdue(d, at(D(2026, 10, 8), 23))
        assert deadlines.overdue(d, at(D(2026, 10, 9), 0))
        await deadlines.close_clock(uow, d, at(D(2026, 10, 9), 9))
        assert (d.status, d.is_open) == ("missed", False)
        with pytest.raises(DomainError) as exc:
            await deadlines.extend_clock(uow, cal, d, 1)
        assert (exc.value.code, exc.value.field) == (ErrorCode.DEADLINE_CLOSED, "deadlineId")
    met = await start(platform, 5, at(D(2026, 9, 18)), limit=1, unit="hours")
    assert (met.due_on, met.due_at) == (None, at(D(2026, 9, 18), 11))


async def test_an_explicit_date_is_kept_as_chosen(platform: Any) -> None:
    d = await start(platform, 6, at(D(2026, 12, 20)), due_on=D(2027, 1, 15))
    assert (d.due_on, d.provisional, d.explicit) == (D(2027, 1, 15), False, True)
    with pytest.raises(DomainError) as exc:
        await start(platform, 7, at(D(2026, 12, 20)), due_on=D(2026, 12, 19))
    assert (exc.value.code, exc.value.field) == (ErrorCode.INVALID_VALUE, "dueOn")


@pytest.mark.parametrize("limit", [-1, 100_000])
async def test_absurd_limits_are_refused(platform: Any, limit: int) -> None:
    with pytest.raises(DomainError) as exc:
        await start(platform, 8, at(D(2026, 12, 1)), limit=limit)
    assert (exc.value.code, exc.value.field) == (ErrorCode.INVALID_VALUE, "limit")
    async with platform.db.read() as s:
        assert await deadlines.deadline_of(s, "test", 8) is None


async def test_seeded_policies_and_the_most_specific_binding(platform: Any) -> None:
    async with platform.db.read() as s:
        hotline = await sla.policy_by_code(s, "hotline-12345")
        assert hotline is not None
        assert (hotline.unit, hotline.limit, hotline.extension_limit) == ("working_days", 5, 10)
        assert "returned_to_drafter" in hotline.clock_stops_for
        licence = await sla.policy_by_code(s, "3545-business-licence")
        assert licence is not None
        assert (licence.limit, licence.matter_type) == (3, "business_licence")
        permit = await sla.policy_by_code(s, "3545-construction-permit")
        assert permit is not None
        assert permit.limit == 45
        normal = await sla.resolve_policy(s, "task", doc_type="notice", urgency="normal")
        urgent = await sla.resolve_policy(s, "task", doc_type="notice", urgency="urgent")
        extra = await sla.resolve_policy(s, "task", urgency="extra_urgent")
        assert normal is not None
        assert urgent is not None
        assert extra is not None
        assert (normal.code, urgent.code, extra.code) == ("document-review", "document-urgent", "document-extra-urgent")
        assert (extra.unit, extra.limit) == ("hours", 24)
        assert await sla.resolve_policy(s, "nothing-bound") is None


def test_policy_validation_names_fields() -> None:
    with pytest.raises(DomainErrors) as exc:
        sla.validate_policy(unit="working_days", limit=0, extension_limit=-1, extension_approver="mayor")
    fields = [e.field for e in exc.value.errors]
    assert fields == ["limit", "extensionLimit", "extensionApprover"]


async def test_reloading_a_known_year_moves_the_deadlines_counted_across_it(platform: Any) -> None:
    """An extraordinary change (like the 2020 Spring Festival extension): 2026 reloaded with
    Tue Dec 1 off as well. Running clocks counted across it move, extensions kept; others stay."""
    import json
    from pathlib import Path

    shipped = json.loads((Path(__file__).resolve().parents[2] / "office_api/data/calendar-2026.json").read_text())
    across = await start(platform, 20, at(D(2026, 11, 30)), limit=3)  # Dec 1, 2, 3
    extended = await start(platform, 21, at(D(2026, 11, 26)), limit=2)  # Nov 27, 30
    before_it = await start(platform, 22, at(D(2026, 11, 20)), limit=3)  # Nov 23, 24, 25
    await start(platform, 23, at(D(2026, 11, 30)), due_on=D(2026, 12, 2))
    assert (across.due_on, extended.due_on, before_it.due_on) == (D(2026, 12, 3), D(2026, 11, 30), D(2026, 11, 25))
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        d = await deadlines.deadline_of(uow.session, "test", 21, lock=True)
        await deadlines.extend_clock(uow, cal, d, 2)  # Dec 1, 2
        assert d.due_on == D(2026, 12, 2)
    async with platform.db.unit_of_work() as uow:
        _, changed = await load_year(
            uow,
            actor_id=None,
            year=2026,
            holidays=[D.fromisoformat(x) for x in [*shipped["holidays"], "2026-12-01"]],
            workdays=[D.fromisoformat(x) for x in shipped["workdays"]],
            source="临时调整",
        )
    assert changed == 2
    async with platform.db.read() as s:
        got = {i: await deadlines.deadline_of(s, "test", i) for i in (20, 21, 22, 23)}
    assert got[20].due_on == D(2026, 12, 4)  # Dec 2, 3, 4
    assert (got[21].due_on, got[21].extension) == (D(2026, 12, 3), 2)  # Nov 27, 30, Dec 2, 3
    assert got[22].due_on == D(2026, 11, 25)
    assert got[23].due_on == D(2026, 12, 2)  # a date a person chose stays


async def test_a_chosen_due_date_on_a_day_off_ends_on_the_next_working_day(platform: Any) -> None:
    # Civil Code Art. 203: Sun 2026-12-06 → Mon 12-07; Thu Oct 1 (National Day) → Thu Oct 8.
    sunday = await start(platform, 30, at(D(2026, 11, 30)), due_on=D(2026, 12, 6))
    assert (sunday.due_on, sunday.limit) == (D(2026, 12, 7), 5)
    national = await start(platform, 31, at(D(2026, 9, 28)), due_on=D(2026, 10, 1))
    assert national.due_on == D(2026, 10, 8)
    with pytest.raises(DomainError) as exc:
        await start(platform, 32, at(D(2026, 11, 30)), due_on=D(9999, 12, 31))
    assert (exc.value.code, exc.value.field) == (ErrorCode.INVALID_VALUE, "dueOn")


async def test_extensions_are_bounded_and_count_working_days(platform: Any) -> None:
    big = await start(platform, 40, at(D(2026, 11, 30)), limit=1000)
    month = await start(platform, 41, at(D(2026, 9, 20)), limit=11, unit="calendar_days")
    assert month.due_on == D(2026, 10, 8)  # Sep 20 + 11 days = Oct 1, a holiday: rolls to Oct 8
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        d = await deadlines.deadline_of(uow.session, "test", 40, lock=True)
        with pytest.raises(DomainError) as exc:
            await deadlines.extend_clock(uow, cal, d, 1)
        assert (exc.value.code, exc.value.field, exc.value.params) == (
            ErrorCode.EXTENSION_OVER_LIMIT,
            "workingDays",
            {"left": 0},
        )
        m = await deadlines.deadline_of(uow.session, "test", 41, lock=True)
        await deadlines.extend_clock(uow, cal, m, 2)
        assert (m.due_on, m.extension) == (D(2026, 10, 10), 2)  # 2 working days: Oct 9, Sat Oct 10
        await deadlines.pause_clock(uow, cal, m, at(D(2026, 10, 9)), "returned_to_drafter")
        with pytest.raises(DomainError) as paused:
            await deadlines.extend_clock(uow, cal, m, 1)
        assert (paused.value.code, paused.value.field) == (ErrorCode.INVALID_STATE, "deadlineId")
    assert big.limit == 1000

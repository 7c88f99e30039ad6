"""Reminder cards, escalation, urging (催办) and extension requests (延期) on both databases, with
the platform clock set to the instants of the story.

The clock of the story: a 12345 hotline work order (5 working days, extension ≤ 10, approved by
the assigner) given to 张伟 of the Finance Department by the General Office's clerk on Tue
2026-09-22: Sep 23, 24, 28, 29, 30 count (Sep 25–27 is the Mid-Autumn break), so it is due Wed
2026-09-30 at 24:00; Oct 1–7 is the National Day break and Sat Oct 10 a make-up working day.
The 09:00 sweeps run through the scheduler (``platform.scheduler.run_due``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from messaging.models import Notification
from office_api import deadlines, extensions, reminders
from office_api.config import Settings
from office_api.org.models import Duty, User
from office_api.scheduler import DONE, ScheduledJob
from office_api.sla import policy_by_code
from office_api.workdays import SHANGHAI, load_calendar
from tests.conftest import GraphQLClient, enable_totp
from tests.dispatch_helpers import give_duty, ids_of, signed_in
from tests.scheduler_worker import run_workers

D = dt.date
FINANCE, QINGDAO = "370000-finance", "370200"


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    """``hour``:``minute`` Asia/Shanghai on ``day`` as a UTC instant."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI).astimezone(dt.UTC)


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


async def work_order(
    platform: Any,
    ids: dict[str, int],
    subject_id: int = 1,
    *,
    holder: str | None = "zhang_wei",
    unit: str = FINANCE,
    started: dt.datetime | None = None,
    policy: str | None = "hotline-12345",
) -> int:
    """A running clock (subject ``incoming`` ``subject_id``) assigned by the clerk; its id."""
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        d = await deadlines.start_clock(
            uow,
            cal,
            subject_type="incoming",
            subject_id=subject_id,
            started_at=started or at(D(2026, 9, 22)),
            policy=await policy_by_code(uow.session, policy) if policy else None,
            limit=None if policy else 5,
            holder_user_id=ids[holder] if holder else None,
            holder_unit_id=ids[unit],
            assigner_user_id=ids["clerk"],
        )
        return d.id


async def nine_am(platform: Any, day: dt.date) -> int:
    """The platform clock at 09:00 on ``day``; the daily sweep job of ``day`` exists and runs
    (with whatever earlier runs are pending). Returns the jobs run."""
    now = at(day, 9)
    platform.clock = lambda: now
    await platform.scheduler.ensure_recurring_jobs(now - dt.timedelta(minutes=1))
    return await platform.scheduler.run_due(now)


async def cards(platform: Any, ids: dict[str, int]) -> list[tuple[str, str]]:
    """(username, kind) of every deadline notification so far, in order."""
    async with platform.db.read() as s:
        names = dict((await s.execute(select(User.id, User.username))).all())
        rows = await s.execute(
            select(Notification.user_id, Notification.kind)
            .where(Notification.kind.like("DEADLINE_%") | Notification.kind.like("EXTENSION_%"))
            .order_by(Notification.id)
        )
        return [(names[u], k) for u, k in rows.all()]


async def clock(platform: Any, deadline_id: int) -> deadlines.Deadline:
    async with platform.db.read() as s:
        return (await s.execute(select(deadlines.Deadline).where(deadlines.Deadline.id == deadline_id))).scalar_one()


async def test_yellow_red_and_escalation_fire_on_the_right_working_days(platform: Any, ids: dict[str, int]) -> None:
    d = await work_order(platform, ids)
    assert (await clock(platform, d)).due_on == D(2026, 9, 30)
    seen: dict[dt.date, list[tuple[str, str]]] = {}
    day = D(2026, 9, 24)
    while day <= D(2026, 10, 13):
        before = len(await cards(platform, ids))
        await nine_am(platform, day)
        seen[day] = (await cards(platform, ids))[before:]
        day += dt.timedelta(days=1)
    sent = {day: got for day, got in seen.items() if got}
    assert sent == {
        # yellow: 1 working day left (Mon Sep 28 had 2; Sep 25–27 are off)
        D(2026, 9, 29): [("zhang_wei", "DEADLINE_YELLOW")],
        # red: the first working day past Sep 30 is Thu Oct 8, not Oct 1; to the holder and the assigner
        D(2026, 10, 8): [("clerk", "DEADLINE_RED"), ("zhang_wei", "DEADLINE_RED")],
        # escalation to the Finance Department's head once 3 overdue working days (Oct 8, 9 and the
        # make-up Sat Oct 10) have passed: at the sweep of the 4th, Mon Oct 12
        D(2026, 10, 12): [("finance_head", "DEADLINE_ESCALATED")],
    }
    got = await clock(platform, d)
    assert (got.yellow_at, got.red_at, got.escalated_at) == (
        at(D(2026, 9, 29), 9),
        at(D(2026, 10, 8), 9),
        at(D(2026, 10, 12), 9),
    )
    async with platform.db.read() as s:
        runs = (
            await s.execute(
                select(func.count())
                .select_from(ScheduledJob)
                .where(ScheduledJob.kind == reminders.SWEEP_KIND, ScheduledJob.status == DONE)
            )
        ).scalar_one()
        note = (
            (await s.execute(select(Notification).where(Notification.kind == "DEADLINE_RED").order_by(Notification.id)))
            .scalars()
            .first()
        )
    assert runs == 20  # one sweep per local date, holidays included (they send nothing)
    assert note is not None
    assert (note.subject_type, note.subject_id) == ("IncomingDocument", 1)
    assert note.payload == {
        "deadlineId": d,
        "subjectType": "incoming",
        "subjectId": 1,
        "dueOn": "2026-09-30",
        "workingDaysLeft": -1,
    }
    assert note.title == "红牌警告：已超过办理期限（2026-09-30 24:00 到期）"


async def test_nothing_is_sent_twice(platform: Any, ids: dict[str, int]) -> None:
    await work_order(platform, ids)
    for day in (D(2026, 9, 29), D(2026, 10, 8), D(2026, 10, 12)):
        now = at(day, 9)
        async with platform.db.unit_of_work() as uow:
            first = await reminders.sweep(uow, platform.broker, now)
        async with platform.db.unit_of_work() as uow:
            again = await reminders.sweep(uow, platform.broker, now + dt.timedelta(hours=3))
        assert sum((first.yellow, first.red, first.escalated)) == 1
        assert again == reminders.SweepResult(0, 0, 0)
    assert len(await cards(platform, ids)) == 4


async def test_no_cards_on_days_off(platform: Any, ids: dict[str, int]) -> None:
    await work_order(platform, ids)
    for day in (D(2026, 10, 1), D(2026, 10, 4), D(2026, 10, 7), D(2026, 10, 11)):
        async with platform.db.unit_of_work() as uow:
            assert await reminders.sweep(uow, platform.broker, at(day, 9)) == reminders.SweepResult()
    assert await cards(platform, ids) == []


async def test_a_unit_held_clock_warns_the_units_clerks(platform: Any, ids: dict[str, int]) -> None:
    await work_order(platform, ids, holder=None, unit=QINGDAO)
    await nine_am(platform, D(2026, 9, 29))
    assert await cards(platform, ids) == [("clerk_370200", "DEADLINE_YELLOW")]


async def test_a_unit_without_a_clerk_is_reached_through_its_head(as_, platform: Any, ids: dict[str, int]) -> None:
    """The Finance Department has no clerk (文书): its head gets the cards and the urges; a unit
    with nobody to answer for it (Lixia district, no posts) cannot be urged."""
    held = await work_order(platform, ids, 1, holder=None, unit=FINANCE)
    nobody = await work_order(platform, ids, 2, holder=None, unit="370102")
    await nine_am(platform, D(2026, 9, 29))
    assert await cards(platform, ids) == [("finance_head", "DEADLINE_YELLOW")]
    platform.clock = lambda: at(D(2026, 9, 29), 11)
    urged = await run(as_("clerk"), URGE, "urgeDeadline", deadlineId=held, message="请今日办结")
    assert urged["errors"] == []
    assert (await cards(platform, ids))[1:] == [("finance_head", "DEADLINE_URGED")]
    clerk = as_("clerk")
    clerk.lang = "en"
    refused = await run(clerk, URGE, "urgeDeadline", deadlineId=nobody, message="请今日办结")
    assert codes(refused) == [("deadlineId", "NO_ASSIGNEE")]
    assert refused["errors"][0]["message"] == "Nobody to receive the task: nobody holds this item to be urged"
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(reminders.DeadlineUrge))).scalar_one() == 1
    assert len(await cards(platform, ids)) == 2


async def test_closed_and_paused_clocks_get_no_cards(platform: Any, ids: dict[str, int]) -> None:
    closed = await work_order(platform, ids, 1)
    paused = await work_order(platform, ids, 2)
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        d1 = await deadlines.deadline_of(uow.session, "incoming", 1, lock=True)
        d2 = await deadlines.deadline_of(uow.session, "incoming", 2, lock=True)
        assert d1 is not None
        assert d2 is not None
        await deadlines.close_clock(uow, d1, at(D(2026, 9, 28)))
        await deadlines.pause_clock(uow, cal, d2, at(D(2026, 9, 28)), "returned_to_drafter")
    await nine_am(platform, D(2026, 9, 29))
    await nine_am(platform, D(2026, 10, 8))
    assert await cards(platform, ids) == []
    assert (await clock(platform, closed)).status == "met"
    assert (await clock(platform, paused)).status == "paused"


URGE = "mutation($i: UrgeDeadlineInput!) { urgeDeadline(input: $i) { urge { id message urgedBy { username } } errors { field code message } } }"  # noqa: E501
REQUEST = "mutation($i: RequestExtensionInput!) { requestExtension(input: $i) { request { id status workingDays dueOnBefore } errors { field code message } } }"  # noqa: E501
DECIDE = "mutation($i: DecideExtensionInput!) { decideExtension(input: $i) { request { status dueOnAfter note decidedBy { username } } deadline { dueOn extension workingDaysLeft } errors { field code message } } }"  # noqa: E501
LIST = "query($d: Int!) { extensionRequests(deadlineId: $d) { workingDays status reason requestedBy { username } } }"


def codes(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def run(c: GraphQLClient, query: str, root: str, **input: Any) -> dict[str, Any]:
    data = await c.execute(query, {"i": input})
    assert "errors" not in data, data
    return data["data"][root]


async def test_urge_by_the_assigner_or_a_leader_and_refusals(as_, platform: Any, ids: dict[str, int]) -> None:
    d = await work_order(platform, ids)
    platform.clock = lambda: at(D(2026, 9, 28))
    done = await run(as_("clerk"), URGE, "urgeDeadline", deadlineId=d, message="请于本周内办结")
    assert done["errors"] == []
    assert (done["urge"]["message"], done["urge"]["urgedBy"]["username"]) == ("请于本周内办结", "clerk")
    leader = await run(as_("finance_head"), URGE, "urgeDeadline", deadlineId=d, message="抓紧")
    assert leader["errors"] == []
    assert await cards(platform, ids) == [("zhang_wei", "DEADLINE_URGED"), ("zhang_wei", "DEADLINE_URGED")]
    async with platform.db.read() as s:
        note = (await s.execute(select(Notification).where(Notification.kind == "DEADLINE_URGED"))).scalars().first()
    assert note is not None
    assert (note.body, note.actor_id) == ("请于本周内办结", ids["clerk"])

    holder = await run(as_("zhang_wei"), URGE, "urgeDeadline", deadlineId=d, message="x")
    stranger = await run(as_("drc_head"), URGE, "urgeDeadline", deadlineId=d, message="x")
    await enable_totp(platform, "admin")  # administrators sign in with two factors
    admin = await run(as_("admin"), URGE, "urgeDeadline", deadlineId=d, message="x")
    empty = await run(as_("clerk"), URGE, "urgeDeadline", deadlineId=d, message="  ")
    long = await run(as_("clerk"), URGE, "urgeDeadline", deadlineId=d, message="催" * 501)
    assert codes(holder) == [("deadlineId", "FORBIDDEN")]
    assert codes(stranger) == [("deadlineId", "NOT_FOUND")]
    assert codes(admin) == [("deadlineId", "NOT_FOUND")]
    assert codes(empty) == [("message", "REQUIRED")]
    assert codes(long) == [("message", "TOO_LONG")]
    assert len(await cards(platform, ids)) == 2


async def test_a_leader_holding_the_task_cannot_urge_himself(as_, platform: Any, ids: dict[str, int]) -> None:
    """张维 is a deputy head of the Finance Department and holds the work order: a leader over
    the holder unit, yet the holder; his urge is refused, his head's goes to him."""
    await give_duty(platform, "zhang_wei2", FINANCE, Duty.DEPUTY_HEAD)
    d = await work_order(platform, ids, holder="zhang_wei2")
    platform.clock = lambda: at(D(2026, 9, 28))
    himself = await run(as_("zhang_wei2"), URGE, "urgeDeadline", deadlineId=d, message="抓紧")
    assert codes(himself) == [("deadlineId", "FORBIDDEN")]
    head = await run(as_("finance_head"), URGE, "urgeDeadline", deadlineId=d, message="抓紧")
    assert head["errors"] == []
    assert await cards(platform, ids) == [("zhang_wei2", "DEADLINE_URGED")]
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(reminders.DeadlineUrge))).scalar_one() == 1


async def test_urging_a_closed_item_is_refused(as_, platform: Any, ids: dict[str, int]) -> None:
    d = await work_order(platform, ids)
    async with platform.db.unit_of_work() as uow:
        row = await deadlines.deadline_of(uow.session, "incoming", 1, lock=True)
        assert row is not None
        await deadlines.close_clock(uow, row, at(D(2026, 9, 29)))
    platform.clock = lambda: at(D(2026, 9, 30))
    as_clerk = as_("clerk")
    as_clerk.lang = "en"
    result = await run(as_clerk, URGE, "urgeDeadline", deadlineId=d, message="请办理")
    assert codes(result) == [("deadlineId", "DEADLINE_CLOSED")]
    assert result["errors"][0]["message"] == (
        "The item is closed or cancelled; it cannot be urged, extended or re-timed (met)"
    )
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(reminders.DeadlineUrge))).scalar_one() == 0
    assert await cards(platform, ids) == []


async def test_an_approved_extension_moves_the_due_date_by_working_days(
    as_, platform: Any, ids: dict[str, int]
) -> None:
    d = await work_order(platform, ids)
    platform.clock = lambda: at(D(2026, 9, 29), 15)
    asked = await run(as_("zhang_wei"), REQUEST, "requestExtension", deadlineId=d, workingDays=3, reason="需会商")
    assert asked["errors"] == []
    assert (asked["request"]["status"], asked["request"]["dueOnBefore"]) == ("PENDING", "2026-09-30")
    again = await run(as_("zhang_wei"), REQUEST, "requestExtension", deadlineId=d, workingDays=1, reason="再延")
    assert codes(again) == [("deadlineId", "INVALID_STATE")]
    not_approver = await run(
        as_("finance_head"), DECIDE, "decideExtension", requestId=asked["request"]["id"], approve=True
    )
    assert codes(not_approver) == [("requestId", "FORBIDDEN")]

    platform.clock = lambda: at(D(2026, 9, 30), 11)
    decided = await run(
        as_("clerk"), DECIDE, "decideExtension", requestId=asked["request"]["id"], approve=True, note="同意"
    )
    assert decided["errors"] == []
    # Sep 30 + 3 working days: Oct 1–7 off, then Oct 8, 9 and the make-up Saturday Oct 10
    assert decided["request"] == {
        "status": "APPROVED",
        "dueOnAfter": "2026-10-10",
        "note": "同意",
        "decidedBy": {"username": "clerk"},
    }
    assert decided["deadline"] == {"dueOn": "2026-10-10", "extension": 3, "workingDaysLeft": 3}
    twice = await run(as_("clerk"), DECIDE, "decideExtension", requestId=asked["request"]["id"], approve=False)
    assert codes(twice) == [("requestId", "INVALID_STATE")]
    assert await cards(platform, ids) == [("clerk", "EXTENSION_REQUESTED"), ("zhang_wei", "EXTENSION_APPROVED")]

    # the cards follow the new date: no red on Oct 8, yellow on Oct 9 (1 working day left)
    await nine_am(platform, D(2026, 10, 8))
    await nine_am(platform, D(2026, 10, 9))
    assert (await cards(platform, ids))[2:] == [("zhang_wei", "DEADLINE_YELLOW")]
    listed = (await as_("finance_head").execute(LIST, {"d": d}))["data"]["extensionRequests"]
    assert listed == [
        {"workingDays": 3, "status": "APPROVED", "reason": "需会商", "requestedBy": {"username": "zhang_wei"}}
    ]
    hidden = await as_("drc_head").execute(LIST, {"d": d})
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_extension_refused_after_the_deadline_and_over_the_limit(as_, platform: Any, ids: dict[str, int]) -> None:
    d = await work_order(platform, ids)
    holder = as_("zhang_wei")
    holder.lang = "en"
    platform.clock = lambda: at(D(2026, 9, 28))
    over = await run(holder, REQUEST, "requestExtension", deadlineId=d, workingDays=11, reason="复杂")
    assert codes(over) == [("workingDays", "EXTENSION_OVER_LIMIT")]
    assert "10 working days left" in over["errors"][0]["message"]
    zero = await run(holder, REQUEST, "requestExtension", deadlineId=d, workingDays=0, reason="复杂")
    assert codes(zero) == [("workingDays", "INVALID_VALUE")]
    not_holder = await run(as_("clerk"), REQUEST, "requestExtension", deadlineId=d, workingDays=1, reason="x")
    assert codes(not_holder) == [("deadlineId", "FORBIDDEN")]

    first = await run(holder, REQUEST, "requestExtension", deadlineId=d, workingDays=8, reason="复杂")
    refused = await run(as_("clerk"), DECIDE, "decideExtension", requestId=first["request"]["id"], approve=False)
    assert refused["errors"] == []
    assert refused["request"]["status"] == "REFUSED"
    assert refused["deadline"]["dueOn"] == "2026-09-30"
    granted = await run(holder, REQUEST, "requestExtension", deadlineId=d, workingDays=8, reason="复杂")
    ok = await run(as_("clerk"), DECIDE, "decideExtension", requestId=granted["request"]["id"], approve=True)
    assert ok["deadline"]["extension"] == 8
    more = await run(holder, REQUEST, "requestExtension", deadlineId=d, workingDays=3, reason="还要")
    assert codes(more) == [("workingDays", "EXTENSION_OVER_LIMIT")]
    assert "2 working days left" in more["errors"][0]["message"]

    late = await work_order(platform, ids, 2)
    platform.clock = lambda: at(D(2026, 10, 1), 0) + dt.timedelta(seconds=1)  # Sep 30 24:00 has passed
    after = await run(holder, REQUEST, "requestExtension", deadlineId=late, workingDays=1, reason="来不及")
    assert codes(after) == [("deadlineId", "EXTENSION_AFTER_DEADLINE")]
    assert after["errors"][0]["message"] == (
        "An extension must be requested and approved before the deadline passes (due 2026-09-30 24:00)"
    )
    async with platform.db.read() as s:
        n = (await s.execute(select(func.count()).select_from(extensions.ExtensionRequest))).scalar_one()
    assert n == 2  # the two requests accepted above; every refusal wrote nothing


async def test_an_extension_is_not_approved_after_the_deadline(as_, platform: Any, ids: dict[str, int]) -> None:
    """Asked in time (Tue Sep 29), decided late (Thu Oct 1 00:00:01, Sep 30 24:00 has passed):
    approval is refused and the clock stays overdue; the approver may still refuse."""
    d = await work_order(platform, ids)
    platform.clock = lambda: at(D(2026, 9, 29), 15)
    asked = await run(as_("zhang_wei"), REQUEST, "requestExtension", deadlineId=d, workingDays=3, reason="需会商")
    request_id = asked["request"]["id"]
    platform.clock = lambda: at(D(2026, 10, 1), 0) + dt.timedelta(seconds=1)
    clerk = as_("clerk")
    clerk.lang = "en"
    late = await run(clerk, DECIDE, "decideExtension", requestId=request_id, approve=True)
    assert codes(late) == [("requestId", "EXTENSION_AFTER_DEADLINE")]
    assert late["errors"][0]["message"] == (
        "An extension must be requested and approved before the deadline passes (due 2026-09-30 24:00)"
    )
    got = await clock(platform, d)
    assert (got.due_on, got.extension, deadlines.overdue(got, at(D(2026, 10, 1), 9))) == (D(2026, 9, 30), 0, True)
    refused = await run(clerk, DECIDE, "decideExtension", requestId=request_id, approve=False, note="已超期")
    assert refused["errors"] == []
    assert refused["request"]["status"] == "REFUSED"
    assert refused["deadline"]["dueOn"] == "2026-09-30"
    assert await cards(platform, ids) == [("clerk", "EXTENSION_REQUESTED"), ("zhang_wei", "EXTENSION_REFUSED")]


async def test_extensions_stop_at_the_clocks_own_limit_and_the_absolute_cap(
    as_, platform: Any, ids: dict[str, int]
) -> None:
    """Without a policy a clock may be extended by its own limit at most; no clock, with or
    without a policy, goes past 1000 working days in all (the approval would have no date)."""
    from office_api.sla import SlaPolicy

    async with platform.db.unit_of_work() as uow:
        uow.session.add(SlaPolicy(code="test-long", name="长时限", limit=995, extension_limit=10))
    ad_hoc = await work_order(platform, ids, 1, policy=None)  # 5 working days
    at_cap = await work_order(platform, ids, 2, policy=None)
    long = await work_order(platform, ids, 3, policy="test-long")
    async with platform.db.unit_of_work() as uow:
        d2 = await deadlines.deadline_of(uow.session, "incoming", 2, lock=True)
        assert d2 is not None
        d2.limit = 1000  # as a supervision item given workingDays: 1000
    holder = as_("zhang_wei")
    holder.lang = "en"
    platform.clock = lambda: at(D(2026, 9, 28))
    six = await run(holder, REQUEST, "requestExtension", deadlineId=ad_hoc, workingDays=6, reason="复杂")
    assert codes(six) == [("workingDays", "EXTENSION_OVER_LIMIT")]
    assert "5 working days left" in six["errors"][0]["message"]
    one = await run(holder, REQUEST, "requestExtension", deadlineId=at_cap, workingDays=1, reason="复杂")
    assert codes(one) == [("workingDays", "EXTENSION_OVER_LIMIT")]
    assert "0 working days left" in one["errors"][0]["message"]
    six_more = await run(holder, REQUEST, "requestExtension", deadlineId=long, workingDays=6, reason="复杂")
    assert codes(six_more) == [("workingDays", "EXTENSION_OVER_LIMIT")]
    assert "5 working days left" in six_more["errors"][0]["message"]  # 995 + 5 = 1000, not the policy's 10
    five = await run(holder, REQUEST, "requestExtension", deadlineId=long, workingDays=5, reason="复杂")
    approved = await run(as_("clerk"), DECIDE, "decideExtension", requestId=five["request"]["id"], approve=True)
    assert approved["errors"] == []
    assert approved["deadline"]["extension"] == 5
    got = await clock(platform, long)
    assert (got.remaining, got.due_on is not None) == (1000, True)


async def test_two_server_processes_send_each_card_once(
    database_url: str, platform: Any, ids: dict[str, int], tmp_path
) -> None:
    """Two OS processes start at 09:00 on Tue 2026-09-29 (both create the day's sweep, both run
    the scheduler): 40 work orders due the next day get one yellow card each."""
    holders = ["zhang_wei", "wang_wei", "li_na", "zhou_wei"]
    for i in range(40):
        await work_order(platform, ids, i + 1, holder=holders[i % 4])
    results = await run_workers(database_url, tmp_path, 2, at(D(2026, 9, 29), 9).isoformat())
    # the day's sweep and the 09:00 check of hours clocks, each run by one of them
    assert sum(r["ran"] for r in results) == 2
    got = await cards(platform, ids)
    assert sorted(set(got)) == sorted({(h, "DEADLINE_YELLOW") for h in holders})
    assert len(got) == 40
    async with platform.db.read() as s:
        jobs = (
            await s.execute(
                select(ScheduledJob.key, ScheduledJob.status)
                .where(ScheduledJob.kind == reminders.SWEEP_KIND)
                .order_by(ScheduledJob.id)
            )
        ).all()
        stamped = (
            await s.execute(
                select(func.count()).select_from(deadlines.Deadline).where(deadlines.Deadline.yellow_at.is_not(None))
            )
        ).scalar_one()
    assert [tuple(j) for j in jobs] == [("2026-09-29", DONE), ("2026-09-30", "pending")]
    assert stamped == 40


async def test_an_hours_clock_gets_its_red_card_within_five_minutes(platform: Any, ids: dict[str, int]) -> None:
    """Every 5 minutes, day or night, holiday or not: red cards of clocks counted in hours."""
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        for subject, hours in ((7, 24), (8, 2)):
            await deadlines.start_clock(
                uow,
                cal,
                subject_type="incoming",
                subject_id=subject,
                started_at=at(D(2026, 9, 30), 14, 2),
                limit=hours,
                unit="hours",
                holder_user_id=ids["zhang_wei"],
                assigner_user_id=ids["clerk"],
            )
        d8 = await deadlines.deadline_of(uow.session, "incoming", 8, lock=True)
        assert d8 is not None
        await deadlines.close_clock(uow, d8, at(D(2026, 9, 30), 15))  # closed in time: never a card
    scheduler = platform.scheduler
    due = at(D(2026, 10, 1), 14, 2)  # 24 hours later, a National Day holiday
    assert await scheduler.ensure_recurring_jobs(due - dt.timedelta(minutes=3)) >= 1
    async with platform.db.read() as s:
        checks = (await s.execute(select(ScheduledJob.run_at).where(ScheduledJob.kind == reminders.HOURS_KIND))).all()
    assert [c[0] for c in checks] == [at(D(2026, 10, 1), 14, 0)]  # the next multiple of 5 minutes
    await scheduler.run_due(at(D(2026, 10, 1), 14, 0))  # 14:00: not due yet
    assert await cards(platform, ids) == []
    await scheduler.run_due(at(D(2026, 10, 1), 14, 5))  # 14:05: the check after the due instant
    assert await cards(platform, ids) == [("clerk", "DEADLINE_RED"), ("zhang_wei", "DEADLINE_RED")]
    async with platform.db.read() as s:
        titles = (await s.execute(select(Notification.title).where(Notification.kind == "DEADLINE_RED"))).scalars()
        # the due instant in local time (06:02 UTC), not a raw UTC timestamp
        assert set(titles) == {"红牌警告：已超过办理时限（2026-10-01 14:02（北京时间） 到期）"}
    await scheduler.run_due(at(D(2026, 10, 1), 14, 10))
    await nine_am(platform, D(2026, 10, 8))  # later checks and the daily sweep add nothing
    assert len(await cards(platform, ids)) == 2


async def test_a_policy_can_warn_earlier_and_escalate_sooner(platform: Any, ids: dict[str, int]) -> None:
    from office_api.sla import SlaPolicy

    async with platform.db.unit_of_work() as uow:
        uow.session.add(
            SlaPolicy(code="test-early", name="早提醒", limit=5, extension_limit=0, yellow_before=3, escalate_after=1)
        )
    await work_order(platform, ids, policy="test-early")  # due Wed Sep 30
    sent: dict[dt.date, list[tuple[str, str]]] = {}
    for day in (D(2026, 9, 23), D(2026, 9, 24), D(2026, 10, 8), D(2026, 10, 9)):
        before = len(await cards(platform, ids))
        await nine_am(platform, day)
        sent[day] = (await cards(platform, ids))[before:]
    assert sent == {
        D(2026, 9, 23): [],  # 4 working days left (24, 28, 29, 30)
        D(2026, 9, 24): [("zhang_wei", "DEADLINE_YELLOW")],  # 3 left
        D(2026, 10, 8): [("clerk", "DEADLINE_RED"), ("zhang_wei", "DEADLINE_RED")],
        D(2026, 10, 9): [("finance_head", "DEADLINE_ESCALATED")],  # 1 overdue working day has passed
    }


async def test_concurrent_requests_and_decisions_have_one_winner(as_, platform: Any, ids: dict[str, int]) -> None:
    import asyncio

    d = await work_order(platform, ids)
    platform.clock = lambda: at(D(2026, 9, 28))
    holder = as_("zhang_wei")
    asked = await asyncio.gather(
        *(run(holder, REQUEST, "requestExtension", deadlineId=d, workingDays=2, reason=f"第{i}次") for i in range(8))
    )
    winners = [r for r in asked if r["errors"] == []]
    assert len(winners) == 1
    assert sorted(codes(r) for r in asked if r["errors"]) == [[("deadlineId", "INVALID_STATE")]] * 7
    request_id = winners[0]["request"]["id"]
    clerk = as_("clerk")
    decided = await asyncio.gather(
        *(run(clerk, DECIDE, "decideExtension", requestId=request_id, approve=i % 2 == 0) for i in range(6))
    )
    assert len([r for r in decided if r["errors"] == []]) == 1
    assert sorted(codes(r) for r in decided if r["errors"]) == [[("requestId", "INVALID_STATE")]] * 5
    got = await clock(platform, d)
    assert got.extension in (0, 2)  # approved once (Sep 30 + 2 = Oct 9) or refused: never twice
    assert got.due_on == (D(2026, 10, 9) if got.extension else D(2026, 9, 30))
    kinds = [k for _, k in await cards(platform, ids)]
    assert kinds.count("EXTENSION_REQUESTED") == 1
    assert len([k for k in kinds if k in ("EXTENSION_APPROVED", "EXTENSION_REFUSED")]) == 1


async def test_a_calendar_day_clock_is_extended_in_working_days(as_, platform: Any, ids: dict[str, int]) -> None:
    # incoming-default: 30 calendar days (extension up to 15 working days). From Sep 8: Oct 8.
    d = await work_order(platform, ids, policy="incoming-default", started=at(D(2026, 9, 8)))
    assert (await clock(platform, d)).due_on == D(2026, 10, 8)
    platform.clock = lambda: at(D(2026, 9, 29))
    asked = await run(as_("zhang_wei"), REQUEST, "requestExtension", deadlineId=d, workingDays=2, reason="需会商")
    assert asked["errors"] == []
    decided = await run(as_("clerk"), DECIDE, "decideExtension", requestId=asked["request"]["id"], approve=True)
    # Oct 8 + 2 working days: Oct 9, then the make-up Saturday Oct 10.
    assert decided["deadline"]["dueOn"] == "2026-10-10"
    assert decided["deadline"]["extension"] == 2
    # A stopped clock (the document went back to its drafter) is not extended until it runs again.
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        row = await deadlines.deadline_of(uow.session, "incoming", 1, lock=True)
        assert row is not None
        await deadlines.pause_clock(uow, cal, row, at(D(2026, 9, 30)), "returned_to_drafter")
    stopped = await run(as_("zhang_wei"), REQUEST, "requestExtension", deadlineId=d, workingDays=1, reason="再延")
    assert codes(stopped) == [("deadlineId", "INVALID_STATE")]

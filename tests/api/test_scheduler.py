"""The job scheduler (office_api/scheduler.py) on SQLite and PostgreSQL: a due job runs once and
is marked done, a failing one is retried with backoff and then marked failed (its writes rolled
back), nothing runs early, scheduling twice is one job, jobs survive a restart, daily jobs chain
themselves at 09:00 Asia/Shanghai, the app's lifespan starts and stops the polling task, and two
OS processes running the scheduler over the same database run each of 200 jobs exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from messaging.models import Notification
from messaging.outbox import Message, notify
from office_api.config import Settings
from office_api.db import Database, UnitOfWork
from office_api.org.models import User
from office_api.scheduler import (
    CANCELLED,
    DONE,
    FAILED,
    PENDING,
    Job,
    JobContext,
    Registry,
    ScheduledJob,
    Scheduler,
    backoff,
    cancel,
    next_daily_run,
    schedule,
)
from tests.conftest import TEST_SECRET
from tests.scheduler_worker import run_workers

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 9, 29, 1, 0, tzinfo=dt.UTC)  # Tue 2026-09-29 09:00 Asia/Shanghai
NOTE = "SCHEDULER_TEST"


class RecordingBroker:
    """Remembers what was published (after commit)."""

    def __init__(self) -> None:
        self.published: list[list[int]] = []

    async def publish(self, user_ids: Any) -> None:
        self.published.append(sorted(user_ids))


def make_settings(url: str, **kw: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "jwt_secret": TEST_SECRET,
        "scheduler_enabled": False,
        "scheduler_max_attempts": 3,
        "scheduler_retry_seconds": 60,
    }
    return Settings(**(values | kw))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def user_id(db: Database) -> int:
    async with db.read() as s:
        return (await s.execute(select(User.id).where(User.username == "clerk"))).scalar_one()


async def add(db: Database, kind: str, key: str, run_at: dt.datetime, payload: dict | None = None) -> bool:
    async with db.unit_of_work() as uow:
        return await schedule(uow, kind, key, run_at, payload)


async def jobs(db: Database) -> list[ScheduledJob]:
    async with db.read() as s:
        return list((await s.execute(select(ScheduledJob).order_by(ScheduledJob.id))).scalars())


async def notes(db: Database) -> list[Notification]:
    async with db.read() as s:
        rows = await s.execute(select(Notification).where(Notification.kind == NOTE).order_by(Notification.id))
        return list(rows.scalars())


def notifying_registry(calls: list[Job], *, fail_times: int = 0) -> Registry:
    """A registry whose ``test.note`` handler notifies ``payload.user_id`` and then raises
    RuntimeError on its first ``fail_times`` calls (after writing, to prove the rollback)."""
    reg = Registry()

    @reg.register("test.note")
    async def handler(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
        calls.append(job)
        await notify(uow, ctx.broker, [Message(job.payload["user_id"], NOTE, f"job {job.key}", subject_id=job.id)])
        if len(calls) <= fail_times:
            raise RuntimeError(f"boom {len(calls)}")

    return reg


async def test_due_job_runs_once_and_is_marked_done(db: Database, user_id: int) -> None:
    calls: list[Job] = []
    broker = RecordingBroker()
    scheduler = Scheduler(make_settings(db.url), db, broker, registry=notifying_registry(calls))
    assert await add(db, "test.note", "a", T0, {"user_id": user_id}) is True

    assert await scheduler.run_due(T0 + dt.timedelta(seconds=5)) == 1
    assert await scheduler.run_due(T0 + dt.timedelta(hours=1)) == 0

    [job] = await jobs(db)
    assert (job.status, job.attempts, job.last_error) == (DONE, 0, None)
    assert job.done_at == T0 + dt.timedelta(seconds=5)
    assert [(c.kind, c.key, c.payload, c.attempts) for c in calls] == [("test.note", "a", {"user_id": user_id}, 0)]
    [note] = await notes(db)
    assert (note.user_id, note.subject_id, note.title) == (user_id, job.id, "job a")
    assert broker.published == [[user_id]]  # published once, after commit


async def test_failing_job_is_retried_with_backoff_then_failed(db: Database, user_id: int) -> None:
    calls: list[Job] = []
    broker = RecordingBroker()
    settings = make_settings(db.url)
    scheduler = Scheduler(settings, db, broker, registry=notifying_registry(calls, fail_times=99))
    await add(db, "test.note", "f", T0, {"user_id": user_id})

    assert await scheduler.run_due(T0) == 1  # attempt 1 fails: retry after 60 s
    [job] = await jobs(db)
    assert (job.status, job.attempts, job.run_at) == (PENDING, 1, T0 + dt.timedelta(seconds=60))
    assert job.last_error is not None
    assert job.last_error.startswith("RuntimeError: boom 1 at test_scheduler.py:")

    assert await scheduler.run_due(T0 + dt.timedelta(seconds=59)) == 0  # not before the backoff
    assert await scheduler.run_due(T0 + dt.timedelta(seconds=60)) == 1  # attempt 2 fails: retry after 120 s
    [job] = await jobs(db)
    assert (job.status, job.attempts, job.run_at) == (PENDING, 2, T0 + dt.timedelta(seconds=180))

    assert await scheduler.run_due(T0 + dt.timedelta(seconds=180)) == 1  # attempt 3 = max: failed
    [job] = await jobs(db)
    assert (job.status, job.attempts, job.done_at) == (FAILED, 3, T0 + dt.timedelta(seconds=180))
    assert job.last_error is not None
    assert job.last_error.startswith("RuntimeError: boom 3")
    assert await scheduler.run_due(T0 + dt.timedelta(days=30)) == 0  # a failed job is left alone

    assert [c.attempts for c in calls] == [0, 1, 2]
    assert await notes(db) == []  # every failed run's notification was rolled back
    assert broker.published == []  # and nobody was told


async def test_job_that_fails_once_succeeds_on_retry(db: Database, user_id: int) -> None:
    calls: list[Job] = []
    scheduler = Scheduler(
        make_settings(db.url), db, RecordingBroker(), registry=notifying_registry(calls, fail_times=1)
    )
    await add(db, "test.note", "r", T0, {"user_id": user_id})
    assert await scheduler.run_due(T0) == 1
    assert await scheduler.run_due(T0 + dt.timedelta(seconds=60)) == 1
    [job] = await jobs(db)
    assert (job.status, job.attempts, job.last_error is not None) == (DONE, 1, True)
    assert len(await notes(db)) == 1


def test_backoff_doubles_up_to_a_day() -> None:
    settings = make_settings("sqlite+aiosqlite:///unused.db", scheduler_retry_seconds=60)
    assert [backoff(settings, n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert backoff(settings, 40) == dt.timedelta(days=1)


async def test_job_for_later_does_not_run_early(db: Database, user_id: int) -> None:
    calls: list[Job] = []
    scheduler = Scheduler(make_settings(db.url), db, RecordingBroker(), registry=notifying_registry(calls))
    later = T0 + dt.timedelta(days=2)
    await add(db, "test.note", "later", later, {"user_id": user_id})
    await add(db, "test.note", "now", T0, {"user_id": user_id})

    assert await scheduler.run_due(later - dt.timedelta(microseconds=1)) == 1
    assert [c.key for c in calls] == ["now"]
    assert await scheduler.run_due(later) == 1
    assert [c.key for c in calls] == ["now", "later"]


async def test_jobs_run_in_order_of_run_at(db: Database, user_id: int) -> None:
    calls: list[Job] = []
    scheduler = Scheduler(make_settings(db.url), db, RecordingBroker(), registry=notifying_registry(calls))
    for key, minutes in (("c", 3), ("a", 1), ("b", 2)):
        await add(db, "test.note", key, T0 + dt.timedelta(minutes=minutes), {"user_id": user_id})
    assert await scheduler.run_due(T0 + dt.timedelta(hours=1), limit=2) == 2
    assert await scheduler.run_due(T0 + dt.timedelta(hours=1)) == 1
    assert [c.key for c in calls] == ["a", "b", "c"]


async def test_scheduling_the_same_kind_and_key_twice_is_a_no_op(db: Database, user_id: int) -> None:
    assert await add(db, "test.note", "dup", T0, {"user_id": user_id}) is True
    assert await add(db, "test.note", "dup", T0 + dt.timedelta(hours=5), {"user_id": 0}) is False
    assert await add(db, "test.other", "dup", T0) is True  # another kind, same key: another job
    # two concurrent transactions scheduling the same new job: one row, no error
    results = await asyncio.gather(*(add(db, "test.note", "race", T0) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]

    rows = await jobs(db)
    assert [(j.kind, j.key, j.run_at, j.payload) for j in rows] == [
        ("test.note", "dup", T0, {"user_id": user_id}),
        ("test.other", "dup", T0, {}),
        ("test.note", "race", T0, {}),
    ]
    calls: list[Job] = []
    scheduler = Scheduler(make_settings(db.url), db, RecordingBroker(), registry=notifying_registry(calls))
    await scheduler.run_due(T0, limit=1)
    assert await add(db, "test.note", "dup", T0) is False  # a done job is not scheduled again
    assert len(await jobs(db)) == 3


async def test_schedule_refuses_bad_arguments(db: Database) -> None:
    async with db.unit_of_work() as uow:
        with pytest.raises(ValueError, match="timezone-aware"):
            await schedule(uow, "test.note", "k", dt.datetime(2026, 9, 29, 9, 0))  # noqa: DTZ001
        with pytest.raises(ValueError, match="key 1–200"):
            await schedule(uow, "test.note", "", T0)
        with pytest.raises(ValueError, match="kind must be 1–64"):
            await schedule(uow, "x" * 65, "k", T0)
    assert await jobs(db) == []


async def test_cancelled_job_does_not_run(db: Database, user_id: int) -> None:
    calls: list[Job] = []
    scheduler = Scheduler(make_settings(db.url), db, RecordingBroker(), registry=notifying_registry(calls))
    await add(db, "test.note", "c", T0, {"user_id": user_id})
    async with db.unit_of_work() as uow:
        assert await cancel(uow, "test.note", "c") is True
        assert await cancel(uow, "test.note", "c") is False
    assert await scheduler.run_due(T0) == 0
    assert calls == []
    assert [j.status for j in await jobs(db)] == [CANCELLED]


async def test_jobs_of_unknown_kinds_are_left_to_processes_that_know_them(db: Database, user_id: int) -> None:
    await add(db, "test.unknown", "u", T0)
    calls: list[Job] = []
    scheduler = Scheduler(make_settings(db.url), db, RecordingBroker(), registry=notifying_registry(calls))
    assert await scheduler.run_due(T0) == 0
    [job] = await jobs(db)
    assert (job.status, job.attempts) == (PENDING, 0)


async def test_jobs_survive_a_restart(database_url: str) -> None:
    first = Database(database_url)
    async with first.read() as s:
        uid = (await s.execute(select(User.id).where(User.username == "clerk"))).scalar_one()
    await add(first, "test.note", "survivor", T0, {"user_id": uid})
    await first.dispose()  # the process that scheduled it is gone

    second = Database(database_url)
    try:
        calls: list[Job] = []
        scheduler = Scheduler(
            make_settings(database_url), second, RecordingBroker(), registry=notifying_registry(calls)
        )
        assert await scheduler.run_due(T0 + dt.timedelta(days=1)) == 1
        assert [c.key for c in calls] == ["survivor"]
        assert [j.status for j in await jobs(second)] == [DONE]
    finally:
        await second.dispose()


def test_next_daily_run_is_the_first_local_occurrence_after() -> None:
    from zoneinfo import ZoneInfo

    sh, nine = ZoneInfo("Asia/Shanghai"), dt.time(9, 0)
    # 08:59:59 local → today 09:00; exactly 09:00 local → tomorrow; 23:30 local → tomorrow
    assert next_daily_run(nine, sh, T0 - dt.timedelta(seconds=1)) == ("2026-09-29", T0)
    assert next_daily_run(nine, sh, T0) == ("2026-09-30", T0 + dt.timedelta(days=1))
    late = dt.datetime(2026, 9, 29, 15, 30, tzinfo=dt.UTC)  # 23:30 local
    assert next_daily_run(nine, sh, late) == ("2026-09-30", T0 + dt.timedelta(days=1))
    # 2026-12-31 20:00 UTC is already 2027-01-01 04:00 local
    assert next_daily_run(nine, sh, dt.datetime(2026, 12, 31, 20, 0, tzinfo=dt.UTC)) == (
        "2027-01-01",
        dt.datetime(2027, 1, 1, 1, 0, tzinfo=dt.UTC),
    )


async def test_daily_job_runs_at_nine_local_and_schedules_the_next_day(db: Database) -> None:
    runs: list[tuple[str, dt.datetime]] = []
    reg = Registry()

    @reg.daily("test.daily")
    async def sweep(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
        runs.append((job.key, ctx.now))
        if job.key == "2026-10-01":
            raise RuntimeError("a bad day")

    scheduler = Scheduler(make_settings(db.url, scheduler_max_attempts=1), db, RecordingBroker(), registry=reg)
    before = T0 - dt.timedelta(hours=3)  # 06:00 local on 2026-09-29
    assert await scheduler.ensure_recurring_jobs(before) == 1
    assert await scheduler.ensure_recurring_jobs(before) == 0  # a second process (or restart): no second row
    assert [(j.key, j.run_at) for j in await jobs(db)] == [("2026-09-29", T0)]

    assert await scheduler.run_due(T0 - dt.timedelta(seconds=1)) == 0
    assert await scheduler.run_due(T0) == 1
    day = dt.timedelta(days=1)
    assert await scheduler.run_due(T0 + day) == 1
    assert await scheduler.run_due(T0 + 2 * day) == 1  # fails (max attempts 1): the chain goes on
    # nobody ran on 10-02 and 10-03: the 10-02 run happens once, late, on 10-04 at 10:00 local
    assert await scheduler.run_due(T0 + 5 * day + dt.timedelta(hours=1)) == 1
    assert runs == [
        ("2026-09-29", T0),
        ("2026-09-30", T0 + day),
        ("2026-10-01", T0 + 2 * day),
        ("2026-10-02", T0 + 5 * day + dt.timedelta(hours=1)),
    ]
    assert [(j.key, j.status, j.run_at) for j in await jobs(db)] == [
        ("2026-09-29", DONE, T0),
        ("2026-09-30", DONE, T0 + day),
        ("2026-10-01", FAILED, T0 + 2 * day),
        ("2026-10-02", DONE, T0 + 3 * day),
        ("2026-10-05", PENDING, T0 + 6 * day),
    ]


async def test_app_lifespan_runs_the_scheduler_and_stops_it(database_url: str, tmp_path: Path) -> None:
    from office_api.app import create_app

    settings = make_settings(database_url, scheduler_enabled=True, scheduler_poll_seconds=0.05, data_dir=tmp_path)
    app = create_app(settings)
    calls: list[Job] = []
    async with app.router.lifespan_context(app):
        platform = app.state.platform
        scheduler = platform.scheduler
        assert scheduler is not None
        assert scheduler._task is not None
        assert not scheduler._task.done()
        async with platform.db.read() as s:
            uid = (await s.execute(select(User.id).where(User.username == "clerk"))).scalar_one()
        scheduler.registry = notifying_registry(calls)
        platform.clock = lambda: T0  # the platform clock drives the loop
        await add(platform.db, "test.note", "bg", T0, {"user_id": uid})
        await add(platform.db, "test.note", "tomorrow", T0 + dt.timedelta(days=1), {"user_id": uid})
        for _ in range(200):
            if calls:
                break
            await asyncio.sleep(0.02)
        task = scheduler._task
    assert [c.key for c in calls] == ["bg"]
    assert scheduler._task is None
    assert task is not None
    assert task.done()
    assert not task.cancelled()


async def test_stop_lets_the_running_job_finish(db: Database, user_id: int) -> None:
    reg = Registry()
    started = asyncio.Event()

    @reg.register("test.slow")
    async def slow(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
        started.set()
        await asyncio.sleep(0.3)
        await notify(uow, ctx.broker, [Message(user_id, NOTE, "slow", subject_id=job.id)])

    settings = make_settings(db.url, scheduler_enabled=True, scheduler_poll_seconds=0.05)
    scheduler = Scheduler(settings, db, RecordingBroker(), clock=lambda: T0, registry=reg)
    await add(db, "test.slow", "1", T0)
    await add(db, "test.slow", "2", T0)
    await scheduler.start()
    await asyncio.wait_for(started.wait(), 10)
    await scheduler.stop()
    # the first job finished and committed; the second one was not started
    assert [j.status for j in await jobs(db)] == [DONE, PENDING]
    assert len(await notes(db)) == 1


WORKERS = 2
JOBS = 200


async def test_two_processes_run_each_job_exactly_once(database_url: str, tmp_path: Path) -> None:
    """Two OS processes, each with its own engine, run the scheduler at once over 200 due jobs."""
    db = Database(database_url)
    try:
        async with db.read() as s:
            uids = list((await s.execute(select(User.id).order_by(User.id).limit(5))).scalars())
        async with db.unit_of_work() as uow:
            for i in range(JOBS):
                await schedule(uow, "test.mark", f"m{i:03d}", T0, {"user_id": uids[i % len(uids)]})
    finally:
        await db.dispose()

    results = await run_workers(database_url, tmp_path, WORKERS)

    db = Database(database_url)
    try:
        async with db.read() as s:
            statuses = dict(
                (await s.execute(select(ScheduledJob.status, func.count()).group_by(ScheduledJob.status))).all()
            )
            rows = (
                await s.execute(
                    select(Notification.subject_id, Notification.payload).where(Notification.kind == "SCHEDULER_TEST")
                )
            ).all()
    finally:
        await db.dispose()
    assert statuses == {DONE: JOBS}
    assert sum(r["ran"] for r in results) == JOBS
    assert len(rows) == JOBS  # one notification per job: none twice, none lost
    assert len({subject for subject, _ in rows}) == JOBS
    by_pid: dict[int, int] = {}
    for _, payload in rows:
        by_pid[payload["pid"]] = by_pid.get(payload["pid"], 0) + 1
    assert by_pid == {r["pid"]: r["ran"] for r in results if r["ran"]}
    if not database_url.startswith("sqlite"):
        # SKIP LOCKED lets both run side by side; SQLite's write lock is not fair (the process that
        # just committed often takes it again), so there one process may run nearly every job.
        assert len(by_pid) == WORKERS


def test_operators_list_failed_jobs_and_retry_them(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from office_api.cli import main

    async def failed_job() -> int:
        db = Database(database_url)
        try:
            async with db.read() as s:
                uid = (await s.execute(select(User.id).where(User.username == "clerk"))).scalar_one()
            await add(db, "test.note", "broken", T0, {"user_id": uid})
            await add(db, "test.note", "fine", T0 + dt.timedelta(days=1), {"user_id": uid})
            reg = notifying_registry([], fail_times=99)
            scheduler = Scheduler(
                make_settings(database_url, scheduler_max_attempts=1), db, RecordingBroker(), registry=reg
            )
            assert await scheduler.run_due(T0) == 1
            return (await jobs(db))[0].id
        finally:
            await db.dispose()

    job_id = asyncio.run(failed_job())
    monkeypatch.setenv("OFFICE_DATABASE_URL", database_url)
    assert main(["jobs", "--status", "failed"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(
        f"{job_id}\ttest.note\tbroken\t2026-09-29T01:00:00+00:00\tfailed\tattempts=1  RuntimeError: boom 1"
    )
    assert main(["jobs"]) == 0
    assert [row.split("\t")[2] for row in capsys.readouterr().out.splitlines()] == ["fine", "broken"]

    assert main(["jobs", "--retry", str(job_id)]) == 0
    assert capsys.readouterr().out == f"job {job_id}: pending again, due now\n"
    assert main(["jobs", "--retry", str(job_id)]) == 1  # pending now, not failed
    assert capsys.readouterr().err == f"office-api: no failed job {job_id}\n"

    async def state() -> tuple[str, int]:
        db = Database(database_url)
        try:
            row = (await jobs(db))[0]
            return row.status, row.attempts
        finally:
            await db.dispose()

    assert asyncio.run(state()) == (PENDING, 0)


async def test_a_handler_that_breaks_a_database_rule_is_rolled_back_and_retried(db: Database, user_id: int) -> None:
    """A constraint violation inside the handler (here a notification for a user that does not
    exist) rolls back the handler's savepoint only: the claiming transaction records the failure."""
    reg = Registry()

    @reg.register("test.fk")
    async def broken(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
        await notify(uow, ctx.broker, [Message(user_id, NOTE, "written, then rolled back")])
        uow.session.add(Notification(user_id=999_999, seq=1, kind=NOTE, title="no such user", payload={}))
        await uow.session.flush()

    scheduler = Scheduler(make_settings(db.url), db, RecordingBroker(), registry=reg)
    await add(db, "test.fk", "1", T0)
    assert await scheduler.run_due(T0) == 1
    [job] = await jobs(db)
    assert (job.status, job.attempts) == (PENDING, 1)
    assert job.last_error is not None
    assert job.last_error.startswith("IntegrityError")
    assert await notes(db) == []


async def test_a_handler_runs_with_the_runs_instant_and_its_before_commit_work(db: Database, user_id: int) -> None:
    """``uow.now`` is the run's instant; callbacks the handler registers with ``before_commit``
    run inside its savepoint: their writes commit with the job, and their failure is the job's."""
    from office_api.db import unit_of_work_of

    seen: list[dt.datetime] = []
    reg = Registry()

    @reg.register("test.before")
    async def handler(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
        seen.append(uow.now)
        assert unit_of_work_of(uow.session) is uow

        async def later() -> None:
            await notify(uow, ctx.broker, [Message(user_id, NOTE, f"before commit {job.key}")])
            if job.payload.get("fail"):
                raise RuntimeError("late failure")

        uow.before_commit(("note", job.id), later)

    scheduler = Scheduler(make_settings(db.url), db, RecordingBroker(), registry=reg)
    await add(db, "test.before", "ok", T0)
    await add(db, "test.before", "bad", T0 + dt.timedelta(seconds=1), {"fail": True})
    assert await scheduler.run_due(T0 + dt.timedelta(minutes=1)) == 2
    assert seen == [T0 + dt.timedelta(minutes=1)] * 2
    assert [(j.key, j.status, j.attempts) for j in await jobs(db)] == [("ok", DONE, 0), ("bad", PENDING, 1)]
    assert [n.title for n in await notes(db)] == ["before commit ok"]


def test_every_runs_at_multiples_of_its_interval() -> None:
    from zoneinfo import ZoneInfo

    from office_api.scheduler import Every

    five = Every("test.every", 300)
    sh = ZoneInfo("Asia/Shanghai")
    assert five.next_after(sh, T0 + dt.timedelta(minutes=2, seconds=30)) == (
        "2026-09-29T01:05:00+00:00",
        T0 + dt.timedelta(minutes=5),
    )
    assert five.next_after(sh, T0 + dt.timedelta(minutes=5))[1] == T0 + dt.timedelta(minutes=10)
    with pytest.raises(ValueError, match="at most once a minute"):
        Registry().every("test.fast", seconds=10)


async def test_a_recurring_job_collapses_missed_runs(db: Database) -> None:
    runs: list[str] = []
    reg = Registry()

    @reg.every("test.every", seconds=300)
    async def tick(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
        runs.append(job.key)

    scheduler = Scheduler(make_settings(db.url), db, RecordingBroker(), registry=reg)
    assert await scheduler.ensure_recurring_jobs(T0 - dt.timedelta(seconds=1)) == 1
    assert await scheduler.run_due(T0 + dt.timedelta(minutes=12)) == 1  # 01:05 and 01:10 were missed: one run
    assert runs == ["2026-09-29T01:00:00+00:00"]
    assert [(j.key, j.status) for j in await jobs(db)] == [
        ("2026-09-29T01:00:00+00:00", DONE),
        ("2026-09-29T01:15:00+00:00", PENDING),
    ]


async def test_old_done_jobs_are_purged(db: Database) -> None:
    from office_api import scheduler as jobs_module

    reg = Registry()
    reg.daily(jobs_module.PURGE_KIND, at=dt.time(3, 30))(jobs_module._purge)
    settings = make_settings(db.url, scheduler_keep_days=30)
    scheduler = Scheduler(settings, db, RecordingBroker(), registry=reg)
    async with db.unit_of_work() as uow:
        for key, status, age in (
            ("old", DONE, 31),
            ("recent", DONE, 29),
            ("old-failed", FAILED, 90),
            ("old-x", CANCELLED, 40),
        ):
            uow.session.add(
                ScheduledJob(
                    kind="test.other",
                    key=key,
                    run_at=T0,
                    payload={},
                    status=status,
                    attempts=0,
                    done_at=T0 - dt.timedelta(days=age),
                )
            )
    await scheduler.ensure_recurring_jobs(T0)  # the purge of 2026-09-30 03:30 local
    assert await scheduler.run_due(T0 + dt.timedelta(days=1)) == 1
    keys = sorted(j.key for j in await jobs(db) if j.kind == "test.other")
    assert keys == ["old-failed", "recent"]

"""Scheduled jobs as database rows, run inside the server process, each exactly once.

Why rows and not APScheduler: APScheduler 3 cannot share a job store between processes and
APScheduler 4 is not yet stable; the platform runs several server processes against one
database (DESIGN.md §4), and a reminder must reach its recipient once, not once per process.

How a job runs exactly once
    A runner claims ONE due job and runs its handler inside the SAME write transaction
    (:meth:`office_api.db.Database.unit_of_work`): on PostgreSQL the claim is
    ``SELECT … FOR UPDATE SKIP LOCKED LIMIT 1`` (a second process skips the locked row and
    takes the next one; a row committed as done meanwhile no longer matches), on SQLite the
    write transaction starts with ``BEGIN IMMEDIATE`` so claim, handler and "done" are
    serialized across processes. The job is marked done in that transaction and everything
    the handler wrote (notifications through :func:`messaging.outbox.notify`, reminder stamps)
    commits with it or not at all; broker publications run after commit.

    The handler runs in a SAVEPOINT: when it raises, its writes are rolled back and, still in
    the claiming transaction (the row stays locked), the job's ``attempts`` is bumped,
    ``last_error`` set and ``run_at`` moved by an exponential backoff
    (``scheduler_retry_seconds`` × 2^(attempts−1), at most a day); after
    ``scheduler_max_attempts`` attempts the job is ``failed`` and is not run again
    (``office-api jobs --retry ID`` puts it back).

Scheduling
    :func:`schedule` inserts a job for ``(kind, key)`` unless one exists (any status): the
    same daily run scheduled by two processes, or twice by one, is one row.

Recurring jobs
    ``registry.daily(kind, at=time(9, 0))`` registers a handler that runs every day at a local
    time (Asia/Shanghai unless the settings' ``timezone`` says otherwise; the key of a run is
    its local date), ``registry.every(kind, seconds=300)`` one that runs at every multiple of
    an interval (the key is the UTC instant). The runner creates the next run at start-up and
    whenever a run of the kind is claimed (whatever the handler's outcome), so the chain
    survives restarts and failures; runs missed while no server ran happen once, late, and the
    next one is the first occurrence after it. Done jobs are deleted after
    ``scheduler_keep_days`` (job ``scheduler.purge``, daily at 03:30).

The runner
    :class:`Scheduler` is built in the app's lifespan; its background task (``scheduler_enabled``)
    polls every ``scheduler_poll_seconds`` with the platform clock. Tests call
    :meth:`Scheduler.run_due` with an instant of their choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from office_api.config import Settings
from office_api.db import Base, Database, UnitOfWork, UTCDateTime, utcnow

log = logging.getLogger("office_api.scheduler")

#: Job states. ``pending`` jobs run when due; the others are final.
PENDING, DONE, FAILED, CANCELLED = "pending", "done", "failed", "cancelled"
#: The longest backoff between two attempts of a failing job.
MAX_BACKOFF = dt.timedelta(days=1)
KIND_MAX, KEY_MAX, ERROR_MAX = 64, 200, 1000


class ScheduledJob(Base):
    """One run of a handler at an instant. ``(kind, key)`` is unique: scheduling twice is a no-op.

    ``run_at`` is a UTC instant; ``payload`` is the JSON object given to the handler;
    ``attempts`` counts failed runs (a job that succeeds first time keeps 0).
    """

    __tablename__ = "scheduled_jobs"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        Index("ix_scheduled_jobs_due", "status", "run_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(KIND_MAX))
    key: Mapped[str] = mapped_column(String(KEY_MAX))
    run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_MAX))
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Job:
    """What a handler is told about the job it runs (a snapshot of the row)."""

    id: int
    kind: str
    key: str
    run_at: dt.datetime
    payload: dict[str, Any]
    attempts: int


class Publisher(Protocol):
    async def publish(self, user_ids: Any) -> None: ...


@dataclass(frozen=True)
class JobContext:
    """Platform services for handlers: settings, database, broker, clock, and this run's instant.

    ``now`` is the instant the runner ran the job with (the platform clock, or the instant a
    test passed to :meth:`Scheduler.run_due`); handlers use it instead of reading a clock.
    """

    settings: Settings
    db: Database
    broker: Publisher
    clock: Callable[[], dt.datetime]
    now: dt.datetime
    #: The process's outbound services (the platform: ``push``, ``sms`` providers), or None
    #: when the runner was built without them (handlers that need them then fail and retry).
    services: Any = None

    @property
    def tz(self) -> ZoneInfo:
        """The local time zone of dates (``settings.timezone``, Asia/Shanghai by default)."""
        return ZoneInfo(self.settings.timezone)


Handler = Callable[[UnitOfWork, JobContext, Job], Awaitable[None]]


@dataclass(frozen=True)
class Daily:
    """A kind that runs every day at ``at`` local time; a run's key is its local date (ISO)."""

    kind: str
    at: dt.time

    def next_after(self, tz: ZoneInfo, after: dt.datetime) -> tuple[str, dt.datetime]:
        return next_daily_run(self.at, tz, after)


@dataclass(frozen=True)
class Every:
    """A kind that runs every ``seconds``, at multiples of it since the Unix epoch (so that every
    process computes the same instants); a run's key is its UTC instant (ISO)."""

    kind: str
    seconds: int

    def next_after(self, tz: ZoneInfo, after: dt.datetime) -> tuple[str, dt.datetime]:
        slot = math.floor(after.timestamp() / self.seconds) + 1
        run_at = dt.datetime.fromtimestamp(slot * self.seconds, dt.UTC)
        return run_at.isoformat(), run_at


class Registry:
    """Handlers by job kind. The runner only claims jobs whose kind it has a handler for, so a
    process running older code leaves a new kind's jobs to the processes that know it."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        #: Kinds that schedule their next run themselves (daily at a local time, or every N seconds).
        self.recurring: dict[str, Daily | Every] = {}
        #: One-off jobs created at start-up, by kind: their key (the job runs once per key, ever,
        #: while its row is kept).
        self.startup: dict[str, str] = {}

    def register(self, kind: str) -> Callable[[Handler], Handler]:
        """Decorator: ``@registry.register("kind") async def handler(uow, ctx, job): …``.

        Raises ValueError for an empty or too long kind, or a kind registered to another handler.
        """
        if not kind or len(kind) > KIND_MAX:
            raise ValueError(f"job kind must be 1–{KIND_MAX} characters: {kind!r}")

        def decorator(fn: Handler) -> Handler:
            existing = self.handlers.get(kind)
            if existing is not None and existing is not fn:
                raise ValueError(f"job kind {kind!r} already has a handler ({existing.__qualname__})")
            self.handlers[kind] = fn
            return fn

        return decorator

    def daily(self, kind: str, *, at: dt.time = dt.time(9, 0)) -> Callable[[Handler], Handler]:
        """Decorator: like :meth:`register`, and the kind runs every day at ``at`` local time
        (naive wall-clock time in the settings' time zone; 09:00 by default)."""
        if at.tzinfo is not None:
            raise ValueError("a daily job's time is a local wall-clock time, without tzinfo")
        inner = self.register(kind)

        def decorator(fn: Handler) -> Handler:
            inner(fn)
            self.recurring[kind] = Daily(kind, at)
            return fn

        return decorator

    def every(self, kind: str, *, seconds: int) -> Callable[[Handler], Handler]:
        """Decorator: like :meth:`register`, and the kind runs every ``seconds`` (at least 60)."""
        if seconds < 60:
            raise ValueError("a recurring job runs at most once a minute")
        inner = self.register(kind)

        def decorator(fn: Handler) -> Handler:
            inner(fn)
            self.recurring[kind] = Every(kind, seconds)
            return fn

        return decorator

    def once(self, kind: str, *, key: str) -> Callable[[Handler], Handler]:
        """Decorator: like :meth:`register`, and the job ``(kind, key)`` is created, due at once,
        when a process starts (a no-op when the row exists): work to do once after an upgrade,
        such as filling in data a new version keeps. The handler must be idempotent, since the
        row is purged with the other done jobs after ``scheduler_keep_days``."""
        inner = self.register(kind)

        def decorator(fn: Handler) -> Handler:
            inner(fn)
            self.startup[kind] = key
            return fn

        return decorator


#: The process-wide registry; domain modules register their handlers on import.
registry = Registry()
register = registry.register
daily = registry.daily
every = registry.every
once = registry.once


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def schedule(
    uow: UnitOfWork, kind: str, key: str, run_at: dt.datetime, payload: Mapping[str, Any] | None = None
) -> bool:
    """Create the job ``(kind, key)`` to run at ``run_at`` (an aware instant) with ``payload``
    (a JSON object), in ``uow``'s transaction; a no-op when that job exists in any status.

    Returns True when a row was created. Raises ValueError for an empty or too long kind or
    key, or a naive ``run_at``.
    """
    if not kind or len(kind) > KIND_MAX or not key or len(key) > KEY_MAX:
        raise ValueError(f"job kind must be 1–{KIND_MAX} and key 1–{KEY_MAX} characters")
    if run_at.tzinfo is None or run_at.utcoffset() is None:
        raise ValueError("run_at must be a timezone-aware instant")
    session = uow.session
    stmt = (
        _insert(session.bind.dialect.name)(ScheduledJob)
        .values(
            kind=kind,
            key=key,
            run_at=run_at.astimezone(dt.UTC),
            payload=dict(payload or {}),
            status=PENDING,
            attempts=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["kind", "key"])
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def cancel(uow: UnitOfWork, kind: str, key: str) -> bool:
    """Cancel the pending job ``(kind, key)``; returns False when there is none pending
    (a job that is running in another process finishes; it is not interrupted)."""
    result = await uow.session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.kind == kind, ScheduledJob.key == key, ScheduledJob.status == PENDING)
        .values(status=CANCELLED, done_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_jobs(session: AsyncSession, *, status: str | None = None, limit: int = 50) -> list[ScheduledJob]:
    """Jobs, most recent ``run_at`` first, optionally of one ``status`` (for operators: ``office-api jobs``)."""
    q = select(ScheduledJob).order_by(ScheduledJob.run_at.desc(), ScheduledJob.id.desc()).limit(limit)
    if status is not None:
        q = q.where(ScheduledJob.status == status)
    return list((await session.execute(q)).scalars())


async def retry(uow: UnitOfWork, job_id: int, now: dt.datetime) -> bool:
    """Put a ``failed`` job back: pending, due ``now``, attempts from 0 (``last_error`` is kept
    until it runs). False when there is no failed job with that id."""
    result = await uow.session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.id == job_id, ScheduledJob.status == FAILED)
        .values(status=PENDING, run_at=now, attempts=0, done_at=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def next_daily_run(at: dt.time, tz: ZoneInfo, after: dt.datetime) -> tuple[str, dt.datetime]:
    """The first daily occurrence at local time ``at`` strictly after the instant ``after``:
    ``(local date ISO, UTC instant)``."""
    local = after.astimezone(tz)
    day = local.date()
    while True:
        instant = dt.datetime.combine(day, at, tzinfo=tz)
        if instant > local:
            return day.isoformat(), instant.astimezone(dt.UTC)
        day += dt.timedelta(days=1)


def backoff(settings: Settings, attempts: int) -> dt.timedelta:
    """The delay before attempt ``attempts + 1``: ``scheduler_retry_seconds`` × 2^(attempts−1),
    at most a day."""
    seconds = settings.scheduler_retry_seconds * 2 ** max(attempts - 1, 0)
    return min(dt.timedelta(seconds=seconds), MAX_BACKOFF)


PURGE_KIND = "scheduler.purge"


@daily(PURGE_KIND, at=dt.time(3, 30))
async def _purge(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
    """Delete jobs done or cancelled more than ``scheduler_keep_days`` ago (failed ones stay)."""
    cutoff = ctx.now - dt.timedelta(days=ctx.settings.scheduler_keep_days)
    await uow.session.execute(
        delete(ScheduledJob).where(ScheduledJob.status.in_((DONE, CANCELLED)), ScheduledJob.done_at < cutoff)
    )


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames))
    return f"{type(exc).__name__}: {str(exc)[:400]} at {where}"[:ERROR_MAX]


@dataclass
class Scheduler:
    """Runs due jobs of ``registry`` against ``db``; one per server process.

    ``clock`` returns the current aware UTC instant (the platform clock, replaceable in tests).
    """

    settings: Settings
    db: Database
    broker: Publisher
    clock: Callable[[], dt.datetime] = utcnow
    registry: Registry = field(default_factory=lambda: registry)
    #: Given to handlers as ``JobContext.services`` (the app passes its Platform).
    services: Any = None
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    async def ensure_recurring_jobs(self, now: dt.datetime | None = None) -> int:
        """Make sure the next run of every recurring kind (daily, every N seconds) exists: its
        first occurrence after ``now``; and every start-up job (:meth:`Registry.once`).
        Returns how many rows were created (0 when another
        process, or an earlier start, did it already)."""
        now = now or self.clock()
        if not self.registry.recurring and not self.registry.startup:
            return 0
        created = 0
        async with self.db.unit_of_work() as uow:
            for spec in self.registry.recurring.values():
                key, run_at = spec.next_after(self.tz, now)
                created += await schedule(uow, spec.kind, key, run_at)
            for kind, key in self.registry.startup.items():
                created += await schedule(uow, kind, key, now)
        return created

    async def run_due(self, now: dt.datetime | None = None, *, limit: int | None = None) -> int:
        """Run jobs due at ``now`` (default: the clock), one transaction each, until none is due
        or ``limit`` jobs ran. Returns the number of jobs claimed (run or failed an attempt)."""
        count = 0
        while limit is None or count < limit:
            if self._stop.is_set():
                break
            if not await self.run_one(now or self.clock()):
                break
            count += 1
        return count

    async def run_one(self, now: dt.datetime) -> bool:
        """Claim and run one job due at ``now``; False when none is due."""
        kinds = sorted(self.registry.handlers)
        if not kinds:
            return False
        async with self.db.unit_of_work() as uow:
            uow.now = now  # time-based rules in this transaction use the run's instant
            session = uow.session
            stmt = (
                select(ScheduledJob)
                .where(ScheduledJob.status == PENDING, ScheduledJob.run_at <= now, ScheduledJob.kind.in_(kinds))
                .order_by(ScheduledJob.run_at, ScheduledJob.id)
                .limit(1)
            )
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            row = (await session.execute(stmt)).scalar_one_or_none()
            if row is None:
                return False
            job = Job(row.id, row.kind, row.key, row.run_at, dict(row.payload or {}), row.attempts)
            spec = self.registry.recurring.get(job.kind)
            if spec is not None:  # the chain goes on whatever this run's outcome
                key, run_at = spec.next_after(self.tz, max(now, job.run_at))
                await schedule(uow, job.kind, key, run_at)
            ctx = JobContext(self.settings, self.db, self.broker, self.clock, now, self.services)
            # The handler's own unit of work over the same session: its after-commit callbacks are
            # kept only if it succeeds, its before-commit callbacks run inside its savepoint.
            inner = UnitOfWork(session, now=now)
            try:
                async with session.begin_nested():
                    await self.registry.handlers[job.kind](inner, ctx, job)
                    await inner.run_before_commit()
            except Exception as exc:  # any handler failure is recorded on the job and retried
                await self._failed(uow, job, now, exc)
            else:
                for callback in inner._after_commit:
                    uow.after_commit(callback)
                await session.execute(
                    update(ScheduledJob).where(ScheduledJob.id == job.id).values(status=DONE, done_at=now)
                )
            finally:
                session.info["uow"] = uow
        return True

    async def _failed(self, uow: UnitOfWork, job: Job, now: dt.datetime, exc: BaseException) -> None:
        attempts = job.attempts + 1
        final = attempts >= self.settings.scheduler_max_attempts
        log.error(
            "scheduled job %s (%s %s) failed, attempt %s%s: %s",
            job.id,
            job.kind,
            job.key,
            attempts,
            " (final)" if final else "",
            type(exc).__name__,
        )
        await uow.session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.id == job.id)
            .values(
                attempts=attempts,
                last_error=_describe(exc),
                status=FAILED if final else PENDING,
                run_at=job.run_at if final else now + backoff(self.settings, attempts),
                done_at=now if final else None,
            )
        )

    async def _loop(self) -> None:
        poll = self.settings.scheduler_poll_seconds
        while not self._stop.is_set():
            try:
                await self.run_due()
            except Exception as exc:  # the database may be briefly unavailable; try again next poll
                log.error("scheduler poll failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=poll)

    async def start(self) -> None:
        """Create the next recurring runs and start the polling task (when ``scheduler_enabled``)."""
        if not self.settings.scheduler_enabled or self._task is not None:
            return
        self._stop.clear()
        try:
            await self.ensure_recurring_jobs()
        except Exception as exc:  # the loop retries by running what exists; report and go on
            log.error("scheduler could not create the recurring runs: %s", type(exc).__name__)
        self._task = asyncio.create_task(self._loop(), name="office-scheduler")

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop polling: the job being run finishes (its transaction commits or rolls back),
        no further job starts. Cancels the task after ``grace_seconds``."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(task, timeout=grace_seconds)
        except TimeoutError:
            log.error("scheduler did not stop within %s s; cancelled", grace_seconds)

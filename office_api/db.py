"""Database plumbing: Base with a naming convention, the UTC type, engines and units of work.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout.
Write transactions start with ``BEGIN IMMEDIATE`` so that concurrent read-modify-write
transactions queue for the write lock instead of failing with "database is locked"
(SQLAlchemy's documented pysqlite recipe, applied through ``engine.sync_engine``); reads use
a second engine with a deferred ``BEGIN`` so that they never queue behind writers.
PostgreSQL uses one engine for both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC; naive datetimes are refused, values come back aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC instants")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool, busy_timeout_ms: int) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event emit BEGIN itself (pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, immediate: bool = True, busy_timeout_ms: int = 30_000) -> AsyncEngine:
    """Create an async engine; SQLite URLs get the pragmas and BEGIN mode described above."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, hide_parameters=True)
        _configure_sqlite(engine, immediate=immediate, busy_timeout_ms=busy_timeout_ms)
        return engine
    return create_async_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=10)


@dataclass
class UnitOfWork:
    """One write transaction: a session plus callbacks to run just before and only after it commits.

    Services record notifications in the session and register after-commit callbacks
    (publication to the broker) with :meth:`after_commit`; on rollback they are dropped.
    :meth:`before_commit` callbacks run once per key when the work has succeeded, inside the
    transaction (e.g. bringing the deadline clocks of a changed document in line with it);
    an error there rolls everything back.

    ``now`` is the instant time-based rules of this transaction use (UTC): the platform's
    injectable clock when the GraphQL layer opened it (``schema.common.run_mutation``), else
    the wall clock. It is read before the transaction waits for any lock, so a timestamp that
    must follow the order in which transactions commit comes from :meth:`read_clock` instead.
    """

    session: AsyncSession
    _after_commit: list[Callable[[], Any]] = field(default_factory=list)
    _before_commit: dict[Hashable, Callable[[], Awaitable[Any]]] = field(default_factory=dict)
    now: dt.datetime = field(default_factory=utcnow)
    #: The clock ``now`` was read from (set by ``run_mutation``: the platform's clock); None
    #: when the caller fixed ``now`` itself (jobs, tests).
    clock: Callable[[], dt.datetime] | None = None

    def __post_init__(self) -> None:
        self.session.info["uow"] = self

    def read_clock(self) -> dt.datetime:
        """The clock's instant now (UTC), or ``now`` when there is no clock.

        For a timestamp that orders rows by commit (e.g. "least recently seen"): call it once
        the transaction holds the lock that orders it (on SQLite, after the first statement,
        whose ``BEGIN IMMEDIATE`` waits for the write lock; on PostgreSQL, after the row lock).
        """
        return self.clock() if self.clock is not None else self.now

    def after_commit(self, callback: Callable[[], Any]) -> None:
        self._after_commit.append(callback)

    def before_commit(self, key: Hashable, callback: Callable[[], Awaitable[Any]]) -> None:
        """Run ``callback`` once (the first registered for ``key``) before the commit."""
        self._before_commit.setdefault(key, callback)

    async def run_before_commit(self) -> None:
        """Run the before-commit callbacks, including any they register, each key once."""
        done: set[Hashable] = set()
        while pending := [k for k in self._before_commit if k not in done]:
            for key in pending:
                done.add(key)
                await self._before_commit[key]()


def unit_of_work_of(session: AsyncSession) -> UnitOfWork | None:
    """The unit of work a write session belongs to (None for a read session)."""
    return session.info.get("uow")


class Database:
    """Engines and session factories for one database URL."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.write_engine = make_engine(url, immediate=True, busy_timeout_ms=busy_timeout_ms)
        self.read_engine = (
            make_engine(url, immediate=False, busy_timeout_ms=busy_timeout_ms) if self.is_sqlite else self.write_engine
        )
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """Open one write transaction; commit on success, then run after-commit callbacks."""
        async with self._write_sessions() as session:
            uow = UnitOfWork(session)
            async with session.begin():
                yield uow
                await uow.run_before_commit()
        for callback in uow._after_commit:
            result = callback()
            if hasattr(result, "__await__"):
                await result

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session (deferred BEGIN on SQLite)."""
        async with self._read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()

"""The per-process safety sweep: what bounds delivery delay when a wake-up is lost.

A subscriber waits only on its wake event (:class:`messaging.broker.Listener`). A wake-up
can be lost: Redis was away when it was published, a message was dropped. Instead of every
websocket re-reading the database now and then (5,000 sockets every 15 s = 333 queries per
second while nothing happens), each server process runs ONE sweep every
``OFFICE_NOTIFY_SWEEP_SECONDS``: one query per ``SWEEP_CHUNK`` users over
``notification_counters`` for the users that have listeners here, waking the listeners whose
``seen`` sequence number is below the user's ``last_seq``. Listeners that do not track a
sequence number (``seen`` is None) are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from sqlalchemy import and_, func, or_, select

from messaging.broker import Broker, Listener
from messaging.models import Notification, NotificationCounter
from office_api.db import Base, Database

log = logging.getLogger("messaging.hub")

#: Users per sweep query (the ``IN`` list stays well under every backend's parameter limit).
SWEEP_CHUNK = 1000


def behind(listeners: Mapping[int, Sequence[Listener]], last_seqs: Mapping[int, int]) -> list[Listener]:
    """The listeners whose ``seen`` is below their user's last sequence number (pure)."""
    late = []
    for uid, last in last_seqs.items():
        for ev in listeners.get(uid, ()):
            if ev.seen is not None and ev.seen < last:
                late.append(ev)
    return late


class NotificationSweep:
    """Every ``interval`` seconds, wake the local subscribers that are behind the database.

    ``start()`` runs it in a background task, ``stop()`` ends it; tests call
    :meth:`sweep_once`.
    """

    def __init__(self, db: Database, broker: Broker, interval: float, *, chunk: int = SWEEP_CHUNK) -> None:
        self.db, self.broker, self.interval, self.chunk = db, broker, interval, chunk
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> int:
        """One pass: read the counters of the users with tracking listeners here, in chunks of
        ``chunk`` ids (one query each), and set the listeners that are behind. Returns how many
        listeners were woken. Database errors propagate."""
        snapshot = {
            uid: evs for uid, evs in self.broker.local_listeners().items() if any(ev.seen is not None for ev in evs)
        }
        users = sorted(snapshot)
        woken = 0
        for start in range(0, len(users), self.chunk):
            ids = users[start : start + self.chunk]
            async with self.db.read() as session:
                rows = await session.execute(
                    select(NotificationCounter.user_id, NotificationCounter.last_seq).where(
                        NotificationCounter.user_id.in_(ids)
                    )
                )
                last_seqs = {uid: last for uid, last in rows}
            for ev in behind(snapshot, last_seqs):
                ev.set()
                woken += 1
        if woken:
            log.info("notification sweep woke %s subscribers a wake-up had missed", woken)
        return woken

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep_once()
            except Exception as exc:  # the database may be briefly away; the next pass tries again
                log.warning("notification sweep failed: %s", type(exc).__name__)

    def start(self) -> None:
        """Run a pass every ``interval`` seconds in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="office-notification-sweep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class NotificationFeed:
    """Reads the new notifications of woken subscribers, many subscribers per query.

    A notice to 500 people wakes 500 users' subscriptions at once (more with several devices
    each). Each asks :meth:`after` for its rows; every request made before the feed's task
    runs (the same turn of the event loop, and whatever arrives while a query is under way)
    is answered by ONE query per ``chunk`` users, ``(user_id = ? AND seq > ?) OR …`` with at
    most ``limit`` rows per user (``ROW_NUMBER() OVER (PARTITION BY user_id …)``), instead of
    one query per socket. The rows are plain ORM objects of a closed read session. Rows of a
    disabled account are left out (the connection guard, office_api/ws.py, is closing its
    sockets).
    """

    def __init__(self, db: Database, *, limit: int, chunk: int = 300) -> None:
        self.db, self.limit, self.chunk = db, limit, chunk
        #: user id -> the requests waiting: (cursor, future)
        self._waiting: dict[int, list[tuple[int, asyncio.Future[list[Notification]]]]] = {}
        self._task: asyncio.Task[None] | None = None
        #: How many queries the feed ran (read by tests and the benchmark).
        self.queries = 0

    async def after(self, user_id: int, cursor: int) -> list[Notification]:
        """``user_id``'s notifications with ``seq > cursor``, oldest first, at most ``limit``
        (ask again when that many came back). Database errors propagate to every caller of
        the batch."""
        fut: asyncio.Future[list[Notification]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, []).append((cursor, fut))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="office-notification-feed")
        return await fut

    async def _run(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(0)  # let the subscribers woken with the first one ask too
                batch, self._waiting = self._waiting, {}
                users = sorted(batch)
                for start in range(0, len(users), self.chunk):
                    part = {uid: batch[uid] for uid in users[start : start + self.chunk]}
                    try:
                        rows = await self._read({uid: min(c for c, _ in reqs) for uid, reqs in part.items()})
                    except Exception as exc:  # handed to the subscribers that asked
                        for reqs in part.values():
                            for _, fut in reqs:
                                if not fut.done():
                                    fut.set_exception(exc)
                        continue
                    for uid, reqs in part.items():
                        mine = rows.get(uid, [])
                        cut = len(mine) >= self.limit  # the user has more rows than were read
                        for cursor, fut in reqs:
                            if fut.done():
                                continue
                            got = [r for r in mine if r.seq > cursor][: self.limit]
                            if cut and len(got) < self.limit:
                                # Read for a socket further behind: this one may have more
                                # rows past the cut; ask again from its own cursor.
                                self._waiting.setdefault(uid, []).append((cursor, fut))
                            else:
                                fut.set_result(got)
        finally:
            self._task = None

    async def _read(self, cursors: Mapping[int, int]) -> dict[int, list[Notification]]:
        """One query: for each user, up to ``limit`` rows after their cursor, by user and seq."""
        self.queries += 1
        wanted = or_(*(and_(Notification.user_id == uid, Notification.seq > c) for uid, c in cursors.items()))
        ranked = (
            select(
                Notification.id,
                func.row_number().over(partition_by=Notification.user_id, order_by=Notification.seq).label("n"),
            )
            .where(wanted)
            .subquery()
        )
        users = Base.metadata.tables["users"]  # by name: messaging imports no domain
        q = (
            select(Notification)
            .join(ranked, ranked.c.id == Notification.id)
            # Never a disabled account's (its sockets are being closed: office_api/ws.py).
            .join(users, and_(users.c.id == Notification.user_id, users.c.is_active.is_(True)))
            .where(ranked.c.n <= self.limit)
            .order_by(Notification.user_id, Notification.seq)
        )
        out: dict[int, list[Notification]] = {}
        async with self.db.read() as session:
            for row in (await session.execute(q)).scalars():
                out.setdefault(row.user_id, []).append(row)
        return out

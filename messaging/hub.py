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

from sqlalchemy import select

from messaging.broker import Broker, Listener
from messaging.models import NotificationCounter
from office_api.db import Database

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

"""Wake-up signals for subscribers: which users have new notifications.

The database row is the truth; the broker only says "user N has something new", after
commit. Subscribers then read every row after their cursor, so a lost or duplicated signal
never loses or duplicates a notification.

``InProcessBroker`` serves one process. A Redis broker (``OFFICE_BROKER_URL``) follows in
the notifications issue with the same interface.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable


class InProcessBroker:
    """Per-user wake-up events inside one server process."""

    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Event]] = defaultdict(set)

    def listen(self, user_id: int) -> asyncio.Event:
        """Register a waiter for ``user_id``; it is set whenever the user has news."""
        ev = asyncio.Event()
        self._waiters[user_id].add(ev)
        return ev

    def unlisten(self, user_id: int, ev: asyncio.Event) -> None:
        waiters = self._waiters.get(user_id)
        if waiters is not None:
            waiters.discard(ev)
            if not waiters:
                del self._waiters[user_id]

    async def publish(self, user_ids: Iterable[int]) -> None:
        """Wake every listener of the given users (called after commit)."""
        for uid in set(user_ids):
            for ev in list(self._waiters.get(uid, ())):
                ev.set()

    def listener_count(self, user_id: int) -> int:
        return len(self._waiters.get(user_id, ()))

    async def close(self) -> None:
        self._waiters.clear()

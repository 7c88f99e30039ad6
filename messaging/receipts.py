"""Read receipts (回执) of notifications: delivered, opened, acknowledged (已知悉), and their
roll-up per unit for a notice sent to many units.

- **delivered** (``delivered_at``): first handed to one of the person's devices. Websocket
  subscriptions report each row they sent to the process's :class:`DeliveryRecorder`, which
  writes them about once a second in one ``UPDATE``; outbound channels (mobile push) call
  :func:`mark_delivered` in their own transaction.
- **opened** (``read_at``): marked read (``messaging.service.mark_read``).
- **acknowledged** (``acknowledged_at``): the person pressed 已知悉 (:func:`acknowledge`).

Each timestamp is written once (``… WHERE x IS NULL``) and a later one implies the earlier
ones: acknowledging fills ``read_at`` and ``delivered_at`` when null, marking read fills
``delivered_at``. ``messaging`` imports no domain: who may see a roll-up is decided by the
GraphQL layer with the subject's own rule (``schema/notifications.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import Notification, NotificationKind
from office_api.db import Database, UnitOfWork, utcnow

log = logging.getLogger("messaging.receipts")

#: Most notifications one acknowledgeNotifications call names.
MAX_ACKNOWLEDGE = 500
#: Most ids one delivered-at UPDATE names (bind parameters stay far below every backend's limit).
DELIVERY_CHUNK = 5_000


# ---- delivered ---------------------------------------------------------------------------


async def mark_delivered(session: AsyncSession, ids: Sequence[int], now: dt.datetime) -> int:
    """Set ``delivered_at = now`` (UTC) on the notifications ``ids`` not delivered yet, in the
    caller's transaction: one ``UPDATE … WHERE id IN (…) AND delivered_at IS NULL`` per
    :data:`DELIVERY_CHUNK` ids. Unknown ids are ignored. Returns how many rows changed."""
    unique = sorted(set(ids))
    changed = 0
    for start in range(0, len(unique), DELIVERY_CHUNK):
        chunk = unique[start : start + DELIVERY_CHUNK]
        result = await session.execute(
            update(Notification)
            .where(Notification.id.in_(chunk), Notification.delivered_at.is_(None))
            .values(delivered_at=now)
            .execution_options(synchronize_session=False)
        )
        changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return changed


class DeliveryRecorder:
    """Buffers the ids of notifications sent over this process's websockets and writes their
    ``delivered_at`` every ``interval`` seconds in one write transaction (:func:`mark_delivered`),
    never one write per socket per row.

    :meth:`record` never blocks and never raises (it is called from the subscription loop). A
    failed flush is logged and its ids are kept for the next one; :meth:`close` stops the loop
    and flushes what is left (once; a failure there is logged).
    """

    def __init__(self, db: Database, *, interval: float = 1.0, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._db = db
        self._interval = interval
        self._clock = clock
        self._pending: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        #: Flushes that wrote at least one id, and failed flushes (for tests and metrics).
        self.flushes = 0
        self.failures = 0

    @property
    def pending(self) -> int:
        """Ids waiting for the next flush."""
        return len(self._pending)

    def record(self, notification_id: int) -> None:
        """Note that notification ``notification_id`` was just sent to a device."""
        self._pending.add(notification_id)

    async def flush(self) -> int:
        """Write the buffered ids now; returns how many rows changed (0 on failure, logged)."""
        if not self._pending:
            return 0
        ids, self._pending = self._pending, set()
        try:
            async with self._db.unit_of_work() as uow:
                changed = await mark_delivered(uow.session, sorted(ids), self._clock())
        except Exception:  # the database may be briefly unavailable: keep the ids, try again
            self._pending |= ids
            self.failures += 1
            log.warning("delivery receipts not written; retrying", extra={"ids": len(ids)})
            return 0
        self.flushes += 1
        return changed

    def start(self) -> None:
        """Start the periodic flush (in the app's lifespan)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="delivery-receipts")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def close(self) -> None:
        """Stop the periodic flush and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


# ---- acknowledged ------------------------------------------------------------------------


async def acknowledge(uow: UnitOfWork, user_id: int, ids: Sequence[int]) -> tuple[int, list[Notification]]:
    """已知悉: set ``acknowledged_at = uow.now`` (UTC) on ``user_id``'s own notifications among
    ``ids`` that are not acknowledged yet, filling ``read_at`` and ``delivered_at`` when null;
    one ``UPDATE``. Ids of other people's notifications, and unknown ids, are ignored.

    Idempotent and safe under a concurrent double tap: the condition ``acknowledged_at IS
    NULL`` is re-checked on the locked row (PostgreSQL) or under the write lock (SQLite), so
    exactly one transaction writes the timestamp. Returns how many changed now, and the
    user's notifications among ``ids`` as they are after the change (by sequence).
    """
    now = uow.now
    wanted = sorted(set(ids))
    result = await uow.session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.id.in_(wanted),
            Notification.acknowledged_at.is_(None),
        )
        .values(
            acknowledged_at=now,
            read_at=func.coalesce(Notification.read_at, now),
            delivered_at=func.coalesce(Notification.delivered_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    rows = await uow.session.execute(
        select(Notification)
        .where(Notification.user_id == user_id, Notification.id.in_(wanted))
        .order_by(Notification.seq)
        .execution_options(populate_existing=True)
    )
    return int(result.rowcount or 0), list(rows.scalars())  # type: ignore[attr-defined]


# ---- roll-up ------------------------------------------------------------------------------

#: The notices a roll-up counts: notifications that carry a notice from its sender to its
#: recipients (a dispatched document to the recipient units' clerks, a circulation to its
#: readers, a meeting notice and its changes to the invitees and invited units, a supervision
#: item to the assigned units). Kinds that report back to the sender (签收, 退回, 答复, 回执,
#: progress, read) and workflow kinds (tasks, deadlines, …) are not notices.
NOTICE_KINDS: tuple[str, ...] = tuple(
    k.value
    for k in (
        NotificationKind.INCOMING_ARRIVED,
        NotificationKind.DOCUMENT_CIRCULATED,
        NotificationKind.MEETING_INVITED,
        NotificationKind.MEETING_NOMINATION_REQUESTED,
        NotificationKind.MEETING_CHANGED,
        NotificationKind.MEETING_CANCELLED,
        NotificationKind.SUPERVISION_ASSIGNED,
        NotificationKind.SUPERVISION_CLOSED,
    )
)

#: What a roll-up counts: pairs (``subject_type``, id or a SELECT of ids). A dispatched document
#: is ``[("Document", 7), ("IncomingDocument", select(IncomingDocument.id).where(…))]``.
Subjects = Sequence[tuple[str, Any]]


def _about(subjects: Subjects, kinds: Sequence[str]) -> ColumnElement[bool]:
    parts = []
    for subject_type, ids in subjects:
        match = Notification.subject_id == ids if isinstance(ids, int) else Notification.subject_id.in_(ids)
        parts.append(and_(Notification.subject_type == subject_type, match))
    return and_(or_(*parts), Notification.kind.in_(list(kinds)))


@dataclass(frozen=True)
class PersonReceipt:
    """One recipient's state for one unit: delivered/opened/acknowledged when ALL of their
    matching notifications for that unit are (a notice sent to them twice is acknowledged once
    both are)."""

    unit_id: int | None
    user_id: int
    delivered: bool
    opened: bool
    acknowledged: bool


@dataclass
class UnitReceipts:
    """The recipients who received the notice for one unit (``unit_id`` None: personally)."""

    unit_id: int | None
    recipients: int = 0
    delivered: int = 0
    opened: int = 0
    acknowledged: int = 0
    #: People who have not acknowledged yet, by user id.
    pending_user_ids: list[int] = field(default_factory=list)


@dataclass
class Receipts:
    """Totals over distinct people (a person who received the notice for several units counts
    once, delivered/opened/acknowledged when they are for every unit), and per unit (personal
    ones last)."""

    recipients: int
    delivered: int
    opened: int
    acknowledged: int
    units: list[UnitReceipts]


async def person_receipts(
    session: AsyncSession, subjects: Subjects, kinds: Sequence[str], *, sent_by: int | None = None
) -> list[PersonReceipt]:
    """The state of every (unit, person) who got a notification of ``kinds`` about
    ``subjects``, only those caused by (``actor_id``) ``sent_by`` when given: one ``GROUP BY``
    query, whatever the number of units."""
    n = func.count(Notification.id)
    cond = _about(subjects, kinds)
    if sent_by is not None:
        cond = and_(cond, Notification.actor_id == sent_by)
    q = (
        select(
            Notification.unit_id,
            Notification.user_id,
            n,
            func.count(Notification.delivered_at),
            func.count(Notification.read_at),
            func.count(Notification.acknowledged_at),
        )
        .where(cond)
        .group_by(Notification.unit_id, Notification.user_id)
        .order_by(Notification.unit_id, Notification.user_id)
    )
    return [
        PersonReceipt(unit_id, user_id, delivered == total, opened == total, acked == total)
        for unit_id, user_id, total, delivered, opened, acked in (await session.execute(q)).all()
    ]


def roll_up(people: Sequence[PersonReceipt]) -> Receipts:
    """Count :func:`person_receipts` per unit (units by id, personal recipients last) and over
    distinct people (a person is delivered/opened/acknowledged when they are for every unit
    they received it for); no database."""
    units: dict[int | None, UnitReceipts] = {}
    persons: dict[int, list[bool]] = {}
    for p in sorted(people, key=lambda p: (p.unit_id is None, p.unit_id or 0, p.user_id)):
        u = units.setdefault(p.unit_id, UnitReceipts(p.unit_id))
        u.recipients += 1
        u.delivered += p.delivered
        u.opened += p.opened
        u.acknowledged += p.acknowledged
        if not p.acknowledged:
            u.pending_user_ids.append(p.user_id)
        state = persons.setdefault(p.user_id, [True, True, True])
        state[0] &= p.delivered
        state[1] &= p.opened
        state[2] &= p.acknowledged
    return Receipts(
        recipients=len(persons),
        delivered=sum(s[0] for s in persons.values()),
        opened=sum(s[1] for s in persons.values()),
        acknowledged=sum(s[2] for s in persons.values()),
        units=list(units.values()),
    )

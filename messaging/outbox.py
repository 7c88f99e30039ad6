"""Transactional outbox: write notification rows in the caller's transaction.

``notify`` allocates each recipient's next gapless sequence number by updating that user's
counter row (a row lock on PostgreSQL; SQLite writes are serialized by BEGIN IMMEDIATE),
inserts the notification, and registers a broker publication that runs only after commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import insert, update

from messaging.models import Notification, NotificationCounter
from office_api.db import UnitOfWork


class Publisher(Protocol):
    async def publish(self, user_ids: Any) -> None: ...


@dataclass
class Message:
    """What to tell one user."""

    user_id: int
    kind: str
    title: str
    body: str = ""
    subject_type: str | None = None
    subject_id: int | None = None
    actor_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    #: ``messaging.models.NotificationPriority`` value: normal, urgent (加急), extra_urgent (特急).
    priority: str = "normal"
    #: The unit on whose behalf the user receives it (for per-unit receipt roll-ups).
    unit_id: int | None = None


#: Outbound channels (webhooks, mobile push) register here. Each hook is awaited inside
#: ``notify``'s transaction with the rows just written, so that what it enqueues commits with
#: the change or not at all.
ChannelHook = Callable[[UnitOfWork, list[Notification]], Awaitable[None]]
_channel_hooks: list[ChannelHook] = []


def on_notify(hook: ChannelHook) -> ChannelHook:
    """Decorator: run ``hook(uow, rows)`` in the transaction of every ``notify`` call."""
    _channel_hooks.append(hook)
    return hook


async def ensure_counter(uow: UnitOfWork, user_id: int) -> None:
    """Create the sequence counter of a new user (call in the transaction creating it)."""
    await uow.session.execute(insert(NotificationCounter).values(user_id=user_id, last_seq=0))


async def notify(uow: UnitOfWork, broker: Publisher, messages: list[Message]) -> list[int]:
    """Store ``messages`` in ``uow``'s transaction; publish their users after commit.

    Counters are locked in ascending user id order so that concurrent transactions cannot
    deadlock. Returns the sequence numbers given, in the order of ``messages``.
    """
    if not messages:
        return []
    session = uow.session
    order = sorted(range(len(messages)), key=lambda i: messages[i].user_id)
    seqs: list[int] = [0] * len(messages)
    rows: list[Notification] = []
    for i in order:
        msg = messages[i]
        result = await session.execute(
            update(NotificationCounter)
            .where(NotificationCounter.user_id == msg.user_id)
            .values(last_seq=NotificationCounter.last_seq + 1)
            .returning(NotificationCounter.last_seq)
        )
        seq = result.scalar_one()
        seqs[i] = seq
        row = Notification(
            user_id=msg.user_id,
            seq=seq,
            kind=msg.kind,
            title=msg.title,
            body=msg.body,
            subject_type=msg.subject_type,
            subject_id=msg.subject_id,
            actor_id=msg.actor_id,
            payload=msg.payload,
            priority=msg.priority,
            unit_id=msg.unit_id,
        )
        session.add(row)
        rows.append(row)
    await session.flush()
    for hook in _channel_hooks:
        await hook(uow, rows)
    user_ids = sorted({m.user_id for m in messages})
    uow.after_commit(lambda: broker.publish(user_ids))
    return seqs

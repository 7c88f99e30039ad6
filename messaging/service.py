"""Reading notifications: pages, unread counts, marking read (replay after a cursor: messaging.hub)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import Notification
from office_api.db import UnitOfWork

#: Most rows one read returns per user (messaging.hub.NotificationFeed); a subscriber loops
#: until it has caught up.
REPLAY_BATCH = 200


async def notifications_page(
    session: AsyncSession, user_id: int, before_seq: int | None, limit: int, *, unread_only: bool = False
) -> list[Notification]:
    """A page of ``user_id``'s notifications, newest first, below ``before_seq``."""
    q = select(Notification).where(Notification.user_id == user_id).order_by(Notification.seq.desc()).limit(limit)
    if before_seq is not None:
        q = q.where(Notification.seq < before_seq)
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    return list((await session.execute(q)).scalars())


async def unread_count(session: AsyncSession, user_id: int) -> int:
    q = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int((await session.execute(q)).scalar_one())


async def unread_counts_by_kind(session: AsyncSession, user_id: int) -> dict[str, int]:
    """``user_id``'s unread notifications per kind (kinds with none left out), one GROUP BY."""
    q = (
        select(Notification.kind, func.count())
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .group_by(Notification.kind)
        .order_by(Notification.kind)
    )
    return {kind: int(n) for kind, n in (await session.execute(q)).all()}


async def mark_read(
    uow: UnitOfWork, user_id: int, ids: Sequence[int] | None, kinds: Sequence[str] | None = None
) -> int:
    """Mark the user's own notifications read (one UPDATE): those with the given ``ids`` and
    of the given ``kinds``; a filter that is None does not restrict (both None: all).
    ``read_at`` = ``uow.now`` (UTC); an opened notification counts as delivered too
    (``delivered_at`` filled when null).

    Ids of other users' notifications are ignored. Returns how many changed state.
    """
    now = uow.now
    q = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now, delivered_at=func.coalesce(Notification.delivered_at, now))
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        q = q.where(Notification.id.in_(list(ids)))
    if kinds is not None:
        q = q.where(Notification.kind.in_(list(kinds)))
    result = await uow.session.execute(q)
    return int(result.rowcount or 0)

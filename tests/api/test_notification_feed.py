"""The batched reader of woken subscribers (messaging.hub.NotificationFeed), on both backends.

A notice to many people wakes many subscriptions at once; the feed answers all of them that
ask in the same turn of the event loop with one query, and gives each exactly the rows after
its own cursor.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import update

from messaging.hub import NotificationFeed
from messaging.outbox import Message, notify
from office_api.org.models import User
from tests.api.test_notification_broker import SilentBroker, _last_seq, _queries, _user_id
from tests.conftest import count_statements

PEOPLE = ["clerk", "deputy", "secretary_general", "finance_head", "drc_head", "zhang_wei", "wang_wei", "li_na"]


async def _notify_each(platform: Any, user_ids: list[int], count: int, title: str) -> None:
    """``count`` notifications for each of ``user_ids``, in one transaction."""
    async with platform.db.unit_of_work() as uow:
        await notify(
            uow,
            SilentBroker(),
            [Message(uid, "TASK_ASSIGNED", f"{title} {i}") for i in range(count) for uid in user_ids],
        )


async def test_subscribers_woken_together_are_served_by_one_query(platform: Any) -> None:
    users = [await _user_id(platform, name) for name in PEOPLE]
    cursors = {uid: await _last_seq(platform, uid) for uid in users}
    await _notify_each(platform, users, 3, "一次通知多人")
    feed = NotificationFeed(platform.db, limit=200)
    with count_statements(platform) as statements:
        # Two sockets for the first person (a phone and a desktop), one for everyone else.
        results = await asyncio.gather(*(feed.after(uid, cursors[uid]) for uid in [users[0], *users]))
    assert len(_queries(statements)) == 1
    assert feed.queries == 1
    for uid, rows in zip([users[0], *users], results, strict=True):
        assert [(r.user_id, r.seq) for r in rows] == [(uid, cursors[uid] + i) for i in (1, 2, 3)]
        assert [r.title for r in rows] == ["一次通知多人 0", "一次通知多人 1", "一次通知多人 2"]


async def test_each_socket_gets_the_rows_after_its_own_cursor(platform: Any) -> None:
    clerk = await _user_id(platform, "clerk")
    base = await _last_seq(platform, clerk)
    await _notify_each(platform, [clerk], 5, "游标")
    feed = NotificationFeed(platform.db, limit=200)
    a, b, c = await asyncio.gather(feed.after(clerk, base), feed.after(clerk, base + 3), feed.after(clerk, base + 5))
    assert [r.seq for r in a] == [base + 1, base + 2, base + 3, base + 4, base + 5]
    assert [r.seq for r in b] == [base + 4, base + 5]
    assert c == []
    assert feed.queries == 1


async def test_a_socket_far_ahead_of_another_is_not_cut_short_by_the_limit(platform: Any) -> None:
    # Read for the socket 10 behind, the query stops after `limit` rows; the socket 4 behind must
    # not take that as "nothing more" (it would then wait for a wake-up that never comes).
    clerk = await _user_id(platform, "clerk")
    base = await _last_seq(platform, clerk)
    await _notify_each(platform, [clerk], 10, "限额")
    feed = NotificationFeed(platform.db, limit=3)
    behind, ahead = await asyncio.gather(feed.after(clerk, base), feed.after(clerk, base + 6))
    assert [r.seq for r in behind] == [base + 1, base + 2, base + 3]
    assert [r.seq for r in ahead] == [base + 7, base + 8, base + 9]
    assert feed.queries == 2


async def test_a_disabled_accounts_rows_are_not_served(platform: Any) -> None:
    clerk, deputy = await _user_id(platform, "clerk"), await _user_id(platform, "deputy")
    cursors = {clerk: await _last_seq(platform, clerk), deputy: await _last_seq(platform, deputy)}
    await _notify_each(platform, [clerk, deputy], 1, "停用")
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(User).where(User.id == deputy).values(is_active=False))
    feed = NotificationFeed(platform.db, limit=200)
    mine, theirs = await asyncio.gather(feed.after(clerk, cursors[clerk]), feed.after(deputy, cursors[deputy]))
    assert [r.title for r in mine] == ["停用 0"]
    assert theirs == []


async def test_a_failed_read_reaches_every_subscriber_of_the_batch_and_the_next_batch_works(
    platform: Any,
) -> None:
    clerk = await _user_id(platform, "clerk")
    base = await _last_seq(platform, clerk)
    await _notify_each(platform, [clerk], 1, "恢复")
    feed = NotificationFeed(platform.db, limit=200)
    real_read = feed._read
    calls = 0

    async def failing_once(cursors: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")
        return await real_read(cursors)

    feed._read = failing_once  # type: ignore[method-assign]
    outcomes = await asyncio.gather(feed.after(clerk, base), feed.after(clerk, base), return_exceptions=True)
    assert [type(o).__name__ for o in outcomes] == ["ConnectionError", "ConnectionError"]
    assert [r.title for r in await feed.after(clerk, base)] == ["恢复 0"]

"""Wake-up signals across processes (messaging/broker.py) and the safety sweep (messaging/hub.py).

Redis tests use the real server at 127.0.0.1:6379 (each test on its own channel) or a private
``redis-server`` on a free port that the test stops and restarts. The sweep tests run on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from messaging.broker import (
    Broker,
    InProcessBroker,
    Listener,
    RedisBroker,
    create_broker,
    decode_users,
    encode_users,
)
from messaging.hub import NotificationSweep
from messaging.models import NotificationCounter
from messaging.outbox import Message, notify
from office_api.config import ConfigurationError, Environment, Settings
from office_api.org.models import User
from schema import schema
from schema.context import Context
from tests.conftest import REDIS_URL, TEST_SECRET, _require_redis, count_statements, private_redis

WAIT = 5.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The app's own sweep stays out of the way: the tests below run sweeps themselves.
    return settings.model_copy(update={"notify_sweep_seconds": 3600.0})


def _channel() -> str:
    return f"office:test:{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis_pair() -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    """Two started brokers (two "processes") on the shared Redis, on a channel of their own."""
    _require_redis()
    channel = _channel()
    a, b = RedisBroker(REDIS_URL, channel), RedisBroker(REDIS_URL, channel)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def _numsub(url: str, channel: str) -> int:
    client = Redis.from_url(url)
    try:
        return int(dict(await client.pubsub_numsub(channel))[channel.encode()])
    finally:
        await client.aclose()


async def _set_within(ev: asyncio.Event, seconds: float = WAIT) -> bool:
    try:
        await asyncio.wait_for(ev.wait(), seconds)
    except TimeoutError:
        return False
    return True


def test_a_wake_up_message_is_the_origin_and_the_sorted_unique_ids() -> None:
    assert encode_users("p1", [30, 4, 30, 12]) == b"p1:4,12,30"
    assert decode_users(b"p1:4,12,30") == ("p1", [4, 12, 30])
    assert decode_users("p1:") == ("p1", [])
    for bad in (b"4,12", b":4", b"p1:x"):
        with pytest.raises(ValueError, match=r"wake-up message|invalid literal"):
            decode_users(bad)


async def test_publish_on_one_process_wakes_a_listener_on_the_other(redis_pair) -> None:
    a, b = redis_pair
    assert (a.connected, b.connected, a.connects, b.connects) == (True, True, 1, 1)
    there, other_user, here = b.listen(7), b.listen(8), a.listen(7)
    await a.publish([7])
    assert here.is_set()  # the publishing process wakes its own listeners directly
    assert await _set_within(there)
    await asyncio.sleep(0.2)
    assert not other_user.is_set()  # user 8 was not named
    # Both ways, and several users in one message.
    there.clear()
    near = a.listen(8)
    await b.publish([7, 8])
    assert await _set_within(near)
    assert there.is_set()
    assert other_user.is_set()


async def test_a_process_ignores_the_echo_of_its_own_publication(redis_pair) -> None:
    a, b = redis_pair
    mine, theirs = a.listen(5), b.listen(5)
    await a.publish([5])
    assert await _set_within(theirs)
    mine.clear()
    await asyncio.sleep(0.3)  # the echo has come back to a by now; it woke nobody a second time
    assert not mine.is_set()


async def test_one_redis_subscription_per_process_however_many_listeners(redis_pair) -> None:
    a, b = redis_pair
    assert await _numsub(REDIS_URL, a.channel) == 2
    for uid in range(200):
        a.listen(uid)
        b.listen(uid)
        b.listen(uid)
    assert a.listener_count(3) == 1
    assert b.listener_count(3) == 2
    assert await _numsub(REDIS_URL, a.channel) == 2
    await a.close()
    for _ in range(50):
        if await _numsub(REDIS_URL, a.channel) == 1:
            break
        await asyncio.sleep(0.05)
    assert await _numsub(REDIS_URL, a.channel) == 1


async def test_publish_without_redis_wakes_local_listeners_and_never_raises(tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:
        broker = RedisBroker(server.url, _channel())
        await broker.start()
        assert broker.connected
        server.stop()
        local = broker.listen(1)
        await broker.publish([1])  # no exception: the change it reports is committed already
        assert local.is_set()
        await broker.close()


async def test_redis_stopped_and_restarted_loses_no_wake_up(tmp_path: Path) -> None:
    # While Redis is away, publications cannot cross; when it returns, every process
    # re-subscribes and wakes all its listeners, which re-read the database.
    with private_redis(tmp_path) as server:
        channel = _channel()
        a, b = RedisBroker(server.url, channel), RedisBroker(server.url, channel)
        await a.start()
        await b.start()
        try:
            waiting = b.listen(42)
            idle = b.listen(43)
            server.stop()
            for _ in range(100):  # b notices the loss
                if not b.connected:
                    break
                await asyncio.sleep(0.05)
            assert not b.connected
            await a.publish([42])  # lost: Redis is down
            await asyncio.sleep(0.5)
            assert not waiting.is_set()
            server.start()
            assert await _set_within(waiting)  # re-subscribed: everyone re-reads
            assert idle.is_set()
            assert await b.wait_connected(WAIT)
            assert await a.wait_connected(WAIT)
            assert (a.connects, b.connects) == (2, 2)
            assert await _numsub(server.url, channel) == 2
            # And publications cross again.
            waiting.clear()
            await a.publish([42])
            assert await _set_within(waiting)
        finally:
            await a.close()
            await b.close()


def test_create_broker_picks_in_process_or_redis() -> None:
    def make(url: str) -> Broker:
        return create_broker(Settings(broker_url=url, broker_channel="office:x", jwt_secret=TEST_SECRET))

    assert type(make("")) is InProcessBroker
    for url in ("redis://127.0.0.1:6379/0", "rediss://redis.example:6380/1", "unix:///run/redis.sock"):
        broker = make(url)
        assert isinstance(broker, RedisBroker)
        assert (broker.url, broker.channel) == (url, "office:x")
    for url in ("http://127.0.0.1:6379", "127.0.0.1:6379", "memcached://h", "amqp://rabbit"):
        with pytest.raises(ConfigurationError, match="OFFICE_BROKER_URL"):
            make(url)


def test_the_app_refuses_to_start_with_a_broker_url_it_cannot_use(tmp_path: Path) -> None:
    from office_api.app import create_app

    settings = Settings(
        env=Environment.production, jwt_secret=TEST_SECRET, data_dir=tmp_path, broker_url="kafka://broker:9092"
    )
    with pytest.raises(ConfigurationError, match="OFFICE_BROKER_URL"):
        create_app(settings)


# ---- the safety sweep ---------------------------------------------------------------------


class SilentBroker:
    """A publisher whose wake-ups are lost (a dropped Redis message)."""

    async def publish(self, user_ids: Any) -> None:
        return None


def _queries(statements: list[str]) -> list[str]:
    """The SELECTs among the statements (SQLite also shows its BEGIN)."""
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


async def _user_id(platform: Any, username: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(User.id).where(User.username == username))).scalar_one()


async def _last_seq(platform: Any, user_id: int) -> int:
    async with platform.db.read() as s:
        return (await s.get(NotificationCounter, user_id)).last_seq


async def _notify_silently(platform: Any, user_id: int, title: str) -> None:
    async with platform.db.unit_of_work() as uow:
        await notify(uow, SilentBroker(), [Message(user_id, "TASK_ASSIGNED", title)])


async def test_the_sweep_wakes_only_subscribers_behind_the_database(platform: Any) -> None:
    broker: InProcessBroker = platform.broker
    clerk, deputy = await _user_id(platform, "clerk"), await _user_id(platform, "deputy")
    clerk_seq, deputy_seq = await _last_seq(platform, clerk), await _last_seq(platform, deputy)
    behind, current, untracked = broker.listen(clerk), broker.listen(deputy), broker.listen(clerk)
    behind.seen, current.seen = clerk_seq, deputy_seq
    sweep = NotificationSweep(platform.db, broker, interval=3600)
    assert await sweep.sweep_once() == 0
    await _notify_silently(platform, clerk, "一条丢了唤醒的通知")
    assert not behind.is_set()  # the wake-up was lost
    with count_statements(platform) as statements:
        assert await sweep.sweep_once() == 1
    assert len(_queries(statements)) == 1  # one query for every listened user
    assert (behind.is_set(), current.is_set(), untracked.is_set()) == (True, False, False)
    behind.clear()
    behind.seen = clerk_seq + 1  # the subscriber read it
    assert await sweep.sweep_once() == 0
    assert not behind.is_set()


async def test_the_sweep_reads_the_counters_in_chunks(platform: Any) -> None:
    broker: InProcessBroker = platform.broker
    clerk = await _user_id(platform, "clerk")
    listeners: list[Listener] = []
    for uid in [*range(10_000, 12_499), clerk]:  # 2,500 users, most without a counter row
        ev = broker.listen(uid)
        ev.seen = -1 if uid == clerk else 0
        listeners.append(ev)
    sweep = NotificationSweep(platform.db, broker, interval=3600, chunk=1000)
    with count_statements(platform) as statements:
        woken = await sweep.sweep_once()
    assert len(_queries(statements)) == 3
    assert woken == 1  # the clerk (counter >= 0 > -1); users without a counter are not woken
    assert [ev.is_set() for ev in listeners].count(True) == 1
    assert listeners[-1].is_set()


async def test_the_sweep_runs_in_the_background_every_interval(platform: Any) -> None:
    broker: InProcessBroker = platform.broker
    clerk = await _user_id(platform, "clerk")
    ev = broker.listen(clerk)
    ev.seen = await _last_seq(platform, clerk)
    sweep = NotificationSweep(platform.db, broker, interval=0.1)
    sweep.start()
    try:
        await _notify_silently(platform, clerk, "后台巡检")
        assert await _set_within(ev, 3.0)
    finally:
        await sweep.stop()


SUBSCRIPTION = "subscription($after: Int!) { notifications(after: $after) { sequence title } }"


async def test_a_subscriber_whose_wake_up_was_lost_is_served_by_the_sweep(client: Any, platform: Any) -> None:
    # The real subscription resolver, in process: it waits only on its wake event, so a lost
    # wake-up is delivered by the sweep, not by a per-socket periodic re-read.
    clerk = await _user_id(platform, "clerk")
    signed_in = await client.login("clerk")
    base = await _last_seq(platform, clerk)
    context = Context(platform, authorization=f"Bearer {signed_in.token}", lang="zh")
    stream = await schema.subscribe(SUBSCRIPTION, variable_values={"after": base}, context_value=context)

    async def next_item() -> dict[str, Any]:
        result = await anext(stream)
        assert result.errors is None, result.errors
        return result.data["notifications"]

    pending = asyncio.ensure_future(next_item())
    try:
        for _ in range(100):  # subscribed and waiting, with its cursor recorded
            if any(ev.seen == base for ev in platform.broker.local_listeners().get(clerk, ())):
                break
            await asyncio.sleep(0.02)
        await _notify_silently(platform, clerk, "唤醒丢失")
        await asyncio.sleep(0.5)
        assert not pending.done()  # nothing re-reads by itself
        assert await platform.sweep.sweep_once() == 1
        assert await asyncio.wait_for(pending, WAIT) == {"sequence": base + 1, "title": "唤醒丢失"}
        # A published one still arrives at once.
        async with platform.db.unit_of_work() as uow:
            await notify(uow, platform.broker, [Message(clerk, "TASK_ASSIGNED", "正常唤醒")])
        assert await asyncio.wait_for(next_item(), WAIT) == {"sequence": base + 2, "title": "正常唤醒"}
    finally:
        if not pending.done():
            pending.cancel()
        await stream.aclose()
    assert platform.broker.listener_count(clerk) == 0

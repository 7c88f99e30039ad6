"""Two server processes on one PostgreSQL database with Redis as the broker (DESIGN.md §4).

Server A is ``office-api demo`` (it migrates and loads the demo organization), server B is
``office-api serve`` on the same database with the same JWT secret. Both run with a safety
sweep of 600 s, so a notification that arrives within WS_TIMEOUT was carried by Redis (or,
after an outage, by the re-read every process does when its subscription comes back).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import REDIS_URL, RedisServer, _require_redis, private_redis
from tests.e2e.live import WS_TIMEOUT, LiveServer, Office, run_another_server, run_server, subscribed

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SWEEP_SECONDS = "600"
CHANNEL = "office:notifications"


@contextlib.contextmanager
def two_servers(tmp: Path, broker_url: str, channel: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {
        "OFFICE_BROKER_URL": broker_url,
        "OFFICE_BROKER_CHANNEL": channel,
        "OFFICE_NOTIFY_SWEEP_SECONDS": SWEEP_SECONDS,
    }
    with run_server("postgresql", tmp, env) as a, run_another_server(a, tmp, env) as b:
        yield a, b


@pytest.fixture
def shared_redis_servers(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer, str]]:
    """A and B on the Redis at 127.0.0.1:6379, on a channel of their own: (a, b, channel)."""
    _require_redis()
    channel = f"office:e2e:{uuid.uuid4().hex[:10]}"
    with two_servers(tmp_path, REDIS_URL, channel) as (a, b):
        yield a, b, channel


@pytest.fixture
def private_redis_servers(tmp_path: Path) -> Iterator[tuple[RedisServer, LiveServer, LiveServer]]:
    """A and B on a private redis-server that the test stops and restarts: (redis, a, b)."""
    with private_redis(tmp_path) as redis_server, two_servers(tmp_path, redis_server.url, CHANNEL) as (a, b):
        yield redis_server, a, b


async def _numsub(url: str, channel: str) -> int:
    client = Redis.from_url(url)
    try:
        return int(dict(await client.pubsub_numsub(channel))[channel.encode()])
    finally:
        await client.aclose()


async def _until_numsub(url: str, channel: str, expected: int, within: float = 10.0) -> None:
    """Wait until ``expected`` processes are subscribed to ``channel`` (fails after ``within`` s)."""
    async with asyncio.timeout(within):
        while await _numsub(url, channel) != expected:
            await asyncio.sleep(0.1)


async def _people(office: Office) -> tuple[str, str, str]:
    clerk, deputy = await office.login("clerk"), await office.login("deputy")
    return clerk, deputy, await office.user_id(deputy)


async def test_an_event_on_one_process_reaches_a_subscriber_on_the_other(shared_redis_servers) -> None:
    a, b, channel = shared_redis_servers
    async with httpx.AsyncClient(trust_env=False, timeout=WS_TIMEOUT) as http:
        on_a, on_b = Office(a, http), Office(b, http)
        clerk, deputy, deputy_id = await _people(on_a)
        clerk_base, deputy_base = await on_a.last_sequence(clerk), await on_a.last_sequence(deputy)
        async with (
            subscribed(b, clerk, after=clerk_base) as clerk_on_b,
            subscribed(b, deputy, after=deputy_base) as deputy_on_b,
            subscribed(a, clerk, after=clerk_base) as clerk_on_a,
        ):
            await clerk_on_b.assert_silent(0.2)
            # One Redis subscription per process, however many sockets.
            assert await _numsub(REDIS_URL, channel) == 2
            doc = await on_a.approved_document(clerk, deputy, deputy_id, "跨进程推送")
            got_b, got_a = await clerk_on_b.take(2), await clerk_on_a.take(2)
            assigned = await deputy_on_b.take(1)
            # And the other way: acted on B, seen on A (and B).
            back = await on_b.approved_document(clerk, deputy, deputy_id, "反向推送")
            more_a, more_b = await clerk_on_a.take(2), await clerk_on_b.take(2)
            await asyncio.gather(clerk_on_b.assert_silent(), clerk_on_a.assert_silent())
        # A logout on A closes that session's socket on B at once (the wake-up crosses too).
        leaving = await on_a._login("deputy")
        async with subscribed(b, leaving, after=deputy_base) as gone:
            replayed = await gone.take(2)  # the deputy's two tasks, from the database
            out = await on_a.call(leaving, "mutation { logout { ok errors { code } } }")
            assert out["logout"] == {"ok": True, "errors": []}
            closed = await gone.closed()
    expected = [(clerk_base + 1, "TASK_APPROVED", doc), (clerk_base + 2, "DOCUMENT_APPROVED", doc)]
    assert [(n["sequence"], n["kind"], n["subjectId"]) for n in got_b] == expected
    assert got_a == got_b
    assert [(n["sequence"], n["kind"], n["subjectId"]) for n in assigned] == [(deputy_base + 1, "TASK_ASSIGNED", doc)]
    assert [(n["sequence"], n["kind"], n["subjectId"]) for n in more_a] == [
        (clerk_base + 3, "TASK_APPROVED", back),
        (clerk_base + 4, "DOCUMENT_APPROVED", back),
    ]
    assert more_b == more_a
    assert [(n["sequence"], n["subjectId"]) for n in replayed] == [(deputy_base + 1, doc), (deputy_base + 2, back)]
    assert closed == (4401, "Session ended", [])
    a.assert_no_errors()
    b.assert_no_errors()


async def test_redis_stopped_and_restarted_mid_stream_loses_nothing(private_redis_servers) -> None:
    redis_server, a, b = private_redis_servers
    async with httpx.AsyncClient(trust_env=False, timeout=WS_TIMEOUT) as http:
        on_a = Office(a, http)
        clerk, deputy, deputy_id = await _people(on_a)
        base = await on_a.last_sequence(clerk)
        async with subscribed(b, clerk, after=base) as sock:
            await sock.assert_silent(0.2)
            before = await on_a.approved_document(clerk, deputy, deputy_id, "停机前")
            live = await sock.take(2)

            redis_server.stop()
            # Committed on A while Redis is down: the approvals succeed, nothing reaches B yet.
            during = [await on_a.approved_document(clerk, deputy, deputy_id, f"停机中 {i}") for i in range(2)]
            stored = await on_a.notifications_after(clerk, base + 2)
            await sock.assert_silent(1.0)

            redis_server.start()
            # B re-subscribes and re-reads: the four arrive, once each, in order.
            caught_up = await sock.take(4)
            await sock.assert_silent(1.0)

            # Both processes are subscribed again, and publications cross again.
            await _until_numsub(redis_server.url, CHANNEL, 2)
            after = await on_a.approved_document(clerk, deputy, deputy_id, "恢复后")
            resumed = await sock.take(2)
            await sock.assert_silent(0.5)
    assert [(n["sequence"], n["subjectId"]) for n in live] == [(base + 1, before), (base + 2, before)]
    assert len(stored) == 4
    assert [n["id"] for n in caught_up] == [n["id"] for n in stored]
    assert [(n["sequence"], n["kind"], n["subjectId"]) for n in caught_up] == [
        (base + 3, "TASK_APPROVED", during[0]),
        (base + 4, "DOCUMENT_APPROVED", during[0]),
        (base + 5, "TASK_APPROVED", during[1]),
        (base + 6, "DOCUMENT_APPROVED", during[1]),
    ]
    assert [(n["sequence"], n["subjectId"]) for n in resumed] == [(base + 7, after), (base + 8, after)]
    a.assert_no_errors()
    b.assert_no_errors()

"""Delivery guarantees of the notifications subscription on a live server, with raw
graphql-transport-ws clients (tests/e2e/live.py): a reconnect after missing 100, a replay
longer than one batch while writers keep adding, and isolation over 1,000 random events with
several concurrent subscribers, each stream compared with the database.

The tests share one server per backend (the e2e conftest), so each starts from the users'
current last sequence number.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from messaging.service import REPLAY_BATCH
from tests.e2e.events import Meetings
from tests.e2e.live import Office, Socket, subscribed

pytestmark = pytest.mark.e2e

PAGE = """query($after: String) { notifications(first: 100, after: $after) {
  edges { node { id sequence kind subjectId } } pageInfo { hasNextPage endCursor } } }"""


async def stored_after(office: Office, token: str, after: int) -> list[dict[str, Any]]:
    """All of the user's stored notifications with sequence > ``after``, oldest first (paged)."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = (await office.call(token, PAGE, after=cursor))["notifications"]
        nodes = [e["node"] for e in page["edges"]]
        rows += [n for n in nodes if n["sequence"] > after]
        if not page["pageInfo"]["hasNextPage"] or (nodes and nodes[-1]["sequence"] <= after):
            return rows[::-1]
        cursor = page["pageInfo"]["endCursor"]


async def in_batches(count: int, make: Callable[[int], Awaitable[Any]], concurrency: int = 8) -> list[Any]:
    """``make(0) … make(count - 1)``, ``concurrency`` at a time (competing transactions)."""
    out: list[Any] = []
    for start in range(0, count, concurrency):
        out += await asyncio.gather(*(make(i) for i in range(start, min(start + concurrency, count))))
    return out


def assert_exact_stream(got: list[dict[str, Any]], stored: list[dict[str, Any]], after: int) -> None:
    """The stream is the stored rows: same ids in the same order, sequences after+1… without gap."""
    assert [n["sequence"] for n in got] == list(range(after + 1, after + 1 + len(stored)))
    assert [n["id"] for n in got] == [n["id"] for n in stored]
    assert len({n["id"] for n in got}) == len(got)


async def test_reconnect_after_missing_100_gets_exactly_those_then_live(office: Office) -> None:
    clerk, deputy = await office.login("clerk"), await office.login("deputy")
    deputy_id = await office.user_id(deputy)
    meetings = await Meetings.of(office, clerk)
    base = await office.last_sequence(deputy)
    async with subscribed(office.server, deputy, after=base) as sock:
        await meetings.invite([deputy_id], "断线前")
        [before] = await sock.take(1)
    assert (before["sequence"], before["kind"]) == (base + 1, "MEETING_INVITED")
    seen = base + 1

    # Offline: 100 meeting notices, created eight at a time.
    made = await in_batches(100, lambda i: meetings.invite([deputy_id], f"断线期间 {i}"))
    missed = await stored_after(office, deputy, seen)
    assert len(missed) == 100
    assert sorted(n["subjectId"] for n in missed) == sorted(m["id"] for m in made)

    async with subscribed(office.server, deputy, after=seen) as sock:
        replayed = await sock.take(100)
        await sock.assert_silent(0.3)
        after_reconnect = [await meetings.invite([deputy_id], f"重连后 {i}") for i in range(2)]
        live = await sock.take(2)
        await sock.assert_silent()
    assert_exact_stream(replayed, missed, seen)
    assert [(n["sequence"], n["subjectId"]) for n in live] == [
        (seen + 101, after_reconnect[0]["id"]),
        (seen + 102, after_reconnect[1]["id"]),
    ]
    office.server.assert_no_errors()


async def test_a_replay_longer_than_one_batch_meets_concurrent_writes_without_gap_or_duplicate(
    office: Office,
) -> None:
    clerk, deputy = await office.login("clerk"), await office.login("deputy")
    deputy_id = await office.user_id(deputy)
    meetings = await Meetings.of(office, clerk)
    base = await office.last_sequence(deputy)
    backlog = REPLAY_BATCH + 50
    await in_batches(backlog, lambda i: meetings.invite([deputy_id], f"积压 {i}"))
    extra = 60

    async def writer(w: int) -> None:  # four writers, fifteen notices each, one after the other
        for i in range(extra // 4):
            await meetings.invite([deputy_id], f"并发写入 {w}-{i}")

    writers = asyncio.gather(*(writer(w) for w in range(4)))
    try:
        async with asyncio.timeout(30):  # the writers are under way before the subscription starts
            while await office.last_sequence(deputy) < base + backlog + 4:
                await asyncio.sleep(0.02)
        async with subscribed(office.server, deputy, after=base) as sock:
            first = await sock.take(REPLAY_BATCH)  # the first batch …
            racing = not writers.done()
            rest = await sock.take(backlog + extra - REPLAY_BATCH)  # … the rest, then the live ones
            await asyncio.wait_for(writers, 60)
            await sock.assert_silent()
    finally:
        await asyncio.wait_for(writers, 60)
    got = first + rest
    assert_exact_stream(got, await stored_after(office, deputy, base), base)
    assert len(got) == backlog + extra
    # The writers were still committing when the first batch had been replayed: the seam was crossed under writes.
    assert racing
    office.server.assert_no_errors()


# ---- isolation over 1,000 random events ----------------------------------------------------------

EVENTS = 1_000
#: Invitees and approvers of the random events; each has a socket (the clerk two).
PEOPLE = ("deputy", "secretary_general", "finance_head", "zhang_wei", "wang_wei", "li_na", "zhou_wei")


class Collector:
    """Reads one socket's notifications into a list until stopped."""

    def __init__(self, username: str, sock: Socket) -> None:
        self.username = username
        self.sock = sock
        self.got: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            message = await self.sock.receive(timeout=3600)
            assert (message.get("type"), message.get("id")) == ("next", "1"), message
            self.got.append(message["payload"]["data"]["notifications"])

    async def until(self, count: int, within: float = 30.0) -> None:
        async with asyncio.timeout(within):
            while len(self.got) < count:
                if self.task.done():
                    self.task.result()
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def test_every_subscriber_gets_exactly_its_own_rows_over_1000_random_events(office: Office) -> None:
    rng = random.Random(7)
    clerk = await office.login("clerk")
    tokens = {"clerk": clerk} | {u: await office.login(u) for u in PEOPLE}
    ids = {u: await office.user_id(t) for u, t in tokens.items()}
    bystander = await office.login("drc_head")  # concerned by none of the events
    bases = {u: await office.last_sequence(t) for u, t in tokens.items()}
    bystander_base = await office.last_sequence(bystander)
    meetings = await Meetings.of(office, clerk)
    deputy_id = ids["deputy"]

    async def worker(w: int, count: int, plan: random.Random) -> None:
        """Random events: a notice to 1–4 people, an agenda change (to all invitees), a document
        submitted (TASK_ASSIGNED to the deputy) and, later, approved (two to the clerk)."""
        own: list[dict[str, Any]] = []  # this worker's meetings: no version race between workers
        submitted: list[str] = []
        for i in range(count):
            roll = plan.random()
            if roll < 0.35 or not own:
                invitees = plan.sample(PEOPLE, plan.randint(1, 4))
                own.append(await meetings.invite([ids[u] for u in invitees], f"隔离 {w}-{i}"))
            elif roll < 0.6:
                k = plan.randrange(len(own))
                own[k] = await meetings.change_agenda(own[k], f"议程 {w}-{i}")
            elif roll < 0.75 or not submitted:
                doc = await office.draft(clerk, deputy_id, f"隔离公文 {w}-{i}")
                await office.submit(clerk, doc)
                submitted.append(doc)
            else:
                await office.approve(tokens["deputy"], submitted.pop(plan.randrange(len(submitted))))

    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            (u, await stack.enter_async_context(subscribed(office.server, t, after=bases[u])))
            for u, t in tokens.items()
        ]
        sockets.append(
            ("clerk", await stack.enter_async_context(subscribed(office.server, clerk, after=bases["clerk"])))
        )
        quiet = await stack.enter_async_context(subscribed(office.server, bystander, after=bystander_base))
        collectors = [Collector(u, s) for u, s in sockets]
        # The bystander's socket is read too, as a phone does: a socket nobody reads cannot
        # answer the server's heartbeat pings and is closed (4499) during a long run.
        watcher = Collector("drc_head", quiet)
        try:
            workers = 4
            await asyncio.gather(*(worker(w, EVENTS // workers, random.Random(rng.random())) for w in range(workers)))
            stored = {u: await stored_after(office, tokens[u], bases[u]) for u in tokens}
            for c in collectors:
                await c.until(len(stored[c.username]))
            await asyncio.sleep(0.5)  # nothing more may come
        finally:
            for c in [*collectors, watcher]:
                await c.stop()
        assert watcher.got == []
        await quiet.assert_silent(0.1)

    total = sum(len(rows) for rows in stored.values())
    assert total > EVENTS  # notices to several people: more notifications than events
    assert all(stored[u] for u in tokens)  # everyone was concerned by some
    for c in collectors:
        assert_exact_stream(c.got, stored[c.username], bases[c.username])
    # Nobody's stream holds another person's notification.
    streams = {u: {n["id"] for c in collectors if c.username == u for n in c.got} for u in tokens}
    for u in tokens:
        for v in tokens:
            if u != v:
                assert not streams[u] & streams[v], (u, v)
    assert await stored_after(office, bystander, bystander_base) == []
    office.server.assert_no_errors()

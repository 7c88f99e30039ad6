"""Real client libraries against a live server: the npm ``graphql-ws`` reference client (Node.js)
and the Python ``gql`` client, each resuming ``notifications(after: n)``: the missed ones
replayed from the database, then live ones, in order, without duplicate.

The npm client (tests/e2e/js: package.json and package-lock.json pin graphql-ws, ws and graphql)
is installed once per test session with ``npm ci`` under ``var/e2e-js/<hash of the lock>``.
Without ``node`` and ``npm`` those tests are skipped, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.live import ROOT, SUBSCRIBE_NOTIFICATIONS, WS_TIMEOUT, LiveServer, Office, token_subject, user_gid

pytestmark = pytest.mark.e2e

JS_SOURCE = ROOT / "tests" / "e2e" / "js"
JS_CACHE = ROOT / "var" / "e2e-js"
#: Longest wait for ``npm ci`` (the first run downloads about 1 MB from the npm registry).
NPM_TIMEOUT = 300


# ---- the npm graphql-ws client ------------------------------------------------------------------


@pytest.fixture(scope="session")
def graphql_ws_client() -> Path:
    """A directory holding tests/e2e/js/subscribe.mjs with its node_modules, installed by ``npm ci``
    once per lock file (reused by later sessions)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "Node.js and npm are needed for the graphql-ws reference client (tests/e2e/js)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": they must be installed in CI")
        pytest.skip(message + ": install Node.js 20 or newer to run these tests")
    lock = (JS_SOURCE / "package.json").read_bytes() + (JS_SOURCE / "package-lock.json").read_bytes()
    target = JS_CACHE / hashlib.sha256(lock).hexdigest()[:16]
    if not (target / "node_modules" / ".installed").exists():
        staging = JS_CACHE / f"staging-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            for name in ("package.json", "package-lock.json"):
                shutil.copy(JS_SOURCE / name, staging / name)
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=staging,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT,
            )
            if done.returncode != 0:
                pytest.fail(f"npm ci failed in {staging}:\n{done.stdout}\n{done.stderr}")
            (staging / "node_modules" / ".installed").touch()
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    shutil.copy(JS_SOURCE / "subscribe.mjs", target / "subscribe.mjs")  # next to its node_modules
    return target


class JsClient:
    """``node subscribe.mjs`` in a subprocess; reads its JSON lines with bounded waits."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def event(self, timeout: float = WS_TIMEOUT) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            stderr = await self.proc.stderr.read() if self.proc.stderr else b""
            raise AssertionError(f"the node client ended without a message: {stderr.decode()}")
        return json.loads(line)

    async def take(self, count: int) -> list[dict[str, Any]]:
        got = []
        for _ in range(count):
            event = await self.event()
            assert event["event"] == "next", event
            got.append(event["notification"])
        return got

    async def assert_silent(self, seconds: float = 0.5) -> None:
        with contextlib.suppress(TimeoutError):
            event = await self.event(timeout=seconds)
            raise AssertionError(f"unexpected event {event}")


@contextlib.asynccontextmanager
async def js_subscribed(client_dir: Path, server: LiveServer, token: str, after: int) -> AsyncIterator[JsClient]:
    """The npm client connected (its connection_ack seen) and subscribed after ``after``."""
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(client_dir / "subscribe.mjs"),
        server.ws_url,
        token,
        str(after),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    client = JsClient(proc)
    try:
        assert await client.event() == {"event": "connected", "payload": {"userId": user_gid(token)}}
        yield client
    finally:
        if proc.returncode is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), WS_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def _token(server: LiveServer, sub: str, expires_in: int) -> str:
    """An access token signed as the server signs them, expiring in ``expires_in`` seconds."""
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": sub,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + dt.timedelta(seconds=expires_in)).timestamp()),
        "iss": "office-api",
        "aud": "office-api",
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, server.jwt_secret(), algorithm="HS256")


async def _documents(office: Office, count: int, title: str) -> list[str]:
    """``count`` documents drafted by the clerk and approved by the deputy, concurrently: the
    clerk is told TASK_APPROVED then DOCUMENT_APPROVED for each."""
    clerk, deputy = await office.login("clerk"), await office.login("deputy")
    deputy_id = await office.user_id(deputy)
    return list(
        await asyncio.gather(
            *(office.approved_document(clerk, deputy, deputy_id, f"{title} {i}") for i in range(count))
        )
    )


def _assert_resumed(got: list[dict[str, Any]], stored: list[dict[str, Any]], after: int) -> None:
    """``got`` is exactly ``stored``: sequences after+1… without gap, each id once."""
    assert [n["sequence"] for n in got] == list(range(after + 1, after + 1 + len(got)))
    assert [n["id"] for n in got] == [n["id"] for n in stored]
    assert len({n["id"] for n in got}) == len(got)
    assert [n["kind"] for n in got] == ["TASK_APPROVED", "DOCUMENT_APPROVED"] * (len(got) // 2)


async def test_graphql_ws_client_replays_missed_then_streams_live(office: Office, graphql_ws_client: Path) -> None:
    clerk = await office.login("clerk")
    base = await office.last_sequence(clerk)
    await _documents(office, 2, "graphql-ws 离线")  # four notifications missed while offline
    missed = await office.notifications_after(clerk, base)
    assert len(missed) == 4
    async with js_subscribed(graphql_ws_client, office.server, clerk, after=base) as js:
        replayed = await js.take(4)
        await js.assert_silent(0.3)
        await _documents(office, 2, "graphql-ws 在线")
        live = await js.take(4)
        await js.assert_silent()
    _assert_resumed(replayed + live, await office.notifications_after(clerk, base), base)
    assert [n["id"] for n in replayed] == [n["id"] for n in missed]  # the replay comes first
    office.server.assert_no_errors()


async def test_graphql_ws_client_sees_4401_when_the_token_expires(office: Office, graphql_ws_client: Path) -> None:
    clerk = await office.login("clerk")
    base = await office.last_sequence(clerk)
    short = _token(office.server, token_subject(clerk), expires_in=4)
    async with js_subscribed(graphql_ws_client, office.server, short, after=base) as js:
        docs = await _documents(office, 1, "graphql-ws 令牌到期")
        live = await js.take(2)
        closed = await js.event(timeout=10)  # about 4 s after issue
        assert await asyncio.wait_for(js.proc.wait(), WS_TIMEOUT) == 0  # the client ends on the close
    assert [(n["kind"], n["subjectId"]) for n in live] == [("TASK_APPROVED", docs[0]), ("DOCUMENT_APPROVED", docs[0])]
    assert closed == {"event": "closed", "code": 4401, "reason": "Token expired"}
    office.server.assert_no_errors()


# ---- the Python gql client ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def gql_subscribed(server: LiveServer, token: str, after: int) -> AsyncIterator[asyncio.Queue[Any]]:
    """gql's WebsocketsTransport (graphql-transport-ws) subscribed after ``after``: a queue of the
    notifications received, then the exception that ended the subscription (or None)."""
    transport = WebsocketsTransport(
        url=server.ws_url,
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        connect_timeout=WS_TIMEOUT,
        close_timeout=2,
    )
    received: asyncio.Queue[Any] = asyncio.Queue()
    async with Client(transport=transport) as session:
        request = gql(SUBSCRIBE_NOTIFICATIONS)
        request.variable_values = {"after": after}

        async def consume() -> None:
            try:
                async for result in session.subscribe(request):
                    received.put_nowait(result["notifications"])
            except Exception as exc:  # handed to the test through the queue
                received.put_nowait(exc)
            else:
                received.put_nowait(None)

        task = asyncio.create_task(consume())
        try:
            yield received
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _take(queue: asyncio.Queue[Any], count: int) -> list[dict[str, Any]]:
    got = []
    for _ in range(count):
        item = await asyncio.wait_for(queue.get(), WS_TIMEOUT)
        assert isinstance(item, dict), item
        got.append(item)
    return got


async def test_gql_client_replays_missed_then_streams_live(office: Office) -> None:
    clerk = await office.login("clerk")
    base = await office.last_sequence(clerk)
    await _documents(office, 2, "gql 离线")
    missed = await office.notifications_after(clerk, base)
    assert len(missed) == 4
    async with gql_subscribed(office.server, clerk, after=base) as queue:
        replayed = await _take(queue, 4)
        await _documents(office, 2, "gql 在线")
        live = await _take(queue, 4)
        await asyncio.sleep(0.5)
        assert queue.empty()
    _assert_resumed(replayed + live, await office.notifications_after(clerk, base), base)
    assert [n["id"] for n in replayed] == [n["id"] for n in missed]
    office.server.assert_no_errors()

"""The websocket connection registry (office_api/ws.py) inside the test process: the batched
re-check (exact verdicts, a constant number of statements), the periodic sweep, one encoding
per event shared by a person's sockets, and the legacy protocol off by default.

The sockets talk to the app served by an in-process uvicorn on a free port, so the test can
read the registry's counters and change the database behind the server's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select, update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from messaging.outbox import Message, notify
from office_api.auth import AccessClaims
from office_api.config import Environment, Settings
from office_api.db import utcnow
from office_api.org.models import RefreshToken, RevokedToken, User
from office_api.ws import CHECK_CHUNK, ConnectionRegistry, Guard
from tests.conftest import TEST_SECRET, GraphQLClient, count_statements
from tests.e2e.live import free_port

RECHECK = 0.5
WAIT = 5.0


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env=Environment.production,
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        log_level="WARNING",
        scheduler_enabled=False,
        ws_recheck_seconds=RECHECK,
    )


class _Handler:
    """Stands in for a protocol handler: records the close it is asked for."""

    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def close_connection(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


async def _user_ids(platform: Any, *names: str) -> list[int]:
    async with platform.db.read() as s:
        rows = dict((await s.execute(select(User.username, User.id).where(User.username.in_(names)))).all())
    return [rows[n] for n in names]


def _claims(user_id: int, *, expires_in: float = 600, tv: int = 0) -> AccessClaims:
    return AccessClaims(
        user_id=user_id,
        jti=uuid.uuid4().hex,
        expires_at=utcnow() + dt.timedelta(seconds=expires_in),
        token_version=tv,
        family=uuid.uuid4().hex,
    )


async def test_check_gives_each_connection_its_verdict(platform: Any) -> None:
    registry: ConnectionRegistry = platform.connections
    ok, disabled, logged_out, bumped, family_gone, expired = await _user_ids(
        platform, "clerk", "deputy", "drc_head", "zhang_wei", "wang_wei", "li_na"
    )
    guards = {
        "ok": Guard(ok, _claims(ok), _Handler()),
        "disabled": Guard(disabled, _claims(disabled), _Handler()),
        "logged out": Guard(logged_out, _claims(logged_out), _Handler()),
        "bumped": Guard(bumped, _claims(bumped), _Handler()),
        "family revoked": Guard(family_gone, _claims(family_gone), _Handler()),
        "expired": Guard(expired, _claims(expired, expires_in=-1), _Handler()),
        "unknown user": Guard(999_999, _claims(999_999), _Handler()),
    }
    assert await registry.check(list(guards.values())) == [
        (guards["expired"], 4401, "Token expired"),
        (guards["unknown user"], 4403, "User disabled"),
    ]
    now = utcnow()
    async with platform.db.unit_of_work() as uow:
        s = uow.session
        await s.execute(update(User).where(User.id == disabled).values(is_active=False))
        await s.execute(update(User).where(User.id == bumped).values(token_version=User.token_version + 1))
        s.add(RevokedToken(jti=guards["logged out"].claims.jti, user_id=logged_out, expires_at=now))  # type: ignore[union-attr]
        s.add(
            RefreshToken(
                user_id=family_gone,
                family_id=guards["family revoked"].claims.family,  # type: ignore[union-attr]
                token_hash=uuid.uuid4().hex,
                expires_at=now + dt.timedelta(days=1),
                revoked_at=now,
            )
        )
    verdicts = {name: None for name in guards}
    for guard, code, reason in await registry.check(list(guards.values())):
        verdicts[next(n for n, g in guards.items() if g is guard)] = (code, reason)  # type: ignore[assignment]
    assert verdicts == {
        "ok": None,
        "disabled": (4403, "User disabled"),
        "logged out": (4401, "Session ended"),
        "bumped": (4401, "Session ended"),
        "family revoked": (4401, "Session ended"),
        "expired": (4401, "Token expired"),
        "unknown user": (4403, "User disabled"),
    }


async def test_the_recheck_runs_a_constant_number_of_statements(platform: Any) -> None:
    registry: ConnectionRegistry = platform.connections
    async with platform.db.read() as s:
        ids = list((await s.execute(select(User.id).order_by(User.id).limit(40))).scalars())
    assert len(ids) == 40

    async def statements(n: int) -> list[str]:
        guards = [Guard(ids[i % len(ids)], _claims(ids[i % len(ids)]), _Handler()) for i in range(n)]
        with count_statements(platform) as seen:
            assert await registry.check(guards) == []
        return [st for st in seen if st.lstrip().upper().startswith("SELECT")]

    one, many = await statements(1), await statements(200)  # 200 sockets of 40 people
    assert len(one) == len(many) == 3
    assert CHECK_CHUNK >= 200


@contextlib.asynccontextmanager
async def _serve(app: Any) -> AsyncIterator[str]:
    """The app (lifespan already running) on an in-process uvicorn; yields the websocket URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", ws="websockets-sansio")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(WAIT):
        while not server.started:
            await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT)


@contextlib.asynccontextmanager
async def _socket(url: str, token: str, protocols: tuple[str, ...] = ("graphql-transport-ws",)) -> AsyncIterator[Any]:
    async with connect(url, subprotocols=list(protocols), proxy=None, open_timeout=WAIT) as ws:  # type: ignore[arg-type]
        if ws.subprotocol == "graphql-transport-ws":
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "connection_ack"
        yield ws


async def _close_of(ws: ClientConnection, within: float) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(_drain(ws), within)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def _drain(ws: ClientConnection) -> None:
    while True:
        await ws.recv()


async def test_the_sweep_closes_a_socket_revoked_behind_the_brokers_back(
    app: Any, client: GraphQLClient, platform: Any
) -> None:
    # Another server process (or a script) bumps the token version without waking this
    # process's broker: only the periodic re-check can notice.
    clerk = await client.login("clerk")
    (clerk_id,) = await _user_ids(platform, "clerk")
    async with _serve(app) as url, _socket(url, clerk.token or "") as ws:
        await asyncio.sleep(RECHECK + 0.2)
        assert len(platform.connections.connections(clerk_id)) == 1  # still valid after a sweep
        async with platform.db.unit_of_work() as uow:
            await uow.session.execute(update(User).where(User.id == clerk_id).values(token_version=7))
        started = time.monotonic()
        assert await _close_of(ws, within=RECHECK + 2) == (4401, "Session ended")
        assert time.monotonic() - started <= RECHECK + 1
    assert platform.connections.connections(clerk_id) == []


async def test_one_event_is_encoded_once_for_a_persons_sockets(app: Any, client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    (clerk_id,) = await _user_ids(platform, "clerk")
    registry: ConnectionRegistry = platform.connections
    query = "subscription($after: Int!) { notifications(after: $after) { id sequence kind title } }"

    async def event(title: str) -> int:
        async with platform.db.unit_of_work() as uow:
            (seq,) = await notify(uow, platform.broker, [Message(clerk_id, "TASK_ASSIGNED", title)])
        return seq

    base = await event("第一条")
    async with _serve(app) as url, _socket(url, clerk.token or "") as phone, _socket(url, clerk.token or "") as desk:
        before = registry.encodings, registry.encoding_reuses
        for ws, after in ((phone, base), (desk, base - 1)):  # the desktop has not seen #base yet
            payload = {"query": query, "variables": {"after": after}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        replayed = json.loads(await asyncio.wait_for(desk.recv(), WAIT))
        assert replayed["payload"]["data"]["notifications"]["sequence"] == base
        await asyncio.sleep(0.2)  # both subscriptions are waiting for news
        live = [await event("第二条"), await event("第三条")]
        phone_frames = [await asyncio.wait_for(phone.recv(), WAIT) for _ in live]
        desk_frames = [await asyncio.wait_for(desk.recv(), WAIT) for _ in live]
        after = registry.encodings, registry.encoding_reuses
    assert [json.loads(f)["payload"]["data"]["notifications"]["sequence"] for f in phone_frames] == live
    assert phone_frames == desk_frames  # the very same text on both sockets
    assert json.loads(phone_frames[0])["payload"]["data"]["notifications"]["title"] == "第二条"
    # The replayed row and each live row encoded once; each live row reused once.
    assert (after[0] - before[0], after[1] - before[1]) == (3, 2)


async def test_the_legacy_protocol_is_off_by_default(app: Any, client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    async with _serve(app) as url, _socket(url, clerk.token or "", protocols=("graphql-ws",)) as ws:
        assert ws.subprotocol is None
        assert await _close_of(ws, within=WAIT) == (4406, "Subprotocol not acceptable")


def test_connection_settings_are_bounded() -> None:
    from pydantic import ValidationError

    defaults = Settings()
    assert (
        defaults.ws_recheck_seconds,
        defaults.ws_ping_seconds,
        defaults.ws_pong_timeout_seconds,
        defaults.ws_init_timeout_seconds,
        defaults.ws_max_connections_per_user,
        defaults.ws_legacy_protocol,
    ) == (15.0, 20.0, 20.0, 10.0, 5, False)
    for bad in ({"ws_recheck_seconds": 31}, {"ws_recheck_seconds": 0}, {"ws_max_connections_per_user": 0}):
        with pytest.raises(ValidationError):
            Settings(**bad)

"""Websocket connection life on a live server (office_api/ws.py): token expiry, logout and
disabling close a socket even without a subscription, heartbeats, the init timeout, the
per-user cap, the legacy protocol and the Origin allowlist.

The server runs with short timers (pings every second, 1.5 s to answer, 1 s to send
connection_init, 2 sockets per user) and the longest periodic re-check (30 s), so that a
close within a second or two after a logout or disabling can only come from the broker's
wake-up, not from the sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.live import (
    BACKENDS,
    GRAPHQL_TRANSPORT_WS,
    WS_TIMEOUT,
    LiveServer,
    Office,
    Socket,
    open_socket,
    run_server,
    token_subject,
    user_gid,
)

pytestmark = pytest.mark.e2e

PING, PONG_TIMEOUT, INIT_TIMEOUT, CAP = 1.0, 1.5, 1.0, 2
ALLOWED_ORIGIN = "https://oa.example.gov.cn"
ENV = {
    "OFFICE_WS_PING_SECONDS": str(PING),
    "OFFICE_WS_PONG_TIMEOUT_SECONDS": str(PONG_TIMEOUT),
    "OFFICE_WS_INIT_TIMEOUT_SECONDS": str(INIT_TIMEOUT),
    "OFFICE_WS_MAX_CONNECTIONS_PER_USER": str(CAP),
    "OFFICE_WS_RECHECK_SECONDS": "30",
    "OFFICE_WS_LEGACY_PROTOCOL": "true",
    "OFFICE_ALLOWED_ORIGINS": json.dumps([ALLOWED_ORIGIN]),
}
#: Longest wait for a close that the broker's wake-up triggers (the sweep runs every 30 s).
AT_ONCE = 2.0


@pytest.fixture(scope="module", params=BACKENDS)
def life_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with run_server(request.param, tmp_path_factory.mktemp(f"life-{request.param}"), env_extra=ENV) as server:
        yield server


@pytest.fixture
async def office(life_server: LiveServer) -> AsyncIterator[Office]:
    import httpx

    async with httpx.AsyncClient(trust_env=False, timeout=WS_TIMEOUT) as http:
        yield Office(life_server, http)


def _token(server: LiveServer, user_id: str, *, expires_in: float) -> str:
    now = time.time()
    claims = {
        "sub": user_id,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now + expires_in),
        "iss": "office-api",
        "aud": "office-api",
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, server.jwt_secret(), algorithm="HS256")


async def _closed(sock: Socket, within: float) -> tuple[int | None, str | None, list[dict[str, Any]], int]:
    """Answer pings until the server closes the socket (at most ``within`` seconds): the close
    code, reason, the other messages received before, and how many pings came."""
    received: list[dict[str, Any]] = []
    pings = 0
    try:
        async with asyncio.timeout(within):
            while True:
                message = json.loads(await sock.ws.recv())
                if message.get("type") == "ping":
                    pings += 1
                    await sock.send({"type": "pong"})
                else:
                    received.append(message)
    except ConnectionClosed as exc:
        frame = exc.rcvd
        return (frame.code, frame.reason, received, pings) if frame else (None, None, received, pings)
    except TimeoutError:
        return None, "still open", received, pings


async def _stays_open(sock: Socket, seconds: float) -> int:
    """The socket is still open after ``seconds`` (answering pings); how many pings came."""
    code, reason, messages, pings = await _closed(sock, seconds)
    assert (code, reason, messages) == (None, "still open", []), (code, reason, messages)
    return pings


@contextlib.asynccontextmanager
async def _authenticated(server: LiveServer, token: str, **kwargs: Any) -> AsyncIterator[Socket]:
    async with open_socket(server, **kwargs) as sock:
        await sock.authenticate(token)
        yield sock


async def _fresh_user(office: Office) -> tuple[str, str]:
    """A new account past its forced first password change: (its global id, an access token)."""
    admin = await office.login("admin")
    username = f"life_{uuid.uuid4().hex[:8]}"
    created = await office.call(
        admin,
        "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } errors { code } } }",
        input={"username": username, "displayName": "临时用户", "password": "Temp@2026-pass"},
    )
    assert created["createUser"]["errors"] == [], created
    first = (
        await office.call(
            None,
            'mutation($u:String!){login(input:{username:$u,password:"Temp@2026-pass"}){accessToken errors{code}}}',
            u=username,
        )
    )["login"]["accessToken"]
    changed = await office.call(
        first,
        'mutation{changePassword(input:{oldPassword:"Temp@2026-pass",newPassword:"Own@2026-pass"})'
        "{accessToken errors{code}}}",
    )
    return created["createUser"]["user"]["id"], changed["changePassword"]["accessToken"]


# ---- the guard: closes without any subscription -----------------------------------------


async def test_an_idle_socket_is_closed_with_4401_at_the_tokens_exact_expiry(office: Office) -> None:
    clerk_id = token_subject(await office.login("clerk"))
    token = _token(office.server, clerk_id, expires_in=3)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    async with _authenticated(office.server, token) as sock:
        code, reason, messages, _ = await _closed(sock, within=exp - time.time() + 2)
        closed_at = time.time()
    assert (code, reason, messages) == (4401, "Token expired", [])
    assert exp - 0.05 <= closed_at <= exp + 1.0, (exp, closed_at)
    office.server.assert_no_errors()


async def test_logout_closes_that_sessions_idle_socket_at_once_with_4401(office: Office) -> None:
    leaving, staying = await office._login("deputy"), await office._login("deputy")
    async with _authenticated(office.server, leaving) as gone, _authenticated(office.server, staying) as kept:
        out = await office.call(leaving, "mutation { logout { ok errors { code } } }")
        assert out["logout"] == {"ok": True, "errors": []}
        started = time.monotonic()
        code, reason, messages, _ = await _closed(gone, within=AT_ONCE)
        waited = time.monotonic() - started
        await _stays_open(kept, 0.5)  # the same person's other session is not touched
    assert (code, reason, messages) == (4401, "Session ended", [])
    assert waited < AT_ONCE
    office.server.assert_no_errors()


async def test_disabling_the_account_closes_its_sockets_at_once_with_4403(office: Office) -> None:
    user_id, token = await _fresh_user(office)
    admin = await office.login("admin")
    async with (
        _authenticated(office.server, token) as idle,
        _authenticated(office.server, token) as subscribed_sock,
    ):
        await subscribed_sock.subscribe("1", after=0)
        await _stays_open(idle, 0.2)
        disabled = await office.call(
            admin, "mutation($id: ID!) { disableUser(input: {userId: $id}) { errors { code } } }", id=user_id
        )
        assert disabled["disableUser"]["errors"] == []
        started = time.monotonic()
        results = await asyncio.gather(_closed(idle, AT_ONCE), _closed(subscribed_sock, AT_ONCE))
        waited = time.monotonic() - started
    assert [r[:3] for r in results] == [(4403, "User disabled", [])] * 2  # and no "complete" after the close
    assert waited < AT_ONCE
    office.server.assert_no_errors()


# ---- heartbeats, init timeout --------------------------------------------------------------


async def test_a_client_that_answers_pings_stays_connected(office: Office) -> None:
    async with _authenticated(office.server, await office.login("clerk")) as sock:
        pings = await _stays_open(sock, 3 * (PING + PONG_TIMEOUT))
    assert pings >= 3
    office.server.assert_no_errors()


async def test_a_client_that_stops_answering_is_closed_with_4499(office: Office) -> None:
    async with _authenticated(office.server, await office.login("clerk")) as sock:
        started = time.monotonic()
        received = []
        frame = None
        try:
            async with asyncio.timeout(PING + PONG_TIMEOUT + 2):
                while True:  # read, never answer
                    received.append(json.loads(await sock.ws.recv()))
        except ConnectionClosed as exc:
            frame = exc.rcvd
        waited = time.monotonic() - started
    assert frame is not None
    assert (frame.code, frame.reason) == (4499, "Heartbeat timeout")
    assert received == [{"type": "ping"}]
    assert PING + PONG_TIMEOUT - 0.1 <= waited <= PING + PONG_TIMEOUT + 1.5
    office.server.assert_no_errors()


async def test_any_message_counts_as_an_answer_to_a_ping(office: Office) -> None:
    async with _authenticated(office.server, await office.login("clerk")) as sock:
        deadline = time.monotonic() + 3 * (PING + PONG_TIMEOUT)
        pings = 0
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                message = json.loads(await asyncio.wait_for(sock.ws.recv(), 0.3))
                assert message == {"type": "ping"}
                pings += 1
                await sock.send({"type": "ping"})  # a client ping instead of a pong
                assert json.loads(await asyncio.wait_for(sock.ws.recv(), WS_TIMEOUT)) == {"type": "pong"}
    assert pings >= 3
    office.server.assert_no_errors()


async def test_a_socket_that_never_sends_connection_init_is_closed_with_4408(office: Office) -> None:
    async with open_socket(office.server) as sock:
        started = time.monotonic()
        code, reason, messages, pings = await _closed(sock, within=INIT_TIMEOUT + 2)
        waited = time.monotonic() - started
    assert (code, reason, messages, pings) == (4408, "Connection initialisation timeout", [], 0)
    assert INIT_TIMEOUT - 0.1 <= waited <= INIT_TIMEOUT + 1.0
    office.server.assert_no_errors()


# ---- per-user cap --------------------------------------------------------------------------


async def test_a_connection_over_the_cap_closes_the_users_oldest_with_4429(office: Office) -> None:
    deputy, clerk = await office.login("deputy"), await office.login("clerk")
    async with (
        _authenticated(office.server, deputy) as first,
        _authenticated(office.server, clerk) as other_user,
        _authenticated(office.server, deputy) as second,
    ):
        await _stays_open(first, 0.3)  # at the cap (2): nobody is closed
        async with _authenticated(office.server, deputy) as third:
            code, reason, messages, _ = await _closed(first, within=AT_ONCE)
            assert (code, reason, messages) == (4429, "Too many connections", [])
            await asyncio.gather(_stays_open(second, 0.5), _stays_open(third, 0.5), _stays_open(other_user, 0.5))
            await third.subscribe("1", after=await office.last_sequence(deputy))
            await third.assert_silent(0.2)  # the newest connection works
    office.server.assert_no_errors()


# ---- the legacy protocol (enabled on this server) -----------------------------------------

SUBSCRIPTION = "subscription($after: Int!) { notifications(after: $after) { sequence kind } }"


async def test_graphql_transport_ws_is_preferred_when_both_are_offered(office: Office) -> None:
    async with open_socket(office.server, subprotocols=["graphql-ws", GRAPHQL_TRANSPORT_WS]) as sock:
        assert sock.ws.subprotocol == GRAPHQL_TRANSPORT_WS
        await sock.authenticate(await office.login("clerk"))


async def test_the_legacy_protocol_authenticates_streams_and_closes_at_expiry(office: Office) -> None:
    clerk = await office.login("clerk")
    deputy = await office.login("deputy")
    deputy_id = await office.user_id(deputy)
    base = await office.last_sequence(clerk)
    token = _token(office.server, token_subject(clerk), expires_in=4)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    async with open_socket(office.server, subprotocols=["graphql-ws"]) as sock:
        assert sock.ws.subprotocol == "graphql-ws"
        await sock.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert json.loads(await sock.ws.recv()) == {"type": "connection_ack", "payload": {"userId": user_gid(clerk)}}
        await sock.send({"id": "1", "type": "start", "payload": {"query": SUBSCRIPTION, "variables": {"after": base}}})
        await office.approved_document(clerk, deputy, deputy_id, "旧协议测试")
        data = []
        while len(data) < 2:
            message = json.loads(await asyncio.wait_for(sock.ws.recv(), WS_TIMEOUT))
            if message["type"] != "ka":
                data.append(message)
        code, reason, messages, _ = await _closed(sock, within=exp - time.time() + 2)
        closed_at = time.time()
    assert data == [
        {"type": "data", "id": "1", "payload": {"data": {"notifications": {"sequence": seq, "kind": kind}}}}
        for seq, kind in ((base + 1, "TASK_APPROVED"), (base + 2, "DOCUMENT_APPROVED"))
    ]
    assert (code, reason) == (4401, "Token expired")
    assert [m for m in messages if m["type"] != "ka"] == []  # no "complete" after the close
    assert closed_at <= exp + 1.0
    office.server.assert_no_errors()


@pytest.mark.parametrize("authorization", ["Bearer not-a-jwt", "Bearer bad", None])
async def test_the_legacy_protocol_refuses_a_bad_token_with_4403(office: Office, authorization: str | None) -> None:
    async with open_socket(office.server, subprotocols=["graphql-ws"]) as sock:
        await sock.send(
            {"type": "connection_init", "payload": {"authorization": authorization} if authorization else {}}
        )
        first = json.loads(await asyncio.wait_for(sock.ws.recv(), WS_TIMEOUT))
        code, reason, messages, _ = await _closed(sock, within=WS_TIMEOUT)
    assert first == {"type": "connection_error", "payload": {"code": "UNAUTHENTICATED"}}
    assert (code, reason, messages) == (4403, "Forbidden", [])  # as graphql-transport-ws
    office.server.assert_no_errors()


async def test_the_legacy_protocol_closes_4400_on_a_bad_init_payload_and_4429_on_a_second_init(
    office: Office,
) -> None:
    async with open_socket(office.server, subprotocols=["graphql-ws"]) as sock:
        await sock.send({"type": "connection_init", "payload": "Bearer x"})
        first = json.loads(await asyncio.wait_for(sock.ws.recv(), WS_TIMEOUT))
        bad_payload = await _closed(sock, within=WS_TIMEOUT)
    clerk = await office.login("clerk")
    async with open_socket(office.server, subprotocols=["graphql-ws"]) as sock:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {clerk}"}}
        await sock.send(init)
        assert json.loads(await sock.ws.recv()) == {"type": "connection_ack", "payload": {"userId": user_gid(clerk)}}
        await sock.send(init)
        second_init = await _closed(sock, within=WS_TIMEOUT)
    assert first == {"type": "connection_error"}
    assert bad_payload[:3] == (4400, "Invalid connection init payload", [])
    assert second_init[0:2] == (4429, "Too many initialisation requests")
    assert [m for m in second_init[2] if m["type"] != "ka"] == []
    office.server.assert_no_errors()


async def test_a_legacy_socket_that_never_initialises_is_closed_with_4408(office: Office) -> None:
    async with open_socket(office.server, subprotocols=["graphql-ws"]) as sock:
        started = time.monotonic()
        code, reason, messages, _ = await _closed(sock, within=INIT_TIMEOUT + 2)
        waited = time.monotonic() - started
    assert (code, reason, messages) == (4408, "Connection initialisation timeout", [])
    assert waited <= INIT_TIMEOUT + 1.0


# ---- malformed frames: 4400 with a reason, never an unhandled exception ------------------

NOT_JSON, NOT_A_MESSAGE = "WebSocket message must be valid JSON", "Failed to parse message"
#: A frame (text, or bytes for a binary frame) -> the close both protocols answer it with.
MALFORMED: dict[str | bytes, tuple[int, str]] = {
    "garbage": (4400, NOT_JSON),
    "{": (4400, NOT_JSON),
    '{"type":"pong"': (4400, NOT_JSON),
    "[" * 100_000: (4400, NOT_JSON),  # nested beyond the decoder's recursion limit
    "[1,2]": (4400, NOT_A_MESSAGE),
    "null": (4400, NOT_A_MESSAGE),
    "123": (4400, NOT_A_MESSAGE),
    '"connection_init"': (4400, NOT_A_MESSAGE),
    "{}": (4400, NOT_A_MESSAGE),
    '{"type":7}': (4400, NOT_A_MESSAGE),
    b"\x00\x01": (4400, "WebSocket message type must be text"),
}
#: Operations whose shape is wrong: graphql-transport-ws ``subscribe``/``complete``.
MALFORMED_OPERATIONS = [
    {"type": "subscribe", "id": "1", "payload": "{ __typename }"},
    {"type": "subscribe", "id": "1"},
    {"type": "subscribe", "id": ["1"], "payload": {"query": "{ __typename }"}},
    {"type": "subscribe", "id": "1", "payload": {"query": 12}},
    {"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", "variables": [1]}},
    {"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", "operationName": {}}},
    {"type": "complete", "id": {}},
    {"type": "complete"},
]


def _legacy(message: dict[str, Any]) -> dict[str, Any]:
    """The same operation message in the legacy protocol's words."""
    return {**message, "type": {"subscribe": "start", "complete": "stop"}[message["type"]]}


async def _close_for(server: LiveServer, frame: str | bytes, *, legacy: bool, token: str | None) -> tuple[Any, ...]:
    """Open a socket (initialised with ``token`` when given), send ``frame``: the close code,
    reason and the messages (other than pings and ``ka``) that came before the close."""
    async with open_socket(server, subprotocols=["graphql-ws"] if legacy else None) as sock:
        if token is not None:
            if legacy:
                await sock.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
                assert json.loads(await sock.ws.recv())["type"] == "connection_ack"
            else:
                await sock.authenticate(token)
        await sock.ws.send(frame)
        code, reason, messages, _ = await _closed(sock, within=WS_TIMEOUT)
    return code, reason, [m for m in messages if m["type"] != "ka"]


@pytest.mark.parametrize("legacy", [False, True], ids=["graphql-transport-ws", "graphql-ws"])
@pytest.mark.parametrize("initialised", [True, False], ids=["after-ack", "before-init"])
async def test_a_malformed_frame_closes_4400_with_a_reason(office: Office, legacy: bool, initialised: bool) -> None:
    token = await office.login("clerk") if initialised else None
    operations = {json.dumps(_legacy(m) if legacy else m): (4400, NOT_A_MESSAGE) for m in MALFORMED_OPERATIONS}
    expected = {frame: (*close, []) for frame, close in {**MALFORMED, **operations}.items()}
    closes = {frame: await _close_for(office.server, frame, legacy=legacy, token=token) for frame in expected}
    assert closes == expected
    office.server.assert_no_errors()  # no traceback, no ERROR line, for any of them


async def test_a_malformed_frame_ends_a_running_subscription_without_a_complete(office: Office) -> None:
    clerk = await office.login("clerk")
    async with open_socket(office.server) as sock:
        await sock.authenticate(clerk)
        await sock.subscribe("1", after=await office.last_sequence(clerk))
        await sock.assert_silent(0.2)
        await sock.ws.send("[1,2]")
        code, reason, messages, _ = await _closed(sock, within=WS_TIMEOUT)
    assert (code, reason, messages) == (4400, NOT_A_MESSAGE, [])
    async with open_socket(office.server, subprotocols=["graphql-ws"]) as sock:
        await sock.send({"type": "connection_init", "payload": {"authorization": f"Bearer {clerk}"}})
        assert json.loads(await sock.ws.recv())["type"] == "connection_ack"
        after = {"after": await office.last_sequence(clerk)}
        await sock.send({"id": "1", "type": "start", "payload": {"query": SUBSCRIPTION, "variables": after}})
        await sock.ws.send("garbage")
        code, reason, messages, _ = await _closed(sock, within=WS_TIMEOUT)
    assert (code, reason) == (4400, NOT_JSON)
    assert [m for m in messages if m["type"] != "ka"] == []  # no "complete" after the close
    office.server.assert_no_errors()


async def test_unknown_message_types_close_4400_but_the_legacy_protocol_ignores_them(office: Office) -> None:
    clerk = await office.login("clerk")
    transport = await _close_for(office.server, '{"type":"start"}', legacy=False, token=clerk)
    assert transport == (4400, "Unknown message type: start", [])
    async with open_socket(office.server, subprotocols=["graphql-ws"]) as sock:
        await sock.send({"type": "connection_init", "payload": {"authorization": f"Bearer {clerk}"}})
        assert json.loads(await sock.ws.recv())["type"] == "connection_ack"
        await sock.send({"type": "pong"})  # strawberry's legacy handler skips types it does not know
        code, reason, messages, _ = await _closed(sock, within=0.5)
        assert (code, reason) == (None, "still open")
        assert {m["type"] for m in messages} <= {"ka"}
    office.server.assert_no_errors()


# ---- Origin -------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, None, "same origin"])
async def test_allowed_same_and_missing_origins_are_accepted(office: Office, origin: str | None) -> None:
    headers = {"origin": office.server.base_url if origin == "same origin" else origin} if origin else None
    async with _authenticated(office.server, await office.login("clerk"), headers=headers) as sock:
        await _stays_open(sock, 0.2)


@pytest.mark.parametrize("origin", ["https://evil.example.com", "http://oa.example.gov.cn", "null"])
async def test_a_disallowed_origin_is_refused_before_the_upgrade(office: Office, origin: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            office.server.ws_url,
            subprotocols=[GRAPHQL_TRANSPORT_WS],  # type: ignore[list-item]
            additional_headers={"origin": origin},
            proxy=None,
            open_timeout=WS_TIMEOUT,
        ):
            pass
    assert refused.value.response.status_code == 403
    assert "Rejected WebSocket connection from origin" in office.server.log()
    office.server.assert_no_errors()

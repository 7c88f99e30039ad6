"""The notifications subscription over a real websocket (graphql-transport-ws) on a live server.

The tests share one server per backend, so each starts from the users' current last
sequence number instead of assuming a fresh database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid

import jwt
import pytest

from office_api.config import Settings
from tests.e2e.live import (
    GRAPHQL_TRANSPORT_WS,
    WS_TIMEOUT,
    LiveServer,
    Office,
    open_socket,
    subscribed,
    token_subject,
)

pytestmark = pytest.mark.e2e


#: The live server's safety sweep interval (messaging.hub): the longest a lost wake-up delays delivery.
SWEEP_SECONDS = Settings.model_fields["notify_sweep_seconds"].default


def test_live_waits_are_shorter_than_the_safety_sweep() -> None:
    # Otherwise a lost wake-up would go unnoticed: the sweep would deliver anyway.
    assert WS_TIMEOUT < SWEEP_SECONDS


async def _people(office: Office) -> tuple[str, str, str]:
    clerk, deputy = await office.login("clerk"), await office.login("deputy")
    return clerk, deputy, await office.user_id(deputy)


async def test_resume_replays_what_was_missed_then_streams_live_without_gap_or_duplicate(office: Office) -> None:
    clerk, deputy, deputy_id = await _people(office)
    server = office.server
    base = await office.last_sequence(clerk)

    async def documents(count: int) -> None:
        # Concurrently: the clerk's sequence numbers are allocated by competing transactions.
        await asyncio.gather(
            *(office.approved_document(clerk, deputy, deputy_id, f"续传测试 {i}") for i in range(count))
        )

    # Online: the first document's two notifications arrive live.
    async with subscribed(server, clerk, after=base) as sock:
        await sock.assert_silent(0.2)
        await documents(1)
        online = await sock.take(2)
    assert [(n["sequence"], n["kind"]) for n in online] == [
        (base + 1, "TASK_APPROVED"),
        (base + 2, "DOCUMENT_APPROVED"),
    ]
    seen = base + 2

    # Offline: three documents, six notifications missed.
    await documents(3)
    missed = [n["id"] for n in await office.notifications_after(clerk, seen)]
    assert len(missed) == 6

    # Back online after #seen: the six are replayed, and while that happens three more
    # documents are approved; their six notifications follow live.
    async with subscribed(server, clerk, after=seen) as sock:
        producer = asyncio.create_task(documents(3))
        try:
            resumed = await sock.take(12)
        finally:
            await asyncio.wait_for(producer, 30)
        await sock.assert_silent()
    assert [n["id"] for n in resumed[:6]] == missed  # the replay comes first
    assert [n["sequence"] for n in resumed] == list(range(seen + 1, seen + 13))
    assert [n["kind"] for n in resumed] == ["TASK_APPROVED", "DOCUMENT_APPROVED"] * 6
    assert len({n["id"] for n in resumed}) == 12
    stored = await office.notifications_after(clerk, base)
    assert [n["id"] for n in stored] == [n["id"] for n in online + resumed]

    # Resuming from the very end replays nothing and waits for news.
    async with subscribed(server, clerk, after=seen + 12) as sock:
        await sock.assert_silent()
    office.server.assert_no_errors()


async def test_resume_from_zero_replays_everything_in_order(office: Office) -> None:
    clerk, deputy, deputy_id = await _people(office)
    await office.approved_document(clerk, deputy, deputy_id, "全量回放测试")
    last = await office.last_sequence(clerk)
    async with subscribed(office.server, clerk, after=0) as sock:
        replayed = await sock.take(last)
        await sock.assert_silent()
    assert [n["sequence"] for n in replayed] == list(range(1, last + 1))


async def test_each_subscriber_gets_only_their_own_notifications(office: Office) -> None:
    clerk, deputy, deputy_id = await _people(office)
    drc = await office.login("drc_head")
    server = office.server
    bases = [await office.last_sequence(t) for t in (clerk, deputy, drc)]
    async with (
        subscribed(server, clerk, after=bases[0]) as clerk_sock,
        subscribed(server, deputy, after=bases[1]) as deputy_sock,
        subscribed(server, drc, after=bases[2]) as drc_sock,
    ):
        docs = [await office.approved_document(clerk, deputy, deputy_id, f"隔离测试 {i}") for i in range(2)]
        clerk_got = await clerk_sock.take(4)
        deputy_got = await deputy_sock.take(2)
        await asyncio.gather(clerk_sock.assert_silent(), deputy_sock.assert_silent(), drc_sock.assert_silent())

    assert [(n["kind"], n["subjectId"]) for n in clerk_got] == [
        ("TASK_APPROVED", docs[0]),
        ("DOCUMENT_APPROVED", docs[0]),
        ("TASK_APPROVED", docs[1]),
        ("DOCUMENT_APPROVED", docs[1]),
    ]
    assert [(n["kind"], n["subjectId"]) for n in deputy_got] == [("TASK_ASSIGNED", docs[0]), ("TASK_ASSIGNED", docs[1])]
    assert [n["sequence"] for n in deputy_got] == [bases[1] + 1, bases[1] + 2]
    # The deputy's stream is exactly the deputy's stored notifications, none of the clerk's.
    assert [n["id"] for n in deputy_got] == [n["id"] for n in await office.notifications_after(deputy, bases[1])]
    assert [n["id"] for n in clerk_got] == [n["id"] for n in await office.notifications_after(clerk, bases[0])]
    assert not {n["id"] for n in deputy_got} & {n["id"] for n in clerk_got}
    assert await office.notifications_after(drc, bases[2]) == []


def _token(server: LiveServer, *, sub: str, secret: str | None = None, expires_in: int = 600) -> str:
    now = dt.datetime.now(dt.UTC)
    issued = now - dt.timedelta(seconds=1200) if expires_in < 0 else now
    claims = {
        "sub": sub,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((now + dt.timedelta(seconds=expires_in)).timestamp()),
        "iss": "office-api",
        "aud": "office-api",
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret or server.jwt_secret(), algorithm="HS256")


async def test_a_token_signed_like_the_server_does_is_accepted(office: Office) -> None:
    # The control for the refusals below: a forged-but-valid token gets an ack (whose
    # payload names the user by global id, see Socket.authenticate).
    clerk_id = token_subject(await office.login("clerk"))
    async with open_socket(office.server) as sock:
        await sock.authenticate(_token(office.server, sub=clerk_id))


async def test_the_socket_is_closed_when_the_token_expires(office: Office) -> None:
    clerk, deputy, deputy_id = await _people(office)
    base = await office.last_sequence(clerk)
    now = int(time.time())
    short = _token(office.server, sub=token_subject(clerk), expires_in=4)
    assert jwt.decode(short, office.server.jwt_secret(), algorithms=["HS256"], audience="office-api")["exp"] <= now + 4
    async with subscribed(office.server, short, after=base) as sock:
        doc = await office.approved_document(clerk, deputy, deputy_id, "令牌到期测试")
        live = await sock.take(2)  # still valid: delivered live
        code, reason, messages = await sock.closed(within=10)  # about 4 s after issue: the token expires
    assert [(n["kind"], n["subjectId"]) for n in live] == [("TASK_APPROVED", doc), ("DOCUMENT_APPROVED", doc)]
    assert (code, reason, messages) == (4401, "Token expired", [])
    office.server.assert_no_errors()


async def _fresh_user(office: Office, admin: str) -> tuple[str, str]:
    """A new account that has changed its first password: (its id, an access token).
    Its password is ``Own@2026-pass``."""
    username = f"e2e_{uuid.uuid4().hex[:8]}"
    created = await office.call(
        admin,
        """mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } errors { code field } } }""",
        input={"username": username, "displayName": "临时用户", "password": "Temp@2026-pass"},
    )
    assert created["createUser"]["errors"] == [], created
    user_id = created["createUser"]["user"]["id"]
    first = (
        await office.call(
            None,
            'mutation($u:String!){login(input:{username:$u,password:"Temp@2026-pass"}){accessToken errors{code}}}',
            u=username,
        )
    )["login"]["accessToken"]
    token = (
        await office.call(
            first,
            'mutation{changePassword(input:{oldPassword:"Temp@2026-pass",newPassword:"Own@2026-pass"})'
            "{accessToken errors{code}}}",
        )
    )["changePassword"]["accessToken"]
    return user_id, token


async def test_the_socket_is_closed_when_the_account_is_disabled(office: Office) -> None:
    admin = await office.login("admin")
    user_id, token = await _fresh_user(office, admin)
    async with subscribed(office.server, token, after=0) as sock:
        await sock.assert_silent(0.2)
        disabled = await office.call(
            admin,
            "mutation($id: ID!) { disableUser(input: {userId: $id}) { user { isActive } errors { code } } }",
            id=user_id,
        )
        assert disabled["disableUser"] == {"user": {"isActive": False}, "errors": []}
        started = time.monotonic()
        code, reason, messages = await sock.closed()  # woken by the disable, not by the safety sweep
        waited = time.monotonic() - started
    assert (code, reason, messages) == (4403, "User disabled", [])
    assert waited < SWEEP_SECONDS / 3
    office.server.assert_no_errors()


async def test_logout_closes_that_sessions_socket_at_once_and_no_other(office: Office) -> None:
    leaving, staying = await office._login("deputy"), await office._login("deputy")  # two fresh sessions
    base = await office.last_sequence(leaving)
    async with (
        subscribed(office.server, leaving, after=base) as gone,
        subscribed(office.server, staying, after=base) as kept,
    ):
        await gone.assert_silent(0.2)
        out = await office.call(leaving, "mutation { logout { ok errors { code } } }")
        assert out["logout"] == {"ok": True, "errors": []}
        started = time.monotonic()
        code, reason, messages = await gone.closed()  # woken by the logout, not by the safety sweep
        waited = time.monotonic() - started
        await kept.assert_silent(0.5)  # the other session of the same user stays subscribed
    assert (code, reason, messages) == (4401, "Session ended", [])
    assert waited < SWEEP_SECONDS / 3
    office.server.assert_no_errors()


async def test_a_password_change_closes_the_other_sessions_sockets_at_once(office: Office) -> None:
    _, token = await _fresh_user(office, await office.login("admin"))
    async with subscribed(office.server, token, after=0) as sock:
        await sock.assert_silent(0.2)
        changed = await office.call(
            token,
            'mutation{changePassword(input:{oldPassword:"Own@2026-pass",newPassword:"Newer@2026-pass"})'
            "{accessToken errors{code}}}",
        )
        assert changed["changePassword"]["errors"] == []
        started = time.monotonic()
        code, reason, messages = await sock.closed()
        waited = time.monotonic() - started
    assert (code, reason, messages) == (4401, "Session ended", [])
    assert waited < SWEEP_SECONDS / 3
    office.server.assert_no_errors()


@pytest.mark.parametrize(
    "case",
    [
        "no payload",
        "empty payload",
        "not a jwt",
        "no bearer scheme",
        "other scheme",
        "wrong secret",
        "expired",
        "unknown user",
        "token only in the handshake header",
    ],
)
async def test_connection_init_without_a_valid_token_is_closed_with_4403(office: Office, case: str) -> None:
    server = office.server
    clerk = await office.login("clerk")
    clerk_id = token_subject(clerk)
    payloads: dict[str, dict | None] = {
        "no payload": None,
        "empty payload": {},
        "not a jwt": {"authorization": "Bearer not-a-jwt"},
        "no bearer scheme": {"authorization": clerk},
        "other scheme": {"authorization": f"Basic {clerk}"},
        "wrong secret": {"authorization": f"Bearer {_token(server, sub=clerk_id, secret='x' * 48)}"},
        "expired": {"authorization": f"Bearer {_token(server, sub=clerk_id, expires_in=-60)}"},
        "unknown user": {"authorization": f"Bearer {_token(server, sub='999999')}"},
        "token only in the handshake header": {},
    }
    headers = {"authorization": f"Bearer {clerk}"} if case == "token only in the handshake header" else None
    async with open_socket(server, headers=headers) as sock:
        await sock.init(payloads[case])
        code, reason, messages = await sock.closed()
    assert (code, reason, messages) == (4403, "Forbidden", [])


async def test_subscribing_without_connection_init_is_closed_with_4401(office: Office) -> None:
    async with open_socket(office.server) as sock:
        await sock.subscribe("1", after=0)
        code, reason, messages = await sock.closed()
    assert (code, reason, messages) == (4401, "Unauthorized", [])


@pytest.mark.parametrize("offered", [["graphql-ws"], []])
async def test_only_graphql_transport_ws_is_spoken(office: Office, offered: list[str]) -> None:
    async with open_socket(office.server, subprotocols=offered) as sock:
        assert sock.ws.subprotocol is None
        code, reason, messages = await sock.closed()
    assert (code, reason, messages) == (4406, "Subprotocol not acceptable", [])


async def test_a_client_offering_both_protocols_gets_graphql_transport_ws(office: Office) -> None:
    # gql's default offer: the legacy protocol first, then graphql-transport-ws.
    clerk = await office.login("clerk")
    async with open_socket(office.server, subprotocols=["graphql-ws", GRAPHQL_TRANSPORT_WS]) as sock:
        assert sock.ws.subprotocol == GRAPHQL_TRANSPORT_WS
        await sock.authenticate(clerk)


async def test_an_admin_password_reset_closes_the_users_sockets_at_once(office: Office) -> None:
    admin = await office.login("admin")
    user_id, token = await _fresh_user(office, admin)
    async with subscribed(office.server, token, after=0) as sock:
        await sock.assert_silent(0.2)
        reset = await office.call(
            admin,
            'mutation($id: ID!){resetPassword(input:{userId:$id,temporaryPassword:"Reset@2026-pass"}){errors{code}}}',
            id=user_id,
        )
        assert reset["resetPassword"]["errors"] == []
        started = time.monotonic()
        code, reason, messages = await sock.closed()
        waited = time.monotonic() - started
    assert (code, reason, messages) == (4401, "Session ended", [])
    assert waited < SWEEP_SECONDS / 3
    office.server.assert_no_errors()

"""Signed webhooks for departmental systems: registration, routing to the client's subtree,
signing, retries with backoff, dead letters and replay, against a real HTTP receiver
(uvicorn serving a small app on a free port, in the test's event loop).

Demo units: 370102 (历下区, li_na and zhou_wei hold posts there) under 370100 (济南市,
clerk_370100); 370103 is 370102's sibling.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry import relay

from messaging.models import Notification
from messaging.outbox import Message, notify
from messaging.wire import global_id
from office_api import audit
from office_api.org.models import AuditEntry, OrgUnit, Role, User
from office_api.webhooks import security
from office_api.webhooks.delivery import Sender, backoff, retry_after
from office_api.webhooks.models import Webhook, WebhookDelivery
from tests.api.test_accounts import make_user
from tests.api.test_clients import REGISTER, as_user, audit_rows, refusal
from tests.api.test_org import unit_gid
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import pk_of
from tests.e2e.live import free_port

T0 = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)

CREATE = """mutation($input: CreateWebhookInput!) { createWebhook(input: $input) {
  webhook { id apiClientId url kinds description enabled version secretRotatedAt }
  secret errors { field code message } } }"""
UPDATE = """mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) {
  webhook { url kinds enabled version } errors { field code } } }"""
ROTATE = """mutation($id: ID!) { rotateWebhookSecret(input: {id: $id}) {
  webhook { version secretRotatedAt } secret errors { field code } } }"""
DELETE = """mutation($id: ID!) { deleteWebhook(input: {id: $id}) { deletedId errors { field code } } }"""
LIST = """query($c: ID!) { webhooks(clientId: $c) { edges { node { url kinds enabled } } } }"""
DEAD_LETTERS = """query($c: ID!) { webhookDeadLetters(clientId: $c) { edges { node {
  id deliveryId status attempts lastStatus lastError notificationCount deadAt nextAttemptAt } } } }"""
REPLAY = """mutation($ids: [ID!]!) { replayWebhookDeliveries(input: {ids: $ids}) {
  deliveries { status attempts nextAttemptAt } errors { field code } } }"""


# ---- a real receiver ---------------------------------------------------------------------------


@dataclass
class Receiver:
    """An HTTP endpoint that answers with the scripted statuses (then 200) and keeps what it got."""

    url: str = ""
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        self.got.append(({k.lower(): v for k, v in request.headers.items()}, body))
        if self.delay:
            await asyncio.sleep(self.delay)
        status, headers = self.script.pop(0) if self.script else (200, {})
        return Response("ok", status_code=status, headers=headers)

    def answer(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        self.script = [s if isinstance(s, tuple) else (s, {}) for s in statuses]

    def bodies(self) -> list[Any]:
        return [json.loads(b) for _, b in self.got]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    port = free_port()
    app = Starlette(routes=[Route("/hook", rec.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    rec.url = f"http://127.0.0.1:{port}/hook"
    yield rec
    server.should_exit = True
    await task


# ---- helpers -----------------------------------------------------------------------------------


async def setup(
    client: GraphQLClient,
    platform: Any,
    receiver: Receiver,
    *,
    code: str = "370102",
    scopes: tuple[str, ...] = ("EVENTS_RECEIVE",),
    kinds: list[str] | None = None,
) -> dict[str, Any]:
    """Admin registers a client of ``code`` and a webhook to ``receiver``; returns ids and the secret."""
    platform.settings.webhook_allow_private = True
    platform.settings.webhook_retry_jitter = 0.0
    platform.clock = lambda: T0
    admin = await as_user(client, platform, "admin")
    reg = await admin.execute(REGISTER, {"n": "历下区政务服务平台", "u": await unit_gid(platform, code), "s": scopes})
    api_client = reg["data"]["registerApiClient"]["apiClient"]
    data = await admin.execute(CREATE, {"input": {"clientId": api_client["id"], "url": receiver.url, "kinds": kinds}})
    payload = data["data"]["createWebhook"]
    assert payload["errors"] == [], payload
    return {"admin": admin, "client": api_client["id"], "webhook": payload["webhook"], "secret": payload["secret"]}


async def user_id(platform: Any, username: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(User.id).where(User.username == username))).scalar_one()


async def unit_id(platform: Any, code: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(OrgUnit.id).where(OrgUnit.code == code))).scalar_one()


async def send(platform: Any, *messages: Message, now: dt.datetime = T0) -> None:
    async with platform.db.unit_of_work() as uow:
        uow.now = now
        await notify(uow, platform.broker, list(messages))


async def msg(platform: Any, username: str, kind: str = "TASK_ASSIGNED", unit: str | None = None, **kw: Any) -> Message:
    return Message(
        user_id=await user_id(platform, username),
        kind=kind,
        title=f"{kind} {username}",
        unit_id=await unit_id(platform, unit) if unit else None,
        **kw,
    )


async def deliveries(platform: Any) -> list[WebhookDelivery]:
    async with platform.db.read() as s:
        return list((await s.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))).scalars())


def sender(platform: Any) -> Sender:
    return platform.webhooks


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# ---- delivery ----------------------------------------------------------------------------------


async def test_a_transaction_is_one_signed_post_with_the_notifications_as_the_api_shows_them(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    s = await setup(client, platform, receiver)
    li_na = await user_id(platform, "li_na")
    await send(
        platform,
        await msg(platform, "li_na", subject_type="Document", subject_id=7, payload={"taskId": 3, "mobile": "138"}),
        await msg(platform, "zhou_wei", "MEETING_INVITED", unit="370102", priority="extra_urgent"),
    )
    assert await sender(platform).run_due(T0) == 1
    assert len(receiver.got) == 1
    headers, body = receiver.got[0]
    async with platform.db.read() as db:
        rows = list((await db.execute(select(Notification).order_by(Notification.id))).scalars())
    (row_li, row_zhou) = rows[-2:]
    (d,) = await deliveries(platform)
    assert headers["content-type"] == "application/json"
    assert headers["x-office-webhook-id"] == s["webhook"]["id"]
    assert headers["x-office-delivery-id"] == d.uid
    assert headers["x-office-signature"] == security.signature(s["secret"], int(T0.timestamp()), body)
    assert security.verify(s["secret"], headers["x-office-signature"], body, int(T0.timestamp()))
    assert not security.verify(s["secret"], headers["x-office-signature"], body, int(T0.timestamp()) + 301)
    assert not security.verify("whsec_other", headers["x-office-signature"], body, int(T0.timestamp()))
    assert json.loads(body) == [
        {
            "id": str(relay.GlobalID("Notification", str(row_li.id))),
            "sequence": row_li.seq,
            "kind": "TASK_ASSIGNED",
            "priority": "NORMAL",
            "title": "TASK_ASSIGNED li_na",
            "body": "",
            "subjectType": "Document",
            "subjectId": str(relay.GlobalID("Document", "7")),
            "data": {"taskId": str(relay.GlobalID("Task", "3"))},
            "createdAt": row_li.created_at.isoformat(),
            "recipientId": str(relay.GlobalID("User", str(li_na))),
            "unitId": None,
        },
        {
            "id": global_id("Notification", row_zhou.id),
            "sequence": row_zhou.seq,
            "kind": "MEETING_INVITED",
            "priority": "EXTRA_URGENT",
            "title": "MEETING_INVITED zhou_wei",
            "body": "",
            "subjectType": None,
            "subjectId": None,
            "data": {},
            "createdAt": row_zhou.created_at.isoformat(),
            "recipientId": global_id("User", row_zhou.user_id),
            "unitId": str(relay.GlobalID("OrgUnit", str(await unit_id(platform, "370102")))),
        },
    ]
    assert (d.status, d.attempts, d.last_status, d.delivered_at) == ("delivered", 1, 200, T0)
    assert await sender(platform).run_due(at(3600)) == 0
    assert len(receiver.got) == 1


async def test_notify_calls_of_one_transaction_share_posts_of_at_most_100(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    await setup(client, platform, receiver)
    first = [await msg(platform, "li_na") for _ in range(60)]
    second = [await msg(platform, "zhou_wei") for _ in range(41)]
    async with platform.db.unit_of_work() as uow:
        uow.now = T0
        await notify(uow, platform.broker, first)
        await notify(uow, platform.broker, second)
    assert [len(d.payload) for d in await deliveries(platform)] == [100, 1]
    assert await sender(platform).run_due(T0) == 2
    order = [d.uid for d in await deliveries(platform)]  # the two POSTs go out concurrently
    bodies = [json.loads(b) for h, b in sorted(receiver.got, key=lambda g: order.index(g[0]["x-office-delivery-id"]))]
    sent = [n["sequence"] for body in bodies for n in body]
    li_na, zhou_wei = await user_id(platform, "li_na"), await user_id(platform, "zhou_wei")
    recipients = [n["recipientId"] for body in bodies for n in body]
    assert recipients == [global_id("User", li_na)] * 60 + [global_id("User", zhou_wei)] * 41
    assert sent == list(range(sent[0], sent[0] + 60)) + list(range(sent[60], sent[60] + 41))


async def test_failures_are_retried_with_exponential_backoff_then_delivered(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    s = await setup(client, platform, receiver)
    receiver.answer(500, 503, 200)
    await send(platform, await msg(platform, "li_na"))
    assert await sender(platform).run_due(T0) == 1
    (d,) = await deliveries(platform)
    assert (d.status, d.attempts, d.last_status, d.last_error, d.next_attempt_at) == (
        "pending",
        1,
        500,
        "HTTP 500",
        at(60),
    )
    assert await sender(platform).run_due(at(59)) == 0
    assert await sender(platform).run_due(at(60)) == 1
    (d,) = await deliveries(platform)
    assert (d.attempts, d.last_status, d.next_attempt_at) == (2, 503, at(60 + 120))
    assert await sender(platform).run_due(at(179)) == 0
    assert await sender(platform).run_due(at(180)) == 1
    (d,) = await deliveries(platform)
    assert (d.status, d.attempts, d.last_status, d.last_error, d.delivered_at) == ("delivered", 3, 200, None, at(180))
    # Three POSTs of the same delivery, each signed at its own instant with the secret.
    assert [h["x-office-delivery-id"] for h, _ in receiver.got] == [d.uid] * 3
    assert [h["x-office-signature"].split(",")[0] for h, _ in receiver.got] == [
        f"t={int(x.timestamp())}" for x in (T0, at(60), at(180))
    ]
    for headers, body in receiver.got:
        assert security.verify(
            s["secret"], headers["x-office-signature"], body, int(headers["x-office-signature"][2:12])
        )


async def test_retry_after_is_honoured_up_to_its_cap_and_a_timeout_is_retried(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    await setup(client, platform, receiver)
    platform.settings.webhook_retry_after_max_seconds = 900
    receiver.answer((429, {"Retry-After": "600"}), (503, {"Retry-After": "86400"}), (408, {"Retry-After": "5"}))
    await send(platform, await msg(platform, "li_na"))
    await sender(platform).run_due(T0)
    assert [(d.attempts, d.next_attempt_at) for d in await deliveries(platform)] == [(1, at(600))]
    await sender(platform).run_due(at(600))
    assert [(d.attempts, d.next_attempt_at) for d in await deliveries(platform)] == [(2, at(600 + 900))]
    await sender(platform).run_due(at(1500))  # Retry-After 5 s is shorter than the backoff (240 s)
    assert [(d.attempts, d.last_status, d.next_attempt_at) for d in await deliveries(platform)] == [
        (3, 408, at(1500 + 240))
    ]
    platform.settings.webhook_timeout_seconds = 0.3
    receiver.delay = 1.0
    await sender(platform).run_due(at(1740))
    assert [(d.status, d.attempts, d.last_status, d.last_error) for d in await deliveries(platform)] == [
        ("pending", 4, None, "timeout")
    ]


async def test_dead_letter_after_the_last_attempt_then_replayed(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    s = await setup(client, platform, receiver)
    platform.settings.webhook_max_attempts = 3
    receiver.answer(500, 502, 504)
    await send(platform, await msg(platform, "li_na"))
    for t in (0, 60, 180):
        assert await sender(platform).run_due(at(t)) == 1
    (d,) = await deliveries(platform)
    assert (d.status, d.attempts, d.dead_at) == ("dead", 3, at(180))
    assert await sender(platform).run_due(at(100000)) == 0
    letters = (await s["admin"].execute(DEAD_LETTERS, {"c": s["client"]}))["data"]["webhookDeadLetters"]["edges"]
    assert letters == [
        {
            "node": {
                "id": global_id("WebhookDelivery", d.id),
                "deliveryId": d.uid,
                "status": "DEAD",
                "attempts": 3,
                "lastStatus": 504,
                "lastError": "HTTP 504; gave up after 3 attempts",
                "notificationCount": 1,
                "deadAt": at(180).isoformat(),
                "nextAttemptAt": None,
            }
        }
    ]
    platform.clock = lambda: at(7200)
    data = await s["admin"].execute(REPLAY, {"ids": [letters[0]["node"]["id"]]})
    assert data["data"]["replayWebhookDeliveries"] == {
        "deliveries": [{"status": "PENDING", "attempts": 0, "nextAttemptAt": at(7200).isoformat()}],
        "errors": [],
    }
    assert [r.target_id for r in await audit_rows(platform, audit.Action.WEBHOOK_REPLAY)] == [str(d.id)]
    assert await sender(platform).run_due(at(7200)) == 1
    (d,) = await deliveries(platform)
    assert (d.status, d.attempts, d.delivered_at) == ("delivered", 1, at(7200))
    assert len(receiver.got) == 4
    # A delivered one cannot be replayed; nothing changes.
    again = await s["admin"].execute(REPLAY, {"ids": [letters[0]["node"]["id"]]})
    assert again["data"]["replayWebhookDeliveries"] == {
        "deliveries": [],
        "errors": [{"field": "ids.0", "code": "INVALID_STATE"}],
    }


@pytest.mark.parametrize("status", [400, 410, 301])
async def test_other_answers_are_dead_letters_at_once(
    client: GraphQLClient, platform: Any, receiver: Receiver, status: int
) -> None:
    await setup(client, platform, receiver)
    receiver.answer(status)
    await send(platform, await msg(platform, "li_na"))
    assert await sender(platform).run_due(T0) == 1
    (d,) = await deliveries(platform)
    assert (d.status, d.attempts, d.last_status, d.last_error) == ("dead", 1, status, f"HTTP {status}: not retried")


async def test_a_rolled_back_change_sends_nothing(client: GraphQLClient, platform: Any, receiver: Receiver) -> None:
    await setup(client, platform, receiver)
    message = await msg(platform, "li_na")

    async def failing_change() -> None:
        async with platform.db.unit_of_work() as uow:
            await notify(uow, platform.broker, [message])
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert await deliveries(platform) == []
    assert await sender(platform).run_due(T0) == 0
    assert receiver.got == []


async def test_only_the_subtree_and_the_chosen_kinds_go_out(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    s = await setup(client, platform, receiver)
    # A second endpoint of the same client for meeting invitations only.
    data = await s["admin"].execute(
        CREATE, {"input": {"clientId": s["client"], "url": receiver.url + "?m", "kinds": ["MEETING_INVITED"]}}
    )
    assert data["data"]["createWebhook"]["webhook"]["kinds"] == ["MEETING_INVITED"]
    await send(
        platform,
        await msg(platform, "li_na"),  # personal, post inside
        await msg(platform, "clerk_370100"),  # personal, posts outside only
        await msg(platform, "clerk_370100", "MEETING_INVITED", unit="370102"),  # for a unit inside
        await msg(platform, "li_na", "MEETING_INVITED", unit="370100"),  # for a unit outside, recipient inside
        await msg(platform, "clerk", "TASK_ASSIGNED"),  # the general office
    )
    assert await sender(platform).run_due(T0) == 2
    by_url = {h["x-office-webhook-id"]: json.loads(b) for h, b in receiver.got}
    all_kinds = by_url[s["webhook"]["id"]]
    # In the order written (notify writes its rows by recipient id).
    assert sorted((n["title"], n["unitId"] is not None) for n in all_kinds) == [
        ("MEETING_INVITED clerk_370100", True),
        ("TASK_ASSIGNED li_na", False),
    ]
    assert [n["id"] for n in all_kinds] == sorted((n["id"] for n in all_kinds), key=lambda g: int(pk_of(g)))
    (meetings,) = [v for k, v in by_url.items() if k != s["webhook"]["id"]]
    assert [n["title"] for n in meetings] == ["MEETING_INVITED clerk_370100"]


async def test_a_disabled_endpoint_or_a_client_losing_its_scope_gets_nothing(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    s = await setup(client, platform, receiver)
    await send(platform, await msg(platform, "li_na"))  # queued while enabled
    data = await s["admin"].execute(UPDATE, {"input": {"id": s["webhook"]["id"], "version": 1, "enabled": False}})
    assert data["data"]["updateWebhook"] == {
        "webhook": {"url": receiver.url, "kinds": [], "enabled": False, "version": 2},
        "errors": [],
    }
    stale = await s["admin"].execute(UPDATE, {"input": {"id": s["webhook"]["id"], "version": 1, "enabled": True}})
    assert stale["data"]["updateWebhook"]["errors"] == [{"field": "version", "code": "STALE_VERSION"}]
    await send(platform, await msg(platform, "li_na"))  # not queued
    assert await sender(platform).run_due(T0) == 1
    assert [(d.status, d.last_error) for d in await deliveries(platform)] == [("dead", "the webhook is disabled")]
    assert receiver.got == []


# ---- secrets -----------------------------------------------------------------------------------


async def test_rotation_signs_with_the_new_secret_only(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    s = await setup(client, platform, receiver)
    receiver.answer(500)
    await send(platform, await msg(platform, "li_na"))
    await sender(platform).run_due(T0)
    data = await s["admin"].execute(ROTATE, {"id": s["webhook"]["id"]})
    rotated = data["data"]["rotateWebhookSecret"]
    assert rotated["errors"] == []
    assert rotated["webhook"] == {"version": 2, "secretRotatedAt": T0.isoformat()}
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert len(new) == 49
    assert new != s["secret"]
    await sender(platform).run_due(at(60))  # the retry of the older delivery
    headers, body = receiver.got[-1]
    now = int(at(60).timestamp())
    assert security.verify(new, headers["x-office-signature"], body, now)
    assert not security.verify(s["secret"], headers["x-office-signature"], body, now)
    # Stored encrypted (it decrypts to the new secret), and never written to the audit log.
    async with platform.db.read() as db:
        stored = (await db.execute(select(Webhook.secret))).scalar_one()
    assert new not in stored
    assert security.decrypt_secret(platform.settings, stored) == new
    (row,) = await audit_rows(platform, audit.Action.WEBHOOK_ROTATE)
    assert new not in json.dumps(row.after)
    assert sorted(row.after) == ["clientId", "description", "enabled", "kinds", "url", "version"]


# ---- validation and permissions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hook", "only http and https URLs are allowed"),
        ("http://example.com/hook", "plain http is refused: use https"),
        ("https://127.0.0.1/hook", "the host 127.0.0.1 resolves to a non-public address (127.0.0.1)"),
        ("https://10.1.2.3/hook", "the host 10.1.2.3 resolves to a non-public address (10.1.2.3)"),
        (
            "https://169.254.169.254/latest",
            "the host 169.254.169.254 resolves to a non-public address (169.254.169.254)",
        ),
        ("https://[::1]:8443/hook", "the host ::1 resolves to a non-public address (::1)"),
        (
            "https://[::ffff:192.168.0.1]/hook",
            "the host ::ffff:192.168.0.1 resolves to a non-public address (::ffff:c0a8:1)",
        ),
        (  # NAT64 of 127.0.0.1
            "https://[64:ff9b::7f00:1]/hook",
            "the host 64:ff9b::7f00:1 resolves to a non-public address (64:ff9b::7f00:1)",
        ),
        (  # 6to4 of 127.0.0.1
            "https://[2002:7f00:1::]/hook",
            "the host 2002:7f00:1:: resolves to a non-public address (2002:7f00:1::)",
        ),
        (  # NAT64 of 169.254.169.254
            "https://[64:ff9b::a9fe:a9fe]/hook",
            "the host 64:ff9b::a9fe:a9fe resolves to a non-public address (64:ff9b::a9fe:a9fe)",
        ),
        (  # 6to4 of 10.0.0.1
            "https://[2002:a00:1::1]/hook",
            "the host 2002:a00:1::1 resolves to a non-public address (2002:a00:1::1)",
        ),
        (  # local-use NAT64 prefix
            "https://[64:ff9b:1::808:808]/hook",
            "the host 64:ff9b:1::808:808 resolves to a non-public address (64:ff9b:1::808:808)",
        ),
        (  # Teredo
            "https://[2001:0:a00:1::1]/hook",
            "the host 2001:0:a00:1::1 resolves to a non-public address (2001:0:a00:1::1)",
        ),
        (  # IPv4-compatible
            "https://[::127.0.0.1]/hook",
            "the host ::127.0.0.1 resolves to a non-public address (::7f00:1)",
        ),
        (  # site-local
            "https://[fec0::1]/hook",
            "the host fec0::1 resolves to a non-public address (fec0::1)",
        ),
        (  # global multicast
            "https://[ff0e::1]/hook",
            "the host ff0e::1 resolves to a non-public address (ff0e::1)",
        ),
        ("https://user:pw@example.com/hook", "credentials in the URL are refused"),
        ("https://localhost/hook", "the host localhost resolves to a non-public address (127.0.0.1)"),
        ("https:///hook", "the URL has no host"),
        ("   ", "the URL is empty"),
    ],
)
async def test_bad_urls_are_refused(
    client: GraphQLClient, platform: Any, receiver: Receiver, url: str, reason: str
) -> None:
    s = await setup(client, platform, receiver)
    platform.settings.webhook_allow_private = False
    data = await s["admin"].execute(CREATE, {"input": {"clientId": s["client"], "url": url}})
    assert data["data"]["createWebhook"] == {
        "webhook": None,
        "secret": None,
        "errors": [{"field": "url", "code": "WEBHOOK_URL_REFUSED", "message": f"不允许使用该回调地址：{reason}"}],
    }
    edges = (await s["admin"].execute(LIST, {"c": s["client"]}))["data"]["webhooks"]["edges"]
    assert len(edges) == 1


@pytest.mark.parametrize(
    "host",
    [
        "2001:4860:4860::8888",  # a public IPv6 address
        "64:ff9b::808:808",  # NAT64 of the public 8.8.8.8
        "2002:808:808::1",  # 6to4 of the public 8.8.8.8
        "::ffff:8.8.8.8",  # IPv4-mapped public address
    ],
)
async def test_public_ipv6_urls_are_accepted(
    client: GraphQLClient, platform: Any, receiver: Receiver, host: str
) -> None:
    s = await setup(client, platform, receiver)
    platform.settings.webhook_allow_private = False
    url = f"https://[{host}]/hook"
    data = await s["admin"].execute(CREATE, {"input": {"clientId": s["client"], "url": url}})
    payload = data["data"]["createWebhook"]
    assert payload["errors"] == []
    assert payload["webhook"]["url"] == url
    edges = (await s["admin"].execute(LIST, {"c": s["client"]}))["data"]["webhooks"]["edges"]
    assert sorted(e["node"]["url"] for e in edges) == sorted([receiver.url, url])


async def test_the_target_is_checked_again_when_sending(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    await setup(client, platform, receiver)  # a loopback receiver, allowed for the test
    await send(platform, await msg(platform, "li_na"))
    platform.settings.webhook_allow_private = False
    assert await sender(platform).run_due(T0) == 1
    assert [(d.status, d.last_error) for d in await deliveries(platform)] == [
        ("dead", "target refused: plain http is refused: use https")
    ]
    assert receiver.got == []


async def test_a_client_without_events_receive_or_revoked_is_refused(
    client: GraphQLClient, platform: Any, receiver: Receiver
) -> None:
    s = await setup(client, platform, receiver)
    reg = await s["admin"].execute(
        REGISTER, {"n": "目录系统", "u": await unit_gid(platform, "370102"), "s": ["DIRECTORY_READ"]}
    )
    other = reg["data"]["registerApiClient"]["apiClient"]["id"]
    data = await s["admin"].execute(CREATE, {"input": {"clientId": other, "url": receiver.url}})
    assert data["data"]["createWebhook"]["errors"] == [
        {"field": "clientId", "code": "SCOPE_MISSING", "message": "该集成客户端没有 events:receive 权限范围"}
    ]
    await send(platform, await msg(platform, "li_na"))  # queued before the revocation
    await s["admin"].execute(
        "mutation($id: ID!) { revokeApiClient(input: {id: $id}) { errors { code } } }", {"id": s["client"]}
    )
    data = await s["admin"].execute(CREATE, {"input": {"clientId": s["client"], "url": receiver.url}})
    assert [(e["field"], e["code"]) for e in data["data"]["createWebhook"]["errors"]] == [("clientId", "INVALID_STATE")]
    # What was queued before the revocation is not sent.
    assert await sender(platform).run_due(T0) == 1
    assert [(d.status, d.attempts, d.last_error) for d in await deliveries(platform)] == [
        ("dead", 1, "the client is revoked")
    ]
    assert receiver.got == []


async def test_permissions(client: GraphQLClient, platform: Any, receiver: Receiver) -> None:
    s = await setup(client, platform, receiver)
    await make_user(platform, "lixia_admin", "370102", Role.UNIT_ADMIN)
    await make_user(platform, "shizhong_admin", "370103", Role.UNIT_ADMIN)
    own = await as_user(client, platform, "lixia_admin")
    sibling = await as_user(client, platform, "shizhong_admin")
    clerk = await as_user(client, platform, "zhou_wei")
    receiver.answer(400)
    await send(platform, await msg(platform, "li_na"))
    await sender(platform).run_due(T0)
    (d,) = await deliveries(platform)
    wid, cid, did = s["webhook"]["id"], s["client"], global_id("WebhookDelivery", d.id)
    attempts = [
        (CREATE, {"input": {"clientId": cid, "url": receiver.url}}),
        (UPDATE, {"input": {"id": wid, "enabled": False}}),
        (ROTATE, {"id": wid}),
        (DELETE, {"id": wid}),
        (REPLAY, {"ids": [did]}),
        (LIST, {"c": cid}),
        (DEAD_LETTERS, {"c": cid}),
    ]
    before = (await deliveries(platform), len(await audit_rows(platform, audit.Action.WEBHOOK_UPDATE)))
    for who in (sibling, clerk):
        for query, variables in attempts:
            assert refusal(await who.execute(query, variables))[0] == "FORBIDDEN", (query, who)
    assert [(x.status, x.attempts) for x in await deliveries(platform)] == [(y.status, y.attempts) for y in before[0]]
    # The unit admin of the client's subtree manages it.
    assert (await own.execute(UPDATE, {"input": {"id": wid, "enabled": False}}))["data"]["updateWebhook"][
        "errors"
    ] == []
    assert (await own.execute(REPLAY, {"ids": [did]}))["data"]["replayWebhookDeliveries"]["errors"] == []
    assert (await own.execute(DELETE, {"id": wid}))["data"]["deleteWebhook"] == {"deletedId": wid, "errors": []}
    assert await deliveries(platform) == []
    lixia = await user_id(platform, "lixia_admin")
    async with platform.db.read() as db:
        q = select(AuditEntry.action).where(AuditEntry.actor_id == lixia).order_by(AuditEntry.id)
        actions = list((await db.execute(q)).scalars())
    assert actions == [audit.Action.WEBHOOK_UPDATE, audit.Action.WEBHOOK_REPLAY, audit.Action.WEBHOOK_DELETE]


async def test_two_senders_send_each_delivery_once(client: GraphQLClient, platform: Any, receiver: Receiver) -> None:
    """Two senders (as in two server processes) race for the same due deliveries."""
    await setup(client, platform, receiver)
    receiver.delay = 0.02
    for _ in range(30):
        await send(platform, await msg(platform, "li_na"))
    other = Sender(platform.settings, type(platform.db)(platform.db.url), clock=lambda: T0)
    try:
        counts = await asyncio.gather(sender(platform).run_due(T0), other.run_due(T0))
    finally:
        await other.stop()
        await other.db.dispose()
    assert sum(counts) == 30
    ids = [h["x-office-delivery-id"] for h, _ in receiver.got]
    assert len(ids) == 30
    assert len(set(ids)) == 30
    assert {d.status for d in await deliveries(platform)} == {"delivered"}


# ---- pure rules ------------------------------------------------------------------------------------


def test_backoff_doubles_with_bounded_jitter_and_retry_after_parses_both_forms() -> None:
    from office_api.config import Settings

    settings = Settings(webhook_retry_seconds=60, webhook_retry_jitter=0.2)
    assert [backoff(settings, n, lambda: 0.0).total_seconds() for n in (1, 2, 3, 8)] == [60, 120, 240, 7680]
    assert backoff(settings, 1, lambda: 0.999).total_seconds() == pytest.approx(71.988)
    assert backoff(settings, 20, lambda: 0.0) == dt.timedelta(days=1)
    assert retry_after("120", T0) == dt.timedelta(seconds=120)
    assert retry_after("Tue, 01 Dec 2026 01:05:00 GMT", T0) == dt.timedelta(minutes=5)
    assert retry_after("soon", T0) is None
    assert retry_after(None, T0) is None


def test_global_ids_match_strawberry() -> None:
    assert global_id("Notification", 42) == str(relay.GlobalID("Notification", "42"))

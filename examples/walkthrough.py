"""The General Office walkthrough: one 通知 from draft to approval, registration, dispatch to
the 16 cities and their first replies, as the people would do it.

Start the demo server (``./dev demo`` or ``office-api demo --port 8000``), then::

    python examples/walkthrough.py --url http://127.0.0.1:8000/graphql [--password Demo@2026]

What happens, over GraphQL with the ``gql`` client (HTTP for queries and mutations, a
graphql-transport-ws websocket for the subscription):

1. The General Office clerk (王文书) signs in and subscribes to ``notifications``.
2. The clerk drafts a 通知 to the 16 city governments with the route
   核稿 (deputy) → 会签 (finance_head and drc_head, all must approve) → 签发
   (secretary_general), and submits it, attesting that it holds no state secret.
3. The deputy approves; finance_head returns it during the countersign (drc_head's task
   is cancelled); the clerk resubmits; the deputy approves again, both countersigners
   approve (at the same time), and the secretary-general signs it off.
4. The clerk's subscription must have delivered, in order and with consecutive sequence
   numbers: TASK_APPROVED, DOCUMENT_RETURNED, TASK_APPROVED, TASK_APPROVED, TASK_APPROVED,
   TASK_APPROVED, DOCUMENT_APPROVED.
5. The clerk registers it (发文字号 鲁政办发〔YYYY〕n号) and dispatches it (核发) to the 16 city
   governments; the clerks of 济南, 青岛 and 淄博 (``clerk_370100`` …) sign for it (签收),
   register it (登记, 收文编号), accept it at the precheck (初审) and reply (答复). The clerk's
   subscription gets INCOMING_RECEIVED then INCOMING_REPLIED from each of the three, and the
   roll-up (``distribution``) says 16 dispatched, 3 received, 3 replied, 13 pending.

On a fresh demo database the clerk has no notifications yet and subscribes with
``after: 0``; on a database used before, the walkthrough subscribes after the clerk's last
notification so that it sees exactly its own. Exits 1 with a message when anything
differs from the expected course. ``run(url, password)`` returns a summary for tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

TITLE = "山东省人民政府办公厅关于做好2027年元旦春节期间安全生产工作的通知"
BODY = (
    "各市人民政府：\n"
    "2027年元旦、春节将至，为切实做好节日期间安全生产工作，防范遏制各类生产安全事故，"
    "确保人民群众度过欢乐祥和的节日，现将有关事项通知如下。"
)
#: Seconds to wait for one notification (or one server answer) before giving up.
TIMEOUT = 15.0
#: Seconds of silence required after the last expected notification ("exactly").
QUIET = 0.5
DEFAULT_PASSWORD = os.environ.get("OFFICE_DEMO_PASSWORD", "Demo@2026")

LOGIN = """
mutation Login($username: String!, $password: String!) {
  login(input: {username: $username, password: $password}) { accessToken errors { field code message } }
}"""
ME = "query Me { me { id username displayName } }"
LAST_NOTIFICATION = "query Last { notifications(first: 1) { edges { node { sequence } } } }"
ORG_UNITS = """
query Units($parentId: ID, $after: String) {
  orgUnits(parentId: $parentId, first: 100, after: $after) {
    edges { node { id code name kind } }
    pageInfo { hasNextPage endCursor }
  }
}"""
DOCUMENT_FIELDS = "id title docType status round version mainRecipients { name }"
CREATE_DOCUMENT = f"""
mutation Create($input: CreateDocumentInput!) {{
  createDocument(input: $input) {{ document {{ {DOCUMENT_FIELDS} }} errors {{ field code message }} }}
}}"""
SUBMIT_DOCUMENT = """
mutation Submit($id: ID!) {
  submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {
    document { id status round } errors { field code message }
  }
}"""
MY_TASKS = """
query MyTasks {
  myTasks(first: 100) {
    edges { node { id status round document { id title } step { name } sender { displayName } } }
  }
}"""
APPROVE_TASK = """
mutation Approve($task: ID!, $opinion: String) {
  approveTask(input: {taskId: $task, opinion: $opinion}) {
    task { id status } document { id status round } errors { field code message }
  }
}"""
RETURN_TASK = """
mutation Return($task: ID!, $opinion: String) {
  returnTask(input: {taskId: $task, opinion: $opinion}) {
    task { id status } document { id status round } errors { field code message }
  }
}"""
DOCUMENT = """
query Doc($id: ID!) {
  document(id: $id) {
    id status round
    opinions { action round stepIndex opinion actor { username displayName } }
  }
}"""
REGISTER_DOCUMENT = """
mutation Register($id: ID!) {
  registerDocument(input: {documentId: $id}) { document { id status docNumber } errors { field code message } }
}"""
DISPATCH_DOCUMENT = """
mutation Dispatch($id: ID!) {
  dispatchDocument(input: {documentId: $id}) { document { id status } errors { field code message } }
}"""
DISTRIBUTION = """
query Distribution($id: ID!) {
  document(id: $id) {
    status
    distribution {
      total received replied returned pending
      units { unit { code name } kind state receivedAt repliedAt returnedReason }
    }
  }
}"""
INCOMING = """
query Incoming($unit: ID!) {
  incomingDocuments(unitId: $unit, state: PENDING_RECEIPT, first: 100) {
    edges { node { id state kind document { id title docNumber } } }
  }
}"""
INCOMING_FIELDS = "incoming { id state incomingNumber } errors { field code message }"
RECEIVE = f"mutation Receive($id: ID!) {{ receiveIncoming(input: {{incomingId: $id}}) {{ {INCOMING_FIELDS} }} }}"
REGISTER_INCOMING = (
    f"mutation RegisterIncoming($id: ID!) {{ registerIncoming(input: {{incomingId: $id}}) {{ {INCOMING_FIELDS} }} }}"
)
PRECHECK = (
    "mutation Precheck($id: ID!) { precheckIncoming(input: {incomingId: $id, accept: true}) "
    f"{{ {INCOMING_FIELDS} }} }}"
)
REPLY = (
    "mutation Reply($id: ID!, $reply: String!) { replyIncoming(input: {incomingId: $id, reply: $reply}) "
    f"{{ {INCOMING_FIELDS} }} }}"
)
#: The cities whose clerks sign for, register and reply to the 通知 (codes of the demo divisions).
REPLYING_CITIES = ("370100", "370200", "370300")
RECENT_NOTIFICATIONS = """
query Recent($first: Int!) { notifications(first: $first) { edges { node { id sequence kind subjectId } } } }"""
SUBSCRIBE = """
subscription Inbox($after: Int!) {
  notifications(after: $after) { id sequence kind title body subjectType subjectId data }
}"""

#: The clerk's notifications, in order: (kind, route step index, submission round).
EXPECTED = [
    ("TASK_APPROVED", 0, 1),
    ("DOCUMENT_RETURNED", 1, 1),
    ("TASK_APPROVED", 0, 2),
    ("TASK_APPROVED", 1, 2),
    ("TASK_APPROVED", 1, 2),
    ("TASK_APPROVED", 2, 2),
    ("DOCUMENT_APPROVED", None, None),
]


class WalkthroughError(RuntimeError):
    """The demo did not go as expected; the message says what differed."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise WalkthroughError(message)


def websocket_url(url: str) -> str:
    """``http(s)://host/graphql`` → ``ws(s)://host/graphql``."""
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


@dataclass
class Person:
    """A signed-in user with an HTTP GraphQL session carrying their bearer token."""

    username: str
    id: str
    display_name: str
    token: str
    session: AsyncClientSession

    async def call(self, query: str, **variables: Any) -> dict[str, Any]:
        return await execute(self.session, query, variables)


async def execute(session: AsyncClientSession, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one operation; GraphQL errors become a :class:`WalkthroughError`."""
    try:
        return await asyncio.wait_for(session.execute(GraphQLRequest(query, variable_values=variables or {})), TIMEOUT)
    except TransportQueryError as exc:
        raise WalkthroughError(f"the server refused the request: {exc.errors}") from exc
    except TimeoutError as exc:
        operation = query.split("(")[0].split("{")[0].split()[-1]
        raise WalkthroughError(f"no answer from the server within {TIMEOUT:.0f} s (to {operation})") from exc


def payload(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The mutation payload ``name``; its ``errors`` must be empty."""
    result = data[name]
    check(result["errors"] == [], f"{name} failed: {result['errors']}")
    return result


class Inbox:
    """The clerk's live subscription, pumped into a queue by a background task."""

    def __init__(self, session: AsyncClientSession, after: int, log: Callable[[str], None]) -> None:
        self.after = after
        self.last = after
        self.received: list[dict[str, Any]] = []
        self._log = log
        self._queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(session))

    async def _pump(self, session: AsyncClientSession) -> None:
        try:
            request = GraphQLRequest(SUBSCRIBE, variable_values={"after": self.after})
            async for result in session.subscribe(request):
                self._queue.put_nowait(result["notifications"])
            self._queue.put_nowait(WalkthroughError("the server ended the notifications subscription"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # handed to the reader, who reports it
            self._queue.put_nowait(exc)

    async def _next(self, seconds: float) -> dict[str, Any]:
        item = await asyncio.wait_for(self._queue.get(), seconds)
        if isinstance(item, BaseException):
            raise WalkthroughError(f"the notifications subscription failed: {item!r}") from item
        return item

    async def expect(self, kind: str, document_id: str) -> dict[str, Any]:
        """Wait for the next notification; it must be ``kind``, about the document (or, for an
        incoming document's notification, carry the document's id), next in sequence."""
        try:
            note = await self._next(TIMEOUT)
        except TimeoutError as exc:
            raise WalkthroughError(f"expected a {kind} notification, none arrived within {TIMEOUT:.0f} s") from exc
        self.received.append(note)
        self._log(f"    🔔 clerk ← #{note['sequence']} {note['kind']}: {note['title']} ({note['body']})")
        check(
            note["sequence"] == self.last + 1,
            f"notification sequence {note['sequence']} after {self.last}: expected {self.last + 1}",
        )
        self.last = note["sequence"]
        check(note["kind"] == kind, f"expected a {kind} notification, got {note['kind']} (#{note['sequence']})")
        about = note["data"].get("documentId") if note["subjectType"] == "IncomingDocument" else None
        check(
            document_id in (note["subjectId"], about),
            f"notification #{note['sequence']} is about {note['subjectId']}",
        )
        return note

    async def expect_silence(self) -> None:
        """Nothing more may arrive."""
        with contextlib.suppress(TimeoutError):
            extra = await self._next(QUIET)
            raise WalkthroughError(f"unexpected extra notification #{extra['sequence']} {extra['kind']}")

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


@dataclass
class Walkthrough:
    url: str
    password: str
    log: Callable[[str], None] = print
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def http_session(self, token: str | None = None) -> AsyncClientSession:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        client = Client(transport=HTTPXAsyncTransport(url=self.url, headers=headers, timeout=TIMEOUT))
        return await self._stack.enter_async_context(client)

    async def sign_in(self, username: str) -> Person:
        anonymous = await self.http_session()
        result = (await execute(anonymous, LOGIN, {"username": username, "password": self.password}))["login"]
        check(result["errors"] == [], f"{username} cannot sign in (is --password right?): {result['errors']}")
        token = result["accessToken"]
        session = await self.http_session(token)
        me = (await execute(session, ME))["me"]
        check(me["username"] == username, f"signed in as {username} but me is {me['username']}")
        self.log(f"  {me['displayName']} ({username}) signed in, user id {me['id']}")
        return Person(username, me["id"], me["displayName"], token, session)

    async def subscribe(self, clerk: Person, after: int) -> Inbox:
        transport = WebsocketsTransport(
            url=websocket_url(self.url),
            init_payload={"authorization": f"Bearer {clerk.token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],  # "graphql-transport-ws"
            connect_timeout=TIMEOUT,
            ack_timeout=TIMEOUT,
            close_timeout=2,
        )
        session = await self._stack.enter_async_context(Client(transport=transport))
        inbox = Inbox(session, after, self.log)
        self._stack.push_async_callback(inbox.close)
        return inbox

    async def prefectures(self, person: Person) -> list[dict[str, Any]]:
        """The 16 city governments: PREFECTURE children of the province (370000)."""
        roots = await self._units(person, None)
        province = next((u for u in roots if u["code"] == "370000"), None)
        check(province is not None, "the province unit 370000 is not among the root units (is the demo loaded?)")
        assert province is not None
        cities = [u for u in await self._units(person, province["id"]) if u["kind"] == "PREFECTURE"]
        check(
            len(cities) == 16, f"expected the 16 prefecture governments under {province['name']}, found {len(cities)}"
        )
        return cities

    async def _units(self, person: Person, parent_id: str | None) -> list[dict[str, Any]]:
        units: list[dict[str, Any]] = []
        after = None
        while True:
            page = (await person.call(ORG_UNITS, parentId=parent_id, after=after))["orgUnits"]
            units += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return units
            after = page["pageInfo"]["endCursor"]

    async def find_task(self, person: Person, document_id: str, step: str, senders: set[str]) -> str:
        """The person's single pending task on the document, at ``step``, sent by one of ``senders``."""
        edges = (await person.call(MY_TASKS))["myTasks"]["edges"]
        tasks = [e["node"] for e in edges if e["node"]["document"]["id"] == document_id]
        check(len(tasks) == 1, f"{person.username} should have 1 pending task on the document, has {len(tasks)}")
        task = tasks[0]
        check(task["step"]["name"] == step, f"{person.username}'s task is at step {task['step']['name']}, not {step}")
        check(task["sender"]["displayName"] in senders, f"{person.username}'s task was sent by {task['sender']}")
        self.log(
            f"  {person.display_name} sees in 待办: 《{task['document']['title']}》 step {step} "
            f"(round {task['round']}), sent by {task['sender']['displayName']}"
        )
        return task["id"]

    async def pending_on(self, person: Person, document_id: str) -> int:
        edges = (await person.call(MY_TASKS))["myTasks"]["edges"]
        return sum(1 for e in edges if e["node"]["document"]["id"] == document_id)

    async def approve(self, person: Person, task_id: str, opinion: str) -> dict[str, Any]:
        result = payload(await person.call(APPROVE_TASK, task=task_id, opinion=opinion), "approveTask")
        check(result["task"]["status"] == "APPROVED", f"task status {result['task']['status']} after approval")
        self.log(f"  {person.display_name} approves: “{opinion}” → document {result['document']['status']}")
        return result["document"]

    async def return_(self, person: Person, task_id: str, opinion: str) -> dict[str, Any]:
        result = payload(await person.call(RETURN_TASK, task=task_id, opinion=opinion), "returnTask")
        check(result["task"]["status"] == "RETURNED", f"task status {result['task']['status']} after return")
        self.log(f"  {person.display_name} returns it: “{opinion}” → document {result['document']['status']}")
        return result["document"]

    async def submit(self, clerk: Person, document_id: str, expected_round: int) -> None:
        doc = payload(await clerk.call(SUBMIT_DOCUMENT, id=document_id), "submitDocument")["document"]
        check(
            (doc["status"], doc["round"]) == ("IN_REVIEW", expected_round),
            f"after submission the document is {doc['status']} round {doc['round']}",
        )
        self.log(f"  {clerk.display_name} submits (attests 本文件不涉及国家秘密) → IN_REVIEW, round {doc['round']}")

    async def run(self) -> dict[str, Any]:
        async with self._stack:
            return await self._run()

    async def _run(self) -> dict[str, Any]:
        log = self.log
        log(f"Walkthrough against {self.url}")
        log("1. Everyone signs in")
        clerk = await self.sign_in("clerk")
        deputy = await self.sign_in("deputy")
        finance = await self.sign_in("finance_head")
        drc = await self.sign_in("drc_head")
        secgen = await self.sign_in("secretary_general")

        edges = (await clerk.call(LAST_NOTIFICATION))["notifications"]["edges"]
        after = edges[0]["node"]["sequence"] if edges else 0
        log(f"2. {clerk.display_name} opens the notifications subscription (after: {after})")
        inbox = await self.subscribe(clerk, after)

        log("3. The clerk drafts the 通知 to the 16 city governments")
        cities = await self.prefectures(clerk)
        log(f"  main recipients: {'、'.join(c['name'] for c in cities)}")
        route = {
            "steps": [
                {"name": "核稿", "mode": "SINGLE", "assigneeIds": [deputy.id]},
                {"name": "会签", "mode": "PARALLEL_ALL", "assigneeIds": [finance.id, drc.id]},
                {"name": "签发", "mode": "SINGLE", "signOff": True, "assigneeIds": [secgen.id]},
            ]
        }
        created = payload(
            await clerk.call(
                CREATE_DOCUMENT,
                input={
                    "title": TITLE,
                    "docType": "NOTICE",
                    "body": BODY,
                    "urgency": "URGENT",
                    "sensitivity": "PUBLIC",
                    "mainRecipientIds": [c["id"] for c in cities],
                    "route": route,
                },
            ),
            "createDocument",
        )["document"]
        doc_id = created["id"]
        check(created["status"] == "DRAFT", f"a new document should be a DRAFT, is {created['status']}")
        check(
            [r["name"] for r in created["mainRecipients"]] == [c["name"] for c in cities],
            "the main recipients differ from the 16 city governments given",
        )
        log(f"  draft {doc_id}: 《{created['title']}》 ({created['docType']}), route 核稿 → 会签 → 签发")

        log("4. Round 1: submit, 核稿, then a return during 会签")
        await self.submit(clerk, doc_id, 1)
        task = await self.find_task(deputy, doc_id, "核稿", {clerk.display_name})
        await self.approve(deputy, task, "文稿规范，同意，请会签。")
        await inbox.expect("TASK_APPROVED", doc_id)
        finance_task = await self.find_task(finance, doc_id, "会签", {deputy.display_name})
        await self.find_task(drc, doc_id, "会签", {deputy.display_name})
        doc = await self.return_(finance, finance_task, "请补充节日期间安全生产专项资金保障的表述后再送。")
        check(doc["status"] == "RETURNED", f"after the return the document is {doc['status']}")
        await inbox.expect("DOCUMENT_RETURNED", doc_id)
        check(await self.pending_on(drc, doc_id) == 0, "drc_head's countersign task was not cancelled by the return")
        recent = (await drc.call(RECENT_NOTIFICATIONS, first=1))["notifications"]["edges"]
        check(
            bool(recent) and (recent[0]["node"]["kind"], recent[0]["node"]["subjectId"]) == ("TASK_CANCELLED", doc_id),
            "drc_head was not told that the countersign task was cancelled",
        )
        log(f"  {drc.display_name}'s countersign task is cancelled, and he is told so (TASK_CANCELLED)")

        log("5. Round 2: the clerk revises and resubmits; everyone approves")
        await self.submit(clerk, doc_id, 2)
        task = await self.find_task(deputy, doc_id, "核稿", {clerk.display_name})
        await self.approve(deputy, task, "已按意见修改，同意，请会签。")
        await inbox.expect("TASK_APPROVED", doc_id)
        finance_task = await self.find_task(finance, doc_id, "会签", {deputy.display_name})
        drc_task = await self.find_task(drc, doc_id, "会签", {deputy.display_name})
        log("  both countersigners approve at the same time")
        await asyncio.gather(
            self.approve(finance, finance_task, "同意。资金保障表述已补充。"),
            self.approve(drc, drc_task, "同意。"),
        )
        await inbox.expect("TASK_APPROVED", doc_id)
        await inbox.expect("TASK_APPROVED", doc_id)
        task = await self.find_task(secgen, doc_id, "签发", {finance.display_name, drc.display_name})
        doc = await self.approve(secgen, task, "同意印发。")
        check(doc["status"] == "APPROVED", f"after 签发 the document is {doc['status']}, not APPROVED")
        await inbox.expect("TASK_APPROVED", doc_id)
        await inbox.expect("DOCUMENT_APPROVED", doc_id)
        await inbox.expect_silence()

        log("6. Checks")
        final = (await clerk.call(DOCUMENT, id=doc_id))["document"]
        check(final["status"] == "APPROVED", f"final status {final['status']}")
        for op in final["opinions"]:
            log(
                f"  opinion round {op['round']} step {op['stepIndex']}: {op['actor']['displayName']} {op['action']} "
                f"“{op['opinion']}”"
            )
        received = [(n["kind"], n["data"].get("stepIndex"), n["data"].get("round")) for n in inbox.received]
        check(received == EXPECTED, f"the clerk's notifications were {received}, expected {EXPECTED}")
        sequences = [n["sequence"] for n in inbox.received]
        check(
            sequences == list(range(after + 1, after + 1 + len(EXPECTED))),
            f"sequence numbers {sequences} are not consecutive after {after}",
        )
        stored = (await clerk.call(RECENT_NOTIFICATIONS, first=len(EXPECTED) + 1))["notifications"]["edges"]
        stored_ids = [e["node"]["id"] for e in reversed(stored) if e["node"]["sequence"] > after]
        check(stored_ids == [n["id"] for n in inbox.received], "the subscription and the stored notifications differ")
        log(f"  document {doc_id} APPROVED; the clerk received #{sequences[0]}–#{sequences[-1]} in order, no gap")
        approval_notes = list(inbox.received)

        log("7. The clerk registers the 通知 and dispatches it (核发) to the 16 city governments")
        registered = payload(await clerk.call(REGISTER_DOCUMENT, id=doc_id), "registerDocument")["document"]
        check(registered["status"] == "REGISTERED", f"after registration the document is {registered['status']}")
        doc_number = registered["docNumber"]
        log(f"  发文字号 {doc_number}")
        sent = payload(await clerk.call(DISPATCH_DOCUMENT, id=doc_id), "dispatchDocument")["document"]
        check(sent["status"] == "DISPATCHED", f"after dispatch the document is {sent['status']}")
        roll = await self.distribution(clerk, doc_id)
        check((roll["total"], roll["pending"]) == (16, 16), f"after dispatch the roll-up is {roll}")

        log("8. Three cities sign for it, register it, accept it and reply")
        by_code = {c["code"]: c for c in cities}
        for code in REPLYING_CITIES:
            city_clerk = await self.sign_in(f"clerk_{code}")
            await self.handle_as_city(city_clerk, by_code[code], doc_id)
            await inbox.expect("INCOMING_RECEIVED", doc_id)  # 签收 tells the sending side
            await inbox.expect("INCOMING_REPLIED", doc_id)
        await inbox.expect_silence()

        log("9. The clerk's roll-up")
        roll = await self.distribution(clerk, doc_id)
        for unit in roll["units"]:
            if unit["state"] != "PENDING_RECEIPT":
                log(f"  {unit['unit']['name']}: {unit['state']} (received {unit['receivedAt']})")
        counts = {k: roll[k] for k in ("total", "received", "replied", "returned", "pending")}
        log(
            f"  {counts['received']} of {counts['total']} cities have received; {counts['replied']} have replied; "
            f"{counts['pending']} not yet signed for"
        )
        check(
            counts == {"total": 16, "received": 3, "replied": 3, "returned": 0, "pending": 13},
            f"the roll-up is {counts}, expected 16 dispatched, 3 received, 3 replied",
        )
        replies = inbox.received[len(approval_notes) :]
        return {
            "document_id": doc_id,
            "title": TITLE,
            "status": sent["status"],
            "doc_number": doc_number,
            "round": final["round"],
            "after": after,
            "notifications": [
                {"sequence": n["sequence"], "kind": n["kind"], "stepIndex": step, "round": rnd}
                for n, (_, step, rnd) in zip(approval_notes, received, strict=True)
            ],
            "replies": [{"sequence": n["sequence"], "kind": n["kind"], "title": n["title"]} for n in replies],
            "distribution": counts,
        }

    async def distribution(self, person: Person, document_id: str) -> dict[str, Any]:
        doc = (await person.call(DISTRIBUTION, id=document_id))["document"]
        check(doc is not None and doc["distribution"] is not None, "the sender sees no roll-up of the document")
        return doc["distribution"]

    async def handle_as_city(self, city_clerk: Person, city: dict[str, Any], document_id: str) -> None:
        """签收 → 登记 → 初审 → 答复 by the city's clerk."""
        edges = (await city_clerk.call(INCOMING, unit=city["id"]))["incomingDocuments"]["edges"]
        copies = [e["node"] for e in edges if e["node"]["document"]["id"] == document_id]
        check(len(copies) == 1, f"{city['name']} should have the 通知 pending receipt once, has {len(copies)}")
        copy_id = copies[0]["id"]
        payload(await city_clerk.call(RECEIVE, id=copy_id), "receiveIncoming")
        got = payload(await city_clerk.call(REGISTER_INCOMING, id=copy_id), "registerIncoming")["incoming"]
        payload(await city_clerk.call(PRECHECK, id=copy_id), "precheckIncoming")
        reply = f"{city['name']}已收悉，将按通知要求部署节日期间安全生产工作。"
        done = payload(await city_clerk.call(REPLY, id=copy_id, reply=reply), "replyIncoming")["incoming"]
        check(done["state"] == "REPLIED", f"{city['name']}'s copy is {done['state']} after the reply")
        log = self.log
        log(f"  {city_clerk.display_name}: 签收, 登记 {got['incomingNumber']}, 初审通过, 答复 “{reply}”")


async def run(url: str, password: str = DEFAULT_PASSWORD, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Drive the walkthrough against the server at ``url``; return a summary.

    The summary: ``document_id``, ``title``, ``status`` (DISPATCHED), ``doc_number``,
    ``round`` (2), ``after`` (the clerk's last sequence number before the walkthrough: 0 on
    a fresh demo), ``notifications``: the clerk's notifications of the approval in the order
    received, each ``{sequence, kind, stepIndex, round}``; ``replies``: the clerk's
    INCOMING_RECEIVED and INCOMING_REPLIED of each of the three cities
    ``{sequence, kind, title}``; ``distribution``: the roll-up counts
    (``total`` 16, ``received`` 3, ``replied`` 3, ``returned`` 0, ``pending`` 13). Raises
    :class:`WalkthroughError` on any difference from the expected course.
    """
    try:
        return await Walkthrough(url, password, log).run()
    except (TransportError, httpx.HTTPError, OSError) as exc:
        raise WalkthroughError(f"cannot talk to {url}: {exc!r}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Drive the demo: one 通知 from draft to approval, dispatch to the 16 cities and 3 replies."
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000/graphql", help="GraphQL endpoint")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="demo accounts' password")
    args = parser.parse_args(argv)
    try:
        summary = asyncio.run(run(args.url, args.password))
    except WalkthroughError as exc:
        print(f"walkthrough FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("walkthrough interrupted", file=sys.stderr)
        return 130
    kinds = ", ".join(f"#{n['sequence']} {n['kind']}" for n in summary["notifications"] + summary["replies"])
    d = summary["distribution"]
    print(
        f"walkthrough OK: document {summary['document_id']} {summary['doc_number']} {summary['status']} to "
        f"{d['total']} cities, {d['received']} received, {d['replied']} replied; clerk received {kinds}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

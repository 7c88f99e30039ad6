"""The incoming procedure (收文办理, REG Art. 24) through GraphQL, on SQLite and PostgreSQL.

Recipient 山东省财政厅 (370000-finance): the test makes 张伟 (zhang_wei) its clerk; 赵厅长
(finance_head) is its head; 张维 (zhang_wei2) and 王伟 (wang_wei) handle. The sender is the
General Office's clerk, who drafted and registered the document.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from documents.incoming_models import IncomingDocument
from documents.models import Document
from office_api.config import Settings
from office_api.org.models import Duty
from tests.conftest import GraphQLClient, count_statements
from tests.dispatch_helpers import CITIES, NOW, gid, give_duty, ids_of, pk_of, registered_document, signed_in

FINANCE = "370000-finance"
FIELDS = """id state kind version receivedAt receivedBy { username } incomingNumber serialYear serialNumber
  proposal leader { username } instruction deadline reply repliedAt returnedReason closedAt
  handlers { user { username } isLead result }
  history { action state opinion actor { username } createdAt }"""
DISPATCH = "mutation($id: ID!) { dispatchDocument(input: {documentId: $id}) { errors { field code } } }"
INBOX = """query($unit: ID!, $state: IncomingState, $first: Int, $after: String) {
  incomingDocuments(unitId: $unit, state: $state, first: $first, after: $after) { totalCount
    pageInfo { hasNextPage endCursor } edges { node { id state document { id } } } } }"""
ONE = f"query($id: ID!) {{ incomingDocument(id: $id) {{ {FIELDS} }} }}"
DOC = "query($id: ID!) { document(id: $id) { id title } }"
ROLL_UP = """query($id: ID!) { document(id: $id) { distribution {
  total received replied returned pending closed units { unit { code } state returnedReason } } } }"""
NOTES = "{ notifications(first: 5) { edges { node { kind title body data } } } }"
MY_WORK = "{ myIncomingTasks { totalCount edges { node { id state } } } }"

MUTATIONS = {
    "receive": ("receiveIncoming", "IncomingStepInput"),
    "register": ("registerIncoming", "IncomingStepInput"),
    "precheck": ("precheckIncoming", "PrecheckIncomingInput"),
    "propose": ("proposeIncoming", "ProposeIncomingInput"),
    "instruct": ("instructIncoming", "InstructIncomingInput"),
    "assign": ("assignIncoming", "AssignIncomingInput"),
    "handle": ("handleIncoming", "HandleIncomingInput"),
    "reply": ("replyIncoming", "ReplyIncomingInput"),
    "close": ("closeIncoming", "CloseIncomingInput"),
}


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    await give_duty(platform, "zhang_wei", FINANCE, Duty.CLERK)
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


async def step(c: GraphQLClient, name: str, incoming: str, **fields: Any) -> dict[str, Any]:
    """Run one step mutation; its payload (``incoming`` and ``errors``)."""
    root, input_type = MUTATIONS[name]
    query = (
        f"mutation($input: {input_type}!) {{ {root}(input: $input) "
        f"{{ incoming {{ {FIELDS} }} errors {{ field code message }} }} }}"
    )
    data = await c.execute(query, {"input": {"incomingId": incoming, **fields}})
    assert "errors" not in data, data
    return data["data"][root]


async def ok(c: GraphQLClient, name: str, incoming: str, **fields: Any) -> dict[str, Any]:
    result = await step(c, name, incoming, **fields)
    assert result["errors"] == [], result
    return result["incoming"]


def codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in result["errors"]]


async def dispatched(as_, platform: Any, ids: dict[str, int], **kw: Any) -> tuple[int, dict[str, str]]:
    """A registered document dispatched by the General Office's clerk; its id and the incoming
    ids by unit code."""
    doc = await registered_document(platform, ids, **kw)
    data = await as_("clerk").execute(DISPATCH, {"id": gid("Document", doc)})
    assert data["data"]["dispatchDocument"]["errors"] == [], data
    async with platform.db.read() as s:
        rows = (await s.execute(select(IncomingDocument).where(IncomingDocument.document_id == doc))).scalars()
        by_code = {code: gid("IncomingDocument", r.id) for r in rows for code, pk in ids.items() if pk == r.unit_id}
    return doc, by_code


async def last_note(c: GraphQLClient) -> dict[str, Any]:
    return (await c.execute(NOTES))["data"]["notifications"]["edges"][0]["node"]


async def test_the_whole_procedure_for_an_urgent_document(as_, ids: dict[str, int], platform: Any) -> None:
    doc, copies = await dispatched(as_, platform, ids, main=[FINANCE], urgency="urgent")
    inc = copies[FINANCE]
    clerk, head, sender = as_("zhang_wei"), as_("finance_head"), as_("clerk")

    got = await ok(clerk, "receive", inc)
    assert (got["state"], got["receivedBy"], got["receivedAt"]) == (
        "RECEIVED",
        {"username": "zhang_wei"},
        "2026-06-01T02:00:00+00:00",
    )
    got = await ok(clerk, "register", inc)
    assert (got["state"], got["incomingNumber"], got["serialYear"], got["serialNumber"]) == (
        "REGISTERED",
        "收文〔2026〕1号",
        2026,
        1,
    )
    assert (await ok(clerk, "precheck", inc, accept=True))["state"] == "ACCEPTED"
    got = await ok(clerk, "propose", inc, opinion="拟请赵厅长阅示，由预算处牵头落实。")
    assert (got["state"], got["leader"], got["proposal"]) == (
        "PROPOSED",
        {"username": "finance_head"},
        "拟请赵厅长阅示，由预算处牵头落实。",
    )
    note = await last_note(head)
    assert (note["kind"], note["title"]) == (
        "INCOMING_YOUR_TURN",
        "收文待批示：山东省人民政府办公厅关于做好防汛工作的通知",
    )
    assert note["data"]["state"] == "proposed"

    mine = (await head.execute(MY_WORK))["data"]["myIncomingTasks"]
    assert (mine["totalCount"], mine["edges"][0]["node"]["id"]) == (1, inc)
    # Only the named leader instructs; the clerk may not.
    assert codes(await step(clerk, "instruct", inc, instruction="同意")) == [("incomingId", "FORBIDDEN")]
    got = await ok(head, "instruct", inc, instruction="请张维同志牵头办理，王伟协办，按时限完成。")
    assert got["state"] == "INSTRUCTED"

    zhang2, wang = gid("User", ids["zhang_wei2"]), gid("User", ids["wang_wei"])
    # Urgent: a deadline is required; two handlers: a lead is required.
    refused = await step(clerk, "assign", inc, handlerIds=[zhang2, wang])
    assert codes(refused) == [("leadHandlerId", "LEAD_REQUIRED"), ("deadline", "DEADLINE_REQUIRED")]
    past = await step(clerk, "assign", inc, handlerIds=[zhang2], deadline="2026-05-31")
    assert codes(past) == [("deadline", "INVALID_VALUE")]
    again = await step(clerk, "assign", inc, handlerIds=[zhang2, zhang2], leadHandlerId=wang, deadline="2026-06-05")
    assert codes(again) == [("handlerIds.1", "DUPLICATE"), ("leadHandlerId", "INVALID_VALUE")]
    got = await ok(clerk, "assign", inc, handlerIds=[wang, zhang2], leadHandlerId=zhang2, deadline="2026-06-05")
    assert (got["state"], got["deadline"]) == ("HANDLING", "2026-06-05")
    assert got["handlers"] == [
        {"user": {"username": "zhang_wei2"}, "isLead": True, "result": None},
        {"user": {"username": "wang_wei"}, "isLead": False, "result": None},
    ]
    note = await last_note(as_("wang_wei"))
    assert (note["kind"], note["body"]) == (
        "INCOMING_YOUR_TURN",
        "张伟 交您协办《山东省人民政府办公厅关于做好防汛工作的通知》，办理时限 2026-06-05",
    )
    # A handler reads the document and the copy; a stranger does not.
    assert (await as_("wang_wei").execute(DOC, {"id": gid("Document", doc)}))["data"]["document"] is not None
    assert (await as_("drc_head").execute(ONE, {"id": inc}))["data"]["incomingDocument"] is None
    assert (await as_("drc_head").execute(DOC, {"id": gid("Document", doc)}))["data"]["document"] is None

    assert (await head.execute(MY_WORK))["data"]["myIncomingTasks"]["totalCount"] == 0
    assert (await as_("wang_wei").execute(MY_WORK))["data"]["myIncomingTasks"]["totalCount"] == 1
    assert (await ok(as_("wang_wei"), "handle", inc, result="已梳理本单位防汛物资。"))["state"] == "HANDLING"
    assert (await as_("wang_wei").execute(MY_WORK))["data"]["myIncomingTasks"]["totalCount"] == 0
    assert (await as_("zhang_wei2").execute(MY_WORK))["data"]["myIncomingTasks"]["totalCount"] == 1
    repeat = await step(as_("wang_wei"), "handle", inc, result="再次")
    assert codes(repeat) == [("incomingId", "TASK_ALREADY_HANDLED")]
    assert codes(await step(clerk, "reply", inc, reply="提前答复")) == [("incomingId", "INVALID_STATE")]
    got = await ok(as_("zhang_wei2"), "handle", inc, result="已下达专项资金。")
    assert got["state"] == "HANDLED"
    assert (await last_note(clerk))["title"].startswith("收文待答复或办结")

    got = await ok(clerk, "reply", inc, reply="已按要求落实防汛资金和物资。")
    assert (got["state"], got["reply"]) == ("REPLIED", "已按要求落实防汛资金和物资。")
    note = await last_note(sender)
    assert (note["kind"], note["title"], note["body"]) == (
        "INCOMING_REPLIED",
        "山东省财政厅已答复：山东省人民政府办公厅关于做好防汛工作的通知",
        "张伟：已按要求落实防汛资金和物资。",
    )
    got = await ok(clerk, "close", inc, opinion="办结")
    assert got["state"] == "CLOSED"
    assert [(h["action"], h["state"], h["actor"]["username"]) for h in got["history"]] == [
        ("DISPATCH", "PENDING_RECEIPT", "clerk"),
        ("RECEIVE", "RECEIVED", "zhang_wei"),
        ("REGISTER", "REGISTERED", "zhang_wei"),
        ("ACCEPT", "ACCEPTED", "zhang_wei"),
        ("PROPOSE", "PROPOSED", "zhang_wei"),
        ("INSTRUCT", "INSTRUCTED", "finance_head"),
        ("ASSIGN", "HANDLING", "zhang_wei"),
        ("HANDLE", "HANDLING", "wang_wei"),
        ("HANDLE", "HANDLED", "zhang_wei2"),
        ("REPLY", "REPLIED", "zhang_wei"),
        ("CLOSE", "CLOSED", "zhang_wei"),
    ]
    assert got["history"][2]["opinion"] == "收文〔2026〕1号"
    assert got["version"] == 11
    assert codes(await step(clerk, "close", inc)) == [("incomingId", "INVALID_STATE")]

    roll = (await sender.execute(ROLL_UP, {"id": gid("Document", doc)}))["data"]["document"]["distribution"]
    assert (roll["total"], roll["received"], roll["replied"], roll["closed"], roll["pending"]) == (1, 1, 1, 1, 0)


async def test_cc_copies_are_for_reading(as_, ids: dict[str, int], platform: Any) -> None:
    _, copies = await dispatched(as_, platform, ids, main=["370100"], cc=[FINANCE])
    clerk = as_("zhang_wei")
    await ok(clerk, "receive", copies[FINANCE])
    await ok(clerk, "register", copies[FINANCE])
    got = await ok(clerk, "close", copies[FINANCE], opinion="阅知")
    assert (got["kind"], got["state"]) == ("CC", "CLOSED")
    # A main copy is closed only after the precheck.
    jinan = as_("clerk_370100")
    await ok(jinan, "receive", copies["370100"])
    await ok(jinan, "register", copies["370100"])
    refused = await step(jinan, "close", copies["370100"])
    assert codes(refused) == [("incomingId", "INVALID_STATE")]
    assert "precheck" in refused["errors"][0]["message"] or "初审" in refused["errors"][0]["message"]
    await ok(jinan, "precheck", copies["370100"], accept=True)
    assert (await ok(jinan, "close", copies["370100"], opinion="阅知性公文，已传达"))["state"] == "CLOSED"


async def test_precheck_return_tells_the_sender(as_, ids: dict[str, int], platform: Any) -> None:
    doc, copies = await dispatched(as_, platform, ids, main=CITIES[:3])
    jinan = as_("clerk_370100")
    inc = copies["370100"]
    early = await step(jinan, "precheck", inc, accept=False, opinion="尚未签收")
    assert codes(early) == [("incomingId", "INVALID_STATE")]
    await ok(jinan, "receive", inc)
    await ok(jinan, "register", inc)
    assert codes(await step(jinan, "precheck", inc, accept=False, opinion="  ")) == [("opinion", "REQUIRED")]
    got = await ok(jinan, "precheck", inc, accept=False, opinion="不属于本单位职责范围，请改送市应急局。")
    assert (got["state"], got["returnedReason"]) == ("RETURNED_TO_SENDER", "不属于本单位职责范围，请改送市应急局。")
    note = await last_note(as_("clerk"))
    assert (note["kind"], note["body"]) == (
        "INCOMING_RETURNED",
        "济南市人民政府 济南市文书：不属于本单位职责范围，请改送市应急局。",
    )
    roll = (await as_("clerk").execute(ROLL_UP, {"id": gid("Document", doc)}))["data"]["document"]["distribution"]
    assert (roll["total"], roll["received"], roll["returned"], roll["pending"]) == (3, 1, 1, 2)
    assert roll["units"][0] == {
        "unit": {"code": "370100"},
        "state": "RETURNED_TO_SENDER",
        "returnedReason": "不属于本单位职责范围，请改送市应急局。",
    }


async def test_who_acts(as_, ids: dict[str, int], platform: Any) -> None:
    _, copies = await dispatched(as_, platform, ids, main=[FINANCE, "370100"])
    inc = copies[FINANCE]
    # The head can see the copy but does not sign for it; a stranger cannot see it.
    assert codes(await step(as_("finance_head"), "receive", inc)) == [("incomingId", "FORBIDDEN")]
    assert codes(await step(as_("clerk_370100"), "receive", inc)) == [("incomingId", "NOT_FOUND")]
    assert codes(await step(as_("clerk"), "receive", inc)) == [("incomingId", "NOT_FOUND")]
    bad = await step(as_("zhang_wei"), "receive", gid("Document", 1))
    assert codes(bad) == [("incomingId", "INVALID_VALUE")]
    # A leader who is not one of the unit's: refused.
    await ok(as_("zhang_wei"), "receive", inc)
    await ok(as_("zhang_wei"), "register", inc)
    await ok(as_("zhang_wei"), "precheck", inc, accept=True)
    wrong = await step(as_("zhang_wei"), "propose", inc, opinion="拟办", leaderId=gid("User", ids["drc_head"]))
    assert codes(wrong) == [("leaderId", "INVALID_VALUE")]
    # 济南 has no head: proposing without a named leader is NO_ASSIGNEE.
    jinan = copies["370100"]
    for name in ("receive", "register"):
        await ok(as_("clerk_370100"), name, jinan)
    await ok(as_("clerk_370100"), "precheck", jinan, accept=True)
    nobody = await step(as_("clerk_370100"), "propose", jinan, opinion="拟办")
    assert codes(nobody) == [("leaderId", "NO_ASSIGNEE")]


async def test_incoming_list(as_, ids: dict[str, int], platform: Any) -> None:
    made = [(await dispatched(as_, platform, ids, main=[FINANCE], title=f"关于第{i}项工作的通知"))[1] for i in range(3)]
    clerk = as_("zhang_wei")
    await ok(clerk, "receive", made[0][FINANCE])
    unit = gid("OrgUnit", ids[FINANCE])
    page = (await clerk.execute(INBOX, {"unit": unit, "first": 2}))["data"]["incomingDocuments"]
    assert page["totalCount"] == 3
    assert [e["node"]["id"] for e in page["edges"]] == [made[2][FINANCE], made[1][FINANCE]]
    rest = (await clerk.execute(INBOX, {"unit": unit, "after": page["pageInfo"]["endCursor"]}))["data"]
    assert [e["node"]["id"] for e in rest["incomingDocuments"]["edges"]] == [made[0][FINANCE]]
    received = (await as_("finance_head").execute(INBOX, {"unit": unit, "state": "RECEIVED"}))["data"]
    assert received["incomingDocuments"]["totalCount"] == 1
    refused = await as_("clerk_370100").execute(INBOX, {"unit": unit})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_concurrent_steps_have_one_winner(as_, ids: dict[str, int], platform: Any) -> None:
    docs = [(await dispatched(as_, platform, ids, main=[FINANCE], title=f"关于第{i}项工作的通知")) for i in range(4)]
    clerk, clerk2 = as_("zhang_wei"), as_("zhang_wei")
    first = docs[0][1][FINANCE]
    results = await asyncio.gather(step(clerk, "receive", first), step(clerk2, "receive", first))
    assert sorted(len(r["errors"]) for r in results) == [0, 1]
    loser = next(r for r in results if r["errors"])
    assert codes(loser) == [("incomingId", "INVALID_STATE")]
    got = (await clerk.execute(ONE, {"id": first}))["data"]["incomingDocument"]
    assert (got["version"], [h["action"] for h in got["history"]]) == (2, ["DISPATCH", "RECEIVE"])
    # Concurrent registrations in one unit: 收文编号 1..4, no gap, no repeat.
    for _, copies in docs[1:]:
        await ok(clerk, "receive", copies[FINANCE])
    registered = await asyncio.gather(*(step(clerk, "register", c[FINANCE]) for _, c in docs))
    assert sorted(r["incoming"]["serialNumber"] for r in registered) == [1, 2, 3, 4]


async def test_serial_numbers_restart_each_asia_shanghai_year(as_, ids: dict[str, int], platform: Any) -> None:
    (_, a), (_, b) = [
        await dispatched(as_, platform, ids, main=["370100"], title=f"关于第{i}项的通知") for i in range(2)
    ]
    jinan = as_("clerk_370100")
    for inc in (a["370100"], b["370100"]):
        await ok(jinan, "receive", inc)
    platform.clock = lambda: dt.datetime(2026, 12, 31, 15, 59, tzinfo=dt.UTC)
    assert (await ok(jinan, "register", a["370100"]))["incomingNumber"] == "收文〔2026〕1号"
    platform.clock = lambda: dt.datetime(2026, 12, 31, 16, 1, tzinfo=dt.UTC)
    assert (await ok(jinan, "register", b["370100"]))["incomingNumber"] == "收文〔2027〕1号"
    assert pk_of(a["370100"]) != pk_of(b["370100"])


async def test_incoming_list_statements_do_not_grow_with_the_page(as_, ids: dict[str, int], platform: Any) -> None:
    for i in range(6):
        await dispatched(as_, platform, ids, main=[FINANCE], title=f"关于第{i}项工作的通知")
    clerk = as_("zhang_wei")
    # One path to the user loader only (history actors): with two (drafter too), whether the
    # two sets of user loads share a batch depends on I/O timing, not on the page size.
    query = """query($unit: ID!, $first: Int) { incomingDocuments(unitId: $unit, first: $first) {
      edges { node { id state unit { name } document { title } handlers { isLead }
      history { action actor { username } } } } } }"""
    measured = []
    for first in (2, 6):
        with count_statements(platform) as statements:
            data = await clerk.execute(query, {"unit": gid("OrgUnit", ids[FINANCE]), "first": first})
        assert len(data["data"]["incomingDocuments"]["edges"]) == first
        measured.append(len(statements))
    assert measured[0] == measured[1]


EXTERNAL = """mutation($input: RegisterExternalIncomingInput!) { registerExternalIncoming(input: $input) {
  incoming { id state kind incomingNumber externalIssuer externalNumber externalTitle channel document { id }
             receivedBy { username } history { action state opinion } }
  errors { field code message } } }"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"classification": "机密★10年"}, [("classification", "STATE_SECRET_REFUSED")]),
        ({"classification": "秘 密"}, [("classification", "STATE_SECRET_REFUSED")]),
        ({"classification": "拟定密级"}, [("classification", "STATE_SECRET_REFUSED")]),
        ({"channel": "密电"}, [("channel", "STATE_SECRET_REFUSED")]),
        ({"channel": "机要交通"}, [("channel", "STATE_SECRET_REFUSED")]),
        ({"title": "机密★关于做好防汛工作的通知"}, [("title", "STATE_SECRET_REFUSED")]),
        ({"channel": "密码电报"}, [("channel", "STATE_SECRET_REFUSED")]),
        ({"channel": "pigeon"}, [("channel", "INVALID_VALUE")]),
        ({"issuer": " ", "title": "题" * 201}, [("issuer", "REQUIRED"), ("title", "TOO_LONG")]),
    ],
)
async def test_external_documents_pass_the_classification_gate(
    as_, ids: dict[str, int], platform: Any, change: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    base = {
        "unitId": gid("OrgUnit", ids[FINANCE]),
        "issuer": "财政部办公厅",
        "number": "财办发〔2026〕8号",
        "title": "财政部办公厅关于做好2026年预算执行工作的通知",
        "channel": "paper",
    }
    refused = (await as_("zhang_wei").execute(EXTERNAL, {"input": {**base, **change}}))["data"]
    assert codes(refused["registerExternalIncoming"]) == expected
    async with platform.db.read() as s:
        assert (await s.execute(select(IncomingDocument.id))).first() is None


async def test_an_external_document_follows_the_procedure(as_, ids: dict[str, int], platform: Any) -> None:
    data = {
        "unitId": gid("OrgUnit", ids[FINANCE]),
        "issuer": "财政部办公厅",
        "number": "财办发〔2026〕8号",
        "title": "财政部办公厅关于做好2026年预算执行工作的通知",
        "channel": "plain_telegram",
        "classification": "内部",
        "urgency": "EXTRA_URGENT",
    }
    # Only a clerk of the receiving unit registers it.
    other = (await as_("clerk_370100").execute(EXTERNAL, {"input": data}))["data"]["registerExternalIncoming"]
    assert codes(other) == [("unitId", "FORBIDDEN")]
    result = (await as_("zhang_wei").execute(EXTERNAL, {"input": data}))["data"]["registerExternalIncoming"]
    assert result["errors"] == []
    inc = result["incoming"]
    assert {k: inc[k] for k in ("state", "kind", "incomingNumber", "externalIssuer", "channel", "document")} == {
        "state": "REGISTERED",
        "kind": "MAIN",
        "incomingNumber": "收文〔2026〕1号",
        "externalIssuer": "财政部办公厅",
        "channel": "plain_telegram",
        "document": None,
    }
    assert [(h["action"], h["state"]) for h in inc["history"]] == [("RECEIVE", "RECEIVED"), ("REGISTER", "REGISTERED")]
    clerk, head = as_("zhang_wei"), as_("finance_head")
    await ok(clerk, "precheck", inc["id"], accept=True)
    await ok(clerk, "propose", inc["id"], opinion="拟请厅长阅示")
    await ok(head, "instruct", inc["id"], instruction="请张维办理")
    # Extra urgent on its header: the deadline is required.
    refused = await step(clerk, "assign", inc["id"], handlerIds=[gid("User", ids["zhang_wei2"])])
    assert codes(refused) == [("deadline", "DEADLINE_REQUIRED")]
    await ok(clerk, "assign", inc["id"], handlerIds=[gid("User", ids["zhang_wei2"])], deadline="2026-06-02")
    await ok(as_("zhang_wei2"), "handle", inc["id"], result="已办理")
    assert (await ok(clerk, "reply", inc["id"], reply="已办理完毕"))["state"] == "REPLIED"
    assert (await ok(clerk, "close", inc["id"]))["state"] == "CLOSED"


async def test_two_handlers_finishing_at_once(as_, ids: dict[str, int], platform: Any) -> None:
    _, copies = await dispatched(as_, platform, ids, main=[FINANCE])
    inc, clerk = copies[FINANCE], as_("zhang_wei")
    for name, extra in (("receive", {}), ("register", {}), ("precheck", {"accept": True})):
        await ok(clerk, name, inc, **extra)
    await ok(clerk, "propose", inc, opinion="拟请厅长阅示")
    await ok(as_("finance_head"), "instruct", inc, instruction="请办理")
    zhang2, wang = gid("User", ids["zhang_wei2"]), gid("User", ids["wang_wei"])
    await ok(clerk, "assign", inc, handlerIds=[zhang2, wang], leadHandlerId=zhang2)
    results = await asyncio.gather(
        step(as_("zhang_wei2"), "handle", inc, result="主办完成"),
        step(as_("wang_wei"), "handle", inc, result="协办完成"),
    )
    assert [r["errors"] for r in results] == [[], []]
    assert sorted(r["incoming"]["state"] for r in results) == ["HANDLED", "HANDLING"]
    got = (await clerk.execute(ONE, {"id": inc}))["data"]["incomingDocument"]
    assert got["state"] == "HANDLED"
    assert [h["state"] for h in got["history"][-2:]] == ["HANDLING", "HANDLED"]
    assert {h["result"] for h in got["handlers"]} == {"主办完成", "协办完成"}


INBOX_FILTERED = """query($unit: ID!, $state: IncomingState, $f: DocumentListFilter, $first: Int, $after: String) {
  incomingDocuments(unitId: $unit, state: $state, filter: $f, first: $first, after: $after) { totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id state externalTitle handlers { isLead } history { action actor { username } }
                   document { title docType urgency } } } } }"""


async def inbox(
    c: GraphQLClient,
    unit: str,
    flt: dict | None = None,
    state: str | None = None,
    first: int = 20,
    after: str | None = None,
) -> dict[str, Any]:
    data = await c.execute(INBOX_FILTERED, {"unit": unit, "state": state, "f": flt, "first": first, "after": after})
    assert "errors" not in data, data
    return data["data"]["incomingDocuments"]


def inbox_titles(conn: dict[str, Any]) -> list[str]:
    return [(e["node"]["document"] or {}).get("title") or e["node"]["externalTitle"] for e in conn["edges"]]


async def test_incoming_documents_take_the_list_filters(as_, ids: dict[str, int], platform: Any) -> None:
    flood = "山东省人民政府办公厅关于做好防汛工作的通知"
    letter = "山东省人民政府办公厅关于商请支持项目建设的函"
    budget = "财政部办公厅关于做好2026年预算执行工作的通知"
    _, copies_flood = await dispatched(as_, platform, ids, main=[FINANCE], urgency="urgent", title=flood)
    doc_letter, copies_letter = await dispatched(as_, platform, ids, main=[FINANCE], title=letter)
    clerk, unit = as_("zhang_wei"), gid("OrgUnit", ids[FINANCE])
    external = {
        "unitId": unit,
        "issuer": "财政部办公厅",
        "number": "财办发〔2026〕8号",
        "title": budget,
        "channel": "paper",
        "urgency": "EXTRA_URGENT",
    }
    result = (await clerk.execute(EXTERNAL, {"input": external}))["data"]["registerExternalIncoming"]
    assert result["errors"] == [], result
    # Dispatched / registered: the letter on 3 June, the external one at 00:30 on 2 June, the
    # flood notice at 23:30 on 1 June (Shanghai): newest first is the reverse of creation for two.
    times = {
        pk_of(copies_letter[FINANCE]): dt.datetime(2026, 6, 3, 2, 0, tzinfo=dt.UTC),
        pk_of(result["incoming"]["id"]): dt.datetime(2026, 6, 1, 16, 30, tzinfo=dt.UTC),
        pk_of(copies_flood[FINANCE]): dt.datetime(2026, 6, 1, 15, 30, tzinfo=dt.UTC),
    }
    async with platform.db.unit_of_work() as uow:
        for pk, at in times.items():
            await uow.session.execute(
                update(IncomingDocument).where(IncomingDocument.id == pk).values(dispatched_at=at)
            )
        await uow.session.execute(update(Document).where(Document.id == doc_letter).values(doc_type="letter"))

    every = await inbox(clerk, unit)
    assert (inbox_titles(every), every["totalCount"]) == ([letter, budget, flood], 3)
    assert [e["node"]["document"] for e in every["edges"]][1] is None
    # Document filters; an external copy matches urgency and search on its header only.
    assert inbox_titles(await inbox(clerk, unit, {"docType": "LETTER"})) == [letter]
    assert inbox_titles(await inbox(clerk, unit, {"docType": "NOTICE"})) == [flood]
    assert inbox_titles(await inbox(clerk, unit, {"status": "DISPATCHED"})) == [letter, flood]
    assert inbox_titles(await inbox(clerk, unit, {"urgency": "URGENT"})) == [flood]
    assert inbox_titles(await inbox(clerk, unit, {"urgency": "EXTRA_URGENT"})) == [budget]
    assert inbox_titles(await inbox(clerk, unit, {"urgency": "NORMAL"})) == [letter]
    assert inbox_titles(await inbox(clerk, unit, {"search": "防汛"})) == [flood]
    assert inbox_titles(await inbox(clerk, unit, {"search": "预算执行"})) == [budget]
    assert inbox_titles(await inbox(clerk, unit, {"search": "财办发〔2026〕8号"})) == [budget]
    assert inbox_titles(await inbox(clerk, unit, {"search": "财政部"})) == [budget]
    assert inbox_titles(await inbox(clerk, unit, {"search": "关于做好"})) == [budget, flood]
    assert inbox_titles(await inbox(clerk, unit, {"search": "预算", "urgency": "URGENT"})) == []
    assert inbox_titles(await inbox(clerk, unit, {"from": "2026-06-01", "to": "2026-06-01"})) == [flood]
    assert inbox_titles(await inbox(clerk, unit, {"from": "2026-06-02", "to": "2026-06-02"})) == [budget]
    assert inbox_titles(await inbox(clerk, unit, {"from": "2026-06-02"})) == [letter, budget]
    assert (await inbox(clerk, unit, {"to": "2026-05-31"}))["totalCount"] == 0
    # The filter and `state` combine (AND).
    assert inbox_titles(await inbox(clerk, unit, {"search": "关于做好"}, state="REGISTERED")) == [budget]
    assert inbox_titles(await inbox(clerk, unit, {"search": "关于做好"}, state="PENDING_RECEIPT")) == [flood]

    # Pages are stable while newer copies arrive.
    page1 = await inbox(clerk, unit, first=2)
    assert (inbox_titles(page1), page1["pageInfo"]["hasNextPage"]) == ([letter, budget], True)
    platform.clock = lambda: dt.datetime(2026, 6, 4, 2, 0, tzinfo=dt.UTC)
    await dispatched(as_, platform, ids, main=[FINANCE], title="山东省人民政府办公厅关于新到事项的通知")
    page2 = await inbox(clerk, unit, first=2, after=page1["pageInfo"]["endCursor"])
    assert (inbox_titles(page2), page2["pageInfo"]["hasNextPage"], page2["totalCount"]) == ([flood], False, 4)

    # A filtered page costs the same number of statements whatever its size.
    counts = {}
    for first in (1, 4):
        with count_statements(platform) as statements:
            conn = await inbox(clerk, unit, {"from": "2026-01-01", "search": "关于"}, first=first)
        assert len(conn["edges"]) == first
        counts[first] = len(statements)
    assert counts[1] == counts[4], counts

    # Permission as before: a non-member gets FORBIDDEN, with or without a filter; bad input is typed.
    refused = await as_("clerk_370100").execute(INBOX_FILTERED, {"unit": unit, "f": {"search": "预算"}})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await clerk.execute(INBOX_FILTERED, {"unit": unit, "f": {"from": "2026-06-02", "to": "2026-06-01"}})
    assert bad["data"] is None
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "filter.to"}

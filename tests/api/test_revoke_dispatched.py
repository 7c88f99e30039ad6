"""Revoke (撤销) and repeal (废止) of a dispatched document as the recipient units see it
(REG Art. 33), through GraphQL on SQLite and PostgreSQL.

The General Office's clerk drafts, registers, dispatches and then revokes or repeals (it may:
a clerk of the issuing unit). Recipients: the cities of Jinan (370100) and Qingdao (370200),
whose clerks are ``clerk_370100`` / ``clerk_370200``, and 山东省财政厅 (370000-finance) with
张伟 (zhang_wei) as its clerk, 赵厅长 (finance_head) its head and 王伟 (wang_wei) a handler.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from documents.incoming_models import IncomingDocument
from documents.models import Document
from office_api.deadlines import Deadline
from office_api.org.models import OrgUnit
from tests.api import test_incoming as incoming_tests
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import NOW, gid, registered_document

FINANCE = "370000-finance"
JINAN, QINGDAO, ZIBO = "370100", "370200", "370300"
TITLE = "山东省人民政府办公厅关于做好防汛工作的通知"
NUMBER = "鲁政办发〔2026〕1号"
REASON = "与上位法相抵触"

FIELDS = """id state version incomingNumber closedAt history { action state opinion actor { username } createdAt }"""
STEPS = {
    "receive": ("receiveIncoming", "IncomingStepInput"),
    "register": ("registerIncoming", "IncomingStepInput"),
    "precheck": ("precheckIncoming", "PrecheckIncomingInput"),
    "propose": ("proposeIncoming", "ProposeIncomingInput"),
    "instruct": ("instructIncoming", "InstructIncomingInput"),
    "assign": ("assignIncoming", "AssignIncomingInput"),
    "handle": ("handleIncoming", "HandleIncomingInput"),
    "close": ("closeIncoming", "CloseIncomingInput"),
}
DISPATCH = """mutation($id: ID!) { dispatchDocument(input: {documentId: $id}) {
  document { status } errors { field code } } }"""
REVOKE = """mutation($id: ID!, $r: String!) { revokeDocument(input: {documentId: $id, reason: $r}) {
  document { status } errors { field code } } }"""
REPEAL = """mutation($id: ID!, $r: String!, $on: Date!) {
  repealDocument(input: {documentId: $id, reason: $r, effectiveOn: $on}) {
  document { status } errors { field code } } }"""
ONE = f"query($id: ID!) {{ incomingDocument(id: $id) {{ {FIELDS} document {{ status }} }} }}"
NOTES = "{ notifications(first: 100) { edges { node { kind title body subjectType subjectId data } } } }"


# The same organization set-up as the incoming-procedure tests (zhang_wei is 财政厅's clerk).
ids = incoming_tests.ids
as_ = incoming_tests.as_


async def run(c: GraphQLClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    data = await c.execute(query, variables)
    assert "errors" not in data, data
    (payload,) = data["data"].values()
    return payload


async def step(c: GraphQLClient, name: str, incoming: str, **fields: Any) -> dict[str, Any]:
    root, input_type = STEPS[name]
    query = (
        f"mutation($input: {input_type}!) {{ {root}(input: $input) "
        f"{{ incoming {{ {FIELDS} }} errors {{ field code message }} }} }}"
    )
    return await run(c, query, {"input": {"incomingId": incoming, **fields}})


async def ok(c: GraphQLClient, name: str, incoming: str, **fields: Any) -> dict[str, Any]:
    result = await step(c, name, incoming, **fields)
    assert result["errors"] == [], result
    return result["incoming"]


def refused_as_revoked(result: dict[str, Any]) -> bool:
    (error,) = result["errors"]
    return (error["field"], error["code"]) == ("incomingId", "INVALID_STATE") and "revoked" in error["message"]


async def notes(c: GraphQLClient) -> list[dict[str, Any]]:
    """``c``'s notifications, oldest first."""
    data = await c.execute(NOTES)
    assert "errors" not in data, data
    return [e["node"] for e in reversed(data["data"]["notifications"]["edges"])]


async def copies_of(platform: Any, doc: int) -> dict[str, str]:
    """The incoming ids of ``doc`` by unit code."""
    q = (
        select(OrgUnit.code, IncomingDocument.id)
        .join(OrgUnit, OrgUnit.id == IncomingDocument.unit_id)
        .where(IncomingDocument.document_id == doc)
    )
    async with platform.db.read() as s:
        return {code: gid("IncomingDocument", pk) for code, pk in (await s.execute(q)).all()}


async def dispatched(as_, platform: Any, ids: dict[str, int], main: list[str]) -> tuple[int, dict[str, str]]:
    doc = await registered_document(platform, ids, main=main, title=TITLE)
    assert (await run(as_("clerk"), DISPATCH, {"id": gid("Document", doc)}))["errors"] == []
    return doc, await copies_of(platform, doc)


async def copy_clocks(platform: Any, doc: int) -> list[str]:
    """The statuses of the deadline clocks of ``doc``'s incoming copies."""
    q = (
        select(Deadline.status)
        .join(IncomingDocument, IncomingDocument.id == Deadline.subject_id)
        .where(Deadline.subject_type == "incoming", IncomingDocument.document_id == doc)
    )
    async with platform.db.read() as s:
        return list((await s.execute(q)).scalars())


def void_note(kind: str, title: str, body: str, inc: str, doc: int, unit: int, state: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "title": title,
        "body": body,
        "subjectType": "IncomingDocument",
        "subjectId": inc,
        "data": {"unitId": gid("OrgUnit", unit), "state": state, "documentId": gid("Document", doc)},
    }


async def test_revoke_tells_every_holder_and_leaves_only_closing(as_, ids: dict[str, int], platform: Any) -> None:
    doc, copies = await dispatched(as_, platform, ids, [JINAN, QINGDAO, ZIBO, FINANCE])
    jinan, qingdao, zibo, finance = as_("clerk_370100"), as_("clerk_370200"), as_("clerk_370300"), as_("zhang_wei")
    # Qingdao has signed for its copy; Zibo returned it to the sender; Finance is handling it.
    await ok(qingdao, "receive", copies[QINGDAO])
    await ok(zibo, "receive", copies[ZIBO])
    await ok(zibo, "register", copies[ZIBO])
    await ok(zibo, "precheck", copies[ZIBO], accept=False, opinion="不属于本单位职责")
    fin = copies[FINANCE]
    await ok(finance, "receive", fin)
    await ok(finance, "register", fin)
    await ok(finance, "precheck", fin, accept=True)
    await ok(finance, "propose", fin, opinion="拟请赵厅长阅示。")
    await ok(as_("finance_head"), "instruct", fin, instruction="请王伟办理。")
    await ok(finance, "assign", fin, handlerIds=[gid("User", ids["wang_wei"])])
    holders = ("clerk_370100", "clerk_370200", "clerk_370300", "zhang_wei", "finance_head", "wang_wei")
    seen = {u: len(await notes(as_(u))) for u in (*holders, "secretary_general")}
    assert await copy_clocks(platform, doc) == ["running"]  # Finance's handling runs on a deadline

    assert (await run(as_("clerk"), REVOKE, {"id": gid("Document", doc), "r": REASON}))["errors"] == []

    title, body = f"已撤销：{TITLE}", f"{NUMBER} 已撤销，自始无效，收文停止办理（可办结归档）：{REASON}"
    new = {u: (await notes(as_(u)))[seen[u] :] for u in (*holders, "secretary_general")}
    assert new["clerk_370100"] == [
        void_note("DOCUMENT_REVOKED", title, body, copies[JINAN], doc, ids[JINAN], "pending_receipt")
    ]
    assert new["clerk_370200"] == [
        void_note("DOCUMENT_REVOKED", title, body, copies[QINGDAO], doc, ids[QINGDAO], "received")
    ]
    assert new["clerk_370300"] == []  # returned to the sender: no longer the unit's
    for who in ("zhang_wei", "finance_head", "wang_wei"):
        assert new[who] == [void_note("DOCUMENT_REVOKED", title, body, fin, doc, ids[FINANCE], "handling")], who
    # The signer is told as before, on the document itself.
    assert [(n["kind"], n["subjectType"]) for n in new["secretary_general"]] == [("DOCUMENT_REVOKED", "Document")]

    # Nobody is reminded of a void copy: its deadline is cancelled, not left to turn red.
    assert await copy_clocks(platform, doc) == ["cancelled"]

    # Each copy's history records it, state unchanged; the returned copy's does not.
    got = await run(jinan, ONE, {"id": copies[JINAN]})
    assert (got["state"], got["document"]["status"]) == ("PENDING_RECEIPT", "REVOKED")
    assert [(h["action"], h["state"], h["opinion"], h["actor"]["username"]) for h in got["history"]] == [
        ("DISPATCH", "PENDING_RECEIPT", None, "clerk"),
        ("REVOKED", "PENDING_RECEIPT", REASON, "clerk"),
    ]
    assert got["history"][-1]["createdAt"] == NOW.isoformat()
    assert [h["action"] for h in (await run(zibo, ONE, {"id": copies[ZIBO]}))["history"]][-1] == "RETURN"

    # No step goes on: no 签收, no 收文编号, no handling.
    assert refused_as_revoked(await step(jinan, "receive", copies[JINAN]))
    assert refused_as_revoked(await step(qingdao, "register", copies[QINGDAO]))
    assert refused_as_revoked(await step(as_("wang_wei"), "handle", fin, result="已办理"))
    # Permission still comes first: a stranger is told NOT_FOUND, not the state.
    stranger = await step(as_("drc_head"), "receive", copies[JINAN])
    assert [(e["field"], e["code"]) for e in stranger["errors"]] == [("incomingId", "NOT_FOUND")]
    async with platform.db.read() as s:
        numbered = select(func.count()).select_from(IncomingDocument).where(IncomingDocument.serial_seq.is_not(None))
        assert (await s.execute(numbered)).scalar_one() == 2  # Zibo and Finance, before the revocation

    # Closing (办结) files the void copy away, from any state not final.
    closed = await ok(jinan, "close", copies[JINAN], opinion="已撤销，归档")
    assert (closed["state"], closed["closedAt"], closed["incomingNumber"]) == ("CLOSED", NOW.isoformat(), None)
    assert [h["action"] for h in closed["history"]] == ["DISPATCH", "REVOKED", "CLOSE"]
    assert (await ok(qingdao, "close", copies[QINGDAO]))["state"] == "CLOSED"
    assert (await ok(finance, "close", fin))["state"] == "CLOSED"
    again = await step(jinan, "close", copies[JINAN])
    assert [(e["field"], e["code"]) for e in again["errors"]] == [("incomingId", "INVALID_STATE")]


async def test_repeal_tells_the_holders_and_the_procedure_goes_on(as_, ids: dict[str, int], platform: Any) -> None:
    doc, copies = await dispatched(as_, platform, ids, [JINAN, QINGDAO])
    jinan, qingdao = as_("clerk_370100"), as_("clerk_370200")
    await ok(qingdao, "receive", copies[QINGDAO])
    seen = {u: len(await notes(as_(u))) for u in ("clerk_370100", "clerk_370200")}

    repealed = await run(
        as_("secretary_general"), REPEAL, {"id": gid("Document", doc), "r": "已被新文件替代", "on": "2026-07-01"}
    )
    assert repealed == {"document": {"status": "REPEALED"}, "errors": []}

    title, body = f"已废止：{TITLE}", f"{NUMBER} 自2026年7月1日起废止：已被新文件替代"
    assert (await notes(jinan))[seen["clerk_370100"] :] == [
        void_note("DOCUMENT_REPEALED", title, body, copies[JINAN], doc, ids[JINAN], "pending_receipt")
    ]
    assert (await notes(qingdao))[seen["clerk_370200"] :] == [
        void_note("DOCUMENT_REPEALED", title, body, copies[QINGDAO], doc, ids[QINGDAO], "received")
    ]

    # Valid until the repeal date: signing for and registering still work.
    assert (await ok(jinan, "receive", copies[JINAN]))["state"] == "RECEIVED"
    got = await ok(qingdao, "register", copies[QINGDAO])
    assert (got["state"], got["incomingNumber"]) == ("REGISTERED", "收文〔2026〕1号")
    assert [(h["action"], h["state"], h["opinion"], h["actor"]["username"]) for h in got["history"]] == [
        ("DISPATCH", "PENDING_RECEIPT", None, "clerk"),
        ("RECEIVE", "RECEIVED", None, "clerk_370200"),
        ("REPEALED", "RECEIVED", "自2026年7月1日起废止：已被新文件替代", "secretary_general"),
        ("REGISTER", "REGISTERED", "收文〔2026〕1号", "clerk_370200"),
    ]


async def test_revoking_a_registered_document_before_dispatch_reaches_nobody(
    as_, ids: dict[str, int], platform: Any
) -> None:
    doc = await registered_document(platform, ids, main=[JINAN], title=TITLE)
    before = len(await notes(as_("clerk_370100")))
    assert (await run(as_("clerk"), REVOKE, {"id": gid("Document", doc), "r": REASON}))["errors"] == []
    assert len(await notes(as_("clerk_370100"))) == before
    refused = await run(as_("clerk"), DISPATCH, {"id": gid("Document", doc)})
    assert refused == {"document": None, "errors": [{"field": "documentId", "code": "INVALID_STATE"}]}
    assert await copies_of(platform, doc) == {}


async def test_dispatch_racing_a_revocation_ends_consistent(as_, ids: dict[str, int], platform: Any) -> None:
    docs = [await registered_document(platform, ids, main=[JINAN, QINGDAO], title=TITLE) for _ in range(3)]
    sender, head = as_("clerk"), as_("secretary_general")
    seen = {u: len(await notes(as_(u))) for u in ("clerk_370100", "clerk_370200")}
    expected: dict[str, list[tuple[str, str]]] = {"clerk_370100": [], "clerk_370200": []}
    for doc in docs:
        dispatch, revoke = await asyncio.gather(
            run(sender, DISPATCH, {"id": gid("Document", doc)}),
            run(head, REVOKE, {"id": gid("Document", doc), "r": REASON}),
        )
        assert revoke == {"document": {"status": "REVOKED"}, "errors": []}
        async with platform.db.read() as s:
            assert (await s.get(Document, doc)).status == "revoked"  # type: ignore[union-attr]
        copies = await copies_of(platform, doc)
        if dispatch["errors"]:  # the revocation came first
            assert dispatch == {"document": None, "errors": [{"field": "documentId", "code": "INVALID_STATE"}]}
            assert copies == {}
            continue
        assert dispatch["document"] == {"status": "DISPATCHED"}
        assert set(copies) == {JINAN, QINGDAO}
        for code in (JINAN, QINGDAO):
            history = (await run(as_(f"clerk_{code}"), ONE, {"id": copies[code]}))["history"]
            assert [(h["action"], h["state"]) for h in history] == [
                ("DISPATCH", "PENDING_RECEIPT"),
                ("REVOKED", "PENDING_RECEIPT"),
            ]
            expected[f"clerk_{code}"] += [("INCOMING_ARRIVED", copies[code]), ("DOCUMENT_REVOKED", copies[code])]
    for who, want in expected.items():
        got = (await notes(as_(who)))[seen[who] :]
        assert [(n["kind"], n["subjectId"]) for n in got] == want

"""Circulation for reading (传阅) through GraphQL, on SQLite and PostgreSQL.

clerk drafts; the route is 核稿 by deputy then 签发 by secretary_general, so finance_head and
drc_head can read the document only once it is circulated to them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import update

from documents.models import Circulation
from tests.api import test_documents as shared
from tests.api.test_documents import Demo, codes, create_ok, doc_input, notifications, snapshot, step, submitted
from tests.conftest import GraphQLClient, count_statements
from tests.documents_helpers import pk_of

demo = shared.demo
users = shared.users

CIRCULATE = """mutation($input: CirculateDocumentInput!) { circulateDocument(input: $input) {
  document { id version }
  circulation { id note sentAt readAt reader { username } sentBy { username } }
  skipped { username }
  errors { field code } } }"""
MARK = """mutation($input: MarkCirculationReadInput!) { markCirculationRead(input: $input) {
  item { id readAt comment reader { username } } errors { field code } } }"""
DOC = """query($id: ID!) { document(id: $id) {
  id version
  circulation { id note readAt comment reader { username } sentBy { username } }
  circulationSummary { readers read unread }
  history { action opinion actor { username } } } }"""
TO_READ = """query($unread: Boolean, $first: Int, $after: String) {
  toRead(unread: $unread, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id note readAt sentBy { username } document { id title } } } } }"""


def short_route(demo: Demo) -> dict[str, Any]:
    return {"steps": [step(demo, "核稿", "SINGLE", "deputy"), step(demo, "签发", "SINGLE", "secretary_general")]}


async def circulate(
    c: GraphQLClient, doc_id: str, readers: list[str], note: str | None = None, key: str | None = None
) -> dict[str, Any]:
    variables = {"input": {"documentId": doc_id, "readerIds": readers, "note": note, "idempotencyKey": key}}
    data = await c.execute(CIRCULATE, variables)
    assert "errors" not in data, data
    return data["data"]["circulateDocument"]


async def mark(c: GraphQLClient, item_id: str, comment: str | None = None) -> dict[str, Any]:
    data = await c.execute(MARK, {"input": {"circulationId": item_id, "comment": comment}})
    assert "errors" not in data, data
    return data["data"]["markCirculationRead"]


async def read(c: GraphQLClient, doc_id: str) -> dict[str, Any] | None:
    data = await c.execute(DOC, {"id": doc_id})
    assert "errors" not in data, data
    return data["data"]["document"]


async def to_read(c: GraphQLClient, unread: bool | None = None, first: int = 20, after: str | None = None) -> dict:
    data = await c.execute(TO_READ, {"unread": unread, "first": first, "after": after})
    assert "errors" not in data, data
    return data["data"]["toRead"]


async def in_review(users: dict[str, GraphQLClient], demo: Demo, **kw: Any) -> str:
    return await submitted(users["clerk"], doc_input(demo, route=short_route(demo), **kw))


async def test_circulate_then_read_with_a_comment(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await in_review(users, demo)
    assert await read(users["finance_head"], doc_id) is None
    result = await circulate(users["clerk"], doc_id, [demo.user("finance_head"), demo.user("drc_head")], note="请阅知")
    assert result["errors"] == []
    assert result["skipped"] == []
    items = result["circulation"]
    assert [(i["reader"]["username"], i["sentBy"]["username"], i["note"], i["readAt"]) for i in items] == [
        ("finance_head", "clerk", "请阅知", None),
        ("drc_head", "clerk", "请阅知", None),
    ]
    assert result["document"]["version"] == 2  # circulation is not an edit
    # Readers are told and can now read the document.
    doc = await read(users["finance_head"], doc_id)
    assert doc is not None
    assert doc["circulationSummary"] == {"readers": 2, "read": 0, "unread": 2}
    notes = await notifications(users["finance_head"])
    assert [(n["kind"], n["data"]) for n in notes] == [("DOCUMENT_CIRCULATED", {"circulationId": items[0]["id"]})]
    assert "请阅知" in notes[0]["body"]
    listing = await to_read(users["finance_head"], unread=True)
    assert listing["totalCount"] == 1
    assert listing["edges"][0]["node"]["document"]["id"] == doc_id
    # Only the reader marks their item; marking twice keeps the first readAt and comment.
    assert codes((await mark(users["drc_head"], items[0]["id"]))["errors"]) == [("circulationId", "NOT_FOUND")]
    first = await mark(users["finance_head"], items[0]["id"], "已阅，无意见")
    assert first["errors"] == []
    assert first["item"]["readAt"] is not None
    again = await mark(users["finance_head"], items[0]["id"], "另一条意见")
    assert again["errors"] == []
    assert again["item"] == first["item"]
    assert (await to_read(users["finance_head"], unread=True))["totalCount"] == 0
    assert (await to_read(users["finance_head"], unread=False))["totalCount"] == 1
    doc = await read(users["clerk"], doc_id)
    assert doc is not None
    assert doc["circulationSummary"] == {"readers": 2, "read": 1, "unread": 1}
    assert [(c["reader"]["username"], c["comment"], c["readAt"] is not None) for c in doc["circulation"]] == [
        ("finance_head", "已阅，无意见", True),
        ("drc_head", None, False),
    ]
    assert [(h["action"], h["actor"]["username"], h["opinion"]) for h in doc["history"]][2:] == [
        ("CIRCULATED", "clerk", "请阅知"),
        ("CIRCULATION_READ", "finance_head", "已阅，无意见"),
    ]
    clerk_notes = await notifications(users["clerk"])
    assert [(n["kind"], n["data"]) for n in clerk_notes] == [("CIRCULATION_READ", {"circulationId": items[0]["id"]})]
    # A reader who read without a comment may add one later (once).
    assert (await mark(users["drc_head"], items[1]["id"]))["item"]["comment"] is None
    added = await mark(users["drc_head"], items[1]["id"], "拟同意")
    assert added["item"]["comment"] == "拟同意"
    assert len(await notifications(users["clerk"])) == 3


async def test_readers_pass_it_on_and_unread_readers_are_skipped(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await in_review(users, demo)
    first = await circulate(users["clerk"], doc_id, [demo.user("finance_head"), demo.user("drc_head")])
    finance_item = first["circulation"][0]["id"]
    # finance_head passes it on: drc_head still has it unread (skipped), secretary_general gets it.
    passed = await circulate(
        users["finance_head"], doc_id, [demo.user("drc_head"), demo.user("secretary_general")], "请阅"
    )
    assert passed["errors"] == []
    assert passed["skipped"] == [{"username": "drc_head"}]
    assert [(c["reader"]["username"], c["sentBy"]["username"]) for c in passed["circulation"]] == [
        ("secretary_general", "finance_head")
    ]
    assert await read(users["secretary_general"], doc_id) is not None
    assert [n["kind"] for n in await notifications(users["drc_head"])] == ["DOCUMENT_CIRCULATED"]
    # Everybody skipped: nothing written.
    none = await circulate(users["clerk"], doc_id, [demo.user("drc_head")])
    assert (none["errors"], none["circulation"], none["skipped"]) == ([], [], [{"username": "drc_head"}])
    # Once read, a reader can get it again (a new item).
    await mark(users["finance_head"], finance_item)
    again = await circulate(users["deputy"], doc_id, [demo.user("finance_head")])
    assert [c["reader"]["username"] for c in again["circulation"]] == ["finance_head"]
    doc = await read(users["clerk"], doc_id)
    assert doc is not None
    assert [(c["sentBy"]["username"], c["reader"]["username"]) for c in doc["circulation"]] == [
        ("clerk", "finance_head"),
        ("clerk", "drc_head"),
        ("finance_head", "secretary_general"),
        ("deputy", "finance_head"),
    ]
    assert doc["circulationSummary"] == {"readers": 3, "read": 0, "unread": 3}
    assert [h["action"] for h in doc["history"]].count("CIRCULATED") == 3


async def test_circulation_refusals_change_nothing(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    draft = await create_ok(users["clerk"], doc_input(demo, route=short_route(demo)))
    doc_id = await in_review(users, demo)
    before = await snapshot(platform)
    assert codes((await circulate(users["clerk"], draft["id"], [demo.user("drc_head")]))["errors"]) == [
        ("documentId", "INVALID_STATE")
    ]
    assert codes((await circulate(users["drc_head"], doc_id, [demo.user("admin")]))["errors"]) == [
        ("documentId", "NOT_FOUND")
    ]
    result = await circulate(
        users["clerk"],
        doc_id,
        [demo.user("drc_head"), demo.user("clerk"), demo.user("drc_head"), "VXNlcjo5OTk5OTk="],
    )
    assert codes(result["errors"]) == [
        ("readerIds.1", "INVALID_VALUE"),
        ("readerIds.2", "DUPLICATE"),
        ("readerIds.3", "NOT_FOUND"),
    ]
    assert codes((await circulate(users["clerk"], doc_id, []))["errors"]) == [("readerIds", "REQUIRED")]
    assert codes((await circulate(users["clerk"], doc_id, [demo.user("drc_head")], "长" * 501))["errors"]) == [
        ("note", "TOO_LONG")
    ]
    assert await snapshot(platform) == before
    assert (await to_read(users["drc_head"]))["totalCount"] == 0


async def test_work_secret_is_passed_on_only_by_participants(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await in_review(users, demo, sensitivity="WORK_SECRET")
    assert (await circulate(users["deputy"], doc_id, [demo.user("finance_head")]))["errors"] == []
    refused = await circulate(users["finance_head"], doc_id, [demo.user("drc_head")])
    assert codes(refused["errors"]) == [("documentId", "CIRCULATION_RESTRICTED")]
    assert await read(users["drc_head"], doc_id) is None


async def test_to_read_pages_newest_first(users: dict[str, GraphQLClient], demo: Demo) -> None:
    ids = [await in_review(users, demo, title=f"关于第{i}项工作的通知") for i in range(3)]
    for doc_id in ids:
        assert (await circulate(users["clerk"], doc_id, [demo.user("drc_head")]))["errors"] == []
    page = await to_read(users["drc_head"], first=2)
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (3, True)
    assert [e["node"]["document"]["id"] for e in page["edges"]] == [ids[2], ids[1]]
    rest = await to_read(users["drc_head"], first=2, after=page["pageInfo"]["endCursor"])
    assert ([e["node"]["document"]["id"] for e in rest["edges"]], rest["pageInfo"]["hasNextPage"]) == ([ids[0]], False)


async def test_concurrent_circulations_to_one_reader_make_one_item(users: dict[str, GraphQLClient], demo: Demo) -> None:
    for i in range(3):
        doc_id = await in_review(users, demo, title=f"并发{i}")
        a, b = await asyncio.gather(
            circulate(users["clerk"], doc_id, [demo.user("drc_head")]),
            circulate(users["deputy"], doc_id, [demo.user("drc_head")]),
        )
        assert a["errors"] == b["errors"] == []
        assert sorted(len(r["circulation"]) for r in (a, b)) == [0, 1]
        assert sorted(len(r["skipped"]) for r in (a, b)) == [0, 1]
        doc = await read(users["clerk"], doc_id)
        assert doc is not None
        assert len(doc["circulation"]) == 1
    sequences = [n["sequence"] for n in await notifications(users["drc_head"])]
    assert sequences == [1, 2, 3]


async def test_retried_circulation_with_a_key_sends_once(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await in_review(users, demo)
    first = await circulate(users["clerk"], doc_id, [demo.user("drc_head")], "请阅", key="c-1")
    second = await circulate(users["clerk"], doc_id, [demo.user("drc_head")], "请阅", key="c-1")
    assert first["errors"] == second["errors"] == []
    assert second["circulation"] == first["circulation"]
    assert second["skipped"] == []
    reused = await circulate(users["clerk"], doc_id, [demo.user("finance_head")], "请阅", key="c-1")
    assert codes(reused["errors"]) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert len(await notifications(users["drc_head"])) == 1


TO_READ_DEEP = """query($first: Int) { toRead(first: $first) { edges { node {
  id sentBy { username } reader { username }
  document { id title circulationSummary { readers read } circulation { reader { username } sentBy { username } } }
} } } }"""


async def test_to_read_query_count_does_not_grow_with_the_page(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    for i in range(6):
        doc_id = await in_review(users, demo, title=f"关于第{i}项工作的通知")
        assert (await circulate(users["clerk"], doc_id, [demo.user("drc_head"), demo.user("finance_head")]))[
            "errors"
        ] == []
    counts = {}
    for first in (2, 6):
        with count_statements(platform) as statements:
            data = await users["drc_head"].execute(TO_READ_DEEP, {"first": first})
        assert "errors" not in data, data
        assert len(data["data"]["toRead"]["edges"]) == first
        counts[first] = len(statements)
    assert counts[2] == counts[6], counts


async def test_double_tapped_mark_read_records_one_reading(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await in_review(users, demo)
    item = (await circulate(users["clerk"], doc_id, [demo.user("drc_head")]))["circulation"][0]["id"]
    a, b = await asyncio.gather(mark(users["drc_head"], item, "同意"), mark(users["drc_head"], item, "同意"))
    assert a["errors"] == b["errors"] == []
    assert a["item"]["readAt"] == b["item"]["readAt"] is not None
    doc = await read(users["clerk"], doc_id)
    assert doc is not None
    assert [h["action"] for h in doc["history"]].count("CIRCULATION_READ") == 1
    assert [n["kind"] for n in await notifications(users["clerk"])] == ["CIRCULATION_READ"]


TO_READ_FILTERED = """query($unread: Boolean, $f: DocumentListFilter, $first: Int, $after: String) {
  toRead(unread: $unread, filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id sentAt sentBy { username } document { id title urgency docType circulationSummary { read } } } }
  } }"""


async def filtered(
    c: GraphQLClient, flt: dict | None = None, unread: bool | None = None, first: int = 20, after: str | None = None
) -> dict:
    data = await c.execute(TO_READ_FILTERED, {"unread": unread, "f": flt, "first": first, "after": after})
    assert "errors" not in data, data
    return data["data"]["toRead"]


def read_titles(conn: dict) -> list[str]:
    return [e["node"]["document"]["title"] for e in conn["edges"]]


async def test_to_read_takes_the_list_filters_ordered_by_when_sent(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    clerk, reader = users["clerk"], users["drc_head"]
    a = await in_review(users, demo, title="关于做好安全生产工作的通知")
    b = await in_review(users, demo, title="关于做好防汛工作的通知", urgency="URGENT")
    c = await in_review(users, demo, title="关于预算执行事项的函", docType="LETTER")
    for doc_id in (a, b, c):
        assert (await circulate(clerk, doc_id, [demo.user("drc_head")]))["errors"] == []
    # Sent: a on 3 June, b at 00:30 on 2 June, c at 23:30 on 1 June (Shanghai): newest first is
    # a, b, c although the items were created c last.
    sent = {
        a: dt.datetime(2026, 6, 3, 2, 0, tzinfo=dt.UTC),
        b: dt.datetime(2026, 6, 1, 16, 30, tzinfo=dt.UTC),
        c: dt.datetime(2026, 6, 1, 15, 30, tzinfo=dt.UTC),
    }
    async with platform.db.unit_of_work() as uow:
        for doc_id, at in sent.items():
            await uow.session.execute(
                update(Circulation).where(Circulation.document_id == pk_of(doc_id)).values(sent_at=at)
            )
    every = await filtered(reader)
    assert (read_titles(every), every["totalCount"]) == (
        ["关于做好安全生产工作的通知", "关于做好防汛工作的通知", "关于预算执行事项的函"],
        3,
    )
    assert read_titles(await filtered(reader, {"docType": "LETTER"})) == ["关于预算执行事项的函"]
    assert read_titles(await filtered(reader, {"urgency": "URGENT"})) == ["关于做好防汛工作的通知"]
    assert read_titles(await filtered(reader, {"search": "安全生产"})) == ["关于做好安全生产工作的通知"]
    assert read_titles(await filtered(reader, {"search": "做好 工作"})) == [
        "关于做好安全生产工作的通知",
        "关于做好防汛工作的通知",
    ]
    assert read_titles(await filtered(reader, {"from": "2026-06-01", "to": "2026-06-01"})) == ["关于预算执行事项的函"]
    assert read_titles(await filtered(reader, {"from": "2026-06-02", "to": "2026-06-02"})) == ["关于做好防汛工作的通知"]
    assert (await filtered(reader, {"to": "2026-05-31"}))["totalCount"] == 0
    assert (await filtered(reader, {"status": "IN_REVIEW"}))["totalCount"] == 3
    assert (await filtered(reader, {"status": "DRAFT"}))["totalCount"] == 0
    # The filter and `unread` combine (AND).
    item_a = every["edges"][0]["node"]["id"]
    assert (await mark(reader, item_a))["errors"] == []
    unread_notices = await filtered(reader, {"search": "做好"}, unread=True)
    assert (read_titles(unread_notices), unread_notices["totalCount"]) == (["关于做好防汛工作的通知"], 1)
    assert read_titles(await filtered(reader, {"search": "做好"}, unread=False)) == ["关于做好安全生产工作的通知"]
    # Someone else's to-read list stays empty whatever the filter.
    assert (await filtered(users["finance_head"], {"search": "做好"}))["totalCount"] == 0

    # Pages are stable while newer items arrive.
    page1 = await filtered(reader, {"search": "关于"}, first=2)
    assert (read_titles(page1), page1["pageInfo"]["hasNextPage"]) == (
        ["关于做好安全生产工作的通知", "关于做好防汛工作的通知"],
        True,
    )
    d = await in_review(users, demo, title="关于新到事项的通知")
    assert (await circulate(clerk, d, [demo.user("drc_head")]))["errors"] == []
    page2 = await filtered(reader, {"search": "关于"}, first=2, after=page1["pageInfo"]["endCursor"])
    assert (read_titles(page2), page2["pageInfo"]["hasNextPage"], page2["totalCount"]) == (
        ["关于预算执行事项的函"],
        False,
        4,
    )
    assert read_titles(await filtered(reader, {"search": "关于"}, first=1)) == ["关于新到事项的通知"]

    # The filtered page costs the same number of statements whatever its size.
    counts = {}
    for first in (1, 4):
        with count_statements(platform) as statements:
            conn = await filtered(reader, {"search": "关于", "from": "2026-01-01"}, first=first)
        assert len(conn["edges"]) == first
        counts[first] = len(statements)
    assert counts[1] == counts[4], counts

    bad = await reader.execute(TO_READ_FILTERED, {"f": {"from": "2026-06-02", "to": "2026-06-01"}})
    assert bad["data"] is None
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "filter.to"}

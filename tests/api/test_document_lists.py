"""The lists people work from (待办, 已办, 我的发文, 归档) through GraphQL, on SQLite and PostgreSQL:
filters, Asia/Shanghai date ranges, stable cursors, and a constant number of SQL statements."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from sqlalchemy import update
from strawberry.relay import GlobalID

from documents.models import Document
from tests.api import test_documents as documents_api
from tests.api.test_documents import Demo, approve, create_ok, doc_input, step, submitted
from tests.conftest import GraphQLClient, count_statements

#: Fixtures shared with the documents tests.
demo = documents_api.demo
users = documents_api.users

LIST = """query($f: DocumentListFilter, $first: Int, $after: String) {{
  {name}(filter: $f, first: $first, after: $after) {{
  totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }}
  edges {{ cursor node {{ {fields} }} }} }} }}"""
TASK_FIELDS = "id status document { id title }"
DOC_FIELDS = "id title status"


def pk(gid: str) -> int:
    return int(GlobalID.from_id(gid).node_id)


async def box(c: GraphQLClient, name: str, flt: dict | None = None, first: int = 100, after: str | None = None):
    fields = TASK_FIELDS if name in ("myTasks", "myDoneTasks") else DOC_FIELDS
    data = await c.execute(LIST.format(name=name, fields=fields), {"f": flt, "first": first, "after": after})
    assert "errors" not in data, data
    return data["data"][name]


def titles(conn: dict, task: bool = False) -> list[str]:
    return [e["node"]["document"]["title"] if task else e["node"]["title"] for e in conn["edges"]]


async def test_boxes_and_their_filters(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    clerk, deputy = users["clerk"], users["deputy"]
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy")]}
    a = await submitted(clerk, doc_input(demo, title="关于甲工作的通知", route=route))
    b = await submitted(clerk, doc_input(demo, title="关于乙工作的通知", route=route, urgency="URGENT"))
    c = await submitted(clerk, doc_input(demo, title="关于丙事项的函", docType="LETTER", route=route))
    draft = await create_ok(clerk, doc_input(demo, title="关于丁工作的通知", route=route))

    # 待办: deputy's three pending tasks, newest first; filters by type, urgency, search.
    todo = await box(deputy, "myTasks")
    assert (titles(todo, True), todo["totalCount"]) == (["关于丙事项的函", "关于乙工作的通知", "关于甲工作的通知"], 3)
    assert titles(await box(deputy, "myTasks", {"docType": "LETTER"}), True) == ["关于丙事项的函"]
    assert titles(await box(deputy, "myTasks", {"urgency": "URGENT"}), True) == ["关于乙工作的通知"]
    assert titles(await box(deputy, "myTasks", {"search": "甲工作"}), True) == ["关于甲工作的通知"]
    assert (await box(clerk, "myTasks"))["totalCount"] == 0

    # 已办: after deputy approves b then a, they move from to-do to done (most recently acted first).
    tasks = {e["node"]["document"]["id"]: e["node"]["id"] for e in todo["edges"]}
    assert (await approve(deputy, tasks[b], "同意"))["errors"] == []
    assert (await approve(deputy, tasks[a]))["errors"] == []
    done = await box(deputy, "myDoneTasks")
    assert [(e["node"]["document"]["title"], e["node"]["status"]) for e in done["edges"]] == [
        ("关于甲工作的通知", "APPROVED"),
        ("关于乙工作的通知", "APPROVED"),
    ]
    assert titles(await box(deputy, "myTasks"), True) == ["关于丙事项的函"]
    assert (await box(deputy, "myDoneTasks", {"status": "APPROVED", "urgency": "URGENT"}))["totalCount"] == 1
    assert (await box(clerk, "myDoneTasks"))["totalCount"] == 0

    # 我的发文: everything clerk drafted, in any status; status filter.
    mine = await box(clerk, "myDraftedDocuments")
    assert titles(mine) == ["关于丁工作的通知", "关于丙事项的函", "关于乙工作的通知", "关于甲工作的通知"]
    assert [e["node"]["id"] for e in (await box(clerk, "myDraftedDocuments", {"status": "DRAFT"}))["edges"]] == [
        draft["id"]
    ]
    assert titles(await box(clerk, "myDraftedDocuments", {"status": "APPROVED"})) == [
        "关于乙工作的通知",
        "关于甲工作的通知",
    ]
    assert (await box(deputy, "myDraftedDocuments"))["totalCount"] == 0

    # 归档: only ARCHIVED documents one can read (deputy was on the route of a and b).
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(Document).where(Document.id == pk(a)).values(status="archived"))
    assert titles(await box(deputy, "myArchivedDocuments")) == ["关于甲工作的通知"]
    assert titles(await box(clerk, "myArchivedDocuments")) == ["关于甲工作的通知"]
    assert (await box(users["finance_head"], "myArchivedDocuments"))["totalCount"] == 0
    # searchDocuments: every readable document; c is the only 函.
    letters = await box(deputy, "searchDocuments", {"docType": "LETTER"})
    assert [e["node"]["id"] for e in letters["edges"]] == [c]
    assert [e["node"]["id"] for e in (await box(users["finance_head"], "searchDocuments"))["edges"]] == []


async def test_date_range_is_asia_shanghai_calendar_days(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    clerk = users["clerk"]
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy")]}
    late = await create_ok(clerk, doc_input(demo, title="六月一日深夜的通知", route=route))
    early = await create_ok(clerk, doc_input(demo, title="六月二日凌晨的通知", route=route))
    # 2026-06-01T15:30Z is 23:30 on 1 June in Shanghai; 16:30Z is 00:30 on 2 June.
    times = {
        late["id"]: dt.datetime(2026, 6, 1, 15, 30, tzinfo=dt.UTC),
        early["id"]: dt.datetime(2026, 6, 1, 16, 30, tzinfo=dt.UTC),
    }
    async with platform.db.unit_of_work() as uow:
        for gid, at in times.items():
            await uow.session.execute(update(Document).where(Document.id == pk(gid)).values(created_at=at))
    june1 = await box(clerk, "myDraftedDocuments", {"from": "2026-06-01", "to": "2026-06-01"})
    assert titles(june1) == ["六月一日深夜的通知"]
    june2 = await box(clerk, "myDraftedDocuments", {"from": "2026-06-02"})
    assert titles(june2) == ["六月二日凌晨的通知"]
    both = await box(clerk, "myDraftedDocuments", {"to": "2026-06-02"})
    assert titles(both) == ["六月二日凌晨的通知", "六月一日深夜的通知"]
    assert (await box(clerk, "myDraftedDocuments", {"to": "2026-05-31"}))["totalCount"] == 0

    bad = await clerk.execute(
        LIST.format(name="myDraftedDocuments", fields="id"), {"f": {"from": "2026-06-02", "to": "2026-06-01"}}
    )
    assert bad["data"] is None
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "filter.to"}


async def test_cursors_are_opaque_and_stable_while_rows_are_added(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    clerk = users["clerk"]
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy")]}
    ids = [(await create_ok(clerk, doc_input(demo, title=f"通知{i}", route=route)))["id"] for i in range(5)]
    # Two documents with the same creation instant: the id breaks the tie.
    same = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    async with platform.db.unit_of_work() as uow:
        for i, gid in enumerate(ids):
            at = same if i in (1, 2) else same + dt.timedelta(hours=i)
            await uow.session.execute(update(Document).where(Document.id == pk(gid)).values(created_at=at))
    page1 = await box(clerk, "myDraftedDocuments", first=2)
    assert titles(page1) == ["通知4", "通知3"]
    assert page1["pageInfo"]["hasNextPage"] is True
    assert "通知" not in base64.urlsafe_b64decode(page1["pageInfo"]["endCursor"]).decode()
    await create_ok(clerk, doc_input(demo, title="新通知", route=route))  # newest: does not shift page 2
    page2 = await box(clerk, "myDraftedDocuments", first=2, after=page1["pageInfo"]["endCursor"])
    assert titles(page2) == ["通知2", "通知1"]
    page3 = await box(clerk, "myDraftedDocuments", first=2, after=page2["pageInfo"]["endCursor"])
    assert (titles(page3), page3["pageInfo"]["hasNextPage"], page3["totalCount"]) == (["通知0"], False, 6)

    bad = await clerk.execute(LIST.format(name="myDraftedDocuments", fields="id"), {"after": "bm9wZQ=="})
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "after"}


async def test_a_page_of_twenty_costs_as_many_statements_as_a_page_of_two(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    clerk, deputy = users["clerk"], users["deputy"]
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy"), step(demo, "签发", "SINGLE", "secretary_general")]}
    for i in range(20):
        await submitted(clerk, doc_input(demo, title=f"通知{i}", route=route))
    heavy = """query($first: Int) { {name}(first: $first, filter: {search: "通知"}) { totalCount edges { node {
      id document { title drafter { username } issuingUnit { code } steps { name assignees { username } }
                    history { action actor { username } } } step { name } sender { username } } } } }"""
    counts = []
    for first in (2, 20):
        with count_statements(platform) as statements:
            data = await deputy.execute(heavy.replace("{name}", "myTasks"), {"first": first})
        assert len(data["data"]["myTasks"]["edges"]) == first
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    doc_query = """query($first: Int) { myDraftedDocuments(first: $first) { edges { node {
      title drafter { username } steps { tasks { assignee { username } } } history { actor { username } } } } } }"""
    counts = []
    for first in (2, 20):
        with count_statements(platform) as statements:
            data = await clerk.execute(doc_query, {"first": first})
        assert len(data["data"]["myDraftedDocuments"]["edges"]) == first
        counts.append(len(statements))
    assert counts[0] == counts[1], counts

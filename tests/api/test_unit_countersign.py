"""Countersign inside a unit (单位内部会签) through GraphQL, on SQLite and PostgreSQL.

A route step names the General Office as a unit (``{unitId}``): its clerk (文书) ``clerk``
receives the task and routes it to members of the office (``deputy``; ``secretary_general``
holds a second post there). finance_head drafts; drc_head (发展改革委) is not in the office.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api import test_documents as shared
from tests.api.test_documents import (
    Demo,
    approve,
    codes,
    doc_input,
    my_tasks,
    notifications,
    return_,
    snapshot,
    step,
    submitted,
    task_of,
)
from tests.conftest import GraphQLClient

demo = shared.demo
users = shared.users

GO = "370000-general_office"

ROUTE = """mutation($input: RouteWithinUnitInput!) { routeWithinUnit(input: $input) {
  task { id status unit { code } subtasks { status assignee { username } } }
  document { id status version } errors { field code } } }"""
CANCEL = """mutation($input: CancelWithinUnitInput!) { cancelWithinUnit(input: $input) {
  task { id status subtasks { status assignee { username } } } errors { field code } } }"""
DOC = """query($id: ID!) { document(id: $id) {
  id status version currentStep { index }
  steps { index tasks { id status opinion assignee { username } unit { code }
          subtasks { status opinion actedAt assignee { username } sender { username } parentTask { id } } } }
  history { action opinion actor { username } } } }"""


def unit_route(demo: Demo, mode: str = "SINGLE", *extra: dict[str, Any]) -> dict[str, Any]:
    """会签 by the General Office (its clerk), then 签发 by drc_head."""
    return {
        "steps": [
            {"name": "会签", "mode": mode, "assignees": [{"unitId": demo.unit(GO)}, *extra]},
            step(demo, "签发", "SINGLE", "drc_head"),
        ]
    }


async def unit_document(users: dict[str, GraphQLClient], demo: Demo, **kw: Any) -> tuple[str, str]:
    """A document submitted by finance_head whose first step is the General Office's; (doc id, clerk task id)."""
    doc_id = await submitted(users["finance_head"], doc_input(demo, route=unit_route(demo), **kw))
    return doc_id, await task_of(users["clerk"], doc_id)


async def route(
    c: GraphQLClient, task_id: str, ids: list[str], mode: str = "SEQUENTIAL", note: str | None = None
) -> dict[str, Any]:
    data = await c.execute(ROUTE, {"input": {"taskId": task_id, "assigneeIds": ids, "mode": mode, "note": note}})
    assert "errors" not in data, data
    return data["data"]["routeWithinUnit"]


async def cancel(c: GraphQLClient, task_id: str, note: str | None = None) -> dict[str, Any]:
    data = await c.execute(CANCEL, {"input": {"taskId": task_id, "note": note}})
    assert "errors" not in data, data
    return data["data"]["cancelWithinUnit"]


async def read(c: GraphQLClient, doc_id: str) -> dict[str, Any]:
    data = await c.execute(DOC, {"id": doc_id})
    assert "errors" not in data, data
    assert data["data"]["document"] is not None
    return data["data"]["document"]


def subtasks(doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    task = doc["steps"][0]["tasks"][-1]
    return [(s["assignee"]["username"], s["status"], s["opinion"]) for s in task["subtasks"]]


async def kinds(c: GraphQLClient) -> list[str]:
    return [n["kind"] for n in await notifications(c)]


async def test_clerk_routes_sequentially_then_answers_for_the_unit(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id, parent = await unit_document(users, demo)
    assert (await users["deputy"].execute(DOC, {"id": doc_id}))["data"]["document"] is None
    result = await route(
        users["clerk"], parent, [demo.user("deputy"), demo.user("secretary_general")], note="请提出意见"
    )
    assert result["errors"] == []
    assert result["task"] == {
        "id": parent,
        "status": "PENDING",
        "unit": {"code": GO},
        "subtasks": [{"status": "PENDING", "assignee": {"username": "deputy"}}],
    }
    # The first member has a sub-task in 待办 and may read the document; the second waits.
    sub = await task_of(users["deputy"], doc_id)
    assert (await my_tasks(users["secretary_general"]))["totalCount"] == 0
    assert (await read(users["deputy"], doc_id))["id"] == doc_id
    # The clerk cannot answer while a sub-task is pending.
    refused = await approve(users["clerk"], parent, "同意")
    assert codes(refused["errors"]) == [("taskId", "SUBTASKS_PENDING")]
    assert (await approve(users["deputy"], sub, "原则同意"))["errors"] == []
    sub2 = await task_of(users["secretary_general"], doc_id)
    assert (await approve(users["secretary_general"], sub2, "建议加强督导"))["errors"] == []
    # Sub-tasks never complete the step: the document still waits for the clerk.
    doc = await read(users["finance_head"], doc_id)
    assert (doc["status"], doc["currentStep"]) == ("IN_REVIEW", {"index": 0})
    result = await approve(users["clerk"], parent, "我单位同意，建议加强督导")
    assert result["errors"] == []
    assert result["document"]["currentStep"] == {"index": 1, "name": "签发"}
    doc = await read(users["finance_head"], doc_id)
    assert [t["assignee"]["username"] for t in doc["steps"][0]["tasks"]] == ["clerk"]
    assert subtasks(doc) == [
        ("deputy", "APPROVED", "原则同意"),
        ("secretary_general", "APPROVED", "建议加强督导"),
    ]
    assert all(s["actedAt"] and s["parentTask"] == {"id": parent} for s in doc["steps"][0]["tasks"][0]["subtasks"])
    assert [s["sender"]["username"] for s in doc["steps"][0]["tasks"][0]["subtasks"]] == ["clerk", "deputy"]
    assert [(h["action"], h["actor"]["username"], h["opinion"]) for h in doc["history"]] == [
        ("CREATED", "finance_head", None),
        ("SUBMITTED", "finance_head", None),
        ("ROUTED_IN_UNIT", "clerk", "请提出意见"),
        ("SUBTASK_APPROVED", "deputy", "原则同意"),
        ("SUBTASK_APPROVED", "secretary_general", "建议加强督导"),
        ("APPROVED", "clerk", "我单位同意，建议加强督导"),
    ]
    clerk_notes = await notifications(users["clerk"])
    assert [n["kind"] for n in clerk_notes] == ["TASK_ASSIGNED", "SUBTASK_APPROVED", "SUBTASK_APPROVED"]
    assert [n["data"]["done"] for n in clerk_notes[1:]] == [False, True]
    assert clerk_notes[2]["data"]["taskId"] == parent
    deputy_notes = await notifications(users["deputy"])
    assert [n["kind"] for n in deputy_notes] == ["TASK_ASSIGNED"]
    assert deputy_notes[0]["data"] == {"taskId": sub, "parentTaskId": parent, "stepIndex": 0, "round": 1}
    assert "请提出意见" in deputy_notes[0]["body"]
    assert await kinds(users["secretary_general"]) == ["TASK_ASSIGNED"]
    assert await kinds(users["finance_head"]) == ["TASK_APPROVED"]  # only the unit's answer reaches the drafter


async def test_member_sends_back_to_the_clerk_not_the_drafter(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id, parent = await unit_document(users, demo)
    ids = [demo.user("deputy"), demo.user("secretary_general")]
    assert (await route(users["clerk"], parent, ids, "PARALLEL_ALL"))["errors"] == []
    sub_deputy = await task_of(users["deputy"], doc_id)
    assert await task_of(users["secretary_general"], doc_id)
    assert codes((await return_(users["deputy"], sub_deputy, None))["errors"]) == [("opinion", "REQUIRED")]
    result = await return_(users["deputy"], sub_deputy, "数据需核实")
    assert result["errors"] == []
    assert result["task"]["status"] == "RETURNED"
    assert (result["document"]["status"], result["document"]["currentStep"]) == (
        "IN_REVIEW",
        {"index": 0, "name": "会签"},
    )
    doc = await read(users["finance_head"], doc_id)
    assert doc["steps"][0]["tasks"][0]["status"] == "PENDING"
    assert subtasks(doc) == [("deputy", "RETURNED", "数据需核实"), ("secretary_general", "CANCELLED", None)]
    assert (await my_tasks(users["secretary_general"]))["totalCount"] == 0
    assert (await notifications(users["clerk"]))[-1]["kind"] == "SUBTASK_RETURNED"
    assert await kinds(users["secretary_general"]) == ["TASK_ASSIGNED", "TASK_CANCELLED"]
    assert await kinds(users["finance_head"]) == []
    # The routing is closed: the clerk may route again, or answer.
    assert (await route(users["clerk"], parent, [demo.user("deputy")]))["errors"] == []
    sub_again = await task_of(users["deputy"], doc_id)
    assert sub_again != sub_deputy
    assert (await approve(users["deputy"], sub_again, "已核实"))["errors"] == []
    assert (await approve(users["clerk"], parent, "同意"))["errors"] == []
    doc = await read(users["finance_head"], doc_id)
    assert subtasks(doc) == [
        ("deputy", "RETURNED", "数据需核实"),
        ("secretary_general", "CANCELLED", None),
        ("deputy", "APPROVED", "已核实"),
    ]


async def test_routing_refuses_bad_members_and_other_tasks(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    doc_id, parent = await unit_document(users, demo)
    before = await snapshot(platform)
    result = await route(
        users["clerk"],
        parent,
        [demo.user("deputy"), demo.user("drc_head"), demo.user("clerk"), demo.user("deputy"), "VXNlcjo5OTk5OTk="],
    )
    assert codes(result["errors"]) == [
        ("assigneeIds.1", "NOT_IN_UNIT"),
        ("assigneeIds.2", "INVALID_VALUE"),
        ("assigneeIds.3", "DUPLICATE"),
        ("assigneeIds.4", "NOT_FOUND"),
    ]
    assert codes((await route(users["clerk"], parent, []))["errors"]) == [("assigneeIds", "REQUIRED")]
    assert codes((await route(users["deputy"], parent, [demo.user("secretary_general")]))["errors"]) == [
        ("taskId", "NOT_YOUR_TASK")
    ]
    assert await snapshot(platform) == before
    # A task sent to a person by name is not a unit task.
    named = await submitted(users["clerk"], doc_input(demo))
    deputy_task = await task_of(users["deputy"], named)
    assert codes((await route(users["deputy"], deputy_task, [demo.user("secretary_general")]))["errors"]) == [
        ("taskId", "NOT_A_UNIT_TASK")
    ]
    # A task sent to a unit's head (not its clerk) is not routed within the unit either.
    head_route = {
        "steps": [{"name": "审核", "mode": "SINGLE", "assignees": [{"unitId": demo.unit(GO), "duty": "HEAD"}]}]
    }
    by_head = await submitted(users["finance_head"], doc_input(demo, title="主要负责人审核", route=head_route))
    head_task = await task_of(users["secretary_general"], by_head)
    assert codes((await route(users["secretary_general"], head_task, [demo.user("deputy")]))["errors"]) == [
        ("taskId", "NOT_A_UNIT_TASK")
    ]
    # A sub-task cannot be routed further, and a second routing waits for the first.
    assert (await route(users["clerk"], parent, [demo.user("deputy")]))["errors"] == []
    sub = await task_of(users["deputy"], doc_id)
    assert codes((await route(users["deputy"], sub, [demo.user("secretary_general")]))["errors"]) == [
        ("taskId", "NOT_A_UNIT_TASK")
    ]
    assert codes((await route(users["clerk"], parent, [demo.user("secretary_general")]))["errors"]) == [
        ("taskId", "SUBTASKS_PENDING")
    ]


async def test_cancel_within_unit_lets_the_clerk_answer(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id, parent = await unit_document(users, demo)
    assert codes((await cancel(users["clerk"], parent))["errors"]) == [("taskId", "INVALID_STATE")]
    ids = [demo.user("deputy"), demo.user("secretary_general")]
    assert (await route(users["clerk"], parent, ids, "PARALLEL_ALL"))["errors"] == []
    sub = await task_of(users["deputy"], doc_id)
    assert (await approve(users["deputy"], sub, "同意"))["errors"] == []
    assert codes((await cancel(users["deputy"], parent))["errors"]) == [("taskId", "NOT_YOUR_TASK")]
    result = await cancel(users["clerk"], parent, "时间紧，由文书直接答复")
    assert result["errors"] == []
    assert result["task"]["subtasks"] == [
        {"status": "APPROVED", "assignee": {"username": "deputy"}},
        {"status": "CANCELLED", "assignee": {"username": "secretary_general"}},
    ]
    assert (await my_tasks(users["secretary_general"]))["totalCount"] == 0
    sg_notes = await notifications(users["secretary_general"])
    assert [n["kind"] for n in sg_notes] == ["TASK_ASSIGNED", "TASK_CANCELLED"]
    assert "时间紧" in sg_notes[1]["body"]
    assert (await approve(users["clerk"], parent, "同意"))["errors"] == []
    doc = await read(users["finance_head"], doc_id)
    assert [h["action"] for h in doc["history"]][2:] == [
        "ROUTED_IN_UNIT",
        "SUBTASK_APPROVED",
        "UNIT_ROUTE_CANCELLED",
        "APPROVED",
    ]


async def test_leaving_the_step_cancels_open_subtasks(users: dict[str, GraphQLClient], demo: Demo) -> None:
    # The clerk returns the document: the members' sub-tasks are cancelled with it.
    doc_id, parent = await unit_document(users, demo)
    assert (await route(users["clerk"], parent, [demo.user("deputy")]))["errors"] == []
    result = await return_(users["clerk"], parent, "请先征求财政意见")
    assert result["errors"] == []
    assert result["document"]["status"] == "RETURNED"
    assert (await my_tasks(users["deputy"]))["totalCount"] == 0
    assert subtasks(await read(users["finance_head"], doc_id)) == [("deputy", "CANCELLED", None)]
    # ANY_ONE: another assignee completes the step; the clerk's task and its sub-task are cancelled.
    any_one = unit_route(demo, "ANY_ONE", {"userId": demo.user("drc_head")})
    doc2 = await submitted(users["finance_head"], doc_input(demo, title="或签", route=any_one))
    parent2 = await task_of(users["clerk"], doc2)
    assert (await route(users["clerk"], parent2, [demo.user("deputy")]))["errors"] == []
    sub2 = await task_of(users["deputy"], doc2)
    assert (await approve(users["drc_head"], await task_of(users["drc_head"], doc2), "同意"))["errors"] == []
    doc = await read(users["finance_head"], doc2)
    assert doc["currentStep"] == {"index": 1}
    assert [(t["assignee"]["username"], t["status"]) for t in doc["steps"][0]["tasks"]] == [
        ("clerk", "CANCELLED"),
        ("drc_head", "APPROVED"),
    ]
    assert subtasks({"steps": [{"tasks": doc["steps"][0]["tasks"][:1]}]}) == [("deputy", "CANCELLED", None)]
    assert codes((await approve(users["deputy"], sub2, "同意"))["errors"]) == [("taskId", "TASK_ALREADY_HANDLED")]
    assert (await notifications(users["deputy"]))[-1]["kind"] == "TASK_CANCELLED"


# ---- concurrency -----------------------------------------------------------------------


async def test_members_approving_at_the_same_instant(users: dict[str, GraphQLClient], demo: Demo) -> None:
    for i in range(3):
        doc_id, parent = await unit_document(users, demo, title=f"并行{i}")
        ids = [demo.user("deputy"), demo.user("secretary_general")]
        assert (await route(users["clerk"], parent, ids, "PARALLEL_ALL"))["errors"] == []
        a, b = await task_of(users["deputy"], doc_id), await task_of(users["secretary_general"], doc_id)
        results = await asyncio.gather(
            approve(users["deputy"], a, "同意"), approve(users["secretary_general"], b, "同意")
        )
        assert [r["errors"] for r in results] == [[], []]
        notes = [n for n in await notifications(users["clerk"]) if n["data"].get("taskId") == parent]
        assert sorted(n["data"].get("done") for n in notes if n["kind"] == "SUBTASK_APPROVED") == [False, True]
        assert (await approve(users["clerk"], parent, "同意"))["errors"] == []
    sequences = [n["sequence"] for n in await notifications(users["clerk"])]
    assert sequences == list(range(1, len(sequences) + 1))


async def test_clerk_answering_while_the_last_member_approves(users: dict[str, GraphQLClient], demo: Demo) -> None:
    for i in range(4):
        doc_id, parent = await unit_document(users, demo, title=f"竞争{i}")
        assert (await route(users["clerk"], parent, [demo.user("deputy")]))["errors"] == []
        sub = await task_of(users["deputy"], doc_id)
        member, clerk = await asyncio.gather(
            approve(users["deputy"], sub, "同意"), approve(users["clerk"], parent, "我单位同意")
        )
        assert member["errors"] == []
        assert codes(clerk["errors"]) in ([], [("taskId", "SUBTASKS_PENDING")])
        if clerk["errors"]:
            assert (await approve(users["clerk"], parent, "我单位同意"))["errors"] == []
        doc = await read(users["finance_head"], doc_id)
        # One consistent outcome: the member's opinion is in before the unit's answer.
        assert [h["action"] for h in doc["history"]][2:] == ["ROUTED_IN_UNIT", "SUBTASK_APPROVED", "APPROVED"]
        assert doc["currentStep"] == {"index": 1}
        assert subtasks(doc) == [("deputy", "APPROVED", "同意")]


async def test_clerk_cancelling_while_the_member_approves(users: dict[str, GraphQLClient], demo: Demo) -> None:
    for i in range(3):
        doc_id, parent = await unit_document(users, demo, title=f"撤销{i}")
        assert (await route(users["clerk"], parent, [demo.user("deputy")]))["errors"] == []
        sub = await task_of(users["deputy"], doc_id)
        member, cancelled = await asyncio.gather(approve(users["deputy"], sub, "同意"), cancel(users["clerk"], parent))
        pair = (codes(member["errors"]), codes(cancelled["errors"]))
        assert pair in (([], [("taskId", "INVALID_STATE")]), ([("taskId", "TASK_ALREADY_HANDLED")], []))
        doc = await read(users["finance_head"], doc_id)
        expected = [("deputy", "APPROVED", "同意")] if not member["errors"] else [("deputy", "CANCELLED", None)]
        assert subtasks(doc) == expected
        assert (await approve(users["clerk"], parent, "同意"))["errors"] == []


async def test_retried_routing_with_a_key_routes_once(users: dict[str, GraphQLClient], demo: Demo) -> None:
    _, parent = await unit_document(users, demo)
    variables = {
        "input": {"taskId": parent, "assigneeIds": [demo.user("deputy")], "mode": "SEQUENTIAL", "idempotencyKey": "k-1"}
    }
    first, second = [(await users["clerk"].execute(ROUTE, variables))["data"]["routeWithinUnit"] for _ in range(2)]
    assert first["errors"] == second["errors"] == []
    assert first["document"]["version"] == second["document"]["version"]
    assert (await my_tasks(users["deputy"]))["totalCount"] == 1
    assert await kinds(users["deputy"]) == ["TASK_ASSIGNED"]


TRANSFER = """mutation($t: ID!, $u: ID!) { transferTask(input: {taskId: $t, toUserId: $u}) {
  task { id status } errors { field code } } }"""
DELEGATE = """mutation($t: ID!, $u: ID!) { delegateTask(input: {taskId: $t, toUserId: $u}) {
  task { id status } errors { field code } } }"""


async def test_subtasks_and_open_routings_are_not_transferred(users: dict[str, GraphQLClient], demo: Demo) -> None:
    # A member's sub-task belongs to the unit's routing; the clerk's task cannot leave while
    # the routing is open (the members' answers would be orphaned).
    doc_id, parent = await unit_document(users, demo)
    assert (await route(users["clerk"], parent, [demo.user("deputy")]))["errors"] == []
    sub = await task_of(users["deputy"], doc_id)
    for mutation, name in ((TRANSFER, "transferTask"), (DELEGATE, "delegateTask")):
        member = await users["deputy"].execute(mutation, {"t": sub, "u": demo.user("secretary_general")})
        assert codes(member["data"][name]["errors"]) == [("taskId", "INVALID_STATE")]
        clerk = await users["clerk"].execute(mutation, {"t": parent, "u": demo.user("secretary_general")})
        assert codes(clerk["data"][name]["errors"]) == [("taskId", "SUBTASKS_PENDING")]
    assert subtasks(await read(users["clerk"], doc_id)) == [("deputy", "PENDING", None)]
    # Once the routing is cancelled the clerk may transfer the unit's task.
    assert (await cancel(users["clerk"], parent))["errors"] == []
    moved = await users["clerk"].execute(TRANSFER, {"t": parent, "u": demo.user("secretary_general")})
    assert moved["data"]["transferTask"]["errors"] == []
    new_task = moved["data"]["transferTask"]["task"]
    assert new_task["status"] == "PENDING"
    assert new_task["id"] != parent
    assert await task_of(users["secretary_general"], doc_id) == new_task["id"]

"""Route step modes (SEQUENTIAL, ANY_ONE, QUORUM), assignees by duty or unit, NO_ASSIGNEE,
and the routing preview, through GraphQL on SQLite and PostgreSQL.

Demo organization: in the General Office secretary_general is HEAD, deputy DEPUTY_HEAD and
clerk CLERK; finance_head is HEAD of 财政厅 (no clerk), drc_head HEAD of 发展改革委.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import select

from documents.models import DocumentAction, Task
from office_api.org.delegation import local_today
from tests.api import test_documents as shared
from tests.api.test_documents import (
    Demo,
    approve,
    codes,
    create,
    create_ok,
    doc_input,
    get_document,
    my_tasks,
    notifications,
    return_,
    snapshot,
    step,
    submit,
    submitted,
    task_of,
)
from tests.conftest import GraphQLClient

# The fixtures of the document tests (demo ids, a signed-in client per demo account).
demo = shared.demo
users = shared.users

GO, FINANCE, DRC = "370000-general_office", "370000-finance", "370000-drc"

PREVIEW = """query($id: ID!) { routePreview(documentId: $id) {
  nextStepIndex document { id }
  steps { index name mode quorum isNext
          recipients { position reason duty user { username } unit { code } delegator { username } } } } }"""
CREATE_DELEGATION = """mutation($input: CreateDelegationInput!) { createDelegation(input: $input) {
  delegation { id } errors { field code } } }"""


def pending_of(doc: dict[str, Any], index: int) -> list[str]:
    """Usernames with a pending task on step ``index`` (current round)."""
    return [
        t["assignee"]["username"]
        for t in doc["steps"][index]["tasks"]
        if t["status"] == "PENDING" and t["round"] == doc["round"]
    ]


def task_states(doc: dict[str, Any], index: int) -> list[tuple[str, str]]:
    return [
        (t["assignee"]["username"], t["status"]) for t in doc["steps"][index]["tasks"] if t["round"] == doc["round"]
    ]


async def has_task(c: GraphQLClient, doc_id: str) -> bool:
    return any(e["node"]["document"]["id"] == doc_id for e in (await my_tasks(c))["edges"])


def quorum_step(demo: Demo, k: int | None, *usernames: str) -> dict[str, Any]:
    return {**step(demo, "会签", "QUORUM", *usernames), "quorum": k}


def sign_off(demo: Demo) -> dict[str, Any]:
    return step(demo, "签发", "SINGLE", "secretary_general")


# ---- SEQUENTIAL --------------------------------------------------------------------------


async def test_sequential_opens_assignees_one_after_another(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "会签", "SEQUENTIAL", "finance_head", "drc_head", "deputy"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert doc["steps"][0]["mode"] == "SEQUENTIAL"
    assert task_states(doc, 0) == [("finance_head", "PENDING")]
    assert not await has_task(users["drc_head"], doc_id)
    assert (await approve(users["finance_head"], await task_of(users["finance_head"], doc_id)))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("finance_head", "APPROVED"), ("drc_head", "PENDING")]
    assert doc["currentStep"] == {"index": 0, "name": "会签"}
    assert not await has_task(users["deputy"], doc_id)
    assert (await approve(users["drc_head"], await task_of(users["drc_head"], doc_id)))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("finance_head", "APPROVED"), ("drc_head", "APPROVED"), ("deputy", "PENDING")]
    assert not await has_task(users["secretary_general"], doc_id)
    result = await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    assert result["errors"] == []
    assert result["document"]["currentStep"] == {"index": 1, "name": "签发"}
    assert await has_task(users["secretary_general"], doc_id)
    result = await approve(users["secretary_general"], await task_of(users["secretary_general"], doc_id))
    assert result["document"]["status"] == "APPROVED"


async def test_sequential_return_in_the_middle_goes_back_to_the_drafter(
    users: dict[str, GraphQLClient], demo: Demo
) -> None:
    route = {"steps": [step(demo, "会签", "SEQUENTIAL", "finance_head", "drc_head")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    result = await return_(users["drc_head"], await task_of(users["drc_head"], doc_id), "请修改")
    assert result["errors"] == []
    assert result["document"]["status"] == "RETURNED"
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("finance_head", "APPROVED"), ("drc_head", "RETURNED")]
    # Resubmission starts over with the first assignee.
    assert (await submit(users["clerk"], doc_id))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert (doc["round"], task_states(doc, 0)) == (2, [("finance_head", "PENDING")])


# ---- ANY_ONE -----------------------------------------------------------------------------


async def test_any_one_first_approval_completes_and_cancels_the_others(
    users: dict[str, GraphQLClient], demo: Demo
) -> None:
    route = {"steps": [step(demo, "阅办", "ANY_ONE", "deputy", "finance_head", "drc_head"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    deputy_task = await task_of(users["deputy"], doc_id)
    result = await approve(users["finance_head"], await task_of(users["finance_head"], doc_id), "同意")
    assert result["errors"] == []
    assert result["document"]["currentStep"] == {"index": 1, "name": "签发"}
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("deputy", "CANCELLED"), ("finance_head", "APPROVED"), ("drc_head", "CANCELLED")]
    assert pending_of(doc, 1) == ["secretary_general"]
    late = await approve(users["deputy"], deputy_task)
    assert codes(late["errors"]) == [("taskId", "TASK_ALREADY_HANDLED")]
    assert not await has_task(users["drc_head"], doc_id)
    told = [n for n in await notifications(users["drc_head"]) if n["kind"] == "TASK_CANCELLED"]
    assert len(told) == 1
    assert "赵厅长" in told[0]["body"]


async def test_any_one_two_approvers_at_once(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    route = {"steps": [step(demo, "阅办", "ANY_ONE", "deputy", "finance_head", "drc_head"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    t_deputy = await task_of(users["deputy"], doc_id)
    t_finance = await task_of(users["finance_head"], doc_id)
    results = await asyncio.gather(approve(users["deputy"], t_deputy), approve(users["finance_head"], t_finance))
    assert sorted(codes(r["errors"]) for r in results) == [[], [("taskId", "TASK_ALREADY_HANDLED")]]
    winner = next(r for r in results if not r["errors"])["task"]["assignee"]["username"]
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    states = dict(task_states(doc, 0))
    assert states == {u: ("APPROVED" if u == winner else "CANCELLED") for u in ("deputy", "finance_head", "drc_head")}
    assert [h["action"] for h in doc["history"]] == ["CREATED", "SUBMITTED", "APPROVED"]
    assert doc["history"][2]["actor"]["username"] == winner
    assert pending_of(doc, 1) == ["secretary_general"]
    assert (await my_tasks(users["secretary_general"]))["totalCount"] == 1
    async with platform.db.read() as s:
        approved = (await s.execute(select(DocumentAction.id).where(DocumentAction.action == "approved"))).all()
        pending = (await s.execute(select(Task.id).where(Task.status == "pending"))).all()
    assert (len(approved), len(pending)) == (1, 1)


async def test_any_one_return_cancels_the_others(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "阅办", "ANY_ONE", "deputy", "finance_head")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    result = await return_(users["deputy"], await task_of(users["deputy"], doc_id), "不同意")
    assert result["document"]["status"] == "RETURNED"
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("deputy", "RETURNED"), ("finance_head", "CANCELLED")]


# ---- QUORUM ------------------------------------------------------------------------------


async def test_quorum_two_of_three(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [quorum_step(demo, 2, "deputy", "finance_head", "drc_head"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    first = await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
    assert first["errors"] == []
    assert first["document"]["currentStep"] == {"index": 0, "name": "会签"}
    assert not await has_task(users["secretary_general"], doc_id)
    deputy_task = await task_of(users["deputy"], doc_id)
    second = await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    assert second["errors"] == []
    assert second["document"]["currentStep"] == {"index": 1, "name": "签发"}
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert doc["steps"][0]["mode"] == "QUORUM"
    assert task_states(doc, 0) == [("deputy", "CANCELLED"), ("finance_head", "APPROVED"), ("drc_head", "APPROVED")]
    assert codes((await approve(users["deputy"], deputy_task))["errors"]) == [("taskId", "TASK_ALREADY_HANDLED")]
    assert [h["action"] for h in doc["history"]] == ["CREATED", "SUBMITTED", "APPROVED", "APPROVED"]


async def test_quorum_on_the_last_step_approves_the_document(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [quorum_step(demo, 1, "deputy", "finance_head")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    result = await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    assert result["document"]["status"] == "APPROVED"
    assert not await has_task(users["deputy"], doc_id)


async def test_quorum_validation(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    before = await snapshot(platform)
    cases = [
        (quorum_step(demo, 4, "deputy", "finance_head", "drc_head"), "route.steps.0.quorum"),
        (quorum_step(demo, 0, "deputy", "finance_head", "drc_head"), "route.steps.0.quorum"),
        (quorum_step(demo, None, "deputy", "finance_head"), "route.steps.0.quorum"),
        ({**step(demo, "核稿", "SINGLE", "deputy"), "quorum": 1}, "route.steps.0.quorum"),
    ]
    for s, field in cases:
        payload = await create(users["clerk"], doc_input(demo, route={"steps": [s]}))
        assert codes(payload["errors"]) == [(field, "INVALID_VALUE")], s
    assert await snapshot(platform) == before


# ---- assignees by duty and by unit -------------------------------------------------------


async def test_assignees_by_duty_and_unit_resolve_to_the_demo_holders(
    users: dict[str, GraphQLClient], demo: Demo
) -> None:
    route = {
        "steps": [
            {"name": "核稿", "mode": "SINGLE", "assignees": [{"unitId": demo.unit(GO)}]},
            {
                "name": "会签",
                "mode": "PARALLEL_ALL",
                "assignees": [
                    {"unitId": demo.unit(FINANCE), "duty": "HEAD"},
                    {"unitId": demo.unit(GO), "duty": "DEPUTY_HEAD"},
                    {"userId": demo.user("drc_head")},
                ],
            },
            {"name": "签发", "mode": "SINGLE", "assignees": [{"unitId": demo.unit(GO), "duty": "HEAD"}]},
        ]
    }
    doc_id = await submitted(users["deputy"], doc_input(demo, route=route))
    doc = await get_document(users["deputy"], doc_id)
    assert doc is not None
    assert pending_of(doc, 0) == ["clerk"]
    assert [a["username"] for a in doc["steps"][1]["assignees"]] == ["drc_head"]
    await approve(users["clerk"], await task_of(users["clerk"], doc_id))
    doc = await get_document(users["deputy"], doc_id)
    assert doc is not None
    assert pending_of(doc, 1) == ["finance_head", "deputy", "drc_head"]
    for name in ("finance_head", "deputy", "drc_head"):
        assert (await approve(users[name], await task_of(users[name], doc_id)))["errors"] == []
    doc = await get_document(users["deputy"], doc_id)
    assert doc is not None
    assert pending_of(doc, 2) == ["secretary_general"]


async def test_unit_without_a_clerk_is_no_assignee_at_submit(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    route = {
        "steps": [
            step(demo, "核稿", "SINGLE", "deputy"),
            {
                "name": "分送",
                "mode": "ANY_ONE",
                "assignees": [{"unitId": demo.unit(DRC), "duty": "HEAD"}, {"unitId": demo.unit(FINANCE)}],
            },
        ]
    }
    doc = await create_ok(users["clerk"], doc_input(demo, route=route))
    before = await snapshot(platform)
    payload = await submit(users["clerk"], doc["id"])
    assert codes(payload["errors"]) == [("route.steps.1.assignees.1", "NO_ASSIGNEE")]
    assert payload["document"] is None
    assert await snapshot(platform) == before


async def test_assignee_input_shapes_are_checked(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    before = await snapshot(platform)
    cases = [
        ([{"userId": demo.user("deputy"), "unitId": demo.unit(GO)}], [("route.steps.0.assignees.0", "INVALID_VALUE")]),
        ([{}], [("route.steps.0.assignees.0", "INVALID_VALUE")]),
        ([{"userId": demo.user("deputy"), "duty": "HEAD"}], [("route.steps.0.assignees.0", "INVALID_VALUE")]),
        (
            [{"unitId": demo.unit(GO)}, {"unitId": demo.unit(GO), "duty": "CLERK"}],
            [("route.steps.0.assignees.1", "DUPLICATE")],
        ),
        ([{"unitId": str(demo.user("deputy"))}], [("route.steps.0.assignees.0.unitId", "INVALID_VALUE")]),
    ]
    for assignees, expected in cases:
        s = {"name": "会签", "mode": "PARALLEL_ALL", "assignees": assignees}
        payload = await create(users["clerk"], doc_input(demo, route={"steps": [s]}))
        assert codes(payload["errors"]) == expected, assignees
    both = {**step(demo, "会签", "PARALLEL_ALL", "deputy"), "assignees": [{"unitId": demo.unit(GO)}]}
    payload = await create(users["clerk"], doc_input(demo, route={"steps": [both]}))
    assert codes(payload["errors"]) == [("route.steps.0.assignees", "INVALID_VALUE")]
    assert await snapshot(platform) == before


# ---- routePreview --------------------------------------------------------------------------


async def test_route_preview(users: dict[str, GraphQLClient], demo: Demo) -> None:
    today = local_today()
    delegated = await users["drc_head"].execute(
        CREATE_DELEGATION,
        {
            "input": {
                "delegateId": demo.user("deputy"),
                "startDate": today.isoformat(),
                "endDate": (today + dt.timedelta(days=1)).isoformat(),
            }
        },
    )
    assert delegated["data"]["createDelegation"]["errors"] == []
    route = {
        "steps": [
            {"name": "核稿", "mode": "SINGLE", "assignees": [{"unitId": demo.unit(GO)}]},
            {
                "name": "会签",
                "mode": "QUORUM",
                "quorum": 2,
                "assignees": [
                    {"unitId": demo.unit(FINANCE), "duty": "HEAD"},
                    {"userId": demo.user("drc_head")},
                    {"unitId": demo.unit(FINANCE)},
                ],
            },
        ]
    }
    doc = await create_ok(users["deputy"], doc_input(demo, route=route))
    data = await users["deputy"].execute(PREVIEW, {"id": doc["id"]})
    assert "errors" not in data, data
    preview = data["data"]["routePreview"]
    assert preview["nextStepIndex"] == 0
    assert preview["document"]["id"] == doc["id"]
    assert [(s["index"], s["mode"], s["quorum"], s["isNext"]) for s in preview["steps"]] == [
        (0, "SINGLE", None, True),
        (1, "QUORUM", 2, False),
    ]
    assert preview["steps"][0]["recipients"] == [
        {
            "position": 0,
            "reason": "UNIT_CLERK",
            "duty": "CLERK",
            "user": {"username": "clerk"},
            "unit": {"code": GO},
            "delegator": None,
        }
    ]
    assert preview["steps"][1]["recipients"] == [
        {
            "position": 0,
            "reason": "DUTY",
            "duty": "HEAD",
            "user": {"username": "finance_head"},
            "unit": {"code": FINANCE},
            "delegator": None,
        },
        {
            "position": 1,
            "reason": "DELEGATION",
            "duty": None,
            "user": {"username": "deputy"},
            "unit": None,
            "delegator": {"username": "drc_head"},
        },
        {
            "position": 2,
            "reason": "UNIT_CLERK",
            "duty": "CLERK",
            "user": None,
            "unit": {"code": FINANCE},
            "delegator": None,
        },
    ]
    # Someone neither drafting nor on the route sees nothing.
    other = await users["secretary_general"].execute(PREVIEW, {"id": doc["id"]})
    assert other["data"]["routePreview"] is None


async def test_route_preview_while_in_review(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    data = await users["deputy"].execute(PREVIEW, {"id": doc_id})
    preview = data["data"]["routePreview"]
    assert (preview["nextStepIndex"], [s["isNext"] for s in preview["steps"]]) == (1, [False, True])
    assert preview["steps"][1]["recipients"][0]["user"] == {"username": "secretary_general"}
    assert preview["steps"][1]["recipients"][0]["reason"] == "USER"
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    preview = (await users["clerk"].execute(PREVIEW, {"id": doc_id}))["data"]["routePreview"]
    assert preview["nextStepIndex"] is None

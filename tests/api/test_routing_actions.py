"""Routing actions through GraphQL on SQLite and PostgreSQL: return to an earlier step, withdraw,
transfer, single-task delegation, add/remove signer, an administrator's reroute, comments, and
the sibling-task policy of docs/routing.md (tests named ``test_cell_<action>_<mode>``).

Demo organization: clerk drafts in the General Office; deputy, finance_head, drc_head and
secretary_general approve; admin is the system administrator (no post).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from documents.models import DocumentAction
from tests.api import test_documents as shared
from tests.api.test_documents import (
    Demo,
    approve,
    codes,
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
from tests.api.test_route_modes import has_task, pending_of, quorum_step, sign_off, task_states
from tests.conftest import GraphQLClient

demo = shared.demo
users = shared.users

DOC = "document { id status round version currentStep { index name } }"
RETURN_TO = f"""mutation($id: ID!, $o: String, $to: Int) {{
  returnTask(input: {{taskId: $id, opinion: $o, toStepIndex: $to}}) {{
  task {{ id status }} {DOC} errors {{ field code }} }} }}"""
APPROVE_TO = """mutation($id: ID!, $to: Int) { approveTask(input: {taskId: $id, toStepIndex: $to}) {
  task { id } errors { field code } } }"""
WITHDRAW = f"""mutation($id: ID!, $o: String, $k: String) {{
  withdrawDocument(input: {{documentId: $id, opinion: $o, idempotencyKey: $k}}) {{
  {DOC} errors {{ field code }} }} }}"""
TRANSFER = """mutation($t: ID!, $u: ID!, $o: String) { transferTask(input: {taskId: $t, toUserId: $u, opinion: $o}) {
  task { id status assignee { username } onBehalfOf { username } } errors { field code } } }"""
DELEGATE = """mutation($t: ID!, $u: ID!) { delegateTask(input: {taskId: $t, toUserId: $u}) {
  task { id status assignee { username } onBehalfOf { username } } errors { field code } } }"""
ADD = f"""mutation($id: ID!, $u: ID!) {{ addSigner(input: {{documentId: $id, userId: $u}}) {{
  {DOC} errors {{ field code }} }} }}"""
REMOVE = f"""mutation($id: ID!, $u: ID!) {{ removeSigner(input: {{documentId: $id, userId: $u}}) {{
  {DOC} errors {{ field code }} }} }}"""
REROUTE = f"""mutation($id: ID!, $f: ID!, $t: ID!) {{ rerouteDocument(input: {{documentId: $id, fromUserId: $f,
  toUserId: $t, opinion: "人员调动"}}) {{ {DOC} errors {{ field code }} }} }}"""
COMMENT = f"""mutation($id: ID!, $o: String!) {{ commentDocument(input: {{documentId: $id, opinion: $o}}) {{
  {DOC} errors {{ field code }} }} }}"""
HISTORY = """query($id: ID!) { document(id: $id) { history { action round stepIndex toStepIndex opinion
  actor { username } targetUser { username } } } }"""


async def run(c: GraphQLClient, query: str, **variables: Any) -> dict[str, Any]:
    data = await c.execute(query, variables)
    assert "errors" not in data, data
    return next(iter(data["data"].values()))


async def history(c: GraphQLClient, doc_id: str) -> list[tuple[Any, ...]]:
    """(action, actor, target user, toStepIndex) of each history entry."""
    data = await c.execute(HISTORY, {"id": doc_id})
    entries = data["data"]["document"]["history"]
    return [
        (h["action"], h["actor"]["username"], (h["targetUser"] or {}).get("username"), h["toStepIndex"])
        for h in entries
    ]


async def kinds(c: GraphQLClient) -> list[str]:
    return [n["kind"] for n in await notifications(c)]


def three_steps(demo: Demo, mode: str = "PARALLEL_ALL") -> dict[str, Any]:
    """核稿 by deputy, 会签 (``mode``) by finance_head and drc_head, 签发 by secretary_general."""
    return {
        "steps": [
            step(demo, "核稿", "SINGLE", "deputy"),
            step(demo, "会签", mode, "finance_head", "drc_head"),
            sign_off(demo),
        ]
    }


# ---- return to an earlier step ---------------------------------------------------------------------


async def test_cell_return_to_step_parallel_all(users: dict[str, GraphQLClient], demo: Demo) -> None:
    """会签: the returning task is RETURNED, the other approval SUPERSEDED, the earlier step reopens;
    when the route comes back, the step opens fresh and completes normally."""
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    drc_task = await task_of(users["drc_head"], doc_id)
    result = await run(users["drc_head"], RETURN_TO, id=drc_task, o="请核稿人重新把关", to=0)
    assert result["errors"] == []
    assert result["task"]["status"] == "RETURNED"
    assert (result["document"]["status"], result["document"]["round"]) == ("IN_REVIEW", 1)
    assert result["document"]["currentStep"] == {"index": 0, "name": "核稿"}
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("deputy", "SUPERSEDED"), ("deputy", "PENDING")]
    assert task_states(doc, 1) == [("finance_head", "SUPERSEDED"), ("drc_head", "RETURNED")]
    assert (await history(users["clerk"], doc_id))[-1] == ("RETURNED_TO_STEP", "drc_head", None, 0)
    assert (await kinds(users["clerk"]))[-1] == "DOCUMENT_RETURNED"
    # The route comes back: both countersigners act again, then the sign-off opens.
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    last = await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
    assert last["document"]["currentStep"] == {"index": 2, "name": "签发"}
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 1) == [
        ("finance_head", "SUPERSEDED"),
        ("drc_head", "RETURNED"),
        ("finance_head", "APPROVED"),
        ("drc_head", "APPROVED"),
    ]


async def test_cell_return_to_step_quorum(users: dict[str, GraphQLClient], demo: Demo) -> None:
    """QUORUM 2 of 3: the pending task is cancelled, the approval superseded."""
    route = {
        "steps": [
            step(demo, "核稿", "SINGLE", "deputy"),
            quorum_step(demo, 2, "finance_head", "drc_head", "secretary_general"),
        ]
    }
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    result = await run(users["drc_head"], RETURN_TO, id=await task_of(users["drc_head"], doc_id), o="退回", to=0)
    assert result["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 1) == [
        ("finance_head", "SUPERSEDED"),
        ("drc_head", "RETURNED"),
        ("secretary_general", "CANCELLED"),
    ]
    assert "TASK_CANCELLED" in await kinds(users["secretary_general"])


async def test_cell_return_to_step_sequential(users: dict[str, GraphQLClient], demo: Demo) -> None:
    """SEQUENTIAL: the earlier signer's approval is superseded; when the route comes back the step
    starts again with its first signer."""
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo, "SEQUENTIAL")))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    result = await run(users["drc_head"], RETURN_TO, id=await task_of(users["drc_head"], doc_id), o="退回", to=0)
    assert result["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 1) == [("finance_head", "SUPERSEDED"), ("drc_head", "RETURNED")]
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert pending_of(doc, 1) == ["finance_head"]
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    assert pending_of(await get_document(users["clerk"], doc_id) or {}, 1) == ["drc_head"]
    done = await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
    assert done["document"]["currentStep"] == {"index": 2, "name": "签发"}


async def test_cell_return_to_step_any_one(users: dict[str, GraphQLClient], demo: Demo) -> None:
    """或签: the other pending task is cancelled; the step reopens with everyone when the route comes back."""
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo, "ANY_ONE")))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    result = await run(users["drc_head"], RETURN_TO, id=await task_of(users["drc_head"], doc_id), o="退回", to=0)
    assert result["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 1) == [("finance_head", "CANCELLED"), ("drc_head", "RETURNED")]
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert pending_of(doc, 1) == ["finance_head", "drc_head"]


async def test_return_to_step_errors_name_the_field(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    deputy_task = await task_of(users["deputy"], doc_id)
    before = await snapshot(platform)
    for to in (0, 1, -1):
        result = await run(users["deputy"], RETURN_TO, id=deputy_task, o="退回", to=to)
        assert codes(result["errors"]) == [("toStepIndex", "INVALID_VALUE")], to
    result = await run(users["deputy"], RETURN_TO, id=deputy_task, o=None, to=0)
    assert codes(result["errors"]) == [("opinion", "REQUIRED")]
    result = await run(users["deputy"], APPROVE_TO, id=deputy_task, to=0)
    assert codes(result["errors"]) == [("toStepIndex", "INVALID_VALUE")]
    assert await snapshot(platform) == before


# ---- withdraw ------------------------------------------------------------------------------------


async def test_drafter_withdraws_a_submission_nobody_acted_on(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    result = await run(users["clerk"], WITHDRAW, id=doc_id, o="补充材料")
    assert result["errors"] == []
    assert (result["document"]["status"], result["document"]["currentStep"]) == ("RETURNED", None)
    assert not await has_task(users["deputy"], doc_id)
    assert (await kinds(users["deputy"]))[-1] == "TASK_CANCELLED"
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("deputy", "CANCELLED")]
    assert (await history(users["clerk"], doc_id))[-1] == ("WITHDRAWN", "clerk", None, None)
    # Back with the drafter: resubmission opens round 2.
    assert (await submit(users["clerk"], doc_id))["errors"] == []
    assert await has_task(users["deputy"], doc_id)


async def test_withdraw_after_someone_acted_is_too_late(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    before = await snapshot(platform)
    assert codes((await run(users["clerk"], WITHDRAW, id=doc_id))["errors"]) == [("documentId", "WITHDRAW_TOO_LATE")]
    assert codes((await run(users["finance_head"], WITHDRAW, id=doc_id))["errors"]) == [
        ("documentId", "NOT_THE_SENDER")
    ]
    assert codes((await run(users["admin"], WITHDRAW, id=doc_id))["errors"]) == [("documentId", "NOT_FOUND")]
    assert await snapshot(platform) == before
    # A comment does not make it too late; an approval of the next step does.
    assert (await run(users["finance_head"], COMMENT, id=doc_id, o="请注意时限"))["errors"] == []
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    assert codes((await run(users["deputy"], WITHDRAW, id=doc_id))["errors"]) == [("documentId", "WITHDRAW_TOO_LATE")]


async def test_cell_withdraw_single(users: dict[str, GraphQLClient], demo: Demo) -> None:
    """An approver withdraws: the next step's tasks are cancelled, their task is pending again."""
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id), "同意")
    result = await run(users["deputy"], WITHDRAW, id=doc_id)
    assert result["errors"] == []
    assert result["document"]["status"] == "IN_REVIEW"
    assert result["document"]["currentStep"] == {"index": 0, "name": "核稿"}
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("deputy", "PENDING")]
    assert doc["steps"][0]["tasks"][0]["opinion"] is None
    assert task_states(doc, 1) == [("finance_head", "CANCELLED"), ("drc_head", "CANCELLED")]
    assert (await kinds(users["finance_head"]))[-1] == "TASK_CANCELLED"
    assert (await kinds(users["clerk"]))[-1] == "DOCUMENT_WITHDRAWN"
    # The approval stays in the history, followed by the withdrawal.
    assert [h[:2] for h in await history(users["clerk"], doc_id)][-2:] == [
        ("APPROVED", "deputy"),
        ("WITHDRAWN", "deputy"),
    ]
    again = await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    assert again["document"]["currentStep"] == {"index": 1, "name": "会签"}
    assert await has_task(users["finance_head"], doc_id)


async def test_cell_withdraw_parallel_all(users: dict[str, GraphQLClient], demo: Demo) -> None:
    """会签, an approval that did not complete the step: the other pending task is kept."""
    route = {"steps": [step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head", "deputy"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    assert (await run(users["finance_head"], WITHDRAW, id=doc_id))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("finance_head", "PENDING"), ("drc_head", "PENDING"), ("deputy", "PENDING")]


async def test_cell_withdraw_any_one(users: dict[str, GraphQLClient], demo: Demo) -> None:
    """或签: the tasks the withdrawn approval cancelled are pending again."""
    route = {"steps": [step(demo, "阅办", "ANY_ONE", "deputy", "finance_head", "drc_head"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    assert (await run(users["finance_head"], WITHDRAW, id=doc_id))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("deputy", "PENDING"), ("finance_head", "PENDING"), ("drc_head", "PENDING")]
    assert task_states(doc, 1) == [("secretary_general", "CANCELLED")]
    assert (await kinds(users["deputy"]))[-2:] == ["TASK_CANCELLED", "TASK_ASSIGNED"]
    # The race is open again: another approver may now win it.
    won = await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
    assert won["document"]["currentStep"] == {"index": 1, "name": "签发"}


async def test_cell_withdraw_quorum(users: dict[str, GraphQLClient], demo: Demo) -> None:
    """QUORUM 2 of 3: the k-th approval is withdrawn; the task it cancelled reopens, the first approval stays."""
    route = {"steps": [quorum_step(demo, 2, "deputy", "finance_head", "drc_head"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    done = await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    assert done["document"]["currentStep"] == {"index": 1, "name": "签发"}
    assert (await run(users["finance_head"], WITHDRAW, id=doc_id))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("deputy", "APPROVED"), ("finance_head", "PENDING"), ("drc_head", "PENDING")]
    assert task_states(doc, 1) == [("secretary_general", "CANCELLED")]
    again = await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
    assert again["document"]["currentStep"] == {"index": 1, "name": "签发"}


async def test_cell_withdraw_sequential(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "会签", "SEQUENTIAL", "finance_head", "drc_head")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    assert (await run(users["finance_head"], WITHDRAW, id=doc_id))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("finance_head", "PENDING"), ("drc_head", "CANCELLED")]
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    assert pending_of(await get_document(users["clerk"], doc_id) or {}, 0) == ["drc_head"]


async def test_withdraw_retried_with_a_key_runs_once(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    first = await run(users["clerk"], WITHDRAW, id=doc_id, k="w-1")
    second = await run(users["clerk"], WITHDRAW, id=doc_id, k="w-1")
    assert first == second
    assert first["errors"] == []
    assert [h[0] for h in await history(users["clerk"], doc_id)].count("WITHDRAWN") == 1


# ---- transfer and single-task delegation ---------------------------------------------------------

TRANSFER_KEY = """mutation($t: ID!, $u: ID!, $k: String) { transferTask(input: {taskId: $t, toUserId: $u,
  idempotencyKey: $k}) { task { id status assignee { username } } errors { field code } } }"""


async def test_transfer_retried_with_a_key_runs_once(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    t = await task_of(users["deputy"], doc_id)
    first = await run(users["deputy"], TRANSFER_KEY, t=t, u=demo.user("drc_head"), k="t-1")
    second = await run(users["deputy"], TRANSFER_KEY, t=t, u=demo.user("drc_head"), k="t-1")
    assert first == second
    assert first["errors"] == []
    assert [h[0] for h in await history(users["clerk"], doc_id)].count("TRANSFERRED") == 1
    assert (await kinds(users["drc_head"])).count("TASK_ASSIGNED") == 1
    other = await run(users["deputy"], TRANSFER_KEY, t=t, u=demo.user("finance_head"), k="t-1")
    assert codes(other["errors"]) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]


async def test_transfer_moves_the_task_to_another_person(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    old = await task_of(users["deputy"], doc_id)
    result = await run(users["deputy"], TRANSFER, t=old, u=demo.user("drc_head"), o="请钱主任办理")
    assert result["errors"] == []
    assert result["task"]["assignee"] == {"username": "drc_head"}
    assert result["task"]["onBehalfOf"] is None
    assert not await has_task(users["deputy"], doc_id)
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("deputy", "TRANSFERRED"), ("drc_head", "PENDING")]
    assert (await history(users["clerk"], doc_id))[-1] == ("TRANSFERRED", "deputy", "drc_head", None)
    assert (await kinds(users["drc_head"]))[-1] == "TASK_ASSIGNED"
    assert (await kinds(users["clerk"]))[-1] == "TASK_TRANSFERRED"
    assert await get_document(users["deputy"], doc_id) is not None  # keeps sight of it
    assert codes((await approve(users["deputy"], old))["errors"]) == [("taskId", "TASK_ALREADY_HANDLED")]
    done = await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
    assert done["document"]["currentStep"] == {"index": 1, "name": "会签"}


async def test_transfer_errors_name_the_field(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    t = await task_of(users["finance_head"], doc_id)
    before = await snapshot(platform)
    cases = [
        (users["finance_head"], demo.user("finance_head"), ("toUserId", "INVALID_VALUE")),
        (users["finance_head"], demo.user("drc_head"), ("toUserId", "DUPLICATE")),
        (users["finance_head"], "VXNlcjo5OTk5OTk=", ("toUserId", "NOT_FOUND")),
        (users["drc_head"], demo.user("deputy"), ("taskId", "NOT_YOUR_TASK")),
    ]
    for who, target, expected in cases:
        assert codes((await run(who, TRANSFER, t=t, u=target))["errors"]) == [expected]
        assert codes((await run(who, DELEGATE, t=t, u=target))["errors"]) == [expected]
    assert await snapshot(platform) == before


async def test_transfer_to_someone_who_already_approved_the_step_is_refused(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    """In a QUORUM step a second task for an approver would count their approval twice."""
    route = {"steps": [quorum_step(demo, 2, "deputy", "finance_head", "drc_head")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    before = await snapshot(platform)
    t = await task_of(users["finance_head"], doc_id)
    refused = await run(users["finance_head"], TRANSFER, t=t, u=demo.user("deputy"))
    assert codes(refused["errors"]) == [("toUserId", "DUPLICATE")]
    assert await snapshot(platform) == before


async def test_delegate_one_task_keeps_the_delegator_informed(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    t = await task_of(users["deputy"], doc_id)
    result = await run(users["deputy"], DELEGATE, t=t, u=demo.user("drc_head"))
    assert result["errors"] == []
    assert result["task"] == {
        "id": t,
        "status": "PENDING",
        "assignee": {"username": "drc_head"},
        "onBehalfOf": {"username": "deputy"},
    }
    assert codes((await approve(users["deputy"], t))["errors"]) == [("taskId", "NOT_YOUR_TASK")]
    assert (await history(users["clerk"], doc_id))[-1] == ("DELEGATED", "deputy", "drc_head", None)
    assert (await approve(users["drc_head"], t, "同意"))["errors"] == []
    assert (await kinds(users["deputy"]))[-1] == "DELEGATED_TASK_DONE"
    assert await get_document(users["deputy"], doc_id) is not None
    # A delegated task cannot be passed on again by the delegate.
    doc2 = await submitted(users["clerk"], doc_input(demo, title="第二件", route=three_steps(demo)))
    t2 = await task_of(users["deputy"], doc2)
    await run(users["deputy"], DELEGATE, t=t2, u=demo.user("drc_head"))
    again = await run(users["drc_head"], TRANSFER, t=t2, u=demo.user("finance_head"))
    assert codes(again["errors"]) == [("taskId", "INVALID_STATE")]


# ---- add and remove signers ----------------------------------------------------------------------


async def test_cell_add_signer_parallel_all(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    result = await run(users["clerk"], ADD, id=doc_id, u=demo.user("deputy"))
    assert result["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert [a["username"] for a in doc["steps"][0]["assignees"]] == ["finance_head", "drc_head", "deputy"]
    assert pending_of(doc, 0) == ["finance_head", "drc_head", "deputy"]
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    wait = await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
    assert wait["document"]["currentStep"] == {"index": 0, "name": "会签"}
    done = await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    assert done["document"]["currentStep"] == {"index": 1, "name": "签发"}
    assert (await history(users["clerk"], doc_id))[2] == ("SIGNER_ADDED", "clerk", "deputy", None)


async def test_cell_add_signer_sequential(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "会签", "SEQUENTIAL", "finance_head", "drc_head")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    assert (await run(users["clerk"], ADD, id=doc_id, u=demo.user("deputy")))["errors"] == []
    assert not await has_task(users["deputy"], doc_id)  # opens in turn
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
    assert await has_task(users["deputy"], doc_id)
    done = await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    assert done["document"]["status"] == "APPROVED"


async def test_cell_add_signer_any_one_and_quorum(users: dict[str, GraphQLClient], demo: Demo) -> None:
    for s in (step(demo, "阅办", "ANY_ONE", "finance_head"), quorum_step(demo, 1, "finance_head")):
        doc_id = await submitted(users["clerk"], doc_input(demo, title=s["mode"], route={"steps": [s]}))
        assert (await run(users["clerk"], ADD, id=doc_id, u=demo.user("drc_head")))["errors"] == []
        doc = await get_document(users["clerk"], doc_id)
        assert doc is not None
        assert pending_of(doc, 0) == ["finance_head", "drc_head"]
        done = await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
        assert done["document"]["status"] == "APPROVED"
        doc = await get_document(users["clerk"], doc_id)
        assert doc is not None
        assert task_states(doc, 0) == [("finance_head", "CANCELLED"), ("drc_head", "APPROVED")]


async def test_cell_add_signer_single_is_refused(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    before = await snapshot(platform)
    assert codes((await run(users["clerk"], ADD, id=doc_id, u=demo.user("drc_head")))["errors"]) == [
        ("userId", "INVALID_VALUE")
    ]
    assert codes((await run(users["clerk"], REMOVE, id=doc_id, u=demo.user("deputy")))["errors"]) == [
        ("userId", "INVALID_VALUE")
    ]
    assert await snapshot(platform) == before


async def test_the_drafter_cannot_countersign_their_own_draft(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    # Otherwise the drafter could add themselves, remove the others and approve alone.
    route = {"steps": [step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    before = await snapshot(platform)
    refused = await run(users["clerk"], ADD, id=doc_id, u=demo.user("clerk"))
    assert codes(refused["errors"]) == [("userId", "INVALID_VALUE")]
    assert await snapshot(platform) == before


async def test_only_the_drafter_or_the_sender_changes_signers(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    before = await snapshot(platform)
    refused = await run(users["finance_head"], ADD, id=doc_id, u=demo.user("secretary_general"))
    assert codes(refused["errors"]) == [("documentId", "NOT_THE_SENDER")]
    assert codes((await run(users["deputy"], ADD, id=doc_id, u=demo.user("finance_head")))["errors"]) == [
        ("userId", "DUPLICATE")
    ]
    assert await snapshot(platform) == before
    # deputy sent the 会签 step: deputy may add a signer.
    assert (await run(users["deputy"], ADD, id=doc_id, u=demo.user("secretary_general")))["errors"] == []


async def test_cell_remove_signer_parallel_all_completes_the_step(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head"), sign_off(demo)]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    result = await run(users["clerk"], REMOVE, id=doc_id, u=demo.user("drc_head"))
    assert result["errors"] == []
    assert result["document"]["currentStep"] == {"index": 1, "name": "签发"}
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("finance_head", "APPROVED"), ("drc_head", "CANCELLED")]
    assert [a["username"] for a in doc["steps"][0]["assignees"]] == ["finance_head"]
    assert (await kinds(users["drc_head"]))[-1] == "TASK_CANCELLED"
    assert await has_task(users["secretary_general"], doc_id)
    # An approved signer cannot be removed.
    doc2 = await submitted(users["clerk"], doc_input(demo, title="第二件", route=route))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc2))
    refused = await run(users["clerk"], REMOVE, id=doc2, u=demo.user("finance_head"))
    assert codes(refused["errors"]) == [("userId", "INVALID_STATE")]


async def test_cell_remove_signer_sequential_opens_the_next(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "会签", "SEQUENTIAL", "finance_head", "drc_head", "deputy")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    assert (await run(users["clerk"], REMOVE, id=doc_id, u=demo.user("finance_head")))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("finance_head", "CANCELLED"), ("drc_head", "PENDING")]
    await approve(users["drc_head"], await task_of(users["drc_head"], doc_id))
    done = await approve(users["deputy"], await task_of(users["deputy"], doc_id))
    assert done["document"]["status"] == "APPROVED"


async def test_cell_remove_signer_any_one_keeps_the_others(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "阅办", "ANY_ONE", "finance_head", "drc_head")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    assert (await run(users["clerk"], REMOVE, id=doc_id, u=demo.user("finance_head")))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("finance_head", "CANCELLED"), ("drc_head", "PENDING")]
    last = await run(users["clerk"], REMOVE, id=doc_id, u=demo.user("drc_head"))
    assert codes(last["errors"]) == [("userId", "INVALID_VALUE")]


async def test_cell_remove_signer_quorum_keeps_k_within_n(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    route = {"steps": [quorum_step(demo, 2, "finance_head", "drc_head", "deputy"), sign_off(demo)]}
    doc2 = await submitted(users["clerk"], doc_input(demo, route=route))
    assert (await run(users["clerk"], REMOVE, id=doc2, u=demo.user("deputy")))["errors"] == []
    before = await snapshot(platform)
    refused = await run(users["clerk"], REMOVE, id=doc2, u=demo.user("drc_head"))  # k = 2 > n − 1 = 1
    assert codes(refused["errors"]) == [("userId", "INVALID_VALUE")]
    assert await snapshot(platform) == before
    doc = await get_document(users["clerk"], doc2)
    assert doc is not None
    assert pending_of(doc, 0) == ["finance_head", "drc_head"]


# ---- reroute by an administrator -----------------------------------------------------------------


async def test_admin_reroutes_an_open_and_a_later_step(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    result = await run(users["admin"], REROUTE, id=doc_id, f=demo.user("deputy"), t=demo.user("drc_head"))
    assert result["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert task_states(doc, 0) == [("deputy", "TRANSFERRED"), ("drc_head", "PENDING")]
    assert (await kinds(users["deputy"]))[-1] == "TASK_TRANSFERRED"
    assert (await kinds(users["clerk"]))[-1] == "DOCUMENT_REROUTED"
    # The later step's signer who left: replaced on the route before the step opens.
    result = await run(users["admin"], REROUTE, id=doc_id, f=demo.user("secretary_general"), t=demo.user("deputy"))
    assert result["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert [a["username"] for a in doc["steps"][2]["assignees"]] == ["deputy"]
    assert [h[:3] for h in await history(users["clerk"], doc_id)][-1] == ("REROUTED", "admin", "deputy")
    bad = await run(users["admin"], REROUTE, id=doc_id, f=demo.user("secretary_general"), t=demo.user("clerk"))
    assert codes(bad["errors"]) == [("fromUserId", "INVALID_VALUE")]


async def test_reroute_is_for_administrators(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    before = await snapshot(platform)
    data = await users["clerk"].execute(REROUTE, {"id": doc_id, "f": demo.user("deputy"), "t": demo.user("drc_head")})
    assert data["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await snapshot(platform) == before


# ---- comments ------------------------------------------------------------------------------------


async def test_comment_is_recorded_and_told_without_acting(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=three_steps(demo)))
    result = await run(users["deputy"], COMMENT, id=doc_id, o="建议补充依据")
    assert result["errors"] == []
    assert result["document"]["version"] == 2  # unchanged by a comment
    assert (await history(users["clerk"], doc_id))[-1] == ("COMMENTED", "deputy", None, None)
    assert (await kinds(users["clerk"]))[-1] == "DOCUMENT_COMMENTED"
    assert await has_task(users["deputy"], doc_id)
    async with platform.db.read() as s:
        opinion = (
            await s.execute(select(DocumentAction.opinion).where(DocumentAction.action == "commented"))
        ).scalar_one()
    assert opinion == "建议补充依据"
    before = await snapshot(platform)
    assert codes((await run(users["admin"], COMMENT, id=doc_id, o="x"))["errors"]) == [("documentId", "NOT_FOUND")]
    assert codes((await run(users["deputy"], COMMENT, id=doc_id, o="  "))["errors"]) == [("opinion", "REQUIRED")]
    assert await snapshot(platform) == before


# ---- resubmission after a return: a new round, fresh tasks ------------------------------------


async def test_cell_resubmit_parallel_all(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    await approve(users["finance_head"], await task_of(users["finance_head"], doc_id))
    await return_(users["drc_head"], await task_of(users["drc_head"], doc_id), "请修改")
    assert (await submit(users["clerk"], doc_id))["errors"] == []
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert (doc["round"], task_states(doc, 0)) == (2, [("finance_head", "PENDING"), ("drc_head", "PENDING")])
    assert (await my_tasks(users["finance_head"]))["totalCount"] == 1

"""Delegation (委托) and handover (交接) over GraphQL, on SQLite and PostgreSQL.

Documents are drafted by clerk with the route 核稿 (deputy) → 签发 (secretary_general).
Dates are Asia/Shanghai days relative to today.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import func, select, update

from documents.models import DocumentAction, Task
from messaging.models import Notification
from messaging.outbox import ensure_counter
from office_api.auth import issue_access_token
from office_api.config import Settings
from office_api.org.delegation import MAX_CHAIN, local_today
from office_api.org.models import AuditEntry, Delegation, Position, PositionDuty, User
from tests.api.test_org import errors_of, gid, make_unit_admin, top_level_code
from tests.conftest import GraphQLClient, count_statements, enable_totp

CREATE_DOC = """mutation($input: CreateDocumentInput!) { createDocument(input: $input) {
  document { id } errors { field code } } }"""
SUBMIT = """mutation($id: ID!) { submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {
  document { id status } errors { field code } } }"""
APPROVE = """mutation($id: ID!) { approveTask(input: {taskId: $id}) {
  task { status assignee { username } } errors { field code } } }"""
CREATE = """mutation($input: CreateDelegationInput!) { createDelegation(input: $input) {
  delegation { id startDate endDate docTypes reason cancelledAt delegator { username } delegate { username } }
  errors { field code } } }"""
CANCEL = """mutation($id: ID!) { cancelDelegation(input: {id: $id}) {
  delegation { id cancelledAt } errors { field code } } }"""
MINE = """query($received: Boolean, $includeEnded: Boolean) {
  myDelegations(received: $received, includeEnded: $includeEnded) {
    edges { node { startDate endDate docTypes delegator { username } delegate { username } cancelledAt } } } }"""
MY_TASKS = """{ myTasks { totalCount edges { node { id status step { index } document { title }
  assignee { username } onBehalfOf { username } } } } }"""
DOCUMENT = """query($id: ID!) { document(id: $id) { title status
  steps { index tasks { status assignee { username } onBehalfOf { username } } }
  history { action round stepIndex opinion actor { username } } } }"""
HAND_OVER = """mutation($from: ID!, $to: ID!) { handOverTasks(input: {fromUserId: $from, toUserId: $to}) {
  movedCount tasks { id status assignee { username } document { title } } errors { field code } } }"""

TODAY = local_today()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


class World:
    """Signed-in clients and ids of the demo accounts for one test."""

    def __init__(self, client: GraphQLClient, settings: Settings, pks: dict[str, int]) -> None:
        self.client, self.settings, self.pks = client, settings, pks

    def as_(self, username: str) -> GraphQLClient:
        token, _ = issue_access_token(self.settings, self.pks[username])
        return GraphQLClient(self.client.http, token, self.client.lang)

    def uid(self, username: str) -> str:
        return gid("User", self.pks[username])

    async def delegate(
        self, frm: str, to: str, start: int, end: int, doc_types: list[str] | None = None
    ) -> dict[str, Any]:
        data = await self.as_(frm).execute(
            CREATE,
            {
                "input": {
                    "delegateId": self.uid(to),
                    "startDate": day(start),
                    "endDate": day(end),
                    "docTypes": doc_types,
                }
            },
        )
        return data["data"]["createDelegation"]

    async def document(self, title: str, doc_type: str = "NOTICE", first: str = "deputy") -> str:
        route = {
            "steps": [
                {"name": "核稿", "mode": "SINGLE", "assigneeIds": [self.uid(first)]},
                {"name": "签发", "mode": "SINGLE", "assigneeIds": [self.uid("secretary_general")]},
            ]
        }
        clerk = self.as_("clerk")
        created = await clerk.execute(CREATE_DOC, {"input": {"title": title, "docType": doc_type, "route": route}})
        doc_id = created["data"]["createDocument"]["document"]["id"]
        submitted = await clerk.execute(SUBMIT, {"id": doc_id})
        assert submitted["data"]["submitDocument"]["errors"] == []
        return doc_id


@pytest.fixture
async def world(client: GraphQLClient, settings: Settings, platform: Any) -> World:
    async with platform.db.read() as s:
        pks = {u: pk for pk, u in (await s.execute(select(User.id, User.username))).all()}
    await enable_totp(platform, "admin")  # World.as_ issues tokens directly
    return World(client, settings, pks)


async def delegation_rows(platform: Any) -> list[tuple]:
    async with platform.db.read() as s:
        cols = list(Delegation.__table__.columns)
        return [tuple(r) for r in (await s.execute(select(*cols).order_by(Delegation.id))).all()]


async def task_rows(platform: Any) -> list[tuple]:
    async with platform.db.read() as s:
        rows = await s.execute(
            select(Task.id, Task.document_id, Task.assignee_id, Task.on_behalf_of_id, Task.status).order_by(Task.id)
        )
        return [tuple(r) for r in rows]


async def notes(platform: Any, user_id: int) -> list[tuple]:
    async with platform.db.read() as s:
        rows = await s.execute(
            select(Notification.kind, Notification.title, Notification.body, Notification.payload)
            .where(Notification.user_id == user_id)
            .order_by(Notification.seq)
        )
        return [tuple(r) for r in rows]


# ---- routing through a delegation --------------------------------------------------------


async def test_task_in_range_goes_to_the_delegate_on_behalf_of_the_delegator(world: World, platform: Any) -> None:
    made = await world.delegate("deputy", "drc_head", 0, 2)
    assert made["errors"] == []
    assert made["delegation"] | {"id": None} == {
        "id": None,
        "startDate": day(0),
        "endDate": day(2),
        "docTypes": None,
        "reason": None,
        "cancelledAt": None,
        "delegator": {"username": "deputy"},
        "delegate": {"username": "drc_head"},
    }
    doc = await world.document("关于春节值班的通知")
    drc = (await world.as_("drc_head").execute(MY_TASKS))["data"]["myTasks"]
    assert drc["totalCount"] == 1
    node = drc["edges"][0]["node"]
    assert (node["assignee"], node["onBehalfOf"], node["step"]) == (
        {"username": "drc_head"},
        {"username": "deputy"},
        {"index": 0},
    )
    assert (await world.as_("deputy").execute(MY_TASKS))["data"]["myTasks"]["totalCount"] == 0
    # The delegator still sees the document and the task done for them.
    seen = (await world.as_("deputy").execute(DOCUMENT, {"id": doc}))["data"]["document"]
    assert seen["title"] == "关于春节值班的通知"
    assert seen["steps"][0]["tasks"] == [
        {"status": "PENDING", "assignee": {"username": "drc_head"}, "onBehalfOf": {"username": "deputy"}}
    ]
    # Someone else still does not.
    assert (await world.as_("finance_head").execute(DOCUMENT, {"id": doc}))["data"]["document"] is None
    task_pk = int(
        (await task_rows(platform))[-1][0],
    )
    doc_pk = (await task_rows(platform))[-1][1]
    payload = {"taskId": task_pk, "stepIndex": 0, "round": 1, "onBehalfOfId": world.pks["deputy"]}
    assert await notes(platform, world.pks["drc_head"]) == [
        (
            "TASK_ASSIGNED",
            "待办：关于春节值班的通知",
            "王文书 送来《关于春节值班的通知》，请核稿（代 李副主任 办理）",
            payload,
        )
    ]
    assert await notes(platform, world.pks["deputy"]) == [
        (
            "TASK_DELEGATED",
            "已委托办理：关于春节值班的通知",
            "《关于春节值班的通知》的核稿待办已按委托交由 钱主任 办理",
            payload | {"assigneeId": world.pks["drc_head"]},
        )
    ]
    assert (await task_rows(platform))[-1] == (
        task_pk,
        doc_pk,
        world.pks["drc_head"],
        world.pks["deputy"],
        "pending",
    )
    # The delegate acts; the next step is not delegated.
    approved = await world.as_("drc_head").execute(APPROVE, {"id": gid("Task", task_pk)})
    assert approved["data"]["approveTask"] == {
        "task": {"status": "APPROVED", "assignee": {"username": "drc_head"}},
        "errors": [],
    }
    assert (await task_rows(platform))[-1][2:] == (world.pks["secretary_general"], None, "pending")


async def test_out_of_range_and_other_doc_types_stay_with_the_delegator(world: World, platform: Any) -> None:
    assert (await world.delegate("deputy", "drc_head", 1, 3))["errors"] == []
    assert (await world.delegate("deputy", "finance_head", 0, 0, ["REQUEST", "REPORT"]))["errors"] == []
    await world.document("通知一")  # a NOTICE today: neither delegation applies
    assert (await task_rows(platform))[-1][2:] == (world.pks["deputy"], None, "pending")
    await world.document("请示一", "REQUEST")
    assert (await task_rows(platform))[-1][2:] == (world.pks["finance_head"], world.pks["deputy"], "pending")
    assert [n[0] for n in await notes(platform, world.pks["deputy"])] == ["TASK_ASSIGNED", "TASK_DELEGATED"]


async def test_chain_resolves_to_the_last_delegate(world: World, platform: Any) -> None:
    assert (await world.delegate("deputy", "drc_head", 0, 5))["errors"] == []
    assert (await world.delegate("drc_head", "finance_head", 0, 1))["errors"] == []
    doc = await world.document("链式委托")
    assert (await task_rows(platform))[-1][2:] == (world.pks["finance_head"], world.pks["deputy"], "pending")
    # Both the original assignee and the final delegate see it; the middle link does not.
    assert (await world.as_("deputy").execute(DOCUMENT, {"id": doc}))["data"]["document"] is not None
    assert (await world.as_("finance_head").execute(DOCUMENT, {"id": doc}))["data"]["document"] is not None
    assert (await world.as_("drc_head").execute(DOCUMENT, {"id": doc}))["data"]["document"] is None


async def test_chain_stops_after_the_depth_limit(world: World, platform: Any) -> None:
    names = [f"chain{i}" for i in range(MAX_CHAIN + 2)]
    async with platform.db.unit_of_work() as uow:
        for name in names:
            user = User(username=name, display_name=name, password_hash="!")
            uow.session.add(user)
            await uow.session.flush()
            await ensure_counter(uow, user.id)
            world.pks[name] = user.id
    for a, b in itertools.pairwise(names):
        assert (await world.delegate(a, b, 0, 1))["errors"] == []
    await world.document("深链", first=names[0])
    # chain0 → chain1 → … : five hops end at chain5; chain6 is never reached.
    assert (await task_rows(platform))[-1][2:] == (world.pks[names[MAX_CHAIN]], world.pks[names[0]], "pending")


async def test_inactive_delegate_is_skipped(world: World, platform: Any) -> None:
    assert (await world.delegate("deputy", "drc_head", 0, 1))["errors"] == []
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(User).where(User.id == world.pks["drc_head"]).values(is_active=False))
    await world.document("受托人停用")
    assert (await task_rows(platform))[-1][2:] == (world.pks["deputy"], None, "pending")


# ---- refused delegations ---------------------------------------------------------------


async def test_refused_delegations_change_nothing(world: World, platform: Any) -> None:
    assert (await world.delegate("deputy", "drc_head", 0, 5, ["NOTICE"]))["errors"] == []
    before = await delegation_rows(platform)
    cases = [
        (("deputy", "deputy", 0, 1, None), [("delegateId", "SELF_DELEGATION")]),
        (("deputy", "finance_head", 5, 9, None), [("startDate", "DELEGATION_OVERLAP")]),
        (("deputy", "finance_head", 3, 4, ["LETTER", "NOTICE"]), [("startDate", "DELEGATION_OVERLAP")]),
        (("drc_head", "deputy", 2, 8, None), [("delegateId", "DELEGATION_CYCLE")]),
        (("deputy", "finance_head", 3, 1, None), [("endDate", "INVALID_VALUE")]),
        (("deputy", "finance_head", -3, -1, None), [("endDate", "INVALID_VALUE")]),
        (("deputy", "finance_head", 6, 400, None), [("endDate", "INVALID_VALUE")]),
        (("deputy", "finance_head", 6, 7, []), [("docTypes", "INVALID_VALUE")]),
        (("deputy", "finance_head", 6, 7, ["LETTER", "LETTER"]), [("docTypes", "DUPLICATE")]),
    ]
    for args, expected in cases:
        result = await world.delegate(*args)
        assert (args, result["delegation"], errors_of(result)) == (args, None, expected)
    assert await delegation_rows(platform) == before
    unknown = await world.as_("deputy").execute(
        CREATE, {"input": {"delegateId": gid("User", 99999), "startDate": day(0), "endDate": day(1)}}
    )
    assert errors_of(unknown["data"]["createDelegation"]) == [("delegateId", "NOT_FOUND")]
    anonymous = await world.client.execute(
        CREATE, {"input": {"delegateId": world.uid("deputy"), "startDate": day(0), "endDate": day(1)}}
    )
    assert top_level_code(anonymous) == "UNAUTHENTICATED"
    assert await delegation_rows(platform) == before
    # Disjoint types, disjoint dates, and the reverse direction outside the range are fine.
    assert (await world.delegate("deputy", "finance_head", 0, 5, ["REQUEST"]))["errors"] == []
    assert (await world.delegate("deputy", "finance_head", 6, 9))["errors"] == []
    assert (await world.delegate("drc_head", "deputy", 6, 8))["errors"] == []
    assert len(await delegation_rows(platform)) == len(before) + 3


async def test_longer_cycle_is_refused(world: World, platform: Any) -> None:
    assert (await world.delegate("deputy", "drc_head", 0, 5))["errors"] == []
    assert (await world.delegate("drc_head", "finance_head", 0, 5))["errors"] == []
    before = await delegation_rows(platform)
    result = await world.delegate("finance_head", "deputy", 4, 6)
    assert errors_of(result) == [("delegateId", "DELEGATION_CYCLE")]
    assert await delegation_rows(platform) == before


async def test_cancel_and_list_delegations(world: World, platform: Any) -> None:
    made = await world.delegate("deputy", "drc_head", 0, 2)
    assert (await world.delegate("finance_head", "drc_head", 0, 1, ["LETTER"]))["errors"] == []
    received = (await world.as_("drc_head").execute(MINE, {"received": True}))["data"]["myDelegations"]
    assert [e["node"]["delegator"]["username"] for e in received["edges"]] == ["finance_head", "deputy"]
    assert received["edges"][0]["node"]["docTypes"] == ["LETTER"]
    given = (await world.as_("deputy").execute(MINE, {}))["data"]["myDelegations"]
    assert [(e["node"]["delegate"]["username"], e["node"]["endDate"]) for e in given["edges"]] == [("drc_head", day(2))]
    delegation_id = made["delegation"]["id"]
    # Only the delegator may cancel.
    refused = await world.as_("drc_head").execute(CANCEL, {"id": delegation_id})
    assert errors_of(refused["data"]["cancelDelegation"]) == [("id", "NOT_FOUND")]
    cancelled = await world.as_("deputy").execute(CANCEL, {"id": delegation_id})
    assert cancelled["data"]["cancelDelegation"]["errors"] == []
    assert cancelled["data"]["cancelDelegation"]["delegation"]["cancelledAt"] is not None
    again = await world.as_("deputy").execute(CANCEL, {"id": delegation_id})
    assert errors_of(again["data"]["cancelDelegation"]) == [("id", "INVALID_STATE")]
    assert (await world.as_("deputy").execute(MINE, {}))["data"]["myDelegations"]["edges"] == []
    ended = (await world.as_("deputy").execute(MINE, {"includeEnded": True}))["data"]["myDelegations"]
    assert len(ended["edges"]) == 1
    await world.document("取消后")
    assert (await task_rows(platform))[-1][2:] == (world.pks["deputy"], None, "pending")
    # A new delegation over the cancelled range is no longer an overlap.
    assert (await world.delegate("deputy", "finance_head", 0, 2))["errors"] == []


async def test_concurrent_overlapping_delegations_one_wins(world: World, platform: Any) -> None:
    results = await asyncio.gather(
        world.delegate("deputy", "drc_head", 0, 3),
        world.delegate("deputy", "finance_head", 2, 5),
    )
    assert sorted(str(errors_of(r)) for r in results) == ["[('startDate', 'DELEGATION_OVERLAP')]", "[]"]
    assert len(await delegation_rows(platform)) == 1


async def test_concurrent_opposite_delegations_one_wins(world: World, platform: Any) -> None:
    results = await asyncio.gather(
        world.delegate("deputy", "drc_head", 0, 3),
        world.delegate("drc_head", "deputy", 0, 3),
    )
    assert sorted(str(errors_of(r)) for r in results) == ["[('delegateId', 'DELEGATION_CYCLE')]", "[]"]
    assert len(await delegation_rows(platform)) == 1


# ---- handover --------------------------------------------------------------------------


async def test_handover_moves_exactly_the_pending_tasks(world: World, platform: Any) -> None:
    first = await world.document("文一")
    await world.document("文二")
    await world.document("文三")
    rows = await task_rows(platform)
    done_task = rows[0][0]
    approved = await world.as_("deputy").execute(APPROVE, {"id": gid("Task", done_task)})
    assert approved["data"]["approveTask"]["errors"] == []
    before = await task_rows(platform)
    seq_before = {u: len(await notes(platform, world.pks[u])) for u in ("deputy", "drc_head")}
    data = await world.as_("admin").execute(HAND_OVER, {"from": world.uid("deputy"), "to": world.uid("drc_head")})
    result = data["data"]["handOverTasks"]
    assert result["errors"] == []
    assert result["movedCount"] == 2
    assert [(t["status"], t["assignee"], t["document"]) for t in result["tasks"]] == [
        ("PENDING", {"username": "drc_head"}, {"title": "文二"}),
        ("PENDING", {"username": "drc_head"}, {"title": "文三"}),
    ]
    moved = [r[0] for r in before if r[2] == world.pks["deputy"] and r[4] == "pending"]
    after = await task_rows(platform)
    assert after == [(r[0], r[1], world.pks["drc_head"], r[3], r[4]) if r[0] in moved else r for r in before]
    assert next(r for r in after if r[0] == done_task)[2] == world.pks["deputy"]
    # Notifications: per task, TASK_ASSIGNED to the new assignee, TASK_TRANSFERRED to the old.
    new_notes = (await notes(platform, world.pks["drc_head"]))[seq_before["drc_head"] :]
    old_notes = (await notes(platform, world.pks["deputy"]))[seq_before["deputy"] :]
    common = {"stepIndex": 0, "round": 1, "fromUserId": world.pks["deputy"], "toUserId": world.pks["drc_head"]}
    assert new_notes == [
        ("TASK_ASSIGNED", f"待办：{t}", "李副主任 的待办已移交给您，请核稿", {"taskId": pk, **common})
        for t, pk in zip(("文二", "文三"), moved, strict=True)
    ]
    assert old_notes == [
        ("TASK_TRANSFERRED", f"待办已移交：{t}", "您的核稿待办已移交给 钱主任", {"taskId": pk, **common})
        for t, pk in zip(("文二", "文三"), moved, strict=True)
    ]
    # History of a moved document records it; the approved one has no handover entry.
    second = gid("Document", before[1][1])
    history = (await world.as_("clerk").execute(DOCUMENT, {"id": second}))["data"]["document"]["history"]
    assert history[-1] == {
        "action": "HANDED_OVER",
        "round": 1,
        "stepIndex": 0,
        "opinion": "李副主任 → 钱主任",
        "actor": {"username": "admin"},
    }
    first_history = (await world.as_("clerk").execute(DOCUMENT, {"id": first}))["data"]["document"]["history"]
    assert "HANDED_OVER" not in [h["action"] for h in first_history]
    # The new assignee can act; the old one cannot.
    assert (await world.as_("deputy").execute(APPROVE, {"id": gid("Task", moved[0])}))["data"]["approveTask"][
        "errors"
    ] == [{"field": "taskId", "code": "NOT_YOUR_TASK"}]
    ok = await world.as_("drc_head").execute(APPROVE, {"id": gid("Task", moved[0])})
    assert ok["data"]["approveTask"]["errors"] == []
    # Nothing left to move: a second handover moves nothing.
    again = await world.as_("admin").execute(HAND_OVER, {"from": world.uid("deputy"), "to": world.uid("drc_head")})
    assert again["data"]["handOverTasks"] == {"movedCount": 0, "tasks": [], "errors": []}


async def test_refused_handovers_change_nothing(world: World, platform: Any) -> None:
    await world.document("文一")
    await make_unit_admin(platform, "jinan_admin", "370100")
    async with platform.db.read() as s:
        world.pks["jinan_admin"] = (await s.execute(select(User.id).where(User.username == "jinan_admin"))).scalar_one()
    before = await task_rows(platform)

    async def history_count() -> int:
        async with platform.db.read() as s:
            return (await s.execute(select(func.count()).select_from(DocumentAction))).scalar_one()

    actions = await history_count()
    frm, to = world.uid("deputy"), world.uid("drc_head")
    assert top_level_code(await world.as_("jinan_admin").execute(HAND_OVER, {"from": frm, "to": to})) == "FORBIDDEN"
    assert top_level_code(await world.as_("clerk").execute(HAND_OVER, {"from": frm, "to": to})) == "FORBIDDEN"
    same = await world.as_("admin").execute(HAND_OVER, {"from": frm, "to": frm})
    assert errors_of(same["data"]["handOverTasks"]) == [("toUserId", "INVALID_VALUE")]
    missing = await world.as_("admin").execute(HAND_OVER, {"from": frm, "to": gid("User", 99999)})
    assert errors_of(missing["data"]["handOverTasks"]) == [("toUserId", "NOT_FOUND")]
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(User).where(User.id == world.pks["drc_head"]).values(is_active=False))
    inactive = await world.as_("admin").execute(HAND_OVER, {"from": frm, "to": to})
    assert errors_of(inactive["data"]["handOverTasks"]) == [("toUserId", "INACTIVE")]
    assert inactive["data"]["handOverTasks"]["movedCount"] == 0
    assert await task_rows(platform) == before
    assert await history_count() == actions


async def audit_rows(platform: Any, after_id: int, *actions: str) -> list[tuple]:
    async with platform.db.read() as s:
        rows = await s.execute(
            select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.target_type, AuditEntry.target_id)
            .add_columns(AuditEntry.before, AuditEntry.after)
            .where(AuditEntry.action.in_(actions), AuditEntry.id > after_id)
            .order_by(AuditEntry.id)
        )
        return [tuple(r) for r in rows]


SET_DUTIES = """mutation($input: SetPositionDutiesInput!) { setPositionDuties(input: $input) {
  errors { field code } } }"""


async def test_delegation_handover_and_duty_changes_are_audited(world: World, platform: Any) -> None:
    async with platform.db.read() as s:
        last_audit = (await s.execute(select(func.max(AuditEntry.id)))).scalar_one() or 0
    made = await world.delegate("deputy", "drc_head", 0, 2, ["NOTICE"])
    async with platform.db.read() as s:
        dpk = (await s.execute(select(Delegation.id))).scalar_one()
    # Refused attempts leave no audit row.
    assert errors_of(await world.delegate("deputy", "deputy", 0, 1)) == [("delegateId", "SELF_DELEGATION")]
    await world.as_("deputy").execute(CANCEL, {"id": made["delegation"]["id"]})
    await world.document("文一", first="finance_head")
    moved = await world.as_("admin").execute(
        HAND_OVER, {"from": world.uid("finance_head"), "to": world.uid("drc_head")}
    )
    assert moved["data"]["handOverTasks"]["movedCount"] == 1
    task_pk = [r[0] for r in await task_rows(platform) if r[2] == world.pks["drc_head"]]
    async with platform.db.read() as s:
        post = (
            await s.execute(select(Position.id).where(Position.user_id == world.pks["deputy"], Position.is_primary))
        ).scalar_one()
        duties_before = sorted(
            (await s.execute(select(PositionDuty.duty).where(PositionDuty.position_id == post))).scalars()
        )
    set_duties = await world.as_("admin").execute(
        SET_DUTIES, {"input": {"positionId": gid("Position", post), "duties": ["CLERK"]}}
    )
    assert set_duties["data"]["setPositionDuties"]["errors"] == []
    rows = await audit_rows(
        platform, last_audit, "delegation.create", "delegation.cancel", "task.handover", "position.duties"
    )
    cancelled_at = rows[1][5]["cancelledAt"]
    assert rows == [
        (
            world.pks["deputy"],
            "delegation.create",
            "Delegation",
            str(dpk),
            None,
            {
                "delegatorId": world.pks["deputy"],
                "delegateId": world.pks["drc_head"],
                "startDate": day(0),
                "endDate": day(2),
                "docTypes": ["notice"],
            },
        ),
        (
            world.pks["deputy"],
            "delegation.cancel",
            "Delegation",
            str(dpk),
            {"cancelledAt": None},
            {"cancelledAt": cancelled_at},
        ),
        (
            world.pks["admin"],
            "task.handover",
            "User",
            str(world.pks["finance_head"]),
            None,
            {"toUserId": world.pks["drc_head"], "taskIds": task_pk},
        ),
        (
            world.pks["admin"],
            "position.duties",
            "Position",
            str(post),
            {"duties": duties_before},
            {"duties": ["clerk"]},
        ),
    ]
    assert dt.datetime.fromisoformat(cancelled_at).tzinfo is not None


async def test_my_delegations_query_count_does_not_grow_with_the_page(world: World, platform: Any) -> None:
    for frm in ("deputy", "finance_head", "secretary_general", "clerk"):
        assert (await world.delegate(frm, "drc_head", 0, 3))["errors"] == []
    drc = world.as_("drc_head")
    q = """query($first: Int) { myDelegations(received: true, first: $first) {
      edges { node { delegator { username } delegate { username } } } pageInfo { hasNextPage } } }"""
    counts = {}
    for first in (1, 4):
        with count_statements(platform) as statements:
            data = await drc.execute(q, {"first": first})
        counts[first] = len(statements)
        assert len(data["data"]["myDelegations"]["edges"]) == first
    assert counts[1] == counts[4], counts

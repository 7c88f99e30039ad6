"""Due dates everywhere (办理时限) through GraphQL, on SQLite and PostgreSQL: task clocks on the
seeded policies, kept through transfers, closed met or missed; a document clock that stops
while the document is returned to its drafter; the route step's due date; ``myTasks`` sorted and
filtered by due date with stable cursors; a constant number of SQL statements per list.

Time is the platform's injectable clock (``platform.clock``), so every date below is exact.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from documents.models import Task
from office_api import sla
from office_api.deadlines import Deadline
from office_api.extensions import ExtensionRequest
from office_api.workdays import SHANGHAI
from tests.api import test_documents as documents_api
from tests.api import test_incoming as incoming_api
from tests.api.test_documents import Demo, approve, create_ok, doc_input, return_, step, submit, submitted
from tests.conftest import GraphQLClient, count_statements

demo = documents_api.demo
users = documents_api.users

D = dt.date
DEADLINE = (
    "deadline { status dueOn dueAt provisional workingDaysLeft overdue unit limit closedAt pauseReason "
    "policy { code } }"
)
TASKS = (
    "query($first: Int, $after: String, $order: TaskOrder, $due: DueFilter, $filter: DocumentListFilter) {"
    " myTasks(first: $first, after: $after, orderBy: $order, due: $due, filter: $filter) {"
    " totalCount pageInfo { hasNextPage endCursor }"
    f" edges {{ cursor node {{ id status document {{ id title urgency }} {DEADLINE} }} }} }} }}"
)
DOCUMENT = (
    "query($id: ID!) { document(id: $id) { status "
    f"{DEADLINE} steps {{ name {DEADLINE} tasks {{ id status assignee {{ username }} {DEADLINE} }} }} }} }}"
)
TRANSFER = """mutation($id: ID!, $to: ID!) { transferTask(input: {taskId: $id, toUserId: $to}) {
  task { id } errors { field code } } }"""
DELEGATE = """mutation($id: ID!, $to: ID!) { delegateTask(input: {taskId: $id, toUserId: $to}) {
  task { id } errors { field code } } }"""


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """``hour``:00 Asia/Shanghai on ``day`` as a UTC instant."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI).astimezone(dt.UTC)


def iso(instant: dt.datetime) -> str:
    return instant.isoformat()


def set_clock(platform: Any, instant: dt.datetime) -> None:
    platform.clock = lambda: instant


def one_step(demo: Demo, username: str = "deputy") -> dict[str, Any]:
    return {"steps": [step(demo, "核稿", "SINGLE", username)]}


async def tasks(c: GraphQLClient, **variables: Any) -> dict[str, Any]:
    data = await c.execute(TASKS, {"first": 100, **variables})
    assert "errors" not in data, data
    return data["data"]["myTasks"]


async def task_on(c: GraphQLClient, doc_id: str) -> dict[str, Any]:
    edges = [e["node"] for e in (await tasks(c))["edges"] if e["node"]["document"]["id"] == doc_id]
    assert len(edges) == 1, edges
    return edges[0]


async def document(c: GraphQLClient, doc_id: str) -> dict[str, Any]:
    data = await c.execute(DOCUMENT, {"id": doc_id})
    assert "errors" not in data, data
    return data["data"]["document"]


async def test_task_due_dates_follow_the_seeded_policies_and_close_met_or_missed(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient]
) -> None:
    clerk, deputy = users["clerk"], users["deputy"]
    # Wed 2026-09-30: National Day Oct 1–7 is off, Sat Oct 10 is a make-up working day.
    set_clock(platform, at(D(2026, 9, 30)))
    ids = {}
    for urgency in ("NORMAL", "URGENT", "EXTRA_URGENT"):
        ids[urgency] = await submitted(clerk, doc_input(demo, urgency=urgency, route=one_step(demo)))
    normal, urgent, extra = [(await task_on(deputy, ids[u]))["deadline"] for u in ("NORMAL", "URGENT", "EXTRA_URGENT")]
    # document-review: 3 working days after Sep 30 → Oct 8, 9, 10 (Saturday, worked).
    assert normal == {
        "status": "RUNNING",
        "dueOn": "2026-10-10",
        "dueAt": "2026-10-10T16:00:00+00:00",
        "provisional": False,
        "workingDaysLeft": 3,
        "overdue": False,
        "unit": "WORKING_DAYS",
        "limit": 3,
        "closedAt": None,
        "pauseReason": None,
        "policy": {"code": "document-review"},
    }
    # document-urgent: 1 working day → Thu Oct 8.
    assert (urgent["dueOn"], urgent["workingDaysLeft"], urgent["policy"]) == (
        "2026-10-08",
        1,
        {"code": "document-urgent"},
    )
    # document-extra-urgent: 24 hours from the opening instant, no due date to count to.
    assert (extra["dueOn"], extra["dueAt"], extra["unit"], extra["workingDaysLeft"], extra["policy"]) == (
        None,
        iso(at(D(2026, 10, 1))),
        "HOURS",
        None,
        {"code": "document-extra-urgent"},
    )
    # No policy binds target "document" by default: no document clock.
    assert (await document(clerk, ids["NORMAL"]))["deadline"] is None

    # Fri Oct 9: the normal task is on time (met), the urgent one a day late (missed).
    set_clock(platform, at(D(2026, 10, 9), 9))
    seen = (await task_on(deputy, ids["URGENT"]))["deadline"]
    assert (seen["overdue"], seen["workingDaysLeft"]) == (True, -1)
    for u in ("NORMAL", "URGENT"):
        payload = await approve(deputy, (await task_on(deputy, ids[u]))["id"])
        assert payload["errors"] == [], payload
    met = (await document(clerk, ids["NORMAL"]))["steps"][0]["tasks"][0]["deadline"]
    missed = (await document(clerk, ids["URGENT"]))["steps"][0]["tasks"][0]["deadline"]
    assert (met["status"], met["closedAt"], met["workingDaysLeft"]) == ("MET", iso(at(D(2026, 10, 9), 9)), None)
    assert missed["status"] == "MISSED"


async def test_a_transferred_task_keeps_the_due_date_and_a_delegated_one_its_clock(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient]
) -> None:
    clerk, deputy, finance = users["clerk"], users["deputy"], users["finance_head"]
    set_clock(platform, at(D(2026, 9, 30)))
    doc_id = await submitted(clerk, doc_input(demo, route=one_step(demo)))
    first = await task_on(deputy, doc_id)
    # Thu Oct 8: passed on to finance_head, the step's due date stays Sat Oct 10.
    set_clock(platform, at(D(2026, 10, 8)))
    moved = (await deputy.execute(TRANSFER, {"id": first["id"], "to": demo.user("finance_head")}))["data"]
    assert moved["transferTask"]["errors"] == [], moved
    second = await task_on(finance, doc_id)
    assert (second["deadline"]["dueOn"], second["deadline"]["status"], second["deadline"]["workingDaysLeft"]) == (
        "2026-10-10",
        "RUNNING",
        2,
    )
    view = await document(clerk, doc_id)
    by_status = {t["status"]: t["deadline"] for t in view["steps"][0]["tasks"]}
    assert by_status["TRANSFERRED"]["status"] == "CANCELLED"
    assert view["steps"][0]["deadline"]["dueOn"] == "2026-10-10"
    # Delegation moves the same task: same clock, new holder.
    delegated = (await finance.execute(DELEGATE, {"id": second["id"], "to": demo.user("drc_head")}))["data"]
    assert delegated["delegateTask"]["errors"] == [], delegated
    third = await task_on(users["drc_head"], doc_id)
    assert third["id"] == second["id"]
    assert third["deadline"]["dueOn"] == "2026-10-10"
    async with platform.db.read() as s:
        holders = (
            await s.execute(
                select(Deadline.holder_user_id, Deadline.assigner_user_id).where(
                    Deadline.subject_type == "task", Deadline.subject_id == int(_pk(second["id"]))
                )
            )
        ).one()
    assert holders == (demo.user_pks["drc_head"], demo.user_pks["deputy"])


def _pk(gid: str) -> str:
    from strawberry.relay import GlobalID

    return GlobalID.from_id(gid).node_id


async def test_the_document_clock_stops_while_it_is_returned_to_its_drafter(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient]
) -> None:
    clerk, deputy = users["clerk"], users["deputy"]
    async with platform.db.unit_of_work() as uow:
        hotline = await sla.policy_by_code(uow.session, "hotline-12345")
        assert hotline is not None
        uow.session.add(sla.SlaBinding(policy_id=hotline.id, target="document", doc_type="notice"))
    # Submitted Mon 2026-11-02: 5 working days → Mon Nov 9.
    set_clock(platform, at(D(2026, 11, 2)))
    doc_id = await submitted(clerk, doc_input(demo, route=one_step(demo)))
    clock = (await document(clerk, doc_id))["deadline"]
    assert (clock["status"], clock["dueOn"], clock["policy"]) == ("RUNNING", "2026-11-09", {"code": "hotline-12345"})
    # Returned Wed Nov 4 (Nov 3 and 4 used, 3 left): the clock stops.
    set_clock(platform, at(D(2026, 11, 4)))
    back = await return_(deputy, (await task_on(deputy, doc_id))["id"], "请补充依据")
    assert back["errors"] == [], back
    clock = (await document(clerk, doc_id))["deadline"]
    assert (clock["status"], clock["dueOn"], clock["pauseReason"], clock["workingDaysLeft"]) == (
        "PAUSED",
        None,
        "returned_to_drafter",
        None,
    )
    # Resubmitted a week later, Wed Nov 11: Nov 12, 13, 16 → due Mon Nov 16 (moved by the 5
    # working days it stood still: Nov 5, 6, 9, 10, 11).
    set_clock(platform, at(D(2026, 11, 11)))
    again = await submit(clerk, doc_id)
    assert again["errors"] == [], again
    clock = (await document(clerk, doc_id))["deadline"]
    assert (clock["status"], clock["dueOn"], clock["workingDaysLeft"]) == ("RUNNING", "2026-11-16", 3)
    # Approved Fri Nov 13: the document's processing met its deadline.
    set_clock(platform, at(D(2026, 11, 13)))
    done = await approve(deputy, (await task_on(deputy, doc_id))["id"])
    assert done["errors"] == [], done
    view = await document(clerk, doc_id)
    assert (view["status"], view["deadline"]["status"]) == ("APPROVED", "MET")
    async with platform.db.read() as s:
        task_clocks = (
            await s.execute(
                select(Deadline.status)
                .join(Task, Task.id == Deadline.subject_id)
                .where(Deadline.subject_type == "task", Task.document_id == int(_pk(doc_id)))
                .order_by(Deadline.id)
            )
        ).scalars()
        assert list(task_clocks) == ["met", "met"]  # the returned task and the approved one
    _ = create_ok


# ---- incoming copies -----------------------------------------------------------------------

ids = incoming_api.ids
as_ = incoming_api.as_
CLOCK = "deadlineClock { status dueOn dueAt provisional workingDaysLeft unit limit policy { code } }"


async def assigned(as_, platform: Any, ids: dict[str, int], urgency: str, deadline: str | None) -> str:
    """A copy to 财政厅 of a document of ``urgency``, taken to assignment (分办) to 张维 with ``deadline``."""
    _, copies = await incoming_api.dispatched(as_, platform, ids, main=[incoming_api.FINANCE], urgency=urgency)
    inc, clerk = copies[incoming_api.FINANCE], as_("zhang_wei")
    for name, extra in (("receive", {}), ("register", {}), ("precheck", {"accept": True})):
        await incoming_api.ok(clerk, name, inc, **extra)
    await incoming_api.ok(clerk, "propose", inc, opinion="拟请厅长阅示")
    await incoming_api.ok(as_("finance_head"), "instruct", inc, instruction="请办理")
    await incoming_api.ok(
        clerk, "assign", inc, handlerIds=[incoming_api.gid("User", ids["zhang_wei2"])], deadline=deadline
    )
    return inc


async def clock_of(c: GraphQLClient, inc: str) -> dict[str, Any]:
    data = await c.execute(f"query($id: ID!) {{ incomingDocument(id: $id) {{ state {CLOCK} }} }}", {"id": inc})
    assert "errors" not in data, data
    return data["data"]["incomingDocument"]


async def test_an_incoming_copy_is_due_on_the_chosen_date_or_by_its_policy(
    as_, ids: dict[str, int], platform: Any
) -> None:
    # Assigned Mon 2026-06-01 (the dispatch helpers' clock).
    chosen = await assigned(as_, platform, ids, "urgent", "2026-06-05")
    default = await assigned(as_, platform, ids, "normal", None)
    clerk = as_("zhang_wei")
    got = (await clock_of(clerk, chosen))["deadlineClock"]
    assert got == {
        "status": "RUNNING",
        "dueOn": "2026-06-05",
        "dueAt": "2026-06-05T16:00:00+00:00",
        "provisional": False,
        "workingDaysLeft": 4,
        "unit": "WORKING_DAYS",
        "limit": 4,
        "policy": None,
    }
    # incoming-default: 30 calendar days → Wed 2026-07-01.
    got = (await clock_of(clerk, default))["deadlineClock"]
    assert (got["dueOn"], got["unit"], got["limit"], got["policy"]) == (
        "2026-07-01",
        "CALENDAR_DAYS",
        30,
        {"code": "incoming-default"},
    )
    async with platform.db.read() as s:
        row = (
            await s.execute(
                select(Deadline.holder_unit_id, Deadline.holder_user_id, Deadline.assigner_user_id).where(
                    Deadline.subject_type == "incoming", Deadline.subject_id == int(_pk(chosen))
                )
            )
        ).one()
    assert row == (ids[incoming_api.FINANCE], ids["zhang_wei2"], ids["zhang_wei"])
    # Handled and replied on Thu Jun 4: met. The other is closed, without a reply, on Jul 2: missed.
    set_clock(platform, at(D(2026, 6, 4)))
    await incoming_api.ok(as_("zhang_wei2"), "handle", chosen, result="已办理")
    await incoming_api.ok(clerk, "reply", chosen, reply="已办理完毕")
    await incoming_api.ok(clerk, "close", chosen)
    assert (await clock_of(clerk, chosen))["deadlineClock"]["status"] == "MET"
    set_clock(platform, at(D(2026, 7, 2)))
    await incoming_api.ok(as_("zhang_wei2"), "handle", default, result="已办理")
    await incoming_api.ok(clerk, "close", default)
    assert (await clock_of(clerk, default))["deadlineClock"]["status"] == "MISSED"


# ---- myTasks by due date -----------------------------------------------------------------------


def titles(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["document"]["title"] for e in conn["edges"]]


async def due_dated_tasks(platform: Any, demo: Demo, users: dict[str, GraphQLClient]) -> None:
    """deputy's to-dos, opened Mon 2026-11-02 10:00: 普通甲 and 普通乙 due Thu Nov 5, 加急 due Tue
    Nov 3, 特急 due Tue Nov 3 10:00, 无时限 with no deadline (its clock removed)."""
    clerk = users["clerk"]
    set_clock(platform, at(D(2026, 11, 2)))
    for title, urgency in (("普通甲", "NORMAL"), ("加急", "URGENT"), ("特急", "EXTRA_URGENT"), ("普通乙", "NORMAL")):
        await submitted(clerk, doc_input(demo, title=title, urgency=urgency, route=one_step(demo)))
    none_id = await submitted(clerk, doc_input(demo, title="无时限", route=one_step(demo)))
    async with platform.db.unit_of_work() as uow:
        task_id = (await uow.session.execute(select(Task.id).where(Task.document_id == int(_pk(none_id))))).scalar_one()
        clock = (
            await uow.session.execute(
                select(Deadline).where(Deadline.subject_type == "task", Deadline.subject_id == task_id)
            )
        ).scalar_one()
        await uow.session.delete(clock)


async def test_my_tasks_sorted_by_due_date_with_stable_cursors(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient]
) -> None:
    await due_dated_tasks(platform, demo, users)
    deputy = users["deputy"]
    assert titles(await tasks(deputy)) == ["无时限", "普通乙", "特急", "加急", "普通甲"]
    assert titles(await tasks(deputy, order="RECEIVED")) == ["无时限", "普通乙", "特急", "加急", "普通甲"]
    ordered = ["特急", "加急", "普通甲", "普通乙", "无时限"]
    assert titles(await tasks(deputy, order="DUE_DATE")) == ordered
    seen, after = [], None
    for expected_next in (True, True, False):
        page = await tasks(deputy, order="DUE_DATE", first=2, after=after)
        assert (page["pageInfo"]["hasNextPage"], page["totalCount"]) == (expected_next, 5)
        seen += titles(page)
        after = page["pageInfo"]["endCursor"]
    assert seen == ordered
    # A cursor belongs to its order.
    received_cursor = (await tasks(deputy, first=1))["pageInfo"]["endCursor"]
    bad = await deputy.execute(TASKS, {"first": 2, "order": "DUE_DATE", "after": received_cursor})
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "after"}


async def test_my_tasks_filtered_by_due_date(platform: Any, demo: Demo, users: dict[str, GraphQLClient]) -> None:
    await due_dated_tasks(platform, demo, users)
    deputy = users["deputy"]
    # Seen Tue Nov 3 at noon: 特急 passed at 10:00, 加急 is due tonight.
    set_clock(platform, at(D(2026, 11, 3), 12))

    async def due(order: str = "DUE_DATE", **flt: Any) -> list[str]:
        return titles(await tasks(deputy, order=order, due=flt))

    assert await due(when="OVERDUE") == ["特急"]
    assert await due(when="DUE_TODAY") == ["加急"]
    assert await due(when="DUE_SOON") == ["加急"]  # by the end of Wed Nov 4
    assert await due(when="DUE_SOON", soonWorkingDays=2) == ["加急", "普通甲", "普通乙"]
    assert await due(when="NOT_OVERDUE") == ["加急", "普通甲", "普通乙"]
    assert await due(when="NO_DEADLINE") == ["无时限"]
    assert await due(**{"from": "2026-11-05", "to": "2026-11-05"}) == ["普通甲", "普通乙"]
    assert await due(order="RECEIVED", to="2026-11-03") == ["特急", "加急"]
    page = await tasks(deputy, due={"when": "NOT_OVERDUE"}, filter={"urgency": "NORMAL"})
    assert (titles(page), page["totalCount"]) == (["普通乙", "普通甲"], 2)
    overdue = (await tasks(deputy, due={"when": "OVERDUE"}))["edges"][0]["node"]["deadline"]
    assert (overdue["overdue"], overdue["dueAt"]) == (True, iso(at(D(2026, 11, 3))))
    for flt, field in (
        ({"when": "DUE_SOON", "soonWorkingDays": 31}, "due.soonWorkingDays"),
        ({"from": "2026-11-05", "to": "2026-11-04"}, "due.to"),
    ):
        bad = await deputy.execute(TASKS, {"first": 5, "due": flt})
        assert bad["data"] is None
        assert bad["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": field}


async def test_deadlines_cost_a_constant_number_of_statements(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient]
) -> None:
    await due_dated_tasks(platform, demo, users)
    deputy = users["deputy"]
    # The policies' bindings too: 2 tasks follow one policy, 5 follow three (one batched query).
    task_deadline = DEADLINE.replace("policy { code }", "policy { code bindings { target urgency } }")
    query = (
        "query($first: Int, $order: TaskOrder) { myTasks(first: $first, orderBy: $order) { edges { node {"
        f" {task_deadline} step {{ {DEADLINE} }} document {{ title {DEADLINE} }} }} }} }} }}"
    )
    for order in ("RECEIVED", "DUE_DATE"):
        counts = []
        for first in (2, 5):
            with count_statements(platform) as statements:
                data = await deputy.execute(query, {"first": first, "order": order})
            assert "errors" not in data, data
            assert len(data["data"]["myTasks"]["edges"]) == first
            counts.append(len(statements))
        assert counts[0] == counts[1], (order, counts)


# ---- sub-tasks within a unit and withdrawal ------------------------------------------------------

WITHDRAW = """mutation($id: ID!) { withdrawDocument(input: {documentId: $id}) { errors { field code } } }"""


async def test_subtasks_share_the_unit_due_date_and_a_withdrawal_reopens_the_clock(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient]
) -> None:
    from tests.api import test_unit_countersign as countersign

    clerk, deputy, drafter = users["clerk"], users["deputy"], users["finance_head"]
    set_clock(platform, at(D(2026, 9, 30)))
    doc_id, parent = await countersign.unit_document(users, demo)
    set_clock(platform, at(D(2026, 10, 8)))
    routed = await countersign.route(clerk, parent, [demo.user("deputy")])
    assert routed["errors"] == [], routed
    sub = await task_on(deputy, doc_id)
    assert (sub["deadline"]["dueOn"], sub["deadline"]["status"]) == ("2026-10-10", "RUNNING")
    set_clock(platform, at(D(2026, 10, 9)))
    assert (await approve(deputy, sub["id"], "同意"))["errors"] == []
    assert (await approve(clerk, parent, "本单位同意"))["errors"] == []
    signer = await task_on(users["drc_head"], doc_id)
    # Opened Fri Oct 9: Sat Oct 10 (worked), Mon Oct 12, Tue Oct 13.
    assert signer["deadline"]["dueOn"] == "2026-10-13"
    view = await document(drafter, doc_id)
    assert [t["deadline"]["status"] for t in view["steps"][0]["tasks"]] == ["MET"]
    # The clerk withdraws the approval: the 签发 task's clock is cancelled, the clerk's runs again.
    withdrawn = (await clerk.execute(WITHDRAW, {"id": doc_id}))["data"]["withdrawDocument"]
    assert withdrawn["errors"] == [], withdrawn
    view = await document(drafter, doc_id)
    assert [t["deadline"]["status"] for t in view["steps"][1]["tasks"]] == ["CANCELLED"]
    again = view["steps"][0]["tasks"][0]["deadline"]
    assert (again["status"], again["dueOn"], again["closedAt"], again["workingDaysLeft"]) == (
        "RUNNING",
        "2026-10-10",
        None,
        1,
    )
    assert view["steps"][0]["deadline"]["dueOn"] == "2026-10-10"
    assert view["steps"][1]["deadline"] is None


# ---- return to a step, reroute, hand-over ----------------------------------------------------------

RETURN_TO = """mutation($id: ID!) { returnTask(input: {taskId: $id, opinion: "请重新核稿", toStepIndex: 0}) {
  errors { field code } } }"""
REROUTE = """mutation($doc: ID!, $from: ID!, $to: ID!) {
  rerouteDocument(input: {documentId: $doc, fromUserId: $from, toUserId: $to}) { errors { field code } } }"""
HAND_OVER = """mutation($from: ID!, $to: ID!) { handOverTasks(input: {fromUserId: $from, toUserId: $to}) {
  movedCount errors { field code } } }"""


async def test_return_to_a_step_reroute_and_hand_over_keep_the_clocks_in_step(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient]
) -> None:
    clerk, deputy, finance, admin = users["clerk"], users["deputy"], users["finance_head"], users["admin"]
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy"), step(demo, "会签", "SINGLE", "finance_head")]}
    set_clock(platform, at(D(2026, 9, 30)))
    doc_id = await submitted(clerk, doc_input(demo, route=route))
    set_clock(platform, at(D(2026, 10, 8)))
    assert (await approve(deputy, (await task_on(deputy, doc_id))["id"]))["errors"] == []
    assert (await task_on(finance, doc_id))["deadline"]["dueOn"] == "2026-10-12"  # Oct 9, 10 (Sat), 12
    # Fri Oct 9: returned to 核稿: a fresh task for deputy, due Tue Oct 13.
    set_clock(platform, at(D(2026, 10, 9)))
    back = (await finance.execute(RETURN_TO, {"id": (await task_on(finance, doc_id))["id"]}))["data"]
    assert back["returnTask"]["errors"] == [], back
    assert (await task_on(deputy, doc_id))["deadline"]["dueOn"] == "2026-10-13"
    # An administrator reroutes deputy's task to drc_head: the due date stays.
    rerouted = await admin.execute(REROUTE, {"doc": doc_id, "from": demo.user("deputy"), "to": demo.user("drc_head")})
    assert rerouted["data"]["rerouteDocument"]["errors"] == [], rerouted
    assert (await task_on(users["drc_head"], doc_id))["deadline"]["dueOn"] == "2026-10-13"
    # drc_head leaves: the hand-over moves the same task and clock to secretary_general.
    moved = await admin.execute(HAND_OVER, {"from": demo.user("drc_head"), "to": demo.user("secretary_general")})
    assert moved["data"]["handOverTasks"]["errors"] == [], moved
    held = await task_on(users["secretary_general"], doc_id)
    assert held["deadline"]["dueOn"] == "2026-10-13"
    view = await document(clerk, doc_id)
    assert [(t["status"], t["deadline"]["status"]) for t in view["steps"][0]["tasks"]] == [
        ("SUPERSEDED", "MET"),
        ("TRANSFERRED", "CANCELLED"),
        ("PENDING", "RUNNING"),
    ]
    assert [(t["status"], t["deadline"]["status"]) for t in view["steps"][1]["tasks"]] == [("RETURNED", "MET")]
    async with platform.db.read() as s:
        holder = (
            await s.execute(
                select(Deadline.holder_user_id).where(
                    Deadline.subject_type == "task", Deadline.subject_id == int(_pk(held["id"]))
                )
            )
        ).scalar_one()
    assert holder == demo.user_pks["secretary_general"]


async def test_the_tasks_of_a_parallel_step_share_a_due_date_and_each_holder_has_its_unit(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient]
) -> None:
    set_clock(platform, at(D(2026, 9, 30)))
    route = {"steps": [step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head", "deputy")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    view = await document(users["clerk"], doc_id)
    assert [t["deadline"]["dueOn"] for t in view["steps"][0]["tasks"]] == ["2026-10-10"] * 3
    async with platform.db.read() as s:
        rows = (
            await s.execute(
                select(Task.assignee_id, Deadline.holder_user_id, Deadline.holder_unit_id, Deadline.policy_id)
                .join(Deadline, (Deadline.subject_type == "task") & (Deadline.subject_id == Task.id))
                .where(Task.document_id == int(_pk(doc_id)))
                .order_by(Task.id)
            )
        ).all()
    assert [r[0] for r in rows] == [r[1] for r in rows]
    assert [r[2] for r in rows] == [
        demo.unit_pks["370000-finance"],
        demo.unit_pks["370000-drc"],
        demo.unit_pks["370000-general_office"],
    ]
    assert len({r[3] for r in rows}) == 1


async def test_tasks_pending_before_an_upgrade_get_their_clocks_once(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient], monkeypatch: Any
) -> None:
    from sqlalchemy import delete, func

    from documents import clocks
    from office_api.scheduler import ScheduledJob

    clerk, deputy = users["clerk"], users["deputy"]
    set_clock(platform, at(D(2026, 11, 2)))
    docs = [await submitted(clerk, doc_input(demo, route=one_step(demo))) for _ in range(3)]
    # As if these tasks were opened by a version without clocks.
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(delete(Deadline))
    assert [(await task_on(deputy, d))["deadline"] for d in docs] == [None, None, None]

    # The first start of the new version, a week later: the backfill runs, two documents a run.
    monkeypatch.setattr(clocks, "BACKFILL_BATCH", 2)
    upgraded = at(D(2026, 11, 9))
    set_clock(platform, upgraded)
    await platform.scheduler.ensure_recurring_jobs(upgraded)
    await platform.scheduler.run_due(upgraded)
    got = [(await task_on(deputy, d))["deadline"] for d in docs]
    # Counted from the upgrade, not from the opening: 3 working days after Mon Nov 9.
    assert [(g["status"], g["dueOn"], g["policy"]["code"]) for g in got] == [
        ("RUNNING", "2026-11-12", "document-review")
    ] * 3
    async with platform.db.read() as s:
        runs = (
            await s.execute(
                select(ScheduledJob.key, ScheduledJob.status)
                .where(ScheduledJob.kind == clocks.BACKFILL_KIND)
                .order_by(ScheduledJob.id)
            )
        ).all()
        assert [status for _, status in runs] == ["done", "done"]  # 2 documents, then the last one
        assert runs[0][0] == "initial"
        assert runs[1][0].startswith("after-")
        count = (await s.execute(select(func.count()).select_from(Deadline))).scalar_one()
    assert count == 3  # one per task; no policy binds the documents themselves
    # A second start (another process, a restart) does nothing more.
    assert await platform.scheduler.ensure_recurring_jobs(upgraded) == 0
    await platform.scheduler.run_due(upgraded)
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Deadline))).scalar_one() == count


REQUEST_EXTENSION = """mutation($i: RequestExtensionInput!) { requestExtension(input: $i) {
  request { id status } errors { field code } } }"""
DECIDE_EXTENSION = """mutation($i: DecideExtensionInput!) { decideExtension(input: $i) {
  request { status } errors { field code } } }"""
EXTENSION_REQUESTS = "query($d: Int!) { extensionRequests(deadlineId: $d) { status decidedAt decidedBy { username } } }"


async def test_a_pending_extension_request_lapses_when_the_task_is_done(
    platform: Any, demo: Demo, users: dict[str, GraphQLClient]
) -> None:
    """The deputy asks for more time, then approves the document before anyone decided: the
    task's deadline is met and the request lapses; the clerk (the sender, who decides) can no
    longer approve or refuse it."""
    clerk, deputy = users["clerk"], users["deputy"]
    set_clock(platform, at(D(2026, 9, 30)))
    doc_id = await submitted(clerk, doc_input(demo, route=one_step(demo)))
    async with platform.db.read() as s:
        deadline_id = (await s.execute(select(Deadline.id).where(Deadline.subject_type == "task"))).scalar_one()
    set_clock(platform, at(D(2026, 10, 8)))
    asked = await deputy.execute(
        REQUEST_EXTENSION, {"i": {"deadlineId": deadline_id, "workingDays": 2, "reason": "需会签"}}
    )
    assert asked["data"]["requestExtension"]["errors"] == [], asked
    request_id = asked["data"]["requestExtension"]["request"]["id"]
    set_clock(platform, at(D(2026, 10, 9)))
    assert (await approve(deputy, (await task_on(deputy, doc_id))["id"]))["errors"] == []
    for decision in (True, False):
        late = await clerk.execute(DECIDE_EXTENSION, {"i": {"requestId": request_id, "approve": decision}})
        assert late["data"]["decideExtension"]["errors"] == [{"field": "requestId", "code": "DEADLINE_CLOSED"}]
    listed = (await clerk.execute(EXTENSION_REQUESTS, {"d": deadline_id}))["data"]["extensionRequests"]
    assert listed == [{"status": "LAPSED", "decidedAt": iso(at(D(2026, 10, 9))), "decidedBy": None}]
    async with platform.db.read() as s:
        row = await s.get(Deadline, deadline_id)
        assert row is not None
        assert (row.status, row.extension, row.due_on) == ("met", 0, D(2026, 10, 10))
        stored = (await s.execute(select(ExtensionRequest.status, ExtensionRequest.decided_at))).one()
        assert tuple(stored) == ("lapsed", at(D(2026, 10, 9)))  # written when the task closed

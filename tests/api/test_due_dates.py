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
from office_api.workdays import SHANGHAI
from tests.api import test_documents as documents_api
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
    "query($first: Int, $after: String, $order: TaskOrder, $due: DueFilter) {"
    " myTasks(first: $first, after: $after, orderBy: $order, due: $due) {"
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

"""Supervision items (督办事项) through GraphQL and the service, on SQLite and PostgreSQL.

The General Office's clerk (clerk) assigns: a General Office post covers the whole province.
Lead 山东省财政厅 (370000-finance, where the test makes 张伟 zhang_wei the clerk; 赵厅长
finance_head is its head), co-handlers 山东省发展和改革委员会 (370000-drc, 王伟 wang_wei a member)
and 济南市 (370100, clerk_370100 its clerk). The clock starts on Monday 2026-06-01 10:00
Shanghai; the default policy is supervision-instruction (15 calendar days: due Tue 2026-06-16).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from documents import incoming_service
from documents import supervision as svc
from documents.incoming_models import IncomingDocument
from documents.supervision_models import SupervisionItem
from office_api import deadlines
from office_api.config import Settings
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import Duty
from office_api.org.permissions import load_actor
from office_api.workdays import SHANGHAI, load_calendar
from tests.conftest import GraphQLClient, enable_totp_if_required
from tests.dispatch_helpers import NOW, gid, give_duty, ids_of, registered_document, signed_in

FINANCE, DRC, JINAN, LIXIA, QINGDAO = "370000-finance", "370000-drc", "370100", "370102", "370200"
D = dt.date

ITEM_FIELDS = """id title sourceType sourceId instruction matterType state version colour startOn result closedOn
  handlingDays onTime reportEvery creator { username } leadUnit { code }
  deadline { dueOn status workingDaysLeft policy { code } }
  units { isLead doneAt unit { code } deadline { dueOn status } }
  reports { kind text percent stage unit { code } author { username } }"""
CREATE = f"""mutation($input: CreateSupervisionItemInput!) {{ createSupervisionItem(input: $input) {{
  item {{ {ITEM_FIELDS} }} errors {{ field code message }} }} }}"""
PROGRESS = f"""mutation($input: ReportSupervisionProgressInput!) {{ reportSupervisionProgress(input: $input) {{
  item {{ {ITEM_FIELDS} }} errors {{ field code }} }} }}"""
RESULT = f"""mutation($input: ReportSupervisionResultInput!) {{ reportSupervisionResult(input: $input) {{
  item {{ {ITEM_FIELDS} }} errors {{ field code }} }} }}"""
CLOSE = f"""mutation($input: CloseSupervisionItemInput!) {{ closeSupervisionItem(input: $input) {{
  item {{ {ITEM_FIELDS} }} errors {{ field code }} }} }}"""
ONE = f"query($id: ID!) {{ supervisionItem(id: $id) {{ {ITEM_FIELDS} }} }}"
LIST = """query($unit: ID!, $sub: Boolean!, $state: SupervisionState) {
  supervisionItems(unitId: $unit, includeSubtree: $sub, state: $state) {
    edges { node { title leadUnit { code } } } } }"""
BOARD = """query($unit: ID!, $sub: Boolean!, $from: Date, $to: Date) {
  supervisionDashboard(unitId: $unit, includeSubtree: $sub, closedFrom: $from, closedTo: $to) {
    open dueSoon overdue closed averageHandlingDays p90HandlingDays
    compliance3545 { matterType closed onTime rate } } }"""
NOTES = "{ notifications(first: 5) { edges { node { kind title body } } } }"


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """``hour``:00 Asia/Shanghai on ``day`` as a UTC instant."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI).astimezone(dt.UTC)


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


def unit(ids: dict[str, int], code: str, due_on: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"unitId": gid("OrgUnit", ids[code])}
    if due_on:
        out["dueOn"] = due_on
    return out


async def run(c: GraphQLClient, query: str, **input: Any) -> dict[str, Any]:
    data = await c.execute(query, {"input": input})
    assert "errors" not in data, data
    return next(iter(data["data"].values()))


async def ok(c: GraphQLClient, query: str, **input: Any) -> dict[str, Any]:
    result = await run(c, query, **input)
    assert result["errors"] == [], result
    return result["item"]


def codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in result["errors"]]


async def notes(c: GraphQLClient) -> list[dict[str, Any]]:
    return [e["node"] for e in (await c.execute(NOTES))["data"]["notifications"]["edges"]]


async def count_items(platform: Any) -> int:
    async with platform.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(SupervisionItem))).scalar_one())


async def test_split_into_lead_and_co_handlers_with_their_deadlines(as_, ids: dict[str, int], platform: Any) -> None:
    item = await ok(
        as_("clerk"),
        CREATE,
        sourceType="MANUAL",
        title="落实防汛工作部署",
        instruction="请财政厅牵头，发改委、济南市配合，确保资金按时到位。",
        lead=unit(ids, FINANCE),
        coHandlers=[unit(ids, DRC, "2026-06-10"), unit(ids, JINAN)],
    )
    assert (item["state"], item["colour"], item["sourceType"], item["sourceId"]) == ("OPEN", "GREEN", "MANUAL", None)
    assert (item["creator"], item["leadUnit"], item["startOn"], item["matterType"]) == (
        {"username": "clerk"},
        {"code": FINANCE},
        "2026-06-01",
        None,
    )
    # supervision-instruction: 15 calendar days from Mon 2026-06-01 → Tue 2026-06-16 (a working day).
    assert item["deadline"] == {
        "dueOn": "2026-06-16",
        "status": "RUNNING",
        "workingDaysLeft": 11,
        "policy": {"code": "supervision-instruction"},
    }
    assert [(u["unit"]["code"], u["isLead"], u["deadline"]) for u in item["units"]] == [
        (FINANCE, True, {"dueOn": "2026-06-16", "status": "RUNNING"}),
        (DRC, False, {"dueOn": "2026-06-10", "status": "RUNNING"}),
        (JINAN, False, {"dueOn": "2026-06-16", "status": "RUNNING"}),
    ]
    # The clocks are in the deadlines table, held by each unit and assigned by the creator.
    async with platform.db.read() as s:
        rows = (
            await s.execute(
                select(deadlines.Deadline)
                .where(deadlines.Deadline.subject_type.in_(["supervision", "supervision_unit"]))
                .order_by(deadlines.Deadline.id)
            )
        ).scalars()
        got = [(d.subject_type, d.holder_unit_id, d.assigner_user_id, d.due_on) for d in rows]
    assert got == [
        ("supervision", ids[FINANCE], ids["clerk"], D(2026, 6, 16)),
        ("supervision_unit", ids[FINANCE], ids["clerk"], D(2026, 6, 16)),
        ("supervision_unit", ids[DRC], ids["clerk"], D(2026, 6, 10)),
        ("supervision_unit", ids[JINAN], ids["clerk"], D(2026, 6, 16)),
    ]
    # The assigned units' clerks are told; a unit with no clerk (the DRC), its head.
    (finance_note,) = await notes(as_("zhang_wei"))
    assert finance_note["kind"] == "SUPERVISION_ASSIGNED"
    assert finance_note["title"] == "督办事项：落实防汛工作部署"
    assert finance_note["body"].startswith("王文书 交贵单位主办：请财政厅牵头")
    assert finance_note["body"].endswith("办理时限 2026-06-16")
    (jinan_note,) = await notes(as_("clerk_370100"))
    assert "协办" in jinan_note["body"]
    (drc_note,) = await notes(as_("drc_head"))
    assert (drc_note["kind"], drc_note["title"]) == ("SUPERVISION_ASSIGNED", "督办事项：落实防汛工作部署")
    assert drc_note["body"].endswith(
        "交贵单位协办：请财政厅牵头，发改委、济南市配合，确保资金按时到位。，办理时限 2026-06-10"
    )
    assert await notes(as_("finance_head")) == []  # Finance has a clerk: the head is not told
    # Who sees it: the creator, members of the assigned units, the supervisors; not others.
    for who in ("clerk", "zhang_wei", "wang_wei", "clerk_370100", "secretary_general"):
        got = (await as_(who).execute(ONE, {"id": item["id"]}))["data"]["supervisionItem"]
        assert got is not None, who
        assert got["title"] == "落实防汛工作部署"
    assert (await as_("clerk_370200").execute(ONE, {"id": item["id"]}))["data"]["supervisionItem"] is None
    listed = await as_("secretary_general").execute(LIST, {"unit": gid("OrgUnit", ids["370000"]), "sub": True})
    assert [e["node"]["title"] for e in listed["data"]["supervisionItems"]["edges"]] == ["落实防汛工作部署"]
    mine = await as_("finance_head").execute(LIST, {"unit": gid("OrgUnit", ids[FINANCE]), "sub": False})
    assert len(mine["data"]["supervisionItems"]["edges"]) == 1
    refused = await as_("wang_wei").execute(LIST, {"unit": gid("OrgUnit", ids[FINANCE]), "sub": False})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_created_from_a_leaders_instruction_on_an_incoming_document(
    as_, ids: dict[str, int], platform: Any
) -> None:
    doc = await registered_document(platform, ids, main=[FINANCE], title="关于加快专项债券资金拨付的通知")
    async with platform.db.unit_of_work() as uow:
        clerk = await load_actor(uow.session, ids["clerk"])
        assert clerk is not None
        from documents import dispatch

        await dispatch.dispatch_document(uow, platform.broker, clerk, doc, now=NOW)
    async with platform.db.read() as s:
        inc_id = (await s.execute(select(IncomingDocument.id).where(IncomingDocument.document_id == doc))).scalar_one()
    fin_clerk_actor, head_actor = None, None
    async with platform.db.unit_of_work() as uow:
        fin_clerk_actor = await load_actor(uow.session, ids["zhang_wei"])
        head_actor = await load_actor(uow.session, ids["finance_head"])
        assert fin_clerk_actor is not None
        assert head_actor is not None
        b = platform.broker
        await incoming_service.receive(uow, b, fin_clerk_actor, inc_id, now=NOW)
        await incoming_service.register(uow, b, fin_clerk_actor, inc_id, now=NOW)
    # Before the leader's 批示 there is nothing to supervise.
    early = await run(
        as_("finance_head"),
        CREATE,
        sourceType="INCOMING",
        sourceId=gid("IncomingDocument", inc_id),
        lead=unit(ids, FINANCE),
    )
    assert codes(early) == [("sourceId", "INVALID_STATE")]
    async with platform.db.unit_of_work() as uow:
        b = platform.broker
        await incoming_service.precheck(uow, b, fin_clerk_actor, inc_id, accept=True, opinion=None, now=NOW)
        await incoming_service.propose(
            uow, b, fin_clerk_actor, inc_id, opinion="拟请赵厅长阅示", leader_id=None, now=NOW
        )
        await incoming_service.instruct(
            uow, b, head_actor, inc_id, instruction="请预算处 6 月 10 日前拿出拨付方案。", now=NOW
        )
    item = await ok(
        as_("finance_head"),
        CREATE,
        sourceType="INCOMING",
        sourceId=gid("IncomingDocument", inc_id),
        lead=unit(ids, FINANCE),
        dueOn="2026-06-10",
    )
    assert (item["title"], item["instruction"], item["sourceType"], item["sourceId"]) == (
        "关于加快专项债券资金拨付的通知",
        "请预算处 6 月 10 日前拿出拨付方案。",
        "INCOMING",
        inc_id,
    )
    assert item["deadline"]["dueOn"] == "2026-06-10"
    assert item["deadline"]["policy"] is None  # a date chosen by a person
    # The head of the finance department supervises inside it only.
    other = await run(
        as_("finance_head"),
        CREATE,
        sourceType="INCOMING",
        sourceId=gid("IncomingDocument", inc_id),
        lead=unit(ids, FINANCE),
        coHandlers=[unit(ids, DRC)],
    )
    assert codes(other) == [("coHandlers.0.unitId", "FORBIDDEN")]
    # Someone who cannot read the incoming copy gets NOT_FOUND on it.
    hidden = await run(
        as_("clerk"), CREATE, sourceType="INCOMING", sourceId=gid("IncomingDocument", inc_id), lead=unit(ids, FINANCE)
    )
    assert codes(hidden) == [("sourceId", "NOT_FOUND")]
    # A document the creator can read (the General Office clerk drafted it): its title by default.
    from_doc = await ok(
        as_("clerk"),
        CREATE,
        sourceType="DOCUMENT",
        sourceId=gid("Document", doc),
        instruction="省政府领导批示：请财政厅抓紧落实。",
        lead=unit(ids, FINANCE),
    )
    assert (from_doc["title"], from_doc["sourceType"], from_doc["sourceId"]) == (
        "关于加快专项债券资金拨付的通知",
        "DOCUMENT",
        doc,
    )
    # The README's example, as printed, with a co-handler the head also covers.
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("mutation Supervise(")
    example = readme[start : readme.index("\n}\n", start) + 3]
    await give_duty(platform, "finance_head", DRC, Duty.DEPUTY_HEAD)
    variables = {
        "copy": gid("IncomingDocument", inc_id),
        "lead": gid("OrgUnit", ids[FINANCE]),
        "co": gid("OrgUnit", ids[DRC]),
        "coDue": "2026-06-05",
    }
    printed = await as_("finance_head").execute(example, variables)
    assert "errors" not in printed, printed
    made = printed["data"]["createSupervisionItem"]
    assert made["errors"] == []
    # 10 working days from Mon 2026-06-01: Jun 2–5, 8–12, 15 (no holiday in between)
    assert made["item"]["deadline"] == {"dueOn": "2026-06-15", "workingDaysLeft": 10, "policy": None}
    assert [u["deadline"] for u in made["item"]["units"]] == [
        {"dueOn": "2026-06-15", "status": "RUNNING"},
        {"dueOn": "2026-06-05", "status": "RUNNING"},
    ]


async def test_3545_policy_sets_the_matter_type_and_the_limit(as_, ids: dict[str, int]) -> None:
    item = await ok(
        as_("clerk"),
        CREATE,
        sourceType="MANUAL",
        title="某小区不动产登记",
        instruction="按“3545”要求办结",
        lead=unit(ids, JINAN),
        policyCode="3545-real-estate",
    )
    # 5 working days from Mon 2026-06-01: Jun 2, 3, 4, 5, 8.
    assert (item["matterType"], item["deadline"]["dueOn"], item["deadline"]["policy"]) == (
        "real_estate_registration",
        "2026-06-08",
        {"code": "3545-real-estate"},
    )
    explicit = await ok(
        as_("clerk"), CREATE, sourceType="MANUAL", title="t", instruction="i", lead=unit(ids, JINAN), workingDays=3
    )
    assert (explicit["deadline"]["dueOn"], explicit["matterType"]) == ("2026-06-04", None)


async def test_bad_input_is_refused_and_nothing_is_written(as_, ids: dict[str, int], platform: Any) -> None:
    c = as_("clerk")
    base = {"sourceType": "MANUAL", "title": "t", "instruction": "i"}
    cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        ({"lead": unit(ids, FINANCE), "workingDays": -1}, [("workingDays", "INVALID_VALUE")]),
        ({"lead": unit(ids, FINANCE), "workingDays": 100_000}, [("workingDays", "INVALID_VALUE")]),
        ({"lead": unit(ids, FINANCE), "dueOn": "2026-05-31"}, [("dueOn", "INVALID_VALUE")]),
        ({"lead": unit(ids, FINANCE, "2026-05-31")}, [("lead.dueOn", "INVALID_VALUE")]),
        ({"lead": unit(ids, FINANCE), "reportEvery": 0}, [("reportEvery", "INVALID_VALUE")]),
        ({"lead": {"unitId": gid("OrgUnit", 999_999)}}, [("lead.unitId", "NOT_FOUND")]),
        ({}, [("lead", "LEAD_REQUIRED")]),
        ({"lead": unit(ids, FINANCE), "coHandlers": [unit(ids, FINANCE)]}, [("coHandlers.0.unitId", "DUPLICATE")]),
        (
            {"lead": unit(ids, FINANCE), "coHandlers": [unit(ids, DRC), unit(ids, DRC)]},
            [("coHandlers.1.unitId", "DUPLICATE")],
        ),
        ({"lead": unit(ids, FINANCE), "policyCode": "no-such-policy"}, [("policyCode", "NOT_FOUND")]),
        # A unit's own date may not be after the item's.
        (
            {"lead": unit(ids, FINANCE), "dueOn": "2026-06-10", "coHandlers": [unit(ids, DRC, "2026-06-11")]},
            [("coHandlers.0.dueOn", "INVALID_VALUE")],
        ),
        (
            {"lead": unit(ids, FINANCE), "title": " ", "instruction": None},
            [("title", "REQUIRED"), ("instruction", "REQUIRED")],
        ),
        ({"lead": unit(ids, FINANCE), "sourceId": gid("Document", 1)}, [("sourceId", "INVALID_VALUE")]),
        ({"lead": unit(ids, FINANCE), "sourceType": "MEETING_MATTER"}, [("sourceType", "INVALID_VALUE")]),
    ]
    for extra, expected in cases:
        result = await run(c, CREATE, **{**base, **extra})
        assert (extra, codes(result)) == (extra, expected)
        assert result["item"] is None
    # Only a supervising post covering every assigned unit may create.
    for who, lead in (("zhang_wei", DRC), ("wang_wei", DRC), ("finance_head", JINAN)):
        refused = await run(as_(who), CREATE, **base, lead=unit(ids, lead))
        assert codes(refused) == [("lead.unitId", "FORBIDDEN")], who
    assert await count_items(platform) == 0
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(deadlines.Deadline))).scalar_one() == 0


async def test_reports_result_and_closing(as_, ids: dict[str, int], platform: Any) -> None:
    item = await ok(
        as_("clerk"),
        CREATE,
        sourceType="MANUAL",
        title="专项督查",
        instruction="落实",
        lead=unit(ids, FINANCE),
        coHandlers=[unit(ids, DRC, "2026-06-10")],
        reportEvery=5,
    )
    iid = item["id"]
    platform.clock = lambda: at(D(2026, 6, 3))
    got = await ok(as_("zhang_wei"), PROGRESS, itemId=iid, text="已召开专题会议", percent=30, stage="部署")
    platform.clock = lambda: at(D(2026, 6, 5))
    got = await ok(as_("wang_wei"), PROGRESS, itemId=iid, text="配合部分完成", percent=100)
    platform.clock = lambda: at(D(2026, 6, 8))
    got = await ok(as_("finance_head"), PROGRESS, itemId=iid, text="资金已拨付 80%", percent=80)
    assert [
        (r["kind"], r["unit"]["code"], r["author"]["username"], r["percent"], r["stage"]) for r in got["reports"]
    ] == [
        ("PROGRESS", FINANCE, "zhang_wei", 30, "部署"),
        ("PROGRESS", DRC, "wang_wei", 100, None),
        ("PROGRESS", FINANCE, "finance_head", 80, None),
    ]
    # The co-handler's 100 % report finished its part: its clock closed on time.
    assert [(u["unit"]["code"], u["deadline"]["status"], u["doneAt"] is not None) for u in got["units"]] == [
        (FINANCE, "RUNNING", False),
        (DRC, "MET", True),
    ]
    kinds = [n["kind"] for n in await notes(as_("clerk"))]
    assert kinds == ["SUPERVISION_PROGRESS"] * 3
    (latest, *_) = await notes(as_("clerk"))
    assert latest["body"] == "山东省财政厅 赵厅长（80%）：资金已拨付 80%"

    # Not a member of an assigned unit: the Secretary-General sees the item but cannot report;
    # a Qingdao clerk does not even see it. A unit not on the item is refused by name.
    refused = await run(as_("secretary_general"), PROGRESS, itemId=iid, text="x")
    assert codes(refused) == [("itemId", "FORBIDDEN")]
    refused = await run(as_("clerk_370200"), PROGRESS, itemId=iid, text="x")
    assert codes(refused) == [("itemId", "NOT_FOUND")]
    refused = await run(as_("zhang_wei"), PROGRESS, itemId=iid, text="x", unitId=gid("OrgUnit", ids[JINAN]))
    assert codes(refused) == [("unitId", "INVALID_VALUE")]
    refused = await run(as_("zhang_wei"), PROGRESS, itemId=iid, text="x", percent=101)
    assert codes(refused) == [("percent", "INVALID_VALUE")]
    # The creator closes only after the result; only the lead unit reports it.
    assert codes(await run(as_("clerk"), CLOSE, itemId=iid)) == [("itemId", "INVALID_STATE")]
    assert codes(await run(as_("wang_wei"), RESULT, itemId=iid, result="x")) == [("itemId", "FORBIDDEN")]

    platform.clock = lambda: at(D(2026, 6, 12))
    got = await ok(as_("zhang_wei"), RESULT, itemId=iid, result="资金已全部拨付到位")
    assert (got["state"], got["result"], got["reports"][-1]["kind"]) == (
        "RESULT_REPORTED",
        "资金已全部拨付到位",
        "RESULT",
    )
    (note, *_) = await notes(as_("clerk"))
    assert (note["kind"], note["body"]) == ("SUPERVISION_RESULT", "山东省财政厅 张伟：资金已全部拨付到位")
    assert codes(await run(as_("zhang_wei"), CLOSE, itemId=iid)) == [("itemId", "FORBIDDEN")]

    platform.clock = lambda: at(D(2026, 6, 15))
    got = await ok(as_("clerk"), CLOSE, itemId=iid, remark="办结")
    # Working days in (Jun 1, Jun 15]: Jun 2–5, 8–12, 15 = 10; due Jun 16, so on time.
    assert (got["state"], got["closedOn"], got["handlingDays"], got["onTime"], got["colour"]) == (
        "CLOSED",
        "2026-06-15",
        10,
        True,
        None,
    )
    assert got["deadline"]["status"] == "MET"
    assert [u["deadline"]["status"] for u in got["units"]] == ["MET", "MET"]
    assert (await notes(as_("zhang_wei")))[0]["kind"] == "SUPERVISION_CLOSED"
    # Nothing more once closed.
    assert codes(await run(as_("zhang_wei"), PROGRESS, itemId=iid, text="补充")) == [("itemId", "INVALID_STATE")]
    assert codes(await run(as_("zhang_wei"), RESULT, itemId=iid, result="补充")) == [("itemId", "INVALID_STATE")]
    assert codes(await run(as_("clerk"), CLOSE, itemId=iid)) == [("itemId", "INVALID_STATE")]


async def test_concurrent_closes_end_with_one_winner(as_, ids: dict[str, int], platform: Any) -> None:
    item = await ok(as_("clerk"), CREATE, sourceType="MANUAL", title="t", instruction="i", lead=unit(ids, FINANCE))
    await ok(as_("zhang_wei"), RESULT, itemId=item["id"], result="已办结")
    platform.clock = lambda: at(D(2026, 6, 3))
    results = await asyncio.gather(*(run(as_("clerk"), CLOSE, itemId=item["id"]) for _ in range(3)))
    assert sorted(str(codes(r)) for r in results) == ["[('itemId', 'INVALID_STATE')]"] * 2 + ["[]"]
    (winner,) = [r["item"] for r in results if not r["errors"]]
    assert (winner["state"], winner["handlingDays"], winner["version"]) == ("CLOSED", 2, 3)
    # One SUPERVISION_CLOSED to the finance clerk, not three.
    assert [n["kind"] for n in await notes(as_("zhang_wei"))].count("SUPERVISION_CLOSED") == 1


async def test_status_colours_follow_the_clocks(as_, ids: dict[str, int], platform: Any) -> None:
    item = await ok(
        as_("clerk"),
        CREATE,
        sourceType="MANUAL",
        title="t",
        instruction="i",
        lead=unit(ids, FINANCE),
        coHandlers=[unit(ids, DRC, "2026-06-10")],
        reportEvery=3,
    )
    iid = item["id"]

    async def colour(day: dt.date, hour: int = 10) -> str | None:
        platform.clock = lambda: at(day, hour)
        return (await as_("clerk").execute(ONE, {"id": iid}))["data"]["supervisionItem"]["colour"]

    assert await colour(D(2026, 6, 1)) == "GREEN"
    # Thu Jun 4: 3 working days since creation, no report missed yet (more than 3 needed).
    assert await colour(D(2026, 6, 4)) == "GREEN"
    # Fri Jun 5: 4 working days without a report → AMBER.
    assert await colour(D(2026, 6, 5)) == "AMBER"
    platform.clock = lambda: at(D(2026, 6, 5))
    await ok(as_("zhang_wei"), PROGRESS, itemId=iid, text="进展", percent=50)
    assert await colour(D(2026, 6, 5)) == "GREEN"
    # Tue Jun 9: the DRC's date (Wed Jun 10) is 1 working day away → AMBER (yellow card day).
    assert await colour(D(2026, 6, 9)) == "AMBER"
    assert await colour(D(2026, 6, 10), 23) == "AMBER"
    # Thu Jun 11 00:00: the DRC's deadline passed → RED, though the item is due Jun 16.
    assert await colour(D(2026, 6, 11), 0) == "RED"
    platform.clock = lambda: at(D(2026, 6, 11))
    await ok(as_("wang_wei"), PROGRESS, itemId=iid, text="完成", percent=100)
    assert await colour(D(2026, 6, 11)) == "GREEN"
    # Mon Jun 15 (with a report on Jun 12): the item is due Tue Jun 16 → AMBER; Wed Jun 17 → RED.
    platform.clock = lambda: at(D(2026, 6, 12))
    await ok(as_("zhang_wei"), PROGRESS, itemId=iid, text="进展", percent=90)
    assert await colour(D(2026, 6, 15)) == "AMBER"
    assert await colour(D(2026, 6, 17)) == "RED"


# ---- dashboard -----------------------------------------------------------------------------------


async def lifecycle(
    platform: Any,
    ids: dict[str, int],
    *,
    lead: str,
    reporter: str,
    start: dt.datetime = NOW,
    closed: dt.datetime | None = None,
    **kw: Any,
) -> int:
    """An item led by ``lead``, created by the General Office's clerk at ``start`` and, with
    ``closed``, given its result by ``reporter`` and closed at that instant; its id."""
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        creator = await load_actor(uow.session, ids["clerk"])
        assert creator is not None
        item = await svc.create_item(
            uow,
            platform.broker,
            cal,
            creator,
            svc.ItemInput(source_type="manual", title="t", instruction="i", lead=svc.UnitAssignment(ids[lead]), **kw),
            now=start,
        )
        if closed is not None:
            member = await load_actor(uow.session, ids[reporter])
            assert member is not None
            await svc.report_result(uow, platform.broker, member, item.id, text="done", now=closed)
            await svc.close_item(uow, platform.broker, cal, creator, item.id, remark=None, now=closed)
        return item.id


async def test_dashboard_counts_and_handling_times(as_, ids: dict[str, int], platform: Any) -> None:
    jinan, lixia = dict(lead=JINAN, reporter="clerk_370100"), dict(lead=LIXIA, reporter="li_na")
    # Closed (all created Mon Jun 1, due Jun 16); handling days = working days in (Jun 1, close].
    for day in (D(2026, 6, 2), D(2026, 6, 3), D(2026, 6, 8), D(2026, 6, 10), D(2026, 6, 17)):  # 1, 2, 5, 7, 12
        await lifecycle(platform, ids, **jinan, closed=at(day))
    for day in (D(2026, 6, 5), D(2026, 6, 16)):  # 4, 11
        await lifecycle(platform, ids, **lixia, closed=at(day))
    await lifecycle(platform, ids, lead=FINANCE, reporter="zhang_wei", closed=at(D(2026, 6, 4)))  # 3, outside
    # Open, seen on Thu Jun 18: due Mon Jun 22 (1 working day left: Jun 19–21 are off) → due soon;
    # 1 working day (due Jun 2) → overdue; due Jul 31 and Tue Jun 23 (2 left) → neither.
    await lifecycle(platform, ids, **jinan, due_on=D(2026, 6, 22))
    await lifecycle(platform, ids, **jinan, working_days=1)
    await lifecycle(platform, ids, **lixia, due_on=D(2026, 7, 31))
    await lifecycle(platform, ids, **lixia, due_on=D(2026, 6, 23))
    await lifecycle(platform, ids, lead=FINANCE, reporter="zhang_wei", working_days=1)  # outside: overdue
    platform.clock = lambda: at(D(2026, 6, 18))

    async def board(who: str, code: str, sub: bool = True, **rng: str) -> dict[str, Any]:
        data = await as_(who).execute(BOARD, {"unit": gid("OrgUnit", ids[code]), "sub": sub, **rng})
        assert "errors" not in data, data
        return data["data"]["supervisionDashboard"]

    got = await board("clerk_370100", JINAN)
    # Closed [1, 2, 4, 5, 7, 11, 12]: mean 42 / 7 = 6; p90 = the ceil(6.3) = 7th smallest = 12.
    assert {k: v for k, v in got.items() if k != "compliance3545"} == {
        "open": 4,
        "dueSoon": 1,
        "overdue": 1,
        "closed": 7,
        "averageHandlingDays": 6.0,
        "p90HandlingDays": 12,
    }
    own = await board("clerk_370100", JINAN, sub=False)
    # Jinan alone: open 2; closed [1, 2, 5, 7, 12]: mean 27 / 5 = 5.4; p90 = 5th = 12.
    assert (own["open"], own["dueSoon"], own["overdue"], own["closed"], own["averageHandlingDays"]) == (
        2,
        1,
        1,
        5,
        5.4,
    )
    ranged = await board("clerk_370100", JINAN, **{"from": "2026-06-03", "to": "2026-06-10"})
    # Closed Jun 3 (2), Jun 5 (4), Jun 8 (5), Jun 10 (7): mean 4.5, p90 = ceil(3.6) = 4th = 7.
    assert (ranged["closed"], ranged["averageHandlingDays"], ranged["p90HandlingDays"], ranged["open"]) == (
        4,
        4.5,
        7,
        4,
    )
    empty = await board("clerk_370100", JINAN, **{"from": "2026-07-01"})
    assert (empty["closed"], empty["averageHandlingDays"], empty["p90HandlingDays"]) == (0, None, None)
    province = await board("secretary_general", "370000")
    # [1, 2, 3, 4, 5, 7, 11, 12]: mean 45 / 8 = 5.625, p90 = ceil(7.2) = 8th = 12.
    assert (province["open"], province["overdue"], province["closed"], province["averageHandlingDays"]) == (
        5,
        2,
        8,
        5.625,
    )
    await enable_totp_if_required(platform, "admin")
    assert (await board("admin", "370000"))["closed"] == 8  # a system administrator sees every unit
    # Visibility and input.
    for who, code in (("clerk_370100", "370000"), ("wang_wei", JINAN), ("clerk_370200", LIXIA)):
        data = await as_(who).execute(BOARD, {"unit": gid("OrgUnit", ids[code]), "sub": True})
        assert data["errors"][0]["extensions"]["code"] == "FORBIDDEN", who
    bad = await as_("clerk_370100").execute(
        BOARD, {"unit": gid("OrgUnit", ids[JINAN]), "sub": True, "from": "2026-06-10", "to": "2026-06-01"}
    )
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "closedTo"}


async def test_3545_compliance_rate(as_, ids: dict[str, int], platform: Any) -> None:
    qd = dict(lead=QINGDAO, reporter="clerk_370200")
    # Business licence: 3 working days from Mon Jun 1 → due Thu Jun 4 (24:00).
    for closed in (at(D(2026, 6, 3)), at(D(2026, 6, 4), 23), at(D(2026, 6, 5)), at(D(2026, 7, 2))):
        await lifecycle(platform, ids, **qd, closed=closed, policy_code="3545-business-licence")
    # Real-estate registration: 5 working days → due Mon Jun 8.
    await lifecycle(platform, ids, **qd, closed=at(D(2026, 6, 8)), policy_code="3545-real-estate")
    await lifecycle(platform, ids, **qd, policy_code="3545-construction-permit")  # open: not counted
    await lifecycle(platform, ids, **qd, closed=at(D(2026, 6, 3)))  # not a 3545 matter
    data = await as_("clerk_370200").execute(
        BOARD, {"unit": gid("OrgUnit", ids[QINGDAO]), "sub": True, "from": "2026-06-01", "to": "2026-06-30"}
    )
    got = data["data"]["supervisionDashboard"]
    assert got["compliance3545"] == [
        {"matterType": "business_licence", "closed": 3, "onTime": 2, "rate": pytest.approx(2 / 3)},
        {"matterType": "real_estate_registration", "closed": 1, "onTime": 1, "rate": 1.0},
        {"matterType": "construction_permit", "closed": 0, "onTime": 0, "rate": None},
    ]
    assert got["closed"] == 5
    whole = await as_("clerk_370200").execute(BOARD, {"unit": gid("OrgUnit", ids[QINGDAO]), "sub": True})
    assert whole["data"]["supervisionDashboard"]["compliance3545"][0] == {
        "matterType": "business_licence",
        "closed": 4,
        "onTime": 2,
        "rate": 0.5,
    }


async def test_meeting_module_entry_point(ids: dict[str, int], platform: Any) -> None:
    async with platform.db.unit_of_work() as uow:
        cal = await load_calendar(uow.session)
        actor = await load_actor(uow.session, ids["clerk"])
        assert actor is not None
        item = await svc.create_from_meeting_matter(
            uow,
            platform.broker,
            cal,
            actor,
            matter_id=7,
            matter_text="会议议定：由济南市牵头制定方案",
            title="省政府常务会议议定事项",
            lead=svc.UnitAssignment(ids[JINAN]),
            now=NOW,
        )
        d = await deadlines.deadline_of(uow.session, "supervision", item.id)
    assert (item.source_type, item.source_id, item.instruction) == (
        "meeting_matter",
        7,
        "会议议定：由济南市牵头制定方案",
    )
    assert d is not None
    # supervision-minutes: 20 calendar days from Jun 1 → Sun Jun 21, a holiday → next working day Mon Jun 22.
    assert d.due_on == D(2026, 6, 22)
    async with platform.db.unit_of_work() as uow:
        actor = await load_actor(uow.session, ids["clerk_370100"])
        assert actor is not None
        cal = await load_calendar(uow.session)
        with pytest.raises(DomainError) as exc:
            await svc.create_from_meeting_matter(
                uow,
                platform.broker,
                cal,
                actor,
                matter_id=8,
                matter_text="x",
                title="x",
                lead=svc.UnitAssignment(ids[FINANCE]),
                now=NOW,
            )
    assert (exc.value.code, exc.value.field) == (ErrorCode.FORBIDDEN, "lead.unitId")


async def test_a_retried_creation_creates_one_item(as_, ids: dict[str, int], platform: Any) -> None:
    input = {"sourceType": "MANUAL", "title": "t", "instruction": "i", "lead": unit(ids, FINANCE)}
    first = await ok(as_("clerk"), CREATE, **input, idempotencyKey="create-1")
    again = await ok(as_("clerk"), CREATE, **input, idempotencyKey="create-1")
    assert (again["id"], again["colour"], again["deadline"]["dueOn"]) == (first["id"], "GREEN", "2026-06-16")
    assert await count_items(platform) == 1
    assert len(await notes(as_("zhang_wei"))) == 1


async def test_extending_a_units_deadline_past_the_items_moves_the_items(
    as_, ids: dict[str, int], platform: Any
) -> None:
    """Item due Mon 2026-06-15 (10 working days from Jun 1); the lead unit's clock gets 4 more
    working days (Jun 16, 17, 18, then 22: the Dragon Boat Festival Jun 19 and the weekend are
    off), so the item's clock moves to Jun 22 as well; a co-handler's extension that stays
    within the item's date leaves it alone."""
    from tests.api.test_reminders import DECIDE, REQUEST

    item = await ok(
        as_("clerk"),
        CREATE,
        sourceType="MANUAL",
        title="落实防汛工作部署",
        instruction="请财政厅牵头，发改委配合。",
        lead=unit(ids, FINANCE),
        coHandlers=[unit(ids, DRC, "2026-06-10")],
        workingDays=10,
    )
    assert item["deadline"]["dueOn"] == "2026-06-15"
    async with platform.db.read() as s:
        clocks = {
            (d.subject_type, d.holder_unit_id): d.id for d in (await s.execute(select(deadlines.Deadline))).scalars()
        }
    lead_clock, drc_clock = clocks[("supervision_unit", ids[FINANCE])], clocks[("supervision_unit", ids[DRC])]

    async def extend(holder: str, deadline_id: int, days: int) -> dict[str, Any]:
        asked = await as_(holder).execute(
            REQUEST, {"i": {"deadlineId": deadline_id, "workingDays": days, "reason": "需会商"}}
        )
        assert asked["data"]["requestExtension"]["errors"] == [], asked
        request_id = asked["data"]["requestExtension"]["request"]["id"]
        done = await as_("clerk").execute(DECIDE, {"i": {"requestId": request_id, "approve": True}})
        assert done["data"]["decideExtension"]["errors"] == [], done
        return done["data"]["decideExtension"]["deadline"]

    await give_duty(platform, "wang_wei", DRC, Duty.CLERK)
    assert (await extend("wang_wei", drc_clock, 2))["dueOn"] == "2026-06-12"
    seen = (await as_("clerk").execute(ONE, {"id": item["id"]}))["data"]["supervisionItem"]
    assert seen["deadline"]["dueOn"] == "2026-06-15"
    assert (await extend("zhang_wei", lead_clock, 4))["dueOn"] == "2026-06-22"
    seen = (await as_("clerk").execute(ONE, {"id": item["id"]}))["data"]["supervisionItem"]
    assert seen["deadline"]["dueOn"] == "2026-06-22"
    assert [u["deadline"]["dueOn"] for u in seen["units"]] == ["2026-06-22", "2026-06-12"]
    async with platform.db.read() as s:
        item_clock = (
            await s.execute(select(deadlines.Deadline).where(deadlines.Deadline.subject_type == "supervision"))
        ).scalar_one()
    assert (item_clock.extension, item_clock.due_on) == (4, D(2026, 6, 22))


async def test_one_card_per_unit_and_cards_open_the_item(as_, ids: dict[str, int], platform: Any) -> None:
    """Item and units due Mon 2026-06-15. The lead unit (Finance, clerk 张伟) gets the cards of
    its own assignment only, not those of the item's clock too; the DRC (no clerk) through its
    head; the item's clock warns the creator (the assigner) alone. Every card opens the item."""
    from messaging.models import Notification
    from office_api.org.models import User
    from tests.api.test_reminders import nine_am

    await ok(
        as_("clerk"),
        CREATE,
        sourceType="MANUAL",
        title="落实防汛工作部署",
        instruction="请财政厅牵头，发改委配合。",
        lead=unit(ids, FINANCE),
        coHandlers=[unit(ids, DRC)],
        workingDays=10,
    )

    async def cards() -> list[tuple[str, str, str, int, Any]]:
        async with platform.db.read() as s:
            names = dict((await s.execute(select(User.id, User.username))).all())
            rows = await s.execute(
                select(Notification).where(Notification.kind.like("DEADLINE_%")).order_by(Notification.id)
            )
            return [
                (names[n.user_id], n.kind, n.subject_type, n.subject_id, n.payload.get("supervisionItemId"))
                for n in rows.scalars()
            ]

    await nine_am(platform, D(2026, 6, 12))  # 1 working day left
    async with platform.db.read() as s:
        item_id = (await s.execute(select(SupervisionItem.id))).scalar_one()
    got = await cards()
    assert sorted((u, k) for u, k, *_ in got) == [("drc_head", "DEADLINE_YELLOW"), ("zhang_wei", "DEADLINE_YELLOW")]
    assert {(t, i, sid) for _, _, t, i, sid in got} == {("SupervisionItem", item_id, item_id)}
    await nine_am(platform, D(2026, 6, 16))  # the first working day past it
    red = sorted((u, k) for u, k, *_ in (await cards())[2:])
    assert red == [
        ("clerk", "DEADLINE_RED"),  # the item's clock
        ("clerk", "DEADLINE_RED"),  # Finance's part
        ("clerk", "DEADLINE_RED"),  # the DRC's part
        ("drc_head", "DEADLINE_RED"),
        ("zhang_wei", "DEADLINE_RED"),
    ]
    # Jun 16, 17, 18 past (19 the Dragon Boat Festival, 20–21 the weekend): Mon Jun 22 escalates.
    await nine_am(platform, D(2026, 6, 22))
    escalated = sorted((u, k) for u, k, *_ in (await cards())[7:])
    assert escalated == [
        ("clerk", "DEADLINE_ESCALATED"),  # the item's clock: to its creator
        ("drc_head", "DEADLINE_ESCALATED"),
        ("finance_head", "DEADLINE_ESCALATED"),
    ]

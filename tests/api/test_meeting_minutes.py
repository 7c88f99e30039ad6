"""Minutes (纪要) of a meeting as a document, and decided matters (议定事项) becoming supervision
items (DOMAIN §7.4, §5.3), on SQLite and PostgreSQL.

The General Office's clerk organises a meeting on Tue 2026-06-02 09:00–10:00 Shanghai, chaired by
the secretary-general, in the 第一会议室 of 省政府1号楼; attendance is written through check-in
and, for leave and substitutes, directly in the database (tests/attendance_helpers.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from documents.models import Document
from documents.supervision_models import SupervisionItem
from meetings.models import DecidedMatter, MeetingMinutes
from office_api.config import Settings
from tests.attendance_helpers import approve_leave, check_in, code_of, invitation_of
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import NOW, gid, ids_of, pk_of, signed_in
from tests.meetings_helpers import GENERAL_OFFICE, add_room, create_meeting, utc

DAY = dt.date(2026, 6, 2)

DRAFT = """mutation($input: DraftMeetingMinutesInput!) { draftMeetingMinutes(input: $input) {
  minutes { id documentId createdBy { username } occurrence { id }
            decidedMatters { id seq text dueOn supervisionItemId leadUnit { code } coHandlerUnits { code } } }
  errors { field code message } } }"""
DOCUMENT = """query($id: ID!) { document(id: $id) { title docType status body issuingUnit { code }
  drafter { username } } }"""
MINUTES = """query($id: ID!) { meetingMinutes(occurrenceId: $id) { id documentId
  document { title }
  decidedMatters { seq text supervisionItemId supervisionItem { title sourceType instruction
    leadUnit { code } units { unit { code } isLead } deadline { dueOn } } } } }"""
SUPERVISE = """mutation($input: SuperviseDecidedMatterInput!) { superviseDecidedMatter(input: $input) {
  matter { seq supervisionItemId supervisionItem { title sourceType sourceId instruction
    leadUnit { code } units { unit { code } isLead } deadline { dueOn } } }
  errors { field code message } } }"""

DISCUSSION = "会议听取了省应急厅关于上半年全省安全生产形势的汇报，与会同志进行了讨论。"
FURTHER = "危化品运输监管职责划分，由省应急厅会同有关部门研究后另行提出意见。"


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


def at(platform: Any, hour: int, minute: int = 0) -> None:
    instant = utc(DAY, hour, minute)
    platform.clock = lambda: instant


def review_by(ids: dict[str, int], username: str = "deputy") -> dict[str, Any]:
    return {"steps": [{"name": "核稿", "mode": "SINGLE", "assigneeIds": [gid("User", ids[username])]}]}


async def held_meeting(platform: Any, ids: dict[str, int], as_) -> dict[str, Any]:
    """The meeting, held: finance_head on time, drc_head late, deputy (列席) present, zhang_wei
    replaced by wang_wei (approved substitute, present), li_na on approved leave, zhou_wei
    (旁听) absent. The clock ends at 10:30, after the meeting."""
    room = await add_room(platform, ids[GENERAL_OFFICE])
    people = [
        ("finance_head", "PARTICIPANT"),
        ("drc_head", "PARTICIPANT"),
        ("deputy", "NON_VOTING"),
        ("zhang_wei", "PARTICIPANT"),
        ("li_na", "PARTICIPANT"),
        ("zhou_wei", "OBSERVER"),
    ]
    out = await create_meeting(
        as_("clerk"),
        ids,
        roomId=gid("Room", room),
        chairId=gid("User", ids["secretary_general"]),
        agenda="研究部署全省安全生产工作",
        invitees=[{"userId": gid("User", ids[u]), "role": role} for u, role in people],
    )
    assert out["errors"] == []
    m = out["meeting"]
    meeting, occ = pk_of(m["id"]), m["occurrences"][0]["id"]
    await approve_leave(
        platform,
        await invitation_of(platform, meeting, ids["zhang_wei"]),
        ids["clerk"],
        substitute_user_id=ids["wang_wei"],
    )
    await approve_leave(platform, await invitation_of(platform, meeting, ids["li_na"]), ids["clerk"])
    code = (await code_of(as_("clerk"), occ))["token"]
    at(platform, 8, 50)
    for username in ("finance_head", "deputy", "wang_wei"):
        assert (await check_in(as_(username), code))["errors"] == []
    at(platform, 9, 10)
    assert (await check_in(as_("drc_head"), code))["errors"] == []
    at(platform, 10, 30)
    return m


def matters(ids: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "text": "省财政厅牵头，省发展改革委配合，7月底前拿出安全生产专项资金安排方案。",
            "leadUnitId": gid("OrgUnit", ids["370000-finance"]),
            "coHandlerUnitIds": [gid("OrgUnit", ids["370000-drc"])],
        },
        {"text": "各市于6月底前完成一轮安全隐患排查，结果报省政府办公厅。", "dueOn": "2026-06-30"},
    ]


async def test_the_minutes_are_a_draft_document_with_the_attendance_lists(platform, ids, as_) -> None:
    m = await held_meeting(platform, ids, as_)
    occ = m["occurrences"][0]["id"]
    clerk = as_("clerk")
    out = (
        await clerk.execute(
            DRAFT,
            {
                "input": {
                    "occurrenceId": occ,
                    "discussion": DISCUSSION,
                    "decidedMatters": matters(ids),
                    "furtherStudy": FURTHER,
                    "route": review_by(ids),
                }
            },
        )
    )["data"]["draftMeetingMinutes"]
    assert out["errors"] == []
    minutes = out["minutes"]
    assert (minutes["createdBy"], minutes["occurrence"]) == ({"username": "clerk"}, {"id": occ})
    assert [
        (d["seq"], d["leadUnit"] and d["leadUnit"]["code"], [u["code"] for u in d["coHandlerUnits"]], d["dueOn"])
        for d in minutes["decidedMatters"]
    ] == [(1, "370000-finance", ["370000-drc"], None), (2, None, [], "2026-06-30")]
    assert all(d["supervisionItemId"] is None for d in minutes["decidedMatters"])

    doc = (await clerk.execute(DOCUMENT, {"id": minutes["documentId"]}))["data"]["document"]
    assert (doc["title"], doc["docType"], doc["status"], doc["issuingUnit"], doc["drafter"]) == (
        "全省安全生产工作会议纪要",
        "MINUTES",
        "DRAFT",
        {"code": GENERAL_OFFICE},
        {"username": "clerk"},
    )
    assert doc["body"] == (
        "时间：2026年6月2日 9:00—10:00\n"
        "地点：省政府1号楼第一会议室\n"
        "主持：孙秘书长\n"
        "议题：研究部署全省安全生产工作\n"
        "\n"
        "一、会议讨论情况\n"
        f"{DISCUSSION}\n"
        "\n"
        "二、议定事项\n"
        "（一）省财政厅牵头，省发展改革委配合，7月底前拿出安全生产专项资金安排方案。\n"
        "（二）各市于6月底前完成一轮安全隐患排查，结果报省政府办公厅。\n"
        "\n"
        "三、需进一步研究的事项\n"
        f"{FURTHER}\n"
        "\n"
        "出席：赵厅长，钱主任，王伟（代张伟）\n"
        "请假：李娜\n"
        "列席：李副主任"
    )
    # the document routes like any other: the clerk submits it to the deputy's review
    submit = """mutation($id: ID!) { submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {
      document { status } errors { code } } }"""
    submitted = (await clerk.execute(submit, {"id": minutes["documentId"]}))["data"]["submitDocument"]
    assert submitted == {"document": {"status": "IN_REVIEW"}, "errors": []}

    read = (await clerk.execute(MINUTES, {"id": occ}))["data"]["meetingMinutes"]
    assert (read["id"], read["documentId"], read["document"]) == (
        minutes["id"],
        minutes["documentId"],
        {"title": "全省安全生产工作会议纪要"},
    )
    # an invitee who can see neither the organiser's record nor the draft gets nothing
    assert (await as_("finance_head").execute(MINUTES, {"id": occ}))["data"]["meetingMinutes"] is None
    # the reviewer on the route sees the minutes and the document
    reviewer = (await as_("deputy").execute(MINUTES, {"id": occ}))["data"]["meetingMinutes"]
    assert reviewer["document"] == {"title": "全省安全生产工作会议纪要"}


async def test_minutes_are_refused_before_the_start_twice_and_to_others(platform, ids, as_) -> None:
    m = await held_meeting(platform, ids, as_)
    occ = m["occurrences"][0]["id"]
    base = {"occurrenceId": occ, "discussion": DISCUSSION, "route": review_by(ids)}

    async def draft(username: str, **fields: Any) -> list[tuple[str, str]]:
        res = await as_(username).execute(DRAFT, {"input": {**base, **fields}})
        payload = res["data"]["draftMeetingMinutes"]
        assert payload["minutes"] is None or payload["errors"] == []
        return [(e["field"], e["code"]) for e in payload["errors"]]

    at(platform, 8, 59)
    assert await draft("clerk") == [("occurrenceId", "INVALID_STATE")]
    at(platform, 9, 0)
    assert await draft("finance_head") == [("occurrenceId", "FORBIDDEN")]  # an invitee, no organiser
    assert await draft("zhang_wei2") == [("occurrenceId", "NOT_FOUND")]  # cannot see the meeting
    assert await draft("clerk", route=None) == [("route", "REQUIRED")]  # no route, no template for 纪要
    assert await draft("clerk") == []
    assert await draft("clerk") == [("occurrenceId", "DUPLICATE")]
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(MeetingMinutes))).scalar_one() == 1
        assert (await s.execute(select(func.count()).select_from(Document))).scalar_one() == 1


async def test_an_organiser_without_a_post_in_the_organising_unit_cannot_draft(platform, ids, as_) -> None:
    out = await create_meeting(as_("clerk"), ids, chairId=gid("User", ids["drc_head"]))
    occ = out["meeting"]["occurrences"][0]["id"]
    at(platform, 10, 30)
    res = await as_("drc_head").execute(
        DRAFT, {"input": {"occurrenceId": occ, "discussion": DISCUSSION, "route": review_by(ids)}}
    )
    assert [(e["field"], e["code"]) for e in res["data"]["draftMeetingMinutes"]["errors"]] == [
        ("occurrenceId", "FORBIDDEN")
    ]


async def test_bad_minutes_input_is_refused_naming_every_field(platform, ids, as_) -> None:
    m = await held_meeting(platform, ids, as_)
    finance = gid("OrgUnit", ids["370000-finance"])
    bad = [
        {"text": " "},
        {"text": "x" * 2001},
        {"text": "甲", "leadUnitId": finance, "coHandlerUnitIds": [finance]},
        {"text": "乙", "dueOn": "2026-06-01"},
        {"text": "丙", "leadUnitId": gid("OrgUnit", 999_999)},
        {"text": "丁", "coHandlerUnitIds": [gid("Room", 1)]},
    ]
    res = await as_("clerk").execute(
        DRAFT,
        {
            "input": {
                "occurrenceId": m["occurrences"][0]["id"],
                "discussion": "",
                "furtherStudy": "y" * 5001,
                "decidedMatters": bad,
                "route": review_by(ids),
            }
        },
    )
    payload = res["data"]["draftMeetingMinutes"]
    assert payload["minutes"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("decidedMatters.5.coHandlerUnitIds.0", "INVALID_VALUE")
    ]
    res = await as_("clerk").execute(
        DRAFT,
        {
            "input": {
                "occurrenceId": m["occurrences"][0]["id"],
                "discussion": "",
                "furtherStudy": "y" * 5001,
                "decidedMatters": bad[:5],
                "route": review_by(ids),
            }
        },
    )
    assert [(e["field"], e["code"]) for e in res["data"]["draftMeetingMinutes"]["errors"]] == [
        ("discussion", "REQUIRED"),
        ("furtherStudy", "TOO_LONG"),
        ("decidedMatters.0.text", "REQUIRED"),
        ("decidedMatters.1.text", "TOO_LONG"),
        ("decidedMatters.2.coHandlerUnitIds.0", "DUPLICATE"),
        ("decidedMatters.3.dueOn", "INVALID_VALUE"),
        ("decidedMatters.4.leadUnitId", "NOT_FOUND"),
    ]
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(MeetingMinutes))).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(DecidedMatter))).scalar_one() == 0


async def test_two_organisers_drafting_at_once_make_one_set_of_minutes(platform, ids, as_) -> None:
    out = await create_meeting(as_("clerk"), ids, chairId=gid("User", ids["secretary_general"]))
    occ = out["meeting"]["occurrences"][0]["id"]
    at(platform, 10, 30)
    variables = {"input": {"occurrenceId": occ, "discussion": DISCUSSION, "route": review_by(ids)}}
    a, b = await asyncio.gather(
        as_("clerk").execute(DRAFT, variables), as_("secretary_general").execute(DRAFT, variables)
    )
    payloads = [r["data"]["draftMeetingMinutes"] for r in (a, b)]
    assert sorted(len(p["errors"]) for p in payloads) == [0, 1], payloads
    assert [(e["field"], e["code"]) for p in payloads for e in p["errors"]] == [("occurrenceId", "DUPLICATE")]
    won = next(p for p in payloads if not p["errors"])["minutes"]
    # the secretary-general's primary post is the provincial government; the minutes are the General Office's
    doc = (await as_(won["createdBy"]["username"]).execute(DOCUMENT, {"id": won["documentId"]}))["data"]["document"]
    assert doc["issuingUnit"] == {"code": GENERAL_OFFICE}
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(MeetingMinutes))).scalar_one() == 1
        assert (await s.execute(select(func.count()).select_from(Document))).scalar_one() == 1


async def drafted(platform: Any, ids: dict[str, int], as_) -> tuple[str, list[dict[str, Any]]]:
    m = await held_meeting(platform, ids, as_)
    occ = m["occurrences"][0]["id"]
    res = await as_("clerk").execute(
        DRAFT,
        {
            "input": {
                "occurrenceId": occ,
                "discussion": DISCUSSION,
                "decidedMatters": matters(ids),
                "route": review_by(ids),
            }
        },
    )
    payload = res["data"]["draftMeetingMinutes"]
    assert payload["errors"] == []
    return occ, payload["minutes"]["decidedMatters"]


async def test_a_decided_matter_becomes_a_supervision_item_once(platform, ids, as_) -> None:
    occ, items = await drafted(platform, ids, as_)
    clerk = as_("clerk")
    first = (await clerk.execute(SUPERVISE, {"input": {"matterId": items[0]["id"]}}))["data"]["superviseDecidedMatter"]
    assert first["errors"] == []
    item = first["matter"]["supervisionItem"]
    assert item == {
        "title": "全省安全生产工作会议 议定事项（一）",
        "sourceType": "MEETING_MATTER",
        "sourceId": pk_of(items[0]["id"]),
        "instruction": "省财政厅牵头，省发展改革委配合，7月底前拿出安全生产专项资金安排方案。",
        "leadUnit": {"code": "370000-finance"},
        "units": [
            {"unit": {"code": "370000-finance"}, "isLead": True},
            {"unit": {"code": "370000-drc"}, "isLead": False},
        ],
        "deadline": {"dueOn": "2026-06-22"},  # supervision-minutes: 20 calendar days from 2026-06-02
    }
    assert first["matter"]["supervisionItemId"] is not None
    again = (await clerk.execute(SUPERVISE, {"input": {"matterId": items[0]["id"]}}))["data"]["superviseDecidedMatter"]
    assert [(e["field"], e["code"]) for e in again["errors"]] == [("matterId", "DUPLICATE")]
    # the second matter names no lead unit: one must be given
    second = {"matterId": items[1]["id"]}
    no_lead = (await clerk.execute(SUPERVISE, {"input": second}))["data"]["superviseDecidedMatter"]
    assert [(e["field"], e["code"], e["message"]) for e in no_lead["errors"]] == [
        ("leadUnitId", "REQUIRED", "此项必填")
    ]
    past = {**second, "leadUnitId": gid("OrgUnit", ids["370000-drc"]), "dueOn": "2026-06-01"}
    late = (await clerk.execute(SUPERVISE, {"input": past}))["data"]["superviseDecidedMatter"]
    assert [(e["field"], e["code"]) for e in late["errors"]] == [("dueOn", "INVALID_VALUE")]
    ok = (await clerk.execute(SUPERVISE, {"input": {**past, "dueOn": None}}))["data"]["superviseDecidedMatter"]
    assert ok["errors"] == []
    assert (ok["matter"]["supervisionItem"]["leadUnit"], ok["matter"]["supervisionItem"]["deadline"]) == (
        {"code": "370000-drc"},
        {"dueOn": "2026-06-30"},  # the matter's own due date
    )
    # meetingMinutes shows both links
    read = (await clerk.execute(MINUTES, {"id": occ}))["data"]["meetingMinutes"]
    assert [(d["seq"], d["supervisionItem"]["leadUnit"]["code"]) for d in read["decidedMatters"]] == [
        (1, "370000-finance"),
        (2, "370000-drc"),
    ]
    # an invitee is no organiser: the matter is not theirs to see
    stranger = await as_("finance_head").execute(SUPERVISE, {"input": {"matterId": items[1]["id"]}})
    assert [(e["field"], e["code"]) for e in stranger["data"]["superviseDecidedMatter"]["errors"]] == [
        ("matterId", "NOT_FOUND")
    ]


async def test_supervising_needs_a_supervising_post_over_the_units(platform, ids, as_) -> None:
    out = await create_meeting(as_("li_na"), ids, organizerUnitId=gid("OrgUnit", ids["370102"]), title="街道工作例会")
    assert out["errors"] == []
    occ = out["meeting"]["occurrences"][0]["id"]
    at(platform, 10, 30)
    res = await as_("li_na").execute(
        DRAFT,
        {
            "input": {
                "occurrenceId": occ,
                "discussion": "讨论了辖区环境整治。",
                "decidedMatters": [{"text": "月底前完成背街小巷整治。", "leadUnitId": gid("OrgUnit", ids["370102"])}],
                "route": review_by(ids, "zhou_wei"),
            }
        },
    )
    payload = res["data"]["draftMeetingMinutes"]
    assert payload["errors"] == []
    matter = payload["minutes"]["decidedMatters"][0]["id"]
    refused = await as_("li_na").execute(SUPERVISE, {"input": {"matterId": matter}})
    assert [(e["field"], e["code"]) for e in refused["data"]["superviseDecidedMatter"]["errors"]] == [
        ("leadUnitId", "FORBIDDEN")
    ]
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(SupervisionItem))).scalar_one() == 0


async def test_two_supervise_requests_at_once_make_one_item(platform, ids, as_, client, settings) -> None:
    _, items = await drafted(platform, ids, as_)
    variables = {"input": {"matterId": items[0]["id"]}}
    a, b = await asyncio.gather(
        as_("clerk").execute(SUPERVISE, variables),
        signed_in(client, settings, ids["clerk"]).execute(SUPERVISE, variables),
    )
    payloads = [r["data"]["superviseDecidedMatter"] for r in (a, b)]
    assert sorted(len(p["errors"]) for p in payloads) == [0, 1], payloads
    assert [(e["field"], e["code"]) for p in payloads for e in p["errors"]] == [("matterId", "DUPLICATE")]
    async with platform.db.read() as s:
        rows = (await s.execute(select(SupervisionItem.source_id))).scalars().all()
    assert rows == [pk_of(items[0]["id"])]

"""Check-in (签到) and the attendance report (DOMAIN §7.3), on SQLite and PostgreSQL.

The General Office's clerk organises a meeting on Tue 2026-06-02 09:00–10:00 Shanghai (check-in
opens 30 minutes before); the platform clock is moved to each instant a step happens at.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import jwt
import pytest
from sqlalchemy import select, update

from meetings.check_in import schedule_check_in_open
from meetings.models import CheckIn, Invitation, Meeting, MeetingOccurrence, OccurrenceReply, ReplyState
from office_api.config import Settings
from tests.attendance_helpers import (
    approve_leave,
    check_in,
    check_in_rows,
    code_of,
    invitation_of,
    nominate,
    pending_substitution,
    reply,
)
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import NOW, gid, ids_of, pk_of, signed_in
from tests.meetings_helpers import create_meeting, local, utc

D = dt.date
DAY = D(2026, 6, 2)

ATTENDANCE = """query($id: ID!) { meetingAttendance(occurrenceId: $id) {
  opensAt closesAt closed
  counts { expected present late onLeave substitute absent }
  rows { category role checkedInAt late leaveReason user { username } onBehalfOf { username }
         invitation { unit { code } nominatedVia { unit { code } } } } } }"""


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


def at(platform: Any, hour: int, minute: int = 0, second: int = 0, day: dt.date = DAY) -> None:
    """Set the platform clock to ``day`` ``hour``:``minute``:``second`` Shanghai."""
    instant = utc(day, hour, minute) + dt.timedelta(seconds=second)
    platform.clock = lambda: instant


async def meeting_with(as_, ids, *people: str, roles: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    invitees = [{"userId": gid("User", ids[p]), "role": (roles or {}).get(p, "PARTICIPANT")} for p in people]
    out = await create_meeting(as_("clerk"), ids, invitees=invitees + fields.pop("units", []), **fields)
    assert out["errors"] == [], out
    return out["meeting"]


async def test_an_invitee_checks_in_once_inside_the_window_and_is_late_after_the_start(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head", "drc_head")
    occ = m["occurrences"][0]["id"]
    at(platform, 8)  # the organiser prints the code the day of the meeting
    code = await code_of(as_("clerk"), occ)
    assert (code["opensAt"], code["closesAt"], code["occurrence"]["id"]) == (
        "2026-06-02T00:30:00+00:00",
        "2026-06-02T02:00:00+00:00",
        occ,
    )
    assert code["qrText"] == "office-api://meeting-check-in?token=" + code["token"]

    at(platform, 8, 45)
    first = await check_in(as_("finance_head"), code["qrText"], occ)
    assert first["errors"] == []
    assert first["checkIn"] == {
        "checkedInAt": "2026-06-02T00:45:00+00:00",
        "late": False,
        "method": "qr",
        "user": {"username": "finance_head"},
        "invitation": {"role": "PARTICIPANT"},
        "occurrence": {"id": occ},
    }
    at(platform, 9, 0, 1)  # one second after the start (lateAfterMinutes 0)
    late = await check_in(as_("drc_head"), code["token"])
    assert (late["errors"], late["checkIn"]["late"], late["checkIn"]["checkedInAt"]) == (
        [],
        True,
        "2026-06-02T01:00:01+00:00",
    )
    # a second scan returns the first check-in, unchanged, and writes nothing
    at(platform, 9, 30)
    again = await check_in(as_("finance_head"), code["token"])
    assert (again["errors"], again["checkIn"]["checkedInAt"], again["checkIn"]["late"]) == (
        [],
        "2026-06-02T00:45:00+00:00",
        False,
    )
    assert await check_in_rows(platform, pk_of(occ)) == 2


async def test_check_in_outside_the_window_is_refused_with_the_window(platform, ids, as_, client, settings) -> None:
    m = await meeting_with(as_, ids, "finance_head", "drc_head")
    occ = m["occurrences"][0]["id"]
    code = (await code_of(as_("clerk"), occ))["token"]
    at(platform, 8, 29, 59)
    early = await check_in(as_("finance_head"), code)
    assert [(e["field"], e["code"]) for e in early["errors"]] == [("token", "CHECK_IN_CLOSED")]
    assert early["errors"][0]["message"] == "不在签到时间内（2026-06-02 08:30 至 2026-06-02 10:00），不得补签"
    assert early["checkIn"] is None
    at(platform, 10)  # the end: no signing afterwards
    after = await GraphQLClient(client.http, as_("drc_head").token, "en").execute(
        "mutation($t: String!) { checkInToMeeting(input: {token: $t}) { errors { code message } } }", {"t": code}
    )
    assert after["data"]["checkInToMeeting"]["errors"] == [
        {
            "code": "CHECK_IN_CLOSED",
            "message": "Check-in is open only from 2026-06-02 08:30 to 2026-06-02 10:00; no signing afterwards",
        }
    ]
    at(platform, 8, 30)  # the window opens on the minute
    assert (await check_in(as_("finance_head"), code))["errors"] == []
    assert await check_in_rows(platform, pk_of(occ)) == 1


async def test_forged_foreign_and_moved_codes_are_refused(platform, ids, as_, client, settings) -> None:
    m = await meeting_with(as_, ids, "finance_head")
    other = await meeting_with(as_, ids, "finance_head", startAt=local(DAY, 14), endAt=local(DAY, 15))
    occ, other_occ = m["occurrences"][0]["id"], other["occurrences"][0]["id"]
    code = (await code_of(as_("clerk"), occ))["token"]
    at(platform, 8, 45)
    head = as_("finance_head")
    claims = jwt.decode(code, options={"verify_signature": False})
    assert claims["aud"] == "meeting-check-in"
    forged = [
        "",
        "not-a-token",
        code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB"),  # signature altered
        jwt.encode(claims, settings.jwt_secret, algorithm="HS256"),  # signed with the access-token key
        head.token,  # an access token is no check-in code
        "x" * 3000,
    ]
    for token in forged:
        out = await check_in(head, token)
        assert [(e["field"], e["code"]) for e in out["errors"]] == [("token", "CHECK_IN_TOKEN_INVALID")], token
    # the code of another occurrence than the one the app shows
    mismatch = await check_in(head, code, other_occ)
    assert [e["code"] for e in mismatch["errors"]] == ["CHECK_IN_TOKEN_INVALID"]
    # and a check-in code is no access token
    res = await GraphQLClient(client.http, code).execute("{ me { username } }")
    assert res.get("data") is None or res["data"].get("me") is None
    assert res["errors"][0]["extensions"]["code"] in ("UNAUTHENTICATED", "INVALID_TOKEN")
    # a code issued before the occurrence moved an hour later stops working
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(
            update(MeetingOccurrence)
            .where(MeetingOccurrence.id == pk_of(occ))
            .values(start_at=utc(DAY, 10), end_at=utc(DAY, 11))
        )
    at(platform, 10, 15)
    moved = await check_in(head, code)
    assert [e["code"] for e in moved["errors"]] == ["CHECK_IN_TOKEN_INVALID"]
    fresh = (await code_of(as_("clerk"), occ))["token"]
    assert (await check_in(head, fresh))["errors"] == []
    assert await check_in_rows(platform, pk_of(occ)) == 1


async def test_only_attendees_of_record_check_in_and_only_for_themselves(platform, ids, as_) -> None:
    m = await meeting_with(
        as_,
        ids,
        "finance_head",
        "drc_head",
        "deputy",
        "li_na",
        units=[{"unitId": gid("OrgUnit", ids["370200"]), "quota": 1}],
    )
    meeting, occ = pk_of(m["id"]), m["occurrences"][0]["id"]
    inv = {u: await invitation_of(platform, meeting, ids[u]) for u in ("finance_head", "drc_head", "deputy", "li_na")}
    await approve_leave(platform, inv["finance_head"], ids["clerk"], substitute_user_id=ids["zhang_wei"])
    await reply(platform, inv["drc_head"], ReplyState.DECLINED)
    await pending_substitution(platform, inv["li_na"], ids["zhou_wei"])
    await nominate(platform, await invitation_of(platform, meeting, unit_id=ids["370200"]), ids["clerk_370200"])
    code = (await code_of(as_("clerk"), occ))["token"]
    at(platform, 8, 50)

    async def refused(username: str) -> str:
        out = await check_in(as_(username), code)
        assert [(e["field"], e["code"]) for e in out["errors"]] == [("token", "NOT_AN_ATTENDEE")], username
        return out["errors"][0]["message"]

    assert await refused("wang_wei") == "您不是本次会议的参会人员（not invited）"
    assert "a substitute attends in your place" in await refused("finance_head")  # replaced by an approved substitute
    assert "you declined" in await refused("drc_head")
    assert "your substitution is not approved" in await refused("zhou_wei")  # unapproved substitute
    assert "not invited" in await refused("clerk")  # the organiser is not an invitee
    for username in ("zhang_wei", "deputy", "li_na", "clerk_370200"):  # substitute, invitee, nominee
        out = await check_in(as_(username), code)
        assert (out["errors"], out["checkIn"]["user"]["username"]) == ([], username)
    assert await check_in_rows(platform, pk_of(occ)) == 4


async def test_the_code_is_for_organisers_and_cancelled_meetings_refuse_check_in(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head", chairId=gid("User", ids["deputy"]))
    occ = m["occurrences"][0]["id"]
    code = (await code_of(as_("deputy"), occ))["token"]  # the chair is an organiser
    query = "query($id: ID!) { meetingCheckInCode(occurrenceId: $id) { token } }"
    invitee = await as_("finance_head").execute(query, {"id": occ})
    assert invitee["data"]["meetingCheckInCode"] is None
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in invitee["errors"]] == [
        ("FORBIDDEN", "occurrenceId")
    ]
    assert (await as_("li_na").execute(query, {"id": occ})) == {"data": {"meetingCheckInCode": None}}
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(
            update(MeetingOccurrence).where(MeetingOccurrence.id == pk_of(occ)).values(state="cancelled")
        )
    at(platform, 8, 45)
    out = await check_in(as_("finance_head"), code)
    assert [(e["field"], e["code"]) for e in out["errors"]] == [("token", "MEETING_CANCELLED")]
    cancelled = await as_("clerk").execute(query, {"id": occ})
    assert [e["extensions"]["code"] for e in cancelled["errors"]] == ["MEETING_CANCELLED"]


async def test_a_double_tap_from_two_devices_leaves_one_check_in(platform, ids, as_, client, settings) -> None:
    people = ("finance_head", "drc_head", "deputy", "zhang_wei", "wang_wei")
    m = await meeting_with(as_, ids, *people)
    occ = m["occurrences"][0]["id"]
    code = (await code_of(as_("clerk"), occ))["token"]
    at(platform, 8, 55)
    for username in people:
        phone, tablet = as_(username), signed_in(client, settings, ids[username])
        a, b = await asyncio.gather(check_in(phone, code), check_in(tablet, code))
        assert a["errors"] == b["errors"] == []
        assert a["checkIn"] == b["checkIn"]
        assert a["checkIn"]["checkedInAt"] == "2026-06-02T00:55:00+00:00"
    assert await check_in_rows(platform, pk_of(occ)) == len(people)
    async with platform.db.read() as s:
        users = (await s.execute(select(CheckIn.user_id).where(CheckIn.occurrence_id == pk_of(occ)))).scalars()
        assert sorted(users) == sorted(ids[u] for u in people)


async def test_late_after_minutes_is_a_grace_period(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head", "drc_head", lateAfterMinutes=10, checkInOpensMinutes=0)
    occ = m["occurrences"][0]["id"]
    code = (await code_of(as_("clerk"), occ))["token"]
    at(platform, 8, 59)
    assert [e["code"] for e in (await check_in(as_("finance_head"), code))["errors"]] == ["CHECK_IN_CLOSED"]
    at(platform, 9, 10)
    assert (await check_in(as_("finance_head"), code))["checkIn"]["late"] is False
    at(platform, 9, 10, 1)
    assert (await check_in(as_("drc_head"), code))["checkIn"]["late"] is True


async def test_the_attendance_report(platform, ids, as_) -> None:
    m = await meeting_with(
        as_,
        ids,
        "finance_head",
        "drc_head",
        "deputy",
        "zhang_wei",
        "li_na",
        "zhou_wei",
        roles={"deputy": "NON_VOTING", "zhou_wei": "OBSERVER"},
        units=[{"unitId": gid("OrgUnit", ids["370200"]), "quota": 1, "role": "SPECIAL_INVITEE"}],
    )
    meeting, occ = pk_of(m["id"]), m["occurrences"][0]["id"]
    inv = {
        u: await invitation_of(platform, meeting, ids[u])
        for u in ("finance_head", "drc_head", "deputy", "zhang_wei", "li_na", "zhou_wei")
    }
    await approve_leave(platform, inv["deputy"], ids["clerk"], reason="参加国务院会议")  # on leave
    await approve_leave(platform, inv["zhang_wei"], ids["clerk"], substitute_user_id=ids["wang_wei"])
    await pending_substitution(platform, inv["li_na"], ids["secretary_general"])  # unapproved: absent
    await reply(platform, inv["zhou_wei"], ReplyState.DECLINED)  # declined without leave: absent
    await nominate(platform, await invitation_of(platform, meeting, unit_id=ids["370200"]), ids["clerk_370200"])
    code = (await code_of(as_("clerk"), occ))["token"]
    at(platform, 8, 40)
    for username in ("finance_head", "wang_wei"):
        assert (await check_in(as_(username), code))["errors"] == []
    at(platform, 9, 5)
    assert (await check_in(as_("clerk_370200"), code))["errors"] == []

    report = (await as_("clerk").execute(ATTENDANCE, {"id": occ}))["data"]["meetingAttendance"]
    assert (report["opensAt"], report["closesAt"], report["closed"]) == (
        "2026-06-02T00:30:00+00:00",
        "2026-06-02T02:00:00+00:00",
        False,
    )
    rows = [
        (
            r["user"]["username"],
            r["category"],
            r["role"],
            r["checkedInAt"],
            r["late"],
            r["onBehalfOf"] and r["onBehalfOf"]["username"],
            r["leaveReason"],
        )
        for r in report["rows"]
    ]
    assert rows == [
        ("finance_head", "PRESENT", "PARTICIPANT", "2026-06-02T00:40:00+00:00", False, None, None),
        ("drc_head", "ABSENT", "PARTICIPANT", None, False, None, None),
        ("deputy", "ON_LEAVE", "NON_VOTING", None, False, None, "参加国务院会议"),
        ("wang_wei", "SUBSTITUTE", "PARTICIPANT", "2026-06-02T00:40:00+00:00", False, "zhang_wei", None),
        ("li_na", "ABSENT", "PARTICIPANT", None, False, None, None),
        ("zhou_wei", "ABSENT", "OBSERVER", None, False, None, None),
        ("clerk_370200", "LATE", "SPECIAL_INVITEE", "2026-06-02T01:05:00+00:00", True, None, None),
    ]
    assert report["rows"][-1]["invitation"]["nominatedVia"] == {"unit": {"code": "370200"}}
    assert report["counts"] == {"expected": 7, "present": 1, "late": 1, "onLeave": 1, "substitute": 1, "absent": 3}
    # only organisers see it
    refused = await as_("finance_head").execute(ATTENDANCE, {"id": occ})
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    assert (await as_("wang_wei").execute(ATTENDANCE, {"id": occ}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await as_("zhang_wei2").execute(ATTENDANCE, {"id": occ})) == {"data": {"meetingAttendance": None}}
    at(platform, 10)
    closed = (await as_("clerk").execute(ATTENDANCE, {"id": occ}))["data"]["meetingAttendance"]
    assert closed["closed"] is True


async def test_attendance_per_occurrence_of_a_series(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head", "drc_head", recurrence="FREQ=WEEKLY;COUNT=3")
    meeting = pk_of(m["id"])
    first, second = (o["id"] for o in m["occurrences"][:2])
    head = await invitation_of(platform, meeting, ids["finance_head"])
    drc = await invitation_of(platform, meeting, ids["drc_head"])
    await approve_leave(platform, head, ids["clerk"], occurrence_id=pk_of(second))  # leave for the 2nd only
    await reply(platform, drc, ReplyState.DECLINED, occurrence_id=pk_of(first))  # not coming to the 1st
    clerk = as_("clerk")
    first_code = (await code_of(clerk, first))["token"]
    second_code = (await code_of(clerk, second))["token"]
    at(platform, 8, 45)
    refused = await check_in(as_("drc_head"), first_code)
    assert [e["code"] for e in refused["errors"]] == ["NOT_AN_ATTENDEE"]
    assert (await check_in(as_("finance_head"), first_code))["errors"] == []
    # a week later, the first occurrence's code gives back the first check-in and writes nothing
    at(platform, 8, 45, day=D(2026, 6, 9))
    again = await check_in(as_("finance_head"), first_code)
    assert (again["errors"], again["checkIn"]["checkedInAt"]) == ([], "2026-06-02T00:45:00+00:00")
    assert await check_in_rows(platform, pk_of(first)) == 1
    assert (await check_in(as_("drc_head"), second_code))["errors"] == []
    assert [e["code"] for e in (await check_in(as_("finance_head"), second_code))["errors"]] == ["NOT_AN_ATTENDEE"]

    async def categories(occ: str) -> list[tuple[str, str]]:
        report = (await clerk.execute(ATTENDANCE, {"id": occ}))["data"]["meetingAttendance"]
        return [(r["user"]["username"], r["category"]) for r in report["rows"]]

    assert await categories(first) == [("finance_head", "PRESENT"), ("drc_head", "ABSENT")]
    assert await categories(second) == [("finance_head", "ON_LEAVE"), ("drc_head", "PRESENT")]


async def test_attendees_of_record_are_told_when_check_in_opens(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head", "drc_head", "zhang_wei", recurrence="FREQ=DAILY;COUNT=2")
    meeting = pk_of(m["id"])
    first, second = (pk_of(o["id"]) for o in m["occurrences"])
    await reply(platform, await invitation_of(platform, meeting, ids["drc_head"]), ReplyState.DECLINED)
    await approve_leave(
        platform,
        await invitation_of(platform, meeting, ids["zhang_wei"]),
        ids["clerk"],
        substitute_user_id=ids["wang_wei"],
    )
    async with platform.db.unit_of_work() as uow:
        uow.now = NOW
        mtg = await uow.session.get(Meeting, meeting)
        occs = [await uow.session.get(MeetingOccurrence, pk) for pk in (first, second)]
        # createMeeting scheduled both openings already: scheduling again is a no-op
        assert await schedule_check_in_open(uow, mtg, occs) == 0
        # the second occurrence moves an hour later: a new job; the old one finds it moved
        occs[1].start_at, occs[1].end_at = utc(D(2026, 6, 3), 10), utc(D(2026, 6, 3), 11)
        await uow.session.flush()
        assert await schedule_check_in_open(uow, mtg, occs[1:]) == 1
    notes = "{ notifications(first: 5) { edges { node { kind title body subjectType } } } }"

    async def told(username: str) -> list[tuple[str, str]]:
        edges = (await as_(username).execute(notes))["data"]["notifications"]["edges"]
        return [(e["node"]["kind"], e["node"]["body"]) for e in edges if e["node"]["kind"] == "MEETING_CHECK_IN_OPEN"]

    assert await platform.scheduler.run_due(utc(DAY, 8, 29)) == 0
    assert await platform.scheduler.run_due(utc(DAY, 8, 30)) == 1
    first_note = ("MEETING_CHECK_IN_OPEN", "签到时间 2026-06-02 08:30 至 2026-06-02 10:00")
    assert await told("finance_head") == [first_note]
    assert await told("wang_wei") == [first_note]  # the substitute of record
    assert await told("zhang_wei") == []
    assert await told("drc_head") == []
    # 2026-06-03 08:30: the job of the old time runs and finds the occurrence moved; 09:30 the new one
    assert await platform.scheduler.run_due(utc(D(2026, 6, 3), 8, 30)) == 1
    assert len(await told("finance_head")) == 1
    assert await platform.scheduler.run_due(utc(D(2026, 6, 3), 9, 30)) == 1
    assert await told("finance_head") == [
        ("MEETING_CHECK_IN_OPEN", "签到时间 2026-06-03 09:30 至 2026-06-03 11:00"),
        first_note,
    ]


async def test_moving_an_occurrence_schedules_the_check_in_notice_of_its_new_time(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head")
    occurrence = m["occurrences"][0]["id"]
    move = """mutation($input: RescheduleMeetingInput!) { rescheduleMeeting(input: $input) { errors { code } } }"""
    res = await as_("clerk").execute(
        move,
        {
            "input": {
                "meetingId": m["id"],
                "scope": "THIS",
                "occurrenceId": occurrence,
                "expectedVersion": m["version"],
                "startAt": local(D(2026, 6, 4), 15),
                "endAt": local(D(2026, 6, 4), 16),
            }
        },
    )
    assert res["data"]["rescheduleMeeting"]["errors"] == []
    notes = "{ notifications(first: 5) { edges { node { kind body } } } }"

    async def opened() -> list[str]:
        edges = (await as_("finance_head").execute(notes))["data"]["notifications"]["edges"]
        return [e["node"]["body"] for e in edges if e["node"]["kind"] == "MEETING_CHECK_IN_OPEN"]

    # the job of the old time (2026-06-02 08:30) finds the occurrence moved and tells nobody
    assert await platform.scheduler.run_due(utc(DAY, 8, 30)) == 1
    assert await opened() == []
    assert await platform.scheduler.run_due(utc(D(2026, 6, 4), 14, 30)) == 1
    assert await opened() == ["签到时间 2026-06-04 14:30 至 2026-06-04 16:00"]


RESCHEDULE = """mutation($input: RescheduleMeetingInput!) { rescheduleMeeting(input: $input) {
  meeting { id version occurrences { id startAt endAt state } } errors { field code message } } }"""


async def reschedule(organiser: GraphQLClient, meeting_id: str, **fields: Any) -> dict[str, Any]:
    """``rescheduleMeeting`` at the meeting's current version."""
    got = await organiser.execute("query($id: ID!) { meeting(id: $id) { version } }", {"id": meeting_id})
    data = {"meetingId": meeting_id, "expectedVersion": got["data"]["meeting"]["version"], **fields}
    res = await organiser.execute(RESCHEDULE, {"input": data})
    assert "errors" not in res, res
    return res["data"]["rescheduleMeeting"]


async def test_a_code_from_before_a_move_is_refused_where_the_windows_overlap(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head", recurrence="FREQ=WEEKLY;COUNT=3")
    clerk, occ = as_("clerk"), m["occurrences"][0]["id"]
    at(platform, 8)
    old = (await code_of(clerk, occ))["token"]  # window 08:30–10:00
    moved = await reschedule(
        clerk, m["id"], scope="THIS", occurrenceId=occ, startAt=local(DAY, 8, 55), endAt=local(DAY, 9, 55)
    )
    assert moved["errors"] == []
    assert moved["meeting"]["occurrences"][0]["startAt"] == "2026-06-02T00:55:00+00:00"
    at(platform, 8, 40)  # inside both the old window (08:30–10:00) and the new one (08:25–09:55)
    refused = await check_in(as_("finance_head"), old, occ)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("token", "CHECK_IN_TOKEN_INVALID")]
    assert await check_in_rows(platform, pk_of(occ)) == 0
    fresh = await code_of(clerk, occ)
    assert (fresh["opensAt"], fresh["closesAt"]) == ("2026-06-02T00:25:00+00:00", "2026-06-02T01:55:00+00:00")
    ok = await check_in(as_("finance_head"), fresh["token"], occ)
    assert (ok["errors"], ok["checkIn"]["checkedInAt"]) == ([], "2026-06-02T00:40:00+00:00")


async def test_an_occurrence_with_check_ins_keeps_its_time(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head", "drc_head", recurrence="FREQ=WEEKLY;COUNT=3")
    clerk = as_("clerk")
    first, second = (o["id"] for o in m["occurrences"][:2])
    at(platform, 8, 35)  # the window opened at 08:30, the meeting starts at 09:00
    assert (await check_in(as_("finance_head"), (await code_of(clerk, first))["token"]))["errors"] == []
    refusal = {"code": "INVALID_STATE", "message": "当前状态不允许此操作：check-in has begun; cancel it instead"}
    this = await reschedule(
        clerk, m["id"], scope="THIS", occurrenceId=first, startAt=local(DAY, 12), endAt=local(DAY, 13)
    )
    assert (this["meeting"], this["errors"]) == (None, [{"field": "occurrenceId", **refusal}])
    every = await reschedule(clerk, m["id"], scope="ALL", startAt=local(DAY, 12), endAt=local(DAY, 13))
    assert (every["meeting"], every["errors"]) == (None, [{"field": "startAt", **refusal}])
    # THIS_AND_FOLLOWING from the first occurrence is ALL
    following = await reschedule(
        clerk, m["id"], scope="THIS_AND_FOLLOWING", occurrenceId=first, startAt=local(DAY, 12), endAt=local(DAY, 13)
    )
    assert following["errors"] == [{"field": "startAt", **refusal}]
    async with platform.db.read() as s:
        occ = await s.get(MeetingOccurrence, pk_of(first))
        assert (occ.start_at, occ.end_at, occ.state) == (utc(DAY, 9), utc(DAY, 10), "scheduled")
    report = (await clerk.execute(ATTENDANCE, {"id": first}))["data"]["meetingAttendance"]
    assert [(r["user"]["username"], r["category"], r["checkedInAt"]) for r in report["rows"]] == [
        ("finance_head", "PRESENT", "2026-06-02T00:35:00+00:00"),
        ("drc_head", "ABSENT", None),
    ]
    # an occurrence nobody checked in to still moves
    later = await reschedule(
        clerk,
        m["id"],
        scope="THIS",
        occurrenceId=second,
        startAt=local(D(2026, 6, 9), 12),
        endAt=local(D(2026, 6, 9), 13),
    )
    assert later["errors"] == []
    assert [o["startAt"] for o in later["meeting"]["occurrences"][:2]] == [
        "2026-06-02T01:00:00+00:00",
        "2026-06-09T04:00:00+00:00",
    ]


async def test_a_single_meeting_with_check_ins_keeps_its_time(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head")
    clerk, occ = as_("clerk"), m["occurrences"][0]["id"]
    at(platform, 8, 50)
    assert (await check_in(as_("finance_head"), (await code_of(clerk, occ))["token"]))["errors"] == []
    out = await reschedule(clerk, m["id"], scope="THIS", startAt=local(DAY, 12), endAt=local(DAY, 13))
    assert [(e["field"], e["code"]) for e in out["errors"]] == [("startAt", "INVALID_STATE")]
    async with platform.db.read() as s:
        row = await s.get(MeetingOccurrence, pk_of(occ))
        assert (row.start_at, row.end_at) == (utc(DAY, 9), utc(DAY, 10))


async def test_a_one_occurrence_substitute_is_told_why_at_another_occurrence(platform, ids, as_) -> None:
    m = await meeting_with(as_, ids, "finance_head", recurrence="FREQ=WEEKLY;COUNT=3")
    meeting = pk_of(m["id"])
    first, second = (o["id"] for o in m["occurrences"][:2])
    head = await invitation_of(platform, meeting, ids["finance_head"])
    # zhang_wei stands in for finance_head at the second occurrence only (as meetings.invitations writes it)
    async with platform.db.unit_of_work() as uow:
        sub = Invitation(
            meeting_id=meeting,
            user_id=ids["zhang_wei"],
            role="participant",
            on_behalf_of_id=head,
            occurrences_only=True,
            state=ReplyState.ACCEPTED.value,
        )
        uow.session.add(sub)
        await uow.session.flush()
        uow.session.add_all(
            [
                OccurrenceReply(invitation_id=head, occurrence_id=pk_of(second), state=ReplyState.DELEGATED.value),
                OccurrenceReply(invitation_id=sub.id, occurrence_id=pk_of(second), state=ReplyState.ACCEPTED.value),
            ]
        )
    at(platform, 8, 45)
    zhang = GraphQLClient(as_("zhang_wei").http, as_("zhang_wei").token, "en")
    out = await zhang.execute(
        "mutation($t: String!) { checkInToMeeting(input: {token: $t}) { errors { field code message } } }",
        {"t": (await code_of(as_("clerk"), first))["token"]},
    )
    assert out["data"]["checkInToMeeting"]["errors"] == [
        {
            "field": "token",
            "code": "NOT_AN_ATTENDEE",
            "message": "You are not an attendee of record of this meeting "
            "(you attend only the occurrences you substitute for)",
        }
    ]
    at(platform, 8, 45, day=D(2026, 6, 9))
    assert (await check_in(as_("zhang_wei"), (await code_of(as_("clerk"), second))["token"]))["errors"] == []

"""Meeting notices after creation (DOMAIN §7.1), SQLite and PostgreSQL: changing and cancelling
a notice, inviting more people and units, withdrawing invitations, a unit's nominees within its
quota, and ``myMeetingInvitations``.

The General Office's clerk (clerk) organises, the deputy chairs; the clock is Monday 2026-06-01
10:00 Shanghai and the meeting Tuesday 09:00–10:00 unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from meetings.models import RoomBooking
from office_api.config import Settings
from tests.attendance_helpers import check_in, code_of
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import NOW, gid, ids_of, pk_of, signed_in
from tests.meeting_notice_helpers import (
    CANCEL,
    INVITE,
    NOMINATE,
    REPLY,
    UPDATE,
    WITHDRAW,
    codes,
    invitation,
    kinds,
    meeting,
    notes,
    run,
)
from tests.meetings_helpers import GENERAL_OFFICE, add_room, create_meeting, local

D = dt.date


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


async def a_meeting(as_: Any, ids: dict[str, int], **fields: Any) -> dict[str, Any]:
    """A meeting by clerk, chaired by deputy, inviting finance_head and Qingdao (quota 2)."""
    fields.setdefault(
        "invitees",
        [
            {"userId": gid("User", ids["finance_head"])},
            {"unitId": gid("OrgUnit", ids["370200"]), "quota": 2, "requiredRank": "分管负责同志"},
        ],
    )
    out = await create_meeting(as_("clerk"), ids, chairId=gid("User", ids["deputy"]), **fields)
    assert out["errors"] == [], out
    return await meeting(as_("clerk"), out["meeting"]["id"])


# ---- updateMeeting -------------------------------------------------------------------------------


async def test_a_notice_change_bumps_the_version_and_tells_everyone_concerned(ids, as_) -> None:
    m = await a_meeting(as_, ids)
    out = await run(
        as_("clerk"),
        UPDATE,
        meetingId=m["id"],
        expectedVersion=1,
        location="省政府1号楼第三会议室",
        onlineLink="https://meet.example.gov.cn/r/123",
        agenda="一、通报安全生产形势；二、部署下一阶段工作",
        replyDeadline=local(D(2026, 6, 1), 18),
    )
    assert out["errors"] == []
    got = out["meeting"]
    assert (got["version"], got["location"], got["onlineLink"], got["replyDeadline"]) == (
        2,
        "省政府1号楼第三会议室",
        "https://meet.example.gov.cn/r/123",
        "2026-06-01T10:00:00+00:00",
    )
    changed = ["agenda", "location", "onlineLink", "replyDeadline"]
    for who in ("finance_head", "clerk_370200"):
        assert (await notes(as_(who)))[-1] == ("MEETING_CHANGED", {"changed": changed, "version": 2})
    assert await kinds(as_("clerk")) == []  # the actor is not told
    # the same values again change nothing: no version, nobody told
    again = await run(as_("clerk"), UPDATE, meetingId=m["id"], expectedVersion=2, location="省政府1号楼第三会议室")
    assert again["meeting"]["version"] == 2
    assert await kinds(as_("finance_head")) == ["MEETING_INVITED", "MEETING_CHANGED"]
    # null clears an optional field; the chair (an organiser) may edit too
    cleared = await run(as_("deputy"), UPDATE, meetingId=m["id"], expectedVersion=2, onlineLink=None, chairId=None)
    assert (cleared["meeting"]["onlineLink"], cleared["meeting"]["chair"], cleared["meeting"]["version"]) == (
        None,
        None,
        3,
    )
    assert (await notes(as_("clerk")))[-1] == ("MEETING_CHANGED", {"changed": ["onlineLink", "chairId"], "version": 3})


async def test_a_stale_version_is_refused_and_two_concurrent_edits_make_one_winner(ids, as_, settings, client) -> None:
    m = await a_meeting(as_, ids)
    assert (await run(as_("clerk"), UPDATE, meetingId=m["id"], expectedVersion=1, title="全省安全生产电视电话会议"))[
        "errors"
    ] == []
    stale = await run(as_("clerk"), UPDATE, meetingId=m["id"], expectedVersion=1, location="济南")
    assert codes(stale) == [("expectedVersion", "STALE_VERSION")]
    results = await asyncio.gather(
        run(as_("clerk"), UPDATE, meetingId=m["id"], expectedVersion=2, location="第一会议室"),
        run(as_("deputy"), UPDATE, meetingId=m["id"], expectedVersion=2, location="第二会议室"),
    )
    assert sorted(str(codes(r)) for r in results) == ["[('expectedVersion', 'STALE_VERSION')]", "[]"]
    winner = next(r for r in results if not r["errors"])["meeting"]["location"]
    after = await meeting(as_("clerk"), m["id"])
    assert (after["version"], after["location"]) == (3, winner)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"title": "  "}, [("title", "REQUIRED")]),
        ({"title": None}, [("title", "REQUIRED")]),
        ({"agenda": "议" * 4001}, [("agenda", "TOO_LONG")]),
        ({"onlineLink": "ftp://meet.example.gov.cn/1"}, [("onlineLink", "INVALID_VALUE")]),
        ({"onlineLink": "https://x.gov.cn/\r\nX-EVIL:1"}, [("onlineLink", "INVALID_VALUE")]),
        ({"replyDeadline": local(D(2026, 6, 2), 9, 30)}, [("replyDeadline", "INVALID_VALUE")]),
        ({"reportAt": "2026-06-02T08:30:00"}, [("reportAt", "INVALID_VALUE")]),
        (
            {"convenerId": None, "substitutionPolicy": None},
            [("substitutionPolicy", "REQUIRED"), ("convenerId", "REQUIRED")],
        ),
        (
            {"contactPhone": "1" * 25, "contactName": "张" * 65},
            [("contactName", "TOO_LONG"), ("contactPhone", "TOO_LONG")],
        ),
    ],
)
async def test_bad_notice_changes_are_refused_naming_the_field(ids, as_, fields, expected) -> None:
    m = await a_meeting(as_, ids)
    out = await run(as_("clerk"), UPDATE, meetingId=m["id"], expectedVersion=1, **fields)
    assert (out["meeting"], codes(out)) == (None, expected)
    assert (await meeting(as_("clerk"), m["id"]))["version"] == 1


async def test_only_organisers_change_a_notice(ids, as_) -> None:
    m = await a_meeting(as_, ids)
    invitee = await run(as_("finance_head"), UPDATE, meetingId=m["id"], expectedVersion=1, title="改")
    assert codes(invitee) == [("meetingId", "FORBIDDEN")]
    stranger = await run(as_("li_na"), UPDATE, meetingId=m["id"], expectedVersion=1, title="改")
    assert codes(stranger) == [("meetingId", "NOT_FOUND")]
    # a new convener is told, and may then decide (is an organiser)
    out = await run(as_("clerk"), UPDATE, meetingId=m["id"], expectedVersion=1, convenerId=gid("User", ids["drc_head"]))
    assert out["meeting"]["convener"]["username"] == "drc_head"
    assert (await notes(as_("drc_head")))[-1] == ("MEETING_CHANGED", {"changed": ["convenerId"], "version": 2})
    assert (await run(as_("drc_head"), UPDATE, meetingId=m["id"], expectedVersion=2, title="改期通知"))["errors"] == []


# ---- cancelMeeting -----------------------------------------------------------------------------


async def test_cancelling_a_series_cancels_its_occurrences_releases_the_room_and_tells_everyone(
    platform, ids, as_
) -> None:
    room = await add_room(platform, ids[GENERAL_OFFICE])
    m = await a_meeting(as_, ids, roomId=gid("Room", room), recurrence="FREQ=WEEKLY;COUNT=3")
    empty = await run(as_("clerk"), CANCEL, meetingId=m["id"], reason=" ")
    assert codes(empty) == [("reason", "REQUIRED")]
    assert codes(await run(as_("finance_head"), CANCEL, meetingId=m["id"], reason="x")) == [("meetingId", "FORBIDDEN")]
    out = await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="因防汛工作需要，会议取消", expectedVersion=1)
    assert out["errors"] == []
    got = out["meeting"]
    assert (got["state"], got["version"], got["cancelReason"]) == ("CANCELLED", 2, "因防汛工作需要，会议取消")
    assert [o["state"] for o in got["occurrences"]] == ["CANCELLED"] * 3
    async with platform.db.read() as s:
        statuses = (await s.execute(select(RoomBooking.status).order_by(RoomBooking.id))).scalars().all()
    assert statuses == ["released"] * 3
    for who in ("finance_head", "clerk_370200", "deputy"):
        kind, data = (await notes(as_(who)))[-1]
        assert (kind, data["reason"], data["occurrences"]) == ("MEETING_CANCELLED", "因防汛工作需要，会议取消", 3)
    # a cancelled meeting changes no more, and nobody replies to it
    again = await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="再次取消")
    assert codes(again) == [("meetingId", "MEETING_CANCELLED")]
    edit = await run(as_("clerk"), UPDATE, meetingId=m["id"], expectedVersion=2, title="改")
    assert codes(edit) == [("meetingId", "MEETING_CANCELLED")]
    reply = await run(as_("finance_head"), REPLY, invitationId=invitation(m, "finance_head")["id"], state="ACCEPTED")
    assert codes(reply) == [("invitationId", "MEETING_CANCELLED")]
    assert "会议已取消" in reply["errors"][0]["message"]
    # the room is free again
    assert (await create_meeting(as_("clerk"), ids, roomId=gid("Room", room)))["errors"] == []


async def test_a_meeting_already_held_cannot_be_cancelled(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids)
    platform.clock = lambda: dt.datetime(2026, 6, 2, 2, 30, tzinfo=dt.UTC)  # Tue 10:30, after the end
    out = await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="取消")
    assert codes(out) == [("meetingId", "INVALID_STATE")]
    stale = await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="取消", expectedVersion=7)
    assert codes(stale) == [("expectedVersion", "STALE_VERSION")]


async def booking_statuses(platform: Any) -> list[str]:
    async with platform.db.read() as s:
        return list((await s.execute(select(RoomBooking.status).order_by(RoomBooking.id))).scalars())


async def test_a_meeting_under_way_is_not_cancelled_and_keeps_its_room(platform, ids, as_) -> None:
    room = await add_room(platform, ids[GENERAL_OFFICE])
    m = await a_meeting(as_, ids, roomId=gid("Room", room))
    occ = m["occurrences"][0]["id"]
    platform.clock = lambda: dt.datetime(2026, 6, 2, 0, 55, tzinfo=dt.UTC)  # Tue 08:55
    code = await code_of(as_("clerk"), occ)
    assert (await check_in(as_("finance_head"), code["token"]))["errors"] == []
    platform.clock = lambda: dt.datetime(2026, 6, 2, 1, 5, tzinfo=dt.UTC)  # Tue 09:05, 5 minutes in
    out = await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="临时取消")
    assert codes(out) == [("meetingId", "INVALID_STATE")]
    assert "under way: cancel after it ends or cancel the later occurrences" in out["errors"][0]["message"]
    after = await meeting(as_("clerk"), m["id"])
    assert (after["state"], after["version"], [o["state"] for o in after["occurrences"]]) == (
        "SCHEDULED",
        1,
        ["SCHEDULED"],
    )
    assert await booking_statuses(platform) == ["approved"]
    assert await kinds(as_("finance_head")) == ["MEETING_INVITED"]


async def test_cancelling_a_series_with_a_held_date_cancels_only_the_dates_to_come(platform, ids, as_) -> None:
    room = await add_room(platform, ids[GENERAL_OFFICE])
    m = await a_meeting(as_, ids, roomId=gid("Room", room), recurrence="FREQ=WEEKLY;COUNT=3")
    first = m["occurrences"][0]["id"]
    platform.clock = lambda: dt.datetime(2026, 6, 2, 0, 55, tzinfo=dt.UTC)  # Tue 2 June 08:55
    code = await code_of(as_("clerk"), first)
    assert (await check_in(as_("finance_head"), code["token"]))["errors"] == []
    platform.clock = lambda: dt.datetime(2026, 6, 3, 2, 0, tzinfo=dt.UTC)  # Wed 3 June 10:00, first date held
    out = await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="工作调整，后续会议取消", expectedVersion=1)
    assert out["errors"] == []
    got = out["meeting"]
    assert (got["state"], got["version"], got["cancelReason"]) == ("SCHEDULED", 2, None)
    assert [o["state"] for o in got["occurrences"]] == ["SCHEDULED", "CANCELLED", "CANCELLED"]
    assert await booking_statuses(platform) == ["approved", "released", "released"]
    kind, data = (await notes(as_("finance_head")))[-1]
    assert (kind, data["occurrences"], data["meetingCancelled"]) == ("MEETING_CANCELLED", 2, False)
    # the held date's check-in is still in its attendance
    att = await as_("clerk").execute(
        "query($id: ID!) { meetingAttendance(occurrenceId: $id) { counts { expected present } } }", {"id": first}
    )
    assert att["data"]["meetingAttendance"]["counts"]["present"] == 1
    # nothing is left to cancel
    again = await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="再次取消")
    assert codes(again) == [("meetingId", "INVALID_STATE")]


async def test_cancelling_before_any_date_begins_cancels_the_whole_series(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids, recurrence="FREQ=WEEKLY;COUNT=2")
    out = await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="取消")
    assert (out["meeting"]["state"], out["meeting"]["cancelReason"]) == ("CANCELLED", "取消")
    assert (await notes(as_("finance_head")))[-1][1]["meetingCancelled"] is True


# ---- inviteToMeeting, withdrawInvitation ----------------------------------------------------------


async def test_invite_more_withdraw_and_invite_again(ids, as_) -> None:
    m = await a_meeting(as_, ids)
    clerk = as_("clerk")
    dup = await run(
        clerk,
        INVITE,
        meetingId=m["id"],
        invitees=[{"userId": gid("User", ids["drc_head"])}, {"userId": gid("User", ids["finance_head"])}],
    )
    assert codes(dup) == [("invitees.1.userId", "DUPLICATE")]
    assert codes(await run(clerk, INVITE, meetingId=m["id"], invitees=[])) == [("invitees", "REQUIRED")]
    out = await run(
        clerk, INVITE, meetingId=m["id"], invitees=[{"userId": gid("User", ids["drc_head"]), "role": "OBSERVER"}]
    )
    assert out["errors"] == []
    drc = invitation(out["meeting"], "drc_head")
    assert (drc["role"], drc["state"], drc["isActive"]) == ("OBSERVER", "PENDING", True)
    assert await kinds(as_("drc_head")) == ["MEETING_INVITED"]
    assert codes(await run(as_("drc_head"), WITHDRAW, invitationId=drc["id"])) == [("invitationId", "FORBIDDEN")]

    gone = await run(clerk, WITHDRAW, invitationId=drc["id"], reason="议题调整")
    assert (gone["invitation"]["isActive"], gone["errors"]) == (False, [])
    assert (await notes(as_("drc_head")))[-1] == (
        "MEETING_INVITATION_WITHDRAWN",
        {"invitationId": drc["id"], "reason": "议题调整"},
    )
    assert codes(await run(clerk, WITHDRAW, invitationId=drc["id"])) == [("invitationId", "INVALID_STATE")]
    # a withdrawn invitee no longer sees the meeting, and can be invited again
    assert await meeting(as_("drc_head"), m["id"]) is None
    back = await run(
        clerk, INVITE, meetingId=m["id"], invitees=[{"userId": gid("User", ids["drc_head"]), "role": "NON_VOTING"}]
    )
    renewed = invitation(back["meeting"], "drc_head")
    assert (renewed["id"], renewed["role"], renewed["isActive"], renewed["state"]) == (
        drc["id"],
        "NON_VOTING",
        True,
        "PENDING",
    )
    assert await kinds(as_("drc_head")) == ["MEETING_INVITED", "MEETING_INVITATION_WITHDRAWN", "MEETING_INVITED"]
    assert (await meeting(as_("drc_head"), m["id"]))["id"] == m["id"]


MY_MEETINGS = """{ myMeetings(from: "2026-06-01T00:00:00Z", to: "2026-06-08T00:00:00Z") { id } }"""
CREATE_FEED = """mutation { createCalendarFeed(input: {}) { url errors { field code } } }"""


async def test_the_withdrawn_lose_sight_of_the_meeting_its_ics_and_their_calendars(ids, as_) -> None:
    m = await a_meeting(
        as_,
        ids,
        invitees=[{"userId": gid("User", ids["finance_head"])}, {"unitId": gid("OrgUnit", ids["370100"]), "quota": 1}],
    )
    occ = m["occurrences"][0]["id"]
    jinan = invitation(m, "370100")["id"]
    head = as_("finance_head")
    feed = (await head.execute(CREATE_FEED))["data"]["createCalendarFeed"]["url"].removeprefix("http://test")
    assert (await head.http.get(feed)).content.count(b"BEGIN:VEVENT") == 1
    assert (await head.execute(MY_MEETINGS))["data"]["myMeetings"] == [{"id": occ}]

    out = await run(as_("clerk"), WITHDRAW, invitationId=invitation(m, "finance_head")["id"], reason="议题调整")
    assert out["errors"] == []
    link = await run(
        as_("clerk"), UPDATE, meetingId=m["id"], expectedVersion=1, onlineLink="https://meet.example.gov.cn/r/9"
    )
    assert link["errors"] == []
    assert await meeting(head, m["id"]) is None
    ics = await head.http.get(f"/meetings/{pk_of(m['id'])}.ics", headers={"authorization": f"Bearer {head.token}"})
    assert (ics.status_code, ics.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert (await head.execute(MY_MEETINGS))["data"]["myMeetings"] == []
    assert (await head.execute("{ myMeetingInvitations { id } }"))["data"]["myMeetingInvitations"] == []
    assert (await head.http.get(feed)).content.count(b"BEGIN:VEVENT") == 0

    # a nominee the unit replaces loses sight too; the new one and the unit's clerk see it
    clerk_jn = as_("clerk_370100")
    assert (await run(clerk_jn, NOMINATE, invitationId=jinan, userIds=[gid("User", ids["li_na"])]))["errors"] == []
    assert (await meeting(as_("li_na"), m["id"]))["onlineLink"] == "https://meet.example.gov.cn/r/9"
    assert (await run(clerk_jn, NOMINATE, invitationId=jinan, userIds=[gid("User", ids["zhou_wei"])]))["errors"] == []
    assert await meeting(as_("li_na"), m["id"]) is None
    assert (await meeting(as_("zhou_wei"), m["id"]))["id"] == m["id"]
    assert (await meeting(clerk_jn, m["id"]))["id"] == m["id"]
    # a withdrawn unit's clerk loses sight as well
    assert (await run(as_("clerk"), WITHDRAW, invitationId=jinan))["errors"] == []
    assert await meeting(clerk_jn, m["id"]) is None


async def test_invitations_stay_within_the_room(platform, ids, as_) -> None:
    room = await add_room(platform, ids[GENERAL_OFFICE], "小会议室", capacity=4)
    m = await a_meeting(as_, ids, roomId=gid("Room", room))  # finance_head + Qingdao's 2 = 3 seats
    ok = await run(as_("clerk"), INVITE, meetingId=m["id"], invitees=[{"userId": gid("User", ids["drc_head"])}])
    assert ok["errors"] == []
    full = await run(as_("clerk"), INVITE, meetingId=m["id"], invitees=[{"userId": gid("User", ids["zhang_wei"])}])
    assert codes(full) == [("invitees", "ROOM_OVER_CAPACITY")]
    assert full["errors"][0]["message"] == "参会人数 5 超过会议室容量 4"
    # nominees sit within the unit's quota: naming Qingdao's two takes no extra seat
    qingdao = invitation(m, "370200")
    named = await run(
        as_("clerk_370200"), NOMINATE, invitationId=qingdao["id"], userIds=[gid("User", ids["clerk_370200"])]
    )
    assert named["errors"] == []
    # a withdrawn invitation frees its seat
    await run(as_("clerk"), WITHDRAW, invitationId=invitation(ok["meeting"], "drc_head")["id"])
    again = await run(as_("clerk"), INVITE, meetingId=m["id"], invitees=[{"userId": gid("User", ids["zhang_wei"])}])
    assert again["errors"] == []


# ---- nominateAttendees -------------------------------------------------------------------------


async def test_a_unit_names_attendees_within_its_quota_from_its_subtree(ids, as_) -> None:
    m = await a_meeting(
        as_,
        ids,
        invitees=[
            {"userId": gid("User", ids["finance_head"])},
            {"unitId": gid("OrgUnit", ids["370100"]), "quota": 2, "role": "NON_VOTING", "required": False},
        ],
    )
    jinan = invitation(m, "370100")
    clerk_jn = as_("clerk_370100")
    pending = await clerk_jn.execute("{ myMeetingInvitations { id state unit { code } } }")
    assert pending["data"]["myMeetingInvitations"] == [
        {"id": jinan["id"], "state": "PENDING", "unit": {"code": "370100"}}
    ]

    def users(*names: str) -> list[str]:
        return [gid("User", ids[n]) for n in names]

    too_many = await run(
        clerk_jn, NOMINATE, invitationId=jinan["id"], userIds=users("li_na", "zhou_wei", "clerk_370100")
    )
    assert codes(too_many) == [("userIds", "QUOTA_EXCEEDED")]
    assert "2" in too_many["errors"][0]["message"]
    outsider = await run(clerk_jn, NOMINATE, invitationId=jinan["id"], userIds=users("zhang_wei"))
    assert codes(outsider) == [("userIds.0", "INVALID_VALUE")]
    twice = await run(clerk_jn, NOMINATE, invitationId=jinan["id"], userIds=users("li_na", "li_na"))
    assert codes(twice) == [("userIds.1", "DUPLICATE")]
    none = await run(clerk_jn, NOMINATE, invitationId=jinan["id"], userIds=[])
    assert codes(none) == [("userIds", "REQUIRED")]
    stranger = await run(as_("clerk_370200"), NOMINATE, invitationId=jinan["id"], userIds=users("li_na"))
    assert codes(stranger) == [("invitationId", "NOT_FOUND")]  # Qingdao is not invited: cannot see it
    invitee = await run(as_("finance_head"), NOMINATE, invitationId=jinan["id"], userIds=users("li_na"))
    assert codes(invitee) == [("invitationId", "FORBIDDEN")]  # sees it, does not answer for 济南市
    person = await run(clerk_jn, NOMINATE, invitationId=invitation(m, "finance_head")["id"], userIds=users("li_na"))
    assert codes(person) == [("invitationId", "INVALID_VALUE")]
    # li_na works in 历下区 (370102), below 济南市: the city may send her
    out = await run(clerk_jn, NOMINATE, invitationId=jinan["id"], userIds=users("li_na", "clerk_370100"))
    assert out["errors"] == []
    unit = out["invitation"]
    assert (unit["state"], [n["user"]["username"] for n in unit["nominees"]]) == ("ACCEPTED", ["li_na", "clerk_370100"])
    kind, data = (await notes(as_("li_na")))[-1]
    assert (kind, data["nominatedViaId"], data["role"]) == ("MEETING_INVITED", jinan["id"], "non_voting")
    li_na = invitation(await meeting(as_("clerk"), m["id"]), "li_na")
    assert (li_na["role"], li_na["nominatedVia"]["id"], li_na["state"]) == ("NON_VOTING", jinan["id"], "PENDING")
    await run(as_("li_na"), REPLY, invitationId=li_na["id"], state="ACCEPTED")

    # naming again replaces the list: clerk_370100 keeps their invitation, li_na is withdrawn and told
    again = await run(clerk_jn, NOMINATE, invitationId=jinan["id"], userIds=users("clerk_370100", "zhou_wei"))
    assert [n["user"]["username"] for n in again["invitation"]["nominees"]] == ["clerk_370100", "zhou_wei"]
    assert (await notes(as_("li_na")))[-1][0] == "MEETING_INVITATION_WITHDRAWN"
    after = await meeting(as_("clerk"), m["id"])
    assert (invitation(after, "li_na")["isActive"], invitation(after, "zhou_wei")["isActive"]) == (False, True)
    assert await as_("li_na").execute("{ myMeetingInvitations { id } }") == {"data": {"myMeetingInvitations": []}}


async def test_a_nominee_already_invited_in_person_is_a_duplicate(ids, as_) -> None:
    m = await a_meeting(
        as_,
        ids,
        invitees=[{"userId": gid("User", ids["li_na"])}, {"unitId": gid("OrgUnit", ids["370100"]), "quota": 1}],
    )
    out = await run(
        as_("clerk_370100"), NOMINATE, invitationId=invitation(m, "370100")["id"], userIds=[gid("User", ids["li_na"])]
    )
    assert codes(out) == [("userIds.0", "DUPLICATE")]


async def test_a_unit_that_will_not_attend_declines_and_its_nominees_are_withdrawn(ids, as_) -> None:
    m = await a_meeting(as_, ids)
    qingdao = invitation(m, "370200")
    clerk_qd = as_("clerk_370200")
    accept = await run(clerk_qd, REPLY, invitationId=qingdao["id"], state="ACCEPTED")
    assert codes(accept) == [("state", "INVALID_VALUE")]
    await run(clerk_qd, NOMINATE, invitationId=qingdao["id"], userIds=[gid("User", ids["clerk_370200"])])
    out = await run(clerk_qd, REPLY, invitationId=qingdao["id"], state="DECLINED", remark="同期召开市政府常务会议")
    assert (out["invitation"]["state"], out["invitation"]["nominees"], out["invitation"]["remark"]) == (
        "DECLINED",
        [],
        "同期召开市政府常务会议",
    )
    kind, data = (await notes(as_("clerk")))[-1]
    assert (kind, data["state"], data["invitationId"]) == ("MEETING_REPLY_RECEIVED", "declined", qingdao["id"])
    # the clerk may change their mind: naming people accepts again
    again = await run(clerk_qd, NOMINATE, invitationId=qingdao["id"], userIds=[gid("User", ids["clerk_370200"])])
    assert (again["invitation"]["state"], len(again["invitation"]["nominees"])) == ("ACCEPTED", 1)


async def test_my_meeting_invitations_lists_upcoming_ones_by_state(platform, ids, as_) -> None:
    first = await a_meeting(as_, ids)
    second = await a_meeting(as_, ids, startAt=local(D(2026, 6, 3), 9), endAt=local(D(2026, 6, 3), 10))
    head = as_("finance_head")
    await run(head, REPLY, invitationId=invitation(second, "finance_head")["id"], state="DECLINED")
    q = "query($s: ReplyState, $p: Boolean!) { myMeetingInvitations(state: $s, includePast: $p) { id state } }"

    async def mine(state: str | None = None, past: bool = False) -> list[tuple[str, str]]:
        res = await head.execute(q, {"s": state, "p": past})
        return [(i["id"], i["state"]) for i in res["data"]["myMeetingInvitations"]]

    one, two = invitation(first, "finance_head")["id"], invitation(second, "finance_head")["id"]
    assert await mine() == [(one, "PENDING"), (two, "DECLINED")]
    assert await mine("DECLINED") == [(two, "DECLINED")]
    platform.clock = lambda: dt.datetime(2026, 6, 2, 3, 0, tzinfo=dt.UTC)  # Tue 11:00: the first is over
    assert await mine() == [(two, "DECLINED")]
    assert await mine(past=True) == [(one, "PENDING"), (two, "DECLINED")]
    assert pk_of(one) < pk_of(two)


async def test_two_nominations_at_once_leave_one_list_within_the_quota(ids, as_) -> None:
    for _ in range(3):
        m = await a_meeting(as_, ids, invitees=[{"unitId": gid("OrgUnit", ids["370100"]), "quota": 1}])
        jinan = invitation(m, "370100")["id"]
        results = await asyncio.gather(
            run(as_("clerk_370100"), NOMINATE, invitationId=jinan, userIds=[gid("User", ids["li_na"])]),
            run(as_("clerk_370100"), NOMINATE, invitationId=jinan, userIds=[gid("User", ids["zhou_wei"])]),
        )
        assert [r["errors"] for r in results] == [[], []]
        got = await meeting(as_("clerk"), m["id"])
        active = sorted(i["user"]["username"] for i in got["invitations"] if i["user"] and i["isActive"])
        assert len(active) == 1
        assert [n["user"]["username"] for n in invitation(got, "370100")["nominees"]] == active
        assert invitation(got, "370100")["version"] == 3


async def test_withdrawing_a_unit_withdraws_its_nominees(ids, as_) -> None:
    m = await a_meeting(as_, ids)
    qingdao = invitation(m, "370200")["id"]
    await run(as_("clerk_370200"), NOMINATE, invitationId=qingdao, userIds=[gid("User", ids["clerk_370200"])])
    out = await run(as_("clerk"), WITHDRAW, invitationId=qingdao, reason="调整参会范围")
    assert (out["errors"], out["invitation"]["isActive"], out["invitation"]["nominees"]) == ([], False, [])
    after = await meeting(as_("clerk"), m["id"])
    assert [(i["unit"] or i["user"], i["isActive"]) for i in after["invitations"][1:]] == [
        ({"code": "370200"}, False),
        ({"username": "clerk_370200"}, False),
    ]
    # the clerk is told once for the unit and once as its nominee
    assert (await kinds(as_("clerk_370200")))[-2:] == ["MEETING_INVITATION_WITHDRAWN"] * 2


ATTENDANCE = "query($id: ID!) { meetingAttendance(occurrenceId: $id) { counts { expected present } } }"


async def attendance(client: GraphQLClient, occurrence: str) -> dict[str, int]:
    res = await client.execute(ATTENDANCE, {"id": occurrence})
    assert "errors" not in res, res
    return res["data"]["meetingAttendance"]["counts"]


async def test_an_ended_meeting_keeps_its_invitations(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids)
    occ = m["occurrences"][0]["id"]
    platform.clock = lambda: dt.datetime(2026, 6, 2, 2, 30, tzinfo=dt.UTC)  # Tue 10:30, after the end
    before = await attendance(as_("clerk"), occ)
    out = await run(as_("clerk"), WITHDRAW, invitationId=invitation(m, "finance_head")["id"], reason="补录")
    assert codes(out) == [("invitationId", "INVALID_STATE")]
    assert "the meeting has ended" in out["errors"][0]["message"]
    assert await attendance(as_("clerk"), occ) == before == {"expected": 1, "present": 0}
    assert invitation(await meeting(as_("clerk"), m["id"]), "finance_head")["isActive"] is True


async def test_who_has_checked_in_is_neither_withdrawn_nor_replaced(platform, ids, as_) -> None:
    m = await a_meeting(
        as_,
        ids,
        recurrence="FREQ=WEEKLY;COUNT=2",
        invitees=[{"userId": gid("User", ids["finance_head"])}, {"unitId": gid("OrgUnit", ids["370100"]), "quota": 2}],
    )
    first = m["occurrences"][0]["id"]
    jinan = invitation(m, "370100")["id"]
    clerk_jn = as_("clerk_370100")
    assert (await run(clerk_jn, NOMINATE, invitationId=jinan, userIds=[gid("User", ids["li_na"])]))["errors"] == []
    platform.clock = lambda: dt.datetime(2026, 6, 2, 0, 55, tzinfo=dt.UTC)  # Tue 2 June 08:55
    code = (await code_of(as_("clerk"), first))["token"]
    for who in ("finance_head", "li_na"):
        assert (await check_in(as_(who), code))["errors"] == []
    platform.clock = lambda: dt.datetime(2026, 6, 2, 2, 30, tzinfo=dt.UTC)  # the first date held, 9 June to come
    assert await attendance(as_("clerk"), first) == {"expected": 2, "present": 2}

    fin = await run(as_("clerk"), WITHDRAW, invitationId=invitation(m, "finance_head")["id"])
    assert codes(fin) == [("invitationId", "INVALID_STATE")]
    assert "has checked in" in fin["errors"][0]["message"]
    unit = await run(as_("clerk"), WITHDRAW, invitationId=jinan)  # its nominee li_na would go with it
    assert codes(unit) == [("invitationId", "INVALID_STATE")]
    replaced = await run(clerk_jn, NOMINATE, invitationId=jinan, userIds=[gid("User", ids["zhou_wei"])])
    assert codes(replaced) == [("userIds", "INVALID_STATE")]
    declined = await run(clerk_jn, REPLY, invitationId=jinan, state="DECLINED")
    assert codes(declined) == [("invitationId", "INVALID_STATE")]
    assert await attendance(as_("clerk"), first) == {"expected": 2, "present": 2}
    got = await meeting(as_("clerk"), m["id"])
    assert [(i["user"] or i["unit"], i["isActive"]) for i in got["invitations"]] == [
        ({"username": "finance_head"}, True),
        ({"code": "370100"}, True),
        ({"username": "li_na"}, True),
    ]
    # keeping the checked-in nominee and adding one within the quota is fine
    added = await run(
        clerk_jn, NOMINATE, invitationId=jinan, userIds=[gid("User", ids["li_na"]), gid("User", ids["zhou_wei"])]
    )
    assert added["errors"] == []
    assert [n["user"]["username"] for n in added["invitation"]["nominees"]] == ["li_na", "zhou_wei"]

"""Free/busy and find-a-time over real meetings (SQLite and PostgreSQL).

The General Office's clerk organises the meetings (so the clerk is busy in all of them as
their creator); replies are written straight into the invitation rows, as the reply
mutations would leave them. The clock is Monday 2026-06-01 10:00 Shanghai. Working hours
are the defaults, 09:00–12:00 and 13:30–17:30 Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from meetings import access
from meetings import availability as av
from meetings.models import Invitation, Meeting, MeetingOccurrence, OccurrenceReply, Room
from office_api.config import Settings
from office_api.org.permissions import Actor
from office_api.workdays import WorkCalendar
from tests.conftest import GraphQLClient, count_statements
from tests.dispatch_helpers import NOW, gid, ids_of, pk_of, signed_in
from tests.meetings_helpers import add_room, create_meeting, local

D = dt.date

FIND = """query($input: FindMeetingTimesInput!) { findMeetingTimes(input: $input) {
  suggestions { startAt endAt optionalAvailableCount optionalAvailablePercent room { name }
    tentativePeople { username } unavailableOptionalPeople { username } }
  errors { field code message } } }"""

FREE_BUSY = """query($users: [ID!]!, $rooms: [ID!], $from: DateTime!, $to: DateTime!) {
  freeBusy(userIds: $users, roomIds: $rooms, from: $from, to: $to) {
    people { user { username } intervals { startAt endAt status hidden meetings { title } } }
    rooms { room { name } intervals { startAt endAt status hidden meetings { title } } }
    errors { field code message } } }"""


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


def z(day: D, hour: int, minute: int = 0) -> str:
    """``day`` ``hour``:``minute`` Shanghai as the API writes UTC instants."""
    t = dt.datetime.fromisoformat(local(day, hour, minute)).astimezone(dt.UTC)
    return t.isoformat()


async def meeting(
    as_: Any,
    ids: dict[str, int],
    title: str,
    start: str | None,
    end: str | None,
    replies: dict[str, str],
    **fields: Any,
) -> int:
    """A meeting organised by the clerk inviting ``replies``' people; their series replies are
    then set (ACCEPTED, PENDING, DECLINED, DELEGATED, in lower case). Returns the meeting id."""
    times = {"startAt": start, "endAt": end}  # null for an all-day meeting
    out = await create_meeting(
        as_("clerk"),
        ids,
        title=title,
        invitees=[{"userId": gid("User", ids[u])} for u in replies],
        **times,
        **fields,
    )
    assert out["errors"] == [], out
    meeting_id = pk_of(out["meeting"]["id"])
    return meeting_id


async def reply(platform: Any, ids: dict[str, int], meeting_id: int, username: str, state: str) -> None:
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(
            update(Invitation)
            .where(Invitation.meeting_id == meeting_id, Invitation.user_id == ids[username])
            .values(state=state)
        )


async def invite(as_: Any, ids: dict[str, int], platform: Any, title: str, start: str, end: str, **who: str) -> int:
    """A meeting with the people of ``who`` (username=reply state)."""
    meeting_id = await meeting(as_, ids, title, start, end, who)
    for username, state in who.items():
        await reply(platform, ids, meeting_id, username, state)
    return meeting_id


def find_input(ids: dict[str, int], required: list[str], day: D, last: D | None = None, **fields: Any) -> dict:
    base: dict[str, Any] = {
        "requiredUserIds": [gid("User", ids[u]) for u in required],
        "durationMinutes": 60,
        "from": day.isoformat(),
        "to": (last or day).isoformat(),
        "granularityMinutes": 60,
        "maxResults": 50,
    }
    base.update(fields)
    return base


async def find(client: GraphQLClient, ids: dict[str, int], required: list[str], day: D, **fields: Any) -> dict:
    res = await client.execute(FIND, {"input": find_input(ids, required, day, **fields)})
    assert "errors" not in res, res
    return res["data"]["findMeetingTimes"]


def starts(found: dict) -> list[str]:
    assert found["errors"] == []
    return [s["startAt"] for s in found["suggestions"]]


# ---- find a time ----------------------------------------------------------------------------


async def test_ranking_declined_pending_optional_and_occurrence_replies(platform, ids, as_) -> None:
    day = D(2026, 6, 2)  # Tuesday
    await invite(as_, ids, platform, "A 财政厅碰头会", local(day, 9), local(day, 10), finance_head="accepted")
    await invite(as_, ids, platform, "B 已请假", local(day, 10), local(day, 11), drc_head="declined")
    await invite(as_, ids, platform, "C 未回执", local(day, 11), local(day, 12), drc_head="pending")
    await invite(as_, ids, platform, "D 可选人员有会", local(day, 13, 30), local(day, 15), zhang_wei="accepted")
    e = await invite(
        as_, ids, platform, "E 本次不参加", local(day, 16, 30), local(day, 17, 30), finance_head="accepted"
    )
    # finance_head accepted the series but declined this occurrence: the occurrence reply wins.
    async with platform.db.unit_of_work() as uow:
        s = uow.session
        occ = (await s.execute(select(MeetingOccurrence.id).where(MeetingOccurrence.meeting_id == e))).scalar_one()
        inv = (
            await s.execute(
                select(Invitation.id).where(Invitation.meeting_id == e, Invitation.user_id == ids["finance_head"])
            )
        ).scalar_one()
        s.add(OccurrenceReply(invitation_id=inv, occurrence_id=occ, state="declined"))

    optional = [gid("User", ids["zhang_wei"]), gid("User", ids["wang_wei"])]
    found = await find(as_("li_na"), ids, ["finance_head", "drc_head"], day, optionalUserIds=optional)
    assert [
        (
            s["startAt"],
            s["optionalAvailableCount"],
            s["optionalAvailablePercent"],
            [p["username"] for p in s["tentativePeople"]],
            [p["username"] for p in s["unavailableOptionalPeople"]],
            s["room"],
        )
        for s in found["suggestions"]
    ] == [
        # 09:00 is gone (finance_head accepted A); B was declined, E declined for this occurrence.
        (z(day, 10), 2, 100.0, [], [], None),
        (z(day, 15, 30), 2, 100.0, [], [], None),
        (z(day, 16, 30), 2, 100.0, [], [], None),
        (z(day, 13, 30), 1, 50.0, [], ["zhang_wei"], None),
        (z(day, 14, 30), 1, 50.0, [], ["zhang_wei"], None),
        # C is unanswered: the slot is possible but tentative, so it ranks last.
        (z(day, 11), 2, 100.0, ["drc_head"], [], None),
    ]
    assert found["suggestions"][0]["endAt"] == z(day, 11)
    # All required plus every optional one: the slots where zhang_wei is busy drop out.
    strict = await find(
        as_("li_na"), ids, ["finance_head", "drc_head"], day, optionalUserIds=optional, minOptionalPercent=100
    )
    assert starts(strict) == [z(day, 10), z(day, 15, 30), z(day, 16, 30), z(day, 11)]
    # 51 %: one of two optional people is 50 %, not enough; maxResults cuts the list.
    assert starts(
        await find(
            as_("li_na"),
            ids,
            ["finance_head", "drc_head"],
            day,
            optionalUserIds=optional,
            minOptionalPercent=51,
            maxResults=2,
        )
    ) == [z(day, 10), z(day, 15, 30)]


async def test_holidays_are_skipped_and_make_up_working_days_included(platform, ids, as_) -> None:
    # 2026 (DOMAIN §4.2): Mid-Autumn Fri 09-25 – Sun 09-27 and National Day Thu 10-01 – Wed 10-07 are
    # off; Sun 09-20 and Sat 10-10 are make-up working days. A 3.5-hour meeting fits only the
    # afternoon (13:30–17:30), so each working day offers one slot at 13:30 with 60-minute steps.
    await meeting(as_, ids, "全天培训", None, None, {"finance_head": "x"}, allDayFrom="2026-09-22")
    await reply_all(platform, ids, "finance_head", "accepted")
    found = await find(as_("drc_head"), ids, ["finance_head"], D(2026, 9, 19), to="2026-10-11", durationMinutes=210)
    days = [D(2026, 9, d) for d in (20, 21, 23, 24, 28, 29, 30)] + [D(2026, 10, d) for d in (8, 9, 10)]
    assert starts(found) == [z(d, 13, 30) for d in days]  # 09-22 is blocked by the all-day meeting
    assert [s["endAt"] for s in found["suggestions"]][:1] == [z(D(2026, 9, 20), 17)]


async def reply_all(platform: Any, ids: dict[str, int], username: str, state: str) -> None:
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(Invitation).where(Invitation.user_id == ids[username]).values(state=state))


async def test_lunch_is_excluded_and_a_meeting_over_midnight_blocks_both_days(platform, ids, as_) -> None:
    d1, d2 = D(2026, 6, 3), D(2026, 6, 4)
    await invite(as_, ids, platform, "通宵值守", local(d1, 16, 30), local(d2, 10), finance_head="accepted")
    found = await find(
        as_("li_na"), ids, ["finance_head"], d1, to=d2.isoformat(), durationMinutes=30, granularityMinutes=30
    )
    morning = [(9, 0), (9, 30), (10, 0), (10, 30), (11, 0), (11, 30)]
    afternoon = [(13, 30), (14, 0), (14, 30), (15, 0), (15, 30), (16, 0), (16, 30), (17, 0)]
    want = [z(d1, h, m) for h, m in morning + afternoon[:6]] + [z(d2, h, m) for h, m in morning[2:] + afternoon]
    assert starts(found) == want
    # A meeting longer than the afternoon may fill the working day across lunch.
    whole = await find(as_("li_na"), ids, ["drc_head"], D(2026, 6, 5), durationMinutes=480, granularityMinutes=30)
    assert [(s["startAt"], s["endAt"]) for s in whole["suggestions"]] == [
        (z(D(2026, 6, 5), 9), z(D(2026, 6, 5), 17)),
        (z(D(2026, 6, 5), 9, 30), z(D(2026, 6, 5), 17, 30)),
    ]


async def test_past_slots_cancelled_occurrences_and_organisers(platform, ids, as_) -> None:
    today, day = D(2026, 6, 1), D(2026, 6, 2)
    # The clock is 10:00 today: earlier slots are not offered.
    assert starts(await find(as_("li_na"), ids, ["drc_head"], today))[:2] == [z(today, 10), z(today, 11)]
    # The clerk organises without being invited: busy. A cancelled occurrence blocks nobody.
    await meeting(as_, ids, "办公会", local(day, 9), local(day, 10), {"drc_head": "x"})
    gone = await invite(as_, ids, platform, "取消的会", local(day, 10), local(day, 11), drc_head="accepted")
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(
            update(MeetingOccurrence).where(MeetingOccurrence.meeting_id == gone).values(state="cancelled")
        )
    assert starts(await find(as_("li_na"), ids, ["clerk"], day))[:2] == [z(day, 10), z(day, 11)]
    # drc_head's own invitation to 办公会 is still PENDING: tentative at 09:00, ranked last.
    found = await find(as_("li_na"), ids, ["drc_head"], day)
    assert starts(found)[0] == z(day, 10)
    assert (found["suggestions"][-1]["startAt"], found["suggestions"][-1]["tentativePeople"]) == (
        z(day, 9),
        [{"username": "drc_head"}],
    )


async def test_rooms_capacity_and_the_smallest_free_room(platform, ids, as_) -> None:
    day = D(2026, 6, 2)
    office = ids["370000-general_office"]
    small = await add_room(platform, office, "小会议室", capacity=2)
    mid = await add_room(platform, office, "第二会议室", capacity=10)
    big = await add_room(platform, office, "大会议室", capacity=40)
    booked = await create_meeting(
        as_("clerk"), ids, title="占用", roomId=gid("Room", mid), startAt=local(day, 9), endAt=local(day, 10)
    )
    assert booked["errors"] == []
    people = ["finance_head", "drc_head", "zhang_wei"]
    rooms = [gid("Room", r) for r in (big, small, mid)]
    found = await find(as_("li_na"), ids, people, day, roomIds=rooms, maxResults=3)
    assert [(s["startAt"], s["room"]["name"]) for s in found["suggestions"]] == [
        (z(day, 9), "大会议室"),  # the 10-seat room is booked at 09:00; the 2-seat one is too small
        (z(day, 10), "第二会议室"),
        (z(day, 11), "第二会议室"),
    ]
    # Every room booked at 09:00: no 09:00 slot.
    await create_meeting(
        as_("clerk"), ids, title="占用2", roomId=gid("Room", big), startAt=local(day, 9), endAt=local(day, 9, 30)
    )
    found = await find(as_("li_na"), ids, people, day, roomIds=rooms, maxResults=1)
    assert starts(found) == [z(day, 10)]
    too_small = await find(as_("li_na"), ids, people, day, roomIds=[gid("Room", small)])
    assert [(e["field"], e["code"]) for e in too_small["errors"]] == [("roomIds", "ROOM_OVER_CAPACITY")]
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(Room).where(Room.id == small).values(is_active=False))
    retired = await find(as_("li_na"), ids, people, day, roomIds=[gid("Room", big), gid("Room", small)])
    assert [(e["field"], e["code"]) for e in retired["errors"]] == [("roomIds.1", "INACTIVE")]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"durationMinutes": 10}, [("durationMinutes", "INVALID_VALUE")]),
        ({"durationMinutes": 481}, [("durationMinutes", "INVALID_VALUE")]),
        ({"to": "2026-06-01"}, [("to", "INVALID_VALUE")]),
        ({"to": "2026-07-03"}, [("to", "INVALID_VALUE")]),  # 32 days counting both ends
        (
            {"granularityMinutes": 20, "maxResults": 0},
            [("granularityMinutes", "INVALID_VALUE"), ("maxResults", "INVALID_VALUE")],
        ),
        ({"minOptionalPercent": 101}, [("minOptionalPercent", "INVALID_VALUE")]),
        ({"from": "9999-12-01", "to": "9999-12-31"}, [("from", "INVALID_VALUE"), ("to", "INVALID_VALUE")]),
        (
            {"optionalUserIds": [gid("User", n) for n in range(1, 61)], "roomIds": [gid("Room", 1)] * 41},
            [("optionalUserIds", "TOO_MANY")],
        ),
        ({"requiredUserIds": []}, [("requiredUserIds", "REQUIRED")]),
        ({"requiredUserIds": [gid("User", 999999)]}, [("requiredUserIds.0", "NOT_FOUND")]),
        ({"optionalUserIds": [gid("Room", 1)]}, [("optionalUserIds.0", "INVALID_VALUE")]),
        ({"roomIds": [gid("Room", 999999)]}, [("roomIds.0", "NOT_FOUND")]),
        ({"requiredUserIds": [gid("User", n) for n in range(1, 102)]}, [("requiredUserIds", "TOO_MANY")]),
    ],
)
async def test_bad_requests_get_typed_errors_naming_fields(ids, as_, fields, expected) -> None:
    res = await as_("li_na").execute(FIND, {"input": find_input(ids, ["finance_head"], D(2026, 6, 2), **fields)})
    out = res["data"]["findMeetingTimes"]
    assert out["suggestions"] == []
    assert [(e["field"], e["code"]) for e in out["errors"]] == expected


async def test_unknown_and_repeated_people_are_named_by_position(ids, as_) -> None:
    fields = {
        "optionalUserIds": [gid("User", ids["zhang_wei"]), gid("User", 999999), gid("User", ids["finance_head"])],
    }
    res = await as_("li_na").execute(FIND, {"input": find_input(ids, ["finance_head"], D(2026, 6, 2), **fields)})
    assert [(e["field"], e["code"]) for e in res["data"]["findMeetingTimes"]["errors"]] == [
        ("optionalUserIds.2", "DUPLICATE"),
        ("optionalUserIds.1", "NOT_FOUND"),
    ]
    english = await signed_as_english(as_("li_na")).execute(
        FIND, {"input": find_input(ids, ["finance_head"], D(2026, 6, 2), durationMinutes=5)}
    )
    assert english["data"]["findMeetingTimes"]["errors"][0]["message"] == "Invalid value: 15 to 480 minutes"


async def test_a_malformed_global_id_is_refused_before_the_resolver(ids, as_) -> None:
    variables = {"input": find_input(ids, ["finance_head"], D(2026, 6, 2), requiredUserIds=["not-an-id"])}
    res = await as_("li_na").execute(FIND, variables)
    assert res["data"] is None
    assert res["errors"][0]["extensions"]["code"] == "INVALID_VALUE"


def signed_as_english(client: GraphQLClient) -> GraphQLClient:
    return GraphQLClient(client.http, client.token, "en")


async def test_anonymous_callers_are_refused(client, ids) -> None:
    res = await client.execute(FIND, {"input": find_input(ids, ["finance_head"], D(2026, 6, 2))})
    assert res["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_statements_do_not_grow_with_attendees_days_or_slots(platform, ids, as_) -> None:
    day = D(2026, 6, 2)
    for h in (9, 10, 11):
        await invite(as_, ids, platform, f"会{h}", local(day, h), local(day, h + 1), finance_head="accepted")
    room = await add_room(platform, ids["370000-general_office"], capacity=40)
    cal = WorkCalendar()
    hours = av.WorkingHours()
    small = av.FindTimeRequest([ids["finance_head"]], 60, day, day)
    people = [ids[u] for u in ("drc_head", "zhang_wei", "wang_wei", "li_na", "zhou_wei", "deputy")]
    large = av.FindTimeRequest(
        [ids["finance_head"], ids["clerk"]], 30, day, D(2026, 6, 30), optional_user_ids=people, room_ids=[room]
    )
    counts = []
    for req in (small, large):
        async with platform.db.read() as s:
            with count_statements(platform) as statements:
                found = await av.find_meeting_times(s, cal, hours, req, NOW)
        assert found
        counts.append(len([x for x in statements if x.lstrip().upper().startswith("SELECT")]))
    # people, busy intervals; the larger request also reads its rooms
    assert counts == [2, 3]
    # Through the API: as many statements for 3 people over a day as for 8 over a month in 15-minute steps.
    only_starts = """query($input: FindMeetingTimesInput!) {
      findMeetingTimes(input: $input) { suggestions { startAt } errors { code } } }"""
    api = []
    for fields in (
        {"optionalUserIds": [gid("User", people[0])]},
        {"optionalUserIds": [gid("User", p) for p in people], "to": "2026-06-30", "granularityMinutes": 15},
    ):
        variables = {"input": find_input(ids, ["finance_head", "clerk"], day, roomIds=[gid("Room", room)], **fields)}
        with count_statements(platform) as statements:
            res = await as_("li_na").execute(only_starts, variables)
        assert res["data"]["findMeetingTimes"]["suggestions"]
        api.append(len(statements))
    assert api[0] == api[1]


# ---- free/busy ------------------------------------------------------------------------------


async def test_free_busy_merges_intervals_and_hides_titles_of_meetings_you_may_not_see(platform, ids, as_) -> None:
    day = D(2026, 6, 2)
    await invite(as_, ids, platform, "预算审查会", local(day, 9), local(day, 10), finance_head="accepted")
    await invite(as_, ids, platform, "征求意见会", local(day, 9, 30), local(day, 11), finance_head="pending")
    await invite(as_, ids, platform, "专题会一", local(day, 14), local(day, 15), finance_head="accepted")
    await invite(as_, ids, platform, "专题会二", local(day, 15), local(day, 16), finance_head="accepted")
    await invite(as_, ids, platform, "不参加", local(day, 16), local(day, 17), finance_head="declined")
    variables = {"users": [gid("User", ids["finance_head"])], "from": z(day, 0), "to": z(D(2026, 6, 3), 0)}
    mine = (await as_("finance_head").execute(FREE_BUSY, variables))["data"]["freeBusy"]
    assert mine["errors"] == []
    assert [
        (i["startAt"], i["endAt"], i["status"], [m["title"] for m in i["meetings"]], i["hidden"])
        for i in mine["people"][0]["intervals"]
    ] == [
        (z(day, 9), z(day, 10), "BUSY", ["预算审查会", "征求意见会"], False),
        (z(day, 10), z(day, 11), "TENTATIVE", ["征求意见会"], False),
        (z(day, 14), z(day, 16), "BUSY", ["专题会一", "专题会二"], False),
    ]
    # li_na is not invited: the same intervals, no titles.
    theirs = (await as_("li_na").execute(FREE_BUSY, variables))["data"]["freeBusy"]
    assert [
        (i["startAt"], i["endAt"], i["status"], i["meetings"], i["hidden"]) for i in theirs["people"][0]["intervals"]
    ] == [
        (z(day, 9), z(day, 10), "BUSY", [], True),
        (z(day, 10), z(day, 11), "TENTATIVE", [], True),
        (z(day, 14), z(day, 16), "BUSY", [], True),
    ]
    # Intervals are clipped to the window.
    clipped = (await as_("li_na").execute(FREE_BUSY, {**variables, "from": z(day, 9, 30), "to": z(day, 14, 30)}))[
        "data"
    ]["freeBusy"]
    assert [(i["startAt"], i["endAt"]) for i in clipped["people"][0]["intervals"]] == [
        (z(day, 9, 30), z(day, 10)),
        (z(day, 10), z(day, 11)),
        (z(day, 14), z(day, 14, 30)),
    ]


async def test_free_busy_of_rooms_substitutes_and_organisers(platform, ids, as_) -> None:
    day = D(2026, 6, 2)
    room = await add_room(platform, ids["370000-general_office"], "第一会议室", requires_approval=True)
    # li_na books it; the room needs approval she cannot give: PENDING, yet it holds the room.
    pending = await create_meeting(
        as_("li_na"),
        ids,
        title="区里的会",
        organizerUnitId=gid("OrgUnit", ids["370102"]),
        roomId=gid("Room", room),
        startAt=local(day, 14),
        endAt=local(day, 15),
    )
    assert pending["errors"] == []
    m = await invite(as_, ids, platform, "代参会", local(day, 9), local(day, 10), finance_head="delegated")
    async with platform.db.unit_of_work() as uow:
        s = uow.session
        original = (
            await s.execute(
                select(Invitation).where(Invitation.meeting_id == m, Invitation.user_id == ids["finance_head"])
            )
        ).scalar_one()
        s.add(Invitation(meeting_id=m, user_id=ids["zhang_wei"], on_behalf_of_id=original.id, state="accepted"))
    variables = {
        "users": [gid("User", ids[u]) for u in ("finance_head", "zhang_wei", "clerk")],
        "rooms": [gid("Room", room)],
        "from": z(day, 0),
        "to": z(D(2026, 6, 3), 0),
    }
    out = (await as_("clerk").execute(FREE_BUSY, variables))["data"]["freeBusy"]
    assert out["errors"] == []
    summary = {
        p["user"]["username"]: [
            (i["startAt"], i["status"], [x["title"] for x in i["meetings"]]) for i in p["intervals"]
        ]
        for p in out["people"]
    }
    assert summary == {
        "finance_head": [],  # delegated to zhang_wei
        "zhang_wei": [(z(day, 9), "BUSY", ["代参会"])],
        "clerk": [(z(day, 9), "BUSY", ["代参会"])],  # the organiser, not invited
    }
    # The clerk answers for the General Office, which owns the room, but not for 370102: no title.
    assert [(i["startAt"], i["endAt"], i["status"], i["hidden"]) for i in out["rooms"][0]["intervals"]] == [
        (z(day, 14), z(day, 15), "BUSY", True)
    ]
    assert out["rooms"][0]["room"]["name"] == "第一会议室"


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"to": "2026-06-01T00:00:00Z"}, [("to", "INVALID_VALUE")]),
        ({"to": "2026-07-03T00:00:01Z"}, [("to", "INVALID_VALUE")]),
        ({"from": "2026-06-02T00:00:00"}, [("from", "INVALID_VALUE")]),
        (
            {"users": [gid("User", 999999)], "rooms": [gid("Room", 999999)]},
            [("userIds.0", "NOT_FOUND"), ("roomIds.0", "NOT_FOUND")],
        ),
        ({"users": [gid("User", n) for n in range(1, 102)]}, [("userIds", "TOO_MANY")]),
    ],
)
async def test_free_busy_bad_requests(ids, as_, variables, expected) -> None:
    base = {"users": [gid("User", ids["finance_head"])], "from": "2026-06-02T00:00:00Z", "to": "2026-06-03T00:00:00Z"}
    out = (await as_("li_na").execute(FREE_BUSY, {**base, **variables}))["data"]["freeBusy"]
    assert (out["people"], out["rooms"]) == ([], [])
    assert [(e["field"], e["code"]) for e in out["errors"]] == expected


async def test_batch_visibility_agrees_with_can_see(platform, ids, as_) -> None:
    day = D(2026, 6, 2)
    own = await invite(as_, ids, platform, "财政厅会", local(day, 9), local(day, 10), finance_head="accepted")
    units = await create_meeting(
        as_("clerk"),
        ids,
        title="各市参加",
        invitees=[{"unitId": gid("OrgUnit", ids["370200"]), "quota": 1}],
        startAt=local(day, 10),
        endAt=local(day, 11),
    )
    district = await create_meeting(
        as_("li_na"),
        ids,
        title="区里的会",
        organizerUnitId=gid("OrgUnit", ids["370102"]),
        chairId=gid("User", ids["zhou_wei"]),
        startAt=local(day, 14),
        endAt=local(day, 15),
    )
    meeting_ids = [own, pk_of(units["meeting"]["id"]), pk_of(district["meeting"]["id"])]
    seen = {}
    async with platform.db.read() as s:
        meetings = [await s.get(Meeting, m) for m in meeting_ids]
        for username in ("clerk", "finance_head", "clerk_370200", "li_na", "zhou_wei", "drc_head", "secretary_general"):
            actor = Actor(user_id=ids[username], username=username, display_name=username)
            batch = set(await av.visible_meetings(s, actor, meeting_ids))
            one_by_one = {m.id for m in meetings if m is not None and await access.can_see(s, actor, m)}
            assert batch == one_by_one, username
            seen[username] = sorted(meeting_ids.index(m) for m in batch)
    assert seen == {
        "clerk": [0, 1],  # creator of both
        "finance_head": [0],  # invited
        "clerk_370200": [1],  # answers for the invited city
        "li_na": [2],  # creator
        "zhou_wei": [2],  # chair
        "drc_head": [],
        "secretary_general": [],  # the General Office has a clerk, who answers for it
    }


def readme_operation(name: str) -> str:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"query {name}(")
    return readme[start : readme.index("\n}\n", start) + 3]


async def test_the_readme_examples_as_printed(platform, ids, as_) -> None:
    monday = D(2026, 6, 8)
    room = await add_room(platform, ids["370000-general_office"], capacity=60)  # the demo's 第一会议室
    await invite(as_, ids, platform, "预算碰头会", local(monday, 9), local(monday, 10, 30), finance_head="accepted")
    await invite(as_, ids, platform, "调研座谈", local(monday, 10, 30), local(monday, 12), zhang_wei="accepted")
    await invite(as_, ids, platform, "征求意见会", local(monday, 13, 30), local(monday, 15), wang_wei="pending")
    variables = {
        "required": [gid("User", ids["finance_head"]), gid("User", ids["drc_head"])],
        "optional": [gid("User", ids["zhang_wei"]), gid("User", ids["wang_wei"])],
        "rooms": [gid("Room", room)],
    }
    res = await as_("li_na").execute(readme_operation("FindTime"), variables)
    out = res["data"]["findMeetingTimes"]
    assert out["errors"] == []
    assert out["suggestions"][0] == {
        "startAt": "2026-06-08T07:00:00+00:00",
        "endAt": "2026-06-08T08:00:00+00:00",
        "room": {"name": "第一会议室", "capacity": 60},
        "optionalAvailableCount": 2,
        "optionalAvailablePercent": 100.0,
        "tentativePeople": [],
        "unavailableOptionalPeople": [],
    }
    assert starts(out) == [
        "2026-06-08T07:00:00+00:00",
        "2026-06-08T07:30:00+00:00",
        "2026-06-08T08:00:00+00:00",
        "2026-06-08T08:30:00+00:00",
        "2026-06-09T01:00:00+00:00",
    ]
    schedules = await as_("li_na").execute(
        readme_operation("Schedules"),
        {"people": variables["required"] + variables["optional"], "rooms": variables["rooms"]},
    )
    fb = schedules["data"]["freeBusy"]
    assert fb["errors"] == []
    assert [[(i["startAt"], i["status"], i["hidden"]) for i in p["intervals"]] for p in fb["people"]] == [
        [(z(monday, 9), "BUSY", True)],
        [],
        [(z(monday, 10, 30), "BUSY", True)],
        [(z(monday, 13, 30), "TENTATIVE", True)],
    ]
    assert fb["rooms"] == [{"room": {"name": "第一会议室"}, "intervals": []}]

"""Creating meetings: the notice, occurrences, room booking, invitations (SQLite and PostgreSQL).

The General Office's clerk (clerk) organises; the clock is Monday 2026-06-01 10:00 Shanghai.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from office_api.config import Settings
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import NOW, gid, ids_of, signed_in
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


async def test_a_meeting_books_its_room_and_invites_people_and_units(platform, ids, as_) -> None:
    room = await add_room(platform, ids[GENERAL_OFFICE])
    clerk = as_("clerk")
    out = await create_meeting(
        clerk,
        ids,
        roomId=gid("Room", room),
        invitees=[
            {"userId": gid("User", ids["finance_head"]), "role": "PARTICIPANT"},
            {"userId": gid("User", ids["drc_head"]), "role": "NON_VOTING", "required": False},
            {"unitId": gid("OrgUnit", ids["370200"]), "quota": 2, "requiredRank": "分管负责同志"},
        ],
    )
    assert out["errors"] == []
    m = out["meeting"]
    assert (m["state"], m["organizerUnit"]["code"], m["convener"]["username"]) == ("SCHEDULED", GENERAL_OFFICE, "clerk")
    assert [(o["startAt"], o["endAt"], o["room"]["name"]) for o in m["occurrences"]] == [
        ("2026-06-02T01:00:00+00:00", "2026-06-02T02:00:00+00:00", "第一会议室")
    ]
    assert [(i["role"], i["required"], i["quota"], i["state"]) for i in m["invitations"]] == [
        ("PARTICIPANT", True, None, "PENDING"),
        ("NON_VOTING", False, None, "PENDING"),
        ("PARTICIPANT", True, 2, "PENDING"),
    ]
    notes = "{ notifications(first: 5) { edges { node { kind title subjectType } } } }"
    head = (await as_("finance_head").execute(notes))["data"]["notifications"]["edges"]
    assert [e["node"]["kind"] for e in head] == ["MEETING_INVITED"]
    qingdao = (await as_("clerk_370200").execute(notes))["data"]["notifications"]["edges"]
    assert [e["node"]["kind"] for e in qingdao] == ["MEETING_NOMINATION_REQUESTED"]
    # the invitee sees it; someone unrelated does not
    one = "query($id: ID!) { meeting(id: $id) { title } }"
    assert (await as_("finance_head").execute(one, {"id": m["id"]}))["data"]["meeting"] == {
        "title": "全省安全生产工作会议"
    }
    assert (await as_("li_na").execute(one, {"id": m["id"]}))["data"]["meeting"] is None


async def test_back_to_back_meetings_share_a_room_but_overlaps_are_refused(platform, ids, as_) -> None:
    room = gid("Room", await add_room(platform, ids[GENERAL_OFFICE]))
    clerk = as_("clerk")
    day = D(2026, 6, 2)
    assert (await create_meeting(clerk, ids, roomId=room))["errors"] == []
    after = await create_meeting(clerk, ids, roomId=room, startAt=local(day, 10), endAt=local(day, 11))
    assert after["errors"] == []
    clash = await create_meeting(clerk, ids, roomId=room, startAt=local(day, 9, 30), endAt=local(day, 10, 30))
    assert clash["meeting"] is None
    assert [(e["field"], e["code"]) for e in clash["errors"]] == [("roomId", "ROOM_TAKEN")]
    assert "2026-06-02 09:30" in clash["errors"][0]["message"]


async def test_a_weekly_series_colliding_on_its_fifth_occurrence_is_refused_whole(platform, ids, as_) -> None:
    room = gid("Room", await add_room(platform, ids[GENERAL_OFFICE]))
    clerk = as_("clerk")
    # Tue 2026-06-30 09:00 is the 5th Tuesday from 06-02.
    blocker = await create_meeting(
        clerk, ids, roomId=room, startAt=local(D(2026, 6, 30), 9, 30), endAt=local(D(2026, 6, 30), 11)
    )
    assert blocker["errors"] == []
    series = await create_meeting(clerk, ids, roomId=room, recurrence="FREQ=WEEKLY;COUNT=8")
    assert series["meeting"] is None
    assert [e["code"] for e in series["errors"]] == ["ROOM_TAKEN"]
    assert "occurrence 5, 2026-06-30 09:00" in series["errors"][0]["message"]
    mine = """query { myMeetings(from: "2026-06-01T00:00:00Z", to: "2026-08-01T00:00:00Z") { startAt } }"""
    assert [o["startAt"] for o in (await clerk.execute(mine))["data"]["myMeetings"]] == ["2026-06-30T01:30:00+00:00"]
    ok = await create_meeting(clerk, ids, roomId=room, recurrence="FREQ=WEEKLY;COUNT=4")
    assert [o["startAt"][:10] for o in ok["meeting"]["occurrences"]] == [
        "2026-06-02",
        "2026-06-09",
        "2026-06-16",
        "2026-06-23",
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"endAt": local(D(2026, 6, 2), 8)}, [("endAt", "INVALID_VALUE")]),
        ({"endAt": local(D(2026, 6, 2), 9)}, [("endAt", "INVALID_VALUE")]),
        ({"startAt": "2026-06-02T09:00:00"}, [("startAt", "INVALID_VALUE")]),
        ({"recurrence": "FREQ=WEEKLY"}, [("recurrence", "RECURRENCE_UNBOUNDED")]),
        ({"recurrence": "FREQ=WEEKLY;COUNT=two"}, [("recurrence", "RECURRENCE_INVALID")]),
        ({"recurrence": "FREQ=MINUTELY;COUNT=2"}, [("recurrence", "RECURRENCE_INVALID")]),
        ({"recurrence": "FREQ=DAILY;COUNT=501"}, [("recurrence", "TOO_MANY")]),
        ({"title": "  ", "timeZone": "Mars/Olympus"}, [("title", "REQUIRED"), ("timeZone", "INVALID_VALUE")]),
        ({"replyDeadline": local(D(2026, 6, 2), 9, 30)}, [("replyDeadline", "INVALID_VALUE")]),
        ({"onlineLink": "javascript:alert(1)"}, [("onlineLink", "INVALID_VALUE")]),
        ({"onlineLink": "https://x.gov.cn/\r\nX-EVIL:1"}, [("onlineLink", "INVALID_VALUE")]),
        ({"onlineLink": "https://x.gov.cn/a b"}, [("onlineLink", "INVALID_VALUE")]),
        ({"onlineLink": "https://x.gov.cn/\ta"}, [("onlineLink", "INVALID_VALUE")]),
        ({"onlineLink": "https://x.gov.cn/\u200ba"}, [("onlineLink", "INVALID_VALUE")]),
        ({"onlineLink": "http://[::1"}, [("onlineLink", "INVALID_VALUE")]),
        # the start: at most 60 minutes before now (Mon 10:00), at most 10 years after it
        ({"startAt": local(D(2026, 6, 1), 8, 59)}, [("startAt", "INVALID_VALUE")]),
        ({"startAt": local(D(2026, 5, 20), 9), "endAt": local(D(2026, 5, 20), 10)}, [("startAt", "INVALID_VALUE")]),
        ({"startAt": local(D(2036, 6, 1), 10, 1), "endAt": local(D(2036, 6, 1), 11)}, [("startAt", "INVALID_VALUE")]),
        (
            {"startAt": "9999-12-31T09:00:00+08:00", "endAt": "9999-12-31T10:00:00+08:00"},
            [("startAt", "INVALID_VALUE")],
        ),
        ({"startAt": "0001-01-01T00:00:00+08:00"}, [("startAt", "INVALID_VALUE")]),
        ({"startAt": None, "endAt": None, "allDayFrom": "9999-12-31"}, [("allDayFrom", "INVALID_VALUE")]),
        ({"startAt": None, "endAt": None, "allDayFrom": "0001-01-01"}, [("allDayFrom", "INVALID_VALUE")]),
        ({"startAt": None, "endAt": None, "allDayFrom": "2026-05-31"}, [("allDayFrom", "INVALID_VALUE")]),
        ({"startAt": None, "endAt": None, "allDayFrom": "2036-06-02"}, [("allDayFrom", "INVALID_VALUE")]),
        (
            {"startAt": None, "endAt": None, "allDayFrom": "2026-06-02", "allDayTo": "9999-12-31"},
            [("allDayTo", "INVALID_VALUE")],
        ),
        # at least a minute long
        ({"endAt": "2026-06-02T09:00:00.000001+08:00"}, [("endAt", "INVALID_VALUE")]),
        ({"endAt": "2026-06-02T09:00:59+08:00"}, [("endAt", "INVALID_VALUE")]),
        ({"timeZone": "localtime"}, [("timeZone", "INVALID_VALUE")]),
        ({"timeZone": "Factory"}, [("timeZone", "INVALID_VALUE")]),
        ({"recurrence": "FREQ=DAILY;INTERVAL=0;COUNT=3"}, [("recurrence", "RECURRENCE_INVALID")]),
        ({"recurrence": "FREQ=DAILY;COUNT=3;COUNT=400"}, [("recurrence", "RECURRENCE_INVALID")]),
        ({"recurrence": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0,30;COUNT=4"}, [("recurrence", "RECURRENCE_INVALID")]),
    ],
)
async def test_bad_meeting_input_is_refused_naming_the_field(ids, as_, fields, expected) -> None:
    out = await create_meeting(as_("clerk"), ids, **fields)
    assert out["meeting"] is None
    assert [(e["field"], e["code"]) for e in out["errors"]] == expected


async def test_a_room_over_capacity_and_an_organiser_without_a_post_are_refused(platform, ids, as_) -> None:
    room = gid("Room", await add_room(platform, ids[GENERAL_OFFICE], "小会议室", capacity=2))
    people = [{"userId": gid("User", ids[u])} for u in ("finance_head", "drc_head", "deputy")]
    out = await create_meeting(as_("clerk"), ids, roomId=room, invitees=people)
    assert [(e["field"], e["code"]) for e in out["errors"]] == [("roomId", "ROOM_OVER_CAPACITY")]
    assert "3" in out["errors"][0]["message"]
    stranger = await create_meeting(as_("li_na"), ids)
    assert [(e["field"], e["code"]) for e in stranger["errors"]] == [("organizerUnitId", "FORBIDDEN")]


async def test_all_day_and_overnight_meetings(ids, as_) -> None:
    clerk = as_("clerk")
    allday = await create_meeting(clerk, ids, startAt=None, endAt=None, allDayFrom="2026-06-03", allDayTo="2026-06-04")
    assert allday["errors"] == []
    assert (allday["meeting"]["allDay"], allday["meeting"]["startAt"], allday["meeting"]["endAt"]) == (
        True,
        "2026-06-02T16:00:00+00:00",
        "2026-06-04T16:00:00+00:00",
    )
    night = await create_meeting(
        clerk, ids, startAt=local(D(2026, 6, 2), 22), endAt=local(D(2026, 6, 3), 2), recurrence="FREQ=DAILY;COUNT=2"
    )
    assert [(o["startAt"], o["endAt"]) for o in night["meeting"]["occurrences"]] == [
        ("2026-06-02T14:00:00+00:00", "2026-06-02T18:00:00+00:00"),
        ("2026-06-03T14:00:00+00:00", "2026-06-03T18:00:00+00:00"),
    ]


async def test_the_organising_unit_is_no_co_organiser(ids, as_) -> None:
    drc, office = gid("OrgUnit", ids["370000-drc"]), gid("OrgUnit", ids[GENERAL_OFFICE])
    out = await create_meeting(as_("clerk"), ids, coOrganizerUnitIds=[drc, office])
    assert (out["meeting"], [(e["field"], e["code"]) for e in out["errors"]]) == (
        None,
        [("coOrganizerUnitIds.1", "INVALID_VALUE")],
    )


async def test_a_meeting_may_start_up_to_an_hour_ago_and_up_to_ten_years_ahead(ids, as_) -> None:
    clerk = as_("clerk")
    adhoc = await create_meeting(clerk, ids, startAt=local(D(2026, 6, 1), 9), endAt=local(D(2026, 6, 1), 9, 1))
    assert adhoc["errors"] == []
    assert [(o["startAt"], o["endAt"]) for o in adhoc["meeting"]["occurrences"]] == [
        ("2026-06-01T01:00:00+00:00", "2026-06-01T01:01:00+00:00")
    ]
    far = await create_meeting(clerk, ids, startAt=local(D(2036, 6, 1), 10), endAt=local(D(2036, 6, 1), 11))
    assert (far["errors"], far["meeting"]["startAt"]) == ([], "2036-06-01T02:00:00+00:00")
    today = await create_meeting(clerk, ids, startAt=None, endAt=None, allDayFrom="2026-06-01")
    assert (today["errors"], today["meeting"]["startAt"]) == ([], "2026-05-31T16:00:00+00:00")
    refused = await create_meeting(clerk, ids, startAt=local(D(2026, 6, 1), 8, 59), endAt=local(D(2026, 6, 1), 10))
    assert [(e["field"], e["code"], e["message"]) for e in refused["errors"]] == [
        ("startAt", "INVALID_VALUE", refused["errors"][0]["message"])
    ]
    assert "60 minutes before now" in refused["errors"][0]["message"]


async def test_rules_are_stored_canonical_and_a_trailing_semicolon_is_ignored(ids, as_) -> None:
    out = await create_meeting(as_("clerk"), ids, recurrence=" rrule:freq=daily;count=2; ")
    assert out["errors"] == []
    assert out["meeting"]["recurrence"] == "FREQ=DAILY;COUNT=2"
    assert [o["startAt"] for o in out["meeting"]["occurrences"]] == [
        "2026-06-02T01:00:00+00:00",
        "2026-06-03T01:00:00+00:00",
    ]


async def test_new_york_series_last_their_exact_duration_across_dst_changes(ids, as_) -> None:
    clerk = as_("clerk")
    autumn = await create_meeting(
        clerk,
        ids,
        timeZone="America/New_York",
        startAt="2027-11-06T01:30:00-04:00",
        endAt="2027-11-06T02:00:00-04:00",
        recurrence="FREQ=DAILY;COUNT=3",
    )
    assert autumn["errors"] == []
    assert [(o["startAt"], o["endAt"]) for o in autumn["meeting"]["occurrences"]] == [
        ("2027-11-06T05:30:00+00:00", "2027-11-06T06:00:00+00:00"),
        ("2027-11-07T05:30:00+00:00", "2027-11-07T06:00:00+00:00"),
        ("2027-11-08T06:30:00+00:00", "2027-11-08T07:00:00+00:00"),
    ]
    # 2027-03-14 02:30 does not exist in New York: read as EST (fold=0), 07:30 UTC.
    spring = await create_meeting(
        clerk,
        ids,
        timeZone="America/New_York",
        startAt="2027-03-13T02:30:00-05:00",
        endAt="2027-03-13T03:00:00-05:00",
        recurrence="FREQ=DAILY;COUNT=3",
    )
    assert spring["errors"] == []
    assert [(o["startAt"], o["endAt"]) for o in spring["meeting"]["occurrences"]] == [
        ("2027-03-13T07:30:00+00:00", "2027-03-13T08:00:00+00:00"),
        ("2027-03-14T07:30:00+00:00", "2027-03-14T08:00:00+00:00"),
        ("2027-03-15T06:30:00+00:00", "2027-03-15T07:00:00+00:00"),
    ]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ('from: "2026-12-01T00:00:00", to: "2026-12-02T00:00:00Z"', "from"),
        ('from: "2026-12-01T00:00:00Z", to: "2026-12-02T00:00:00"', "to"),
    ],
)
async def test_my_meetings_refuses_a_window_without_an_offset(ids, as_, args, field) -> None:
    res = await as_("clerk").execute(f"query {{ myMeetings({args}) {{ startAt }} }}")
    err = res["errors"][0]["extensions"]
    assert (res["data"], err["code"], err["field"]) == (None, "INVALID_VALUE", field)
    ok = await as_("clerk").execute(
        'query { myMeetings(from: "2026-12-01T00:00:00Z", to: "2026-12-02T00:00:00Z") { startAt } }'
    )
    assert ok == {"data": {"myMeetings": []}}

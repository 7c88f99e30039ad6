"""Recurring meetings: cancelling one occurrence, moving one, this-and-following, the whole
series; time zones; rooms re-booked; replies reset; invitees told (SQLite and PostgreSQL).

The General Office's clerk organises (the deputy chairs); the clock starts at Monday
2026-06-01 10:00 Shanghai. The usual series: Tuesdays 09:00–10:00 Shanghai (01:00–02:00 UTC)
from 2026-06-02, six times (06-02, 06-09, 06-16, 06-23, 06-30, 07-07), in 第一会议室.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from meetings.models import Invitation, LeaveRequest, OccurrenceReply
from office_api.config import Settings
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import NOW, gid, ids_of, pk_of, signed_in
from tests.meetings_helpers import GENERAL_OFFICE, add_room, create_meeting, local, utc

D = dt.date

SERIES = """id version state recurrence startAt endAt allDay timeZone splitFrom { id } room { name }
  occurrences { id startAt endAt recurrenceId state isException isMoved cancelReason room { name } }
  invitations { state user { username } }"""
GET = f"query($id: ID!) {{ meeting(id: $id) {{ {SERIES} }} }}"
RESCHEDULE = f"""mutation($input: RescheduleMeetingInput!) {{ rescheduleMeeting(input: $input) {{
  meeting {{ {SERIES} }} errors {{ field code message }} }} }}"""
CANCEL = """mutation($input: CancelMeetingOccurrenceInput!) { cancelMeetingOccurrence(input: $input) {
  occurrence { id state cancelReason cancelledAt } meeting { id version state cancelReason }
  errors { field code message } } }"""
NOTES = "{ notifications(first: 10) { edges { node { kind title body subjectId data } } } }"


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


async def series(as_, ids, platform, room: bool = True, **fields: Any) -> dict[str, Any]:
    """The usual weekly series, read back with :data:`SERIES`."""
    base: dict[str, Any] = {
        "recurrence": "FREQ=WEEKLY;COUNT=6",
        "chairId": gid("User", ids["deputy"]),
        "invitees": [{"userId": gid("User", ids["finance_head"])}, {"userId": gid("User", ids["drc_head"])}],
    }
    if room:
        base["roomId"] = gid("Room", await add_room(platform, ids[GENERAL_OFFICE]))
    base.update(fields)
    out = await create_meeting(as_("clerk"), ids, **base)
    assert out["errors"] == [], out
    return await get(as_("clerk"), out["meeting"]["id"])


async def get(client: GraphQLClient, meeting_id: str) -> dict[str, Any]:
    res = await client.execute(GET, {"id": meeting_id})
    assert "errors" not in res, res
    return res["data"]["meeting"]


async def reschedule(client: GraphQLClient, meeting: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data = {"meetingId": meeting["id"], "expectedVersion": meeting["version"], **fields}
    res = await client.execute(RESCHEDULE, {"input": data})
    assert "errors" not in res, res
    return res["data"]["rescheduleMeeting"]


async def cancel(client: GraphQLClient, occurrence_id: str, **fields: Any) -> dict[str, Any]:
    res = await client.execute(CANCEL, {"input": {"occurrenceId": occurrence_id, **fields}})
    assert "errors" not in res, res
    return res["data"]["cancelMeetingOccurrence"]


async def notes(client: GraphQLClient) -> list[dict[str, Any]]:
    return [e["node"] for e in (await client.execute(NOTES))["data"]["notifications"]["edges"]]


def codes(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def table(meeting: dict[str, Any]) -> list[tuple[str, str, str, bool, bool]]:
    """(start, end, state, isException, isMoved) per occurrence; instants as UTC HH:MM."""
    return [
        (o["startAt"][:16], o["endAt"][11:16], o["state"], o["isException"], o["isMoved"])
        for o in meeting["occurrences"]
    ]


async def set_replies(platform: Any, meeting_id: str, state: str = "accepted") -> None:
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(
            update(Invitation)
            .where(Invitation.meeting_id == pk_of(meeting_id))
            .values(state=state, replied_at=NOW, late=True)
        )


async def room_free(as_, ids, room: str, day: D, hour: int) -> bool:
    """Whether a one-hour meeting can book ``room`` at ``day`` ``hour``:00 Shanghai."""
    out = await create_meeting(
        as_("clerk"), ids, title="占用测试", roomId=room, startAt=local(day, hour), endAt=local(day, hour + 1)
    )
    assert codes(out) in ([], [("roomId", "ROOM_TAKEN")]), out
    return out["errors"] == []


async def room_id_of(as_, meeting: dict[str, Any]) -> str:
    res = await as_("clerk").execute("query($id: ID!) { meeting(id: $id) { room { id } } }", {"id": meeting["id"]})
    return res["data"]["meeting"]["room"]["id"]


# ---- cancelling one occurrence -----------------------------------------------------------------


async def test_cancelling_one_occurrence_frees_its_room_and_tells_the_invitees(platform, ids, as_) -> None:
    m = await series(as_, ids, platform)
    room = await room_id_of(as_, m)
    second = m["occurrences"][1]
    assert not await room_free(as_, ids, room, D(2026, 6, 9), 9)
    out = await cancel(as_("clerk"), second["id"], reason="  与省政府常务会议冲突 ", expectedVersion=1)
    assert out["errors"] == []
    assert (out["occurrence"]["state"], out["occurrence"]["cancelReason"]) == ("CANCELLED", "与省政府常务会议冲突")
    assert out["occurrence"]["cancelledAt"] == "2026-06-01T02:00:00+00:00"
    assert (out["meeting"]["version"], out["meeting"]["state"]) == (2, "SCHEDULED")
    after = await get(as_("clerk"), m["id"])
    assert [o["state"] for o in after["occurrences"]] == ["SCHEDULED", "CANCELLED"] + ["SCHEDULED"] * 4
    assert await room_free(as_, ids, room, D(2026, 6, 9), 9)
    (latest, invited) = await notes(as_("finance_head"))
    assert (latest["kind"], invited["kind"]) == ("MEETING_CANCELLED", "MEETING_INVITED")
    assert latest["subjectId"] == m["id"]
    assert latest["data"] == {
        "occurrenceId": second["id"],
        "startAt": "2026-06-09T01:00:00+00:00",
        "meetingCancelled": False,
    }
    assert latest["body"] == "2026-06-09 09:00 的会议取消：与省政府常务会议冲突"
    # the organiser is not told of their own act
    assert [n["kind"] for n in await notes(as_("clerk"))] == []
    again = await cancel(as_("clerk"), second["id"])
    assert codes(again) == [("occurrenceId", "INVALID_STATE")]
    assert codes(await cancel(as_("deputy"), m["occurrences"][2]["id"], expectedVersion=1)) == [
        ("expectedVersion", "STALE_VERSION")
    ]


async def test_only_organisers_cancel_and_bad_ids_are_refused(platform, ids, as_) -> None:
    m = await series(as_, ids, platform, room=False)
    first = m["occurrences"][0]["id"]
    assert codes(await cancel(as_("finance_head"), first)) == [("occurrenceId", "FORBIDDEN")]
    assert codes(await cancel(as_("li_na"), first)) == [("occurrenceId", "NOT_FOUND")]
    assert codes(await cancel(as_("clerk"), gid("MeetingOccurrence", 999999))) == [("occurrenceId", "NOT_FOUND")]
    assert codes(await cancel(as_("clerk"), gid("Meeting", pk_of(first)))) == [("occurrenceId", "INVALID_VALUE")]
    assert codes(await cancel(as_("clerk"), first, reason="长" * 501)) == [("reason", "TOO_LONG")]
    # the chair is an organiser too
    assert (await cancel(as_("deputy"), first))["errors"] == []


async def test_cancelling_the_last_scheduled_occurrence_cancels_the_meeting(platform, ids, as_) -> None:
    one = await create_meeting(as_("clerk"), ids, invitees=[{"userId": gid("User", ids["finance_head"])}])
    m = await get(as_("clerk"), one["meeting"]["id"])
    out = await cancel(as_("clerk"), m["occurrences"][0]["id"], reason="改为书面征求意见")
    assert (out["meeting"]["state"], out["meeting"]["cancelReason"]) == ("CANCELLED", "改为书面征求意见")
    assert (await notes(as_("finance_head")))[0]["data"]["meetingCancelled"] is True
    moved = await reschedule(as_("clerk"), {**m, "version": 2}, scope="ALL", startAt=local(D(2026, 6, 3), 9))
    assert codes(moved) == [("meetingId", "MEETING_CANCELLED")]


async def test_an_occurrence_that_has_begun_can_be_neither_cancelled_nor_moved(platform, ids, as_) -> None:
    m = await series(as_, ids, platform, room=False)
    platform.clock = lambda: utc(D(2026, 6, 2), 9, 30)
    first = m["occurrences"][0]["id"]
    assert codes(await cancel(as_("clerk"), first)) == [("occurrenceId", "INVALID_STATE")]
    moved = await reschedule(
        as_("clerk"),
        m,
        scope="THIS",
        occurrenceId=first,
        startAt=local(D(2026, 6, 3), 9),
        endAt=local(D(2026, 6, 3), 10),
    )
    assert codes(moved) == [("occurrenceId", "INVALID_STATE")]
    # ...and nothing moves to the past
    past = await reschedule(
        as_("clerk"),
        m,
        scope="THIS",
        occurrenceId=m["occurrences"][1]["id"],
        startAt=local(D(2026, 6, 2), 8),
        endAt=local(D(2026, 6, 2), 9),
    )
    assert codes(past) == [("startAt", "INVALID_VALUE")]


# ---- THIS -----------------------------------------------------------------------------------------


async def test_moving_one_occurrence_rebooks_its_room_and_asks_for_its_replies_again(platform, ids, as_) -> None:
    m = await series(as_, ids, platform)
    room = await room_id_of(as_, m)
    await set_replies(platform, m["id"])
    second = m["occurrences"][1]
    out = await reschedule(
        as_("clerk"),
        m,
        scope="THIS",
        occurrenceId=second["id"],
        startAt=local(D(2026, 6, 10), 14),
        endAt=local(D(2026, 6, 10), 15, 30),
    )
    assert out["errors"] == []
    after = out["meeting"]
    assert after["version"] == 2
    moved = after["occurrences"][1]
    assert (moved["id"], moved["startAt"], moved["endAt"], moved["recurrenceId"]) == (
        second["id"],
        "2026-06-10T06:00:00+00:00",
        "2026-06-10T07:30:00+00:00",
        "2026-06-09T01:00:00+00:00",
    )
    assert (moved["isException"], moved["isMoved"], moved["room"]["name"]) == (True, True, "第一会议室")
    assert [o["isMoved"] for o in after["occurrences"]] == [False, True, False, False, False, False]
    # the series' replies stand; the moved occurrence's are asked again
    assert [i["state"] for i in after["invitations"]] == ["ACCEPTED", "ACCEPTED"]
    async with platform.db.read() as s:
        rows = (await s.execute(select(OccurrenceReply).order_by(OccurrenceReply.id))).scalars().all()
    assert [(r.occurrence_id, r.state, r.late) for r in rows] == [(pk_of(second["id"]), "pending", False)] * 2
    # the room moved with it
    assert await room_free(as_, ids, room, D(2026, 6, 9), 9)
    assert not await room_free(as_, ids, room, D(2026, 6, 10), 14)
    latest = (await notes(as_("drc_head")))[0]
    assert (latest["kind"], latest["subjectId"]) == ("MEETING_CHANGED", m["id"])
    assert latest["data"] == {
        "scope": "THIS",
        "startAt": "2026-06-10T06:00:00+00:00",
        "timeChanged": True,
        "occurrenceId": second["id"],
    }
    assert latest["body"] == "本次2026-06-10 14:00（时间已调整，请重新回执）"


async def test_a_move_onto_a_booked_slot_is_refused_and_changes_nothing(platform, ids, as_) -> None:
    m = await series(as_, ids, platform)
    room = await room_id_of(as_, m)
    blocker = await create_meeting(
        as_("clerk"), ids, roomId=room, startAt=local(D(2026, 6, 11), 9), endAt=local(D(2026, 6, 11), 12)
    )
    assert blocker["errors"] == []
    second = m["occurrences"][1]["id"]
    out = await reschedule(
        as_("clerk"),
        m,
        scope="THIS",
        occurrenceId=second,
        startAt=local(D(2026, 6, 11), 11),
        endAt=local(D(2026, 6, 11), 13),
    )
    assert codes(out) == [("roomId", "ROOM_TAKEN")]
    assert "2026-06-11 11:00" in out["errors"][0]["message"]
    assert await get(as_("clerk"), m["id"]) == m
    # the same move without the room works
    ok = await reschedule(
        as_("clerk"),
        m,
        scope="THIS",
        occurrenceId=second,
        clearRoom=True,
        startAt=local(D(2026, 6, 11), 11),
        endAt=local(D(2026, 6, 11), 13),
    )
    assert ok["errors"] == []
    assert ok["meeting"]["occurrences"][1]["room"] is None
    assert await room_free(as_, ids, room, D(2026, 6, 9), 9)


# ---- THIS_AND_FOLLOWING -------------------------------------------------------------------------------


async def test_this_and_following_splits_the_series(platform, ids, as_) -> None:
    m = await series(as_, ids, platform)
    room = await room_id_of(as_, m)
    await set_replies(platform, m["id"])
    occ = m["occurrences"]
    assert (await cancel(as_("clerk"), occ[4]["id"], reason="调休"))["errors"] == []
    async with platform.db.unit_of_work() as uow:  # a leave request keeps 06-23's row
        invitation = (await uow.session.execute(select(Invitation.id).limit(1))).scalar_one()
        uow.session.add(
            LeaveRequest(
                invitation_id=invitation,
                occurrence_id=pk_of(occ[3]["id"]),
                reason="出差",
                requested_by_id=ids["finance_head"],
            )
        )
    out = await reschedule(
        as_("clerk"),
        {**m, "version": 2},
        scope="THIS_AND_FOLLOWING",
        occurrenceId=occ[2]["id"],
        startAt=local(D(2026, 6, 16), 14),
        endAt=local(D(2026, 6, 16), 15, 30),
    )
    assert out["errors"] == []
    new = out["meeting"]
    assert new["id"] != m["id"]
    assert (new["splitFrom"], new["version"], new["recurrence"], new["startAt"]) == (
        {"id": m["id"]},
        1,
        "FREQ=WEEKLY;COUNT=4",
        "2026-06-16T06:00:00+00:00",
    )
    assert table(new) == [
        ("2026-06-16T06:00", "07:30", "SCHEDULED", False, False),
        ("2026-06-23T06:00", "07:30", "SCHEDULED", False, False),
        ("2026-06-30T06:00", "07:30", "CANCELLED", False, False),
        ("2026-07-07T06:00", "07:30", "SCHEDULED", False, False),
    ]
    assert new["occurrences"][2]["cancelReason"] == "调休"
    assert [o["room"]["name"] for o in new["occurrences"]] == ["第一会议室"] * 4
    # the time changed: replies are asked again
    assert [(i["user"]["username"], i["state"]) for i in new["invitations"]] == [
        ("finance_head", "PENDING"),
        ("drc_head", "PENDING"),
    ]
    original = await get(as_("clerk"), m["id"])
    assert (original["recurrence"], original["version"], original["splitFrom"]) == (
        "FREQ=WEEKLY;UNTIL=20260616T005959Z",
        3,
        None,
    )
    assert table(original) == [
        ("2026-06-02T01:00", "02:00", "SCHEDULED", False, False),
        ("2026-06-09T01:00", "02:00", "SCHEDULED", False, False),
        ("2026-06-23T01:00", "02:00", "CANCELLED", False, False),
    ]
    assert original["occurrences"][2]["cancelReason"] == "会议已改期"
    assert [i["state"] for i in original["invitations"]] == ["ACCEPTED", "ACCEPTED"]
    # the old slots are free, the new ones held
    assert await room_free(as_, ids, room, D(2026, 6, 16), 9)
    assert await room_free(as_, ids, room, D(2026, 6, 23), 9)
    assert not await room_free(as_, ids, room, D(2026, 7, 7), 14)
    latest = (await notes(as_("finance_head")))[0]
    assert (latest["kind"], latest["subjectId"]) == ("MEETING_CHANGED", new["id"])
    assert latest["data"] == {
        "scope": "THIS_AND_FOLLOWING",
        "startAt": "2026-06-16T06:00:00+00:00",
        "timeChanged": True,
        "splitFromId": m["id"],
    }
    # the invitee sees both halves
    assert (await get(as_("drc_head"), new["id"]))["splitFrom"] == {"id": m["id"]}


async def test_a_split_without_a_new_time_keeps_replies_and_moved_occurrences(platform, ids, as_) -> None:
    m = await series(as_, ids, platform)
    room = await room_id_of(as_, m)
    occ = m["occurrences"]
    moved = await reschedule(
        as_("clerk"),
        m,
        scope="THIS",
        occurrenceId=occ[4]["id"],
        startAt=local(D(2026, 7, 1), 9),
        endAt=local(D(2026, 7, 1), 10),
    )
    assert moved["errors"] == []
    await set_replies(platform, m["id"])
    out = await reschedule(
        as_("clerk"), moved["meeting"], scope="THIS_AND_FOLLOWING", occurrenceId=occ[3]["id"], clearRoom=True
    )
    new = out["meeting"]
    assert (new["recurrence"], new["room"]) == ("FREQ=WEEKLY;COUNT=3", None)
    assert table(new) == [
        ("2026-06-23T01:00", "02:00", "SCHEDULED", False, False),
        ("2026-07-01T01:00", "02:00", "SCHEDULED", True, True),
        ("2026-07-07T01:00", "02:00", "SCHEDULED", False, False),
    ]
    assert [o["room"] for o in new["occurrences"]] == [None, None, None]
    assert [i["state"] for i in new["invitations"]] == ["ACCEPTED", "ACCEPTED"]
    assert (await notes(as_("finance_head")))[0]["data"]["timeChanged"] is False
    # the rows left the original (nothing referred to them): it keeps three
    assert len((await get(as_("clerk"), m["id"]))["occurrences"]) == 3
    assert await room_free(as_, ids, room, D(2026, 7, 1), 9)


async def test_this_and_following_from_the_first_occurrence_changes_the_whole_series(platform, ids, as_) -> None:
    m = await series(as_, ids, platform, room=False)
    out = await reschedule(
        as_("clerk"),
        m,
        scope="THIS_AND_FOLLOWING",
        occurrenceId=m["occurrences"][0]["id"],
        startAt=local(D(2026, 6, 2), 15),
        endAt=local(D(2026, 6, 2), 16),
    )
    assert out["errors"] == []
    assert (out["meeting"]["id"], out["meeting"]["splitFrom"], out["meeting"]["version"]) == (m["id"], None, 2)
    assert [o["startAt"][11:16] for o in out["meeting"]["occurrences"]] == ["07:00"] * 6
    assert [o["id"] for o in out["meeting"]["occurrences"]] == [o["id"] for o in m["occurrences"]]


# ---- ALL -----------------------------------------------------------------------------------------------


async def test_all_moves_the_future_keeps_the_past_and_drops_moved_exceptions(platform, ids, as_) -> None:
    m = await series(as_, ids, platform)
    room = await room_id_of(as_, m)
    occ = m["occurrences"]
    assert (await cancel(as_("clerk"), occ[3]["id"], reason="节假日"))["errors"] == []
    moved = await reschedule(
        as_("clerk"),
        {**m, "version": 2},
        scope="THIS",
        occurrenceId=occ[4]["id"],
        startAt=local(D(2026, 7, 1), 9),
        endAt=local(D(2026, 7, 1), 10),
    )
    assert moved["errors"] == []
    await set_replies(platform, m["id"])
    platform.clock = lambda: utc(D(2026, 6, 10), 10)  # 06-02 and 06-09 have been held
    out = await reschedule(
        as_("clerk"), moved["meeting"], scope="ALL", startAt=local(D(2026, 6, 2), 14), endAt=local(D(2026, 6, 2), 15)
    )
    assert out["errors"] == []
    after = out["meeting"]
    assert (after["version"], after["startAt"], after["recurrence"]) == (
        4,
        "2026-06-02T06:00:00+00:00",
        "FREQ=WEEKLY;COUNT=6",
    )
    assert table(after) == [
        ("2026-06-02T01:00", "02:00", "SCHEDULED", False, False),
        ("2026-06-09T01:00", "02:00", "SCHEDULED", False, False),
        ("2026-06-16T06:00", "07:00", "SCHEDULED", False, False),
        ("2026-06-23T06:00", "07:00", "CANCELLED", False, False),
        ("2026-06-30T06:00", "07:00", "SCHEDULED", False, False),
        ("2026-07-07T06:00", "07:00", "SCHEDULED", False, False),
    ]
    assert [o["id"] for o in after["occurrences"]] == [o["id"] for o in occ]
    assert after["occurrences"][3]["cancelReason"] == "节假日"
    assert [i["state"] for i in after["invitations"]] == ["PENDING", "PENDING"]
    assert await room_free(as_, ids, room, D(2026, 6, 16), 9)
    assert await room_free(as_, ids, room, D(2026, 7, 1), 9)
    assert not await room_free(as_, ids, room, D(2026, 6, 30), 14)
    # A longer rule adds dates; a moved occurrence keeps its time when the time stays.
    again = await reschedule(
        as_("clerk"),
        after,
        scope="THIS",
        occurrenceId=occ[5]["id"],
        startAt=local(D(2026, 7, 8), 14),
        endAt=local(D(2026, 7, 8), 15),
    )
    await set_replies(platform, m["id"])
    longer = await reschedule(as_("clerk"), again["meeting"], scope="ALL", recurrence="FREQ=WEEKLY;COUNT=8")
    assert longer["errors"] == []
    assert table(longer["meeting"])[4:] == [
        ("2026-06-30T06:00", "07:00", "SCHEDULED", False, False),
        ("2026-07-08T06:00", "07:00", "SCHEDULED", True, True),
        ("2026-07-14T06:00", "07:00", "SCHEDULED", False, False),
        ("2026-07-21T06:00", "07:00", "SCHEDULED", False, False),
    ]
    assert [o["room"]["name"] for o in longer["meeting"]["occurrences"][6:]] == ["第一会议室"] * 2
    assert [i["state"] for i in longer["meeting"]["invitations"]] == ["ACCEPTED", "ACCEPTED"]
    assert not await room_free(as_, ids, room, D(2026, 7, 21), 14)


async def test_all_with_an_until_date_includes_that_day_and_drops_the_rest(platform, ids, as_) -> None:
    m = await series(as_, ids, platform)
    room = await room_id_of(as_, m)
    out = await reschedule(as_("clerk"), m, scope="ALL", recurrence="FREQ=WEEKLY;UNTIL=20260623")
    assert [o["startAt"][:10] for o in out["meeting"]["occurrences"]] == [
        "2026-06-02",
        "2026-06-09",
        "2026-06-16",
        "2026-06-23",
    ]
    assert out["meeting"]["recurrence"] == "FREQ=WEEKLY;UNTIL=20260623"
    assert await room_free(as_, ids, room, D(2026, 6, 30), 9)


async def test_all_to_all_day_and_to_overnight(platform, ids, as_) -> None:
    m = await series(as_, ids, platform, room=False)
    out = await reschedule(as_("clerk"), m, scope="ALL", allDayFrom="2026-06-02")
    allday = out["meeting"]
    assert (allday["allDay"], allday["startAt"], allday["endAt"]) == (
        True,
        "2026-06-01T16:00:00+00:00",
        "2026-06-02T16:00:00+00:00",
    )
    assert [(o["startAt"], o["endAt"]) for o in allday["occurrences"][:2]] == [
        ("2026-06-01T16:00:00+00:00", "2026-06-02T16:00:00+00:00"),
        ("2026-06-08T16:00:00+00:00", "2026-06-09T16:00:00+00:00"),
    ]
    second = allday["occurrences"][1]["id"]
    timed = await reschedule(
        as_("clerk"),
        allday,
        scope="THIS",
        occurrenceId=second,
        startAt=local(D(2026, 6, 9), 9),
        endAt=local(D(2026, 6, 9), 10),
    )
    assert codes(timed) == [("startAt", "INVALID_VALUE")]
    day = await reschedule(as_("clerk"), allday, scope="THIS", occurrenceId=second, allDayFrom="2026-06-10")
    assert (day["meeting"]["occurrences"][1]["startAt"], day["meeting"]["occurrences"][1]["endAt"]) == (
        "2026-06-09T16:00:00+00:00",
        "2026-06-10T16:00:00+00:00",
    )
    night = await reschedule(
        as_("clerk"), day["meeting"], scope="ALL", startAt=local(D(2026, 6, 2), 22), endAt=local(D(2026, 6, 3), 2)
    )
    assert night["meeting"]["allDay"] is False
    assert [(o["startAt"], o["endAt"]) for o in night["meeting"]["occurrences"][:2]] == [
        ("2026-06-02T14:00:00+00:00", "2026-06-02T18:00:00+00:00"),
        ("2026-06-09T14:00:00+00:00", "2026-06-09T18:00:00+00:00"),
    ]
    # the moved all-day occurrence fell back to the rule
    assert [o["isMoved"] for o in night["meeting"]["occurrences"]] == [False] * 6


async def test_new_york_series_keep_local_time_across_the_dst_change(platform, ids, as_) -> None:
    m = await series(
        as_,
        ids,
        platform,
        room=False,
        timeZone="America/New_York",
        recurrence="FREQ=WEEKLY;COUNT=4",
        startAt="2027-03-01T09:00:00-05:00",
        endAt="2027-03-01T10:00:00-05:00",
    )
    assert [o["startAt"] for o in m["occurrences"]] == [
        "2027-03-01T14:00:00+00:00",
        "2027-03-08T14:00:00+00:00",
        "2027-03-15T13:00:00+00:00",
        "2027-03-22T13:00:00+00:00",
    ]
    out = await reschedule(
        as_("clerk"),
        m,
        scope="THIS_AND_FOLLOWING",
        occurrenceId=m["occurrences"][1]["id"],
        startAt="2027-03-08T10:00:00-05:00",
        endAt="2027-03-08T11:00:00-05:00",
    )
    new = out["meeting"]
    assert (new["timeZone"], new["recurrence"]) == ("America/New_York", "FREQ=WEEKLY;COUNT=3")
    assert [o["startAt"] for o in new["occurrences"]] == [
        "2027-03-08T15:00:00+00:00",
        "2027-03-15T14:00:00+00:00",
        "2027-03-22T14:00:00+00:00",
    ]
    original = await get(as_("clerk"), m["id"])
    assert original["recurrence"] == "FREQ=WEEKLY;UNTIL=20270308T135959Z"
    assert [o["startAt"] for o in original["occurrences"]] == ["2027-03-01T14:00:00+00:00"]


async def test_a_single_meeting_is_moved_by_any_scope(platform, ids, as_) -> None:
    room = gid("Room", await add_room(platform, ids[GENERAL_OFFICE]))
    one = await create_meeting(
        as_("clerk"),
        ids,
        roomId=room,
        reportAt=local(D(2026, 6, 2), 8, 30),
        replyDeadline=local(D(2026, 6, 1), 18),
        invitees=[{"userId": gid("User", ids["finance_head"])}],
    )
    m = await get(as_("clerk"), one["meeting"]["id"])
    await set_replies(platform, m["id"])
    out = await reschedule(
        as_("clerk"), m, scope="ALL", startAt=local(D(2026, 6, 3), 14), endAt=local(D(2026, 6, 3), 16)
    )
    after = out["meeting"]
    assert (after["startAt"], after["endAt"], after["version"]) == (
        "2026-06-03T06:00:00+00:00",
        "2026-06-03T08:00:00+00:00",
        2,
    )
    (only,) = after["occurrences"]
    assert (only["id"], only["recurrenceId"], only["isException"], only["isMoved"]) == (
        m["occurrences"][0]["id"],
        "2026-06-03T06:00:00+00:00",
        False,
        False,
    )
    assert [i["state"] for i in after["invitations"]] == ["PENDING"]
    times = await as_("clerk").execute(
        "query($id: ID!) { meeting(id: $id) { reportAt replyDeadline } }", {"id": m["id"]}
    )
    assert times["data"]["meeting"] == {
        "reportAt": "2026-06-03T05:30:00+00:00",
        "replyDeadline": "2026-06-02T15:00:00+00:00",
    }
    this = await reschedule(as_("clerk"), after, scope="THIS", clearRoom=True)
    assert (this["errors"], this["meeting"]["room"], this["meeting"]["occurrences"][0]["room"]) == ([], None, None)
    assert await room_free(as_, ids, room, D(2026, 6, 3), 14)
    # a change to nothing is no change
    same = await reschedule(as_("clerk"), this["meeting"], scope="ALL", clearRoom=True)
    assert (same["errors"], same["meeting"]["version"]) == ([], 3)
    # a single meeting becomes a series with a rule
    weekly = await reschedule(as_("clerk"), same["meeting"], scope="ALL", recurrence="FREQ=WEEKLY;COUNT=3")
    assert [(o["id"] == only["id"], o["startAt"][:10]) for o in weekly["meeting"]["occurrences"]] == [
        (True, "2026-06-03"),
        (False, "2026-06-10"),
        (False, "2026-06-17"),
    ]


# ---- concurrency, permissions and bad input ------------------------------------------------------------


async def test_two_organisers_rescheduling_at_once_one_wins(platform, ids, as_) -> None:
    m = await series(as_, ids, platform)
    clerk, deputy = as_("clerk"), as_("deputy")
    results = await asyncio.gather(
        reschedule(clerk, m, scope="ALL", startAt=local(D(2026, 6, 2), 14), endAt=local(D(2026, 6, 2), 15)),
        reschedule(deputy, m, scope="ALL", startAt=local(D(2026, 6, 2), 16), endAt=local(D(2026, 6, 2), 17)),
    )
    assert sorted(str(codes(r)) for r in results) == ["[('expectedVersion', 'STALE_VERSION')]", "[]"]
    (winner,) = [r["meeting"] for r in results if not r["errors"]]
    after = await get(as_("clerk"), m["id"])
    assert after["version"] == 2
    assert [o["startAt"] for o in after["occurrences"]] == [o["startAt"] for o in winner["occurrences"]]
    assert len({o["startAt"][11:16] for o in after["occurrences"]}) == 1
    # exactly one MEETING_CHANGED reached the invitee
    assert [n["kind"] for n in await notes(as_("finance_head"))].count("MEETING_CHANGED") == 1


async def test_only_organisers_reschedule(platform, ids, as_) -> None:
    m = await series(as_, ids, platform, room=False)
    fields = {"scope": "ALL", "startAt": local(D(2026, 6, 2), 14), "endAt": local(D(2026, 6, 2), 15)}
    assert codes(await reschedule(as_("finance_head"), m, **fields)) == [("meetingId", "FORBIDDEN")]
    assert codes(await reschedule(as_("li_na"), m, **fields)) == [("meetingId", "NOT_FOUND")]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"scope": "ALL", "recurrence": "FREQ=WEEKLY"}, [("recurrence", "RECURRENCE_UNBOUNDED")]),
        ({"scope": "ALL", "recurrence": "FREQ=WEEKLY;COUNT=x"}, [("recurrence", "RECURRENCE_INVALID")]),
        ({"scope": "ALL", "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=3"}, [("recurrence", "RECURRENCE_INVALID")]),
        ({"scope": "ALL", "recurrence": "FREQ=DAILY;COUNT=501"}, [("recurrence", "TOO_MANY")]),
        (
            {"scope": "THIS_AND_FOLLOWING", "occurrence": 2, "recurrence": "FREQ=DAILY"},
            [("recurrence", "RECURRENCE_UNBOUNDED")],
        ),
        ({"scope": "THIS", "occurrence": 1, "recurrence": "FREQ=DAILY;COUNT=2"}, [("recurrence", "INVALID_VALUE")]),
        (
            {"scope": "THIS", "startAt": local(D(2026, 6, 3), 9), "endAt": local(D(2026, 6, 3), 10)},
            [("occurrenceId", "REQUIRED")],
        ),
        ({"scope": "THIS", "occurrenceId": gid("MeetingOccurrence", 999999)}, [("occurrenceId", "NOT_FOUND")]),
        ({"scope": "ALL", "expectedVersion": 7, "clearRoom": True}, [("expectedVersion", "STALE_VERSION")]),
        (
            {"scope": "THIS", "occurrence": 1, "startAt": local(D(2026, 6, 9), 9), "endAt": local(D(2026, 6, 9), 8)},
            [("endAt", "INVALID_VALUE")],
        ),
        (
            {"scope": "THIS", "occurrence": 1, "startAt": "2026-06-09T09:00:00"},
            [("endAt", "REQUIRED"), ("startAt", "INVALID_VALUE")],
        ),
        (
            {"scope": "ALL", "roomId": gid("Room", 999999), "clearRoom": True},
            [("clearRoom", "INVALID_VALUE"), ("roomId", "NOT_FOUND")],
        ),
        (
            # the kept rule (Tuesdays) does not fit a Wednesday start
            {
                "scope": "THIS_AND_FOLLOWING",
                "occurrence": 2,
                "recurrence": None,
                "startAt": local(D(2026, 6, 17), 9),
                "endAt": local(D(2026, 6, 17), 10),
            },
            [("startAt", "RECURRENCE_INVALID")],
        ),
        (
            {
                "scope": "ALL",
                "startAt": local(D(2026, 5, 5), 9),
                "endAt": local(D(2026, 5, 5), 10),
                "recurrence": "FREQ=WEEKLY;COUNT=2",
            },
            [("recurrence", "INVALID_VALUE")],
        ),
        # createMeeting's start rule: at most 60 minutes back, at most 10 years ahead, dates in range
        (
            {
                "scope": "THIS",
                "occurrence": 1,
                "startAt": "9999-12-31T09:00:00+08:00",
                "endAt": "9999-12-31T10:00:00+08:00",
            },
            [("startAt", "INVALID_VALUE")],
        ),
        (
            {"scope": "ALL", "startAt": "9999-12-28T09:00:00+08:00", "endAt": "9999-12-28T10:00:00+08:00"},
            [("startAt", "INVALID_VALUE")],
        ),
        (
            {
                "scope": "THIS_AND_FOLLOWING",
                "occurrence": 2,
                "startAt": local(D(2036, 6, 3), 9),
                "endAt": local(D(2036, 6, 3), 10),
            },
            [("startAt", "INVALID_VALUE")],
        ),
        ({"scope": "ALL", "allDayFrom": "9999-12-31"}, [("allDayFrom", "INVALID_VALUE")]),
        ({"scope": "ALL", "allDayFrom": "0001-01-01"}, [("allDayFrom", "INVALID_VALUE")]),
        ({"scope": "THIS", "occurrence": 1, "allDayFrom": "9999-12-31"}, [("allDayFrom", "INVALID_VALUE")]),
        (
            {
                "scope": "THIS",
                "occurrence": 1,
                "startAt": local(D(2026, 6, 9), 9),
                "endAt": "2026-06-09T09:00:00.5+08:00",
            },
            [("endAt", "INVALID_VALUE")],
        ),
        ({"scope": "ALL", "recurrence": "FREQ=DAILY;INTERVAL=0;COUNT=3"}, [("recurrence", "RECURRENCE_INVALID")]),
        ({"scope": "ALL", "recurrence": "FREQ=WEEKLY;COUNT=3;COUNT=400"}, [("recurrence", "RECURRENCE_INVALID")]),
        (
            {"scope": "ALL", "recurrence": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0,30;COUNT=4"},
            [("recurrence", "RECURRENCE_INVALID")],
        ),
    ],
)
async def test_bad_reschedules_are_refused_naming_the_field(platform, ids, as_, fields, expected) -> None:
    m = await series(as_, ids, platform, recurrence="FREQ=WEEKLY;BYDAY=TU;COUNT=6")
    fields = dict(fields)
    if "occurrence" in fields:
        fields["occurrenceId"] = m["occurrences"][fields.pop("occurrence")]["id"]
    if fields.get("recurrence", "") is None:
        del fields["recurrence"]
    out = await reschedule(as_("clerk"), m, **fields)
    assert (out["meeting"], codes(out)) == (None, expected)
    assert await get(as_("clerk"), m["id"]) == m


async def test_a_room_too_small_or_retired_is_refused(platform, ids, as_) -> None:
    m = await series(as_, ids, platform, room=False)
    small = gid("Room", await add_room(platform, ids[GENERAL_OFFICE], "小会议室", capacity=1))
    out = await reschedule(as_("clerk"), m, scope="ALL", roomId=small)
    assert codes(out) == [("roomId", "ROOM_OVER_CAPACITY")]


async def test_a_retried_cancellation_with_its_idempotency_key_is_done_once(platform, ids, as_) -> None:
    m = await series(as_, ids, platform, room=False)
    occ = m["occurrences"][2]["id"]
    first = await cancel(as_("clerk"), occ, reason="暂停", idempotencyKey="cancel-0616")
    repeat = await cancel(as_("clerk"), occ, reason="暂停", idempotencyKey="cancel-0616")
    assert first["errors"] == []
    assert repeat == first
    assert (first["meeting"]["version"], first["occurrence"]["state"]) == (2, "CANCELLED")
    assert [n["kind"] for n in await notes(as_("finance_head"))] == ["MEETING_CANCELLED", "MEETING_INVITED"]


async def test_a_move_may_start_up_to_an_hour_ago_like_a_new_meeting(platform, ids, as_) -> None:
    m = await series(as_, ids, platform, room=False)
    second = m["occurrences"][1]["id"]
    # now is Mon 2026-06-01 10:00: 09:00 is an hour ago (as for createMeeting), 08:59 is not
    early = await reschedule(
        as_("clerk"),
        m,
        scope="THIS",
        occurrenceId=second,
        startAt=local(D(2026, 6, 1), 8, 59),
        endAt=local(D(2026, 6, 1), 10),
    )
    assert codes(early) == [("startAt", "INVALID_VALUE")]
    assert "60 minutes before now" in early["errors"][0]["message"]
    ok = await reschedule(
        as_("clerk"),
        m,
        scope="THIS",
        occurrenceId=second,
        startAt=local(D(2026, 6, 1), 9),
        endAt=local(D(2026, 6, 1), 10),
    )
    assert ok["errors"] == []
    assert table(ok["meeting"])[:2] == [
        ("2026-06-01T01:00", "02:00", "SCHEDULED", True, True),
        ("2026-06-02T01:00", "02:00", "SCHEDULED", False, False),
    ]


async def test_a_new_rule_is_stored_canonical(platform, ids, as_) -> None:
    m = await series(as_, ids, platform, room=False)
    out = await reschedule(as_("clerk"), m, scope="ALL", recurrence="rrule:freq=weekly;count=3;")
    assert out["errors"] == []
    assert (out["meeting"]["recurrence"], [o["startAt"][:10] for o in out["meeting"]["occurrences"]]) == (
        "FREQ=WEEKLY;COUNT=3",
        ["2026-06-02", "2026-06-09", "2026-06-16"],
    )
    # the same rule spelt differently changes nothing
    same = await reschedule(as_("clerk"), out["meeting"], scope="ALL", recurrence="FREQ=WEEKLY;COUNT=3;")
    assert (same["errors"], same["meeting"]["version"]) == ([], out["meeting"]["version"])


async def test_an_all_day_new_york_series_keeps_whole_local_days(platform, ids, as_) -> None:
    m = await series(
        as_,
        ids,
        platform,
        room=False,
        timeZone="America/New_York",
        recurrence="FREQ=WEEKLY;COUNT=3",
        startAt="2027-03-01T09:00:00-05:00",
        endAt="2027-03-01T10:00:00-05:00",
    )
    out = await reschedule(as_("clerk"), m, scope="ALL", allDayFrom="2027-03-07")
    assert out["errors"] == []
    assert [(o["startAt"], o["endAt"]) for o in out["meeting"]["occurrences"]] == [
        ("2027-03-07T05:00:00+00:00", "2027-03-08T05:00:00+00:00"),
        ("2027-03-14T05:00:00+00:00", "2027-03-15T04:00:00+00:00"),  # 23 hours: DST begins
        ("2027-03-21T04:00:00+00:00", "2027-03-22T04:00:00+00:00"),
    ]

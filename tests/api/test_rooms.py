"""Meeting rooms and room bookings (DOMAIN §7.1, issue 6 item 1), on SQLite and PostgreSQL.

The General Office's demo rooms: 第一会议室 (60 seats, projector, video_conference), 第二会议室
(20), 省政府常务会议室 (30, bookings need approval). Its clerk answers for the unit (so approves
bookings; its own are approved at once); the deputy's bookings of the executive room wait. The
clock is Monday 2026-06-01 10:00 Shanghai; meetings are on Tuesday 2026-06-02.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest
from sqlalchemy import func, select, text

from meetings import rooms
from meetings.models import Meeting, MeetingOccurrence, Room, RoomBooking
from office_api.audit import AuditEntry
from office_api.config import Settings
from office_api.demo import load_demo
from office_api.errors import DomainError
from office_api.org.models import OrgUnit, Role
from office_api.org.permissions import load_actor
from office_api.org.service import UserInput, create_user, grant_role
from tests.conftest import DEMO_PASSWORD, GraphQLClient
from tests.dispatch_helpers import NOW, gid, ids_of, pk_of, signed_in
from tests.meetings_helpers import CREATE_MEETING, GENERAL_OFFICE, create_meeting, local, meeting_input, utc

D = dt.date
DAY = D(2026, 6, 2)

ROOM_FIELDS = "id name building floor address capacity equipment requiresApproval isActive version ownerUnit { code }"
CREATE_ROOM = f"""mutation($input: CreateRoomInput!) {{ createRoom(input: $input) {{
  room {{ {ROOM_FIELDS} }} meetingsOverCapacity errors {{ field code message }} }} }}"""
UPDATE_ROOM = f"""mutation($input: UpdateRoomInput!) {{ updateRoom(input: $input) {{
  room {{ {ROOM_FIELDS} }} meetingsOverCapacity errors {{ field code message }} }} }}"""
RETIRE_ROOM = f"""mutation($input: RetireRoomInput!) {{ retireRoom(input: $input) {{
  room {{ {ROOM_FIELDS} }} errors {{ field code }} }} }}"""
BOOKING_FIELDS = """id status startAt endAt decidedAt decisionRemark meetingTitle room { name }
  convener { username } organizerUnit { code } decidedBy { username } occurrence { id startAt }"""
PENDING = f"query {{ pendingRoomBookings {{ {BOOKING_FIELDS} }} }}"
APPROVE = f"""mutation($input: ApproveRoomBookingInput!) {{ approveRoomBooking(input: $input) {{
  bookings {{ {BOOKING_FIELDS} }} errors {{ field code message }} }} }}"""
REFUSE = f"""mutation($input: RefuseRoomBookingInput!) {{ refuseRoomBooking(input: $input) {{
  bookings {{ {BOOKING_FIELDS} }} errors {{ field code message }} }} }}"""
SCHEDULE = """query($room: ID!, $from: DateTime!, $to: DateTime!) { roomSchedule(roomId: $room, from: $from, to: $to) {
  startAt endAt status title occurrence { id meeting { title } } } }"""
NOTES = "{ notifications(first: 10) { edges { node { kind title body subjectType subjectId data } } } }"
OCCURRENCE_BOOKINGS = """query($id: ID!) { meeting(id: $id) { room { name }
  occurrences { startAt room { name } booking { status decidedBy { username } decisionRemark room { name } } } } }"""


def rooms_query(args: str) -> str:
    return f"query {{ rooms({args}) {{ name capacity equipment isActive }} }}"


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


async def demo_room(platform: Any, name: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(Room.id).where(Room.name == name))).scalar_one()


async def unit_admin(platform: Any, username: str, unit_code: str) -> int:
    """A new user with a post in ``unit_code`` and the unit-admin role over it."""
    async with platform.db.read() as s:
        unit = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == unit_code))).scalar_one()
    async with platform.db.unit_of_work() as uow:
        user = await create_user(uow, None, UserInput(username, username, DEMO_PASSWORD, unit, "科员"))
        await grant_role(uow, user.id, Role.UNIT_ADMIN, unit)
        return user.id


async def holding(platform: Any, room_id: int) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """(status, start, end) of the room's bookings that hold it, in start order."""
    async with platform.db.read() as s:
        rows = await s.execute(
            select(RoomBooking.status, RoomBooking.start_at, RoomBooking.end_at)
            .where(RoomBooking.room_id == room_id, RoomBooking.status.in_(["pending", "approved"]))
            .order_by(RoomBooking.start_at)
        )
        return [tuple(r) for r in rows.all()]


def codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def top_code(res: dict[str, Any]) -> tuple[str, str | None]:
    err = res["errors"][0]["extensions"]
    return err["code"], err.get("field")


# ---- demo rooms and the search ----------------------------------------------------------


async def test_the_demo_rooms_are_there_once_and_reloading_the_demo_adds_none(platform, ids, as_) -> None:
    res = await as_("li_na").execute(rooms_query(f'unitId: "{gid("OrgUnit", ids[GENERAL_OFFICE])}"'))
    assert sorted((r["name"], r["capacity"], tuple(r["equipment"])) for r in res["data"]["rooms"]) == [
        ("省政府常务会议室", 30, ("microphones", "video_conference")),
        ("第一会议室", 60, ("projector", "video_conference")),
        ("第二会议室", 20, ("projector",)),
    ]
    # floor "2" before floor "3" in the same building
    assert res["data"]["rooms"][0]["name"] == "省政府常务会议室"
    await load_demo(platform.db, DEMO_PASSWORD)
    async with platform.db.read() as s:
        found = (await s.execute(select(Room.name, Room.requires_approval, Room.floor, Room.building))).all()
    assert sorted(found) == [
        ("省政府常务会议室", True, "2", "省政府1号楼"),
        ("第一会议室", False, "3", "省政府1号楼"),
        ("第二会议室", False, "3", "省政府1号楼"),
    ]


async def test_rooms_filter_by_capacity_equipment_subtree_and_a_free_window(platform, ids, as_) -> None:
    clerk = as_("clerk")
    office, province = gid("OrgUnit", ids[GENERAL_OFFICE]), gid("OrgUnit", ids["370000"])
    first = gid("Room", await demo_room(platform, "第一会议室"))
    assert (await create_meeting(clerk, ids, roomId=first))["errors"] == []  # 09:00–10:00

    async def names(args: str) -> list[str]:
        res = await as_("zhou_wei").execute(rooms_query(args))
        assert "errors" not in res, res
        return sorted(r["name"] for r in res["data"]["rooms"])

    assert await names(f'unitId: "{office}", minCapacity: 25') == ["省政府常务会议室", "第一会议室"]
    assert await names(f'unitId: "{office}", equipment: [" Video_Conference ", "PROJECTOR"]') == ["第一会议室"]
    assert await names(f'unitId: "{province}"') == []
    assert len(await names(f'unitId: "{province}", includeSubtree: true')) == 3
    # back to back with the 09:00–10:00 booking: free; one minute of overlap: not
    free = f'unitId: "{office}", freeFrom: "{local(DAY, 10)}", freeTo: "{local(DAY, 11)}"'
    assert await names(free) == ["省政府常务会议室", "第一会议室", "第二会议室"]
    busy = f'unitId: "{office}", freeFrom: "{local(DAY, 9, 59)}", freeTo: "{local(DAY, 11)}"'
    assert await names(busy) == ["省政府常务会议室", "第二会议室"]
    before = f'unitId: "{office}", freeFrom: "{local(DAY, 8)}", freeTo: "{local(DAY, 9)}"'
    assert await names(before) == ["省政府常务会议室", "第一会议室", "第二会议室"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ('freeFrom: "2026-06-02T09:00:00+08:00"', ("INVALID_VALUE", "freeTo")),
        ('freeTo: "2026-06-02T09:00:00+08:00"', ("INVALID_VALUE", "freeFrom")),
        ('freeFrom: "2026-06-02T09:00:00+08:00", freeTo: "2026-06-02T09:00:00+08:00"', ("INVALID_VALUE", "freeTo")),
        ('freeFrom: "2026-06-02T09:00:00+08:00", freeTo: "2026-06-17T09:00:00+08:00"', ("INVALID_VALUE", "freeTo")),
        ("minCapacity: 0", ("INVALID_VALUE", "minCapacity")),
        ("minCapacity: 10001", ("INVALID_VALUE", "minCapacity")),
    ],
)
async def test_bad_room_search_arguments_are_refused_naming_the_argument(ids, as_, args, expected) -> None:
    res = await as_("clerk").execute(rooms_query(f'unitId: "{gid("OrgUnit", ids[GENERAL_OFFICE])}", {args}'))
    assert res["data"] is None
    assert top_code(res) == expected


async def test_rooms_of_an_unknown_unit_are_not_found(as_) -> None:
    res = await as_("clerk").execute(rooms_query(f'unitId: "{gid("OrgUnit", 999999)}"'))
    assert top_code(res) == ("NOT_FOUND", "unitId")


# ---- administration ----------------------------------------------------------------------


async def test_a_unit_admin_creates_changes_and_retires_a_room_and_each_change_is_audited(
    platform, ids, as_, client, settings
) -> None:
    admin = signed_in(client, settings, await unit_admin(platform, "go_admin", GENERAL_OFFICE))
    created = (
        await admin.execute(
            CREATE_ROOM,
            {
                "input": {
                    "ownerUnitId": gid("OrgUnit", ids[GENERAL_OFFICE]),
                    "name": " 第三会议室 ",
                    "capacity": 12,
                    "building": "省政府2号楼",
                    "floor": "B1",
                    "equipment": [" Projector", "projector", "白板"],
                }
            },
        )
    )["data"]["createRoom"]
    assert created["errors"] == []
    room = created["room"]
    assert (room["name"], room["building"], room["floor"], room["capacity"], room["equipment"]) == (
        "第三会议室",
        "省政府2号楼",
        "B1",
        12,
        ["projector", "白板"],
    )
    assert (room["version"], room["isActive"], room["requiresApproval"], room["ownerUnit"]["code"]) == (
        1,
        True,
        False,
        GENERAL_OFFICE,
    )
    changed = (
        await admin.execute(
            UPDATE_ROOM,
            {"input": {"id": room["id"], "version": 1, "capacity": 16, "floor": "", "requiresApproval": True}},
        )
    )["data"]["updateRoom"]
    assert changed["errors"] == []
    assert (changed["room"]["capacity"], changed["room"]["floor"], changed["room"]["requiresApproval"]) == (
        16,
        None,
        True,
    )
    assert (changed["room"]["version"], changed["meetingsOverCapacity"]) == (2, 0)
    stale = (await admin.execute(UPDATE_ROOM, {"input": {"id": room["id"], "version": 1, "capacity": 8}}))["data"][
        "updateRoom"
    ]
    assert codes(stale) == [("version", "STALE_VERSION")]
    retired = (await admin.execute(RETIRE_ROOM, {"input": {"id": room["id"], "version": 2}}))["data"]["retireRoom"]
    assert (retired["errors"], retired["room"]["isActive"], retired["room"]["version"]) == ([], False, 3)
    again = (await admin.execute(RETIRE_ROOM, {"input": {"id": room["id"]}}))["data"]["retireRoom"]
    assert (again["errors"], again["room"]["version"]) == ([], 3)
    async with platform.db.read() as s:
        rows = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.target_id, AuditEntry.after)
                .where(AuditEntry.action.like("room.%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(a, t) for a, t, _ in rows] == [
        (a, str(pk_of(room["id"]))) for a in ("room.create", "room.update", "room.retire")
    ]
    assert (rows[1][2]["capacity"], rows[2][2]["isActive"]) == (16, False)


async def test_admins_outside_the_rooms_subtree_and_non_admins_are_refused(
    platform, ids, as_, client, settings
) -> None:
    finance_admin = signed_in(client, settings, await unit_admin(platform, "finance_admin", "370000-finance"))
    office = gid("OrgUnit", ids[GENERAL_OFFICE])
    room = gid("Room", await demo_room(platform, "第一会议室"))
    new = {"input": {"ownerUnitId": office, "name": "财政会议室", "capacity": 10}}
    for who, expected in ((finance_admin, "FORBIDDEN"), (as_("clerk"), "FORBIDDEN")):
        assert top_code(await who.execute(CREATE_ROOM, new))[0] == expected
        assert top_code(await who.execute(UPDATE_ROOM, {"input": {"id": room, "version": 1, "capacity": 5}}))[0] == (
            expected
        )
        assert top_code(await who.execute(RETIRE_ROOM, {"input": {"id": room}}))[0] == expected
    async with platform.db.read() as s:
        assert (await s.execute(select(Room.capacity, Room.is_active).where(Room.id == pk_of(room)))).one() == (
            60,
            True,
        )
        assert (await s.scalar(select(func.count()).select_from(Room))) == 3
    # the province's unit admin administers the General Office's subtree
    province_admin = signed_in(client, settings, await unit_admin(platform, "province_admin", "370000"))
    made = (await province_admin.execute(CREATE_ROOM, new))["data"]["createRoom"]
    assert (made["errors"], made["room"]["ownerUnit"]["code"]) == ([], GENERAL_OFFICE)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "  "}, [("name", "REQUIRED")]),
        ({"name": "会" * 101}, [("name", "TOO_LONG")]),
        ({"name": "第一会议室"}, [("name", "DUPLICATE")]),
        ({"capacity": 0}, [("capacity", "INVALID_VALUE")]),
        ({"capacity": 10001}, [("capacity", "INVALID_VALUE")]),
        ({"equipment": [f"k{n}" for n in range(21)]}, [("equipment", "TOO_MANY")]),
        ({"equipment": ["projector", "x" * 41, " "]}, [("equipment.1", "TOO_LONG"), ("equipment.2", "REQUIRED")]),
        ({"floor": "1" * 21, "building": "楼" * 101}, [("building", "TOO_LONG"), ("floor", "TOO_LONG")]),
        ({"address": "路" * 301, "capacity": -1}, [("address", "TOO_LONG"), ("capacity", "INVALID_VALUE")]),
        ({"ownerUnitId": gid("OrgUnit", 999999)}, [("ownerUnitId", "NOT_FOUND")]),
    ],
)
async def test_bad_room_input_is_refused_naming_the_field(platform, ids, client, settings, fields, expected) -> None:
    admin = signed_in(client, settings, await unit_admin(platform, "go_admin", GENERAL_OFFICE))
    base = {"ownerUnitId": gid("OrgUnit", ids[GENERAL_OFFICE]), "name": "第三会议室", "capacity": 10}
    out = (await admin.execute(CREATE_ROOM, {"input": {**base, **fields}}))["data"]["createRoom"]
    assert out["room"] is None
    assert codes(out) == expected
    async with platform.db.read() as s:
        assert (await s.scalar(select(func.count()).select_from(Room))) == 3


async def test_renaming_to_a_taken_name_and_bad_changes_are_refused(platform, client, settings) -> None:
    admin = signed_in(client, settings, await unit_admin(platform, "go_admin", GENERAL_OFFICE))
    room = gid("Room", await demo_room(platform, "第二会议室"))
    taken = (await admin.execute(UPDATE_ROOM, {"input": {"id": room, "version": 1, "name": "第一会议室"}}))["data"][
        "updateRoom"
    ]
    assert codes(taken) == [("name", "DUPLICATE")]
    bad = (
        await admin.execute(
            UPDATE_ROOM, {"input": {"id": room, "version": 1, "name": "", "capacity": 0, "equipment": [""]}}
        )
    )["data"]["updateRoom"]
    assert codes(bad) == [("name", "REQUIRED"), ("capacity", "INVALID_VALUE"), ("equipment.0", "REQUIRED")]
    same = (await admin.execute(UPDATE_ROOM, {"input": {"id": room, "version": 1, "capacity": 20}}))["data"][
        "updateRoom"
    ]
    assert (same["errors"], same["room"]["version"]) == ([], 1)  # nothing changed: no new version
    missing = (await admin.execute(UPDATE_ROOM, {"input": {"id": gid("Room", 999999), "version": 1}}))["data"]
    assert codes(missing["updateRoom"]) == [("id", "NOT_FOUND")]


async def test_lowering_capacity_below_a_future_meeting_is_allowed_and_counted(
    platform, ids, as_, client, settings
) -> None:
    admin = signed_in(client, settings, await unit_admin(platform, "go_admin", GENERAL_OFFICE))
    room = gid("Room", await demo_room(platform, "第二会议室"))
    people = [{"userId": gid("User", ids[u])} for u in ("finance_head", "drc_head", "deputy")]
    unit = {"unitId": gid("OrgUnit", ids["370200"]), "quota": 2}
    assert (await create_meeting(as_("clerk"), ids, roomId=room, invitees=[*people, unit]))["errors"] == []  # 5 seats
    assert (await create_meeting(as_("clerk"), ids, roomId=room, startAt=local(DAY, 14), endAt=local(DAY, 15)))[
        "errors"
    ] == []  # no invitee: 0 seats
    out = (await admin.execute(UPDATE_ROOM, {"input": {"id": room, "version": 1, "capacity": 4}}))["data"]["updateRoom"]
    assert (out["errors"], out["room"]["capacity"], out["meetingsOverCapacity"]) == ([], 4, 1)
    fits = (await admin.execute(UPDATE_ROOM, {"input": {"id": room, "version": 2, "capacity": 5}}))["data"][
        "updateRoom"
    ]
    assert (fits["room"]["capacity"], fits["meetingsOverCapacity"]) == (5, 0)
    assert [s for s, _, _ in await holding(platform, pk_of(room))] == ["approved", "approved"]


async def test_two_admins_changing_one_room_at_once_one_gets_stale_version(platform, client, settings) -> None:
    a = signed_in(client, settings, await unit_admin(platform, "go_admin", GENERAL_OFFICE))
    b = signed_in(client, settings, await unit_admin(platform, "go_admin2", GENERAL_OFFICE))
    room = gid("Room", await demo_room(platform, "第二会议室"))
    results = await asyncio.gather(
        a.execute(UPDATE_ROOM, {"input": {"id": room, "version": 1, "capacity": 25}}),
        b.execute(UPDATE_ROOM, {"input": {"id": room, "version": 1, "capacity": 30}}),
    )
    outs = [r["data"]["updateRoom"] for r in results]
    assert sorted(str(codes(o)) for o in outs) == ["[('version', 'STALE_VERSION')]", "[]"]
    winner = next(o for o in outs if not o["errors"])
    async with platform.db.read() as s:
        row = (await s.execute(select(Room.capacity, Room.version).where(Room.id == pk_of(room)))).one()
    assert tuple(row) == (winner["room"]["capacity"], 2)


async def test_a_retired_room_keeps_its_bookings_but_takes_no_new_one(platform, ids, as_, client, settings) -> None:
    admin = signed_in(client, settings, await unit_admin(platform, "go_admin", GENERAL_OFFICE))
    clerk = as_("clerk")
    room = gid("Room", await demo_room(platform, "第二会议室"))
    assert (await create_meeting(clerk, ids, roomId=room))["errors"] == []
    assert (await admin.execute(RETIRE_ROOM, {"input": {"id": room}}))["data"]["retireRoom"]["errors"] == []
    refused = await create_meeting(clerk, ids, roomId=room, startAt=local(DAY, 14), endAt=local(DAY, 15))
    assert codes(refused) == [("roomId", "INACTIVE")]
    assert await holding(platform, pk_of(room)) == [("approved", utc(DAY, 9), utc(DAY, 10))]
    office = gid("OrgUnit", ids[GENERAL_OFFICE])
    listed = (await clerk.execute(rooms_query(f'unitId: "{office}"')))["data"]["rooms"]
    assert "第二会议室" not in [r["name"] for r in listed]
    with_retired = (await clerk.execute(rooms_query(f'unitId: "{office}", includeRetired: true')))["data"]["rooms"]
    assert [r["isActive"] for r in with_retired if r["name"] == "第二会议室"] == [False]


# ---- schedule ----------------------------------------------------------------------------


async def test_the_schedule_shows_the_title_to_those_who_see_the_meeting_and_busy_to_others(platform, ids, as_) -> None:
    room = gid("Room", await demo_room(platform, "第一会议室"))
    made = await create_meeting(as_("clerk"), ids, roomId=room, invitees=[{"userId": gid("User", ids["finance_head"])}])
    after = await create_meeting(
        as_("clerk"), ids, roomId=room, title="专题会", startAt=local(DAY, 10), endAt=local(DAY, 11)
    )
    window = {"room": room, "from": local(DAY, 0), "to": local(D(2026, 6, 3), 0)}
    seen = (await as_("finance_head").execute(SCHEDULE, window))["data"]["roomSchedule"]
    assert [(e["startAt"], e["endAt"], e["status"], e["title"]) for e in seen] == [
        ("2026-06-02T01:00:00+00:00", "2026-06-02T02:00:00+00:00", "APPROVED", "全省安全生产工作会议"),
        ("2026-06-02T02:00:00+00:00", "2026-06-02T03:00:00+00:00", "APPROVED", None),
    ]
    assert seen[0]["occurrence"] == {
        "id": made["meeting"]["occurrences"][0]["id"],
        "meeting": {"title": "全省安全生产工作会议"},
    }
    assert seen[1]["occurrence"] is None
    stranger = (await as_("li_na").execute(SCHEDULE, window))["data"]["roomSchedule"]
    assert [(e["title"], e["occurrence"]) for e in stranger] == [(None, None), (None, None)]
    organiser = (await as_("clerk").execute(SCHEDULE, window))["data"]["roomSchedule"]
    assert [e["title"] for e in organiser] == ["全省安全生产工作会议", "专题会"]
    assert after["errors"] == []
    # the window is half-open: a window ending at 09:00 sees nothing
    early = {**window, "to": local(DAY, 9)}
    assert (await as_("clerk").execute(SCHEDULE, early))["data"]["roomSchedule"] == []


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({"from": "2026-06-02T09:00:00+08:00", "to": "2026-06-02T09:00:00+08:00"}, ("INVALID_VALUE", "to")),
        ({"from": "2026-06-02T09:00:00+08:00", "to": "2026-09-03T09:00:00+08:00"}, ("INVALID_VALUE", "to")),
    ],
)
async def test_bad_schedule_windows_are_refused(platform, as_, window, expected) -> None:
    room = gid("Room", await demo_room(platform, "第一会议室"))
    res = await as_("clerk").execute(SCHEDULE, {"room": room, **window})
    assert top_code(res) == expected
    ok = {"from": "2026-06-02T09:00:00+08:00", "to": "2026-06-03T09:00:00+08:00"}
    assert top_code(await as_("clerk").execute(SCHEDULE, {"room": gid("Room", 999999), **ok})) == (
        "NOT_FOUND",
        "roomId",
    )


# ---- half-open intervals and recurring series --------------------------------------------


async def test_back_to_back_bookings_fit_and_a_one_minute_overlap_does_not(platform, ids, as_) -> None:
    room = gid("Room", await demo_room(platform, "第二会议室"))
    clerk = as_("clerk")
    assert (await create_meeting(clerk, ids, roomId=room))["errors"] == []
    assert (await create_meeting(clerk, ids, roomId=room, startAt=local(DAY, 10), endAt=local(DAY, 11)))["errors"] == []
    overlap = await create_meeting(clerk, ids, roomId=room, startAt=local(DAY, 10, 59), endAt=local(DAY, 12))
    assert codes(overlap) == [("roomId", "ROOM_TAKEN")]
    assert "第二会议室, 2026-06-02 10:59–2026-06-02 12:00" in overlap["errors"][0]["message"]
    before = await create_meeting(clerk, ids, roomId=room, startAt=local(DAY, 8), endAt=local(DAY, 9, 1))
    assert codes(before) == [("roomId", "ROOM_TAKEN")]
    assert [(s, a, b) for s, a, b in await holding(platform, pk_of(room))] == [
        ("approved", utc(DAY, 9), utc(DAY, 10)),
        ("approved", utc(DAY, 10), utc(DAY, 11)),
    ]


async def test_a_series_colliding_with_a_pending_booking_on_its_fifth_occurrence_is_refused_whole(
    platform, ids, as_
) -> None:
    room = gid("Room", await demo_room(platform, "省政府常务会议室"))
    # the deputy does not answer for the General Office (its clerk does): the booking waits, and holds the room
    fifth = await create_meeting(
        as_("deputy"), ids, roomId=room, startAt=local(D(2026, 6, 30), 9, 30), endAt=local(D(2026, 6, 30), 10, 30)
    )
    assert fifth["errors"] == []
    series = await create_meeting(as_("clerk"), ids, roomId=room, recurrence="FREQ=WEEKLY;COUNT=6")
    assert codes(series) == [("roomId", "ROOM_TAKEN")]
    assert "occurrence 5, 2026-06-30 09:00" in series["errors"][0]["message"]
    assert await holding(platform, pk_of(room)) == [
        ("pending", utc(D(2026, 6, 30), 9, 30), utc(D(2026, 6, 30), 10, 30))
    ]
    async with platform.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Meeting)) == 1


# ---- approval ----------------------------------------------------------------------------


async def test_a_pending_booking_is_announced_listed_and_approved_by_whoever_answers_for_the_unit(
    platform, ids, as_
) -> None:
    room = gid("Room", await demo_room(platform, "省政府常务会议室"))
    made = await create_meeting(as_("deputy"), ids, roomId=room, title="省政府常务会议")
    assert made["errors"] == []
    meeting_id = made["meeting"]["id"]
    occ = (await as_("deputy").execute(OCCURRENCE_BOOKINGS, {"id": meeting_id}))["data"]["meeting"]["occurrences"]
    assert occ[0]["booking"] == {
        "status": "PENDING",
        "decidedBy": None,
        "decisionRemark": None,
        "room": {"name": "省政府常务会议室"},
    }
    notes = (await as_("clerk").execute(NOTES))["data"]["notifications"]["edges"]
    assert [(n["node"]["kind"], n["node"]["title"], n["node"]["body"], n["node"]["subjectType"]) for n in notes] == [
        (
            "ROOM_BOOKING_REQUESTED",
            "会议室预订待审批：省政府常务会议室",
            "省政府常务会议，2026-06-02 09:00–10:00",
            "RoomBooking",
        )
    ]
    pending = (await as_("clerk").execute(PENDING))["data"]["pendingRoomBookings"]
    assert len(pending) == 1
    booking = pending[0]
    assert booking["id"] == notes[0]["node"]["subjectId"]
    assert (booking["status"], booking["meetingTitle"], booking["convener"]["username"]) == (
        "PENDING",
        "省政府常务会议",
        "deputy",
    )
    assert (booking["organizerUnit"]["code"], booking["startAt"], booking["endAt"]) == (
        GENERAL_OFFICE,
        "2026-06-02T01:00:00+00:00",
        "2026-06-02T02:00:00+00:00",
    )
    assert booking["occurrence"] is not None  # the clerk answers for the organising unit: a viewer
    # nobody else sees it waiting; the deputy heads the unit but the unit has a clerk
    assert (await as_("deputy").execute(PENDING))["data"]["pendingRoomBookings"] == []
    for who in ("deputy", "li_na"):
        out = (await as_(who).execute(APPROVE, {"input": {"bookingId": booking["id"]}}))["data"]["approveRoomBooking"]
        assert (who, codes(out), out["bookings"]) == (who, [("bookingId", "FORBIDDEN")], [])
    ok = (await as_("clerk").execute(APPROVE, {"input": {"bookingId": booking["id"]}}))["data"]["approveRoomBooking"]
    assert ok["errors"] == []
    assert [(b["status"], b["decidedBy"]["username"], b["decidedAt"]) for b in ok["bookings"]] == [
        ("APPROVED", "clerk", "2026-06-01T02:00:00+00:00")
    ]
    again = (await as_("clerk").execute(APPROVE, {"input": {"bookingId": booking["id"]}}))["data"]["approveRoomBooking"]
    assert codes(again) == [("bookingId", "INVALID_STATE")]
    told = (await as_("deputy").execute(NOTES))["data"]["notifications"]["edges"]
    assert [(n["node"]["kind"], n["node"]["title"], n["node"]["subjectId"]) for n in told] == [
        ("ROOM_BOOKING_DECIDED", "会议室预订已批准：省政府常务会议室", meeting_id)
    ]
    assert (await as_("clerk").execute(PENDING))["data"]["pendingRoomBookings"] == []
    # the clerk's own booking of the room is approved at once, and nobody is asked
    own = await create_meeting(as_("clerk"), ids, roomId=room, startAt=local(DAY, 14), endAt=local(DAY, 15))
    assert own["errors"] == []
    assert [s for s, _, _ in await holding(platform, pk_of(room))] == ["approved", "approved"]
    assert len((await as_("clerk").execute(NOTES))["data"]["notifications"]["edges"]) == 1


async def test_refusing_a_series_releases_the_room_and_tells_the_convener_why(platform, ids, as_) -> None:
    room_pk = await demo_room(platform, "省政府常务会议室")
    room = gid("Room", room_pk)
    made = await create_meeting(as_("deputy"), ids, roomId=room, title="周例会", recurrence="FREQ=WEEKLY;COUNT=3")
    assert made["errors"] == []
    notes = (await as_("clerk").execute(NOTES))["data"]["notifications"]["edges"]
    assert [(n["node"]["kind"], n["node"]["body"], n["node"]["data"]) for n in notes] == [
        ("ROOM_BOOKING_REQUESTED", "周例会，2026-06-02 09:00–10:00 起，共 3 次", {"bookings": 3})
    ]
    pending = (await as_("clerk").execute(PENDING))["data"]["pendingRoomBookings"]
    assert [b["startAt"][:10] for b in pending] == ["2026-06-02", "2026-06-09", "2026-06-16"]
    # while it waits, the room is held
    june9 = {"startAt": local(D(2026, 6, 9), 9, 30), "endAt": local(D(2026, 6, 9), 10, 30)}
    blocked = await create_meeting(as_("clerk"), ids, roomId=room, **june9)
    assert codes(blocked) == [("roomId", "ROOM_TAKEN")]
    second = pending[1]["id"]
    no_reason = (await as_("clerk").execute(REFUSE, {"input": {"bookingId": second, "reason": " "}}))["data"]
    assert codes(no_reason["refuseRoomBooking"]) == [("reason", "REQUIRED")]
    too_long = (await as_("clerk").execute(REFUSE, {"input": {"bookingId": second, "reason": "因" * 501}}))["data"]
    assert codes(too_long["refuseRoomBooking"]) == [("reason", "TOO_LONG")]
    out = (await as_("clerk").execute(REFUSE, {"input": {"bookingId": second, "reason": "当日已安排省政府常务会议"}}))[
        "data"
    ]["refuseRoomBooking"]
    assert out["errors"] == []
    assert [(b["status"], b["startAt"][:10], b["decisionRemark"]) for b in out["bookings"]] == [
        ("REFUSED", "2026-06-02", "当日已安排省政府常务会议"),
        ("REFUSED", "2026-06-09", "当日已安排省政府常务会议"),
        ("REFUSED", "2026-06-16", "当日已安排省政府常务会议"),
    ]
    assert await holding(platform, room_pk) == []
    shown = (await as_("deputy").execute(OCCURRENCE_BOOKINGS, {"id": made["meeting"]["id"]}))["data"]["meeting"]
    assert shown["room"] is None
    assert [
        (o["room"], o["booking"]["status"], o["booking"]["decidedBy"]["username"]) for o in shown["occurrences"]
    ] == [(None, "REFUSED", "clerk")] * 3
    told = (await as_("deputy").execute(NOTES))["data"]["notifications"]["edges"]
    assert [(n["node"]["kind"], n["node"]["title"], n["node"]["body"]) for n in told] == [
        (
            "ROOM_BOOKING_DECIDED",
            "会议室预订未获批准：省政府常务会议室",
            "周例会，2026-06-02 09:00–10:00 起，共 3 次。理由：当日已安排省政府常务会议",
        )
    ]
    # the slot is free again
    assert (await create_meeting(as_("clerk"), ids, roomId=room, **june9))["errors"] == []


async def test_one_occurrence_of_a_series_can_be_decided_alone(platform, ids, as_) -> None:
    room = gid("Room", await demo_room(platform, "省政府常务会议室"))
    assert (await create_meeting(as_("deputy"), ids, roomId=room, recurrence="FREQ=DAILY;COUNT=2"))["errors"] == []
    first = (await as_("clerk").execute(PENDING))["data"]["pendingRoomBookings"][0]["id"]
    once = {"input": {"bookingId": first, "wholeSeries": False, "idempotencyKey": "approve-1"}}
    out = (await as_("clerk").execute(APPROVE, once))["data"]["approveRoomBooking"]
    assert [(b["id"], b["status"], b["decidedBy"]["username"]) for b in out["bookings"]] == [
        (first, "APPROVED", "clerk")
    ]
    assert [s for s, _, _ in await holding(platform, pk_of(room))] == ["approved", "pending"]
    # a retry with the same key gets the first answer back instead of INVALID_STATE
    retry = (await as_("clerk").execute(APPROVE, once))["data"]["approveRoomBooking"]
    assert (retry["errors"], [b["status"] for b in retry["bookings"]]) == ([], ["APPROVED"])


async def test_approving_and_refusing_one_booking_at_once_one_of_them_wins(platform, ids, as_) -> None:
    room = gid("Room", await demo_room(platform, "省政府常务会议室"))
    assert (await create_meeting(as_("deputy"), ids, roomId=room, recurrence="FREQ=DAILY;COUNT=3"))["errors"] == []
    pending = (await as_("clerk").execute(PENDING))["data"]["pendingRoomBookings"]
    first, last = pending[0]["id"], pending[2]["id"]
    approve, refuse = await asyncio.gather(
        as_("clerk").execute(APPROVE, {"input": {"bookingId": first}}),
        as_("clerk").execute(REFUSE, {"input": {"bookingId": last, "reason": "冲突"}}),
    )
    outs = [approve["data"]["approveRoomBooking"], refuse["data"]["refuseRoomBooking"]]
    assert sorted(str(codes(o)) for o in outs) == ["[('bookingId', 'INVALID_STATE')]", "[]"]
    winner = next(o for o in outs if not o["errors"])
    statuses = {b["status"] for b in winner["bookings"]}
    assert (len(winner["bookings"]), len(statuses)) == (3, 1)
    async with platform.db.read() as s:
        rows = (await s.execute(select(RoomBooking.status).where(RoomBooking.room_id == pk_of(room)))).scalars().all()
    assert sorted(rows) == [statuses.pop().lower()] * 3


# ---- concurrency -------------------------------------------------------------------------


async def test_fifty_concurrent_bookings_of_one_room_and_slot_exactly_one_succeeds(
    platform, ids, client, settings
) -> None:
    room_pk = await demo_room(platform, "第一会议室")
    organisers = ("clerk", "deputy", "secretary_general")
    calls = [
        signed_in(client, settings, ids[organisers[n % 3]]).execute(
            CREATE_MEETING, {"input": meeting_input(ids, title=f"协调会{n:02d}", roomId=gid("Room", room_pk))}
        )
        for n in range(50)
    ]
    started = time.perf_counter()
    results = await asyncio.gather(*calls)
    elapsed = time.perf_counter() - started
    payloads = [r["data"]["createMeeting"] for r in results]
    winners = [p for p in payloads if not p["errors"]]
    losers = [codes(p) for p in payloads if p["errors"]]
    assert len(winners) == 1, [p["errors"] for p in payloads]
    assert losers == [[("roomId", "ROOM_TAKEN")]] * 49
    assert await holding(platform, room_pk) == [("approved", utc(DAY, 9), utc(DAY, 10))]
    async with platform.db.read() as s:  # no half-written meeting behind a refusal
        assert await s.scalar(select(func.count()).select_from(Meeting)) == 1
        assert await s.scalar(select(func.count()).select_from(MeetingOccurrence)) == 1
        assert await s.scalar(select(func.count()).select_from(RoomBooking)) == 1
    print(f"50 concurrent createMeeting on {platform.db.write_engine.dialect.name}: {elapsed:.2f} s")


async def _race(platform: Any, room_id: int, occurrence_ids: list[int]) -> list[str]:
    """Two units of work that both pass the overlap check before either writes, then both
    insert a booking of the same slot: what each one ends with ("ok" or the error code)."""
    start, end = utc(DAY, 9), utc(DAY, 10)
    first_written, second_checked = asyncio.Event(), asyncio.Event()

    async def first() -> str:
        async with platform.db.unit_of_work() as uow:
            room = await uow.session.get(Room, room_id)
            assert await rooms.clashes(uow, room_id, start, end) is None
            uow.session.add(
                RoomBooking(
                    room_id=room_id, occurrence_id=occurrence_ids[0], start_at=start, end_at=end, status="approved"
                )
            )
            await rooms.flush_bookings(uow, room)
            first_written.set()
            await second_checked.wait()
        return "ok"

    async def second() -> str:
        await first_written.wait()
        try:
            async with platform.db.unit_of_work() as uow:
                room = await uow.session.get(Room, room_id)
                # the first one's row is not committed: the check finds nothing
                assert await rooms.clashes(uow, room_id, start, end) is None
                second_checked.set()
                uow.session.add(
                    RoomBooking(
                        room_id=room_id, occurrence_id=occurrence_ids[1], start_at=start, end_at=end, status="pending"
                    )
                )
                await rooms.flush_bookings(uow, room)
        except DomainError as exc:
            return f"{exc.code.value} {exc.field}"
        return "ok"

    return list(await asyncio.gather(first(), second()))


async def _two_occurrences(ids: dict[str, int], as_: Any) -> list[int]:
    out = []
    for title in ("甲会议", "乙会议"):
        made = await create_meeting(as_("clerk"), ids, title=title)
        out.append(pk_of(made["meeting"]["occurrences"][0]["id"]))
    return out


#: The exclusion constraint is PostgreSQL's; on SQLite, BEGIN IMMEDIATE serialises the check (tested above).
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@POSTGRESQL_ONLY
async def test_the_postgresql_exclusion_constraint_refuses_what_two_checks_let_through(platform, ids, as_) -> None:
    room_pk = await demo_room(platform, "第二会议室")
    assert await _race(platform, room_pk, await _two_occurrences(ids, as_)) == ["ok", "ROOM_TAKEN roomId"]
    assert await holding(platform, room_pk) == [("approved", utc(DAY, 9), utc(DAY, 10))]


@POSTGRESQL_ONLY
async def test_without_the_constraint_the_same_race_double_books_the_room(platform, ids, as_) -> None:
    """The check alone is not enough under PostgreSQL's READ COMMITTED: this is why the
    exclusion constraint exists."""
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(text("ALTER TABLE room_bookings DROP CONSTRAINT ex_room_bookings_no_overlap"))
    room_pk = await demo_room(platform, "第二会议室")
    assert await _race(platform, room_pk, await _two_occurrences(ids, as_)) == ["ok", "ok"]
    assert await holding(platform, room_pk) == [
        ("approved", utc(DAY, 9), utc(DAY, 10)),
        ("pending", utc(DAY, 9), utc(DAY, 10)),
    ]


# ---- moving and releasing (called by the other meeting modules) --------------------------


async def test_move_booking_rechecks_ignoring_itself_and_release_frees_the_room(platform, ids, as_) -> None:
    clerk = as_("clerk")
    second_pk = await demo_room(platform, "第二会议室")
    approval_pk = await demo_room(platform, "省政府常务会议室")
    room = gid("Room", second_pk)
    moving = await create_meeting(clerk, ids, roomId=room)  # 09:00–10:00
    assert (await create_meeting(clerk, ids, roomId=room, startAt=local(DAY, 11), endAt=local(DAY, 12)))["errors"] == []
    occ_id = pk_of(moving["meeting"]["occurrences"][0]["id"])
    async with platform.db.read() as s:
        deputy = await load_actor(s, ids["deputy"])
    assert deputy is not None

    async def move(room_pk: int | None, start: dt.datetime, end: dt.datetime, **kw: Any) -> Any:
        async with platform.db.unit_of_work() as uow:
            occ = await uow.session.get(MeetingOccurrence, occ_id)
            assert occ is not None
            target = await uow.session.get(Room, room_pk) if room_pk else None
            if kw.pop("announce", False):
                kw.update(broker=platform.broker, meeting=await uow.session.get(Meeting, occ.meeting_id))
            booking = await rooms.move_booking(uow, occ, target, start, end, **kw)
            return None if booking is None else (booking.room_id, booking.status, booking.start_at, booking.end_at)

    # half an hour later, inside its own old slot: fine, still approved
    assert await move(second_pk, utc(DAY, 9, 30), utc(DAY, 10, 30)) == (
        second_pk,
        "approved",
        utc(DAY, 9, 30),
        utc(DAY, 10, 30),
    )
    with pytest.raises(DomainError) as taken:
        await move(second_pk, utc(DAY, 10, 30), utc(DAY, 11, 1))
    assert (taken.value.code.value, taken.value.field) == ("ROOM_TAKEN", "roomId")
    assert await move(second_pk, utc(DAY, 10), utc(DAY, 11)) == (second_pk, "approved", utc(DAY, 10), utc(DAY, 11))
    # to a room needing approval, moved by someone who does not answer for its unit: pending,
    # and the unit's clerk is asked
    assert await move(approval_pk, utc(DAY, 10), utc(DAY, 11), actor=deputy, announce=True) == (
        approval_pk,
        "pending",
        utc(DAY, 10),
        utc(DAY, 11),
    )
    asked = (await as_("clerk").execute(NOTES))["data"]["notifications"]["edges"]
    assert [(n["node"]["kind"], n["node"]["body"]) for n in asked] == [
        ("ROOM_BOOKING_REQUESTED", "全省安全生产工作会议，2026-06-02 10:00–11:00")
    ]
    assert await holding(platform, second_pk) == [("approved", utc(DAY, 11), utc(DAY, 12))]
    # no room any more: released
    assert await move(None, utc(DAY, 10), utc(DAY, 11)) is None
    assert await holding(platform, approval_pk) == []
    other = pk_of((await create_meeting(clerk, ids, title="丙会议"))["meeting"]["occurrences"][0]["id"])
    # a retired room takes no booking moved into it
    async with platform.db.unit_of_work() as uow:
        (await uow.session.get(Room, second_pk)).is_active = False  # type: ignore[union-attr]
    with pytest.raises(DomainError) as inactive:
        await move(second_pk, utc(DAY, 14), utc(DAY, 15))
    assert inactive.value.code.value == "INACTIVE"
    # release: the room is free again at once; releasing twice changes nothing
    async with platform.db.unit_of_work() as uow:
        assert await rooms.release(uow, [occ_id, other]) == 0
    held = await holding(platform, second_pk)
    async with platform.db.read() as s:
        eleven = (
            await s.execute(
                select(RoomBooking.occurrence_id).where(
                    RoomBooking.room_id == second_pk, RoomBooking.status == "approved"
                )
            )
        ).scalar_one()
    async with platform.db.unit_of_work() as uow:
        assert await rooms.release(uow, [eleven]) == 1
    async with platform.db.unit_of_work() as uow:
        assert await rooms.release(uow, [eleven]) == 0
    assert held == [("approved", utc(DAY, 11), utc(DAY, 12))]
    assert await holding(platform, second_pk) == []

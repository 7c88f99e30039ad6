"""Set-up shared by the meeting tests: rooms, a createMeeting call, Shanghai instants.

:func:`add_room` writes a room directly (the room API is tested in tests/api/test_rooms.py;
the General Office's demo rooms are 第一会议室, 第二会议室 and 省政府常务会议室).
:func:`create_meeting` is the one place these tests create a meeting through GraphQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from meetings.models import Room
from office_api.workdays import SHANGHAI
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import gid

GENERAL_OFFICE = "370000-general_office"

MEETING_FIELDS = """id title state version startAt endAt allDay recurrence timeZone substitutionPolicy
  organizerUnit { code } convener { username } room { name }
  occurrences { id startAt endAt state isException room { name } }
  invitations { id role required quota state late user { username } unit { code } }"""
CREATE_MEETING = f"""mutation($input: CreateMeetingInput!) {{ createMeeting(input: $input) {{
  meeting {{ {MEETING_FIELDS} }} errors {{ field code message }} }} }}"""


def local(day: dt.date, hour: int = 9, minute: int = 0) -> str:
    """``day`` ``hour``:``minute`` in Asia/Shanghai as an ISO instant with its +08:00 offset."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI).isoformat()


def utc(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    """``day`` ``hour``:``minute`` Asia/Shanghai as an aware UTC instant."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI).astimezone(dt.UTC)


async def add_room(
    platform: Any,
    owner_unit_id: int,
    name: str = "第一会议室",
    *,
    capacity: int = 30,
    requires_approval: bool = False,
    building: str = "省政府1号楼",
) -> int:
    """A room of ``owner_unit_id`` written directly, with these details; returns its id. A room
    of that name in the unit (a demo room) is given these details instead."""
    async with platform.db.unit_of_work() as uow:
        room = (
            await uow.session.execute(select(Room).where(Room.owner_unit_id == owner_unit_id, Room.name == name))
        ).scalar_one_or_none()
        if room is None:
            room = Room(name=name, owner_unit_id=owner_unit_id)
            uow.session.add(room)
        room.building, room.floor, room.capacity = building, "3", capacity
        room.equipment, room.requires_approval = ["projector"], requires_approval
        await uow.session.flush()
        return room.id


def meeting_input(ids: dict[str, int], **fields: Any) -> dict[str, Any]:
    """A createMeeting input organised by the General Office, Tue 2026-06-02 09:00–10:00."""
    base: dict[str, Any] = {
        "title": "全省安全生产工作会议",
        "organizerUnitId": gid("OrgUnit", ids[GENERAL_OFFICE]),
        "startAt": local(dt.date(2026, 6, 2), 9),
        "endAt": local(dt.date(2026, 6, 2), 10),
    }
    base.update(fields)
    return base


async def create_meeting(client: GraphQLClient, ids: dict[str, int], **fields: Any) -> dict[str, Any]:
    """``createMeeting`` with :func:`meeting_input`; returns the payload (meeting, errors)."""
    res = await client.execute(CREATE_MEETING, {"input": meeting_input(ids, **fields)})
    assert "errors" not in res, res
    return res["data"]["createMeeting"]

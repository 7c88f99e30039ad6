"""Cheap ways to make notifications on a live server, for the delivery tests.

A meeting notice is one mutation that tells each invitee ``MEETING_INVITED``; a change of its
agenda tells every invitee ``MEETING_CHANGED``. Document actions (draft, submit, approve,
return) come from :class:`tests.e2e.live.Office`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from tests.e2e.live import Office

CREATE_MEETING = """mutation($input: CreateMeetingInput!) {
  createMeeting(input: $input) { meeting { id version } errors { code field message } } }"""
UPDATE_MEETING = """mutation($input: UpdateMeetingInput!) {
  updateMeeting(input: $input) { meeting { id version } errors { code field message } } }"""

_start = itertools.count(1)


@dataclass
class Meetings:
    """Meetings organised by one person for their unit."""

    office: Office
    organizer: str
    unit_id: str

    @classmethod
    async def of(cls, office: Office, organizer: str) -> Meetings:
        me = (await office.call(organizer, "{ me { positions { unit { id } } } }"))["me"]
        return cls(office, organizer, me["positions"][0]["unit"]["id"])

    async def invite(self, user_ids: list[str], title: str) -> dict[str, Any]:
        """A new meeting (a distinct future hour each time) inviting ``user_ids``: each gets
        ``MEETING_INVITED``. Returns ``{id, version}``."""
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30, hours=next(_start))
        out = await self.office.call(
            self.organizer,
            CREATE_MEETING,
            input={
                "title": title,
                "organizerUnitId": self.unit_id,
                "startAt": start.isoformat(),
                "endAt": (start + dt.timedelta(minutes=30)).isoformat(),
                "invitees": [{"userId": u, "role": "PARTICIPANT"} for u in user_ids],
            },
        )
        assert out["createMeeting"]["errors"] == [], out
        return out["createMeeting"]["meeting"]

    async def change_agenda(self, meeting: dict[str, Any], agenda: str) -> dict[str, Any]:
        """Every invitee gets ``MEETING_CHANGED``; returns the meeting's new ``{id, version}``."""
        out = await self.office.call(
            self.organizer,
            UPDATE_MEETING,
            input={"meetingId": meeting["id"], "expectedVersion": meeting["version"], "agenda": agenda},
        )
        assert out["updateMeeting"]["errors"] == [], out
        return out["updateMeeting"]["meeting"]

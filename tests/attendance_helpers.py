"""Set-up shared by the check-in and minutes tests: replies, leave, substitutes and nominees
written directly in the database (their own API is tested in its own module), a check-in code,
and a check-in call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from meetings.models import (
    CheckIn,
    Invitation,
    LeaveRequest,
    LeaveState,
    OccurrenceReply,
    ReplyState,
)
from tests.conftest import GraphQLClient

CODE = """query($id: ID!) { meetingCheckInCode(occurrenceId: $id) { token qrText opensAt closesAt
  occurrence { id } } }"""
CHECK_IN = """mutation($input: CheckInToMeetingInput!) { checkInToMeeting(input: $input) {
  checkIn { checkedInAt late method user { username } invitation { role } occurrence { id } }
  errors { field code message } } }"""


async def invitation_of(platform: Any, meeting_id: int, user_id: int | None = None, unit_id: int | None = None) -> int:
    """The id of the invitation of ``user_id`` (or ``unit_id``) to the meeting."""
    async with platform.db.read() as s:
        q = select(Invitation.id).where(Invitation.meeting_id == meeting_id)
        q = q.where(Invitation.user_id == user_id) if user_id else q.where(Invitation.unit_id == unit_id)
        return (await s.execute(q)).scalar_one()


async def reply(platform: Any, invitation_id: int, state: ReplyState, occurrence_id: int | None = None) -> None:
    """A reply (回执) for the series, or for one occurrence (an OccurrenceReply)."""
    async with platform.db.unit_of_work() as uow:
        if occurrence_id is None:
            inv = await uow.session.get(Invitation, invitation_id)
            assert inv is not None
            inv.state = state.value
        else:
            uow.session.add(
                OccurrenceReply(invitation_id=invitation_id, occurrence_id=occurrence_id, state=state.value)
            )


async def approve_leave(
    platform: Any,
    invitation_id: int,
    decided_by: int,
    *,
    substitute_user_id: int | None = None,
    occurrence_id: int | None = None,
    reason: str = "外出公务",
) -> int | None:
    """An APPROVED leave request (请假). Without a substitute the invitee is DECLINED; with one
    the invitee is DELEGATED and the substitute gets an invitation of record (same role,
    ``on_behalf_of_id`` = the invitee's). For one occurrence, the states go to an
    OccurrenceReply. Returns the substitute's invitation id, if any."""
    async with platform.db.unit_of_work() as uow:
        s = uow.session
        inv = await s.get(Invitation, invitation_id)
        assert inv is not None
        sub_id = None
        if substitute_user_id is not None:
            sub = Invitation(
                meeting_id=inv.meeting_id,
                user_id=substitute_user_id,
                role=inv.role,
                on_behalf_of_id=inv.id,
                state=ReplyState.ACCEPTED.value,
            )
            s.add(sub)
            await s.flush()
            sub_id = sub.id
        state = ReplyState.DELEGATED if substitute_user_id else ReplyState.DECLINED
        if occurrence_id is None:
            inv.state = state.value
        else:
            s.add(OccurrenceReply(invitation_id=inv.id, occurrence_id=occurrence_id, state=state.value))
        s.add(
            LeaveRequest(
                invitation_id=inv.id,
                occurrence_id=occurrence_id,
                reason=reason,
                substitute_user_id=substitute_user_id,
                state=LeaveState.APPROVED.value,
                requested_by_id=inv.user_id or decided_by,
                decided_by_id=decided_by,
                decided_at=dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC),
                substitute_invitation_id=sub_id,
            )
        )
        return sub_id


async def pending_substitution(platform: Any, invitation_id: int, substitute_user_id: int) -> None:
    """A leave request naming a substitute, not (yet) approved: no substitute invitation."""
    async with platform.db.unit_of_work() as uow:
        inv = await uow.session.get(Invitation, invitation_id)
        assert inv is not None
        uow.session.add(
            LeaveRequest(
                invitation_id=inv.id,
                reason="另有安排",
                substitute_user_id=substitute_user_id,
                state=LeaveState.PENDING.value,
                requested_by_id=inv.user_id or substitute_user_id,
            )
        )


async def nominate(platform: Any, unit_invitation_id: int, user_id: int) -> int:
    """A unit's nominee: a person invitation with ``nominated_via_id``; returns its id."""
    async with platform.db.unit_of_work() as uow:
        unit_inv = await uow.session.get(Invitation, unit_invitation_id)
        assert unit_inv is not None
        row = Invitation(
            meeting_id=unit_inv.meeting_id,
            user_id=user_id,
            role=unit_inv.role,
            nominated_via_id=unit_inv.id,
            state=ReplyState.ACCEPTED.value,
        )
        uow.session.add(row)
        await uow.session.flush()
        return row.id


async def check_in_rows(platform: Any, occurrence_id: int) -> int:
    async with platform.db.read() as s:
        q = select(func.count()).select_from(CheckIn).where(CheckIn.occurrence_id == occurrence_id)
        return int((await s.execute(q)).scalar_one())


async def code_of(organiser: GraphQLClient, occurrence_gid: str) -> dict[str, Any]:
    res = await organiser.execute(CODE, {"id": occurrence_gid})
    assert "errors" not in res, res
    return res["data"]["meetingCheckInCode"]


async def check_in(client: GraphQLClient, token: str, occurrence_gid: str | None = None) -> dict[str, Any]:
    variables: dict[str, Any] = {"input": {"token": token}}
    if occurrence_gid is not None:
        variables["input"]["occurrenceId"] = occurrence_gid
    res = await client.execute(CHECK_IN, variables)
    assert "errors" not in res, res
    return res["data"]["checkInToMeeting"]

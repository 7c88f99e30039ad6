"""Set-up shared by the tests of meeting notices, invitations, replies and leave.

Meetings are created through GraphQL with :func:`tests.meetings_helpers.create_meeting`; these
helpers add the queries and mutations of the notice after creation and a reader of a person's
notifications (oldest first).
"""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient

INVITATION = """id state late isActive role occurrencesOnly version remark repliedAt
  user { username } unit { code } onBehalfOf { user { username } } nominatedVia { id }
  occurrenceReplies { state late remark occurrence { id } }
  nominees { user { username } } substitutes { user { username } }
  replySlip { phone arrival accommodation }"""
MEETING = f"""id version state title agenda location onlineLink contactName replyDeadline substitutionPolicy
  cancelReason chair {{ username }} convener {{ username }}
  occurrences {{ id startAt state }}
  invitations {{ {INVITATION} }}"""
LEAVE = """id state reason decisionRemark substitute { username } decidedBy { username } requestedBy { username }
  occurrence { id } invitation { id state }
  substituteInvitation { id state role occurrencesOnly user { username } onBehalfOf { user { username } } }"""
ERRORS = "errors { field code message }"


def _mutation(name: str, input_type: str, result: str, fields: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {result} {{ {fields} }} {ERRORS} }} }}"


UPDATE = _mutation("updateMeeting", "UpdateMeetingInput", "meeting", MEETING)
CANCEL = _mutation("cancelMeeting", "CancelMeetingInput", "meeting", MEETING)
INVITE = _mutation("inviteToMeeting", "InviteToMeetingInput", "meeting", MEETING)
WITHDRAW = _mutation("withdrawInvitation", "WithdrawInvitationInput", "invitation", INVITATION)
NOMINATE = _mutation("nominateAttendees", "NominateAttendeesInput", "invitation", INVITATION)
REPLY = _mutation("replyToMeeting", "ReplyToMeetingInput", "invitation", INVITATION)
LEAVE_REQUEST = _mutation("requestMeetingLeave", "RequestMeetingLeaveInput", "leaveRequest", LEAVE)
DECIDE = _mutation("decideMeetingLeave", "DecideMeetingLeaveInput", "leaveRequest", LEAVE)
ONE = f"query($id: ID!) {{ meeting(id: $id) {{ {MEETING} }} }}"
NOTES = "{ notifications(first: 50) { edges { node { kind title body data subjectType } } } }"


async def run(client: GraphQLClient, mutation: str, **input: Any) -> dict[str, Any]:
    """Run ``mutation`` with ``input``; returns its payload (no top-level errors allowed)."""
    res = await client.execute(mutation, {"input": input})
    assert "errors" not in res, res
    return next(iter(res["data"].values()))


def codes(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, code)`` of a payload's errors."""
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def meeting(client: GraphQLClient, meeting_id: str) -> dict[str, Any]:
    res = await client.execute(ONE, {"id": meeting_id})
    assert "errors" not in res, res
    return res["data"]["meeting"]


async def notes(client: GraphQLClient) -> list[tuple[str, dict[str, Any]]]:
    """The signed-in person's notifications as (kind, data), oldest first."""
    res = await client.execute(NOTES)
    assert "errors" not in res, res
    return [(e["node"]["kind"], e["node"]["data"]) for e in reversed(res["data"]["notifications"]["edges"])]


async def kinds(client: GraphQLClient) -> list[str]:
    return [k for k, _ in await notes(client)]


def invitation(m: dict[str, Any], who: str) -> dict[str, Any]:
    """The invitation of a person (username) or unit (code) in a meeting's invitations."""
    for inv in m["invitations"]:
        if (inv["user"] or {}).get("username") == who or (inv["unit"] or {}).get("code") == who:
            return inv
    raise AssertionError(f"{who} is not invited")

"""GraphQL surface of replies (回执), leave requests (请假) and substitutes (代参会), DOMAIN §7.2.
Rules live in ``meetings.replies``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from meetings import replies as svc
from meetings.models import Invitation, LeaveState, ReplyState
from meetings.models import LeaveRequest as LeaveModel
from schema.common import (
    IsAuthenticated,
    UserError,
    decode_id,
    idempotency_key_field,
    require_actor,
    run_mutation,
)
from schema.meeting_notices import MeetingInvitationPayload, invitation_payload
from schema.meetings import MeetingInvitation, MeetingOccurrence, ReplyStateEnum
from schema.org import User, user_by_id

LeaveStateEnum = strawberry.enum(
    LeaveState,
    name="MeetingLeaveState",
    description="A leave request (请假): PENDING (the convener or chair decides), APPROVED, REFUSED (the invitee is "
    "still expected), WITHDRAWN (the invitation was withdrawn or the meeting cancelled first).",
)


@strawberry.type(description="A leave request (请假), maybe naming a substitute (代参会), DOMAIN §7.2.")
class MeetingLeaveRequest(relay.Node):
    id: relay.NodeID[int]
    reason: str = strawberry.field(description="Why the invitee cannot attend.")
    state: LeaveStateEnum = strawberry.field(description="Where the request is.")  # type: ignore[valid-type]
    created_at: dt.datetime = strawberry.field(description="UTC instant of the request.")
    decided_at: dt.datetime | None = strawberry.field(
        description="UTC instant of the decision (of the request, under an ALLOWED policy); null while pending."
    )
    decision_remark: str | None = strawberry.field(description="The decider's remark.")
    model: strawberry.Private[LeaveModel]

    @classmethod
    def from_model(cls, m: LeaveModel) -> MeetingLeaveRequest:
        return cls(
            id=m.id,
            reason=m.reason,
            state=LeaveState(m.state),
            created_at=m.created_at,
            decided_at=m.decided_at,
            decision_remark=m.decision_remark,
            model=m,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[MeetingLeaveRequest | None]:
        actor = await require_actor(info)
        out: list[MeetingLeaveRequest | None] = []
        async with info.context.db.read() as s:
            for i in node_ids:
                row = await s.get(LeaveModel, int(i))
                out.append(cls.from_model(row) if row and await svc.may_see_leave(s, actor, row) else None)
        return out

    async def _invitation(self, info: Info, pk: int | None) -> MeetingInvitation | None:
        if pk is None:
            return None
        row = await info.context.loaders.meeting_invitation.load(pk)
        return MeetingInvitation.from_model(row) if row else None

    @strawberry.field(description="The invitation of the invitee asking leave.")
    async def invitation(self, info: Info) -> MeetingInvitation | None:
        return await self._invitation(info, self.model.invitation_id)

    @strawberry.field(description="The occurrence it concerns; null for the whole meeting or series.")
    async def occurrence(self, info: Info) -> MeetingOccurrence | None:
        if self.model.occurrence_id is None:
            return None
        m = await info.context.loaders.occurrence.load(self.model.occurrence_id)
        return MeetingOccurrence.from_model(m) if m else None

    @strawberry.field(description="The substitute named; null for leave without one.")
    async def substitute(self, info: Info) -> User | None:
        return await user_by_id(info, self.model.substitute_user_id)

    @strawberry.field(description="Once granted with a substitute: the substitute's invitation of record.")
    async def substitute_invitation(self, info: Info) -> MeetingInvitation | None:
        return await self._invitation(info, self.model.substitute_invitation_id)

    @strawberry.field(description="Who asked.")
    async def requested_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.model.requested_by_id)

    @strawberry.field(description="Who decided (the convener or chair); null while pending or when granted at once.")
    async def decided_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.model.decided_by_id)


@strawberry.input(description="A reply slip (回执) for an invitation, for the whole meeting or one occurrence.")
class ReplyToMeetingInput:
    invitation_id: relay.GlobalID = strawberry.field(description="Your MeetingInvitation (or your unit's).")
    state: ReplyStateEnum = strawberry.field(  # type: ignore[valid-type]
        description="ACCEPTED or DECLINED (a unit: DECLINED only; it accepts by naming attendees)."
    )
    occurrence_id: relay.GlobalID | None = strawberry.field(
        default=None, description="One occurrence (MeetingOccurrence) of a series; omitted = the whole meeting."
    )
    remark: str | None = strawberry.field(default=None, description="Remark, at most 500 characters.")
    phone: str | None = strawberry.field(default=None, description="Phone during the meeting (24); null: unchanged.")
    arrival: str | None = strawberry.field(default=None, description="Arrival: when and how (200); null: unchanged.")
    accommodation: str | None = strawberry.field(
        default=None, description="Accommodation wanted (200); null: unchanged."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="A leave request (请假) for the whole meeting or one occurrence.")
class RequestMeetingLeaveInput:
    invitation_id: relay.GlobalID = strawberry.field(description="Your person MeetingInvitation.")
    reason: str = strawberry.field(description="Why you cannot attend, required, at most 500 characters.")
    substitute_user_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="A substitute (代参会, a User not invited yet) to attend on your behalf, if the meeting's "
        "substitution policy allows one.",
    )
    occurrence_id: relay.GlobalID | None = strawberry.field(
        default=None, description="One occurrence (MeetingOccurrence) of a series; omitted = the whole meeting."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="The convener's or chair's decision on a leave request.")
class DecideMeetingLeaveInput:
    leave_request_id: relay.GlobalID = strawberry.field(description="The MeetingLeaveRequest.")
    approve: bool = strawberry.field(description="True to approve, false to refuse (the invitee is still expected).")
    remark: str | None = strawberry.field(default=None, description="Told to the requester, at most 500 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="A leave request after the change, or the problems found.")
class MeetingLeaveRequestPayload:
    leave_request: MeetingLeaveRequest | None = strawberry.field(description="The leave request after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def _leave_payload(row: LeaveModel | None, errors: list[UserError]) -> MeetingLeaveRequestPayload:
    return MeetingLeaveRequestPayload(leave_request=MeetingLeaveRequest.from_model(row) if row else None, errors=errors)


def _occurrence_id(gid: relay.GlobalID | None) -> int | None:
    return decode_id(gid, "MeetingOccurrence", "occurrenceId") if gid is not None else None


@strawberry.type
class MeetingReplyQuery:
    @strawberry.field(
        description="Leave requests (请假) of a meeting, oldest first, for its organisers (creator, convener, chair). "
        "Errors: NOT_FOUND (absent or not visible), FORBIDDEN (not an organiser).",
        permission_classes=[IsAuthenticated],
    )
    async def meeting_leave_requests(
        self,
        info: Info,
        meeting_id: Annotated[relay.GlobalID, strawberry.argument(description="The meeting or series.")],
        state: Annotated[
            LeaveStateEnum | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only requests in this state; omitted = all."),
        ] = None,
    ) -> list[MeetingLeaveRequest]:
        actor = await require_actor(info)
        pk = decode_id(meeting_id, "Meeting", "meetingId")
        async with info.context.db.read() as s:
            rows = await svc.leave_requests_of(s, actor, pk, LeaveState(state) if state else None)
        return [MeetingLeaveRequest.from_model(r) for r in rows]


@strawberry.type
class MeetingReplyMutation:
    @strawberry.mutation(
        description="Reply (回执) ACCEPTED or DECLINED, for the whole meeting or one occurrence, by the invitee (a "
        "unit's invitation: the people answering for it, DECLINED only, which withdraws its nominees). Replies after "
        "the reply deadline are marked late. A delegated invitee who replies takes their place back (the substitute "
        "is withdrawn). The convener gets MEETING_REPLY_RECEIVED. Errors: NOT_FOUND, FORBIDDEN, MEETING_CANCELLED, "
        "INVALID_STATE (withdrawn, ended), INVALID_VALUE, REQUIRED, TOO_LONG.",
        permission_classes=[IsAuthenticated],
    )
    async def reply_to_meeting(self, info: Info, input: ReplyToMeetingInput) -> MeetingInvitationPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> Invitation:
            data = svc.ReplyInput(
                invitation_id=decode_id(input.invitation_id, "MeetingInvitation", "invitationId"),
                state=ReplyState(input.state),
                occurrence_id=_occurrence_id(input.occurrence_id),
                remark=input.remark,
                phone=input.phone,
                arrival=input.arrival,
                accommodation=input.accommodation,
            )
            return await svc.reply_to_meeting(uow, broker, actor, data)

        return invitation_payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Ask leave (请假), maybe naming a substitute (代参会), per the meeting's substitution policy "
        "(DOMAIN §7.2): FORBIDDEN refuses a substitute (SUBSTITUTION_FORBIDDEN) and leaves a plain leave to the "
        "convener or chair; APPROVAL_REQUIRED waits for them (MEETING_LEAVE_REQUESTED); ALLOWED grants at once. "
        "Granted: without a substitute your reply becomes DECLINED; with one it becomes DELEGATED and the substitute "
        "gets an invitation of record on your behalf (MEETING_SUBSTITUTE_NAMED). Errors: NOT_FOUND, FORBIDDEN, "
        "INVALID_VALUE, MEETING_CANCELLED, INVALID_STATE, DUPLICATE (pending already; substitute already invited), "
        "REQUIRED, TOO_LONG, SUBSTITUTION_FORBIDDEN, INACTIVE.",
        permission_classes=[IsAuthenticated],
    )
    async def request_meeting_leave(self, info: Info, input: RequestMeetingLeaveInput) -> MeetingLeaveRequestPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> LeaveModel:
            data = svc.LeaveInput(
                invitation_id=decode_id(input.invitation_id, "MeetingInvitation", "invitationId"),
                reason=input.reason,
                substitute_user_id=decode_id(input.substitute_user_id, "User", "substituteUserId")
                if input.substitute_user_id is not None
                else None,
                occurrence_id=_occurrence_id(input.occurrence_id),
            )
            return await svc.request_meeting_leave(uow, broker, actor, data)

        return _leave_payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Approve or refuse a pending leave request, by the meeting's convener or chair (not your own). "
        "Approval applies it as requestMeetingLeave describes; refusal leaves the invitee expected. The requester "
        "gets MEETING_LEAVE_DECIDED. Errors: NOT_FOUND, FORBIDDEN, MEETING_CANCELLED, INVALID_STATE (decided already, "
        "or the meeting ended), TOO_LONG, SUBSTITUTION_FORBIDDEN (policy changed), DUPLICATE (substitute invited "
        "meanwhile).",
        permission_classes=[IsAuthenticated],
    )
    async def decide_meeting_leave(self, info: Info, input: DecideMeetingLeaveInput) -> MeetingLeaveRequestPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> LeaveModel:
            leave_id = decode_id(input.leave_request_id, "MeetingLeaveRequest", "leaveRequestId")
            return await svc.decide_meeting_leave(uow, broker, actor, leave_id, input.approve, input.remark)

        return _leave_payload(*await run_mutation(info, work, idempotent=input))

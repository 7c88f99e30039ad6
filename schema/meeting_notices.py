"""GraphQL surface of meeting notices after creation (DOMAIN §7.1): changing and cancelling a
notice, inviting more people and units, withdrawing an invitation, a unit's nominees, and the
signed-in person's invitations. Rules live in ``meetings.notices`` and ``meetings.invitations``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from meetings import invitations as svc
from meetings import notices
from meetings.models import Invitation, ReplyState, SubstitutionPolicy
from meetings.models import Meeting as MeetingModel
from schema.common import (
    IsAuthenticated,
    UserError,
    decode_id,
    decode_ids,
    idempotency_key_field,
    require_actor,
    run_mutation,
)
from schema.meetings import (
    InviteeInput,
    MeetingInvitation,
    MeetingPayload,
    ReplyStateEnum,
    SubstitutionPolicyEnum,
    invitee_inputs,
    meeting_payload,
)

_UNSET: Any = strawberry.UNSET


def _given(value: Any, convert: Any = None) -> Any:
    """Omitted (UNSET) → ``notices.KEEP``; null stays None (clear); else ``convert(value)``."""
    if value is strawberry.UNSET:
        return notices.KEEP
    if value is None or convert is None:
        return value
    return convert(value)


@strawberry.input(
    description="Notice fields to change (会议通知, DOMAIN §7.1). Omit a field to keep it; null clears an optional "
    "one. Times, rooms and recurrence change by rescheduling, not here. Instants need a UTC offset."
)
class UpdateMeetingInput:
    meeting_id: relay.GlobalID = strawberry.field(description="The meeting or series.")
    expected_version: int = strawberry.field(
        description="The meeting's version you read; if it changed meanwhile: STALE_VERSION (reload, retry)."
    )
    title: str | None = strawberry.field(default=_UNSET, description="Full meeting name, 1–200 characters.")
    agenda: str | None = strawberry.field(default=_UNSET, description="Purpose, topics or agenda (4,000).")
    materials: str | None = strawberry.field(default=_UNSET, description="Materials to prepare or bring (2,000).")
    logistics: str | None = strawberry.field(default=_UNSET, description="Transport, meals, dress, pickup (2,000).")
    location: str | None = strawberry.field(default=_UNSET, description="Address or place as written (300).")
    online_link: str | None = strawberry.field(default=_UNSET, description="Online-meeting link, an http(s) URL.")
    contact_name: str | None = strawberry.field(default=_UNSET, description="Contact person (64).")
    contact_phone: str | None = strawberry.field(default=_UNSET, description="Contact phone (24).")
    report_at: dt.datetime | None = strawberry.field(
        default=_UNSET, description="Arrival/registration (报到) instant, not after the start."
    )
    reply_deadline: dt.datetime | None = strawberry.field(
        default=_UNSET,
        description="Replies due by this instant, not after the start; moving it re-evaluates which replies are late.",
    )
    substitution_policy: SubstitutionPolicyEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=_UNSET, description="Substitutes: FORBIDDEN, APPROVAL_REQUIRED or ALLOWED (not null)."
    )
    chair_id: relay.GlobalID | None = strawberry.field(default=_UNSET, description="The chair (主持人); null: none.")
    convener_id: relay.GlobalID | None = strawberry.field(
        default=_UNSET, description="The convener (召集人), who decides leave requests (not null)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Cancel a meeting, or what is left of a series.")
class CancelMeetingInput:
    meeting_id: relay.GlobalID = strawberry.field(description="The meeting or series.")
    reason: str = strawberry.field(description="Why, told to everyone concerned; required, at most 500 characters.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version you read; if given and changed meanwhile: STALE_VERSION."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Invite more people and units to a meeting.")
class InviteToMeetingInput:
    meeting_id: relay.GlobalID = strawberry.field(description="The meeting or series.")
    invitees: list[InviteeInput] = strawberry.field(description="People and units to invite, 1–500.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Withdraw an invitation (uninvite).")
class WithdrawInvitationInput:
    invitation_id: relay.GlobalID = strawberry.field(description="The MeetingInvitation.")
    reason: str | None = strawberry.field(default=None, description="Told to the person, at most 500 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="The people a unit sends to a meeting (报名), replacing any named before.")
class NominateAttendeesInput:
    invitation_id: relay.GlobalID = strawberry.field(description="The unit's MeetingInvitation.")
    user_ids: list[relay.GlobalID] = strawberry.field(
        description="Users holding a post in the unit or a unit below it; at most the invitation's quota."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="An invitation after a change, or the problems found.")
class MeetingInvitationPayload:
    invitation: MeetingInvitation | None = strawberry.field(description="The invitation after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def invitation_payload(row: Invitation | None, errors: list[UserError]) -> MeetingInvitationPayload:
    return MeetingInvitationPayload(invitation=MeetingInvitation.from_model(row) if row else None, errors=errors)


@strawberry.type
class MeetingNoticeQuery:
    @strawberry.field(
        description="Your active invitations, by the meeting's start: your own (nominations and substitutions "
        "included) and those of the units you answer for (clerk, else head and deputies), e.g. nominations waiting "
        "for you. By default only meetings not cancelled with an occurrence not yet ended; at most 500.",
        permission_classes=[IsAuthenticated],
    )
    async def my_meeting_invitations(
        self,
        info: Info,
        state: Annotated[
            ReplyStateEnum | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only invitations whose (series) reply is in this state."),
        ] = None,
        include_past: Annotated[
            bool, strawberry.argument(description="Also cancelled and ended meetings (default false).")
        ] = False,
    ) -> list[MeetingInvitation]:
        actor = await require_actor(info)
        now = info.context.platform.clock()
        async with info.context.db.read() as s:
            rows = await svc.my_invitations(
                s, actor, now, state=ReplyState(state) if state else None, past=include_past
            )
        return [MeetingInvitation.from_model(r) for r in rows]


@strawberry.type
class MeetingNoticeMutation:
    @strawberry.mutation(
        description="Change notice fields of a meeting or series (organisers: creator, convener, chair). version + 1; "
        "MEETING_CHANGED to every invitee and the people answering for invited units (data.changed lists the "
        "fields); replies stay (no time changed). A change that changes nothing returns the meeting unchanged. "
        "Errors: NOT_FOUND, FORBIDDEN, MEETING_CANCELLED, STALE_VERSION, REQUIRED, TOO_LONG, INVALID_VALUE, "
        "INACTIVE.",
        permission_classes=[IsAuthenticated],
    )
    async def update_meeting(self, info: Info, input: UpdateMeetingInput) -> MeetingPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> MeetingModel:
            changes = notices.NoticeChanges(
                title=_given(input.title),
                agenda=_given(input.agenda, str),
                materials=_given(input.materials, str),
                logistics=_given(input.logistics, str),
                location=_given(input.location, str),
                online_link=_given(input.online_link),
                contact_name=_given(input.contact_name),
                contact_phone=_given(input.contact_phone),
                report_at=_given(input.report_at),
                reply_deadline=_given(input.reply_deadline),
                substitution_policy=_given(input.substitution_policy, SubstitutionPolicy),
                chair_id=_given(input.chair_id, lambda g: decode_id(g, "User", "chairId")),
                convener_id=_given(input.convener_id, lambda g: decode_id(g, "User", "convenerId")),
            )
            for name in ("agenda", "materials", "logistics", "location"):
                if getattr(changes, name) is None:
                    setattr(changes, name, "")
            meeting_id = decode_id(input.meeting_id, "Meeting", "meetingId")
            return await notices.update_meeting(uow, broker, actor, meeting_id, input.expected_version, changes)

        return meeting_payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Cancel a meeting, or the rest of a series (organisers): every occurrence not yet begun is "
        "cancelled and its room released; occurrences already held stay as they were. The meeting becomes CANCELLED "
        "only when none of its occurrences has begun; a series with held dates stays SCHEDULED with the rest of its "
        "dates cancelled. Pending leave requests for the meeting or a cancelled date are withdrawn; MEETING_CANCELLED "
        "(data.reason, data.occurrences = how many dates, data.meetingCancelled) to everyone concerned. Errors: "
        "NOT_FOUND, FORBIDDEN, MEETING_CANCELLED (already), STALE_VERSION, REQUIRED, TOO_LONG, INVALID_STATE (an "
        "occurrence is under way: cancel after it ends or cancel the later occurrences; or nothing left to cancel).",
        permission_classes=[IsAuthenticated],
    )
    async def cancel_meeting(self, info: Info, input: CancelMeetingInput) -> MeetingPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> MeetingModel:
            meeting_id = decode_id(input.meeting_id, "Meeting", "meetingId")
            return await notices.cancel_meeting(uow, broker, actor, meeting_id, input.reason, input.expected_version)

        return meeting_payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Invite more people and units (organisers). People get MEETING_INVITED, the people answering for "
        "a unit MEETING_NOMINATION_REQUESTED; someone withdrawn earlier is invited afresh. Errors: NOT_FOUND, "
        "FORBIDDEN, MEETING_CANCELLED, INVALID_STATE (ended), REQUIRED, TOO_MANY, INVALID_VALUE, DUPLICATE, INACTIVE, "
        "ROOM_OVER_CAPACITY (seats: one per person, the quota per unit; nominees and substitutes sit in those).",
        permission_classes=[IsAuthenticated],
    )
    async def invite_to_meeting(self, info: Info, input: InviteToMeetingInput) -> MeetingPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> MeetingModel:
            meeting_id = decode_id(input.meeting_id, "Meeting", "meetingId")
            invitees = invitee_inputs(input.invitees)
            return await svc.invite_to_meeting(uow, broker, actor, meeting_id, invitees)

        return meeting_payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Withdraw an invitation (organisers): it stays listed with isActive false; a unit's nominees and "
        "anyone's substitutes go with it; a withdrawn substitute hands the place back to the invitee. The withdrawn "
        "get MEETING_INVITATION_WITHDRAWN, an invitee expected again MEETING_CHANGED. Errors: NOT_FOUND, FORBIDDEN, "
        "MEETING_CANCELLED, INVALID_STATE (already withdrawn; the meeting has ended; the invitee, a nominee or a "
        "substitute going with it has checked in: attendance stays on record), TOO_LONG.",
        permission_classes=[IsAuthenticated],
    )
    async def withdraw_invitation(self, info: Info, input: WithdrawInvitationInput) -> MeetingInvitationPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> Invitation:
            invitation_id = decode_id(input.invitation_id, "MeetingInvitation", "invitationId")
            return await svc.withdraw_invitation(uow, broker, actor, invitation_id, input.reason)

        return invitation_payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Name who attends for an invited unit (by the people who answer for it: clerks, else head and "
        "deputies), replacing an earlier list: kept nominees keep their replies, dropped ones are withdrawn and told, "
        "new ones get MEETING_INVITED (data.nominatedViaId = the unit invitation). Nominees hold a post in the unit or "
        "a unit below it. The unit invitation becomes ACCEPTED. Errors: NOT_FOUND, FORBIDDEN, INVALID_VALUE, "
        "MEETING_CANCELLED, INVALID_STATE (withdrawn; ended; on userIds: a nominee left out has checked in), REQUIRED, "
        "QUOTA_EXCEEDED (userIds), DUPLICATE, INACTIVE.",
        permission_classes=[IsAuthenticated],
    )
    async def nominate_attendees(self, info: Info, input: NominateAttendeesInput) -> MeetingInvitationPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> Invitation:
            invitation_id = decode_id(input.invitation_id, "MeetingInvitation", "invitationId")
            user_ids = decode_ids(input.user_ids, "User", "userIds")
            return await svc.nominate_attendees(uow, broker, actor, invitation_id, user_ids)

        return invitation_payload(*await run_mutation(info, work, idempotent=input))

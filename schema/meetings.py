"""GraphQL read side of meetings (DOMAIN §7): rooms, meetings, occurrences, invitations.

The mutations live in the modules of each concern (rooms, meeting notices and replies,
recurrence, check-in, minutes, iCalendar); they return these types.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from meetings import access
from meetings import invitations as invitations_svc
from meetings import replies as replies_svc
from meetings import service as svc
from meetings.models import (
    DEFAULT_TIME_ZONE,
    AttendeeRole,
    BookingStatus,
    Invitation,
    MeetingState,
    OccurrenceState,
    ReplyState,
    SubstitutionPolicy,
)
from meetings.models import (
    Meeting as MeetingModel,
)
from meetings.models import (
    MeetingOccurrence as OccurrenceModel,
)
from meetings.models import (
    OccurrenceReply as OccurrenceReplyModel,
)
from meetings.models import (
    Room as RoomModel,
)
from meetings.rooms import check_window
from office_api.errors import DomainError, ErrorCode
from schema.common import (
    IsAuthenticated,
    UserError,
    decode_id,
    decode_ids,
    idempotency_key_field,
    require_actor,
    run_mutation,
    visible_nodes,
)
from schema.org import OrgUnit, User, unit_by_id, units_by_ids, user_by_id

if TYPE_CHECKING:
    from schema.rooms import RoomBooking

MeetingStateEnum = strawberry.enum(
    MeetingState, name="MeetingState", description="SCHEDULED, or CANCELLED (every occurrence cancelled)."
)
OccurrenceStateEnum = strawberry.enum(
    OccurrenceState, name="OccurrenceState", description="SCHEDULED, or CANCELLED (this occurrence only)."
)
SubstitutionPolicyEnum = strawberry.enum(
    SubstitutionPolicy,
    name="SubstitutionPolicy",
    description="Whether an invitee may send a substitute (代参会, DOMAIN §7.2): FORBIDDEN (leaders attend in person), "
    "APPROVAL_REQUIRED (a leave request 请假 approved by the convener or chair first), ALLOWED (the substitute is "
    "of record at once).",
)
AttendeeRoleEnum = strawberry.enum(
    AttendeeRole,
    name="AttendeeRole",
    description="出席 PARTICIPANT (full participant), 列席 NON_VOTING (attends without a vote), 旁听 OBSERVER "
    "(auditor), 特邀 SPECIAL_INVITEE (DOMAIN §7.1).",
)
ReplyStateEnum = strawberry.enum(
    ReplyState,
    name="ReplyState",
    description="A reply (回执): PENDING, ACCEPTED, DECLINED, or DELEGATED (a substitute attends on the invitee's "
    "behalf).",
)
BookingStatusEnum = strawberry.enum(
    BookingStatus,
    name="RoomBookingStatus",
    description="PENDING (the room's unit must approve; the room is held meanwhile), APPROVED, REFUSED, RELEASED "
    "(the occurrence was cancelled or moved elsewhere).",
)


@strawberry.type(description="A meeting room (会议室) of a unit.")
class Room(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Name, e.g. 第一会议室.")
    building: str = strawberry.field(description="Building.")
    floor: str | None = strawberry.field(description="Floor, as written (e.g. 3, B1).")
    address: str | None = strawberry.field(description="Street address, for attendees from elsewhere.")
    capacity: int = strawberry.field(description="Seats; a meeting's attendees of record may not exceed it.")
    equipment: list[str] = strawberry.field(description="Equipment keywords, e.g. projector, video_conference.")
    requires_approval: bool = strawberry.field(
        description="Bookings wait for approval by the owning unit (its head, deputies or clerks)."
    )
    is_active: bool = strawberry.field(description="False once retired: no new bookings.")
    version: int = strawberry.field(description="Increases on every change.")
    owner_unit_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: RoomModel) -> Room:
        return cls(
            id=m.id,
            name=m.name,
            building=m.building,
            floor=m.floor,
            address=m.address,
            capacity=m.capacity,
            equipment=list(m.equipment or []),
            requires_approval=m.requires_approval,
            is_active=m.is_active,
            version=m.version,
            owner_unit_id=m.owner_unit_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Room | None]:
        await require_actor(info)
        rows = await info.context.loaders.room.load_many([int(i) for i in node_ids])
        return [cls.from_model(r) if r else None for r in rows]

    @strawberry.field(description="The unit that owns and administers the room.")
    async def owner_unit(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.owner_unit_id)


@strawberry.type(description="One occurrence of a meeting: the meeting itself, or one instance of a recurring series.")
class MeetingOccurrence(relay.Node):
    id: relay.NodeID[int]
    start_at: dt.datetime = strawberry.field(description="UTC instant of the start (inclusive).")
    end_at: dt.datetime = strawberry.field(description="UTC instant of the end (exclusive: [startAt, endAt)).")
    recurrence_id: dt.datetime = strawberry.field(
        description="UTC instant the rule generated for this occurrence (RFC 5545 RECURRENCE-ID); unchanged when moved."
    )
    state: OccurrenceStateEnum = strawberry.field(description="SCHEDULED or CANCELLED.")  # type: ignore[valid-type]
    is_exception: bool = strawberry.field(description="True when moved or changed apart from its series.")
    is_moved: bool = strawberry.field(
        description="True when it no longer starts at its rule time: show it as moved from recurrenceId."
    )
    cancelled_at: dt.datetime | None = strawberry.field(
        description="UTC instant it was cancelled; null unless CANCELLED."
    )
    cancel_reason: str | None = strawberry.field(description="Why it was cancelled, as given.")
    version: int = strawberry.field(description="Increases on every change.")
    meeting_id: strawberry.Private[int]
    room_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, m: OccurrenceModel) -> MeetingOccurrence:
        return cls(
            id=m.id,
            start_at=m.start_at,
            end_at=m.end_at,
            recurrence_id=m.recurrence_id,
            state=OccurrenceState(m.state),
            is_exception=m.is_exception,
            is_moved=m.start_at != m.recurrence_id,
            cancelled_at=m.cancelled_at,
            cancel_reason=m.cancel_reason,
            version=m.version,
            meeting_id=m.meeting_id,
            room_id=m.room_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[MeetingOccurrence | None]:
        return await visible_nodes(info, node_ids, access.get_visible_occurrence, cls.from_model)

    @strawberry.field(description="The meeting (or series) this occurrence belongs to.")
    async def meeting(self, info: Info) -> Meeting:
        return Meeting.from_model(await info.context.loaders.meeting.load(self.meeting_id))

    @strawberry.field(description="The room booked for this occurrence; null for none (online, or an address only).")
    async def room(self, info: Info) -> Room | None:
        if self.room_id is None:
            return None
        m = await info.context.loaders.room.load(self.room_id)
        return Room.from_model(m) if m else None

    @strawberry.field(
        description="The room booking of this occurrence, whatever its status (PENDING, APPROVED, REFUSED, RELEASED); "
        "null when no room was ever booked for it."
    )
    async def booking(self, info: Info) -> Annotated[RoomBooking, strawberry.lazy("schema.rooms")] | None:
        from schema.rooms import booking_of_occurrence

        return await booking_of_occurrence(info, self.id)


@strawberry.type(description="The rest of a reply slip (回执, DOMAIN §7.2), as the invitee gave it.")
class MeetingReplySlip:
    phone: str | None = strawberry.field(description="Phone during the meeting.")
    arrival: str | None = strawberry.field(description="Arrival: when and how, e.g. 6月1日 G123次 15:00 到济南西站.")
    accommodation: str | None = strawberry.field(description="Accommodation wanted, as written.")


@strawberry.type(description="A reply for one occurrence of a series, overriding the invitation's series reply.")
class MeetingOccurrenceReply:
    state: ReplyStateEnum = strawberry.field(description="The reply for this occurrence.")  # type: ignore[valid-type]
    replied_at: dt.datetime | None = strawberry.field(
        description="UTC instant of the reply; null while PENDING (e.g. after the occurrence moved)."
    )
    late: bool = strawberry.field(description="The reply came after the meeting's reply deadline.")
    remark: str | None = strawberry.field(
        description="Remark (the leave reason for a delegated occurrence); null unless you may see the reply slip."
    )
    occurrence_id: strawberry.Private[int]

    @strawberry.field(description="The occurrence.")
    async def occurrence(self, info: Info) -> MeetingOccurrence | None:
        m = await info.context.loaders.occurrence.load(self.occurrence_id)
        return MeetingOccurrence.from_model(m) if m else None


@strawberry.type(
    description="Replies (回执) of a meeting: series replies, or the effective replies of one occurrence. People are "
    "active person invitations (nominees and substitutes included); units are active unit invitations."
)
class MeetingReplySummary:
    people: int = strawberry.field(description="People invited (a per-occurrence substitute only where it attends).")
    pending: int = strawberry.field(description="People who have not replied (or must reply again after a move).")
    accepted: int = strawberry.field(description="People attending.")
    declined: int = strawberry.field(description="People not attending (declined, or on approved leave).")
    delegated: int = strawberry.field(description="People whose substitute attends for them.")
    late: int = strawberry.field(description="Replies given after the reply deadline.")
    units: int = strawberry.field(description="Units invited.")
    units_pending: int = strawberry.field(description="Units that have named nobody yet.")
    units_nominated: int = strawberry.field(description="Units that named their attendees.")
    units_declined: int = strawberry.field(description="Units that will not attend.")


@strawberry.type(description="An invitation (and its reply 回执) of a person or of a unit to a meeting.")
class MeetingInvitation(relay.Node):
    id: relay.NodeID[int]
    role: AttendeeRoleEnum = strawberry.field(description="Attendee role.")  # type: ignore[valid-type]
    required: bool = strawberry.field(description="A required attendee (find-a-time needs all of them) or optional.")
    quota: int | None = strawberry.field(description="Unit invitations: how many people the unit may send.")
    required_rank: str | None = strawberry.field(
        description="Unit invitations: the rank or role asked for, e.g. 分管负责同志."
    )
    state: ReplyStateEnum = strawberry.field(description="The reply for the meeting or series.")  # type: ignore[valid-type]
    replied_at: dt.datetime | None = strawberry.field(description="UTC instant of the latest reply.")
    late: bool = strawberry.field(description="The reply came after the meeting's reply deadline.")
    is_active: bool = strawberry.field(description="False once withdrawn (uninvited, or a nominee replaced).")
    occurrences_only: bool = strawberry.field(
        description="A substitute for single occurrences of a series: attends exactly those in occurrenceReplies."
    )
    version: int = strawberry.field(description="Increases on every change.")
    meeting_id: strawberry.Private[int]
    user_id: strawberry.Private[int | None]
    unit_id: strawberry.Private[int | None]
    nominated_via_id: strawberry.Private[int | None]
    on_behalf_of_id: strawberry.Private[int | None]
    model: strawberry.Private[Invitation]

    @classmethod
    def from_model(cls, m: Invitation) -> MeetingInvitation:
        return cls(
            id=m.id,
            role=AttendeeRole(m.role),
            required=m.required,
            quota=m.quota,
            required_rank=m.required_rank,
            state=ReplyState(m.state),
            replied_at=m.replied_at,
            late=m.late,
            is_active=m.is_active,
            occurrences_only=m.occurrences_only,
            version=m.version,
            meeting_id=m.meeting_id,
            user_id=m.user_id,
            unit_id=m.unit_id,
            nominated_via_id=m.nominated_via_id,
            on_behalf_of_id=m.on_behalf_of_id,
            model=m,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[MeetingInvitation | None]:
        return await visible_nodes(info, node_ids, access.get_visible_invitation, cls.from_model)

    @strawberry.field(description="The invited person; null for a unit invitation.")
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self.user_id)

    @strawberry.field(description="The invited unit; null for a person invitation.")
    async def unit(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.unit_id)

    @strawberry.field(description="For a nominee: the unit invitation that named them.")
    async def nominated_via(self, info: Info) -> MeetingInvitation | None:
        return await _invitation(info, self.meeting_id, self.nominated_via_id)

    @strawberry.field(description="For a substitute (代参会): the invitation of the invitee they attend on behalf of.")
    async def on_behalf_of(self, info: Info) -> MeetingInvitation | None:
        return await _invitation(info, self.meeting_id, self.on_behalf_of_id)

    @strawberry.field(description="The meeting.")
    async def meeting(self, info: Info) -> Meeting:
        return Meeting.from_model(await info.context.loaders.meeting.load(self.meeting_id))

    @strawberry.field(
        description="Who gave the latest series reply (the invitee, a unit's clerk, or the invitee "
        "who named this substitute); null while none."
    )
    async def replied_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.model.replied_by_id)

    async def _may_see_slip(self, info: Info) -> bool:
        actor = await require_actor(info)
        meeting = await info.context.loaders.meeting.load(self.meeting_id)
        return meeting is not None and invitations_svc.may_see_reply_slip(actor, meeting, self.model)

    @strawberry.field(
        description="The invitee's remark on the reply slip (an approved leave's reason); null unless you are an "
        "organiser, the invitee or who replied (as replySlip)."
    )
    async def remark(self, info: Info) -> str | None:
        return self.model.remark if await self._may_see_slip(info) else None

    @strawberry.field(
        description="The rest of the reply slip (phone, arrival, accommodation); null unless you are an organiser, "
        "the invitee or who replied."
    )
    async def reply_slip(self, info: Info) -> MeetingReplySlip | None:
        if not await self._may_see_slip(info):
            return None
        d = dict(self.model.reply_details or {})
        return MeetingReplySlip(phone=d.get("phone"), arrival=d.get("arrival"), accommodation=d.get("accommodation"))

    @strawberry.field(
        description="Replies for single occurrences, overriding `state` there, by occurrence id (their remark as "
        "`remark`: null unless you may see the reply slip)."
    )
    async def occurrence_replies(self, info: Info) -> list[MeetingOccurrenceReply]:
        rows: list[OccurrenceReplyModel] = await info.context.loaders.meeting_occurrence_replies.load(self.id)
        slip = await self._may_see_slip(info)
        return [
            MeetingOccurrenceReply(
                state=ReplyState(r.state),
                replied_at=r.replied_at,
                late=r.late,
                remark=r.remark if slip else None,
                occurrence_id=r.occurrence_id,
            )
            for r in rows
        ]

    @strawberry.field(description="For a unit invitation: the people it named (active nominees), in naming order.")
    async def nominees(self, info: Info) -> list[MeetingInvitation]:
        rows: list[Invitation] = await info.context.loaders.meeting_invitations.load(self.meeting_id)
        return [MeetingInvitation.from_model(r) for r in rows if r.nominated_via_id == self.id and r.is_active]

    @strawberry.field(description="Active substitutes (代参会) attending on this invitee's behalf.")
    async def substitutes(self, info: Info) -> list[MeetingInvitation]:
        rows: list[Invitation] = await info.context.loaders.meeting_invitations.load(self.meeting_id)
        return [MeetingInvitation.from_model(r) for r in rows if r.on_behalf_of_id == self.id and r.is_active]


async def _invitation(info: Info, meeting_id: int, invitation_id: int | None) -> MeetingInvitation | None:
    if invitation_id is None:
        return None
    rows: list[Invitation] = await info.context.loaders.meeting_invitations.load(meeting_id)
    row = next((r for r in rows if r.id == invitation_id), None)
    return MeetingInvitation.from_model(row) if row else None


@strawberry.type(description="A meeting or recurring series: the notice (会议通知, DOMAIN §7.1) and its occurrences.")
class Meeting(relay.Node):
    id: relay.NodeID[int]
    title: str = strawberry.field(description="Full meeting name.")
    agenda: str = strawberry.field(description="Purpose, topics or agenda.")
    materials: str = strawberry.field(description="Materials to prepare or bring.")
    logistics: str = strawberry.field(description="Transport, meals, dress, pickup.")
    location: str = strawberry.field(description="Address or place as written in the notice (besides the room).")
    online_link: str | None = strawberry.field(description="Online-meeting link; null for none.")
    contact_name: str | None = strawberry.field(description="Contact person.")
    contact_phone: str | None = strawberry.field(description="Contact phone.")
    start_at: dt.datetime = strawberry.field(description="UTC instant the (first) occurrence starts.")
    end_at: dt.datetime = strawberry.field(description="UTC instant the (first) occurrence ends (exclusive).")
    report_at: dt.datetime | None = strawberry.field(description="UTC instant of arrival/registration (报到).")
    time_zone: str = strawberry.field(
        description="IANA time zone the meeting is held in (occurrences keep its local time)."
    )
    all_day: bool = strawberry.field(description="An all-day meeting: local midnight to local midnight.")
    recurrence: str | None = strawberry.field(
        description="RFC 5545 RRULE of a series (bounded by COUNT or UNTIL); null for a single meeting."
    )
    reply_deadline: dt.datetime | None = strawberry.field(
        description="UTC instant replies are due; later ones are marked late."
    )
    substitution_policy: SubstitutionPolicyEnum = strawberry.field(  # type: ignore[valid-type]
        description="Whether invitees may send substitutes."
    )
    check_in_opens_minutes: int = strawberry.field(description="Check-in opens this many minutes before each start.")
    late_after_minutes: int = strawberry.field(description="A check-in later than start + this many minutes is late.")
    state: MeetingStateEnum = strawberry.field(description="SCHEDULED or CANCELLED.")  # type: ignore[valid-type]
    version: int = strawberry.field(description="Increases on every change; pass it to change the meeting.")
    created_at: dt.datetime = strawberry.field(description="UTC instant of creation.")
    cancelled_at: dt.datetime | None = strawberry.field(description="UTC instant of cancellation.")
    cancel_reason: str | None = strawberry.field(description="Why it was cancelled.")
    organizer_unit_id: strawberry.Private[int]
    co_organizer_unit_ids: strawberry.Private[list[int]]
    convener_id: strawberry.Private[int]
    chair_id: strawberry.Private[int | None]
    room_id: strawberry.Private[int | None]
    created_by_id: strawberry.Private[int]
    notice_id: strawberry.Private[int | None]
    model: strawberry.Private[MeetingModel]

    @classmethod
    def from_model(cls, m: MeetingModel) -> Meeting:
        return cls(
            id=m.id,
            title=m.title,
            agenda=m.agenda,
            materials=m.materials,
            logistics=m.logistics,
            location=m.location,
            online_link=m.online_link,
            contact_name=m.contact_name,
            contact_phone=m.contact_phone,
            start_at=m.start_at,
            end_at=m.end_at,
            report_at=m.report_at,
            time_zone=m.time_zone,
            all_day=m.all_day,
            recurrence=m.rrule,
            reply_deadline=m.reply_deadline,
            substitution_policy=SubstitutionPolicy(m.substitution_policy),
            check_in_opens_minutes=m.check_in_opens_minutes,
            late_after_minutes=m.late_after_minutes,
            state=MeetingState(m.state),
            version=m.version,
            created_at=m.created_at,
            cancelled_at=m.cancelled_at,
            cancel_reason=m.cancel_reason,
            organizer_unit_id=m.organizer_unit_id,
            co_organizer_unit_ids=list(m.co_organizer_unit_ids or []),
            convener_id=m.convener_id,
            chair_id=m.chair_id,
            room_id=m.room_id,
            created_by_id=m.created_by_id,
            notice_id=m.notice_document_id,
            model=m,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Meeting | None]:
        return await visible_nodes(info, node_ids, access.get_visible_meeting, cls.from_model)

    @strawberry.field(description="The organising unit (主办).")
    async def organizer_unit(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.organizer_unit_id)

    @strawberry.field(description="Co-organising units (联合主办).")
    async def co_organizer_units(self, info: Info) -> list[OrgUnit]:
        return await units_by_ids(info, self.co_organizer_unit_ids)

    @strawberry.field(description="The convener (召集人): approves leave requests and substitutes.")
    async def convener(self, info: Info) -> User | None:
        return await user_by_id(info, self.convener_id)

    @strawberry.field(description="The chair (主持人); null when not named.")
    async def chair(self, info: Info) -> User | None:
        return await user_by_id(info, self.chair_id)

    @strawberry.field(description="The room of the series (occurrences may have their own); null for none.")
    async def room(self, info: Info) -> Room | None:
        if self.room_id is None:
            return None
        m = await info.context.loaders.room.load(self.room_id)
        return Room.from_model(m) if m else None

    @strawberry.field(
        description="The series this meeting was split from by a THIS_AND_FOLLOWING reschedule (it continues that "
        "one); null for none, or when you may not see it."
    )
    async def split_from(self, info: Info) -> Meeting | None:
        if self.model.split_from_id is None:
            return None
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            row = await access.get_visible_meeting(s, actor, self.model.split_from_id)
        return Meeting.from_model(row) if row else None

    @strawberry.field(description="Occurrences in start order (one for a single meeting), cancelled ones included.")
    async def occurrences(self, info: Info) -> list[MeetingOccurrence]:
        rows: list[OccurrenceModel] = await info.context.loaders.meeting_occurrences.load(self.id)
        return [MeetingOccurrence.from_model(r) for r in rows]

    @strawberry.field(description="Invitations of people and units, in the order they were made (withdrawn ones too).")
    async def invitations(self, info: Info) -> list[MeetingInvitation]:
        rows: list[Invitation] = await info.context.loaders.meeting_invitations.load(self.id)
        return [MeetingInvitation.from_model(r) for r in rows]

    @strawberry.field(
        description="Counts of replies (回执) per state and late replies: the series replies, or with occurrenceId "
        "the effective replies for that occurrence (its own replies, else the series reply). Errors: NOT_FOUND on "
        "occurrenceId (not this meeting's)."
    )
    async def reply_summary(
        self,
        info: Info,
        occurrence_id: Annotated[
            relay.GlobalID | None,
            strawberry.argument(
                description="One occurrence (MeetingOccurrence) of this meeting; omitted = the series."
            ),
        ] = None,
    ) -> MeetingReplySummary:
        rows: list[Invitation] = await info.context.loaders.meeting_invitations.load(self.id)
        occ_pk = None
        replies: list[OccurrenceReplyModel] = []
        if occurrence_id is not None:
            occ_pk = decode_id(occurrence_id, "MeetingOccurrence", "occurrenceId")
            occ = await info.context.loaders.occurrence.load(occ_pk)
            if occ is None or occ.meeting_id != self.id:
                raise DomainError(ErrorCode.NOT_FOUND, "occurrenceId")
            groups = await info.context.loaders.meeting_occurrence_replies.load_many([r.id for r in rows])
            replies = [r for group in groups for r in group]
        s = replies_svc.summarise(rows, replies, occ_pk)
        return MeetingReplySummary(
            people=s.people,
            pending=s.pending,
            accepted=s.accepted,
            declined=s.declined,
            delegated=s.delegated,
            late=s.late,
            units=s.units,
            units_pending=s.units_pending,
            units_nominated=s.units_nominated,
            units_declined=s.units_declined,
        )

    @strawberry.field(
        description="Global id of the meeting notice issued as an official document (通知); null when none was."
    )
    def notice_document_id(self) -> relay.GlobalID | None:
        return None if self.notice_id is None else relay.GlobalID("Document", str(self.notice_id))


#: Most occurrences ``myMeetings`` lists at once.
MAX_LISTED = 1000
#: Widest window ``myMeetings`` lists at once.
MAX_RANGE_DAYS = 92


@strawberry.type
class MeetingQuery:
    @strawberry.field(
        description="One meeting or series, for its organisers (creator, convener, chair), everyone invited "
        "(nominees and substitutes too) and the people who answer for an invited or the organising unit (clerks, "
        "else head and deputies); null otherwise (existence is not revealed).",
        permission_classes=[IsAuthenticated],
    )
    async def meeting(
        self, info: Info, id: Annotated[relay.GlobalID, strawberry.argument(description="The meeting.")]
    ) -> Meeting | None:
        actor = await require_actor(info)
        pk = decode_id(id, "Meeting", "id")
        async with info.context.db.read() as s:
            row = await access.get_visible_meeting(s, actor, pk)
        return Meeting.from_model(row) if row else None

    @strawberry.field(
        description="Occurrences of meetings you organise or are invited to (in person, as a nominee or substitute; "
        "an active invitation: a withdrawn one's meeting drops out) that overlap [from, to) (UTC instants, at most "
        "92 days apart), in start order; cancelled ones included. "
        "Errors: INVALID_VALUE on `from`/`to` (without a UTC offset), on `to` (not after `from`, or too wide).",
        permission_classes=[IsAuthenticated],
    )
    async def my_meetings(
        self,
        info: Info,
        from_: Annotated[dt.datetime, strawberry.argument(name="from", description="Start of the window (UTC).")],
        to: Annotated[dt.datetime, strawberry.argument(description="End of the window, exclusive (UTC).")],
    ) -> list[MeetingOccurrence]:
        actor = await require_actor(info)
        window = check_window(from_, to, dt.timedelta(days=MAX_RANGE_DAYS), ("from", "to"))
        assert window is not None
        from_, to = window
        async with info.context.db.read() as s:
            rows = await access.occurrences_of_user(s, actor.user_id, from_, to, MAX_LISTED)
        return [MeetingOccurrence.from_model(r) for r in rows]


# ---- creating a meeting ------------------------------------------------------------------


@strawberry.input(description="A person or a unit to invite. Give exactly one of userId and unitId.")
class InviteeInput:
    user_id: relay.GlobalID | None = strawberry.field(default=None, description="A person (User).")
    unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="A unit (OrgUnit): its clerk nominates attendees within the quota."
    )
    role: AttendeeRoleEnum = strawberry.field(  # type: ignore[valid-type]
        default=AttendeeRole.PARTICIPANT, description="Attendee role (default PARTICIPANT 出席)."
    )
    required: bool = strawberry.field(
        default=True, description="A required attendee (default) or optional, for find-a-time."
    )
    quota: int | None = strawberry.field(
        default=None, description="Units only: people the unit may send, 1–100 (default 1)."
    )
    required_rank: str | None = strawberry.field(
        default=None, description="Units only: rank or role asked for, e.g. 分管负责同志 (at most 100 characters)."
    )


def invitee_inputs(invitees: list[InviteeInput], prefix: str = "invitees") -> list[svc.InviteeInput]:
    """Decode GraphQL invitees (global ids) into service inputs."""
    return [
        svc.InviteeInput(
            user_id=decode_id(i.user_id, "User", f"{prefix}.{n}.userId") if i.user_id is not None else None,
            unit_id=decode_id(i.unit_id, "OrgUnit", f"{prefix}.{n}.unitId") if i.unit_id is not None else None,
            role=AttendeeRole(i.role),
            required=i.required,
            quota=i.quota,
            required_rank=i.required_rank,
        )
        for n, i in enumerate(invitees)
    ]


@strawberry.input(description="A meeting notice (会议通知, DOMAIN §7.1). Instants need a UTC offset.")
class CreateMeetingInput:
    title: str = strawberry.field(description="Full meeting name, at most 200 characters.")
    organizer_unit_id: relay.GlobalID = strawberry.field(description="The organising unit; you must hold a post in it.")
    start_at: dt.datetime | None = strawberry.field(
        default=None, description="Start of the (first) occurrence, with offset, e.g. 2026-12-08T09:00:00+08:00."
    )
    end_at: dt.datetime | None = strawberry.field(
        default=None, description="End (exclusive), after startAt, at most 14 days later."
    )
    all_day_from: dt.date | None = strawberry.field(
        default=None, description="All-day meeting: first day (local date in timeZone), instead of startAt/endAt."
    )
    all_day_to: dt.date | None = strawberry.field(
        default=None, description="All-day meeting: last day, inclusive (default allDayFrom)."
    )
    time_zone: str = strawberry.field(
        default=DEFAULT_TIME_ZONE, description="IANA time zone the meeting is held in (default Asia/Shanghai)."
    )
    recurrence: str | None = strawberry.field(
        default=None,
        description="RFC 5545 RRULE for a series, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10. Needs COUNT or UNTIL (at most "
        "500 occurrences); FREQ DAILY, WEEKLY, MONTHLY or YEARLY; the start must be its first occurrence. UNTIL "
        "without Z is read in timeZone.",
    )
    co_organizer_unit_ids: list[relay.GlobalID] = strawberry.field(
        default_factory=list, description="Co-organising units (联合主办), at most 20."
    )
    convener_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The convener (召集人), who decides leave requests; default you."
    )
    chair_id: relay.GlobalID | None = strawberry.field(default=None, description="The chair (主持人).")
    agenda: str = strawberry.field(default="", description="Purpose, topics or agenda, at most 4,000 characters.")
    materials: str = strawberry.field(default="", description="Materials to prepare or bring (2,000).")
    logistics: str = strawberry.field(default="", description="Transport, meals, dress, pickup (2,000).")
    location: str = strawberry.field(default="", description="Address or place as written in the notice (300).")
    online_link: str | None = strawberry.field(default=None, description="Online-meeting link, an http(s) URL.")
    contact_name: str | None = strawberry.field(default=None, description="Contact person (64).")
    contact_phone: str | None = strawberry.field(default=None, description="Contact phone (24).")
    report_at: dt.datetime | None = strawberry.field(
        default=None, description="Arrival/registration (报到) instant, not after the start."
    )
    room_id: relay.GlobalID | None = strawberry.field(
        default=None, description="A room to book for every occurrence; its capacity must seat the invitees."
    )
    reply_deadline: dt.datetime | None = strawberry.field(
        default=None, description="Replies (回执) due by this instant, not after the start; later ones are marked late."
    )
    substitution_policy: SubstitutionPolicyEnum = strawberry.field(  # type: ignore[valid-type]
        default=SubstitutionPolicy.APPROVAL_REQUIRED, description="Substitutes: default APPROVAL_REQUIRED."
    )
    check_in_opens_minutes: int = strawberry.field(
        default=30, description="Check-in opens this many minutes before each start, 0–1440 (default 30)."
    )
    late_after_minutes: int = strawberry.field(
        default=0, description="Check-ins later than start + this many minutes are late, 0–240 (default 0)."
    )
    invitees: list[InviteeInput] = strawberry.field(
        default_factory=list, description="People and units to invite, at most 500."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The meeting after a change, or the problems found.")
class MeetingPayload:
    meeting: Meeting | None = strawberry.field(description="The meeting after the change; null on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def meeting_payload(row: MeetingModel | None, errors: list[UserError]) -> MeetingPayload:
    return MeetingPayload(meeting=Meeting.from_model(row) if row else None, errors=errors)


@strawberry.type
class MeetingMutation:
    @strawberry.mutation(
        description="Create a meeting or a recurring series (bounded RRULE): the notice, one occurrence per instance, "
        "the room booked for each (never double-booked: ROOM_TAKEN names the first clashing occurrence), invitations "
        "to people (MEETING_INVITED) and units (their clerks get MEETING_NOMINATION_REQUESTED). A room that needs "
        "approval is held PENDING unless you answer for its unit. Errors: REQUIRED, TOO_LONG, INVALID_VALUE (end "
        "before start, zero length, over 14 days, no UTC offset, reply deadline or 报到 after the start), "
        "RECURRENCE_INVALID, RECURRENCE_UNBOUNDED, TOO_MANY, NOT_FOUND, INACTIVE, DUPLICATE, FORBIDDEN (no post in "
        "the organising unit), ROOM_OVER_CAPACITY, ROOM_TAKEN.",
        permission_classes=[IsAuthenticated],
    )
    async def create_meeting(self, info: Info, input: CreateMeetingInput) -> MeetingPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> MeetingModel:
            data = svc.MeetingInput(
                title=input.title,
                organizer_unit_id=decode_id(input.organizer_unit_id, "OrgUnit", "organizerUnitId"),
                start_at=input.start_at,
                end_at=input.end_at,
                all_day_from=input.all_day_from,
                all_day_to=input.all_day_to,
                time_zone=input.time_zone,
                recurrence=input.recurrence,
                co_organizer_unit_ids=decode_ids(input.co_organizer_unit_ids, "OrgUnit", "coOrganizerUnitIds"),
                convener_id=decode_id(input.convener_id, "User", "convenerId") if input.convener_id else None,
                chair_id=decode_id(input.chair_id, "User", "chairId") if input.chair_id else None,
                agenda=input.agenda,
                materials=input.materials,
                logistics=input.logistics,
                location=input.location,
                online_link=input.online_link,
                contact_name=input.contact_name,
                contact_phone=input.contact_phone,
                report_at=input.report_at,
                room_id=decode_id(input.room_id, "Room", "roomId") if input.room_id else None,
                reply_deadline=input.reply_deadline,
                substitution_policy=SubstitutionPolicy(input.substitution_policy),
                check_in_opens_minutes=input.check_in_opens_minutes,
                late_after_minutes=input.late_after_minutes,
                invitees=invitee_inputs(input.invitees),
            )
            return await svc.create_meeting(uow, broker, actor, data)

        return meeting_payload(*await run_mutation(info, work, idempotent=input))

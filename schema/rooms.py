"""GraphQL of meeting rooms and room bookings (会议室, DOMAIN §7.1): administration, search,
schedules, and the owning unit's approval of bookings. Rules live in ``meetings.rooms``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from meetings import rooms as svc
from meetings.models import BookingStatus
from meetings.models import Room as RoomModel
from meetings.models import RoomBooking as BookingModel
from schema.common import (
    IsAdmin,
    IsAuthenticated,
    UserError,
    decode_id,
    idempotency_key_field,
    require_actor,
    run_mutation,
)
from schema.meetings import BookingStatusEnum, MeetingOccurrence, Room
from schema.org import OrgUnit, User, unit_by_id, user_by_id


@strawberry.type(
    description="A room held (or asked for) for one meeting occurrence over the half-open interval [startAt, endAt). "
    "PENDING and APPROVED bookings hold the room; a room is never held twice at once (DOMAIN §7.1)."
)
class RoomBooking(relay.Node):
    id: relay.NodeID[int]
    status: BookingStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="PENDING (waiting for the room's unit; the room is held meanwhile), APPROVED, REFUSED or RELEASED."
    )
    start_at: dt.datetime = strawberry.field(description="UTC instant the booking starts (inclusive).")
    end_at: dt.datetime = strawberry.field(description="UTC instant the booking ends (exclusive).")
    decided_at: dt.datetime | None = strawberry.field(
        description="UTC instant it was approved or refused; null while PENDING or when no approval was needed."
    )
    decision_remark: str | None = strawberry.field(description="The approver's remark: why it was refused.")
    created_at: dt.datetime = strawberry.field(description="UTC instant the room was booked.")
    room_id: strawberry.Private[int]
    occurrence_id: strawberry.Private[int]
    decided_by_id: strawberry.Private[int | None]
    sees_meeting: strawberry.Private[bool]
    sees_summary: strawberry.Private[bool]

    @classmethod
    def from_model(cls, m: BookingModel, *, sees_meeting: bool, sees_summary: bool) -> RoomBooking:
        return cls(
            id=m.id,
            status=BookingStatus(m.status),
            start_at=m.start_at,
            end_at=m.end_at,
            decided_at=m.decided_at,
            decision_remark=m.decision_remark,
            created_at=m.created_at,
            room_id=m.room_id,
            occurrence_id=m.occurrence_id,
            decided_by_id=m.decided_by_id,
            sees_meeting=sees_meeting,
            sees_summary=sees_summary or sees_meeting,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[RoomBooking | None]:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            rows = [await s.get(BookingModel, int(i)) for i in node_ids]
            views = await svc.booking_views(s, actor, [r for r in rows if r is not None])
        out: list[RoomBooking | None] = []
        for r in rows:
            sees = views.get(r.id) if r is not None else None
            ok = r is not None and sees is not None and sees[1]
            out.append(cls.from_model(r, sees_meeting=sees[0], sees_summary=sees[1]) if ok and r and sees else None)
        return out

    @strawberry.field(description="The room.")
    async def room(self, info: Info) -> Room | None:
        m = await info.context.loaders.room.load(self.room_id)
        return Room.from_model(m) if m else None

    @strawberry.field(
        description="The occurrence booked; null unless you may see the meeting (organisers, invitees, the people who "
        "answer for an invited or the organising unit)."
    )
    async def occurrence(self, info: Info) -> MeetingOccurrence | None:
        if not self.sees_meeting:
            return None
        m = await info.context.loaders.occurrence.load(self.occurrence_id)
        return MeetingOccurrence.from_model(m) if m else None

    async def _meeting(self, info: Info) -> Any:
        if not self.sees_summary:
            return None
        occ = await info.context.loaders.occurrence.load(self.occurrence_id)
        return await info.context.loaders.meeting.load(occ.meeting_id) if occ else None

    @strawberry.field(
        description="The meeting's title, for those who may see the meeting and those who answer for the room's unit "
        "(who decide the booking); null for others."
    )
    async def meeting_title(self, info: Info) -> str | None:
        m = await self._meeting(info)
        return m.title if m else None

    @strawberry.field(description="The meeting's convener (召集人); same visibility as meetingTitle.")
    async def convener(self, info: Info) -> User | None:
        m = await self._meeting(info)
        return await user_by_id(info, m.convener_id) if m else None

    @strawberry.field(description="The meeting's organising unit (主办); same visibility as meetingTitle.")
    async def organizer_unit(self, info: Info) -> OrgUnit | None:
        m = await self._meeting(info)
        return await unit_by_id(info, m.organizer_unit_id) if m else None

    @strawberry.field(description="Who approved or refused it; null while PENDING or when no approval was needed.")
    async def decided_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.decided_by_id)


async def booking_of_occurrence(info: Info, occurrence_id: int) -> RoomBooking | None:
    """The booking of an occurrence the caller already sees (``MeetingOccurrence.booking``)."""
    rows = await info.context.loaders.occurrence_bookings.load(occurrence_id)
    return RoomBooking.from_model(rows[0], sees_meeting=True, sees_summary=True) if rows else None


@strawberry.type(description="One holding booking of a room's schedule.")
class RoomScheduleEntry:
    start_at: dt.datetime = strawberry.field(description="UTC instant the booking starts (inclusive).")
    end_at: dt.datetime = strawberry.field(description="UTC instant the booking ends (exclusive).")
    status: BookingStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="PENDING (waiting for approval, the room held meanwhile) or APPROVED."
    )
    title: str | None = strawberry.field(
        description="The meeting's title if you may see the meeting; null otherwise: the slot is just busy (占用)."
    )
    occurrence: MeetingOccurrence | None = strawberry.field(
        description="The occurrence if you may see the meeting; null otherwise."
    )


def _bookings(rows: list[BookingModel], views: dict[int, tuple[bool, bool]]) -> list[RoomBooking]:
    return [RoomBooking.from_model(r, sees_meeting=views[r.id][0], sees_summary=views[r.id][1]) for r in rows]


@strawberry.type
class RoomQuery:
    @strawberry.field(
        description="Meeting rooms of a unit (with includeSubtree, of every unit below it too), for anyone signed in: "
        "active rooms only unless includeRetired; with minCapacity seats or more (1–10,000); with every equipment "
        "keyword given (case-insensitive, e.g. projector, video_conference); and, with freeFrom and freeTo (UTC "
        "instants, both or neither, at most 14 days apart), only rooms with no PENDING or APPROVED booking "
        "overlapping [freeFrom, freeTo) (half-open: a booking ending at freeFrom does not count). Ordered by "
        "building, floor and name; at most 500. Errors: NOT_FOUND (unitId), INVALID_VALUE (minCapacity, freeFrom, "
        "freeTo).",
        permission_classes=[IsAuthenticated],
    )
    async def rooms(
        self,
        info: Info,
        unit_id: Annotated[relay.GlobalID, strawberry.argument(description="The owning unit (OrgUnit).")],
        include_subtree: Annotated[
            bool, strawberry.argument(description="Include rooms of the units below it (default false).")
        ] = False,
        min_capacity: Annotated[int | None, strawberry.argument(description="At least this many seats.")] = None,
        equipment: Annotated[
            list[str] | None, strawberry.argument(description="Every one of these equipment keywords.")
        ] = None,
        free_from: Annotated[
            dt.datetime | None, strawberry.argument(description="Free from this instant (with freeTo).")
        ] = None,
        free_to: Annotated[
            dt.datetime | None, strawberry.argument(description="Free until this instant, exclusive (with freeFrom).")
        ] = None,
        include_retired: Annotated[
            bool, strawberry.argument(description="Include retired rooms (default false).")
        ] = False,
    ) -> list[Room]:
        await require_actor(info)
        unit = decode_id(unit_id, "OrgUnit", "unitId")
        async with info.context.db.read() as s:
            rows = await svc.find_rooms(
                s,
                unit,
                include_subtree=include_subtree,
                min_capacity=min_capacity,
                equipment=equipment or [],
                free_from=free_from,
                free_to=free_to,
                include_retired=include_retired,
            )
        return [Room.from_model(r) for r in rows]

    @strawberry.field(
        description="A room's PENDING and APPROVED bookings overlapping [from, to) (UTC instants, at most 92 days "
        "apart), in start order (at most 1,000), for anyone signed in: the meeting's title and occurrence only for "
        "those who may see the meeting, else the slot is just busy. Errors: NOT_FOUND (roomId), INVALID_VALUE "
        "(from, to).",
        permission_classes=[IsAuthenticated],
    )
    async def room_schedule(
        self,
        info: Info,
        room_id: Annotated[relay.GlobalID, strawberry.argument(description="The room.")],
        from_: Annotated[dt.datetime, strawberry.argument(name="from", description="Start of the window (UTC).")],
        to: Annotated[dt.datetime, strawberry.argument(description="End of the window, exclusive (UTC).")],
    ) -> list[RoomScheduleEntry]:
        actor = await require_actor(info)
        pk = decode_id(room_id, "Room", "roomId")
        async with info.context.db.read() as s:
            entries = await svc.schedule(s, actor, pk, from_, to)
        return [
            RoomScheduleEntry(
                start_at=e.booking.start_at,
                end_at=e.booking.end_at,
                status=BookingStatus(e.booking.status),
                title=e.meeting.title if e.meeting else None,
                occurrence=MeetingOccurrence.from_model(e.occurrence) if e.meeting else None,
            )
            for e in entries
        ]

    @strawberry.field(
        description="Room bookings waiting for your decision: PENDING bookings, not yet ended, of rooms owned by "
        "units you answer for (their clerks; a unit without a clerk: its head and deputy heads), in start order, at "
        "most 1,000. Empty for everyone else.",
        permission_classes=[IsAuthenticated],
    )
    async def pending_room_bookings(self, info: Info) -> list[RoomBooking]:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            rows = await svc.pending_for(s, actor, info.context.platform.clock())
            views = await svc.booking_views(s, actor, rows)
        return _bookings(rows, views)


# ---- mutations ---------------------------------------------------------------------------


@strawberry.input(description="A new meeting room of a unit.")
class CreateRoomInput:
    owner_unit_id: relay.GlobalID = strawberry.field(
        description="The owning unit; you must administer it (system admin, or unit admin of a unit above or at it)."
    )
    name: str = strawberry.field(description="Name, unique in the unit, at most 100 characters, e.g. 第一会议室.")
    capacity: int = strawberry.field(description="Seats, 1–10,000.")
    building: str = strawberry.field(default="", description="Building, at most 100 characters.")
    floor: str | None = strawberry.field(default=None, description="Floor as written (3, B1), at most 20 characters.")
    address: str | None = strawberry.field(
        default=None, description="Street address for attendees from elsewhere, at most 300 characters."
    )
    equipment: list[str] = strawberry.field(
        default_factory=list,
        description="Equipment keywords, at most 20 of 1–40 characters, stored in lower case without repeats, "
        "e.g. projector, video_conference.",
    )
    requires_approval: bool = strawberry.field(
        default=False,
        description="Bookings wait for approval by the people who answer for the unit (default false).",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Changes to a room; omitted (null) fields stay as they are.")
class UpdateRoomInput:
    id: relay.GlobalID = strawberry.field(description="The room.")
    version: int = strawberry.field(description="The room's version you read; STALE_VERSION when it changed since.")
    name: str | None = strawberry.field(default=None, description="New name, unique in the unit (100).")
    building: str | None = strawberry.field(default=None, description="New building (100); empty to clear.")
    floor: str | None = strawberry.field(default=None, description="New floor (20); empty to clear.")
    address: str | None = strawberry.field(default=None, description="New address (300); empty to clear.")
    capacity: int | None = strawberry.field(
        default=None,
        description="New number of seats, 1–10,000. Lowering it below what a future booked meeting needs is allowed: "
        "the payload's meetingsOverCapacity counts those meetings.",
    )
    equipment: list[str] | None = strawberry.field(
        default=None, description="The full new list of equipment keywords (replaces the old one)."
    )
    requires_approval: bool | None = strawberry.field(
        default=None, description="Whether bookings need approval from now on (existing bookings stay as they are)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Retire a room: it keeps its bookings but takes no new ones.")
class RetireRoomInput:
    id: relay.GlobalID = strawberry.field(description="The room.")
    version: int | None = strawberry.field(
        default=None, description="The room's version you read (optional); STALE_VERSION when it changed since."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Approve a PENDING room booking.")
class ApproveRoomBookingInput:
    booking_id: relay.GlobalID = strawberry.field(description="The booking (RoomBooking).")
    whole_series: bool = strawberry.field(
        default=True,
        description="Also approve every other PENDING booking of this room for the same meeting (default true).",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Refuse a PENDING room booking; the room is free again at once.")
class RefuseRoomBookingInput:
    booking_id: relay.GlobalID = strawberry.field(description="The booking (RoomBooking).")
    reason: str = strawberry.field(description="Why, for the convener: required, at most 500 characters.")
    whole_series: bool = strawberry.field(
        default=True,
        description="Also refuse every other PENDING booking of this room for the same meeting (default true).",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The room after a change, or the problems found.")
class RoomPayload:
    room: Room | None = strawberry.field(description="The room after the change; null on error.")
    meetings_over_capacity: int = strawberry.field(
        description="Meetings booked in the room that have not ended yet whose invitations need more seats than its "
        "capacity now (one per person, a unit's quota per unit invitation); 0 when none or on error."
    )
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The bookings decided, or the problems found.")
class RoomBookingsPayload:
    bookings: list[RoomBooking] = strawberry.field(description="The bookings decided, in start order; empty on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


_ADMIN_ERRORS = (
    "FORBIDDEN (top-level: the owning unit is outside the subtree you administer), NOT_FOUND, REQUIRED, TOO_LONG "
    "(name 100, building 100, floor 20, address 300, an equipment keyword 40), TOO_MANY (equipment: 20), "
    "INVALID_VALUE (capacity not 1–10,000), DUPLICATE (name: a room of that name in the unit, retired ones included)"
)


def _room_payload(room: RoomModel | None, errors: list[UserError], over: int = 0) -> RoomPayload:
    return RoomPayload(room=Room.from_model(room) if room else None, meetings_over_capacity=over, errors=errors)


async def _decided(info: Info, rows: list[BookingModel] | None, errors: list[UserError]) -> RoomBookingsPayload:
    if not rows:
        return RoomBookingsPayload(bookings=[], errors=errors)
    actor = await require_actor(info)
    async with info.context.db.read() as s:
        views = await svc.booking_views(s, actor, rows)
    return RoomBookingsPayload(bookings=_bookings(rows, views), errors=errors)


@strawberry.type
class RoomMutation:
    @strawberry.mutation(
        description="Create a meeting room of a unit, for administrators of the unit's subtree. Audited "
        f"(room.create). Errors: {_ADMIN_ERRORS}, INACTIVE (ownerUnitId).",
        permission_classes=[IsAdmin],
    )
    async def create_room(self, info: Info, input: CreateRoomInput) -> RoomPayload:
        actor = await require_actor(info)

        async def work(uow: Any) -> RoomModel:
            data = svc.RoomInput(
                owner_unit_id=decode_id(input.owner_unit_id, "OrgUnit", "ownerUnitId"),
                name=input.name,
                capacity=input.capacity,
                building=input.building,
                floor=input.floor,
                address=input.address,
                equipment=input.equipment,
                requires_approval=input.requires_approval,
            )
            return await svc.create_room(uow, actor, data)

        return _room_payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Change a room's name, building, floor, address, capacity, equipment or approval rule, for "
        "administrators of its unit's subtree, given the version you read. Lowering the capacity below what a "
        "future booked meeting needs is allowed and counted in meetingsOverCapacity (the meetings keep the room; "
        "their organisers must move or shrink them). Audited (room.update). Errors: "
        f"{_ADMIN_ERRORS}, STALE_VERSION (version).",
        permission_classes=[IsAdmin],
    )
    async def update_room(self, info: Info, input: UpdateRoomInput) -> RoomPayload:
        actor = await require_actor(info)

        async def work(uow: Any) -> svc.RoomUpdate:
            changes = svc.RoomChanges(
                name=input.name,
                building=input.building,
                floor=input.floor,
                address=input.address,
                capacity=input.capacity,
                equipment=input.equipment,
                requires_approval=input.requires_approval,
            )
            return await svc.update_room(uow, actor, decode_id(input.id, "Room", "id"), input.version, changes)

        result, errors = await run_mutation(info, work, idempotent=input)
        if result is None:
            return _room_payload(None, errors)
        return _room_payload(result.room, errors, len(result.over_capacity))

    @strawberry.mutation(
        description="Retire a room (isActive false), for administrators of its unit's subtree: its PENDING and "
        "APPROVED bookings stay, new bookings are refused (INACTIVE). Retiring a retired room changes nothing. "
        "Audited (room.retire). Errors: FORBIDDEN (top-level), NOT_FOUND, STALE_VERSION.",
        permission_classes=[IsAdmin],
    )
    async def retire_room(self, info: Info, input: RetireRoomInput) -> RoomPayload:
        actor = await require_actor(info)

        async def work(uow: Any) -> RoomModel:
            return await svc.retire_room(uow, actor, decode_id(input.id, "Room", "id"), input.version)

        return _room_payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Approve a PENDING room booking (and, with wholeSeries, the rest of the series' PENDING bookings "
        "of that room), for the people who answer for the room's unit (its clerks; a unit without a clerk: its head "
        "and deputy heads). The meeting's convener gets ROOM_BOOKING_DECIDED. Errors: NOT_FOUND, FORBIDDEN (you do "
        "not answer for the room's unit), INVALID_STATE (not PENDING, e.g. decided meanwhile), all on bookingId.",
        permission_classes=[IsAuthenticated],
    )
    async def approve_room_booking(self, info: Info, input: ApproveRoomBookingInput) -> RoomBookingsPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> list[BookingModel]:
            pk = decode_id(input.booking_id, "RoomBooking", "bookingId")
            return await svc.decide(uow, broker, actor, pk, approve=True, whole_series=input.whole_series)

        return await _decided(info, *await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Refuse a PENDING room booking (and, with wholeSeries, the rest of the series' PENDING bookings of "
        "that room), for the same people as approveRoomBooking. The room is free again at once; the refused "
        "occurrences (and the meeting, when none of its occurrences keeps the room) no longer name it. The convener "
        "gets ROOM_BOOKING_DECIDED with the reason. Errors: as approveRoomBooking, plus REQUIRED and TOO_LONG "
        "(reason, 500).",
        permission_classes=[IsAuthenticated],
    )
    async def refuse_room_booking(self, info: Info, input: RefuseRoomBookingInput) -> RoomBookingsPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> list[BookingModel]:
            pk = decode_id(input.booking_id, "RoomBooking", "bookingId")
            return await svc.decide(
                uow, broker, actor, pk, approve=False, reason=input.reason, whole_series=input.whole_series
            )

        return await _decided(info, *await run_mutation(info, work, idempotent=input))

"""GraphQL surface of free/busy and find-a-time (DOMAIN §7, issue 6 item 5).

The rules (who is busy, tentative or free; working hours and days; ranking) live in
``meetings.availability``; this module decodes ids, calls it and shapes the answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from meetings import availability as av
from meetings.models import Meeting as MeetingModel
from office_api.errors import DomainError, DomainErrors, ErrorCollector
from schema.common import IsAuthenticated, UserError, decode_id, require_actor, user_errors
from schema.meetings import Meeting, Room
from schema.org import User, user_by_id


@strawberry.enum(
    name="FreeBusyStatus",
    description="BUSY (an accepted invitation, a meeting the person organises, or a room's pending or approved "
    "booking) or TENTATIVE (only invitations not yet answered). Time outside the intervals is free.",
)
class FreeBusyStatus(StrEnum):
    BUSY = "busy"
    TENTATIVE = "tentative"


@strawberry.type(description="A stretch of time [startAt, endAt) in which a person or room is busy or tentative.")
class FreeBusyInterval:
    start_at: dt.datetime = strawberry.field(description="UTC instant, inclusive (clipped to the window).")
    end_at: dt.datetime = strawberry.field(description="UTC instant, exclusive (clipped to the window).")
    status: FreeBusyStatus = strawberry.field(
        description="BUSY where any busy meeting covers the time, else TENTATIVE."
    )
    meetings: list[Meeting] = strawberry.field(
        description="The meetings in this stretch that you may see (organiser, invited, or answering for an invited "
        "or the organising unit), with their titles; the others are not listed."
    )
    hidden: bool = strawberry.field(
        description="True when at least one meeting in this stretch is one you may not see: it shows only as busy."
    )


@strawberry.type(description="The busy and tentative intervals of one person in the window.")
class PersonFreeBusy:
    intervals: list[FreeBusyInterval] = strawberry.field(description="In time order, not overlapping.")
    user_id: strawberry.Private[int]

    @strawberry.field(description="The person.")
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self.user_id)


@strawberry.type(description="The booked intervals of one room in the window (pending and approved bookings).")
class RoomFreeBusy:
    intervals: list[FreeBusyInterval] = strawberry.field(description="In time order, not overlapping; all BUSY.")
    room: Room = strawberry.field(description="The room.")


@strawberry.type(description="Free/busy of people and rooms, or the problems with the request.")
class FreeBusyResult:
    people: list[PersonFreeBusy] = strawberry.field(description="One entry per person asked, in the order asked.")
    rooms: list[RoomFreeBusy] = strawberry.field(description="One entry per room asked, in the order asked.")
    errors: list[UserError] = strawberry.field(description="Problems with the request; empty on success.")


@strawberry.input(description="Find a time for a meeting (找会议时间).")
class FindMeetingTimesInput:
    required_user_ids: list[relay.GlobalID] = strawberry.field(
        description="People who must attend (User ids): a slot where one of them is busy is never suggested; at least "
        "one. People and rooms together at most 100."
    )
    optional_user_ids: list[relay.GlobalID] = strawberry.field(
        default_factory=list, description="People who should attend if they can (User ids), not also required."
    )
    min_optional_percent: int = strawberry.field(
        default=0,
        description="Suggest only slots where at least this percentage (0–100) of the optional people are not busy "
        "(free or tentative).",
    )
    room_ids: list[relay.GlobalID] = strawberry.field(
        default_factory=list,
        description="Rooms to choose from (any one free; those with fewer seats than attendees are left out); empty "
        "= no room needed.",
    )
    duration_minutes: int = strawberry.field(
        description="Length of the meeting, 15–480 minutes, and not longer than the working day."
    )
    from_: dt.date = strawberry.field(name="from", description="First day to look at (Asia/Shanghai date, inclusive).")
    to: dt.date = strawberry.field(
        description="Last day to look at (Asia/Shanghai date, inclusive), at most 31 days from `from` counting both."
    )
    granularity_minutes: int = strawberry.field(
        default=30,
        description="Candidate starts every 15, 30 or 60 minutes from the start of each working period (default 30).",
    )
    max_results: int = strawberry.field(default=10, description="Most suggestions, 1–50 (default 10).")


@strawberry.type(description="A suggested slot for a meeting.")
class MeetingTimeSuggestion:
    start_at: dt.datetime = strawberry.field(description="UTC instant of the start.")
    end_at: dt.datetime = strawberry.field(description="UTC instant of the end (exclusive).")
    optional_available_count: int = strawberry.field(
        description="Optional people not busy in the slot (free or tentative)."
    )
    optional_available_percent: float = strawberry.field(
        description="optionalAvailableCount as a percentage of the optional people, one decimal; 100 when none."
    )
    room_id: strawberry.Private[int | None]
    tentative_ids: strawberry.Private[list[int]]
    unavailable_ids: strawberry.Private[list[int]]

    @strawberry.field(
        description="The room proposed: the smallest free room that seats everyone; null when none asked."
    )
    async def room(self, info: Info) -> Room | None:
        if self.room_id is None:
            return None
        m = await info.context.loaders.room.load(self.room_id)
        return Room.from_model(m) if m else None

    @strawberry.field(
        description="Required and optional people with only a tentative conflict (an invitation they have not "
        "answered), in the order asked."
    )
    async def tentative_people(self, info: Info) -> list[User]:
        return await _users(info, self.tentative_ids)

    @strawberry.field(description="Optional people who are busy in the slot, in the order asked.")
    async def unavailable_optional_people(self, info: Info) -> list[User]:
        return await _users(info, self.unavailable_ids)


async def _users(info: Info, ids: Sequence[int]) -> list[User]:
    rows = await info.context.loaders.user.load_many(list(ids))
    return [User.from_model(r) for r in rows if r is not None]


@strawberry.type(description="Suggested meeting times, best first, or the problems with the request.")
class MeetingTimes:
    suggestions: list[MeetingTimeSuggestion] = strawberry.field(
        description="Best first: fewer tentative people, then more optional people available, then earlier."
    )
    errors: list[UserError] = strawberry.field(description="Problems with the request; empty on success.")


def _decode_all(errors: ErrorCollector, gids: Sequence[relay.GlobalID], type_name: str, field: str) -> list[int]:
    out = []
    for n, g in enumerate(gids):
        try:
            out.append(decode_id(g, type_name, f"{field}.{n}"))
        except DomainError as exc:
            errors.errors.append(exc)
    return out


def _intervals(intervals: Sequence[av.Interval], visible: dict[int, MeetingModel]) -> list[FreeBusyInterval]:
    return [
        FreeBusyInterval(
            start_at=iv.start,
            end_at=iv.end,
            status=FreeBusyStatus.BUSY if iv.status == av.Status.BUSY else FreeBusyStatus.TENTATIVE,
            meetings=[Meeting.from_model(visible[m]) for m in iv.meeting_ids if m in visible],
            hidden=any(m not in visible for m in iv.meeting_ids),
        )
        for iv in intervals
    ]


@strawberry.type
class AvailabilityQuery:
    @strawberry.field(
        description="Free/busy of people and rooms over [from, to) (UTC instants, at most 31 days; at most 100 people "
        "and rooms together): per person and room, the merged BUSY and TENTATIVE intervals, clipped to the window. "
        "A person is BUSY in a scheduled occurrence when their reply (the occurrence's own reply, else the series "
        "reply) is ACCEPTED or they organise the meeting (convener, chair, creator), TENTATIVE when it is PENDING; "
        "DECLINED and DELEGATED leave them free (the substitute is busy instead). A room is BUSY over its pending "
        "and approved bookings. Meetings you may see are listed with their titles; others show only as busy. Any "
        "signed-in user may ask. Errors (in `errors`): INVALID_VALUE on `from` (no UTC offset) or `to` (not after "
        "`from`, over 31 days), TOO_MANY, DUPLICATE, NOT_FOUND or INACTIVE naming `userIds.N` / `roomIds.N`.",
        permission_classes=[IsAuthenticated],
    )
    async def free_busy(
        self,
        info: Info,
        user_ids: Annotated[list[relay.GlobalID], strawberry.argument(description="People (User ids).")],
        from_: Annotated[dt.datetime, strawberry.argument(name="from", description="Start of the window (UTC).")],
        to: Annotated[dt.datetime, strawberry.argument(description="End of the window, exclusive (UTC).")],
        room_ids: Annotated[
            list[relay.GlobalID] | None, strawberry.argument(description="Rooms (Room ids); default none.")
        ] = None,
    ) -> FreeBusyResult:
        actor = await require_actor(info)
        errors = ErrorCollector()
        users = _decode_all(errors, user_ids, "User", "userIds")
        rooms = _decode_all(errors, room_ids or [], "Room", "roomIds")
        try:
            errors.raise_if_any()
            async with info.context.db.read() as s:
                fb = await av.free_busy(s, actor, users, rooms, from_, to)
                room_rows = {r.id: r for r in await info.context.loaders.room.load_many([x.room_id for x in fb.rooms])}
        except (DomainError, DomainErrors) as exc:
            return FreeBusyResult(people=[], rooms=[], errors=user_errors(exc, info.context.lang))
        return FreeBusyResult(
            people=[
                PersonFreeBusy(intervals=_intervals(p.intervals, fb.visible), user_id=p.user_id or 0) for p in fb.people
            ],
            rooms=[
                RoomFreeBusy(intervals=_intervals(r.intervals, fb.visible), room=Room.from_model(room_rows[r.room_id]))
                for r in fb.rooms
                if r.room_id is not None
            ],
            errors=[],
        )

    @strawberry.field(
        description="Suggest times for a meeting: slots of `durationMinutes` on working days (make-up working days "
        "调休上班 count, holidays do not) from `from` to `to` (Asia/Shanghai dates), inside working hours (default "
        "09:00–12:00 and 13:30–17:30 Asia/Shanghai, settings OFFICE_MEETING_DAY_START/LUNCH_START/LUNCH_END/DAY_END; "
        "not across the lunch break unless the meeting is longer than the morning and the afternoon), starting at "
        "the start of a working period and every `granularityMinutes` after it, not in the past. A slot is "
        "suggested when no required person is busy (TENTATIVE is allowed but ranks lower), at least "
        "`minOptionalPercent` % of the optional people are not busy, and, when rooms are given, one that seats "
        "everyone is free. Ranked: fewer tentative people, more optional people available, earlier. Busy and "
        "tentative as in freeBusy. Errors (in `errors`): REQUIRED (requiredUserIds), TOO_MANY (over 100 people and "
        "rooms, named on the longest list), INVALID_VALUE on durationMinutes (15–480, within the working day), "
        "`from`/`to` (outside 2004–2100), `to` (before `from`, over 31 days), granularityMinutes (15/30/60), "
        "minOptionalPercent (0–100), maxResults (1–50); DUPLICATE, NOT_FOUND or INACTIVE naming "
        "`requiredUserIds.N`, `optionalUserIds.N`, `roomIds.N`; ROOM_OVER_CAPACITY on roomIds "
        "when no room seats everyone.",
        permission_classes=[IsAuthenticated],
    )
    async def find_meeting_times(self, info: Info, input: FindMeetingTimesInput) -> MeetingTimes:
        await require_actor(info)
        errors = ErrorCollector()
        req = av.FindTimeRequest(
            required_user_ids=_decode_all(errors, input.required_user_ids, "User", "requiredUserIds"),
            optional_user_ids=_decode_all(errors, input.optional_user_ids, "User", "optionalUserIds"),
            room_ids=_decode_all(errors, input.room_ids, "Room", "roomIds"),
            min_optional_percent=input.min_optional_percent,
            duration_minutes=input.duration_minutes,
            first_day=input.from_,
            last_day=input.to,
            granularity_minutes=input.granularity_minutes,
            max_results=input.max_results,
        )
        try:
            errors.raise_if_any()
            cal = await info.context.work_calendar()
            hours = av.WorkingHours.from_settings(info.context.settings)
            async with info.context.db.read() as s:
                found = await av.find_meeting_times(s, cal, hours, req, info.context.platform.clock())
        except (DomainError, DomainErrors) as exc:
            return MeetingTimes(suggestions=[], errors=user_errors(exc, info.context.lang))
        return MeetingTimes(
            suggestions=[
                MeetingTimeSuggestion(
                    start_at=x.start,
                    end_at=x.end,
                    optional_available_count=x.optional_available,
                    optional_available_percent=x.optional_percent,
                    room_id=x.room_id,
                    tentative_ids=x.tentative_user_ids,
                    unavailable_ids=x.unavailable_optional_user_ids,
                )
                for x in found
            ],
            errors=[],
        )

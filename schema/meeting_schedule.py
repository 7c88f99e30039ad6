"""GraphQL mutations that cancel one occurrence or reschedule a meeting or series (issue 6
items 2 and 4). The rules live in ``meetings.schedule``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from meetings import schedule
from meetings.models import Meeting as MeetingModel
from meetings.models import MeetingOccurrence as OccurrenceModel
from schema.common import IsAuthenticated, UserError, decode_id, idempotency_key_field, require_actor, run_mutation
from schema.meetings import Meeting, MeetingOccurrence, MeetingPayload, meeting_payload

RescheduleScopeEnum = strawberry.enum(
    schedule.Scope,
    name="RescheduleScope",
    description="Which occurrences a reschedule changes (RFC 5545 RANGE): THIS (one occurrence, kept as a moved "
    "exception of its series), THIS_AND_FOLLOWING (the series is split: the original ends before the occurrence and "
    "a new meeting continues from it), ALL (the whole series from now on; occurrences that have begun stay as they "
    "were). For a single meeting all three move it.",
)


@strawberry.input(description="Cancel one occurrence of a meeting or series.")
class CancelMeetingOccurrenceInput:
    occurrence_id: relay.GlobalID = strawberry.field(description="The occurrence (MeetingOccurrence).")
    reason: str | None = strawberry.field(
        default=None, description="Why, at most 500 characters; shown to invitees and on the occurrence."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="If given, refuse with STALE_VERSION unless the meeting still has this version."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The occurrence cancelled and its meeting, or the problems found.")
class CancelMeetingOccurrencePayload:
    occurrence: MeetingOccurrence | None = strawberry.field(description="The cancelled occurrence; null on error.")
    meeting: Meeting | None = strawberry.field(
        description="Its meeting (new version; CANCELLED when no occurrence is scheduled any more); null on error."
    )
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(
    description="Move a meeting, one occurrence, this and the following occurrences, or a whole series, and/or "
    "change its room or rule. Omitted fields stay as they are. Instants need a UTC offset."
)
class RescheduleMeetingInput:
    meeting_id: relay.GlobalID = strawberry.field(description="The meeting or series (you must organise it).")
    scope: RescheduleScopeEnum = strawberry.field(description="Which occurrences change.")  # type: ignore[valid-type]
    occurrence_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The occurrence to move (THIS) or to split at (THIS_AND_FOLLOWING) of a series."
    )
    expected_version: int = strawberry.field(
        description="The meeting's version you read; STALE_VERSION when someone changed it meanwhile."
    )
    start_at: dt.datetime | None = strawberry.field(
        default=None,
        description="New start. THIS: of the occurrence; THIS_AND_FOLLOWING: of the chosen occurrence, the new "
        "series' first; ALL: of the series' template (its first instance, may be past: only instances after now "
        "are scheduled). Give endAt with it.",
    )
    end_at: dt.datetime | None = strawberry.field(
        default=None, description="New end (exclusive), after startAt, at most 14 days later."
    )
    all_day_from: dt.date | None = strawberry.field(
        default=None, description="All-day instead of startAt/endAt: first local day in the meeting's time zone."
    )
    all_day_to: dt.date | None = strawberry.field(
        default=None, description="All-day: last local day, inclusive (default allDayFrom)."
    )
    room_id: relay.GlobalID | None = strawberry.field(
        default=None, description="A new room, booked for every occurrence changed (omitted: the room stays)."
    )
    clear_room: bool = strawberry.field(
        default=False, description="True to release the room (online or elsewhere); not with roomId."
    )
    recurrence: str | None = strawberry.field(
        default=None,
        description="ALL or THIS_AND_FOLLOWING: a new RFC 5545 RRULE (bounded by COUNT or UNTIL, at most 500 "
        "occurrences within 20 years, the new start its first occurrence); omitted: the rule stays (for "
        "THIS_AND_FOLLOWING with the COUNT that was left).",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type
class MeetingScheduleMutation:
    @strawberry.mutation(
        description="Cancel one occurrence of a meeting or series (organisers: creator, convener, chair). It becomes "
        "CANCELLED with the reason, its room booking is released and everyone invited (and the people answering for "
        "invited units) gets MEETING_CANCELLED with data.occurrenceId. When no occurrence is scheduled any more the "
        "meeting becomes CANCELLED too. Errors: NOT_FOUND, FORBIDDEN, MEETING_CANCELLED, INVALID_STATE (already "
        "cancelled or already begun) on occurrenceId; STALE_VERSION on expectedVersion; TOO_LONG on reason.",
        permission_classes=[IsAuthenticated],
    )
    async def cancel_meeting_occurrence(
        self, info: Info, input: CancelMeetingOccurrenceInput
    ) -> CancelMeetingOccurrencePayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> tuple[OccurrenceModel, MeetingModel]:
            occurrence_id = decode_id(input.occurrence_id, "MeetingOccurrence", "occurrenceId")
            return await schedule.cancel_occurrence(
                uow, broker, actor, occurrence_id, input.reason, expected_version=input.expected_version
            )

        result, errors = await run_mutation(info, work, idempotent=input)
        if result is None:
            return CancelMeetingOccurrencePayload(occurrence=None, meeting=None, errors=errors)
        occ, meeting = result
        return CancelMeetingOccurrencePayload(
            occurrence=MeetingOccurrence.from_model(occ), meeting=Meeting.from_model(meeting), errors=[]
        )

    @strawberry.mutation(
        description="Reschedule a meeting or series (organisers only), RFC 5545 style. THIS moves one occurrence "
        "(isMoved; recurrenceId keeps its rule time) and/or changes its room; THIS_AND_FOLLOWING ends the series "
        "(UNTIL) before the chosen occurrence and returns a new meeting (splitFrom = the original) with the notice, "
        "the active invitations and the occurrences from the chosen one on; ALL re-expands the series from the "
        "(new) time and rule: future occurrences keep their row on the same local date (cancelled ones stay "
        "cancelled), moved exceptions fall back to the rule when the time changes, occurrences that have begun are "
        "not touched. Rooms are booked again (never double-booked). A change of time resets the replies it concerns "
        "to PENDING; everyone concerned gets MEETING_CHANGED. Returns the meeting changed (for THIS_AND_FOLLOWING the "
        "new one). Errors: NOT_FOUND, FORBIDDEN, MEETING_CANCELLED on meetingId; STALE_VERSION on expectedVersion; "
        "REQUIRED, NOT_FOUND, INVALID_STATE (begun; a cancelled occurrence for THIS) on occurrenceId; INVALID_VALUE "
        "on startAt/endAt/allDayFrom/allDayTo (as createMeeting; not after now; all-day vs timed occurrence of a "
        "series; nothing left after now), on recurrence (with THIS), on clearRoom (with roomId); RECURRENCE_INVALID, "
        "RECURRENCE_UNBOUNDED, TOO_MANY on recurrence (or startAt when the kept rule does not fit the new start); "
        "NOT_FOUND, INACTIVE, ROOM_OVER_CAPACITY, ROOM_TAKEN on roomId.",
        permission_classes=[IsAuthenticated],
    )
    async def reschedule_meeting(self, info: Info, input: RescheduleMeetingInput) -> MeetingPayload:
        actor, broker = await require_actor(info), info.context.broker

        async def work(uow: Any) -> MeetingModel:
            data = schedule.RescheduleInput(
                meeting_id=decode_id(input.meeting_id, "Meeting", "meetingId"),
                scope=schedule.Scope(input.scope),
                expected_version=input.expected_version,
                occurrence_id=decode_id(input.occurrence_id, "MeetingOccurrence", "occurrenceId")
                if input.occurrence_id is not None
                else None,
                start_at=input.start_at,
                end_at=input.end_at,
                all_day_from=input.all_day_from,
                all_day_to=input.all_day_to,
                room_id=decode_id(input.room_id, "Room", "roomId") if input.room_id is not None else None,
                clear_room=input.clear_room,
                recurrence=input.recurrence,
            )
            return await schedule.reschedule(uow, broker, actor, data)

        return meeting_payload(*await run_mutation(info, work, idempotent=input))

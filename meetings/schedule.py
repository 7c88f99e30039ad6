"""Cancelling one occurrence and rescheduling meetings and recurring series (issue 6, items 2
and 4; RFC 5545 §3.8.4.4 RECURRENCE-ID and §3.8.5.3 RRULE).

Every change runs in the caller's transaction, after :func:`meetings.access.meeting_for_organiser`
(organisers only; the meeting row locked) and, for rescheduling, a check of the version the
client read (``STALE_VERSION``: of two organisers changing a meeting at once, one wins).
"Now" is ``uow.now`` (the platform's clock).

Decisions (README "Recurring meetings and rescheduling"):

- **Begun occurrences are history.** An occurrence whose start is not after now is never
  moved, re-booked or removed; no occurrence is moved to start more than 60 minutes before
  now or more than 10 years after it (``meetings.service.check_start``, createMeeting's rule;
  ALL on a series may give a past template start, whose past dates are left as they are).
- **Checked-in occurrences keep their time.** An occurrence someone has checked in to (its
  window opens before its start) is not moved, by any scope: ``INVALID_STATE`` "check-in has
  begun; cancel it instead" (``meetings.check_in.refuse_if_checked_in``).
- **Cancelling one occurrence** (:func:`cancel_occurrence`) marks it CANCELLED, releases its
  room and tells everyone concerned (``MEETING_CANCELLED`` with ``occurrenceId``). When no
  occurrence of the meeting is SCHEDULED any more, the meeting itself becomes CANCELLED
  (with the same reason); occurrences already held stay SCHEDULED, so a series with a past
  is not cancelled by calling off its remaining dates.
- **THIS** moves one occurrence (``is_exception``; ``recurrence_id`` keeps the rule's start,
  so clients show it as moved from there) and/or changes its room.
- **THIS_AND_FOLLOWING** splits the series as RFC 5545 clients do: the original rule gets an
  ``UNTIL`` one second before the chosen occurrence's RECURRENCE-ID, its occurrences from
  there on leave it (:func:`drop_occurrences`), and a new meeting (``split_from_id`` = the
  original) takes the notice, the active invitations and the occurrences from the chosen one
  on, expanded from the new time and rule (by default the old rule with the COUNT that was
  left). Chosen on the first occurrence it is the same as ALL.
- **ALL** re-expands the series from the (possibly new) template time and rule. Future
  occurrences are matched to the new instances by the local date of their RECURRENCE-ID
  (an identical RECURRENCE-ID first): a matched occurrence keeps its row (id, cancellation)
  and takes the rule's new time; unmatched future occurrences are dropped; new dates get new
  rows. Moved exceptions fall back to the rule when the series' time changes (as in RFC 5545
  and Google Calendar, where overrides of the old instances no longer apply) and keep their
  own time when only the rule's bound, the rule or the room changes.
- **A single meeting**: THIS, THIS_AND_FOLLOWING and ALL all move it (its one occurrence
  keeps its id; its RECURRENCE-ID follows the start, as it has no rule).
- **Dropping an occurrence** deletes it with its room booking and per-occurrence replies when
  nothing else refers to it, else (check-ins, minutes, leave requests) cancels it.
- **A change of time** resets the replies (回执) it concerns to PENDING (the whole series'
  invitations for ALL and single meetings, per-occurrence replies for THIS) and shifts the
  template's 报到 time and reply deadline with the start. Every change notifies everyone
  concerned (``MEETING_CHANGED``), the actor excepted.
- **Rooms**: a changed occurrence's booking is released and the room booked again for the new
  time (clash check ignoring the occurrence itself, ``ROOM_TAKEN``), APPROVED when the room
  needs no approval or the actor answers for its unit, else PENDING again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, union

from meetings import recurrence, rooms
from meetings.access import meeting_for_organiser, people_to_tell
from meetings.check_in import refuse_if_checked_in, schedule_check_in_open
from meetings.models import (
    BookingStatus,
    CheckIn,
    Invitation,
    LeaveRequest,
    Meeting,
    MeetingMinutes,
    MeetingOccurrence,
    MeetingState,
    OccurrenceReply,
    OccurrenceState,
    ReplyState,
    Room,
    RoomBooking,
)
from meetings.recurrence import Instance
from meetings.replies import reset_replies
from meetings.service import MeetingInput, attendee_places, local_time, meeting_times
from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.permissions import Actor
from office_api.text import trimmed

#: Longest cancellation reason.
MAX_REASON = 500
#: Reason recorded on an occurrence a change of its series cancels (kept for its records).
DROPPED_REASON = "会议已改期"


class Scope(StrEnum):
    """Which occurrences a reschedule changes (RFC 5545 RANGE: this one, THISANDFUTURE, all)."""

    THIS = "this"
    THIS_AND_FOLLOWING = "this_and_following"
    ALL = "all"


@dataclass
class RescheduleInput:
    """What :func:`reschedule` needs. Times are aware instants; all-day dates are local dates
    of the meeting's zone. No time given = the time stays; ``room_id`` None and ``clear_room``
    False = the room stays; ``recurrence`` None = the rule stays."""

    meeting_id: int
    scope: Scope
    expected_version: int
    occurrence_id: int | None = None
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    all_day_from: dt.date | None = None
    all_day_to: dt.date | None = None
    room_id: int | None = None
    clear_room: bool = False
    recurrence: str | None = None


@dataclass
class _Change:
    """The validated parts of a :class:`RescheduleInput`."""

    times: tuple[dt.datetime, dt.datetime] | None
    all_day: bool
    room_given: bool
    room_id: int | None
    rule: str | None  # a new rule, stripped, or None to keep the meeting's


@dataclass
class Pairing:
    """Existing occurrences matched to the instances of a (new) rule, see :func:`pair_by_day`."""

    pairs: list[tuple[MeetingOccurrence, Instance]] = field(default_factory=list)
    new: list[Instance] = field(default_factory=list)
    unmatched: list[MeetingOccurrence] = field(default_factory=list)


def pair_by_day(rows: Sequence[MeetingOccurrence], instances: Sequence[Instance], tz: ZoneInfo) -> Pairing:
    """Match occurrences to instances by the local date (in ``tz``) of their RECURRENCE-ID:
    on each date an occurrence with the instance's very RECURRENCE-ID first, then the rest in
    order. Because identical ids always pair, an instance's id never equals the id of another
    row of the meeting (no unique-constraint clash while rows take their new ids)."""
    out = Pairing()
    rows_by_day: dict[dt.date, list[MeetingOccurrence]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.recurrence_id, r.id)):
        rows_by_day[row.recurrence_id.astimezone(tz).date()].append(row)
    insts_by_day: dict[dt.date, list[Instance]] = defaultdict(list)
    for inst in instances:
        insts_by_day[inst.recurrence_id.astimezone(tz).date()].append(inst)
    for day, insts in insts_by_day.items():
        waiting = rows_by_day.pop(day, [])
        rest: list[Instance] = []
        for inst in insts:
            same = next((r for r in waiting if r.recurrence_id == inst.recurrence_id), None)
            if same is None:
                rest.append(inst)
            else:
                waiting.remove(same)
                out.pairs.append((same, inst))
        for inst in rest:
            if waiting:
                out.pairs.append((waiting.pop(0), inst))
            else:
                out.new.append(inst)
        out.unmatched.extend(waiting)
    for left in rows_by_day.values():
        out.unmatched.extend(left)
    return out


# ---- small helpers (bookings, replies, notifications) ---------------------------------------


async def occurrences_by_rule(uow: UnitOfWork, meeting_id: int) -> list[MeetingOccurrence]:
    """The meeting's occurrences in RECURRENCE-ID order."""
    q = (
        select(MeetingOccurrence)
        .where(MeetingOccurrence.meeting_id == meeting_id)
        .order_by(MeetingOccurrence.recurrence_id, MeetingOccurrence.id)
    )
    return list((await uow.session.execute(q)).scalars())


async def rebook(
    uow: UnitOfWork, actor: Actor, occurrences: Sequence[MeetingOccurrence], *, broker: Publisher, meeting: Meeting
) -> None:
    """Book each SCHEDULED occurrence's room for its (new) time, first releasing the bookings
    of all of them (``rooms.release``, so that they do not clash with their own old slots).

    An occurrence's one booking row is reused (``room_bookings.occurrence_id`` is unique).
    APPROVED when the room needs no approval or ``actor`` answers for its unit
    (``rooms.may_decide``), else PENDING and announced once per room (``rooms.request_approval``).
    Raises ``ROOM_TAKEN`` naming ``roomId`` and the clashing time (Asia/Shanghai); the PostgreSQL
    exclusion constraint's refusal of a concurrent booking becomes ``ROOM_TAKEN`` too.
    """
    if not occurrences:
        return
    session = uow.session
    await rooms.release(uow, [o.id for o in occurrences])
    q = select(RoomBooking).where(RoomBooking.occurrence_id.in_([o.id for o in occurrences]))
    bookings = {b.occurrence_id: b for b in (await session.execute(q)).scalars()}
    approved: dict[int, bool] = {}
    pending: dict[int, list[RoomBooking]] = defaultdict(list)
    booked_rooms: dict[int, Room] = {}
    for occ in occurrences:
        if occ.room_id is None or occ.state != OccurrenceState.SCHEDULED.value:
            continue
        room = await session.get(Room, occ.room_id)
        assert room is not None
        booked_rooms[room.id] = room
        if room.id not in approved:
            approved[room.id] = not room.requires_approval or await rooms.may_decide(session, actor.user_id, room)
        if await rooms.clashes(uow, room.id, occ.start_at, occ.end_at, ignore_occurrence=occ.id) is not None:
            raise DomainError(
                ErrorCode.ROOM_TAKEN,
                "roomId",
                detail=f"{room.name}, {local_time(occ.start_at)}–{local_time(occ.end_at)} (Asia/Shanghai)",
            )
        status = (BookingStatus.APPROVED if approved[room.id] else BookingStatus.PENDING).value
        booking = bookings.get(occ.id)
        if booking is None:
            booking = RoomBooking(occurrence_id=occ.id, created_at=uow.now)
            session.add(booking)
        booking.room_id, booking.start_at, booking.end_at = room.id, occ.start_at, occ.end_at
        booking.status, booking.decided_by_id, booking.decided_at = status, None, None
        booking.decision_remark = None
        await rooms.flush_bookings(uow, room)
        if not approved[room.id]:
            pending[room.id].append(booking)
    for room_id, rows in pending.items():
        await rooms.request_approval(uow, broker, actor, meeting, booked_rooms[room_id], rows)


async def _referenced(uow: UnitOfWork, occurrence_ids: Sequence[int]) -> set[int]:
    """Those occurrences that check-ins, minutes or leave requests refer to."""
    ids = list(occurrence_ids)
    if not ids:
        return set()
    q = union(
        select(CheckIn.occurrence_id).where(CheckIn.occurrence_id.in_(ids)),
        select(MeetingMinutes.occurrence_id).where(MeetingMinutes.occurrence_id.in_(ids)),
        select(LeaveRequest.occurrence_id).where(LeaveRequest.occurrence_id.in_(ids)),
    )
    return {row[0] for row in (await uow.session.execute(q)).all() if row[0] is not None}


async def drop_occurrences(uow: UnitOfWork, occurrences: Sequence[MeetingOccurrence], reason: str) -> None:
    """Take occurrences out of their series: delete each one (with its room booking and
    per-occurrence replies) unless check-ins, minutes or leave requests refer to it; those
    are CANCELLED instead (``reason`` recorded) and their room released."""
    if not occurrences:
        return
    session = uow.session
    referenced = await _referenced(uow, [o.id for o in occurrences])
    kept = [o for o in occurrences if o.id in referenced]
    gone = [o for o in occurrences if o.id not in referenced]
    for occ in kept:
        if occ.state != OccurrenceState.CANCELLED.value:
            occ.state, occ.cancelled_at, occ.cancel_reason = OccurrenceState.CANCELLED.value, uow.now, reason
            occ.version += 1
    await rooms.release(uow, [o.id for o in kept])
    if gone:
        ids = [o.id for o in gone]
        await session.execute(delete(RoomBooking).where(RoomBooking.occurrence_id.in_(ids)))
        await session.execute(delete(OccurrenceReply).where(OccurrenceReply.occurrence_id.in_(ids)))
        for occ in gone:
            await session.delete(occ)
    await session.flush()


def _bump(uow: UnitOfWork, meeting: Meeting) -> None:
    meeting.version += 1
    meeting.updated_at = uow.now


async def _tell(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    meeting: Meeting,
    kind: NotificationKind,
    title: str,
    body: str,
    payload: dict[str, object],
) -> None:
    """Notify everyone the meeting concerns (:func:`meetings.access.people_to_tell`) but the actor."""
    users = [u for u in await people_to_tell(uow.session, meeting.id) if u != actor.user_id]
    messages = [
        Message(
            user_id=u,
            kind=kind.value,
            title=title,
            body=body,
            subject_type="Meeting",
            subject_id=meeting.id,
            actor_id=actor.user_id,
            payload=payload,
        )
        for u in users
    ]
    await notify(uow, broker, messages)


async def _tell_changed(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    meeting: Meeting,
    scope: Scope,
    *,
    start: dt.datetime,
    time_changed: bool,
    occurrence_id: int | None = None,
    split_from_id: int | None = None,
) -> None:
    payload: dict[str, object] = {"scope": scope.name, "startAt": start.isoformat(), "timeChanged": time_changed}
    if occurrence_id is not None:
        payload["occurrenceId"] = occurrence_id
    if split_from_id is not None:
        payload["splitFromId"] = split_from_id
    which = {Scope.THIS: "本次", Scope.THIS_AND_FOLLOWING: "本次及以后", Scope.ALL: ""}[scope]
    body = f"{which}{local_time(start, meeting.time_zone)} {meeting.location}".strip()
    if time_changed:
        body += "（时间已调整，请重新回执）"
    await _tell(
        uow, broker, actor, meeting, NotificationKind.MEETING_CHANGED, f"会议变更：{meeting.title}", body, payload
    )


# ---- cancelling one occurrence ------------------------------------------------------------------


async def cancel_occurrence(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    occurrence_id: int,
    reason: str | None,
    *,
    expected_version: int | None = None,
) -> tuple[MeetingOccurrence, Meeting]:
    """Cancel one occurrence of a meeting or series (its organisers only).

    The occurrence becomes CANCELLED (``cancelled_at``, ``cancel_reason``), its room booking
    RELEASED, the meeting's version goes up, and everyone concerned gets ``MEETING_CANCELLED``
    (subject the meeting; payload ``occurrenceId``, ``startAt``, ``meetingCancelled``). When
    no occurrence is SCHEDULED any more the meeting becomes CANCELLED too.

    Errors: NOT_FOUND / FORBIDDEN / MEETING_CANCELLED on ``occurrenceId`` (see
    ``meeting_for_organiser``), STALE_VERSION on ``expectedVersion``, TOO_LONG on ``reason``
    (500), INVALID_STATE on ``occurrenceId`` (already cancelled, or already begun).
    """
    session = uow.session
    q = select(MeetingOccurrence.meeting_id).where(MeetingOccurrence.id == occurrence_id)
    meeting_id = (await session.execute(q)).scalar_one_or_none()
    if meeting_id is None:
        raise DomainError(ErrorCode.NOT_FOUND, "occurrenceId")
    meeting = await meeting_for_organiser(session, actor, meeting_id, "occurrenceId")
    if expected_version is not None and meeting.version != expected_version:
        raise DomainError(ErrorCode.STALE_VERSION, "expectedVersion")
    text = trimmed(reason)
    if len(text) > MAX_REASON:
        raise DomainError(ErrorCode.TOO_LONG, "reason", limit=MAX_REASON)
    occ = await session.get(MeetingOccurrence, occurrence_id, populate_existing=True)
    assert occ is not None
    if occ.state == OccurrenceState.CANCELLED.value:
        raise DomainError(ErrorCode.INVALID_STATE, "occurrenceId", detail="this occurrence is already cancelled")
    if occ.start_at <= uow.now:
        raise DomainError(ErrorCode.INVALID_STATE, "occurrenceId", detail="this occurrence has already begun")
    occ.state, occ.cancelled_at, occ.cancel_reason = OccurrenceState.CANCELLED.value, uow.now, text or None
    occ.version += 1
    await rooms.release(uow, [occ.id])
    left = await session.scalar(
        select(func.count())
        .select_from(MeetingOccurrence)
        .where(MeetingOccurrence.meeting_id == meeting.id, MeetingOccurrence.state == OccurrenceState.SCHEDULED.value)
    )
    whole = not left
    if whole:
        meeting.state, meeting.cancelled_at, meeting.cancel_reason = MeetingState.CANCELLED.value, uow.now, text or None
    _bump(uow, meeting)
    when = local_time(occ.start_at, meeting.time_zone)
    await _tell(
        uow,
        broker,
        actor,
        meeting,
        NotificationKind.MEETING_CANCELLED,
        f"会议取消：{meeting.title}",
        f"{when} 的会议取消" + (f"：{text}" if text else ""),
        {"occurrenceId": occ.id, "startAt": occ.start_at.isoformat(), "meetingCancelled": whole},
    )
    return occ, meeting


# ---- rescheduling ---------------------------------------------------------------------------------


async def reschedule(uow: UnitOfWork, broker: Publisher, actor: Actor, data: RescheduleInput) -> Meeting:
    """Move one occurrence, this and the following ones, or the whole series (module
    docstring for the rules); returns the meeting changed, which for THIS_AND_FOLLOWING is
    the new meeting split off (``split_from_id`` = the original). Changing nothing is no error
    and changes nothing (no new version, nobody told).

    Errors: NOT_FOUND / FORBIDDEN / MEETING_CANCELLED on ``meetingId``; STALE_VERSION on
    ``expectedVersion``; REQUIRED / NOT_FOUND on ``occurrenceId`` (THIS and
    THIS_AND_FOLLOWING need one of this meeting); INVALID_VALUE on ``recurrence`` (a rule with
    THIS), ``clearRoom`` (with ``roomId``), ``startAt``/``endAt``/``allDayFrom``/``allDayTo``
    (as for createMeeting: a start more than 60 minutes before now or 10 years after it; an
    all-day occurrence of a timed series or the reverse; no occurrence left after now);
    RECURRENCE_INVALID, RECURRENCE_UNBOUNDED, TOO_MANY on ``recurrence`` (or ``startAt``
    when the kept rule does not fit the new start); NOT_FOUND / INACTIVE /
    ROOM_OVER_CAPACITY / ROOM_TAKEN on ``roomId``;
    INVALID_STATE on ``occurrenceId``/``meetingId`` (already begun; THIS on a cancelled
    occurrence).
    """
    session = uow.session
    meeting = await meeting_for_organiser(session, actor, data.meeting_id)
    if meeting.version != data.expected_version:
        raise DomainError(ErrorCode.STALE_VERSION, "expectedVersion")
    errors = ErrorCollector()
    occ: MeetingOccurrence | None = None
    if data.scope is not Scope.ALL or meeting.rrule is None:
        if data.occurrence_id is None and meeting.rrule is not None:
            errors.add(ErrorCode.REQUIRED, "occurrenceId")
        elif data.occurrence_id is not None:
            occ = await session.get(MeetingOccurrence, data.occurrence_id, populate_existing=True)
            if occ is None or occ.meeting_id != meeting.id:
                errors.add(ErrorCode.NOT_FOUND, "occurrenceId")
                occ = None
    if data.recurrence is not None and data.scope is Scope.THIS:
        errors.add(ErrorCode.INVALID_VALUE, "recurrence", detail="a new rule needs scope ALL or THIS_AND_FOLLOWING")
    if data.room_id is not None and data.clear_room:
        errors.add(ErrorCode.INVALID_VALUE, "clearRoom", detail="give roomId or clearRoom, not both")
    times = None
    given = (data.start_at, data.end_at, data.all_day_from, data.all_day_to)
    if any(v is not None for v in given):
        probe = MeetingInput(
            title="",
            organizer_unit_id=meeting.organizer_unit_id,
            start_at=data.start_at,
            end_at=data.end_at,
            all_day_from=data.all_day_from,
            all_day_to=data.all_day_to,
            time_zone=meeting.time_zone,
        )
        # A whole series moved may start in the past (its first dates may be held already).
        history = meeting.rrule is not None and data.scope is Scope.ALL
        times = meeting_times(errors, probe, uow.now, history=history)
    all_day = (data.all_day_from is not None or data.all_day_to is not None) if times else meeting.all_day
    if data.room_id is not None:
        await _check_room(uow, errors, meeting, data.room_id)
    errors.raise_if_any()
    change = _Change(
        times=times,
        all_day=all_day,
        room_given=data.room_id is not None or data.clear_room,
        room_id=data.room_id,
        rule=recurrence.canonical(data.recurrence) if data.recurrence is not None else None,
    )
    if meeting.rrule is None and change.rule is None:
        if occ is None:
            occ = (await occurrences_by_rule(uow, meeting.id))[0]
        return await _move_one(uow, broker, actor, meeting, occ, change, data.scope)
    if data.scope is Scope.THIS:
        assert occ is not None
        return await _move_one(uow, broker, actor, meeting, occ, change, Scope.THIS)
    if data.scope is Scope.THIS_AND_FOLLOWING and meeting.rrule is not None:
        assert occ is not None
        return await _split(uow, broker, actor, meeting, occ, change)
    return await _reschedule_series(uow, broker, actor, meeting, change, data.scope)


async def _check_room(uow: UnitOfWork, errors: ErrorCollector, meeting: Meeting, room_id: int) -> None:
    room = await uow.session.get(Room, room_id)
    if room is None:
        errors.add(ErrorCode.NOT_FOUND, "roomId")
        return
    if not room.is_active:
        errors.add(ErrorCode.INACTIVE, "roomId", detail=room.name)
        return
    q = select(Invitation).where(Invitation.meeting_id == meeting.id, Invitation.is_active.is_(True))
    places = attendee_places(list((await uow.session.execute(q)).scalars()))
    if places > room.capacity:
        errors.add(ErrorCode.ROOM_OVER_CAPACITY, "roomId", count=places, capacity=room.capacity)


def _start_field(all_day: bool) -> str:
    return "allDayFrom" if all_day else "startAt"


def _shift_template(meeting: Meeting, start: dt.datetime, end: dt.datetime) -> None:
    """Give the meeting its new template time; 报到 and the reply deadline move with the start."""
    delta = start - meeting.start_at
    if meeting.report_at is not None:
        meeting.report_at += delta
    if meeting.reply_deadline is not None:
        meeting.reply_deadline += delta
    meeting.start_at, meeting.end_at = start, end


async def _move_one(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    meeting: Meeting,
    occ: MeetingOccurrence,
    change: _Change,
    scope: Scope,
) -> Meeting:
    """THIS on a series, or any scope on a single meeting."""
    single = meeting.rrule is None
    if occ.state == OccurrenceState.CANCELLED.value:
        raise DomainError(ErrorCode.INVALID_STATE, "occurrenceId", detail="a cancelled occurrence cannot be moved")
    if occ.start_at <= uow.now:
        field = "meetingId" if single else "occurrenceId"
        raise DomainError(ErrorCode.INVALID_STATE, field, detail="it has already begun")
    if change.times is not None and not single and change.all_day != meeting.all_day:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            _start_field(change.all_day),
            detail="an occurrence keeps its series' kind (all-day or timed); change ALL for that",
        )
    start, end = change.times or (occ.start_at, occ.end_at)
    time_changed = (start, end) != (occ.start_at, occ.end_at)
    if time_changed:
        await refuse_if_checked_in(uow.session, [occ.id], _start_field(change.all_day) if single else "occurrenceId")
    room_id = change.room_id if change.room_given else occ.room_id
    room_changed = room_id != occ.room_id
    all_day_changed = single and change.all_day != meeting.all_day
    if not time_changed and not room_changed and not all_day_changed:
        return meeting
    occ.start_at, occ.end_at, occ.room_id = start, end, room_id
    occ.version += 1
    if single:
        occ.recurrence_id, occ.is_exception = start, False
        _shift_template(meeting, start, end)
        meeting.all_day, meeting.room_id = change.all_day, room_id
    else:
        occ.is_exception = True
    await uow.session.flush()
    await rebook(uow, actor, [occ], broker=broker, meeting=meeting)
    await schedule_check_in_open(uow, meeting, [occ])
    if time_changed:
        await reset_replies(uow, meeting, None if single else [occ.id])
    _bump(uow, meeting)
    await _tell_changed(
        uow, broker, actor, meeting, scope, start=start, time_changed=time_changed, occurrence_id=occ.id
    )
    return meeting


async def _reschedule_series(
    uow: UnitOfWork, broker: Publisher, actor: Actor, meeting: Meeting, change: _Change, scope: Scope
) -> Meeting:
    """ALL (and THIS_AND_FOLLOWING from the first occurrence): re-expand and match by date."""
    now = uow.now
    rule = change.rule if change.rule is not None else meeting.rrule
    start, end = change.times or (meeting.start_at, meeting.end_at)
    template_changed = (start, end) != (meeting.start_at, meeting.end_at)
    rule_changed = change.rule is not None and change.rule != (meeting.rrule or "")
    field = "recurrence" if change.rule is not None else _start_field(change.all_day)
    instances = recurrence.expand(rule, start, end, meeting.time_zone, all_day=change.all_day, field=field)
    target_room = change.room_id if change.room_given else meeting.room_id
    room_changed = change.room_given and target_room != meeting.room_id
    if not (template_changed or rule_changed or room_changed or change.all_day != meeting.all_day):
        return meeting
    rows = await occurrences_by_rule(uow, meeting.id)
    pairing = pair_by_day(rows, instances, recurrence.zone(meeting.time_zone))
    drops = [r for r in pairing.unmatched if r.start_at > now]
    creates = [i for i in pairing.new if i.start > now]
    if len(rows) == len(drops) and not creates:
        raise DomainError(ErrorCode.INVALID_VALUE, field, detail="no occurrence would be left after now")

    await refuse_if_checked_in(
        uow.session,
        [
            row.id
            for row, inst in pairing.pairs
            if row.start_at > now
            and inst.start > now
            and (row.recurrence_id != inst.recurrence_id or template_changed)
            and (inst.start, inst.end) != (row.start_at, row.end_at)
        ],
        field,
    )
    await drop_occurrences(uow, drops, DROPPED_REASON)
    changed: list[MeetingOccurrence] = []
    retimed: list[MeetingOccurrence] = []
    for row, inst in pairing.pairs:
        if row.start_at <= now or inst.start <= now:
            continue  # begun, or its new time has begun: left as it is
        before = (row.start_at, row.end_at, row.room_id, row.recurrence_id, row.is_exception)
        if row.recurrence_id != inst.recurrence_id or template_changed:
            if row.is_exception:
                row.room_id = target_room
            row.recurrence_id, row.start_at, row.end_at, row.is_exception = (
                inst.recurrence_id,
                inst.start,
                inst.end,
                False,
            )
        if room_changed:
            row.room_id = target_room
        if (row.start_at, row.end_at, row.room_id, row.recurrence_id, row.is_exception) != before:
            row.version += 1
            changed.append(row)
            if (row.start_at, row.end_at) != before[:2]:
                retimed.append(row)
    new_rows = [
        MeetingOccurrence(
            meeting_id=meeting.id, recurrence_id=i.recurrence_id, start_at=i.start, end_at=i.end, room_id=target_room
        )
        for i in creates
    ]
    uow.session.add_all(new_rows)
    _shift_template(meeting, start, end)
    meeting.rrule, meeting.all_day, meeting.room_id = rule, change.all_day, target_room
    await uow.session.flush()
    await rebook(uow, actor, changed + new_rows, broker=broker, meeting=meeting)
    await schedule_check_in_open(uow, meeting, changed + new_rows)
    if template_changed or retimed:
        await reset_replies(uow, meeting, None)
    _bump(uow, meeting)
    first = min((r.start_at for r in [*changed, *new_rows]), default=start)
    await _tell_changed(uow, broker, actor, meeting, scope, start=first, time_changed=template_changed or bool(retimed))
    return meeting


async def _split(
    uow: UnitOfWork, broker: Publisher, actor: Actor, meeting: Meeting, occ: MeetingOccurrence, change: _Change
) -> Meeting:
    """THIS_AND_FOLLOWING on a series: end the original before ``occ``, continue in a new meeting."""
    now = uow.now
    assert meeting.rrule is not None
    if occ.start_at <= now or occ.recurrence_id <= now:
        raise DomainError(ErrorCode.INVALID_STATE, "occurrenceId", detail="it has already begun")
    rows = await occurrences_by_rule(uow, meeting.id)
    earlier = [r for r in rows if r.recurrence_id < occ.recurrence_id]
    if not earlier:
        return await _reschedule_series(uow, broker, actor, meeting, change, Scope.THIS_AND_FOLLOWING)
    later = [r for r in rows if r.recurrence_id >= occ.recurrence_id]
    # an occurrence checked in to would leave its series (its check-ins with it): refused
    await refuse_if_checked_in(uow.session, [r.id for r in later if r.start_at > now], "occurrenceId")
    try:
        old = recurrence.expand(
            meeting.rrule, meeting.start_at, meeting.end_at, meeting.time_zone, all_day=meeting.all_day
        )
    except DomainError:  # a rule stored before today's checks: fall back on the rows
        old = []
    at_occ = next((i for i in old if i.recurrence_id == occ.recurrence_id), None)
    if at_occ is not None:
        rule_start, rule_end = at_occ.start, at_occ.end
    else:
        rule_start, rule_end = occ.recurrence_id, occ.recurrence_id + (meeting.end_at - meeting.start_at)
    start, end = change.times or (rule_start, rule_end)
    template_changed = (start, end) != (rule_start, rule_end)
    if change.rule is not None:
        rule, field = change.rule, "recurrence"
    else:
        rule, field = meeting.rrule, _start_field(change.all_day)
        count = recurrence.rule_parts(rule).get("COUNT")
        if count is not None and count.isdigit():
            before = sum(1 for i in old if i.recurrence_id < occ.recurrence_id) if old else len(earlier)
            rule = recurrence.rebound(rule, count=max(1, int(count) - before))
    instances = recurrence.expand(rule, start, end, meeting.time_zone, all_day=change.all_day, field=field)
    tz = recurrence.zone(meeting.time_zone)
    target_room = change.room_id if change.room_given else meeting.room_id

    # The original ends one second before the chosen occurrence's RECURRENCE-ID.
    meeting.rrule = recurrence.rebound(meeting.rrule, until=occ.recurrence_id - dt.timedelta(seconds=1))
    _bump(uow, meeting)
    pairing = pair_by_day(later, instances, tz)
    begun = {r.id for r in later if r.start_at <= now}  # moved into the past: stays as history
    # The new occurrences take over the state of the rows they continue (read before those go).
    new_rows: list[MeetingOccurrence] = []
    for row, inst in pairing.pairs:
        if row.id in begun:
            continue
        copy = MeetingOccurrence(
            recurrence_id=inst.recurrence_id,
            start_at=inst.start,
            end_at=inst.end,
            room_id=target_room,
        )
        if row.state == OccurrenceState.CANCELLED.value:
            copy.state, copy.cancelled_at, copy.cancel_reason = row.state, row.cancelled_at, row.cancel_reason
        if row.is_exception and row.recurrence_id == inst.recurrence_id and not template_changed:
            copy.start_at, copy.end_at, copy.is_exception = row.start_at, row.end_at, True
            copy.room_id = target_room if change.room_given else row.room_id
        new_rows.append(copy)
    for inst in pairing.new:
        new_rows.append(
            MeetingOccurrence(
                recurrence_id=inst.recurrence_id,
                start_at=inst.start,
                end_at=inst.end,
                room_id=target_room,
            )
        )
    await drop_occurrences(uow, [r for r in later if r.id not in begun], DROPPED_REASON)

    new = Meeting(
        title=meeting.title,
        organizer_unit_id=meeting.organizer_unit_id,
        co_organizer_unit_ids=list(meeting.co_organizer_unit_ids or []),
        convener_id=meeting.convener_id,
        chair_id=meeting.chair_id,
        agenda=meeting.agenda,
        materials=meeting.materials,
        logistics=meeting.logistics,
        location=meeting.location,
        online_link=meeting.online_link,
        contact_name=meeting.contact_name,
        contact_phone=meeting.contact_phone,
        start_at=start,
        end_at=end,
        report_at=meeting.report_at + (start - meeting.start_at) if meeting.report_at else None,
        time_zone=meeting.time_zone,
        all_day=change.all_day,
        rrule=rule,
        room_id=target_room,
        reply_deadline=meeting.reply_deadline + (start - meeting.start_at) if meeting.reply_deadline else None,
        substitution_policy=meeting.substitution_policy,
        check_in_opens_minutes=meeting.check_in_opens_minutes,
        late_after_minutes=meeting.late_after_minutes,
        split_from_id=meeting.id,
        created_by_id=meeting.created_by_id,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(new)
    await uow.session.flush()
    for row in new_rows:
        row.meeting_id = new.id
    uow.session.add_all(new_rows)
    await uow.session.flush()
    await rebook(uow, actor, new_rows, broker=broker, meeting=new)
    await schedule_check_in_open(uow, new, new_rows)
    await _copy_invitations(uow, meeting, new, reset=template_changed)
    await _tell_changed(
        uow,
        broker,
        actor,
        new,
        Scope.THIS_AND_FOLLOWING,
        start=start,
        time_changed=template_changed,
        split_from_id=meeting.id,
    )
    return new


async def _copy_invitations(uow: UnitOfWork, source: Meeting, target: Meeting, *, reset: bool) -> None:
    """Copy the active invitations (and replies, unless ``reset``: PENDING again) to ``target``,
    keeping who nominated whom and who stands in for whom."""
    session = uow.session
    q = (
        select(Invitation)
        .where(Invitation.meeting_id == source.id, Invitation.is_active.is_(True))
        .order_by(Invitation.id)
    )
    originals = list((await session.execute(q)).scalars())
    copies: list[Invitation] = []
    for inv in originals:
        keep = not reset or inv.state == ReplyState.DELEGATED.value
        copies.append(
            Invitation(
                meeting_id=target.id,
                user_id=inv.user_id,
                unit_id=inv.unit_id,
                role=inv.role,
                required=inv.required,
                quota=inv.quota,
                required_rank=inv.required_rank,
                state=inv.state if keep else ReplyState.PENDING.value,
                replied_at=inv.replied_at if keep else None,
                replied_by_id=inv.replied_by_id if keep else None,
                late=inv.late if keep else False,
                remark=inv.remark,
                reply_details=dict(inv.reply_details or {}),
                created_at=uow.now,
            )
        )
    session.add_all(copies)
    await session.flush()
    new_id = {inv.id: c.id for inv, c in zip(originals, copies, strict=True)}
    for inv, c in zip(originals, copies, strict=True):
        c.nominated_via_id = new_id.get(inv.nominated_via_id) if inv.nominated_via_id else None
        c.on_behalf_of_id = new_id.get(inv.on_behalf_of_id) if inv.on_behalf_of_id else None
    await session.flush()

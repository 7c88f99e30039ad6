"""Free/busy of people and rooms, and finding a meeting time (DOMAIN §7, issue 6 item 5).

**Who is busy when.** Intervals are half-open UTC ``[start, end)``. Only scheduled
occurrences of scheduled meetings count.

* A person is *busy* in an occurrence when they hold an active person invitation to its
  meeting whose effective reply is ACCEPTED, and *tentative* when it is PENDING. The
  effective reply is the ``occurrence_replies`` row for that occurrence if there is one, else
  the invitation's series reply (``meeting_invitations.state``). DECLINED and DELEGATED leave
  the person free; a delegated invitee's substitute holds their own invitation (with
  ``on_behalf_of_id``) and is busy or tentative by it instead (DOMAIN §7.2).
* The organisers of a meeting (convener, chair, creator: ``meetings.access.is_organiser``)
  are busy in its occurrences without an invitation. An organiser who holds an active
  invitation is governed by it, except that PENDING counts as busy for them (they run the
  meeting); DECLINED or DELEGATED leaves them free (a clerk who booked a meeting for leaders
  and declined it is not at it).
* A room is busy over its holding bookings (PENDING or APPROVED, ``meetings.models.HOLDING``).

All busy intervals of all the people and rooms asked about come from **one** SQL statement
(:func:`busy_rows`, a UNION ALL); the rest is computed in memory, so the number of statements
does not grow with attendees, days or candidate slots.

**Finding a time** (:func:`find_meeting_times`). Candidate slots lie on working days
(``office_api.workdays``: make-up working days 调休上班 count, holidays do not) inside the
working hours of :class:`WorkingHours` (settings ``OFFICE_MEETING_DAY_START`` …, Asia/Shanghai),
never across the lunch break unless the meeting is longer than the morning and the afternoon
(then it may fill the working day), start at the beginning of a working period and every
``granularity`` minutes after it, and never before now. A slot is suggested when no required
attendee is busy, at least ``min_optional_percent`` % of the optional attendees are not busy
(free or tentative) and, when rooms are given, one of them (with seats for every attendee) is
free; the smallest such room is proposed. Suggestions are ranked: fewer tentative attendees,
then more optional attendees not busy, then earlier.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.access import answering_units_of
from meetings.models import (
    HOLDING,
    Invitation,
    Meeting,
    MeetingOccurrence,
    MeetingState,
    OccurrenceReply,
    OccurrenceState,
    ReplyState,
    Room,
    RoomBooking,
)
from office_api.errors import ErrorCode, ErrorCollector
from office_api.org.models import User
from office_api.org.permissions import Actor
from office_api.workdays import MAX_YEAR, MIN_YEAR, SHANGHAI, WorkCalendar

#: Widest window of a free/busy or find-a-time request, in days.
MAX_WINDOW_DAYS = 31
#: Most people and rooms in one request.
MAX_SUBJECTS = 100
#: Shortest and longest meeting to find a time for, in minutes.
MIN_DURATION, MAX_DURATION = 15, 480
#: Steps between candidate starts, in minutes.
GRANULARITIES = (15, 30, 60)
#: Most suggestions returned.
MAX_RESULTS = 50


class Status(IntEnum):
    """How a person or room stands at a time; the larger wins where intervals overlap."""

    FREE = 0
    TENTATIVE = 1
    BUSY = 2


@dataclass(frozen=True)
class WorkingHours:
    """Local working hours (Asia/Shanghai): ``[day_start, lunch_start)`` and ``[lunch_end, day_end)``.

    ``lunch_start == lunch_end`` means no break. The default is the common schedule of the
    province's government offices, 09:00–12:00 and 13:30–17:30 (PRACTICE; settings
    ``OFFICE_MEETING_DAY_START``, ``OFFICE_MEETING_LUNCH_START``, ``OFFICE_MEETING_LUNCH_END``,
    ``OFFICE_MEETING_DAY_END``).
    """

    day_start: dt.time = dt.time(9, 0)
    lunch_start: dt.time = dt.time(12, 0)
    lunch_end: dt.time = dt.time(13, 30)
    day_end: dt.time = dt.time(17, 30)

    @classmethod
    def from_settings(cls, settings: Any) -> WorkingHours:
        """The working hours configured in ``office_api.config.Settings``."""
        return cls(
            settings.meeting_day_start,
            settings.meeting_lunch_start,
            settings.meeting_lunch_end,
            settings.meeting_day_end,
        )

    def periods(self) -> list[tuple[dt.time, dt.time]]:
        """The working periods of a day: morning and afternoon, or one when there is no break."""
        if self.lunch_start == self.lunch_end:
            return [(self.day_start, self.day_end)]
        return [(self.day_start, self.lunch_start), (self.lunch_end, self.day_end)]


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


# ---- the one query ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BusyRow:
    """One occurrence making a person (``kind`` "user") or a room ("room") busy or tentative."""

    kind: str
    subject_id: int
    start: dt.datetime
    end: dt.datetime
    meeting_id: int
    status: Status


def busy_statement(user_ids: Sequence[int], room_ids: Sequence[int], start: dt.datetime, end: dt.datetime) -> Any:
    """The single SELECT (UNION ALL) of every busy or tentative interval overlapping ``[start, end)``
    of the people and rooms: columns kind ("user"/"room"), subject id, start, end, meeting id,
    status (2 busy, 1 tentative). Rules in the module docstring."""
    occ, mtg = MeetingOccurrence, Meeting
    live = (
        occ.state == OccurrenceState.SCHEDULED.value,
        mtg.state == MeetingState.SCHEDULED.value,
        occ.start_at < end,
        occ.end_at > start,
    )
    parts = []
    users = list(user_ids)
    if users:
        inv = Invitation
        reply = func.coalesce(OccurrenceReply.state, inv.state)
        organiser = or_(mtg.convener_id == inv.user_id, mtg.chair_id == inv.user_id, mtg.created_by_id == inv.user_id)
        status = case((reply == ReplyState.ACCEPTED.value, 2), (organiser, 2), else_=1)
        parts.append(
            select(literal("user").label("kind"), inv.user_id, occ.start_at, occ.end_at, occ.meeting_id, status)
            .select_from(inv)
            .join(occ, occ.meeting_id == inv.meeting_id)
            .join(mtg, mtg.id == occ.meeting_id)
            .outerjoin(
                OccurrenceReply,
                and_(OccurrenceReply.invitation_id == inv.id, OccurrenceReply.occurrence_id == occ.id),
            )
            .where(
                inv.user_id.in_(users),
                inv.is_active.is_(True),
                reply.in_((ReplyState.ACCEPTED.value, ReplyState.PENDING.value)),
                *live,
            )
        )
        # Organisers without an active invitation: the (meeting, person) pairs come from the
        # three indexed organiser columns, then meet the window's occurrences once.
        columns = (mtg.convener_id, mtg.chair_id, mtg.created_by_id)
        organisers = union_all(
            *(select(mtg.id.label("meeting_id"), col.label("user_id")).where(col.in_(users)) for col in columns)
        ).subquery("organisers")
        invited = exists().where(
            Invitation.meeting_id == organisers.c.meeting_id,
            Invitation.user_id == organisers.c.user_id,
            Invitation.is_active.is_(True),
        )
        parts.append(
            select(literal("user"), organisers.c.user_id, occ.start_at, occ.end_at, occ.meeting_id, literal(2))
            .select_from(organisers)
            .join(occ, occ.meeting_id == organisers.c.meeting_id)
            .join(mtg, mtg.id == occ.meeting_id)
            .where(~invited, *live)
        )
    if room_ids:
        bk = RoomBooking
        parts.append(
            select(literal("room"), bk.room_id, bk.start_at, bk.end_at, occ.meeting_id, literal(2))
            .select_from(bk)
            .join(occ, occ.id == bk.occurrence_id)
            .where(bk.room_id.in_(list(room_ids)), bk.status.in_(HOLDING), bk.start_at < end, bk.end_at > start)
        )
    return union_all(*parts) if len(parts) > 1 else parts[0]


async def busy_rows(
    session: AsyncSession, user_ids: Sequence[int], room_ids: Sequence[int], start: dt.datetime, end: dt.datetime
) -> list[BusyRow]:
    """Every busy or tentative interval of the people and rooms overlapping ``[start, end)``
    (UTC), unclipped, in one statement (:func:`busy_statement`); none asked → no statement."""
    if not user_ids and not room_ids:
        return []
    rows = await session.execute(busy_statement(user_ids, room_ids, start, end))
    return [BusyRow(k, sid, s, e, mid, Status(st)) for k, sid, s, e, mid, st in rows.all()]


# ---- merging ----------------------------------------------------------------------------------


@dataclass
class Interval:
    """A merged stretch ``[start, end)`` of one status and the meetings that make it."""

    start: dt.datetime
    end: dt.datetime
    status: Status
    meeting_ids: list[int] = field(default_factory=list)


def merge(rows: Iterable[BusyRow], start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """One subject's rows clipped to ``[start, end)`` and swept into sorted, non-overlapping
    intervals: BUSY wherever a busy row covers the time, TENTATIVE where only tentative rows do;
    touching stretches of the same status are joined. Each interval lists the meetings of the
    rows that overlap it (in id order)."""
    points: list[tuple[dt.datetime, int, int, int]] = []  # (time, +1/-1, status, meeting id)
    for r in rows:
        s, e = max(r.start, start), min(r.end, end)
        if s < e:
            points.append((s, 1, int(r.status), r.meeting_id))
            points.append((e, -1, int(r.status), r.meeting_id))
    points.sort(key=lambda p: p[0])
    out: list[Interval] = []
    open_rows = [0, 0, 0]  # rows covering the current stretch, per status
    meetings: dict[int, int] = {}  # meeting id -> rows of it covering the current stretch
    prev: dt.datetime | None = None
    i = 0
    while i < len(points):
        t = points[i][0]
        if prev is not None:  # [prev, t) has the state built so far
            status = (
                Status.BUSY if open_rows[Status.BUSY] else Status.TENTATIVE if open_rows[Status.TENTATIVE] else None
            )
            if status is not None:
                last = out[-1] if out else None
                if last is not None and last.end == prev and last.status == status:
                    last.end = t
                    last.meeting_ids = sorted(set(last.meeting_ids) | set(meetings))
                else:
                    out.append(Interval(prev, t, status, sorted(meetings)))
        while i < len(points) and points[i][0] == t:
            _, delta, status_value, meeting_id = points[i]
            open_rows[status_value] += delta
            meetings[meeting_id] = meetings.get(meeting_id, 0) + delta
            if not meetings[meeting_id]:
                del meetings[meeting_id]
            i += 1
        prev = t
    return out


# ---- candidate slots and the sweep ------------------------------------------------------------


def candidate_slots(
    cal: WorkCalendar,
    hours: WorkingHours,
    first_day: dt.date,
    last_day: dt.date,
    duration: int,
    granularity: int,
    not_before: dt.datetime | None = None,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Candidate ``[start, end)`` (UTC, in order) of ``duration`` minutes on the working days from
    ``first_day`` to ``last_day`` (inclusive, Asia/Shanghai), rules in the module docstring."""
    periods = [(_minutes(a), _minutes(b)) for a, b in hours.periods()]
    if not any(b - a >= duration for a, b in periods):  # longer than any period: it may span lunch
        periods = [(_minutes(hours.day_start), _minutes(hours.day_end))]
    out: list[tuple[dt.datetime, dt.datetime]] = []
    day = first_day
    while day <= last_day:
        if cal.is_workday(day):
            midnight = dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI)
            for a, b in periods:
                m = a
                while m + duration <= b:
                    start = (midnight + dt.timedelta(minutes=m)).astimezone(dt.UTC)
                    if not_before is None or start >= not_before:
                        out.append((start, start + dt.timedelta(minutes=duration)))
                    m += granularity
        day += dt.timedelta(days=1)
    return out


def slot_marks(
    rows: Iterable[BusyRow], slot_starts: Sequence[dt.datetime], duration: dt.timedelta
) -> dict[int, Status]:
    """One subject's status in every slot it is not free in, as {slot index: worst status}.

    The slots all last ``duration`` and ``slot_starts`` is sorted, so the slots a row
    ``[s, e)`` overlaps are exactly those starting in ``(s - duration, e)``: two bisections find
    them. The cost is one pass over the subject's rows, not slots × rows.
    """
    marks: dict[int, Status] = {}
    for r in rows:
        lo = bisect_right(slot_starts, r.start - duration)
        hi = bisect_left(slot_starts, r.end, lo)
        for k in range(lo, hi):
            if marks.get(k, Status.FREE) < r.status:
                marks[k] = r.status
    return marks


# ---- requests ---------------------------------------------------------------------------------


def _ids(errors: ErrorCollector, name: str, ids: Sequence[int]) -> list[int]:
    seen: set[int] = set()
    for n, pk in enumerate(ids):
        if pk in seen:
            errors.add(ErrorCode.DUPLICATE, f"{name}.{n}", detail="listed twice")
        seen.add(pk)
    return list(dict.fromkeys(ids))


async def _check_users(
    session: AsyncSession, errors: ErrorCollector, lists: Sequence[tuple[str, Sequence[int]]]
) -> None:
    """NOT_FOUND / INACTIVE naming ``<list>.<n>`` for each unknown or deactivated person (one query)."""
    wanted = {pk for _, ids in lists for pk in ids}
    if not wanted:
        return
    rows = await session.execute(select(User.id, User.is_active, User.display_name).where(User.id.in_(wanted)))
    found = {pk: (active, name) for pk, active, name in rows.all()}
    for name, ids in lists:
        for n, pk in enumerate(ids):
            if pk not in found:
                errors.add(ErrorCode.NOT_FOUND, f"{name}.{n}")
            elif not found[pk][0]:
                errors.add(ErrorCode.INACTIVE, f"{name}.{n}", detail=found[pk][1])


async def _rooms(session: AsyncSession, errors: ErrorCollector, room_ids: Sequence[int]) -> list[Room]:
    """The rooms (one query); NOT_FOUND / INACTIVE naming ``roomIds.<n>``."""
    if not room_ids:
        return []
    found = {r.id: r for r in (await session.execute(select(Room).where(Room.id.in_(list(room_ids))))).scalars()}
    out = []
    for n, pk in enumerate(room_ids):
        room = found.get(pk)
        if room is None:
            errors.add(ErrorCode.NOT_FOUND, f"roomIds.{n}")
        elif not room.is_active:
            errors.add(ErrorCode.INACTIVE, f"roomIds.{n}", detail=room.name)
        else:
            out.append(room)
    return out


def _aware(errors: ErrorCollector, name: str, value: dt.datetime) -> dt.datetime | None:
    if value.tzinfo is None or value.utcoffset() is None:
        errors.add(ErrorCode.INVALID_VALUE, name, detail="needs a UTC offset, e.g. 2026-06-01T00:00:00Z")
        return None
    return value.astimezone(dt.UTC)


@dataclass
class Schedule:
    """The merged intervals of one person (``user_id``) or room (``room_id``) in the window."""

    user_id: int | None
    room_id: int | None
    intervals: list[Interval]


@dataclass
class FreeBusy:
    """Answer of :func:`free_busy`: people and rooms in the order asked, and the meetings the
    asker may see (``visible``: id → Meeting); other meetings show only as busy/tentative."""

    people: list[Schedule]
    rooms: list[Schedule]
    visible: dict[int, Meeting]


async def visible_meetings(session: AsyncSession, actor: Actor, meeting_ids: Iterable[int]) -> dict[int, Meeting]:
    """The meetings of ``meeting_ids`` that ``actor`` may see, by the rules of
    ``meetings.access.can_see`` (organiser; invited in person, actively; answering for an actively
    invited or the organising unit), in three statements whatever their number."""
    ids = sorted(set(meeting_ids))
    if not ids:
        return {}
    meetings = {m.id: m for m in (await session.execute(select(Meeting).where(Meeting.id.in_(ids)))).scalars()}
    invited = await session.execute(
        select(Invitation.meeting_id, Invitation.user_id, Invitation.unit_id).where(
            Invitation.meeting_id.in_(ids),
            Invitation.is_active.is_(True),
            or_(Invitation.user_id == actor.user_id, Invitation.unit_id.is_not(None)),
        )
    )
    mine: set[int] = set()
    units_of: dict[int, set[int]] = {mid: {m.organizer_unit_id} for mid, m in meetings.items()}
    for mid, user_id, unit_id in invited.all():
        if user_id == actor.user_id:
            mine.add(mid)
        if unit_id is not None:
            units_of[mid].add(unit_id)
    answering = await answering_units_of(session, actor.user_id, sorted({u for us in units_of.values() for u in us}))
    return {
        mid: m
        for mid, m in meetings.items()
        if actor.user_id in {m.created_by_id, m.convener_id, m.chair_id} or mid in mine or units_of[mid] & answering
    }


async def free_busy(
    session: AsyncSession,
    actor: Actor,
    user_ids: Sequence[int],
    room_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
) -> FreeBusy:
    """Merged busy and tentative intervals (UTC, clipped to ``[start, end)``) of each person and
    room, and the meetings among them that ``actor`` may see (their titles; the others only
    show as busy). Any signed-in person may ask: colleagues schedule each other.

    Errors (all at once): INVALID_VALUE on ``from`` (no UTC offset) or ``to`` (not after
    ``from``, more than 31 days after it); TOO_MANY on ``userIds``/``roomIds`` (more than 100
    together); DUPLICATE, NOT_FOUND, INACTIVE naming ``userIds.N`` / ``roomIds.N``.
    Statements: users, rooms, the busy query, and three for visibility.
    """
    errors = ErrorCollector()
    s, e = _aware(errors, "from", start), _aware(errors, "to", end)
    if s is not None and e is not None:
        if e <= s:
            errors.add(ErrorCode.INVALID_VALUE, "to", detail="must be after `from`")
        elif e - s > dt.timedelta(days=MAX_WINDOW_DAYS):
            errors.add(ErrorCode.INVALID_VALUE, "to", detail=f"at most {MAX_WINDOW_DAYS} days after `from`")
    if len(user_ids) + len(room_ids) > MAX_SUBJECTS:
        errors.add(ErrorCode.TOO_MANY, "userIds" if len(user_ids) >= len(room_ids) else "roomIds", limit=MAX_SUBJECTS)
        errors.raise_if_any()
    users = _ids(errors, "userIds", user_ids)
    _ids(errors, "roomIds", room_ids)
    await _check_users(session, errors, [("userIds", user_ids)])
    rooms = await _rooms(session, errors, room_ids)
    errors.raise_if_any()
    assert s is not None
    assert e is not None
    room_list = list(dict.fromkeys(r.id for r in rooms))
    rows = await busy_rows(session, users, room_list, s, e)
    by_subject: dict[tuple[str, int], list[BusyRow]] = {}
    for r in rows:
        by_subject.setdefault((r.kind, r.subject_id), []).append(r)
    people = [Schedule(u, None, merge(by_subject.get(("user", u), []), s, e)) for u in users]
    room_schedules = [Schedule(None, r, merge(by_subject.get(("room", r), []), s, e)) for r in room_list]
    shown = {mid for sch in people + room_schedules for iv in sch.intervals for mid in iv.meeting_ids}
    visible = await visible_meetings(session, actor, shown)
    return FreeBusy(people, room_schedules, visible)


@dataclass
class FindTimeRequest:
    """What :func:`find_meeting_times` needs (ids are database keys; dates Asia/Shanghai)."""

    required_user_ids: Sequence[int]
    duration_minutes: int
    first_day: dt.date
    last_day: dt.date
    optional_user_ids: Sequence[int] = ()
    min_optional_percent: int = 0
    room_ids: Sequence[int] = ()
    granularity_minutes: int = 30
    max_results: int = 10


@dataclass
class Suggestion:
    """A suggested slot: UTC ``[start, end)``, the room proposed (or None), the optional
    attendees not busy (free or tentative) out of all optional ones, the attendees (required or
    optional) with only a tentative (pending) conflict, and the optional ones who are busy."""

    start: dt.datetime
    end: dt.datetime
    room_id: int | None
    optional_available: int
    optional_total: int
    tentative_user_ids: list[int]
    unavailable_optional_user_ids: list[int]

    @property
    def optional_percent(self) -> float:
        """Optional attendees not busy, in percent (100 when there are none), one decimal."""
        if not self.optional_total:
            return 100.0
        return round(100 * self.optional_available / self.optional_total, 1)


async def _check_find(session: AsyncSession, req: FindTimeRequest, hours: WorkingHours) -> list[Room]:
    errors = ErrorCollector()
    if not req.required_user_ids:
        errors.add(ErrorCode.REQUIRED, "requiredUserIds")
    lists = {
        "requiredUserIds": req.required_user_ids,
        "optionalUserIds": req.optional_user_ids,
        "roomIds": req.room_ids,
    }
    if sum(map(len, lists.values())) > MAX_SUBJECTS:  # named on the longest list
        errors.add(ErrorCode.TOO_MANY, max(lists, key=lambda k: len(lists[k])), limit=MAX_SUBJECTS)
        errors.raise_if_any()
    if not MIN_DURATION <= req.duration_minutes <= MAX_DURATION:
        errors.add(ErrorCode.INVALID_VALUE, "durationMinutes", detail=f"{MIN_DURATION} to {MAX_DURATION} minutes")
    elif req.duration_minutes > _minutes(hours.day_end) - _minutes(hours.day_start):
        errors.add(ErrorCode.INVALID_VALUE, "durationMinutes", detail="longer than the working day")
    for name, day in (("from", req.first_day), ("to", req.last_day)):
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            errors.add(ErrorCode.INVALID_VALUE, name, detail=f"a date from {MIN_YEAR} to {MAX_YEAR}")
    if req.last_day < req.first_day:
        errors.add(ErrorCode.INVALID_VALUE, "to", detail="must not be before `from`")
    elif (req.last_day - req.first_day).days + 1 > MAX_WINDOW_DAYS:
        errors.add(ErrorCode.INVALID_VALUE, "to", detail=f"at most {MAX_WINDOW_DAYS} days from `from`, inclusive")
    if req.granularity_minutes not in GRANULARITIES:
        errors.add(ErrorCode.INVALID_VALUE, "granularityMinutes", detail="15, 30 or 60")
    if not 0 <= req.min_optional_percent <= 100:
        errors.add(ErrorCode.INVALID_VALUE, "minOptionalPercent", detail="0 to 100")
    if not 1 <= req.max_results <= MAX_RESULTS:
        errors.add(ErrorCode.INVALID_VALUE, "maxResults", detail=f"1 to {MAX_RESULTS}")
    _ids(errors, "requiredUserIds", req.required_user_ids)
    _ids(errors, "optionalUserIds", req.optional_user_ids)
    _ids(errors, "roomIds", req.room_ids)
    required = set(req.required_user_ids)
    for n, pk in enumerate(req.optional_user_ids):
        if pk in required:
            errors.add(ErrorCode.DUPLICATE, f"optionalUserIds.{n}", detail="already a required attendee")
    await _check_users(
        session, errors, [("requiredUserIds", req.required_user_ids), ("optionalUserIds", req.optional_user_ids)]
    )
    rooms = await _rooms(session, errors, req.room_ids)
    seats = len(set(req.required_user_ids) | set(req.optional_user_ids))
    if rooms and all(r.capacity < seats for r in rooms):
        errors.add(ErrorCode.ROOM_OVER_CAPACITY, "roomIds", count=seats, capacity=max(r.capacity for r in rooms))
    errors.raise_if_any()
    fitting = {r.id: r for r in rooms if r.capacity >= seats}
    return sorted(fitting.values(), key=lambda r: (r.capacity, r.id))


async def find_meeting_times(
    session: AsyncSession, cal: WorkCalendar, hours: WorkingHours, req: FindTimeRequest, now: dt.datetime
) -> list[Suggestion]:
    """Slots for a meeting of ``req.duration_minutes`` between ``req.first_day`` and
    ``req.last_day`` (Asia/Shanghai dates, inclusive) where every required attendee is free or
    tentative, at least ``req.min_optional_percent`` % of the optional ones are not busy and,
    when rooms are given, one with enough seats is free; at most ``req.max_results``, best first
    (rules and ranking in the module docstring). Slots before ``now`` are not suggested.

    Errors (all at once): REQUIRED (``requiredUserIds`` empty); TOO_MANY (more than 100 people
    and rooms, named on the longest list); INVALID_VALUE on ``durationMinutes`` (15–480 and
    within the working day), ``from``/``to`` (outside 2004–2100), ``to`` (before ``from``, or
    more than 31 days), ``granularityMinutes`` (15, 30, 60),
    ``minOptionalPercent`` (0–100), ``maxResults`` (1–50); DUPLICATE, NOT_FOUND, INACTIVE
    naming ``requiredUserIds.N`` / ``optionalUserIds.N`` / ``roomIds.N``; ROOM_OVER_CAPACITY on
    ``roomIds`` when no room seats everyone.

    Statements: one for the people, one for the rooms (when given) and one for every busy
    interval (:func:`busy_rows`), however many attendees, days and slots.
    """
    rooms = await _check_find(session, req, hours)
    required = list(dict.fromkeys(req.required_user_ids))
    optional = list(dict.fromkeys(req.optional_user_ids))
    window_start = dt.datetime.combine(req.first_day, dt.time(0), tzinfo=SHANGHAI).astimezone(dt.UTC)
    window_end = dt.datetime.combine(req.last_day + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI).astimezone(
        dt.UTC
    )
    rows = await busy_rows(session, required + optional, [r.id for r in rooms], window_start, window_end)
    slots = candidate_slots(
        cal, hours, req.first_day, req.last_day, req.duration_minutes, req.granularity_minutes, not_before=now
    )
    by_subject: dict[tuple[str, int], list[BusyRow]] = {}
    for r in rows:
        by_subject.setdefault((r.kind, r.subject_id), []).append(r)
    starts = [a for a, _ in slots]
    length = dt.timedelta(minutes=req.duration_minutes)

    def marks(kind: str, pk: int) -> dict[int, Status]:
        return slot_marks(by_subject.get((kind, pk), []), starts, length)

    return rank(
        slots,
        {u: marks("user", u) for u in required},
        {u: marks("user", u) for u in optional},
        [(r.id, marks("room", r.id)) for r in rooms],
        req.min_optional_percent,
        req.max_results,
    )


def rank(
    slots: Sequence[tuple[dt.datetime, dt.datetime]],
    required: dict[int, dict[int, Status]],
    optional: dict[int, dict[int, Status]],
    rooms: Sequence[tuple[int, dict[int, Status]]],
    min_optional_percent: int,
    max_results: int,
) -> list[Suggestion]:
    """Suggestions from each subject's marks ({slot index: status}, :func:`slot_marks`; absent =
    free), pure: slots where a required attendee is busy, too few optional ones are available,
    or (rooms given) every room is busy are dropped; the rest are ordered by tentative attendees
    (fewer first), optional attendees available (more first), start (earlier first). ``rooms``
    are in preference order (the smallest that seats everyone first); the first free one is
    proposed. Attendee lists keep the order of ``required`` then ``optional``."""
    n_optional = len(optional)
    blocked: set[int] = {k for m in required.values() for k, st in m.items() if st == Status.BUSY}
    unavailable: dict[int, list[int]] = {}
    tentative: dict[int, list[int]] = {}
    for u, m in required.items():
        for k, st in m.items():
            if st == Status.TENTATIVE:
                tentative.setdefault(k, []).append(u)
    for u, m in optional.items():
        for k, st in m.items():
            (unavailable if st == Status.BUSY else tentative).setdefault(k, []).append(u)
    order = list(required) + list(optional)
    position = {u: n for n, u in enumerate(order)}
    out: list[tuple[tuple[int, int, dt.datetime], Suggestion]] = []
    for k, (start, end) in enumerate(slots):
        if k in blocked:
            continue
        room_id = None
        if rooms:
            room_id = next((rid for rid, m in rooms if k not in m), None)
            if room_id is None:
                continue
        away = unavailable.get(k, [])
        available = n_optional - len(away)
        if available * 100 < min_optional_percent * n_optional:
            continue
        maybe = sorted(tentative.get(k, []), key=position.__getitem__)
        suggestion = Suggestion(start, end, room_id, available, n_optional, maybe, list(away))
        out.append(((len(maybe), -available, start), suggestion))
    out.sort(key=lambda x: x[0])
    return [s for _, s in out[:max_results]]

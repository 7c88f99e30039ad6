"""Rooms and bookings: a room is never double-booked (DOMAIN §7.1, issue 6 item 1).

**Rooms** (会议室) belong to a unit. Administrators of the unit's subtree create, change and
retire them (:func:`create_room`, :func:`update_room`, :func:`retire_room`; audited). A retired
room keeps its future bookings but takes no new ones (``INACTIVE``).

**Bookings** are half-open ``[start_at, end_at)`` UTC intervals, one row per occurrence: a
meeting ending at 10:00 and one starting at 10:00 do not clash. PENDING and APPROVED bookings
hold the room (``models.HOLDING``); REFUSED and RELEASED ones do not. Two guards:

- :func:`reserve` and :func:`move_booking` look for a holding booking that overlaps, inside
  the caller's write transaction, and name the clashing occurrence. On SQLite that
  transaction began with ``BEGIN IMMEDIATE`` (``office_api.db``), so check and write are
  atomic: concurrent bookings queue for the write lock and the later one sees the earlier.
- On PostgreSQL the exclusion constraint ``ex_room_bookings_no_overlap`` (migration 0023,
  ``EXCLUDE USING gist (room_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)`` over
  holding rows) catches the race between two transactions that both passed the check: the
  later insert or update waits for the earlier transaction, then fails, and
  :func:`flush_bookings` turns that into ``ROOM_TAKEN`` too.

**Approval**: a room with ``requires_approval`` is booked PENDING unless the booker answers
for its owning unit (its clerks, else its head and deputy heads:
``office_api.reminders.answering_for_units``). Those people get ``ROOM_BOOKING_REQUESTED``,
list the bookings waiting for them (:func:`pending_for`) and approve or refuse them
(:func:`decide`); the meeting's convener gets ``ROOM_BOOKING_DECIDED``. A refused booking
releases the room at once (it no longer holds it).

**Other meeting modules** that move or cancel occurrences call :func:`move_booking` and
:func:`release`; :func:`book` is what creating a meeting calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.access import answering_units_of, can_see
from meetings.models import (
    HOLDING,
    BookingStatus,
    Invitation,
    Meeting,
    MeetingOccurrence,
    ReplyState,
    Room,
    RoomBooking,
)
from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api import audit
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.directory import is_sqlite, subtree_of
from office_api.org.models import OrgUnit, Position, PositionDuty
from office_api.org.permissions import Actor
from office_api.reminders import answering_for_units
from office_api.text import trimmed
from office_api.workdays import SHANGHAI

MAX_NAME = 100
MAX_BUILDING = 100
MAX_FLOOR = 20
MAX_ADDRESS = 300
#: Seats of a room: 1 to 10,000.
MAX_CAPACITY = 10_000
#: Equipment keywords of a room, each at most :data:`MAX_KEYWORD` characters.
MAX_EQUIPMENT = 20
MAX_KEYWORD = 40
#: A refusal's reason.
MAX_REASON = 500
#: Widest ``[freeFrom, freeTo)`` window the room search checks (an occurrence lasts at most 14 days).
MAX_FREE_WINDOW = dt.timedelta(days=14)
#: Widest ``[from, to)`` window of a room's schedule.
MAX_SCHEDULE_WINDOW = dt.timedelta(days=92)
#: Most rooms one search returns.
MAX_ROOMS_LISTED = 500
#: Most bookings a schedule or the approver's list returns.
MAX_BOOKINGS_LISTED = 1_000


def _local(t: dt.datetime) -> str:
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _span(start: dt.datetime, end: dt.datetime) -> str:
    """``2026-06-02 09:00–10:00`` (same day) or ``2026-06-02 22:00–2026-06-03 02:00``, Asia/Shanghai."""
    a, b = _local(start), _local(end)
    return f"{a}–{b[11:]}" if a[:10] == b[:10] else f"{a}–{b}"


# ---- rooms: administration ---------------------------------------------------------------


@dataclass
class RoomInput:
    """A new room. ``equipment``: keywords such as ``projector``, ``video_conference``."""

    owner_unit_id: int
    name: str
    capacity: int
    building: str = ""
    floor: str | None = None
    address: str | None = None
    equipment: Sequence[str] = ()
    requires_approval: bool = False


@dataclass
class RoomChanges:
    """What :func:`update_room` changes; None leaves a field as it is ("" clears floor/address)."""

    name: str | None = None
    building: str | None = None
    floor: str | None = None
    address: str | None = None
    capacity: int | None = None
    equipment: Sequence[str] | None = None
    requires_approval: bool | None = None


def normalise_keyword(keyword: str) -> str:
    """An equipment keyword as stored and compared: trimmed, lower case (``Projector`` → ``projector``)."""
    return trimmed(keyword).lower()


def _text(errors: ErrorCollector, name: str, value: str | None, limit: int, *, required: bool = False) -> str:
    text = trimmed(value)
    if required and not text:
        errors.add(ErrorCode.REQUIRED, name)
    elif len(text) > limit:
        errors.add(ErrorCode.TOO_LONG, name, limit=limit)
    return text


def _capacity(errors: ErrorCollector, value: int) -> None:
    if not 1 <= value <= MAX_CAPACITY:
        errors.add(ErrorCode.INVALID_VALUE, "capacity", detail=f"1 to {MAX_CAPACITY} seats")


def _equipment(errors: ErrorCollector, keywords: Sequence[str]) -> list[str]:
    """Keywords normalised, repeats dropped (first kept); at most 20, each 1–40 characters."""
    if len(keywords) > MAX_EQUIPMENT:
        errors.add(ErrorCode.TOO_MANY, "equipment", limit=MAX_EQUIPMENT)
        return []
    out: list[str] = []
    for n, raw in enumerate(keywords):
        word = normalise_keyword(raw)
        if not word:
            errors.add(ErrorCode.REQUIRED, f"equipment.{n}")
        elif len(word) > MAX_KEYWORD:
            errors.add(ErrorCode.TOO_LONG, f"equipment.{n}", limit=MAX_KEYWORD)
        elif word not in out:
            out.append(word)
    return out


def room_state(room: Room) -> dict[str, object]:
    """The audited fields of a room (before/after of audit rows)."""
    return {
        "name": room.name,
        "building": room.building,
        "floor": room.floor,
        "address": room.address,
        "capacity": room.capacity,
        "equipment": list(room.equipment or []),
        "ownerUnitId": room.owner_unit_id,
        "requiresApproval": room.requires_approval,
        "isActive": room.is_active,
        "version": room.version,
    }


async def _name_taken(session: AsyncSession, unit_id: int, name: str, *, other_than: int | None = None) -> bool:
    q = select(Room.id).where(Room.owner_unit_id == unit_id, Room.name == name)
    if other_than is not None:
        q = q.where(Room.id != other_than)
    return (await session.execute(q.limit(1))).first() is not None


async def _flush_room(session: AsyncSession, name: str) -> None:
    """Flush in a savepoint; a concurrent twin's name (the unique index) becomes ``DUPLICATE``."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig)
        if "uq_rooms_owner_unit_id_name" in text or "rooms.owner_unit_id, rooms.name" in text:
            raise DomainError(ErrorCode.DUPLICATE, "name", detail=name) from None
        raise


async def create_room(uow: UnitOfWork, actor: Actor, data: RoomInput) -> Room:
    """Create a room of ``data.owner_unit_id``, for administrators of that unit's subtree.

    Raises ``NOT_FOUND``/``INACTIVE`` (ownerUnitId), ``AuthError(FORBIDDEN)`` (the unit is
    outside the actor's subtree), then every invalid field at once: ``REQUIRED``/``TOO_LONG``
    (name ≤ 100, building ≤ 100, floor ≤ 20, address ≤ 300), ``INVALID_VALUE`` (capacity not
    1–10,000), ``TOO_MANY``/``REQUIRED``/``TOO_LONG`` (equipment: ≤ 20 keywords of 1–40
    characters), ``DUPLICATE`` (name, a room of that name in the unit, retired ones included).
    Writes an audit row ``room.create``.
    """
    session = uow.session
    unit = await session.get(OrgUnit, data.owner_unit_id)
    if unit is None:
        raise DomainError(ErrorCode.NOT_FOUND, "ownerUnitId")
    actor.require_admin_of(unit)
    if not unit.is_active:
        raise DomainError(ErrorCode.INACTIVE, "ownerUnitId", detail=unit.name)
    errors = ErrorCollector()
    name = _text(errors, "name", data.name, MAX_NAME, required=True)
    building = _text(errors, "building", data.building, MAX_BUILDING)
    floor = _text(errors, "floor", data.floor, MAX_FLOOR) or None
    address = _text(errors, "address", data.address, MAX_ADDRESS) or None
    _capacity(errors, data.capacity)
    equipment = _equipment(errors, data.equipment)
    if name and len(name) <= MAX_NAME and await _name_taken(session, unit.id, name):
        errors.add(ErrorCode.DUPLICATE, "name", detail=name)
    errors.raise_if_any()
    room = Room(
        name=name,
        building=building,
        floor=floor,
        address=address,
        capacity=data.capacity,
        equipment=equipment,
        owner_unit_id=unit.id,
        requires_approval=data.requires_approval,
        is_active=True,
        version=1,
        created_at=uow.now,
    )
    session.add(room)
    await _flush_room(session, name)
    audit.record(
        session,
        actor_id=actor.user_id,
        action=audit.Action.ROOM_CREATE,
        target_type="Room",
        target_id=room.id,
        after=room_state(room),
        now=uow.now,
    )
    return room


async def _room_for_admin(uow: UnitOfWork, actor: Actor, room_id: int, expected_version: int | None) -> Room:
    """The room locked for a change (``FOR UPDATE`` on PostgreSQL), after the scope and version checks."""
    room = (await uow.session.execute(select(Room).where(Room.id == room_id).with_for_update())).scalar_one_or_none()
    if room is None:
        raise DomainError(ErrorCode.NOT_FOUND, "id")
    unit = await uow.session.get(OrgUnit, room.owner_unit_id)
    assert unit is not None
    actor.require_admin_of(unit)
    if expected_version is not None and expected_version != room.version:
        raise DomainError(ErrorCode.STALE_VERSION, "version")
    return room


@dataclass
class RoomUpdate:
    """The changed room, and the future meetings its new capacity no longer seats."""

    room: Room
    #: Ids of meetings with a holding booking of the room ending after now whose invitations
    #: need more seats than the new capacity (:func:`seats_needed`), in id order.
    over_capacity: list[int] = field(default_factory=list)


async def update_room(
    uow: UnitOfWork, actor: Actor, room_id: int, expected_version: int, changes: RoomChanges
) -> RoomUpdate:
    """Change a room's details, for administrators of its owning unit's subtree.

    ``expected_version`` is the version the caller read: ``STALE_VERSION`` when the room
    changed meanwhile (no lost update). Errors as :func:`create_room`, plus ``NOT_FOUND`` (id).

    Lowering the capacity below what a future meeting booked there needs is **allowed**
    (a room can lose seats to a renovation; the meeting's organisers must then move or
    shrink it): :attr:`RoomUpdate.over_capacity` names those meetings. Turning
    ``requires_approval`` on or off leaves existing bookings as they are (PENDING ones still
    wait for a decision). Writes an audit row ``room.update`` when something changed.
    """
    session = uow.session
    room = await _room_for_admin(uow, actor, room_id, expected_version)
    errors = ErrorCollector()
    values: dict[str, object] = {}
    if changes.name is not None:
        name = _text(errors, "name", changes.name, MAX_NAME, required=True)
        if name and len(name) <= MAX_NAME and await _name_taken(session, room.owner_unit_id, name, other_than=room.id):
            errors.add(ErrorCode.DUPLICATE, "name", detail=name)
        values["name"] = name
    if changes.building is not None:
        values["building"] = _text(errors, "building", changes.building, MAX_BUILDING)
    if changes.floor is not None:
        values["floor"] = _text(errors, "floor", changes.floor, MAX_FLOOR) or None
    if changes.address is not None:
        values["address"] = _text(errors, "address", changes.address, MAX_ADDRESS) or None
    if changes.capacity is not None:
        _capacity(errors, changes.capacity)
        values["capacity"] = changes.capacity
    if changes.equipment is not None:
        values["equipment"] = _equipment(errors, changes.equipment)
    if changes.requires_approval is not None:
        values["requires_approval"] = changes.requires_approval
    errors.raise_if_any()
    values = {k: v for k, v in values.items() if getattr(room, k) != v}
    if values:
        # The row is locked (or the SQLite write transaction serialised): no lost update.
        before = room_state(room)
        for key, value in values.items():
            setattr(room, key, value)
        room.version += 1
        await _flush_room(session, room.name)
        audit.record(
            session,
            actor_id=actor.user_id,
            action=audit.Action.ROOM_UPDATE,
            target_type="Room",
            target_id=room.id,
            before=before,
            after=room_state(room),
            now=uow.now,
        )
    return RoomUpdate(room, await meetings_over_capacity(session, room, uow.now))


async def retire_room(uow: UnitOfWork, actor: Actor, room_id: int, expected_version: int | None = None) -> Room:
    """Retire a room (``is_active`` false), for administrators of its owning unit's subtree.

    Holding bookings stay (the meetings already booked keep the room, in the past and in
    the future); new bookings and moves into it are refused with ``INACTIVE``. Retiring a
    retired room changes nothing. Errors: ``NOT_FOUND`` (id), ``AuthError(FORBIDDEN)``,
    ``STALE_VERSION`` (version given and not current). Audit row ``room.retire``.
    """
    room = await _room_for_admin(uow, actor, room_id, expected_version)
    if not room.is_active:
        return room
    before = room_state(room)
    room.is_active = False
    room.version += 1
    await uow.session.flush()
    audit.record(
        uow.session,
        actor_id=actor.user_id,
        action=audit.Action.ROOM_RETIRE,
        target_type="Room",
        target_id=room.id,
        before=before,
        after=room_state(room),
        now=uow.now,
    )
    return room


def seats_needed(invitations: Iterable[Invitation]) -> int:
    """Seats a meeting's active invitations need, counted as when it was created: one per person
    invited, a unit's quota (default 1) per unit invitation. A unit's nominees sit within its
    quota and a substitute in the seat of the invitee who sent them (DELEGATED), so neither
    counts twice."""
    total = 0
    for inv in invitations:
        if not inv.is_active or inv.nominated_via_id is not None or inv.state == ReplyState.DELEGATED.value:
            continue
        total += 1 if inv.user_id is not None else (inv.quota or 1)
    return total


async def meetings_over_capacity(session: AsyncSession, room: Room, now: dt.datetime) -> list[int]:
    """Ids of meetings holding ``room`` after ``now`` whose invitations need more seats than it has."""
    meeting_ids = list(
        (
            await session.execute(
                select(MeetingOccurrence.meeting_id)
                .join(RoomBooking, RoomBooking.occurrence_id == MeetingOccurrence.id)
                .where(RoomBooking.room_id == room.id, RoomBooking.status.in_(HOLDING), RoomBooking.end_at > now)
                .distinct()
            )
        ).scalars()
    )
    if not meeting_ids:
        return []
    rows = (await session.execute(select(Invitation).where(Invitation.meeting_id.in_(meeting_ids)))).scalars()
    by_meeting: dict[int, list[Invitation]] = {m: [] for m in meeting_ids}
    for inv in rows:
        by_meeting[inv.meeting_id].append(inv)
    return sorted(m for m, invs in by_meeting.items() if seats_needed(invs) > room.capacity)


# ---- rooms: search and schedule ----------------------------------------------------------


def check_window(
    start: dt.datetime | None,
    end: dt.datetime | None,
    limit: dt.timedelta,
    names: tuple[str, str],
) -> tuple[dt.datetime, dt.datetime] | None:
    """A ``[start, end)`` window given whole or not at all, end after start, at most ``limit``
    wide; ``INVALID_VALUE`` naming ``names[0]`` or ``names[1]`` otherwise."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise DomainError(ErrorCode.INVALID_VALUE, names[0] if start is None else names[1], detail="give both or none")
    for name, t in zip(names, (start, end), strict=True):
        if t.tzinfo is None or t.utcoffset() is None:
            raise DomainError(ErrorCode.INVALID_VALUE, name, detail="needs a UTC offset")
    if end <= start or end - start > limit:
        raise DomainError(
            ErrorCode.INVALID_VALUE, names[1], detail=f"after {names[0]}, at most {limit.days} days later"
        )
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


async def find_rooms(
    session: AsyncSession,
    unit_id: int,
    *,
    include_subtree: bool = False,
    min_capacity: int | None = None,
    equipment: Sequence[str] = (),
    free_from: dt.datetime | None = None,
    free_to: dt.datetime | None = None,
    include_retired: bool = False,
) -> list[Room]:
    """Rooms of a unit (and of the units below it with ``include_subtree``), active ones only
    unless ``include_retired``, with at least ``min_capacity`` seats (1–10,000) and every
    keyword of ``equipment`` (compared as :func:`normalise_keyword`), and, when a window
    ``[free_from, free_to)`` is given (both, at most 14 days), without any holding booking
    overlapping it (half-open: a booking ending at ``free_from`` does not count). Ordered by
    building, floor, name; at most 500.

    Errors: ``NOT_FOUND`` (unitId), ``INVALID_VALUE`` (minCapacity, freeFrom/freeTo).
    """
    window = check_window(free_from, free_to, MAX_FREE_WINDOW, ("freeFrom", "freeTo"))
    if min_capacity is not None and not 1 <= min_capacity <= MAX_CAPACITY:
        raise DomainError(ErrorCode.INVALID_VALUE, "minCapacity", detail=f"1 to {MAX_CAPACITY}")
    wanted = {normalise_keyword(k) for k in equipment} - {""}
    unit = await session.get(OrgUnit, unit_id)
    if unit is None:
        raise DomainError(ErrorCode.NOT_FOUND, "unitId")
    q = select(Room).join(OrgUnit, OrgUnit.id == Room.owner_unit_id)
    q = (
        q.where(subtree_of(unit.path, is_sqlite(session)))
        if include_subtree
        else q.where(Room.owner_unit_id == unit.id)
    )
    if not include_retired:
        q = q.where(Room.is_active.is_(True))
    if min_capacity is not None:
        q = q.where(Room.capacity >= min_capacity)
    if window is not None:
        busy = exists().where(
            RoomBooking.room_id == Room.id,
            RoomBooking.status.in_(HOLDING),
            RoomBooking.start_at < window[1],
            RoomBooking.end_at > window[0],
        )
        q = q.where(~busy)
    q = q.order_by(Room.building, Room.floor, Room.name, Room.id)
    rooms = (await session.execute(q)).scalars()
    return [r for r in rooms if wanted <= set(r.equipment or [])][:MAX_ROOMS_LISTED]


@dataclass
class ScheduleEntry:
    """One holding booking of a room's schedule; ``meeting`` is None when the caller may not
    see the meeting (the slot shows as just busy)."""

    booking: RoomBooking
    occurrence: MeetingOccurrence
    meeting: Meeting | None


async def schedule(
    session: AsyncSession, actor: Actor, room_id: int, start: dt.datetime, end: dt.datetime
) -> list[ScheduleEntry]:
    """The holding (PENDING or APPROVED) bookings of a room overlapping ``[start, end)`` (UTC,
    at most 92 days), in start order, at most 1,000. Anyone signed in may look (to find a free
    slot); the meeting is given only to its viewers (``meetings.access.can_see``).

    Errors: ``NOT_FOUND`` (roomId), ``INVALID_VALUE`` (from/to).
    """
    window = check_window(start, end, MAX_SCHEDULE_WINDOW, ("from", "to"))
    assert window is not None
    if await session.get(Room, room_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND, "roomId")
    rows = (
        await session.execute(
            select(RoomBooking, MeetingOccurrence, Meeting)
            .join(MeetingOccurrence, MeetingOccurrence.id == RoomBooking.occurrence_id)
            .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .where(
                RoomBooking.room_id == room_id,
                RoomBooking.status.in_(HOLDING),
                RoomBooking.start_at < window[1],
                RoomBooking.end_at > window[0],
            )
            .order_by(RoomBooking.start_at, RoomBooking.id)
            .limit(MAX_BOOKINGS_LISTED)
        )
    ).all()
    seen: dict[int, bool] = {}
    out = []
    for booking, occ, meeting in rows:
        if meeting.id not in seen:
            seen[meeting.id] = await can_see(session, actor, meeting)
        out.append(ScheduleEntry(booking, occ, meeting if seen[meeting.id] else None))
    return out


# ---- booking -----------------------------------------------------------------------------


async def clashes(
    uow: UnitOfWork, room_id: int, start: dt.datetime, end: dt.datetime, *, ignore_occurrence: int | None = None
) -> RoomBooking | None:
    """A holding booking of ``room_id`` overlapping ``[start, end)``, or None."""
    q = (
        select(RoomBooking)
        .where(
            RoomBooking.room_id == room_id,
            RoomBooking.status.in_(HOLDING),
            RoomBooking.start_at < end,
            RoomBooking.end_at > start,
        )
        .limit(1)
    )
    if ignore_occurrence is not None:
        q = q.where(RoomBooking.occurrence_id != ignore_occurrence)
    return (await uow.session.execute(q)).scalar_one_or_none()


async def may_decide(session: AsyncSession, user_id: int, room: Room) -> bool:
    """Whether ``user_id`` answers for ``room``'s owning unit (its clerks, else its head and
    deputy heads): they approve its bookings, and their own are approved at once."""
    return bool(await answering_units_of(session, user_id, [room.owner_unit_id]))


async def reserve(
    uow: UnitOfWork,
    room: Room,
    occurrences: Sequence[MeetingOccurrence],
    *,
    approved: bool,
    field: str = "roomId",
) -> list[RoomBooking]:
    """Book ``room`` for every occurrence (flushed rows with ids, none booked before), in the
    caller's transaction.

    ``approved``: the booking holds the room as APPROVED (no approval needed, or the booker
    may approve) or as PENDING (the owning unit must approve). Raises ``ROOM_TAKEN`` naming
    ``field`` and, in the message, the first clashing occurrence (its number in the series
    and its Asia/Shanghai time); the caller's transaction must then roll back.
    """
    status = BookingStatus.APPROVED.value if approved else BookingStatus.PENDING.value
    rows: list[RoomBooking] = []
    for n, occ in enumerate(occurrences, start=1):
        clash = await clashes(uow, room.id, occ.start_at, occ.end_at, ignore_occurrence=occ.id)
        if clash is not None:
            which = f"occurrence {n}, " if len(occurrences) > 1 else ""
            raise DomainError(
                ErrorCode.ROOM_TAKEN,
                field,
                detail=f"{room.name}, {which}{_local(occ.start_at)}–{_local(occ.end_at)} (Asia/Shanghai)",
            )
        row = RoomBooking(
            room_id=room.id,
            occurrence_id=occ.id,
            start_at=occ.start_at,
            end_at=occ.end_at,
            status=status,
            created_at=uow.now,
        )
        uow.session.add(row)
        rows.append(row)
    await flush_bookings(uow, room, field)
    return rows


async def book(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    meeting: Meeting,
    room: Room,
    occurrences: Sequence[MeetingOccurrence],
    *,
    field: str = "roomId",
) -> list[RoomBooking]:
    """Book ``room`` for the occurrences of ``meeting`` (:func:`reserve`), APPROVED unless the room
    requires approval and ``actor`` does not answer for its owning unit (:func:`may_decide`);
    PENDING bookings are announced to those who do (:func:`request_approval`).

    The caller has checked the room exists, is active and seats the invitees. Raises
    ``ROOM_TAKEN`` (see :func:`reserve`).
    """
    approved = not room.requires_approval or await may_decide(uow.session, actor.user_id, room)
    rows = await reserve(uow, room, occurrences, approved=approved, field=field)
    if not approved:
        await request_approval(uow, broker, actor, meeting, room, rows)
    return rows


async def request_approval(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor | None,
    meeting: Meeting,
    room: Room,
    bookings: Sequence[RoomBooking],
) -> None:
    """Tell the people who answer for ``room``'s owning unit (clerks, else head and deputy heads)
    that ``bookings`` (PENDING, of one meeting) wait for them: one ``ROOM_BOOKING_REQUESTED``
    each, whose subject is the first booking. A unit with nobody answering for it tells
    nobody: its bookings wait until someone holds a duty there."""
    if not bookings:
        return
    people = (await answering_for_units(uow.session, [room.owner_unit_id])).get(room.owner_unit_id, [])
    first = min(bookings, key=lambda b: b.start_at)
    count = len(bookings)
    body = f"{meeting.title}，{_span(first.start_at, first.end_at)}" + (f" 起，共 {count} 次" if count > 1 else "")
    await notify(
        uow,
        broker,
        [
            Message(
                user_id=user_id,
                kind=NotificationKind.ROOM_BOOKING_REQUESTED.value,
                title=f"会议室预订待审批：{room.name}",
                body=body,
                subject_type="RoomBooking",
                subject_id=first.id,
                actor_id=actor.user_id if actor else None,
                payload={"bookings": count},
            )
            for user_id in people
            if actor is None or user_id != actor.user_id
        ],
    )


async def flush_bookings(uow: UnitOfWork, room: Room, field: str = "roomId") -> None:
    """Flush pending booking writes; the PostgreSQL exclusion constraint's refusal (a
    concurrent transaction booked the slot first) becomes ``ROOM_TAKEN`` naming ``field``."""
    name = room.name  # a failed flush expires every loaded row: read it before
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        if "ex_room_bookings_no_overlap" in str(exc.orig) or "23P01" in str(getattr(exc.orig, "sqlstate", "")):
            raise DomainError(ErrorCode.ROOM_TAKEN, field, detail=f"{name}, booked by someone else just now") from exc
        raise


async def move_booking(
    uow: UnitOfWork,
    occurrence: MeetingOccurrence,
    room: Room | None,
    start: dt.datetime,
    end: dt.datetime,
    *,
    actor: Actor | None = None,
    broker: Publisher | None = None,
    meeting: Meeting | None = None,
    field: str = "roomId",
) -> RoomBooking | None:
    """Re-book ``occurrence`` to ``room`` over ``[start, end)`` (UTC), for a moved occurrence or a
    changed room; call it inside the transaction that changes the occurrence, before or after
    setting ``occurrence.start_at/end_at/room_id`` (this function changes only the booking).

    - ``room`` None: the occurrence no longer has a room; its holding booking is RELEASED.
    - Otherwise the occurrence's booking row (one per occurrence, whatever its status) is
      updated, or inserted when there is none. A clash with another occurrence's holding
      booking raises ``ROOM_TAKEN`` (the booking ignores itself, so a meeting moved by half an
      hour inside its own old slot is fine); on PostgreSQL the exclusion constraint re-checks
      the updated row against concurrent transactions (:func:`flush_bookings`).
    - Status: a booking that already held the same room keeps its status (a moved APPROVED
      booking stays approved, a PENDING one keeps waiting). A new room, or a booking that was
      REFUSED or RELEASED, is APPROVED when the room needs no approval or ``actor`` answers for
      its unit, else PENDING (decision fields cleared); with ``broker``, ``actor`` and
      ``meeting`` given, a newly PENDING booking is announced (:func:`request_approval`).
    - ``INACTIVE`` (``field``) when ``room`` is retired and the booking did not already hold
      it; ``INVALID_VALUE`` when ``end`` is not after ``start``.

    Moving several occurrences of one series whose new slots overlap other occurrences' old
    slots in the same room: :func:`release` them first, then move each (the check and the
    constraint see one row at a time). Returns the booking, or None when released/none.
    """
    session = uow.session
    existing = (
        await session.execute(select(RoomBooking).where(RoomBooking.occurrence_id == occurrence.id).with_for_update())
    ).scalar_one_or_none()
    if room is None:
        if existing is not None and existing.status in HOLDING:
            existing.status = BookingStatus.RELEASED.value
            await session.flush()
        return None
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise DomainError(ErrorCode.INVALID_VALUE, "endAt", detail="the end must be after the start")
    keeps = existing is not None and existing.room_id == room.id and existing.status in HOLDING
    if not room.is_active and not keeps:
        raise DomainError(ErrorCode.INACTIVE, field, detail=room.name)
    clash = await clashes(uow, room.id, start, end, ignore_occurrence=occurrence.id)
    if clash is not None:
        raise DomainError(ErrorCode.ROOM_TAKEN, field, detail=f"{room.name}, {_span(start, end)} (Asia/Shanghai)")
    newly_pending = False
    if keeps:
        assert existing is not None
        status = existing.status
    else:
        approved = not room.requires_approval or (actor is not None and await may_decide(session, actor.user_id, room))
        status = BookingStatus.APPROVED.value if approved else BookingStatus.PENDING.value
        newly_pending = not approved
    if existing is None:
        existing = RoomBooking(occurrence_id=occurrence.id, created_at=uow.now)
        session.add(existing)
    elif not keeps:
        existing.decided_by_id = existing.decided_at = existing.decision_remark = None
    existing.room_id, existing.start_at, existing.end_at, existing.status = room.id, start, end, status
    await flush_bookings(uow, room, field)
    if newly_pending and broker is not None and meeting is not None:
        await request_approval(uow, broker, actor, meeting, room, [existing])
    return existing


async def release(uow: UnitOfWork, occurrence_ids: Sequence[int]) -> int:
    """Release the holding bookings of the occurrences (status RELEASED: the room is free again
    at once), for cancelled occurrences, a cancelled meeting or a meeting that gives up its
    room. REFUSED and RELEASED bookings stay as they are; the occurrences themselves are the
    caller's to change. Returns how many bookings were released."""
    if not occurrence_ids:
        return 0
    result = await uow.session.execute(
        update(RoomBooking)
        .where(RoomBooking.occurrence_id.in_(list(occurrence_ids)), RoomBooking.status.in_(HOLDING))
        .values(status=BookingStatus.RELEASED.value)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)


# ---- approval ----------------------------------------------------------------------------


async def units_answered_by(session: AsyncSession, user_id: int) -> set[int]:
    """The units ``user_id`` answers for (a clerk of it, or its head or deputy head where it has
    no clerk)."""
    candidates = list(
        (
            await session.execute(
                select(PositionDuty.unit_id)
                .join(Position, Position.id == PositionDuty.position_id)
                .where(Position.user_id == user_id)
                .distinct()
            )
        ).scalars()
    )
    return await answering_units_of(session, user_id, candidates) if candidates else set()


async def pending_for(session: AsyncSession, actor: Actor, now: dt.datetime) -> list[RoomBooking]:
    """PENDING bookings, not yet ended at ``now``, of rooms whose owning units ``actor`` answers
    for (:func:`units_answered_by`), in start order, at most 1,000."""
    units = await units_answered_by(session, actor.user_id)
    if not units:
        return []
    q = (
        select(RoomBooking)
        .join(Room, Room.id == RoomBooking.room_id)
        .where(
            Room.owner_unit_id.in_(units),
            RoomBooking.status == BookingStatus.PENDING.value,
            RoomBooking.end_at > now,
        )
        .order_by(RoomBooking.start_at, RoomBooking.id)
        .limit(MAX_BOOKINGS_LISTED)
    )
    return list((await session.execute(q)).scalars())


async def decide(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    booking_id: int,
    *,
    approve: bool,
    reason: str | None = None,
    whole_series: bool = True,
) -> list[RoomBooking]:
    """Approve or refuse a PENDING booking, by someone who answers for the room's owning unit.

    ``whole_series``: every other PENDING booking of the same room for the same meeting (the
    rest of a recurring series) is decided with it. Refused bookings release the room at
    once; their occurrences (and the meeting, when none of its occurrences keeps the room)
    lose the room (``room_id`` null, version + 1). The convener gets one
    ``ROOM_BOOKING_DECIDED`` (unless they decided it themselves). Returns the decided
    bookings in start order.

    Errors: ``NOT_FOUND`` (bookingId), ``FORBIDDEN`` (bookingId: the actor does not answer for
    the room's unit), ``INVALID_STATE`` (bookingId: not PENDING, e.g. decided meanwhile),
    ``REQUIRED``/``TOO_LONG`` (reason of a refusal, at most 500 characters).
    """
    session = uow.session
    booking = await session.get(RoomBooking, booking_id)
    if booking is None:
        raise DomainError(ErrorCode.NOT_FOUND, "bookingId")
    room = await session.get(Room, booking.room_id)
    assert room is not None
    if not await may_decide(session, actor.user_id, room):
        raise DomainError(ErrorCode.FORBIDDEN, "bookingId")
    remark = trimmed(reason) or None
    if not approve and remark is None:
        raise DomainError(ErrorCode.REQUIRED, "reason")
    if remark is not None and len(remark) > MAX_REASON:
        raise DomainError(ErrorCode.TOO_LONG, "reason", limit=MAX_REASON)
    occurrence = await session.get(MeetingOccurrence, booking.occurrence_id)
    assert occurrence is not None
    meeting = await session.get(Meeting, occurrence.meeting_id)
    assert meeting is not None
    # Lock the booking (and the rest of the series) in one statement, in id order, so that two
    # deciders of one series never deadlock; then look at the statuses as they are now.
    mine = RoomBooking.id == booking.id
    if whole_series:
        mine = mine | (
            (RoomBooking.room_id == room.id)
            & (RoomBooking.status == BookingStatus.PENDING.value)
            & RoomBooking.occurrence_id.in_(
                select(MeetingOccurrence.id).where(MeetingOccurrence.meeting_id == meeting.id)
            )
        )
    locked = list(
        (
            await session.execute(
                select(RoomBooking)
                .where(mine)
                .order_by(RoomBooking.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    if booking.status != BookingStatus.PENDING.value:
        raise DomainError(ErrorCode.INVALID_STATE, "bookingId", detail=booking.status)
    targets = sorted((b for b in locked if b.status == BookingStatus.PENDING.value), key=lambda b: (b.start_at, b.id))
    status = BookingStatus.APPROVED.value if approve else BookingStatus.REFUSED.value
    for b in targets:
        b.status, b.decided_by_id, b.decided_at, b.decision_remark = status, actor.user_id, uow.now, remark
    if not approve:
        await _drop_room(uow, meeting, room, [b.occurrence_id for b in targets])
    await session.flush()
    if meeting.convener_id != actor.user_id:
        first = targets[0]
        verdict = "已批准" if approve else "未获批准"
        body = f"{meeting.title}，{_span(first.start_at, first.end_at)}" + (
            f" 起，共 {len(targets)} 次" if len(targets) > 1 else ""
        )
        await notify(
            uow,
            broker,
            [
                Message(
                    user_id=meeting.convener_id,
                    kind=NotificationKind.ROOM_BOOKING_DECIDED.value,
                    title=f"会议室预订{verdict}：{room.name}",
                    body=body + (f"。理由：{remark}" if remark and not approve else ""),
                    subject_type="Meeting",
                    subject_id=meeting.id,
                    actor_id=actor.user_id,
                    payload={"status": status.upper(), "bookings": len(targets)},
                )
            ],
        )
    return targets


async def _drop_room(uow: UnitOfWork, meeting: Meeting, room: Room, occurrence_ids: Sequence[int]) -> None:
    """The refused occurrences no longer have the room; nor has the meeting once none of its
    occurrences does."""
    session = uow.session
    for occ in (
        await session.execute(
            select(MeetingOccurrence).where(
                MeetingOccurrence.id.in_(list(occurrence_ids)), MeetingOccurrence.room_id == room.id
            )
        )
    ).scalars():
        occ.room_id = None
        occ.version += 1
    await session.flush()
    if meeting.room_id == room.id:
        still = await session.scalar(
            select(func.count())
            .select_from(MeetingOccurrence)
            .where(MeetingOccurrence.meeting_id == meeting.id, MeetingOccurrence.room_id == room.id)
        )
        if not still:
            meeting.room_id = None
            meeting.version += 1
            meeting.updated_at = uow.now


async def booking_views(
    session: AsyncSession, actor: Actor, bookings: Sequence[RoomBooking]
) -> dict[int, tuple[bool, bool]]:
    """For each booking id: (the actor sees the meeting — ``meetings.access.can_see``; the actor
    sees its summary — title, convener, organising unit: viewers and the people who answer for
    the room's unit)."""
    out: dict[int, tuple[bool, bool]] = {}
    if not bookings:
        return out
    occ_rows = (
        await session.execute(
            select(MeetingOccurrence.id, Meeting)
            .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .where(MeetingOccurrence.id.in_([b.occurrence_id for b in bookings]))
        )
    ).all()
    meeting_of = {occ_id: meeting for occ_id, meeting in occ_rows}
    rooms = {
        r.id: r
        for r in (await session.execute(select(Room).where(Room.id.in_({b.room_id for b in bookings})))).scalars()
    }
    answered = await answering_units_of(session, actor.user_id, list({r.owner_unit_id for r in rooms.values()}))
    seen: dict[int, bool] = {}
    for b in bookings:
        meeting = meeting_of[b.occurrence_id]
        if meeting.id not in seen:
            seen[meeting.id] = await can_see(session, actor, meeting)
        sees = seen[meeting.id]
        out[b.id] = (sees, sees or rooms[b.room_id].owner_unit_id in answered)
    return out


async def bookings_of_occurrences(session: AsyncSession, occurrence_ids: Sequence[int]) -> list[RoomBooking]:
    """The booking rows of the occurrences (at most one each), any status (DataLoader batch)."""
    q = select(RoomBooking).where(RoomBooking.occurrence_id.in_(list(occurrence_ids)))
    return list((await session.execute(q)).scalars())

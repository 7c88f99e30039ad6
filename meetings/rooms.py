"""Rooms and bookings: a room is never double-booked (DOMAIN §7.1, issue 6 item 1).

Bookings are half-open ``[start_at, end_at)``: a meeting ending at 10:00 and one starting at
10:00 do not clash. Two guards:

- :func:`reserve` looks for a holding booking that overlaps, inside the caller's write
  transaction, and names the clashing occurrence. On SQLite that transaction began with
  ``BEGIN IMMEDIATE`` (``office_api.db``), so check and insert are atomic.
- On PostgreSQL the exclusion constraint ``ex_room_bookings_no_overlap`` (migration 0023)
  catches the race between two transactions that both passed the check; the loser's insert
  fails and becomes ``ROOM_TAKEN`` too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from meetings.models import HOLDING, BookingStatus, MeetingOccurrence, Room, RoomBooking
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode
from office_api.workdays import SHANGHAI


def _local(t: dt.datetime) -> str:
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


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


async def reserve(
    uow: UnitOfWork,
    room: Room,
    occurrences: Sequence[MeetingOccurrence],
    *,
    approved: bool,
    field: str = "roomId",
) -> list[RoomBooking]:
    """Book ``room`` for every occurrence (flushed rows with ids), in the caller's transaction.

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
            room_id=room.id, occurrence_id=occ.id, start_at=occ.start_at, end_at=occ.end_at, status=status
        )
        uow.session.add(row)
        rows.append(row)
    await flush_bookings(uow, room)
    return rows


async def flush_bookings(uow: UnitOfWork, room: Room) -> None:
    """Flush pending booking writes; the PostgreSQL exclusion constraint's refusal (a
    concurrent transaction booked the slot first) becomes ``ROOM_TAKEN``."""
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        if "ex_room_bookings_no_overlap" in str(exc.orig) or "23P01" in str(getattr(exc.orig, "sqlstate", "")):
            raise DomainError(
                ErrorCode.ROOM_TAKEN, "roomId", detail=f"{room.name}, booked by someone else just now"
            ) from exc
        raise

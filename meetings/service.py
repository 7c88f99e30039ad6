"""Creating a meeting: the notice (会议通知, DOMAIN §7.1), its occurrences, room and invitations.

:func:`create_meeting` validates the whole input (every invalid field reported at once),
expands the recurrence (``meetings.recurrence``), writes the meeting and one row per
occurrence, books the room for every occurrence (``meetings.rooms.book``: never
double-booked), invites people and units and notifies them, all in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import recurrence, rooms
from meetings.models import (
    DEFAULT_TIME_ZONE,
    AttendeeRole,
    Invitation,
    Meeting,
    MeetingOccurrence,
    Room,
    SubstitutionPolicy,
)
from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.models import OrgUnit, Position, User
from office_api.org.permissions import Actor
from office_api.reminders import answering_for_units
from office_api.text import trimmed
from office_api.workdays import SHANGHAI

#: Longest single occurrence (a multi-day all-day meeting, a conference).
MAX_DURATION = dt.timedelta(days=14)
#: Shortest occurrence.
MIN_DURATION = dt.timedelta(minutes=1)
#: How long before now a meeting may start: an ad-hoc meeting registered as it begins.
START_GRACE = dt.timedelta(minutes=60)
#: How far ahead of now a meeting may start.
MAX_AHEAD_YEARS = 10
#: Most invitations one meeting input may carry (people and units).
MAX_INVITEES = 500
#: Largest per-unit quota.
MAX_QUOTA = 100


@dataclass
class InviteeInput:
    """A person (``user_id``) or a unit (``unit_id``) to invite; ``quota`` for units only."""

    user_id: int | None = None
    unit_id: int | None = None
    role: AttendeeRole = AttendeeRole.PARTICIPANT
    required: bool = True
    quota: int | None = None
    required_rank: str | None = None


@dataclass
class MeetingInput:
    """What :func:`create_meeting` needs. Instants are aware; all-day meetings give dates.

    ``all_day_from``/``all_day_to`` (inclusive local dates in ``time_zone``) replace
    ``start_at``/``end_at`` for an all-day meeting.
    """

    title: str
    organizer_unit_id: int
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    all_day_from: dt.date | None = None
    all_day_to: dt.date | None = None
    time_zone: str = DEFAULT_TIME_ZONE
    recurrence: str | None = None
    co_organizer_unit_ids: Sequence[int] = ()
    convener_id: int | None = None
    chair_id: int | None = None
    agenda: str = ""
    materials: str = ""
    logistics: str = ""
    location: str = ""
    online_link: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    report_at: dt.datetime | None = None
    room_id: int | None = None
    reply_deadline: dt.datetime | None = None
    substitution_policy: SubstitutionPolicy = SubstitutionPolicy.APPROVAL_REQUIRED
    check_in_opens_minutes: int = 30
    late_after_minutes: int = 0
    invitees: Sequence[InviteeInput] = field(default_factory=list)


def _aware(errors: ErrorCollector, name: str, value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        errors.add(ErrorCode.INVALID_VALUE, name, detail="needs a UTC offset, e.g. 2026-12-01T09:00:00+08:00")
        return None
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+08:00, 9999-12-31T23:00-05:00
        errors.add(ErrorCode.INVALID_VALUE, name, detail="out of range")
        return None


def check_online_link(errors: ErrorCollector, value: str | None, field: str = "onlineLink") -> None:
    """Add ``INVALID_VALUE`` on ``field`` unless ``value`` (trimmed; None or "" for no link) is
    an absolute http(s) URL with a host and no whitespace or control character anywhere (a
    CR/LF would otherwise end up inside iCalendar and notification text)."""
    if not value:
        return
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in value):
        errors.add(ErrorCode.INVALID_VALUE, field, detail="no spaces or control characters in a URL")
        return
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. "http://[::1"
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        errors.add(ErrorCode.INVALID_VALUE, field, detail="an http(s) URL")


def _text(errors: ErrorCollector, name: str, value: str | None, limit: int, *, required: bool = False) -> str:
    text = trimmed(value)
    if required and not text:
        errors.add(ErrorCode.REQUIRED, name)
    elif len(text) > limit:
        errors.add(ErrorCode.TOO_LONG, name, limit=limit)
    return text


def local_time(t: dt.datetime, time_zone: str = DEFAULT_TIME_ZONE) -> str:
    """``t`` as ``YYYY-MM-DD HH:MM`` in ``time_zone`` (for messages)."""
    try:
        tz = recurrence.zone(time_zone)
    except DomainError:
        tz = SHANGHAI
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def check_start(
    errors: ErrorCollector,
    start: dt.datetime,
    now: dt.datetime,
    *,
    all_day: bool = False,
    history: bool = False,
) -> bool:
    """Whether a meeting (or an occurrence moved) may start at ``start`` (aware), else False
    with ``INVALID_VALUE`` on ``startAt`` (``allDayFrom`` when ``all_day``).

    The one rule of createMeeting and rescheduleMeeting: at most :data:`START_GRACE` (60
    minutes) before ``now`` (an ad-hoc meeting registered as it begins) and at most
    :data:`MAX_AHEAD_YEARS` (10) years after it. ``history`` (a whole recurring series moved,
    whose first occurrences may be held already) allows any start in the
    :data:`meetings.recurrence.MAX_SPAN_YEARS` before now instead."""
    name = "allDayFrom" if all_day else "startAt"
    if history:
        earliest = recurrence.add_years(now, -recurrence.MAX_SPAN_YEARS)
        too_early = "a series' first start lies within 20 years before now"
    else:
        earliest = now - START_GRACE
        too_early = "must not be more than 60 minutes before now"
    if start < earliest:
        errors.add(ErrorCode.INVALID_VALUE, name, detail=too_early)
        return False
    if start > recurrence.add_years(now, MAX_AHEAD_YEARS):
        errors.add(ErrorCode.INVALID_VALUE, name, detail=f"must be within {MAX_AHEAD_YEARS} years from now")
        return False
    return True


def meeting_times(
    errors: ErrorCollector, data: MeetingInput, now: dt.datetime, *, history: bool = False
) -> tuple[dt.datetime, dt.datetime] | None:
    """The first occurrence's ``[start, end)`` in UTC from a timed or an all-day input, or None
    (problems added to ``errors``: end before start, shorter than a minute, longer than 14
    days, naive instants, unknown time zone, a start outside :func:`check_start`'s bounds).

    An all-day meeting's dates are read in ``data.time_zone``: ``allDayFrom`` may be today
    there (not before) and at most 10 years ahead (``history``: see :func:`check_start`)."""
    try:
        tz = recurrence.zone(data.time_zone)
    except DomainError as exc:
        errors.errors.append(exc)
        return None
    if data.all_day_from is not None or data.all_day_to is not None:
        if data.start_at is not None or data.end_at is not None:
            errors.add(ErrorCode.INVALID_VALUE, "startAt", detail="give startAt/endAt or allDayFrom/allDayTo, not both")
            return None
        first = data.all_day_from or data.all_day_to
        last = data.all_day_to or first
        assert first is not None
        assert last is not None
        if last < first:
            errors.add(ErrorCode.INVALID_VALUE, "allDayTo", detail="must not be before allDayFrom")
            return None
        today = now.astimezone(tz).date()
        latest = recurrence.add_years(now, MAX_AHEAD_YEARS).astimezone(tz).date()
        if history:
            midnight = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC)
            if not check_start(errors, midnight, now, all_day=True, history=True):
                return None
        elif first < today:
            errors.add(ErrorCode.INVALID_VALUE, "allDayFrom", detail="must not be before today")
            return None
        elif first > latest:
            errors.add(ErrorCode.INVALID_VALUE, "allDayFrom", detail=f"must be within {MAX_AHEAD_YEARS} years from now")
            return None
        if (last - first).days >= MAX_DURATION.days:
            errors.add(ErrorCode.INVALID_VALUE, "allDayTo", detail="an occurrence lasts at most 14 days")
            return None
        start = dt.datetime.combine(first, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    else:
        if data.start_at is None:
            errors.add(ErrorCode.REQUIRED, "startAt")
        if data.end_at is None:
            errors.add(ErrorCode.REQUIRED, "endAt")
        start, end = _aware(errors, "startAt", data.start_at), _aware(errors, "endAt", data.end_at)
        if start is None or end is None:
            return None
        if end < start:
            errors.add(ErrorCode.INVALID_VALUE, "endAt", detail="the end is before the start")
            return None
        if end - start < MIN_DURATION:
            errors.add(ErrorCode.INVALID_VALUE, "endAt", detail="a meeting lasts at least one minute")
            return None
        if not check_start(errors, start, now, history=history):
            return None
    if end - start > MAX_DURATION:
        errors.add(ErrorCode.INVALID_VALUE, "endAt", detail="an occurrence lasts at most 14 days")
        return None
    return start, end


async def _active(session: AsyncSession, model: type, key: int, name: str, errors: ErrorCollector) -> object | None:
    row = await session.get(model, key)
    if row is None:
        errors.add(ErrorCode.NOT_FOUND, name)
        return None
    if not getattr(row, "is_active", True):
        errors.add(ErrorCode.INACTIVE, name, detail=getattr(row, "name", None) or getattr(row, "display_name", ""))
        return None
    return row


async def holds_post_in(session: AsyncSession, user_id: int, unit_id: int) -> bool:
    """Whether ``user_id`` holds a position in ``unit_id``."""
    q = select(Position.id).where(Position.user_id == user_id, Position.unit_id == unit_id).limit(1)
    return (await session.execute(q)).first() is not None


def attendee_places(invitees: Sequence[InviteeInput | Invitation]) -> int:
    """Seats the invitations need: one per person, the quota (default 1) per unit."""
    return sum(1 if i.user_id is not None else (i.quota or 1) for i in invitees)


async def check_invitees(
    session: AsyncSession,
    errors: ErrorCollector,
    invitees: Sequence[InviteeInput],
    *,
    prefix: str = "invitees",
    already: Sequence[Invitation] = (),
) -> None:
    """Validate people and units to invite: exist, active, not twice, quota for units only."""
    if len(invitees) > MAX_INVITEES:
        errors.add(ErrorCode.TOO_MANY, prefix, limit=MAX_INVITEES)
        return
    seen_users = {i.user_id for i in already if i.user_id is not None}
    seen_units = {i.unit_id for i in already if i.unit_id is not None}
    for n, inv in enumerate(invitees):
        name = f"{prefix}.{n}"
        if (inv.user_id is None) == (inv.unit_id is None):
            errors.add(ErrorCode.INVALID_VALUE, name, detail="give exactly one of userId and unitId")
            continue
        if inv.user_id is not None:
            if inv.quota is not None or inv.required_rank:
                errors.add(ErrorCode.INVALID_VALUE, f"{name}.quota", detail="quota and requiredRank are for units")
            if inv.user_id in seen_users:
                errors.add(ErrorCode.DUPLICATE, f"{name}.userId", detail="invited twice")
            seen_users.add(inv.user_id)
            await _active(session, User, inv.user_id, f"{name}.userId", errors)
        else:
            if inv.quota is not None and not 1 <= inv.quota <= MAX_QUOTA:
                errors.add(ErrorCode.INVALID_VALUE, f"{name}.quota", detail=f"1 to {MAX_QUOTA}")
            if inv.required_rank is not None and len(trimmed(inv.required_rank)) > 100:
                errors.add(ErrorCode.TOO_LONG, f"{name}.requiredRank", limit=100)
            if inv.unit_id in seen_units:
                errors.add(ErrorCode.DUPLICATE, f"{name}.unitId", detail="invited twice")
            seen_units.add(inv.unit_id)
            assert inv.unit_id is not None
            await _active(session, OrgUnit, inv.unit_id, f"{name}.unitId", errors)


async def add_invitations(
    uow: UnitOfWork, broker: Publisher, actor: Actor, meeting: Meeting, invitees: Sequence[InviteeInput]
) -> list[Invitation]:
    """Write invitations (validated by :func:`check_invitees`) and notify: people get
    ``MEETING_INVITED``; for units, the people who answer for them (clerks, else head and
    deputies) get ``MEETING_NOMINATION_REQUESTED``."""
    rows = [
        Invitation(
            meeting_id=meeting.id,
            user_id=i.user_id,
            unit_id=i.unit_id,
            role=AttendeeRole(i.role).value,
            required=i.required,
            quota=(i.quota or 1) if i.unit_id is not None else None,
            required_rank=trimmed(i.required_rank) or None,
            created_at=uow.now,
        )
        for i in invitees
    ]
    uow.session.add_all(rows)
    await uow.session.flush()
    await notify_invited(uow, broker, actor, meeting, rows)
    return rows


async def notify_invited(
    uow: UnitOfWork, broker: Publisher, actor: Actor, meeting: Meeting, rows: Sequence[Invitation]
) -> None:
    """Tell new (or renewed) invitations: people get ``MEETING_INVITED`` (a nominee's payload
    names the unit invitation as ``nominatedViaId``); for units, the people who answer for
    them get ``MEETING_NOMINATION_REQUESTED``. The actor is not told about their own."""
    when = local_time(meeting.start_at, meeting.time_zone)
    via_ids = {r.nominated_via_id for r in rows if r.nominated_via_id is not None}
    unit_of_via: dict[int, int | None] = {}
    if via_ids:  # a nominee is invited for the unit of the unit invitation that named them
        found = await uow.session.execute(select(Invitation.id, Invitation.unit_id).where(Invitation.id.in_(via_ids)))
        unit_of_via = dict(found.all())
    messages = [
        Message(
            user_id=r.user_id,
            kind=NotificationKind.MEETING_INVITED.value,
            title=f"会议通知：{meeting.title}",
            body=f"{when} {meeting.location}".strip(),
            subject_type="Meeting",
            subject_id=meeting.id,
            actor_id=actor.user_id,
            payload={"invitationId": r.id, "role": r.role, "startAt": meeting.start_at.isoformat()}
            | ({"nominatedViaId": r.nominated_via_id} if r.nominated_via_id else {}),
            unit_id=unit_of_via.get(r.nominated_via_id) if r.nominated_via_id else None,
        )
        for r in rows
        if r.user_id is not None and r.user_id != actor.user_id
    ]
    unit_rows = [r for r in rows if r.unit_id is not None]
    if unit_rows:
        answering = await answering_for_units(uow.session, [r.unit_id for r in unit_rows if r.unit_id])
        for r in unit_rows:
            for user_id in answering.get(r.unit_id or 0, []):
                messages.append(
                    Message(
                        user_id=user_id,
                        kind=NotificationKind.MEETING_NOMINATION_REQUESTED.value,
                        title=f"请报送参会人员：{meeting.title}",
                        body=f"{when}，名额 {r.quota} 人" + (f"，{r.required_rank}" if r.required_rank else ""),
                        subject_type="Meeting",
                        subject_id=meeting.id,
                        actor_id=actor.user_id,
                        payload={"invitationId": r.id, "unitId": r.unit_id, "quota": r.quota},
                        unit_id=r.unit_id,
                    )
                )
    await notify(uow, broker, messages)


async def create_meeting(uow: UnitOfWork, broker: Publisher, actor: Actor, data: MeetingInput) -> Meeting:
    """Create a meeting or bounded recurring series, book its room, invite and notify.

    The actor must hold a post in the organising unit (``FORBIDDEN`` on organizerUnitId).
    Errors (all invalid fields at once): REQUIRED, TOO_LONG, INVALID_VALUE (end before start,
    shorter than a minute, longer than 14 days, naive instants, a start more than 60 minutes
    before now or more than 10 years after it, an all-day meeting before today, reply
    deadline or 报到 after the start, link not an http(s) URL or with whitespace/control
    characters, the organising unit among the co-organisers, minutes out of range),
    RECURRENCE_INVALID, RECURRENCE_UNBOUNDED, TOO_MANY, NOT_FOUND, INACTIVE, DUPLICATE,
    ROOM_OVER_CAPACITY; then ROOM_TAKEN naming the first clashing occurrence.
    """
    session = uow.session
    errors = ErrorCollector()
    title = _text(errors, "title", data.title, 200, required=True)
    texts = {
        "agenda": _text(errors, "agenda", data.agenda, 4000),
        "materials": _text(errors, "materials", data.materials, 2000),
        "logistics": _text(errors, "logistics", data.logistics, 2000),
        "location": _text(errors, "location", data.location, 300),
    }
    contact_name = _text(errors, "contactName", data.contact_name, 64) or None
    contact_phone = _text(errors, "contactPhone", data.contact_phone, 24) or None
    link = _text(errors, "onlineLink", data.online_link, 500) or None
    check_online_link(errors, link)
    if not 0 <= data.check_in_opens_minutes <= 24 * 60:
        errors.add(ErrorCode.INVALID_VALUE, "checkInOpensMinutes", detail="0 to 1440")
    if not 0 <= data.late_after_minutes <= 240:
        errors.add(ErrorCode.INVALID_VALUE, "lateAfterMinutes", detail="0 to 240")
    times = meeting_times(errors, data, uow.now)
    all_day = data.all_day_from is not None or data.all_day_to is not None
    instances: list[recurrence.Instance] = []
    if times is not None:
        try:
            instances = recurrence.expand(data.recurrence, times[0], times[1], data.time_zone, all_day=all_day)
        except DomainError as exc:
            errors.errors.append(exc)
    reply_deadline = _aware(errors, "replyDeadline", data.reply_deadline)
    report_at = _aware(errors, "reportAt", data.report_at)
    if times is not None and reply_deadline is not None and reply_deadline > times[0]:
        errors.add(ErrorCode.INVALID_VALUE, "replyDeadline", detail="must not be after the start")
    if times is not None and report_at is not None and report_at > times[0]:
        errors.add(ErrorCode.INVALID_VALUE, "reportAt", detail="must not be after the start")

    organizer = await _active(session, OrgUnit, data.organizer_unit_id, "organizerUnitId", errors)
    if organizer is not None and not await holds_post_in(session, actor.user_id, data.organizer_unit_id):
        errors.add(ErrorCode.FORBIDDEN, "organizerUnitId")
    for n, unit_id in enumerate(data.co_organizer_unit_ids):
        if unit_id == data.organizer_unit_id:
            errors.add(ErrorCode.INVALID_VALUE, f"coOrganizerUnitIds.{n}", detail="the organising unit itself")
    co_units = [u for u in dict.fromkeys(data.co_organizer_unit_ids) if u != data.organizer_unit_id]
    if len(co_units) > 20:
        errors.add(ErrorCode.TOO_MANY, "coOrganizerUnitIds", limit=20)
    for n, unit_id in enumerate(co_units):
        await _active(session, OrgUnit, unit_id, f"coOrganizerUnitIds.{n}", errors)
    convener_id = data.convener_id or actor.user_id
    if data.convener_id is not None:
        await _active(session, User, data.convener_id, "convenerId", errors)
    if data.chair_id is not None:
        await _active(session, User, data.chair_id, "chairId", errors)
    await check_invitees(session, errors, data.invitees)
    room: Room | None = None
    if data.room_id is not None:
        found = await _active(session, Room, data.room_id, "roomId", errors)
        room = found if isinstance(found, Room) else None
        if room is not None and attendee_places(data.invitees) > room.capacity:
            errors.add(
                ErrorCode.ROOM_OVER_CAPACITY, "roomId", count=attendee_places(data.invitees), capacity=room.capacity
            )
    errors.raise_if_any()
    assert times is not None

    meeting = Meeting(
        title=title,
        organizer_unit_id=data.organizer_unit_id,
        co_organizer_unit_ids=co_units,
        convener_id=convener_id,
        chair_id=data.chair_id,
        online_link=link,
        contact_name=contact_name,
        contact_phone=contact_phone,
        start_at=times[0],
        end_at=times[1],
        report_at=report_at,
        time_zone=data.time_zone,
        all_day=all_day,
        rrule=recurrence.canonical(data.recurrence or "") or None,
        room_id=data.room_id,
        reply_deadline=reply_deadline,
        substitution_policy=SubstitutionPolicy(data.substitution_policy).value,
        check_in_opens_minutes=data.check_in_opens_minutes,
        late_after_minutes=data.late_after_minutes,
        created_by_id=actor.user_id,
        created_at=uow.now,
        updated_at=uow.now,
        **texts,
    )
    session.add(meeting)
    await session.flush()
    occurrences = [
        MeetingOccurrence(
            meeting_id=meeting.id, recurrence_id=i.recurrence_id, start_at=i.start, end_at=i.end, room_id=data.room_id
        )
        for i in instances
    ]
    session.add_all(occurrences)
    await session.flush()
    if room is not None:
        await rooms.book(uow, broker, actor, meeting, room, occurrences)
    await add_invitations(uow, broker, actor, meeting, data.invitees)
    # check_in reaches this module through replies → invitations: import it when used
    from meetings.check_in import schedule_check_in_open

    await schedule_check_in_open(uow, meeting, occurrences)
    return meeting

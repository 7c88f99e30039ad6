"""Invitations after the notice went out (DOMAIN §7.1): inviting more people and units,
withdrawing an invitation, and a unit's nomination of its attendees within its quota.

**Locks.** Every meeting change takes the meeting row first: ``FOR UPDATE`` for an organiser's
change (``access.meeting_for_organiser``: notice edits, cancelling, inviting, withdrawing,
rescheduling), ``FOR SHARE`` (:func:`lock_meeting`) for what invitees and units do (replies,
nominations, leave requests and decisions). Then invitation rows ``FOR UPDATE``, always in the
order unit invitation → person invitation → substitute invitation, then leave requests, then
notification counters.
So an organiser's change never interleaves with a reply (a time change that resets replies
waits for, or is waited for by, every reply), and invitees' writes serialise per invitation.
On SQLite every write transaction is ``BEGIN IMMEDIATE`` (serialised); the row locks are
PostgreSQL's.

**One row per person and meeting.** The unique index (meeting, user) covers withdrawn rows too:
inviting a withdrawn person again renews their row (:func:`person_invitation`), its old replies
dropped. A concurrent insert of the same person (PostgreSQL) becomes ``DUPLICATE``.

**Nominees** (unit invitations): the people who answer for the invited unit (its clerks, else
its head and deputies: ``access.answering_units_of``) name at most ``quota`` people who hold a
post in the unit **or in a unit below it** (a city government may send the head of one of its
bureaux or districts, the 分管负责同志 the notice asks for). Each nominee gets a person
invitation with ``nominated_via_id`` = the unit invitation, the unit's role and ``required``
flag; naming them sets the unit invitation ACCEPTED. Naming again replaces the list: nominees
kept keep their replies, dropped ones are withdrawn and told.

**Seats** (room capacity): one per active person invitation that is neither a nominee nor a
substitute, plus each active unit invitation's quota (its nominees sit within it; a substitute
takes the seat of the person they replace).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.access import answering_units_of, can_see, is_organiser, meeting_for_organiser
from meetings.models import (
    AttendeeRole,
    CheckIn,
    Invitation,
    LeaveRequest,
    LeaveState,
    Meeting,
    MeetingOccurrence,
    MeetingState,
    OccurrenceReply,
    OccurrenceState,
    ReplyState,
    Room,
)
from meetings.service import (
    InviteeInput,
    add_invitations,
    attendee_places,
    check_invitees,
    notify_invited,
)
from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.models import OrgUnit, Position, PositionDuty, User
from office_api.org.permissions import Actor
from office_api.reminders import answering_for_units
from office_api.text import trimmed

#: Longest reason given when withdrawing an invitation.
MAX_REASON = 500
#: Most invitations ``myMeetingInvitations`` returns.
MAX_MY_INVITATIONS = 500


# ---- reads and locks shared by the meeting modules ---------------------------------------------


async def lock_meeting(session: AsyncSession, actor: Actor, meeting_id: int, field: str) -> Meeting:
    """The meeting, share-locked (``FOR SHARE`` on PostgreSQL: organisers' changes wait), for an
    invitee's or a unit's write. ``NOT_FOUND`` naming ``field`` when absent or not visible."""
    q = (
        select(Meeting)
        .where(Meeting.id == meeting_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    meeting = (await session.execute(q)).scalar_one_or_none()
    if meeting is None or not await can_see(session, actor, meeting):
        raise DomainError(ErrorCode.NOT_FOUND, field)
    return meeting


async def lock_invitation(session: AsyncSession, invitation_id: int) -> Invitation:
    """The invitation row, locked ``FOR UPDATE`` and read afresh."""
    q = (
        select(Invitation)
        .where(Invitation.id == invitation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(q)).scalar_one()


async def invitation_for_change(
    session: AsyncSession, actor: Actor, invitation_id: int, field: str = "invitationId", *, organiser: bool = False
) -> tuple[Meeting, Invitation]:
    """The meeting (share-locked, or locked for an organiser) and the invitation (locked).

    ``NOT_FOUND`` when the invitation is absent or its meeting invisible to ``actor``; with
    ``organiser``: ``FORBIDDEN`` for a viewer who is no organiser, ``MEETING_CANCELLED``.
    """
    found = await session.get(Invitation, invitation_id)
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, field)
    if organiser:
        meeting = await meeting_for_organiser(session, actor, found.meeting_id, field)
    else:
        meeting = await lock_meeting(session, actor, found.meeting_id, field)
    return meeting, await lock_invitation(session, invitation_id)


async def live_occurrences(session: AsyncSession, meeting_id: int, now: dt.datetime) -> list[MeetingOccurrence]:
    """The meeting's scheduled occurrences that have not ended at ``now``, in start order."""
    q = (
        select(MeetingOccurrence)
        .where(
            MeetingOccurrence.meeting_id == meeting_id,
            MeetingOccurrence.state == OccurrenceState.SCHEDULED.value,
            MeetingOccurrence.end_at > now,
        )
        .order_by(MeetingOccurrence.start_at, MeetingOccurrence.id)
    )
    return list((await session.execute(q)).scalars())


async def require_not_ended(session: AsyncSession, meeting: Meeting, now: dt.datetime, field: str) -> None:
    """``INVALID_STATE`` naming ``field`` when every scheduled occurrence has ended."""
    if not await live_occurrences(session, meeting.id, now):
        raise DomainError(ErrorCode.INVALID_STATE, field, detail="the meeting has ended")


def require_open(meeting: Meeting, invitation: Invitation, field: str = "invitationId") -> None:
    """``MEETING_CANCELLED`` for a cancelled meeting, ``INVALID_STATE`` for a withdrawn invitation."""
    if meeting.state == MeetingState.CANCELLED.value:
        raise DomainError(ErrorCode.MEETING_CANCELLED, field)
    if not invitation.is_active:
        raise DomainError(ErrorCode.INVALID_STATE, field, detail="the invitation was withdrawn")


async def invitations_of_meeting(session: AsyncSession, meeting_id: int) -> list[Invitation]:
    """Every invitation of the meeting (withdrawn ones too), in creation order."""
    q = select(Invitation).where(Invitation.meeting_id == meeting_id).order_by(Invitation.id)
    return list((await session.execute(q)).scalars())


def seats_needed(invitations: Iterable[Invitation]) -> int:
    """Seats the active invitations need (module docstring: nominees and substitutes take none
    of their own)."""
    return sum(
        (inv.quota or 1) if inv.unit_id is not None else 1
        for inv in invitations
        if inv.is_active and inv.nominated_via_id is None and inv.on_behalf_of_id is None
    )


async def check_capacity(
    session: AsyncSession, meeting: Meeting, seats: int, now: dt.datetime, field: str = "invitees"
) -> None:
    """``ROOM_OVER_CAPACITY`` naming ``field`` when ``seats`` exceed the capacity of the meeting's
    room or of the room of any occurrence not yet ended."""
    room_ids = {o.room_id for o in await live_occurrences(session, meeting.id, now) if o.room_id is not None}
    if meeting.room_id is not None:
        room_ids.add(meeting.room_id)
    if not room_ids:
        return
    rooms = (await session.execute(select(Room).where(Room.id.in_(room_ids)).order_by(Room.capacity))).scalars()
    for room in rooms:
        if seats > room.capacity:
            raise DomainError(ErrorCode.ROOM_OVER_CAPACITY, field, count=seats, capacity=room.capacity)


# ---- one row per person: create or renew ---------------------------------------------------------


async def flush_invitations(session: AsyncSession, field: str) -> None:
    """Flush; a concurrent transaction's invitation of the same person or unit (the unique
    index, PostgreSQL) becomes ``DUPLICATE`` naming ``field``."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "meeting_invitations" in str(exc.orig):
            raise DomainError(ErrorCode.DUPLICATE, field, detail="already invited to this meeting") from exc
        raise


def _fresh(row: Invitation, now: dt.datetime, **attrs: Any) -> None:
    values: dict[str, Any] = {
        "role": AttendeeRole.PARTICIPANT.value,
        "required": True,
        "quota": None,
        "required_rank": None,
        "nominated_via_id": None,
        "on_behalf_of_id": None,
        "occurrences_only": False,
        "state": ReplyState.PENDING.value,
        "replied_at": None,
        "replied_by_id": None,
        "late": False,
        "remark": None,
        "reply_details": {},
        "is_active": True,
    }
    values.update(attrs)
    for key, value in values.items():
        setattr(row, key, value)


async def person_invitation(uow: UnitOfWork, meeting: Meeting, user_id: int, field: str, **attrs: Any) -> Invitation:
    """A new active invitation of ``user_id``, or their withdrawn one renewed (old per-occurrence
    replies dropped). ``attrs`` set role, required, nominated_via_id, on_behalf_of_id, state…
    ``DUPLICATE`` naming ``field`` when the person already holds an active invitation."""
    session = uow.session
    q = (
        select(Invitation)
        .where(Invitation.meeting_id == meeting.id, Invitation.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(q)).scalar_one_or_none()
    if row is not None and row.is_active:
        raise DomainError(ErrorCode.DUPLICATE, field, detail="already invited to this meeting")
    if row is None:
        row = Invitation(meeting_id=meeting.id, user_id=user_id, created_at=uow.now)
        _fresh(row, uow.now, **attrs)
        session.add(row)
    else:
        await session.execute(delete(OccurrenceReply).where(OccurrenceReply.invitation_id == row.id))
        _fresh(row, uow.now, **attrs)
        row.version += 1
    await flush_invitations(session, field)
    return row


# ---- withdrawing ----------------------------------------------------------------------------------


async def hand_back(session: AsyncSession, original: Invitation, substitute: Invitation) -> None:
    """The substitute no longer attends for ``original``: a whole-meeting delegation goes back to
    PENDING (the invitee is expected again); a per-occurrence one drops the DELEGATED replies of
    the occurrences the substitute covered."""
    if substitute.occurrences_only:
        covered = select(OccurrenceReply.occurrence_id).where(OccurrenceReply.invitation_id == substitute.id)
        await session.execute(
            delete(OccurrenceReply).where(
                OccurrenceReply.invitation_id == original.id,
                OccurrenceReply.occurrence_id.in_(covered),
                OccurrenceReply.state == ReplyState.DELEGATED.value,
            )
        )
    elif original.state == ReplyState.DELEGATED.value:
        original.state = ReplyState.PENDING.value
        original.replied_at = None
        original.replied_by_id = None
        original.late = False
    original.version += 1


async def require_no_check_in(session: AsyncSession, invitation: Invitation, field: str) -> None:
    """``INVALID_STATE`` naming ``field`` when ``invitation`` has a check-in (签到, table
    ``check_ins``): the attendance report (DOMAIN §7.3) is history and keeps its attendee."""
    if await session.scalar(select(CheckIn.id).where(CheckIn.invitation_id == invitation.id).limit(1)) is None:
        return
    who = await session.get(User, invitation.user_id) if invitation.user_id is not None else None
    name = who.display_name if who is not None else f"invitation {invitation.id}"
    raise DomainError(
        ErrorCode.INVALID_STATE, field, detail=f"{name} has checked in; the attendance on record cannot be withdrawn"
    )


async def withdraw(
    session: AsyncSession, invitation: Invitation, field: str = "invitationId"
) -> tuple[list[Invitation], list[Invitation]]:
    """Withdraw ``invitation`` and what hangs on it: a unit's nominees and the substitutes on
    anyone's behalf (recursively). Their pending leave requests become WITHDRAWN. A withdrawn
    substitute hands the place back to its (still active) invitee (:func:`hand_back`).

    Returns (the withdrawn invitations, the invitees who got their place back). Raises
    ``INVALID_STATE`` naming ``field`` when any of them has checked in
    (:func:`require_no_check_in`; the caller's transaction is then rolled back)."""
    withdrawn: list[Invitation] = []
    handed_back: list[Invitation] = []
    stack = [invitation]
    while stack:
        row = stack.pop()
        if not row.is_active:
            continue
        await require_no_check_in(session, row, field)
        row.is_active = False
        row.version += 1
        withdrawn.append(row)
        await session.execute(
            update(LeaveRequest)
            .where(LeaveRequest.invitation_id == row.id, LeaveRequest.state == LeaveState.PENDING.value)
            .values(state=LeaveState.WITHDRAWN.value)
        )
        await session.flush()
        dependants = (
            await session.execute(
                select(Invitation)
                .where(
                    or_(Invitation.nominated_via_id == row.id, Invitation.on_behalf_of_id == row.id),
                    Invitation.is_active.is_(True),
                )
                .order_by(Invitation.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
        stack.extend(reversed(list(dependants)))
        if row.on_behalf_of_id is not None:
            original = await lock_invitation(session, row.on_behalf_of_id)
            if original.is_active:
                await hand_back(session, original, row)
                handed_back.append(original)
    await session.flush()
    return withdrawn, handed_back


async def tell_withdrawn(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    meeting: Meeting,
    withdrawn: Sequence[Invitation],
    handed_back: Sequence[Invitation] = (),
    reason: str | None = None,
) -> None:
    """``MEETING_INVITATION_WITHDRAWN`` to each withdrawn person (for a unit: the people who
    answer for it), ``MEETING_CHANGED`` (changed: substitute) to each invitee expected again;
    never to the actor."""
    units = [w.unit_id for w in withdrawn if w.unit_id is not None]
    answering = await answering_for_units(uow.session, units) if units else {}
    messages: list[Message] = []
    for w in withdrawn:
        people = [w.user_id] if w.user_id is not None else answering.get(w.unit_id or 0, [])
        for user_id in people:
            if user_id != actor.user_id:
                messages.append(
                    Message(
                        user_id=user_id,
                        kind=NotificationKind.MEETING_INVITATION_WITHDRAWN.value,
                        title=f"会议邀请已撤回：{meeting.title}",
                        body=reason or "",
                        subject_type="Meeting",
                        subject_id=meeting.id,
                        actor_id=actor.user_id,
                        payload={"invitationId": w.id} | ({"reason": reason} if reason else {}),
                    )
                )
    for original in handed_back:
        if original.user_id is not None and original.user_id != actor.user_id:
            messages.append(
                Message(
                    user_id=original.user_id,
                    kind=NotificationKind.MEETING_CHANGED.value,
                    title=f"代参会人员已撤回，请本人参会：{meeting.title}",
                    subject_type="Meeting",
                    subject_id=meeting.id,
                    actor_id=actor.user_id,
                    payload={"invitationId": original.id, "changed": ["substitute"]},
                )
            )
    await notify(uow, broker, messages)


# ---- the operations ---------------------------------------------------------------------------------


async def invite_to_meeting(
    uow: UnitOfWork, broker: Publisher, actor: Actor, meeting_id: int, invitees: Sequence[InviteeInput]
) -> Meeting:
    """Invite more people and units to a meeting, by an organiser; they are told as at creation
    (``MEETING_INVITED``, ``MEETING_NOMINATION_REQUESTED``). A withdrawn invitee is invited again
    on their old row (replies start afresh).

    Errors: NOT_FOUND, FORBIDDEN (no organiser), MEETING_CANCELLED, INVALID_STATE (the meeting
    has ended), REQUIRED (no invitees), TOO_MANY, INVALID_VALUE, DUPLICATE (already invited,
    or twice), INACTIVE, ROOM_OVER_CAPACITY (the seats of every active invitation exceed the
    room of the meeting or of an occurrence not yet ended).
    """
    session = uow.session
    meeting = await meeting_for_organiser(session, actor, meeting_id)
    await require_not_ended(session, meeting, uow.now, "meetingId")
    errors = ErrorCollector()
    if not invitees:
        errors.add(ErrorCode.REQUIRED, "invitees")
    rows = await invitations_of_meeting(session, meeting.id)
    active = [r for r in rows if r.is_active]
    await check_invitees(session, errors, invitees, already=active)
    errors.raise_if_any()
    await check_capacity(session, meeting, seats_needed(active) + attendee_places(invitees), uow.now)

    old_users = {r.user_id: r for r in rows if r.user_id is not None and not r.is_active}
    old_units = {r.unit_id: r for r in rows if r.unit_id is not None and not r.is_active}
    fresh: list[InviteeInput] = []
    renewed: list[Invitation] = []
    for inv in invitees:
        old = old_users.get(inv.user_id) if inv.user_id is not None else old_units.get(inv.unit_id)
        if old is None:
            fresh.append(inv)
            continue
        await session.execute(delete(OccurrenceReply).where(OccurrenceReply.invitation_id == old.id))
        _fresh(
            old,
            uow.now,
            role=AttendeeRole(inv.role).value,
            required=inv.required,
            quota=(inv.quota or 1) if inv.unit_id is not None else None,
            required_rank=trimmed(inv.required_rank) or None,
        )
        old.version += 1
        renewed.append(old)
    await session.flush()
    if fresh:
        await add_invitations(uow, broker, actor, meeting, fresh)
    await notify_invited(uow, broker, actor, meeting, renewed)
    return meeting


async def withdraw_invitation(
    uow: UnitOfWork, broker: Publisher, actor: Actor, invitation_id: int, reason: str | None = None
) -> Invitation:
    """Withdraw an invitation, by an organiser (:func:`withdraw`: a unit's nominees and anyone's
    substitutes go with it; a withdrawn substitute hands the place back). The withdrawn are told
    ``MEETING_INVITATION_WITHDRAWN`` with the reason; an invitee expected again
    ``MEETING_CHANGED``.

    Errors: NOT_FOUND, FORBIDDEN, MEETING_CANCELLED, INVALID_STATE on ``invitationId``
    (already withdrawn; the meeting has ended, as for ``invite_to_meeting``; the invitee, one of
    a unit's nominees or a substitute going with it has checked in: attendance is history,
    DOMAIN §7.3), TOO_LONG (reason over 500 characters).
    """
    meeting, invitation = await invitation_for_change(uow.session, actor, invitation_id, organiser=True)
    if not invitation.is_active:
        raise DomainError(ErrorCode.INVALID_STATE, "invitationId", detail="already withdrawn")
    await require_not_ended(uow.session, meeting, uow.now, "invitationId")
    text = trimmed(reason) or None
    if text is not None and len(text) > MAX_REASON:
        raise DomainError(ErrorCode.TOO_LONG, "reason", limit=MAX_REASON)
    withdrawn, handed_back = await withdraw(uow.session, invitation)
    await tell_withdrawn(uow, broker, actor, meeting, withdrawn, handed_back, text)
    return invitation


async def holds_post_below(session: AsyncSession, user_id: int, unit: OrgUnit) -> bool:
    """Whether ``user_id`` holds a post in ``unit`` or in a unit below it."""
    q = (
        select(Position.id)
        .join(OrgUnit, OrgUnit.id == Position.unit_id)
        .where(Position.user_id == user_id, OrgUnit.path.startswith(unit.path, autoescape=True))
        .limit(1)
    )
    return (await session.execute(q)).first() is not None


async def nominate_attendees(
    uow: UnitOfWork, broker: Publisher, actor: Actor, invitation_id: int, user_ids: Sequence[int]
) -> Invitation:
    """A unit names who attends for it (module docstring): by the people who answer for the
    invited unit; ``user_ids`` replaces the earlier list. New nominees get ``MEETING_INVITED``
    (payload ``nominatedViaId``), dropped ones ``MEETING_INVITATION_WITHDRAWN``. The unit
    invitation becomes ACCEPTED (``late`` after the reply deadline). A nominee who has checked in
    cannot be dropped (the attendance report keeps them). Returns it.

    Errors: NOT_FOUND, FORBIDDEN (you do not answer for the unit), INVALID_VALUE (a person
    invitation; a nominee without a post in the unit or below), MEETING_CANCELLED,
    INVALID_STATE (withdrawn, or the meeting has ended; on ``userIds``: a nominee left out of
    the new list has checked in), REQUIRED (no one named),
    QUOTA_EXCEEDED on userIds, DUPLICATE (named twice, or already invited), NOT_FOUND or
    INACTIVE on userIds.n.
    """
    session = uow.session
    meeting, unit_inv = await invitation_for_change(session, actor, invitation_id)
    if unit_inv.unit_id is None:
        raise DomainError(ErrorCode.INVALID_VALUE, "invitationId", detail="a person invitation; name people for a unit")
    if not await answering_units_of(session, actor.user_id, [unit_inv.unit_id]):
        raise DomainError(ErrorCode.FORBIDDEN, "invitationId")
    require_open(meeting, unit_inv)
    await require_not_ended(session, meeting, uow.now, "invitationId")
    unit = await session.get(OrgUnit, unit_inv.unit_id)
    assert unit is not None
    quota = unit_inv.quota or 1
    errors = ErrorCollector()
    if not user_ids:
        errors.add(ErrorCode.REQUIRED, "userIds")
    if len(user_ids) > quota:
        errors.add(ErrorCode.QUOTA_EXCEEDED, "userIds", quota=quota)
    seen: set[int] = set()
    for n, user_id in enumerate(user_ids):
        field = f"userIds.{n}"
        if user_id in seen:
            errors.add(ErrorCode.DUPLICATE, field, detail="named twice")
            continue
        seen.add(user_id)
        user = await session.get(User, user_id)
        if user is None:
            errors.add(ErrorCode.NOT_FOUND, field)
        elif not user.is_active:
            errors.add(ErrorCode.INACTIVE, field, detail=user.display_name)
        elif not await holds_post_below(session, user_id, unit):
            detail = f"{user.display_name} holds no post in {unit.name} or below"
            errors.add(ErrorCode.INVALID_VALUE, field, detail=detail)
    errors.raise_if_any()

    current = list(
        (
            await session.execute(
                select(Invitation)
                .where(Invitation.nominated_via_id == unit_inv.id, Invitation.is_active.is_(True))
                .order_by(Invitation.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    kept = {c.user_id for c in current}
    withdrawn: list[Invitation] = []
    handed_back: list[Invitation] = []
    for old in current:
        if old.user_id not in seen:
            w, h = await withdraw(session, old, "userIds")
            withdrawn += w
            handed_back += h
    added = [
        await person_invitation(
            uow,
            meeting,
            user_id,
            f"userIds.{n}",
            role=unit_inv.role,
            required=unit_inv.required,
            nominated_via_id=unit_inv.id,
        )
        for n, user_id in enumerate(user_ids)
        if user_id not in kept
    ]
    unit_inv.state = ReplyState.ACCEPTED.value
    unit_inv.replied_at = uow.now
    unit_inv.replied_by_id = actor.user_id
    unit_inv.late = meeting.reply_deadline is not None and uow.now > meeting.reply_deadline
    unit_inv.version += 1
    await session.flush()
    await notify_invited(uow, broker, actor, meeting, added)
    await tell_withdrawn(uow, broker, actor, meeting, withdrawn, handed_back, "单位已改派参会人员")
    return unit_inv


async def units_answered_by(session: AsyncSession, user_id: int) -> list[int]:
    """The units ``user_id`` answers for (a clerk's units; a head's or deputy's without a clerk)."""
    rows = await session.execute(
        select(PositionDuty.unit_id)
        .join(Position, Position.id == PositionDuty.position_id)
        .where(Position.user_id == user_id)
    )
    candidates = sorted(set(rows.scalars()))
    return sorted(await answering_units_of(session, user_id, candidates)) if candidates else []


async def my_invitations(
    session: AsyncSession, actor: Actor, now: dt.datetime, *, state: ReplyState | None = None, past: bool = False
) -> list[Invitation]:
    """The actor's active invitations: their own person invitations (nominations and
    substitutions included) and those of the units they answer for (nominations waiting for
    them), by the meeting's start, at most 500. Without ``past``, only meetings not cancelled
    with an occurrence not yet ended at ``now``."""
    units = await units_answered_by(session, actor.user_id)
    mine = [Invitation.user_id == actor.user_id]
    if units:
        mine.append(Invitation.unit_id.in_(units))
    q = (
        select(Invitation)
        .join(Meeting, Meeting.id == Invitation.meeting_id)
        .where(Invitation.is_active.is_(True), or_(*mine))
        .order_by(Meeting.start_at, Invitation.id)
        .limit(MAX_MY_INVITATIONS)
    )
    if state is not None:
        q = q.where(Invitation.state == ReplyState(state).value)
    if not past:
        live = select(MeetingOccurrence.meeting_id).where(
            MeetingOccurrence.state == OccurrenceState.SCHEDULED.value, MeetingOccurrence.end_at > now
        )
        q = q.where(Meeting.state == MeetingState.SCHEDULED.value, Meeting.id.in_(live))
    return list((await session.execute(q)).scalars())


def may_see_reply_slip(actor: Actor, meeting: Meeting, invitation: Invitation) -> bool:
    """The 回执 details (phone, arrival, accommodation) and its remark (a reply's remark, an
    approved leave's reason) are for the organisers, the invitee and whoever filled the slip
    in; other viewers (other invitees, other units' people) see null."""
    return is_organiser(actor, meeting) or actor.user_id in {invitation.user_id, invitation.replied_by_id}

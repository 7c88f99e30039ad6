"""Replies (回执), leave requests (请假) and substitutes (代参会): DOMAIN §7.2.

**Reply states.** ``Invitation.state`` is the reply for the whole meeting or series;
an ``OccurrenceReply`` row overrides it for one occurrence. The *effective* reply for an
occurrence is its row, else the series reply (:func:`effective_state`). A series reply drops
the invitation's PENDING rows of occurrences not yet ended (they only asked for a reply, e.g.
after a moved occurrence) and keeps the rows that say something (ACCEPTED, DECLINED, DELEGATED).
``late`` = replied after the meeting's reply deadline (``uow.now`` > ``reply_deadline``).

**Units** reply DECLINED ("the unit will not attend", which withdraws its nominees); they
accept by naming nominees (``meetings.invitations.nominate_attendees``).

**Leave and substitutes** follow the meeting's substitution policy:

========================  ==============================  ===================================
policy                    leave with a substitute         leave without a substitute
========================  ==============================  ===================================
FORBIDDEN                 ``SUBSTITUTION_FORBIDDEN``      PENDING, the convener or chair decides
APPROVAL_REQUIRED         PENDING, the convener or chair  PENDING, the convener or chair decides
ALLOWED                   granted at once                 granted at once
========================  ==============================  ===================================

Every leave is a ``LeaveRequest`` row (granted at once = APPROVED with no decider). Granting
it: without a substitute the reply becomes DECLINED; with one, the invitee's reply becomes
DELEGATED and the substitute gets a person invitation of record (``on_behalf_of_id`` = the
invitee's, same role, ACCEPTED on their behalf, ``MEETING_SUBSTITUTE_NAMED``). For a single
occurrence of a series, the same happens on that occurrence's reply rows and the substitute's
invitation is ``occurrences_only`` (series reply DECLINED; it attends exactly the occurrences
with a row; naming the same substitute for another occurrence adds a row). A refused leave
changes nothing: the invitee is still expected. Unapproved substitution is absence: only
:func:`attendees_of_record` attend.

A DELEGATED invitee who replies again takes their place back: the substitute's invitation is
withdrawn (or, per occurrence, its row for that occurrence dropped) and told.

**A change of time** (:func:`reset_replies`, called by rescheduling) sets replies back to PENDING.
A delegation is an arrangement of who attends, not an answer about the time: DELEGATED replies
stay, and the substitute's own reply is reset like everyone's (the substitute confirms the new
time; the invitee may still take the place back by replying).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.access import answering_units_of, can_see, is_organiser
from meetings.invitations import (
    invitation_for_change,
    invitations_of_meeting,
    live_occurrences,
    lock_invitation,
    lock_meeting,
    person_invitation,
    require_not_ended,
    require_open,
    tell_withdrawn,
    withdraw,
)
from meetings.models import (
    Invitation,
    LeaveRequest,
    LeaveState,
    Meeting,
    MeetingOccurrence,
    MeetingState,
    OccurrenceReply,
    OccurrenceState,
    ReplyState,
    SubstitutionPolicy,
)
from meetings.service import local_time
from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.models import User
from office_api.org.permissions import Actor
from office_api.text import trimmed

#: Lengths of the reply slip's fields (characters).
MAX_REMARK = 500
MAX_PHONE = 24
MAX_ARRIVAL = 200
MAX_ACCOMMODATION = 200
MAX_LEAVE_REASON = 500

_REPLY_ZH = {
    ReplyState.ACCEPTED.value: "参加",
    ReplyState.DECLINED.value: "不参加",
    ReplyState.DELEGATED.value: "委托他人代参会",
    ReplyState.PENDING.value: "待回复",
}
#: Reply states that say the invitee does not attend in person.
NOT_ATTENDING = (ReplyState.DECLINED.value, ReplyState.DELEGATED.value)


@dataclass
class ReplyInput:
    """A reply slip (回执). ``occurrence_id``: for one occurrence only; ``phone``, ``arrival``,
    ``accommodation`` are kept on the invitation (None = unchanged)."""

    invitation_id: int
    state: ReplyState
    occurrence_id: int | None = None
    remark: str | None = None
    phone: str | None = None
    arrival: str | None = None
    accommodation: str | None = None


@dataclass
class LeaveInput:
    """A leave request (请假), for the whole meeting or one occurrence, maybe naming a substitute."""

    invitation_id: int
    reason: str
    substitute_user_id: int | None = None
    occurrence_id: int | None = None


@dataclass
class ReplySummary:
    """Replies of a meeting (series replies) or of one occurrence (effective replies).

    People: active person invitations (nominees and substitutes included; a per-occurrence
    substitute only for the occurrences it covers). Units: active unit invitations; a unit
    is ``units_nominated`` once it named its attendees (ACCEPTED)."""

    people: int = 0
    pending: int = 0
    accepted: int = 0
    declined: int = 0
    delegated: int = 0
    late: int = 0
    units: int = 0
    units_pending: int = 0
    units_nominated: int = 0
    units_declined: int = 0


# ---- effective replies ------------------------------------------------------------------------


def effective_state(invitation: Invitation, row: OccurrenceReply | None) -> str | None:
    """The reply of ``invitation`` for an occurrence given its row there (or None): the row's
    state, else the series reply; None when a per-occurrence substitute does not cover it."""
    if row is not None:
        return row.state
    if invitation.occurrences_only:
        return None
    return invitation.state


async def occurrence_replies_of(session: AsyncSession, invitation_ids: Sequence[int]) -> list[OccurrenceReply]:
    """The per-occurrence replies of the invitations (DataLoader batch function)."""
    q = (
        select(OccurrenceReply)
        .where(OccurrenceReply.invitation_id.in_(list(invitation_ids)))
        .order_by(OccurrenceReply.invitation_id, OccurrenceReply.occurrence_id)
    )
    return list((await session.execute(q)).scalars())


def summarise(
    invitations: Iterable[Invitation],
    rows: Iterable[OccurrenceReply] = (),
    occurrence_id: int | None = None,
) -> ReplySummary:
    """:class:`ReplySummary` of the invitations: series replies, or with ``occurrence_id`` the
    effective replies for that occurrence (``rows``: the invitations' occurrence replies)."""
    at = {r.invitation_id: r for r in rows if r.occurrence_id == occurrence_id} if occurrence_id else {}
    out = ReplySummary()
    states: Counter[str] = Counter()
    for inv in invitations:
        if not inv.is_active:
            continue
        if inv.unit_id is not None:
            out.units += 1
            if inv.state == ReplyState.ACCEPTED.value:
                out.units_nominated += 1
            elif inv.state == ReplyState.DECLINED.value:
                out.units_declined += 1
            else:
                out.units_pending += 1
            continue
        row = at.get(inv.id)
        state = effective_state(inv, row) if occurrence_id else (None if inv.occurrences_only else inv.state)
        if state is None:
            continue
        out.people += 1
        states[state] += 1
        if (row.late if row is not None else inv.late) and state != ReplyState.PENDING.value:
            out.late += 1
    out.pending = states[ReplyState.PENDING.value]
    out.accepted = states[ReplyState.ACCEPTED.value]
    out.declined = states[ReplyState.DECLINED.value]
    out.delegated = states[ReplyState.DELEGATED.value]
    return out


async def reply_summary(session: AsyncSession, meeting_id: int, occurrence_id: int | None = None) -> ReplySummary:
    """:func:`summarise` read from the database."""
    invitations = await invitations_of_meeting(session, meeting_id)
    rows = await occurrence_replies_of(session, [i.id for i in invitations]) if occurrence_id else []
    return summarise(invitations, rows, occurrence_id)


async def attendees_of_record(
    session: AsyncSession, meeting_id: int, occurrence_id: int | None = None
) -> list[Invitation]:
    """Who is expected at an occurrence (or, with None, at the series): active person
    invitations whose effective reply is neither DECLINED nor DELEGATED, so substitutes of
    record are in and the invitees they replace are out; a per-occurrence substitute only where
    it has a row. Pending invitees are expected (no reply is not an excuse). In id order."""
    invitations = [i for i in await invitations_of_meeting(session, meeting_id) if i.is_active and i.user_id]
    rows: dict[int, OccurrenceReply] = {}
    if occurrence_id is not None:
        found = await occurrence_replies_of(session, [i.id for i in invitations])
        rows = {r.invitation_id: r for r in found if r.occurrence_id == occurrence_id}
    out = []
    for inv in invitations:
        if occurrence_id is None:
            state = None if inv.occurrences_only else inv.state
        else:
            state = effective_state(inv, rows.get(inv.id))
        if state is not None and state not in NOT_ATTENDING:
            out.append(inv)
    return out


# ---- a change of time resets replies -----------------------------------------------------------


def _clear(row: Invitation | OccurrenceReply) -> None:
    row.state = ReplyState.PENDING.value
    row.replied_at = None
    row.late = False
    if isinstance(row, Invitation):
        row.replied_by_id = None


async def reset_replies(uow: UnitOfWork, meeting: Meeting, occurrence_ids: Sequence[int] | None) -> list[int]:
    """A meeting's time changed: replies go back to PENDING with ``late`` cleared (DOMAIN §7.2).
    Call it with the meeting locked by an organiser (``access.meeting_for_organiser``); it sends
    nothing (the caller's ``MEETING_CHANGED`` tells everyone to reply again).

    ``occurrence_ids`` None (the series or single meeting moved): every active person
    invitation's series reply and its ACCEPTED/DECLINED rows of occurrences not yet ended go
    PENDING; a unit that declined goes PENDING too (a unit that named nominees keeps them:
    their own replies reset). With ids (those occurrences moved): each invitation's effective
    reply for each occurrence goes PENDING, a row written where the series reply answered;
    a per-occurrence substitute only where it has a row; units are left alone (they reply for
    the whole meeting).

    DELEGATED replies stay (module docstring): the substitute's own reply is reset instead.
    Returns the ids of the invitations whose reply was reset, ascending.
    """
    session = uow.session
    invitations = [i for i in await invitations_of_meeting(session, meeting.id) if i.is_active]
    rows_of: dict[int, dict[int, OccurrenceReply]] = defaultdict(dict)
    for r in await occurrence_replies_of(session, [i.id for i in invitations]):
        rows_of[r.invitation_id][r.occurrence_id] = r
    answered = (ReplyState.ACCEPTED.value, ReplyState.DECLINED.value)
    if occurrence_ids is None:
        targets = [o.id for o in await live_occurrences(session, meeting.id, uow.now)]
    else:
        targets = list(dict.fromkeys(occurrence_ids))
    reset: list[int] = []
    for inv in invitations:
        changed = False
        if inv.unit_id is not None:
            if occurrence_ids is None and inv.state == ReplyState.DECLINED.value:
                _clear(inv)
                changed = True
        else:
            for occurrence_id in targets:
                row = rows_of[inv.id].get(occurrence_id)
                if row is not None:
                    if row.state in answered:
                        _clear(row)
                        changed = True
                elif occurrence_ids is not None and not inv.occurrences_only and inv.state in answered:
                    session.add(
                        OccurrenceReply(
                            invitation_id=inv.id, occurrence_id=occurrence_id, state=ReplyState.PENDING.value
                        )
                    )
                    changed = True
            if occurrence_ids is None and not inv.occurrences_only and inv.state in answered:
                _clear(inv)
                changed = True
        if changed:
            inv.version += 1
            reset.append(inv.id)
    await session.flush()
    return sorted(reset)


# ---- replying ----------------------------------------------------------------------------------


def _text(errors: ErrorCollector, field: str, value: str | None, limit: int) -> str | None:
    text = trimmed(value) or None
    if text is not None and len(text) > limit:
        errors.add(ErrorCode.TOO_LONG, field, limit=limit)
    return text


async def _occurrence(
    session: AsyncSession, meeting: Meeting, occurrence_id: int, now: dt.datetime, field: str = "occurrenceId"
) -> MeetingOccurrence:
    occ = await session.get(MeetingOccurrence, occurrence_id)
    if occ is None or occ.meeting_id != meeting.id:
        raise DomainError(ErrorCode.NOT_FOUND, field)
    if occ.state == OccurrenceState.CANCELLED.value:
        raise DomainError(ErrorCode.MEETING_CANCELLED, field)
    if occ.end_at <= now:
        raise DomainError(ErrorCode.INVALID_STATE, field, detail="this occurrence has ended")
    return occ


async def _row(session: AsyncSession, invitation_id: int, occurrence_id: int) -> OccurrenceReply | None:
    q = select(OccurrenceReply).where(
        OccurrenceReply.invitation_id == invitation_id, OccurrenceReply.occurrence_id == occurrence_id
    )
    return (await session.execute(q)).scalar_one_or_none()


async def _substitutes_of(session: AsyncSession, invitation_id: int) -> list[Invitation]:
    q = (
        select(Invitation)
        .where(Invitation.on_behalf_of_id == invitation_id, Invitation.is_active.is_(True))
        .order_by(Invitation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(q)).scalars())


async def _take_back(
    session: AsyncSession, invitation: Invitation, occurrence_id: int | None
) -> tuple[list[Invitation], list[Invitation]]:
    """A DELEGATED invitee replies again: their substitutes for the whole meeting (or, per
    occurrence, for that occurrence) step down. Returns (withdrawn, [] handed back)."""
    withdrawn: list[Invitation] = []
    for sub in await _substitutes_of(session, invitation.id):
        if occurrence_id is None and not sub.occurrences_only:
            w, _ = await withdraw(session, sub)
            withdrawn += w
        elif occurrence_id is not None and sub.occurrences_only:
            row = await _row(session, sub.id, occurrence_id)
            if row is None:
                continue
            await session.delete(row)
            await session.flush()
            if await session.scalar(select(OccurrenceReply.id).where(OccurrenceReply.invitation_id == sub.id)) is None:
                w, _ = await withdraw(session, sub)
                withdrawn += w
            else:
                sub.version += 1
                withdrawn.append(sub)
    return withdrawn, []


async def _check_replier(session: AsyncSession, actor: Actor, invitation: Invitation) -> None:
    if invitation.user_id is not None:
        if invitation.user_id != actor.user_id:
            raise DomainError(ErrorCode.FORBIDDEN, "invitationId", detail="not your invitation")
    elif not await answering_units_of(session, actor.user_id, [invitation.unit_id or 0]):
        raise DomainError(ErrorCode.FORBIDDEN, "invitationId")


async def reply_to_meeting(uow: UnitOfWork, broker: Publisher, actor: Actor, data: ReplyInput) -> Invitation:
    """Reply (回执) to an invitation: ACCEPTED or DECLINED, for the whole meeting or one
    occurrence (module docstring), by the invitee (a unit invitation: by the people who answer
    for the unit, DECLINED only, whole meeting only: its nominees are withdrawn). ``late`` when
    after the reply deadline. A DELEGATED invitee takes their place back. The convener is told
    ``MEETING_REPLY_RECEIVED`` (unless they reply themselves). Returns the invitation.

    Errors: NOT_FOUND, FORBIDDEN (not your invitation), MEETING_CANCELLED (the meeting, or on
    occurrenceId that occurrence), INVALID_STATE (withdrawn; the meeting or occurrence has
    ended; one occurrence of a meeting delegated as a whole; a nominee or substitute the reply
    would withdraw has checked in), INVALID_VALUE (state PENDING or
    DELEGATED; a unit accepting; occurrenceId for a unit, or one a per-occurrence substitute
    does not cover), TOO_LONG (remark 500, phone 24, arrival 200, accommodation 200).
    """
    session = uow.session
    meeting, inv = await invitation_for_change(session, actor, data.invitation_id)
    await _check_replier(session, actor, inv)
    require_open(meeting, inv)
    state = ReplyState(data.state)
    errors = ErrorCollector()
    if state not in (ReplyState.ACCEPTED, ReplyState.DECLINED):
        errors.add(ErrorCode.INVALID_VALUE, "state", detail="reply ACCEPTED or DECLINED (request leave to delegate)")
    if inv.unit_id is not None and state is ReplyState.ACCEPTED:
        errors.add(ErrorCode.INVALID_VALUE, "state", detail="a unit accepts by naming its attendees")
    if inv.unit_id is not None and data.occurrence_id is not None:
        errors.add(ErrorCode.INVALID_VALUE, "occurrenceId", detail="a unit replies for the whole meeting")
    if inv.occurrences_only and data.occurrence_id is None:
        errors.add(ErrorCode.REQUIRED, "occurrenceId")
    remark = _text(errors, "remark", data.remark, MAX_REMARK)
    details = {
        "phone": _text(errors, "phone", data.phone, MAX_PHONE),
        "arrival": _text(errors, "arrival", data.arrival, MAX_ARRIVAL),
        "accommodation": _text(errors, "accommodation", data.accommodation, MAX_ACCOMMODATION),
    }
    errors.raise_if_any()
    now = uow.now
    late = meeting.reply_deadline is not None and now > meeting.reply_deadline
    withdrawn: list[Invitation] = []
    occ: MeetingOccurrence | None = None
    if data.occurrence_id is not None:
        occ = await _occurrence(session, meeting, data.occurrence_id, now)
        row = await _row(session, inv.id, occ.id)
        if inv.occurrences_only and row is None:
            raise DomainError(ErrorCode.INVALID_VALUE, "occurrenceId", detail="you do not substitute at it")
        if row is None and inv.state == ReplyState.DELEGATED.value:
            raise DomainError(
                ErrorCode.INVALID_STATE,
                "occurrenceId",
                detail="a substitute attends the whole meeting for you; reply for the whole meeting to take it back",
            )
        if row is not None and row.state == ReplyState.DELEGATED.value:
            withdrawn, _ = await _take_back(session, inv, occ.id)
        if row is None:
            row = OccurrenceReply(invitation_id=inv.id, occurrence_id=occ.id)
            session.add(row)
        row.state, row.replied_at, row.late, row.remark = state.value, now, late, remark
    else:
        await require_not_ended(session, meeting, now, "invitationId")
        if inv.state == ReplyState.DELEGATED.value:
            withdrawn, _ = await _take_back(session, inv, None)
        live = select(MeetingOccurrence.id).where(
            MeetingOccurrence.meeting_id == meeting.id, MeetingOccurrence.end_at > now
        )
        await session.execute(
            delete(OccurrenceReply).where(
                OccurrenceReply.invitation_id == inv.id,
                OccurrenceReply.state == ReplyState.PENDING.value,
                OccurrenceReply.occurrence_id.in_(live),
            )
        )
        inv.state, inv.replied_at, inv.late, inv.remark = state.value, now, late, remark
        inv.replied_by_id = actor.user_id
        if inv.unit_id is not None:
            for nominee in (
                await session.execute(
                    select(Invitation)
                    .where(Invitation.nominated_via_id == inv.id, Invitation.is_active.is_(True))
                    .order_by(Invitation.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalars():
                w, _ = await withdraw(session, nominee)
                withdrawn += w
    given = {k: v for k, v in details.items() if v is not None}
    if given:
        inv.reply_details = {**(inv.reply_details or {}), **given}
    inv.version += 1
    await session.flush()

    name = actor.display_name
    when = f"（{local_time(occ.start_at, meeting.time_zone)}）" if occ is not None else ""
    messages = []
    if meeting.convener_id != actor.user_id:
        messages.append(
            Message(
                user_id=meeting.convener_id,
                kind=NotificationKind.MEETING_REPLY_RECEIVED.value,
                title=f"回执：{name} {_REPLY_ZH[state.value]}{when}" + ("（逾期）" if late else ""),
                body=remark or "",
                subject_type="Meeting",
                subject_id=meeting.id,
                actor_id=actor.user_id,
                payload={"invitationId": inv.id, "state": state.value, "late": late}
                | ({"occurrenceId": occ.id} if occ is not None else {}),
            )
        )
    await notify(uow, broker, messages)
    await tell_withdrawn(uow, broker, actor, meeting, withdrawn, (), "原参会人员将亲自参会" if inv.user_id else None)
    return inv


# ---- leave requests and substitutes ----------------------------------------------------------------


async def _check_substitute(
    session: AsyncSession, errors: ErrorCollector, meeting: Meeting, inv: Invitation, substitute_id: int
) -> Invitation | None:
    """Problems with a named substitute; returns the substitute's existing per-occurrence
    invitation on behalf of ``inv`` (reusable for another occurrence), if any."""
    field = "substituteUserId"
    if inv.on_behalf_of_id is not None:
        errors.add(ErrorCode.INVALID_VALUE, field, detail="a substitute cannot name another")
        return None
    if substitute_id == inv.user_id:
        errors.add(ErrorCode.INVALID_VALUE, field, detail="the substitute is the invitee")
        return None
    user = await session.get(User, substitute_id)
    if user is None:
        errors.add(ErrorCode.NOT_FOUND, field)
        return None
    if not user.is_active:
        errors.add(ErrorCode.INACTIVE, field, detail=user.display_name)
        return None
    existing = (
        await session.execute(
            select(Invitation).where(
                Invitation.meeting_id == meeting.id, Invitation.user_id == substitute_id, Invitation.is_active.is_(True)
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing.on_behalf_of_id == inv.id and existing.occurrences_only:
            return existing
        errors.add(ErrorCode.DUPLICATE, field, detail=f"{user.display_name} is already invited")
    return None


async def _grant(
    uow: UnitOfWork, broker: Publisher, actor: Actor, meeting: Meeting, leave: LeaveRequest, inv: Invitation, field: str
) -> None:
    """Apply an approved leave (module docstring) and tell a substitute."""
    session, now = uow.session, uow.now
    late = meeting.reply_deadline is not None and now > meeting.reply_deadline
    state = ReplyState.DECLINED.value if leave.substitute_user_id is None else ReplyState.DELEGATED.value
    if leave.occurrence_id is None:
        inv.state, inv.replied_at, inv.late, inv.remark = state, now, late, leave.reason
        inv.replied_by_id = leave.requested_by_id
    else:
        row = await _row(session, inv.id, leave.occurrence_id)
        if row is None:
            row = OccurrenceReply(invitation_id=inv.id, occurrence_id=leave.occurrence_id)
            session.add(row)
        row.state, row.replied_at, row.late, row.remark = state, now, late, leave.reason
    inv.version += 1
    if leave.substitute_user_id is None:
        await session.flush()
        return
    sub: Invitation | None = None
    if leave.occurrence_id is not None:
        sub = (
            await session.execute(
                select(Invitation)
                .where(
                    Invitation.meeting_id == meeting.id,
                    Invitation.user_id == leave.substitute_user_id,
                    Invitation.is_active.is_(True),
                    Invitation.on_behalf_of_id == inv.id,
                    Invitation.occurrences_only.is_(True),
                )
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
    if sub is None:
        sub = await person_invitation(
            uow,
            meeting,
            leave.substitute_user_id,
            field,
            role=inv.role,
            required=inv.required,
            on_behalf_of_id=inv.id,
            occurrences_only=leave.occurrence_id is not None,
            state=ReplyState.DECLINED.value if leave.occurrence_id is not None else ReplyState.ACCEPTED.value,
            replied_at=now,
            replied_by_id=leave.requested_by_id,
            remark="代参会" if leave.occurrence_id is None else "仅代参会所列场次",
        )
    else:
        sub.version += 1
    if leave.occurrence_id is not None:
        session.add(
            OccurrenceReply(
                invitation_id=sub.id,
                occurrence_id=leave.occurrence_id,
                state=ReplyState.ACCEPTED.value,
                replied_at=now,
                remark="代参会",
            )
        )
    leave.substitute_invitation_id = sub.id
    await session.flush()
    invitee = await session.get(User, inv.user_id) if inv.user_id else None
    occ = await session.get(MeetingOccurrence, leave.occurrence_id) if leave.occurrence_id else None
    start = occ.start_at if occ is not None else meeting.start_at
    await notify(
        uow,
        broker,
        [
            Message(
                user_id=leave.substitute_user_id,
                kind=NotificationKind.MEETING_SUBSTITUTE_NAMED.value,
                title=f"代{invitee.display_name if invitee else ''}参会：{meeting.title}",
                body=f"{local_time(start, meeting.time_zone)} {meeting.location}".strip(),
                subject_type="Meeting",
                subject_id=meeting.id,
                actor_id=actor.user_id,
                payload={"invitationId": sub.id, "onBehalfOfId": inv.id, "leaveRequestId": leave.id}
                | ({"occurrenceId": leave.occurrence_id} if leave.occurrence_id else {}),
            )
        ],
    )


def _deciders(meeting: Meeting, requester_id: int) -> list[int]:
    return sorted({u for u in (meeting.convener_id, meeting.chair_id) if u is not None and u != requester_id})


async def request_meeting_leave(uow: UnitOfWork, broker: Publisher, actor: Actor, data: LeaveInput) -> LeaveRequest:
    """Ask leave (请假) for the whole meeting or one occurrence, maybe naming a substitute, by the
    invitee (module docstring for what each policy does). A pending request goes to the
    convener and chair (``MEETING_LEAVE_REQUESTED``); a granted one applies at once.

    Errors: NOT_FOUND, FORBIDDEN (not your invitation), INVALID_VALUE on invitationId (a unit
    invitation), MEETING_CANCELLED, INVALID_STATE (withdrawn, ended, already delegated),
    DUPLICATE on invitationId (a request already pending), REQUIRED/TOO_LONG reason,
    SUBSTITUTION_FORBIDDEN, and on substituteUserId: INVALID_VALUE (yourself, or you are a
    substitute), NOT_FOUND, INACTIVE, DUPLICATE (already invited).
    """
    session, now = uow.session, uow.now
    meeting, inv = await invitation_for_change(session, actor, data.invitation_id)
    if inv.unit_id is not None:
        raise DomainError(ErrorCode.INVALID_VALUE, "invitationId", detail="a unit declines by replying")
    await _check_replier(session, actor, inv)
    require_open(meeting, inv)
    occ: MeetingOccurrence | None = None
    if data.occurrence_id is not None:
        occ = await _occurrence(session, meeting, data.occurrence_id, now)
        row = await _row(session, inv.id, occ.id)
        if inv.occurrences_only and row is None:
            raise DomainError(ErrorCode.INVALID_VALUE, "occurrenceId", detail="you do not substitute at it")
        if effective_state(inv, row) == ReplyState.DELEGATED.value:
            raise DomainError(ErrorCode.INVALID_STATE, "occurrenceId", detail="a substitute already attends for you")
    else:
        await require_not_ended(session, meeting, now, "invitationId")
        if inv.occurrences_only:
            raise DomainError(ErrorCode.REQUIRED, "occurrenceId")
        if inv.state == ReplyState.DELEGATED.value:
            raise DomainError(ErrorCode.INVALID_STATE, "invitationId", detail="a substitute already attends for you")
    pending = await session.scalar(
        select(LeaveRequest.id).where(
            LeaveRequest.invitation_id == inv.id,
            LeaveRequest.state == LeaveState.PENDING.value,
            LeaveRequest.occurrence_id.is_(None)
            if data.occurrence_id is None
            else LeaveRequest.occurrence_id == data.occurrence_id,
        )
    )
    if pending is not None:
        raise DomainError(ErrorCode.DUPLICATE, "invitationId", detail="a leave request is already pending")
    errors = ErrorCollector()
    reason = trimmed(data.reason)
    if not reason:
        errors.add(ErrorCode.REQUIRED, "reason")
    elif len(reason) > MAX_LEAVE_REASON:
        errors.add(ErrorCode.TOO_LONG, "reason", limit=MAX_LEAVE_REASON)
    policy = SubstitutionPolicy(meeting.substitution_policy)
    if data.substitute_user_id is not None:
        if policy is SubstitutionPolicy.FORBIDDEN:
            errors.add(ErrorCode.SUBSTITUTION_FORBIDDEN, "substituteUserId")
        else:
            await _check_substitute(session, errors, meeting, inv, data.substitute_user_id)
    errors.raise_if_any()

    leave = LeaveRequest(
        invitation_id=inv.id,
        occurrence_id=data.occurrence_id,
        reason=reason,
        substitute_user_id=data.substitute_user_id,
        state=LeaveState.PENDING.value,
        requested_by_id=actor.user_id,
        created_at=now,
    )
    session.add(leave)
    await session.flush()
    if policy is SubstitutionPolicy.ALLOWED:
        leave.state, leave.decided_at = LeaveState.APPROVED.value, now
        await _grant(uow, broker, actor, meeting, leave, inv, "substituteUserId")
        return leave
    sub = await session.get(User, data.substitute_user_id) if data.substitute_user_id else None
    when = f"（{local_time(occ.start_at, meeting.time_zone)}）" if occ is not None else ""
    await notify(
        uow,
        broker,
        [
            Message(
                user_id=user_id,
                kind=NotificationKind.MEETING_LEAVE_REQUESTED.value,
                title=f"请假：{actor.display_name}{when}" + (f"，拟由{sub.display_name}代参会" if sub else ""),
                body=reason,
                subject_type="Meeting",
                subject_id=meeting.id,
                actor_id=actor.user_id,
                payload={"leaveRequestId": leave.id, "invitationId": inv.id}
                | ({"occurrenceId": occ.id} if occ is not None else {}),
            )
            for user_id in _deciders(meeting, actor.user_id)
        ],
    )
    return leave


async def decide_meeting_leave(
    uow: UnitOfWork, broker: Publisher, actor: Actor, leave_request_id: int, approve: bool, remark: str | None = None
) -> LeaveRequest:
    """Approve or refuse a pending leave request, by the meeting's convener or chair (not one's
    own). Approval applies it (module docstring); refusal leaves the invitation as it was (the
    invitee is still expected). The requester is told ``MEETING_LEAVE_DECIDED``.

    Errors: NOT_FOUND, FORBIDDEN (not the convener or chair, or your own request),
    MEETING_CANCELLED, INVALID_STATE (decided, withdrawn, or approving after the meeting or
    occurrence ended, or the invitee is delegated meanwhile), TOO_LONG remark,
    SUBSTITUTION_FORBIDDEN (the policy changed to FORBIDDEN), DUPLICATE (the substitute was
    invited meanwhile).
    """
    session, now = uow.session, uow.now
    field = "leaveRequestId"
    found = await session.get(LeaveRequest, leave_request_id)
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, field)
    invitation = await session.get(Invitation, found.invitation_id)
    assert invitation is not None
    meeting = await lock_meeting(session, actor, invitation.meeting_id, field)
    if actor.user_id not in {meeting.convener_id, meeting.chair_id} or actor.user_id == found.requested_by_id:
        raise DomainError(ErrorCode.FORBIDDEN, field)
    if meeting.state == MeetingState.CANCELLED.value:
        raise DomainError(ErrorCode.MEETING_CANCELLED, field)
    # invitation before leave request: the order withdrawals take too (no deadlock)
    inv = await lock_invitation(session, found.invitation_id)
    leave = (
        await session.execute(
            select(LeaveRequest)
            .where(LeaveRequest.id == leave_request_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if leave.state != LeaveState.PENDING.value:
        raise DomainError(ErrorCode.INVALID_STATE, field, detail=f"the request is {leave.state}")
    text = trimmed(remark) or None
    if text is not None and len(text) > MAX_REMARK:
        raise DomainError(ErrorCode.TOO_LONG, "remark", limit=MAX_REMARK)
    if approve:
        if leave.occurrence_id is not None:
            await _occurrence(session, meeting, leave.occurrence_id, now, field)
            row = await _row(session, inv.id, leave.occurrence_id)
            delegated = effective_state(inv, row) == ReplyState.DELEGATED.value
        else:
            await require_not_ended(session, meeting, now, field)
            delegated = inv.state == ReplyState.DELEGATED.value
        if delegated:
            raise DomainError(ErrorCode.INVALID_STATE, field, detail="a substitute already attends for the invitee")
        if leave.substitute_user_id is not None:
            if meeting.substitution_policy == SubstitutionPolicy.FORBIDDEN.value:
                raise DomainError(ErrorCode.SUBSTITUTION_FORBIDDEN, field)
            errors = ErrorCollector()
            await _check_substitute(session, errors, meeting, inv, leave.substitute_user_id)
            if errors.errors:
                first = errors.errors[0]
                raise DomainError(first.code, field, **first.params)
    leave.state = LeaveState.APPROVED.value if approve else LeaveState.REFUSED.value
    leave.decided_by_id, leave.decided_at, leave.decision_remark = actor.user_id, now, text
    await session.flush()
    if approve:
        await _grant(uow, broker, actor, meeting, leave, inv, field)
    await notify(
        uow,
        broker,
        [
            Message(
                user_id=leave.requested_by_id,
                kind=NotificationKind.MEETING_LEAVE_DECIDED.value,
                title=f"请假{'已批准' if approve else '未批准'}：{meeting.title}",
                body=text or ("" if approve else "请按时参会"),
                subject_type="Meeting",
                subject_id=meeting.id,
                actor_id=actor.user_id,
                payload={"leaveRequestId": leave.id, "invitationId": inv.id, "approved": approve},
            )
        ],
    )
    return leave


async def leave_requests_of(
    session: AsyncSession, actor: Actor, meeting_id: int, state: LeaveState | None = None
) -> list[LeaveRequest]:
    """The leave requests of a meeting, oldest first, for its organisers (a cancelled meeting's
    too). ``NOT_FOUND`` (absent or invisible), ``FORBIDDEN`` (a viewer, not an organiser)."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or not await can_see(session, actor, meeting):
        raise DomainError(ErrorCode.NOT_FOUND, "meetingId")
    if not is_organiser(actor, meeting):
        raise DomainError(ErrorCode.FORBIDDEN, "meetingId")
    q = (
        select(LeaveRequest)
        .join(Invitation, Invitation.id == LeaveRequest.invitation_id)
        .where(Invitation.meeting_id == meeting_id)
        .order_by(LeaveRequest.created_at, LeaveRequest.id)
    )
    if state is not None:
        q = q.where(LeaveRequest.state == LeaveState(state).value)
    return list((await session.execute(q)).scalars())


async def may_see_leave(session: AsyncSession, actor: Actor, leave: LeaveRequest) -> bool:
    """A leave request is for the meeting's organisers, its requester and its substitute."""
    if actor.user_id in {leave.requested_by_id, leave.substitute_user_id}:
        return True
    invitation = await session.get(Invitation, leave.invitation_id)
    meeting = await session.get(Meeting, invitation.meeting_id) if invitation else None
    return meeting is not None and is_organiser(actor, meeting)

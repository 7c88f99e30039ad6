"""Changing and cancelling a meeting notice (会议通知, DOMAIN §7.1).

:func:`update_meeting` edits the notice fields (title, agenda, materials, logistics,
location, online link, contact, 报到 time, reply deadline, substitution policy, chair,
convener) of a meeting or whole series; times, rooms and recurrence are rescheduling's
(``meetings.service``/rescheduling, which resets replies through
``meetings.replies.reset_replies``). :func:`cancel_meeting` cancels it (what has not begun yet). Both are for
organisers only, with the meeting locked (``access.meeting_for_organiser``), and tell everyone
concerned (``access.people_to_tell``) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import func, or_, select, update

from meetings.access import meeting_for_organiser, people_to_tell
from meetings.invitations import invitations_of_meeting, live_occurrences
from meetings.models import (
    Invitation,
    LeaveRequest,
    LeaveState,
    Meeting,
    MeetingOccurrence,
    MeetingState,
    OccurrenceState,
    SubstitutionPolicy,
)
from meetings.replies import occurrence_replies_of
from meetings.rooms import release
from meetings.service import _active, _aware, _text, check_online_link, local_time
from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.models import User
from office_api.org.permissions import Actor
from office_api.text import trimmed

#: Longest cancellation reason (characters).
MAX_CANCEL_REASON = 500


class _Keep:
    """The value of a field the change leaves alone."""

    def __repr__(self) -> str:
        return "KEEP"


#: Marks a notice field that is not changed (None means "clear it" where a field may be empty).
KEEP: Any = _Keep()


@dataclass
class NoticeChanges:
    """The notice fields to change; :data:`KEEP` leaves one alone. Instants are aware."""

    title: Any = KEEP
    agenda: Any = KEEP
    materials: Any = KEEP
    logistics: Any = KEEP
    location: Any = KEEP
    online_link: Any = KEEP
    contact_name: Any = KEEP
    contact_phone: Any = KEEP
    report_at: Any = KEEP
    reply_deadline: Any = KEEP
    substitution_policy: Any = KEEP
    chair_id: Any = KEEP
    convener_id: Any = KEEP


#: API field names and how a notification names them (zh-CN).
FIELDS = {
    "title": ("title", "会议名称"),
    "agenda": ("agenda", "议程"),
    "materials": ("materials", "会议材料"),
    "logistics": ("logistics", "会务安排"),
    "location": ("location", "地点"),
    "online_link": ("onlineLink", "线上会议链接"),
    "contact_name": ("contactName", "联系人"),
    "contact_phone": ("contactPhone", "联系电话"),
    "report_at": ("reportAt", "报到时间"),
    "reply_deadline": ("replyDeadline", "回执截止时间"),
    "substitution_policy": ("substitutionPolicy", "代参会规则"),
    "chair_id": ("chairId", "主持人"),
    "convener_id": ("convenerId", "召集人"),
}
_LIMITS = {"agenda": 4000, "materials": 2000, "logistics": 2000, "location": 300}


def _check_stale(meeting: Meeting, expected_version: int | None) -> None:
    if expected_version is not None and meeting.version != expected_version:
        raise DomainError(ErrorCode.STALE_VERSION, "expectedVersion")


async def _validate(session: Any, meeting: Meeting, changes: NoticeChanges) -> dict[str, Any]:
    """The new values of the given fields (model attribute → value), or every problem at once."""
    errors = ErrorCollector()
    new: dict[str, Any] = {}
    given = {f.name: getattr(changes, f.name) for f in fields(changes) if getattr(changes, f.name) is not KEEP}
    for name, value in given.items():
        api = FIELDS[name][0]
        if name == "title":
            new[name] = _text(errors, api, value, 200, required=True)
        elif name in _LIMITS:
            new[name] = _text(errors, api, value, _LIMITS[name])
        elif name in ("online_link", "contact_name", "contact_phone"):
            new[name] = _text(errors, api, value, {"online_link": 500, "contact_name": 64}.get(name, 24)) or None
            if name == "online_link":
                check_online_link(errors, new[name], api)
        elif name in ("report_at", "reply_deadline"):
            when = _aware(errors, api, value)
            if when is not None and when > meeting.start_at:
                errors.add(ErrorCode.INVALID_VALUE, api, detail="must not be after the start")
            new[name] = when
        elif name == "substitution_policy":
            if value is None:
                errors.add(ErrorCode.REQUIRED, api)
            else:
                new[name] = SubstitutionPolicy(value).value
        elif value is None:  # chair_id may be cleared, convener_id not
            if name == "convener_id":
                errors.add(ErrorCode.REQUIRED, api)
            else:
                new[name] = None
        elif await _active(session, User, value, api, errors) is not None:
            new[name] = value
    errors.raise_if_any()
    return new


async def _recompute_late(session: Any, meeting: Meeting) -> None:
    """``late`` of every reply again, against the meeting's (new) reply deadline."""
    deadline = meeting.reply_deadline
    invitations = await invitations_of_meeting(session, meeting.id)
    for row in [*invitations, *await occurrence_replies_of(session, [i.id for i in invitations])]:
        if row.replied_at is not None:
            row.late = deadline is not None and row.replied_at > deadline


async def update_meeting(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    meeting_id: int,
    expected_version: int,
    changes: NoticeChanges,
) -> Meeting:
    """Change notice fields of a meeting or series, by an organiser (creator, convener, chair).

    Only fields given change; a change that changes nothing returns the meeting as it was (no
    new version, nobody told). Otherwise ``version`` + 1 and ``MEETING_CHANGED`` goes to everyone
    concerned (``access.people_to_tell``) and the organisers (a newly named convener or chair
    too) but the actor,
    payload ``{"changed": [API field names], "version": n}``. A moved reply deadline
    re-evaluates which replies are late. Replies are not reset: no time changed.

    Errors: NOT_FOUND, FORBIDDEN, MEETING_CANCELLED, STALE_VERSION (``expectedVersion`` is not
    the current version), REQUIRED (title, convenerId, substitutionPolicy), TOO_LONG,
    INVALID_VALUE (link not http(s); 报到 or reply deadline after the start or without a UTC
    offset), NOT_FOUND/INACTIVE (chairId, convenerId).
    """
    session = uow.session
    meeting = await meeting_for_organiser(session, actor, meeting_id)
    _check_stale(meeting, expected_version)
    new = await _validate(session, meeting, changes)
    changed = [name for name, value in new.items() if getattr(meeting, name) != value]
    if not changed:
        return meeting
    for name in changed:
        setattr(meeting, name, new[name])
    meeting.version += 1
    meeting.updated_at = uow.now
    if "reply_deadline" in changed:
        await _recompute_late(session, meeting)
    await session.flush()

    recipients = set(await people_to_tell(session, meeting.id))
    recipients |= {u for u in (meeting.created_by_id, meeting.convener_id, meeting.chair_id) if u is not None}
    recipients.discard(actor.user_id)
    api_names = [FIELDS[n][0] for n in changed]
    await notify(
        uow,
        broker,
        [
            Message(
                user_id=user_id,
                kind=NotificationKind.MEETING_CHANGED.value,
                title=f"会议通知变更：{meeting.title}",
                body="变更：" + "、".join(FIELDS[n][1] for n in changed),
                subject_type="Meeting",
                subject_id=meeting.id,
                actor_id=actor.user_id,
                payload={"changed": api_names, "version": meeting.version},
            )
            for user_id in sorted(recipients)
        ],
    )
    return meeting


async def cancel_meeting(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    meeting_id: int,
    reason: str,
    expected_version: int | None = None,
) -> Meeting:
    """Cancel a meeting, or the rest of a series, by an organiser.

    Every scheduled occurrence not yet begun (``start_at`` > now) becomes CANCELLED
    (``cancelled_at``, ``cancel_reason``) and its room booking RELEASED; occurrences that have
    begun are history and stay as they are (state, booking), as ``cancelMeetingOccurrence``
    refuses them too. The meeting becomes CANCELLED (``cancelled_at``, ``cancel_reason``) only
    when none of its scheduled occurrences has begun; a series with dates already held stays
    SCHEDULED with the rest of its dates cancelled. Pending leave requests for the whole meeting
    or a cancelled date are WITHDRAWN; ``version`` + 1. ``MEETING_CANCELLED`` goes to everyone
    concerned (``access.people_to_tell`` and the organisers) but the actor, payload
    ``{"reason", "occurrences": n cancelled, "meetingCancelled": bool, "version"}``.

    Errors: NOT_FOUND, FORBIDDEN, MEETING_CANCELLED (already), STALE_VERSION (when
    ``expected_version`` is given and is not the current one), REQUIRED/TOO_LONG reason,
    INVALID_STATE on ``meetingId``: an occurrence is under way (start ≤ now < end: cancel
    after it ends, or cancel the later occurrences one by one), or nothing is left to cancel
    (every occurrence has begun: the meeting was held).
    """
    session, now = uow.session, uow.now
    meeting = await meeting_for_organiser(session, actor, meeting_id)
    _check_stale(meeting, expected_version)
    text = trimmed(reason)
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "reason")
    if len(text) > MAX_CANCEL_REASON:
        raise DomainError(ErrorCode.TOO_LONG, "reason", limit=MAX_CANCEL_REASON)
    live = await live_occurrences(session, meeting.id, now)
    if any(occ.start_at <= now for occ in live):
        raise DomainError(
            ErrorCode.INVALID_STATE,
            "meetingId",
            detail="under way: cancel after it ends or cancel the later occurrences",
        )
    if not live:
        raise DomainError(ErrorCode.INVALID_STATE, "meetingId", detail="the meeting has been held")
    held = await session.scalar(
        select(func.count())
        .select_from(MeetingOccurrence)
        .where(
            MeetingOccurrence.meeting_id == meeting.id,
            MeetingOccurrence.state == OccurrenceState.SCHEDULED.value,
            MeetingOccurrence.start_at <= now,
        )
    )
    whole = not held
    cancelled_ids = [o.id for o in live]
    for occ in live:
        occ.state = OccurrenceState.CANCELLED.value
        occ.cancelled_at, occ.cancel_reason = now, text
        occ.version += 1
    await release(uow, cancelled_ids)
    await session.execute(
        update(LeaveRequest)
        .where(
            LeaveRequest.state == LeaveState.PENDING.value,
            LeaveRequest.invitation_id.in_(select(Invitation.id).where(Invitation.meeting_id == meeting.id)),
            or_(LeaveRequest.occurrence_id.is_(None), LeaveRequest.occurrence_id.in_(cancelled_ids)),
        )
        .values(state=LeaveState.WITHDRAWN.value)
    )
    if whole:
        meeting.state = MeetingState.CANCELLED.value
        meeting.cancelled_at = now
        meeting.cancel_reason = text
    meeting.version += 1
    meeting.updated_at = now
    await session.flush()

    recipients = set(await people_to_tell(session, meeting.id))
    recipients |= {u for u in (meeting.created_by_id, meeting.convener_id, meeting.chair_id) if u is not None}
    recipients.discard(actor.user_id)
    first = live[0].start_at
    await notify(
        uow,
        broker,
        [
            Message(
                user_id=user_id,
                kind=NotificationKind.MEETING_CANCELLED.value,
                title=f"会议取消：{meeting.title}" if whole else f"会议后续日期取消：{meeting.title}",
                body=f"原定 {local_time(first, meeting.time_zone)}{'' if whole else ' 起'}。{text}",
                subject_type="Meeting",
                subject_id=meeting.id,
                actor_id=actor.user_id,
                payload={
                    "reason": text,
                    "occurrences": len(live),
                    "meetingCancelled": whole,
                    "version": meeting.version,
                },
            )
            for user_id in sorted(recipients)
        ],
    )
    return meeting

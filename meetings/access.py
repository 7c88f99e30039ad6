"""Who may see and who may manage a meeting, and reads shared by the meeting modules.

- **Organisers** manage a meeting (change, cancel, invite, decide leave, draft minutes):
  its creator, its convener and its chair.
- **Viewers** see it: the organisers; every person with an **active** invitation (including
  nominees and substitutes); the people who answer for a unit with an active invitation (its
  clerks, else its head and deputies: ``office_api.reminders.answering_for_unit``); the same
  people of the organising unit. A withdrawn invitation (uninvited, a replaced nominee, a
  withdrawn substitute, a withdrawn unit) gives no access any more: the withdrawal
  notification (``MEETING_INVITATION_WITHDRAWN``) told them, and they see no later change
  (online link, .ics, ``myMeetings``, the iCalendar feed). Invited again, they see it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Select, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.models import Invitation, Meeting, MeetingOccurrence, MeetingState
from office_api.errors import DomainError, ErrorCode
from office_api.org.permissions import Actor
from office_api.reminders import answering_for_units


def is_organiser(actor: Actor, meeting: Meeting) -> bool:
    """The creator, convener or chair of ``meeting``."""
    return actor.user_id in {meeting.created_by_id, meeting.convener_id, meeting.chair_id}


async def answering_units_of(session: AsyncSession, user_id: int, unit_ids: Sequence[int]) -> set[int]:
    """Those of ``unit_ids`` that ``user_id`` answers for (clerk, else head or deputy)."""
    answering = await answering_for_units(session, list(unit_ids))
    return {unit_id for unit_id, users in answering.items() if user_id in users}


async def can_see(session: AsyncSession, actor: Actor, meeting: Meeting) -> bool:
    """Whether ``actor`` is a viewer of ``meeting`` (module docstring)."""
    if is_organiser(actor, meeting):
        return True
    rows = (
        await session.execute(
            select(Invitation.user_id, Invitation.unit_id).where(
                Invitation.meeting_id == meeting.id,
                Invitation.is_active.is_(True),
                or_(Invitation.user_id == actor.user_id, Invitation.unit_id.is_not(None)),
            )
        )
    ).all()
    if any(u == actor.user_id for u, _ in rows):
        return True
    units = [unit for _, unit in rows if unit is not None] + [meeting.organizer_unit_id]
    return bool(await answering_units_of(session, actor.user_id, units))


async def get_visible_meeting(session: AsyncSession, actor: Actor, meeting_id: int) -> Meeting | None:
    """The meeting if it exists and ``actor`` may see it, else None (no existence leak)."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or not await can_see(session, actor, meeting):
        return None
    return meeting


async def get_visible_occurrence(session: AsyncSession, actor: Actor, occurrence_id: int) -> MeetingOccurrence | None:
    """The occurrence if its meeting is visible to ``actor`` (:func:`can_see`), else None."""
    occ = await session.get(MeetingOccurrence, occurrence_id)
    if occ is None or await get_visible_meeting(session, actor, occ.meeting_id) is None:
        return None
    return occ


async def get_visible_invitation(session: AsyncSession, actor: Actor, invitation_id: int) -> Invitation | None:
    """The invitation if its meeting is visible to ``actor`` (:func:`can_see`), else None."""
    inv = await session.get(Invitation, invitation_id)
    if inv is None or await get_visible_meeting(session, actor, inv.meeting_id) is None:
        return None
    return inv


async def meeting_for_organiser(
    session: AsyncSession, actor: Actor, meeting_id: int, field: str = "meetingId", *, lock: bool = True
) -> Meeting:
    """The meeting for a change by an organiser, locked (``FOR UPDATE`` on PostgreSQL).

    Raises ``NOT_FOUND`` (absent or invisible), ``FORBIDDEN`` (a viewer but no organiser),
    ``MEETING_CANCELLED`` (a cancelled meeting cannot change).
    """
    q = select(Meeting).where(Meeting.id == meeting_id)
    if lock:
        q = q.with_for_update()
    meeting = (await session.execute(q)).scalar_one_or_none()
    if meeting is None or not await can_see(session, actor, meeting):
        raise DomainError(ErrorCode.NOT_FOUND, field)
    if not is_organiser(actor, meeting):
        raise DomainError(ErrorCode.FORBIDDEN, field)
    if meeting.state == MeetingState.CANCELLED.value:
        raise DomainError(ErrorCode.MEETING_CANCELLED, field)
    return meeting


async def occurrences_of(session: AsyncSession, meeting_ids: Sequence[int]) -> list[MeetingOccurrence]:
    """The occurrences of the meetings, in start order (DataLoader batch function)."""
    q = (
        select(MeetingOccurrence)
        .where(MeetingOccurrence.meeting_id.in_(list(meeting_ids)))
        .order_by(MeetingOccurrence.meeting_id, MeetingOccurrence.start_at, MeetingOccurrence.id)
    )
    return list((await session.execute(q)).scalars())


async def invitations_of(session: AsyncSession, meeting_ids: Sequence[int]) -> list[Invitation]:
    """The invitations of the meetings, in creation order (DataLoader batch function)."""
    q = (
        select(Invitation)
        .where(Invitation.meeting_id.in_(list(meeting_ids)))
        .order_by(Invitation.meeting_id, Invitation.id)
    )
    return list((await session.execute(q)).scalars())


async def people_to_tell(session: AsyncSession, meeting_id: int) -> list[int]:
    """Everyone a change or cancellation of the meeting concerns: every active person
    invitation (nominees and substitutes included) and the people who answer for each
    active unit invitation (clerks, else head and deputies). Sorted, no repeats."""
    rows = (
        await session.execute(
            select(Invitation.user_id, Invitation.unit_id).where(
                Invitation.meeting_id == meeting_id, Invitation.is_active.is_(True)
            )
        )
    ).all()
    users = {u for u, _ in rows if u is not None}
    units = [unit for _, unit in rows if unit is not None]
    if units:
        for people in (await answering_for_units(session, units)).values():
            users.update(people)
    return sorted(users)


def meetings_of_user(user_id: int) -> Select[tuple[int]]:
    """The ids of the meetings that are ``user_id``'s own calendar (a selectable for ``IN``):
    those they organise (creator, convener, chair) or are invited to in person by an active
    invitation (nominees and substitutes too; a withdrawn invitation's meeting drops out).
    ``myMeetings`` and the iCalendar feed list these."""
    mine = union(
        select(Invitation.meeting_id.label("id")).where(Invitation.user_id == user_id, Invitation.is_active.is_(True)),
        select(Meeting.id.label("id")).where(
            or_(Meeting.convener_id == user_id, Meeting.chair_id == user_id, Meeting.created_by_id == user_id)
        ),
    ).subquery()
    return select(mine.c.id)


async def occurrences_of_user(
    session: AsyncSession, user_id: int, start: dt.datetime, end: dt.datetime, limit: int
) -> list[MeetingOccurrence]:
    """Occurrences (cancelled ones too) of :func:`meetings_of_user` overlapping ``[start, end)``
    (UTC), in start order, at most ``limit``."""
    q = (
        select(MeetingOccurrence)
        .where(
            MeetingOccurrence.meeting_id.in_(meetings_of_user(user_id)),
            MeetingOccurrence.start_at < end,
            MeetingOccurrence.end_at > start,
        )
        .order_by(MeetingOccurrence.start_at, MeetingOccurrence.id)
        .limit(limit)
    )
    return list((await session.execute(q)).scalars())

"""Check-in (签到) and attendance (DOMAIN §7.3).

Practice (DOMAIN §7.3): attendees sign in on site before the meeting; **no proxy signing and
no signing afterwards**; no check-in and no approved leave is absence; late arrival is
recorded; the organisers compare the sign-ins with the expected list.

The check-in code
    :func:`check_in_code` gives an organiser a signed token for one occurrence, shown as a QR
    code (:data:`QR_PREFIX` + token). It is an HS256 JWT (RFC 7519) signed with a key derived
    from ``settings.jwt_secret`` for this purpose only (HKDF-SHA256, info
    :data:`_HKDF_INFO`), with audience :data:`AUDIENCE`: an access token is no check-in code
    and a check-in code is no access token (different key *and* audience). Claims: ``occ``
    (occurrence id), ``mtg`` (meeting id), ``nbf`` = start − ``check_in_opens_minutes``,
    ``exp`` = end, ``iat``, ``iss``, ``aud``. The code is bound to the occurrence's times:
    :func:`check_in` refuses it (``CHECK_IN_TOKEN_INVALID``) unless ``nbf``/``exp`` are still the
    occurrence's current window, so a code printed before a move stops working even where the
    old and new windows overlap; the organiser fetches a new code.

Checking in
    :func:`check_in` is done by the authenticated user for themself only (there is no user
    argument): they must be an attendee of record of the occurrence (:func:`attendees_of_record`)
    and the platform clock (``uow.now``) must lie in the window ``[start − opens, end)``. The
    row is immutable; a second check-in returns the first (one row even when two requests race:
    ``INSERT … ON CONFLICT DO NOTHING`` on the unique (occurrence, invitation)). A check-in
    later than start + ``late_after_minutes`` is late.

Telling attendees that check-in is open
    :func:`schedule_check_in_open` schedules one job per occurrence at its window's opening
    (``office_api.scheduler``, kind :data:`CHECK_IN_OPEN_JOB`, key ``<occurrence id>@<opening>``,
    so scheduling again is a no-op and a moved occurrence gets a new job). The handler tells
    the attendees of record at that instant (``MEETING_CHECK_IN_OPEN``) and does nothing for an
    occurrence cancelled or moved since (its opening no longer matches the job's).

Attendance
    :func:`attendance` lists one row per expected attendee: PRESENT, LATE, ON_LEAVE (an
    approved 请假 covering the meeting or the occurrence), SUBSTITUTE (the substitute of record
    checked in, on behalf of the invitee), ABSENT (no check-in and no approved leave; an
    unapproved substitution is absence, DOMAIN §7.2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import access, replies
from meetings.models import (
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
)
from meetings.service import local_time
from messaging.models import NotificationKind
from messaging.outbox import Message, notify
from office_api import scheduler
from office_api.config import Settings
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode
from office_api.org.permissions import Actor

#: Audience (and purpose) claim of a check-in code.
AUDIENCE = "meeting-check-in"
#: What the QR code holds: this prefix, then the token. :func:`token_from_text` accepts both.
QR_PREFIX = "office-api://meeting-check-in?token="
#: The longest text accepted as a check-in code.
MAX_TOKEN = 2_000
_HKDF_INFO = b"office-api meeting check-in code v1"
_ALGORITHM = "HS256"


class AttendanceCategory(StrEnum):
    """签到 outcome of one expected attendee (DOMAIN §7.3)."""

    PRESENT = "present"
    LATE = "late"
    ON_LEAVE = "on_leave"
    SUBSTITUTE = "substitute"
    ABSENT = "absent"


# ---- window and code -------------------------------------------------------------------------


def window(meeting: Meeting, occurrence: MeetingOccurrence) -> tuple[dt.datetime, dt.datetime]:
    """The check-in window ``[opens, closes)`` of an occurrence (UTC instants): from
    ``check_in_opens_minutes`` before its start to its end (no signing afterwards)."""
    return occurrence.start_at - dt.timedelta(minutes=meeting.check_in_opens_minutes), occurrence.end_at


def is_late(meeting: Meeting, occurrence: MeetingOccurrence, at: dt.datetime) -> bool:
    """A check-in at ``at`` is late: after start + ``late_after_minutes`` (strictly)."""
    return at > occurrence.start_at + dt.timedelta(minutes=meeting.late_after_minutes)


def _key(settings: Settings) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(settings.jwt_secret.encode())


@dataclass(frozen=True)
class CheckInCode:
    """A check-in code: the token, the text of its QR code and its window (UTC instants)."""

    token: str
    qr_text: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    occurrence: MeetingOccurrence


def _ts(t: dt.datetime) -> int:
    return int(t.timestamp())


def sign_code(settings: Settings, meeting: Meeting, occurrence: MeetingOccurrence, now: dt.datetime) -> CheckInCode:
    """The signed code of ``occurrence`` (no access check: see :func:`check_in_code`)."""
    opens, closes = window(meeting, occurrence)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": AUDIENCE,
        "occ": occurrence.id,
        "mtg": meeting.id,
        "iat": _ts(now),
        "nbf": _ts(opens),
        "exp": _ts(closes),
    }
    token = jwt.encode(claims, _key(settings), algorithm=_ALGORITHM)
    return CheckInCode(token, QR_PREFIX + token, opens, closes, occurrence)


@dataclass(frozen=True)
class CodeClaims:
    occurrence_id: int
    meeting_id: int
    not_before: dt.datetime
    expires: dt.datetime


def token_from_text(text: str) -> str:
    """The token in a scanned QR text (:data:`QR_PREFIX` + token) or a bare token."""
    text = (text or "").strip()
    return text[len(QR_PREFIX) :] if text.startswith(QR_PREFIX) else text


def read_code(settings: Settings, text: str) -> CodeClaims:
    """Verify a check-in code's signature, issuer and audience (not its times: those are
    compared with the platform clock by :func:`check_in`). ``CHECK_IN_TOKEN_INVALID`` on
    ``token`` otherwise (an access token included)."""
    token = token_from_text(text)
    if not token or len(token) > MAX_TOKEN:
        raise DomainError(ErrorCode.CHECK_IN_TOKEN_INVALID, "token")
    try:
        claims = jwt.decode(
            token,
            _key(settings),
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            issuer=settings.jwt_issuer,
            options={
                "require": ["occ", "mtg", "nbf", "exp", "aud", "iss"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        return CodeClaims(
            occurrence_id=int(claims["occ"]),
            meeting_id=int(claims["mtg"]),
            not_before=dt.datetime.fromtimestamp(int(claims["nbf"]), dt.UTC),
            expires=dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC),
        )
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
        raise DomainError(ErrorCode.CHECK_IN_TOKEN_INVALID, "token") from exc


async def occurrence_for_organiser(
    session: AsyncSession, actor: Actor, occurrence_id: int, field: str = "occurrenceId"
) -> tuple[Meeting, MeetingOccurrence] | None:
    """The occurrence and its meeting for an organiser (``meetings.access.is_organiser``);
    None when it does not exist or ``actor`` cannot see it; ``FORBIDDEN`` on ``field`` for a
    viewer who is no organiser."""
    occurrence = await session.get(MeetingOccurrence, occurrence_id)
    if occurrence is None:
        return None
    meeting = await access.get_visible_meeting(session, actor, occurrence.meeting_id)
    if meeting is None:
        return None
    if not access.is_organiser(actor, meeting):
        raise DomainError(ErrorCode.FORBIDDEN, field)
    return meeting, occurrence


def is_cancelled(meeting: Meeting, occurrence: MeetingOccurrence) -> bool:
    return meeting.state == MeetingState.CANCELLED.value or occurrence.state == OccurrenceState.CANCELLED.value


async def check_in_code(
    session: AsyncSession, settings: Settings, actor: Actor, occurrence_id: int, now: dt.datetime
) -> CheckInCode | None:
    """The check-in code of an occurrence, for its organisers (creator, convener, chair).

    None when the occurrence does not exist or ``actor`` cannot see it; ``FORBIDDEN`` for a
    viewer who is no organiser; ``MEETING_CANCELLED`` for a cancelled meeting or occurrence.
    The code can be shown before the window opens (it is refused until then).
    """
    found = await occurrence_for_organiser(session, actor, occurrence_id)
    if found is None:
        return None
    meeting, occurrence = found
    if is_cancelled(meeting, occurrence):
        raise DomainError(ErrorCode.MEETING_CANCELLED, "occurrenceId")
    return sign_code(settings, meeting, occurrence, now)


# ---- who is expected ---------------------------------------------------------------------------


async def effective_states(
    session: AsyncSession, occurrence_id: int, invitations: Sequence[Invitation]
) -> dict[int, str | None]:
    """Reply state of each invitation for one occurrence (``meetings.replies.effective_state``):
    its ``OccurrenceReply`` when there is one, else the invitation's (series) state; None for a
    per-occurrence substitute (``occurrences_only``) who does not cover this occurrence."""
    ids = [i.id for i in invitations]
    rows: dict[int, OccurrenceReply] = {}
    if ids:
        q = select(OccurrenceReply).where(
            OccurrenceReply.occurrence_id == occurrence_id, OccurrenceReply.invitation_id.in_(ids)
        )
        rows = {r.invitation_id: r for r in (await session.execute(q)).scalars()}
    return {i.id: replies.effective_state(i, rows.get(i.id)) for i in invitations}


async def _person_invitations(session: AsyncSession, meeting_id: int) -> list[Invitation]:
    q = (
        select(Invitation)
        .where(Invitation.meeting_id == meeting_id, Invitation.user_id.is_not(None), Invitation.is_active.is_(True))
        .order_by(Invitation.id)
    )
    return list((await session.execute(q)).scalars())


async def attendees_of_record(session: AsyncSession, occurrence: MeetingOccurrence) -> list[Invitation]:
    """The invitations of record of ``occurrence`` (DOMAIN §7.2), in invitation order:
    ``meetings.replies.attendees_of_record`` for this occurrence. Active person invitations
    (people invited by name, units' nominees, substitutes of record) whose effective reply is
    neither DECLINED nor DELEGATED; an invitee whose substitute was approved is DELEGATED and
    so not of record; a substitute whose substitution was not approved has no invitation."""
    return await replies.attendees_of_record(session, occurrence.meeting_id, occurrence.id)


async def approved_leave(
    session: AsyncSession, occurrence: MeetingOccurrence, invitation_ids: Sequence[int]
) -> dict[int, LeaveRequest]:
    """The APPROVED leave requests (请假) covering ``occurrence`` (the whole meeting, or that
    occurrence), by invitation id (the latest decided when there are several)."""
    if not invitation_ids:
        return {}
    q = (
        select(LeaveRequest)
        .where(
            LeaveRequest.invitation_id.in_(list(invitation_ids)),
            LeaveRequest.state == LeaveState.APPROVED.value,
            or_(LeaveRequest.occurrence_id.is_(None), LeaveRequest.occurrence_id == occurrence.id),
        )
        .order_by(LeaveRequest.id)
    )
    return {r.invitation_id: r for r in (await session.execute(q)).scalars()}


# ---- checking in -------------------------------------------------------------------------------


async def _why_not(session: AsyncSession, actor: Actor, meeting: Meeting, occurrence: MeetingOccurrence) -> str:
    """Why ``actor`` is no attendee of record (the NOT_AN_ATTENDEE detail)."""
    mine = (
        await session.execute(
            select(Invitation).where(Invitation.meeting_id == meeting.id, Invitation.user_id == actor.user_id)
        )
    ).scalar_one_or_none()
    if mine is not None and mine.is_active:
        state = (await effective_states(session, occurrence.id, [mine]))[mine.id]
        if state is None:
            return "you attend only the occurrences you substitute for"
        if state == ReplyState.DELEGATED.value:
            return "a substitute attends in your place"
        if state == ReplyState.DECLINED.value:
            return "you declined or are on leave"
    pending = (
        await session.execute(
            select(LeaveRequest.id)
            .join(Invitation, Invitation.id == LeaveRequest.invitation_id)
            .where(
                Invitation.meeting_id == meeting.id,
                LeaveRequest.substitute_user_id == actor.user_id,
                LeaveRequest.state != LeaveState.APPROVED.value,
            )
            .limit(1)
        )
    ).first()
    if pending is not None:
        return "your substitution is not approved"
    return "not invited"


async def check_in(
    uow: UnitOfWork, settings: Settings, actor: Actor, token: str, occurrence_id: int | None = None
) -> CheckIn:
    """Check ``actor`` in to the occurrence of the code ``token`` (a scanned QR text or the bare
    token), at ``uow.now``; returns the check-in row (the first one if already checked in).

    ``occurrence_id``, when given (the occurrence the app shows), must be the code's.
    Errors, in this order: ``CHECK_IN_TOKEN_INVALID`` on ``token`` (bad signature, another
    purpose, another occurrence, a code from before the occurrence was moved, an occurrence
    that no longer exists); ``MEETING_CANCELLED`` (meeting or occurrence cancelled);
    ``NOT_AN_ATTENDEE`` (not of record: never invited, declined, replaced by an approved
    substitute, a substitute not approved, a per-occurrence substitute at an occurrence they do
    not cover); ``CHECK_IN_CLOSED`` with the window in the
    meeting's local time (before it opens, or after the end: no signing afterwards). A
    repeated check-in returns the first row unchanged, even after the window closed.
    """
    session = uow.session
    claims = read_code(settings, token)
    if occurrence_id is not None and occurrence_id != claims.occurrence_id:
        raise DomainError(ErrorCode.CHECK_IN_TOKEN_INVALID, "token")
    occurrence = await session.get(MeetingOccurrence, claims.occurrence_id)
    meeting = await session.get(Meeting, claims.meeting_id)
    if occurrence is None or meeting is None or occurrence.meeting_id != meeting.id:
        raise DomainError(ErrorCode.CHECK_IN_TOKEN_INVALID, "token")
    opens, closes = window(meeting, occurrence)
    if (_ts(claims.not_before), _ts(claims.expires)) != (_ts(opens), _ts(closes)):
        # issued for other times: the occurrence was moved (or its window changed) since
        raise DomainError(ErrorCode.CHECK_IN_TOKEN_INVALID, "token")
    if is_cancelled(meeting, occurrence):
        raise DomainError(ErrorCode.MEETING_CANCELLED, "token")
    mine = next((i for i in await attendees_of_record(session, occurrence) if i.user_id == actor.user_id), None)
    if mine is None:
        raise DomainError(
            ErrorCode.NOT_AN_ATTENDEE, "token", detail=await _why_not(session, actor, meeting, occurrence)
        )
    existing = await _check_in_of(session, occurrence.id, mine.id)
    if existing is not None:
        return existing
    now = uow.now
    if not opens <= now < closes:
        raise DomainError(
            ErrorCode.CHECK_IN_CLOSED,
            "token",
            opens=local_time(opens, meeting.time_zone),
            closes=local_time(closes, meeting.time_zone),
        )
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CheckIn)
    await session.execute(
        insert.values(
            occurrence_id=occurrence.id,
            invitation_id=mine.id,
            user_id=actor.user_id,
            checked_in_at=now,
            late=is_late(meeting, occurrence, now),
            method="qr",
        ).on_conflict_do_nothing(index_elements=["occurrence_id", "invitation_id"])
    )
    row = await _check_in_of(session, occurrence.id, mine.id)
    assert row is not None
    return row


async def refuse_if_checked_in(session: AsyncSession, occurrence_ids: Sequence[int], field: str) -> None:
    """Refuse to change the time of occurrences someone has checked in to: ``INVALID_STATE`` on
    ``field`` ("check-in has begun; cancel it instead"). Check-ins are immutable and bound to
    the window they were made in (DOMAIN §7.3: no signing afterwards), so an occurrence with
    check-ins keeps its time; the organiser cancels it and schedules another meeting. Call it
    before any change of an occurrence's start or end (``meetings.schedule``)."""
    ids = list(dict.fromkeys(occurrence_ids))
    if not ids:
        return
    q = select(CheckIn.occurrence_id).where(CheckIn.occurrence_id.in_(ids)).limit(1)
    if (await session.execute(q)).first() is not None:
        raise DomainError(ErrorCode.INVALID_STATE, field, detail="check-in has begun; cancel it instead")


async def _check_in_of(session: AsyncSession, occurrence_id: int, invitation_id: int) -> CheckIn | None:
    q = select(CheckIn).where(CheckIn.occurrence_id == occurrence_id, CheckIn.invitation_id == invitation_id)
    return (await session.execute(q.execution_options(populate_existing=True))).scalar_one_or_none()


# ---- "check-in is open" -------------------------------------------------------------------------

#: Scheduler job kind of the check-in-open notification.
CHECK_IN_OPEN_JOB = "meetings.check_in_open"


async def schedule_check_in_open(uow: UnitOfWork, meeting: Meeting, occurrences: Sequence[MeetingOccurrence]) -> int:
    """Schedule the ``MEETING_CHECK_IN_OPEN`` notification of each occurrence at the opening of
    its check-in window (call when occurrences are created or moved). Occurrences whose window
    has opened already (before ``uow.now``) get none. Returns how many jobs were created."""
    created = 0
    for occurrence in occurrences:
        opens, closes = window(meeting, occurrence)
        if opens < uow.now or is_cancelled(meeting, occurrence):
            continue
        payload = {"occurrenceId": occurrence.id, "opensAt": opens.isoformat(), "closesAt": closes.isoformat()}
        created += await scheduler.schedule(
            uow, CHECK_IN_OPEN_JOB, f"{occurrence.id}@{opens.isoformat()}", opens, payload
        )
    return created


@scheduler.register(CHECK_IN_OPEN_JOB)
async def _tell_check_in_open(uow: UnitOfWork, ctx: scheduler.JobContext, job: scheduler.Job) -> None:
    """Tell the attendees of record that check-in is open (nothing when the occurrence was
    cancelled, moved or its window changed since the job was scheduled)."""
    occurrence = await uow.session.get(MeetingOccurrence, int(job.payload["occurrenceId"]))
    meeting = await uow.session.get(Meeting, occurrence.meeting_id) if occurrence is not None else None
    if occurrence is None or meeting is None or is_cancelled(meeting, occurrence):
        return
    opens, closes = window(meeting, occurrence)
    if opens.isoformat() != job.payload.get("opensAt"):
        return
    users = sorted({i.user_id for i in await attendees_of_record(uow.session, occurrence) if i.user_id is not None})
    body = f"签到时间 {local_time(opens, meeting.time_zone)} 至 {local_time(closes, meeting.time_zone)}"
    await notify(
        uow,
        ctx.broker,
        [
            Message(
                user_id=user_id,
                kind=NotificationKind.MEETING_CHECK_IN_OPEN.value,
                title=f"会议签到已开始：{meeting.title}",
                body=body,
                subject_type="Meeting",
                subject_id=meeting.id,
                payload={"occurrenceId": occurrence.id, "opensAt": opens.isoformat(), "closesAt": closes.isoformat()},
            )
            for user_id in users
        ],
    )


# ---- attendance ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceRow:
    """One expected attendee: the invitation (for a substitute, the substitute's), the
    category, the check-in if any, the invitation represented (substitutes) and the approved
    leave (ON_LEAVE)."""

    invitation: Invitation
    category: AttendanceCategory
    check_in: CheckIn | None = None
    on_behalf_of: Invitation | None = None
    leave: LeaveRequest | None = None


@dataclass
class Attendance:
    """The attendance report of an occurrence (see :func:`attendance`)."""

    meeting: Meeting
    occurrence: MeetingOccurrence
    opens_at: dt.datetime
    closes_at: dt.datetime
    rows: list[AttendanceRow] = field(default_factory=list)

    def count(self, category: AttendanceCategory) -> int:
        return sum(1 for r in self.rows if r.category is category)


async def attendance_of(session: AsyncSession, meeting: Meeting, occurrence: MeetingOccurrence) -> Attendance:
    """The attendance of ``occurrence`` (no access check; :func:`attendance` checks).

    One row per active person invitation (people invited by name, units' nominees, substitutes),
    in invitation order with a substitute in the place of the invitee they represent:

    - a substitute of record: SUBSTITUTE when checked in, else ABSENT (``on_behalf_of`` set);
      the invitee they replace has no row of their own;
    - a check-in: LATE when it was late, else PRESENT;
    - an approved leave request covering the occurrence (whole meeting or this occurrence):
      ON_LEAVE;
    - otherwise ABSENT: no check-in and no approved leave (DOMAIN §7.3), including an invitee
      who declined without approved leave and one whose substitution was not approved
      (DOMAIN §7.2). Before the window closes, ABSENT means "not checked in yet".
    """
    invitations = await _person_invitations(session, meeting.id)
    record = {i.id for i in await attendees_of_record(session, occurrence)}
    by_id = {i.id: i for i in invitations}
    missing = {i.on_behalf_of_id for i in invitations if i.on_behalf_of_id and i.on_behalf_of_id not in by_id}
    if missing:
        rows = (await session.execute(select(Invitation).where(Invitation.id.in_(missing)))).scalars()
        by_id.update({r.id: r for r in rows})
    checks = {
        c.invitation_id: c
        for c in (await session.execute(select(CheckIn).where(CheckIn.occurrence_id == occurrence.id))).scalars()
    }
    leaves = await approved_leave(session, occurrence, [i.id for i in invitations])
    covered = {i.on_behalf_of_id for i in invitations if i.on_behalf_of_id is not None and i.id in record}
    out: list[AttendanceRow] = []
    for inv in sorted(invitations, key=lambda i: (i.on_behalf_of_id or i.id, i.id)):
        check = checks.get(inv.id)
        if inv.on_behalf_of_id is not None and inv.id in record:
            category = AttendanceCategory.SUBSTITUTE if check else AttendanceCategory.ABSENT
            out.append(AttendanceRow(inv, category, check, on_behalf_of=by_id.get(inv.on_behalf_of_id)))
        elif inv.on_behalf_of_id is not None or inv.id in covered:
            continue  # a substitute who declined (the invitee's row stands), or an invitee replaced
        elif check is not None:
            out.append(AttendanceRow(inv, AttendanceCategory.LATE if check.late else AttendanceCategory.PRESENT, check))
        elif inv.id in leaves:
            out.append(AttendanceRow(inv, AttendanceCategory.ON_LEAVE, leave=leaves[inv.id]))
        else:
            out.append(AttendanceRow(inv, AttendanceCategory.ABSENT))
    opens, closes = window(meeting, occurrence)
    return Attendance(meeting, occurrence, opens, closes, out)


async def attendance(session: AsyncSession, actor: Actor, occurrence_id: int) -> Attendance | None:
    """The attendance report of an occurrence for its organisers (:func:`attendance_of`).

    None when the occurrence does not exist or ``actor`` cannot see it; ``FORBIDDEN`` on
    ``occurrenceId`` for a viewer who is no organiser. Cancelled occurrences are reported too.
    """
    found = await occurrence_for_organiser(session, actor, occurrence_id)
    if found is None:
        return None
    return await attendance_of(session, *found)

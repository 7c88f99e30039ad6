"""Meeting tables (DOMAIN §7): rooms, meetings and their occurrences, room bookings,
invitations and replies (回执), leave requests and substitutes (请假、代参会), check-ins (签到),
minutes (纪要) with their decided matters (议定事项), and iCalendar feed tokens.

Times are UTC instants (``UTCDateTime``); a meeting keeps its IANA time zone
(``Asia/Shanghai`` by default) so that the occurrences of a series keep their local time
across daylight-saving changes of other zones. Intervals are half-open ``[start_at, end_at)``.

Every meeting has one row per occurrence in ``meeting_occurrences``: a single meeting has
one, a recurring series one per instance of its (always bounded) RFC 5545 rule. Room
bookings, replies per occurrence, check-ins and minutes hang off occurrences, so a moved or
cancelled instance is an ordinary row update.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UTCDateTime, utcnow

#: The time zone of a meeting unless its organiser says otherwise.
DEFAULT_TIME_ZONE = "Asia/Shanghai"


class MeetingState(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class OccurrenceState(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class SubstitutionPolicy(StrEnum):
    """Whether an invitee may send someone in their place (DOMAIN §7.2)."""

    FORBIDDEN = "forbidden"  # leaders must attend in person
    APPROVAL_REQUIRED = "approval_required"  # 请假 approved by the convener or chair first
    ALLOWED = "allowed"  # the substitute is of record at once


class AttendeeRole(StrEnum):
    """出席 / 列席 / 旁听 / 特邀 (DOMAIN §7.1)."""

    PARTICIPANT = "participant"
    NON_VOTING = "non_voting"
    OBSERVER = "observer"
    SPECIAL_INVITEE = "special_invitee"


class ReplyState(StrEnum):
    """A 回执 (DOMAIN §7.2)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DELEGATED = "delegated"  # a substitute attends on the invitee's behalf


class BookingStatus(StrEnum):
    """A room booking. PENDING and APPROVED hold the room; REFUSED and RELEASED do not."""

    PENDING = "pending"  # the room's owning unit must approve it
    APPROVED = "approved"
    REFUSED = "refused"
    RELEASED = "released"  # the occurrence was cancelled, moved to another room, or the room dropped


#: Booking statuses that hold the room (the exclusion constraint's WHERE clause).
HOLDING = (BookingStatus.PENDING.value, BookingStatus.APPROVED.value)


class LeaveState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class Room(Base):
    """A meeting room (会议室) owned by a unit, optionally needing the unit's approval to book."""

    __tablename__ = "rooms"
    __table_args__ = (
        UniqueConstraint("owner_unit_id", "name"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    building: Mapped[str] = mapped_column(String(100), default="")
    floor: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))
    capacity: Mapped[int] = mapped_column(Integer)
    #: Equipment keywords, e.g. ["projector", "video_conference", "microphones"].
    equipment: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Meeting(Base):
    """A meeting or a recurring series: the notice (会议通知) fields of DOMAIN §7.1.

    ``start_at``/``end_at`` are the first occurrence's instants (the series' template);
    ``rrule`` is an RFC 5545 RRULE (bounded by COUNT or UNTIL) or null for a single meeting.
    ``all_day`` meetings run from local midnight to local midnight of ``time_zone``.
    ``split_from_id`` names the series this one was cut from by a "this and following" edit.
    """

    __tablename__ = "meetings"
    __table_args__ = (CheckConstraint("end_at > start_at", name="end_after_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    organizer_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    #: Co-organising units (联合主办) by id.
    co_organizer_unit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    convener_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    agenda: Mapped[str] = mapped_column(Text, default="")
    materials: Mapped[str] = mapped_column(Text, default="")
    logistics: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(300), default="")
    online_link: Mapped[str | None] = mapped_column(String(500))
    contact_name: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(24))
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: 报到 (arrival/registration) time before the start; null = none given.
    report_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    time_zone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIME_ZONE)
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    rrule: Mapped[str | None] = mapped_column(String(500))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    reply_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    substitution_policy: Mapped[str] = mapped_column(String(20), default=SubstitutionPolicy.APPROVAL_REQUIRED.value)
    #: Check-in (签到) opens this many minutes before an occurrence starts and closes at its end.
    check_in_opens_minutes: Mapped[int] = mapped_column(Integer, default=30)
    #: A check-in more than this many minutes after the start is recorded late.
    late_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    notice_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    split_from_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    state: Mapped[str] = mapped_column(String(16), default=MeetingState.SCHEDULED.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))


class MeetingOccurrence(Base):
    """One instance of a meeting. ``recurrence_id`` is its original start (RFC 5545
    RECURRENCE-ID, UTC), unchanged when the instance is moved (``is_exception``)."""

    __tablename__ = "meeting_occurrences"
    __table_args__ = (
        UniqueConstraint("meeting_id", "recurrence_id"),
        CheckConstraint("end_at > start_at", name="end_after_start"),
        Index("ix_meeting_occurrences_start", "start_at", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    recurrence_id: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    state: Mapped[str] = mapped_column(String(16), default=OccurrenceState.SCHEDULED.value)
    is_exception: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: When and why this occurrence was cancelled (alone, or dropped by a change of its series).
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))


class RoomBooking(Base):
    """A room held for one occurrence over ``[start_at, end_at)``.

    Never two holding bookings of one room overlap: on PostgreSQL an exclusion constraint
    (``EXCLUDE USING gist (room_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)`` over
    PENDING/APPROVED rows, migration 0023); on SQLite the overlap check runs inside the
    ``BEGIN IMMEDIATE`` write transaction (``meetings.rooms``).
    """

    __tablename__ = "room_bookings"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        Index("ix_room_bookings_room_time", "room_id", "start_at", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("meeting_occurrences.id"), unique=True)
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=BookingStatus.APPROVED.value)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The approver's remark: why a booking was refused (migration 0024).
    decision_remark: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invitation(Base):
    """An invitation to a person (``user_id``) or to a unit (``unit_id``), exactly one of them.

    A unit invitation carries a ``quota`` and an optional ``required_rank`` ("分管负责同志");
    the unit's clerk nominates people, who get person invitations with ``nominated_via_id``.
    A substitute of record gets a person invitation with ``on_behalf_of_id`` = the original
    invitee's invitation, whose state becomes DELEGATED.
    ``state``/``replied_at``/``late`` are the reply (回执) for the whole meeting or series;
    ``OccurrenceReply`` rows override it for single occurrences.
    """

    __tablename__ = "meeting_invitations"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (unit_id IS NULL)", name="user_or_unit"),
        Index(
            "uq_meeting_invitations_meeting_user",
            "meeting_id",
            "user_id",
            unique=True,
            sqlite_where=text("user_id IS NOT NULL"),
            postgresql_where=text("user_id IS NOT NULL"),
        ),
        Index(
            "uq_meeting_invitations_meeting_unit",
            "meeting_id",
            "unit_id",
            unique=True,
            sqlite_where=text("unit_id IS NOT NULL"),
            postgresql_where=text("unit_id IS NOT NULL"),
        ),
        Index("ix_meeting_invitations_user", "user_id", "meeting_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    role: Mapped[str] = mapped_column(String(20), default=AttendeeRole.PARTICIPANT.value)
    #: Required attendee (find-a-time needs all of them) or optional.
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    quota: Mapped[int | None] = mapped_column(Integer)
    required_rank: Mapped[str | None] = mapped_column(String(100))
    nominated_via_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_invitations.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_invitations.id"))
    state: Mapped[str] = mapped_column(String(16), default=ReplyState.PENDING.value)
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    remark: Mapped[str | None] = mapped_column(String(500))
    #: The rest of the 回执 slip: {"phone", "arrival", "accommodation"} as given.
    reply_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: False once withdrawn (uninvited, or a unit's nominee replaced); kept for the record.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: A substitute for single occurrences of a series only: attends exactly the occurrences
    #: with an ``OccurrenceReply`` row; its series ``state`` stays DECLINED (migration 0025).
    occurrences_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OccurrenceReply(Base):
    """A reply for one occurrence of a series, overriding the invitation's series reply."""

    __tablename__ = "occurrence_replies"
    __table_args__ = (UniqueConstraint("invitation_id", "occurrence_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("meeting_invitations.id"))
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("meeting_occurrences.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=ReplyState.PENDING.value)
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    remark: Mapped[str | None] = mapped_column(String(500))


class LeaveRequest(Base):
    """请假: an invitee asks to be excused, optionally naming a substitute (代参会).

    ``occurrence_id`` null = the whole meeting or series. Under ``approval_required`` the
    convener or chair decides; on approval with a substitute, ``substitute_invitation_id``
    is the substitute's invitation of record.
    """

    __tablename__ = "leave_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("meeting_invitations.id"), index=True)
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_occurrences.id"))
    reason: Mapped[str] = mapped_column(String(500))
    substitute_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16), default=LeaveState.PENDING.value)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_remark: Mapped[str | None] = mapped_column(String(500))
    substitute_invitation_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_invitations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckIn(Base):
    """签到: an attendee of record signed in for an occurrence. Immutable once written."""

    __tablename__ = "check_ins"
    __table_args__ = (UniqueConstraint("occurrence_id", "invitation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("meeting_occurrences.id"), index=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("meeting_invitations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    checked_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str] = mapped_column(String(16), default="qr")


class MeetingMinutes(Base):
    """The minutes (纪要) of an occurrence: a document of type ``minutes`` routed as usual."""

    __tablename__ = "meeting_minutes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("meeting_occurrences.id"), unique=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DecidedMatter(Base):
    """议定事项: one matter the meeting decided, optionally followed as a supervision item."""

    __tablename__ = "decided_matters"
    __table_args__ = (UniqueConstraint("minutes_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("meeting_minutes.id"))
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    co_handler_unit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    supervision_item_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_items.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarFeed(Base):
    """A per-user iCalendar feed URL secret; only its SHA-256 is stored. Revocable."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

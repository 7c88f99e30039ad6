"""Notification rows and the per-user sequence counters."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UTCDateTime, utcnow


class NotificationKind(StrEnum):
    """What happened. Clients switch on these values."""

    TASK_ASSIGNED = "TASK_ASSIGNED"
    TASK_CANCELLED = "TASK_CANCELLED"
    TASK_APPROVED = "TASK_APPROVED"
    DOCUMENT_RETURNED = "DOCUMENT_RETURNED"
    DOCUMENT_APPROVED = "DOCUMENT_APPROVED"
    TASK_DELEGATED = "TASK_DELEGATED"
    TASK_TRANSFERRED = "TASK_TRANSFERRED"
    SUBTASK_APPROVED = "SUBTASK_APPROVED"  # to the unit's clerk: a member approved
    SUBTASK_RETURNED = "SUBTASK_RETURNED"  # to the unit's clerk: a member sent it back
    DOCUMENT_CIRCULATED = "DOCUMENT_CIRCULATED"  # to a reader (传阅)
    CIRCULATION_READ = "CIRCULATION_READ"  # to the sender: the reader read it
    # routing actions (documents/actions.py)
    DOCUMENT_WITHDRAWN = "DOCUMENT_WITHDRAWN"
    DOCUMENT_COMMENTED = "DOCUMENT_COMMENTED"
    DOCUMENT_REROUTED = "DOCUMENT_REROUTED"
    SIGNERS_CHANGED = "SIGNERS_CHANGED"
    DELEGATED_TASK_DONE = "DELEGATED_TASK_DONE"
    DOCUMENT_ARCHIVED = "DOCUMENT_ARCHIVED"
    SIGN_OFF_INVALIDATED = "SIGN_OFF_INVALIDATED"
    DOCUMENT_REVOKED = "DOCUMENT_REVOKED"
    DOCUMENT_REPEALED = "DOCUMENT_REPEALED"
    INCOMING_ARRIVED = "INCOMING_ARRIVED"  # a dispatched document reached your unit (收文待签收)
    INCOMING_YOUR_TURN = "INCOMING_YOUR_TURN"  # the incoming procedure waits for you (批示, 分办, 承办, …)
    INCOMING_RETURNED = "INCOMING_RETURNED"  # a recipient unit returned your document at the precheck
    INCOMING_REPLIED = "INCOMING_REPLIED"  # a recipient unit replied (答复) to your document
    INCOMING_RECEIVED = "INCOMING_RECEIVED"  # a recipient unit signed for (签收) your document
    # supervision items (督办事项, documents/supervision.py)
    SUPERVISION_ASSIGNED = "SUPERVISION_ASSIGNED"  # to an assigned unit's clerks: a new item for your unit
    SUPERVISION_PROGRESS = "SUPERVISION_PROGRESS"  # to the item's creator: an assigned unit reported progress
    SUPERVISION_RESULT = "SUPERVISION_RESULT"  # to the item's creator: the lead unit reported the result
    SUPERVISION_CLOSED = "SUPERVISION_CLOSED"  # to the assigned units' clerks: the creator closed the item
    # deadlines (office_api/reminders.py): payload {deadlineId, subjectType, subjectId, dueOn, …}
    DEADLINE_YELLOW = "DEADLINE_YELLOW"  # 黄牌: the due date is near (policy yellow_before working days)
    DEADLINE_RED = "DEADLINE_RED"  # 红牌: the first working day past the due date (holder and assigner)
    DEADLINE_ESCALATED = "DEADLINE_ESCALATED"  # to the holder unit's head: overdue past escalate_after
    DEADLINE_URGED = "DEADLINE_URGED"  # 催办 by the assigner or a leader, with a message
    EXTENSION_REQUESTED = "EXTENSION_REQUESTED"  # to the approvers: the holder asks for more working days
    EXTENSION_APPROVED = "EXTENSION_APPROVED"  # to the requester (and the assigner): the due date moved
    EXTENSION_REFUSED = "EXTENSION_REFUSED"  # to the requester
    # meetings (meetings/, DOMAIN §7): subject_type "Meeting" (or "MeetingOccurrence") and its id
    MEETING_INVITED = "MEETING_INVITED"  # to an invitee: a meeting notice (会议通知) for you
    MEETING_NOMINATION_REQUESTED = "MEETING_NOMINATION_REQUESTED"  # to an invited unit's clerks: name attendees
    MEETING_CHANGED = "MEETING_CHANGED"  # to every invitee: time, place or notice changed (time: replies reset)
    MEETING_CANCELLED = "MEETING_CANCELLED"  # to every invitee: the meeting or one occurrence is cancelled
    MEETING_REPLY_RECEIVED = "MEETING_REPLY_RECEIVED"  # to the convener: an invitee replied (回执)
    MEETING_LEAVE_REQUESTED = "MEETING_LEAVE_REQUESTED"  # to the approvers: 请假, maybe with a substitute
    MEETING_LEAVE_DECIDED = "MEETING_LEAVE_DECIDED"  # to the requester: the leave was approved or refused
    MEETING_SUBSTITUTE_NAMED = "MEETING_SUBSTITUTE_NAMED"  # to the substitute: you attend on someone's behalf
    MEETING_INVITATION_WITHDRAWN = "MEETING_INVITATION_WITHDRAWN"  # to the invitee: uninvited, or a nominee replaced
    ROOM_BOOKING_REQUESTED = "ROOM_BOOKING_REQUESTED"  # to the room's unit: approve a booking
    ROOM_BOOKING_DECIDED = "ROOM_BOOKING_DECIDED"  # to the convener: the booking was approved or refused
    MEETING_CHECK_IN_OPEN = "MEETING_CHECK_IN_OPEN"  # to attendees of record: check-in (签到) is open
    # accounts (office_api/org/accounts.py)
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"  # to the person: an administrator disabled your account


class NotificationPriority(StrEnum):
    """How urgent a notification is; the values of document urgency (GB/T 9704-2012 §7.2.4)."""

    NORMAL = "normal"
    URGENT = "urgent"  # 加急
    EXTRA_URGENT = "extra_urgent"  # 特急


#: Kinds that ask their recipient to act on a document: they carry the document's urgency
#: (紧急程度) as their priority. Every other document kind (approved, commented, read, …) is
#: ``normal``.
DOCUMENT_ACTION_KINDS = frozenset(
    {
        NotificationKind.TASK_ASSIGNED,
        NotificationKind.DOCUMENT_RETURNED,
        NotificationKind.DOCUMENT_CIRCULATED,
        NotificationKind.INCOMING_ARRIVED,
        NotificationKind.INCOMING_YOUR_TURN,
    }
)

#: Deadline kinds that are ``urgent`` (加急) whatever the item: past the due date, escalated,
#: urged. A yellow card and the extension kinds are ``normal``.
URGENT_DEADLINE_KINDS = frozenset(
    {NotificationKind.DEADLINE_RED, NotificationKind.DEADLINE_ESCALATED, NotificationKind.DEADLINE_URGED}
)


def document_priority(kind: NotificationKind, urgency: str | None) -> str:
    """The priority of a document notification of ``kind``: the document's ``urgency``
    (``documents.types.Urgency`` value: normal, urgent, extra_urgent) for
    :data:`DOCUMENT_ACTION_KINDS`, ``normal`` otherwise."""
    if kind in DOCUMENT_ACTION_KINDS and urgency:
        return NotificationPriority(urgency).value
    return NotificationPriority.NORMAL.value


class Notification(Base):
    """One event that concerns one person, numbered ``seq`` = 1, 2, 3… per user, gapless.

    Written in the same transaction as the change it reports (transactional outbox).
    ``subject_type``/``subject_id`` name what it is about (e.g. ``Document``, 42).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "seq"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        Index("ix_notifications_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(String(1000), default="")
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: ``normal``, ``urgent`` (加急) or ``extra_urgent`` (特急), the vocabulary of document urgency
    #: (GB/T 9704-2012 §7.2.4). Quiet hours hold back all but ``extra_urgent``; unacknowledged
    #: urgent items escalate to the next outbound channel.
    priority: Mapped[str] = mapped_column(String(16), default=NotificationPriority.NORMAL.value)
    #: The unit on whose behalf the person received it (a unit's clerk, an invited unit's
    #: attendee), for per-unit receipt roll-ups; null for personal notifications.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Read receipts (UTC): first handed to one of the person's devices (websocket or push),
    #: opened (``read_at``), acknowledged (已知悉).
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NotificationCounter(Base):
    """The last sequence number given to a user; updated under a row lock."""

    __tablename__ = "notification_counters"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)

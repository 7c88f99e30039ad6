"""GraphQL surface of notifications: list, unread count, mark read, live subscription."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncGenerator, Iterable
from enum import Enum
from typing import Annotated

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocket
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from documents import dispatch
from documents.incoming_models import IncomingDocument as IncomingDocumentModel
from documents.models import Document as DocumentModel
from documents.supervision_models import SupervisionItem as SupervisionItemModel
from meetings.access import is_organiser
from meetings.models import Meeting as MeetingModel
from messaging import receipts
from messaging import service as notes
from messaging.models import Notification as NotificationModel
from messaging.models import NotificationKind, NotificationPriority
from messaging.wire import payload_with_global_ids
from office_api.db import utcnow
from office_api.errors import DomainError, ErrorCode
from office_api.org.permissions import Actor, load_actor
from office_api.ws import current_event
from schema.common import (
    Connection,
    IsAuthenticated,
    UserError,
    decode_cursor,
    decode_id,
    decode_ids,
    make_connection,
    page_size,
    require_actor,
    run_mutation,
)
from schema.org import OrgUnit, User, unit_by_id

#: What each kind means, who gets it, and its priority and unit (README "Notifications").
KIND_DESCRIPTIONS: dict[NotificationKind, str] = {
    NotificationKind.TASK_ASSIGNED: "To an assignee: a document waits for your step (待办); priority = the "
    "document's urgency.",
    NotificationKind.TASK_CANCELLED: "To an assignee: your pending task is no longer needed (another acted, "
    "the document was returned or withdrawn).",
    NotificationKind.TASK_APPROVED: "To the drafter: someone approved a step of your document.",
    NotificationKind.DOCUMENT_RETURNED: "To the drafter: your document was returned (退回) with an opinion; "
    "priority = the document's urgency.",
    NotificationKind.DOCUMENT_APPROVED: "To the drafter: your document finished every step (办结).",
    NotificationKind.TASK_DELEGATED: "To a delegator: a task of yours went to your delegate (委托).",
    NotificationKind.TASK_TRANSFERRED: "To the former assignee: your task was transferred (转办) or handed over.",
    NotificationKind.SUBTASK_APPROVED: "To a unit's clerk: a member approved a sub-task routed within the unit.",
    NotificationKind.SUBTASK_RETURNED: "To a unit's clerk: a member sent a sub-task back.",
    NotificationKind.DOCUMENT_CIRCULATED: "To a reader: a document to read (传阅); priority = the document's urgency.",
    NotificationKind.CIRCULATION_READ: "To the sender of a circulation: the reader read it.",
    NotificationKind.DOCUMENT_WITHDRAWN: "To the drafter: an approval was withdrawn (撤回).",
    NotificationKind.DOCUMENT_COMMENTED: "To the drafter and the holders of pending tasks: a comment (评论) was added.",
    NotificationKind.DOCUMENT_REROUTED: "To the drafter: an administrator re-assigned a step (改派).",
    NotificationKind.SIGNERS_CHANGED: "To the people concerned: signers were added or removed (加签/减签).",
    NotificationKind.DELEGATED_TASK_DONE: "To a delegator: your delegate acted on your behalf.",
    NotificationKind.DOCUMENT_ARCHIVED: "To the drafter: the document was archived (归档).",
    NotificationKind.SIGN_OFF_INVALIDATED: "To the former signer: the document was edited after sign-off (签发).",
    NotificationKind.DOCUMENT_REVOKED: "To the drafter and the signer (and the holders of its copies): the "
    "document was revoked (撤销).",
    NotificationKind.DOCUMENT_REPEALED: "To the drafter and the signer (and the holders of its copies): the "
    "document was repealed (废止).",
    NotificationKind.INCOMING_ARRIVED: "To a recipient unit's clerks: a dispatched document reached your unit, "
    "sign for it (签收); priority = the document's urgency; unit = the recipient unit.",
    NotificationKind.INCOMING_YOUR_TURN: "The incoming procedure waits for you (登记, 初审, 拟办, 批示, 分办, 承办, "
    "答复 …); priority = the document's urgency; unit = the recipient unit.",
    NotificationKind.INCOMING_RECEIVED: "To the sending side (the drafter and the dispatcher): a recipient unit "
    "signed for your document (签收); unit = that recipient unit.",
    NotificationKind.INCOMING_RETURNED: "To the sending side: a recipient unit returned your document at the "
    "precheck (初审); unit = that recipient unit.",
    NotificationKind.INCOMING_REPLIED: "To the sending side: a recipient unit replied (答复); unit = that "
    "recipient unit.",
    NotificationKind.SUPERVISION_ASSIGNED: "To an assigned unit's clerks (else its head and deputies): a "
    "supervision item (督办) for your unit; unit = the assigned unit.",
    NotificationKind.SUPERVISION_PROGRESS: "To the item's creator: an assigned unit reported progress; unit = that "
    "unit.",
    NotificationKind.SUPERVISION_RESULT: "To the item's creator: the lead unit reported the result; unit = that unit.",
    NotificationKind.SUPERVISION_CLOSED: "To the assigned units' clerks: the creator closed the item.",
    NotificationKind.DEADLINE_YELLOW: "Yellow card (黄牌): the due date is near.",
    NotificationKind.DEADLINE_RED: "Red card (红牌), to the holder and the assigner: past the due date; "
    "priority urgent.",
    NotificationKind.DEADLINE_ESCALATED: "To the holder unit's head: overdue past the policy's escalation "
    "(超期督办); priority urgent.",
    NotificationKind.DEADLINE_URGED: "To the holder: the assigner or a leader urged (催办), with a message; "
    "priority urgent.",
    NotificationKind.EXTENSION_REQUESTED: "To the approvers: the holder asks for more working days.",
    NotificationKind.EXTENSION_APPROVED: "To the requester (and the assigner): the due date moved.",
    NotificationKind.EXTENSION_REFUSED: "To the requester: the extension was refused.",
    NotificationKind.MEETING_INVITED: "To an invitee: a meeting notice (会议通知) for you; for a nominee of a "
    "unit invitation, unit = that unit.",
    NotificationKind.MEETING_NOMINATION_REQUESTED: "To the people who answer for an invited unit: name its "
    "attendees (报名); unit = the invited unit.",
    NotificationKind.MEETING_CHANGED: "To everyone concerned: the time, place or notice changed (a time change "
    "resets replies).",
    NotificationKind.MEETING_CANCELLED: "To everyone concerned: the meeting or one occurrence is cancelled.",
    NotificationKind.MEETING_REPLY_RECEIVED: "To the convener: an invitee replied (回执).",
    NotificationKind.MEETING_LEAVE_REQUESTED: "To the approvers: a leave request (请假), maybe naming a "
    "substitute (代参会).",
    NotificationKind.MEETING_LEAVE_DECIDED: "To the requester: the leave was approved or refused.",
    NotificationKind.MEETING_SUBSTITUTE_NAMED: "To the substitute: you attend on someone's behalf.",
    NotificationKind.MEETING_INVITATION_WITHDRAWN: "To the invitee: uninvited, or a nominee replaced.",
    NotificationKind.ROOM_BOOKING_REQUESTED: "To the people who answer for the room's unit: approve a booking.",
    NotificationKind.ROOM_BOOKING_DECIDED: "To the convener: the booking was approved or refused.",
    NotificationKind.MEETING_CHECK_IN_OPEN: "To attendees of record: check-in (签到) is open.",
    NotificationKind.ACCOUNT_DISABLED: "To the person: an administrator disabled your account (kept for when "
    "it is enabled again; outbound channels deliver it meanwhile).",
}

NotificationKindEnum = strawberry.enum(
    Enum(  # type: ignore[misc]
        "NotificationKind",
        {k.name: strawberry.enum_value(k.value, description=KIND_DESCRIPTIONS[k]) for k in NotificationKind},
    ),
    name="NotificationKind",
    description="What happened; each value says who gets it. Priority is `NORMAL` unless the value says "
    "otherwise; `unit` is null unless the value names it.",
)

NotificationPriorityEnum = strawberry.enum(
    Enum(  # type: ignore[misc]
        "NotificationPriority",
        {
            "NORMAL": strawberry.enum_value(NotificationPriority.NORMAL.value, description="平件: no hurry."),
            "URGENT": strawberry.enum_value(NotificationPriority.URGENT.value, description="加急."),
            "EXTRA_URGENT": strawberry.enum_value(
                NotificationPriority.EXTRA_URGENT.value,
                description="特急: delivered even in quiet hours.",
            ),
        },
    ),
    name="NotificationPriority",
    description="How urgent a notification is: the urgency (紧急程度, GB/T 9704-2012 §7.2.4) of the document "
    "it asks you to act on, `URGENT` for red cards, escalations and urging, else `NORMAL`.",
)

#: Most ids and kinds one markNotificationsRead call names.
MAX_MARK_IDS = 500
MAX_MARK_KINDS = 100


@strawberry.type(description="An event that concerns you, numbered per user without gaps.")
class Notification(relay.Node):
    id: relay.NodeID[int]
    sequence: int = strawberry.field(
        description="Your per-user sequence number: 1, 2, 3… with no gaps. Resume with notifications(after: n)."
    )
    kind: NotificationKindEnum = strawberry.field(description="What happened.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="Short text for a phone banner (zh-CN).")
    body: str = strawberry.field(description="Longer text (zh-CN).")
    subject_type: str | None = strawberry.field(description="Type of the object concerned, e.g. `Document`.")
    subject_id: relay.GlobalID | None = strawberry.field(description="Global id of the object concerned.")
    data: JSON = strawberry.field(description="Extra data, e.g. {taskId, stepIndex, round}; ids are global ids.")
    priority: NotificationPriorityEnum = strawberry.field(  # type: ignore[valid-type]
        description="How urgent it is (see NotificationPriority and each NotificationKind)."
    )
    created_at: dt.datetime = strawberry.field(description="UTC instant of the event.")
    delivered_at: dt.datetime | None = strawberry.field(
        description="UTC instant it first reached one of your devices (a websocket subscription, written within "
        "about a second, or a push); also set when you open or acknowledge it. Null before."
    )
    read_at: dt.datetime | None = strawberry.field(description="UTC instant you marked it read; null while unread.")
    acknowledged_at: dt.datetime | None = strawberry.field(
        description="UTC instant you acknowledged it (已知悉, acknowledgeNotifications); null before."
    )
    unit_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The unit you received it for (a recipient unit's clerk, an invited unit's nominee, …; see "
        "each NotificationKind); null for a personal notification."
    )
    async def unit(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.unit_id)

    @classmethod
    def from_model(cls, m: NotificationModel) -> Notification:
        data = payload_with_global_ids(m.payload)
        return cls(
            id=m.id,
            sequence=m.seq,
            kind=NotificationKindEnum(m.kind),
            title=m.title,
            body=m.body,
            subject_type=m.subject_type,
            subject_id=relay.GlobalID(m.subject_type, str(m.subject_id)) if m.subject_type and m.subject_id else None,
            data=data,
            priority=NotificationPriorityEnum(m.priority),
            created_at=m.created_at,
            delivered_at=m.delivered_at,
            read_at=m.read_at,
            acknowledged_at=m.acknowledged_at,
            unit_id=m.unit_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Notification | None]:
        return [None for _ in node_ids]


@strawberry.input(description="Which notifications to mark read: both filters apply; omit both to mark all read.")
class MarkNotificationsReadInput:
    ids: list[relay.GlobalID] | None = strawberry.field(
        default=None,
        description="Your notifications to mark read (at most 500; others' ids are ignored); omit for any.",
    )
    kinds: list[NotificationKindEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only notifications of these kinds (at most 100); omit for every kind."
    )


@strawberry.input(description="Which of your notifications you acknowledge (已知悉).")
class AcknowledgeNotificationsInput:
    ids: list[relay.GlobalID] = strawberry.field(
        description="Your notifications (1 to 500). Ids of other people's notifications, and unknown ids, are "
        "ignored: they are not in the payload's `notifications`."
    )


@strawberry.type(description="The result of acknowledging.")
class AcknowledgeNotificationsPayload:
    acknowledged: int = strawberry.field(
        description="Notifications acknowledged by this call (0 when all were acknowledged already)."
    )
    notifications: list[Notification] = strawberry.field(
        description="Your notifications among `ids`, by sequence, with their `acknowledgedAt` (the first one, "
        "when they were acknowledged already)."
    )
    unread_count: int = strawberry.field(description="Your unread notifications after the change.")
    errors: list[UserError] = strawberry.field(description="REQUIRED or TOO_MANY on `ids`; empty on success.")


@strawberry.type(description="How many of your unread notifications are of one kind.")
class KindCount:
    kind: NotificationKindEnum = strawberry.field(description="The kind.")  # type: ignore[valid-type]
    count: int = strawberry.field(description="Your unread notifications of this kind (at least 1).")


@strawberry.type(description="Your unread notifications: the total and per kind.")
class UnreadNotificationCounts:
    total: int = strawberry.field(description="All your unread notifications.")
    by_kind: list[KindCount] = strawberry.field(
        description="One entry per kind with unread notifications, by kind name; kinds with none are left out."
    )


@strawberry.type(description="Read receipts of the people who received a notice for one unit.")
class UnitReceipts:
    recipients: int = strawberry.field(description="People who received it for this unit.")
    delivered: int = strawberry.field(description="Of them, those to whose devices it was delivered.")
    opened: int = strawberry.field(description="Of them, those who opened it (marked read).")
    acknowledged: int = strawberry.field(description="Of them, those who acknowledged it (已知悉).")
    unit_id: strawberry.Private[int | None]
    pending_ids: strawberry.Private[list[int]]

    @strawberry.field(description="The unit; null for the people who received it personally (not for a unit).")
    async def unit(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.unit_id)

    @strawberry.field(description="The people who have not acknowledged it yet, by user id.")
    async def pending(self, info: Info) -> list[User]:
        rows = await info.context.loaders.user.load_many(self.pending_ids)
        return [User.from_model(r) for r in rows if r is not None]


@strawberry.type(
    description="Read receipts (delivered / opened / acknowledged 已知悉) of a notice sent to many people, per "
    "unit. A person counts as delivered, opened or acknowledged when every one of their notifications counted "
    "is."
)
class NotificationReceipts:
    recipients: int = strawberry.field(
        description="People who received it, each counted once (also when for several units)."
    )
    delivered: int = strawberry.field(description="Of them, delivered to a device (for every unit).")
    opened: int = strawberry.field(description="Of them, opened (marked read) (for every unit).")
    acknowledged: int = strawberry.field(description="Of them, acknowledged (已知悉) (for every unit).")
    units: list[UnitReceipts] = strawberry.field(
        description="Per unit, by unit id; the people who received it personally last (unit null). A person "
        "who received it for several units is in each of them."
    )


@strawberry.type(description="How many notifications changed, and the unread count after.")
class MarkNotificationsReadPayload:
    marked: int = strawberry.field(description="Notifications that went from unread to read.")
    unread_count: int = strawberry.field(description="Your unread notifications after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type
class NotificationQuery:
    @strawberry.field(
        description="Your notifications, newest first. `first`: 1–100, default 20; `unreadOnly` filters.",
        permission_classes=[IsAuthenticated],
    )
    async def notifications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        unread_only: Annotated[bool, strawberry.argument(description="Only unread ones.")] = False,
    ) -> Connection[Notification]:
        actor = await require_actor(info)
        limit = page_size(first)
        async with info.context.db.read() as s:
            rows = await notes.notifications_page(
                s, actor.user_id, decode_cursor(after), limit + 1, unread_only=unread_only
            )
        return make_connection(rows, limit, lambda r: r.seq, Notification.from_model, after=after)

    @strawberry.field(description="How many of your notifications are unread.", permission_classes=[IsAuthenticated])
    async def unread_notification_count(self, info: Info) -> int:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            return await notes.unread_count(s, actor.user_id)

    @strawberry.field(
        description="Your unread notifications, in all and per kind (one query).", permission_classes=[IsAuthenticated]
    )
    async def unread_notification_counts(self, info: Info) -> UnreadNotificationCounts:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            counts = await notes.unread_counts_by_kind(s, actor.user_id)
        return UnreadNotificationCounts(
            total=sum(counts.values()),
            by_kind=[KindCount(kind=NotificationKindEnum(k), count=n) for k, n in counts.items()],
        )

    @strawberry.field(
        description="Read receipts, per unit, of the notices about `subjectId` (a Document, Meeting or "
        "SupervisionItem): the notifications that carry a notice to its recipients, INCOMING_ARRIVED and "
        "DOCUMENT_CIRCULATED for a Document (its incoming copies count too), MEETING_INVITED, "
        "MEETING_NOMINATION_REQUESTED, MEETING_CHANGED and MEETING_CANCELLED for a Meeting, SUPERVISION_ASSIGNED "
        "and SUPERVISION_CLOSED for a SupervisionItem; `kind` (one of them) or all of them when omitted. Who "
        "sees them: the subject's managers (for a Document its sending side: the drafter, who registered or "
        "dispatched it, the issuing unit's clerks; for a Meeting its organisers: creator, convener, chair; for a "
        "SupervisionItem its creator) see all; anyone else sees the notices they sent themselves (e.g. a "
        "unit's clerk the MEETING_INVITED of the people they nominated). Null for anyone else, and when "
        "nobody got such a notice. Errors: INVALID_VALUE on `subjectId` (malformed, or not a Document, Meeting "
        "or SupervisionItem id) or on `kind` (not a notice kind).",
        permission_classes=[IsAuthenticated],
    )
    async def notification_receipts(
        self,
        info: Info,
        subject_id: Annotated[
            relay.GlobalID,
            strawberry.argument(description="Global id of the Document, Meeting or SupervisionItem."),
        ],
        kind: Annotated[
            NotificationKindEnum | None,  # type: ignore[valid-type]
            strawberry.argument(description="Count only this notice kind; omit for every notice kind."),
        ] = None,
    ) -> NotificationReceipts | None:
        actor = await require_actor(info)
        subject_type = subject_id.type_name
        if subject_type not in RECEIPT_SUBJECT_TYPES:
            raise DomainError(
                ErrorCode.INVALID_VALUE, "subjectId", detail="not a Document, Meeting or SupervisionItem id"
            )
        pk = decode_id(subject_id, subject_type, "subjectId")
        if kind is not None and kind.value not in receipts.NOTICE_KINDS:
            raise DomainError(
                ErrorCode.INVALID_VALUE, "kind", detail="not a notice kind: " + ", ".join(receipts.NOTICE_KINDS)
            )
        kinds = [kind.value] if kind is not None else receipts.NOTICE_KINDS
        async with info.context.db.read() as s:
            subjects = await receipt_subjects(s, subject_type, pk)
            manager = await may_see_receipts(s, actor, subject_type, pk)
            people = await receipts.person_receipts(s, subjects, kinds, sent_by=None if manager else actor.user_id)
        if not people:
            return None
        r = receipts.roll_up(people)
        return NotificationReceipts(
            recipients=r.recipients,
            delivered=r.delivered,
            opened=r.opened,
            acknowledged=r.acknowledged,
            units=[
                UnitReceipts(
                    recipients=u.recipients,
                    delivered=u.delivered,
                    opened=u.opened,
                    acknowledged=u.acknowledged,
                    unit_id=u.unit_id,
                    pending_ids=u.pending_user_ids,
                )
                for u in r.units
            ],
        )


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(
        description="Mark your notifications read: one, some, all, or all of some kinds. TOO_MANY on `ids` "
        "(over 500) or `kinds` (over 100).",
        permission_classes=[IsAuthenticated],
    )
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        actor = await require_actor(info)

        async def work(uow):
            if input.ids is not None and len(input.ids) > MAX_MARK_IDS:
                raise DomainError(ErrorCode.TOO_MANY, "ids", limit=MAX_MARK_IDS)
            if input.kinds is not None and len(input.kinds) > MAX_MARK_KINDS:
                raise DomainError(ErrorCode.TOO_MANY, "kinds", limit=MAX_MARK_KINDS)
            ids = decode_ids(input.ids, "Notification", "ids") if input.ids is not None else None
            kinds = [k.value for k in input.kinds] if input.kinds is not None else None
            return await notes.mark_read(uow, actor.user_id, ids, kinds)

        marked, errors = await run_mutation(info, work)
        async with info.context.db.read() as s:
            unread = await notes.unread_count(s, actor.user_id)
        return MarkNotificationsReadPayload(marked=marked or 0, unread_count=unread, errors=errors)

    @strawberry.mutation(
        description="Acknowledge (已知悉) your notifications: sets `acknowledgedAt` once (and `readAt`, "
        "`deliveredAt` when null). Idempotent: acknowledging again keeps the first instant, also when two taps "
        "race. Others' ids are ignored.",
        permission_classes=[IsAuthenticated],
    )
    async def acknowledge_notifications(
        self, info: Info, input: AcknowledgeNotificationsInput
    ) -> AcknowledgeNotificationsPayload:
        actor = await require_actor(info)

        async def work(uow):
            if not input.ids:
                raise DomainError(ErrorCode.REQUIRED, "ids")
            if len(input.ids) > receipts.MAX_ACKNOWLEDGE:
                raise DomainError(ErrorCode.TOO_MANY, "ids", limit=receipts.MAX_ACKNOWLEDGE)
            ids = decode_ids(input.ids, "Notification", "ids")
            return await receipts.acknowledge(uow, actor.user_id, ids)

        result, errors = await run_mutation(info, work)
        async with info.context.db.read() as s:
            unread = await notes.unread_count(s, actor.user_id)
        changed, rows = result if result is not None else (0, [])
        return AcknowledgeNotificationsPayload(
            acknowledged=changed,
            notifications=[Notification.from_model(r) for r in rows],
            unread_count=unread,
            errors=errors,
        )


@strawberry.type
class NotificationSubscription:
    @strawberry.subscription(
        description="Your notifications with sequence > `after` (0 = all): first those you missed, from the "
        "database, then live as they happen, in sequence order, with no gap and no duplicate. Authenticate in "
        'connection_init: {"authorization": "Bearer <access token>"}.',
        permission_classes=[IsAuthenticated],
    )
    async def notifications(
        self,
        info: Info,
        after: Annotated[
            int, strawberry.argument(description="The last sequence number you have; 0 for everything.")
        ] = 0,
    ) -> AsyncGenerator[Notification, None]:
        actor = await require_actor(info)
        ctx = info.context
        broker = ctx.broker
        # On a websocket the connection guard (office_api/ws.py) closes the socket when the token
        # stops being valid; another transport (an HTTP stream) checks here at each wake-up.
        guarded = isinstance(getattr(ctx, "request", None), WebSocket)
        expires_at = ctx.claims.expires_at if ctx.claims is not None and not guarded else None
        wake = broker.listen(actor.user_id)
        cursor = max(after, 0)
        try:
            while True:
                wake.clear()
                if not guarded:
                    if expires_at is not None and utcnow() >= expires_at:
                        return
                    async with ctx.db.read() as s:
                        if await load_actor(s, actor.user_id, ctx.claims) is None:
                            return
                # Batched with the other subscribers woken at the same time (messaging.hub).
                rows = await ctx.platform.feed.after(actor.user_id, cursor)
                for row in rows:
                    cursor = row.seq
                    current_event.set(row.id)  # the socket handler encodes this event once (office_api/ws.py)
                    yield Notification.from_model(row)
                    ctx.platform.deliveries.record(row.id)
                if len(rows) >= notes.REPLAY_BATCH:
                    continue
                # Wait for a wake-up only: the broker's publication, or the process's safety sweep
                # (messaging.hub) when this subscriber is behind the database and the wake-up was lost.
                wake.seen = cursor
                wait = None if expires_at is None else max((expires_at - utcnow()).total_seconds(), 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)
        finally:
            broker.unlisten(actor.user_id, wake)


#: The subjects a roll-up is about (``notificationReceipts(subjectId)``).
RECEIPT_SUBJECT_TYPES = ("Document", "Meeting", "SupervisionItem")


async def receipt_subjects(session: AsyncSession, subject_type: str, pk: int) -> receipts.Subjects:
    """What a roll-up about (``subject_type``, ``pk``) counts: the subject itself, and for a
    Document also its incoming copies (INCOMING_* notifications are about the copies)."""
    if subject_type == "Document":
        copies = select(IncomingDocumentModel.id).where(IncomingDocumentModel.document_id == pk)
        return [("Document", pk), ("IncomingDocument", copies)]
    return [(subject_type, pk)]


async def may_see_receipts(session: AsyncSession, actor: Actor, subject_type: str, pk: int) -> bool:
    """Whether ``actor`` manages the subject's notices and sees all of their receipts (anyone
    else sees those of the notices they sent): a Document's sending side
    (``documents.dispatch.is_sender``), a Meeting's organisers (``meetings.access.is_organiser``),
    a SupervisionItem's creator; nobody for other types."""
    if subject_type == "Document":
        doc = await session.get(DocumentModel, pk)
        return doc is not None and await dispatch.is_sender(session, actor.user_id, doc)
    if subject_type == "Meeting":
        meeting = await session.get(MeetingModel, pk)
        return meeting is not None and is_organiser(actor, meeting)
    if subject_type == "SupervisionItem":
        item = await session.get(SupervisionItemModel, pk)
        return item is not None and item.creator_id == actor.user_id
    return False

"""GraphQL surface of notifications: list, unread count, mark read, live subscription."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncGenerator, Iterable
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocket, WebSocketState
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from messaging import service as notes
from messaging.models import Notification as NotificationModel
from messaging.models import NotificationKind
from messaging.wire import payload_with_global_ids
from office_api.db import utcnow
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import User
from office_api.org.permissions import load_actor
from schema.common import (
    Connection,
    IsAuthenticated,
    UserError,
    decode_cursor,
    decode_ids,
    make_connection,
    page_size,
    require_actor,
    run_mutation,
)

NotificationKindEnum = strawberry.enum(
    NotificationKind,
    name="NotificationKind",
    description="What happened: TASK_ASSIGNED, TASK_CANCELLED, TASK_APPROVED (to the drafter), DOCUMENT_RETURNED, "
    "DOCUMENT_APPROVED, TASK_DELEGATED, TASK_TRANSFERRED, SUBTASK_APPROVED / SUBTASK_RETURNED (to a unit's clerk: a "
    "member acted on a sub-task routed within the unit), DOCUMENT_CIRCULATED (to a reader: 传阅), CIRCULATION_READ "
    "(to the sender: the reader read it), SIGN_OFF_INVALIDATED (to the former signer: the document was edited after "
    "sign-off), DOCUMENT_REVOKED and DOCUMENT_REPEALED (to the drafter and the signer); incoming documents: "
    "INCOMING_ARRIVED (a dispatched document reached your unit: sign for it), INCOMING_YOUR_TURN (the incoming "
    "procedure waits for you: 批示, 分办, 承办 …), INCOMING_RETURNED and INCOMING_REPLIED (to the sender: a "
    "recipient unit returned or replied).",
)

#: Seconds a subscription waits for a wake-up before re-reading the database anyway.
RECHECK_SECONDS = 15.0
#: Websocket close code when the token expires or the account is disabled while subscribed.
CLOSE_FORBIDDEN = 4403


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
    created_at: dt.datetime = strawberry.field(description="UTC instant of the event.")
    read_at: dt.datetime | None = strawberry.field(description="UTC instant you marked it read; null while unread.")

    @classmethod
    def from_model(cls, m: NotificationModel) -> Notification:
        data = payload_with_global_ids(m.payload)
        return cls(
            id=m.id,
            sequence=m.seq,
            kind=NotificationKind(m.kind),
            title=m.title,
            body=m.body,
            subject_type=m.subject_type,
            subject_id=relay.GlobalID(m.subject_type, str(m.subject_id)) if m.subject_type and m.subject_id else None,
            data=data,
            created_at=m.created_at,
            read_at=m.read_at,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Notification | None]:
        return [None for _ in node_ids]


@strawberry.input(description="Which notifications to mark read.")
class MarkNotificationsReadInput:
    ids: list[relay.GlobalID] | None = strawberry.field(
        default=None, description="Your notifications to mark read (at most 500); omit to mark all read."
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


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(
        description="Mark your notifications read (some or all).", permission_classes=[IsAuthenticated]
    )
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        actor = await require_actor(info)

        async def work(uow):
            if input.ids is not None and len(input.ids) > 500:
                raise DomainError(ErrorCode.TOO_MANY, "ids", limit=500)
            ids = decode_ids(input.ids, "Notification", "ids") if input.ids is not None else None
            return await notes.mark_read(uow, actor.user_id, ids)

        marked, errors = await run_mutation(info, work)
        async with info.context.db.read() as s:
            unread = await notes.unread_count(s, actor.user_id)
        return MarkNotificationsReadPayload(marked=marked or 0, unread_count=unread, errors=errors)


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
        expires_at = ctx.claims.expires_at if ctx.claims is not None else None
        wake = broker.listen(actor.user_id)
        cursor = max(after, 0)
        try:
            while True:
                wake.clear()
                if expires_at is not None and utcnow() >= expires_at:
                    await _end_stream(info, "Token expired")
                    return
                async with ctx.db.read() as s:
                    active = await load_actor(s, actor.user_id, ctx.claims) is not None
                    rows = await notes.notifications_after(s, actor.user_id, cursor) if active else []
                    ended = None if active else await _why_ended(s, actor.user_id)
                if ended is not None:
                    await _end_stream(info, ended)
                    return
                for row in rows:
                    cursor = row.seq
                    yield Notification.from_model(row)
                if len(rows) >= notes.REPLAY_BATCH:
                    continue
                wait = RECHECK_SECONDS
                if expires_at is not None:
                    wait = max(min(wait, (expires_at - utcnow()).total_seconds()), 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)
        finally:
            broker.unlisten(actor.user_id, wake)


async def _why_ended(session: AsyncSession, user_id: int) -> str:
    """The close reason for a subscriber whose actor no longer loads: the account was
    disabled, or the session's tokens were revoked (logout, password change or reset,
    refresh-token reuse)."""
    user = await session.get(User, user_id)
    return "User disabled" if user is None or not user.is_active else "Session ended"


async def _end_stream(info: Info, reason: str) -> None:
    """Stop a subscriber whose token expired or whose account was disabled.

    On a websocket: close it with 4403 so that the client signs in again and resumes from
    its last sequence number, then wait for the protocol handler, which sees the
    disconnect and cancels the operation (returning instead would make it send
    "complete" on the closed socket). Over HTTP the stream just ends.
    """
    ws = getattr(info.context, "request", None)
    if not isinstance(ws, WebSocket):
        return
    if ws.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError):  # another subscription closed it first
            await ws.close(code=CLOSE_FORBIDDEN, reason=reason)
    await asyncio.Event().wait()

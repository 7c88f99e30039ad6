"""Websocket connection life: the guard that closes sockets whose token stopped being valid,
heartbeats, the per-user connection cap, and one encoding per event.

Protocol handlers (set on :class:`office_api.app.OfficeGraphQLRouter`):

- :class:`OfficeTransportWSHandler` (graphql-transport-ws, strawberry's
  ``BaseGraphQLTransportWSHandler``) and :class:`OfficeLegacyWSHandler` (the legacy
  ``graphql-ws`` protocol, only when ``OFFICE_WS_LEGACY_PROTOCOL=true``). After
  ``connection_ack`` each connection is registered in the process's
  :class:`ConnectionRegistry` with its user id and token claims.

Close codes (README "Connection life"):

- 4401 ``Token expired``: at the token's exact ``exp`` (a timer per connection).
- 4401 ``Session ended``: logout of that session, password change or reset, reuse of a
  spent refresh token (the token's ``jti``/``tv``/refresh family was revoked).
- 4400 (strawberry's reason, e.g. ``WebSocket message must be valid JSON``): a frame that is
  not a protocol message (binary, not JSON, not an object with a string ``type``, a
  ``subscribe``/``start`` without a string ``id`` or ``query``); at any time, before
  ``connection_init`` too, and on both protocols (:func:`malformed`).
- 4403 ``Forbidden``: ``connection_init`` without a valid token (the legacy protocol sends
  its ``connection_error`` message first).
- 4403 ``User disabled``: the account was disabled (or deleted).
- 4408 ``Connection initialisation timeout``: no ``connection_init`` within
  ``OFFICE_WS_INIT_TIMEOUT_SECONDS``.
- 4429 ``Too many connections``: the user opened more than
  ``OFFICE_WS_MAX_CONNECTIONS_PER_USER`` sockets on this process; the oldest is closed.
- 4499 ``Heartbeat timeout``: nothing (a pong or any message) arrived within
  ``OFFICE_WS_PONG_TIMEOUT_SECONDS`` after a server ping (graphql-ws's own code for a
  frozen socket, which its reference client retries).

Revocation is noticed at once when the broker wakes the user (logout, disabling and
password changes publish the user) and in any case by a sweep every
``OFFICE_WS_RECHECK_SECONDS`` (≤ 30 s) that re-checks every connection of the process in
a constant number of queries (:meth:`ConnectionRegistry.check`).

strawberry has no public call to close an acknowledged socket: ``close_connection`` marks
the handler closed (later sends are dropped, so no ``complete`` follows the close), cancels
its operations and closes the websocket; the handler's own shutdown then awaits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Collection, Hashable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.unset import UnsetType

from office_api.auth import AccessClaims
from office_api.db import Database, utcnow
from office_api.org.models import RefreshToken, RevokedToken, User

if TYPE_CHECKING:
    from strawberry.schema.schema import StreamResult

    from office_api.config import Settings

log = logging.getLogger("office_api.ws")

CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_INIT_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429
CLOSE_HEARTBEAT = 4499
TOKEN_EXPIRED = "Token expired"
SESSION_ENDED = "Session ended"
USER_DISABLED = "User disabled"
TOO_MANY = "Too many connections"
HEARTBEAT_TIMEOUT = "Heartbeat timeout"
FORBIDDEN = "Forbidden"
# strawberry's own reasons for 4400, so that both protocols say the same
NOT_TEXT = "WebSocket message type must be text"
NOT_JSON = "WebSocket message must be valid JSON"
NOT_A_MESSAGE = "Failed to parse message"

#: Values per ``IN (...)`` list of a re-check statement (well under SQLite's and asyncpg's
#: bound-parameter limits): up to this many users/tokens, a check is at most 3 statements.
CHECK_CHUNK = 1000
#: Encoded "next" payloads kept for reuse by the other sockets of the same person.
ENCODE_CACHE_SIZE = 512

#: Set by a subscription resolver to the id of the database row behind the value it is about
#: to yield (schema/notifications.py): equal ids with equal queries encode to the same text.
current_event: ContextVar[int | None] = ContextVar("office_ws_current_event", default=None)


class Closable(Protocol):
    async def close_connection(self, code: int, reason: str) -> None: ...


@dataclass(eq=False)
class Guard:
    """One acknowledged websocket: whose it is, the token it was opened with, its handler."""

    user_id: int
    claims: AccessClaims | None
    handler: Closable
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class ConnectionRegistry:
    """The acknowledged websockets of this server process, and the tasks that close them.

    One wake-up listener per user with open sockets (``broker.listen``), one task that
    re-checks the woken users' connections at once and every connection every
    ``settings.ws_recheck_seconds``, and one timer per connection at its token's expiry.
    """

    def __init__(
        self, settings: Settings, db: Database, broker: Any, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.settings = settings
        self.db = db
        self.broker = broker
        self.clock = clock
        self._by_user: dict[int, dict[Guard, None]] = {}
        self._watchers: dict[int, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        self._dirty: set[int] = set()
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._encoded: OrderedDict[Hashable, str] = OrderedDict()
        #: "next" payloads encoded (cache misses) and reused (hits), for tests and metrics.
        self.encodings = 0
        self.encoding_reuses = 0

    # ---- membership -----------------------------------------------------------------

    def register(self, user_id: int, claims: AccessClaims | None, handler: Closable) -> Guard:
        """Track an acknowledged connection; over the per-user cap, close the user's oldest
        connection (4429). Starts its expiry timer and, for the user's first connection, the
        broker listener."""
        guard = Guard(user_id, claims, handler)
        conns = self._by_user.setdefault(user_id, {})
        conns[guard] = None
        if user_id not in self._watchers:
            ev = self.broker.listen(user_id)
            self._watchers[user_id] = (ev, asyncio.create_task(self._watch(user_id, ev)))
        if claims is not None:
            loop = asyncio.get_running_loop()
            delay = (claims.expires_at - self.clock()).total_seconds()
            guard.timer = loop.call_later(max(delay, 0.0), self._close_soon, guard, CLOSE_UNAUTHORIZED, TOKEN_EXPIRED)
        while len(conns) > self.settings.ws_max_connections_per_user:
            oldest = next(iter(conns))
            self._close_soon(oldest, CLOSE_TOO_MANY, TOO_MANY)
        return guard

    def unregister(self, guard: Guard) -> None:
        """Forget a connection (idempotent); the user's listener goes with their last one."""
        if guard.timer is not None:
            guard.timer.cancel()
            guard.timer = None
        conns = self._by_user.get(guard.user_id)
        if conns is None or guard not in conns:
            return
        del conns[guard]
        if not conns:
            del self._by_user[guard.user_id]
            ev, task = self._watchers.pop(guard.user_id)
            task.cancel()
            self.broker.unlisten(guard.user_id, ev)

    def connections(self, user_id: int | None = None) -> list[Guard]:
        """The open connections of ``user_id`` (oldest first), or of everyone."""
        if user_id is not None:
            return list(self._by_user.get(user_id, ()))
        return [g for conns in self._by_user.values() for g in conns]

    # ---- checking -------------------------------------------------------------------

    async def check(self, guards: Collection[Guard]) -> list[tuple[Guard, int, str]]:
        """The connections among ``guards`` whose token is no longer valid, with the close
        code and reason: 4403 ``User disabled`` (account missing or inactive), 4401
        ``Token expired``, 4401 ``Session ended`` (token version bumped, ``jti`` revoked, or
        refresh family revoked; the same rules as ``auth.token_revoked``).

        Three statements at most (users, revoked jtis, revoked families) per
        :data:`CHECK_CHUNK` distinct values, whatever the number of connections."""
        if not guards:
            return []
        now = self.clock()
        user_ids = sorted({g.user_id for g in guards})
        jtis = sorted({g.claims.jti for g in guards if g.claims is not None})
        families = sorted({g.claims.family for g in guards if g.claims is not None and g.claims.family})
        users: dict[int, tuple[bool, int]] = {}
        revoked_jtis: set[str] = set()
        revoked_families: set[str] = set()
        async with self.db.read() as s:
            for chunk in _chunks(user_ids):
                rows = await s.execute(select(User.id, User.is_active, User.token_version).where(User.id.in_(chunk)))
                users.update((r.id, (bool(r.is_active), r.token_version or 0)) for r in rows)
            for chunk in _chunks(jtis):
                revoked_jtis.update(
                    (await s.execute(select(RevokedToken.jti).where(RevokedToken.jti.in_(chunk)))).scalars()
                )
            for chunk in _chunks(families):
                stmt = (
                    select(RefreshToken.family_id)
                    .where(RefreshToken.family_id.in_(chunk), RefreshToken.revoked_at.is_not(None))
                    .distinct()
                )
                revoked_families.update((await s.execute(stmt)).scalars())
        out = []
        for g in guards:
            user = users.get(g.user_id)
            c = g.claims
            if user is None or not user[0]:
                out.append((g, CLOSE_FORBIDDEN, USER_DISABLED))
            elif c is not None and c.expires_at <= now:
                out.append((g, CLOSE_UNAUTHORIZED, TOKEN_EXPIRED))
            elif c is not None and (
                c.token_version != user[1]
                or c.jti in revoked_jtis
                or (c.family is not None and c.family in revoked_families)
            ):
                out.append((g, CLOSE_UNAUTHORIZED, SESSION_ENDED))
        return out

    async def enforce(self, guards: Collection[Guard]) -> int:
        """Check ``guards`` and close those no longer valid; returns how many were closed."""
        ended = await self.check(guards)
        for guard, code, reason in ended:
            self._close_soon(guard, code, reason)
        return len(ended)

    # ---- background work ------------------------------------------------------------

    async def start(self) -> None:
        """Start the re-check task (in the app's lifespan)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop every background task (before the database closes)."""
        tasks = [t for _, t in self._watchers.values()]
        if self._task is not None:
            tasks.append(self._task)
            self._task = None
        for ev_task in tasks:
            ev_task.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for guard in self.connections():
            if guard.timer is not None:
                guard.timer.cancel()

    async def _watch(self, user_id: int, ev: asyncio.Event) -> None:
        """Mark the user for an immediate re-check whenever the broker wakes them."""
        while True:
            await ev.wait()
            ev.clear()
            self._dirty.add(user_id)
            self._kick.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.settings.ws_recheck_seconds
        next_sweep = loop.time() + period
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(next_sweep - loop.time(), 0.0)):
                    await self._kick.wait()
            self._kick.clear()
            if loop.time() >= next_sweep:
                self._dirty.clear()
                guards = self.connections()
                next_sweep = loop.time() + period
            else:
                users, self._dirty = self._dirty, set()
                guards = [g for uid in users for g in self._by_user.get(uid, ())]
            try:
                await self.enforce(guards)
            except Exception as exc:  # the database is down: the next sweep tries again
                log.warning("websocket re-check failed", extra={"error": type(exc).__name__})

    def _close_soon(self, guard: Guard, code: int, reason: str) -> None:
        """Unregister ``guard`` now and close its socket in a task of its own (nothing when
        it was unregistered already: closed, or evicted by an earlier verdict)."""
        if guard not in self._by_user.get(guard.user_id, ()):
            return
        self.unregister(guard)
        log.info("websocket closed", extra={"user_id": guard.user_id, "code": code, "reason": reason})
        task = asyncio.create_task(self._close(guard, code, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(guard: Guard, code: int, reason: str) -> None:
        try:
            await guard.handler.close_connection(code, reason)
        except Exception as exc:  # the socket is gone anyway; the handler's shutdown cleans up
            log.warning("websocket close failed", extra={"user_id": guard.user_id, "error": type(exc).__name__})

    # ---- one encoding per event -----------------------------------------------------

    def encoded(self, key: Hashable, encode: Callable[[], str]) -> str:
        """The text ``encode()`` returned for ``key`` (kept in a small LRU), computed once."""
        text = self._encoded.get(key)
        if text is not None:
            self._encoded.move_to_end(key)
            self.encoding_reuses += 1
            return text
        text = encode()
        self.encodings += 1
        self._encoded[key] = text
        if len(self._encoded) > ENCODE_CACHE_SIZE:
            self._encoded.popitem(last=False)
        return text


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(values), CHECK_CHUNK):
        yield values[i : i + CHECK_CHUNK]


def _registry(context: Any) -> ConnectionRegistry | None:
    platform = getattr(context, "platform", None)
    return getattr(platform, "connections", None)


def _socket_open(websocket: Any) -> bool:
    ws = getattr(websocket, "ws", None)  # strawberry's ASGIWebSocketAdapter keeps the Starlette socket here
    return ws is None or ws.application_state == WebSocketState.CONNECTED


async def _close_socket(websocket: Any, code: int, reason: str) -> None:
    if not _socket_open(websocket):
        return  # closed already (e.g. by a subscription's own end-of-stream check)
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, WebSocketDisconnected):
        await websocket.close(code=code, reason=reason)


@dataclass(frozen=True)
class InvalidFrame:
    """What :class:`OfficeWebSocketAdapter` yields, when asked to pass parse failures on,
    in place of a frame that is not JSON text; ``reason`` is the 4400 close reason."""

    reason: str


class OfficeWebSocketAdapter(ASGIWebSocketAdapter):
    """strawberry's ASGI websocket adapter with frames decoded by plain ``json.loads``.

    The router's ``decode_json`` is for HTTP bodies (it raises an HTTP 400, which in a
    websocket escaped as an unhandled exception). A frame that is not JSON raises
    ``NonJsonMessageReceived`` (a binary one ``NonTextMessageReceived``), on which the
    graphql-transport-ws handler closes 4400. With ``ignore_parsing_errors`` (the legacy
    handler asks so, meaning "skip them") the failure is yielded as an :class:`InvalidFrame`
    instead, so that the legacy handler closes 4400 too."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        ws = self.ws
        try:
            while ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    text = await ws.receive_text()
                except KeyError as exc:  # a binary frame
                    if not ignore_parsing_errors:
                        raise NonTextMessageReceived from exc
                    yield InvalidFrame(NOT_TEXT)
                    continue
                try:
                    message = json.loads(text)
                except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
                    message = InvalidFrame(NOT_JSON)
                yield message
        except WebSocketDisconnect:
            pass


#: The operation-starting and -ending message types of each protocol.
TRANSPORT_OPERATION = ("subscribe", "complete")
LEGACY_OPERATION = ("start", "stop")


def malformed(message: object, operation: tuple[str, str]) -> str | None:
    """Why ``message`` (a decoded frame) is not a protocol message, or ``None`` when it is one.

    A message is a JSON object with a string ``type``; the protocol's ``operation`` messages
    (``subscribe``/``complete`` in graphql-transport-ws, ``start``/``stop`` in the legacy
    protocol) carry a string ``id``, and the starting one a ``payload`` object with a string
    ``query``, ``variables`` an object or null and ``operationName`` a string or null
    (graphql-transport-ws PROTOCOL.md; the legacy protocol has the same shapes). The reason
    is the 4400 close reason. Other message types are left to the protocol's handler."""
    if isinstance(message, InvalidFrame):
        return message.reason
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return NOT_A_MESSAGE
    kind = message["type"]
    if kind in operation and not isinstance(message.get("id"), str):
        return NOT_A_MESSAGE
    if kind == operation[0]:
        payload = message.get("payload")
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("query"), str)
            or not isinstance(payload.get("variables"), dict | None)
            or not isinstance(payload.get("operationName"), str | None)
        ):
            return NOT_A_MESSAGE
    return None


class _GuardMixin:
    """Registration after connection_ack and a close that strawberry's handlers lack."""

    context: Any
    websocket: Any
    guard: Guard | None
    closed: bool
    _cancelled: list[asyncio.Task[Any]]

    async def _register(self) -> None:
        registry = _registry(self.context)
        actor = await self.context.get_actor()  # cached by on_ws_connect: no query
        if registry is None or actor is None or self.guard is not None or self.closed:
            return
        self.guard = registry.register(actor.user_id, getattr(self.context, "claims", None), self)  # type: ignore[arg-type]

    def _unregister(self) -> None:
        registry = _registry(self.context)
        if registry is not None and self.guard is not None:
            registry.unregister(self.guard)

    def _cancel(self, task: asyncio.Task[Any] | None) -> None:
        """Cancel an operation's task once. It must not be cancelled a second time (by the
        handler's shutdown): a second cancel while SQLAlchemy gracefully closes a connection
        the first one interrupted leaves that close task pending ("Task was destroyed")."""
        if task is not None:
            task.cancel()
            self._cancelled.append(task)

    async def _await_cancelled(self) -> None:
        for task in self._cancelled:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class OfficeTransportWSHandler(_GuardMixin, BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws with the connection guard, server pings, and shared encodings."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = None
        self.closed = False
        self._cancelled = []
        self._last_received = asyncio.get_running_loop().time()
        self._heartbeat: asyncio.Task[None] | None = None

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.closed = True
            if self._heartbeat is not None:
                self._heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._heartbeat
            await self._await_cancelled()
            self._unregister()

    async def handle_message(self, message: Any) -> None:
        self._last_received = asyncio.get_running_loop().time()
        if (reason := malformed(message, TRANSPORT_OPERATION)) is not None:
            await self.handle_invalid_message(reason)
            return
        await super().handle_message(message)

    async def handle_invalid_message(self, error_message: str) -> None:
        """Close 4400 with ``error_message``, cancelling the socket's operations first."""
        await self.close_connection(CLOSE_BAD_MESSAGE, error_message)

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.guard is None and not self.closed:
            await self._register()
            self._heartbeat = asyncio.create_task(self._beat())

    async def close_connection(self, code: int, reason: str) -> None:
        """Close an acknowledged socket from outside the protocol: nothing is sent after
        the close frame, every operation is cancelled (their ``finally`` blocks run in the
        handler's shutdown). Idempotent."""
        if self.closed:
            return
        self.closed = True
        for op_id in list(self.operations):
            self._cancel(self.operations.pop(op_id).task)  # awaited at the end of handle()
        await _close_socket(self.websocket, code, reason)

    async def handle_subscribe(self, message: Any) -> None:
        if not self.closed:  # a subscribe that crossed our close frame starts nothing
            await super().handle_subscribe(message)

    async def send_message(self, message: Any) -> None:
        if self.closed or not _socket_open(self.websocket):
            return
        await super().send_message(message)

    async def _beat(self) -> None:
        """Ping every ``ws_ping_seconds``; close 4499 when nothing arrived within
        ``ws_pong_timeout_seconds`` of a ping."""
        settings = self.context.settings
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + settings.ws_ping_seconds
        with contextlib.suppress(WebSocketDisconnected):
            while not self.closed:
                await asyncio.sleep(max(next_ping - loop.time(), 0.0))
                sent = loop.time()
                await self.send_message({"type": "ping"})
                next_ping = sent + settings.ws_ping_seconds
                await asyncio.sleep(settings.ws_pong_timeout_seconds)
                if self._last_received < sent:
                    await self.close_connection(CLOSE_HEARTBEAT, HEARTBEAT_TIMEOUT)
                    return

    async def _send_result_stream(self, operation: Operation[Any, Any], result_source: StreamResult) -> None:
        # strawberry 0.341's loop, with "next" payloads of database events encoded once per
        # process (shared by the person's other sockets with the same query).
        is_first_result = True
        async for result in result_source:
            event_id = current_event.get()
            current_event.set(None)
            if is_first_result and isinstance(result, PreExecutionError):
                await self._handle_pre_execution_error(operation, result)
                return
            if not isinstance(result, ExecutionResult):
                await self._reject_incremental_delivery(operation)
                return
            registry = _registry(self.context)
            if event_id is None or registry is None or result.errors or result.extensions:
                await operation.send_next(result)
            else:
                await self._send_shared_next(registry, operation, event_id, result)
            is_first_result = False

    async def _send_shared_next(
        self, registry: ConnectionRegistry, operation: Operation[Any, Any], event_id: int, result: ExecutionResult
    ) -> None:
        variables = {k: v for k, v in (operation.variables or {}).items() if k != "after"}
        key = (
            event_id,
            operation.query,
            operation.operation_name,
            json.dumps(variables, sort_keys=True, default=str),
            getattr(self.context, "lang", None),
        )
        payload = registry.encoded(key, lambda: self.view.encode_json({"data": result.data}))
        if operation.completed or self.closed or not _socket_open(self.websocket):
            return
        text = f'{{"id":{json.dumps(operation.id)},"type":"next","payload":{payload}}}'
        ws = getattr(self.websocket, "ws", None)
        if ws is None:  # not the ASGI adapter: no text channel to reuse
            await operation.send_next(result)
            return
        try:
            await ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class OfficeLegacyWSHandler(_GuardMixin, BaseGraphQLWSHandler[Any, Any]):
    """The legacy graphql-ws protocol (only with ``OFFICE_WS_LEGACY_PROTOCOL=true``): the same
    authentication and guard, an init timeout (4408), and ``ka`` keep-alives every
    ``ws_ping_seconds`` (the protocol has no pong, so no heartbeat timeout)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = None
        self.closed = False
        self._cancelled = []
        self._sources: list[Any] = []
        self._init_received = False

    async def handle(self) -> None:
        timer = asyncio.create_task(self._init_timeout())
        try:
            await super().handle()
        finally:
            self.closed = True
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await timer
            await self._await_cancelled()
            for source in self._sources:
                with contextlib.suppress(Exception):
                    await source.aclose()
            self._unregister()

    async def _init_timeout(self) -> None:
        await asyncio.sleep(self.context.settings.ws_init_timeout_seconds)
        if not self._init_received:
            await self.close_connection(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")

    async def handle_message(self, message: Any) -> None:
        """Close 4400 on a frame that is not a protocol message (strawberry would raise on
        it); message types the protocol does not know are ignored, as strawberry does."""
        if (reason := malformed(message, LEGACY_OPERATION)) is not None:
            await self.close_connection(CLOSE_BAD_MESSAGE, reason)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        """strawberry 0.341's legacy ``connection_init`` with the close codes of
        graphql-transport-ws: ``connection_error`` then 4403 ``Forbidden`` for a rejected
        token (strawberry: 1011 without reason), 4400 ``Invalid connection init payload``
        (strawberry: 1000), 4429 ``Too many initialisation requests`` for a second one
        (strawberry acknowledged it again and started a second keep-alive task)."""
        self._init_received = True
        if self.connection_acknowledged:
            await self.close_connection(CLOSE_TOO_MANY, "Too many initialisation requests")
            return
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            await self.send_message({"type": "connection_error"})
            await self.close_connection(CLOSE_BAD_MESSAGE, "Invalid connection init payload")
            return
        self.context.connection_params = payload
        try:
            ack_payload = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as exc:
            await self.send_message({"type": "connection_error", "payload": exc.payload})
            await self.close_connection(CLOSE_FORBIDDEN, FORBIDDEN)
            return
        if self.closed:  # the init timeout fired while authenticating
            return
        if isinstance(ack_payload, UnsetType) or ack_payload is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack_payload})
        self.connection_acknowledged = True
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())
        await self._register()

    async def close_connection(self, code: int, reason: str) -> None:
        """As :meth:`OfficeTransportWSHandler.close_connection` (no ``complete`` after the close)."""
        if self.closed:
            return
        self.closed = True
        for op_id in list(self.tasks):
            self._cancel(self.tasks.pop(op_id))  # awaited at the end of handle()
            source = self.subscriptions.pop(op_id, None)
            if source is not None:
                self._sources.append(source)
        await _close_socket(self.websocket, code, reason)

    async def send_message(self, message: Any) -> None:
        if self.closed or not _socket_open(self.websocket):
            return
        await super().send_message(message)

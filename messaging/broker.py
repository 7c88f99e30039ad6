"""Wake-up signals for subscribers: which users have new notifications.

The database row is the truth; the broker only says "user N has something new", after
commit. Subscribers then read every row after their cursor, so a lost or duplicated signal
never loses or duplicates a notification: a lost one only delays delivery until the next
safety sweep (:mod:`messaging.hub`) or, with Redis, until the subscription comes back.

Two brokers share one interface (:class:`Broker`):

``InProcessBroker``
    One server process (the default, ``OFFICE_BROKER_URL`` empty).
``RedisBroker``
    Several server processes (``OFFICE_BROKER_URL=redis://…``, DESIGN.md §4): ONE Redis
    pub/sub subscription per process on ``OFFICE_BROKER_CHANNEL``, whatever the number of
    websockets. ``publish`` wakes this process's listeners directly and sends one message
    with the user ids to the other processes; Redis errors are logged, never raised (the
    change is committed already). Whenever the subscription is (re)established every local
    listener is woken, so that each subscriber re-reads the database: what was published
    while Redis was away is delivered when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from office_api.config import Settings

log = logging.getLogger("messaging.broker")

#: Reconnection of the Redis subscription: the first attempt at once, then waits drawn
#: uniformly from [0, min(RECONNECT_CAP, RECONNECT_BASE × 2^failures)] seconds.
RECONNECT_BASE, RECONNECT_CAP = 0.05, 2.0
#: Seconds to connect to Redis, and to wait for a PUBLISH answer: the most a publication
#: delays its caller when Redis stops answering.
REDIS_TIMEOUT = 2.0
#: An idle subscription PINGs Redis this often (seconds); with no answer of any kind for
#: three times as long it counts as lost and is re-established (a silently dead link).
IDLE_PING_SECONDS = 5.0
#: How long ``RedisBroker.start`` waits for its first subscription before serving anyway.
START_WAIT_SECONDS = 3.0


class Listener(asyncio.Event):
    """A subscriber's wake-up event. ``seen`` is the last sequence number the subscriber has
    read (None: it does not say), so that the safety sweep wakes only those behind."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: int | None = None


@runtime_checkable
class Broker(Protocol):
    """What the platform needs of a broker (``Platform.broker``).

    ``listen(user_id)`` returns a :class:`Listener` that is set whenever the user may have
    news; ``publish(user_ids)`` (after commit) sets them, in every server process, and never
    raises; ``local_listeners()`` is a snapshot of this process's listeners per user.
    """

    def listen(self, user_id: int) -> Listener: ...

    def unlisten(self, user_id: int, ev: asyncio.Event) -> None: ...

    async def publish(self, user_ids: Iterable[int]) -> None: ...

    def listener_count(self, user_id: int) -> int: ...

    def local_listeners(self) -> Mapping[int, tuple[Listener, ...]]: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class InProcessBroker:
    """Per-user wake-up events inside one server process."""

    def __init__(self) -> None:
        self._waiters: dict[int, set[Listener]] = defaultdict(set)

    def listen(self, user_id: int) -> Listener:
        """Register a waiter for ``user_id``; it is set whenever the user has news."""
        ev = Listener()
        self._waiters[user_id].add(ev)
        return ev

    def unlisten(self, user_id: int, ev: asyncio.Event) -> None:
        waiters = self._waiters.get(user_id)
        if waiters is not None:
            waiters.discard(ev)  # type: ignore[arg-type]
            if not waiters:
                del self._waiters[user_id]

    async def publish(self, user_ids: Iterable[int]) -> None:
        """Wake every listener of the given users (called after commit)."""
        self.wake(user_ids)

    def wake(self, user_ids: Iterable[int]) -> None:
        """Set the listeners of ``user_ids`` in this process."""
        for uid in set(user_ids):
            for ev in list(self._waiters.get(uid, ())):
                ev.set()

    def wake_all(self) -> int:
        """Set every listener of this process; returns how many."""
        count = 0
        for waiters in list(self._waiters.values()):
            for ev in list(waiters):
                ev.set()
                count += 1
        return count

    def listener_count(self, user_id: int) -> int:
        return len(self._waiters.get(user_id, ()))

    def local_listeners(self) -> dict[int, tuple[Listener, ...]]:
        """A snapshot: user id -> that user's listeners in this process."""
        return {uid: tuple(waiters) for uid, waiters in self._waiters.items() if waiters}

    async def start(self) -> None:
        """Nothing to start in one process."""

    async def close(self) -> None:
        self._waiters.clear()


def encode_users(origin: str, user_ids: Iterable[int]) -> bytes:
    """One wake-up message: ``<origin>:<id>,<id>,…`` (ASCII decimal ids, ascending, unique).

    ``origin`` names the sending process, which ignores its own messages (it woke its
    listeners directly).
    """
    return f"{origin}:{','.join(str(uid) for uid in sorted(set(user_ids)))}".encode("ascii")


def decode_users(data: bytes | str) -> tuple[str, list[int]]:
    """The origin and the user ids of a wake-up message; ValueError if it is not one."""
    text = data.decode("ascii") if isinstance(data, bytes) else data
    origin, sep, ids = text.partition(":")
    if not sep or not origin:
        raise ValueError("not a wake-up message")
    return origin, [int(part) for part in ids.split(",") if part]


class RedisBroker(InProcessBroker):
    """Wake-up signals across server processes through one Redis pub/sub channel.

    ``url``: ``redis://``, ``rediss://`` or ``unix://`` (redis-py's URL forms); ``channel``:
    the pub/sub channel every process of the platform shares. :meth:`start` starts the
    listening task (one subscription for the whole process); :meth:`close` stops it.
    """

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.url, self.channel = url, channel
        self.origin = uuid.uuid4().hex[:12]
        self.connects = 0  #: how many times the subscription was established
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._publish_failing = False
        # Publications fail fast: one immediate retry (a pooled connection that died with a
        # Redis restart), short timeouts; the subscription is re-established below instead.
        self._publisher: Redis = Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 1),
        )
        self._retry = Retry(ExponentialWithJitterBackoff(base=RECONNECT_BASE, cap=RECONNECT_CAP), -1)

    @property
    def connected(self) -> bool:
        """True while this process's subscription is established."""
        return self._ready.is_set()

    async def wait_connected(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the subscription; True once it is established."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), seconds)
        return self._ready.is_set()

    async def start(self) -> None:
        """Start the listening task and wait (at most ``START_WAIT_SECONDS``) for the
        subscription; if Redis does not answer, serve anyway (delivery waits for Redis or
        the sweep)."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="office-broker-redis")
        if not await self.wait_connected(START_WAIT_SECONDS):
            log.warning("Redis broker: no subscription yet on %s; retrying in the background", self.channel)

    async def publish(self, user_ids: Iterable[int]) -> None:
        """Wake the listeners of ``user_ids`` here, and send one message to the other processes.

        Never raises: on a Redis error (or while this process's own subscription is down,
        when Redis is presumably away) the message is dropped with a warning, once per outage;
        the other processes catch up when their subscription returns or at their next sweep.
        """
        users = set(user_ids)
        if not users:
            return
        self.wake(users)
        if not self._ready.is_set():
            log.debug("Redis broker: subscription down, publication to %s users left to the sweep", len(users))
            return
        try:
            await self._publisher.publish(self.channel, encode_users(self.origin, users))
        except (RedisError, OSError) as exc:
            if not self._publish_failing:
                log.warning(
                    "Redis broker: publish failed (%s); other processes catch up when Redis returns",
                    type(exc).__name__,
                )
            self._publish_failing = True
            return
        if self._publish_failing:
            log.info("Redis broker: publishing again")
            self._publish_failing = False

    async def _run(self) -> None:
        """Keep one subscription alive: each established session runs until the link is lost,
        then a new one starts at once; failed attempts back off exponentially (redis-py Retry)."""
        while True:
            try:
                await self._retry.call_with_retry(self._session, self._attempt_failed)
            except Exception as exc:  # a defect, not an outage: report it and keep the process served
                log.error("Redis broker: subscription task failed (%s); restarting", type(exc).__name__)
                await asyncio.sleep(RECONNECT_CAP)

    async def _attempt_failed(self, error: Exception) -> None:
        log.debug("Redis broker: cannot subscribe (%s)", type(error).__name__)

    async def _session(self) -> None:
        """Subscribe, wake every local listener once subscribed, then wake the users named by
        each message. Raises a Redis connection error when subscribing fails (the retry backs
        off); returns when an established subscription is lost."""
        client = Redis.from_url(
            self.url, socket_connect_timeout=REDIS_TIMEOUT, socket_keepalive=True, retry=Retry(NoBackoff(), 0)
        )
        pubsub = client.pubsub()
        established = False
        try:
            await pubsub.subscribe(self.channel)
            heard = time.monotonic()
            while True:
                message = await pubsub.get_message(timeout=IDLE_PING_SECONDS)
                now = time.monotonic()
                if message is None:
                    if now - heard > 3 * IDLE_PING_SECONDS:
                        raise RedisConnectionError("no answer from Redis")
                    await pubsub.ping()
                    continue
                heard = now
                if message["type"] == "subscribe" and not established:
                    established = True
                    self.connects += 1
                    self._ready.set()
                    woken = self.wake_all()
                    if self.connects > 1:
                        log.warning("Redis broker: subscribed again; %s local listeners re-read", woken)
                elif message["type"] == "message":
                    self._deliver(message["data"])
        except (RedisError, OSError) as exc:
            if not established:
                raise RedisConnectionError(type(exc).__name__) from exc
            log.warning("Redis broker: subscription lost (%s); reconnecting", type(exc).__name__)
        finally:
            self._ready.clear()
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    def _deliver(self, data: Any) -> None:
        try:
            origin, users = decode_users(data)
        except (ValueError, UnicodeDecodeError):
            log.warning("Redis broker: ignored a malformed message on %s", self.channel)
            return
        if origin != self.origin:
            self.wake(users)

    async def close(self) -> None:
        """Stop the subscription and drop the connections."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._ready.clear()
        with contextlib.suppress(Exception):
            await self._publisher.aclose()
        await super().close()


def create_broker(settings: Settings) -> Broker:
    """The broker of ``settings``: in-process when ``broker_url`` is empty, else Redis.

    Raises :class:`office_api.config.ConfigurationError` naming ``OFFICE_BROKER_URL`` for any
    other URL. The broker is not started: call ``await broker.start()``.
    """
    settings.check_broker()
    url = settings.broker_url.strip()
    if not url:
        return InProcessBroker()
    return RedisBroker(url, settings.broker_channel)

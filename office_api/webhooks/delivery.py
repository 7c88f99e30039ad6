"""Sending webhook deliveries: claim, sign, POST, and record the outcome with retries.

Claim (exactly one process sends an attempt)
    In a short write transaction a sender picks due ``pending`` deliveries (``SELECT … FOR
    UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serializes write transactions with ``BEGIN
    IMMEDIATE``), counts the attempt and moves ``next_attempt_at`` to the end of a lease
    (the timeout plus :data:`LEASE_MARGIN`), then commits: other processes no longer see
    it as due. No transaction is open during the POST. The outcome is written only if the
    row is still the claimed attempt (same ``attempts``, still pending); a process that dies
    mid-POST leaves the lease to expire and the delivery is sent again (at least once:
    receivers de-duplicate on ``X-Office-Delivery-Id``).

Outcome
    2xx: ``delivered``. A network error, a timeout, 408, 429 or 5xx: retried after
    ``webhook_retry_seconds`` × 2^(attempts−1) (at most a day) plus up to
    ``webhook_retry_jitter`` of it at random, or after ``Retry-After`` when that is longer
    (capped at ``webhook_retry_after_max_seconds``); after ``webhook_max_attempts`` POSTs,
    a dead letter. Any other status (3xx: redirects are not followed; 4xx), a target the
    SSRF check refuses, an endpoint disabled or deleted, a client revoked or without
    ``events:receive``: a dead letter at once. Dead letters wait for an administrator's
    ``replayWebhookDeliveries``.

Request
    ``POST <url>`` with the JSON array of notifications (UTF-8, compact) and the headers
    ``Content-Type: application/json``, ``User-Agent: office-api-webhooks/1``,
    ``X-Office-Webhook-Id`` (the endpoint's global id), ``X-Office-Delivery-Id`` (a UUID,
    the same on every attempt) and ``X-Office-Signature`` (:mod:`security`).

The :class:`Sender` of each server process polls every ``webhook_poll_seconds`` and is
woken right after a commit that queued deliveries in that process; tests call
:meth:`Sender.run_due` with an instant of their choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select, update

from messaging.wire import global_id
from office_api.clients.models import ApiClient
from office_api.clients.service import Scope
from office_api.config import Settings
from office_api.db import Database, utcnow
from office_api.webhooks import security, service
from office_api.webhooks.models import DEAD, DELIVERED, PENDING, Webhook, WebhookDelivery

log = logging.getLogger("office_api.webhooks")

#: Seconds added to the POST timeout for the claim's lease.
LEASE_MARGIN = 60
#: Deliveries claimed (and sent concurrently) at a time.
CLAIM_BATCH = 20
MAX_BACKOFF = dt.timedelta(days=1)
RETRY_STATUSES = frozenset({408, 429})
USER_AGENT = "office-api-webhooks/1"


def backoff(settings: Settings, attempts: int, rand: Callable[[], float] = random.random) -> dt.timedelta:
    """Delay after failed attempt number ``attempts`` (1, 2, …): ``webhook_retry_seconds`` ×
    2^(attempts−1) × (1 + ``webhook_retry_jitter`` × U[0, 1)), at most a day."""
    base = settings.webhook_retry_seconds * 2 ** max(attempts - 1, 0)
    return min(dt.timedelta(seconds=base * (1 + settings.webhook_retry_jitter * rand())), MAX_BACKOFF)


def retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """A ``Retry-After`` header (RFC 9110 §10.2.3: seconds or an HTTP date) as a delay, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return dt.timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, dt.timedelta(0))


@dataclass(frozen=True)
class _Attempt:
    delivery_id: int
    uid: str
    attempt: int
    webhook_id: int
    url: str
    secret: str
    payload: list[dict[str, Any]]


@dataclass(frozen=True)
class _Outcome:
    status: str  # DELIVERED, PENDING (retry) or DEAD
    http_status: int | None
    error: str | None
    retry_at: dt.datetime | None = None


class Sender:
    """Sends due webhook deliveries of ``db``; one per server process."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Callable[[], dt.datetime] = utcnow,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due deliveries now (called after a commit that queued some)."""
        self._wake.set()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                transport=self._transport, follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}
            )
        return self._http

    async def run_due(self, now: dt.datetime | None = None) -> int:
        """Send every delivery due at ``now`` (default: the clock), :data:`CLAIM_BATCH` at a
        time, and record the outcomes at ``now``. Returns how many deliveries were claimed (each
        POSTed once, or made a dead letter without a POST when its endpoint or client may no
        longer receive)."""
        total = 0
        while not self._stop.is_set():
            at = now or self.clock()
            claimed, attempts = await self._claim(at)
            if not claimed:
                break
            outcomes = await asyncio.gather(*(self._send_safely(a, at) for a in attempts))
            for a, o in zip(attempts, outcomes, strict=True):
                await self._record(a, o, at)
            total += claimed
        return total

    async def _claim(self, now: dt.datetime) -> tuple[int, list[_Attempt]]:
        """Claim due deliveries: (how many, the attempts to POST)."""
        lease = now + dt.timedelta(seconds=self.settings.webhook_timeout_seconds + LEASE_MARGIN)
        due = select(WebhookDelivery.id).where(
            WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now
        )
        async with self.db.read() as s:  # a poll with nothing due takes no write lock (SQLite)
            if (await s.execute(due.limit(1))).first() is None:
                return 0, []
        async with self.db.unit_of_work() as uow:
            session = uow.session
            stmt = (
                select(WebhookDelivery)
                .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(CLAIM_BATCH)
                .execution_options(populate_existing=True)
            )
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list((await session.execute(stmt)).scalars())
            if not rows:
                return 0, []
            hooks = {
                h.id: (h, c)
                for h, c in (
                    await session.execute(
                        select(Webhook, ApiClient)
                        .join(ApiClient, ApiClient.id == Webhook.client_id)
                        .where(Webhook.id.in_({r.webhook_id for r in rows}))
                    )
                ).all()
            }
            out = []
            for row in rows:
                row.attempts += 1
                hook, client = hooks[row.webhook_id]
                reason = None
                if not hook.enabled:
                    reason = "the webhook is disabled"
                elif client.revoked_at is not None:
                    reason = "the client is revoked"
                elif Scope.EVENTS_RECEIVE.value not in client.scope_set:
                    reason = "the client lacks events:receive"
                if reason is not None:
                    row.status, row.dead_at, row.last_status, row.last_error = DEAD, now, None, reason
                    continue
                row.next_attempt_at = lease
                out.append(_Attempt(row.id, row.uid, row.attempts, hook.id, hook.url, hook.secret, list(row.payload)))
            return len(rows), out

    async def _send_safely(self, a: _Attempt, now: dt.datetime) -> _Outcome:
        """:meth:`_send`, with an unexpected failure counted as a failed attempt (retried)."""
        try:
            return await self._send(a, now)
        except Exception as exc:  # a bug or an odd answer must not leave the batch's leases to run out
            log.error("webhook delivery %s failed unexpectedly: %s", a.uid, type(exc).__name__)
            return self._retry(a, now, None, f"internal error: {type(exc).__name__}")

    async def _send(self, a: _Attempt, now: dt.datetime) -> _Outcome:
        settings = self.settings
        try:
            secret = security.decrypt_secret(settings, a.secret)
        except security.SecretKeyError:
            return _Outcome(DEAD, None, "the signing secret does not decrypt (key changed)")
        try:
            await security.check_target(a.url, allow_private=settings.webhook_allow_private)
        except security.TargetRefused as exc:
            return _Outcome(DEAD, None, f"target refused: {exc}")
        body = json.dumps(a.payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Office-Webhook-Id": global_id("Webhook", a.webhook_id),
            "X-Office-Delivery-Id": a.uid,
            security.SIGNATURE_HEADER: security.signature(secret, int(now.timestamp()), body),
        }
        try:
            resp = await self._client().post(
                a.url, content=body, headers=headers, timeout=settings.webhook_timeout_seconds
            )
        except httpx.TimeoutException:
            return self._retry(a, now, None, "timeout")
        except httpx.HTTPError as exc:
            return self._retry(a, now, None, f"network error: {type(exc).__name__}")
        code = resp.status_code
        if 200 <= code < 300:
            return _Outcome(DELIVERED, code, None)
        if code in RETRY_STATUSES or code >= 500:
            return self._retry(a, now, code, f"HTTP {code}", resp.headers.get("retry-after"))
        return _Outcome(DEAD, code, f"HTTP {code}: not retried")

    def _retry(
        self, a: _Attempt, now: dt.datetime, code: int | None, error: str, retry_after_header: str | None = None
    ) -> _Outcome:
        settings = self.settings
        if a.attempt >= settings.webhook_max_attempts:
            return _Outcome(DEAD, code, f"{error}; gave up after {a.attempt} attempts")
        delay = backoff(settings, a.attempt)
        asked = retry_after(retry_after_header, now)
        if asked is not None:
            delay = max(delay, min(asked, dt.timedelta(seconds=settings.webhook_retry_after_max_seconds)))
        return _Outcome(PENDING, code, error, now + delay)

    async def _record(self, a: _Attempt, o: _Outcome, now: dt.datetime) -> None:
        values: dict[str, Any] = {"status": o.status, "last_status": o.http_status, "last_error": o.error}
        if o.status == DELIVERED:
            values["delivered_at"] = now
        elif o.status == DEAD:
            values["dead_at"] = now
            log.warning("webhook delivery %s dead after %s attempt(s): %s", a.uid, a.attempt, o.error)
        else:
            values["next_attempt_at"] = o.retry_at
        async with self.db.unit_of_work() as uow:
            await uow.session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == a.delivery_id,
                    WebhookDelivery.attempts == a.attempt,
                    WebhookDelivery.status == PENDING,
                )
                .values(**values)
            )

    async def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                await self.run_due()
            except Exception as exc:  # the database may be briefly unavailable; try again next poll
                log.error("webhook sender poll failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.webhook_poll_seconds)

    async def start(self) -> None:
        """Register for wake-ups and, when ``scheduler_enabled``, start the polling task."""
        if self.wake not in service._senders:
            service._senders.append(self.wake)
        if self.settings.scheduler_enabled and self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name="office-webhooks")

    async def stop(self, grace_seconds: float = 15.0) -> None:
        """Stop: the attempts in flight finish and are recorded; then close the HTTP client."""
        with contextlib.suppress(ValueError):
            service._senders.remove(self.wake)
        task, self._task = self._task, None
        self._stop.set()
        self._wake.set()
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout=grace_seconds)
            except TimeoutError:
                log.error("webhook sender did not stop within %s s; cancelled", grace_seconds)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

"""The typed GraphQL context: the platform's services, the actor, loaders, language."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strawberry.fastapi import BaseContext

from messaging.broker import Broker
from messaging.hub import NotificationFeed, NotificationSweep
from messaging.push import PushProvider, SmsProvider
from messaging.receipts import DeliveryRecorder
from messaging.service import REPLAY_BATCH
from office_api import audit
from office_api.auth import AccessClaims, decode_access_token
from office_api.clients.service import ClientPrincipal, decode_client_token, load_principal
from office_api.config import Settings
from office_api.db import Database, utcnow
from office_api.errors import DomainError
from office_api.org.permissions import Actor, load_actor
from office_api.scheduler import Scheduler
from office_api.webhooks.delivery import Sender
from office_api.workdays import WorkCalendar, load_calendar
from office_api.ws import ConnectionRegistry
from schema.loaders import Loaders


@dataclass
class Platform:
    """Process-wide services, built once in the app's lifespan."""

    settings: Settings
    db: Database
    #: Wake-up signals for subscribers: in-process, or Redis pub/sub (``OFFICE_BROKER_URL``).
    broker: Broker
    #: The clock of time-based rules (login lockout, deadline clocks: ``UnitOfWork.now``, the scheduler);
    #: tests replace it.
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    #: The runner of scheduled jobs (reminders); built in the app's lifespan.
    scheduler: Scheduler | None = None
    #: The per-process safety sweep that wakes subscribers a lost wake-up missed; built in the lifespan.
    sweep: NotificationSweep | None = None
    #: Buffers the delivered receipts of websocket deliveries (messaging.receipts); the app's
    #: lifespan starts its periodic flush and closes it.
    deliveries: DeliveryRecorder = field(init=False)

    #: Reads woken subscribers' new notifications, many subscribers per query (messaging.hub).
    feed: NotificationFeed = field(init=False)

    def __post_init__(self) -> None:
        self.feed = NotificationFeed(self.db, limit=REPLAY_BATCH)
        self.deliveries = DeliveryRecorder(
            self.db, interval=self.settings.receipt_flush_seconds, clock=lambda: self.clock()
        )

    #: Outbound providers (messaging/push.py): mobile push and SMS, chosen by OFFICE_PUSH_PROVIDER and
    #: OFFICE_SMS_PROVIDER; the logging ones keep what they sent in ``.sent`` (tests read it).
    push: PushProvider | None = None
    sms: SmsProvider | None = None
    #: The open websockets of this process and their guard (office_api/ws.py); built in the app's lifespan.
    connections: ConnectionRegistry | None = None
    #: The sender of webhook deliveries (office_api/webhooks/delivery.py); built in the app's lifespan.
    webhooks: Sender | None = None


def _bearer(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Context(BaseContext):
    """Per request (HTTP) or per connection (websocket).

    The actor is resolved lazily from ``Authorization: Bearer <token>`` (HTTP) or the
    ``connection_init`` payload ``{"authorization": "Bearer <token>"}`` (websocket).
    """

    def __init__(
        self, platform: Platform, *, authorization: str | None, lang: str, client_address: str | None = None
    ) -> None:
        super().__init__()
        self.client_address = client_address
        audit.set_client_address(client_address)
        self.platform = platform
        self.settings = platform.settings
        self.db = platform.db
        self.broker = platform.broker
        self._loaders: Loaders | None = None
        self.lang = lang
        self._authorization = authorization
        self._actor_loaded = False
        self._actor: Actor | None = None
        self.claims: AccessClaims | None = None
        #: The integration client of a client token (``get_client``); None for users.
        self.client: ClientPrincipal | None = None
        self._client_loaded = False
        self._calendar: asyncio.Future[WorkCalendar] | None = None

    @property
    def loaders(self) -> Loaders:
        """The DataLoaders of this request or connection, built on first use (a websocket that
        only streams notifications never needs the forty of them: about 30 KiB saved per socket)."""
        if self._loaders is None:
            self._loaders = Loaders(self.db)
        return self._loaders

    def _token(self) -> str | None:
        if self._authorization is not None:
            return _bearer(self._authorization)
        params = self.connection_params
        if isinstance(params, dict):
            return _bearer(params.get("authorization") or params.get("Authorization"))
        return None

    async def get_actor(self) -> Actor | None:
        """The authenticated, active user, or None (no, invalid or expired token)."""
        if self._actor_loaded:
            return self._actor
        token = self._token()
        actor = None
        if token:
            try:
                self.claims = decode_access_token(self.settings, token)
            except DomainError:
                self.claims = None
            if self.claims is not None:
                async with self.db.read() as session:
                    actor = await load_actor(session, self.claims.user_id, self.claims)
        self._actor, self._actor_loaded = actor, True
        return actor

    async def get_client(self) -> ClientPrincipal | None:
        """The integration client of a client-credentials token, or None (no token, a user
        token, an invalid or expired token, a revoked or rotated client)."""
        if self._client_loaded:
            return self.client
        token = self._token()
        claims = decode_client_token(self.settings, token) if token else None
        if claims is not None:
            async with self.db.read() as session:
                self.client = await load_principal(session, claims)
        self._client_loaded = True
        return self.client

    async def work_calendar(self) -> WorkCalendar:
        """The working-day calendar, read once per request (office_api.workdays)."""
        if self._calendar is None:  # one load shared by the resolvers asking at the same time
            self._calendar = asyncio.ensure_future(self._load_calendar())
        return await self._calendar

    async def _load_calendar(self) -> WorkCalendar:
        async with self.db.read() as session:
            return await load_calendar(session)

    def forget_calendar(self) -> None:
        """Read the calendar again on next use (after a mutation, which may have loaded a year)."""
        self._calendar = None

    def reset_actor(self) -> None:
        """Forget the cached actor (after the websocket's connection_init)."""
        self._actor_loaded = False
        self._actor = None

"""Composition root: ``create_app()`` builds FastAPI + the GraphQL router + the lifespan.

The lifespan opens the database, the broker (in-process, or Redis with ``OFFICE_BROKER_URL``:
:mod:`messaging.broker`), the notification safety sweep (:mod:`messaging.hub`), the
scheduler of timed jobs (:mod:`office_api.scheduler`), the webhook sender
(:mod:`office_api.webhooks.delivery`) and the websocket connection guard (:mod:`office_api.ws`);
their tasks stop before the database closes.

Endpoints: ``/graphql`` (HTTP POST/GET, graphql-transport-ws websocket, GraphiQL page
served with local assets), ``/oauth/token`` (client-credentials grant for integration
clients, ``office_api/oauth.py``), ``/auth/oidc/login`` and ``/auth/oidc/callback`` (sign-in
through the identity provider, :mod:`office_api.oidc_http`), ``/files/attachments/{id}``
(attachment downloads, :mod:`office_api.attachments_http`), ``/meetings/{id}.ics`` and
``/calendar/{token}.ics`` (iCalendar export, :mod:`office_api.calendar_http`), ``/healthz``
(the process is alive), ``/readyz`` (the database answers), ``/static/graphiql/*``.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from cross_web import HTTPException
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.requests import HTTPConnection
from strawberry import relay
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from documents.storage import LocalDiskStorage
from messaging.broker import create_broker
from messaging.hub import NotificationSweep
from messaging.push import LoggingPushProvider, LoggingSmsProvider, load_provider
from office_api import reminders  # noqa: F401 - registers the daily reminder sweep with the scheduler
from office_api.attachments_http import router as attachments_router
from office_api.calendar_http import router as calendar_router
from office_api.config import Settings, get_settings
from office_api.db import Database
from office_api.graphiql import STATIC_DIR, STATIC_URL_PREFIX, render_graphiql
from office_api.logging import configure_logging
from office_api.mobile_push import configure as configure_mobile_push
from office_api.oauth import router as oauth_router
from office_api.oidc import RelyingParty
from office_api.oidc_http import router as oidc_router
from office_api.scheduler import Scheduler
from office_api.webhooks.delivery import Sender
from office_api.ws import ConnectionRegistry, OfficeLegacyWSHandler, OfficeTransportWSHandler, OfficeWebSocketAdapter
from schema import schema
from schema.context import Context, Platform

log = logging.getLogger("office_api.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _lang(conn: HTTPConnection) -> str:
    return "en" if conn.headers.get("accept-language", "").lower().startswith("en") else "zh"


class OfficeGraphQLRouter(GraphQLRouter):
    """The GraphQL router with offline GraphiQL, websocket authentication and the websocket
    connection life of :mod:`office_api.ws` (guard, heartbeats, per-user cap)."""

    graphql_transport_ws_handler_class = OfficeTransportWSHandler
    graphql_ws_handler_class = OfficeLegacyWSHandler
    websocket_adapter_class = OfficeWebSocketAdapter  # websocket frames are not decoded by decode_json

    async def pick_websocket_subprotocol(self, request: Any) -> str | None:
        """graphql-transport-ws whenever the client offers it (gql offers the legacy protocol
        first), else the legacy protocol when it is enabled and offered, else none (4406)."""
        offered = request["subprotocols"]
        for protocol in (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL):
            if protocol in offered and protocol in self.websocket_subprotocols:
                return protocol
        return None

    def decode_json(self, data: str | bytes) -> object:
        """Parse an HTTP request body; anything but a JSON object (or a batch list) is a 400.

        Websocket frames do not come here (:class:`office_api.ws.OfficeWebSocketAdapter`):
        a bad frame closes the socket with 4400, not an HTTP error."""
        try:
            value = json.loads(data)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError; RecursionError: deep nesting
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return value

    @property
    def graphql_ide_html(self) -> str:  # type: ignore[override]
        return render_graphiql()

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        """Authenticate from connection_init {"authorization": "Bearer …"}; 4403 otherwise."""
        context.reset_actor()
        actor = await context.get_actor()
        if actor is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        return {"userId": str(relay.GlobalID("User", str(actor.user_id)))}  # ids go out as global ids


def _log_path(path: str) -> str:
    """The request path as logged: a calendar feed's secret token is left out."""
    return "/calendar/{token}" if path.startswith("/calendar/") else path


def _http_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}, status)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. ``settings`` default to the environment (``OFFICE_*``)."""
    settings = settings or get_settings()
    settings.check_secret()
    settings.check_oidc()
    settings.check_broker()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        broker = create_broker(settings)
        await broker.start()
        sweep = NotificationSweep(db, broker, settings.notify_sweep_seconds)
        platform = Platform(
            settings=settings,
            db=db,
            broker=broker,
            sweep=sweep,
            push=load_provider(settings.push_provider, settings, LoggingPushProvider),
            sms=load_provider(settings.sms_provider, settings, LoggingSmsProvider),
        )
        configure_mobile_push(settings)  # the module registers the push hook and jobs on import
        # The scheduler reads the platform's clock at each use, so that tests can replace it; its
        # handlers reach the outbound providers through the platform (``services``).
        platform.scheduler = Scheduler(settings, db, broker, clock=lambda: platform.clock(), services=platform)
        platform.connections = ConnectionRegistry(settings, db, broker)
        platform.webhooks = Sender(settings, db, clock=lambda: platform.clock())
        app.state.platform = platform
        LocalDiskStorage(settings.attachment_root).sweep_temp()  # temporary files a crash left
        await platform.scheduler.start()
        await platform.connections.start()
        await platform.webhooks.start()
        sweep.start()
        platform.deliveries.start()
        try:
            yield
        finally:
            await platform.webhooks.stop()
            await platform.connections.stop()
            await sweep.stop()
            await platform.scheduler.stop()
            await platform.deliveries.close()  # writes the last delivered receipts
            await broker.close()
            await db.dispose()

    async def context_getter(connection: HTTPConnection) -> Context:
        platform: Platform = connection.app.state.platform
        authorization = connection.headers.get("authorization") if connection.scope["type"] == "http" else None
        client = connection.client.host if connection.client else None
        return Context(platform, authorization=authorization, lang=_lang(connection), client_address=client)

    app = FastAPI(title="office-api", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    router = OfficeGraphQLRouter(
        schema,
        context_getter=context_getter,
        # The legacy graphql-ws protocol only when enabled (office_api/ws.py OfficeLegacyWSHandler).
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL]
        + ([GRAPHQL_WS_PROTOCOL] if settings.ws_legacy_protocol else []),
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        # Cross-site pages are refused before the upgrade (HTTP 403) unless listed; same-origin
        # pages and clients without an Origin header (native apps) are accepted.
        allowed_origins=settings.allowed_origins,
        # keep_alive drives only the legacy protocol's "ka" messages in strawberry 0.341;
        # graphql-transport-ws heartbeats are OfficeTransportWSHandler's pings.
        keep_alive=settings.ws_legacy_protocol,
        keep_alive_interval=settings.ws_ping_seconds,
        # GraphQL multipart uploads (uploadAttachment). Safe from CSRF because every mutation needs a
        # bearer token in the Authorization header (no cookies), which a cross-site form cannot send;
        # limit_body below also refuses a multipart request without that header before parsing it.
        multipart_uploads_enabled=True,
    )
    app.include_router(router, prefix="/graphql")
    app.include_router(oauth_router)
    app.include_router(oidc_router)
    app.include_router(attachments_router)
    app.include_router(calendar_router)
    app.state.oidc = RelyingParty(settings) if settings.oidc_enabled else None
    app.mount(STATIC_URL_PREFIX, StaticFiles(directory=STATIC_DIR), name="graphiql-static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: the database answers a query."""
        try:
            async with request.app.state.platform.db.read() as s:
                await s.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means not ready
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Any:
        """Refuse POST bodies over ``settings.max_request_bytes`` (413) or of unknown length (411).

        A multipart upload may be as large as an attachment (``attachment_max_bytes``) plus 1 MiB
        for the other parts, and must carry an Authorization header (401 otherwise)."""
        if request.method == "POST":
            length = request.headers.get("content-length", "")
            if not length.isascii() or not length.isdigit():
                return _http_error(411, "LENGTH_REQUIRED", "A POST needs a Content-Length header")
            limit = settings.max_request_bytes
            if request.url.path.startswith("/graphql") and request.headers.get("content-type", "").lower().startswith(
                "multipart/"
            ):
                if not request.headers.get("authorization", "").strip():
                    return _http_error(401, "UNAUTHENTICATED", "A multipart request needs an Authorization header")
                limit = max(limit, settings.attachment_max_bytes + 1024 * 1024)
            if int(length) > limit:
                return _http_error(413, "REQUEST_TOO_LARGE", f"The request body is over {limit} bytes")
        return await call_next(request)

    @app.middleware("http")
    async def request_log(request: Request, call_next: Any) -> Any:
        supplied = request.headers.get("x-request-id", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex[:12]
        request.state.request_id = request_id
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["x-request-id"] = request_id
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": _log_path(request.url.path),
                "operation": getattr(request.state, "operation", None),
                "actor_id": getattr(request.state, "actor_id", None),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - start) * 1000, 1),
            },
        )
        return response

    return app

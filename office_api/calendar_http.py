"""HTTP iCalendar export (RFC 5545, ``meetings/ical.py``).

- ``GET /meetings/{id}.ics`` with ``Authorization: Bearer <access token>``, ``{id}`` the
  meeting's global id or its numeric key: one meeting or series, for its viewers
  (``meetings.access.get_visible_meeting``). 401 ``UNAUTHENTICATED`` (no, bad or expired
  token), 403 ``PASSWORD_CHANGE_REQUIRED`` / ``TOTP_ENROLLMENT_REQUIRED``, 404 ``NOT_FOUND``
  for a meeting that is absent, not visible or a malformed id (existence is not revealed).
  ``Content-Disposition: attachment; filename="meeting-<key>.ics"``.
- ``GET /calendar/{token}.ics``: a person's feed (``meetings.calendar_feeds``), no other
  authentication: the URL is the secret. 404 ``NOT_FOUND`` for a malformed, unknown or
  revoked token or a disabled account. At most ``meetings.ical.MAX_FEED_EVENTS`` events;
  a cut feed has the header ``X-Calendar-Truncated: true`` (and ``X-OFFICE-TRUNCATED:TRUE``
  inside).

Both answer ``text/calendar; charset=utf-8`` with ``Cache-Control: private, no-cache``,
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``; errors are JSON
``{"error": {"code", "message"}}``. HEAD is answered like GET.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from strawberry import relay

from meetings import access, calendar_feeds, ical
from office_api.auth import decode_access_token
from office_api.config import Settings
from office_api.errors import DomainError, ErrorCode, render_message
from office_api.org.permissions import load_actor

router = APIRouter(include_in_schema=False)

#: Largest integer key (INTEGER columns).
_MAX_KEY = 2**31 - 1
#: UID host when ``OFFICE_PUBLIC_BASE_URL`` is not set (stable whatever host a client used).
DEFAULT_UID_DOMAIN = "office-api"
CONTENT_TYPE = "text/calendar; charset=utf-8"
_HEADERS = {
    "cache-control": "private, no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def public_base_url(settings: Settings, request_base_url: str) -> str:
    """Where clients reach this server, without a trailing slash: ``OFFICE_PUBLIC_BASE_URL``,
    else the scheme and host of the request (``request_base_url``)."""
    return (settings.public_base_url or request_base_url).rstrip("/")


def uid_domain(settings: Settings) -> str:
    """Right-hand side of iCalendar UIDs: the host of ``OFFICE_PUBLIC_BASE_URL``, else
    :data:`DEFAULT_UID_DOMAIN`."""
    return urlsplit(settings.public_base_url).hostname or DEFAULT_UID_DOMAIN


def meeting_key(raw: str) -> int | None:
    """The meeting key in a path: the number itself, or a ``Meeting`` global id as GraphQL
    returns it (``TWVldGluZzoxMg==``); None for anything else."""
    node = raw
    if not (raw.isascii() and raw.isdigit()):
        try:
            gid = relay.GlobalID.from_id(raw)
        except Exception:  # any undecodable text: strawberry raises several exception types
            return None
        if gid.type_name != "Meeting":
            return None
        node = gid.node_id
    if not (node.isascii() and node.isdigit()) or not 0 < int(node) <= _MAX_KEY:
        return None
    return int(node)


def _error(request: Request, status: int, code: ErrorCode) -> JSONResponse:
    lang = "en" if request.headers.get("accept-language", "").lower().startswith("en") else "zh"
    body = {"error": {"code": code.value, "message": render_message(code, lang)}}
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})


def _calendar(export: ical.Export, disposition: str) -> Response:
    headers = _HEADERS | {"content-disposition": disposition}
    if export.truncated:
        headers["x-calendar-truncated"] = "true"
    return Response(export.body, media_type=CONTENT_TYPE, headers=headers)


@router.api_route("/meetings/{meeting_id}.ics", methods=["GET", "HEAD"])
async def meeting_ics(meeting_id: str, request: Request) -> Response:
    """One meeting as iCalendar for a viewer (see the module docstring)."""
    platform = request.app.state.platform
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(request, 401, ErrorCode.UNAUTHENTICATED)
    try:
        claims = decode_access_token(platform.settings, token.strip())
    except DomainError:
        return _error(request, 401, ErrorCode.UNAUTHENTICATED)
    pk = meeting_key(meeting_id)
    async with platform.db.read() as session:
        actor = await load_actor(session, claims.user_id, claims)
        if actor is None:
            return _error(request, 401, ErrorCode.UNAUTHENTICATED)
        if actor.must_change_password:
            return _error(request, 403, ErrorCode.PASSWORD_CHANGE_REQUIRED)
        if actor.must_enroll_totp:
            return _error(request, 403, ErrorCode.TOTP_ENROLLMENT_REQUIRED)
        meeting = await access.get_visible_meeting(session, actor, pk) if pk is not None else None
        if meeting is None:
            return _error(request, 404, ErrorCode.NOT_FOUND)
        options = ical.ExportOptions(
            domain=uid_domain(platform.settings),
            now=platform.clock(),
            name=meeting.title,
            viewer_id=actor.user_id,
            time_zone=meeting.time_zone,
        )
        export = await ical.meeting_ics(session, meeting, options)
    return _calendar(export, f'attachment; filename="meeting-{meeting.id}.ics"')


@router.api_route("/calendar/{token}.ics", methods=["GET", "HEAD"])
async def calendar_feed(token: str, request: Request) -> Response:
    """A person's meetings feed, authenticated by the secret in the URL (module docstring)."""
    platform = request.app.state.platform
    now = platform.clock()
    feed = await calendar_feeds.feed_by_token(platform.db, token, now)
    if feed is None:
        return _error(request, 404, ErrorCode.NOT_FOUND)
    settings = platform.settings
    name = "会议日程" + (f"（{feed.label}）" if feed.label else "")
    options = ical.ExportOptions(
        domain=uid_domain(settings), now=now, name=name, viewer_id=feed.user_id, time_zone=settings.timezone
    )
    async with platform.db.read() as session:
        export = await ical.feed_ics(session, feed.user_id, options)
    return _calendar(export, 'inline; filename="meetings.ics"')

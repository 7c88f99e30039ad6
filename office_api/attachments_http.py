"""HTTP download of attachments: ``GET /files/attachments/{id}`` with a user's bearer token.

The reader must be able to see the document (documents.service.visible_to: its drafter or
anyone on its route); any other reader, an unknown id or a malformed one get 404 (existence
is not revealed). Answers the bytes with the stored Content-Type, ``Content-Disposition:
attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266, RFC 5987), ``ETag`` = the
quoted SHA-256 hex, ``Repr-Digest: sha-256=:<base64>:`` (RFC 9530), ``Cache-Control:
private, no-cache`` and ``X-Content-Type-Options: nosniff``; ``If-None-Match`` with the ETag
gets 304. Errors are JSON ``{"error": {"code", "message"}}``: 401 ``UNAUTHENTICATED`` (no,
bad or expired token), 403 ``PASSWORD_CHANGE_REQUIRED`` / ``TOTP_ENROLLMENT_REQUIRED``, 404
``NOT_FOUND``.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from documents.attachments import visible_attachment
from documents.storage import LocalDiskStorage
from office_api.auth import decode_access_token
from office_api.errors import DomainError, ErrorCode, render_message
from office_api.org.permissions import load_actor

router = APIRouter(include_in_schema=False)

#: Largest integer key (INTEGER columns).
_MAX_KEY = 2**31 - 1


def _error(request: Request, status: int, code: ErrorCode) -> JSONResponse:
    lang = "en" if request.headers.get("accept-language", "").lower().startswith("en") else "zh"
    body = {"error": {"code": code.value, "message": render_message(code, lang)}}
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})


def content_disposition(filename: str) -> str:
    """``attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`` (RFC 6266 §4.3)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/files/attachments/{attachment_id}")
async def download_attachment(attachment_id: str, request: Request) -> Response:
    """The bytes of one attachment for a reader of its document (see the module docstring)."""
    platform = request.app.state.platform
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(request, 401, ErrorCode.UNAUTHENTICATED)
    try:
        claims = decode_access_token(platform.settings, token.strip())
    except DomainError:
        return _error(request, 401, ErrorCode.UNAUTHENTICATED)
    if not (attachment_id.isascii() and attachment_id.isdigit()) or not 0 < int(attachment_id) <= _MAX_KEY:
        return _error(request, 404, ErrorCode.NOT_FOUND)
    async with platform.db.read() as session:
        actor = await load_actor(session, claims.user_id, claims)
        if actor is None:
            return _error(request, 401, ErrorCode.UNAUTHENTICATED)
        if actor.must_change_password:
            return _error(request, 403, ErrorCode.PASSWORD_CHANGE_REQUIRED)
        if actor.must_enroll_totp:
            return _error(request, 403, ErrorCode.TOTP_ENROLLMENT_REQUIRED)
        row = await visible_attachment(session, actor.user_id, int(attachment_id))
    if row is None:
        return _error(request, 404, ErrorCode.NOT_FOUND)
    storage = LocalDiskStorage(platform.settings.attachment_root)
    if not storage.path(row.storage_key).is_file():
        return _error(request, 404, ErrorCode.NOT_FOUND)
    etag = f'"{row.sha256}"'
    headers = {
        "etag": etag,
        "repr-digest": f"sha-256=:{base64.b64encode(bytes.fromhex(row.sha256)).decode()}:",
        "cache-control": "private, no-cache",
        "x-content-type-options": "nosniff",
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    headers |= {"content-disposition": content_disposition(row.filename), "content-length": str(row.size)}
    return StreamingResponse(storage.open(row.storage_key), media_type=row.content_type, headers=headers)

"""``POST /oauth/token``: the OAuth 2.0 token endpoint, client-credentials grant only.

Request (RFC 6749 §4.4.2): an ``application/x-www-form-urlencoded`` body with
``grant_type=client_credentials`` and an optional ``scope`` (space-delimited, §3.3; a
subset of the client's scopes). The client authenticates with HTTP Basic (§2.3.1: the
form-urlencoded ``client_id`` and ``client_secret`` joined by ``:``) or with the body
parameters ``client_id`` and ``client_secret`` (§2.3.1), never both (§2.3).

Success (§5.1): 200 ``{"access_token", "token_type": "Bearer", "expires_in", "scope"}``.
Errors (§5.2): 400 ``{"error", "error_description"}`` with ``invalid_request`` (not a form,
repeated or over-long parameters, malformed Basic header, two authentication methods),
``unsupported_grant_type``, ``invalid_scope``; 401 ``invalid_client`` with
``WWW-Authenticate: Basic``. Every response carries ``Cache-Control: no-store`` and
``Pragma: no-cache`` (§5.1). Nothing a caller sends leads to a 500.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from office_api import audit
from office_api.clients.service import OAuthError, grant_client_credentials

router = APIRouter()

#: Largest accepted body (the parameters are short; anything bigger is not a real client).
MAX_BODY = 4096
#: scope-token of RFC 6749 §3.3: printable ASCII except space, ``"`` and ``\\``.
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+\Z")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error(exc: OAuthError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="office-api", charset="UTF-8"'
    return JSONResponse({"error": exc.error, "error_description": exc.description}, exc.status, headers=headers)


def _form(body: bytes, content_type: str) -> dict[str, str]:
    """The form parameters; ``invalid_request`` for anything but one well-formed form."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    if len(body) > MAX_BODY:
        raise OAuthError("invalid_request", f"the body is over {MAX_BODY} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "the body is not a valid form") from exc
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:  # RFC 6749 §3.2: parameters MUST NOT be included more than once
            raise OAuthError("invalid_request", f"repeated parameter {name[:40]}")
        params[name] = value
    # §3.2: parameters sent without a value are treated as if omitted.
    return {k: v for k, v in params.items() if v != ""}


def _basic(header: str) -> tuple[str, str]:
    """``(client_id, client_secret)`` of an HTTP Basic header (RFC 6749 §2.3.1, RFC 7617)."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "unsupported client authentication method", 401)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_request", "malformed HTTP Basic credentials") from exc
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise OAuthError("invalid_request", "malformed HTTP Basic credentials")
    return unquote_plus(user), unquote_plus(password)


def _scopes(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    tokens = raw.split(" ")
    if len(raw) > 512 or any(not _SCOPE_TOKEN.match(t) for t in tokens):
        raise OAuthError("invalid_scope", "malformed scope")
    return frozenset(tokens)


@router.post("/oauth/token", include_in_schema=False)
async def token(request: Request) -> JSONResponse:
    """The token endpoint (module docstring)."""
    platform = request.app.state.platform
    audit.set_client_address(request.client.host if request.client else None)
    try:
        params = _form(await request.body(), request.headers.get("content-type", ""))
        grant_type = params.get("grant_type")
        if grant_type is None:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
        requested = _scopes(params.get("scope"))
        header = request.headers.get("authorization")
        in_body = "client_id" in params or "client_secret" in params
        if header is not None and in_body:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        if header is not None:
            client_id, secret = _basic(header)
        else:
            client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
        if not client_id or not secret:
            raise OAuthError("invalid_client", "client authentication required", 401)
        grant = await grant_client_credentials(
            platform.db, platform.settings, client_id, secret, requested, now=platform.clock()
        )
    except OAuthError as exc:
        return _error(exc)
    body = {"access_token": grant.access_token, "token_type": "Bearer", "expires_in": grant.expires_in}
    body["scope"] = grant.scope
    return JSONResponse(body, 200, headers=_NO_STORE)

"""HTTP endpoints of the identity-provider sign-in (see :mod:`office_api.oidc` for the flow).

``GET /auth/oidc/login?return_to=<app URI>[&code_challenge=…&code_challenge_method=S256]``
answers 302 to the provider. ``GET /auth/oidc/callback`` (the redirect URI registered at the
provider) answers 302 to the app URI with ``login_code`` or ``error``. Problems that leave
no app URI to go back to answer JSON ``{"error": {"code", "field", "message"}}``: 404
``OIDC_DISABLED`` when OIDC is off, 400 for a bad ``return_to``/``code_challenge`` or an
unknown/expired/used ``state``, 502 ``OIDC_PROVIDER_ERROR`` when discovery fails. No
response carries HTML, and none may be cached (``Cache-Control: no-store``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from office_api import audit, oidc
from office_api.errors import DomainError, ErrorCode

router = APIRouter(prefix="/auth/oidc", include_in_schema=False)

_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache", "referrer-policy": "no-referrer"}
_STATUS = {ErrorCode.OIDC_DISABLED: 404, ErrorCode.OIDC_PROVIDER_ERROR: 502}


def _lang(request: Request) -> str:
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "zh"


def _error(request: Request, e: DomainError) -> JSONResponse:
    body = {"error": {"code": e.code.value, "field": e.field, "message": e.message(_lang(request))}}
    return JSONResponse(body, status_code=_STATUS.get(e.code, 400), headers=_NO_STORE)


def _relying_party(request: Request) -> oidc.RelyingParty:
    rp = getattr(request.app.state, "oidc", None)
    if rp is None:
        raise DomainError(ErrorCode.OIDC_DISABLED)
    return rp


@router.get("/login")
async def oidc_login(
    request: Request,
    return_to: str | None = None,
    code_challenge: str | None = None,
    code_challenge_method: str | None = None,
) -> Response:
    """Start a sign-in at the provider for the app at ``return_to``."""
    platform = request.app.state.platform
    audit.set_client_address(request.client.host if request.client else None)
    try:
        rp = _relying_party(request)
        url = await oidc.start_login(
            platform.db, rp, return_to, code_challenge, code_challenge_method, now=platform.clock()
        )
    except DomainError as e:
        return _error(request, e)
    return RedirectResponse(url, status_code=302, headers=_NO_STORE)


@router.get("/callback")
async def oidc_callback(request: Request) -> Response:
    """The provider's redirect back: finish the sign-in and send the browser to the app."""
    platform = request.app.state.platform
    audit.set_client_address(request.client.host if request.client else None)
    params = {k: v for k, v in request.query_params.items() if k in {"code", "state", "error", "iss"}}
    try:
        rp = _relying_party(request)
        url = await oidc.finish_login(platform.db, rp, params, now=platform.clock())
    except DomainError as e:
        return _error(request, e)
    return RedirectResponse(url, status_code=302, headers=_NO_STORE)

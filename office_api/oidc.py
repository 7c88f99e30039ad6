"""Sign-in through the province's identity provider: an OpenID Connect relying party.

The flow for the mobile app (OpenID Connect Core 1.0 §3.1, authorization code flow):

1. :func:`start_login` (``GET /auth/oidc/login?return_to=…``) keeps a random ``state``,
   ``nonce`` and PKCE ``code_verifier`` (RFC 7636, S256) server-side in
   ``oidc_login_states`` (single use, ``OFFICE_OIDC_LOGIN_TTL_SECONDS``) and returns the
   provider's authorization URL (found by discovery, OpenID Connect Discovery 1.0 §4).
2. :func:`finish_login` (``GET /auth/oidc/callback?code=…&state=…``) consumes the state,
   exchanges the code at the token endpoint, validates the ID token (signature with the
   provider's JWKS, ``iss``, ``aud``, ``exp``, ``iat``, ``nonce``, ``at_hash``: Core §3.1.3.7),
   maps ``(issuer, sub)`` to a platform user through ``user_identities`` (linked by an
   administrator) and returns the app's ``return_to`` URI with a short-lived single-use
   ``login_code``, or with ``error=<ErrorCode>``. Tokens never travel in a URL.
3. :func:`exchange_login_code` (GraphQL ``loginWithIdentityProvider``) trades the login
   code, once, for the platform's usual token pair (:func:`office_api.auth.open_session`).

The protocol work (authorization URL, PKCE, token request, JWS verification, claim rules)
is Authlib's (``AsyncOAuth2Client``, ``authlib.oidc.core.CodeIDToken``) and joserfc's.
Password login and its lockout are not involved: the provider authenticated the person,
and a disabled account is refused here all the same.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import delete, select

from office_api import audit
from office_api.audit import Action
from office_api.auth import TokenPair, open_session
from office_api.config import Settings
from office_api.db import Database, utcnow
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import OidcLoginCode, OidcLoginState, User, UserIdentity

with warnings.catch_warnings():
    # Authlib 1.9 prefers the "httpx2" fork and warns when it falls back to httpx, which it
    # still supports; the platform uses httpx (and passes httpx transports in tests).
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

#: Discovery documents and key sets are reused this long (seconds) before being fetched again.
METADATA_TTL_SECONDS = 3600
#: Clock skew allowed on ``exp``/``iat`` of an ID token (seconds).
ID_TOKEN_LEEWAY_SECONDS = 60
#: An S256 code challenge: BASE64URL(SHA-256(verifier)) without padding (RFC 7636 §4.2).
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: A code verifier: 43–128 unreserved characters (RFC 7636 §4.1).
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_MAX_PARAM = 2048
METHOD = "oidc"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(verifier)))`` without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class RelyingParty:
    """This platform as a client of the provider named by ``OFFICE_OIDC_ISSUER``.

    Holds the discovery document and the provider's key set (cached for
    :data:`METADATA_TTL_SECONDS`; the key set is fetched again once when an ID token names
    an unknown key id, i.e. after key rotation). ``transport`` is the httpx transport of
    every request to the provider (tests wrap it); ``timeout`` is in seconds.
    Every failure to talk to the provider raises ``OIDC_PROVIDER_ERROR``.
    """

    def __init__(
        self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0
    ) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer.strip()
        self.client_id = settings.oidc_client_id
        self.transport = transport
        self.timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._jwks: dict[str, Any] | None = None

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=self.timeout)

    def _oauth(self) -> AsyncOAuth2Client:
        secret = self.settings.oidc_client_secret or None
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=secret,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=self.settings.oidc_scope,
            redirect_uri=self.settings.oidc_redirect_uri,
            code_challenge_method="S256",
            transport=self.transport,
            timeout=self.timeout,
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                resp = await http.get(url, headers={"accept": "application/json"})
            resp.raise_for_status()
            value = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DomainError(ErrorCode.OIDC_PROVIDER_ERROR) from exc
        if not isinstance(value, dict):
            raise DomainError(ErrorCode.OIDC_PROVIDER_ERROR)
        return value

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (``{issuer}/.well-known/openid-configuration``).

        Its ``issuer`` must equal the configured issuer exactly (Discovery §4.3), and it must
        name the authorization, token and JWKS endpoints.
        """
        if self._metadata is not None and time.monotonic() - self._metadata_at < METADATA_TTL_SECONDS:
            return self._metadata
        doc = await self._get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        required = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if doc.get("issuer") != self.issuer or not all(isinstance(doc.get(k), str) for k in required):
            raise DomainError(ErrorCode.OIDC_PROVIDER_ERROR)
        self._metadata, self._metadata_at, self._jwks = doc, time.monotonic(), None
        return doc

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        """The provider's public keys (``jwks_uri``)."""
        meta = await self.metadata()
        if self._jwks is None or refresh:
            self._jwks = await self._get_json(meta["jwks_uri"])
        try:
            return KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise DomainError(ErrorCode.OIDC_PROVIDER_ERROR) from exc

    async def authorization_url(self, state: str, nonce: str, code_verifier: str) -> str:
        """The authorization request URL (Core §3.1.2.1): ``response_type=code``, ``scope``,
        ``client_id``, ``redirect_uri``, ``state``, ``nonce``, ``code_challenge`` (S256)."""
        meta = await self.metadata()
        async with self._oauth() as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, code_verifier=code_verifier, nonce=nonce
            )
        return url

    async def exchange_code(self, code: str, code_verifier: str) -> dict[str, Any]:
        """The token response for ``code`` (Core §3.1.3.1, with the PKCE ``code_verifier``).

        ``OIDC_PROVIDER_ERROR`` when the provider refuses or answers without an ``id_token``.
        """
        meta = await self.metadata()
        try:
            async with self._oauth() as client:
                token = await client.fetch_token(
                    meta["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    redirect_uri=self.settings.oidc_redirect_uri,
                )
        except Exception as exc:  # Authlib raises OAuthError, httpx errors, or ValueError on a bad body
            raise DomainError(ErrorCode.OIDC_PROVIDER_ERROR) from exc
        if not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
            raise DomainError(ErrorCode.OIDC_PROVIDER_ERROR)
        return dict(token)

    async def validate_id_token(
        self, id_token: str, nonce: str, access_token: str | None = None, now: dt.datetime | None = None
    ) -> dict[str, Any]:
        """The claims of ``id_token`` after the checks of Core §3.1.3.7.

        The JWS signature is verified with the provider's JWKS (asymmetric algorithms it
        advertises; never ``none`` or HMAC); ``iss`` must be the issuer, ``aud`` contain the
        client id (``azp`` checked when there are several), ``exp`` be in the future and
        ``iat`` not in the future (``now``, UTC, with :data:`ID_TOKEN_LEEWAY_SECONDS`),
        ``nonce`` equal the one sent, ``at_hash`` match the access token when present, and
        ``sub`` be a non-empty string of at most 255 characters. Raises
        ``OIDC_ID_TOKEN_INVALID`` (``OIDC_PROVIDER_ERROR`` when the keys cannot be fetched).
        """
        meta = await self.metadata()
        algs = [
            a
            for a in (meta.get("id_token_signing_alg_values_supported") or ["RS256"])
            if isinstance(a, str) and a != "none" and not a.startswith("HS")
        ]
        registry = JWSRegistry(algorithms=algs, strict_check_header=False)
        try:
            try:
                token = jwt.decode(id_token, await self.key_set(), registry=registry)
            except InvalidKeyIdError:
                token = jwt.decode(id_token, await self.key_set(refresh=True), registry=registry)
            params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
            if access_token:
                params["access_token"] = access_token
            options: dict[str, Any] = {
                "iss": {"essential": True, "values": [self.issuer]},
                "aud": {"essential": True, "values": [self.client_id]},
                "sub": {"essential": True},
                "nonce": {"essential": True, "value": nonce},
            }
            claims = CodeIDToken(token.claims, token.header, options, params)
            claims.validate(now=int((now or utcnow()).timestamp()), leeway=ID_TOKEN_LEEWAY_SECONDS)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise DomainError(ErrorCode.OIDC_ID_TOKEN_INVALID) from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise DomainError(ErrorCode.OIDC_ID_TOKEN_INVALID)
        return dict(claims)


def _failure(session: Any, target_type: str, target_id: int | str | None, reason: str, now: dt.datetime) -> None:
    """One ``login.failure`` audit row of the identity-provider path (method ``oidc``)."""
    audit.record(
        session,
        actor_id=None,
        action=Action.LOGIN_FAILURE,
        target_type=target_type,
        target_id=target_id,
        after={"method": METHOD, "reason": reason},
        now=now,
    )


async def start_login(
    db: Database,
    rp: RelyingParty,
    return_to: str | None,
    app_code_challenge: str | None = None,
    app_code_challenge_method: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> str:
    """Begin a sign-in for the app that will get the result at ``return_to``; returns the
    provider's authorization URL to redirect the browser to.

    ``return_to`` must equal one of ``OFFICE_OIDC_APP_RETURN_URIS`` exactly (RFC 8252 §8.10:
    no open redirect). The app may bind the result to itself with its own PKCE challenge
    (``app_code_challenge``, method ``S256`` only; RFC 8252 §8.1): the login code is then
    accepted only with the matching verifier. Raises ``REQUIRED``/``INVALID_VALUE`` on
    ``return_to`` or ``code_challenge``, ``OIDC_PROVIDER_ERROR`` when discovery fails.
    Expired pending sign-ins and login codes are deleted on the way.
    """
    now = now or utcnow()
    settings = rp.settings
    if not return_to:
        raise DomainError(ErrorCode.REQUIRED, "return_to")
    if return_to not in settings.oidc_app_return_uris:
        raise DomainError(ErrorCode.INVALID_VALUE, "return_to", detail="not an app URI allowed by the platform")
    if app_code_challenge is not None:
        if (app_code_challenge_method or "S256") != "S256":
            raise DomainError(ErrorCode.INVALID_VALUE, "code_challenge_method", detail="only S256")
        if not _S256_CHALLENGE.match(app_code_challenge):
            raise DomainError(ErrorCode.INVALID_VALUE, "code_challenge", detail="43 base64url characters (S256)")
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    url = await rp.authorization_url(state, nonce, verifier)
    async with db.unit_of_work() as uow:
        s = uow.session
        await s.execute(delete(OidcLoginState).where(OidcLoginState.expires_at <= now))
        await s.execute(delete(OidcLoginCode).where(OidcLoginCode.expires_at <= now))
        s.add(
            OidcLoginState(
                state_hash=_sha256(state),
                nonce=nonce,
                code_verifier=verifier,
                return_to=return_to,
                app_code_challenge=app_code_challenge,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=settings.oidc_login_ttl_seconds),
            )
        )
    return url


@dataclass(frozen=True)
class _Pending:
    nonce: str
    code_verifier: str
    return_to: str
    app_code_challenge: str | None


async def _consume_state(db: Database, state: str | None, now: dt.datetime) -> _Pending:
    """Take the pending sign-in of ``state`` (deleting it: single use); ``OIDC_STATE_INVALID``
    for a missing, unknown, used or expired one (the failure is audited)."""
    pending: _Pending | None = None
    async with db.unit_of_work() as uow:
        s = uow.session
        row = None
        if state and len(state) <= _MAX_PARAM:
            row = await s.get(OidcLoginState, _sha256(state), with_for_update=True, populate_existing=True)
        if row is not None:
            await s.delete(row)
            if row.expires_at > now:
                pending = _Pending(row.nonce, row.code_verifier, row.return_to, row.app_code_challenge)
        if pending is None:
            _failure(s, "OidcState", None, "expired_state" if row is not None else "unknown_state", now)
    if pending is None:
        raise DomainError(ErrorCode.OIDC_STATE_INVALID, "state")
    return pending


async def finish_login(
    db: Database, rp: RelyingParty, params: dict[str, str], *, now: dt.datetime | None = None
) -> str:
    """Complete a sign-in from the provider's redirect (query ``params``); returns the app URI
    to redirect to: ``return_to`` with ``login_code=…`` on success, ``error=<ErrorCode>``
    otherwise.

    Raises ``OIDC_STATE_INVALID`` (nowhere to send the app back to) for a bad state. With a
    valid state: ``OIDC_ACCESS_DENIED`` when the person declined (``error=access_denied``),
    ``OIDC_PROVIDER_ERROR`` for any other provider error, a missing code, an ``iss``
    response parameter naming another issuer (RFC 9207) or a failed token request,
    ``OIDC_ID_TOKEN_INVALID`` for an ID token that fails validation, ``IDENTITY_NOT_LINKED``
    for a subject no administrator linked, ``ACCOUNT_DISABLED`` for a disabled account.
    Each outcome but success writes a ``login.failure`` audit row (method ``oidc``).
    """
    now = now or utcnow()
    pending = await _consume_state(db, params.get("state"), now)

    def back(**values: str) -> str:
        return add_params_to_uri(pending.return_to, list(values.items()))

    async def fail(code: ErrorCode, reason: str, target_type: str = "OidcState", target_id: Any = None) -> str:
        async with db.unit_of_work() as uow:
            _failure(uow.session, target_type, target_id, reason, now)
        return back(error=code.value)

    if params.get("error"):
        error = params["error"][:64]
        code = ErrorCode.OIDC_ACCESS_DENIED if error == "access_denied" else ErrorCode.OIDC_PROVIDER_ERROR
        return await fail(code, f"provider:{error}")
    if params.get("iss") is not None and params["iss"] != rp.issuer:
        return await fail(ErrorCode.OIDC_PROVIDER_ERROR, "issuer_mismatch")
    code_param = params.get("code")
    if not code_param or len(code_param) > _MAX_PARAM:
        return await fail(ErrorCode.OIDC_PROVIDER_ERROR, "missing_code")
    try:
        token = await rp.exchange_code(code_param, pending.code_verifier)
        claims = await rp.validate_id_token(token["id_token"], pending.nonce, token.get("access_token"), now)
    except DomainError as e:
        return await fail(e.code, "id_token" if e.code is ErrorCode.OIDC_ID_TOKEN_INVALID else "token_request")
    subject = claims["sub"]
    async with db.unit_of_work() as uow:
        s = uow.session
        identity = (
            await s.execute(
                select(UserIdentity).where(UserIdentity.issuer == rp.issuer, UserIdentity.subject == subject)
            )
        ).scalar_one_or_none()
        user = await s.get(User, identity.user_id) if identity is not None else None
        if identity is None or user is None:
            _failure(s, "Identity", subject, "not_linked", now)
            return back(error=ErrorCode.IDENTITY_NOT_LINKED.value)
        if not user.is_active:
            _failure(s, "User", user.id, "disabled", now)
            return back(error=ErrorCode.ACCOUNT_DISABLED.value)
        login_code = secrets.token_urlsafe(32)
        s.add(
            OidcLoginCode(
                code_hash=_sha256(login_code),
                user_id=user.id,
                identity_id=identity.id,
                app_code_challenge=pending.app_code_challenge,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=rp.settings.oidc_login_code_ttl_seconds),
            )
        )
    return back(login_code=login_code)


async def exchange_login_code(
    db: Database,
    settings: Settings,
    login_code: str,
    code_verifier: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> tuple[TokenPair, User]:
    """Trade a login code from :func:`finish_login` for a token pair (a new refresh-token
    family, like a password login); returns the pair and the user.

    The code is spent by the first attempt, whatever its outcome: the code row is locked
    and marked used in one transaction, so of two concurrent exchanges exactly one wins.
    ``INVALID_TOKEN`` (field ``loginCode``) for an unknown, expired or spent code, or a
    ``code_verifier`` that does not match the app's challenge (RFC 7636 §4.6; field
    ``codeVerifier``); ``ACCOUNT_DISABLED`` when the account was disabled meanwhile. Success
    writes ``login.success``, a refusal ``login.failure`` (method ``oidc``).
    """
    now = now or utcnow()
    if not settings.oidc_enabled:
        raise DomainError(ErrorCode.OIDC_DISABLED)
    error: DomainError | None = None
    result: tuple[TokenPair, User] | None = None
    async with db.unit_of_work() as uow:
        s = uow.session
        row = None
        if login_code and len(login_code) <= _MAX_PARAM:
            row = await s.get(OidcLoginCode, _sha256(login_code), with_for_update=True, populate_existing=True)
        if row is None or row.used_at is not None or row.expires_at <= now:
            reason = "unknown_code" if row is None else "used_code" if row.used_at is not None else "expired_code"
            _failure(s, "User" if row is not None else "LoginCode", row.user_id if row else None, reason, now)
            error = DomainError(ErrorCode.INVALID_TOKEN, "loginCode")
        else:
            row.used_at = now
            user = await s.get(User, row.user_id, populate_existing=True)
            if row.app_code_challenge is not None and not (
                code_verifier
                and _VERIFIER.match(code_verifier)
                and hmac.compare_digest(s256_challenge(code_verifier), row.app_code_challenge)
            ):
                _failure(s, "User", row.user_id, "code_verifier", now)
                error = DomainError(ErrorCode.INVALID_TOKEN, "codeVerifier")
            elif user is None or not user.is_active:
                _failure(s, "User", row.user_id, "disabled", now)
                error = DomainError(ErrorCode.ACCOUNT_DISABLED, "loginCode")
            else:
                pair = await open_session(uow, settings, user)
                audit.record(
                    s,
                    actor_id=user.id,
                    action=Action.LOGIN_SUCCESS,
                    target_type="User",
                    target_id=user.id,
                    after={"method": METHOD, "identityId": row.identity_id},
                    now=now,
                )
                result = pair, user
    if error is not None:
        raise error
    assert result is not None
    return result

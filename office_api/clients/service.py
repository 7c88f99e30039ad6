"""Integration clients: registration, secret rotation, revocation, and client-credentials tokens.

A departmental system is registered by an administrator as a confidential OAuth 2.0 client
(RFC 6749 §2.1) scoped to a subtree of the organization (the unit ``unit_id`` and every
unit below it) and to named scopes (:class:`Scope`). It authenticates with its
``client_id`` and secret at ``POST /oauth/token`` (client-credentials grant, RFC 6749 §4.4)
and calls the GraphQL API with the short-lived access token it gets back.

Who may administer clients (三员分立, as for accounts in ``office_api/org/accounts.py``): the
system admin any client; a unit admin the clients whose subtree root is inside its own
subtree; the security admin and the audit admin none. Every change locks the client row,
checks the optional ``version`` the caller read (``STALE_VERSION``), writes an audit row in
the same transaction and flushes; committing is the caller's job.

Secrets are 256 random bits (``secrets.token_urlsafe(32)``), shown once, stored as their
SHA-256 digest and compared in constant time (``hmac.compare_digest``): a slow password
hash adds nothing for a secret of that entropy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

import jwt
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from office_api import audit
from office_api.audit import Action
from office_api.auth import count_failure, throttle_row
from office_api.clients.models import ApiClient
from office_api.config import Settings
from office_api.db import Database, UnitOfWork, utcnow
from office_api.errors import AuthError, DomainError, ErrorCode, ErrorCollector
from office_api.org.models import OrgUnit
from office_api.org.permissions import Actor
from office_api.text import trimmed


class Scope(StrEnum):
    """What a client may do (RFC 6749 §3.3 scope tokens). Each GraphQL root field names the
    scope it needs or is user-only (``schema/scopes.py``)."""

    #: Directory search and organization-tree reads, inside the client's subtree.
    DIRECTORY_READ = "directory:read"
    #: Read documents issued by units inside the subtree.
    DOCUMENTS_READ = "documents:read"
    #: Create and route documents for units inside the subtree (no operation yet).
    DOCUMENTS_ROUTE = "documents:route"
    #: Book rooms and manage meetings of units inside the subtree (no operation yet).
    MEETINGS_MANAGE = "meetings:manage"
    #: Receive the subtree's notifications at the client's webhook endpoints (office_api/webhooks/).
    EVENTS_RECEIVE = "events:receive"


SCOPES = frozenset(s.value for s in Scope)
#: Prefix of public client ids, followed by 24 hexadecimal digits.
CLIENT_ID_PREFIX = "oc_"
#: Longest ``client_id`` / ``client_secret`` looked at; longer ones are refused unhashed.
MAX_CLIENT_ID = 64
MAX_SECRET = 128
MAX_NAME = 100
#: ``sub`` claim prefix of a client access token (user tokens carry a bare number).
SUBJECT_PREFIX = "client:"
_DUMMY_HASH = hashlib.sha256(b"no-such-client").hexdigest()


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_hex(12)


def new_secret() -> str:
    """A fresh secret: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of ``secret`` (UTF-8)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of ``secret``'s digest with ``stored_hash``."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def format_scopes(scopes: frozenset[str] | set[str]) -> str:
    """Scopes as the space-delimited, sorted list of RFC 6749 §3.3."""
    return " ".join(sorted(scopes))


# ---- the principal of a client request -------------------------------------------------------


@dataclass(frozen=True)
class ClientPrincipal:
    """The integration client behind a request: its row id, public id, name, the root of its
    subtree (id and materialized path) and the scopes of the presented token."""

    id: int
    client_id: str
    name: str
    unit_id: int
    unit_path: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def covers_path(self, path: str) -> bool:
        """True when the unit with materialized ``path`` is inside the client's subtree."""
        return path.startswith(self.unit_path)


@dataclass(frozen=True)
class ClientClaims:
    client_id: str
    version: int
    scopes: frozenset[str]
    jti: str
    expires_at: dt.datetime


def issue_client_token(
    settings: Settings, client: ApiClient, scopes: frozenset[str], now: dt.datetime | None = None
) -> tuple[str, int]:
    """A signed access token for ``client`` with ``scopes`` and its lifetime in seconds.

    Same key, algorithm (HS256), issuer and audience as user tokens; distinguishable by
    ``sub`` = ``client:<client_id>`` (never a number), the ``scope`` claim (space-delimited,
    RFC 9068 §2.2.3) and ``cv``, the client's version when issued.
    """
    now = now or utcnow()
    ttl = settings.client_token_ttl_seconds
    claims = {
        "sub": SUBJECT_PREFIX + client.client_id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
        "client_id": client.client_id,
        "scope": format_scopes(scopes),
        "cv": client.version,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256"), ttl


def decode_client_token(settings: Settings, token: str) -> ClientClaims | None:
    """The claims of a valid client access token, or None for anything else (a user token,
    a bad signature, an expired token, missing claims)."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "iat", "nbf", "exp", "iss", "aud", "jti", "scope", "cv"]},
            leeway=5,
        )
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub.startswith(SUBJECT_PREFIX):
            return None
        scope = claims["scope"]
        if not isinstance(scope, str) or not isinstance(claims["cv"], int):
            return None
        return ClientClaims(
            client_id=sub[len(SUBJECT_PREFIX) :],
            version=claims["cv"],
            scopes=frozenset(scope.split()),
            jti=str(claims["jti"]),
            expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
        )
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
        return None


async def load_principal(session: AsyncSession, claims: ClientClaims) -> ClientPrincipal | None:
    """The principal of a client token, or None when the client is unknown, revoked, or its
    secret was rotated since the token was issued (``cv`` differs from ``version``)."""
    row = (
        await session.execute(
            select(ApiClient, OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == ApiClient.unit_id)
            .where(ApiClient.client_id == claims.client_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        return None
    client, path = row
    if client.revoked_at is not None or client.version != claims.version:
        return None
    return ClientPrincipal(
        id=client.id,
        client_id=client.client_id,
        name=client.name,
        unit_id=client.unit_id,
        unit_path=path,
        scopes=claims.scopes & client.scope_set,
    )


# ---- administration --------------------------------------------------------------------------


def _audit_state(client: ApiClient) -> dict[str, object]:
    return {
        "clientId": client.client_id,
        "name": client.name,
        "unitId": client.unit_id,
        "scopes": sorted(client.scope_set),
        "version": client.version,
        "revoked": client.revoked_at is not None,
    }


async def register_client(
    uow: UnitOfWork, actor: Actor, name: str, unit_id: int, scopes: list[str]
) -> tuple[ApiClient, str]:
    """Register a client; returns it and its secret (shown this once, stored hashed).

    ``FORBIDDEN`` (AuthError) unless ``actor`` administers ``unit_id`` (a unit admin asking
    for a unit outside its subtree, or a missing one, is refused the same way); for the
    system admin a missing unit is ``NOT_FOUND`` (unitId). ``REQUIRED``/``TOO_LONG`` (name),
    ``REQUIRED``/``INVALID_VALUE`` (scopes), ``INACTIVE`` (unitId) for a deactivated unit.
    """
    if not actor.is_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    session = uow.session
    unit = await session.get(OrgUnit, unit_id)
    if unit is None:
        if actor.is_system_admin:
            raise DomainError(ErrorCode.NOT_FOUND, "unitId")
        raise AuthError(ErrorCode.FORBIDDEN)
    actor.require_admin_of(unit)
    errors = ErrorCollector()
    name = trimmed(name)
    if not name:
        errors.add(ErrorCode.REQUIRED, "name")
    elif len(name) > MAX_NAME:
        errors.add(ErrorCode.TOO_LONG, "name", limit=MAX_NAME)
    wanted = set(scopes)
    if not wanted:
        errors.add(ErrorCode.REQUIRED, "scopes")
    for i, s in enumerate(scopes):
        if s not in SCOPES:
            errors.add(ErrorCode.INVALID_VALUE, f"scopes.{i}", detail=format_scopes(SCOPES))
    if not unit.is_active:
        errors.add(ErrorCode.INACTIVE, "unitId", detail=unit.name)
    errors.raise_if_any()
    secret = new_secret()
    client = ApiClient(
        client_id=new_client_id(),
        name=name,
        unit_id=unit.id,
        scopes=format_scopes(wanted),
        secret_hash=hash_secret(secret),
        created_by_id=actor.user_id,
        version=1,
        created_at=utcnow(),
    )
    session.add(client)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.API_CLIENT_REGISTER,
        target_type="ApiClient",
        target_id=client.id,
        after=_audit_state(client),
    )
    await session.flush()
    return client, secret


async def _client_for_admin(uow: UnitOfWork, actor: Actor, pk: int, version: int | None) -> ApiClient:
    """Lock and return client ``pk`` when ``actor`` administers its subtree root.

    ``FORBIDDEN`` for a non-admin, for a unit admin outside the subtree, and for a unit
    admin asking for a missing client (a refusal tells nothing); ``NOT_FOUND`` (id) for the
    system admin; ``STALE_VERSION`` (version) when ``version`` is given and differs.
    """
    if not actor.is_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    session = uow.session
    client = await session.get(ApiClient, pk, with_for_update=True, populate_existing=True)
    if client is None:
        if actor.is_system_admin:
            raise DomainError(ErrorCode.NOT_FOUND, "id")
        raise AuthError(ErrorCode.FORBIDDEN)
    unit = await session.get(OrgUnit, client.unit_id)
    if unit is None or not actor.administers_path(unit.path):
        raise AuthError(ErrorCode.FORBIDDEN)
    if version is not None and version != client.version:
        raise DomainError(ErrorCode.STALE_VERSION, "version")
    return client


async def rotate_secret(uow: UnitOfWork, actor: Actor, pk: int, version: int | None = None) -> tuple[ApiClient, str]:
    """Give client ``pk`` a new secret (returned this once). The old secret and every token
    issued before stop working at once (``version`` is bumped). ``INVALID_STATE`` for a
    revoked client; see :func:`_client_for_admin` for the other errors."""
    client = await _client_for_admin(uow, actor, pk, version)
    if client.revoked_at is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "id", detail="the client is revoked")
    before = _audit_state(client)
    secret = new_secret()
    client.secret_hash = hash_secret(secret)
    client.version += 1
    client.rotated_at = utcnow()
    audit.record(
        uow.session,
        actor_id=actor.user_id,
        action=Action.API_CLIENT_ROTATE,
        target_type="ApiClient",
        target_id=client.id,
        before=before,
        after=_audit_state(client),
    )
    await uow.session.flush()
    return client, secret


async def revoke_client(uow: UnitOfWork, actor: Actor, pk: int, version: int | None = None) -> ApiClient:
    """Revoke client ``pk`` for good: its secret and tokens stop working at once. Revoking a
    revoked client changes nothing and writes no row."""
    client = await _client_for_admin(uow, actor, pk, None)
    if client.revoked_at is not None:
        return client
    if version is not None and version != client.version:
        raise DomainError(ErrorCode.STALE_VERSION, "version")
    before = _audit_state(client)
    client.revoked_at = utcnow()
    client.version += 1
    audit.record(
        uow.session,
        actor_id=actor.user_id,
        action=Action.API_CLIENT_REVOKE,
        target_type="ApiClient",
        target_id=client.id,
        before=before,
        after=_audit_state(client),
    )
    await uow.session.flush()
    return client


def _visible_to(actor: Actor):
    if actor.is_system_admin:
        return None
    return or_(*(OrgUnit.path.startswith(p, autoescape=True) for p in actor.admin_paths))


async def list_clients(session: AsyncSession, actor: Actor, after_id: int | None, limit: int) -> list[ApiClient]:
    """The clients ``actor`` administers, by id, ``limit`` rows after ``after_id``.
    ``FORBIDDEN`` for anyone but the system admin and unit admins."""
    if not actor.is_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    q = select(ApiClient).join(OrgUnit, OrgUnit.id == ApiClient.unit_id).order_by(ApiClient.id).limit(limit)
    cond = _visible_to(actor)
    if cond is not None:
        q = q.where(cond)
    if after_id is not None:
        q = q.where(ApiClient.id > after_id)
    return list((await session.execute(q)).scalars())


async def get_client(session: AsyncSession, actor: Actor, pk: int) -> ApiClient | None:
    """Client ``pk`` if ``actor`` administers it, else None (existence is not revealed)."""
    if not actor.is_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    q = select(ApiClient).join(OrgUnit, OrgUnit.id == ApiClient.unit_id).where(ApiClient.id == pk)
    cond = _visible_to(actor)
    if cond is not None:
        q = q.where(cond)
    return (await session.execute(q)).scalar_one_or_none()


# ---- the token endpoint ----------------------------------------------------------------------


class OAuthError(Exception):
    """An error response of the token endpoint (RFC 6749 §5.2): ``error`` code, a
    human-readable ``description`` (ASCII) and the HTTP status (400, or 401 for
    ``invalid_client`` when the client authenticated with HTTP Basic or at all)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int
    scope: str


def _throttle_key(client_id: str) -> str:
    return (SUBJECT_PREFIX + client_id)[:64]


async def grant_client_credentials(
    db: Database,
    settings: Settings,
    client_id: str,
    client_secret: str,
    requested: frozenset[str] | None,
    *,
    now: dt.datetime | None = None,
) -> TokenGrant:
    """The client-credentials grant (RFC 6749 §4.4): authenticate the client, check the
    requested scopes, issue a token.

    ``requested`` None means every scope of the client; otherwise it must be a non-empty
    subset of them (``invalid_scope``, §5.2). An unknown client, a wrong secret, a revoked
    client and a locked client id all raise the same ``invalid_client`` after the same work.
    ``settings.client_max_failures`` consecutive bad secrets for a client id lock it for
    ``settings.client_lockout_seconds`` (counted in ``login_throttles`` under the key
    ``client:<client_id>``, like usernames in ``office_api.auth.login``); while locked even
    the right secret is refused. Every attempt writes an audit row (the success under the
    client's name).
    """
    now = now or utcnow()
    too_long = len(client_id) > MAX_CLIENT_ID or len(client_secret) > MAX_SECRET
    key = _throttle_key(client_id[:MAX_CLIENT_ID])
    grant: TokenGrant | None = None
    scope_error: OAuthError | None = None
    async with db.unit_of_work() as uow:
        s = uow.session
        client = None
        if not too_long:
            client = (await s.execute(select(ApiClient).where(ApiClient.client_id == client_id))).scalar_one_or_none()
        stored = client.secret_hash if client is not None else _DUMMY_HASH
        ok = secret_matches(client_secret if not too_long else "", stored) and client is not None and not too_long
        if client is not None and client.revoked_at is not None:
            ok = False
        row = await throttle_row(s, key, now)
        if row.locked_until is not None:
            audit.record(
                s,
                actor_id=None,
                action=Action.API_CLIENT_TOKEN_FAILURE,
                target_type="ClientId",
                target_id=key,
                after={"reason": "locked", "lockedUntil": row.locked_until.isoformat()},
                now=now,
            )
        elif not ok or client is None:
            after = count_failure(row, now, settings.client_max_failures, settings.client_lockout_seconds)
            action = Action.API_CLIENT_LOCKOUT if "lockedUntil" in after else Action.API_CLIENT_TOKEN_FAILURE
            audit.record(s, actor_id=None, action=action, target_type="ClientId", target_id=key, after=after, now=now)
        else:
            row.failures, row.last_failure_at, row.locked_until = 0, None, None
            granted = client.scope_set if requested is None else requested
            if not granted or not granted <= client.scope_set:
                scope_error = OAuthError(
                    "invalid_scope",
                    f"the scope must be a non-empty subset of: {format_scopes(client.scope_set)}",
                )
                audit.record(
                    s,
                    actor_id=None,
                    action=Action.API_CLIENT_TOKEN_FAILURE,
                    target_type="ApiClient",
                    target_id=client.id,
                    after={"reason": "invalid_scope", "requested": [r[:40] for r in sorted(requested or ())][:10]},
                    now=now,
                    actor_client_id=client.id,
                )
            else:
                token, ttl = issue_client_token(settings, client, granted, now)
                grant = TokenGrant(token, ttl, format_scopes(granted))
                audit.record(
                    s,
                    actor_id=None,
                    action=Action.API_CLIENT_TOKEN,
                    target_type="ApiClient",
                    target_id=client.id,
                    after={"scope": grant.scope, "expiresIn": ttl},
                    now=now,
                    actor_client_id=client.id,
                )
    if scope_error is not None:
        raise scope_error
    if grant is None:
        raise OAuthError("invalid_client", "client authentication failed", 401)
    return grant

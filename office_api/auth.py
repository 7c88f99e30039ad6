"""Authentication: argon2 password hashes, JWT access tokens, rotating refresh tokens.

Access tokens are JWTs (HS256, 15 minutes by default) with claims ``sub`` (user id as a
string), ``iat``, ``nbf``, ``exp``, ``iss``, ``aud`` and ``jti``. Refresh tokens are random
strings stored as SHA-256 hashes; each use rotates it, and presenting a used one again
revokes its whole family (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select, update

from office_api.config import Settings
from office_api.db import Database, UnitOfWork, utcnow
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import RefreshToken, User

_hasher = PasswordHash((Argon2Hasher(),))
#: Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    """Argon2id hash of ``password`` (pwdlib defaults)."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # malformed hash: treat as mismatch
        return False


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    jti: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: dt.datetime
    user_id: int


def issue_access_token(settings: Settings, user_id: int, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    """A signed access token for ``user_id`` and its expiry instant (UTC)."""
    now = now or utcnow()
    exp = now + dt.timedelta(seconds=settings.access_token_ttl_seconds)
    claims = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(exp.timestamp()),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256"), exp.replace(microsecond=0)


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verify signature, issuer, audience, ``nbf`` and ``exp``.

    Raises :class:`DomainError` ``INVALID_TOKEN`` on any failure.
    """
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "iat", "nbf", "exp", "iss", "aud", "jti"]},
            leeway=5,
        )
        return AccessClaims(
            user_id=int(claims["sub"]),
            jti=str(claims["jti"]),
            expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise DomainError(ErrorCode.INVALID_TOKEN) from exc


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _new_refresh(uow: UnitOfWork, settings: Settings, user_id: int, family: str) -> str:
    token = secrets.token_urlsafe(32)
    uow.session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family,
            token_hash=_hash_refresh(token),
            expires_at=utcnow() + dt.timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    return token


async def login(db: Database, settings: Settings, username: str, password: str) -> tuple[TokenPair, User]:
    """Check the credentials and open a new token family; returns the pair and the user.

    The argon2 check runs in a worker thread, outside any write transaction, so a sign-in
    neither blocks the event loop nor holds SQLite's write lock. A wrong password, an
    unknown user and a disabled account all raise the same ``INVALID_CREDENTIALS`` error
    after the same work (no account enumeration).
    """
    async with db.read() as session:
        user = (await session.execute(select(User).where(User.username == username.strip()))).scalar_one_or_none()
    ok = await asyncio.to_thread(verify_password, password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not ok or not user.is_active:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS)
    async with db.unit_of_work() as uow:
        current = await uow.session.get(User, user.id)
        if current is None or not current.is_active:
            raise DomainError(ErrorCode.INVALID_CREDENTIALS)
        access, exp = issue_access_token(settings, user.id)
        refresh = await _new_refresh(uow, settings, user.id, uuid.uuid4().hex)
    return TokenPair(access, refresh, exp, user.id), current


async def rotate_refresh_token(uow: UnitOfWork, settings: Settings, token: str) -> TokenPair:
    """Exchange a refresh token for a new pair.

    Raises ``INVALID_TOKEN`` for an unknown, expired or revoked token, or a disabled user;
    :class:`TokenReused` when an already used token is presented: the caller then revokes
    the family with :func:`revoke_family` in a transaction of its own.
    """
    row = (
        await uow.session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == _hash_refresh(token)).with_for_update()
        )
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise DomainError(ErrorCode.INVALID_TOKEN, "refreshToken")
    if row.used_at is not None:
        raise TokenReused(row.family_id)
    user = await uow.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise DomainError(ErrorCode.INVALID_TOKEN, "refreshToken")
    row.used_at = now
    access, exp = issue_access_token(settings, user.id, now)
    refresh = await _new_refresh(uow, settings, user.id, row.family_id)
    return TokenPair(access, refresh, exp, user.id)


class TokenReused(DomainError):
    """Refresh-token reuse (``TOKEN_REUSED``); ``family_id`` is the family to revoke."""

    def __init__(self, family_id: str) -> None:
        super().__init__(ErrorCode.TOKEN_REUSED, "refreshToken")
        self.family_id = family_id


async def revoke_family(uow: UnitOfWork, family_id: str) -> None:
    """Revoke every live token of a refresh-token family."""
    await uow.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )

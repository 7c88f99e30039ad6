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
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.devices import remove_session_devices, remove_user_devices
from office_api import audit, totp
from office_api.audit import Action
from office_api.config import Settings
from office_api.db import Database, UnitOfWork, utcnow
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import LoginThrottle, RefreshToken, RevokedToken, User

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
class PasswordPolicy:
    """Minimum length and number of character classes (lowercase, uppercase, digit, symbol)."""

    min_length: int = 8
    min_classes: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordPolicy:
        return cls(settings.password_min_length, settings.password_min_classes)

    def broken_rules(self, password: str) -> list[tuple[str, str]]:
        """The rules ``password`` breaks, as (zh-CN, English) phrases."""
        out = []
        if len(password) < self.min_length:
            out.append((f"长度至少 {self.min_length} 个字符", f"at least {self.min_length} characters"))
        classes = sum(
            (
                any(c.islower() for c in password),
                any(c.isupper() for c in password),
                any(c.isdigit() for c in password),
                any(not c.isalnum() for c in password),
            )
        )
        if classes < self.min_classes:
            out.append(
                (
                    f"须包含小写字母、大写字母、数字、符号中的至少 {self.min_classes} 类",
                    f"at least {self.min_classes} of: lowercase letter, uppercase letter, digit, symbol",
                )
            )
        return out

    def error(self, password: str, field: str = "password", old_password: str | None = None) -> DomainError | None:
        """One ``WEAK_PASSWORD`` error on ``field`` whose message names every broken rule, or None."""
        rules = self.broken_rules(password)
        if old_password is not None and password == old_password:
            rules.append(("不能与当前密码相同", "must differ from the current password"))
        if not rules:
            return None
        return DomainError(
            ErrorCode.WEAK_PASSWORD,
            field,
            limit=self.min_length,
            rule_zh="；".join(r[0] for r in rules),
            rule_en="; ".join(r[1] for r in rules),
        )


#: The default policy: the level-3 profile (8+ characters, three character classes).
DEFAULT_POLICY = PasswordPolicy()


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    jti: str
    expires_at: dt.datetime
    #: The user's token version when issued (claim ``tv``; 0 when absent).
    token_version: int = 0
    #: The refresh-token family of the session (claim ``fam``), if any.
    family: str | None = None


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: dt.datetime
    user_id: int


def issue_access_token(
    settings: Settings,
    user_id: int,
    now: dt.datetime | None = None,
    *,
    token_version: int = 0,
    family: str | None = None,
) -> tuple[str, dt.datetime]:
    """A signed access token for ``user_id`` and its expiry instant (UTC).

    ``token_version`` (claim ``tv``) must equal the user's when the token is presented;
    ``family`` (claim ``fam``) names the refresh-token family that logout revokes.
    """
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
        "tv": token_version,
    }
    if family is not None:
        claims["fam"] = family
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
            token_version=int(claims.get("tv", 0)),
            family=str(claims["fam"]) if claims.get("fam") is not None else None,
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


async def open_session(uow: UnitOfWork, settings: Settings, user: User) -> TokenPair:
    """Issue a token pair for ``user`` in a new refresh-token family (a new session).

    The caller has authenticated the user (password, identity provider) and checked that the
    account is active; the refresh token row is added to ``uow``'s transaction.
    """
    family = uuid.uuid4().hex
    access, exp = issue_access_token(settings, user.id, token_version=user.token_version, family=family)
    refresh = await _new_refresh(uow, settings, user.id, family)
    return TokenPair(access, refresh, exp, user.id)


def _throttle_key(username: str) -> str:
    return username.strip().lower()[:64]


async def throttle_row(session: AsyncSession, key: str, now: dt.datetime) -> LoginThrottle:
    """The locked throttle row of ``key``, created when missing (race-free on both databases).

    A lock that has run out by ``now`` is lifted (and its count cleared) before the row is
    returned, so ``row.locked_until`` is set only while the key is still locked.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(LoginThrottle).values(username=key, failures=0).on_conflict_do_nothing())
    row = await session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    assert row is not None
    if row.locked_until is not None and row.locked_until <= now:
        row.locked_until, row.failures = None, 0
    return row


def count_failure(row: LoginThrottle, now: dt.datetime, max_failures: int, lockout_seconds: int) -> dict[str, object]:
    """Count one failure on a throttle row (password sign-in, or a client's token request).

    Failures older than the lockout window are forgotten first; reaching ``max_failures``
    locks the key for ``lockout_seconds`` and starts the count again. Returns what the audit
    row records: ``{"failures": n}``, plus ``"lockedUntil"`` (ISO 8601, UTC) when this
    failure locked the key.
    """
    window = dt.timedelta(seconds=lockout_seconds)
    if row.last_failure_at is not None and row.last_failure_at <= now - window:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    after: dict[str, object] = {"failures": row.failures}
    if row.failures >= max_failures:
        row.locked_until = now + window
        after["lockedUntil"] = row.locked_until.isoformat()
        row.failures = 0
    return after


def _count_failure(
    s: AsyncSession, row: LoginThrottle, key: str, settings: Settings, now: dt.datetime, reason: str | None = None
) -> None:
    """Count one failed sign-in of ``key`` (locking it at the limit) and audit it."""
    after = count_failure(row, now, settings.login_max_failures, settings.login_lockout_seconds)
    audit.record(
        s,
        actor_id=None,
        action=Action.LOGIN_LOCKOUT if "lockedUntil" in after else Action.LOGIN_FAILURE,
        target_type="Username",
        target_id=key,
        after={**after, **({"reason": reason} if reason else {})},
        now=now,
    )


async def complete_login(
    uow: UnitOfWork, settings: Settings, user: User, *, now: dt.datetime | None = None, totp_used: bool = False
) -> TokenPair:
    """Sign ``user`` in once every factor passed: a new session and its ``login.success`` row."""
    pair = await open_session(uow, settings, user)
    audit.record(
        uow.session,
        actor_id=user.id,
        action=Action.LOGIN_SUCCESS,
        target_type="User",
        target_id=user.id,
        after={"mustChangePassword": user.must_change_password, **({"totp": True} if totp_used else {})},
        now=now,
    )
    return pair


async def login(
    db: Database,
    settings: Settings,
    username: str,
    password: str,
    *,
    now: dt.datetime | None = None,
    totp_code: str | None = None,
) -> tuple[TokenPair, User]:
    """Check the credentials and open a new token family; returns the pair and the user.

    The argon2 check runs in a worker thread, outside any write transaction, so a sign-in
    neither blocks the event loop nor holds SQLite's write lock. A wrong password, an
    unknown user, a disabled account and a locked username all raise the same
    ``INVALID_CREDENTIALS`` error after the same work (no account enumeration).

    Second factor (office_api/totp.py): once the password is right, a user with active
    TOTP must give ``totp_code``. Without one: ``TOTP_REQUIRED`` on ``totpCode`` (not a
    failure: the usual first step of a two-step sign-in). A wrong or replayed code:
    ``INVALID_CREDENTIALS`` on ``totpCode``, counted as a failure like a wrong password.

    Lockout: ``settings.login_max_failures`` consecutive failures for a username (whether
    or not it exists) lock it for ``settings.login_lockout_seconds``, counted in the
    database (``login_throttles``), so a restart does not reset it. While locked even the
    right password is refused. ``now`` is the clock (injectable for tests; it also decides
    the TOTP time step). Every attempt writes an audit row (success, failure or lockout)
    in the same transaction.
    """
    now = now or utcnow()
    key = _throttle_key(username)
    async with db.read() as session:
        user = (await session.execute(select(User).where(User.username == key))).scalar_one_or_none()
    if len(password) > MAX_PASSWORD_LENGTH:  # never hash megabytes: no stored password is that long
        user_hash, password = _DUMMY_HASH, "x"
    else:
        user_hash = user.password_hash if user else _DUMMY_HASH
    ok = await asyncio.to_thread(verify_password, password, user_hash) and user is not None
    result: tuple[TokenPair, User] | None = None
    error = DomainError(ErrorCode.INVALID_CREDENTIALS)
    async with db.unit_of_work() as uow:
        s = uow.session
        row = await throttle_row(s, key, now)
        current = await s.get(User, user.id) if user is not None and ok else None
        if row.locked_until is not None:
            audit.record(
                s,
                actor_id=None,
                action=Action.LOGIN_FAILURE,
                target_type="Username",
                target_id=key,
                after={"reason": "locked", "lockedUntil": row.locked_until.isoformat()},
                now=now,
            )
        elif current is None or not current.is_active:
            _count_failure(s, row, key, settings, now)
        else:
            second = await totp.check_login(s, settings, current.id, totp_code, now)
            if second is totp.LoginCheck.MISSING:
                # Not counted (nor does it reset the count): the password alone proves nothing more.
                audit.record(
                    s,
                    actor_id=None,
                    action=Action.LOGIN_FAILURE,
                    target_type="Username",
                    target_id=key,
                    after={"reason": second.value},
                    now=now,
                )
                error = DomainError(ErrorCode.TOTP_REQUIRED, "totpCode")
            elif second in (totp.LoginCheck.INVALID, totp.LoginCheck.REPLAYED):
                _count_failure(s, row, key, settings, now, second.value)
                error = DomainError(ErrorCode.INVALID_CREDENTIALS, "totpCode")
            else:
                row.failures, row.last_failure_at, row.locked_until = 0, None, None
                pair = await complete_login(uow, settings, current, now=now, totp_used=second is totp.LoginCheck.PASSED)
                result = pair, current
    if result is None:
        raise error
    return result


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
    access, exp = issue_access_token(settings, user.id, now, token_version=user.token_version, family=row.family_id)
    refresh = await _new_refresh(uow, settings, user.id, row.family_id)
    return TokenPair(access, refresh, exp, user.id)


class TokenReused(DomainError):
    """Refresh-token reuse (``TOKEN_REUSED``); ``family_id`` is the family to revoke."""

    def __init__(self, family_id: str) -> None:
        super().__init__(ErrorCode.TOKEN_REUSED, "refreshToken")
        self.family_id = family_id


async def revoke_family(uow: UnitOfWork, family_id: str) -> list[int]:
    """Revoke every live token of a refresh-token family and delete the push devices that
    session registered; the ids of its users (one, or none for an unknown family)."""
    await remove_session_devices(uow.session, [family_id])
    await uow.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    users = await uow.session.execute(select(RefreshToken.user_id).where(RefreshToken.family_id == family_id))
    return sorted(set(users.scalars()))


async def revoke_user_tokens(session: AsyncSession, user: User) -> None:
    """Revoke every access and refresh token of ``user`` now (bump ``token_version``) and
    delete all of the user's push devices (a signed-out phone gets no push)."""
    user.token_version = (user.token_version or 0) + 1
    await remove_user_devices(session, user.id)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def token_revoked(session: AsyncSession, claims: AccessClaims, user: User) -> bool:
    """True when the access token was revoked: logout (its ``jti``), a newer token version,
    or the revocation of its refresh-token family (logout, or reuse of a spent refresh token)."""
    if claims.token_version != (user.token_version or 0):
        return True
    if await session.get(RevokedToken, claims.jti) is not None:
        return True
    if claims.family is None:
        return False
    revoked = await session.execute(
        select(RefreshToken.id)
        .where(RefreshToken.family_id == claims.family, RefreshToken.revoked_at.is_not(None))
        .limit(1)
    )
    return revoked.first() is not None


async def logout(uow: UnitOfWork, claims: AccessClaims, refresh_token: str | None = None) -> None:
    """End the caller's session: revoke its access token (by ``jti``) and its refresh family.

    The family is the one named in the access token, or the one of ``refresh_token`` when
    given (it must belong to the same user).
    """
    s = uow.session
    # Expired tokens fail on their own: forget their revocations (keeps the table small).
    await s.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow() - dt.timedelta(minutes=5)))
    if await s.get(RevokedToken, claims.jti) is None:
        s.add(RevokedToken(jti=claims.jti, user_id=claims.user_id, expires_at=claims.expires_at))
    families = {claims.family} if claims.family else set()
    if refresh_token:
        row = (
            await s.execute(select(RefreshToken).where(RefreshToken.token_hash == _hash_refresh(refresh_token)))
        ).scalar_one_or_none()
        if row is not None and row.user_id == claims.user_id:
            families.add(row.family_id)
    for family in sorted(families):
        await revoke_family(uow, family)
    audit.record(
        s,
        actor_id=claims.user_id,
        action=Action.LOGOUT,
        target_type="User",
        target_id=claims.user_id,
        after={"familiesRevoked": len(families)},
    )
    await s.flush()


async def change_password(
    db: Database, settings: Settings, user_id: int, old_password: str, new_password: str
) -> TokenPair:
    """Replace the user's password after checking the old one; returns a fresh token pair.

    ``INVALID_CREDENTIALS`` (field ``oldPassword``) for a wrong old password;
    ``WEAK_PASSWORD`` (field ``newPassword``) naming the broken rule of the policy or a new
    password equal to the old one. Every other token of the user is revoked, and a forced
    change (``must_change_password``) is satisfied. Hashing runs off the event loop,
    outside the write transaction.
    """
    async with db.read() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "oldPassword")
    if not await asyncio.to_thread(verify_password, old_password, user.password_hash):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "oldPassword")
    check_new_password(PasswordPolicy.from_settings(settings), new_password, "newPassword", old_password)
    new_hash = await asyncio.to_thread(hash_password, new_password)
    async with db.unit_of_work() as uow:
        s = uow.session
        current = await s.get(User, user_id, with_for_update=True, populate_existing=True)
        if current is None or current.password_hash != user.password_hash:
            raise DomainError(ErrorCode.STALE_VERSION, "oldPassword")
        before = {"mustChangePassword": current.must_change_password}
        current.password_hash = new_hash
        current.must_change_password = False
        await revoke_user_tokens(s, current)
        family = uuid.uuid4().hex
        access, exp = issue_access_token(settings, current.id, token_version=current.token_version, family=family)
        refresh = await _new_refresh(uow, settings, current.id, family)
        audit.record(
            s,
            actor_id=current.id,
            action=Action.PASSWORD_CHANGE,
            target_type="User",
            target_id=current.id,
            before=before,
            after={"mustChangePassword": False},
        )
    return TokenPair(access, refresh, exp, user_id)


#: Longest accepted password (argon2 hashes anything; this bounds the work per request).
MAX_PASSWORD_LENGTH = 256


def check_new_password(policy: PasswordPolicy, password: str, field: str, old_password: str | None = None) -> None:
    """Raise ``WEAK_PASSWORD``/``TOO_LONG`` on ``field`` when ``password`` breaks the policy."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, field, limit=MAX_PASSWORD_LENGTH)
    error = policy.error(password, field, old_password)
    if error is not None:
        raise error

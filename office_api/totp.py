"""Time-based one-time passwords (TOTP, RFC 6238): the second factor of sign-in.

Any user may turn it on; holders of the three separated administrator roles (三员,
:data:`REQUIRED_ROLES`) must: until they have, their sessions are restricted to enrolling
(schema/common.py). The account operations (enroll, confirm, turn off, reset) are in
office_api/org/two_factor.py; this module holds what sign-in and every request need.

* Codes: 6 digits, 30-second time steps, HMAC-SHA-1 (what authenticator apps expect).
  A code is accepted for the current step and one step on either side (RFC 6238 §5.2,
  clock drift and network delay).
* Replay: the step of each accepted code is stored per user, and a code of that step or an
  earlier one is refused afterwards, whatever the operation (sign-in, confirming an
  enrollment, turning it off). The write is one conditional ``UPDATE … WHERE
  last_used_step < :step``, so of two requests with the same code exactly one wins, on
  SQLite and PostgreSQL alike.
* Secrets are stored encrypted (Fernet: AES-128-CBC with HMAC-SHA-256) under a key derived
  with HKDF-SHA-256 from ``OFFICE_TOTP_SECRET_KEY``, or from ``OFFICE_JWT_SECRET`` when that
  is empty. Rotating the JWT secret therefore needs the old one moved to
  ``OFFICE_TOTP_SECRET_KEY`` (the derived key stays the same).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from enum import StrEnum

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from office_api import sealing
from office_api.config import Settings
from office_api.org.models import SEPARATED_ROLES, RoleAssignment, UserTotp

log = logging.getLogger("office_api.totp")

#: Seconds per time step (RFC 6238 default; authenticator apps assume it).
STEP_SECONDS = 30
#: Digits per code.
DIGITS = 6
#: Steps accepted on either side of the current one.
WINDOW = 1
#: Roles whose holders must use two-factor sign-in: the three separated administrators.
REQUIRED_ROLES = frozenset(r.value for r in SEPARATED_ROLES)
_HKDF_INFO = b"office-api totp secret encryption v1"


class TotpKeyError(RuntimeError):
    """A stored secret does not decrypt with the configured key (the key was changed)."""


def _cipher(settings: Settings) -> Fernet:
    fernet = sealing.cipher(settings, _HKDF_INFO)
    if fernet is None:
        raise TotpKeyError("no key for TOTP secrets: set OFFICE_TOTP_SECRET_KEY or OFFICE_JWT_SECRET")
    return fernet


def encrypt_secret(settings: Settings, secret: str) -> str:
    """The Fernet token stored for ``secret``."""
    return _cipher(settings).encrypt(secret.encode()).decode()


def decrypt_secret(settings: Settings, token: str) -> str:
    """The secret stored as ``token``; :class:`TotpKeyError` when the key does not fit."""
    try:
        return _cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise TotpKeyError("a stored TOTP secret does not decrypt: was OFFICE_TOTP_SECRET_KEY changed?") from exc


def new_secret() -> str:
    """A random base32 secret of 160 bits (RFC 4226 §4 recommends 160)."""
    return pyotp.random_base32(32)


def time_step(now: dt.datetime) -> int:
    """The RFC 6238 time step of the instant ``now``."""
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code of ``secret`` for time step ``step``."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """The ``otpauth://totp/…`` URI that authenticator apps read (as a QR code or typed)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=username, issuer_name=issuer)


def given(code: str | None) -> bool:
    """True when a code was given at all (not None, not blank)."""
    return bool(code and code.strip())


def matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The step within ±:data:`WINDOW` of ``now`` whose code is ``code`` (spaces ignored),
    the latest if several, or None."""
    code = code.replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    current = time_step(now)
    for step in range(current + WINDOW, current - WINDOW - 1, -1):
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


async def consume_step(session: AsyncSession, user_id: int, step: int) -> bool:
    """Record ``step`` as the user's last accepted one; False when it, or a later one, already
    was (a replay). One conditional UPDATE: concurrent callers cannot both succeed."""
    result = await session.execute(
        update(UserTotp)
        .where(
            UserTotp.user_id == user_id,
            or_(UserTotp.last_used_step.is_(None), UserTotp.last_used_step < step),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def is_enabled(session: AsyncSession, user_id: int) -> bool:
    """True when the user's two-factor sign-in is on (an enrollment was confirmed)."""
    found = await session.execute(
        select(UserTotp.user_id).where(UserTotp.user_id == user_id, UserTotp.secret.is_not(None))
    )
    return found.first() is not None


async def required_for(session: AsyncSession, user_id: int) -> bool:
    """True when the user holds a role that requires two-factor sign-in."""
    found = await session.execute(
        select(RoleAssignment.id).where(RoleAssignment.user_id == user_id, RoleAssignment.role.in_(REQUIRED_ROLES))
    )
    return found.first() is not None


async def must_enroll(session: AsyncSession, user_id: int) -> bool:
    """True when the user's roles require two-factor sign-in and it is not on yet."""
    return await required_for(session, user_id) and not await is_enabled(session, user_id)


class LoginCheck(StrEnum):
    """The outcome of the second factor at sign-in (values name the reason in audit rows)."""

    OFF = "off"
    PASSED = "passed"
    MISSING = "totp_missing"
    INVALID = "totp_invalid"
    REPLAYED = "totp_replayed"


async def check_login(
    session: AsyncSession, settings: Settings, user_id: int, code: str | None, now: dt.datetime
) -> LoginCheck:
    """Check the second factor of a sign-in whose password was right (in its transaction).

    ``OFF`` when the user has no active TOTP; otherwise the code must be given
    (``MISSING``), match a step within the window (``INVALID``) and not be one already
    used (``REPLAYED``); ``PASSED`` records its step.
    """
    row = await session.get(UserTotp, user_id, populate_existing=True)
    if row is None or row.secret is None:
        return LoginCheck.OFF
    if code is None or not given(code):
        return LoginCheck.MISSING
    try:
        secret = decrypt_secret(settings, row.secret)
    except TotpKeyError:
        log.error("the TOTP secret of user %s does not decrypt: was OFFICE_TOTP_SECRET_KEY changed?", user_id)
        return LoginCheck.INVALID
    step = matching_step(secret, code, now)
    if step is None:
        return LoginCheck.INVALID
    return LoginCheck.PASSED if await consume_step(session, user_id, step) else LoginCheck.REPLAYED

"""Two-factor sign-in of an account: enrollment, turning it off, an administrator's reset.

Enrollment is two steps, both by the user: :func:`start_enrollment` hands out a new random
secret (pending; starting again replaces it), :func:`confirm_enrollment` checks a current
code of it and turns two-factor sign-in on. Confirming revokes every older token of the
user (sessions opened with the password alone) and returns a fresh pair.

:func:`disable` needs the password and a current code, and is refused to holders of a role
that requires two-factor sign-in (``TOTP_REQUIRED_BY_ROLE``). :func:`reset` is for the
administrator who may reset the user's password (the rules of
:func:`office_api.org.accounts.reset_password`): it turns two-factor sign-in off and revokes
the user's tokens, so they enroll again (with a new device) at their next sign-in.
:func:`reset_by_operator` is the same from the command line (``office-api reset-totp``), for
the accounts no API caller may reset: the three administrators.

Every change locks the user row first (so two requests of one user are serialized) and
writes its audit row in the same transaction: ``totp.enroll``, ``totp.disable``,
``totp.reset``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from office_api import audit, totp
from office_api.audit import Action
from office_api.auth import TokenPair, open_session, revoke_user_tokens, verify_password
from office_api.config import Settings
from office_api.db import Database, UnitOfWork
from office_api.errors import DomainError, ErrorCode
from office_api.org.accounts import _user_for_admin  # the scope rules of reset_password
from office_api.org.models import User, UserTotp
from office_api.org.permissions import Actor

_STATE = {"totpEnabled": True}
_OFF = {"totpEnabled": False}


@dataclass(frozen=True)
class Enrollment:
    """A pending enrollment: the secret to put in an authenticator app, and its URI."""

    secret: str
    uri: str


async def _locked(uow: UnitOfWork, user_id: int) -> tuple[User, UserTotp | None]:
    user = await uow.session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None or not user.is_active:
        raise DomainError(ErrorCode.NOT_FOUND, "userId")
    return user, await uow.session.get(UserTotp, user_id, populate_existing=True)


async def start_enrollment(uow: UnitOfWork, settings: Settings, user_id: int, now: dt.datetime) -> Enrollment:
    """A new secret for the user, pending until confirmed; replaces any pending one.

    ``INVALID_STATE`` when two-factor sign-in is on already (turn it off, or have it reset,
    to move to another device).
    """
    user, row = await _locked(uow, user_id)
    if row is not None and row.secret is not None:
        raise DomainError(ErrorCode.INVALID_STATE, None, detail="two-factor sign-in is on already")
    secret = totp.new_secret()
    if row is None:
        row = UserTotp(user_id=user.id)
        uow.session.add(row)
    row.pending_secret = totp.encrypt_secret(settings, secret)
    row.pending_since = now
    await uow.session.flush()
    return Enrollment(secret, totp.provisioning_uri(secret, user.username, settings.totp_issuer))


async def confirm_enrollment(
    uow: UnitOfWork, settings: Settings, user_id: int, code: str, now: dt.datetime
) -> TokenPair:
    """Turn two-factor sign-in on with a current code of the pending secret.

    ``INVALID_STATE`` without a pending enrollment; ``INVALID_CREDENTIALS`` on ``code`` for
    a wrong code. The code's step counts as used. Every older token of the user is revoked;
    returns a fresh pair.
    """
    user, row = await _locked(uow, user_id)
    if row is None or row.pending_secret is None:
        on = row is not None and row.secret is not None
        detail = "two-factor sign-in is on already" if on else "no enrollment started (startTotpEnrollment)"
        raise DomainError(ErrorCode.INVALID_STATE, None, detail=detail)
    try:
        secret = totp.decrypt_secret(settings, row.pending_secret)
    except totp.TotpKeyError as exc:  # the key changed since the start: start again
        raise DomainError(ErrorCode.INVALID_STATE, None, detail="start the enrollment again") from exc
    step = totp.matching_step(secret, code, now)
    if step is None or (row.last_used_step is not None and step <= row.last_used_step):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "code")
    row.secret, row.pending_secret, row.pending_since = row.pending_secret, None, None
    row.enabled_at, row.last_used_step = now, step
    await revoke_user_tokens(uow.session, user)
    pair = await open_session(uow, settings, user)
    audit.record(
        uow.session,
        actor_id=user.id,
        action=Action.TOTP_ENROLL,
        target_type="User",
        target_id=user.id,
        before=_OFF,
        after=_STATE,
    )
    await uow.session.flush()
    return pair


async def disable(db: Database, settings: Settings, user_id: int, password: str, code: str, now: dt.datetime) -> None:
    """Turn the user's own two-factor sign-in off, with the password and a current code.

    ``TOTP_REQUIRED_BY_ROLE`` for a holder of a role that requires it;
    ``INVALID_CREDENTIALS`` on ``password`` or on ``code``; ``INVALID_STATE`` when it is
    not on. The password is checked off the event loop, outside the write transaction.
    """
    async with db.read() as session:
        user = await session.get(User, user_id)
        required = await totp.required_for(session, user_id)
    if user is None:
        raise DomainError(ErrorCode.NOT_FOUND, "userId")
    if required:
        raise DomainError(ErrorCode.TOTP_REQUIRED_BY_ROLE, None)
    if not await asyncio.to_thread(verify_password, password, user.password_hash):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "password")
    async with db.unit_of_work() as uow:
        current, row = await _locked(uow, user_id)
        if current.password_hash != user.password_hash:
            raise DomainError(ErrorCode.STALE_VERSION, "password")
        if await totp.required_for(uow.session, user_id):  # a role granted meanwhile
            raise DomainError(ErrorCode.TOTP_REQUIRED_BY_ROLE, None)
        if row is None or row.secret is None:
            raise DomainError(ErrorCode.INVALID_STATE, None, detail="two-factor sign-in is not on")
        try:
            step = totp.matching_step(totp.decrypt_secret(settings, row.secret), code, now)
        except totp.TotpKeyError:  # the key changed: only a reset helps now
            step = None
        if step is None or not await totp.consume_step(uow.session, user_id, step):
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, "code")
        _clear(row)
        audit.record(
            uow.session,
            actor_id=user_id,
            action=Action.TOTP_DISABLE,
            target_type="User",
            target_id=user_id,
            before=_STATE,
            after=_OFF,
        )


def _clear(row: UserTotp) -> None:
    row.secret = row.pending_secret = row.pending_since = row.enabled_at = row.last_used_step = None


async def reset(uow: UnitOfWork, actor: Actor, user_id: int) -> User:
    """An administrator turns another user's two-factor sign-in off (lost device).

    Allowed to whoever may reset that user's password (``FORBIDDEN`` otherwise, also for
    the accounts of the three administrators: see :func:`reset_by_operator`); yourself:
    ``INVALID_STATE`` (use disableTotp). Revokes the user's tokens. When nothing is on or
    pending, nothing changes and no row is written.
    """
    user = await _user_for_admin(uow, actor, user_id, reset=True)
    if user.id == actor.user_id:
        raise DomainError(ErrorCode.INVALID_STATE, "userId", detail="use disableTotp for your own account")
    row = await uow.session.get(UserTotp, user.id, populate_existing=True)
    await _reset(uow, user, row, actor.user_id, None)
    return user


async def reset_by_operator(uow: UnitOfWork, username: str) -> bool:
    """``office-api reset-totp``: the same as :func:`reset` for any account, by the operator of
    the server (audited with no actor). False when the user does not exist."""
    user = (
        await uow.session.execute(select(User).where(User.username == username.strip().lower()).with_for_update())
    ).scalar_one_or_none()
    if user is None:
        return False
    row = await uow.session.get(UserTotp, user.id, populate_existing=True)
    await _reset(uow, user, row, None, "command line")
    return True


async def _reset(uow: UnitOfWork, user: User, row: UserTotp | None, actor_id: int | None, source: str | None) -> None:
    if row is None or (row.secret is None and row.pending_secret is None):
        return
    before = {"totpEnabled": row.secret is not None, "enrollmentPending": row.pending_secret is not None}
    _clear(row)
    user.version = (user.version or 1) + 1
    await revoke_user_tokens(uow.session, user)
    audit.record(
        uow.session,
        actor_id=actor_id,
        action=Action.TOTP_RESET,
        target_type="User",
        target_id=user.id,
        before=before,
        after={**_OFF, "enrollmentPending": False, **({"source": source} if source else {})},
    )
    await uow.session.flush()

"""Links between subjects of the identity provider and platform users (administered).

Who may link or unlink is decided as for a password reset (:mod:`office_api.org.accounts`):
a system admin for any account, a unit admin for the accounts of its subtree, and nobody
for an account holding one of the three separated roles (三员分立) but that account's
holder, since a link lets whoever owns the subject sign in as the user. One subject of an
issuer belongs to at most one user, and a user has at most one subject per issuer
(``DUPLICATE``). Every change writes an audit row in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from office_api import audit
from office_api.audit import Action
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode
from office_api.org.accounts import _user_for_admin
from office_api.org.models import OidcLoginCode, User, UserIdentity
from office_api.org.permissions import Actor

#: Longest subject: OpenID Connect Core 1.0 §2 limits ``sub`` to 255 ASCII characters.
MAX_SUBJECT = 255


def _check_subject(subject: str) -> str:
    if not subject:
        raise DomainError(ErrorCode.REQUIRED, "subject")
    if len(subject) > MAX_SUBJECT:
        raise DomainError(ErrorCode.TOO_LONG, "subject", limit=MAX_SUBJECT)
    if subject != subject.strip() or not subject.isascii() or not subject.isprintable():
        raise DomainError(ErrorCode.INVALID_VALUE, "subject", detail="printable ASCII without surrounding spaces")
    return subject


def _require_issuer(issuer: str) -> None:
    """``OIDC_DISABLED`` when no provider is configured (``issuer`` empty); checked after the
    permission check, so that who may not link learns nothing about the configuration."""
    if not issuer:
        raise DomainError(ErrorCode.OIDC_DISABLED)


async def identities_of(session: AsyncSession, user_id: int) -> list[UserIdentity]:
    """The identities linked to ``user_id``, oldest first."""
    rows = await session.execute(select(UserIdentity).where(UserIdentity.user_id == user_id).order_by(UserIdentity.id))
    return list(rows.scalars())


async def list_identities(uow: UnitOfWork, actor: Actor, user_id: int) -> list[UserIdentity]:
    """The identities of a user the actor administers (``FORBIDDEN`` otherwise)."""
    await _user_for_admin(uow, actor, user_id, reset=True)
    return await identities_of(uow.session, user_id)


async def link_identity(uow: UnitOfWork, actor: Actor, user_id: int, issuer: str, subject: str) -> User:
    """Link ``subject`` of ``issuer`` to ``user_id``.

    ``FORBIDDEN`` unless ``actor`` may administer the user (checked first); ``OIDC_DISABLED``
    when ``issuer`` is empty (no provider configured);
    ``REQUIRED``/``TOO_LONG``/``INVALID_VALUE`` on ``subject``; ``DUPLICATE`` on ``subject``
    when another user (or this one) has it, on ``userId`` when the user already has a subject
    of this issuer. Of two admins linking the same subject at once, one wins and the other
    gets ``DUPLICATE`` (the unique constraint decides).
    """
    user = await _user_for_admin(uow, actor, user_id, reset=True)
    _require_issuer(issuer)
    _check_subject(subject)
    s = uow.session
    taken = (
        await s.execute(select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject))
    ).scalar_one_or_none()
    if taken is not None:
        raise DomainError(ErrorCode.DUPLICATE, "subject", detail=subject)
    if any(i.issuer == issuer for i in await identities_of(s, user.id)):
        raise DomainError(ErrorCode.DUPLICATE, "userId", detail=issuer)
    s.add(UserIdentity(user_id=user.id, issuer=issuer, subject=subject, created_by=actor.user_id))
    try:
        await s.flush()
    except IntegrityError as exc:  # a concurrent link of the same subject committed first
        raise DomainError(ErrorCode.DUPLICATE, "subject", detail=subject) from exc
    audit.record(
        s,
        actor_id=actor.user_id,
        action=Action.IDENTITY_LINK,
        target_type="User",
        target_id=user.id,
        after={"issuer": issuer, "subject": subject},
    )
    await s.flush()
    return user


async def unlink_identity(uow: UnitOfWork, actor: Actor, user_id: int, issuer: str, subject: str) -> User:
    """Remove the link of ``subject`` (of ``issuer``) from ``user_id``; ``NOT_FOUND`` on
    ``subject`` when the user has no such link. Unused login codes obtained through the link
    are deleted; sessions already opened through it are not revoked."""
    user = await _user_for_admin(uow, actor, user_id, reset=True)
    _require_issuer(issuer)
    s = uow.session
    row = (
        await s.execute(
            select(UserIdentity).where(
                UserIdentity.user_id == user.id, UserIdentity.issuer == issuer, UserIdentity.subject == subject
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, "subject")
    await s.execute(delete(OidcLoginCode).where(OidcLoginCode.identity_id == row.id, OidcLoginCode.used_at.is_(None)))
    await s.delete(row)
    audit.record(
        s,
        actor_id=actor.user_id,
        action=Action.IDENTITY_UNLINK,
        target_type="User",
        target_id=user.id,
        before={"issuer": issuer, "subject": subject},
    )
    await s.flush()
    return user

"""Account administration: disable, enable, reset password; grant and revoke roles.

Separation of duties (三员分立, GB/T 22239-2019 level 3): the system admin (and unit admins
inside their subtree) manage accounts; only the security admin grants and revokes roles;
the audit admin only reads the audit log. One account holds at most one of the three
roles, and none of them together with a unit admin scope (``ROLE_CONFLICT``).

Every function checks permission first, locks the user row it changes (two admins acting
at once are serialized: the second sees the first one's result), writes an audit row in
the same transaction and flushes. Committing is the caller's job; wake-ups for the
broker are registered with :meth:`UnitOfWork.after_commit`.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from messaging.models import NotificationKind
from messaging.outbox import Message, Publisher, notify
from office_api import audit
from office_api.audit import Action
from office_api.auth import DEFAULT_POLICY, PasswordPolicy, check_new_password, hash_password, revoke_user_tokens
from office_api.db import UnitOfWork
from office_api.errors import AuthError, DomainError, ErrorCode
from office_api.org.models import SEPARATED_ROLES, OrgUnit, Role, RoleAssignment, User
from office_api.org.permissions import Actor
from office_api.org.service import primary_unit_id

_ROLE_NAMES = {
    Role.SYSTEM_ADMIN.value: "系统管理员 system_admin",
    Role.SECURITY_ADMIN.value: "安全管理员 security_admin",
    Role.AUDIT_ADMIN.value: "安全审计员 audit_admin",
    Role.UNIT_ADMIN.value: "单位管理员 unit_admin",
}


async def _user_for_admin(uow: UnitOfWork, actor: Actor, user_id: int, *, reset: bool = False) -> User:
    """Lock and return ``user_id`` when ``actor`` administers that account.

    A system admin administers every account, except that nobody resets the password of
    an account holding one of the three separated roles through the API (that would let
    one administrator sign in as another). A unit admin administers the accounts whose
    primary post is inside its subtree and that hold no separated role and no unit admin
    scope outside that subtree (so it cannot take over a higher administrator). Anyone
    else, or a user outside the scope (or missing, so that a refusal tells nothing), gets
    ``FORBIDDEN``.
    """
    session = uow.session
    if not actor.is_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    user = await session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None:
        if actor.is_system_admin:
            raise DomainError(ErrorCode.NOT_FOUND, "userId")
        raise AuthError(ErrorCode.FORBIDDEN)
    rows = (
        await session.execute(
            select(RoleAssignment.role, OrgUnit.path)
            .outerjoin(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
            .where(RoleAssignment.user_id == user.id)
        )
    ).all()
    separated = any(r.role in SEPARATED_ROLES for r in rows)
    if reset and separated and user.id != actor.user_id:
        raise AuthError(ErrorCode.FORBIDDEN)
    if actor.is_system_admin:
        return user
    if separated or any(r.role == Role.UNIT_ADMIN and not actor.administers_path(r.path or "") for r in rows):
        raise AuthError(ErrorCode.FORBIDDEN)
    home = await primary_unit_id(session, user.id)
    unit = await session.get(OrgUnit, home) if home is not None else None
    if unit is None:
        raise AuthError(ErrorCode.FORBIDDEN)
    actor.require_admin_of(unit)
    return user


async def _roles_of(uow: UnitOfWork, user_id: int) -> list[RoleAssignment]:
    rows = await uow.session.execute(
        select(RoleAssignment).where(RoleAssignment.user_id == user_id).order_by(RoleAssignment.id)
    )
    return list(rows.scalars())


async def set_user_active(
    uow: UnitOfWork, actor: Actor, user_id: int, active: bool, broker: Publisher | None = None
) -> User:
    """Disable or enable an account.

    Disabling revokes every token of the user at once (their next request is
    ``UNAUTHENTICATED``), tells the person (``ACCOUNT_DISABLED``, kept in their notifications
    for when the account is enabled again; outbound channels such as push or SMS deliver it
    meanwhile) and, after commit, wakes the user's subscriptions through ``broker`` so that
    they re-check and close (4403). The unit's administrators are not notified: the change is
    audited (``user.disable``). Nobody disables themselves (``INVALID_STATE``). Doing what is
    already done changes nothing and writes no row.
    """
    user = await _user_for_admin(uow, actor, user_id)
    if user.id == actor.user_id:
        raise DomainError(ErrorCode.INVALID_STATE, "userId", detail="you cannot disable or enable yourself")
    if user.is_active == active:
        return user
    session = uow.session
    user.is_active = active
    user.version = (user.version or 1) + 1
    if not active:
        await revoke_user_tokens(session, user)
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.USER_ENABLE if active else Action.USER_DISABLE,
        target_type="User",
        target_id=user.id,
        before={"isActive": not active},
        after={"isActive": active},
    )
    await session.flush()
    if not active:
        message = Message(
            user_id=user.id,
            kind=NotificationKind.ACCOUNT_DISABLED.value,
            title="您的账号已停用",
            body=f"{actor.display_name} 停用了您的账号；如有疑问，请联系本单位系统管理员",
            subject_type="User",
            subject_id=user.id,
            actor_id=actor.user_id,
        )
        await notify(uow, broker or _NO_BROKER, [message])  # notify publishes the user after commit
    return user


class _NoBroker:
    async def publish(self, user_ids: object) -> None:
        return None


_NO_BROKER = _NoBroker()


async def reset_password(
    uow: UnitOfWork,
    actor: Actor,
    user_id: int,
    temporary_password: str,
    policy: PasswordPolicy = DEFAULT_POLICY,
) -> User:
    """Set a temporary password chosen by an admin and force a change at the next sign-in.

    The temporary password must satisfy ``policy`` (``WEAK_PASSWORD`` on
    ``temporaryPassword``). Every token of the user is revoked.
    """
    user = await _user_for_admin(uow, actor, user_id, reset=True)
    if user.id == actor.user_id:
        raise DomainError(ErrorCode.INVALID_STATE, "userId", detail="use changePassword for your own account")
    check_new_password(policy, temporary_password, "temporaryPassword")
    password_hash = await asyncio.to_thread(hash_password, temporary_password)
    session = uow.session
    before = {"mustChangePassword": user.must_change_password}
    user.password_hash = password_hash
    user.must_change_password = True
    user.version = (user.version or 1) + 1
    await revoke_user_tokens(session, user)
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.USER_RESET_PASSWORD,
        target_type="User",
        target_id=user.id,
        before=before,
        after={"mustChangePassword": True},
    )
    await session.flush()
    return user


def _role_state(rows: list[RoleAssignment]) -> dict[str, object]:
    return {"roles": sorted(f"{r.role}@{r.unit_id}" if r.unit_id else r.role for r in rows)}


async def grant_role(uow: UnitOfWork, actor: Actor, user_id: int, role: Role, unit_id: int | None) -> User:
    """The security admin gives ``user_id`` a role (``unit_admin`` needs ``unit_id``).

    ``ROLE_CONFLICT`` when the account holds another of the three separated roles (or a
    unit admin scope together with one of them); ``DUPLICATE`` when it holds this very
    role already. The user row is locked first, so that two security admins granting
    conflicting roles at once cannot both succeed.
    """
    if not actor.is_security_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    session = uow.session
    user = await session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None:
        raise DomainError(ErrorCode.NOT_FOUND, "userId")
    if role is Role.UNIT_ADMIN:
        if unit_id is None:
            raise DomainError(ErrorCode.REQUIRED, "unitId")
        unit = await session.get(OrgUnit, unit_id)
        if unit is None:
            raise DomainError(ErrorCode.NOT_FOUND, "unitId")
    elif unit_id is not None:
        raise DomainError(ErrorCode.INVALID_VALUE, "unitId", detail="only unit_admin is scoped to a unit")
    if user.id == actor.user_id:
        raise DomainError(ErrorCode.INVALID_STATE, "userId", detail="you cannot change your own roles")
    rows = await _roles_of(uow, user.id)
    held = {r.role for r in rows}
    if role in SEPARATED_ROLES:
        others = sorted(held - {role.value})
    else:
        others = sorted(held & {r.value for r in SEPARATED_ROLES})
    if others:
        raise DomainError(ErrorCode.ROLE_CONFLICT, "role", detail="、".join(_ROLE_NAMES[o] for o in others))
    if any(r.role == role.value and r.unit_id == unit_id for r in rows):
        raise DomainError(ErrorCode.DUPLICATE, "role", detail=role.value)
    before = _role_state(rows)
    assignment = RoleAssignment(user_id=user.id, role=role.value, unit_id=unit_id)
    session.add(assignment)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.ROLE_GRANT,
        target_type="User",
        target_id=user.id,
        before=before,
        after=_role_state([*rows, assignment]),
    )
    return user


async def revoke_role(uow: UnitOfWork, actor: Actor, user_id: int, role: Role, unit_id: int | None) -> User:
    """The security admin takes a role away; ``NOT_FOUND`` (field ``role``) when not held."""
    if not actor.is_security_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    session = uow.session
    user = await session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None:
        raise DomainError(ErrorCode.NOT_FOUND, "userId")
    if user.id == actor.user_id:
        raise DomainError(ErrorCode.INVALID_STATE, "userId", detail="you cannot change your own roles")
    rows = await _roles_of(uow, user.id)
    match = [r for r in rows if r.role == role.value and r.unit_id == unit_id]
    if not match:
        raise DomainError(ErrorCode.NOT_FOUND, "role")
    before = _role_state(rows)
    for r in match:
        await session.delete(r)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.ROLE_REVOKE,
        target_type="User",
        target_id=user.id,
        before=before,
        after=_role_state([r for r in rows if r not in match]),
    )
    return user

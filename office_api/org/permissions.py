"""Who may administer what in the organization tree.

A ``system_admin`` administers the whole tree. A ``unit_admin`` administers the subtree
rooted at its unit: the unit itself and every descendant (materialized-path prefix).
Administrators manage the organization; they do not read documents by virtue of the role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from office_api import totp
from office_api.auth import AccessClaims, token_revoked
from office_api.errors import AuthError, ErrorCode
from office_api.org.models import OrgUnit, Role, RoleAssignment, User


@dataclass(frozen=True)
class Actor:
    """The authenticated user behind a request, with the scopes of their admin roles."""

    user_id: int
    username: str
    display_name: str
    is_system_admin: bool = False
    admin_paths: tuple[str, ...] = ()
    #: Every role the user holds (``Role`` values).
    roles: frozenset[str] = frozenset()
    #: True until the user replaces an admin-chosen password (changePassword).
    must_change_password: bool = False
    #: True while the user holds a role that requires two-factor sign-in (office_api/totp.py)
    #: without having turned it on: only enrolling (and me, logout, changePassword) works.
    must_enroll_totp: bool = False

    @property
    def is_security_admin(self) -> bool:
        return Role.SECURITY_ADMIN.value in self.roles

    @property
    def is_audit_admin(self) -> bool:
        return Role.AUDIT_ADMIN.value in self.roles

    @property
    def is_admin(self) -> bool:
        return self.is_system_admin or bool(self.admin_paths)

    def administers_path(self, path: str) -> bool:
        """True when the unit with materialized ``path`` is inside the actor's scope."""
        return self.is_system_admin or any(path.startswith(p) for p in self.admin_paths)

    def require_admin_of(self, unit: OrgUnit) -> None:
        """Raise ``FORBIDDEN`` unless the actor administers ``unit``."""
        if not self.administers_path(unit.path):
            raise AuthError(ErrorCode.FORBIDDEN)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise AuthError(ErrorCode.FORBIDDEN)


async def load_actor(session: AsyncSession, user_id: int, claims: AccessClaims | None = None) -> Actor | None:
    """The actor for ``user_id``, or None when the user is missing or disabled, or when
    ``claims`` (the access token presented) were revoked by logout, a password change or
    reset, or disabling the account. Built from the database on every request, so a role
    granted or a TOTP enrollment confirmed counts from the next request on."""
    user = await session.get(User, user_id, populate_existing=True)
    if user is None or not user.is_active:
        return None
    if claims is not None and await token_revoked(session, claims, user):
        return None
    rows = (
        await session.execute(
            select(RoleAssignment.role, OrgUnit.path)
            .outerjoin(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
            .where(RoleAssignment.user_id == user_id)
        )
    ).all()
    is_sys = any(r.role == Role.SYSTEM_ADMIN for r in rows)
    roles = frozenset(r.role for r in rows)
    # One more query, for the holders of the three administrator roles only.
    must_enroll = bool(roles & totp.REQUIRED_ROLES) and not await totp.is_enabled(session, user.id)
    paths = tuple(sorted(r.path for r in rows if r.role == Role.UNIT_ADMIN and r.path))
    return Actor(
        user.id,
        user.username,
        user.display_name,
        is_sys,
        paths,
        roles=roles,
        must_change_password=bool(user.must_change_password),
        must_enroll_totp=must_enroll,
    )


async def require_province_admin(session: AsyncSession, actor: Actor) -> None:
    """Raise ``FORBIDDEN`` unless the actor administers province-wide data (the working-day
    calendar, SLA policies): a system administrator, or a unit administrator of a root unit
    (the province government at the top of the tree)."""
    if actor.is_system_admin:
        return
    if actor.admin_paths:
        roots = set((await session.execute(select(OrgUnit.path).where(OrgUnit.parent_id.is_(None)))).scalars())
        if roots.intersection(actor.admin_paths):
            return
    raise AuthError(ErrorCode.FORBIDDEN)

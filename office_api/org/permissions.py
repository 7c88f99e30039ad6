"""Who may administer what in the organization tree.

A ``system_admin`` administers the whole tree. A ``unit_admin`` administers the subtree
rooted at its unit: the unit itself and every descendant (materialized-path prefix).
Administrators manage the organization; they do not read documents by virtue of the role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def load_actor(session: AsyncSession, user_id: int) -> Actor | None:
    """The actor for ``user_id``, or None when the user is missing or disabled."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    rows = (
        await session.execute(
            select(RoleAssignment.role, OrgUnit.path)
            .outerjoin(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
            .where(RoleAssignment.user_id == user_id)
        )
    ).all()
    is_sys = any(r.role == Role.SYSTEM_ADMIN for r in rows)
    paths = tuple(sorted(r.path for r in rows if r.role == Role.UNIT_ADMIN and r.path))
    return Actor(user.id, user.username, user.display_name, is_sys, paths)

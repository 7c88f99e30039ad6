"""GraphQL surface of accounts, sessions, roles (三员分立) and the audit log."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from office_api import audit, auth
from office_api.audit import AuditFilter
from office_api.errors import AuthError, DomainError, ErrorCode
from office_api.org import accounts
from office_api.org.models import AuditEntry as AuditEntryModel
from office_api.org.models import Role
from schema.common import (
    Connection,
    IsAdmin,
    IsAuditAdmin,
    IsAuthenticatedPendingPasswordChange,
    IsSecurityAdmin,
    UserError,
    decode_cursor,
    decode_id,
    make_connection,
    page_size,
    require_actor,
    run_mutation,
    user_errors,
)
from schema.org import User


@strawberry.enum(description="Administrator roles. The first three are separated (三员分立): one account holds one.")
class AdminRole(Enum):
    SYSTEM_ADMIN = strawberry.enum_value(Role.SYSTEM_ADMIN.value, description="系统管理员: org tree and accounts.")
    SECURITY_ADMIN = strawberry.enum_value(
        Role.SECURITY_ADMIN.value, description="安全管理员: grants and revokes roles."
    )
    AUDIT_ADMIN = strawberry.enum_value(Role.AUDIT_ADMIN.value, description="安全审计员: reads the audit log only.")
    UNIT_ADMIN = strawberry.enum_value(
        Role.UNIT_ADMIN.value, description="单位管理员: org tree and accounts inside the subtree of one unit."
    )


@strawberry.type(description="One row of the audit log (read-only: no operation changes or deletes it).")
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="Global id of the row (type AuditEntry).")
    actor_id: strawberry.ID | None = strawberry.field(
        description="Global id of the user who acted; null for anonymous sign-in attempts."
    )
    actor_client_id: strawberry.ID | None = strawberry.field(
        description="Global id of the integration client (type ApiClient) whose request wrote the row, if any."
    )
    action: str = strawberry.field(
        description="What happened, e.g. `org_unit.create`, `user.disable`, `role.grant`, `login.failure`, "
        "`api_client.token`."
    )
    target_type: str = strawberry.field(
        description="Type of the target: OrgUnit, User, Position, Username, ApiClient or ClientId."
    )
    target_id: str | None = strawberry.field(
        description="Target key: the global id for OrgUnit/User/Position/ApiClient, the login name for Username, "
        "`client:<client_id>` for ClientId."
    )
    before: JSON | None = strawberry.field(description="The audited fields before the change.")
    after: JSON | None = strawberry.field(description="The audited fields after the change.")
    created_at: dt.datetime = strawberry.field(description="UTC instant of the change.")
    client_address: str | None = strawberry.field(description="Network address of the client.")

    @classmethod
    def from_model(cls, m: AuditEntryModel) -> AuditEntry:
        target = m.target_id
        if target is not None and m.target_type in _GLOBAL_TARGETS:
            target = str(relay.GlobalID(m.target_type, target))
        return cls(
            id=strawberry.ID(str(relay.GlobalID("AuditEntry", str(m.id)))),
            actor_id=strawberry.ID(str(relay.GlobalID("User", str(m.actor_id)))) if m.actor_id else None,
            actor_client_id=(
                strawberry.ID(str(relay.GlobalID("ApiClient", str(m.actor_client_id)))) if m.actor_client_id else None
            ),
            action=m.action,
            target_type=m.target_type,
            target_id=target,
            before=m.before,
            after=m.after,
            created_at=m.created_at,
            client_address=m.client_address,
        )


@strawberry.input(description="Filters of the audit log; all optional, combined with AND.")
class AuditLogFilter:
    actor_id: relay.GlobalID | None = strawberry.field(default=None, description="Only what this user did.")
    actor_client_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Only what this integration client (type ApiClient) did."
    )
    action: str | None = strawberry.field(default=None, description="Only this action, e.g. `user.disable`.")
    target_type: str | None = strawberry.field(default=None, description="Only targets of this type, e.g. `User`.")
    target_id: str | None = strawberry.field(
        default=None,
        description="Only this target, written as AuditEntry.targetId shows it: a global id (OrgUnit, User, "
        "Position, ApiClient), a login name, or `client:<client_id>` (refused token requests).",
    )
    from_: dt.datetime | None = strawberry.field(
        default=None, name="from", description="From this UTC instant (inclusive; with a time zone)."
    )
    to: dt.datetime | None = strawberry.field(
        default=None, description="Until this UTC instant (exclusive; with a time zone)."
    )


#: Target types whose ``target_id`` the audit log shows as a global id.
_GLOBAL_TARGETS = frozenset({"OrgUnit", "User", "Position", "ApiClient"})


def _target_key(value: str | None) -> tuple[str | None, str | None]:
    """``(target_type, target_id)`` as stored, for a ``targetId`` filter: the type and primary
    key of a global id of one of :data:`_GLOBAL_TARGETS`, else (None, the text itself)."""
    if not value:
        return None, None
    try:
        gid = relay.GlobalID.from_id(value)
    except Exception:  # not a global id: a login name or client:<client_id>
        return None, value[:64]
    if gid.type_name in _GLOBAL_TARGETS:
        return gid.type_name, gid.node_id[:64]
    return None, value[:64]


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is not None and value.utcoffset() is None:
        raise DomainError(ErrorCode.INVALID_VALUE, field, detail="an instant with a time zone")
    return value


@strawberry.input(description="End your session.")
class LogoutInput:
    refresh_token: str | None = strawberry.field(
        default=None, description="Your refresh token, to revoke its family too (the access token names it already)."
    )


@strawberry.type(description="Whether the session ended.")
class LogoutPayload:
    ok: bool = strawberry.field(description="True when the access token and its refresh family were revoked.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="Replace your password.")
class ChangePasswordInput:
    old_password: str = strawberry.field(description="Your current (or temporary) password.")
    new_password: str = strawberry.field(
        description="The new password; it must satisfy the password policy (default: 8+ characters, three of "
        "lowercase, uppercase, digit, symbol) and differ from the old one (WEAK_PASSWORD otherwise)."
    )


@strawberry.type(description="Fresh tokens after a password change (every older token was revoked), or errors.")
class ChangePasswordPayload:
    access_token: str | None = strawberry.field(description="A new access token.")
    refresh_token: str | None = strawberry.field(description="A new refresh token (new family).")
    expires_at: dt.datetime | None = strawberry.field(description="UTC instant when the access token expires.")
    errors: list[UserError] = strawberry.field(
        description="INVALID_CREDENTIALS (oldPassword), WEAK_PASSWORD (newPassword); empty on success."
    )


@strawberry.input(description="The account to disable or enable.")
class UserIdInput:
    user_id: relay.GlobalID = strawberry.field(description="The user (in your subtree for a unit admin).")


@strawberry.input(description="Set a temporary password; the user must change it at the next sign-in.")
class ResetPasswordInput:
    user_id: relay.GlobalID = strawberry.field(description="The user (in your subtree for a unit admin).")
    temporary_password: str = strawberry.field(description="The temporary password; it must satisfy the policy.")


@strawberry.type(description="The account after the change, or errors.")
class UserPayload:
    user: User | None = strawberry.field(description="The account after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="A role to grant or revoke.")
class RoleInput:
    user_id: relay.GlobalID = strawberry.field(description="The user.")
    role: AdminRole = strawberry.field(description="The role.")
    unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The unit whose subtree a UNIT_ADMIN administers (required for it, else null)."
    )


async def _audit_connection(info: Info, flt: AuditLogFilter | None, first: int | None, after: str | None):
    limit = page_size(first)
    f = flt or AuditLogFilter()
    target_type, target_id = _target_key(f.target_id)
    contradicts = target_type is not None and bool(f.target_type) and f.target_type != target_type
    query = AuditFilter(
        actor_id=decode_id(f.actor_id, "User", "filter.actorId") if f.actor_id is not None else None,
        actor_client_id=(
            decode_id(f.actor_client_id, "ApiClient", "filter.actorClientId") if f.actor_client_id is not None else None
        ),
        action=f.action,
        target_type=f.target_type or target_type,
        target_id=target_id,
        since=_aware(f.from_, "filter.from"),
        until=_aware(f.to, "filter.to"),
    )
    rows = []
    if not contradicts:  # e.g. a User's id with targetType OrgUnit matches nothing
        async with info.context.db.read() as s:
            rows = await audit.search(s, query, decode_cursor(after), limit + 1)
    return make_connection(rows, limit, lambda r: r.id, AuditEntry.from_model, after=after)


@strawberry.type
class AccountQuery:
    @strawberry.field(
        description="The audit log, newest first (audit admin only). `first`: 1–100, default 20.",
        permission_classes=[IsAuditAdmin],
    )
    async def audit_log(
        self,
        info: Info,
        filter: Annotated[AuditLogFilter | None, strawberry.argument(description="Optional filters.")] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntry]:
        return await _audit_connection(info, filter, first, after)


def _role(value: AdminRole) -> Role:
    return Role(value.value)


@strawberry.type
class AccountMutation:
    @strawberry.mutation(
        description="End your session: revokes this access token and its refresh-token family; this session's "
        'websockets close at once (4401, "Session ended"). Other devices stay signed in.',
        permission_classes=[IsAuthenticatedPendingPasswordChange],
    )
    async def logout(self, info: Info, input: LogoutInput | None = None) -> LogoutPayload:
        ctx = info.context
        await require_actor(info)
        claims = ctx.claims
        if claims is None:  # pragma: no cover - an actor implies claims
            raise AuthError(ErrorCode.UNAUTHENTICATED)

        async def work(uow):
            await auth.logout(uow, claims, input.refresh_token if input else None)
            uow.after_commit(lambda: ctx.broker.publish([claims.user_id]))  # close this session's sockets
            return True

        ok, errors = await run_mutation(info, work)
        return LogoutPayload(ok=bool(ok), errors=errors)

    @strawberry.mutation(
        description="Change your password (old and new). Required before anything else after an admin set it.",
        permission_classes=[IsAuthenticatedPendingPasswordChange],
    )
    async def change_password(self, info: Info, input: ChangePasswordInput) -> ChangePasswordPayload:
        ctx = info.context
        actor = await require_actor(info)
        audit.set_client_address(ctx.client_address)
        try:
            pair = await auth.change_password(
                ctx.db, ctx.settings, actor.user_id, input.old_password, input.new_password
            )
        except DomainError as e:
            return ChangePasswordPayload(
                access_token=None, refresh_token=None, expires_at=None, errors=user_errors(e, ctx.lang)
            )
        finally:
            ctx.loaders.reset()
        await ctx.broker.publish([actor.user_id])  # the old sessions' subscriptions close now
        return ChangePasswordPayload(
            access_token=pair.access_token, refresh_token=pair.refresh_token, expires_at=pair.expires_at, errors=[]
        )

    @strawberry.mutation(
        description="Disable an account: its tokens stop working at once and its websockets close "
        '(4403, "User disabled").',
        permission_classes=[IsAdmin],
    )
    async def disable_user(self, info: Info, input: UserIdInput) -> UserPayload:
        return await _set_active(info, input, False)

    @strawberry.mutation(description="Enable a disabled account.", permission_classes=[IsAdmin])
    async def enable_user(self, info: Info, input: UserIdInput) -> UserPayload:
        return await _set_active(info, input, True)

    @strawberry.mutation(
        description="Set a temporary password; the user must change it at the next sign-in. Revokes their tokens.",
        permission_classes=[IsAdmin],
    )
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> UserPayload:
        actor = await require_actor(info)
        policy = auth.PasswordPolicy.from_settings(info.context.settings)

        async def work(uow):
            uid = decode_id(input.user_id, "User", "userId")
            user = await accounts.reset_password(uow, actor, uid, input.temporary_password, policy)
            uow.after_commit(lambda: info.context.broker.publish([uid]))  # their subscriptions close now
            return user

        user, errors = await run_mutation(info, work)
        return UserPayload(user=User.from_model(user) if user else None, errors=errors)

    @strawberry.mutation(
        description="Grant a role (security admin only). ROLE_CONFLICT when the account holds another of the "
        "three separated roles.",
        permission_classes=[IsSecurityAdmin],
    )
    async def grant_role(self, info: Info, input: RoleInput) -> UserPayload:
        return await _role_change(info, input, accounts.grant_role)

    @strawberry.mutation(description="Revoke a role (security admin only).", permission_classes=[IsSecurityAdmin])
    async def revoke_role(self, info: Info, input: RoleInput) -> UserPayload:
        return await _role_change(info, input, accounts.revoke_role)


async def _set_active(info: Info, input: UserIdInput, active: bool) -> UserPayload:
    actor = await require_actor(info)
    broker = info.context.broker

    async def work(uow):
        uid = decode_id(input.user_id, "User", "userId")
        return await accounts.set_user_active(uow, actor, uid, active, broker)

    user, errors = await run_mutation(info, work)
    return UserPayload(user=User.from_model(user) if user else None, errors=errors)


async def _role_change(info: Info, input: RoleInput, change) -> UserPayload:
    actor = await require_actor(info)

    async def work(uow):
        uid = decode_id(input.user_id, "User", "userId")
        unit = decode_id(input.unit_id, "OrgUnit", "unitId") if input.unit_id is not None else None
        return await change(uow, actor, uid, _role(input.role), unit)

    user, errors = await run_mutation(info, work)
    return UserPayload(user=User.from_model(user) if user else None, errors=errors)

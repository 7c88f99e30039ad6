"""GraphQL surface of identity and the organization tree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from office_api import audit, auth, totp
from office_api.errors import DomainError, ErrorCode
from office_api.org import directory as org_directory
from office_api.org import duties as org_duties
from office_api.org import service as org
from office_api.org.models import Duty, UnitKind
from office_api.org.models import OrgUnit as OrgUnitModel
from office_api.org.models import Position as PositionModel
from office_api.org.models import User as UserModel
from schema.common import (
    AllowAny,
    Connection,
    FullSession,
    IsAdmin,
    IsAuthenticated,
    IsAuthenticatedPendingTotpEnrollment,
    UserError,
    decode_cursor,
    decode_id,
    make_connection,
    page_size,
    require_actor,
    run_mutation,
    user_errors,
)
from schema.contacts import contact_field

UnitKindEnum = strawberry.enum(UnitKind, name="UnitKind", description="Kind of organization unit.")
DutyEnum = strawberry.enum(
    Duty,
    name="Duty",
    description="A duty a post carries for routing: HEAD 主要负责人 (at most one per unit), DEPUTY_HEAD 副职, "
    "CLERK 文书 (receives documents for the unit).",
)
#: Most duties one input may list (there are three).
MAX_DUTIES = 3


@strawberry.type(description="A node of the organization tree: a people's government, department or office.")
class OrgUnit(relay.Node):
    id: relay.NodeID[int]
    code: str = strawberry.field(
        description="Stable unit code; never changes. Division units use their GB/T 2260 code."
    )
    name: str = strawberry.field(description="Full name, e.g. 山东省财政厅.")
    short_name: str | None = strawberry.field(description="Standard short name, e.g. 省财政厅.")
    kind: UnitKindEnum = strawberry.field(description="Kind of unit.")  # type: ignore[valid-type]
    division_code: str | None = strawberry.field(
        description="GB/T 2260 six-digit administrative division code; null for departments and function zones."
    )
    doc_number_root: str | None = strawberry.field(description="Issuer code root of document numbers, e.g. 鲁政办.")
    is_active: bool = strawberry.field(description="False once deactivated: kept for history, gets no new work.")
    depth: int = strawberry.field(description="Depth in the tree; the root is 0.")
    version: int = strawberry.field(description="Optimistic-concurrency version; pass it to updateOrgUnit.")
    parent_id: strawberry.Private[int | None]
    model: strawberry.Private[OrgUnitModel]

    @classmethod
    def from_model(cls, m: OrgUnitModel) -> OrgUnit:
        return cls(
            id=m.id,
            code=m.code,
            name=m.name,
            short_name=m.short_name,
            kind=UnitKind(m.kind),
            division_code=m.division_code,
            doc_number_root=m.doc_number_root,
            is_active=m.is_active,
            depth=m.depth,
            version=m.version,
            parent_id=m.parent_id,
            model=m,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[OrgUnit | None]:
        rows = await info.context.loaders.unit.load_many([int(i) for i in node_ids])
        return [cls.from_model(r) if r else None for r in rows]

    @strawberry.field(description="The parent unit; null for the root.")
    async def parent(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.parent_id)

    @strawberry.field(description="Direct children, by creation order. `first`: 1–100, default 20.")
    async def children(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[OrgUnit]:
        limit = page_size(first)
        rows = await info.context.loaders.unit_children.load((self.id, decode_cursor(after), limit + 1))
        return make_connection(rows, limit, lambda r: r.id, OrgUnit.from_model, after=after)

    @strawberry.field(description="Ancestors from the root down to the parent (batched with the other units).")
    async def ancestors(self, info: Info) -> list[OrgUnit]:
        return await units_by_ids(info, self.model.ancestor_ids())

    @strawberry.field(description="Positions held in this unit (its members). `first`: 1–100, default 20.")
    async def members(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Position]:
        limit = page_size(first)
        rows = await info.context.loaders.unit_members.load((self.id, decode_cursor(after), limit + 1))
        return make_connection(rows, limit, lambda r: r.id, Position.from_model, after=after)

    async def _duty_holders(self, info: Info, duty: Duty) -> list[User]:
        rows = await info.context.loaders.unit_duty_holders.load(self.id)
        ids = list(dict.fromkeys(user_id for _, d, user_id in rows if d == duty.value))
        users = await info.context.loaders.user.load_many(ids)
        return [User.from_model(u) for u in users if u]

    @strawberry.field(
        description="The unit's head (主要负责人): an active user; null when none, or the unit is deactivated."
    )
    async def head(self, info: Info) -> User | None:
        users = await self._duty_holders(info, Duty.HEAD)
        return users[0] if users else None

    @strawberry.field(description="Active deputy heads (副职), by post; empty when the unit is deactivated.")
    async def deputy_heads(self, info: Info) -> list[User]:
        return await self._duty_holders(info, Duty.DEPUTY_HEAD)

    @strawberry.field(
        description="Active clerks (文书) who receive documents for the unit, by post; empty when deactivated."
    )
    async def clerks(self, info: Info) -> list[User]:
        return await self._duty_holders(info, Duty.CLERK)

    @strawberry.field(
        description="True when this unit is the unit `ancestorId` or lies anywhere below it (materialized path; "
        "no query beyond loading that unit). False for an unknown unit, and for an integration client when "
        "`ancestorId` is outside its subtree."
    )
    async def is_inside(
        self,
        info: Info,
        ancestor_id: Annotated[relay.GlobalID, strawberry.argument(description="The possible ancestor unit.")],
    ) -> bool:
        ancestor = await info.context.loaders.unit.load(decode_id(ancestor_id, "OrgUnit", "ancestorId"))
        client = info.context.client
        if ancestor is not None and client is not None and not client.covers_path(ancestor.path):
            return False  # an integration client learns nothing about units outside its subtree
        return ancestor is not None and self.model.path.startswith(ancestor.path)

    @strawberry.field(
        description="Every unit below this one at any depth, by creation order (one indexed prefix query). "
        "`first`: 1–100, default 20."
    )
    async def descendants(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[OrgUnit]:
        limit = page_size(first)
        async with info.context.db.read() as s:
            rows = await org_directory.descendants(s, self.model, decode_cursor(after), limit + 1)
        return make_connection(rows, limit, lambda r: r.id, OrgUnit.from_model, after=after)

    @strawberry.field(
        description="Positions held in this unit or any unit below it, by position id (one indexed prefix "
        "query). `first`: 1–100, default 20."
    )
    async def members_in_subtree(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Position]:
        limit = page_size(first)
        async with info.context.db.read() as s:
            rows = await org_directory.members_in_subtree(s, self.model, decode_cursor(after), limit + 1)
        return make_connection(rows, limit, lambda r: r.id, Position.from_model, after=after)


@strawberry.type(description="A person who signs in: a civil servant or an administrator.")
class User(relay.Node):
    id: relay.NodeID[int]
    username: str = strawberry.field(description="Login name.")
    display_name: str = strawberry.field(description="Name shown to others, e.g. 张伟.")
    is_active: bool = strawberry.field(description="False when the account is disabled.")
    contact: strawberry.Private[tuple[str | None, str | None, str | None]] = (None, None, None)

    @classmethod
    def from_model(cls, m: UserModel) -> User:
        return cls(
            id=m.id,
            username=m.username,
            display_name=m.display_name,
            is_active=m.is_active,
            contact=(m.mobile, m.office_phone, m.email),
        )

    @strawberry.field(
        description="Mobile number. Null when unknown, or when the person holds a leadership post and you are "
        "neither that person nor holder of a role in OFFICE_LEADER_MOBILE_VISIBLE_TO. Every read is logged."
    )
    async def mobile(self, info: Info) -> str | None:
        return await contact_field(info, self.id, "mobile", self.contact[0])

    @strawberry.field(description="Office telephone, e.g. 0531-86000001. Every read is logged.")
    async def office_phone(self, info: Info) -> str | None:
        return await contact_field(info, self.id, "office_phone", self.contact[1])

    @strawberry.field(description="E-mail address. Every read is logged.")
    async def email(self, info: Info) -> str | None:
        return await contact_field(info, self.id, "email", self.contact[2])

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[User | None]:
        rows = await info.context.loaders.user.load_many([int(i) for i in node_ids])
        return [cls.from_model(r) if r else None for r in rows]

    @strawberry.field(
        description="The user's posts, primary first. Refused (TOTP_ENROLLMENT_REQUIRED) while your own TOTP "
        "enrollment is due.",
        permission_classes=[FullSession],
    )
    async def positions(self, info: Info) -> list[Position]:
        rows = await info.context.loaders.user_positions.load(self.id)
        return [Position.from_model(r) for r in rows]

    @strawberry.field(description="Whether two-factor sign-in (TOTP) is on. Only for yourself: null for other users.")
    async def totp_enabled(self, info: Info) -> bool | None:
        actor = await info.context.get_actor()
        if actor is None or actor.user_id != self.id:
            return None
        async with info.context.db.read() as s:
            return await totp.is_enabled(s, self.id)

    @strawberry.field(
        description="True while your roles (system, security or audit administrator) require two-factor "
        "sign-in and you have not turned it on: until then everything but me, logout, changePassword and the "
        "TOTP enrollment is refused with TOTP_ENROLLMENT_REQUIRED. Only for yourself: null for other users."
    )
    async def must_enroll_totp(self, info: Info) -> bool | None:
        actor = await info.context.get_actor()
        if actor is None or actor.user_id != self.id:
            return None
        return actor.must_enroll_totp


@strawberry.type(description="A user's post (职务) in a unit. One user may hold several (兼职), one primary.")
class Position(relay.Node):
    id: relay.NodeID[int]
    title: str = strawberry.field(description="Title of the post, e.g. 副主任.")
    is_primary: bool = strawberry.field(description="True for the user's one primary post.")
    is_leader: bool = strawberry.field(description="True for a leadership post of the unit.")
    user_id: strawberry.Private[int]
    unit_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: PositionModel) -> Position:
        return cls(
            id=m.id, title=m.title, is_primary=m.is_primary, is_leader=m.is_leader, user_id=m.user_id, unit_id=m.unit_id
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Position | None]:
        rows = await info.context.loaders.position.load_many([int(i) for i in node_ids])
        return [cls.from_model(r) if r else None for r in rows]

    @strawberry.field(description="Who holds the post.")
    async def user(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.user_id))

    @strawberry.field(description="Where the post is.")
    async def unit(self, info: Info) -> OrgUnit:
        return OrgUnit.from_model(await info.context.loaders.unit.load(self.unit_id))

    @strawberry.field(description="Duties the post carries for routing (HEAD, DEPUTY_HEAD, CLERK).")
    async def duties(self, info: Info) -> list[DutyEnum]:  # type: ignore[valid-type]
        rows = await info.context.loaders.position_duties.load(self.id)
        return [Duty(r.duty) for r in rows]


# ---- inputs and payloads ---------------------------------------------------------------


@strawberry.input(description="Credentials.")
class LoginInput:
    username: str = strawberry.field(description="Login name.")
    password: str = strawberry.field(description="Password.")
    totp_code: str | None = strawberry.field(
        default=None,
        description="The current 6-digit code of your authenticator app, when two-factor sign-in is on "
        "(TOTP_REQUIRED without it; each code works once).",
    )


@strawberry.type(description="Tokens for an authenticated session, or errors (INVALID_CREDENTIALS).")
class LoginPayload:
    access_token: str | None = strawberry.field(
        description="JWT for `Authorization: Bearer …` and the websocket connection_init payload; 15 minutes."
    )
    refresh_token: str | None = strawberry.field(description="Single-use token for refreshToken; rotates on use.")
    expires_at: dt.datetime | None = strawberry.field(description="UTC instant when the access token expires.")
    user: User | None = strawberry.field(description="The signed-in user.")
    must_change_password: bool = strawberry.field(
        default=False,
        description="True when an administrator chose the password (new account, reset): every operation but "
        "changePassword and logout is refused with PASSWORD_CHANGE_REQUIRED until it is changed.",
    )
    must_enroll_totp: bool = strawberry.field(
        default=False,
        description="True when your role requires two-factor sign-in and it is not on yet: every operation but "
        "me, logout, changePassword, startTotpEnrollment and confirmTotpEnrollment is refused with "
        "TOTP_ENROLLMENT_REQUIRED until you enroll.",
    )
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


async def user_by_id(info: Info, user_id: int | None) -> User | None:
    """The user with id ``user_id`` through the request's DataLoader; None for None or no such user."""
    if user_id is None:
        return None
    m = await info.context.loaders.user.load(user_id)
    return User.from_model(m) if m else None


async def units_by_ids(info: Info, unit_ids: Iterable[int]) -> list[OrgUnit]:
    """The units with ``unit_ids``, in that order, through the request's DataLoader (missing ones left out)."""
    rows = await info.context.loaders.unit.load_many(list(unit_ids))
    return [OrgUnit.from_model(r) for r in rows if r is not None]


async def unit_by_id(info: Info, unit_id: int | None) -> OrgUnit | None:
    """The unit with id ``unit_id`` through the request's DataLoader; None for None or no such unit."""
    if unit_id is None:
        return None
    m = await info.context.loaders.unit.load(unit_id)
    return OrgUnit.from_model(m) if m else None


def _login_payload(
    pair: auth.TokenPair | None, user: UserModel | None, errors: list[UserError], must_enroll_totp: bool = False
) -> LoginPayload:
    if pair is None:
        return LoginPayload(access_token=None, refresh_token=None, expires_at=None, user=None, errors=errors)
    return LoginPayload(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_at=pair.expires_at,
        user=User.from_model(user) if user else None,
        must_change_password=bool(user.must_change_password) if user else False,
        must_enroll_totp=must_enroll_totp,
        errors=errors,
    )


async def _signed_in(info: Info, pair: auth.TokenPair, user: UserModel) -> LoginPayload:
    async with info.context.db.read() as s:
        must_enroll = await totp.must_enroll(s, user.id)
    return _login_payload(pair, user, [], must_enroll)


@strawberry.input(description="A refresh token to exchange.")
class RefreshTokenInput:
    refresh_token: str = strawberry.field(description="The refresh token from login or the last refresh.")


@strawberry.input(description="A new organization unit.")
class CreateOrgUnitInput:
    code: str = strawberry.field(
        description="Stable code: letters, digits and _.:- (at most 64); unique; never changes."
    )
    name: str = strawberry.field(description="Full name, at most 100 characters.")
    kind: UnitKindEnum = strawberry.field(description="Kind of unit.")  # type: ignore[valid-type]
    parent_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Parent unit; null creates a root (system admins only)."
    )
    division_code: str | None = strawberry.field(
        default=None, description="GB/T 2260 code (six digits), if a division."
    )
    short_name: str | None = strawberry.field(default=None, description="Standard short name, at most 50 characters.")


@strawberry.input(description="Changes to a unit; omitted fields stay as they are. The code cannot change.")
class UpdateOrgUnitInput:
    id: relay.GlobalID = strawberry.field(description="The unit.")
    version: int | None = strawberry.field(
        default=None, description="The version you read; a different current version is STALE_VERSION."
    )
    name: str | None = strawberry.field(default=None, description="New full name.")
    short_name: str | None = strawberry.field(default=None, description="New short name; empty clears it.")
    is_active: bool | None = strawberry.field(default=None, description="False deactivates (kept for history).")


@strawberry.input(description="Move a unit with its whole subtree under a new parent.")
class MoveOrgUnitInput:
    id: relay.GlobalID = strawberry.field(description="The unit to move.")
    parent_id: relay.GlobalID = strawberry.field(
        description="The new parent; not the unit itself or inside it (CYCLE)."
    )
    version: int | None = strawberry.field(
        default=None,
        description="The unit's version you read; if it changed meanwhile (another admin moved or edited it) "
        "the answer is STALE_VERSION and nothing moves.",
    )


@strawberry.type(description="The unit created or changed, or errors.")
class OrgUnitPayload:
    org_unit: OrgUnit | None = strawberry.field(description="The unit after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="A new user, optionally with a primary post.")
class CreateUserInput:
    username: str = strawberry.field(description="Login name: 3–64 lowercase letters, digits, _ . -; unique.")
    display_name: str = strawberry.field(description="Name shown to others, at most 64 characters.")
    password: str = strawberry.field(
        description="Initial password: it must satisfy the password policy (default 8+ characters, three of "
        "lowercase, uppercase, digit, symbol: WEAK_PASSWORD otherwise; TOO_LONG over 256). The user must change "
        "it at the first sign-in."
    )
    unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Unit of the primary post; required for unit admins (must be in their subtree)."
    )
    title: str | None = strawberry.field(default=None, description="Title of that post (required with unitId).")
    is_leader: bool = strawberry.field(default=False, description="The post is a leadership post.")


@strawberry.type(description="The user created, or errors.")
class CreateUserPayload:
    user: User | None = strawberry.field(description="The new user.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="Give a user a post in a unit.")
class AssignPositionInput:
    user_id: relay.GlobalID = strawberry.field(description="The user.")
    unit_id: relay.GlobalID = strawberry.field(description="The unit (in the admin's subtree).")
    title: str = strawberry.field(description="Title, at most 64 characters.")
    is_primary: bool = strawberry.field(
        default=False, description="Make this the primary post (the user's first post always is)."
    )
    is_leader: bool = strawberry.field(default=False, description="A leadership post.")
    duties: list[DutyEnum] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list,
        description="Duties of the post, at most 3 (HEAD_TAKEN when the unit already has another head).",
    )


@strawberry.input(description="Replace the duties of a post.")
class SetPositionDutiesInput:
    position_id: relay.GlobalID = strawberry.field(description="The post (its unit in your subtree).")
    duties: list[DutyEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The duties it carries from now on, at most 3; empty clears them. "
        "HEAD_TAKEN when another post of the unit is its head."
    )


@strawberry.type(description="The post with its new duties, or errors.")
class SetPositionDutiesPayload:
    position: Position | None = strawberry.field(description="The post after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The post created, or errors.")
class AssignPositionPayload:
    position: Position | None = strawberry.field(description="The new post.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="Import units, or users and their posts, from CSV (the `office-api import-org` formats).")
class ImportOrganizationInput:
    csv: str = strawberry.field(
        description="The CSV text, UTF-8, with or without BOM, at most 5 MB (TOO_LONG). The layout is recognised "
        "by the header: units `code,name,kind,parent_code[,division_code,short_name,doc_number_root]` (or the "
        "divisions and departments layouts), users `username,display_name,unit_code,title[,is_primary,is_leader,"
        "duties,mobile,office_phone,email]`."
    )
    dry_run: bool | None = strawberry.field(
        default=False, description="Check everything and report the counts, but write nothing."
    )


@strawberry.type(description="What an import did (or would do, for a dry run), or the per-row report.")
class ImportOrganizationPayload:
    layout: str | None = strawberry.field(description="`units` or `users`; null when refused.")
    created: int = strawberry.field(description="Units or users created.")
    updated: int = strawberry.field(description="Units or users changed (names, contact details).")
    unchanged: int = strawberry.field(description="Units or users already as in the file.")
    positions_created: int = strawberry.field(description="Posts created (users layout).")
    positions_unchanged: int = strawberry.field(description="Posts already there (users layout).")
    dry_run: bool = strawberry.field(description="True when nothing was written on purpose.")
    errors: list[UserError] = strawberry.field(
        description="The per-row report: field `line N: column`, code INVALID_VALUE (or OUT_OF_SCOPE for a row "
        "outside your subtree), message naming the problem. Any error means nothing was written."
    )


@strawberry.type(description="The organization as CSV text in the import formats.")
class OrganizationExport:
    units_csv: str = strawberry.field(description="Units, parents first (generic units layout).")
    users_csv: str = strawberry.field(description="One row per post held in the exported units (users layout).")


class _DryRun(Exception):
    def __init__(self, report: object) -> None:
        self.report = report


# ---- root fields -----------------------------------------------------------------------


@strawberry.type
class OrgQuery:
    @strawberry.field(
        description="The signed-in user (also while a TOTP enrollment is due).",
        permission_classes=[IsAuthenticatedPendingTotpEnrollment],
    )
    async def me(self, info: Info) -> User:
        actor = await require_actor(info)
        return User.from_model(await info.context.loaders.user.load(actor.user_id))

    @strawberry.field(description="One unit by id; null when there is none.", permission_classes=[IsAuthenticated])
    async def org_unit(self, info: Info, id: relay.GlobalID) -> OrgUnit | None:
        pk = decode_id(id, "OrgUnit", "id")
        m = await info.context.loaders.unit.load(pk)
        return OrgUnit.from_model(m) if m else None

    @strawberry.field(
        description="Units under `parentId` (the roots when omitted; for an integration client the root of its "
        "subtree, and nothing under a parent outside it), by creation order. `first`: 1–100, default 20.",
        permission_classes=[IsAuthenticated],
    )
    async def org_units(
        self,
        info: Info,
        parent_id: Annotated[
            relay.GlobalID | None, strawberry.argument(description="Parent unit; omit for the roots.")
        ] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[OrgUnit]:
        limit = page_size(first)
        parent = decode_id(parent_id, "OrgUnit", "parentId") if parent_id is not None else None
        client = info.context.client
        if parent is None and client is not None:  # an integration client's root is its subtree's
            decode_cursor(after)
            root = await info.context.loaders.unit.load(client.unit_id)
            return make_connection(
                [root] if after is None else [], limit, lambda r: r.id, OrgUnit.from_model, after=after
            )
        if client is not None:  # a parent outside the subtree has no children for a client
            unit = await info.context.loaders.unit.load(parent)
            if unit is None or not client.covers_path(unit.path):
                decode_cursor(after)
                return make_connection([], limit, lambda r: r.id, OrgUnit.from_model, after=after)
        async with info.context.db.read() as s:
            rows = await org.children(s, parent, decode_cursor(after), limit + 1)
        return make_connection(rows, limit, lambda r: r.id, OrgUnit.from_model, after=after)

    @strawberry.field(
        description="The units under `rootId` (everything when omitted: system admin only) and the posts held "
        "there, as CSV in the import formats. Unit admins export inside their subtree only. Writes an audit row.",
        permission_classes=[IsAdmin],
    )
    async def export_organization(
        self,
        info: Info,
        root_id: Annotated[
            relay.GlobalID | None, strawberry.argument(description="Root of the subtree to export.")
        ] = None,
    ) -> OrganizationExport:
        from office_api.errors import AuthError
        from office_api.org import transfer

        actor = await require_actor(info)
        root_pk = decode_id(root_id, "OrgUnit", "rootId") if root_id is not None else None
        audit.set_client_address(getattr(info.context, "client_address", None))
        async with info.context.db.unit_of_work() as uow:
            root = await uow.session.get(OrgUnitModel, root_pk) if root_pk is not None else None
            if root is None and not actor.is_system_admin:
                raise AuthError(ErrorCode.FORBIDDEN)
            if root_pk is not None and root is None:
                raise DomainError(ErrorCode.NOT_FOUND, "rootId")
            if root is not None:
                actor.require_admin_of(root)
            units_csv = await transfer.export_units(uow.session, root)
            users_csv = await transfer.export_users(uow.session, root)
            audit.record(
                uow.session,
                actor_id=actor.user_id,
                action=audit.Action.ORG_EXPORT,
                target_type="OrgUnit",
                target_id=root.id if root else None,
                after={"units": units_csv.count("\n") - 1, "positions": users_csv.count("\n") - 1},
            )
        return OrganizationExport(units_csv=units_csv, users_csv=users_csv)


@strawberry.type
class OrgMutation:
    @strawberry.mutation(
        description="Sign in. A wrong password, an unknown user and a locked username (5 failures: 15 minutes) "
        "all give INVALID_CREDENTIALS. With two-factor sign-in on, a right password without `totpCode` gives "
        "TOTP_REQUIRED (field totpCode), and a wrong or already used code INVALID_CREDENTIALS on totpCode "
        "(counted toward the lockout).",
        permission_classes=[AllowAny],
    )
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        ctx = info.context
        audit.set_client_address(ctx.client_address)
        try:
            pair, user = await auth.login(
                ctx.db,
                ctx.settings,
                input.username,
                input.password,
                now=ctx.platform.clock(),
                totp_code=input.totp_code,
            )
        except DomainError as e:
            return _login_payload(None, None, user_errors(e, ctx.lang))
        return await _signed_in(info, pair, user)

    @strawberry.mutation(
        description="Exchange a refresh token for a new pair (rotation). Reusing a spent token revokes the "
        "whole session family: TOKEN_REUSED.",
        permission_classes=[AllowAny],
    )
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> LoginPayload:
        ctx = info.context

        async def work(uow):
            pair = await auth.rotate_refresh_token(uow, ctx.settings, input.refresh_token)
            return pair, await uow.session.get(UserModel, pair.user_id)

        try:
            async with ctx.db.unit_of_work() as uow:
                result = await work(uow)
        except auth.TokenReused as reused:
            async with ctx.db.unit_of_work() as uow:
                owners = await auth.revoke_family(uow, reused.family_id)
            await ctx.broker.publish(owners)  # the stolen session's subscriptions close now
            return _login_payload(
                None, None, [UserError(field=reused.field, code=reused.code, message=reused.message(ctx.lang))]
            )
        except DomainError as e:
            return _login_payload(None, None, [UserError(field=e.field, code=e.code, message=e.message(ctx.lang))])
        return await _signed_in(info, *result)

    @strawberry.mutation(description="Create a unit inside your subtree.", permission_classes=[IsAdmin])
    async def create_org_unit(self, info: Info, input: CreateOrgUnitInput) -> OrgUnitPayload:
        actor = await require_actor(info)

        async def work(uow):
            parent = decode_id(input.parent_id, "OrgUnit", "parentId") if input.parent_id is not None else None
            return await org.create_unit(
                uow,
                actor,
                org.UnitInput(
                    input.code, input.name, UnitKind(input.kind).value, parent, input.division_code, input.short_name
                ),
            )

        unit, errors = await run_mutation(info, work)
        return OrgUnitPayload(org_unit=OrgUnit.from_model(unit) if unit else None, errors=errors)

    @strawberry.mutation(description="Rename or (de)activate a unit inside your subtree.", permission_classes=[IsAdmin])
    async def update_org_unit(self, info: Info, input: UpdateOrgUnitInput) -> OrgUnitPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await org.update_unit(
                uow,
                actor,
                decode_id(input.id, "OrgUnit", "id"),
                name=input.name,
                short_name=input.short_name,
                is_active=input.is_active,
                expected_version=input.version,
            )

        unit, errors = await run_mutation(info, work)
        return OrgUnitPayload(org_unit=OrgUnit.from_model(unit) if unit else None, errors=errors)

    @strawberry.mutation(
        description="Move a unit and its subtree under a new parent in one transaction; refuses cycles (CYCLE).",
        permission_classes=[IsAdmin],
    )
    async def move_org_unit(self, info: Info, input: MoveOrgUnitInput) -> OrgUnitPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await org.move_unit(
                uow,
                actor,
                decode_id(input.id, "OrgUnit", "id"),
                decode_id(input.parent_id, "OrgUnit", "parentId"),
                expected_version=input.version,
            )

        unit, errors = await run_mutation(info, work)
        return OrgUnitPayload(org_unit=OrgUnit.from_model(unit) if unit else None, errors=errors)

    @strawberry.mutation(
        description="Create a user (system admin, or unit admin with a unit in the subtree).",
        permission_classes=[IsAdmin],
    )
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserPayload:
        actor = await require_actor(info)

        async def work(uow):
            unit = decode_id(input.unit_id, "OrgUnit", "unitId") if input.unit_id is not None else None
            return await org.create_user(
                uow,
                actor,
                org.UserInput(input.username, input.display_name, input.password, unit, input.title, input.is_leader),
                auth.PasswordPolicy.from_settings(info.context.settings),
            )

        user, errors = await run_mutation(info, work)
        return CreateUserPayload(user=User.from_model(user) if user else None, errors=errors)

    @strawberry.mutation(
        description="Give a user a post in a unit of your subtree. A unit admin may do so only for users whose "
        "primary post is in its subtree.",
        permission_classes=[IsAdmin],
    )
    async def assign_position(self, info: Info, input: AssignPositionInput) -> AssignPositionPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await org.assign_position(
                uow,
                actor,
                user_id=decode_id(input.user_id, "User", "userId"),
                unit_id=decode_id(input.unit_id, "OrgUnit", "unitId"),
                title=input.title,
                is_primary=input.is_primary,
                is_leader=input.is_leader,
                duties=_duties(input.duties),
            )

        pos, errors = await run_mutation(info, work)
        return AssignPositionPayload(position=Position.from_model(pos) if pos else None, errors=errors)

    @strawberry.mutation(
        description="Replace the duties (HEAD, DEPUTY_HEAD, CLERK) of a post in your subtree. A unit has at most "
        "one head: HEAD_TAKEN otherwise.",
        permission_classes=[IsAdmin],
    )
    async def set_position_duties(self, info: Info, input: SetPositionDutiesInput) -> SetPositionDutiesPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await org_duties.set_position_duties(
                uow, actor, decode_id(input.position_id, "Position", "positionId"), _duties(input.duties)
            )

        pos, errors = await run_mutation(info, work)
        return SetPositionDutiesPayload(position=Position.from_model(pos) if pos else None, errors=errors)

    @strawberry.mutation(
        description="Import units, or users and their posts, from CSV: idempotent, all-or-nothing, with a per-row "
        "report. System admin, or a unit admin for rows inside its subtree (OUT_OF_SCOPE per row otherwise). "
        "New users get a random password they cannot know: reset it with resetPassword. Audited.",
        permission_classes=[IsAdmin],
    )
    async def import_organization(self, info: Info, input: ImportOrganizationInput) -> ImportOrganizationPayload:
        from office_api.org.importer import MAX_IMPORT_BYTES, import_org
        from office_api.org.transfer import UsersReport

        actor = await require_actor(info)
        dry = bool(input.dry_run)

        async def work(uow):
            if len(input.csv) > MAX_IMPORT_BYTES or len(input.csv.encode("utf-8")) > MAX_IMPORT_BYTES:
                raise DomainError(ErrorCode.TOO_LONG, "csv", limit=MAX_IMPORT_BYTES)
            report = await import_org(uow, input.csv, actor=actor)
            if dry:
                raise _DryRun(report)
            return report

        try:
            report, errors = await run_mutation(info, work)
        except _DryRun as d:
            report, errors = d.report, []
        if report is None:
            return ImportOrganizationPayload(
                layout=None,
                created=0,
                updated=0,
                unchanged=0,
                positions_created=0,
                positions_unchanged=0,
                dry_run=dry,
                errors=errors,
            )
        users = isinstance(report, UsersReport)
        return ImportOrganizationPayload(
            layout="users" if users else "units",
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            positions_created=report.positions_created if users else 0,
            positions_unchanged=report.positions_unchanged if users else 0,
            dry_run=dry,
            errors=errors,
        )


def _duties(values: list) -> list[str]:
    """Duty values of an input list (``TOO_MANY`` beyond :data:`MAX_DUTIES`)."""
    if len(values) > MAX_DUTIES:
        raise DomainError(ErrorCode.TOO_MANY, "duties", limit=MAX_DUTIES)
    return [Duty(v).value for v in values]

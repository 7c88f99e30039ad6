"""GraphQL surface of integration clients: the admin operations and the client guard.

Admin operations (system admin, or a unit admin for clients whose subtree is inside its
own): ``registerApiClient`` and ``rotateApiClientSecret`` return the secret once;
``revokeApiClient``; ``apiClient`` and ``apiClients`` read. The security and audit admins
hold no admin scope and are refused (``FORBIDDEN``), as are integration clients.

:class:`ClientScopeGuard` is the schema extension that applies a client token's limits to
every operation: it resolves the client before execution (and sets it as the audit actor),
refuses root fields the client may not call (``schema/scopes.py``), and drops organization
units and posts outside the client's subtree from every result, at any depth.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import AsyncIterator
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from office_api import audit
from office_api.clients import service as clients
from office_api.clients.models import ApiClient as ApiClientModel
from office_api.clients.service import ClientPrincipal, Scope
from office_api.errors import AuthError, DomainError, ErrorCode
from schema.common import (
    Connection,
    IsAdmin,
    UserError,
    decode_cursor,
    decode_id,
    make_connection,
    page_size,
    require_actor,
    run_mutation,
)
from schema.org import OrgUnit, Position
from schema.scopes import check_client

#: Most scopes one registration may list (there are five).
MAX_SCOPES = 5


@strawberry.enum(description="What an integration client may do; each root field needs one scope or is user-only.")
class ApiScope(Enum):
    DIRECTORY_READ = strawberry.enum_value(
        Scope.DIRECTORY_READ.value,
        description="`directory:read`: directory search, orgUnit and orgUnits, inside the client's subtree.",
    )
    DOCUMENTS_READ = strawberry.enum_value(
        Scope.DOCUMENTS_READ.value,
        description="`documents:read`: read documents issued by units inside the subtree (document).",
    )
    DOCUMENTS_ROUTE = strawberry.enum_value(
        Scope.DOCUMENTS_ROUTE.value,
        description="`documents:route`: create and route documents of units inside the subtree (reserved: "
        "no operation needs it yet).",
    )
    MEETINGS_MANAGE = strawberry.enum_value(
        Scope.MEETINGS_MANAGE.value,
        description="`meetings:manage`: manage meetings of units inside the subtree (reserved: no operation yet).",
    )
    EVENTS_RECEIVE = strawberry.enum_value(
        Scope.EVENTS_RECEIVE.value,
        description="`events:receive`: the subtree's notifications pushed to the client's webhook endpoints "
        "(createWebhook).",
    )


def _gid(pk: int) -> strawberry.ID:
    return strawberry.ID(str(relay.GlobalID("ApiClient", str(pk))))


@strawberry.type(description="A departmental system registered to call the API (OAuth 2.0 client credentials).")
class ApiClient:
    id: strawberry.ID = strawberry.field(description="Global id (type ApiClient).")
    client_id: str = strawberry.field(
        description="Public client identifier for POST /oauth/token (`client_id`), e.g. oc_3f9a…."
    )
    name: str = strawberry.field(description="Name of the departmental system, e.g. 历下区政务服务平台.")
    scopes: list[ApiScope] = strawberry.field(description="Scopes the client may ask for, sorted.")
    version: int = strawberry.field(
        description="Optimistic-concurrency version; rotating or revoking bumps it, which kills issued tokens."
    )
    created_at: dt.datetime = strawberry.field(description="UTC instant of registration.")
    rotated_at: dt.datetime | None = strawberry.field(description="UTC instant of the last secret rotation.")
    revoked_at: dt.datetime | None = strawberry.field(description="UTC instant of revocation; null while active.")
    unit_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: ApiClientModel) -> ApiClient:
        return cls(
            id=_gid(m.id),
            client_id=m.client_id,
            name=m.name,
            scopes=[ApiScope(s) for s in sorted(m.scope_set)],
            version=m.version,
            created_at=m.created_at,
            rotated_at=m.rotated_at,
            revoked_at=m.revoked_at,
            unit_id=m.unit_id,
        )

    @strawberry.field(description="Root of the subtree the client reads and acts on (that unit and all below).")
    async def unit(self, info: Info) -> OrgUnit:
        return OrgUnit.from_model(await info.context.loaders.unit.load(self.unit_id))


@strawberry.input(description="Register a departmental system.")
class RegisterApiClientInput:
    name: str = strawberry.field(description="Name of the system, 1–100 characters.")
    unit_id: relay.GlobalID = strawberry.field(
        description="Root of the client's subtree (inside your own subtree for a unit admin)."
    )
    scopes: list[ApiScope] = strawberry.field(description="Scopes granted, 1–5 (duplicates ignored).")


@strawberry.input(description="The client to change.")
class ApiClientChangeInput:
    id: relay.GlobalID = strawberry.field(description="The client (type ApiClient).")
    version: int | None = strawberry.field(
        default=None, description="The version you read; STALE_VERSION when someone changed the client since."
    )


@strawberry.type(description="The client and its secret, shown this once, or errors.")
class ApiClientSecretPayload:
    api_client: ApiClient | None = strawberry.field(description="The client after the change.")
    client_secret: str | None = strawberry.field(
        description="The client secret (`client_secret`): shown only in this response, stored hashed. Keep it "
        "in the departmental system's secret store."
    )
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The client after the change, or errors.")
class ApiClientPayload:
    api_client: ApiClient | None = strawberry.field(description="The client after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type
class ApiClientQuery:
    @strawberry.field(
        description="One integration client you administer; null when there is none (or it is not yours).",
        permission_classes=[IsAdmin],
    )
    async def api_client(self, info: Info, id: relay.GlobalID) -> ApiClient | None:
        actor = await require_actor(info)
        pk = decode_id(id, "ApiClient", "id")
        async with info.context.db.read() as s:
            row = await clients.get_client(s, actor, pk)
        return ApiClient.from_model(row) if row else None

    @strawberry.field(
        description="The integration clients you administer (revoked ones too), by registration. "
        "`first`: 1–100, default 20.",
        permission_classes=[IsAdmin],
    )
    async def api_clients(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ApiClient]:
        actor = await require_actor(info)
        limit = page_size(first)
        async with info.context.db.read() as s:
            rows = await clients.list_clients(s, actor, decode_cursor(after), limit + 1)
        return make_connection(rows, limit, lambda r: r.id, ApiClient.from_model, after=after)


@strawberry.type
class ApiClientMutation:
    @strawberry.mutation(
        description="Register a departmental system for POST /oauth/token; returns its client secret once.",
        permission_classes=[IsAdmin],
    )
    async def register_api_client(self, info: Info, input: RegisterApiClientInput) -> ApiClientSecretPayload:
        actor = await require_actor(info)

        async def work(uow):
            if len(input.scopes) > MAX_SCOPES:
                raise DomainError(ErrorCode.TOO_MANY, "scopes", limit=MAX_SCOPES)
            unit = decode_id(input.unit_id, "OrgUnit", "unitId")
            return await clients.register_client(uow, actor, input.name, unit, [s.value for s in input.scopes])

        result, errors = await run_mutation(info, work)
        return ApiClientSecretPayload(
            api_client=ApiClient.from_model(result[0]) if result else None,
            client_secret=result[1] if result else None,
            errors=errors,
        )

    @strawberry.mutation(
        description="Give a client a new secret (returned once). The old secret and every token issued with it "
        "stop working at once.",
        permission_classes=[IsAdmin],
    )
    async def rotate_api_client_secret(self, info: Info, input: ApiClientChangeInput) -> ApiClientSecretPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await clients.rotate_secret(uow, actor, decode_id(input.id, "ApiClient", "id"), input.version)

        result, errors = await run_mutation(info, work)
        return ApiClientSecretPayload(
            api_client=ApiClient.from_model(result[0]) if result else None,
            client_secret=result[1] if result else None,
            errors=errors,
        )

    @strawberry.mutation(
        description="Revoke a client for good: its secret and tokens stop working at once.",
        permission_classes=[IsAdmin],
    )
    async def revoke_api_client(self, info: Info, input: ApiClientChangeInput) -> ApiClientPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await clients.revoke_client(uow, actor, decode_id(input.id, "ApiClient", "id"), input.version)

        row, errors = await run_mutation(info, work)
        return ApiClientPayload(api_client=ApiClient.from_model(row) if row else None, errors=errors)


# ---- the guard -------------------------------------------------------------------------------


async def _unit_inside(info: Info, client: ClientPrincipal, unit_id: int) -> bool:
    unit = await info.context.loaders.unit.load(unit_id)
    return unit is not None and client.covers_path(unit.path)


async def _confine(value: Any, client: ClientPrincipal, info: Info) -> Any:
    """``value`` without the units and posts outside ``client``'s subtree (None for one)."""
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, OrgUnit):
        return value if client.covers_path(value.model.path) else None
    if isinstance(value, Position):
        return value if await _unit_inside(info, client, value.unit_id) else None
    if isinstance(value, list) and value and isinstance(value[0], OrgUnit | Position):
        kept = [await _confine(v, client, info) for v in value]
        return [v for v in kept if v is not None]
    if isinstance(value, Connection) and value.edges and isinstance(value.edges[0].node, OrgUnit | Position):
        kept_edges = [e for e in value.edges if await _confine(e.node, client, info) is not None]
        return Connection(edges=kept_edges, page_info=value.page_info, total_count=value.total_count)
    return value


class ClientScopeGuard(SchemaExtension):
    """Applies an integration client's scopes and subtree to an operation (module docstring)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context.context
        get_client = getattr(ctx, "get_client", None)
        client = await get_client() if get_client is not None else None
        audit.set_actor_client(client.id if client is not None else None)
        yield

    def resolve(self, _next: Any, root: Any, info: Info, *args: Any, **kwargs: Any) -> Any:
        client = getattr(info.context, "client", None)
        if client is None:
            return _next(root, info, *args, **kwargs)
        if info.path.prev is None:
            check_client(client, info.parent_type.name, info.field_name)
        return _confine(_next(root, info, *args, **kwargs), client, info)


async def directory_scope(info: Info, unit_id: int | None, include_subtree: bool) -> tuple[int, bool]:
    """A client's directory search: (unit, include_subtree) confined to its subtree. No unit
    means the whole subtree; a unit outside it is ``FORBIDDEN``."""
    client = info.context.client
    if unit_id is None:
        return client.unit_id, True
    unit = await info.context.loaders.unit.load(unit_id)
    if unit is not None and not client.covers_path(unit.path):
        raise AuthError(ErrorCode.FORBIDDEN)
    return unit_id, include_subtree

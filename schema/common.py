"""Shared GraphQL pieces: user errors, permissions, global ids, connections, mutation runner."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from strawberry import relay
from strawberry.permission import BasePermission
from strawberry.types import Info

from office_api import audit
from office_api import idempotency as idem
from office_api.db import UnitOfWork
from office_api.errors import AuthError, DomainError, DomainErrors, ErrorCode, render_message
from office_api.org.permissions import Actor
from schema.scopes import client_admitted

ErrorCodeEnum = strawberry.enum(
    ErrorCode,
    name="ErrorCode",
    description="Stable machine-readable error codes. Clients switch on these, never on messages.",
)

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_PAGE = 20
MAX_PAGE = 100
#: Largest key of an id or cursor: keys are INTEGER columns (32-bit on PostgreSQL).
MAX_KEY = 2**31 - 1


@strawberry.type(description="An expected problem with a mutation's input or the state it acts on.")
class UserError:
    field: str | None = strawberry.field(
        description="Dotted path of the input field concerned (e.g. `route.steps.2.assigneeIds.0`), "
        "or null when the problem is not about one field."
    )
    code: ErrorCodeEnum = strawberry.field(description="Stable error code.")  # type: ignore[valid-type]
    message: str = strawberry.field(
        description="Human-readable message: zh-CN by default, English with `Accept-Language: en`."
    )


def user_errors(exc: DomainError | DomainErrors, lang: str) -> list[UserError]:
    """The payload errors for a domain exception."""
    items = exc.errors if isinstance(exc, DomainErrors) else [exc]
    return [UserError(field=e.field, code=e.code, message=e.message(lang)) for e in items]


# ---- permissions ---------------------------------------------------------------------


def _password_changed(actor: Actor) -> None:
    """Refuse everything but changePassword/logout while a forced password change is due."""
    if actor.must_change_password:
        raise AuthError(ErrorCode.PASSWORD_CHANGE_REQUIRED)


def _totp_enrolled(actor: Actor) -> None:
    """Refuse everything but me, logout, changePassword and the TOTP enrollment to a holder of
    one of the three administrator roles who has not turned two-factor sign-in on."""
    if actor.must_enroll_totp:
        raise AuthError(ErrorCode.TOTP_ENROLLMENT_REQUIRED)


class IsAuthenticated(BasePermission):
    """The request carries a valid access token of an active user (who needs no forced
    password change: ``PASSWORD_CHANGE_REQUIRED`` otherwise, nor a TOTP enrollment:
    ``TOTP_ENROLLMENT_REQUIRED``), or of an integration client holding the scope the root
    field needs (``schema/scopes.py``)."""

    message = "Authentication required"
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = await info.context.get_actor()
        if actor is None:
            return client_admitted(info)  # an integration client holding the field's scope
        _password_changed(actor)
        _totp_enrolled(actor)
        return True


class IsAuthenticatedPendingPasswordChange(BasePermission):
    """A valid access token, even while a forced password change is due (changePassword, logout)."""

    message = "Authentication required"
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return await info.context.get_actor() is not None


class IsAuthenticatedPendingTotpEnrollment(BasePermission):
    """A valid access token, even while a TOTP enrollment is due (me, the enrollment
    mutations); a forced password change still comes first."""

    message = "Authentication required"
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = await info.context.get_actor()
        if actor is None:
            return client_admitted(info)  # an integration client holding the field's scope
        _password_changed(actor)
        return True


class FullSession(BasePermission):
    """For fields reachable from ``me`` that lead to the rest of the graph (a user's posts):
    refused while a TOTP enrollment is due, so that ``me`` shows the account and no more.
    Without a token (the user in a login or refreshToken payload) it changes nothing."""

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = await info.context.get_actor()
        if actor is not None:
            _totp_enrolled(actor)
        return True


class _RolePermission(BasePermission):
    message = "Administrator role required"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def allowed(self, actor: Actor) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = await info.context.get_actor()
        if actor is None:
            raise AuthError(ErrorCode.UNAUTHENTICATED)
        _password_changed(actor)
        _totp_enrolled(actor)
        return self.allowed(actor)


class IsSecurityAdmin(_RolePermission):
    """The security admin (三员之安全管理员): grants and revokes roles, nothing else."""

    message = "Security administrator role required"

    def allowed(self, actor: Actor) -> bool:
        return actor.is_security_admin


class IsAuditAdmin(_RolePermission):
    """The audit admin (三员之安全审计员): reads the audit log, nothing else."""

    message = "Audit administrator role required"

    def allowed(self, actor: Actor) -> bool:
        return actor.is_audit_admin


class IsAdmin(BasePermission):
    """The actor holds an administrator role (system admin, or unit admin of some subtree).

    Each mutation still checks the subtree of the units it touches. Strawberry builds one
    instance per field and shares it between requests, so the "no token" case raises its
    own error instead of changing ``message`` on the instance.
    """

    message = "Administrator role required"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = await info.context.get_actor()
        if actor is None:
            raise AuthError(ErrorCode.UNAUTHENTICATED)
        _password_changed(actor)
        _totp_enrolled(actor)
        return actor.is_admin


class AllowAny(BasePermission):
    """Public: no token needed (login and token refresh only)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return True


async def require_actor(info: Info) -> Actor:
    actor = await info.context.get_actor()
    if actor is None:
        raise AuthError(ErrorCode.UNAUTHENTICATED)
    return actor


async def visible_nodes(
    info: Info,
    node_ids: Any,
    fetch: Callable[[Any, Actor, int], Awaitable[R | None]],
    convert: Callable[[R], T],
) -> list[T | None]:
    """``resolve_nodes`` of a type whose rows only some people may see: ``fetch(session, actor,
    pk)`` returns the row when the signed-in actor may see it, else None (existence is not
    revealed); one read session for all the ids, results in the order asked."""
    actor = await require_actor(info)
    out: list[T | None] = []
    async with info.context.db.read() as session:
        for node_id in node_ids:
            row = await fetch(session, actor, int(node_id))
            out.append(convert(row) if row is not None else None)
    return out


# ---- ids -----------------------------------------------------------------------------


def encode_id(type_name: str, pk: int) -> relay.GlobalID:
    return relay.GlobalID(type_name, str(pk))


def decode_id(gid: relay.GlobalID | str, type_name: str, field: str) -> int:
    """The integer key of a global id of ``type_name``; ``INVALID_VALUE`` naming ``field``."""
    try:
        if isinstance(gid, str):
            gid = relay.GlobalID.from_id(gid)
        if gid.type_name != type_name:
            raise ValueError
        if not (gid.node_id.isascii() and gid.node_id.isdigit()):
            raise ValueError
        pk = int(gid.node_id)
        if pk <= 0 or pk > MAX_KEY:
            raise ValueError
        return pk
    except (ValueError, TypeError, AttributeError) as exc:
        raise DomainError(ErrorCode.INVALID_VALUE, field, detail=f"not a {type_name} id") from exc


def decode_ids(gids: Sequence[relay.GlobalID], type_name: str, field: str) -> list[int]:
    return [decode_id(g, type_name, f"{field}.{i}") for i, g in enumerate(gids)]


# ---- connections ---------------------------------------------------------------------


@strawberry.type(description="An edge in a connection.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque cursor of this edge.")
    node: T = strawberry.field(description="The item at the end of the edge.")


@strawberry.type(description="A page of a list (Relay connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in order.")
    page_info: relay.PageInfo = strawberry.field(description="Pagination data for this page.")
    total_count: int | None = strawberry.field(
        default=None, description="Total number of items across all pages, where cheap to know."
    )


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k:{key}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """The key in an opaque cursor; ``INVALID_VALUE`` on field ``after`` when malformed."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, key = raw.split(":", 1)
        if not (key.isascii() and key.isdigit()):
            raise ValueError
        value = int(key)
        if prefix != "k" or not 0 <= value <= MAX_KEY:
            raise ValueError
        return value
    except (ValueError, UnicodeDecodeError) as exc:
        raise DomainError(ErrorCode.INVALID_VALUE, "after", detail="malformed cursor") from exc


def page_size(first: int | None) -> int:
    """``first`` checked against 1…100 (default 20)."""
    if first is None:
        return DEFAULT_PAGE
    if first < 1 or first > MAX_PAGE:
        raise DomainError(ErrorCode.INVALID_VALUE, "first", detail=f"1 to {MAX_PAGE}")
    return first


def make_connection(
    rows: Sequence[Any],
    limit: int,
    key: Callable[[Any], int],
    convert: Callable[[Any], T],
    *,
    after: str | None,
    total_count: int | None = None,
) -> Connection[T]:
    """Build a page from ``rows`` fetched with ``limit + 1`` (the extra row means "more")."""
    has_next = len(rows) > limit
    rows = rows[:limit]
    edges = [Edge(cursor=encode_cursor(key(r)), node=convert(r)) for r in rows]
    return Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total_count,
    )


# ---- mutations -----------------------------------------------------------------------


#: Description of the optional ``idempotencyKey`` input field (see ``IDEMPOTENCY_KEY``).
IDEMPOTENCY_KEY_DESCRIPTION = (
    "Optional retry key, 1–100 printable ASCII characters (a UUID is fine), chosen by the app per user action. "
    "A repeat of this mutation with the same key by the same user (or client) within 24 hours returns the first "
    "successful result and changes nothing; the same key with a different input is IDEMPOTENCY_KEY_REUSED. Failed "
    "attempts are not remembered: a retry of one runs (and validates) again."
)


def idempotency_key_field() -> Any:
    """The ``idempotencyKey`` field of a mutation input: ``idempotency_key: str | None =
    idempotency_key_field()``; pass the input as ``run_mutation(..., idempotent=input)``."""
    return strawberry.field(default=None, description=IDEMPOTENCY_KEY_DESCRIPTION)


class _KeyTaken(Exception):
    """A concurrent request committed the same key first: look again."""


async def _actor_key(ctx: Any) -> str:
    actor = await ctx.get_actor()
    if actor is not None:
        return f"user:{actor.user_id}"
    client = await ctx.get_client()
    if client is not None:
        return f"client:{client.id}"
    raise AuthError(ErrorCode.UNAUTHENTICATED)


async def _run_idempotent(info: Info, work: Callable[[UnitOfWork], Awaitable[R]], input: Any, key: str) -> R:
    """Run ``work`` once per (actor, mutation, key); see ``office_api/idempotency.py``."""
    ctx = info.context
    if not idem.valid_key(key):
        raise DomainError(ErrorCode.INVALID_VALUE, "idempotencyKey", detail="1 to 100 printable ASCII characters")
    actor_key = await _actor_key(ctx)
    name = info.field_name
    digest = idem.input_hash(input)
    where = (
        idem.IdempotencyRecord.actor_key == actor_key,
        idem.IdempotencyRecord.mutation == name,
        idem.IdempotencyRecord.key == key,
    )
    for _attempt in range(5):
        now = ctx.platform.clock()
        try:
            async with ctx.db.unit_of_work() as uow:
                uow.now, uow.clock = now, ctx.platform.clock
                session = uow.session
                record = (await session.execute(select(idem.IdempotencyRecord).where(*where))).scalar_one_or_none()
                if record is not None and record.expires_at > now:
                    if record.input_hash != digest:
                        raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "idempotencyKey")
                    return idem.load_result(record.result)
                if record is not None:  # expired: the key starts afresh
                    await session.delete(record)
                    await session.flush()
                # The claim comes before the work: on PostgreSQL a concurrent twin's insert
                # waits here for our commit and then fails instead of doing the work twice.
                claim = idem.IdempotencyRecord(
                    actor_key=actor_key,
                    mutation=name,
                    key=key,
                    input_hash=digest,
                    created_at=now,
                    expires_at=now + dt.timedelta(seconds=ctx.settings.idempotency_ttl_seconds),
                )
                session.add(claim)
                try:
                    await session.flush()
                except IntegrityError as exc:
                    raise _KeyTaken from exc
                result = await work(uow)
                claim.result = await idem.dump_result(session, result)
            return result
        except _KeyTaken:
            continue
    raise DomainError(ErrorCode.INVALID_STATE, "idempotencyKey", detail="key busy, retry")


async def run_mutation(
    info: Info, work: Callable[[UnitOfWork], Awaitable[R]], *, idempotent: Any = None
) -> tuple[R | None, list[UserError]]:
    """Run ``work`` in one unit of work; expected failures become ``UserError`` entries.

    The transaction commits only when ``work`` returns; a domain error rolls back
    everything (no half-written rows) and notifies nobody.

    ``idempotent``: the mutation's input, when it has an ``idempotency_key`` field
    (:func:`idempotency_key_field`). With a key, ``work`` runs at most once per actor,
    mutation and key; a repeat gets the first result back, rebuilt from its stored JSON.
    """
    ctx = info.context
    audit.set_client_address(getattr(ctx, "client_address", None))
    key = getattr(idempotent, "idempotency_key", None) if idempotent is not None else None
    try:
        if key is not None:
            result = await _run_idempotent(info, work, idempotent, key)
        else:
            async with ctx.db.unit_of_work() as uow:
                uow.now, uow.clock = ctx.platform.clock(), ctx.platform.clock
                result = await work(uow)
    except (DomainError, DomainErrors) as exc:
        return None, user_errors(exc, ctx.lang)
    finally:
        ctx.loaders.reset()
        ctx.forget_calendar()
    return result, []


def message(code: ErrorCode, lang: str, **params: Any) -> str:
    return render_message(code, lang, **params)

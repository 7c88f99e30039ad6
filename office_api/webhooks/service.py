"""Webhook administration, the routing of notifications to endpoints, and dead-letter replay.

Who may manage a client's webhooks: whoever may manage the client (office_api/clients/
service.py): the system admin any; a unit admin those whose client's subtree root is inside
its own subtree; nobody else (``FORBIDDEN``). Every change locks the webhook row, checks the
optional ``version`` (``STALE_VERSION``), writes an audit row in the same transaction (never
the secret) and flushes; committing is the caller's job.

Which notifications an endpoint receives (:func:`_routes`): its client must be active and
hold ``events:receive``, the endpoint be enabled, and the notification's kind be one of the
endpoint's ``kinds`` (all when empty); and the notification must belong to the client's
subtree:

* one received **for a unit** (``unit_id`` set: a unit's clerk, an invited unit's attendee)
  goes when that unit is in the subtree, and only then, even if the recipient also holds a
  post inside the subtree (it is the other unit's business);
* a **personal** one (``unit_id`` null) goes when the recipient holds a post in a unit of
  the subtree.

Rows go out in the transaction that wrote the notifications (``messaging.outbox.on_notify``
plus a before-commit step): one delivery per endpoint per transaction carrying a JSON array
of at most :data:`MAX_BATCH` notifications, so a rolled-back change sends nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import Notification, NotificationKind
from messaging.outbox import on_notify
from messaging.wire import notification_json
from office_api import audit
from office_api.audit import Action
from office_api.clients.models import ApiClient
from office_api.clients.service import Scope
from office_api.config import Settings
from office_api.db import UnitOfWork
from office_api.errors import AuthError, DomainError, ErrorCode, ErrorCollector
from office_api.org.models import OrgUnit, Position
from office_api.org.permissions import Actor
from office_api.text import trimmed
from office_api.webhooks import security
from office_api.webhooks.models import DEAD, PENDING, Webhook, WebhookDelivery

#: Most notifications in one POST; a larger transaction makes several deliveries.
MAX_BATCH = 100
#: Most endpoints per client.
MAX_WEBHOOKS_PER_CLIENT = 10
MAX_DESCRIPTION = 200
#: Most deliveries one replay may name.
MAX_REPLAY = 100
KINDS = frozenset(k.value for k in NotificationKind)


# ---- administration --------------------------------------------------------------------------


def _audit_state(hook: Webhook) -> dict[str, object]:
    return {
        "clientId": hook.client_id,
        "url": hook.url,
        "kinds": sorted(hook.kind_set),
        "description": hook.description,
        "enabled": hook.enabled,
        "version": hook.version,
    }


async def _admin_unit_path(session: AsyncSession, actor: Actor, client: ApiClient) -> None:
    unit = await session.get(OrgUnit, client.unit_id)
    if unit is None or not actor.administers_path(unit.path):
        raise AuthError(ErrorCode.FORBIDDEN)


async def _client_for_admin(session: AsyncSession, actor: Actor, pk: int, field: str) -> ApiClient:
    """Client ``pk`` when ``actor`` administers it: ``FORBIDDEN`` otherwise (and for a unit
    admin naming a missing client), ``NOT_FOUND`` (``field``) for the system admin."""
    if not actor.is_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    client = await session.get(ApiClient, pk, populate_existing=True)
    if client is None:
        if actor.is_system_admin:
            raise DomainError(ErrorCode.NOT_FOUND, field)
        raise AuthError(ErrorCode.FORBIDDEN)
    await _admin_unit_path(session, actor, client)
    return client


async def _webhook_for_admin(uow: UnitOfWork, actor: Actor, pk: int, version: int | None) -> Webhook:
    """Lock and return webhook ``pk`` when ``actor`` administers its client (see
    :func:`_client_for_admin` for the refusals); ``STALE_VERSION`` (version) when it changed."""
    if not actor.is_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    session = uow.session
    hook = await session.get(Webhook, pk, with_for_update=True, populate_existing=True)
    if hook is None:
        if actor.is_system_admin:
            raise DomainError(ErrorCode.NOT_FOUND, "id")
        raise AuthError(ErrorCode.FORBIDDEN)
    client = await session.get(ApiClient, hook.client_id)
    assert client is not None  # a foreign key
    await _admin_unit_path(session, actor, client)
    if version is not None and version != hook.version:
        raise DomainError(ErrorCode.STALE_VERSION, "version")
    return hook


async def _check_url(errors: ErrorCollector, settings: Settings, url: str) -> str:
    try:
        await security.check_target(url, allow_private=settings.webhook_allow_private)
    except security.TargetRefused as exc:
        errors.add(ErrorCode.WEBHOOK_URL_REFUSED, "url", detail=str(exc))
    return url.strip()


def _kinds(errors: ErrorCollector, kinds: Iterable[str]) -> str:
    wanted = []
    for i, k in enumerate(kinds):
        if k not in KINDS:
            errors.add(ErrorCode.INVALID_VALUE, f"kinds.{i}", detail=k[:40])
        wanted.append(k)
    return " ".join(sorted(set(wanted)))


def _description(errors: ErrorCollector, text: str | None) -> str:
    value = trimmed(text or "")
    if len(value) > MAX_DESCRIPTION:
        errors.add(ErrorCode.TOO_LONG, "description", limit=MAX_DESCRIPTION)
    return value


async def create_webhook(
    uow: UnitOfWork,
    settings: Settings,
    actor: Actor,
    client_pk: int,
    url: str,
    kinds: Sequence[str] = (),
    description: str | None = None,
) -> tuple[Webhook, str]:
    """Register an endpoint for client ``client_pk``; returns it and its signing secret
    (shown this once, stored encrypted).

    Refusals: ``FORBIDDEN``/``NOT_FOUND`` (clientId) as for client administration;
    ``INVALID_STATE`` (clientId) for a revoked client; ``SCOPE_MISSING`` (clientId) when the
    client lacks ``events:receive``; ``TOO_MANY`` (clientId) past
    :data:`MAX_WEBHOOKS_PER_CLIENT`; ``WEBHOOK_URL_REFUSED`` (url, :mod:`security`);
    ``INVALID_VALUE`` (kinds.N); ``TOO_LONG`` (description).
    """
    session = uow.session
    client = await _client_for_admin(session, actor, client_pk, "clientId")
    errors = ErrorCollector()
    if client.revoked_at is not None:
        errors.add(ErrorCode.INVALID_STATE, "clientId", detail="the client is revoked")
    elif Scope.EVENTS_RECEIVE.value not in client.scope_set:
        errors.add(ErrorCode.SCOPE_MISSING, "clientId", detail=Scope.EVENTS_RECEIVE.value)
    count = len((await session.execute(select(Webhook.id).where(Webhook.client_id == client.id))).all())
    if count >= MAX_WEBHOOKS_PER_CLIENT:
        errors.add(ErrorCode.TOO_MANY, "clientId", limit=MAX_WEBHOOKS_PER_CLIENT)
    url = await _check_url(errors, settings, url)
    kind_list = _kinds(errors, kinds)
    desc = _description(errors, description)
    errors.raise_if_any()
    secret = security.new_secret()
    hook = Webhook(
        client_id=client.id,
        url=url,
        kinds=kind_list,
        description=desc,
        secret=security.encrypt_secret(settings, secret),
        enabled=True,
        version=1,
        created_by_id=actor.user_id,
        created_at=uow.now,
    )
    session.add(hook)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.WEBHOOK_CREATE,
        target_type="Webhook",
        target_id=hook.id,
        after=_audit_state(hook),
    )
    await session.flush()
    return hook, secret


async def update_webhook(
    uow: UnitOfWork,
    settings: Settings,
    actor: Actor,
    pk: int,
    version: int | None,
    *,
    url: str | None = None,
    kinds: Sequence[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> Webhook:
    """Change an endpoint's ``url``, ``kinds`` (empty: all), ``enabled`` or ``description``
    (None leaves a field as it is). A change bumps ``version``; nothing changed writes
    nothing. Pending deliveries of a disabled endpoint become dead letters when due."""
    hook = await _webhook_for_admin(uow, actor, pk, version)
    errors = ErrorCollector()
    new_url = await _check_url(errors, settings, url) if url is not None else hook.url
    new_kinds = _kinds(errors, kinds) if kinds is not None else hook.kinds
    new_desc = _description(errors, description) if description is not None else hook.description
    errors.raise_if_any()
    new_enabled = hook.enabled if enabled is None else enabled
    if (new_url, new_kinds, new_desc, new_enabled) == (hook.url, hook.kinds, hook.description, hook.enabled):
        return hook
    before = _audit_state(hook)
    hook.url, hook.kinds, hook.description, hook.enabled = new_url, new_kinds, new_desc, new_enabled
    hook.version += 1
    hook.updated_at = uow.now
    audit.record(
        uow.session,
        actor_id=actor.user_id,
        action=Action.WEBHOOK_UPDATE,
        target_type="Webhook",
        target_id=hook.id,
        before=before,
        after=_audit_state(hook),
    )
    await uow.session.flush()
    return hook


async def rotate_webhook_secret(
    uow: UnitOfWork, settings: Settings, actor: Actor, pk: int, version: int | None
) -> tuple[Webhook, str]:
    """Give an endpoint a new signing secret (returned once). Every POST from the commit on,
    retries of older deliveries included, is signed with it; the old one is forgotten."""
    hook = await _webhook_for_admin(uow, actor, pk, version)
    before = _audit_state(hook)
    secret = security.new_secret()
    hook.secret = security.encrypt_secret(settings, secret)
    hook.version += 1
    hook.rotated_at = uow.now
    audit.record(
        uow.session,
        actor_id=actor.user_id,
        action=Action.WEBHOOK_ROTATE,
        target_type="Webhook",
        target_id=hook.id,
        before=before,
        after=_audit_state(hook),
    )
    await uow.session.flush()
    return hook, secret


async def delete_webhook(uow: UnitOfWork, actor: Actor, pk: int, version: int | None) -> int:
    """Delete an endpoint and all its deliveries (pending ones are not sent); returns ``pk``."""
    hook = await _webhook_for_admin(uow, actor, pk, version)
    before = _audit_state(hook)
    session = uow.session
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == pk))
    await session.delete(hook)
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.WEBHOOK_DELETE,
        target_type="Webhook",
        target_id=pk,
        before=before,
    )
    await session.flush()
    return pk


async def replay_deliveries(uow: UnitOfWork, actor: Actor, ids: Sequence[int]) -> list[WebhookDelivery]:
    """Put dead letters back: pending, due now (``uow.now``), attempts from 0. Each id must be
    a delivery of an endpoint of a client ``actor`` administers (``FORBIDDEN``; ``NOT_FOUND``
    at ``ids.N`` for the system admin) and dead (``INVALID_STATE`` at ``ids.N``). All or
    nothing; one audit row per delivery. ``TOO_MANY`` (ids) past :data:`MAX_REPLAY`."""
    if not actor.is_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    if len(ids) > MAX_REPLAY:
        raise DomainError(ErrorCode.TOO_MANY, "ids", limit=MAX_REPLAY)
    if not ids:
        raise DomainError(ErrorCode.REQUIRED, "ids")
    session = uow.session
    rows = (
        await session.execute(
            select(WebhookDelivery, OrgUnit.path)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .join(ApiClient, ApiClient.id == Webhook.client_id)
            .join(OrgUnit, OrgUnit.id == ApiClient.unit_id)
            .where(WebhookDelivery.id.in_(list(ids)))
            .with_for_update(of=WebhookDelivery)
            .execution_options(populate_existing=True)
        )
    ).all()
    found = {d.id: (d, path) for d, path in rows}
    errors = ErrorCollector()
    out: list[WebhookDelivery] = []
    for i, pk in enumerate(ids):
        hit = found.get(pk)
        if hit is None or not actor.administers_path(hit[1]):
            if not actor.is_system_admin:
                raise AuthError(ErrorCode.FORBIDDEN)
            errors.add(ErrorCode.NOT_FOUND, f"ids.{i}")
            continue
        if hit[0].status != DEAD:
            errors.add(ErrorCode.INVALID_STATE, f"ids.{i}", detail=f"the delivery is {hit[0].status}")
            continue
        if hit[0] not in out:
            out.append(hit[0])
    errors.raise_if_any()
    for d in out:
        before = {"status": d.status, "attempts": d.attempts, "lastStatus": d.last_status}
        d.status, d.attempts, d.next_attempt_at, d.dead_at = PENDING, 0, uow.now, None
        audit.record(
            session,
            actor_id=actor.user_id,
            action=Action.WEBHOOK_REPLAY,
            target_type="WebhookDelivery",
            target_id=d.id,
            before=before,
            after={"status": PENDING, "uid": d.uid},
        )
    await session.flush()
    uow.after_commit(wake_senders)
    return out


async def list_webhooks(
    session: AsyncSession, actor: Actor, client_pk: int, after_id: int | None, limit: int
) -> list[Webhook]:
    """Client ``client_pk``'s endpoints by id (``FORBIDDEN`` unless ``actor`` administers it;
    an empty list for the system admin naming a missing client)."""
    try:
        await _client_for_admin(session, actor, client_pk, "clientId")
    except DomainError:
        return []
    q = select(Webhook).where(Webhook.client_id == client_pk).order_by(Webhook.id).limit(limit)
    if after_id is not None:
        q = q.where(Webhook.id > after_id)
    return list((await session.execute(q)).scalars())


async def dead_letters(
    session: AsyncSession, actor: Actor, client_pk: int, after_id: int | None, limit: int
) -> list[WebhookDelivery]:
    """Client ``client_pk``'s dead deliveries, oldest first (refusals as :func:`list_webhooks`)."""
    try:
        await _client_for_admin(session, actor, client_pk, "clientId")
    except DomainError:
        return []
    q = (
        select(WebhookDelivery)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(Webhook.client_id == client_pk, WebhookDelivery.status == DEAD)
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    if after_id is not None:
        q = q.where(WebhookDelivery.id > after_id)
    return list((await session.execute(q)).scalars())


# ---- routing: the outbox hook ----------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """What routing needs of a notification row (the row itself is encoded only if sent)."""

    user_id: int
    unit_id: int | None
    kind: str
    row: Notification


_PENDING_KEY = "webhooks.pending"
#: Wake-up callbacks of the senders of this process (office_api/webhooks/delivery.py).
_senders: list[Any] = []


def wake_senders() -> None:
    """Tell this process's senders that deliveries are due (after a commit)."""
    for wake in list(_senders):
        wake()


@on_notify
async def _collect(uow: UnitOfWork, rows: list[Notification]) -> None:
    """Keep the rows of this transaction; :func:`_enqueue` routes them before it commits."""
    held = uow.session.info.get(_PENDING_KEY)
    if held is None or held[0] is not uow:
        items: list[_Item] = []
        uow.session.info[_PENDING_KEY] = (uow, items)
        uow.before_commit(_PENDING_KEY, lambda: _enqueue(uow, items))
    else:
        items = held[1]
    items.extend(_Item(r.user_id, r.unit_id, r.kind, r) for r in rows)


async def _enqueue(uow: UnitOfWork, items: list[_Item]) -> None:
    session = uow.session
    session.info.pop(_PENDING_KEY, None)
    routes = await _routes(session, items)
    count = 0
    encoded: dict[int, dict[str, Any]] = {}  # each notification encoded once, whatever the endpoints
    for webhook_id, chosen in routes:
        bodies = [encoded.get(i.row.id) or encoded.setdefault(i.row.id, notification_json(i.row)) for i in chosen]
        for start in range(0, len(bodies), MAX_BATCH):
            session.add(
                WebhookDelivery(
                    uid=str(uuid.uuid4()),
                    webhook_id=webhook_id,
                    payload=bodies[start : start + MAX_BATCH],
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=uow.now,
                    created_at=uow.now,
                )
            )
            count += 1
    if count:
        await session.flush()
        uow.after_commit(wake_senders)


async def _routes(session: AsyncSession, items: list[_Item]) -> list[tuple[int, list[_Item]]]:
    """(webhook id, the items it receives, in order) for every endpoint receiving any
    (rules in the module docstring)."""
    if not items:
        return []
    hooks = [
        (hook_id, frozenset(kinds.split()), path)
        for hook_id, kinds, scopes, path in (
            await session.execute(
                select(Webhook.id, Webhook.kinds, ApiClient.scopes, OrgUnit.path)
                .join(ApiClient, ApiClient.id == Webhook.client_id)
                .join(OrgUnit, OrgUnit.id == ApiClient.unit_id)
                .where(Webhook.enabled.is_(True), ApiClient.revoked_at.is_(None))
                .order_by(Webhook.id)
            )
        ).all()
        if Scope.EVENTS_RECEIVE.value in scopes.split()
    ]
    if not hooks:
        return []
    unit_ids = {i.unit_id for i in items if i.unit_id is not None}
    personal = {i.user_id for i in items if i.unit_id is None}
    unit_paths: dict[int, str] = {}
    if unit_ids:
        unit_paths = dict(
            (await session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(unit_ids)))).all()
        )
    post_paths: dict[int, list[str]] = {}
    if personal:
        for uid, path in (
            await session.execute(
                select(Position.user_id, OrgUnit.path)
                .join(OrgUnit, OrgUnit.id == Position.unit_id)
                .where(Position.user_id.in_(personal))
            )
        ).all():
            post_paths.setdefault(uid, []).append(path)
    out = []
    for hook_id, kinds, root in hooks:
        chosen = []
        for item in items:
            if kinds and item.kind not in kinds:
                continue
            if item.unit_id is not None:
                inside = unit_paths.get(item.unit_id, "").startswith(root)
            else:
                inside = any(p.startswith(root) for p in post_paths.get(item.user_id, ()))
            if inside:
                chosen.append(item)
        if chosen:
            out.append((hook_id, chosen))
    return out

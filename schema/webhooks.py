"""GraphQL surface of webhooks for departmental systems (office_api/webhooks/).

Administrators of an integration client (system admin; unit admin over the client's
subtree) register its endpoints, rotate their signing secrets, and replay dead letters.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from office_api.errors import DomainError, ErrorCode
from office_api.webhooks import service as webhooks
from office_api.webhooks.models import DEAD, DELIVERED, PENDING
from office_api.webhooks.models import Webhook as WebhookModel
from office_api.webhooks.models import WebhookDelivery as DeliveryModel
from schema.common import (
    Connection,
    IsAdmin,
    UserError,
    decode_cursor,
    decode_id,
    decode_ids,
    make_connection,
    page_size,
    require_actor,
    run_mutation,
)
from schema.notifications import NotificationKindEnum


def _gid(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(str(relay.GlobalID(type_name, str(pk))))


@strawberry.type(description="An HTTPS endpoint of an integration client that receives its subtree's notifications.")
class Webhook:
    id: strawberry.ID = strawberry.field(description="Global id (type Webhook); sent as X-Office-Webhook-Id.")
    api_client_id: strawberry.ID = strawberry.field(description="The integration client (type ApiClient).")
    url: str = strawberry.field(description="Where deliveries are POSTed, e.g. https://oa.lixia.gov.cn/hooks/office.")
    kinds: list[NotificationKindEnum] = strawberry.field(  # type: ignore[valid-type]
        description="Notification kinds sent, sorted; empty = every kind."
    )
    description: str = strawberry.field(description="Free text for administrators (at most 200 characters).")
    enabled: bool = strawberry.field(
        description="False: nothing is queued for it, and its pending deliveries become dead letters when due."
    )
    version: int = strawberry.field(description="Optimistic-concurrency version; every change bumps it.")
    created_at: dt.datetime = strawberry.field(description="UTC instant of registration.")
    updated_at: dt.datetime | None = strawberry.field(description="UTC instant of the last change of url, kinds, …")
    secret_rotated_at: dt.datetime | None = strawberry.field(description="UTC instant of the last secret rotation.")

    @classmethod
    def from_model(cls, m: WebhookModel) -> Webhook:
        return cls(
            id=_gid("Webhook", m.id),
            api_client_id=_gid("ApiClient", m.client_id),
            url=m.url,
            kinds=sorted(m.kind_set),
            description=m.description,
            enabled=m.enabled,
            version=m.version,
            created_at=m.created_at,
            updated_at=m.updated_at,
            secret_rotated_at=m.rotated_at,
        )


@strawberry.enum(description="Where a webhook delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value(PENDING, description="Waiting for its next attempt (or being sent).")
    DELIVERED = strawberry.enum_value(DELIVERED, description="The endpoint answered 2xx.")
    DEAD = strawberry.enum_value(
        DEAD,
        description="A dead letter: a 3xx/4xx answer (not 408/429), the attempts used up, the target refused, "
        "or the endpoint or client disabled. replayWebhookDeliveries sends it again.",
    )


@strawberry.type(description="One POST (with its retries) of a batch of notifications to one endpoint.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="Global id (type WebhookDelivery).")
    delivery_id: str = strawberry.field(description="UUID sent as X-Office-Delivery-Id on every attempt.")
    webhook_id: strawberry.ID = strawberry.field(description="The endpoint (type Webhook).")
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="POSTs tried so far (0 after a replay).")
    last_status: int | None = strawberry.field(description="HTTP status of the last answer; null: none.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed (English), e.g. `HTTP 503`.")
    notification_count: int = strawberry.field(description="Notifications in the batch (1–100).")
    created_at: dt.datetime = strawberry.field(description="UTC instant it was queued.")
    next_attempt_at: dt.datetime | None = strawberry.field(description="UTC instant of the next attempt while pending.")
    delivered_at: dt.datetime | None = strawberry.field(description="UTC instant of the 2xx answer.")
    dead_at: dt.datetime | None = strawberry.field(description="UTC instant it became a dead letter.")

    @classmethod
    def from_model(cls, m: DeliveryModel) -> WebhookDelivery:
        return cls(
            id=_gid("WebhookDelivery", m.id),
            delivery_id=m.uid,
            webhook_id=_gid("Webhook", m.webhook_id),
            status=WebhookDeliveryStatus(m.status),
            attempts=m.attempts,
            last_status=m.last_status,
            last_error=m.last_error,
            notification_count=len(m.payload or []),
            created_at=m.created_at,
            next_attempt_at=m.next_attempt_at if m.status == PENDING else None,
            delivered_at=m.delivered_at,
            dead_at=m.dead_at,
        )


@strawberry.input(description="Register an endpoint for an integration client holding events:receive.")
class CreateWebhookInput:
    client_id: relay.GlobalID = strawberry.field(description="The integration client (type ApiClient).")
    url: str = strawberry.field(
        description="https URL of a public address (plain http and private, loopback or link-local addresses only "
        "with OFFICE_WEBHOOK_ALLOW_PRIVATE); at most 2000 characters; no credentials or fragment."
    )
    kinds: list[NotificationKindEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Kinds to send (at most 100); omit or empty for every kind."
    )
    description: str | None = strawberry.field(default=None, description="Free text, at most 200 characters.")


@strawberry.input(description="Change an endpoint; omitted fields stay as they are.")
class UpdateWebhookInput:
    id: relay.GlobalID = strawberry.field(description="The endpoint (type Webhook).")
    version: int | None = strawberry.field(
        default=None, description="The version you read; STALE_VERSION when someone changed it since."
    )
    url: str | None = strawberry.field(default=None, description="New URL (same rules as createWebhook).")
    kinds: list[NotificationKindEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="New kinds (at most 100); empty = every kind."
    )
    enabled: bool | None = strawberry.field(default=None, description="Turn sending on or off.")
    description: str | None = strawberry.field(default=None, description="New description (at most 200 characters).")


@strawberry.input(description="The endpoint to change.")
class WebhookChangeInput:
    id: relay.GlobalID = strawberry.field(description="The endpoint (type Webhook).")
    version: int | None = strawberry.field(
        default=None, description="The version you read; STALE_VERSION when someone changed it since."
    )


@strawberry.input(description="Dead letters to send again.")
class ReplayWebhookDeliveriesInput:
    ids: list[relay.GlobalID] = strawberry.field(
        description="Dead deliveries (type WebhookDelivery), 1–100, of clients you administer."
    )


@strawberry.type(description="The endpoint and its signing secret, shown this once, or errors.")
class WebhookSecretPayload:
    webhook: Webhook | None = strawberry.field(description="The endpoint after the change.")
    secret: str | None = strawberry.field(
        description="The signing secret (whsec_…): shown only in this response. The receiver checks "
        "X-Office-Signature with it (README: Webhooks for departmental systems)."
    )
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The endpoint after the change, or errors.")
class UpdateWebhookPayload:
    webhook: Webhook | None = strawberry.field(description="The endpoint after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The id of the deleted endpoint, or errors.")
class DeleteWebhookPayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="Global id of the deleted endpoint.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The deliveries queued again, or errors (then none is).")
class ReplayWebhookDeliveriesPayload:
    deliveries: list[WebhookDelivery] = strawberry.field(description="The deliveries, now pending and due.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


MAX_KINDS = 100


def _kind_values(kinds: list | None, field: str) -> list[str] | None:
    if kinds is None:
        return None
    if len(kinds) > MAX_KINDS:
        raise DomainError(ErrorCode.TOO_MANY, field, limit=MAX_KINDS)
    return [k.value for k in kinds]


ClientArg = Annotated[relay.GlobalID, strawberry.argument(description="The integration client (type ApiClient).")]


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        description="The webhook endpoints of an integration client you administer, by registration. "
        "`first`: 1–100, default 20. FORBIDDEN for a client outside your subtree.",
        permission_classes=[IsAdmin],
    )
    async def webhooks(
        self, info: Info, client_id: ClientArg, first: int | None = None, after: str | None = None
    ) -> Connection[Webhook]:
        actor = await require_actor(info)
        limit = page_size(first)
        pk = decode_id(client_id, "ApiClient", "clientId")
        async with info.context.db.read() as s:
            rows = await webhooks.list_webhooks(s, actor, pk, decode_cursor(after), limit + 1)
        return make_connection(rows, limit, lambda r: r.id, Webhook.from_model, after=after)

    @strawberry.field(
        description="Dead letters of an integration client's endpoints, oldest first: deliveries that will not be "
        "retried unless replayed. `first`: 1–100, default 20. FORBIDDEN for a client outside your subtree.",
        permission_classes=[IsAdmin],
    )
    async def webhook_dead_letters(
        self, info: Info, client_id: ClientArg, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookDelivery]:
        actor = await require_actor(info)
        limit = page_size(first)
        pk = decode_id(client_id, "ApiClient", "clientId")
        async with info.context.db.read() as s:
            rows = await webhooks.dead_letters(s, actor, pk, decode_cursor(after), limit + 1)
        return make_connection(rows, limit, lambda r: r.id, WebhookDelivery.from_model, after=after)


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Register a webhook endpoint for an integration client holding events:receive; returns its "
        "signing secret once. Errors: SCOPE_MISSING, INVALID_STATE (revoked client), WEBHOOK_URL_REFUSED (url), "
        "TOO_MANY (10 endpoints per client).",
        permission_classes=[IsAdmin],
    )
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> WebhookSecretPayload:
        actor = await require_actor(info)

        async def work(uow):
            kinds = _kind_values(input.kinds, "kinds") or []
            client = decode_id(input.client_id, "ApiClient", "clientId")
            return await webhooks.create_webhook(
                uow, info.context.settings, actor, client, input.url, kinds, input.description
            )

        result, errors = await run_mutation(info, work)
        return WebhookSecretPayload(
            webhook=Webhook.from_model(result[0]) if result else None,
            secret=result[1] if result else None,
            errors=errors,
        )

    @strawberry.mutation(
        description="Change a webhook endpoint's url, kinds, description, or turn it on or off.",
        permission_classes=[IsAdmin],
    )
    async def update_webhook(self, info: Info, input: UpdateWebhookInput) -> UpdateWebhookPayload:
        actor = await require_actor(info)

        async def work(uow):
            kinds = _kind_values(input.kinds, "kinds")
            return await webhooks.update_webhook(
                uow,
                info.context.settings,
                actor,
                decode_id(input.id, "Webhook", "id"),
                input.version,
                url=input.url,
                kinds=kinds,
                enabled=input.enabled,
                description=input.description,
            )

        row, errors = await run_mutation(info, work)
        return UpdateWebhookPayload(webhook=Webhook.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        description="Give a webhook endpoint a new signing secret (returned once); every later POST, retries "
        "included, is signed with it.",
        permission_classes=[IsAdmin],
    )
    async def rotate_webhook_secret(self, info: Info, input: WebhookChangeInput) -> WebhookSecretPayload:
        actor = await require_actor(info)

        async def work(uow):
            pk = decode_id(input.id, "Webhook", "id")
            return await webhooks.rotate_webhook_secret(uow, info.context.settings, actor, pk, input.version)

        result, errors = await run_mutation(info, work)
        return WebhookSecretPayload(
            webhook=Webhook.from_model(result[0]) if result else None,
            secret=result[1] if result else None,
            errors=errors,
        )

    @strawberry.mutation(
        description="Delete a webhook endpoint with its deliveries (pending ones are not sent).",
        permission_classes=[IsAdmin],
    )
    async def delete_webhook(self, info: Info, input: WebhookChangeInput) -> DeleteWebhookPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await webhooks.delete_webhook(uow, actor, decode_id(input.id, "Webhook", "id"), input.version)

        pk, errors = await run_mutation(info, work)
        return DeleteWebhookPayload(deleted_id=_gid("Webhook", pk) if pk else None, errors=errors)

    @strawberry.mutation(
        description="Send dead letters again: each becomes pending, due now, with its attempts counted from 0. "
        "All or nothing: INVALID_STATE (ids.N) for one that is not dead.",
        permission_classes=[IsAdmin],
    )
    async def replay_webhook_deliveries(
        self, info: Info, input: ReplayWebhookDeliveriesInput
    ) -> ReplayWebhookDeliveriesPayload:
        actor = await require_actor(info)

        async def work(uow):
            if len(input.ids) > webhooks.MAX_REPLAY:
                raise DomainError(ErrorCode.TOO_MANY, "ids", limit=webhooks.MAX_REPLAY)
            return await webhooks.replay_deliveries(uow, actor, decode_ids(input.ids, "WebhookDelivery", "ids"))

        rows, errors = await run_mutation(info, work)
        return ReplayWebhookDeliveriesPayload(
            deliveries=[WebhookDelivery.from_model(r) for r in rows or []], errors=errors
        )

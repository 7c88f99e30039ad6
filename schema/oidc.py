"""GraphQL surface of the identity-provider sign-in: the app's code exchange and the
administration of links between provider subjects and users (see :mod:`office_api.oidc`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from office_api import audit, oidc
from office_api.errors import DomainError
from office_api.org import identities
from office_api.org.models import UserIdentity
from schema.common import AllowAny, IsAdmin, UserError, decode_id, require_actor, run_mutation, user_errors
from schema.org import LoginPayload, User, _login_payload, _signed_in


@strawberry.type(description="The province's identity provider, when sign-in through it is configured.")
class IdentityProvider:
    display_name: str = strawberry.field(description="Name to show on the sign-in button (OFFICE_OIDC_DISPLAY_NAME).")
    issuer: str = strawberry.field(description="Issuer URL of the provider (OFFICE_OIDC_ISSUER).")
    login_path: str = strawberry.field(
        description="Path on this server that starts the sign-in: open `<server><loginPath>?return_to=<app URI>` "
        "in the system browser."
    )


@strawberry.type(description="A subject of the identity provider linked to a user by an administrator.")
class LinkedIdentity:
    issuer: str = strawberry.field(description="Issuer URL of the provider.")
    subject: str = strawberry.field(description="The provider's `sub` for the person (unique within the issuer).")
    linked_at: dt.datetime = strawberry.field(description="UTC instant when the link was made.")

    @classmethod
    def from_model(cls, m: UserIdentity) -> LinkedIdentity:
        return cls(issuer=m.issuer, subject=m.subject, linked_at=m.created_at)


@strawberry.input(description="A login code from the identity-provider sign-in, to exchange for tokens.")
class LoginWithIdentityProviderInput:
    login_code: str = strawberry.field(
        description="The `login_code` the server appended to your return URI (single use, 60 seconds by default)."
    )
    code_verifier: str | None = strawberry.field(
        default=None,
        description="The PKCE verifier whose S256 challenge you passed to /auth/oidc/login as `code_challenge` "
        "(required when you passed one).",
    )


@strawberry.input(description="A provider subject and the user to link it to or unlink it from.")
class IdentityLinkInput:
    user_id: relay.GlobalID = strawberry.field(description="The user (in your subtree for a unit admin).")
    subject: str = strawberry.field(
        description="The provider's `sub` for the person: printable ASCII, at most 255 characters."
    )


@strawberry.type(description="The user and its linked identities after the change, or errors.")
class IdentityLinkPayload:
    user: User | None = strawberry.field(description="The user.")
    identities: list[LinkedIdentity] = strawberry.field(description="Every identity linked to the user now.")
    errors: list[UserError] = strawberry.field(
        description="OIDC_DISABLED, DUPLICATE (subject linked already, or the user has one), NOT_FOUND, "
        "INVALID_VALUE, REQUIRED, TOO_LONG; empty on success."
    )


def _issuer(info: Info) -> str:
    """The configured issuer, or "" when sign-in through a provider is off (the service then
    answers ``OIDC_DISABLED`` after its permission check)."""
    settings = info.context.settings
    return settings.oidc_issuer.strip() if settings.oidc_enabled else ""


@strawberry.type
class OidcQuery:
    @strawberry.field(
        description="The identity provider to offer on the sign-in screen; null when sign-in through it is off.",
        permission_classes=[AllowAny],
    )
    def identity_provider(self, info: Info) -> IdentityProvider | None:
        settings = info.context.settings
        if not settings.oidc_enabled:
            return None
        return IdentityProvider(
            display_name=settings.oidc_display_name, issuer=settings.oidc_issuer.strip(), login_path="/auth/oidc/login"
        )

    @strawberry.field(
        description="The provider identities linked to a user (admins, for the users they administer).",
        permission_classes=[IsAdmin],
    )
    async def linked_identities(
        self, info: Info, user_id: Annotated[relay.GlobalID, strawberry.argument(description="The user.")]
    ) -> list[LinkedIdentity]:
        actor = await require_actor(info)

        async def work(uow):
            return await identities.list_identities(uow, actor, decode_id(user_id, "User", "userId"))

        async with info.context.db.unit_of_work() as uow:
            rows = await work(uow)
        return [LinkedIdentity.from_model(r) for r in rows]


async def _link_change(info: Info, input: IdentityLinkInput, change) -> IdentityLinkPayload:
    actor = await require_actor(info)

    async def work(uow):
        issuer = _issuer(info)
        user = await change(uow, actor, decode_id(input.user_id, "User", "userId"), issuer, input.subject)
        return user, await identities.identities_of(uow.session, user.id)

    result, errors = await run_mutation(info, work)
    if result is None:
        return IdentityLinkPayload(user=None, identities=[], errors=errors)
    user, rows = result
    return IdentityLinkPayload(
        user=User.from_model(user), identities=[LinkedIdentity.from_model(r) for r in rows], errors=[]
    )


@strawberry.type
class OidcMutation:
    @strawberry.mutation(
        description="Exchange the login code of an identity-provider sign-in for tokens (once). INVALID_TOKEN for "
        "an unknown, expired or used code; ACCOUNT_DISABLED; OIDC_DISABLED when sign-in through it is off.",
        permission_classes=[AllowAny],
    )
    async def login_with_identity_provider(self, info: Info, input: LoginWithIdentityProviderInput) -> LoginPayload:
        ctx = info.context
        audit.set_client_address(ctx.client_address)
        try:
            pair, user = await oidc.exchange_login_code(
                ctx.db, ctx.settings, input.login_code, input.code_verifier, now=ctx.platform.clock()
            )
        except DomainError as e:
            return _login_payload(None, None, user_errors(e, ctx.lang))
        return await _signed_in(info, pair, user)  # mustEnrollTotp for the three administrators

    @strawberry.mutation(
        description="Link a subject of the identity provider to a user, so that the person signs in as that user.",
        permission_classes=[IsAdmin],
    )
    async def link_identity(self, info: Info, input: IdentityLinkInput) -> IdentityLinkPayload:
        return await _link_change(info, input, identities.link_identity)

    @strawberry.mutation(description="Remove the link of a provider subject from a user.", permission_classes=[IsAdmin])
    async def unlink_identity(self, info: Info, input: IdentityLinkInput) -> IdentityLinkPayload:
        return await _link_change(info, input, identities.unlink_identity)

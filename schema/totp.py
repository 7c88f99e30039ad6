"""GraphQL surface of two-factor sign-in (TOTP): enrollment, turning it off, reset.

Signing in with a code is ``login(input: {…, totpCode})`` (schema/org.py); whether your
roles require it is ``me { mustEnrollTotp }`` and ``login { mustEnrollTotp }``.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry import relay
from strawberry.types import Info

from office_api import audit
from office_api.errors import DomainError
from office_api.org import two_factor
from schema.accounts import UserPayload
from schema.common import (
    IsAdmin,
    IsAuthenticated,
    IsAuthenticatedPendingTotpEnrollment,
    UserError,
    decode_id,
    require_actor,
    run_mutation,
    user_errors,
)
from schema.org import User


@strawberry.type(
    description="A started TOTP enrollment: add the secret to an authenticator app (scan the URI as a QR code or "
    "type the secret), then confirm it with the code the app shows."
)
class TotpEnrollmentPayload:
    secret: str | None = strawberry.field(
        description="The shared secret, base32 (160 bits), to type into the app. Shown this once."
    )
    otpauth_uri: str | None = strawberry.field(
        description="`otpauth://totp/<issuer>:<username>?secret=…&issuer=…` (OFFICE_TOTP_ISSUER), for a QR code."
    )
    errors: list[UserError] = strawberry.field(
        description="INVALID_STATE when two-factor sign-in is on already; empty on success."
    )


@strawberry.input(description="A current code of the secret from startTotpEnrollment.")
class ConfirmTotpEnrollmentInput:
    code: str = strawberry.field(description="The 6-digit code the authenticator app shows now.")


@strawberry.type(description="Two-factor sign-in is on: fresh tokens (every older token was revoked), or errors.")
class ConfirmTotpEnrollmentPayload:
    access_token: str | None = strawberry.field(description="A new access token (a full session).")
    refresh_token: str | None = strawberry.field(description="A new refresh token (new family).")
    expires_at: dt.datetime | None = strawberry.field(description="UTC instant when the access token expires.")
    errors: list[UserError] = strawberry.field(
        description="INVALID_CREDENTIALS (code) for a wrong code, INVALID_STATE without a started enrollment; "
        "empty on success."
    )


@strawberry.input(description="Your password and a current code, to turn your two-factor sign-in off.")
class DisableTotpInput:
    password: str = strawberry.field(description="Your password.")
    code: str = strawberry.field(description="The 6-digit code the authenticator app shows now.")


@strawberry.type(description="Whether two-factor sign-in was turned off.")
class DisableTotpPayload:
    ok: bool = strawberry.field(description="True when it is off now.")
    errors: list[UserError] = strawberry.field(
        description="TOTP_REQUIRED_BY_ROLE for the system, security and audit administrators; INVALID_CREDENTIALS "
        "(password or code); INVALID_STATE when it is not on; empty on success."
    )


@strawberry.input(description="The account whose two-factor sign-in to reset.")
class ResetTotpInput:
    user_id: relay.GlobalID = strawberry.field(description="The user (in your subtree for a unit admin).")


@strawberry.type
class TotpMutation:
    @strawberry.mutation(
        description="Start (or restart) your TOTP enrollment: a new secret, pending until confirmTotpEnrollment; "
        "starting again replaces a pending one. Works while the enrollment is due.",
        permission_classes=[IsAuthenticatedPendingTotpEnrollment],
    )
    async def start_totp_enrollment(self, info: Info) -> TotpEnrollmentPayload:
        ctx = info.context
        actor = await require_actor(info)

        async def work(uow):
            return await two_factor.start_enrollment(uow, ctx.settings, actor.user_id, ctx.platform.clock())

        enrollment, errors = await run_mutation(info, work)
        if enrollment is None:
            return TotpEnrollmentPayload(secret=None, otpauth_uri=None, errors=errors)
        return TotpEnrollmentPayload(secret=enrollment.secret, otpauth_uri=enrollment.uri, errors=[])

    @strawberry.mutation(
        description="Confirm your TOTP enrollment with a current code: two-factor sign-in is on from now, every "
        "older token is revoked and a fresh pair returned. Works while the enrollment is due. Audited.",
        permission_classes=[IsAuthenticatedPendingTotpEnrollment],
    )
    async def confirm_totp_enrollment(
        self, info: Info, input: ConfirmTotpEnrollmentInput
    ) -> ConfirmTotpEnrollmentPayload:
        ctx = info.context
        actor = await require_actor(info)

        async def work(uow):
            now = ctx.platform.clock()
            pair = await two_factor.confirm_enrollment(uow, ctx.settings, actor.user_id, input.code, now)
            uow.after_commit(lambda: ctx.broker.publish([actor.user_id]))  # older sessions' subscriptions close
            return pair

        pair, errors = await run_mutation(info, work)
        if pair is None:
            return ConfirmTotpEnrollmentPayload(access_token=None, refresh_token=None, expires_at=None, errors=errors)
        return ConfirmTotpEnrollmentPayload(
            access_token=pair.access_token, refresh_token=pair.refresh_token, expires_at=pair.expires_at, errors=[]
        )

    @strawberry.mutation(
        description="Turn your two-factor sign-in off (password and a current code). Refused to the system, "
        "security and audit administrators (TOTP_REQUIRED_BY_ROLE). Audited.",
        permission_classes=[IsAuthenticated],
    )
    async def disable_totp(self, info: Info, input: DisableTotpInput) -> DisableTotpPayload:
        ctx = info.context
        actor = await require_actor(info)
        audit.set_client_address(ctx.client_address)
        try:
            await two_factor.disable(
                ctx.db, ctx.settings, actor.user_id, input.password, input.code, ctx.platform.clock()
            )
        except DomainError as e:
            return DisableTotpPayload(ok=False, errors=user_errors(e, ctx.lang))
        finally:
            ctx.loaders.reset()
        return DisableTotpPayload(ok=True, errors=[])

    @strawberry.mutation(
        description="Turn another user's two-factor sign-in off (lost device) and revoke their tokens; they enroll "
        "again. For whoever may reset their password: not for the system, security and audit administrators' "
        "accounts (`office-api reset-totp` on the server). Audited.",
        permission_classes=[IsAdmin],
    )
    async def reset_totp(self, info: Info, input: ResetTotpInput) -> UserPayload:
        actor = await require_actor(info)

        async def work(uow):
            user = await two_factor.reset(uow, actor, decode_id(input.user_id, "User", "userId"))
            uid = user.id
            uow.after_commit(lambda: info.context.broker.publish([uid]))  # their subscriptions close now
            return user

        user, errors = await run_mutation(info, work)
        return UserPayload(user=User.from_model(user) if user else None, errors=errors)

"""GraphQL surface of mobile push: your devices (push tokens) and your quiet hours.

Rules live in :mod:`messaging.devices`; when and what is pushed in :mod:`office_api.mobile_push`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from messaging import devices as svc
from messaging.devices import APP_VERSION_MAX, MAX_DEVICES, NAME_MAX, TOKEN_MAX
from messaging.push import PushPlatform
from schema.common import IsAuthenticated, UserError, decode_id, require_actor, run_mutation

PushPlatformEnum = strawberry.enum(
    PushPlatform,
    name="PushPlatform",
    description="The push service of a device token: APNS (Apple), FCM (Firebase Cloud Messaging), HUAWEI (Huawei "
    "Push Kit), XIAOMI (MiPush).",
)

_POLICY = (
    "Quiet hours hold back pushes of normal and urgent (加急) notifications until they end, then one push per device "
    "(`N 条新通知` when there are several); extra-urgent (特急) ones are pushed at once."
)


@strawberry.type(description="One of your phones or tablets that receives push notifications.")
class Device(relay.Node):
    id: relay.NodeID[int]
    platform: PushPlatformEnum = strawberry.field(description="Its push service.")  # type: ignore[valid-type]
    name: str | None = strawberry.field(description="The name the app gave it, e.g. 张伟的 iPhone; null for none.")
    app_version: str | None = strawberry.field(description="The app version that registered it; null if not given.")
    created_at: dt.datetime = strawberry.field(description="UTC instant you registered it.")
    last_seen_at: dt.datetime = strawberry.field(description="UTC instant it was last registered (at app start).")
    current_session: bool = strawberry.field(
        description="True when the session of this request registered it (this phone, most likely)."
    )

    @classmethod
    def from_model(cls, m: svc.Device, family: str | None) -> Device:
        return cls(
            id=m.id,
            platform=PushPlatform(m.platform),
            name=m.name,
            app_version=m.app_version,
            created_at=m.created_at,
            last_seen_at=m.last_seen_at,
            current_session=family is not None and m.session_family == family,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Device | None]:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            mine = {d.id: d for d in await svc.devices_of(s, actor.user_id)}
        family = _family(info)
        out: list[Device | None] = []
        for i in node_ids:
            row = mine.get(int(i)) if str(i).isdigit() else None
            out.append(cls.from_model(row, family) if row else None)
        return out


def _family(info: Info) -> str | None:
    claims = info.context.claims
    return claims.family if claims is not None else None


@strawberry.type(description="Your quiet hours: a daily window of local time (Asia/Shanghai). " + _POLICY)
class QuietHours:
    start: str = strawberry.field(description="Local time they begin, HH:MM (inclusive).")
    end: str = strawberry.field(
        description="Local time they end, HH:MM (exclusive); earlier than `start` when they cross midnight."
    )
    time_zone: str = strawberry.field(description="The time zone of `start` and `end` (IANA name).")
    crosses_midnight: bool = strawberry.field(description="True when `end` is on the next day (e.g. 22:00–07:00).")

    @classmethod
    def from_model(cls, m: svc.QuietHours, tz: str) -> QuietHours:
        return cls(
            start=svc.format_hhmm(m.start_minute),
            end=svc.format_hhmm(m.end_minute),
            time_zone=tz,
            crosses_midnight=m.start_minute > m.end_minute,
        )


@strawberry.input(description="A push token of this device, from the push service's SDK.")
class RegisterDeviceInput:
    platform: PushPlatformEnum = strawberry.field(description="The push service the token belongs to.")  # type: ignore[valid-type]
    token: str = strawberry.field(
        description=f"The push token (1–{TOKEN_MAX} printable ASCII characters, no spaces; surrounding spaces are "
        "trimmed). Never shown again."
    )
    name: str | None = strawberry.field(
        default=None, description=f"A name for the device, e.g. 张伟的 iPhone (at most {NAME_MAX} characters)."
    )
    app_version: str | None = strawberry.field(
        default=None, description=f"The app's version (at most {APP_VERSION_MAX} characters)."
    )


@strawberry.input(description="One of your devices to stop pushing to.")
class UnregisterDeviceInput:
    id: relay.GlobalID = strawberry.field(description="Your device (Device).")


@strawberry.input(description="Your quiet hours, local times in Asia/Shanghai.")
class SetQuietHoursInput:
    start: str = strawberry.field(description='Begin, "HH:MM" 00:00–23:59, e.g. "22:00".')
    end: str = strawberry.field(description='End, "HH:MM", not equal to `start`; earlier than it crosses midnight.')


@strawberry.type(description="The registered device, or errors.")
class RegisterDevicePayload:
    device: Device | None = strawberry.field(description="The device; null on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The id of the device removed, or errors.")
class UnregisterDevicePayload:
    device_id: relay.GlobalID | None = strawberry.field(description="The removed device's id; null on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="Your quiet hours after the change, or errors.")
class QuietHoursPayload:
    quiet_hours: QuietHours | None = strawberry.field(description="Your quiet hours; null when cleared or on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type
class DeviceQuery:
    @strawberry.field(
        description=f"Your devices that receive pushes, most recently seen first (at most {MAX_DEVICES}).",
        permission_classes=[IsAuthenticated],
    )
    async def my_devices(self, info: Info) -> list[Device]:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            rows = await svc.devices_of(s, actor.user_id)
        family = _family(info)
        return [Device.from_model(r, family) for r in rows]

    @strawberry.field(description="Your quiet hours; null when you have none.", permission_classes=[IsAuthenticated])
    async def my_quiet_hours(self, info: Info) -> QuietHours | None:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            row = (await svc.quiet_hours_of(s, [actor.user_id])).get(actor.user_id)
        return QuietHours.from_model(row, info.context.settings.timezone) if row else None


@strawberry.type
class DeviceMutation:
    @strawberry.mutation(
        description="Register this device's push token for you and this session (call it at every app start and "
        "whenever the push SDK gives a new token). The same token again changes nothing but its name, version and "
        "last-seen time; a token registered by someone else (a shared phone) moves to you. Signing out of this "
        "session, changing or resetting your password, or the account being disabled removes the device. "
        f"You keep at most {MAX_DEVICES} devices: one more drops the least recently seen. "
        "Errors: INVALID_VALUE (token: not printable ASCII without spaces), REQUIRED (token empty), "
        "TOO_LONG (token, name, appVersion).",
        permission_classes=[IsAuthenticated],
    )
    async def register_device(self, info: Info, input: RegisterDeviceInput) -> RegisterDevicePayload:
        actor = await require_actor(info)
        family = _family(info)

        async def work(uow: Any) -> svc.Device:
            return await svc.register_device(
                uow,
                actor.user_id,
                family,
                PushPlatform(input.platform).value,
                input.token,
                input.name,
                input.app_version,
            )

        row, errors = await run_mutation(info, work)
        return RegisterDevicePayload(device=Device.from_model(row, family) if row else None, errors=errors)

    @strawberry.mutation(
        description="Stop pushing to one of your devices. Errors: INVALID_VALUE (id: not a Device id), "
        "NOT_FOUND (id: not one of your devices).",
        permission_classes=[IsAuthenticated],
    )
    async def unregister_device(self, info: Info, input: UnregisterDeviceInput) -> UnregisterDevicePayload:
        actor = await require_actor(info)

        async def work(uow: Any) -> int:
            device_id = decode_id(input.id, "Device", "id")
            await svc.unregister_device(uow, actor.user_id, device_id)
            return device_id

        device_id, errors = await run_mutation(info, work)
        gid = relay.GlobalID("Device", str(device_id)) if device_id else None
        return UnregisterDevicePayload(device_id=gid, errors=errors)

    @strawberry.mutation(
        description="Set your quiet hours (replacing any). "
        + _POLICY
        + " Errors: INVALID_VALUE (start or end: not HH:MM; end: equal to start).",
        permission_classes=[IsAuthenticated],
    )
    async def set_quiet_hours(self, info: Info, input: SetQuietHoursInput) -> QuietHoursPayload:
        actor = await require_actor(info)

        async def work(uow: Any) -> svc.QuietHours:
            return await svc.set_quiet_hours(uow, actor.user_id, input.start, input.end)

        row, errors = await run_mutation(info, work)
        tz = info.context.settings.timezone
        return QuietHoursPayload(quiet_hours=QuietHours.from_model(row, tz) if row else None, errors=errors)

    @strawberry.mutation(
        description="Remove your quiet hours: every push goes out at once again (pushes already held go out when "
        "the hours would have ended). No errors.",
        permission_classes=[IsAuthenticated],
    )
    async def clear_quiet_hours(self, info: Info) -> QuietHoursPayload:
        actor = await require_actor(info)

        async def work(uow: Any) -> bool:
            return await svc.clear_quiet_hours(uow, actor.user_id)

        _, errors = await run_mutation(info, work)
        return QuietHoursPayload(quiet_hours=None, errors=errors)

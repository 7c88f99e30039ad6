"""Outbound provider interfaces: mobile push (APNs / FCM / Huawei / Xiaomi style) and SMS.

A provider is a class with ``__init__(self, settings)`` and one coroutine ``send``; it is chosen
by ``OFFICE_PUSH_PROVIDER`` / ``OFFICE_SMS_PROVIDER``: ``logging`` (the default, for
development: one structured log line per message, and the messages kept in memory) or
``package.module:Class``. The platform builds one of each at start-up (``Platform.push``,
``Platform.sms``); what is sent, when, and to whom is decided in :mod:`office_api.mobile_push`.

Outcomes follow the push services' own answers:

* ``ok``: the service accepted the message (APNs 200, FCM 200, HMS "80000000", MiPush 0);
* ``invalid_token``: the token is dead (APNs 410 Unregistered / 400 BadDeviceToken, FCM
  UNREGISTERED / INVALID_ARGUMENT on the token, HMS 80300007): the device row is deleted;
* ``retry_later``: throttled or unavailable (APNs 429 / 5xx, FCM 429 / 503, timeouts): the
  message to that device is tried again with the scheduler's backoff.

A provider that raises counts as ``retry_later``. Tokens are never logged whole (only their
last 6 characters); notification bodies are never sent through a push service.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from office_api.config import Settings

log = logging.getLogger("office_api.push")


class PushPlatform(StrEnum):
    """The push service a device token belongs to."""

    APNS = "APNS"  # Apple Push Notification service
    FCM = "FCM"  # Firebase Cloud Messaging
    HUAWEI = "HUAWEI"  # Huawei Push Kit (HMS)
    XIAOMI = "XIAOMI"  # Xiaomi MiPush


class PushOutcome(StrEnum):
    OK = "ok"
    INVALID_TOKEN = "invalid_token"
    RETRY_LATER = "retry_later"


class SmsOutcome(StrEnum):
    OK = "ok"
    #: The number cannot receive SMS (empty, malformed, not a mobile): not retried.
    INVALID_NUMBER = "invalid_number"
    RETRY_LATER = "retry_later"


@dataclass(frozen=True)
class PushTarget:
    """One device: its push service and token."""

    platform: str
    token: str


@dataclass(frozen=True)
class PushMessage:
    """What a push shows: a banner title and body, a priority and data for the app.

    ``data`` holds ``{"sequence": n, "count": k, "kinds": [...]}``: the person's highest
    notification sequence in the push, so the app resumes its subscription from before it.
    ``alert`` marks an escalation reminder (the app may play the loud sound).
    """

    title: str
    body: str
    priority: str
    data: dict[str, Any] = field(default_factory=dict)
    alert: bool = False


class PushProvider(Protocol):
    """Sends one message to one device; never raises for a service's refusal, returns it."""

    async def send(self, device: PushTarget, message: PushMessage) -> PushOutcome: ...


class SmsProvider(Protocol):
    """Sends one text message to one mobile number (11 digits, mainland China)."""

    async def send(self, mobile: str, text: str) -> SmsOutcome: ...


def _tail(secret: str) -> str:
    return "…" + secret[-6:] if len(secret) > 6 else "…"


class LoggingPushProvider:
    """Development push: logs one line per message (platform, token tail, priority, sequence)
    and keeps ``(device, message)`` in :attr:`sent`; always ``ok``."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.sent: list[tuple[PushTarget, PushMessage]] = []

    async def send(self, device: PushTarget, message: PushMessage) -> PushOutcome:
        self.sent.append((device, message))
        log.info(
            "push",
            extra={
                "platform": device.platform,
                "token": _tail(device.token),
                "priority": message.priority,
                "alert": message.alert,
                "sequence": message.data.get("sequence"),
                "count": message.data.get("count"),
            },
        )
        return PushOutcome.OK


class LoggingSmsProvider:
    """Development SMS: logs one line per message (the number's last 4 digits, length) and
    keeps ``(mobile, text)`` in :attr:`sent`; ``ok`` for 11-digit numbers, else ``invalid_number``."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, mobile: str, text: str) -> SmsOutcome:
        if not (len(mobile) == 11 and mobile.isascii() and mobile.isdigit()):
            return SmsOutcome.INVALID_NUMBER
        self.sent.append((mobile, text))
        log.info("sms", extra={"mobile": "…" + mobile[-4:], "chars": len(text)})
        return SmsOutcome.OK


def load_provider(spec: str, settings: Settings, default: type) -> Any:
    """Build the provider named by ``spec``: ``logging`` → ``default(settings)``, else
    ``package.module:Class`` → ``Class(settings)``.

    Raises ValueError for a malformed spec, ImportError / AttributeError when the module or
    class is missing (the server does not start).
    """
    if spec == "logging":
        return default(settings)
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise ValueError(f"a provider is 'logging' or 'package.module:Class', not {spec!r}")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(settings)

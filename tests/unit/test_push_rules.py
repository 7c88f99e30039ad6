"""Pure rules of mobile push: quiet-hour windows (crossing midnight), HH:MM parsing, provider
loading by name, the development providers, and the escalation settings' order."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from messaging.devices import format_hhmm, parse_hhmm, quiet_until
from messaging.push import (
    LoggingPushProvider,
    LoggingSmsProvider,
    PushMessage,
    PushOutcome,
    PushTarget,
    SmsOutcome,
    load_provider,
)
from office_api.config import Settings
from office_api.errors import DomainError, ErrorCode
from office_api.workdays import SHANGHAI
from tests.push_helpers import ScriptedPush

NIGHT = (22 * 60, 7 * 60)  # 22:00–07:00
LUNCH = (12 * 60, 13 * 60 + 30)  # 12:00–13:30


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(dt.UTC)


@pytest.mark.parametrize(
    ("now", "window", "expected"),
    [
        (at(1, 21, 59, 59), NIGHT, None),
        (at(1, 22, 0), NIGHT, at(2, 7, 0)),  # the start is inside
        (at(1, 23, 59, 59), NIGHT, at(2, 7, 0)),
        (at(2, 0, 0), NIGHT, at(2, 7, 0)),  # after midnight: ends the same day
        (at(2, 6, 59, 59), NIGHT, at(2, 7, 0)),
        (at(2, 7, 0), NIGHT, None),  # the end is outside
        (at(2, 12, 0), NIGHT, None),
        (at(1, 11, 59), LUNCH, None),
        (at(1, 12, 0), LUNCH, at(1, 13, 30)),
        (at(1, 13, 29, 59), LUNCH, at(1, 13, 30)),
        (at(1, 13, 30), LUNCH, None),
        (at(1, 0, 0), (0, 60), at(1, 1, 0)),
        (at(1, 23, 59), (23 * 60 + 59, 0), at(2, 0, 0)),
    ],
)
def test_quiet_until(now: dt.datetime, window: tuple[int, int], expected: dt.datetime | None) -> None:
    assert quiet_until(now, window[0], window[1], SHANGHAI) == expected


def test_quiet_until_reads_the_local_time_of_a_utc_instant() -> None:
    # 2026-06-01 14:30 UTC is 22:30 in Shanghai.
    assert quiet_until(dt.datetime(2026, 6, 1, 14, 30, tzinfo=dt.UTC), *NIGHT, SHANGHAI) == dt.datetime(
        2026, 6, 1, 23, 0, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(("text", "minutes"), [("00:00", 0), ("07:05", 425), ("23:59", 1439), (" 22:00 ", 1320)])
def test_parse_hhmm(text: str, minutes: int) -> None:
    assert parse_hhmm(text, "start") == minutes
    assert format_hhmm(minutes) == text.strip()


@pytest.mark.parametrize("text", ["24:00", "7:00", "07:60", "0700", "07:00:00", "", "ab:cd", "０７:００"])
def test_parse_hhmm_refuses(text: str) -> None:
    with pytest.raises(DomainError) as exc:
        parse_hhmm(text, "end")
    assert (exc.value.code, exc.value.field) == (ErrorCode.INVALID_VALUE, "end")


def test_providers_by_name() -> None:
    settings = Settings(jwt_secret="x" * 40)
    assert type(load_provider("logging", settings, LoggingPushProvider)) is LoggingPushProvider
    assert type(load_provider("logging", settings, LoggingSmsProvider)) is LoggingSmsProvider
    assert type(load_provider("tests.push_helpers:ScriptedPush", settings, LoggingPushProvider)) is ScriptedPush
    with pytest.raises(ValueError, match=r"package\.module:Class"):
        load_provider("tests.push_helpers", settings, LoggingPushProvider)
    with pytest.raises(AttributeError):
        load_provider("tests.push_helpers:Nope", settings, LoggingPushProvider)
    with pytest.raises(ImportError):
        load_provider("no_such_module_here:Provider", settings, LoggingPushProvider)


async def test_logging_providers_keep_what_they_sent(caplog: pytest.LogCaptureFixture) -> None:
    push, sms = LoggingPushProvider(), LoggingSmsProvider()
    message = PushMessage(title="新待办", body="", priority="normal", data={"sequence": 7, "count": 1})
    caplog.set_level("INFO", logger="office_api.push")
    assert await push.send(PushTarget("APNS", "0123456789abcdef"), message) is PushOutcome.OK
    assert push.sent == [(PushTarget("APNS", "0123456789abcdef"), message)]
    assert await sms.send("13800000006", "【加急】测试") is SmsOutcome.OK
    assert await sms.send("0531-86000006", "x") is SmsOutcome.INVALID_NUMBER
    assert sms.sent == [("13800000006", "【加急】测试")]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "…abcdef" in logged
    assert "0123456789abcdef" not in logged  # tokens are never logged whole
    assert "13800000006" not in logged


def test_sms_escalation_must_come_after_the_push_escalation() -> None:
    with pytest.raises(ValidationError, match="OFFICE_ESCALATE_SMS_AFTER_SECONDS"):
        Settings(jwt_secret="x" * 40, escalate_push_after_seconds=600, escalate_sms_after_seconds=600)
    ok = Settings(jwt_secret="x" * 40, escalate_push_after_seconds=60, escalate_sms_after_seconds=61)
    assert (ok.escalate_push_after_seconds, ok.escalate_sms_after_seconds) == (60, 61)
    defaults = Settings(jwt_secret="x" * 40)
    assert (defaults.push_provider, defaults.sms_provider) == ("logging", "logging")
    assert (defaults.escalate_push_after_seconds, defaults.escalate_sms_after_seconds) == (300, 1800)

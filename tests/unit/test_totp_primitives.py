"""TOTP primitives (office_api/totp.py): RFC 6238 codes, the ±1 step window, the otpauth URI,
and the encryption of stored secrets with its key settings."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from pydantic import ValidationError

from office_api import totp
from office_api.config import ConfigurationError, Environment, Settings

JWT_SECRET = "j" * 40
#: RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_time", "eight_digits"),
    [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"), (2000000000, "69279037")],
)
def test_codes_match_the_rfc_6238_test_vectors(unix_time: int, eight_digits: str) -> None:
    now = dt.datetime.fromtimestamp(unix_time, dt.UTC)
    assert totp.code_at(RFC_SECRET, totp.time_step(now)) == eight_digits[-6:]


def test_a_code_matches_its_step_and_one_on_either_side_only() -> None:
    now = dt.datetime(2026, 11, 30, 1, 0, 10, tzinfo=dt.UTC)
    step = totp.time_step(now)
    for offset in (-1, 0, 1):
        assert totp.matching_step(RFC_SECRET, totp.code_at(RFC_SECRET, step + offset), now) == step + offset
    for offset in (-2, 2):
        assert totp.matching_step(RFC_SECRET, totp.code_at(RFC_SECRET, step + offset), now) is None
    code = totp.code_at(RFC_SECRET, step)
    assert totp.matching_step(RFC_SECRET, f" {code[:3]} {code[3:]} ", now) == step
    for bad in ("", "12345", "1234567", "abcdef", "１２３４５６", code + "0"):
        assert totp.matching_step(RFC_SECRET, bad, now) is None, bad


def test_new_secrets_are_160_random_bits_in_base32() -> None:
    secrets = {totp.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(base64.b32decode(s)) == 20 for s in secrets)


def test_the_provisioning_uri_names_the_issuer_and_the_account() -> None:
    assert totp.provisioning_uri(RFC_SECRET, "clerk", "office-api") == (
        f"otpauth://totp/office-api:clerk?secret={RFC_SECRET}&issuer=office-api"
    )
    assert totp.provisioning_uri(RFC_SECRET, "clerk", "山东 政务") == (
        f"otpauth://totp/%E5%B1%B1%E4%B8%9C%20%E6%94%BF%E5%8A%A1:clerk?secret={RFC_SECRET}"
        "&issuer=%E5%B1%B1%E4%B8%9C%20%E6%94%BF%E5%8A%A1"
    )


def test_the_issuer_is_configurable_but_has_no_colon() -> None:
    assert Settings(totp_issuer="鲁政通").totp_issuer == "鲁政通"
    with pytest.raises(ValidationError):
        Settings(totp_issuer="a:b")
    with pytest.raises(ValidationError):
        Settings(totp_issuer="")


def test_secrets_are_encrypted_under_a_key_from_the_jwt_secret_by_default() -> None:
    settings = Settings(jwt_secret=JWT_SECRET)
    stored = totp.encrypt_secret(settings, RFC_SECRET)
    assert RFC_SECRET not in stored
    assert stored != totp.encrypt_secret(settings, RFC_SECRET)  # random IV
    assert totp.decrypt_secret(settings, stored) == RFC_SECRET
    # Another JWT secret cannot read them ...
    rotated = Settings(jwt_secret="k" * 40)
    with pytest.raises(totp.TotpKeyError):
        totp.decrypt_secret(rotated, stored)
    # ... unless the old one moves to OFFICE_TOTP_SECRET_KEY: the derived key stays the same.
    kept = Settings(jwt_secret="k" * 40, totp_secret_key=JWT_SECRET)
    assert totp.decrypt_secret(kept, stored) == RFC_SECRET


def test_a_dedicated_key_is_used_when_set() -> None:
    settings = Settings(jwt_secret=JWT_SECRET, totp_secret_key="t" * 40)
    stored = totp.encrypt_secret(settings, RFC_SECRET)
    with pytest.raises(totp.TotpKeyError):
        totp.decrypt_secret(Settings(jwt_secret=JWT_SECRET), stored)
    assert totp.decrypt_secret(Settings(jwt_secret="x" * 40, totp_secret_key="t" * 40), stored) == RFC_SECRET


def test_a_short_dedicated_key_is_refused_outside_development() -> None:
    with pytest.raises(ConfigurationError, match="OFFICE_TOTP_SECRET_KEY"):
        Settings(jwt_secret=JWT_SECRET, totp_secret_key="short").check_secret()
    Settings(jwt_secret=JWT_SECRET, totp_secret_key="t" * 32).check_secret()
    Settings(env=Environment.development, jwt_secret=JWT_SECRET, totp_secret_key="short").check_secret()

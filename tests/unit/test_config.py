"""Settings: production refuses weak secrets; the demo generates and keeps its own."""

from __future__ import annotations

import stat

import pytest

from office_api.config import ConfigurationError, Environment, Settings, ensure_dev_secret


@pytest.mark.parametrize("secret", ["", "secret", "changeme", "short-but-random-xyz"])
def test_production_refuses_a_missing_or_weak_secret(secret: str) -> None:
    settings = Settings(env=Environment.production, jwt_secret=secret)
    with pytest.raises(ConfigurationError, match="OFFICE_JWT_SECRET"):
        settings.check_secret()


def test_production_accepts_a_long_random_secret() -> None:
    Settings(env=Environment.production, jwt_secret="k" * 16 + "Zq8-2LmXv0pR7sTe").check_secret()


def test_development_still_needs_some_secret() -> None:
    with pytest.raises(ConfigurationError):
        Settings(env=Environment.development, jwt_secret="").check_secret()


def test_environment_variables_are_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFICE_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("OFFICE_ENV", "development")
    monkeypatch.setenv("OFFICE_ACCESS_TOKEN_TTL_SECONDS", "600")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.env is Environment.development
    assert settings.access_token_ttl_seconds == 600


def test_default_is_production_with_sqlite_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OFFICE_ENV", "OFFICE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.env is Environment.production
    assert settings.database_url == "sqlite+aiosqlite:///./var/office.db"


def test_demo_secret_is_generated_once_with_mode_0600(tmp_path) -> None:
    first = ensure_dev_secret(Settings(env=Environment.development, data_dir=tmp_path))
    path = tmp_path / "jwt_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.jwt_secret) >= 48
    second = ensure_dev_secret(Settings(env=Environment.development, data_dir=tmp_path))
    assert second.jwt_secret == first.jwt_secret
    first.check_secret()


def test_an_explicit_secret_is_kept(tmp_path) -> None:
    settings = ensure_dev_secret(Settings(jwt_secret="x" * 40, data_dir=tmp_path))
    assert settings.jwt_secret == "x" * 40
    assert not (tmp_path / "jwt_secret").exists()

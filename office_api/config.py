"""Settings: one class, read from environment variables prefixed ``OFFICE_``.

Production (the default ``OFFICE_ENV``) refuses to start with a missing, placeholder or
short JWT secret; ``development`` (what ``office-api demo`` uses) generates one and stores it
with 0600 permissions under the data directory.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Secrets shorter than this (in characters) are refused outside development.
MIN_SECRET_LENGTH = 32
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
#: URL schemes of a Redis broker (``OFFICE_BROKER_URL``); empty means the in-process broker.
BROKER_SCHEMES = ("redis", "rediss", "unix")
_PLACEHOLDER_SECRETS = {"", "secret", "changeme", "change-me", "dev", "development", "test"}


class Environment(StrEnum):
    production = "production"
    development = "development"


class ConfigurationError(RuntimeError):
    """Raised at start-up when the settings cannot run the platform safely."""


class Settings(BaseSettings):
    """All runtime settings. Every field maps to ``OFFICE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="OFFICE_", extra="ignore")

    env: Environment = Environment.production
    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/office.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    # Wake-up signals for notification subscribers (messaging/broker.py, messaging/hub.py).
    broker_url: str = Field(
        default="",
        description="empty = in-process (one server process); redis://host:port/db, rediss://… (TLS) or "
        "unix:///path/redis.sock = Redis pub/sub between several server processes",
    )
    broker_channel: str = Field(
        default="office:notifications",
        min_length=1,
        max_length=200,
        description="the Redis pub/sub channel of the wake-up signals; every process of one platform uses the same",
    )
    notify_sweep_seconds: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="how often a server process re-reads the counters of the users it has subscribers for, "
        "waking those with notifications they have not seen: the longest delivery delay when a wake-up is lost",
    )
    jwt_secret: str = ""
    jwt_issuer: str = "office-api"
    jwt_audience: str = "office-api"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    demo_password: str = "Demo@2026"
    data_dir: Path = Path("./var")
    timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="browser origins (scheme://host[:port]) allowed to open the websocket besides the server's own; "
        "a handshake without Origin (native apps) is allowed",
    )
    # Websocket connection life (office_api/ws.py).
    ws_recheck_seconds: float = Field(
        default=15.0,
        gt=0,
        le=30,
        description="how often every open websocket's token is re-checked against the database, in seconds (≤ 30)",
    )
    ws_ping_seconds: float = Field(
        default=20.0, gt=0, le=600, description="interval between the server's graphql-transport-ws pings, in seconds"
    )
    ws_pong_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="seconds after a ping within which something (a pong or any message) must arrive; else 4499",
    )
    ws_init_timeout_seconds: float = Field(
        default=10.0, gt=0, le=600, description="seconds a new websocket has to send connection_init; else 4408"
    )
    ws_max_connections_per_user: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="open websockets per user in one server process; a new one over the cap closes the oldest (4429)",
    )
    ws_legacy_protocol: bool = Field(
        default=False, description="also speak the legacy graphql-ws (subscriptions-transport-ws) protocol"
    )
    sqlite_busy_timeout_ms: int = 30_000
    max_request_bytes: int = Field(
        default=8 * 1024 * 1024, ge=64 * 1024, description="largest accepted POST body; larger ones get 413"
    )
    leader_mobile_visible_to: list[str] = Field(
        default_factory=lambda: ["system_admin"],
        description="Roles (role_assignments.role) whose holders see the mobile number of leaders in the directory",
    )
    # Password policy (default: the level-3 profile of GB/T 22239-2019).
    password_min_length: int = Field(default=8, ge=1, le=256)
    password_min_classes: int = Field(
        default=3, ge=1, le=4, description="character classes required: lowercase, uppercase, digit, symbol"
    )
    # Login lockout: this many consecutive failures for a username lock it for this long.
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)
    # Integration clients (OAuth 2.0 client credentials, POST /oauth/token).
    client_token_ttl_seconds: int = Field(
        default=600, ge=60, le=3600, description="lifetime of a client access token, in seconds"
    )
    client_max_failures: int = Field(
        default=10, ge=1, description="consecutive bad secrets for one client_id before it is locked"
    )
    client_lockout_seconds: int = Field(default=15 * 60, ge=1, description="how long a client_id stays locked")
    # Sign-in through the province's identity provider (OpenID Connect); off while the issuer is empty.
    oidc_issuer: str = Field(default="", description="Issuer URL of the OpenID provider; empty = OIDC sign-in off")
    oidc_client_id: str = Field(default="", description="This platform's client id at the provider")
    oidc_client_secret: str = Field(default="", description="Client secret (client_secret_basic); empty = public")
    oidc_redirect_uri: str = Field(
        default="", description="This server's callback URL as registered at the provider: https://…/auth/oidc/callback"
    )
    oidc_app_return_uris: list[str] = Field(
        default_factory=list, description="Exact app URIs that /auth/oidc/login may send the user back to"
    )
    oidc_display_name: str = Field(
        default="统一身份认证", description="Name of the provider shown on the sign-in button"
    )
    oidc_scope: str = Field(default="openid", description="Scopes requested (space-separated; must include openid)")
    oidc_login_ttl_seconds: int = Field(default=600, ge=60, le=3600, description="Lifetime of a pending sign-in")
    oidc_login_code_ttl_seconds: int = Field(default=60, ge=10, le=600, description="Lifetime of an app login code")
    # Idempotency keys on mutations (office_api/idempotency.py).
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600,
        ge=24 * 3600,
        description="How long the first result of an idempotency key is kept (at least 24 hours, DESIGN.md §3)",
    )
    # Two-factor sign-in (TOTP, office_api/totp.py).
    totp_issuer: str = Field(
        default="office-api",
        min_length=1,
        max_length=64,
        pattern=r"^[^:]+$",
        description="issuer name that authenticator apps show next to the account (otpauth:// URI); no colon",
    )
    totp_secret_key: str = Field(
        default="",
        description="key material (32+ characters) that encrypts TOTP secrets at rest; empty: OFFICE_JWT_SECRET",
    )
    # Attachments (documents/attachments.py): files under attachment_dir (default <data_dir>/attachments).
    attachment_dir: Path | None = Field(default=None, description="root of stored attachment files")
    attachment_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="largest attachment, in bytes; larger ones are TOO_LARGE"
    )
    attachment_max_per_document: int = Field(default=20, ge=1, le=50, description="attachments per document")
    attachment_types: list[str] = Field(
        default_factory=lambda: ["pdf", "docx", "txt", "png", "jpg", "jpeg"],
        description="accepted file name extensions (the content must match: documents/file_scan.py)",
    )

    # Read receipts (messaging/receipts.py): delivered timestamps of websocket deliveries.
    receipt_flush_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="how often a server process writes the delivered time of notifications its "
        "websockets sent (one UPDATE per flush), in seconds",
    )

    # Scheduled jobs (office_api/scheduler.py): reminders and other timed work, run inside the server.
    scheduler_enabled: bool = Field(
        default=True,
        description="run due scheduled jobs in this server process (every process may; each job runs once)",
    )
    scheduler_poll_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="how often the scheduler looks for due jobs, in seconds"
    )
    scheduler_max_attempts: int = Field(
        default=5, ge=1, le=100, description="failed runs of a job before it is marked failed and left alone"
    )
    scheduler_keep_days: int = Field(
        default=30, ge=1, le=3650, description="days a done or cancelled job is kept before it is deleted"
    )
    scheduler_retry_seconds: int = Field(
        default=60,
        ge=1,
        le=86400,
        description="delay before the 2nd run of a failing job; doubles each time (max 1 day)",
    )

    # Mobile push, quiet hours and escalation (messaging/push.py, office_api/mobile_push.py).
    push_provider: str = Field(
        default="logging",
        min_length=1,
        description="mobile push provider: logging (development: one log line per push) or package.module:Class",
    )
    sms_provider: str = Field(
        default="logging",
        min_length=1,
        description="SMS provider: logging (development: one log line per message) or package.module:Class",
    )
    push_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="longest wait for one provider call; a timeout counts as retry_later"
    )
    push_max_attempts: int = Field(
        default=5, ge=1, le=20, description="tries of one push to one device (or one SMS) before it is dropped"
    )
    escalate_push_after_seconds: int = Field(
        default=300,
        ge=10,
        le=86400,
        description="an urgent (加急) or extra-urgent (特急) notification not acknowledged after this many seconds "
        "gets a reminder push, when no device has received it yet",
    )
    escalate_sms_after_seconds: int = Field(
        default=1800,
        ge=10,
        le=7 * 86400,
        description="…and an SMS to the person's mobile after this many seconds; more than the push delay",
    )
    # Webhooks for departmental systems (office_api/webhooks/): signed POSTs of a client's subtree events.
    webhook_allow_private: bool = Field(
        default=False,
        description="allow plain http and loopback/private/link-local webhook targets (development and tests "
        "only); otherwise webhooks must be https URLs of public addresses, checked at registration and each send",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="time limit of one webhook POST (connect + answer), in seconds"
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=50, description="POSTs of a delivery before it becomes a dead letter"
    )
    webhook_retry_seconds: int = Field(
        default=60, ge=1, le=86400, description="delay after the 1st failed POST; doubles each time (max 1 day)"
    )
    webhook_retry_jitter: float = Field(
        default=0.2, ge=0, le=1, description="random extra share added to each retry delay (0.2: up to +20 %)"
    )
    webhook_retry_after_max_seconds: int = Field(
        default=3600, ge=0, le=86400, description="longest Retry-After (429, 503) the sender honours, in seconds"
    )
    webhook_poll_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="how often the webhook sender looks for due deliveries, in seconds"
    )

    # Extensions approved by the General Office (office_api/reminders.py, policies with extension_approver
    # general_office, e.g. the provincial complaint line's further extensions).
    general_office_unit: str = Field(
        default="370000-general_office",
        description="code of the unit whose head and deputy heads decide general_office extension requests",
    )

    # Links this server hands out (calendar feed URLs, iCalendar UIDs: meetings/ical.py).
    public_base_url: str = Field(
        default="",
        pattern=r"^(https?://[^/?#\s]+(/[^?#\s]*)?)?$",
        description="scheme, host and path prefix at which clients reach this server, e.g. "
        "https://oa.example.gov.cn; empty = the scheme and host of the request. Set it behind a reverse proxy: "
        "calendar feed URLs are built from it and its host names iCalendar UIDs (meeting-<id>@<host>)",
    )

    # Working hours for finding a meeting time (meetings/availability.py), Asia/Shanghai local times.
    # Default: the common schedule of provincial government offices, 09:00–12:00 and 13:30–17:30
    # (PRACTICE: offices that keep a summer and a winter schedule change these twice a year).
    meeting_day_start: dt.time = Field(
        default=dt.time(9, 0), description="start of the working day (HH:MM) for suggested meeting times"
    )
    meeting_lunch_start: dt.time = Field(default=dt.time(12, 0), description="start of the lunch break (HH:MM)")
    meeting_lunch_end: dt.time = Field(
        default=dt.time(13, 30), description="end of the lunch break (HH:MM); equal to the start = no break"
    )
    meeting_day_end: dt.time = Field(
        default=dt.time(17, 30), description="end of the working day (HH:MM) for suggested meeting times"
    )

    @model_validator(mode="after")
    def _working_hours_in_order(self) -> Settings:
        """Refuse working hours out of order: day start < lunch start <= lunch end < day end."""
        if not self.meeting_day_start < self.meeting_lunch_start <= self.meeting_lunch_end < self.meeting_day_end:
            raise ValueError(
                "OFFICE_MEETING_DAY_START < OFFICE_MEETING_LUNCH_START <= OFFICE_MEETING_LUNCH_END "
                "< OFFICE_MEETING_DAY_END is required (HH:MM, Asia/Shanghai)"
            )
        return self

    @model_validator(mode="after")
    def _escalation_in_order(self) -> Settings:
        """Refuse an SMS escalation that would not come after the push escalation."""
        if self.escalate_sms_after_seconds <= self.escalate_push_after_seconds:
            raise ValueError("OFFICE_ESCALATE_SMS_AFTER_SECONDS must be more than OFFICE_ESCALATE_PUSH_AFTER_SECONDS")
        return self

    @property
    def attachment_root(self) -> Path:
        """Where attachment files are stored."""
        return self.attachment_dir or self.data_dir / "attachments"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def oidc_enabled(self) -> bool:
        """True when sign-in through the identity provider is configured (``OFFICE_OIDC_ISSUER`` set)."""
        return bool(self.oidc_issuer.strip())

    def check_oidc(self) -> None:
        """Refuse an incomplete OpenID Connect configuration when the issuer is set.

        The client id, the redirect URI and at least one app return URI are required, and the
        issuer and redirect URI use https except on a loopback host (RFC 8252 §7.3, §8.3).
        Raises :class:`ConfigurationError` naming the variable.
        """
        if not self.oidc_enabled:
            return
        for name in ("oidc_client_id", "oidc_redirect_uri"):
            if not getattr(self, name).strip():
                raise ConfigurationError(f"OFFICE_{name.upper()} must be set when OFFICE_OIDC_ISSUER is set")
        if not self.oidc_app_return_uris:
            raise ConfigurationError("OFFICE_OIDC_APP_RETURN_URIS must list at least one app URI")
        if "openid" not in self.oidc_scope.split():
            raise ConfigurationError("OFFICE_OIDC_SCOPE must include openid")
        for name in ("oidc_issuer", "oidc_redirect_uri"):
            url = urlsplit(getattr(self, name))
            if url.scheme != "https" and not (url.scheme == "http" and url.hostname in _LOOPBACK):
                raise ConfigurationError(f"OFFICE_{name.upper()} must be an https URL (http only on a loopback host)")

    def check_broker(self) -> None:
        """Refuse a broker URL that is neither empty (in-process) nor Redis.

        Accepted schemes: ``redis://``, ``rediss://`` (TLS), ``unix://`` (a Redis socket).
        Raises :class:`ConfigurationError` naming ``OFFICE_BROKER_URL``.
        """
        url = self.broker_url.strip()
        if url and urlsplit(url).scheme not in BROKER_SCHEMES:
            raise ConfigurationError(
                "OFFICE_BROKER_URL must be empty (in-process broker) or a Redis URL: "
                "redis://host:port/db, rediss://host:port/db or unix:///path/to/redis.sock"
            )

    def check_secret(self) -> None:
        """Refuse a missing or weak JWT secret (or a short TOTP key) outside development.

        Raises :class:`ConfigurationError` naming ``OFFICE_JWT_SECRET`` (or
        ``OFFICE_TOTP_SECRET_KEY``) and the rule.
        """
        secret = self.jwt_secret
        if secret.strip().lower() in _PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            if self.env is Environment.development and secret:
                return
            raise ConfigurationError(
                "OFFICE_JWT_SECRET must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters (OFFICE_ENV={self.env.value}); "
                "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        key = self.totp_secret_key
        if key and len(key) < MIN_SECRET_LENGTH and self.env is not Environment.development:
            raise ConfigurationError(
                f"OFFICE_TOTP_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters when set "
                f"(OFFICE_ENV={self.env.value}); leave it empty to derive the key from OFFICE_JWT_SECRET"
            )


def ensure_dev_secret(settings: Settings) -> Settings:
    """Return settings with a JWT secret, generating and storing one if none is set.

    The secret is written once to ``<data_dir>/jwt_secret`` with mode 0600 and reused on
    every later start, so tokens survive restarts of the demo.
    """
    if settings.jwt_secret:
        return settings
    path = settings.data_dir / "jwt_secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    os.chmod(path, 0o600)
    return settings.model_copy(update={"jwt_secret": path.read_text().strip()})


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

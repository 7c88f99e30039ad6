"""Organization tree models: units (materialized path), users, positions, roles, tokens."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, event, false, text
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UTCDateTime, utcnow
from office_api.org.pinyin import search_keys


class UnitKind(StrEnum):
    """Kinds of organization unit."""

    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"
    TOWNSHIP = "township"
    DEPARTMENT = "department"
    OFFICE = "office"


UNIT_KINDS = frozenset(k.value for k in UnitKind)


class Role(StrEnum):
    """Administrator roles. ``unit_admin`` is limited to the subtree of its unit."""

    SYSTEM_ADMIN = "system_admin"
    UNIT_ADMIN = "unit_admin"
    SECURITY_ADMIN = "security_admin"
    AUDIT_ADMIN = "audit_admin"


#: The three separated administrator roles (三员分立): one account holds at most one of them.
SEPARATED_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})


class OrgUnit(Base):
    """A node of the organization tree.

    ``path`` is the materialized path of ids, ``/1/5/9/`` for unit 9 under 5 under 1, so a
    subtree is ``path LIKE '/1/5/%'`` on an indexed column. ``code`` never changes.
    A division unit (with ``division_code``, GB/T 2260) stands for that level's people's
    government.
    """

    __tablename__ = "org_units"
    # Subtree queries are ``path LIKE '/1/5/%'``: PostgreSQL uses a btree index for a prefix
    # LIKE only with a pattern operator class (or the C collation); SQLite gets range bounds.
    __table_args__ = (Index("ix_org_units_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str | None] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    division_code: Mapped[str | None] = mapped_column(String(6), unique=True)
    doc_number_root: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to the parent (excluding this unit)."""
        return [int(p) for p in self.path.strip("/").split("/")[:-1] if p]


class User(Base):
    """A person who signs in. Passwords are stored as argon2 hashes only."""

    __tablename__ = "users"
    # Directory search (office_api/org/directory.py): prefix matches on these columns. The
    # pattern operator class lets PostgreSQL use them for ``LIKE 'q%'`` in any collation.
    __table_args__ = (
        Index("ix_users_display_name", "display_name", postgresql_ops={"display_name": "varchar_pattern_ops"}),
        Index("ix_users_name_pinyin", "name_pinyin", postgresql_ops={"name_pinyin": "varchar_pattern_ops"}),
        Index("ix_users_name_initials", "name_initials", postgresql_ops={"name_initials": "varchar_pattern_ops"}),
        Index("ix_users_mobile", "mobile", postgresql_ops={"mobile": "varchar_pattern_ops"}),
        Index("ix_users_office_phone", "office_phone", postgresql_ops={"office_phone": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: Set by an admin-chosen password (new account, reset): every operation but
    #: changePassword/logout is refused until the user picks their own.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Access tokens carry this number (claim ``tv``); bumping it revokes them all at once
    #: (disable, password change or reset).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Directory (通讯录): contact details and the pinyin search keys of ``display_name``
    # (full pinyin "zhangwei", initials "zw"; lowercase ASCII), kept in sync by the ORM
    # events below whenever the name is set.
    mobile: Mapped[str | None] = mapped_column(String(11))
    office_phone: Mapped[str | None] = mapped_column(String(24))
    email: Mapped[str | None] = mapped_column(String(254))
    name_pinyin: Mapped[str] = mapped_column(String(400), default="", server_default="")
    name_initials: Mapped[str] = mapped_column(String(64), default="", server_default="")


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _sync_pinyin(mapper: object, connection: object, user: User) -> None:
    """Recompute the pinyin keys from ``display_name`` on every ORM insert and update."""
    user.name_pinyin, user.name_initials = search_keys(user.display_name or "")


class ContactLookup(Base):
    """One viewer looked up one person's contact details (mobile, office phone, email).

    Written once per (viewer, subject) per request, all rows of a request in one
    transaction, after the response is computed (schema/directory.py).
    """

    __tablename__ = "contact_lookups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    viewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    fields: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Position(Base):
    """A user's post in a unit (职务); a user may hold several (兼职), exactly one primary."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("user_id", "unit_id", "title"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    title: Mapped[str] = mapped_column(String(64))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoleAssignment(Base):
    """An administrator role held by a user; ``unit_id`` scopes a ``unit_admin``."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RefreshToken(Base):
    """A refresh token (stored as a SHA-256 hash) in a rotation family.

    Using a token marks it used and issues its successor in the same family; presenting a
    used token again revokes the whole family (reuse detection).
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(36))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Duty(StrEnum):
    """Duties a position can carry, used by routing."""

    HEAD = "head"  # 主要负责人: at most one per unit
    DEPUTY_HEAD = "deputy_head"  # 副职
    CLERK = "clerk"  # 文书: receives documents for the unit


class PositionDuty(Base):
    """A duty carried by a position. ``unit_id`` repeats the position's unit so that the
    partial unique index can guarantee at most one head per unit, even under races."""

    __tablename__ = "position_duties"
    __table_args__ = (
        UniqueConstraint("position_id", "duty"),
        Index("ix_position_duties_unit_duty", "unit_id", "duty"),
        Index(
            "uq_position_duties_one_head",
            "unit_id",
            unique=True,
            sqlite_where=text("duty = 'head'"),
            postgresql_where=text("duty = 'head'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    duty: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delegation(Base):
    """委托: ``delegator_id``'s new tasks go to ``delegate_id`` from ``start_date`` to
    ``end_date`` (Asia/Shanghai dates, inclusive), for ``doc_types`` only when not null."""

    __tablename__ = "delegations"
    __table_args__ = (Index("ix_delegations_delegator_end", "delegator_id", "end_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delegator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    doc_types: Mapped[list[str] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RevokedToken(Base):
    """An access token revoked before its expiry (logout), by ``jti``; kept until it expires."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class LoginThrottle(Base):
    """Consecutive failed sign-ins per username (existing or not) and the lockout they caused.

    Kept in the database so that a restart does not reset a lockout.
    """

    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class UserTotp(Base):
    """A user's TOTP second factor (office_api/totp.py): secrets are Fernet tokens, never plain.

    ``secret`` is the active secret (two-factor sign-in is on exactly when it is set);
    ``pending_secret`` one handed out by an enrollment not yet confirmed. ``last_used_step``
    is the 30-second time step of the last accepted code: no code of that step or an
    earlier one is accepted again (replay protection, RFC 6238 §5.2).
    """

    __tablename__ = "user_totp"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    secret: Mapped[str | None] = mapped_column(String(255))
    pending_secret: Mapped[str | None] = mapped_column(String(255))
    pending_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_step: Mapped[int | None] = mapped_column(Integer)


class AuditEntry(Base):
    """One row of the audit log: written in the transaction of the change it records, never
    updated or deleted by the platform."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_action_created", "action", "created_at"),
        Index("ix_audit_log_target", "target_type", "target_id"),  # auditLog(filter: {targetId})
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: The integration client (``api_clients.id``) whose request wrote the row, if any.
    actor_client_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class UserIdentity(Base):
    """A subject of an OpenID provider linked by an administrator to a platform user.

    ``(issuer, subject)`` is unique (one subject signs in as one user), and so is
    ``(user_id, issuer)`` (one account at the provider per user). OpenID Connect Core 1.0 §2:
    ``sub`` is unique only within its issuer, so both are kept.
    """

    __tablename__ = "user_identities"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_user_identities_issuer_subject"),
        UniqueConstraint("user_id", "issuer", name="uq_user_identities_user_id_issuer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(Integer)


class OidcLoginState(Base):
    """A sign-in started at ``/auth/oidc/login`` and not finished yet (single use, expires).

    Keyed by the SHA-256 of ``state``; holds the ``nonce`` and the PKCE ``code_verifier``
    (RFC 7636) sent with the authorization request, the app URI to return to and the app's
    own optional S256 code challenge (RFC 8252 §8.1).
    """

    __tablename__ = "oidc_login_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    return_to: Mapped[str] = mapped_column(String(512))
    app_code_challenge: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class OidcLoginCode(Base):
    """A short-lived single-use code handed to the app after a successful provider sign-in,
    exchanged once for a token pair (stored as a SHA-256 hash)."""

    __tablename__ = "oidc_login_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    identity_id: Mapped[int | None] = mapped_column(Integer)
    app_code_challenge: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

"""The audit log (Cybersecurity Law Art. 21; level-3 security audit).

:func:`record` adds a row in the caller's transaction, so an audit row exists exactly when
the change it describes was committed. Rows are only ever inserted: no service updates or
deletes them, and no GraphQL mutation touches them. Only the audit admin reads them
(:func:`search`).

The client address of the current request is taken from a context variable that the
GraphQL context sets per request (:func:`set_client_address`); so is the integration client
(``api_clients.id``) whose access token authenticated the request (:func:`set_actor_client`),
so that everything a departmental system does is audited under its name.
"""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from office_api.db import utcnow
from office_api.org.models import AuditEntry

_client_address: ContextVar[str | None] = ContextVar("office_client_address", default=None)
_actor_client: ContextVar[int | None] = ContextVar("office_actor_client", default=None)


class Action:
    """Audit action names (stable strings: filters and reports use them)."""

    ORG_UNIT_CREATE = "org_unit.create"
    ORG_UNIT_UPDATE = "org_unit.update"
    ORG_UNIT_MOVE = "org_unit.move"
    USER_CREATE = "user.create"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_RESET_PASSWORD = "user.reset_password"
    USER_UPDATE = "user.update"
    ORG_IMPORT = "org.import"
    ORG_EXPORT = "org.export"
    POSITION_ASSIGN = "position.assign"
    POSITION_DUTIES = "position.duties"
    DELEGATION_CREATE = "delegation.create"
    DELEGATION_CANCEL = "delegation.cancel"
    TASK_HANDOVER = "task.handover"
    DOCUMENT_REROUTE = "document.reroute"
    ROLE_GRANT = "role.grant"
    ROLE_REVOKE = "role.revoke"
    LOGIN_SUCCESS = "login.success"
    LOGIN_FAILURE = "login.failure"
    LOGIN_LOCKOUT = "login.lockout"
    LOGOUT = "logout"
    PASSWORD_CHANGE = "password.change"
    API_CLIENT_REGISTER = "api_client.register"
    API_CLIENT_ROTATE = "api_client.rotate_secret"
    API_CLIENT_REVOKE = "api_client.revoke"
    API_CLIENT_TOKEN = "api_client.token"
    API_CLIENT_TOKEN_FAILURE = "api_client.token_failure"
    API_CLIENT_LOCKOUT = "api_client.lockout"
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_UPDATE = "webhook.update"
    WEBHOOK_ROTATE = "webhook.rotate_secret"
    WEBHOOK_DELETE = "webhook.delete"
    WEBHOOK_REPLAY = "webhook.replay"
    IDENTITY_LINK = "identity.link"
    IDENTITY_UNLINK = "identity.unlink"
    TOTP_ENROLL = "totp.enroll"
    TOTP_DISABLE = "totp.disable"
    TOTP_RESET = "totp.reset"
    CALENDAR_LOAD = "calendar.load"
    SLA_POLICY_CREATE = "sla_policy.create"
    SLA_POLICY_UPDATE = "sla_policy.update"
    SLA_POLICY_BIND = "sla_policy.bind"
    SLA_POLICY_UNBIND = "sla_policy.unbind"
    ROOM_CREATE = "room.create"
    ROOM_UPDATE = "room.update"
    ROOM_RETIRE = "room.retire"


def set_client_address(address: str | None) -> None:
    """Remember the client address of the request being served (per task)."""
    _client_address.set(address[:64] if address else None)


def client_address() -> str | None:
    return _client_address.get()


def set_actor_client(client_pk: int | None) -> None:
    """Remember the integration client (``api_clients.id``) the request acts for (per task)."""
    _actor_client.set(client_pk)


def actor_client() -> int | None:
    return _actor_client.get()


def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
    actor_client_id: int | None = None,
) -> AuditEntry:
    """Add one audit row to ``session``'s transaction (flushed with the change).

    ``actor_client_id`` defaults to the integration client of the current request.
    """
    entry = AuditEntry(
        actor_id=actor_id,
        actor_client_id=actor_client_id if actor_client_id is not None else actor_client(),
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:64],
        before=before,
        after=after,
        client_address=client_address(),
        created_at=now or utcnow(),
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    actor_client_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


async def search(session: AsyncSession, flt: AuditFilter, before_id: int | None, limit: int) -> list[AuditEntry]:
    """Audit rows matching ``flt``, newest first, ``limit`` rows with id below ``before_id``.

    ``since`` is inclusive, ``until`` exclusive.
    """
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if flt.actor_id is not None:
        q = q.where(AuditEntry.actor_id == flt.actor_id)
    if flt.actor_client_id is not None:
        q = q.where(AuditEntry.actor_client_id == flt.actor_client_id)
    if flt.action:
        q = q.where(AuditEntry.action == flt.action)
    if flt.target_type:
        q = q.where(AuditEntry.target_type == flt.target_type)
    if flt.target_id:
        q = q.where(AuditEntry.target_id == flt.target_id)
    if flt.since is not None:
        q = q.where(AuditEntry.created_at >= flt.since)
    if flt.until is not None:
        q = q.where(AuditEntry.created_at < flt.until)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    return list((await session.execute(q)).scalars())

"""A person's phones (push tokens), their quiet hours, and the queue of pushes to send.

Devices
    One row per push token (unique per push service): the user it belongs to now, the
    refresh-token family (session) that registered it, a name and app version. Registering a
    token that exists moves it to the caller and the caller's session (a shared or handed-on
    phone); the same user registering it again refreshes it (idempotent). A user keeps at most
    :data:`MAX_DEVICES` tokens: registering one more drops the least recently seen of the
    others (never the one just registered). A user's registrations take turns (a lock on the
    user's row; SQLite serializes writers anyway) and take their time once their turn has
    come, so "last seen" follows the order in which they commit.
    :mod:`office_api.auth` deletes a session's devices when that session ends (logout,
    refresh-token reuse) and all of a user's devices when every token of the user is revoked
    (password change or reset, disabling, two-factor changes): a signed-out phone gets no push.

Quiet hours
    Per user, a local time window (the settings' time zone, Asia/Shanghai) that may cross
    midnight, ``start`` inclusive, ``end`` exclusive. :func:`quiet_until` says whether an
    instant falls in it and when it ends.

Push queue
    :class:`PushOutbox` rows are pushes waiting to go: written in the notifying transaction
    (or by an escalation job) and taken by the ``push.flush`` job (:mod:`office_api.mobile_push`).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from messaging.push import PushPlatform
from office_api.db import Base, UnitOfWork, UTCDateTime, utcnow
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.models import User

#: Longest accepted push token (APNs: 64 hex characters; FCM: about 160; HMS and MiPush: under 200).
TOKEN_MAX = 512
NAME_MAX, APP_VERSION_MAX = 100, 40
#: Tokens one user keeps; registering another drops the least recently seen.
MAX_DEVICES = 10
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class Device(Base):
    """A push token of one of a user's phones (or tablets)."""

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("platform", "token"),
        Index("ix_devices_user", "user_id"),
        Index("ix_devices_session_family", "session_family"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: :class:`messaging.push.PushPlatform` value: APNS, FCM, HUAWEI, XIAOMI.
    platform: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(TOKEN_MAX))
    name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    app_version: Mapped[str | None] = mapped_column(String(APP_VERSION_MAX))
    #: The refresh-token family (``AccessClaims.family``) of the session that registered it;
    #: null for a token without one. Ending that session deletes the device.
    session_family: Mapped[str | None] = mapped_column(String(36))
    #: When the current user registered it (a token moving to another user starts again).
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The last registration (apps register at every start).
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuietHours(Base):
    """A user's quiet hours: minutes after local midnight, ``start`` ≠ ``end``; when
    ``start`` > ``end`` the window crosses midnight (22:00–07:00)."""

    __tablename__ = "quiet_hours"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushOutbox(Base):
    """One push waiting to go: a notification to its user's devices (``device_id`` null) or to
    one device (a retry), due at ``due_at``; ``alert`` for an escalation reminder."""

    __tablename__ = "push_outbox"
    __table_args__ = (Index("ix_push_outbox_due", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    alert: Mapped[bool] = mapped_column(Boolean, default=False)


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


# ---- devices -------------------------------------------------------------------------


async def register_device(
    uow: UnitOfWork,
    user_id: int,
    session_family: str | None,
    platform: str,
    token: str,
    name: str | None = None,
    app_version: str | None = None,
) -> Device:
    """Register (or refresh, or take over) the push token ``token`` of ``platform`` for
    ``user_id`` and the session ``session_family``; returns the device row.

    One statement (INSERT … ON CONFLICT (platform, token) DO UPDATE), so concurrent
    registrations of one token leave one row, owned by the last to commit. A token moving to
    another user loses its queued retries. The user's registrations are serialized (``FOR NO
    KEY UPDATE`` on the user's row on PostgreSQL, the write lock on SQLite) and the device's
    times are read from ``uow``'s clock after that lock (:meth:`UnitOfWork.read_clock`); then
    the user's other devices beyond :data:`MAX_DEVICES` - 1, least recently seen first, are
    deleted, so the device returned is always kept. Errors (all at once): ``INVALID_VALUE`` (platform:
    not APNS, FCM, HUAWEI, XIAOMI; token: not printable ASCII without spaces), ``REQUIRED``
    (token empty), ``TOO_LONG`` (token > 512, name > 100, appVersion > 40 characters).
    """
    token = token.strip()
    name = (name or "").strip() or None
    app_version = (app_version or "").strip() or None
    errors = ErrorCollector()
    if platform not in PushPlatform.__members__:
        errors.add(ErrorCode.INVALID_VALUE, "platform", detail="APNS, FCM, HUAWEI or XIAOMI")
    if not token:
        errors.add(ErrorCode.REQUIRED, "token")
    elif len(token) > TOKEN_MAX:
        errors.add(ErrorCode.TOO_LONG, "token", limit=TOKEN_MAX)
    elif not _TOKEN.match(token):
        errors.add(ErrorCode.INVALID_VALUE, "token", detail="printable ASCII without spaces")
    if name is not None and len(name) > NAME_MAX:
        errors.add(ErrorCode.TOO_LONG, "name", limit=NAME_MAX)
    if app_version is not None and len(app_version) > APP_VERSION_MAX:
        errors.add(ErrorCode.TOO_LONG, "appVersion", limit=APP_VERSION_MAX)
    errors.raise_if_any()
    s = uow.session
    # The user's registrations take turns: otherwise, on PostgreSQL, two of them each see
    # the other's row as uncommitted and both trim to MAX_DEVICES, leaving more. On SQLite
    # this first statement waits for the write lock (BEGIN IMMEDIATE); FOR UPDATE is not
    # rendered there. NO KEY UPDATE leaves foreign-key checks on users (other inserts) free.
    await s.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))
    # Read the time now that our turn has come, not when the request started: a request
    # that waited would otherwise be older than devices committed meanwhile.
    now = uow.read_clock()
    ins = _insert(s)(Device).values(
        user_id=user_id,
        platform=platform,
        token=token,
        name=name,
        app_version=app_version,
        session_family=session_family,
        created_at=now,
        last_seen_at=now,
    )
    stmt = ins.on_conflict_do_update(
        index_elements=["platform", "token"],
        set_={
            # every right-hand side reads the row as it was before this update
            "created_at": case(
                (Device.user_id == ins.excluded.user_id, Device.created_at), else_=ins.excluded.created_at
            ),
            "user_id": ins.excluded.user_id,
            "session_family": ins.excluded.session_family,
            "name": ins.excluded.name,
            "app_version": ins.excluded.app_version,
            "last_seen_at": ins.excluded.last_seen_at,
        },
    ).returning(Device.id)
    device_id = (await s.execute(stmt)).scalar_one()
    # retries queued for the token's previous owner must not reach the new one
    await s.execute(delete(PushOutbox).where(PushOutbox.device_id == device_id, PushOutbox.user_id != user_id))
    # Keep the device just registered and the MAX_DEVICES - 1 most recently seen others.
    stale = (
        await s.execute(
            select(Device.id)
            .where(Device.user_id == user_id, Device.id != device_id)
            .order_by(Device.last_seen_at.desc(), Device.id.desc())
            .offset(MAX_DEVICES - 1)
        )
    ).scalars()
    stale_ids = list(stale)
    if stale_ids:
        # user_id again: a token another user took over meanwhile (their lock, not ours) is theirs
        await s.execute(delete(Device).where(Device.id.in_(stale_ids), Device.user_id == user_id))
    return (
        await s.execute(select(Device).where(Device.id == device_id).execution_options(populate_existing=True))
    ).scalar_one()


async def unregister_device(uow: UnitOfWork, user_id: int, device_id: int) -> None:
    """Delete the caller's device ``device_id``; ``NOT_FOUND`` (field ``id``) when it is not
    one of the caller's."""
    result = await uow.session.execute(delete(Device).where(Device.id == device_id, Device.user_id == user_id))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise DomainError(ErrorCode.NOT_FOUND, "id")


async def devices_of(session: AsyncSession, user_id: int) -> list[Device]:
    """``user_id``'s devices, most recently seen first (at most :data:`MAX_DEVICES`)."""
    q = select(Device).where(Device.user_id == user_id).order_by(Device.last_seen_at.desc(), Device.id.desc())
    return list((await session.execute(q)).scalars())


async def remove_session_devices(session: AsyncSession, families: list[str]) -> None:
    """Delete the devices registered by the sessions (refresh-token families) ``families``."""
    if families:
        await session.execute(delete(Device).where(Device.session_family.in_(families)))


async def remove_user_devices(session: AsyncSession, user_id: int) -> None:
    """Delete every device of ``user_id`` (all of the user's sessions ended)."""
    await session.execute(delete(Device).where(Device.user_id == user_id))


# ---- quiet hours ---------------------------------------------------------------------


def parse_hhmm(value: str, field: str) -> int:
    """Minutes after midnight of ``HH:MM`` (00:00–23:59); ``INVALID_VALUE`` naming ``field``."""
    m = _HHMM.match(value.strip())
    if m is None:
        raise DomainError(ErrorCode.INVALID_VALUE, field, detail="HH:MM, 00:00–23:59")
    return int(m.group(1)) * 60 + int(m.group(2))


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def quiet_until(now: dt.datetime, start_minute: int, end_minute: int, tz: ZoneInfo) -> dt.datetime | None:
    """When ``now`` (aware) falls in the local window [start, end) — which crosses midnight
    when start > end — the UTC instant the window ends; otherwise None."""
    local = now.astimezone(tz)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=tz)
    t = (local.replace(tzinfo=None) - midnight.replace(tzinfo=None)).total_seconds() / 60
    if start_minute < end_minute:
        inside, day = start_minute <= t < end_minute, local.date()
    else:
        inside = t >= start_minute or t < end_minute
        day = local.date() + dt.timedelta(days=1) if t >= start_minute else local.date()
    if not inside:
        return None
    end = dt.datetime.combine(day, dt.time(end_minute // 60, end_minute % 60), tzinfo=tz)
    return end.astimezone(dt.UTC)


async def set_quiet_hours(uow: UnitOfWork, user_id: int, start: str, end: str) -> QuietHours:
    """Set ``user_id``'s quiet hours to ``start``–``end`` (``HH:MM`` local). Errors:
    ``INVALID_VALUE`` on ``start`` / ``end`` (not HH:MM), on ``end`` when equal to ``start``."""
    errors = ErrorCollector()
    minutes: dict[str, int] = {}
    for field, value in (("start", start), ("end", end)):
        try:
            minutes[field] = parse_hhmm(value, field)
        except DomainError as exc:
            errors.errors.append(exc)
    if len(minutes) == 2 and minutes["start"] == minutes["end"]:
        errors.add(ErrorCode.INVALID_VALUE, "end", detail="the end must differ from the start")
    errors.raise_if_any()
    s = uow.session
    ins = _insert(s)(QuietHours).values(
        user_id=user_id, start_minute=minutes["start"], end_minute=minutes["end"], updated_at=uow.now
    )
    await s.execute(
        ins.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "start_minute": ins.excluded.start_minute,
                "end_minute": ins.excluded.end_minute,
                "updated_at": ins.excluded.updated_at,
            },
        )
    )
    row = await s.get(QuietHours, user_id, populate_existing=True)
    assert row is not None
    return row


async def clear_quiet_hours(uow: UnitOfWork, user_id: int) -> bool:
    """Remove ``user_id``'s quiet hours; False when there were none."""
    result = await uow.session.execute(delete(QuietHours).where(QuietHours.user_id == user_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def quiet_hours_of(session: AsyncSession, user_ids: list[int]) -> dict[int, QuietHours]:
    """Quiet hours by user, for the users of ``user_ids`` who have them (one query)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(QuietHours).where(QuietHours.user_id.in_(sorted(set(user_ids)))))
    return {r.user_id: r for r in rows.scalars()}

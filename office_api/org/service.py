"""Use cases of the organization tree: units, users, positions.

Every function takes the unit of work and the acting :class:`Actor`, checks permission on
the server, validates the input (raising :class:`DomainError`/``DomainErrors`` naming the
input field and the rule) and flushes. Committing is the caller's job.

Permission comes first: an administrator acting outside its subtree gets ``FORBIDDEN``
before the input is looked at, so that a refusal tells nothing about what exists there.

Concurrency: SQLite serializes write transactions (``BEGIN IMMEDIATE``). On PostgreSQL
(READ COMMITTED) the functions lock what they depend on: a move locks the whole subtree and
the new parent in id order, a new unit locks its parent (``FOR SHARE``), a new post locks
its user, and a unique violation of a racing transaction becomes ``DUPLICATE``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.outbox import ensure_counter
from office_api import audit
from office_api.audit import Action
from office_api.auth import DEFAULT_POLICY, PasswordPolicy, hash_password
from office_api.db import UnitOfWork
from office_api.errors import AuthError, DomainError, ErrorCode, ErrorCollector
from office_api.org.models import UNIT_KINDS, OrgUnit, Position, Role, RoleAssignment, User
from office_api.org.permissions import Actor
from office_api.text import trimmed

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z", re.ASCII)
DIVISION_RE = re.compile(r"^[1-9]\d{5}\Z", re.ASCII)
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{2,63}\Z", re.ASCII)
#: Longest accepted password (argon2 hashes anything; this bounds the work per request).
MAX_PASSWORD_LENGTH = 256


def _text(errors: ErrorCollector, field: str, value: str | None, limit: int) -> str:
    value = trimmed(value)
    if not value:
        errors.add(ErrorCode.REQUIRED, field)
    elif len(value) > limit:
        errors.add(ErrorCode.TOO_LONG, field, limit=limit)
    return value


async def _flush_unique(session: AsyncSession, constraints: dict[str, tuple[str, str]]) -> None:
    """Flush in a savepoint; a unique violation named in ``constraints`` becomes ``DUPLICATE``.

    ``constraints`` maps a marker of the database's message (SQLite ``table.column``,
    PostgreSQL the constraint name) to ``(field, detail)``. The checks before the flush
    catch the common case; this catches two transactions racing for the same value (on
    PostgreSQL the second waits for the first, then violates the unique index).
    """
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig)
        for marker, (field, detail) in constraints.items():
            if marker in text:
                raise DomainError(ErrorCode.DUPLICATE, field, detail=detail) from None
        raise


def unit_state(unit: OrgUnit) -> dict[str, object]:
    """The audited fields of a unit (before/after of audit rows)."""
    return {
        "code": unit.code,
        "name": unit.name,
        "shortName": unit.short_name,
        "kind": unit.kind,
        "parentId": unit.parent_id,
        "path": unit.path,
        "divisionCode": unit.division_code,
        "isActive": unit.is_active,
        "version": unit.version,
    }


async def get_unit(session: AsyncSession, unit_id: int) -> OrgUnit:
    """The unit with ``unit_id``; ``NOT_FOUND`` otherwise."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None:
        raise DomainError(ErrorCode.NOT_FOUND, "id")
    return unit


@dataclass
class UnitInput:
    code: str
    name: str
    kind: str
    parent_id: int | None = None
    division_code: str | None = None
    short_name: str | None = None
    doc_number_root: str | None = None


async def _validate_unit(session: AsyncSession, data: UnitInput, parent: OrgUnit | None) -> UnitInput:
    errors = ErrorCollector()
    code = (data.code or "").strip()
    if not code:
        errors.add(ErrorCode.REQUIRED, "code")
    elif not CODE_RE.match(code):
        errors.add(ErrorCode.INVALID_VALUE, "code", detail="letters, digits and _.:- only, at most 64")
    name = _text(errors, "name", data.name, 100)
    if data.kind not in UNIT_KINDS:
        errors.add(ErrorCode.INVALID_VALUE, "kind", detail=f"one of {', '.join(sorted(UNIT_KINDS))}")
    division = (data.division_code or "").strip() or None
    if division is not None and not DIVISION_RE.match(division):
        errors.add(ErrorCode.INVALID_VALUE, "divisionCode", detail="six digits (GB/T 2260)")
    short = (data.short_name or "").strip() or None
    if short is not None and len(short) > 50:
        errors.add(ErrorCode.TOO_LONG, "shortName", limit=50)
    root = (data.doc_number_root or "").strip() or None
    if root is not None and len(root) > 16:
        errors.add(ErrorCode.TOO_LONG, "docNumberRoot", limit=16)
    if data.parent_id is not None:
        if parent is None:
            errors.add(ErrorCode.NOT_FOUND, "parentId")
        elif not parent.is_active:
            errors.add(ErrorCode.INACTIVE, "parentId", detail=parent.name)
    if code and (await session.execute(select(OrgUnit.id).where(OrgUnit.code == code))).first():
        errors.add(ErrorCode.DUPLICATE, "code", detail=code)
    if division and (await session.execute(select(OrgUnit.id).where(OrgUnit.division_code == division))).first():
        errors.add(ErrorCode.DUPLICATE, "divisionCode", detail=division)
    errors.raise_if_any()
    return UnitInput(code, name, data.kind, data.parent_id, division, short, root)


async def create_unit(uow: UnitOfWork, actor: Actor | None, data: UnitInput) -> OrgUnit:
    """Create a unit under ``parent_id`` (a root when None: system admins and imports only).

    ``actor`` None means a trusted local caller (the CLI import). Raises ``FORBIDDEN``
    outside the actor's subtree; ``REQUIRED``/``INVALID_VALUE``/``TOO_LONG``/
    ``DUPLICATE``/``NOT_FOUND``/``INACTIVE`` naming the field otherwise.
    """
    session = uow.session
    parent = None
    if data.parent_id is not None:
        parent = await session.get(OrgUnit, data.parent_id, with_for_update={"read": True})
    if actor is not None:
        if parent is not None:
            actor.require_admin_of(parent)
        elif not actor.is_system_admin:
            raise AuthError(ErrorCode.FORBIDDEN)
    data = await _validate_unit(session, data, parent)
    unit = OrgUnit(
        code=data.code,
        name=data.name,
        short_name=data.short_name,
        kind=data.kind,
        parent_id=parent.id if parent else None,
        division_code=data.division_code,
        doc_number_root=data.doc_number_root,
        path="/",
        depth=(parent.depth + 1) if parent else 0,
    )
    session.add(unit)
    await _flush_unique(
        session,
        {
            "org_units.code": ("code", data.code),
            "uq_org_units_code": ("code", data.code),
            "org_units.division_code": ("divisionCode", data.division_code or ""),
            "uq_org_units_division_code": ("divisionCode", data.division_code or ""),
        },
    )
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    await session.flush()
    if actor is not None:
        audit.record(
            session,
            actor_id=actor.user_id,
            action=Action.ORG_UNIT_CREATE,
            target_type="OrgUnit",
            target_id=unit.id,
            after=unit_state(unit),
        )
    return unit


async def update_unit(
    uow: UnitOfWork,
    actor: Actor,
    unit_id: int,
    *,
    name: str | None = None,
    short_name: str | None = None,
    is_active: bool | None = None,
    expected_version: int | None = None,
) -> OrgUnit:
    """Rename or (de)activate a unit. The code never changes.

    ``expected_version`` guards against lost updates (``STALE_VERSION``).
    """
    session = uow.session
    unit = await get_unit(session, unit_id)
    actor.require_admin_of(unit)
    if expected_version is not None and expected_version != unit.version:
        raise DomainError(ErrorCode.STALE_VERSION, "version")
    errors = ErrorCollector()
    if name is not None:
        name = _text(errors, "name", name, 100)
    if short_name is not None and len(short_name.strip()) > 50:
        errors.add(ErrorCode.TOO_LONG, "shortName", limit=50)
    errors.raise_if_any()
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = name
    if short_name is not None:
        values["short_name"] = short_name.strip() or None
    if is_active is not None:
        values["is_active"] = is_active
    if values:
        before = unit_state(unit)
        result = await session.execute(
            update(OrgUnit)
            .where(OrgUnit.id == unit.id, OrgUnit.version == unit.version)
            .values(**values, version=unit.version + 1)
        )
        if result.rowcount != 1:
            raise DomainError(ErrorCode.STALE_VERSION, "version")
        await session.refresh(unit)
        audit.record(
            session,
            actor_id=actor.user_id,
            action=Action.ORG_UNIT_UPDATE,
            target_type="OrgUnit",
            target_id=unit.id,
            before=before,
            after=unit_state(unit),
        )
    return unit


async def _lock_subtree(session: AsyncSession, unit: OrgUnit, other_id: int) -> None:
    """Lock ``unit``'s subtree and the unit ``other_id`` (PostgreSQL; SQLite is serialized).

    One statement, rows in id order, so that two moves never deadlock; then re-read
    ``unit`` and retry while a concurrent move changed its path meanwhile.
    """
    for _ in range(5):
        path = unit.path
        await session.execute(
            select(OrgUnit.id)
            .where(or_(OrgUnit.path.like(f"{path}%"), OrgUnit.id.in_([unit.id, other_id])))
            .order_by(OrgUnit.id)
            .with_for_update()
        )
        await session.refresh(unit)
        if unit.path == path:
            return
    raise DomainError(ErrorCode.STALE_VERSION, "id")


async def move_unit(
    uow: UnitOfWork, actor: Actor, unit_id: int, new_parent_id: int, *, expected_version: int | None = None
) -> OrgUnit:
    """Move a unit and its whole subtree under ``new_parent_id`` in one statement.

    Refuses cycles (``CYCLE``: the new parent is the unit or inside it) and moves outside
    the actor's subtree (``FORBIDDEN``). The subtree and the new parent are locked first,
    so that concurrent moves and new units cannot leave a stale path behind. With
    ``expected_version`` (the unit's version the caller read), a unit changed or moved
    meanwhile is ``STALE_VERSION``: of two admins moving the same subtree at once, one wins.
    """
    session = uow.session
    unit = await get_unit(session, unit_id)
    new_parent = await session.get(OrgUnit, new_parent_id)
    if new_parent is None:
        raise DomainError(ErrorCode.NOT_FOUND, "parentId")
    await _lock_subtree(session, unit, new_parent.id)
    await session.refresh(new_parent)
    actor.require_admin_of(unit)
    if expected_version is not None and expected_version != unit.version:
        raise DomainError(ErrorCode.STALE_VERSION, "version")
    actor.require_admin_of(new_parent)
    if unit.parent_id is None and not actor.is_system_admin:
        raise AuthError(ErrorCode.FORBIDDEN)
    if new_parent.path.startswith(unit.path):
        raise DomainError(ErrorCode.CYCLE, "parentId")
    if not new_parent.is_active:
        raise DomainError(ErrorCode.INACTIVE, "parentId", detail=new_parent.name)
    if new_parent.id == unit.parent_id:
        return unit
    before = unit_state(unit)
    old_path = unit.path
    new_path = f"{new_parent.path}{unit.id}/"
    delta = new_parent.depth + 1 - unit.depth
    await session.execute(
        update(OrgUnit)
        .where(OrgUnit.path.like(f"{old_path}%"))
        .values(
            path=new_path + func.substr(OrgUnit.path, len(old_path) + 1),
            depth=OrgUnit.depth + delta,
            version=OrgUnit.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(update(OrgUnit).where(OrgUnit.id == unit.id).values(parent_id=new_parent.id))
    await session.refresh(unit)
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.ORG_UNIT_MOVE,
        target_type="OrgUnit",
        target_id=unit.id,
        before=before,
        after=unit_state(unit),
    )
    return unit


async def children(session: AsyncSession, parent_id: int | None, after_id: int | None, limit: int) -> list[OrgUnit]:
    """Direct children of ``parent_id`` (roots when None), by id, ``limit`` rows after ``after_id``."""
    q = select(OrgUnit).order_by(OrgUnit.id).limit(limit)
    q = q.where(OrgUnit.parent_id.is_(None) if parent_id is None else OrgUnit.parent_id == parent_id)
    if after_id is not None:
        q = q.where(OrgUnit.id > after_id)
    return list((await session.execute(q)).scalars())


async def children_of(
    session: AsyncSession, parent_ids: Sequence[int], after_id: int | None, limit: int
) -> dict[int, list[OrgUnit]]:
    """The first ``limit`` children (by id, after ``after_id``) of each of ``parent_ids``, in one query."""
    rank = func.row_number().over(partition_by=OrgUnit.parent_id, order_by=OrgUnit.id).label("rank")
    ranked = select(OrgUnit.id, rank).where(OrgUnit.parent_id.in_(list(parent_ids)))
    if after_id is not None:
        ranked = ranked.where(OrgUnit.id > after_id)
    sub = ranked.subquery()
    q = select(OrgUnit).join(sub, sub.c.id == OrgUnit.id).where(sub.c.rank <= limit).order_by(OrgUnit.id)
    out: dict[int, list[OrgUnit]] = {pid: [] for pid in parent_ids}
    for unit in (await session.execute(q)).scalars():
        out[unit.parent_id or 0].append(unit)
    return out


async def members_of(
    session: AsyncSession, unit_ids: Sequence[int], after_id: int | None, limit: int
) -> dict[int, list[Position]]:
    """The first ``limit`` positions (by id, after ``after_id``) held in each of ``unit_ids``, in one query."""
    rank = func.row_number().over(partition_by=Position.unit_id, order_by=Position.id).label("rank")
    ranked = select(Position.id, rank).where(Position.unit_id.in_(list(unit_ids)))
    if after_id is not None:
        ranked = ranked.where(Position.id > after_id)
    sub = ranked.subquery()
    q = select(Position).join(sub, sub.c.id == Position.id).where(sub.c.rank <= limit).order_by(Position.id)
    out: dict[int, list[Position]] = {uid: [] for uid in unit_ids}
    for pos in (await session.execute(q)).scalars():
        out[pos.unit_id].append(pos)
    return out


@dataclass
class UserInput:
    username: str
    display_name: str
    password: str
    unit_id: int | None = None
    title: str | None = None
    is_leader: bool = False


def _check_password(
    errors: ErrorCollector, password: str | None, policy: PasswordPolicy = DEFAULT_POLICY, field: str = "password"
) -> None:
    """Add ``WEAK_PASSWORD`` (naming the rule) or ``TOO_LONG`` on ``field``."""
    if len(password or "") > MAX_PASSWORD_LENGTH:
        errors.add(ErrorCode.TOO_LONG, field, limit=MAX_PASSWORD_LENGTH)
        return
    error = policy.error(password or "", field)
    if error is not None:
        errors.add(error.code, field, **error.params)


async def create_user(
    uow: UnitOfWork,
    actor: Actor | None,
    data: UserInput,
    policy: PasswordPolicy = DEFAULT_POLICY,
    *,
    password_hash: str | None = None,
) -> User:
    """Create a user, optionally with a primary position in ``unit_id``.

    A unit admin may create users only with a position inside its subtree; a user without
    a unit needs a system admin. ``actor`` None is a trusted local caller (demo set-up).
    The password must satisfy ``policy``. A password chosen by an administrator must be
    changed at first sign-in (``must_change_password``); the trusted path does not force it.
    """
    session = uow.session
    unit = await session.get(OrgUnit, data.unit_id) if data.unit_id is not None else None
    if actor is not None:
        if unit is not None:
            actor.require_admin_of(unit)
        elif not actor.is_system_admin:
            raise AuthError(ErrorCode.FORBIDDEN)
    errors = ErrorCollector()
    username = (data.username or "").strip().lower()
    if not USERNAME_RE.match(username):
        errors.add(
            ErrorCode.INVALID_VALUE,
            "username",
            detail="3-64 characters: lowercase letters, digits, _ . -, starting with a letter",
        )
    display = _text(errors, "displayName", data.display_name, 64)
    _check_password(errors, data.password, policy)
    title = ""
    if data.unit_id is not None:
        if unit is None:
            errors.add(ErrorCode.NOT_FOUND, "unitId")
        elif not unit.is_active:
            errors.add(ErrorCode.INACTIVE, "unitId", detail=unit.name)
        title = _text(errors, "title", data.title, 64)
    if (
        USERNAME_RE.match(username)
        and (await session.execute(select(User.id).where(User.username == username))).first()
    ):
        errors.add(ErrorCode.DUPLICATE, "username", detail=username)
    errors.raise_if_any()
    if password_hash is None:  # given by a bulk import: the hash of ``data.password``, computed once
        password_hash = await asyncio.to_thread(hash_password, data.password)
    user = User(
        username=username, display_name=display, password_hash=password_hash, must_change_password=actor is not None
    )
    session.add(user)
    await _flush_unique(
        session, {"users.username": ("username", username), "uq_users_username": ("username", username)}
    )
    await ensure_counter(uow, user.id)
    if unit is not None:
        session.add(Position(user_id=user.id, unit_id=unit.id, title=title, is_primary=True, is_leader=data.is_leader))
        await session.flush()
    if actor is not None:
        audit.record(
            session,
            actor_id=actor.user_id,
            action=Action.USER_CREATE,
            target_type="User",
            target_id=user.id,
            after={
                "username": username,
                "displayName": display,
                "unitId": unit.id if unit else None,
                "title": title or None,
                "isActive": True,
                "mustChangePassword": True,
            },
        )
    return user


async def assign_position(
    uow: UnitOfWork,
    actor: Actor | None,
    *,
    user_id: int,
    unit_id: int,
    title: str,
    is_primary: bool = False,
    is_leader: bool = False,
    duties: Sequence[str] = (),
) -> Position:
    """Give ``user_id`` a post in ``unit_id``. The first post, or one with ``is_primary``,
    becomes the primary one (the user's other posts stop being primary).

    A unit admin may give posts in its subtree to users whose primary post is in its
    subtree too: it cannot move the primary post of someone it does not administer, nor
    give posts to accounts without one (such as administrators). The user row is locked
    so that concurrent assignments leave exactly one primary post. ``duties`` are written
    as :func:`office_api.org.duties.set_position_duties` does (``HEAD_TAKEN``).
    """
    session = uow.session
    user = await session.get(User, user_id, with_for_update=True)
    unit = await session.get(OrgUnit, unit_id)
    if actor is not None and not actor.is_system_admin:
        if unit is None or user is None:
            raise AuthError(ErrorCode.FORBIDDEN)
        actor.require_admin_of(unit)
        home = await primary_unit_id(session, user.id)
        home_unit = await session.get(OrgUnit, home) if home is not None else None
        if home_unit is None:
            raise AuthError(ErrorCode.FORBIDDEN)
        actor.require_admin_of(home_unit)
    errors = ErrorCollector()
    title = _text(errors, "title", title, 64)
    if user is None:
        errors.add(ErrorCode.NOT_FOUND, "userId")
    if unit is None:
        errors.add(ErrorCode.NOT_FOUND, "unitId")
    elif not unit.is_active:
        errors.add(ErrorCode.INACTIVE, "unitId", detail=unit.name)
    errors.raise_if_any()
    assert unit is not None
    assert user is not None
    existing = (
        await session.execute(
            select(Position.id).where(Position.user_id == user_id, Position.unit_id == unit_id, Position.title == title)
        )
    ).first()
    if existing is not None:
        raise DomainError(ErrorCode.DUPLICATE, "title", detail=title)
    has_primary = (
        await session.execute(select(Position.id).where(Position.user_id == user_id, Position.is_primary.is_(True)))
    ).first()
    primary = is_primary or not has_primary
    home_before = await primary_unit_id(session, user_id)
    if primary and has_primary:
        await session.execute(update(Position).where(Position.user_id == user_id).values(is_primary=False))
    pos = Position(user_id=user_id, unit_id=unit_id, title=title, is_primary=primary, is_leader=is_leader)
    session.add(pos)
    await _flush_unique(
        session, {"positions.user_id": ("title", title), "uq_positions_user_id_unit_id_title": ("title", title)}
    )
    if duties:
        from office_api.org.duties import set_duties_in_locked_unit

        await set_duties_in_locked_unit(session, pos, duties)
    if actor is not None:
        audit.record(
            session,
            actor_id=actor.user_id,
            action=Action.POSITION_ASSIGN,
            target_type="Position",
            target_id=pos.id,
            before={"primaryUnitId": home_before},
            after={"userId": user_id, "unitId": unit_id, "title": title, "isPrimary": primary, "isLeader": is_leader},
        )
    return pos


async def grant_role(uow: UnitOfWork, user_id: int, role: Role, unit_id: int | None = None) -> None:
    """Give a user an administrator role (trusted set-up path: CLI and demo)."""
    exists = (
        await uow.session.execute(
            select(RoleAssignment.id).where(
                RoleAssignment.user_id == user_id,
                RoleAssignment.role == role.value,
                RoleAssignment.unit_id.is_(None) if unit_id is None else RoleAssignment.unit_id == unit_id,
            )
        )
    ).first()
    if not exists:
        uow.session.add(RoleAssignment(user_id=user_id, role=role.value, unit_id=unit_id))
        await uow.session.flush()


async def primary_unit_id(session: AsyncSession, user_id: int) -> int | None:
    """The unit of the user's primary position, if any."""
    row = (
        await session.execute(
            select(Position.unit_id).where(Position.user_id == user_id, Position.is_primary.is_(True))
        )
    ).first()
    return row[0] if row else None


async def positions_of_users(session: AsyncSession, user_ids: Sequence[int]) -> list[Position]:
    """The posts of several users, primary first then by id (one query)."""
    q = (
        select(Position)
        .where(Position.user_id.in_(list(user_ids)))
        .order_by(Position.user_id, Position.is_primary.desc(), Position.id)
    )
    return list((await session.execute(q)).scalars())

"""Import of users and positions from CSV, and export of the tree in the import formats.

Users layout (header recognised by :func:`is_users_header`; UTF-8, with or without BOM)::

    username,display_name,unit_code,title[,is_primary,is_leader,duties,mobile,office_phone,email]

One row per post: a user holding several posts (兼职) has several rows, which must agree on
``display_name`` and the contact columns. ``is_primary``/``is_leader`` are ``true``/``false``
(also ``1``/``0``, ``yes``/``no``; empty is false); ``duties`` lists ``head``,
``deputy_head``, ``clerk`` separated by ``;``. A new user gets a random initial password
that nobody knows and must be changed (``must_change_password``): an administrator gives
the person a temporary one with ``resetPassword``. Passwords never appear in the CSV.

Idempotent: a user is known by ``username``, a post by ``username`` + ``unit_code`` +
``title``. Re-importing changes nothing; a known user whose name or contact details
differ is updated (a contact column missing from the header leaves that field as it is); a
known post is left as it is; nothing missing from the file is removed.
All-or-nothing: any invalid row refuses the whole import with a per-row report.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import NotificationCounter
from office_api import audit
from office_api.audit import Action
from office_api.auth import hash_password
from office_api.db import UnitOfWork
from office_api.errors import DomainError, DomainErrors, ErrorCode
from office_api.org.directory import ContactInput, validate_contact
from office_api.org.duties import duties_of_positions
from office_api.org.models import Duty, OrgUnit, Position, PositionDuty, User
from office_api.org.permissions import Actor
from office_api.org.service import USERNAME_RE
from office_api.text import trimmed

USERS_REQUIRED = ["username", "display_name", "unit_code", "title"]
USERS_OPTIONAL = ["is_primary", "is_leader", "duties", "mobile", "office_phone", "email"]
USERS_HEADER = USERS_REQUIRED + USERS_OPTIONAL
UNITS_HEADER = ["code", "name", "kind", "parent_code", "division_code", "short_name", "doc_number_root"]
_TRUE = {"true", "1", "yes", "y", "是"}
_FALSE = {"false", "0", "no", "n", "否", ""}
_CONTACT_COLUMNS = {"mobile": "mobile", "officePhone": "office_phone", "email": "email"}

Problem = tuple[int, str, str]
Progress = Callable[[int, int], None]


@dataclass
class UsersReport:
    """What a users import did (users and posts)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    positions_created: int = 0
    positions_unchanged: int = 0


@dataclass
class _UserRow:
    line: int
    username: str
    display_name: str
    unit_code: str
    title: str
    is_primary: bool
    is_leader: bool
    duties: list[str]
    contact: dict[str, str | None] = field(default_factory=dict)


def header_of(text: str) -> list[str]:
    """The header row of CSV ``text`` (BOM and surrounding spaces removed)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    return [(h or "").strip() for h in next(reader, [])]


def is_users_header(header: list[str]) -> bool:
    return all(h in header for h in USERS_REQUIRED) and "code" not in header


def _bool(value: str, line: int, column: str, problems: list[Problem]) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v not in _FALSE:
        problems.append((line, column, "true or false"))
    return False


def _parse_users(text: str) -> tuple[list[_UserRow], list[Problem]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    unknown = [h for h in header if h not in USERS_HEADER]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if unknown or repeated:
        what = f"unknown column {', '.join(unknown)}" if unknown else f"repeated column {', '.join(repeated)}"
        return [], [(1, "header", f"{what}; expected {','.join(USERS_HEADER)}")]
    rows: list[_UserRow] = []
    problems: list[Problem] = []
    for rec in reader:
        line = reader.line_num
        if None in rec or any(rec[h] is None for h in header):
            problems.append((line, "row", f"the header has {len(header)} fields"))
            continue

        def get(k: str, rec: dict = rec) -> str:
            return trimmed(rec.get(k))

        username = get("username").lower()
        if not USERNAME_RE.match(username):
            problems.append(
                (line, "username", "3-64 characters: lowercase letters, digits, _ . -, starting with a letter")
            )
        display = get("display_name")
        if not display:
            problems.append((line, "display_name", "required"))
        elif len(display) > 64:
            problems.append((line, "display_name", "at most 64 characters"))
        unit_code = get("unit_code")
        if not unit_code:
            problems.append((line, "unit_code", "required"))
        title = get("title")
        if not title:
            problems.append((line, "title", "required"))
        elif len(title) > 64:
            problems.append((line, "title", "at most 64 characters"))
        duties: list[str] = []
        for d in (x.strip().lower() for x in get("duties").replace("|", ";").split(";")):
            if not d:
                continue
            if d not in {x.value for x in Duty}:
                problems.append((line, "duties", f"one of {', '.join(x.value for x in Duty)}, separated by ;"))
            elif d not in duties:
                duties.append(d)
        contact: dict[str, str | None] = {}
        try:
            contact = validate_contact(  # a column missing from the header leaves the field as it is
                ContactInput(**{k: get(k) if k in header else None for k in ("mobile", "office_phone", "email")})
            )
        except DomainError as e:
            problems.append((line, _CONTACT_COLUMNS.get(e.field or "", e.field or ""), e.message("en")))
        except DomainErrors as es:
            problems += [(line, _CONTACT_COLUMNS.get(e.field or "", e.field or ""), e.message("en")) for e in es.errors]
        rows.append(
            _UserRow(
                line,
                username,
                display,
                unit_code,
                title,
                _bool(get("is_primary"), line, "is_primary", problems),
                _bool(get("is_leader"), line, "is_leader", problems),
                duties,
                contact,
            )
        )
    return rows, problems


def random_initial_password() -> str:
    """A password nobody knows, satisfying the default policy (must be reset by an admin)."""
    return "Aa1-" + secrets.token_urlsafe(24)


def _user_state(user: User) -> dict[str, object]:
    return {
        "username": user.username,
        "displayName": user.display_name,
        "mobile": user.mobile,
        "officePhone": user.office_phone,
        "email": user.email,
    }


async def import_users(
    uow: UnitOfWork, text: str, *, actor: Actor | None = None, progress: Progress | None = None
) -> UsersReport:
    """Import users and posts from CSV ``text`` inside ``uow``.

    ``actor`` None is a trusted local caller (the CLI); otherwise every row's unit (and,
    for a known user, the unit of their primary post) must be inside the actor's subtree
    (``OUT_OF_SCOPE`` on that row), and audit rows are written for every change. Raises
    :class:`DomainErrors` (field ``line N: column``) when any row is invalid; the caller's
    unit of work then rolls back, so the import writes nothing.
    """
    session = uow.session
    rows, problems = _parse_users(text)
    scope: list[Problem] = []
    first_of_user: dict[str, _UserRow] = {}
    seen_posts: dict[tuple[str, str, str], int] = {}
    primaries: dict[str, int] = {}
    for r in rows:
        first = first_of_user.setdefault(r.username, r)
        if first is not r:
            if r.display_name != first.display_name:
                problems.append((r.line, "display_name", f"differs from line {first.line} for {r.username}"))
            for col in ("mobile", "office_phone", "email"):
                if r.contact.get(col) != first.contact.get(col):
                    problems.append((r.line, col, f"differs from line {first.line} for {r.username}"))
        key = (r.username, r.unit_code, r.title)
        if key in seen_posts:
            problems.append((r.line, "title", f"duplicate post in file (line {seen_posts[key]})"))
        seen_posts.setdefault(key, r.line)
        if r.is_primary:
            if r.username in primaries:
                problems.append(
                    (r.line, "is_primary", f"second primary post of {r.username} (line {primaries[r.username]})")
                )
            primaries.setdefault(r.username, r.line)

    codes = sorted({r.unit_code for r in rows if r.unit_code})
    units: dict[str, OrgUnit] = {}
    for i in range(0, len(codes), 500):
        for u in (await session.execute(select(OrgUnit).where(OrgUnit.code.in_(codes[i : i + 500])))).scalars():
            units[u.code] = u
    names = sorted(first_of_user)
    users: dict[str, User] = {}
    for i in range(0, len(names), 500):
        for u in (await session.execute(select(User).where(User.username.in_(names[i : i + 500])))).scalars():
            users[u.username] = u
    posts: set[tuple[int, int, str]] = set()
    home: dict[int, OrgUnit] = {}
    ids = [u.id for u in users.values()]
    for i in range(0, len(ids), 500):
        for p, unit in await session.execute(
            select(Position, OrgUnit)
            .join(OrgUnit, OrgUnit.id == Position.unit_id)
            .where(Position.user_id.in_(ids[i : i + 500]))
        ):
            posts.add((p.user_id, p.unit_id, p.title))
            if p.is_primary:
                home[p.user_id] = unit
    for r in rows:
        unit = units.get(r.unit_code)
        if r.unit_code and unit is None:
            problems.append((r.line, "unit_code", f"unknown unit {r.unit_code}"))
            continue
        if unit is None:
            continue
        if actor is not None and not actor.administers_path(unit.path):
            scope.append((r.line, "unit_code", f"{r.unit_code} is outside the subtree you administer"))
            continue
        user = users.get(r.username)
        if actor is not None and user is not None and not actor.is_system_admin:
            h = home.get(user.id)
            if h is None or not actor.administers_path(h.path):
                scope.append((r.line, "username", f"{r.username} is administered outside your subtree"))
                continue
        known = user is not None and (user.id, unit.id, r.title) in posts
        if not known and not unit.is_active:
            problems.append((r.line, "unit_code", f"unit {r.unit_code} is deactivated"))
    if problems or scope:
        refuse(problems, scope)

    report = UsersReport()
    await _write_users(uow, rows, first_of_user, units, users, actor, report, progress)
    await _write_posts(uow, rows, units, users, posts, set(home), actor, report, progress)
    return report


#: Rows written per statement batch (one INSERT of many rows, SQLAlchemy "insertmanyvalues").
BATCH = 1000


def _tick(progress: Progress | None, first: int, last: int, total: int) -> None:
    """Report rows ``first``..``last`` (1-based) as done; the callback throttles its output."""
    if progress is not None:
        for done in range(first, last + 1):
            progress(done, total)


async def _flush_batch(session: AsyncSession, lines: Callable[[], list[int]], column: str) -> None:
    """Flush one batch in a savepoint; a unique violation (a concurrent change wrote the same
    username, post or unit head since the checks above) refuses the import on the batch's lines."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        refuse([(line, column, "changed by a concurrent update; import again") for line in lines()])


async def _write_users(
    uow: UnitOfWork,
    rows: list[_UserRow],
    first_of_user: dict[str, _UserRow],
    units: dict[str, OrgUnit],
    users: dict[str, User],
    actor: Actor | None,
    report: UsersReport,
    progress: Progress | None,
) -> None:
    """Create the new users and update the changed ones, a batch of :data:`BATCH` per flush.

    New users get one random password (hashed once: nobody ever learns it, so it is as
    unusable as one password per user, and a sign-in attempt costs the same time as for
    any other account), must change it, and get their notification counter.
    """
    session = uow.session
    new = [r for r in first_of_user.values() if r.username not in users]
    initial_hash = await asyncio.to_thread(hash_password, random_initial_password()) if new else ""
    for i in range(0, len(new), BATCH):
        chunk = new[i : i + BATCH]
        made = [
            User(
                username=r.username,
                display_name=r.display_name,
                password_hash=initial_hash,
                must_change_password=True,
                **{col: value for col, value in r.contact.items()},
            )
            for r in chunk
        ]
        session.add_all(made)
        await _flush_batch(session, lambda chunk=chunk: [r.line for r in chunk], "username")
        await session.execute(insert(NotificationCounter), [{"user_id": u.id, "last_seq": 0} for u in made])
        for user in made:
            users[user.username] = user
            if actor is not None:
                audit.record(
                    session,
                    actor_id=actor.user_id,
                    action=Action.USER_CREATE,
                    target_type="User",
                    target_id=user.id,
                    after={**_user_state(user), "isActive": True, "mustChangePassword": True, "source": "import"},
                )
        report.created += len(made)
    created = {r.username for r in new}
    for r in first_of_user.values():
        if r.username in created:
            continue
        user = users[r.username]
        before = _user_state(user)
        changed = user.display_name != r.display_name
        user.display_name = r.display_name
        for col, value in r.contact.items():
            if getattr(user, col) != value:
                setattr(user, col, value)
                changed = True
        if not changed:
            report.unchanged += 1
            continue
        user.version += 1
        report.updated += 1
        if actor is not None:
            audit.record(
                session,
                actor_id=actor.user_id,
                action=Action.USER_UPDATE,
                target_type="User",
                target_id=user.id,
                before=before,
                after=_user_state(user),
            )
    await session.flush()


async def _write_posts(
    uow: UnitOfWork,
    rows: list[_UserRow],
    units: dict[str, OrgUnit],
    users: dict[str, User],
    posts: set[tuple[int, int, str]],
    with_primary: set[int],
    actor: Actor | None,
    report: UsersReport,
    progress: Progress | None,
) -> None:
    """Create the posts of the file that do not exist yet, as
    :func:`office_api.org.service.assign_position` would one by one: a user's first post, or
    one marked ``is_primary``, becomes the primary one (their other posts stop being
    primary); a unit has at most one head (``HEAD_TAKEN``). The users and units concerned are
    locked first (in id order), then the posts are written a batch per flush."""
    session = uow.session
    todo = [r for r in rows if (users[r.username].id, units[r.unit_code].id, r.title) not in posts]
    report.positions_unchanged = len(rows) - len(todo)
    user_ids = sorted({users[r.username].id for r in todo})
    duty_units = sorted({units[r.unit_code].id for r in todo if r.duties})
    for i in range(0, len(user_ids), BATCH):
        await session.execute(select(User.id).where(User.id.in_(user_ids[i : i + BATCH])).with_for_update())
    heads: dict[int, str] = {}  # unit id -> who is its head: "position N" or "line N" of the file
    for i in range(0, len(duty_units), BATCH):
        part = duty_units[i : i + BATCH]
        await session.execute(select(OrgUnit.id).where(OrgUnit.id.in_(part)).order_by(OrgUnit.id).with_for_update())
        held = await session.execute(
            select(PositionDuty.unit_id, PositionDuty.position_id).where(
                PositionDuty.unit_id.in_(part), PositionDuty.duty == Duty.HEAD.value
            )
        )
        heads.update((unit_id, f"position {pos_id}") for unit_id, pos_id in held)
    _tick(progress, 1, report.positions_unchanged, len(rows))  # rows whose post exists: nothing to write
    problems: list[Problem] = []
    demote: set[int] = set()  # users whose primary post in the database stops being primary
    primary_of: dict[int, Position] = {}  # the new primary post of a user, while the import runs
    planned: list[tuple[_UserRow, Position]] = []
    for r in todo:
        user, unit = users[r.username], units[r.unit_code]
        if Duty.HEAD.value in r.duties:
            if unit.id in heads:
                taken = DomainError(ErrorCode.HEAD_TAKEN, "duties", detail=heads[unit.id])
                problems.append((r.line, "duties", taken.message("en")))
            heads.setdefault(unit.id, f"line {r.line}")
        has_primary = user.id in with_primary or user.id in primary_of
        primary = r.is_primary or not has_primary
        pos = Position(user_id=user.id, unit_id=unit.id, title=r.title, is_primary=primary, is_leader=r.is_leader)
        if primary and has_primary:
            if user.id in primary_of:
                primary_of[user.id].is_primary = False
            else:
                demote.add(user.id)
        if primary:
            primary_of[user.id] = pos
        planned.append((r, pos))
    if problems:
        refuse(problems)
    demoted = sorted(demote)
    for i in range(0, len(demoted), BATCH):
        await session.execute(
            update(Position).where(Position.user_id.in_(demoted[i : i + BATCH])).values(is_primary=False)
        )
    for i in range(0, len(planned), BATCH):
        chunk = planned[i : i + BATCH]
        session.add_all(pos for _, pos in chunk)
        await _flush_batch(session, lambda chunk=chunk: [r.line for r, _ in chunk], "title")
        session.add_all(
            PositionDuty(position_id=pos.id, unit_id=pos.unit_id, duty=d) for r, pos in chunk for d in r.duties
        )
        await _flush_batch(session, lambda chunk=chunk: [r.line for r, _ in chunk if r.duties], "duties")
        for r, pos in chunk:
            posts.add((pos.user_id, pos.unit_id, r.title))
            if actor is not None:
                audit.record(
                    session,
                    actor_id=actor.user_id,
                    action=Action.POSITION_ASSIGN,
                    target_type="Position",
                    target_id=pos.id,
                    after={
                        "userId": pos.user_id,
                        "unitId": pos.unit_id,
                        "title": r.title,
                        "isPrimary": pos.is_primary,
                        "isLeader": r.is_leader,
                        "duties": r.duties,
                        "source": "import",
                    },
                )
        report.positions_created += len(chunk)
        _tick(progress, report.positions_unchanged + i + 1, report.positions_unchanged + i + len(chunk), len(rows))
    await session.flush()


def refuse(problems: Sequence[Problem], scope: Sequence[Problem] = ()) -> NoReturn:
    """Raise the per-row report: ``INVALID_VALUE`` (``OUT_OF_SCOPE`` for ``scope``), by line."""
    items = [(line, col, msg, ErrorCode.INVALID_VALUE) for line, col, msg in set(problems)]
    items += [(line, col, msg, ErrorCode.OUT_OF_SCOPE) for line, col, msg in set(scope)]
    items.sort(key=lambda x: (x[0], x[1], x[2]))
    raise DomainErrors([DomainError(code, f"line {line}: {col}", detail=msg) for line, col, msg, code in items])


# ---- export -----------------------------------------------------------------------------------


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


async def _subtree_units(session: AsyncSession, root: OrgUnit | None) -> list[OrgUnit]:
    q = select(OrgUnit).order_by(OrgUnit.depth, OrgUnit.id)
    if root is not None:
        q = q.where(OrgUnit.path.like(f"{root.path}%"))
    return list((await session.execute(q)).scalars())


async def export_units(session: AsyncSession, root: OrgUnit | None = None) -> str:
    """The units of ``root``'s subtree (every unit when None) in the generic import layout,
    parents before children."""
    units = await _subtree_units(session, root)
    codes = {u.id: u.code for u in units}
    missing = {u.parent_id for u in units if u.parent_id and u.parent_id not in codes}
    if missing:
        for uid, code in await session.execute(select(OrgUnit.id, OrgUnit.code).where(OrgUnit.id.in_(missing))):
            codes[uid] = code
    rows = [
        [
            u.code,
            u.name,
            u.kind,
            codes.get(u.parent_id, "") if u.parent_id else "",
            u.division_code or "",
            u.short_name or "",
            u.doc_number_root or "",
        ]
        for u in units
    ]
    return _csv(UNITS_HEADER, rows)


async def export_users(session: AsyncSession, root: OrgUnit | None = None) -> str:
    """The posts held in ``root``'s subtree (everywhere when None) in the users layout, by
    user then post (primary first). Users without a post are not exported."""
    q = (
        select(Position, User, OrgUnit.code)
        .join(User, User.id == Position.user_id)
        .join(OrgUnit, OrgUnit.id == Position.unit_id)
        .order_by(User.id, Position.is_primary.desc(), Position.id)
    )
    if root is not None:
        q = q.where(OrgUnit.path.like(f"{root.path}%"))
    found = (await session.execute(q)).all()
    duties: dict[int, list[str]] = {}
    ids = [p.id for p, _, _ in found]
    for i in range(0, len(ids), 500):
        for d in await duties_of_positions(session, ids[i : i + 500]):
            duties.setdefault(d.position_id, []).append(d.duty)
    rows = [
        [
            u.username,
            u.display_name,
            code,
            p.title,
            "true" if p.is_primary else "false",
            "true" if p.is_leader else "false",
            ";".join(duties.get(p.id, [])),
            u.mobile or "",
            u.office_phone or "",
            u.email or "",
        ]
        for p, u, code in found
    ]
    return _csv(USERS_HEADER, rows)

"""Directory (通讯录): search people, contact details, their visibility, subtree queries.

Search ranks matches in four tiers, each excluding the earlier ones:

0. the display name equals the query (张伟);
1. the display name starts with it (张 finds 张伟);
2. full pinyin or initials start with it (``zhangwei``, ``zw``), or a phone number does
   (digits only; a leader's hidden mobile number never matches);
3. the name or the full pinyin contains it (伟, ``wei``); not for a query of digits only.

Within a tier people are ordered by full pinyin, then id. Tiers 0–2 are prefix matches on
indexed columns: ``LIKE 'q%'`` on PostgreSQL (``varchar_pattern_ops`` indexes, so any
collation works) and ``col >= 'q' AND col < 'r'`` on SQLite (its LIKE is case-insensitive
and uses an index only with NOCASE; the keys are lowercase ASCII or the exact name, so the
byte range is the same set). A page is read tier by tier, so the unindexed "contains" tier
runs only when the prefix tiers do not fill the page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from office_api.db import UnitOfWork
from office_api.errors import AuthError, DomainError, ErrorCode, ErrorCollector
from office_api.org.models import OrgUnit, Position, RoleAssignment, User
from office_api.org.permissions import Actor
from office_api.org.pinyin import normalize_query

#: Longest accepted search text (TOO_LONG on field ``query``).
MAX_QUERY = 64
MOBILE_RE = re.compile(r"^1[3-9]\d{9}\Z", re.ASCII)
OFFICE_PHONE_RE = re.compile(r"^(0\d{2,3}-)?\d{7,8}(-\d{1,6})?\Z", re.ASCII)
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\Z", re.ASCII)
_PINYIN_QUERY = re.compile(r"^[A-Za-z0-9' ]+\Z", re.ASCII)
_PHONE_QUERY = re.compile(r"^[0-9-]{3,24}\Z", re.ASCII)

RANK_EXACT, RANK_NAME_PREFIX, RANK_KEY_PREFIX, RANK_CONTAINS = 0, 1, 2, 3


def is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def prefix_match(col: ColumnElement[str] | object, prefix: str, sqlite: bool) -> ColumnElement[bool]:
    """``col`` starts with ``prefix``, in a form the database answers from a btree index.

    PostgreSQL: ``col LIKE 'prefix%'`` with the pattern rendered inline, so that the
    planner sees the fixed prefix even for a generic plan. SQLite: the half-open byte range
    ``[prefix, prefix with its last character incremented)``.
    """
    if not prefix:
        return true()
    if sqlite:
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return and_(col >= prefix, col < upper)  # type: ignore[operator]
    return col.like(literal(_escape_like(prefix) + "%", literal_execute=True), escape="\\")  # type: ignore[attr-defined]


def subtree_of(path: str, sqlite: bool) -> ColumnElement[bool]:
    """Units whose materialized path starts with ``path`` (the unit and its descendants)."""
    return prefix_match(OrgUnit.path, path, sqlite)


# ---- visibility of contact details ----------------------------------------------------------------


async def roles_of(session: AsyncSession, user_id: int) -> set[str]:
    rows = await session.execute(select(RoleAssignment.role).where(RoleAssignment.user_id == user_id))
    return {r[0] for r in rows}


def sees_leader_mobile(viewer_roles: set[str], configured: Sequence[str]) -> bool:
    """True when a viewer holding ``viewer_roles`` may see leaders' mobile numbers."""
    return bool(viewer_roles.intersection(configured))


# ---- search ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryCursor:
    """Position after the last row of a page: tier, full pinyin, user id."""

    rank: int
    key: str
    id: int


@dataclass(frozen=True)
class DirectoryHit:
    user: User
    rank: int

    @property
    def cursor(self) -> DirectoryCursor:
        return DirectoryCursor(self.rank, self.user.name_pinyin, self.user.id)


@dataclass(frozen=True)
class DirectoryQuery:
    text: str | None = None
    unit_id: int | None = None
    include_subtree: bool = False


def clean_query(text: str | None) -> str:
    """The search text stripped; ``TOO_LONG`` on field ``query`` past :data:`MAX_QUERY`."""
    text = (text or "").strip()
    if len(text) > MAX_QUERY:
        raise DomainError(ErrorCode.TOO_LONG, "query", limit=MAX_QUERY)
    return text


def _tiers(
    text: str, sqlite: bool, viewer_id: int, can_see_leader_mobile: bool, match_phones: bool = True
) -> list[ColumnElement[bool]]:
    """The condition of each rank, each excluding the earlier ranks."""
    if not text:
        return [true()]
    key = normalize_query(text) if _PINYIN_QUERY.match(text) else ""
    is_phone = bool(_PHONE_QUERY.match(text))
    digits = text.replace("-", "") if is_phone and match_phones else ""
    name_prefix = prefix_match(User.display_name, text, sqlite)

    def key_prefix(null_safe: bool) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        if key:
            parts += [prefix_match(User.name_pinyin, key, sqlite), prefix_match(User.name_initials, key, sqlite)]
        if digits:
            mobile = func.coalesce(User.mobile, "") if null_safe else User.mobile
            office = func.coalesce(User.office_phone, "") if null_safe else User.office_phone
            mobile_match = prefix_match(mobile, digits, sqlite)
            if not can_see_leader_mobile:
                leader = exists().where(Position.user_id == User.id, Position.is_leader.is_(True))
                mobile_match = and_(mobile_match, or_(User.id == viewer_id, ~leader))
            parts += [mobile_match, prefix_match(office, text, sqlite)]
        return or_(*parts) if parts else false()

    tiers = [
        User.display_name == text,
        and_(name_prefix, User.display_name != text),
        and_(key_prefix(False), ~name_prefix),
    ]
    if is_phone and text.replace("-", "").isdigit():
        return tiers  # a phone number: prefix matches only, never a scan for digits inside names
    contains = [User.display_name.contains(text, autoescape=True)]
    if key:
        contains.append(User.name_pinyin.contains(key, autoescape=True))
    return [*tiers, and_(or_(*contains), ~name_prefix, ~key_prefix(True))]


def _unit_filter(unit: OrgUnit | None, include_subtree: bool, sqlite: bool) -> ColumnElement[bool]:
    if unit is None:
        return true()
    if not include_subtree:
        return exists().where(Position.user_id == User.id, Position.unit_id == unit.id)
    return exists().where(Position.user_id == User.id, Position.unit_id == OrgUnit.id, subtree_of(unit.path, sqlite))


async def search(
    session: AsyncSession,
    query: DirectoryQuery,
    *,
    viewer_id: int,
    can_see_leader_mobile: bool,
    after: DirectoryCursor | None,
    limit: int,
    match_phones: bool = True,
) -> list[DirectoryHit]:
    """Up to ``limit`` active people matching ``query`` after ``after``, best rank first.

    ``match_phones`` False: phone numbers never match (a viewer who may not see them, such
    as an integration client, must not find them digit by digit either).

    Raises ``TOO_LONG`` (query) and ``NOT_FOUND`` (unitId). One statement per tier read, at
    most four, whatever ``limit`` is.
    """
    text = clean_query(query.text)
    sqlite = is_sqlite(session)
    unit = None
    if query.unit_id is not None:
        unit = await session.get(OrgUnit, query.unit_id)
        if unit is None:
            raise DomainError(ErrorCode.NOT_FOUND, "unitId")
    base = and_(User.is_active.is_(True), _unit_filter(unit, query.include_subtree, sqlite))
    hits: list[DirectoryHit] = []
    for rank, cond in enumerate(_tiers(text, sqlite, viewer_id, can_see_leader_mobile, match_phones)):
        if after is not None and rank < after.rank:
            continue
        q = select(User).where(base, cond).order_by(User.name_pinyin, User.id).limit(limit - len(hits))
        if after is not None and rank == after.rank:
            q = q.where(or_(User.name_pinyin > after.key, and_(User.name_pinyin == after.key, User.id > after.id)))
        hits += [DirectoryHit(u, rank) for u in (await session.execute(q)).scalars()]
        if len(hits) >= limit:
            break
    return hits


# ---- contact details ------------------------------------------------------------------------------


@dataclass
class ContactInput:
    """New contact details; None leaves a field as it is, "" clears it."""

    mobile: str | None = None
    office_phone: str | None = None
    email: str | None = None


def validate_contact(data: ContactInput) -> dict[str, str | None]:
    """The changed columns; ``INVALID_VALUE``/``TOO_LONG`` naming each bad field."""
    errors = ErrorCollector()
    values: dict[str, str | None] = {}
    if data.mobile is not None:
        mobile = data.mobile.strip().replace(" ", "").replace("-", "")
        if mobile.startswith("+86"):
            mobile = mobile[3:]
        if mobile and not MOBILE_RE.match(mobile):
            errors.add(ErrorCode.INVALID_VALUE, "mobile", detail="11-digit mainland mobile number, e.g. 13800000001")
        values["mobile"] = mobile or None
    if data.office_phone is not None:
        phone = data.office_phone.strip().replace(" ", "")
        if phone and not OFFICE_PHONE_RE.match(phone):
            errors.add(ErrorCode.INVALID_VALUE, "officePhone", detail="e.g. 0531-86000001 or 0531-86000001-123")
        values["office_phone"] = phone or None
    if data.email is not None:
        email = data.email.strip()
        if len(email) > 254:
            errors.add(ErrorCode.TOO_LONG, "email", limit=254)
        elif email and not EMAIL_RE.match(email):
            errors.add(ErrorCode.INVALID_VALUE, "email", detail="an e-mail address, e.g. zhangwei@shandong.gov.cn")
        values["email"] = email or None
    errors.raise_if_any()
    return values


async def update_contact(uow: UnitOfWork, actor: Actor, user_id: int, data: ContactInput) -> User:
    """Change a person's contact details: the person themself, or an admin of their primary unit.

    Raises ``FORBIDDEN`` before looking at the input for anyone else; ``NOT_FOUND`` (userId)
    only to administrators.
    """
    session = uow.session
    user = await session.get(User, user_id, with_for_update=True)
    if actor.user_id != user_id:
        if not actor.is_admin:
            raise AuthError(ErrorCode.FORBIDDEN)
        if user is None:
            raise DomainError(ErrorCode.NOT_FOUND, "userId")
        if not actor.is_system_admin:
            home = (
                await session.execute(
                    select(OrgUnit)
                    .join(Position, Position.unit_id == OrgUnit.id)
                    .where(Position.user_id == user_id, Position.is_primary.is_(True))
                )
            ).scalar_one_or_none()
            if home is None:
                raise AuthError(ErrorCode.FORBIDDEN)
            actor.require_admin_of(home)
    assert user is not None
    values = validate_contact(data)
    for name, value in values.items():
        setattr(user, name, value)
    if values:
        user.version += 1
    await session.flush()
    return user


async def leaders_among(session: AsyncSession, user_ids: Sequence[int]) -> set[int]:
    """Which of ``user_ids`` hold a leadership post (one query)."""
    rows = await session.execute(
        select(Position.user_id).where(Position.user_id.in_(list(user_ids)), Position.is_leader.is_(True)).distinct()
    )
    return {r[0] for r in rows}


# ---- subtree --------------------------------------------------------------------------------------


async def descendants(session: AsyncSession, unit: OrgUnit, after_id: int | None, limit: int) -> list[OrgUnit]:
    """Units strictly below ``unit`` (any depth), by id, ``limit`` rows after ``after_id``."""
    q = (
        select(OrgUnit)
        .where(subtree_of(unit.path, is_sqlite(session)), OrgUnit.id != unit.id)
        .order_by(OrgUnit.id)
        .limit(limit)
    )
    if after_id is not None:
        q = q.where(OrgUnit.id > after_id)
    return list((await session.execute(q)).scalars())


async def members_in_subtree(session: AsyncSession, unit: OrgUnit, after_id: int | None, limit: int) -> list[Position]:
    """Positions held in ``unit`` or any unit below it, by position id."""
    q = (
        select(Position)
        .join(OrgUnit, OrgUnit.id == Position.unit_id)
        .where(subtree_of(unit.path, is_sqlite(session)))
        .order_by(Position.id)
        .limit(limit)
    )
    if after_id is not None:
        q = q.where(Position.id > after_id)
    return list((await session.execute(q)).scalars())


async def count_subtree(session: AsyncSession, unit: OrgUnit) -> int:
    """Number of units in ``unit``'s subtree, itself included (indexed prefix)."""
    q = select(func.count()).select_from(OrgUnit).where(subtree_of(unit.path, is_sqlite(session)))
    return int((await session.execute(q)).scalar_one())

"""Delegation (委托): a user's new tasks go to another user for a date range.

A delegation covers ``start_date``…``end_date`` (dates in the platform time zone,
Asia/Shanghai by default, both inclusive) and either every document type (``doc_types``
null) or the listed ones. Two live delegations of the same delegator may not overlap in
dates and types (``DELEGATION_OVERLAP``); nobody delegates to themselves
(``SELF_DELEGATION``); a delegation may not close a cycle A→B→…→A over overlapping dates
and types (``DELEGATION_CYCLE``).

Routing calls :func:`resolve_assignee` when it opens a task: chains A→B→C resolve to C,
following at most :data:`MAX_CHAIN` hops (the last user reached keeps the task); a
deactivated delegate ends the chain before them.

Concurrency: creating a delegation locks the delegator's and the delegate's user rows
(ascending id; SQLite serializes writers), so that two overlapping delegations, or A→B and
B→A, cannot both be created by racing transactions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from office_api import audit
from office_api.audit import Action
from office_api.db import UnitOfWork, utcnow
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.models import Delegation, User
from office_api.org.permissions import Actor

#: Hops followed from the original assignee (A→B→C is two).
MAX_CHAIN = 5
#: Longest delegation, in days.
MAX_DAYS = 366
MAX_REASON = 200


def local_today(timezone: str = "Asia/Shanghai") -> dt.date:
    """Today's date in the platform time zone."""
    return utcnow().astimezone(ZoneInfo(timezone)).date()


def _types_overlap(a: Sequence[str] | None, b: Sequence[str] | None) -> bool:
    return a is None or b is None or bool(set(a) & set(b))


def _dates_overlap(d: Delegation, start: dt.date, end: dt.date) -> bool:
    return d.start_date <= end and start <= d.end_date


def covers(d: Delegation, day: dt.date, doc_type: str | None) -> bool:
    """True when live delegation ``d`` applies on ``day`` to a document of ``doc_type``."""
    if d.cancelled_at is not None or not d.start_date <= day <= d.end_date:
        return False
    return d.doc_types is None or doc_type in d.doc_types


@dataclass
class DelegationInput:
    delegate_id: int
    start_date: dt.date
    end_date: dt.date
    doc_types: list[str] | None = None
    reason: str | None = None


async def _live_of(session: AsyncSession, delegator_ids: Sequence[int], since: dt.date) -> list[Delegation]:
    q = (
        select(Delegation)
        .where(
            Delegation.delegator_id.in_(list(delegator_ids)),
            Delegation.cancelled_at.is_(None),
            Delegation.end_date >= since,
        )
        .order_by(Delegation.id)
    )
    return list((await session.execute(q)).scalars())


async def create_delegation(
    uow: UnitOfWork, actor: Actor, data: DelegationInput, *, today: dt.date | None = None
) -> Delegation:
    """``actor`` delegates their tasks to ``data.delegate_id`` (see the module docstring).

    Errors: ``SELF_DELEGATION``; ``NOT_FOUND``/``INACTIVE`` on ``delegateId``;
    ``INVALID_VALUE`` on ``endDate`` (before the start or today, or longer than a year),
    ``docTypes`` (empty or repeated), ``TOO_LONG`` on ``reason``; ``DELEGATION_OVERLAP``;
    ``DELEGATION_CYCLE``. Writes a ``delegation.create`` audit row.
    """
    session = uow.session
    today = today or local_today()
    if data.delegate_id == actor.user_id:
        raise DomainError(ErrorCode.SELF_DELEGATION, "delegateId")
    ids = sorted({actor.user_id, data.delegate_id})
    locked = {
        u.id: u
        for u in (await session.execute(select(User).where(User.id.in_(ids)).order_by(User.id).with_for_update()))
        .scalars()
        .all()
    }
    errors = ErrorCollector()
    delegate = locked.get(data.delegate_id)
    if delegate is None:
        errors.add(ErrorCode.NOT_FOUND, "delegateId")
    elif not delegate.is_active:
        errors.add(ErrorCode.INACTIVE, "delegateId", detail=delegate.display_name)
    if data.end_date < data.start_date:
        errors.add(ErrorCode.INVALID_VALUE, "endDate", detail="before the start date")
    elif data.end_date < today:
        errors.add(ErrorCode.INVALID_VALUE, "endDate", detail="in the past")
    elif (data.end_date - data.start_date).days + 1 > MAX_DAYS:
        errors.add(ErrorCode.INVALID_VALUE, "endDate", detail=f"at most {MAX_DAYS} days")
    doc_types = None
    if data.doc_types is not None:
        if not data.doc_types:
            errors.add(ErrorCode.INVALID_VALUE, "docTypes", detail="omit it for every type, or list at least one")
        elif len(set(data.doc_types)) != len(data.doc_types):
            errors.add(ErrorCode.DUPLICATE, "docTypes", detail="type listed twice")
        doc_types = sorted(set(data.doc_types))
    reason = (data.reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        errors.add(ErrorCode.TOO_LONG, "reason", limit=MAX_REASON)
    errors.raise_if_any()
    for other in await _live_of(session, [actor.user_id], data.start_date):
        if _dates_overlap(other, data.start_date, data.end_date) and _types_overlap(other.doc_types, doc_types):
            raise DomainError(ErrorCode.DELEGATION_OVERLAP, "startDate", detail=str(other.id))
    await _refuse_cycle(session, actor.user_id, data.delegate_id, data.start_date, data.end_date, doc_types)
    delegation = Delegation(
        delegator_id=actor.user_id,
        delegate_id=data.delegate_id,
        start_date=data.start_date,
        end_date=data.end_date,
        doc_types=doc_types,
        reason=reason,
    )
    session.add(delegation)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.DELEGATION_CREATE,
        target_type="Delegation",
        target_id=delegation.id,
        after={
            "delegatorId": actor.user_id,
            "delegateId": data.delegate_id,
            "startDate": data.start_date.isoformat(),
            "endDate": data.end_date.isoformat(),
            "docTypes": doc_types,
        },
    )
    return delegation


async def _refuse_cycle(
    session: AsyncSession,
    delegator_id: int,
    delegate_id: int,
    start: dt.date,
    end: dt.date,
    doc_types: list[str] | None,
) -> None:
    """``DELEGATION_CYCLE`` when live delegations from ``delegate_id`` lead back to the
    delegator over dates and types overlapping the new one (one query per hop)."""
    frontier = {delegate_id}
    seen = {delegate_id}
    for _ in range(MAX_CHAIN * 4):
        if not frontier:
            return
        nxt: set[int] = set()
        for d in await _live_of(session, sorted(frontier), start):
            if not (_dates_overlap(d, start, end) and _types_overlap(d.doc_types, doc_types)):
                continue
            if d.delegate_id == delegator_id:
                raise DomainError(ErrorCode.DELEGATION_CYCLE, "delegateId")
            if d.delegate_id not in seen:
                seen.add(d.delegate_id)
                nxt.add(d.delegate_id)
        frontier = nxt


async def cancel_delegation(uow: UnitOfWork, actor: Actor, delegation_id: int) -> Delegation:
    """End a delegation now; tasks already routed to the delegate stay with them.

    Only the delegator may cancel (``NOT_FOUND`` for anyone else); ``INVALID_STATE`` when
    already cancelled. Writes a ``delegation.cancel`` audit row.
    """
    session = uow.session
    d = (
        await session.execute(select(Delegation).where(Delegation.id == delegation_id).with_for_update())
    ).scalar_one_or_none()
    if d is None or d.delegator_id != actor.user_id:
        raise DomainError(ErrorCode.NOT_FOUND, "id")
    if d.cancelled_at is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "id", detail="cancelled")
    d.cancelled_at = utcnow()
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.DELEGATION_CANCEL,
        target_type="Delegation",
        target_id=d.id,
        before={"cancelledAt": None},
        after={"cancelledAt": d.cancelled_at.isoformat()},
    )
    await session.flush()
    return d


async def delegations_of(
    session: AsyncSession, user_id: int, *, received: bool, include_ended: bool, after_id: int | None, limit: int
) -> list[Delegation]:
    """Delegations given (or ``received``) by ``user_id``, newest first; live ones only
    (not cancelled, not ended before today) unless ``include_ended``."""
    column = Delegation.delegate_id if received else Delegation.delegator_id
    q = select(Delegation).where(column == user_id).order_by(Delegation.id.desc()).limit(limit)
    if not include_ended:
        q = q.where(Delegation.cancelled_at.is_(None), Delegation.end_date >= local_today())
    if after_id is not None:
        q = q.where(Delegation.id < after_id)
    return list((await session.execute(q)).scalars())


async def visible_delegations(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> dict[int, Delegation]:
    """The delegations among ``ids`` that ``actor`` gave or received."""
    rows = await session.execute(
        select(Delegation).where(
            Delegation.id.in_(list(ids)),
            or_(Delegation.delegator_id == actor.user_id, Delegation.delegate_id == actor.user_id),
        )
    )
    return {d.id: d for d in rows.scalars()}


async def resolve_assignee(
    session: AsyncSession, user_id: int, doc_type: str | None, day: dt.date
) -> tuple[int, int | None]:
    """Who gets a task meant for ``user_id`` on ``day``: ``(assignee, on_behalf_of)``.

    ``on_behalf_of`` is ``user_id`` when delegation moved the task, else None. Follows at
    most :data:`MAX_CHAIN` hops; an inactive delegate, or a user seen before, stops it.
    """
    current = user_id
    seen = {user_id}
    for _ in range(MAX_CHAIN):
        rows = (
            await session.execute(
                select(Delegation, User.is_active)
                .join(User, User.id == Delegation.delegate_id)
                .where(
                    Delegation.delegator_id == current,
                    Delegation.cancelled_at.is_(None),
                    Delegation.start_date <= day,
                    Delegation.end_date >= day,
                )
                .order_by(Delegation.id)
            )
        ).all()
        nxt = next((d.delegate_id for d, active in rows if active and covers(d, day, doc_type)), None)
        if nxt is None or nxt in seen:
            break
        seen.add(nxt)
        current = nxt
    return current, (user_id if current != user_id else None)

"""Duties of positions (主要负责人, 副职, 文书) and their resolution for routing.

A position carries any set of :class:`Duty` values. A unit has at most one head: setting a
head where another position already is one is ``HEAD_TAKEN``. The unit row is locked first
(``FOR UPDATE`` on PostgreSQL; SQLite serializes writers), and a partial unique index on
``position_duties(unit_id) WHERE duty = 'head'`` backs the rule when two transactions race.

:func:`resolve_duty` is what routing asks: the active users holding a duty in an active
unit, in position order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from office_api import audit
from office_api.audit import Action
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import Duty, OrgUnit, Position, PositionDuty, User
from office_api.org.permissions import Actor


def _normalize(duties: Iterable[Duty | str]) -> list[Duty]:
    """Distinct duties in their declaration order."""
    wanted = {Duty(d) for d in duties}
    return [d for d in Duty if d in wanted]


async def _write_duties(session: AsyncSession, position: Position, duties: Sequence[Duty], field: str) -> list[Duty]:
    """Replace ``position``'s duties by ``duties`` (the unit row must already be locked)."""
    duties = _normalize(duties)
    if Duty.HEAD in duties:
        other = (
            await session.execute(
                select(PositionDuty.position_id).where(
                    PositionDuty.unit_id == position.unit_id,
                    PositionDuty.duty == Duty.HEAD.value,
                    PositionDuty.position_id != position.id,
                )
            )
        ).first()
        if other is not None:
            raise DomainError(ErrorCode.HEAD_TAKEN, field, detail=f"position {other[0]}")
    await session.execute(delete(PositionDuty).where(PositionDuty.position_id == position.id))
    session.add_all(PositionDuty(position_id=position.id, unit_id=position.unit_id, duty=d.value) for d in duties)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if "position_duties" in str(exc.orig) or "uq_position_duties_one_head" in str(exc.orig):
            raise DomainError(ErrorCode.HEAD_TAKEN, field, detail="another position") from None
        raise
    return duties


async def lock_unit(session: AsyncSession, unit_id: int) -> OrgUnit | None:
    """The unit row, locked for update (serializes duty changes of one unit)."""
    return (await session.execute(select(OrgUnit).where(OrgUnit.id == unit_id).with_for_update())).scalar_one_or_none()


async def set_position_duties(
    uow: UnitOfWork, actor: Actor | None, position_id: int, duties: Sequence[Duty | str]
) -> Position:
    """Replace the duties of ``position_id`` (an empty list clears them).

    The actor must administer the position's unit (``FORBIDDEN``, checked before anything
    else is revealed). ``NOT_FOUND`` for a missing position, ``INACTIVE`` when its unit
    is deactivated, ``HEAD_TAKEN`` when another position of the unit is its head. Writes a
    ``position.duties`` audit row with the duty lists before and after (when ``actor`` is
    given; ``actor=None`` is the demo loader and the importer).
    """
    session = uow.session
    position = await session.get(Position, position_id)
    if position is None:
        raise DomainError(ErrorCode.NOT_FOUND, "positionId")
    unit = await lock_unit(session, position.unit_id)
    assert unit is not None
    if actor is not None:
        actor.require_admin_of(unit)
    if not unit.is_active:
        raise DomainError(ErrorCode.INACTIVE, "positionId", detail=unit.name)
    before = [r.duty for r in await duties_of_positions(session, [position.id])]
    after = await _write_duties(session, position, duties, "duties")
    if actor is not None:  # loaders (demo, import) write their own records
        audit.record(
            session,
            actor_id=actor.user_id,
            action=Action.POSITION_DUTIES,
            target_type="Position",
            target_id=position.id,
            before={"duties": before},
            after={"duties": [d.value for d in after]},
        )
    return position


async def set_duties_in_locked_unit(session: AsyncSession, position: Position, duties: Sequence[Duty | str]) -> None:
    """Give a new position its duties (``assign_position``): locks the unit, then writes."""
    await lock_unit(session, position.unit_id)
    await _write_duties(session, position, duties, "duties")


async def duties_of_positions(session: AsyncSession, position_ids: Sequence[int]) -> list[PositionDuty]:
    """The duties of several positions (one query), in declaration order per position."""
    rows = (
        await session.execute(
            select(PositionDuty).where(PositionDuty.position_id.in_(list(position_ids))).order_by(PositionDuty.id)
        )
    ).scalars()
    order = {d.value: i for i, d in enumerate(Duty)}
    return sorted(rows, key=lambda r: (r.position_id, order.get(r.duty, 99)))


async def duty_holders_of_units(session: AsyncSession, unit_ids: Sequence[int]) -> list[tuple[int, str, int]]:
    """``(unit_id, duty, user_id)`` of active users carrying duties in active units (one query),
    by unit then position id."""
    rows = await session.execute(
        select(PositionDuty.unit_id, PositionDuty.duty, Position.user_id)
        .join(Position, Position.id == PositionDuty.position_id)
        .join(User, User.id == Position.user_id)
        .join(OrgUnit, OrgUnit.id == PositionDuty.unit_id)
        .where(
            PositionDuty.unit_id.in_(list(unit_ids)),
            User.is_active.is_(True),
            OrgUnit.is_active.is_(True),
        )
        .order_by(PositionDuty.unit_id, Position.id)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def resolve_duty(session: AsyncSession, unit_id: int, duty: Duty | str) -> list[int]:
    """The ids of the active users carrying ``duty`` in ``unit_id``, by position id.

    Empty when the unit is missing or deactivated, or nobody active holds the duty
    (routing then falls back to a person named explicitly). A head resolves to at most one.
    """
    wanted = Duty(duty).value
    out: list[int] = []
    for _, d, user_id in await duty_holders_of_units(session, [unit_id]):
        if d == wanted and user_id not in out:
            out.append(user_id)
    return out

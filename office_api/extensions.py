"""Extension requests (延期申请) of deadline clocks and their decisions.

DOMAIN §5.2–§5.3: extensions are requested and decided *before* the deadline, with a reason, within what
the policy allows (Shandong 12345: up to 10 working days; provincial complaint line: one
7-working-day extension), and approved by the assigning body (the policy's
``extension_approver``: the assigner, the holder unit's head, or the General Office).
Approval adds the working days to the clock (``office_api.deadlines.extend_clock``).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from messaging.models import NotificationKind
from messaging.outbox import Publisher
from office_api.config import Settings
from office_api.db import Base, UnitOfWork, UTCDateTime, utcnow
from office_api.deadlines import Deadline, DeadlineStatus, extend_clock
from office_api.errors import DomainError, ErrorCode
from office_api.org.permissions import Actor
from office_api.reminders import (
    approvers,
    clean_text,
    clock_of,
    due_text,
    involved,
    may_hold,
    messages_for,
    open_clock_for,
    send,
)
from office_api.sla import MAX_LIMIT, SlaPolicy, TimeUnit
from office_api.workdays import load_calendar

REASON_MAX, NOTE_MAX = 500, 500


class ExtensionStatus(StrEnum):
    """``pending`` until decided: ``approved`` or ``refused`` by an approver, or ``lapsed`` when
    the deadline closed (met, missed or cancelled) first, with nothing left to extend
    (:func:`lapse_pending`)."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    LAPSED = "lapsed"


class ExtensionRequest(Base):
    """A holder's request for more working days (延期申请) and its decision.

    ``due_on_before`` is the due date when requested; ``due_on_after`` the due date the
    approval gave (null until approved).
    """

    __tablename__ = "extension_requests"
    __table_args__ = (Index("ix_extension_requests_deadline_status", "deadline_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    working_days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(REASON_MAX))
    status: Mapped[str] = mapped_column(String(12), default=ExtensionStatus.PENDING.value)
    due_on_before: Mapped[dt.date | None] = mapped_column(Date)
    due_on_after: Mapped[dt.date | None] = mapped_column(Date)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---- extension requests (延期申请) ----------------------------------------------------------


async def lapse_pending(uow: UnitOfWork, deadline_id: int, at: dt.datetime) -> int:
    """End the pending extension requests of a deadline that has just closed or been cancelled:
    they become ``lapsed`` at ``at`` (``decided_at``; no decider, no note) and can no longer be
    decided (``decide_extension`` answers ``DEADLINE_CLOSED``). To be called, in the same
    transaction, by ``deadlines.close_clock`` and ``deadlines.cancel_clock`` when they close an
    open clock. Returns how many requests lapsed (0 or 1: one pending request at a time)."""
    rows = await uow.session.execute(
        select(ExtensionRequest)
        .where(ExtensionRequest.deadline_id == deadline_id, ExtensionRequest.status == ExtensionStatus.PENDING.value)
        .with_for_update()
    )
    lapsed = 0
    for req in rows.scalars():
        req.status, req.decided_at = ExtensionStatus.LAPSED.value, at
        lapsed += 1
    if lapsed:
        await uow.session.flush()
    return lapsed


def shown_status(req: ExtensionRequest, d: Deadline) -> str:
    """The status to show: a request still pending on a closed deadline (closed before
    :func:`lapse_pending` was in place) is ``lapsed``, as of the deadline's ``closed_at``."""
    if req.status == ExtensionStatus.PENDING.value and not d.is_open:
        return ExtensionStatus.LAPSED.value
    return req.status


def _granted_left(d: Deadline, policy: SlaPolicy | None) -> int:
    """Working days still grantable to a clock counted in working days: the least of

    * the policy's ``extension_limit`` minus what was granted; without a policy, the clock's own
      limit minus what was granted (an extension never more than doubles an ad-hoc limit, e.g. a
      supervision item given ``workingDays: 10`` may be extended by 10 at most);
    * the room left under the absurd-limit cap (``sla.MAX_LIMIT`` of the clock's unit) for the
      whole count, limit plus extensions, so that an approval always yields a date.
    """
    cap = policy.extension_limit if policy else d.limit
    room = MAX_LIMIT[TimeUnit(d.unit)] - (d.limit + d.extension)
    return max(0, min(cap - d.extension, room))


async def request_extension(
    uow: UnitOfWork,
    broker: Publisher,
    settings: Settings,
    actor: Actor,
    deadline_id: int,
    working_days: int,
    reason: str,
    now: dt.datetime,
) -> ExtensionRequest:
    """The holder asks for ``working_days`` more working days, with a ``reason`` (1–500 characters).

    Rules (DOMAIN §5.2, §5.3): only the holder (:func:`may_hold`); only while the clock is open
    and before its due instant (``EXTENSION_AFTER_DEADLINE``); a clock counted in days, working or
    calendar (``INVALID_VALUE`` on ``deadlineId`` for hours), and running (``INVALID_STATE`` while
    stopped); the extension is always in working days (``deadlines.extend_clock``); 1 ≤ ``working_days`` ≤ what
    is still grantable (:func:`_granted_left`: the policy's ``extension_limit``, or the clock's own
    limit without a policy, minus what was granted, and never past the 1000-working-day cap;
    ``EXTENSION_OVER_LIMIT`` on ``workingDays`` naming what is left); one pending request at a
    time (``INVALID_STATE``); someone must be able to decide (``NO_ASSIGNEE``). The approvers
    (:func:`approvers`) get ``EXTENSION_REQUESTED``.
    Errors otherwise: ``NOT_FOUND``, ``FORBIDDEN``, ``DEADLINE_CLOSED``, ``REQUIRED`` /
    ``TOO_LONG`` on ``reason``.
    """
    session = uow.session
    d = await open_clock_for(session, settings, actor, deadline_id, may_hold)
    if d.unit == TimeUnit.HOURS.value:
        raise DomainError(ErrorCode.INVALID_VALUE, "deadlineId", detail="a limit in hours is not extended")
    if d.status != DeadlineStatus.RUNNING.value:
        raise DomainError(ErrorCode.INVALID_STATE, "deadlineId", detail="the clock is stopped; ask once it runs again")
    if d.due_at is not None and now >= d.due_at:
        raise DomainError(ErrorCode.EXTENSION_AFTER_DEADLINE, "deadlineId", due=due_text(d))
    policy = await session.get(SlaPolicy, d.policy_id) if d.policy_id else None
    left = _granted_left(d, policy)
    if working_days < 1:
        raise DomainError(ErrorCode.INVALID_VALUE, "workingDays", detail="at least 1 working day")
    if working_days > left:
        raise DomainError(ErrorCode.EXTENSION_OVER_LIMIT, "workingDays", left=left)
    text = clean_text(reason, "reason", REASON_MAX)
    assert text is not None
    pending = (
        await session.execute(
            select(ExtensionRequest.id).where(
                ExtensionRequest.deadline_id == d.id, ExtensionRequest.status == ExtensionStatus.PENDING.value
            )
        )
    ).first()
    if pending is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "deadlineId", detail="an extension request is already pending")
    deciders = await approvers(session, settings, d, policy)
    if not deciders:
        raise DomainError(ErrorCode.NO_ASSIGNEE, "deadlineId", detail="nobody may approve an extension of this item")
    row = ExtensionRequest(
        deadline_id=d.id,
        requested_by_id=actor.user_id,
        working_days=working_days,
        reason=text,
        status=ExtensionStatus.PENDING.value,
        due_on_before=d.due_on,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await send(
        uow,
        broker,
        messages_for(
            d,
            deciders,
            NotificationKind.EXTENSION_REQUESTED,
            f"延期申请：{actor.display_name} 申请延期 {working_days} 个工作日（原定 {due_text(d)} 到期）",
            text,
            actor_id=actor.user_id,
            extra={"extensionRequestId": row.id, "workingDays": working_days},
        ),
    )
    return row


async def decide_extension(
    uow: UnitOfWork,
    broker: Publisher,
    settings: Settings,
    actor: Actor,
    request_id: int,
    approve: bool,
    note: str | None,
    now: dt.datetime,
) -> tuple[ExtensionRequest, Deadline]:
    """Approve or refuse a pending extension request, with an optional ``note`` (≤ 500 characters).

    Only an approver of the clock (:func:`approvers`, evaluated now) decides. Approval adds the
    working days to the clock (``deadlines.extend_clock``: the due date moves by that many
    working days and the reminder cards start over; a supervision unit's clock moved past its
    item's due date moves the item's clock to the same date, ``supervision.follow_unit_extension``).
    Approval must come before the due instant
    (the issue: extensions are "approved or refused before the deadline"), so an overdue clock is
    never made on time after the fact: approving later is ``EXTENSION_AFTER_DEADLINE`` on
    ``requestId`` (the request stays pending; refusing it is still allowed). The requester
    gets ``EXTENSION_APPROVED`` or ``EXTENSION_REFUSED``; on approval the assigner too.
    Errors: ``NOT_FOUND`` on ``requestId``, ``FORBIDDEN``, ``INVALID_STATE`` (already
    decided), ``DEADLINE_CLOSED`` (the deadline closed first: the request lapsed, approving or
    refusing it alike), ``EXTENSION_AFTER_DEADLINE``, ``EXTENSION_OVER_LIMIT``
    (another grant used the room),
    ``TOO_LONG`` on ``note``.
    """
    session = uow.session
    req = (
        await session.execute(select(ExtensionRequest).where(ExtensionRequest.id == request_id).with_for_update())
    ).scalar_one_or_none()
    if req is None:
        raise DomainError(ErrorCode.NOT_FOUND, "requestId")
    d = await clock_of(session, req.deadline_id)
    policy = await session.get(SlaPolicy, d.policy_id) if d.policy_id else None
    if actor.user_id not in await approvers(session, settings, d, policy):
        visible = await involved(session, settings, actor, d)
        raise DomainError(ErrorCode.FORBIDDEN if visible else ErrorCode.NOT_FOUND, "requestId")
    if shown_status(req, d) == ExtensionStatus.LAPSED.value:
        raise DomainError(ErrorCode.DEADLINE_CLOSED, "requestId", detail=d.status)
    if req.status != ExtensionStatus.PENDING.value:
        raise DomainError(ErrorCode.INVALID_STATE, "requestId", detail=f"already {req.status}")
    text = clean_text(note, "note", NOTE_MAX, required=False)
    if approve:
        if d.due_at is not None and now >= d.due_at:
            raise DomainError(ErrorCode.EXTENSION_AFTER_DEADLINE, "requestId", due=due_text(d))
        left = _granted_left(d, policy)
        if req.working_days > left:
            raise DomainError(ErrorCode.EXTENSION_OVER_LIMIT, "requestId", left=left)
        cal = await load_calendar(session)
        await extend_clock(uow, cal, d, req.working_days)
        req.due_on_after = d.due_on
        if d.subject_type == "supervision_unit":
            from documents.supervision import follow_unit_extension  # the item's date follows its unit's

            await follow_unit_extension(uow, cal, d)
    req.status = (ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED).value
    req.decided_by_id, req.decided_at, req.note = actor.user_id, now, text
    await session.flush()
    if approve:
        title = f"延期已批准：延期 {req.working_days} 个工作日，{due_text(d)} 到期"
        recipients = [req.requested_by_id, *([d.assigner_user_id] if d.assigner_user_id else [])]
        kind = NotificationKind.EXTENSION_APPROVED
    else:
        title = f"延期未批准：仍于 {due_text(d)} 到期"
        recipients = [req.requested_by_id]
        kind = NotificationKind.EXTENSION_REFUSED
    await send(
        uow,
        broker,
        messages_for(
            d,
            recipients,
            kind,
            title,
            text or "",
            actor_id=actor.user_id,
            extra={"extensionRequestId": req.id, "workingDays": req.working_days},
        ),
    )
    return req, d


async def extension_requests(
    session: AsyncSession, settings: Settings, actor: Actor, deadline_id: int
) -> list[ExtensionRequest]:
    """The extension requests of a clock, oldest first, for anyone involved in it (holder,
    supervisor, approver); ``NOT_FOUND`` otherwise. A request left pending on a closed clock is
    shown ``lapsed`` (:func:`shown_status`)."""
    d = await clock_of(session, deadline_id, lock=False)
    if not await involved(session, settings, actor, d):
        raise DomainError(ErrorCode.NOT_FOUND, "deadlineId")
    rows = await session.execute(
        select(ExtensionRequest).where(ExtensionRequest.deadline_id == d.id).order_by(ExtensionRequest.id)
    )
    out = list(rows.scalars())
    for req in out:
        if shown_status(req, d) != req.status:
            session.expunge(req)  # shown as lapsed, never written back from here
            req.status, req.decided_at = ExtensionStatus.LAPSED.value, d.closed_at
    return out

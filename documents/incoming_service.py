"""Use cases of the incoming procedure (收文办理, REG Art. 24; DOMAIN §1.5) for one recipient
unit's copy of a dispatched document.

The states, the allowed steps and who takes them are the pure table of
:mod:`documents.incoming`. Each function here runs in the caller's unit of work, locks the
incoming row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serializes write transactions
with ``BEGIN IMMEDIATE``) so that concurrent steps end with exactly one winner, writes an
:class:`~documents.incoming_models.IncomingAction` history entry (actor, time, opinion),
bumps ``version`` and tells whoever acts next (one notify call). Errors, on the input
field concerned: ``NOT_FOUND`` (no such copy, or one the actor cannot see), ``FORBIDDEN``
(visible but not the actor's step), ``INVALID_STATE`` (the table refuses the step in the
current state; the detail says why), plus the step's own field errors.

A copy of a revoked document (REG Art. 33) may only be closed (办结, from any state that is
not final): every other step is ``INVALID_STATE`` on ``incomingId`` with the detail "the
document was revoked …". A repealed document's copies go on as usual (it was valid until
its repeal date). :func:`record_void` writes the revocation or repeal onto the copies and
tells the people holding them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from documents import clocks
from documents.incoming import ACTORS, IncomingState, IncomingStep, Refusal, Role, next_state
from documents.incoming_models import (
    IncomingAction,
    IncomingCounter,
    IncomingDocument,
    IncomingHandler,
    incoming_visible_to,
)
from documents.models import Document
from documents.types import DocumentStatus, RecipientKind, Urgency
from messaging.models import NotificationKind, document_priority
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.duties import duty_holders_of_units, resolve_duty
from office_api.org.models import Duty, OrgUnit, Position, User
from office_api.org.permissions import Actor
from office_api.text import trimmed

TIMEZONE = ZoneInfo("Asia/Shanghai")
MAX_OPINION = 2_000
MAX_RESULT = 10_000
MAX_HANDLERS = 20
NOTIFICATION_EXCERPT = 200


def incoming_number(year: int, seq: int) -> str:
    """The 收文编号 as shown: ``收文〔2026〕5号`` (year in hexagonal brackets, no leading zero)."""
    return f"收文〔{year}〕{seq}号"


def _excerpt(text: str) -> str:
    return text if len(text) <= NOTIFICATION_EXCERPT else text[: NOTIFICATION_EXCERPT - 1] + "…"


def _text(value: str | None, field: str, *, required: bool, limit: int = MAX_OPINION) -> str | None:
    text = trimmed(value)
    if required and not text:
        raise DomainError(ErrorCode.REQUIRED, field)
    if len(text) > limit:
        raise DomainError(ErrorCode.TOO_LONG, field, limit=limit)
    return text or None


# ---- loading, permission, transition ----------------------------------------------------


async def _lock(session: AsyncSession, incoming_id: int) -> IncomingDocument:
    inc = (
        await session.execute(select(IncomingDocument).where(IncomingDocument.id == incoming_id).with_for_update())
    ).scalar_one_or_none()
    if inc is None:
        raise DomainError(ErrorCode.NOT_FOUND, "incomingId")
    return inc


async def _roles(session: AsyncSession, actor: Actor, inc: IncomingDocument) -> set[Role]:
    roles = set()
    if actor.user_id in await resolve_duty(session, inc.unit_id, Duty.CLERK):
        roles.add(Role.CLERK)
    if inc.leader_id == actor.user_id:
        roles.add(Role.LEADER)
    handler = (
        await session.execute(
            select(IncomingHandler.id).where(
                IncomingHandler.incoming_id == inc.id, IncomingHandler.user_id == actor.user_id
            )
        )
    ).first()
    if handler is not None:
        roles.add(Role.HANDLER)
    return roles


async def _begin(
    session: AsyncSession, actor: Actor, incoming_id: int, step: IncomingStep, *, handlers_left: int | None = None
) -> tuple[IncomingDocument, IncomingState]:
    """Lock the copy, check the actor may take ``step`` and that the table allows it now
    (only close when the document was revoked); the copy and the state it moves to."""
    inc = await _lock(session, incoming_id)
    if not ACTORS[step] & await _roles(session, actor, inc):
        visible = (
            await session.execute(
                select(IncomingDocument.id).where(IncomingDocument.id == inc.id, incoming_visible_to(actor.user_id))
            )
        ).first()
        raise DomainError(ErrorCode.FORBIDDEN if visible else ErrorCode.NOT_FOUND, "incomingId")
    doc = await _document(session, inc)
    target = next_state(
        IncomingState(inc.state),
        step,
        kind=RecipientKind(inc.kind),
        handlers_left=handlers_left or 0,
        revoked=doc is not None and doc.status == DocumentStatus.REVOKED.value,
    )
    if isinstance(target, Refusal):
        raise DomainError(ErrorCode.INVALID_STATE, "incomingId", detail=target.reason)
    return inc, target


def _record(
    session: AsyncSession,
    inc: IncomingDocument,
    actor: Actor,
    step: IncomingStep,
    state: IncomingState,
    now: dt.datetime,
    opinion: str | None = None,
) -> None:
    inc.state = state.value
    inc.version += 1
    inc.updated_at = now
    session.add(
        IncomingAction(
            incoming_id=inc.id,
            actor_id=actor.user_id,
            action=step.value,
            state=state.value,
            opinion=opinion,
            created_at=now,
        )
    )


async def _document(session: AsyncSession, inc: IncomingDocument) -> Document | None:
    """The dispatched document; None for an external document registered on arrival."""
    return await session.get(Document, inc.document_id) if inc.document_id is not None else None


def _title(inc: IncomingDocument, doc: Document | None) -> str:
    return doc.title if doc is not None else inc.external_title or ""


def _urgency(inc: IncomingDocument, doc: Document | None) -> str:
    return doc.urgency if doc is not None else inc.external_urgency or Urgency.NORMAL.value


def _message(
    user_id: int,
    kind: NotificationKind,
    inc: IncomingDocument,
    doc: Document | None,
    actor: Actor,
    title: str,
    body: str,
) -> Message:
    """A notification about the copy ``inc``. Its priority is the document's urgency for the
    kinds asking to act (``messaging.models.document_priority``), and its ``unit_id`` the
    recipient unit of the copy, for every incoming kind: the unit the clerks and handlers act
    for, and, for the sender's INCOMING_RECEIVED / RETURNED / REPLIED, the unit that did it
    (so that the sender's receipts roll up per recipient unit)."""
    payload: dict[str, object] = {"unitId": inc.unit_id, "state": inc.state}
    if doc is not None:
        payload["documentId"] = doc.id
    return Message(
        user_id=user_id,
        kind=kind.value,
        title=title,
        body=body,
        subject_type="IncomingDocument",
        subject_id=inc.id,
        actor_id=actor.user_id,
        payload=payload,
        priority=document_priority(kind, _urgency(inc, doc)),
        unit_id=inc.unit_id,
    )


async def _your_turn(
    session: AsyncSession, inc: IncomingDocument, doc: Document | None, actor: Actor, user_ids: Sequence[int], what: str
) -> list[Message]:
    """INCOMING_YOUR_TURN to ``user_ids`` but the actor (who knows already)."""
    return [
        _message(
            uid,
            NotificationKind.INCOMING_YOUR_TURN,
            inc,
            doc,
            actor,
            f"收文待{what}：{_title(inc, doc)}",
            f"{actor.display_name} 已处理《{_title(inc, doc)}》，请{what}",
        )
        for uid in dict.fromkeys(user_ids)
        if uid != actor.user_id
    ]


async def _clerks(session: AsyncSession, inc: IncomingDocument) -> list[int]:
    return await resolve_duty(session, inc.unit_id, Duty.CLERK)


async def _unit_name(session: AsyncSession, unit_id: int) -> str:
    unit = await session.get(OrgUnit, unit_id)
    return unit.name if unit else str(unit_id)


def _senders(doc: Document | None, inc: IncomingDocument) -> list[int]:
    """Who is told of a return or a reply: the drafter and whoever dispatched the document
    (nobody for an external document: its sender is not on the platform)."""
    return list(dict.fromkeys([doc.drafter_id, inc.dispatched_by_id])) if doc is not None else []


# ---- the steps ---------------------------------------------------------------------------


async def receive(
    uow: UnitOfWork, broker: Publisher, actor: Actor, incoming_id: int, *, now: dt.datetime
) -> IncomingDocument:
    """签收 (REG Art. 24(1)): a clerk of the recipient unit signs for the copy; records
    ``received_at`` (``now``, UTC) and ``received_by``. pending_receipt → received. The other
    clerks get INCOMING_YOUR_TURN (登记); the sending side (the drafter and whoever dispatched
    it, as for a return or a reply) gets INCOMING_RECEIVED, ``unit_id`` = the recipient unit."""
    session = uow.session
    inc, target = await _begin(session, actor, incoming_id, IncomingStep.RECEIVE)
    inc.received_at = now
    inc.received_by_id = actor.user_id
    _record(session, inc, actor, IncomingStep.RECEIVE, target, now)
    doc = await _document(session, inc)
    messages = await _your_turn(session, inc, doc, actor, await _clerks(session, inc), "登记")
    senders = [uid for uid in _senders(doc, inc) if uid != actor.user_id]
    if senders:
        unit = await _unit_name(session, inc.unit_id)
        messages += [
            _message(
                uid,
                NotificationKind.INCOMING_RECEIVED,
                inc,
                doc,
                actor,
                f"{unit}已签收：{_title(inc, doc)}",
                f"{actor.display_name} 于 {now.astimezone(TIMEZONE):%Y-%m-%d %H:%M} 签收",
            )
            for uid in senders
        ]
    await notify(uow, broker, messages)
    await session.flush()
    return inc


async def next_serial(session: AsyncSession, unit_id: int, year: int) -> int:
    """Increment and return the 收文编号 counter of (``unit_id``, ``year``), creating it at 0.

    The counter row stays locked until the transaction ends, so concurrent registrations in
    one unit get consecutive numbers and a rolled-back one gives its number back (gapless).
    """
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(IncomingCounter)
    await session.execute(ins.values(unit_id=unit_id, year=year, last_seq=0).on_conflict_do_nothing())
    result = await session.execute(
        update(IncomingCounter)
        .where(IncomingCounter.unit_id == unit_id, IncomingCounter.year == year)
        .values(last_seq=IncomingCounter.last_seq + 1)
        .returning(IncomingCounter.last_seq)
    )
    return int(result.scalar_one())


async def register(
    uow: UnitOfWork, broker: Publisher, actor: Actor, incoming_id: int, *, now: dt.datetime
) -> IncomingDocument:
    """登记 (REG Art. 24(2)): give the copy the unit's next 收文编号 for the Asia/Shanghai
    year of ``now`` (gapless per unit and year). received → registered."""
    session = uow.session
    inc, target = await _begin(session, actor, incoming_id, IncomingStep.REGISTER)
    year = now.astimezone(TIMEZONE).year
    inc.serial_year = year
    inc.serial_seq = await next_serial(session, inc.unit_id, year)
    inc.registered_at = now
    _record(session, inc, actor, IncomingStep.REGISTER, target, now, incoming_number(year, inc.serial_seq))
    doc = await _document(session, inc)
    await notify(uow, broker, await _your_turn(session, inc, doc, actor, await _clerks(session, inc), "初审"))
    await session.flush()
    return inc


async def precheck(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    incoming_id: int,
    *,
    accept: bool,
    opinion: str | None,
    now: dt.datetime,
) -> IncomingDocument:
    """初审 (REG Art. 24(3)): accept the copy (registered → accepted), or return it to the
    sender with reasons (``opinion`` required: ``REQUIRED``; registered → returned_to_sender;
    the drafter and the dispatcher get INCOMING_RETURNED)."""
    session = uow.session
    text = _text(opinion, "opinion", required=not accept)
    step = IncomingStep.ACCEPT if accept else IncomingStep.RETURN
    inc, target = await _begin(session, actor, incoming_id, step)
    doc = await _document(session, inc)
    if accept:
        _record(session, inc, actor, step, target, now, text)
        messages = await _your_turn(session, inc, doc, actor, await _clerks(session, inc), "拟办")
    else:
        assert text is not None
        inc.returned_reason = text
        inc.returned_at = now
        _record(session, inc, actor, step, target, now, text)
        unit = await _unit_name(session, inc.unit_id)
        messages = [
            _message(
                uid,
                NotificationKind.INCOMING_RETURNED,
                inc,
                doc,
                actor,
                f"被退回：{_title(inc, doc)}",
                f"{unit} {actor.display_name}：{_excerpt(text)}",
            )
            for uid in _senders(doc, inc)
        ]
    await notify(uow, broker, messages)
    await session.flush()
    return inc


async def unit_leaders(session: AsyncSession, unit_id: int) -> list[int]:
    """Active leaders of a unit: its head, its deputy heads, then other leader posts (by position id)."""
    out = await resolve_duty(session, unit_id, Duty.HEAD)
    out += [u for u in await resolve_duty(session, unit_id, Duty.DEPUTY_HEAD) if u not in out]
    rows = await session.execute(
        select(Position.user_id)
        .join(User, User.id == Position.user_id)
        .where(Position.unit_id == unit_id, Position.is_leader.is_(True), User.is_active.is_(True))
        .order_by(Position.id)
    )
    out += [u for u in rows.scalars() if u not in out]
    return out


async def propose(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    incoming_id: int,
    *,
    opinion: str | None,
    leader_id: int | None,
    now: dt.datetime,
) -> IncomingDocument:
    """拟办: the clerk writes the proposed handling (``opinion``, required) and sends the copy
    to a leader for instruction (批示): ``leader_id`` (a head, deputy head or leader post of
    the unit: else ``INVALID_VALUE`` on ``leaderId``) or, when omitted, the unit's head
    (``NO_ASSIGNEE`` on ``leaderId`` when it has none). accepted → proposed; the leader gets
    INCOMING_YOUR_TURN."""
    session = uow.session
    text = _text(opinion, "opinion", required=True)
    inc, target = await _begin(session, actor, incoming_id, IncomingStep.PROPOSE)
    leaders = await unit_leaders(session, inc.unit_id)
    if leader_id is None:
        heads = await resolve_duty(session, inc.unit_id, Duty.HEAD)
        if not heads:
            unit = await _unit_name(session, inc.unit_id)
            raise DomainError(ErrorCode.NO_ASSIGNEE, "leaderId", detail=f"{unit} has no active head")
        leader_id = heads[0]
    elif leader_id not in leaders:
        raise DomainError(ErrorCode.INVALID_VALUE, "leaderId", detail="not an active leader of the recipient unit")
    inc.proposal = text
    inc.leader_id = leader_id
    _record(session, inc, actor, IncomingStep.PROPOSE, target, now, text)
    doc = await _document(session, inc)
    await notify(uow, broker, await _your_turn(session, inc, doc, actor, [leader_id], "批示"))
    await session.flush()
    return inc


async def instruct(
    uow: UnitOfWork, broker: Publisher, actor: Actor, incoming_id: int, *, instruction: str | None, now: dt.datetime
) -> IncomingDocument:
    """批示: the leader named at the proposal writes the instruction (required).
    proposed → instructed; the clerks get INCOMING_YOUR_TURN (分办)."""
    session = uow.session
    text = _text(instruction, "instruction", required=True)
    inc, target = await _begin(session, actor, incoming_id, IncomingStep.INSTRUCT)
    inc.instruction = text
    inc.instructed_at = now
    _record(session, inc, actor, IncomingStep.INSTRUCT, target, now, text)
    doc = await _document(session, inc)
    await notify(uow, broker, await _your_turn(session, inc, doc, actor, await _clerks(session, inc), "分办"))
    await session.flush()
    return inc


async def assign(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    incoming_id: int,
    *,
    handler_ids: Sequence[int],
    lead_id: int | None,
    deadline: dt.date | None,
    opinion: str | None,
    now: dt.datetime,
) -> IncomingDocument:
    """分办 (REG Art. 24(4)): the clerk or the instructing leader names the handlers.

    ``handler_ids``: 1 to 20 active users, no repeats (``REQUIRED``, ``TOO_MANY``,
    ``DUPLICATE``, ``NOT_FOUND``, ``INACTIVE`` on ``handlerIds.<i>``). ``lead_id`` (主办) must
    be one of them; it is required when two or more act (``LEAD_REQUIRED`` on
    ``leadHandlerId``) and defaults to the only handler. ``deadline`` (办理时限, an
    Asia/Shanghai date, not before today: ``INVALID_VALUE``) is required for an urgent or
    extra-urgent document (``DEADLINE_REQUIRED`` on ``deadline``; REG Art. 24(4)).
    instructed → handling; the handlers get INCOMING_YOUR_TURN. The copy's deadline clock starts
    (:func:`clocks.start_incoming`: on ``deadline``, or else the policy bound to target
    ``incoming``); the reply or the closing closes it.
    """
    session = uow.session
    text = _text(opinion, "opinion", required=False)
    inc, target = await _begin(session, actor, incoming_id, IncomingStep.ASSIGN)
    doc = await _document(session, inc)
    errors = ErrorCollector()
    ids = list(handler_ids)
    if not ids:
        errors.add(ErrorCode.REQUIRED, "handlerIds")
    elif len(ids) > MAX_HANDLERS:
        errors.add(ErrorCode.TOO_MANY, "handlerIds", limit=MAX_HANDLERS)
    seen: set[int] = set()
    for i, uid in enumerate(ids):
        if uid in seen:
            errors.add(ErrorCode.DUPLICATE, f"handlerIds.{i}", detail="handler listed twice")
        seen.add(uid)
    active = dict((await session.execute(select(User.id, User.is_active).where(User.id.in_(seen)))).all())
    for i, uid in enumerate(ids[:MAX_HANDLERS]):
        if uid not in active:
            errors.add(ErrorCode.NOT_FOUND, f"handlerIds.{i}")
        elif not active[uid]:
            errors.add(ErrorCode.INACTIVE, f"handlerIds.{i}", detail=f"user {uid}")
    if lead_id is None and len(seen) >= 2:
        errors.add(ErrorCode.LEAD_REQUIRED, "leadHandlerId")
    elif lead_id is not None and lead_id not in seen:
        errors.add(ErrorCode.INVALID_VALUE, "leadHandlerId", detail="the lead must be one of handlerIds")
    today = now.astimezone(TIMEZONE).date()
    if deadline is None and _urgency(inc, doc) in (Urgency.URGENT.value, Urgency.EXTRA_URGENT.value):
        errors.add(ErrorCode.DEADLINE_REQUIRED, "deadline")
    elif deadline is not None and deadline < today:
        errors.add(ErrorCode.INVALID_VALUE, "deadline", detail=f"not before today ({today.isoformat()})")
    errors.raise_if_any()
    lead = lead_id if lead_id is not None else ids[0]
    session.add_all(
        IncomingHandler(incoming_id=inc.id, user_id=uid, is_lead=uid == lead, position=i) for i, uid in enumerate(ids)
    )
    inc.deadline = deadline
    _record(session, inc, actor, IncomingStep.ASSIGN, target, now, text)
    await clocks.start_incoming(
        uow,
        inc.id,
        unit_id=inc.unit_id,
        lead_id=lead,
        assigner_id=actor.user_id,
        doc_type=doc.doc_type if doc else None,
        urgency=_urgency(inc, doc),
        due_on=deadline,
        now=now,
    )
    by = f"，办理时限 {deadline.isoformat()}" if deadline else ""
    messages = [
        _message(
            uid,
            NotificationKind.INCOMING_YOUR_TURN,
            inc,
            doc,
            actor,
            f"收文待承办：{_title(inc, doc)}",
            f"{actor.display_name} 交您{'主办' if uid == lead else '协办'}《{_title(inc, doc)}》{by}",
        )
        for uid in ids
    ]
    await notify(uow, broker, messages)
    await session.flush()
    return inc


async def handle(
    uow: UnitOfWork, broker: Publisher, actor: Actor, incoming_id: int, *, result: str | None, now: dt.datetime
) -> IncomingDocument:
    """承办: a handler records what they did (``result``, required, ≤ 10,000 characters);
    a second record by the same handler is ``TASK_ALREADY_HANDLED``. The copy stays
    ``handling`` until every handler has recorded theirs, then becomes ``handled`` and the
    clerks get INCOMING_YOUR_TURN (答复 or 办结)."""
    session = uow.session
    text = _text(result, "result", required=True, limit=MAX_RESULT)
    inc = await _lock(session, incoming_id)
    handlers = list(
        (await session.execute(select(IncomingHandler).where(IncomingHandler.incoming_id == inc.id))).scalars()
    )
    mine = next((h for h in handlers if h.user_id == actor.user_id), None)
    left = sum(1 for h in handlers if h.result is None and h is not mine)
    inc, target = await _begin(session, actor, incoming_id, IncomingStep.HANDLE, handlers_left=left)
    assert mine is not None
    if mine.result is not None:
        raise DomainError(ErrorCode.TASK_ALREADY_HANDLED, "incomingId")
    mine.result = text
    mine.handled_at = now
    _record(session, inc, actor, IncomingStep.HANDLE, target, now, text)
    doc = await _document(session, inc)
    messages = []
    if target is IncomingState.HANDLED:
        messages = await _your_turn(session, inc, doc, actor, await _clerks(session, inc), "答复或办结")
    await notify(uow, broker, messages)
    await session.flush()
    return inc


async def reply(
    uow: UnitOfWork, broker: Publisher, actor: Actor, incoming_id: int, *, text: str | None, now: dt.datetime
) -> IncomingDocument:
    """答复 (REG Art. 24(7)): the clerk replies to the sender (``reply`` required). From
    ``handled``, or straight from ``accepted`` when no handling by others is needed (a
    receipt-style reply). → replied; the drafter and the dispatcher get INCOMING_REPLIED."""
    session = uow.session
    body = _text(text, "reply", required=True, limit=MAX_RESULT)
    assert body is not None
    inc, target = await _begin(session, actor, incoming_id, IncomingStep.REPLY)
    inc.reply = body
    inc.replied_at = now
    _record(session, inc, actor, IncomingStep.REPLY, target, now, body)
    await clocks.close_incoming(uow, inc.id, now)
    doc = await _document(session, inc)
    unit = await _unit_name(session, inc.unit_id)
    messages = [
        _message(
            uid,
            NotificationKind.INCOMING_REPLIED,
            inc,
            doc,
            actor,
            f"{unit}已答复：{_title(inc, doc)}",
            f"{actor.display_name}：{_excerpt(body)}",
        )
        for uid in _senders(doc, inc)
    ]
    await notify(uow, broker, messages)
    await session.flush()
    return inc


async def close(
    uow: UnitOfWork, broker: Publisher, actor: Actor, incoming_id: int, *, opinion: str | None, now: dt.datetime
) -> IncomingDocument:
    """办结: the clerk closes the copy (optional ``opinion``). From ``replied`` or ``handled``;
    as a reading-only copy (阅知性) from ``accepted``, or for a cc copy right after
    ``registered``. Nobody is notified."""
    session = uow.session
    text = _text(opinion, "opinion", required=False)
    inc, target = await _begin(session, actor, incoming_id, IncomingStep.CLOSE)
    inc.closed_at = now
    _record(session, inc, actor, IncomingStep.CLOSE, target, now, text)
    await clocks.close_incoming(uow, inc.id, now)
    await session.flush()
    return inc


# ---- revocation and repeal by the sender (REG Art. 33) ------------------------------------


async def record_void(
    session: AsyncSession,
    doc: Document,
    actor: Actor,
    step: IncomingStep,
    kind: NotificationKind,
    title: str,
    body: str,
    opinion: str,
    now: dt.datetime,
) -> list[Message]:
    """Record the revocation (``step`` REVOKED) or repeal (REPEALED) of ``doc`` on each of its
    dispatched copies and return the messages telling the people who hold them (the caller
    sends them with its own in one notify call, in the same transaction).

    Every copy but those returned to the sender (退回: the unit gave it back) is locked
    (so a concurrent step finishes first or sees the document void), gets a history entry
    by ``actor`` with ``opinion`` and its state unchanged, and a ``version``
    bump. One ``kind`` message per copy to each of the unit's active clerks (文书, duty
    ``clerk``), the leader named to instruct (批示) and the handlers (承办人), each once per
    copy, leaving out the actor; subject the copy (``IncomingDocument``), as other incoming
    notifications. No copies (a registered, never dispatched document): nothing. Raises
    nothing.
    """
    rows = list(
        (
            await session.execute(
                select(IncomingDocument)
                .where(
                    IncomingDocument.document_id == doc.id,
                    IncomingDocument.state != IncomingState.RETURNED_TO_SENDER.value,
                )
                .order_by(IncomingDocument.id)
                .with_for_update()
            )
        ).scalars()
    )
    if not rows:
        return []
    clerks: dict[int, list[int]] = {}
    for unit_id, duty, user_id in await duty_holders_of_units(session, [r.unit_id for r in rows]):
        if duty == Duty.CLERK.value:
            clerks.setdefault(unit_id, []).append(user_id)
    handlers: dict[int, list[int]] = {}
    for h in await handlers_of_incoming(session, [r.id for r in rows]):
        handlers.setdefault(h.incoming_id, []).append(h.user_id)
    messages = []
    for inc in rows:
        leader = [inc.leader_id] if inc.leader_id is not None else []
        holders = [*clerks.get(inc.unit_id, []), *leader, *handlers.get(inc.id, [])]
        inc.version += 1
        inc.updated_at = now
        session.add(
            IncomingAction(
                incoming_id=inc.id,
                actor_id=actor.user_id,
                action=step.value,
                state=inc.state,
                opinion=opinion,
                created_at=now,
            )
        )
        messages += [
            _message(uid, kind, inc, doc, actor, title, body) for uid in dict.fromkeys(holders) if uid != actor.user_id
        ]
    return messages


# ---- reads -------------------------------------------------------------------------------


async def get_visible_incoming(session: AsyncSession, actor: Actor, incoming_id: int) -> IncomingDocument | None:
    """The copy if ``actor`` may read it (clerk, head or deputy head of the recipient unit,
    the named leader, a handler), else None (existence is not revealed)."""
    q = select(IncomingDocument).where(IncomingDocument.id == incoming_id, incoming_visible_to(actor.user_id))
    return (await session.execute(q)).scalar_one_or_none()


async def visible_incoming_ids(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> set[int]:
    q = select(IncomingDocument.id).where(IncomingDocument.id.in_(list(ids)), incoming_visible_to(actor.user_id))
    return set((await session.execute(q)).scalars())


async def may_list_unit(session: AsyncSession, actor: Actor, unit_id: int) -> bool:
    """True when ``actor`` is a clerk (文书), the head or a deputy head of the unit (the same
    people :func:`~documents.incoming_models.incoming_visible_to` lets read every copy)."""
    for duty in (Duty.CLERK, Duty.HEAD, Duty.DEPUTY_HEAD):
        if actor.user_id in await resolve_duty(session, unit_id, duty):
            return True
    return False


async def waiting_on(
    session: AsyncSession, user_id: int, before_id: int | None, limit: int
) -> tuple[list[IncomingDocument], int]:
    """Copies waiting on ``user_id`` as leader or handler (their 待办 of the incoming
    procedure): PROPOSED with them as the named leader, or HANDLING with them a handler who
    has not recorded a result. Newest first (descending id), and the total count."""
    mine = or_(
        and_(IncomingDocument.state == IncomingState.PROPOSED.value, IncomingDocument.leader_id == user_id),
        and_(
            IncomingDocument.state == IncomingState.HANDLING.value,
            exists().where(
                IncomingHandler.incoming_id == IncomingDocument.id,
                IncomingHandler.user_id == user_id,
                IncomingHandler.result.is_(None),
            ),
        ),
    )
    q = select(IncomingDocument).where(mine).order_by(IncomingDocument.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(IncomingDocument.id < before_id)
    rows = list((await session.execute(q)).scalars())
    total = int((await session.execute(select(func.count()).select_from(IncomingDocument).where(mine))).scalar_one())
    return rows, total


async def handlers_of_incoming(session: AsyncSession, ids: Sequence[int]) -> list[IncomingHandler]:
    """The handlers of several copies, lead first then in the order given (one query)."""
    q = select(IncomingHandler).where(IncomingHandler.incoming_id.in_(list(ids)))
    rows = (await session.execute(q.order_by(IncomingHandler.incoming_id, IncomingHandler.position))).scalars()
    return sorted(rows, key=lambda h: (h.incoming_id, not h.is_lead, h.position))


async def history_of_incoming(session: AsyncSession, ids: Sequence[int]) -> list[IncomingAction]:
    """The history of several copies, oldest first (one query)."""
    q = select(IncomingAction).where(IncomingAction.incoming_id.in_(list(ids))).order_by(IncomingAction.id)
    return list((await session.execute(q)).scalars())

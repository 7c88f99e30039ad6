"""Due dates of documents, their tasks and incoming copies (office_api.deadlines clocks).

Who starts and stops which clock (DOMAIN §5; policies are data, office_api.sla):

* **Task** (subject ``task``): every pending task of a route step, sub-tasks within a unit
  included, has a running clock from the moment it opens, on the policy bound to target
  ``task`` for the document's type, urgency and the step's name (seeded: 3 working days; urgent
  1 working day; extra urgent 24 hours). A sub-task a unit's clerk routes within the unit
  (单位内部会签) shares the clerk's due date: routing inside the unit does not give it more time.
  Holder: the assignee, in the task's unit (a unit's clerk task) or else the assignee's primary
  unit; assigner: the sender. Approved or returned →
  closed (met or missed); cancelled, superseded or transferred away → cancelled. A task that
  continues another one (转办 transfer, an administrator's reroute) **keeps the due date of
  the task it replaces**: the step's deadline does not restart because someone passed it on;
  delegation (委托) and hand-over move the same task, so its clock just changes holder. A
  task a withdrawal (撤回) makes pending again gets its closed clock back as it was.
* **Document** (subject ``document``): from the first submission over its whole processing,
  on the policy bound to target ``document`` (none by default: no binding, no clock). While it
  is returned to its drafter (or withdrawn by them) the clock stops when the policy's
  ``clock_stops_for`` lists ``returned_to_drafter`` (e.g. ``hotline-12345``); resubmission
  resumes it and the due date moves by the working days it stood still. Approval closes it;
  revocation cancels it.
* **Incoming copy** (subject ``incoming``): from its assignment (分办), due on the date the
  assigner chose or else on the policy bound to target ``incoming`` for its urgency (seeded:
  30 calendar days); holder the recipient unit and the lead handler. The reply (答复) or, without
  one, the closing (办结) closes it; revoking the document (撤销, void from the start) cancels it,
  while a repeal (废止) leaves the handling and its clock going.

Tasks pending when this version is first started (an upgrade) get their clocks from the
one-off job ``deadlines.backfill`` (:func:`backfill`), counted from that moment, so that an
upgrade does not turn every old task red at once.

The document and task clocks are kept by one rule that cannot be forgotten by a new action:
locking a document for a write (``documents.service._lock_document``) registers
:func:`sync_document` to run just before the transaction commits (``UnitOfWork.before_commit``),
which brings every clock of the document's current round in line with the tasks' and the
document's state. Each sync is a constant number of queries (two reads when nothing changes).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from documents.incoming_models import IncomingDocument
from documents.models import Document, RouteStep, Task
from documents.types import DocumentStatus, TaskStatus
from office_api import deadlines as clock
from office_api import scheduler, sla
from office_api.db import UnitOfWork, unit_of_work_of
from office_api.deadlines import Deadline, DeadlineStatus
from office_api.org.models import Position
from office_api.workdays import WorkCalendar, load_calendar

TASK = "task"
DOCUMENT = "document"
INCOMING = "incoming"

#: Task statuses whose clock closes with a result (met/missed); the other non-pending ones cancel it.
_ACTED = (TaskStatus.APPROVED.value, TaskStatus.RETURNED.value)
#: Document statuses after approval (the processing is done).
_DONE = (
    DocumentStatus.APPROVED.value,
    DocumentStatus.REGISTERED.value,
    DocumentStatus.DISPATCHED.value,
    DocumentStatus.ARCHIVED.value,
    DocumentStatus.REPEALED.value,
)


def track(session: AsyncSession, document_id: int) -> None:
    """Have the clocks of document ``document_id`` synced before the write transaction of
    ``session`` commits (once per document and transaction). No-op on a read session."""
    uow = unit_of_work_of(session)
    if uow is not None:
        uow.before_commit(("document-clocks", document_id), lambda: sync_document(uow, document_id))


class _Calendar:
    """The working-day calendar, read at most once per sync."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._cal: WorkCalendar | None = None

    async def get(self) -> WorkCalendar:
        if self._cal is None:
            self._cal = await load_calendar(self._session)
        return self._cal


async def sync_document(uow: UnitOfWork, document_id: int) -> None:
    """Bring the clocks of a document and of its current round's tasks in line with their state
    (see the module docstring), at ``uow.now``. Idempotent."""
    session = uow.session
    doc = await session.get(Document, document_id)
    if doc is None or doc.status == DocumentStatus.DRAFT.value:  # a draft has no task and no clock yet
        return
    now = uow.now
    tasks = list(
        (
            await session.execute(
                select(Task).where(Task.document_id == doc.id, Task.round == doc.round).order_by(Task.id)
            )
        ).scalars()
    )
    task_ids = [t.id for t in tasks]
    conds = [and_(Deadline.subject_type == DOCUMENT, Deadline.subject_id == doc.id)]
    if task_ids:
        conds.append(and_(Deadline.subject_type == TASK, Deadline.subject_id.in_(task_ids)))
    rows = list((await session.execute(select(Deadline).where(or_(*conds)).with_for_update())).scalars())
    doc_clock = next((d for d in rows if d.subject_type == DOCUMENT), None)
    by_task = {d.subject_id: d for d in rows if d.subject_type == TASK}
    cal = _Calendar(session)
    await _sync_document_clock(uow, cal, doc, doc_clock, now)
    await _sync_task_clocks(uow, cal, doc, tasks, by_task, now)


async def _sync_document_clock(
    uow: UnitOfWork, cal: _Calendar, doc: Document, d: Deadline | None, now: dt.datetime
) -> None:
    status = doc.status
    if status == DocumentStatus.IN_REVIEW.value:
        if d is None:
            policy = await sla.resolve_policy(uow.session, DOCUMENT, doc_type=doc.doc_type, urgency=doc.urgency)
            if policy is not None:
                await clock.start_clock(
                    uow,
                    await cal.get(),
                    subject_type=DOCUMENT,
                    subject_id=doc.id,
                    started_at=now,
                    policy=policy,
                    holder_user_id=doc.drafter_id,
                    holder_unit_id=doc.issuing_unit_id,
                )
        elif d.status == DeadlineStatus.PAUSED.value:
            await clock.resume_clock(uow, await cal.get(), d, now)
        return
    if d is None or not d.is_open:
        return
    if status == DocumentStatus.RETURNED.value:
        policy = await uow.session.get(sla.SlaPolicy, d.policy_id) if d.policy_id is not None else None
        if policy is not None and sla.ClockStop.RETURNED_TO_DRAFTER.value in (policy.clock_stops_for or []):
            await clock.pause_clock(uow, await cal.get(), d, now, sla.ClockStop.RETURNED_TO_DRAFTER.value)
    elif status in _DONE:
        await clock.close_clock(uow, d, now)
    elif status == DocumentStatus.REVOKED.value:
        await clock.cancel_clock(uow, d, now)


async def _holder_units(session: AsyncSession, tasks: Sequence[Task]) -> dict[int, int | None]:
    """Task id → holder unit: the task's unit (a unit's clerk task), else the assignee's primary unit."""
    need = {t.assignee_id for t in tasks if t.unit_id is None}
    primary: dict[int, int] = {}
    if need:
        q = select(Position.user_id, Position.unit_id).where(Position.user_id.in_(need), Position.is_primary.is_(True))
        primary = {uid: unit for uid, unit in (await session.execute(q)).all()}
    return {t.id: t.unit_id if t.unit_id is not None else primary.get(t.assignee_id) for t in tasks}


async def _sync_task_clocks(
    uow: UnitOfWork,
    cal: _Calendar,
    doc: Document,
    tasks: Sequence[Task],
    by_task: dict[int, Deadline],
    now: dt.datetime,
) -> None:
    session = uow.session
    pending = TaskStatus.PENDING.value
    # Tasks passed on this transaction (their clock still open): the new holder continues it.
    passed_on: dict[tuple[int, int | None], list[Deadline]] = defaultdict(list)
    for t in tasks:
        d = by_task.get(t.id)
        if d is None or t.status == pending or not d.is_open:
            continue
        if t.status == TaskStatus.TRANSFERRED.value:
            passed_on[(t.step_id, t.parent_task_id)].append(d)
        if t.status in _ACTED:
            await clock.close_clock(uow, d, now)
        else:
            await clock.cancel_clock(uow, d, now)
    opening = [t for t in tasks if t.status == pending and t.id not in by_task]
    moved = [
        t for t in tasks if t.status == pending and t.id in by_task and by_task[t.id].holder_user_id != t.assignee_id
    ]
    units = await _holder_units(session, opening + moved) if opening or moved else {}
    for t in moved:
        d = by_task[t.id]
        d.holder_user_id, d.holder_unit_id = t.assignee_id, units.get(t.id)
        d.yellow_at = d.red_at = d.escalated_at = None
    for t in tasks:  # a withdrawal made it pending again: the clock it had, as it was
        d = by_task.get(t.id)
        if t.status == pending and d is not None and not d.is_open:
            d.status, d.closed_at = DeadlineStatus.RUNNING.value, None
    policies: dict[int, sla.SlaPolicy | None] = {}
    steps: dict[int, RouteStep | None] = {}
    #: The first clock started per step in this sync: the step's other new tasks opened at the
    #: same instant on the same policy, so they copy it (one query per step, not per task).
    started: dict[int, Deadline] = {}
    for t in opening:
        queue = passed_on.get((t.step_id, t.parent_task_id))
        parent = by_task.get(t.parent_task_id) if t.parent_task_id is not None else None
        if queue:
            _continue(session, t, queue.pop(0), units.get(t.id))
            continue
        if parent is not None and parent.is_open:
            _continue(session, t, parent, units.get(t.id))
            continue
        if t.step_id in started:
            _continue(session, t, started[t.step_id], units.get(t.id))
            continue
        if t.step_id not in steps:
            steps[t.step_id] = await session.get(RouteStep, t.step_id)
            step = steps[t.step_id]
            policies[t.step_id] = await sla.resolve_policy(
                session, TASK, doc_type=doc.doc_type, urgency=doc.urgency, step_name=step.name if step else None
            )
        policy = policies[t.step_id]
        if policy is None:
            continue
        started[t.step_id] = await clock.start_clock(
            uow,
            await cal.get(),
            subject_type=TASK,
            subject_id=t.id,
            started_at=now,
            policy=policy,
            holder_user_id=t.assignee_id,
            holder_unit_id=units.get(t.id),
            assigner_user_id=t.sender_id,
        )
    await session.flush()


def _continue(session: AsyncSession, task: Task, old: Deadline, holder_unit_id: int | None) -> Deadline:
    """A clock for ``task`` that continues ``old`` (same policy, start, count and due date; the
    reminder stages start afresh for the new holder). Added to the session, not yet flushed."""
    d = Deadline(
        subject_type=TASK,
        subject_id=task.id,
        policy_id=old.policy_id,
        unit=old.unit,
        limit=old.limit,
        extension=old.extension,
        count_start_day=old.count_start_day,
        explicit=old.explicit,
        holder_user_id=task.assignee_id,
        holder_unit_id=holder_unit_id,
        assigner_user_id=task.sender_id,
        started_at=old.started_at,
        base_on=old.base_on,
        base_at=old.base_at,
        remaining=old.remaining,
        due_on=old.due_on,
        due_at=old.due_at,
        provisional=old.provisional,
        status=DeadlineStatus.RUNNING.value,
    )
    session.add(d)
    return d


# ---- incoming copies (收文) ---------------------------------------------------------------


async def start_incoming(
    uow: UnitOfWork,
    incoming_id: int,
    *,
    unit_id: int,
    lead_id: int,
    assigner_id: int,
    doc_type: str | None,
    urgency: str,
    due_on: dt.date | None,
    now: dt.datetime,
) -> Deadline | None:
    """Start the clock of incoming copy ``incoming_id`` at its assignment (分办, ``now``): due on
    ``due_on`` (the date the assigner chose) or else on the policy bound to target ``incoming``
    for the document type and urgency (seeded: 30 calendar days; urgent 1 working day, extra
    urgent 24 hours); no clock when neither applies. Holder: the recipient unit ``unit_id`` and
    the lead handler; assigner: ``assigner_id``. ``INVALID_VALUE`` on ``dueOn`` for a date before
    ``now``'s local date (the caller checks it first)."""
    session = uow.session
    policy = None
    if due_on is None:
        policy = await sla.resolve_policy(session, INCOMING, doc_type=doc_type, urgency=urgency)
        if policy is None:
            return None
    return await clock.start_clock(
        uow,
        await load_calendar(session),
        subject_type=INCOMING,
        subject_id=incoming_id,
        started_at=now,
        policy=policy,
        due_on=due_on,
        holder_user_id=lead_id,
        holder_unit_id=unit_id,
        assigner_user_id=assigner_id,
    )


async def close_incoming(uow: UnitOfWork, incoming_id: int, now: dt.datetime) -> Deadline | None:
    """Close the clock of an incoming copy (its reply or its closing, ``now``): met or missed; a
    closed clock or none: nothing."""
    d = await clock.deadline_of(uow.session, INCOMING, incoming_id, lock=True)
    if d is not None:
        await clock.close_clock(uow, d, now)
    return d


async def cancel_incoming_of_document(uow: UnitOfWork, document_id: int, now: dt.datetime) -> int:
    """Cancel the open clocks of every incoming copy of ``document_id`` (it was revoked: the copies
    stop being handled, so nobody is reminded of them). Returns how many were cancelled."""
    copies = select(IncomingDocument.id).where(IncomingDocument.document_id == document_id)
    q = (
        select(Deadline)
        .where(
            Deadline.subject_type == INCOMING,
            Deadline.subject_id.in_(copies),
            Deadline.status.in_(clock.OPEN_STATUSES),
        )
        .with_for_update()
    )
    cancelled = 0
    for d in (await uow.session.execute(q)).scalars():
        await clock.cancel_clock(uow, d, now)
        cancelled += 1
    return cancelled


BACKFILL_KIND = "deadlines.backfill"
#: Documents synced per job run (one transaction); the job schedules its continuation.
BACKFILL_BATCH = 200


async def documents_missing_clocks(session: AsyncSession, *, after_id: int, limit: int) -> list[int]:
    """Ids (ascending, above ``after_id``) of documents with a pending task that has no clock."""
    missing = (
        select(Task.document_id)
        .outerjoin(Deadline, and_(Deadline.subject_type == TASK, Deadline.subject_id == Task.id))
        .where(Task.status == TaskStatus.PENDING.value, Deadline.id.is_(None), Task.document_id > after_id)
        .group_by(Task.document_id)
        .order_by(Task.document_id)
        .limit(limit)
    )
    return list((await session.execute(missing)).scalars())


@scheduler.once(BACKFILL_KIND, key="initial")
async def backfill(uow: UnitOfWork, ctx: scheduler.JobContext, job: scheduler.Job) -> None:
    """Give clocks to the pending tasks (and their documents) that have none, counted from the
    job's run (``uow.now``); :data:`BACKFILL_BATCH` documents per run, then the next batch as a
    new job keyed by the last document id. Idempotent (:func:`sync_document`)."""
    after = int(job.payload.get("after", 0))
    ids = await documents_missing_clocks(uow.session, after_id=after, limit=BACKFILL_BATCH)
    for document_id in ids:
        await sync_document(uow, document_id)
    if len(ids) == BACKFILL_BATCH:
        await scheduler.schedule(uow, BACKFILL_KIND, f"after-{ids[-1]}", uow.now, {"after": ids[-1]})

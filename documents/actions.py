"""Routing actions beyond approve and return: return to an earlier step (退回), withdraw (撤回),
transfer (转办), single-task delegation (单件委托), add and remove a signer (加签/减签), an
administrator's reroute, and comments (评论/意见).

Every function runs in the caller's unit of work, locks the document row first (so concurrent
actions on one document end with exactly one winner: the loser re-reads the state under the lock
and gets a typed error), writes one history entry (:class:`DocumentAction`: actor, time, opinion)
and sends its notifications with one :func:`notify` call. What each action does to the other
tasks of a step is the table of docs/routing.md, decided by :func:`routing.sibling_effect`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from documents import routing
from documents.models import Document, DocumentAction, RouteStep, StepAssignee, Task
from documents.service import (
    MAX_ASSIGNEES,
    _assignee_rows,
    _cancel,
    _excerpt,
    _load_task_for_action,
    _lock_document,
    _open_step,
    _opinion,
    _steps,
    on_behalf_result,
    visible_to,
)
from documents.types import ActionKind, DocumentStatus, StepMode, TaskStatus
from documents.unit_countersign import ensure_no_pending_subtasks
from messaging.models import NotificationKind, document_priority
from messaging.outbox import Message, Publisher, notify
from office_api import audit
from office_api.db import UnitOfWork, utcnow
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import OrgUnit, User
from office_api.org.permissions import Actor

#: History entries that route the document: withdrawing is allowed only right after one of these.
_SENDING = (ActionKind.SUBMITTED.value, ActionKind.APPROVED.value)
#: History entries that act on nothing (they never make a withdrawal too late).
_PASSIVE = (ActionKind.COMMENTED.value,)


def _entry(
    doc: Document,
    actor: Actor,
    kind: ActionKind,
    *,
    step_index: int | None = None,
    task_id: int | None = None,
    opinion: str | None = None,
    target_user_id: int | None = None,
    to_step_index: int | None = None,
) -> DocumentAction:
    return DocumentAction(
        document_id=doc.id,
        actor_id=actor.user_id,
        action=kind.value,
        round=doc.round,
        step_index=step_index,
        task_id=task_id,
        opinion=opinion,
        target_user_id=target_user_id,
        to_step_index=to_step_index,
    )


def _message(user_id: int, kind: NotificationKind, doc: Document, actor: Actor, title: str, body: str, **payload):
    return Message(
        user_id=user_id,
        kind=kind.value,
        title=title,
        body=body,
        subject_type="Document",
        subject_id=doc.id,
        actor_id=actor.user_id,
        payload={"round": doc.round, **payload},
        priority=document_priority(kind, doc.urgency),
    )


async def _round_tasks(session: AsyncSession, doc: Document, *, subtasks: bool = True) -> list[Task]:
    """Every task of the document's current round, oldest first, re-read under the document lock.

    ``subtasks=False`` leaves out the sub-tasks of a countersign inside a unit
    (documents/unit_countersign.py): they never count toward a step's mode.
    """
    q = (
        select(Task)
        .where(Task.document_id == doc.id, Task.round == doc.round)
        .order_by(Task.id)
        .execution_options(populate_existing=True)
    )
    if not subtasks:
        q = q.where(Task.parent_task_id.is_(None))
    return list((await session.execute(q)).scalars())


async def _active_user(session: AsyncSession, user_id: int, field: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise DomainError(ErrorCode.NOT_FOUND, field)
    if not user.is_active:
        raise DomainError(ErrorCode.INACTIVE, field, detail=user.display_name)
    return user


async def _visible_locked(session: AsyncSession, actor: Actor, document_id: int) -> Document:
    """The document, locked, if ``actor`` may read it (``NOT_FOUND`` otherwise: existence is not revealed)."""
    doc = await _lock_document(session, document_id)
    seen = (
        await session.execute(select(Document.id).where(Document.id == document_id, visible_to(actor.user_id)))
    ).scalar_one_or_none()
    if seen is None:
        raise DomainError(ErrorCode.NOT_FOUND, "documentId")
    return doc


def _in_review(doc: Document) -> int:
    if doc.status != DocumentStatus.IN_REVIEW.value or doc.current_step is None:
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)
    return doc.current_step


# ---- return to an earlier step (退回至指定环节) ----------------------------------------------


async def return_to_step(
    uow: UnitOfWork, broker: Publisher, actor: Actor, task_id: int, opinion: str | None, to_step_index: int
) -> Task:
    """Return the document from ``actor``'s pending task to the earlier step ``to_step_index``.

    The opinion is required. In the same round: the current step's other pending tasks are
    cancelled (their assignees told), the approvals of the steps from ``to_step_index`` up to the
    current one are superseded (those people act again when the route comes back), and step
    ``to_step_index`` reopens with fresh tasks sent by ``actor``; the drafter is told.
    Errors: ``REQUIRED``/``TOO_LONG`` (opinion), ``NOT_FOUND``, ``NOT_YOUR_TASK``,
    ``TASK_ALREADY_HANDLED``, ``INVALID_VALUE`` on ``toStepIndex`` unless 0 ≤ toStepIndex < the
    current step. Rule: 退回 to a named step is common practice of 公文流转 systems (DOMAIN §1.3).
    """
    session = uow.session
    text = _opinion(opinion, required=True)
    task, doc = await _load_task_for_action(session, actor, task_id)
    assert doc.current_step is not None
    current = doc.current_step
    rule = routing.check_return_to_step(current, to_step_index)
    if rule:
        raise DomainError(ErrorCode.INVALID_VALUE, "toStepIndex", detail=rule)
    steps = await _steps(session, doc.id)
    now = utcnow()
    task.status = TaskStatus.RETURNED.value
    task.opinion = text
    task.acted_at = now
    by_id = {s.id: s for s in steps}
    cancelled: list[Task] = []
    for t in await _round_tasks(session, doc):
        st = by_id[t.step_id]
        if t.id == task.id or not to_step_index <= st.index <= current:
            continue
        effect = routing.sibling_effect(routing.SiblingAction.RETURN_TO_STEP, StepMode(st.mode), TaskStatus(t.status))
        if effect is routing.SiblingEffect.CANCEL:
            cancelled.append(t)
        elif effect is routing.SiblingEffect.SUPERSEDE:
            t.status = TaskStatus.SUPERSEDED.value
    target = steps[to_step_index]
    doc.version += 1
    session.add(
        _entry(
            doc,
            actor,
            ActionKind.RETURNED_TO_STEP,
            step_index=current,
            task_id=task.id,
            opinion=text,
            to_step_index=to_step_index,
        )
    )
    messages = [
        _message(
            doc.drafter_id,
            NotificationKind.DOCUMENT_RETURNED,
            doc,
            actor,
            f"退回至{target.name}：{doc.title}",
            f"{actor.display_name}：{_excerpt(text or '')}",
            taskId=task.id,
            stepIndex=current,
            toStepIndex=to_step_index,
        )
    ]
    messages += on_behalf_result(task, doc, actor, f"已退回至{target.name}")
    messages += _cancel(cancelled, doc, actor, now, f"{actor.display_name} 已将公文退回至{target.name}")
    messages += await _open_step(session, doc, target, actor)
    await notify(uow, broker, messages)
    await session.flush()
    return task


# ---- withdraw (撤回) ---------------------------------------------------------------------------


async def withdraw(uow: UnitOfWork, broker: Publisher, actor: Actor, document_id: int, opinion: str | None) -> Document:
    """Withdraw (撤回) what ``actor`` last sent, while nobody has acted on it.

    Allowed when the last routing entry of the round (a submission or an approval; comments do
    not count) is ``actor``'s and nothing followed it (:func:`routing.can_withdraw`):

    * the drafter's submission: every pending task is cancelled (assignees told) and the document
      goes back to the drafter as RETURNED (editable, resubmission opens a new round);
    * an approval: the tasks it opened are cancelled, the tasks it cancelled (ANY_ONE/QUORUM
      completion) are pending again, the approver's own task is pending again (its opinion
      cleared; the approval stays in the history), and the current step goes back to it.

    Errors: ``NOT_FOUND`` (cannot see the document), ``NOT_THE_SENDER`` (actor sent nothing this
    round), ``WITHDRAW_TOO_LATE`` (someone acted since, or the document is no longer in review),
    ``TOO_LONG`` (opinion).
    """
    session = uow.session
    text = _opinion(opinion, required=False)
    doc = await _visible_locked(session, actor, document_id)
    entries = list(
        (
            await session.execute(
                select(DocumentAction)
                .where(
                    DocumentAction.document_id == doc.id,
                    DocumentAction.round == doc.round,
                    DocumentAction.action.not_in(_PASSIVE),
                )
                .order_by(DocumentAction.id)
            )
        ).scalars()
    )
    sent = [i for i, e in enumerate(entries) if e.action in _SENDING]
    if not any(entries[i].actor_id == actor.user_id for i in sent):
        raise DomainError(ErrorCode.NOT_THE_SENDER, "documentId")
    last = sent[-1]
    ok = routing.can_withdraw(
        DocumentStatus(doc.status), len(entries) - last - 1, entries[last].actor_id == actor.user_id
    )
    if not ok:
        raise DomainError(ErrorCode.WITHDRAW_TOO_LATE, "documentId")
    entry = entries[last]
    now = utcnow()
    tasks = await _round_tasks(session, doc)
    steps = await _steps(session, doc.id)
    messages: list[Message] = []
    if entry.action == ActionKind.SUBMITTED.value:
        pending = [t for t in tasks if t.status == TaskStatus.PENDING.value]
        messages += _cancel(pending, doc, actor, now, f"{actor.display_name} 已撤回公文")
        step_index = doc.current_step
        doc.status = DocumentStatus.RETURNED.value
        doc.current_step = None
        withdrawn_task_id = None
    else:
        approved = next(t for t in tasks if t.id == entry.task_id)
        at = approved.acted_at
        assert at is not None
        opened = [
            t
            for t in tasks
            if t.status == TaskStatus.PENDING.value
            and t.sender_id == actor.user_id
            and t.id != approved.id
            and t.created_at >= at
        ]
        st = next(s for s in steps if s.id == approved.step_id)
        reopened = [
            t
            for t in tasks
            if t.step_id == approved.step_id
            and t.status == TaskStatus.CANCELLED.value
            and t.acted_at == at
            and routing.sibling_effect(
                routing.SiblingAction.WITHDRAW, StepMode(st.mode), TaskStatus.CANCELLED, cancelled_by_withdrawn=True
            )
            is routing.SiblingEffect.REOPEN
        ]
        messages += _cancel(opened, doc, actor, now, f"{actor.display_name} 已撤回其审批意见")
        for t in [approved, *reopened]:
            t.status = TaskStatus.PENDING.value
            t.acted_at = None
        approved.opinion = None
        messages += [
            _message(
                t.assignee_id,
                NotificationKind.TASK_ASSIGNED,
                doc,
                actor,
                f"待办：{doc.title}",
                f"{actor.display_name} 撤回了审批，请重新{st.name}",
                taskId=t.id,
                stepIndex=st.index,
            )
            for t in reopened
        ]
        step_index = st.index
        doc.current_step = st.index
        withdrawn_task_id = approved.id
    doc.version += 1
    session.add(
        _entry(doc, actor, ActionKind.WITHDRAWN, step_index=step_index, task_id=withdrawn_task_id, opinion=text)
    )
    if doc.drafter_id != actor.user_id:
        messages.append(
            _message(
                doc.drafter_id,
                NotificationKind.DOCUMENT_WITHDRAWN,
                doc,
                actor,
                f"审批已撤回：{doc.title}",
                f"{actor.display_name} 撤回了审批",
                stepIndex=step_index,
            )
        )
    await notify(uow, broker, messages)
    await session.flush()
    return doc


# ---- transfer (转办) and single-task delegation (单件委托) -------------------------------------


async def _target_for_task(session: AsyncSession, actor: Actor, task: Task, user_id: int) -> User:
    if task.parent_task_id is not None:
        raise DomainError(
            ErrorCode.INVALID_STATE, "taskId", detail="a task inside a unit's routing: the clerk routes it"
        )
    await ensure_no_pending_subtasks(session, task)
    user = await _active_user(session, user_id, "toUserId")
    if user.id == actor.user_id:
        raise DomainError(ErrorCode.INVALID_VALUE, "toUserId", detail="yourself")
    holds = (
        await session.execute(
            select(Task.id).where(
                Task.step_id == task.step_id,
                Task.round == task.round,
                Task.parent_task_id.is_(None),
                Task.status.in_([TaskStatus.PENDING.value, TaskStatus.APPROVED.value]),
                Task.assignee_id == user.id,
            )
        )
    ).first()
    if holds is not None:
        raise DomainError(ErrorCode.DUPLICATE, "toUserId", detail=f"{user.display_name} already has a task here")
    if task.on_behalf_of_id is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "taskId", detail="held on behalf of someone else")
    return user


async def transfer_task(
    uow: UnitOfWork, broker: Publisher, actor: Actor, task_id: int, to_user_id: int, opinion: str | None
) -> Task:
    """Transfer (转办) ``actor``'s pending task to another active user; the new task.

    The old task becomes TRANSFERRED (``actor`` keeps sight of the document through it); a new
    pending task for the new assignee opens in the same step and round, sent by ``actor``. The new
    assignee and the drafter are told. Errors: ``NOT_FOUND``/``INACTIVE``/``INVALID_VALUE``
    (yourself)/``DUPLICATE`` (already holds a pending or approved task of the step) on ``toUserId``; ``NOT_YOUR_TASK``,
    ``TASK_ALREADY_HANDLED``, ``INVALID_STATE`` (a task held on behalf of someone else: the
    delegator decides; a sub-task of a countersign inside a unit: the clerk routes it),
    ``SUBTASKS_PENDING`` (the unit's routing of this task is still open) on ``taskId``.
    """
    session = uow.session
    text = _opinion(opinion, required=False)
    task, doc = await _load_task_for_action(session, actor, task_id)
    user = await _target_for_task(session, actor, task, to_user_id)
    step = await session.get(RouteStep, task.step_id)
    assert step is not None
    task.status = TaskStatus.TRANSFERRED.value
    task.opinion = text
    task.acted_at = utcnow()
    new = Task(document_id=doc.id, step_id=task.step_id, round=task.round, assignee_id=user.id, sender_id=actor.user_id)
    session.add(new)
    await session.flush()
    doc.version += 1
    session.add(
        _entry(
            doc,
            actor,
            ActionKind.TRANSFERRED,
            step_index=step.index,
            task_id=task.id,
            opinion=text,
            target_user_id=user.id,
        )
    )
    messages = [
        _message(
            user.id,
            NotificationKind.TASK_ASSIGNED,
            doc,
            actor,
            f"待办：{doc.title}",
            f"{actor.display_name} 转来《{doc.title}》，请{step.name}" + (f"：{_excerpt(text)}" if text else ""),
            taskId=new.id,
            stepIndex=step.index,
            fromTaskId=task.id,
        )
    ]
    if doc.drafter_id != actor.user_id:
        messages.append(
            _message(
                doc.drafter_id,
                NotificationKind.TASK_TRANSFERRED,
                doc,
                actor,
                f"待办已转办：{doc.title}",
                f"{actor.display_name} 已将{step.name}待办转交 {user.display_name}",
                taskId=new.id,
                stepIndex=step.index,
            )
        )
    await notify(uow, broker, messages)
    await session.flush()
    return new


async def delegate_task(
    uow: UnitOfWork, broker: Publisher, actor: Actor, task_id: int, to_user_id: int, opinion: str | None
) -> Task:
    """Delegate (单件委托) one pending task: the delegate acts on ``actor``'s behalf.

    The same task moves to the delegate with ``on_behalf_of_id`` = ``actor``, who keeps sight of
    the document and is told of the delegate's approval or return (DELEGATED_TASK_DONE). Unlike a
    transfer, the task stays ``actor``'s in the route's eyes. Errors as :func:`transfer_task`.
    """
    session = uow.session
    text = _opinion(opinion, required=False)
    task, doc = await _load_task_for_action(session, actor, task_id)
    user = await _target_for_task(session, actor, task, to_user_id)
    step = await session.get(RouteStep, task.step_id)
    assert step is not None
    task.assignee_id = user.id
    task.on_behalf_of_id = actor.user_id
    doc.version += 1
    session.add(
        _entry(
            doc,
            actor,
            ActionKind.DELEGATED,
            step_index=step.index,
            task_id=task.id,
            opinion=text,
            target_user_id=user.id,
        )
    )
    body = f"{actor.display_name} 委托您代为{step.name}《{doc.title}》" + (f"：{_excerpt(text)}" if text else "")
    messages = [
        _message(
            user.id,
            NotificationKind.TASK_ASSIGNED,
            doc,
            actor,
            f"待办：{doc.title}",
            body,
            taskId=task.id,
            stepIndex=step.index,
            onBehalfOfId=actor.user_id,
        )
    ]
    await notify(uow, broker, messages)
    await session.flush()
    return task


# ---- add and remove signers (加签/减签) ----------------------------------------------------------


async def _open_step_for_change(session: AsyncSession, actor: Actor, document_id: int):
    """The locked document, its steps, the open step and its round tasks; ``actor`` must be the
    drafter or the step's sender (who sent its first task this round): ``NOT_THE_SENDER``."""
    doc = await _visible_locked(session, actor, document_id)
    current = _in_review(doc)
    steps = await _steps(session, doc.id)
    step = steps[current]
    tasks = [t for t in await _round_tasks(session, doc, subtasks=False) if t.step_id == step.id]
    sender = tasks[0].sender_id if tasks else doc.drafter_id
    if actor.user_id not in (doc.drafter_id, sender):
        raise DomainError(ErrorCode.NOT_THE_SENDER, "documentId")
    return doc, steps, step, tasks


def _holds(t: Task, user_id: int) -> bool:
    return user_id in (t.assignee_id, t.on_behalf_of_id)


async def add_signer(
    uow: UnitOfWork, broker: Publisher, actor: Actor, document_id: int, user_id: int, opinion: str | None
) -> Document:
    """Add a signer (加签) to the open step, for the drafter or the step's sender.

    The user is appended to the step's assignees (the route keeps them for later rounds). In a
    PARALLEL_ALL, ANY_ONE or QUORUM step their task opens now (QUORUM keeps k); in a SEQUENTIAL
    step it opens in turn, after the last signer. SINGLE steps refuse. Errors: ``NOT_FOUND``
    (document), ``NOT_THE_SENDER``, ``INVALID_STATE`` (not in review), ``INVALID_VALUE`` on
    ``userId`` (SINGLE step, more than 50 assignees, the document's drafter: nobody countersigns
    their own draft), ``NOT_FOUND``/``INACTIVE``/``DUPLICATE`` (already on the step) on ``userId``.
    """
    session = uow.session
    text = _opinion(opinion, required=False)
    doc, _, step, tasks = await _open_step_for_change(session, actor, document_id)
    rows = await _assignee_rows(session, step.id)
    rule = routing.check_add_signer(StepMode(step.mode), len(rows), step.quorum, MAX_ASSIGNEES)
    if rule:
        raise DomainError(ErrorCode.INVALID_VALUE, "userId", detail=rule)
    user = await _active_user(session, user_id, "userId")
    if user.id == doc.drafter_id:
        raise DomainError(ErrorCode.INVALID_VALUE, "userId", detail="the drafter does not countersign their own draft")
    live = [t for t in tasks if TaskStatus(t.status) not in routing.INACTIVE]
    if any(r.user_id == user.id for r in rows) or any(_holds(t, user.id) for t in live):
        raise DomainError(ErrorCode.DUPLICATE, "userId", detail=f"{user.display_name} is on the step")
    position = max((r.position for r in rows), default=-1) + 1
    session.add(StepAssignee(step_id=step.id, user_id=user.id, position=position))
    await session.flush()
    messages: list[Message] = []
    if StepMode(step.mode) is not StepMode.SEQUENTIAL:
        messages += await _open_step(session, doc, step, actor, positions=[position])
    doc.version += 1
    session.add(
        _entry(doc, actor, ActionKind.SIGNER_ADDED, step_index=step.index, opinion=text, target_user_id=user.id)
    )
    if doc.drafter_id != actor.user_id:
        messages.append(
            _message(
                doc.drafter_id,
                NotificationKind.SIGNERS_CHANGED,
                doc,
                actor,
                f"加签：{doc.title}",
                f"{actor.display_name} 在{step.name}加签 {user.display_name}",
                stepIndex=step.index,
            )
        )
    await notify(uow, broker, messages)
    await session.flush()
    return doc


async def remove_signer(
    uow: UnitOfWork, broker: Publisher, actor: Actor, document_id: int, user_id: int, opinion: str | None
) -> Document:
    """Remove a signer (减签) named by id on the open step, for the drafter or the step's sender.

    The signer leaves the step's assignees (for later rounds too) and their pending task, if
    any, is cancelled (they are told); the other tasks are kept (docs/routing.md). When everyone
    left has approved, the step completes and the route advances (or the document is approved);
    in a SEQUENTIAL step, removing the current signer opens the next one. Errors: ``NOT_FOUND``
    (document), ``NOT_THE_SENDER``, ``INVALID_STATE`` (not in review; on ``userId``: already
    approved), ``INVALID_VALUE`` on ``userId`` (the last assignee, SINGLE, QUORUM k > n − 1, or not
    named on the step by id).
    """
    session = uow.session
    text = _opinion(opinion, required=False)
    doc, steps, step, tasks = await _open_step_for_change(session, actor, document_id)
    mode = StepMode(step.mode)
    rows = await _assignee_rows(session, step.id)
    row = next((r for r in rows if r.user_id == user_id), None)
    if row is None:
        raise DomainError(ErrorCode.INVALID_VALUE, "userId", detail="not named on the open step by id")
    rule = routing.check_remove_signer(mode, len(rows), step.quorum)
    if rule:
        raise DomainError(ErrorCode.INVALID_VALUE, "userId", detail=rule)
    live = [t for t in tasks if TaskStatus(t.status) not in routing.INACTIVE]
    if any(_holds(t, user_id) and t.status == TaskStatus.APPROVED.value for t in live):
        raise DomainError(ErrorCode.INVALID_STATE, "userId", detail="already approved")
    user = await session.get(User, user_id)
    assert user is not None
    now = utcnow()
    removed = [t for t in live if _holds(t, user_id) and t.status == TaskStatus.PENDING.value]
    messages = _cancel(removed, doc, actor, now, f"{actor.display_name} 已在{step.name}减签，此待办无需再办")
    await session.delete(row)
    await session.flush()
    for r in rows:
        if r.position > row.position:
            r.position -= 1
    await session.flush()
    remaining = [t for t in live if t not in removed]
    doc.version += 1
    session.add(
        _entry(doc, actor, ActionKind.SIGNER_REMOVED, step_index=step.index, opinion=text, target_user_id=user_id)
    )
    transition = routing.after_remove_signer(
        step.index,
        len(steps),
        mode,
        [TaskStatus(t.status) for t in remaining],
        assignee_count=len(rows) - 1,
        quorum=step.quorum,
    )
    messages += await _apply(session, doc, steps, step, remaining, transition, actor, now)
    if doc.drafter_id != actor.user_id:
        messages.append(
            _message(
                doc.drafter_id,
                NotificationKind.SIGNERS_CHANGED,
                doc,
                actor,
                f"减签：{doc.title}",
                f"{actor.display_name} 在{step.name}减签 {user.display_name}",
                stepIndex=step.index,
            )
        )
    await notify(uow, broker, messages)
    await session.flush()
    return doc


async def _apply(
    session: AsyncSession,
    doc: Document,
    steps: Sequence[RouteStep],
    step: RouteStep,
    step_tasks: Sequence[Task],
    transition: routing.Transition,
    actor: Actor,
    now: dt.datetime,
) -> list[Message]:
    """Carry out ``transition`` of the open ``step`` (as an approval would); the messages."""
    messages: list[Message] = []
    if transition.cancel_open:
        pending = [t for t in step_tasks if t.status == TaskStatus.PENDING.value]
        messages += _cancel(pending, doc, actor, now, f"{step.name}已完成，此待办无需再办")
    if transition.open_positions:
        messages += await _open_step(session, doc, step, actor, transition.open_positions)
    if transition.outcome is routing.Outcome.ADVANCE:
        assert transition.next_step is not None
        messages += await _open_step(session, doc, steps[transition.next_step], actor)
    if transition.outcome is routing.Outcome.FINISH:
        doc.status = DocumentStatus.APPROVED.value
        doc.current_step = None
        session.add(_entry(doc, actor, ActionKind.COMPLETED))
        messages.append(
            _message(
                doc.drafter_id,
                NotificationKind.DOCUMENT_APPROVED,
                doc,
                actor,
                f"已办结：{doc.title}",
                "公文已完成全部审批环节",
            )
        )
    return messages


# ---- reroute by an administrator ----------------------------------------------------------------


async def reroute(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    document_id: int,
    from_user_id: int,
    to_user_id: int,
    opinion: str | None,
) -> Document:
    """An administrator replaces ``from_user_id`` by ``to_user_id`` on the rest of an in-review
    document's route (e.g. a person left): their pending tasks of the round become TRANSFERRED with
    a new pending task for ``to_user_id`` in the same step (same sender), and the open and later
    steps name ``to_user_id`` where they named ``from_user_id`` by id.

    The actor must administer the document's issuing unit (``FORBIDDEN``, a top-level error;
    system administrators administer every unit). Writes a ``document.reroute`` audit row. Errors:
    ``INVALID_STATE`` (not in review), ``NOT_FOUND``/``INACTIVE``/``INVALID_VALUE`` (the same user)
    on ``toUserId``, ``NOT_FOUND`` on ``fromUserId``, ``INVALID_VALUE`` on ``fromUserId`` (not on the
    rest of the route), ``DUPLICATE`` on ``toUserId`` (already named on a step concerned, or holding a
    pending or approved task of a step whose task would move to them).
    """
    session = uow.session
    text = _opinion(opinion, required=False)
    doc = await _lock_document(session, document_id)
    unit = await session.get(OrgUnit, doc.issuing_unit_id)
    assert unit is not None
    actor.require_admin_of(unit)
    current = _in_review(doc)
    old = await session.get(User, from_user_id)
    if old is None:
        raise DomainError(ErrorCode.NOT_FOUND, "fromUserId")
    new = await _active_user(session, to_user_id, "toUserId")
    if new.id == old.id:
        raise DomainError(ErrorCode.INVALID_VALUE, "toUserId", detail="the same user")
    steps = [s for s in await _steps(session, doc.id) if s.index >= current]
    changed_rows = 0
    for st in steps:
        rows = await _assignee_rows(session, st.id)
        if not any(r.user_id == old.id for r in rows):
            continue
        if any(r.user_id == new.id for r in rows):
            raise DomainError(ErrorCode.DUPLICATE, "toUserId", detail=f"step {st.index}")
        for r in rows:
            if r.user_id == old.id:
                r.user_id = new.id
                changed_rows += 1
    by_id = {s.id: s for s in steps}
    round_tasks = await _round_tasks(session, doc)
    moving = [t for t in round_tasks if t.status == TaskStatus.PENDING.value and t.assignee_id == old.id]
    taken = {
        t.step_id
        for t in round_tasks
        if t.assignee_id == new.id and t.status in (TaskStatus.PENDING.value, TaskStatus.APPROVED.value)
    }
    clash = next((by_id[t.step_id] for t in moving if t.step_id in taken), None)
    if clash is not None:
        raise DomainError(ErrorCode.DUPLICATE, "toUserId", detail=f"step {clash.index}")
    if not moving and not changed_rows:
        raise DomainError(ErrorCode.INVALID_VALUE, "fromUserId", detail="not on the rest of the route")
    now = utcnow()
    messages: list[Message] = []
    for t in moving:
        st = by_id[t.step_id]
        t.status = TaskStatus.TRANSFERRED.value
        t.acted_at = now
        fresh = Task(
            document_id=doc.id,
            step_id=t.step_id,
            round=t.round,
            assignee_id=new.id,
            sender_id=t.sender_id,
            on_behalf_of_id=t.on_behalf_of_id,
        )
        session.add(fresh)
        await session.flush()
        messages.append(
            _message(
                new.id,
                NotificationKind.TASK_ASSIGNED,
                doc,
                actor,
                f"待办：{doc.title}",
                f"{old.display_name} 的待办已改由您办理，请{st.name}",
                taskId=fresh.id,
                stepIndex=st.index,
            )
        )
        messages.append(
            _message(
                old.id,
                NotificationKind.TASK_TRANSFERRED,
                doc,
                actor,
                f"待办已改派：{doc.title}",
                f"您的{st.name}待办已由管理员改派给 {new.display_name}",
                taskId=t.id,
                stepIndex=st.index,
            )
        )
    doc.version += 1
    session.add(_entry(doc, actor, ActionKind.REROUTED, step_index=current, opinion=text, target_user_id=new.id))
    messages.append(
        _message(
            doc.drafter_id,
            NotificationKind.DOCUMENT_REROUTED,
            doc,
            actor,
            f"流程已调整：{doc.title}",
            f"管理员 {actor.display_name} 将 {old.display_name} 改为 {new.display_name}",
            stepIndex=current,
        )
    )
    audit.record(
        session,
        actor_id=actor.user_id,
        action=audit.Action.DOCUMENT_REROUTE,
        target_type="Document",
        target_id=doc.id,
        after={"fromUserId": old.id, "toUserId": new.id, "taskIds": [t.id for t in moving]},
    )
    await notify(uow, broker, messages)
    await session.flush()
    return doc


# ---- comments (评论/意见) -----------------------------------------------------------------------


async def comment(uow: UnitOfWork, broker: Publisher, actor: Actor, document_id: int, opinion: str | None) -> Document:
    """Add a comment (评论/意见) without acting: anyone who can see the document (its drafter and
    the people on its route). A COMMENTED history entry; the drafter and the holders of pending
    tasks (and those they act for) are told, not the commenter. The document's version does not
    change. Errors: ``NOT_FOUND``, ``REQUIRED``/``TOO_LONG`` on ``opinion``.
    """
    session = uow.session
    text = _opinion(opinion, required=True)
    doc = await _visible_locked(session, actor, document_id)
    session.add(_entry(doc, actor, ActionKind.COMMENTED, step_index=doc.current_step, opinion=text))
    people = {doc.drafter_id}
    for t in await _round_tasks(session, doc):
        if t.status == TaskStatus.PENDING.value:
            people |= {t.assignee_id} | ({t.on_behalf_of_id} if t.on_behalf_of_id else set())
    people.discard(actor.user_id)
    messages = [
        _message(
            uid,
            NotificationKind.DOCUMENT_COMMENTED,
            doc,
            actor,
            f"新意见：{doc.title}",
            f"{actor.display_name}：{_excerpt(text or '')}",
        )
        for uid in sorted(people)
    ]
    await notify(uow, broker, messages)
    await session.flush()
    return doc

"""Countersign inside a unit (单位内部会签): the clerk routes a unit task to members.

A route position may name a unit (``{unitId}``): its clerk (文书) receives the task (REG
Art. 19: a draft touching another body's remit is countersigned by that body). Before the
unit answers, the clerk may route the task inside the unit — to active users holding a post
in the unit or a unit below it — one after another (``sequential``) or all at once
(``parallel_all``). Each member gets a sub-task (a :class:`Task` with ``parent_task_id``) in
their 待办 and may read the document; they approve it with an opinion or send it back to the
clerk (never to the drafter). Sub-tasks never count toward the route step's mode.

While a sub-task is pending the clerk cannot approve the parent (``SUBTASKS_PENDING``) unless
they first cancel the internal routing; the clerk then approves the parent with one
consolidated opinion, and the members' opinions stay in the history and on the task.
Returning the parent, or the document leaving the step (another assignee's return, an
``any_one``/``quorum`` completion), cancels the open sub-tasks.

Decisions: only the holder of a task whose route position named a unit's clerk (``Task.unit_id``)
may route it, and not to themselves (their own opinion goes on the parent task); a routing is
open while one of its sub-tasks is pending, and a new one may start once it is closed. A
member's send-back closes the routing and cancels the other open sub-tasks. Delegation (委托)
does not move sub-tasks: the clerk picks the people.

Every write locks the document row first (through :func:`service._load_task_for_action`),
so concurrent actions on one document end with one consistent outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from documents import service
from documents.models import Document, DocumentAction, RouteStep, Task, UnitRouting
from documents.types import ActionKind, TaskStatus
from messaging.models import NotificationKind, document_priority
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork, utcnow
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.models import OrgUnit, Position, User
from office_api.org.permissions import Actor
from office_api.text import trimmed

#: At most this many members per routing (the input list is capped).
MAX_MEMBERS = 20
#: Characters of the clerk's note to the members.
MAX_NOTE = 500


class WithinUnitMode(StrEnum):
    """How the members of a routing act: one after another, or all at once (all must approve)."""

    SEQUENTIAL = "sequential"
    PARALLEL_ALL = "parallel_all"


class SubOutcome(StrEnum):
    WAIT = "wait"  # other sub-tasks are still pending
    OPEN_NEXT = "open_next"  # sequential: open the next member's sub-task
    DONE = "done"  # every member approved: the clerk answers for the unit


def initial_count(mode: WithinUnitMode, member_count: int) -> int:
    """How many sub-tasks open with the routing: the first member for ``sequential``, all otherwise."""
    if mode is WithinUnitMode.SEQUENTIAL:
        return min(1, member_count)
    return member_count


def after_subtask_approval(mode: WithinUnitMode, member_count: int, opened: int, pending: int) -> SubOutcome:
    """What follows a member's approval: ``pending`` sub-tasks of the routing are still open
    (the one just approved not counted) and ``opened`` of ``member_count`` have been opened."""
    if pending:
        return SubOutcome.WAIT
    if mode is WithinUnitMode.SEQUENTIAL and opened < member_count:
        return SubOutcome.OPEN_NEXT
    return SubOutcome.DONE


# ---- queries ---------------------------------------------------------------------------


async def pending_subtasks(session: AsyncSession, parent_id: int) -> list[Task]:
    """The pending sub-tasks of the task ``parent_id``, oldest first."""
    q = select(Task).where(Task.parent_task_id == parent_id, Task.status == TaskStatus.PENDING.value).order_by(Task.id)
    return list((await session.execute(q)).scalars())


async def ensure_no_pending_subtasks(session: AsyncSession, task: Task) -> None:
    """``SUBTASKS_PENDING`` (field ``taskId``) while a sub-task of ``task`` is pending: the
    clerk answers for the unit only after the members, or after cancelling the routing."""
    q = (
        select(func.count())
        .select_from(Task)
        .where(Task.parent_task_id == task.id, Task.status == TaskStatus.PENDING.value)
    )
    if int((await session.execute(q)).scalar_one()):
        raise DomainError(ErrorCode.SUBTASKS_PENDING, "taskId")


async def _latest_routing(session: AsyncSession, parent_id: int) -> UnitRouting | None:
    q = select(UnitRouting).where(UnitRouting.parent_task_id == parent_id).order_by(UnitRouting.id.desc()).limit(1)
    return (await session.execute(q)).scalar_one_or_none()


async def unit_member_ids(session: AsyncSession, unit_id: int, user_ids: Sequence[int]) -> set[int]:
    """Which of ``user_ids`` are active and hold a post in an active unit inside the subtree of
    ``unit_id`` (the unit itself included)."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None or not user_ids:
        return set()
    q = (
        select(Position.user_id)
        .join(OrgUnit, OrgUnit.id == Position.unit_id)
        .join(User, User.id == Position.user_id)
        .where(
            Position.user_id.in_(list(user_ids)),
            User.is_active.is_(True),
            OrgUnit.is_active.is_(True),
            OrgUnit.path.startswith(unit.path, autoescape=True),
        )
    )
    return set((await session.execute(q)).scalars())


# ---- messages --------------------------------------------------------------------------


def _assigned(doc: Document, step: RouteStep, parent: Task, sub: Task, sender: Actor, note: str | None) -> Message:
    body = f"{sender.display_name} 送来《{doc.title}》，请在单位内部{step.name}"
    if note:
        body += f"：{service._excerpt(note)}"
    return Message(
        user_id=sub.assignee_id,
        kind=NotificationKind.TASK_ASSIGNED.value,
        title=f"待办：{doc.title}",
        body=body,
        subject_type="Document",
        subject_id=doc.id,
        actor_id=sender.user_id,
        payload={"taskId": sub.id, "parentTaskId": parent.id, "stepIndex": step.index, "round": doc.round},
        priority=document_priority(NotificationKind.TASK_ASSIGNED, doc.urgency),
    )


def _open_subtasks(
    session: AsyncSession, doc: Document, parent: Task, members: Sequence[int], sender: Actor
) -> list[Task]:
    subs = [
        Task(
            document_id=doc.id,
            step_id=parent.step_id,
            round=parent.round,
            assignee_id=uid,
            sender_id=sender.user_id,
            parent_task_id=parent.id,
        )
        for uid in members
    ]
    session.add_all(subs)
    return subs


def _history(doc: Document, actor: Actor, action: ActionKind, task: Task, opinion: str | None) -> DocumentAction:
    return DocumentAction(
        document_id=doc.id,
        actor_id=actor.user_id,
        action=action.value,
        round=doc.round,
        step_index=doc.current_step,
        task_id=task.id,
        opinion=opinion,
    )


# ---- use cases -------------------------------------------------------------------------


async def route_within_unit(
    uow: UnitOfWork,
    broker: Publisher,
    actor: Actor,
    task_id: int,
    assignee_ids: Sequence[int],
    mode: WithinUnitMode,
    note: str | None,
) -> Task:
    """Route ``actor``'s pending unit task (``task_id``) to members of the unit; the parent task.

    ``assignee_ids``: 1 to :data:`MAX_MEMBERS` users, in order (``sequential`` opens them one
    after another), each active and holding a post in the task's unit or a unit below it.
    ``note``: at most :data:`MAX_NOTE` characters, shown to the members and in the history.
    Writes a ``routed_in_unit`` history entry and tells the members whose sub-task opens.

    Errors: ``NOT_FOUND``/``NOT_YOUR_TASK``/``TASK_ALREADY_HANDLED`` (``taskId``, as for
    approvals), ``NOT_A_UNIT_TASK`` (the route position did not name a unit's clerk, or the task
    is itself a sub-task), ``SUBTASKS_PENDING`` (a routing of this task is still open), and on
    ``assigneeIds``: ``REQUIRED``, ``TOO_MANY``, and per entry ``assigneeIds.N``: ``DUPLICATE``,
    ``INVALID_VALUE`` (yourself), ``NOT_FOUND``, ``INACTIVE``, ``NOT_IN_UNIT``; ``TOO_LONG`` on
    ``note``. Rule source: REG Art. 19 (会签 by the bodies concerned).
    """
    session = uow.session
    text = trimmed(note) or None
    if text is not None and len(text) > MAX_NOTE:
        raise DomainError(ErrorCode.TOO_LONG, "note", limit=MAX_NOTE)
    task, doc = await service._load_task_for_action(session, actor, task_id)
    if task.parent_task_id is not None or task.unit_id is None:
        raise DomainError(ErrorCode.NOT_A_UNIT_TASK, "taskId")
    await ensure_no_pending_subtasks(session, task)
    errors = ErrorCollector()
    if not assignee_ids:
        errors.add(ErrorCode.REQUIRED, "assigneeIds")
    elif len(assignee_ids) > MAX_MEMBERS:
        errors.add(ErrorCode.TOO_MANY, "assigneeIds", limit=MAX_MEMBERS)
    errors.raise_if_any()
    users = {
        row.id: row.is_active
        for row in (await session.execute(select(User.id, User.is_active).where(User.id.in_(list(assignee_ids)))))
    }
    members = await unit_member_ids(session, task.unit_id, assignee_ids)
    unit = await session.get(OrgUnit, task.unit_id)
    seen: set[int] = set()
    for i, uid in enumerate(assignee_ids):
        path = f"assigneeIds.{i}"
        if uid in seen:
            errors.add(ErrorCode.DUPLICATE, path, detail="listed twice")
        elif uid == actor.user_id:
            errors.add(ErrorCode.INVALID_VALUE, path, detail="you hold the task: write your opinion on it")
        elif uid not in users:
            errors.add(ErrorCode.NOT_FOUND, path)
        elif not users[uid]:
            errors.add(ErrorCode.INACTIVE, path, detail=f"user {uid}")
        elif uid not in members:
            errors.add(ErrorCode.NOT_IN_UNIT, path, detail=unit.name if unit else str(task.unit_id))
        seen.add(uid)
    errors.raise_if_any()
    step = await session.get(RouteStep, task.step_id)
    assert step is not None
    count = initial_count(mode, len(assignee_ids))
    session.add(
        UnitRouting(
            document_id=doc.id,
            parent_task_id=task.id,
            mode=mode.value,
            assignee_ids=list(assignee_ids),
            opened=count,
            note=text,
            created_by_id=actor.user_id,
        )
    )
    subs = _open_subtasks(session, doc, task, assignee_ids[:count], actor)
    await session.flush()
    session.add(_history(doc, actor, ActionKind.ROUTED_IN_UNIT, task, text))
    doc.version += 1
    await notify(uow, broker, [_assigned(doc, step, task, s, actor, text) for s in subs])
    await session.flush()
    return task


async def approve_subtask(
    uow: UnitOfWork, broker: Publisher, actor: Actor, task: Task, doc: Document, opinion: str | None
) -> Task:
    """A member approves their sub-task (called by :func:`service.approve_task` once the
    document is locked and the task checked). Opens the next member's sub-task of a
    ``sequential`` routing; the clerk is told (``SUBTASK_APPROVED``, saying when every member
    has approved). ``TASK_ALREADY_HANDLED`` if the parent is no longer pending."""
    session = uow.session
    parent = await session.get(Task, task.parent_task_id)
    routing_row = await _latest_routing(session, task.parent_task_id or 0)
    if parent is None or parent.status != TaskStatus.PENDING.value or routing_row is None:
        raise DomainError(ErrorCode.TASK_ALREADY_HANDLED, "taskId")
    now = utcnow()
    task.status = TaskStatus.APPROVED.value
    task.opinion = opinion
    task.acted_at = now
    await session.flush()
    session.add(_history(doc, actor, ActionKind.SUBTASK_APPROVED, task, opinion))
    doc.version += 1
    step = await session.get(RouteStep, task.step_id)
    assert step is not None
    pending = await pending_subtasks(session, parent.id)
    members = list(routing_row.assignee_ids)
    outcome = after_subtask_approval(WithinUnitMode(routing_row.mode), len(members), routing_row.opened, len(pending))
    body = f"{actor.display_name}：{service._excerpt(opinion or '同意')}"
    if outcome is SubOutcome.DONE:
        body += "。单位内部会签已全部完成，请汇总意见后办理"
    messages = [
        Message(
            user_id=parent.assignee_id,
            kind=NotificationKind.SUBTASK_APPROVED.value,
            title=f"内部会签：{doc.title}",
            body=body,
            subject_type="Document",
            subject_id=doc.id,
            actor_id=actor.user_id,
            payload={"taskId": parent.id, "subtaskId": task.id, "done": outcome is SubOutcome.DONE},
        )
    ]
    if outcome is SubOutcome.OPEN_NEXT:
        nxt = _open_subtasks(session, doc, parent, [members[routing_row.opened]], actor)
        routing_row.opened += 1
        await session.flush()
        messages.append(_assigned(doc, step, parent, nxt[0], actor, routing_row.note))
    await notify(uow, broker, messages)
    await session.flush()
    return task


async def return_subtask(
    uow: UnitOfWork, broker: Publisher, actor: Actor, task: Task, doc: Document, opinion: str
) -> Task:
    """A member sends their sub-task back to the clerk (opinion required; called by
    :func:`service.return_task`). The routing closes: the other open sub-tasks are cancelled
    and their holders told; the clerk gets ``SUBTASK_RETURNED`` and still holds the task."""
    session = uow.session
    parent = await session.get(Task, task.parent_task_id)
    if parent is None or parent.status != TaskStatus.PENDING.value:
        raise DomainError(ErrorCode.TASK_ALREADY_HANDLED, "taskId")
    now = utcnow()
    task.status = TaskStatus.RETURNED.value
    task.opinion = opinion
    task.acted_at = now
    await session.flush()
    others = await pending_subtasks(session, parent.id)
    session.add(_history(doc, actor, ActionKind.SUBTASK_RETURNED, task, opinion))
    doc.version += 1
    messages = [
        Message(
            user_id=parent.assignee_id,
            kind=NotificationKind.SUBTASK_RETURNED.value,
            title=f"内部会签退回：{doc.title}",
            body=f"{actor.display_name}：{service._excerpt(opinion)}",
            subject_type="Document",
            subject_id=doc.id,
            actor_id=actor.user_id,
            payload={"taskId": parent.id, "subtaskId": task.id},
        )
    ]
    messages += service._cancel(others, doc, actor, now, f"{actor.display_name} 已将内部会签退回单位文书")
    await notify(uow, broker, messages)
    await session.flush()
    return task


async def cancel_within_unit(uow: UnitOfWork, broker: Publisher, actor: Actor, task_id: int, note: str | None) -> Task:
    """The clerk cancels the open routing of their task ``task_id``: pending sub-tasks are
    cancelled (holders told, TASK_CANCELLED), an ``unit_route_cancelled`` history entry is
    written; the parent task stays pending. Errors as :func:`route_within_unit` on ``taskId``,
    and ``INVALID_STATE`` when no routing is open; ``TOO_LONG`` on ``note``."""
    session = uow.session
    text = trimmed(note) or None
    if text is not None and len(text) > MAX_NOTE:
        raise DomainError(ErrorCode.TOO_LONG, "note", limit=MAX_NOTE)
    task, doc = await service._load_task_for_action(session, actor, task_id)
    if task.parent_task_id is not None or task.unit_id is None:
        raise DomainError(ErrorCode.NOT_A_UNIT_TASK, "taskId")
    pending = await pending_subtasks(session, task.id)
    if not pending:
        raise DomainError(ErrorCode.INVALID_STATE, "taskId", detail="no routing within the unit is open")
    now = utcnow()
    body = f"{actor.display_name} 已撤销单位内部流转" + (f"：{service._excerpt(text)}" if text else "")
    messages = service._cancel(pending, doc, actor, now, body)
    session.add(_history(doc, actor, ActionKind.UNIT_ROUTE_CANCELLED, task, text))
    doc.version += 1
    await notify(uow, broker, messages)
    await session.flush()
    return task


async def cancel_orphaned_subtasks(session: AsyncSession, doc: Document, actor: Actor) -> list[Message]:
    """Cancel the pending sub-tasks of ``doc`` whose parent task is no longer pending (the
    step moved on, e.g. an ``any_one`` approval cancelled the clerk's task); the messages to
    send. Called by :func:`service.approve_task` before it notifies."""
    parent = aliased(Task)
    q = (
        select(Task)
        .join(parent, parent.id == Task.parent_task_id)
        .where(
            Task.document_id == doc.id,
            Task.status == TaskStatus.PENDING.value,
            parent.status != TaskStatus.PENDING.value,
        )
        .order_by(Task.id)
    )
    orphans = list((await session.execute(q)).scalars())
    return service._cancel(orphans, doc, actor, utcnow(), f"{actor.display_name} 已办理，此单位内部待办无需再办")

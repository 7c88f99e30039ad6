"""Handover (交接): an administrator moves every pending task of a departing user to another.

One transaction: the documents concerned are locked in id order (as approvals lock them),
the pending tasks re-read under those locks, reassigned, one ``handed_over`` history entry
written per task, and per task the new assignee gets TASK_ASSIGNED and the old one
TASK_TRANSFERRED. Tasks already acted on (approved, returned, cancelled) do not move.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from documents import clocks
from documents.models import Document, DocumentAction, RouteStep, Task
from documents.types import ActionKind, TaskStatus
from messaging.models import NotificationKind, document_priority
from messaging.outbox import Message, Publisher, notify
from office_api import audit
from office_api.audit import Action
from office_api.db import UnitOfWork
from office_api.errors import AuthError, ErrorCode, ErrorCollector
from office_api.org.models import OrgUnit, User
from office_api.org.permissions import Actor
from office_api.org.service import primary_unit_id


async def _require_admin_of_user(uow: UnitOfWork, actor: Actor, user_id: int) -> None:
    """``FORBIDDEN`` unless ``actor`` administers the unit of ``user_id``'s primary post
    (system admins administer everyone)."""
    if actor.is_system_admin:
        return
    home = await primary_unit_id(uow.session, user_id)
    unit = await uow.session.get(OrgUnit, home) if home is not None else None
    if unit is None:
        raise AuthError(ErrorCode.FORBIDDEN)
    actor.require_admin_of(unit)


async def hand_over_tasks(
    uow: UnitOfWork, broker: Publisher, actor: Actor, from_user_id: int, to_user_id: int
) -> list[Task]:
    """Move all pending tasks of ``from_user_id`` to ``to_user_id``; the tasks moved, by id.

    The actor must administer both users' primary units (``FORBIDDEN``). Errors:
    ``NOT_FOUND`` (``fromUserId``/``toUserId``), ``INVALID_VALUE`` on ``toUserId`` when
    both are the same user, ``INACTIVE`` when the new assignee is disabled. Writes one
    ``task.handover`` audit row (target: the departing user; the moved task ids), even
    when nothing was pending.
    """
    session = uow.session
    await _require_admin_of_user(uow, actor, from_user_id)
    await _require_admin_of_user(uow, actor, to_user_id)
    users = {
        u.id: u for u in (await session.execute(select(User).where(User.id.in_([from_user_id, to_user_id])))).scalars()
    }
    errors = ErrorCollector()
    if from_user_id not in users:
        errors.add(ErrorCode.NOT_FOUND, "fromUserId")
    if to_user_id not in users:
        errors.add(ErrorCode.NOT_FOUND, "toUserId")
    elif to_user_id == from_user_id:
        errors.add(ErrorCode.INVALID_VALUE, "toUserId", detail="the same user")
    elif not users[to_user_id].is_active:
        errors.add(ErrorCode.INACTIVE, "toUserId", detail=users[to_user_id].display_name)
    errors.raise_if_any()
    old, new = users[from_user_id], users[to_user_id]
    doc_ids = sorted(
        set(
            (
                await session.execute(
                    select(Task.document_id).where(
                        Task.assignee_id == from_user_id, Task.status == TaskStatus.PENDING.value
                    )
                )
            ).scalars()
        )
    )
    if not doc_ids:
        _audit_handover(session, actor, from_user_id, to_user_id, [])
        return []
    docs = {
        d.id: d
        for d in (
            await session.execute(
                select(Document).where(Document.id.in_(doc_ids)).order_by(Document.id).with_for_update()
            )
        ).scalars()
    }
    for doc_id in docs:
        clocks.track(session, doc_id)
    tasks = list(
        (
            await session.execute(
                select(Task)
                .where(Task.assignee_id == from_user_id, Task.status == TaskStatus.PENDING.value)
                .order_by(Task.id)
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    steps = {
        s.id: s
        for s in (
            await session.execute(select(RouteStep).where(RouteStep.id.in_({t.step_id for t in tasks})))
        ).scalars()
    }
    messages: list[Message] = []
    note = f"{old.display_name} → {new.display_name}"
    for task in tasks:
        doc = docs.get(task.document_id)
        if doc is None:  # a document created after the first read cannot hold an old task
            continue
        step = steps[task.step_id]
        task.assignee_id = new.id
        doc.version += 1
        session.add(
            DocumentAction(
                document_id=doc.id,
                actor_id=actor.user_id,
                action=ActionKind.HANDED_OVER.value,
                round=task.round,
                step_index=step.index,
                task_id=task.id,
                opinion=note,
            )
        )
        payload = {
            "taskId": task.id,
            "stepIndex": step.index,
            "round": task.round,
            "fromUserId": old.id,
            "toUserId": new.id,
        }
        messages.append(
            Message(
                user_id=new.id,
                kind=NotificationKind.TASK_ASSIGNED.value,
                title=f"待办：{doc.title}",
                body=f"{old.display_name} 的待办已移交给您，请{step.name}",
                subject_type="Document",
                subject_id=doc.id,
                actor_id=actor.user_id,
                payload=payload,
                priority=document_priority(NotificationKind.TASK_ASSIGNED, doc.urgency),
            )
        )
        messages.append(
            Message(
                user_id=old.id,
                kind=NotificationKind.TASK_TRANSFERRED.value,
                title=f"待办已移交：{doc.title}",
                body=f"您的{step.name}待办已移交给 {new.display_name}",
                subject_type="Document",
                subject_id=doc.id,
                actor_id=actor.user_id,
                payload=payload,
            )
        )
    moved = [t for t in tasks if t.document_id in docs]
    _audit_handover(session, actor, from_user_id, to_user_id, [t.id for t in moved])
    await notify(uow, broker, messages)
    await session.flush()
    return moved


def _audit_handover(
    session: AsyncSession, actor: Actor, from_user_id: int, to_user_id: int, task_ids: list[int]
) -> None:
    audit.record(
        session,
        actor_id=actor.user_id,
        action=Action.TASK_HANDOVER,
        target_type="User",
        target_id=from_user_id,
        after={"toUserId": to_user_id, "taskIds": task_ids},
    )

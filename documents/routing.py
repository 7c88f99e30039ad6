"""The routing state machine: pure functions, no database.

A route is an ordered list of steps. A step opens one task per assignee. Approving a task
completes its step when the step's mode says so (``single``: its one task; ``parallel_all``
会签: every task of the step). A completed step opens the next; the last one approves the
document. Returning a task sends the document back to the drafter and cancels the step's
other open tasks; resubmission starts a new round at the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from documents.types import DocumentStatus, StepMode, TaskStatus


class Outcome(StrEnum):
    WAIT = "wait"  # the step still has open tasks
    ADVANCE = "advance"  # open the next step
    FINISH = "finish"  # the last step is complete: document approved


@dataclass(frozen=True)
class Transition:
    outcome: Outcome
    next_step: int | None = None


def step_complete(mode: StepMode, statuses: Sequence[TaskStatus]) -> bool:
    """True when a step with tasks in ``statuses`` is complete (all approved, at least one)."""
    live = [s for s in statuses if s is not TaskStatus.CANCELLED]
    if not live:
        return False
    if mode is StepMode.SINGLE:
        return any(s is TaskStatus.APPROVED for s in live)
    return all(s is TaskStatus.APPROVED for s in live)


def after_approval(step_index: int, step_count: int, mode: StepMode, statuses: Sequence[TaskStatus]) -> Transition:
    """What happens once a task of step ``step_index`` has been approved.

    ``statuses`` are the statuses of the step's tasks in the current round, including the
    one just approved.
    """
    if not step_complete(mode, statuses):
        return Transition(Outcome.WAIT)
    if step_index + 1 < step_count:
        return Transition(Outcome.ADVANCE, step_index + 1)
    return Transition(Outcome.FINISH)


def can_submit(status: DocumentStatus) -> bool:
    """A draft or a returned document can be (re)submitted."""
    return status in (DocumentStatus.DRAFT, DocumentStatus.RETURNED)


def can_act(status: DocumentStatus, task_status: TaskStatus) -> bool:
    """A task can be approved or returned while pending on a document in review."""
    return status is DocumentStatus.IN_REVIEW and task_status is TaskStatus.PENDING


def validate_step(mode: StepMode, assignee_count: int) -> str | None:
    """The rule a step breaks, or None: ``single`` takes exactly one assignee,
    ``parallel_all`` at least one."""
    if assignee_count < 1:
        return "a step needs at least one assignee"
    if mode is StepMode.SINGLE and assignee_count != 1:
        return "a single step takes exactly one assignee"
    return None

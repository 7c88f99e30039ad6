"""The routing state machine: pure functions, no database.

A route is an ordered list of steps. A step names ``n`` assignees and completes by its mode:

* ``single``: its one task is approved;
* ``sequential``: the assignees one after another — only the first task opens with the step,
  each approval opens the next assignee's task, the last approval completes the step;
* ``parallel_all`` (会签): every task of the step is approved;
* ``any_one`` (或签/抢办): the first approval completes the step and cancels the other open tasks;
* ``quorum`` (k of n): ``k`` approvals complete the step and cancel the remaining open tasks.

A completed step opens the next; the last one approves the document. Returning a task sends
the document back to the drafter and cancels the step's other open tasks, whatever the mode;
resubmission starts a new round at the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from documents.types import DocumentStatus, StepMode, TaskStatus


class Outcome(StrEnum):
    WAIT = "wait"  # the step still has open tasks (or opens the next sequential one)
    ADVANCE = "advance"  # open the next step
    FINISH = "finish"  # the last step is complete: document approved
    RETURN = "return"  # back to the drafter


@dataclass(frozen=True)
class Transition:
    """What to do after an action on a task.

    ``open_positions``: positions (0-based, in the step's assignee order) of the step whose
    tasks open now (``sequential``: the next assignee). ``cancel_open``: cancel the other
    pending tasks of the step (``any_one``/``quorum`` once complete, and every return).
    """

    outcome: Outcome
    next_step: int | None = None
    open_positions: tuple[int, ...] = ()
    cancel_open: bool = False


def initial_positions(mode: StepMode, assignee_count: int) -> list[int]:
    """Positions whose tasks open when a step opens: the first only for ``sequential``,
    every assignee otherwise."""
    if mode is StepMode.SEQUENTIAL:
        return [0] if assignee_count else []
    return list(range(assignee_count))


def step_complete(
    mode: StepMode, statuses: Sequence[TaskStatus], *, assignee_count: int | None = None, quorum: int | None = None
) -> bool:
    """True when a step with tasks in ``statuses`` (this round) is complete.

    ``assignee_count`` (n) matters for ``sequential`` (every assignee must have approved;
    defaults to the number of tasks); ``quorum`` (k) for ``quorum``.
    """
    live = [s for s in statuses if s is not TaskStatus.CANCELLED]
    if not live:
        return False
    approved = sum(1 for s in live if s is TaskStatus.APPROVED)
    if mode in (StepMode.SINGLE, StepMode.ANY_ONE):
        return approved >= 1
    if mode is StepMode.QUORUM:
        return quorum is not None and approved >= quorum
    if mode is StepMode.SEQUENTIAL:
        n = len(statuses) if assignee_count is None else assignee_count
        return approved >= n and all(s is TaskStatus.APPROVED for s in live)
    return all(s is TaskStatus.APPROVED for s in live)


def after_approval(
    step_index: int,
    step_count: int,
    mode: StepMode,
    statuses: Sequence[TaskStatus],
    *,
    assignee_count: int | None = None,
    quorum: int | None = None,
) -> Transition:
    """What happens once a task of step ``step_index`` has been approved.

    ``statuses`` are the statuses of the step's tasks in the current round (in the order
    they were opened), including the one just approved; ``assignee_count`` is how many
    assignees the step names (defaults to ``len(statuses)``).
    """
    n = len(statuses) if assignee_count is None else assignee_count
    if not step_complete(mode, statuses, assignee_count=n, quorum=quorum):
        if mode is StepMode.SEQUENTIAL and len(statuses) < n:
            return Transition(Outcome.WAIT, open_positions=(len(statuses),))
        return Transition(Outcome.WAIT)
    cancel = mode in (StepMode.ANY_ONE, StepMode.QUORUM) and any(s is TaskStatus.PENDING for s in statuses)
    if step_index + 1 < step_count:
        return Transition(Outcome.ADVANCE, step_index + 1, cancel_open=cancel)
    return Transition(Outcome.FINISH, cancel_open=cancel)


def after_return(mode: StepMode, statuses: Sequence[TaskStatus]) -> Transition:
    """What happens once a task has been returned: back to the drafter, and the step's other
    open tasks are cancelled (every mode)."""
    return Transition(Outcome.RETURN, cancel_open=any(s is TaskStatus.PENDING for s in statuses))


def can_submit(status: DocumentStatus) -> bool:
    """A draft or a returned document can be (re)submitted."""
    return status in (DocumentStatus.DRAFT, DocumentStatus.RETURNED)


def can_act(status: DocumentStatus, task_status: TaskStatus) -> bool:
    """A task can be approved or returned while pending on a document in review."""
    return status is DocumentStatus.IN_REVIEW and task_status is TaskStatus.PENDING


def validate_step(mode: StepMode, assignee_count: int, quorum: int | None = None) -> tuple[str, str] | None:
    """The rule a step breaks as ``(field, detail)``, or None.

    ``single`` takes exactly one assignee, the other modes at least one; ``quorum`` needs
    ``1 ≤ k ≤ n``, and only ``quorum`` steps take a ``k``. ``field`` is ``assignees`` or ``quorum``.
    """
    if assignee_count < 1:
        return "assignees", "a step needs at least one assignee"
    if mode is StepMode.SINGLE and assignee_count != 1:
        return "assignees", "a single step takes exactly one assignee"
    if mode is StepMode.QUORUM:
        if quorum is None:
            return "quorum", "a quorum step needs k (1 ≤ k ≤ n)"
        if not 1 <= quorum <= assignee_count:
            return "quorum", f"k must be between 1 and {assignee_count}"
    elif quorum is not None:
        return "quorum", "only a QUORUM step takes k"
    return None

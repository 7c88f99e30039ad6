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


# ---- routing actions: return to a step, withdraw, transfer, add/remove signer (docs/routing.md) ----

#: Task statuses that no longer count in their step: cancelled, passed to someone else
#: (转办/reroute), an approval undone by a return to an earlier step, or the task that returned
#: the document to an earlier step (the step reopens with fresh tasks when the route comes back).
INACTIVE = frozenset({TaskStatus.CANCELLED, TaskStatus.TRANSFERRED, TaskStatus.SUPERSEDED, TaskStatus.RETURNED})


def live(statuses: Sequence[TaskStatus]) -> list[TaskStatus]:
    """The statuses that still count in a step (in order): everything but :data:`INACTIVE`."""
    return [s for s in statuses if s not in INACTIVE]


class SiblingAction(StrEnum):
    """An action on one task (or signer) of a step, as seen by the step's other tasks."""

    RETURN_TO_DRAFTER = "return_to_drafter"
    RETURN_TO_STEP = "return_to_step"
    WITHDRAW = "withdraw"
    REMOVE_SIGNER = "remove_signer"
    RESUBMIT = "resubmit"


class SiblingEffect(StrEnum):
    """What an action does to another task of the same step (docs/routing.md, the table)."""

    KEEP = "keep"  # unchanged: a pending task stays pending, an approval stands
    CANCEL = "cancel"  # a pending task is cancelled (its assignee is told)
    SUPERSEDE = "supersede"  # an approval is undone: the person approves again when the step reopens
    REOPEN = "reopen"  # a task cancelled by the withdrawn approval is pending again
    NEW_ROUND = "new_round"  # the task stays as it was in its round; the new round opens fresh tasks


def sibling_effect(
    action: SiblingAction, mode: StepMode, status: TaskStatus, *, cancelled_by_withdrawn: bool = False
) -> SiblingEffect:
    """What ``action`` on one task of a ``mode`` step does to another task of that step in ``status``.

    * return to the drafter: pending → cancelled, approvals kept (the round ends; they stay in the history);
    * return to an earlier step: pending → cancelled, approvals superseded (this step will reopen fresh);
    * withdraw an approval: other pending and approved tasks kept; a task cancelled by the withdrawn
      approval itself (``cancelled_by_withdrawn``: ANY_ONE/QUORUM completion) reopens;
    * remove a signer: the others are kept (the step may then complete: see :func:`after_remove_signer`);
    * resubmission: every task stays in its round; the new round opens new tasks.

    The same in every mode (the mode decides only when a step completes); ``mode`` is taken so
    that the table of docs/routing.md is tested cell by cell.
    """
    del mode
    if action is SiblingAction.RESUBMIT:
        return SiblingEffect.NEW_ROUND
    if status in (TaskStatus.TRANSFERRED, TaskStatus.SUPERSEDED, TaskStatus.RETURNED):
        return SiblingEffect.KEEP
    if status is TaskStatus.CANCELLED:
        if action is SiblingAction.WITHDRAW and cancelled_by_withdrawn:
            return SiblingEffect.REOPEN
        return SiblingEffect.KEEP
    if action is SiblingAction.RETURN_TO_DRAFTER:
        return SiblingEffect.CANCEL if status is TaskStatus.PENDING else SiblingEffect.KEEP
    if action is SiblingAction.RETURN_TO_STEP:
        return SiblingEffect.CANCEL if status is TaskStatus.PENDING else SiblingEffect.SUPERSEDE
    return SiblingEffect.KEEP


def check_return_to_step(current_step: int, to_step: int) -> str | None:
    """Why a return from step ``current_step`` to step ``to_step`` is refused, or None: the target
    must be an earlier step (0 ≤ to_step < current_step)."""
    if to_step < 0:
        return "a step index is 0 or more"
    if to_step >= current_step:
        return f"must be an earlier step than the current one ({current_step})"
    return None


def can_withdraw(status: DocumentStatus, later_actions: int, last_by_actor: bool) -> bool:
    """True when the sender may still withdraw (撤回): the document is in review, the last routing
    action of the round (a submission or an approval) is the actor's (``last_by_actor``), and nobody
    has acted since (``later_actions`` routing actions after it; comments do not count)."""
    return status is DocumentStatus.IN_REVIEW and last_by_actor and later_actions == 0


def check_add_signer(mode: StepMode, assignee_count: int, quorum: int | None, limit: int) -> str | None:
    """Why adding a signer (加签) to a step naming ``assignee_count`` people is refused, or None.

    SINGLE steps take exactly one assignee; a step takes at most ``limit``. Every other mode
    accepts one more (QUORUM keeps its k, so k ≤ n still holds)."""
    if assignee_count + 1 > limit:
        return f"a step takes at most {limit} assignees"
    rule = validate_step(mode, assignee_count + 1, quorum)
    return rule[1] if rule else None


def check_remove_signer(mode: StepMode, assignee_count: int, quorum: int | None) -> str | None:
    """Why removing a signer (减签) from a step naming ``assignee_count`` people is refused, or None:
    the step must keep at least one assignee, SINGLE steps exactly one, and QUORUM steps k ≤ n."""
    rule = validate_step(mode, assignee_count - 1, quorum)
    return rule[1] if rule else None


def after_remove_signer(
    step_index: int,
    step_count: int,
    mode: StepMode,
    statuses: Sequence[TaskStatus],
    *,
    assignee_count: int,
    quorum: int | None = None,
) -> Transition:
    """What happens once a signer was removed from the open step ``step_index``.

    ``statuses`` are the step's live tasks of the round after the removal (the removed signer's
    task already cancelled), ``assignee_count`` the assignees left. When the rest have already
    approved the step completes (ADVANCE/FINISH, the remaining open tasks cancelled for
    ANY_ONE/QUORUM); a SEQUENTIAL step whose current signer was removed opens the next one.
    """
    ls = live(statuses)
    if step_complete(mode, ls, assignee_count=assignee_count, quorum=quorum):
        cancel = mode in (StepMode.ANY_ONE, StepMode.QUORUM) and TaskStatus.PENDING in ls
        if step_index + 1 < step_count:
            return Transition(Outcome.ADVANCE, step_index + 1, cancel_open=cancel)
        return Transition(Outcome.FINISH, cancel_open=cancel)
    if mode is StepMode.SEQUENTIAL and TaskStatus.PENDING not in ls and len(ls) < assignee_count:
        return Transition(Outcome.WAIT, open_positions=(len(ls),))
    return Transition(Outcome.WAIT)

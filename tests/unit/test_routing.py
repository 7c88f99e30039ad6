"""The routing state machine (documents/routing.py): exact transitions, no database."""

from __future__ import annotations

import pytest

from documents.routing import (
    INACTIVE,
    Outcome,
    SiblingAction,
    SiblingEffect,
    Transition,
    after_approval,
    after_remove_signer,
    after_return,
    can_act,
    can_submit,
    can_withdraw,
    check_add_signer,
    check_remove_signer,
    check_return_to_step,
    initial_positions,
    live,
    sibling_effect,
    step_complete,
    validate_step,
)
from documents.types import DocumentStatus, StepMode, TaskStatus

A, P, R, C = TaskStatus.APPROVED, TaskStatus.PENDING, TaskStatus.RETURNED, TaskStatus.CANCELLED
SINGLE, ALL = StepMode.SINGLE, StepMode.PARALLEL_ALL
SEQ, ANY, QUORUM = StepMode.SEQUENTIAL, StepMode.ANY_ONE, StepMode.QUORUM


# ---- step_complete ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "statuses", "complete"),
    [
        (SINGLE, [A], True),
        (SINGLE, [P], False),
        (SINGLE, [R], False),
        (SINGLE, [C], False),
        (SINGLE, [], False),
        (ALL, [A], True),
        (ALL, [P], False),
        (ALL, [A, P], False),
        (ALL, [P, A], False),
        (ALL, [A, A], True),
        (ALL, [A, A, P], False),
        (ALL, [A, P, P], False),
        (ALL, [A, A, A], True),
        (ALL, [A, R], False),
        # Cancelled tasks do not count, but a step of only cancelled tasks is not complete.
        (ALL, [A, C], True),
        (ALL, [C, A, C], True),
        (ALL, [C, P], False),
        (ALL, [C, C], False),
        (ALL, [], False),
    ],
)
def test_step_complete(mode: StepMode, statuses: list[TaskStatus], complete: bool) -> None:
    assert step_complete(mode, statuses) is complete


# ---- after_approval --------------------------------------------------------------------


def test_single_step_advances_to_the_next() -> None:
    assert after_approval(0, 3, SINGLE, [A]) == Transition(Outcome.ADVANCE, 1)
    assert after_approval(1, 3, SINGLE, [A]) == Transition(Outcome.ADVANCE, 2)


def test_single_last_step_finishes() -> None:
    assert after_approval(2, 3, SINGLE, [A]) == Transition(Outcome.FINISH, None)
    assert after_approval(0, 1, SINGLE, [A]) == Transition(Outcome.FINISH, None)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        # One countersigner: the only approval completes the step.
        ([A], Transition(Outcome.ADVANCE, 1)),
        # Two: the first approval waits, the second advances.
        ([A, P], Transition(Outcome.WAIT)),
        ([P, A], Transition(Outcome.WAIT)),
        ([A, A], Transition(Outcome.ADVANCE, 1)),
        # Three: waits until all three approved, in any order.
        ([A, P, P], Transition(Outcome.WAIT)),
        ([P, A, P], Transition(Outcome.WAIT)),
        ([A, A, P], Transition(Outcome.WAIT)),
        ([P, A, A], Transition(Outcome.WAIT)),
        ([A, A, A], Transition(Outcome.ADVANCE, 1)),
    ],
)
def test_parallel_all_waits_for_every_countersigner(statuses: list[TaskStatus], expected: Transition) -> None:
    assert after_approval(0, 2, ALL, statuses) == expected


def test_parallel_all_last_step_finishes_only_when_all_approved() -> None:
    assert after_approval(1, 2, ALL, [A, P, A]) == Transition(Outcome.WAIT)
    assert after_approval(1, 2, ALL, [A, A, A]) == Transition(Outcome.FINISH)


def test_cancelled_tasks_are_ignored() -> None:
    assert after_approval(0, 2, ALL, [C, A]) == Transition(Outcome.ADVANCE, 1)
    assert after_approval(0, 2, ALL, [C, A, P]) == Transition(Outcome.WAIT)
    assert after_approval(1, 2, ALL, [A, C, C]) == Transition(Outcome.FINISH)


def test_wait_has_no_next_step() -> None:
    assert after_approval(0, 2, ALL, [A, P]).next_step is None


# ---- can_submit / can_act --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (DocumentStatus.DRAFT, True),
        (DocumentStatus.RETURNED, True),
        (DocumentStatus.IN_REVIEW, False),
        (DocumentStatus.APPROVED, False),
    ],
)
def test_can_submit(status: DocumentStatus, allowed: bool) -> None:
    assert can_submit(status) is allowed


@pytest.mark.parametrize("status", list(DocumentStatus))
@pytest.mark.parametrize("task_status", list(TaskStatus))
def test_can_act_only_on_pending_task_of_document_in_review(status: DocumentStatus, task_status: TaskStatus) -> None:
    expected = status is DocumentStatus.IN_REVIEW and task_status is TaskStatus.PENDING
    assert can_act(status, task_status) is expected


# ---- validate_step ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "count", "rule"),
    [
        (SINGLE, 0, "a step needs at least one assignee"),
        (SINGLE, 1, None),
        (SINGLE, 2, "a single step takes exactly one assignee"),
        (SINGLE, 3, "a single step takes exactly one assignee"),
        (ALL, 0, "a step needs at least one assignee"),
        (ALL, 1, None),
        (ALL, 2, None),
        (ALL, 50, None),
    ],
)
def test_validate_step(mode: StepMode, count: int, rule: str | None) -> None:
    assert validate_step(mode, count) == (None if rule is None else ("assignees", rule))


@pytest.mark.parametrize(
    ("mode", "count", "quorum", "rule"),
    [
        (SEQ, 0, None, ("assignees", "a step needs at least one assignee")),
        (SEQ, 1, None, None),
        (SEQ, 3, None, None),
        (ANY, 0, None, ("assignees", "a step needs at least one assignee")),
        (ANY, 2, None, None),
        (QUORUM, 3, None, ("quorum", "a quorum step needs k (1 ≤ k ≤ n)")),
        (QUORUM, 3, 0, ("quorum", "k must be between 1 and 3")),
        (QUORUM, 3, -1, ("quorum", "k must be between 1 and 3")),
        (QUORUM, 3, 4, ("quorum", "k must be between 1 and 3")),
        (QUORUM, 3, 1, None),
        (QUORUM, 3, 2, None),
        (QUORUM, 3, 3, None),
        (QUORUM, 0, 1, ("assignees", "a step needs at least one assignee")),
        (SINGLE, 1, 1, ("quorum", "only a QUORUM step takes k")),
        (ALL, 2, 2, ("quorum", "only a QUORUM step takes k")),
        (ANY, 2, 1, ("quorum", "only a QUORUM step takes k")),
        (SEQ, 2, 1, ("quorum", "only a QUORUM step takes k")),
    ],
)
def test_validate_step_new_modes(mode: StepMode, count: int, quorum: int | None, rule: tuple[str, str] | None) -> None:
    assert validate_step(mode, count, quorum) == rule


# ---- initial_positions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "count", "positions"),
    [
        (SINGLE, 1, [0]),
        (ALL, 3, [0, 1, 2]),
        (ANY, 3, [0, 1, 2]),
        (QUORUM, 3, [0, 1, 2]),
        (SEQ, 3, [0]),
        (SEQ, 1, [0]),
        (SEQ, 0, []),
    ],
)
def test_initial_positions(mode: StepMode, count: int, positions: list[int]) -> None:
    assert initial_positions(mode, count) == positions


# ---- sequential ------------------------------------------------------------------------


def test_sequential_opens_the_next_assignee_after_each_approval() -> None:
    # Three assignees: the first approval opens position 1, the second position 2.
    assert after_approval(0, 2, SEQ, [A], assignee_count=3) == Transition(Outcome.WAIT, open_positions=(1,))
    assert after_approval(0, 2, SEQ, [A, A], assignee_count=3) == Transition(Outcome.WAIT, open_positions=(2,))
    assert after_approval(0, 2, SEQ, [A, A, A], assignee_count=3) == Transition(Outcome.ADVANCE, 1)
    assert after_approval(1, 2, SEQ, [A, A, A], assignee_count=3) == Transition(Outcome.FINISH)


def test_sequential_of_one_behaves_like_single() -> None:
    assert after_approval(0, 2, SEQ, [A], assignee_count=1) == Transition(Outcome.ADVANCE, 1)
    assert after_approval(0, 1, SEQ, [A], assignee_count=1) == Transition(Outcome.FINISH)


def test_sequential_is_not_complete_before_the_last_assignee() -> None:
    assert not step_complete(SEQ, [A, A], assignee_count=3)
    assert step_complete(SEQ, [A, A, A], assignee_count=3)
    # Tasks of an earlier round are not passed; a cancelled one does not count as approved.
    assert not step_complete(SEQ, [A, C], assignee_count=2)


# ---- any_one ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([A], Transition(Outcome.ADVANCE, 1)),
        ([A, P], Transition(Outcome.ADVANCE, 1, cancel_open=True)),
        ([P, A, P], Transition(Outcome.ADVANCE, 1, cancel_open=True)),
        ([P, P, A], Transition(Outcome.ADVANCE, 1, cancel_open=True)),
    ],
)
def test_any_one_first_approval_completes_and_cancels_the_rest(
    statuses: list[TaskStatus], expected: Transition
) -> None:
    assert after_approval(0, 2, ANY, statuses) == expected


def test_any_one_last_step_finishes_and_cancels() -> None:
    assert after_approval(1, 2, ANY, [P, A]) == Transition(Outcome.FINISH, cancel_open=True)


# ---- quorum ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "k", "expected"),
    [
        ([A, P, P], 2, Transition(Outcome.WAIT)),
        ([P, A, P], 2, Transition(Outcome.WAIT)),
        ([A, A, P], 2, Transition(Outcome.ADVANCE, 1, cancel_open=True)),
        ([P, A, A], 2, Transition(Outcome.ADVANCE, 1, cancel_open=True)),
        ([A, A, A], 2, Transition(Outcome.ADVANCE, 1)),  # nothing left to cancel
        ([A, P, P], 1, Transition(Outcome.ADVANCE, 1, cancel_open=True)),
        ([A, A, P], 3, Transition(Outcome.WAIT)),
        ([A, A, A], 3, Transition(Outcome.ADVANCE, 1)),
    ],
)
def test_quorum_completes_at_k_approvals(statuses: list[TaskStatus], k: int, expected: Transition) -> None:
    assert after_approval(0, 2, QUORUM, statuses, quorum=k) == expected


def test_quorum_last_step_finishes() -> None:
    assert after_approval(0, 1, QUORUM, [A, P, A], quorum=2) == Transition(Outcome.FINISH, cancel_open=True)


def test_quorum_without_k_never_completes() -> None:
    assert not step_complete(QUORUM, [A, A, A])


# ---- return, every mode ----------------------------------------------------------------


@pytest.mark.parametrize("mode", list(StepMode))
def test_return_goes_back_to_the_drafter_and_cancels_open_tasks(mode: StepMode) -> None:
    assert after_return(mode, [R]) == Transition(Outcome.RETURN)
    assert after_return(mode, [R, P]) == Transition(Outcome.RETURN, cancel_open=True)
    assert after_return(mode, [A, R, P, P]) == Transition(Outcome.RETURN, cancel_open=True)
    assert after_return(mode, [A, R]) == Transition(Outcome.RETURN)


@pytest.mark.parametrize("mode", list(StepMode))
def test_approve_wait_never_cancels(mode: StepMode) -> None:
    t = after_approval(0, 2, mode, [A, P, P], assignee_count=3, quorum=3 if mode is QUORUM else None)
    if mode in (SINGLE, ANY):
        assert t == Transition(Outcome.ADVANCE, 1, cancel_open=mode is ANY)
    else:
        assert t.outcome is Outcome.WAIT
        assert t.cancel_open is False


# ---- routing actions: the sibling-task policy of docs/routing.md, cell by cell ----------------
# Each test is named after a cell of the table: <action>_<mode>.


T, S = TaskStatus.TRANSFERRED, TaskStatus.SUPERSEDED
KEEP, CANCEL, SUPERSEDE, REOPEN = (
    SiblingEffect.KEEP,
    SiblingEffect.CANCEL,
    SiblingEffect.SUPERSEDE,
    SiblingEffect.REOPEN,
)
ALL_MODES = [SINGLE, SEQ, ALL, ANY, QUORUM]


def effects(action: SiblingAction, mode: StepMode, **kw: bool) -> dict[TaskStatus, SiblingEffect]:
    return {s: sibling_effect(action, mode, s, **kw) for s in (P, A, C, T, S)}


@pytest.mark.parametrize("mode", ALL_MODES, ids=lambda m: m.value)
def test_return_to_drafter_cancels_pending_keeps_approvals(mode: StepMode) -> None:
    assert effects(SiblingAction.RETURN_TO_DRAFTER, mode) == {P: CANCEL, A: KEEP, C: KEEP, T: KEEP, S: KEEP}


@pytest.mark.parametrize("mode", ALL_MODES, ids=lambda m: m.value)
def test_return_to_step_cancels_pending_supersedes_approvals(mode: StepMode) -> None:
    assert effects(SiblingAction.RETURN_TO_STEP, mode) == {P: CANCEL, A: SUPERSEDE, C: KEEP, T: KEEP, S: KEEP}


@pytest.mark.parametrize("mode", ALL_MODES, ids=lambda m: m.value)
def test_withdraw_keeps_siblings_and_reopens_what_the_approval_cancelled(mode: StepMode) -> None:
    assert effects(SiblingAction.WITHDRAW, mode) == {P: KEEP, A: KEEP, C: KEEP, T: KEEP, S: KEEP}
    assert effects(SiblingAction.WITHDRAW, mode, cancelled_by_withdrawn=True)[C] is REOPEN


@pytest.mark.parametrize("mode", ALL_MODES, ids=lambda m: m.value)
def test_remove_signer_keeps_the_other_tasks(mode: StepMode) -> None:
    assert effects(SiblingAction.REMOVE_SIGNER, mode) == {P: KEEP, A: KEEP, C: KEEP, T: KEEP, S: KEEP}


@pytest.mark.parametrize("mode", ALL_MODES, ids=lambda m: m.value)
def test_resubmission_opens_a_new_round(mode: StepMode) -> None:
    assert set(effects(SiblingAction.RESUBMIT, mode).values()) == {SiblingEffect.NEW_ROUND}


def test_live_drops_cancelled_transferred_superseded_and_returned() -> None:
    assert {C, T, S, R} == INACTIVE
    assert live([A, C, P, T, S, R, A]) == [A, P, A]


# ---- return to an earlier step ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "rule"),
    [
        (2, 0, None),
        (2, 1, None),
        (1, 0, None),
        (2, 2, "must be an earlier step than the current one (2)"),
        (2, 3, "must be an earlier step than the current one (2)"),
        (0, 0, "must be an earlier step than the current one (0)"),
        (2, -1, "a step index is 0 or more"),
    ],
)
def test_check_return_to_step(current: int, target: int, rule: str | None) -> None:
    assert check_return_to_step(current, target) == rule


# ---- withdraw -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "later", "mine", "allowed"),
    [
        (DocumentStatus.IN_REVIEW, 0, True, True),
        (DocumentStatus.IN_REVIEW, 1, True, False),  # someone acted since
        (DocumentStatus.IN_REVIEW, 0, False, False),  # the last sender is someone else
        (DocumentStatus.APPROVED, 0, True, False),  # the last approval finished the route
        (DocumentStatus.RETURNED, 0, True, False),
        (DocumentStatus.REGISTERED, 0, True, False),
    ],
)
def test_can_withdraw(status: DocumentStatus, later: int, mine: bool, allowed: bool) -> None:
    assert can_withdraw(status, later, mine) is allowed


# ---- add signer (加签), per mode ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "n", "k", "rule"),
    [
        (SINGLE, 1, None, "a single step takes exactly one assignee"),
        (SEQ, 2, None, None),
        (ALL, 2, None, None),
        (ANY, 3, None, None),
        (QUORUM, 3, 2, None),
        (QUORUM, 3, 3, None),  # k stays, n grows: still k ≤ n
        (ALL, 50, None, "a step takes at most 50 assignees"),
    ],
)
def test_add_signer(mode: StepMode, n: int, k: int | None, rule: str | None) -> None:
    assert check_add_signer(mode, n, k, 50) == rule


# ---- remove signer (减签), per mode -------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "n", "k", "rule"),
    [
        (SINGLE, 1, None, "a step needs at least one assignee"),
        (SEQ, 1, None, "a step needs at least one assignee"),
        (SEQ, 3, None, None),
        (ALL, 2, None, None),
        (ALL, 1, None, "a step needs at least one assignee"),
        (ANY, 2, None, None),
        (ANY, 1, None, "a step needs at least one assignee"),
        (QUORUM, 3, 2, None),
        (QUORUM, 3, 3, "k must be between 1 and 2"),
    ],
)
def test_check_remove_signer(mode: StepMode, n: int, k: int | None, rule: str | None) -> None:
    assert check_remove_signer(mode, n, k) == rule


@pytest.mark.parametrize(
    ("mode", "left", "n", "k", "expected"),
    [
        # SEQUENTIAL: removing the current signer opens the next; removing the last completes.
        (SEQ, [A], 2, None, Transition(Outcome.WAIT, open_positions=(1,))),
        (SEQ, [A, A], 2, None, Transition(Outcome.ADVANCE, 1)),
        (SEQ, [A, P], 3, None, Transition(Outcome.WAIT)),  # a later signer removed: the current one stays
        # PARALLEL_ALL (会签): the rest approved → complete; someone pending → wait.
        (ALL, [A, A], 2, None, Transition(Outcome.ADVANCE, 1)),
        (ALL, [A, P], 2, None, Transition(Outcome.WAIT)),
        # ANY_ONE (或签): nobody approved yet, so the others keep waiting.
        (ANY, [P, P], 2, None, Transition(Outcome.WAIT)),
        # QUORUM: fewer signers, same k.
        (QUORUM, [A, P], 2, 2, Transition(Outcome.WAIT)),
        (QUORUM, [A, A, P], 3, 2, Transition(Outcome.ADVANCE, 1, cancel_open=True)),
    ],
    ids=["seq-current", "seq-last", "seq-later", "all-complete", "all-wait", "any-wait", "quorum-wait", "quorum-done"],
)
def test_after_remove_signer(
    mode: StepMode, left: list[TaskStatus], n: int, k: int | None, expected: Transition
) -> None:
    assert after_remove_signer(0, 2, mode, left, assignee_count=n, quorum=k) == expected


def test_after_remove_signer_on_the_last_step_finishes() -> None:
    assert after_remove_signer(1, 2, ALL, [A, C], assignee_count=1) == Transition(Outcome.FINISH)

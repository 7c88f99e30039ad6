"""The routing state machine (documents/routing.py): exact transitions, no database."""

from __future__ import annotations

import pytest

from documents.routing import (
    Outcome,
    Transition,
    after_approval,
    can_act,
    can_submit,
    step_complete,
    validate_step,
)
from documents.types import DocumentStatus, StepMode, TaskStatus

A, P, R, C = TaskStatus.APPROVED, TaskStatus.PENDING, TaskStatus.RETURNED, TaskStatus.CANCELLED
SINGLE, ALL = StepMode.SINGLE, StepMode.PARALLEL_ALL


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
    assert validate_step(mode, count) == rule

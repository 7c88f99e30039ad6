"""The incoming procedure's transition table (documents/incoming.py): every state × step,
for main and cc copies, checked against the table written out here (REG Art. 24, DOMAIN §1.5)."""

from __future__ import annotations

import itertools

import pytest

from documents.incoming import (
    ACTORS,
    IncomingState,
    IncomingStep,
    Refusal,
    Role,
    allowed_steps,
    next_state,
)
from documents.types import RecipientKind

S, A = IncomingState, IncomingStep

#: (state, step) → next state, for a main (主送) copy. Anything not listed is refused.
MAIN = {
    (S.PENDING_RECEIPT, A.RECEIVE): S.RECEIVED,
    (S.RECEIVED, A.REGISTER): S.REGISTERED,
    (S.REGISTERED, A.ACCEPT): S.ACCEPTED,
    (S.REGISTERED, A.RETURN): S.RETURNED_TO_SENDER,
    (S.ACCEPTED, A.PROPOSE): S.PROPOSED,
    (S.ACCEPTED, A.REPLY): S.REPLIED,
    (S.ACCEPTED, A.CLOSE): S.CLOSED,
    (S.PROPOSED, A.INSTRUCT): S.INSTRUCTED,
    (S.INSTRUCTED, A.ASSIGN): S.HANDLING,
    (S.HANDLING, A.HANDLE): S.HANDLED,
    (S.HANDLED, A.REPLY): S.REPLIED,
    (S.HANDLED, A.CLOSE): S.CLOSED,
    (S.REPLIED, A.CLOSE): S.CLOSED,
}
#: A cc (抄送) copy is for reading (阅知性): it may also be closed right after registration.
CC = {**MAIN, (S.REGISTERED, A.CLOSE): S.CLOSED}

CELLS = list(itertools.product(IncomingState, IncomingStep, RecipientKind))


@pytest.mark.parametrize(("state", "step", "kind"), CELLS, ids=[f"{s.value}-{a.value}-{k.value}" for s, a, k in CELLS])
def test_every_cell(state: IncomingState, step: IncomingStep, kind: RecipientKind) -> None:
    table = CC if kind is RecipientKind.CC else MAIN
    result = next_state(state, step, kind=kind)
    if (state, step) in table:
        assert result == table[(state, step)]
    else:
        assert isinstance(result, Refusal)
        assert result.reason


def test_refusal_reasons_name_the_rule() -> None:
    assert next_state(S.CLOSED, A.CLOSE) == Refusal("the procedure has ended (closed)")
    assert next_state(S.RETURNED_TO_SENDER, A.ACCEPT) == Refusal("the procedure has ended (returned_to_sender)")
    assert next_state(S.RECEIVED, A.ACCEPT) == Refusal("accept is not allowed in state received")
    assert next_state(S.REGISTERED, A.CLOSE, kind=RecipientKind.MAIN) == Refusal(
        "a main-recipient copy is closed only after the precheck (accept first)"
    )
    assert next_state(S.PENDING_RECEIPT, A.DISPATCH) == Refusal("dispatch is the sender's action")


def test_handle_stays_handling_until_the_last_handler() -> None:
    assert next_state(S.HANDLING, A.HANDLE, handlers_left=2) == S.HANDLING
    assert next_state(S.HANDLING, A.HANDLE, handlers_left=1) == S.HANDLING
    assert next_state(S.HANDLING, A.HANDLE, handlers_left=0) == S.HANDLED
    # handlers_left matters only for HANDLE
    assert next_state(S.HANDLED, A.REPLY, handlers_left=3) == S.REPLIED


def test_allowed_steps() -> None:
    assert allowed_steps(S.PENDING_RECEIPT) == [A.RECEIVE]
    assert allowed_steps(S.REGISTERED) == [A.ACCEPT, A.RETURN]
    assert allowed_steps(S.REGISTERED, RecipientKind.CC) == [A.ACCEPT, A.RETURN, A.CLOSE]
    assert allowed_steps(S.ACCEPTED) == [A.PROPOSE, A.REPLY, A.CLOSE]
    assert allowed_steps(S.CLOSED) == []
    assert allowed_steps(S.RETURNED_TO_SENDER) == []


def test_who_acts() -> None:
    assert set(ACTORS) == set(IncomingStep) - {A.DISPATCH, A.REVOKED, A.REPEALED}
    assert ACTORS[A.INSTRUCT] == {Role.LEADER}
    assert ACTORS[A.ASSIGN] == {Role.CLERK, Role.LEADER}
    assert ACTORS[A.HANDLE] == {Role.HANDLER}
    assert all(ACTORS[s] == {Role.CLERK} for s in (A.RECEIVE, A.REGISTER, A.ACCEPT, A.RETURN, A.REPLY, A.CLOSE))


@pytest.mark.parametrize("state", list(IncomingState))
def test_a_revoked_documents_copy_may_only_be_closed(state: IncomingState) -> None:
    """REG Art. 33: void from the start; the unit files its copy away (办结) from any state not final."""
    for kind in RecipientKind:
        if state in (S.CLOSED, S.RETURNED_TO_SENDER):
            assert allowed_steps(state, kind, revoked=True) == []
            assert next_state(state, A.CLOSE, kind=kind, revoked=True) == Refusal(
                f"the procedure has ended ({state.value})"
            )
        else:
            assert allowed_steps(state, kind, revoked=True) == [A.CLOSE]
            assert next_state(state, A.CLOSE, kind=kind, revoked=True) == S.CLOSED
            refusal = next_state(state, A.RECEIVE, kind=kind, revoked=True)
            assert isinstance(refusal, Refusal)
            assert "revoked" in refusal.reason


def test_the_senders_actions_are_history_only() -> None:
    for step in (A.DISPATCH, A.REVOKED, A.REPEALED):
        assert next_state(S.PENDING_RECEIPT, step) == Refusal(f"{step.value} is the sender's action")

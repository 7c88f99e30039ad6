"""The incoming procedure (收文办理, REG Art. 24; DOMAIN §1.5) as a pure transition table.

One recipient unit's copy of a dispatched document moves through these states:

==================  ==========================================  ======================
state               next action(s) → state                      who acts
==================  ==========================================  ======================
pending_receipt     receive 签收 → received                      the unit's clerk
received            register 登记 → registered (收文编号)         the unit's clerk
registered          accept 初审通过 → accepted;                  the unit's clerk
                    return 退回 → returned_to_sender;
                    close 办结 → closed (cc copies only: 阅知性)
accepted            propose 拟办 → proposed;                      the unit's clerk
                    reply 答复 → replied (a direct reply, no
                    handling by others); close → closed (阅知性)
proposed            instruct 批示 → instructed                   the leader named
instructed          assign 分办 → handling                       the clerk or that leader
handling            handle 承办 → handling, or handled once      each handler
                    every handler has recorded a result
handled             reply → replied; close → closed              the unit's clerk
replied             close → closed                               the unit's clerk
closed, returned_to_sender: final
==================  ==========================================  ======================

Reading-only copies (阅知性): a cc (抄送) copy may be closed right after registration; a
main (主送) copy must pass the precheck (初审) first and may then be closed as 阅知性.
Everything else is refused with :class:`Refusal` (``INVALID_STATE`` and the reason).

A copy of a revoked document (撤销, void from the start, REG Art. 33) takes no further step
except close 办结, allowed then from every state that is not final (pending_receipt
included), so the unit can file the void copy away. A repealed document (废止) was valid
until its repeal date: its copies follow the table above unchanged. The sender's revocation
or repeal is recorded on each copy as a history entry (``revoked`` / ``repealed``) that
does not change its state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from documents.types import RecipientKind


class IncomingState(StrEnum):
    """Where one recipient unit's copy is in its incoming procedure."""

    PENDING_RECEIPT = "pending_receipt"  # 待签收
    RECEIVED = "received"  # 已签收
    REGISTERED = "registered"  # 已登记 (收文编号 given), awaiting the precheck 初审
    ACCEPTED = "accepted"  # 初审通过
    PROPOSED = "proposed"  # 已拟办, awaiting the leader's instruction 批示
    INSTRUCTED = "instructed"  # 已批示, awaiting assignment 分办
    HANDLING = "handling"  # 承办中
    HANDLED = "handled"  # every handler recorded a result
    REPLIED = "replied"  # 已答复
    CLOSED = "closed"  # 办结
    RETURNED_TO_SENDER = "returned_to_sender"  # 初审退回


class IncomingStep(StrEnum):
    """The actions of the procedure (also the ``action`` of history entries)."""

    DISPATCH = "dispatch"  # 核发: the copy arrives (history only, not an action of the unit)
    RECEIVE = "receive"  # 签收
    REGISTER = "register"  # 登记
    ACCEPT = "accept"  # 初审: accepted
    RETURN = "return"  # 初审: returned to the sender with reasons
    PROPOSE = "propose"  # 拟办
    INSTRUCT = "instruct"  # 批示
    ASSIGN = "assign"  # 分办
    HANDLE = "handle"  # 承办
    REPLY = "reply"  # 答复
    CLOSE = "close"  # 办结
    REVOKED = "revoked"  # 撤销 by the sender (history only; the state is unchanged)
    REPEALED = "repealed"  # 废止 by the sender (history only; the state is unchanged)


class Role(StrEnum):
    """Who may take a step."""

    CLERK = "clerk"  # a clerk (文书) of the recipient unit
    LEADER = "leader"  # the leader named at the proposal
    HANDLER = "handler"  # a handler assigned to the copy


#: Who may take each step (any one of the roles listed).
ACTORS: dict[IncomingStep, frozenset[Role]] = {
    IncomingStep.RECEIVE: frozenset({Role.CLERK}),
    IncomingStep.REGISTER: frozenset({Role.CLERK}),
    IncomingStep.ACCEPT: frozenset({Role.CLERK}),
    IncomingStep.RETURN: frozenset({Role.CLERK}),
    IncomingStep.PROPOSE: frozenset({Role.CLERK}),
    IncomingStep.INSTRUCT: frozenset({Role.LEADER}),
    IncomingStep.ASSIGN: frozenset({Role.CLERK, Role.LEADER}),
    IncomingStep.HANDLE: frozenset({Role.HANDLER}),
    IncomingStep.REPLY: frozenset({Role.CLERK}),
    IncomingStep.CLOSE: frozenset({Role.CLERK}),
}

#: The sender's actions, recorded in a copy's history; never a step of the unit.
SENDER_STEPS = frozenset({IncomingStep.DISPATCH, IncomingStep.REVOKED, IncomingStep.REPEALED})
#: Steps a unit takes.
UNIT_STEPS = tuple(s for s in IncomingStep if s not in SENDER_STEPS)

_TABLE: dict[tuple[IncomingState, IncomingStep], IncomingState] = {
    (IncomingState.PENDING_RECEIPT, IncomingStep.RECEIVE): IncomingState.RECEIVED,
    (IncomingState.RECEIVED, IncomingStep.REGISTER): IncomingState.REGISTERED,
    (IncomingState.REGISTERED, IncomingStep.ACCEPT): IncomingState.ACCEPTED,
    (IncomingState.REGISTERED, IncomingStep.RETURN): IncomingState.RETURNED_TO_SENDER,
    (IncomingState.REGISTERED, IncomingStep.CLOSE): IncomingState.CLOSED,  # cc copies only
    (IncomingState.ACCEPTED, IncomingStep.PROPOSE): IncomingState.PROPOSED,
    (IncomingState.ACCEPTED, IncomingStep.REPLY): IncomingState.REPLIED,
    (IncomingState.ACCEPTED, IncomingStep.CLOSE): IncomingState.CLOSED,
    (IncomingState.PROPOSED, IncomingStep.INSTRUCT): IncomingState.INSTRUCTED,
    (IncomingState.INSTRUCTED, IncomingStep.ASSIGN): IncomingState.HANDLING,
    (IncomingState.HANDLING, IncomingStep.HANDLE): IncomingState.HANDLED,  # HANDLING until the last one
    (IncomingState.HANDLED, IncomingStep.REPLY): IncomingState.REPLIED,
    (IncomingState.HANDLED, IncomingStep.CLOSE): IncomingState.CLOSED,
    (IncomingState.REPLIED, IncomingStep.CLOSE): IncomingState.CLOSED,
}

FINAL = frozenset({IncomingState.CLOSED, IncomingState.RETURNED_TO_SENDER})


@dataclass(frozen=True)
class Refusal:
    """Why a step is not allowed now (``reason`` in English, for the error's detail)."""

    reason: str


#: Why a step on a copy of a revoked document is refused.
REVOKED_REASON = "the document was revoked (void from the start, REG Art. 33): the copy may only be closed"


def next_state(
    state: IncomingState,
    step: IncomingStep,
    *,
    kind: RecipientKind = RecipientKind.MAIN,
    handlers_left: int = 0,
    revoked: bool = False,
) -> IncomingState | Refusal:
    """The state after taking ``step`` in ``state``, or the :class:`Refusal`.

    ``kind``: a cc (抄送) copy may be closed right after registration (阅知性); a main copy
    must pass the precheck first. ``handlers_left``: for ``handle``, how many handlers still
    have no result *after* this one (0: the copy becomes ``handled``). ``revoked``: the
    document was revoked (REG Art. 33): only close, from any state that is not final.
    """
    if step in SENDER_STEPS:
        return Refusal(f"{step.value} is the sender's action")
    if state in FINAL:
        return Refusal(f"the procedure has ended ({state.value})")
    if revoked:
        return IncomingState.CLOSED if step is IncomingStep.CLOSE else Refusal(REVOKED_REASON)
    target = _TABLE.get((state, step))
    if target is None:
        return Refusal(f"{step.value} is not allowed in state {state.value}")
    if (state, step) == (IncomingState.REGISTERED, IncomingStep.CLOSE) and kind is not RecipientKind.CC:
        return Refusal("a main-recipient copy is closed only after the precheck (accept first)")
    if step is IncomingStep.HANDLE and handlers_left > 0:
        return IncomingState.HANDLING
    return target


def allowed_steps(
    state: IncomingState, kind: RecipientKind = RecipientKind.MAIN, *, revoked: bool = False
) -> list[IncomingStep]:
    """The steps :func:`next_state` accepts in ``state`` for a copy of ``kind``, in procedure order."""
    return [s for s in UNIT_STEPS if not isinstance(next_state(state, s, kind=kind, revoked=revoked), Refusal)]

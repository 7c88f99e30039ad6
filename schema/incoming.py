"""GraphQL surface of dispatch (核发) and the incoming procedure (收文办理, REG Art. 24)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from documents import dispatch, incoming_external
from documents import incoming_service as svc
from documents.incoming import IncomingState, IncomingStep
from documents.incoming_models import IncomingAction as ActionModel
from documents.incoming_models import IncomingDocument as IncomingModel
from documents.incoming_models import IncomingHandler as HandlerModel
from documents.types import RecipientKind, Urgency
from office_api.errors import AuthError, ErrorCode
from office_api.org.permissions import Actor
from schema.common import (
    Connection,
    IsAuthenticated,
    UserError,
    decode_cursor,
    decode_id,
    decode_ids,
    idempotency_key_field,
    make_connection,
    page_size,
    require_actor,
    run_mutation,
)
from schema.deadlines import DeadlineType, deadline_of
from schema.document_lists import FilterArg, box_connection
from schema.documents import Document, DocumentPayload, UrgencyEnum
from schema.org import OrgUnit, User, user_by_id

IncomingStateEnum = strawberry.enum(
    IncomingState,
    name="IncomingState",
    description="Where a recipient unit's copy is in the incoming procedure (收文办理, REG Art. 24): "
    "PENDING_RECEIPT 待签收 → RECEIVED 已签收 → REGISTERED 已登记 → ACCEPTED 初审通过 (or RETURNED_TO_SENDER 退回) → "
    "PROPOSED 已拟办 (awaiting the leader's 批示) → INSTRUCTED 已批示 → HANDLING 承办中 → HANDLED → REPLIED 已答复 → "
    "CLOSED 办结. A cc copy may be closed right after REGISTERED, any copy after ACCEPTED (阅知性, for reading).",
)
IncomingStepEnum = strawberry.enum(
    IncomingStep,
    name="IncomingStep",
    description="A step of the incoming procedure: DISPATCH 核发 (by the sender), RECEIVE 签收, REGISTER 登记, "
    "ACCEPT / RETURN (初审), PROPOSE 拟办, INSTRUCT 批示, ASSIGN 分办, HANDLE 承办, REPLY 答复, CLOSE 办结; "
    "REVOKED 撤销 / REPEALED 废止: the sender voided the document (history only, the state is unchanged). "
    "A revoked document's copy may only be closed (from any state not final); a repealed one's procedure goes on.",
)
RecipientKindEnum = strawberry.enum(
    RecipientKind, name="RecipientKind", description="MAIN 主送 (to act on it) or CC 抄送 (to know of it)."
)


@strawberry.type(description="A person handling an incoming document (承办人): the lead 主办 or a co-handler 协办.")
class IncomingHandler:
    is_lead: bool = strawberry.field(description="True for the lead handler (主办).")
    result: str | None = strawberry.field(description="What they did (办理结果); null until recorded.")
    handled_at: dt.datetime | None = strawberry.field(description="UTC instant the result was recorded.")
    user_id: strawberry.Private[int]

    @strawberry.field(description="The handler.")
    async def user(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.user_id))


@strawberry.type(description="One step of an incoming document's procedure.")
class IncomingHistoryEntry:
    action: IncomingStepEnum = strawberry.field(description="The step taken.")  # type: ignore[valid-type]
    state: IncomingStateEnum = strawberry.field(description="The state after it.")  # type: ignore[valid-type]
    opinion: str | None = strawberry.field(
        description="The text written: opinion, reasons, instruction, result or reply; the 收文编号 on REGISTER."
    )
    created_at: dt.datetime = strawberry.field(description="UTC instant.")
    actor_id: strawberry.Private[int]

    @strawberry.field(description="Who acted.")
    async def actor(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.actor_id))


@strawberry.type(description="A recipient unit's copy of a dispatched document (收文) and its incoming procedure.")
class IncomingDocument(relay.Node):
    id: relay.NodeID[int]
    state: IncomingStateEnum = strawberry.field(description="Where the procedure is.")  # type: ignore[valid-type]
    kind: RecipientKindEnum = strawberry.field(description="MAIN 主送 or CC 抄送.")  # type: ignore[valid-type]
    version: int = strawberry.field(description="Increases on every step.")
    dispatched_at: dt.datetime = strawberry.field(description="UTC instant of dispatch (核发).")
    received_at: dt.datetime | None = strawberry.field(description="UTC instant of receipt (签收); null before.")
    registered_at: dt.datetime | None = strawberry.field(description="UTC instant of registration (登记).")
    serial_year: int | None = strawberry.field(description="Asia/Shanghai year of the 收文编号; null before 登记.")
    serial_number: int | None = strawberry.field(
        description="Sequence of the 收文编号 within the unit and year, from 1, gapless; null before 登记."
    )
    proposal: str | None = strawberry.field(description="拟办意见: the clerk's proposed handling.")
    instruction: str | None = strawberry.field(description="批示: the leader's instruction.")
    instructed_at: dt.datetime | None = strawberry.field(description="UTC instant of the instruction.")
    deadline: dt.date | None = strawberry.field(description="办理时限: Asia/Shanghai date set at assignment.")
    reply: str | None = strawberry.field(description="答复: the reply sent to the sender.")
    replied_at: dt.datetime | None = strawberry.field(description="UTC instant of the reply.")
    returned_reason: str | None = strawberry.field(description="Reasons given when returned at the precheck (初审).")
    returned_at: dt.datetime | None = strawberry.field(description="UTC instant of the return.")
    closed_at: dt.datetime | None = strawberry.field(description="UTC instant of closing (办结).")
    external_issuer: str | None = strawberry.field(
        description="来文单位 of an external document registered on arrival (registerExternalIncoming); null for "
        "a dispatched one."
    )
    external_number: str | None = strawberry.field(description="The external document's 发文字号 as printed.")
    external_title: str | None = strawberry.field(description="The external document's title.")
    channel: str | None = strawberry.field(
        description="How an external document arrived: paper, email, fax, system or plain_telegram; null for a "
        "dispatched one."
    )
    document_id: strawberry.Private[int | None]
    unit_id: strawberry.Private[int]
    received_by_id: strawberry.Private[int | None]
    leader_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The copy's deadline clock (办理时限), started at assignment (分办): due on `deadline` when the "
        "assigner chose a date, else on the policy bound to target `incoming` for its urgency (by default 30 "
        "calendar days, a last day off rolling to the next working day; urgent documents need a date). Held by the "
        "recipient unit and the lead handler; closed MET or MISSED at the reply (答复) or, without one, the closing "
        "(办结). Null before assignment."
    )
    async def deadline_clock(self, info: Info) -> DeadlineType | None:
        return await deadline_of(info, "incoming", self.id)

    @classmethod
    def from_model(cls, m: IncomingModel) -> IncomingDocument:
        return cls(
            id=m.id,
            state=IncomingState(m.state),
            kind=RecipientKind(m.kind),
            version=m.version,
            dispatched_at=m.dispatched_at,
            received_at=m.received_at,
            registered_at=m.registered_at,
            serial_year=m.serial_year,
            serial_number=m.serial_seq,
            proposal=m.proposal,
            instruction=m.instruction,
            instructed_at=m.instructed_at,
            deadline=m.deadline,
            reply=m.reply,
            replied_at=m.replied_at,
            returned_reason=m.returned_reason,
            returned_at=m.returned_at,
            closed_at=m.closed_at,
            external_issuer=m.external_issuer,
            external_number=m.external_number,
            external_title=m.external_title,
            channel=m.channel,
            document_id=m.document_id,
            unit_id=m.unit_id,
            received_by_id=m.received_by_id,
            leader_id=m.leader_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[IncomingDocument | None]:
        actor = await require_actor(info)
        ids = [int(i) for i in node_ids]
        async with info.context.db.read() as s:
            visible = await svc.visible_incoming_ids(s, actor, ids)
        rows = await info.context.loaders.incoming.load_many(ids)
        return [cls.from_model(r) if r and r.id in visible else None for r in rows]

    @strawberry.field(description="The 收文编号 as shown, e.g. 收文〔2026〕5号; null before 登记.")
    def incoming_number(self) -> str | None:
        if self.serial_year is None or self.serial_number is None:
            return None
        return svc.incoming_number(self.serial_year, self.serial_number)

    @strawberry.field(
        description="The document received (title, 发文字号, urgency, body …); null for an external document "
        "(see externalTitle …)."
    )
    async def document(self, info: Info) -> Document | None:
        if self.document_id is None:
            return None
        m = await info.context.loaders.document.load(self.document_id)
        return Document.from_model(m) if m else None

    @strawberry.field(description="The recipient unit.")
    async def unit(self, info: Info) -> OrgUnit:
        return OrgUnit.from_model(await info.context.loaders.unit.load(self.unit_id))

    @strawberry.field(description="Who signed for it (签收人); null before receipt.")
    async def received_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.received_by_id)

    @strawberry.field(description="The leader named to instruct (批示); null before the proposal.")
    async def leader(self, info: Info) -> User | None:
        return await user_by_id(info, self.leader_id)

    @strawberry.field(description="The handlers (承办人), lead first; empty before assignment.")
    async def handlers(self, info: Info) -> list[IncomingHandler]:
        rows: list[HandlerModel] = await info.context.loaders.incoming_handlers.load(self.id)
        return [
            IncomingHandler(is_lead=h.is_lead, result=h.result, handled_at=h.handled_at, user_id=h.user_id)
            for h in rows
        ]

    @strawberry.field(description="Every step, oldest first: who, when, with which text.")
    async def history(self, info: Info) -> list[IncomingHistoryEntry]:
        rows: list[ActionModel] = await info.context.loaders.incoming_history.load(self.id)
        return [
            IncomingHistoryEntry(
                action=IncomingStep(a.action),
                state=IncomingState(a.state),
                opinion=a.opinion,
                created_at=a.created_at,
                actor_id=a.actor_id,
            )
            for a in rows
        ]


# ---- the sender's roll-up -------------------------------------------------------------------


@strawberry.type(description="One recipient unit's copy, as the sender sees it.")
class DistributionUnit:
    kind: RecipientKindEnum = strawberry.field(description="MAIN 主送 or CC 抄送.")  # type: ignore[valid-type]
    state: IncomingStateEnum = strawberry.field(description="Where its procedure is.")  # type: ignore[valid-type]
    received_at: dt.datetime | None = strawberry.field(description="UTC instant of receipt (签收); null before.")
    replied_at: dt.datetime | None = strawberry.field(description="UTC instant of the reply (答复); null before.")
    returned_reason: str | None = strawberry.field(description="The reasons, when it was returned at the precheck.")
    reply: str | None = strawberry.field(description="The reply text (答复), when replied.")
    unit_id: strawberry.Private[int]

    @strawberry.field(description="The recipient unit.")
    async def unit(self, info: Info) -> OrgUnit:
        return OrgUnit.from_model(await info.context.loaders.unit.load(self.unit_id))


@strawberry.type(
    description="What the recipient units did with a dispatched document: e.g. 16 sent, 12 received, 3 replied."
)
class Distribution:
    total: int = strawberry.field(description="Recipient units the document was dispatched to.")
    received: int = strawberry.field(description="Copies signed for (签收), whatever happened after.")
    replied: int = strawberry.field(description="Copies with a reply (答复).")
    returned: int = strawberry.field(description="Copies returned to the sender at the precheck (初审).")
    pending: int = strawberry.field(description="Copies not yet signed for.")
    closed: int = strawberry.field(description="Copies closed (办结).")
    units: list[DistributionUnit] = strawberry.field(description="Every copy: main recipients first, in list order.")


async def distribution_of(
    info: Info, document_id: int, drafter_id: int, issuing_unit_id: int, registered_by_id: int | None
) -> Distribution | None:
    """The roll-up of a dispatched document for its sender (the drafter, who registered or
    dispatched it, or a clerk of the issuing unit); None for anyone else or before dispatch."""
    actor = await info.context.get_actor()
    if actor is None:
        return None
    rows: list[IncomingModel] = await info.context.loaders.document_incoming.load(document_id)
    if not rows:
        return None
    senders = {drafter_id, registered_by_id} | {r.dispatched_by_id for r in rows}
    if actor.user_id not in senders:
        holders = await info.context.loaders.unit_duty_holders.load(issuing_unit_id)
        if not any(duty == "clerk" and uid == actor.user_id for _, duty, uid in holders):
            return None
    d = dispatch.roll_up(rows)
    return Distribution(
        total=d.total,
        received=d.received,
        replied=d.replied,
        returned=d.returned,
        pending=d.pending,
        closed=d.closed,
        units=[
            DistributionUnit(
                kind=RecipientKind(r.kind),
                state=IncomingState(r.state),
                received_at=r.received_at,
                replied_at=r.replied_at,
                returned_reason=r.returned_reason,
                reply=r.reply,
                unit_id=r.unit_id,
            )
            for r in d.units
        ],
    )


# ---- inputs and payloads -------------------------------------------------------------------------

_INCOMING_ID = "A copy of a dispatched document (IncomingDocument id)."


@strawberry.input(description="Dispatch (核发) a registered document to its main and cc recipient units.")
class DispatchDocumentInput:
    document_id: relay.GlobalID = strawberry.field(
        description="A REGISTERED document you drafted, or one of your unit's if you are its clerk (文书)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="A step that needs nothing but the copy: 签收 or 登记.")
class IncomingStepInput:
    incoming_id: relay.GlobalID = strawberry.field(description=_INCOMING_ID)
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="初审: accept the copy, or return it to the sender with reasons.")
class PrecheckIncomingInput:
    incoming_id: relay.GlobalID = strawberry.field(description=_INCOMING_ID)
    accept: bool = strawberry.field(description="True: accepted; false: returned to the sender (退回).")
    opinion: str | None = strawberry.field(
        default=None, description="Opinion, at most 2,000 characters; the reasons, required to return."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="拟办: the proposed handling, sent to a leader for instruction (批示).")
class ProposeIncomingInput:
    incoming_id: relay.GlobalID = strawberry.field(description=_INCOMING_ID)
    opinion: str = strawberry.field(description="拟办意见, required, at most 2,000 characters.")
    leader_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="The leader to instruct: a head, deputy head or leader post of the unit; omitted = its head.",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="批示: the instruction of the leader named at the proposal.")
class InstructIncomingInput:
    incoming_id: relay.GlobalID = strawberry.field(description=_INCOMING_ID)
    instruction: str = strawberry.field(description="The instruction, required, at most 2,000 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="分办: who handles the copy, who leads, and by when.")
class AssignIncomingInput:
    incoming_id: relay.GlobalID = strawberry.field(description=_INCOMING_ID)
    handler_ids: list[relay.GlobalID] = strawberry.field(description="Handlers (User ids), 1 to 20, no repeats.")
    lead_handler_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="The lead handler (主办), one of handlerIds; required when two or more act (LEAD_REQUIRED).",
    )
    deadline: dt.date | None = strawberry.field(
        default=None,
        description="办理时限, an Asia/Shanghai date not before today; required for URGENT and EXTRA_URGENT "
        "documents (DEADLINE_REQUIRED, REG Art. 24(4)).",
    )
    opinion: str | None = strawberry.field(default=None, description="Remarks, at most 2,000 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="承办: a handler records what they did.")
class HandleIncomingInput:
    incoming_id: relay.GlobalID = strawberry.field(description=_INCOMING_ID)
    result: str = strawberry.field(description="办理结果, required, at most 10,000 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="答复: the reply to the sending unit.")
class ReplyIncomingInput:
    incoming_id: relay.GlobalID = strawberry.field(description=_INCOMING_ID)
    reply: str = strawberry.field(description="The reply, required, at most 10,000 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="办结: close the copy.")
class CloseIncomingInput:
    incoming_id: relay.GlobalID = strawberry.field(description=_INCOMING_ID)
    opinion: str | None = strawberry.field(default=None, description="Remarks, at most 2,000 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(
    description="An external document (paper, e-mail, fax, another system, plain telegram) signed for and "
    "registered on arrival by a clerk of the receiving unit. State-secret material is refused."
)
class RegisterExternalIncomingInput:
    unit_id: relay.GlobalID = strawberry.field(description="The receiving unit (you must be its clerk 文书).")
    issuer: str = strawberry.field(description="来文单位, e.g. 国务院办公厅; required, at most 200 characters.")
    title: str = strawberry.field(description="Title as printed; required, at most 200 characters.")
    channel: str = strawberry.field(
        description="How it arrived: paper, email, fax, system or plain_telegram (明电). Cipher telegrams (密电, "
        "密码电报) and 机要 channels are refused with STATE_SECRET_REFUSED (REG Art. 26)."
    )
    number: str | None = strawberry.field(
        default=None, description="Its 发文字号 as printed, e.g. 国办发〔2026〕3号; at most 40 characters."
    )
    classification: str | None = strawberry.field(
        default=None,
        description="The classification marking on its header. Any state-secret level (绝密, 机密, 秘密 in any "
        "spelling, with ★ and a period), pending classification or an unknown value is refused with "
        "STATE_SECRET_REFUSED (涉密不上网); 内部 / 工作秘密 / 公开 are accepted.",
    )
    urgency: UrgencyEnum = strawberry.field(  # type: ignore[valid-type]
        default=Urgency.NORMAL, description="紧急程度 on its header (URGENT and EXTRA_URGENT need a deadline at 分办)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The copy after the step, or errors.")
class IncomingPayload:
    incoming: IncomingDocument | None = strawberry.field(description="The copy after the step.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def _payload(row: IncomingModel | None, errors: list[UserError]) -> IncomingPayload:
    return IncomingPayload(incoming=IncomingDocument.from_model(row) if row else None, errors=errors)


def _incoming_id(input: Any) -> int:
    return decode_id(input.incoming_id, "IncomingDocument", "incomingId")


_ERRORS = (
    "Errors: NOT_FOUND (no such copy, or not yours to see), FORBIDDEN (not your step), INVALID_STATE (not allowed in "
    "the copy's state)"
)


@strawberry.type
class IncomingQuery:
    @strawberry.field(
        description="A unit's incoming documents (收文), newest first (by when the copy was dispatched, or for an "
        "external document registered on arrival), optionally in one state; for the unit's clerks (文书), head and "
        "deputy heads; anyone else gets FORBIDDEN. `filter`: the same filters as the other lists, on the dispatched "
        "document; an external document (none in the system) is matched by `urgency` and `search` (number, title, "
        "issuer) on its header and excluded by `docType` and `status`. `first`: 1–100, default 20; totalCount "
        "counts the filtered list.",
        permission_classes=[IsAuthenticated],
    )
    async def incoming_documents(
        self,
        info: Info,
        unit_id: Annotated[relay.GlobalID, strawberry.argument(description="The recipient unit.")],
        state: Annotated[
            IncomingStateEnum | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only copies in this state; omitted = all."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1–100 (default 20).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor of the last edge seen.")] = None,
        filter: FilterArg = None,
    ) -> Connection[IncomingDocument]:
        pk = decode_id(unit_id, "OrgUnit", "unitId")
        extra = (IncomingModel.state == IncomingState(state).value,) if state else ()

        async def check(s: AsyncSession, actor: Actor) -> None:
            if not await svc.may_list_unit(s, actor, pk):
                raise AuthError(ErrorCode.FORBIDDEN)

        return await box_connection(
            info, "incoming", IncomingDocument.from_model, filter, first, after, owner_id=pk, extra=extra, check=check
        )

    @strawberry.field(
        description="Incoming copies waiting on you as leader or handler (your 待办 of the incoming procedure): "
        "PROPOSED with you as the leader to instruct (批示), or HANDLING with you a handler who has not recorded a "
        "result (承办). Newest first; `first`: 1–100, default 20.",
        permission_classes=[IsAuthenticated],
    )
    async def my_incoming_tasks(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1–100 (default 20).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor of the last edge seen.")] = None,
    ) -> Connection[IncomingDocument]:
        actor = await require_actor(info)
        limit = page_size(first)
        async with info.context.db.read() as s:
            rows, total = await svc.waiting_on(s, actor.user_id, decode_cursor(after), limit + 1)
        return make_connection(rows, limit, lambda r: r.id, IncomingDocument.from_model, after=after, total_count=total)

    @strawberry.field(
        description="One incoming copy, for the recipient unit's clerks, head and deputy heads, the leader named "
        "to instruct and its handlers; null otherwise (existence is not revealed).",
        permission_classes=[IsAuthenticated],
    )
    async def incoming_document(
        self, info: Info, id: Annotated[relay.GlobalID, strawberry.argument(description="The copy.")]
    ) -> IncomingDocument | None:
        actor = await require_actor(info)
        pk = decode_id(id, "IncomingDocument", "id")
        async with info.context.db.read() as s:
            row = await svc.get_visible_incoming(s, actor, pk)
        return IncomingDocument.from_model(row) if row else None


@strawberry.type
class IncomingMutation:
    @strawberry.mutation(
        description="Dispatch (核发) a REGISTERED document: one incoming copy per main (主送) and cc (抄送) recipient "
        "unit, whose clerks are notified; status → DISPATCHED. For the drafter or a clerk of the issuing unit. "
        "Dispatching again returns the document unchanged. Errors: NO_ASSIGNEE (a recipient unit has no active "
        "clerk; nothing is sent), INVALID_STATE, FORBIDDEN, NOT_FOUND.",
        permission_classes=[IsAuthenticated],
    )
    async def dispatch_document(self, info: Info, input: DispatchDocumentInput) -> DocumentPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            pk = decode_id(input.document_id, "Document", "documentId")
            return await dispatch.dispatch_document(uow, broker, actor, pk, now=clock())

        doc, errors = await run_mutation(info, work, idempotent=input)
        return DocumentPayload(document=Document.from_model(doc) if doc else None, errors=errors)

    @strawberry.mutation(
        description="签收 and 登记 in one step of an external document (not dispatched through the platform): a "
        "new copy in state REGISTERED with the unit's next 收文编号, for a clerk of the unit. Refuses state-secret "
        "classifications and 密电/机要 channels (STATE_SECRET_REFUSED). Errors: INVALID_VALUE, REQUIRED, TOO_LONG, "
        "FORBIDDEN (not a clerk of the unit), NOT_FOUND.",
        permission_classes=[IsAuthenticated],
    )
    async def register_external_incoming(self, info: Info, input: RegisterExternalIncomingInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            data = incoming_external.ExternalDocumentInput(
                unit_id=decode_id(input.unit_id, "OrgUnit", "unitId"),
                issuer=input.issuer,
                title=input.title,
                channel=input.channel,
                number=input.number,
                classification=input.classification,
                urgency=Urgency(input.urgency),
            )
            return await incoming_external.register_external(uow, broker, actor, data, now=clock())

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description=f"签收: sign for the copy (the unit's clerk). PENDING_RECEIPT → RECEIVED. {_ERRORS}.",
        permission_classes=[IsAuthenticated],
    )
    async def receive_incoming(self, info: Info, input: IncomingStepInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            return await svc.receive(uow, broker, actor, _incoming_id(input), now=clock())

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description=f"登记: give the copy the unit's next 收文编号 (per unit and Asia/Shanghai year, gapless). "
        f"RECEIVED → REGISTERED. {_ERRORS}.",
        permission_classes=[IsAuthenticated],
    )
    async def register_incoming(self, info: Info, input: IncomingStepInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            return await svc.register(uow, broker, actor, _incoming_id(input), now=clock())

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description=f"初审: accept (REGISTERED → ACCEPTED) or return to the sender with reasons (→ RETURNED_TO_SENDER; "
        f"the sender is notified). {_ERRORS}, REQUIRED (reasons to return).",
        permission_classes=[IsAuthenticated],
    )
    async def precheck_incoming(self, info: Info, input: PrecheckIncomingInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            return await svc.precheck(
                uow, broker, actor, _incoming_id(input), accept=input.accept, opinion=input.opinion, now=clock()
            )

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description=f"拟办: the clerk's proposed handling, sent to a leader for 批示. ACCEPTED → PROPOSED. {_ERRORS}, "
        "NO_ASSIGNEE (no head), INVALID_VALUE (leaderId not a leader of the unit).",
        permission_classes=[IsAuthenticated],
    )
    async def propose_incoming(self, info: Info, input: ProposeIncomingInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            leader = decode_id(input.leader_id, "User", "leaderId") if input.leader_id else None
            return await svc.propose(
                uow, broker, actor, _incoming_id(input), opinion=input.opinion, leader_id=leader, now=clock()
            )

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description=f"批示: the named leader's instruction. PROPOSED → INSTRUCTED. {_ERRORS}.",
        permission_classes=[IsAuthenticated],
    )
    async def instruct_incoming(self, info: Info, input: InstructIncomingInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            return await svc.instruct(
                uow, broker, actor, _incoming_id(input), instruction=input.instruction, now=clock()
            )

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description=f"分办: name the handlers and the lead (主办), with a deadline (required when urgent). "
        f"INSTRUCTED → HANDLING; by the clerk or the instructing leader. {_ERRORS}, LEAD_REQUIRED, DEADLINE_REQUIRED.",
        permission_classes=[IsAuthenticated],
    )
    async def assign_incoming(self, info: Info, input: AssignIncomingInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            return await svc.assign(
                uow,
                broker,
                actor,
                _incoming_id(input),
                handler_ids=decode_ids(input.handler_ids, "User", "handlerIds"),
                lead_id=decode_id(input.lead_handler_id, "User", "leadHandlerId") if input.lead_handler_id else None,
                deadline=input.deadline,
                opinion=input.opinion,
                now=clock(),
            )

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description=f"承办: a handler records the result; HANDLING → HANDLED once every handler has. {_ERRORS}, "
        "TASK_ALREADY_HANDLED.",
        permission_classes=[IsAuthenticated],
    )
    async def handle_incoming(self, info: Info, input: HandleIncomingInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            return await svc.handle(uow, broker, actor, _incoming_id(input), result=input.result, now=clock())

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description=f"答复: reply to the sender (who is notified). HANDLED or ACCEPTED → REPLIED. {_ERRORS}.",
        permission_classes=[IsAuthenticated],
    )
    async def reply_incoming(self, info: Info, input: ReplyIncomingInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            return await svc.reply(uow, broker, actor, _incoming_id(input), text=input.reply, now=clock())

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description=f"办结: close the copy, from REPLIED or HANDLED; as for reading (阅知性) from ACCEPTED, or a cc "
        f"copy from REGISTERED. {_ERRORS}.",
        permission_classes=[IsAuthenticated],
    )
    async def close_incoming(self, info: Info, input: CloseIncomingInput) -> IncomingPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow):
            return await svc.close(uow, broker, actor, _incoming_id(input), opinion=input.opinion, now=clock())

        return _payload(*await run_mutation(info, work, idempotent=input))

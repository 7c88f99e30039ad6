"""GraphQL surface of supervision items (督办事项) and the supervision dashboard (DOMAIN §5.3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from documents import supervision as svc
from documents import supervision_dashboard as board
from documents.supervision_models import ItemState, ReportKind, SourceType
from documents.supervision_models import SupervisionItem as ItemModel
from documents.supervision_models import SupervisionReport as ReportModel
from documents.supervision_models import SupervisionUnit as UnitModel
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import OrgUnit as UnitRow
from schema.common import (
    Connection,
    IsAuthenticated,
    UserError,
    decode_cursor,
    decode_id,
    idempotency_key_field,
    make_connection,
    page_size,
    require_actor,
    run_mutation,
    visible_nodes,
)
from schema.deadlines import DeadlineType, deadline_of
from schema.org import OrgUnit, User, user_by_id

SourceTypeEnum = strawberry.enum(
    SourceType,
    name="SupervisionSource",
    description="Where an item comes from: DOCUMENT (a leader's instruction on a document), INCOMING (the 批示 on "
    "an incoming copy), MEETING_MATTER (a decided matter 议定事项 of a meeting, created by the meeting module), "
    "MANUAL (entered by hand).",
)
ItemStateEnum = strawberry.enum(
    ItemState,
    name="SupervisionState",
    description="OPEN → RESULT_REPORTED (the lead unit reported the result) → CLOSED (办结 by the creator).",
)
ReportKindEnum = strawberry.enum(
    ReportKind, name="SupervisionReportKind", description="PROGRESS (进展) or RESULT (办理结果, by the lead unit)."
)
ColourEnum = strawberry.enum(
    svc.Colour,
    name="SupervisionColour",
    description="Status of an open item at the request's time: RED when the item's clock or an open unit clock is "
    "past its due instant; else AMBER when one is due within the item's yellowBefore working days or a periodic "
    "report is missed; else GREEN.",
)


@strawberry.type(description="A unit assigned to a supervision item: the lead (主办) or a co-handler (协办).")
class SupervisionUnit:
    is_lead: bool = strawberry.field(description="True for the lead unit (主办).")
    done_at: dt.datetime | None = strawberry.field(
        description="UTC instant the unit finished its part (a co-handler's 100 % report, the lead's result)."
    )
    row_id: strawberry.Private[int]
    unit_id: strawberry.Private[int]

    @strawberry.field(description="The unit.")
    async def unit(self, info: Info) -> OrgUnit:
        return OrgUnit.from_model(await info.context.loaders.unit.load(self.unit_id))

    @strawberry.field(description="The unit's own deadline (due date, working days left, status).")
    async def deadline(self, info: Info) -> DeadlineType | None:
        return await deadline_of(info, svc.UNIT, self.row_id)


@strawberry.type(description="A progress report or the result of a supervision item.")
class SupervisionReport:
    kind: ReportKindEnum = strawberry.field(description="PROGRESS or RESULT.")  # type: ignore[valid-type]
    text: str = strawberry.field(description="What was done.")
    percent: int | None = strawberry.field(description="Percent done, 0–100; null when not given.")
    stage: str | None = strawberry.field(description="A named stage, e.g. 调研中; null when not given.")
    created_at: dt.datetime = strawberry.field(description="UTC instant.")
    unit_id: strawberry.Private[int]
    author_id: strawberry.Private[int]

    @strawberry.field(description="The assigned unit that reported.")
    async def unit(self, info: Info) -> OrgUnit:
        return OrgUnit.from_model(await info.context.loaders.unit.load(self.unit_id))

    @strawberry.field(description="Who wrote it.")
    async def author(self, info: Info) -> User | None:
        return await user_by_id(info, self.author_id)


@strawberry.type(description="A supervision item (督办事项): an instruction or decided matter followed to its result.")
class SupervisionItem(relay.Node):
    id: relay.NodeID[int]
    title: str = strawberry.field(description="Title.")
    source_type: SourceTypeEnum = strawberry.field(description="Where it comes from.")  # type: ignore[valid-type]
    source_id: int | None = strawberry.field(
        description="Database id of the document, incoming copy or meeting matter; null for MANUAL."
    )
    instruction: str = strawberry.field(description="The instruction or decided matter to carry out.")
    matter_type: str | None = strawberry.field(
        description='"3545" matter type from the policy: business_licence, real_estate_registration, '
        "construction_permit; null otherwise."
    )
    state: ItemStateEnum = strawberry.field(description="Where the item is.")  # type: ignore[valid-type]
    version: int = strawberry.field(description="Increases on every change.")
    yellow_before: int = strawberry.field(description="Working days before a due date that count as due soon.")
    report_every: int | None = strawberry.field(description="Working days between progress reports; null = none.")
    created_at: dt.datetime = strawberry.field(description="UTC instant of creation (the clocks start here).")
    start_on: dt.date = strawberry.field(description="Asia/Shanghai date of creation.")
    last_report_at: dt.datetime | None = strawberry.field(description="UTC instant of the latest report.")
    result: str | None = strawberry.field(description="The lead unit's result (办理结果); null before.")
    result_at: dt.datetime | None = strawberry.field(description="UTC instant of the result.")
    closed_at: dt.datetime | None = strawberry.field(description="UTC instant of closing (办结).")
    closed_on: dt.date | None = strawberry.field(description="Asia/Shanghai date of closing.")
    close_remark: str | None = strawberry.field(description="The creator's remark on closing.")
    handling_days: int | None = strawberry.field(
        description="Working days from creation to closing (those in (startOn, closedOn]); null while open."
    )
    on_time: bool | None = strawberry.field(description="Closed before the item's due instant; null while open.")
    creator_id: strawberry.Private[int]
    lead_unit_id: strawberry.Private[int]
    model: strawberry.Private[ItemModel]

    @classmethod
    def from_model(cls, m: ItemModel) -> SupervisionItem:
        return cls(
            id=m.id,
            title=m.title,
            source_type=SourceType(m.source_type),
            source_id=m.source_id,
            instruction=m.instruction,
            matter_type=m.matter_type,
            state=ItemState(m.state),
            version=m.version,
            yellow_before=m.yellow_before,
            report_every=m.report_every,
            created_at=m.created_at,
            start_on=m.start_on,
            last_report_at=m.last_report_at,
            result=m.result,
            result_at=m.result_at,
            closed_at=m.closed_at,
            closed_on=m.closed_on,
            close_remark=m.close_remark,
            handling_days=m.handling_days,
            on_time=m.on_time,
            creator_id=m.creator_id,
            lead_unit_id=m.lead_unit_id,
            model=m,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[SupervisionItem | None]:
        return await visible_nodes(info, node_ids, svc.get_visible_item, cls.from_model)

    @strawberry.field(description="Who created it (the assigner, 交办人).")
    async def creator(self, info: Info) -> User | None:
        return await user_by_id(info, self.creator_id)

    @strawberry.field(description="The lead unit (主办).")
    async def lead_unit(self, info: Info) -> OrgUnit:
        return OrgUnit.from_model(await info.context.loaders.unit.load(self.lead_unit_id))

    @strawberry.field(description="The assigned units, lead first.")
    async def units(self, info: Info) -> list[SupervisionUnit]:
        rows: list[UnitModel] = await info.context.loaders.supervision_units.load(self.id)
        return [SupervisionUnit(is_lead=r.is_lead, done_at=r.done_at, row_id=r.id, unit_id=r.unit_id) for r in rows]

    @strawberry.field(description="Progress reports and the result, oldest first.")
    async def reports(self, info: Info) -> list[SupervisionReport]:
        rows: list[ReportModel] = await info.context.loaders.supervision_reports.load(self.id)
        return [
            SupervisionReport(
                kind=ReportKind(r.kind),
                text=r.text,
                percent=r.percent,
                stage=r.stage,
                created_at=r.created_at,
                unit_id=r.unit_id,
                author_id=r.author_id,
            )
            for r in rows
        ]

    @strawberry.field(description="The item's own deadline (due date, working days left, status, policy).")
    async def deadline(self, info: Info) -> DeadlineType | None:
        return await deadline_of(info, svc.ITEM, self.id)

    @strawberry.field(
        description="GREEN, AMBER or RED at the request's time (see SupervisionColour); null once closed."
    )
    async def colour(self, info: Info) -> ColourEnum | None:  # type: ignore[valid-type]
        if self.model.state == ItemState.CLOSED.value:
            return None
        loaders = info.context.loaders
        units: list[UnitModel] = await loaders.supervision_units.load(self.id)
        item_clock = await loaders.deadline.load((svc.ITEM, self.id))
        unit_clocks = await loaders.deadline.load_many([(svc.UNIT, u.id) for u in units])
        cal = await info.context.work_calendar()
        return svc.colour_of(cal, self.model, item_clock, unit_clocks, info.context.platform.clock())


@strawberry.type(description='Compliance with one "3545" target over the date range.')
class MatterCompliance:
    matter_type: str = strawberry.field(
        description="business_licence (3 working days), real_estate_registration (5), construction_permit (45)."
    )
    closed: int = strawberry.field(description="Items of this type closed in the range.")
    on_time: int = strawberry.field(description="Of those, closed before their due instant.")
    rate: float | None = strawberry.field(description="onTime / closed, 0.0–1.0; null when none closed.")


@strawberry.type(description="Supervision figures of a unit or subtree (by the items' lead unit).")
class SupervisionDashboard:
    open: int = strawberry.field(description="Items not closed.")
    due_soon: int = strawberry.field(
        description="Open items, not overdue, whose running clock is due within their yellowBefore working days."
    )
    overdue: int = strawberry.field(description="Open items whose running clock is past its due instant.")
    closed: int = strawberry.field(description="Items closed with an Asia/Shanghai close date in the range.")
    average_handling_days: float | None = strawberry.field(
        description="Average handling time, in working days, of the items closed in the range; null when none."
    )
    p90_handling_days: int | None = strawberry.field(
        description="90th-percentile (nearest rank) handling time, in working days, of the items closed in the "
        "range; null when none."
    )
    compliance3545: list[MatterCompliance] = strawberry.field(
        description='"3545" compliance per matter type over the range, always the three types in slogan order.'
    )


# ---- inputs and payloads ----------------------------------------------------------------------


@strawberry.input(description="An assigned unit and, optionally, its own due date.")
class SupervisionUnitInput:
    unit_id: relay.GlobalID = strawberry.field(description="The unit (OrgUnit id).")
    due_on: dt.date | None = strawberry.field(
        default=None,
        description="Its due date (Asia/Shanghai, due at 24:00): not before today nor after the item's; "
        "omitted = the item's.",
    )


@strawberry.input(description="A new supervision item (督办事项).")
class CreateSupervisionItemInput:
    source_type: SourceTypeEnum = strawberry.field(  # type: ignore[valid-type]
        description="DOCUMENT, INCOMING or MANUAL (MEETING_MATTER items are created by the meeting module)."
    )
    source_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="The Document (DOCUMENT) or IncomingDocument with a 批示 (INCOMING) you can read; none for MANUAL.",
    )
    title: str | None = strawberry.field(
        default=None, description="Title, at most 200 characters; default: the source document's title."
    )
    instruction: str | None = strawberry.field(
        default=None,
        description="The instruction to carry out, at most 2,000 characters; default: the incoming copy's 批示.",
    )
    lead: SupervisionUnitInput | None = strawberry.field(
        default=None, description="The lead unit (主办); required (LEAD_REQUIRED)."
    )
    co_handlers: list[SupervisionUnitInput] = strawberry.field(
        default_factory=list, description="Co-handler units (协办), at most 20, not the lead, no repeats."
    )
    due_on: dt.date | None = strawberry.field(
        default=None, description="The item's due date (Asia/Shanghai), not before today."
    )
    working_days: int | None = strawberry.field(
        default=None, description="Or a limit in working days, 1–1000, counted from tomorrow (Civil Code Art. 201)."
    )
    policy_code: str | None = strawberry.field(
        default=None,
        description="Or an SLA policy by code, e.g. 3545-real-estate (which also sets the matter type); default: "
        "the policy bound to supervision (supervision-instruction, 15 calendar days).",
    )
    report_every: int | None = strawberry.field(
        default=None, description="Working days between progress reports, 1–60; a missed one turns the item AMBER."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="A progress report (进展) by a member of an assigned unit.")
class ReportSupervisionProgressInput:
    item_id: relay.GlobalID = strawberry.field(description="The SupervisionItem.")
    text: str = strawberry.field(description="What was done, required, at most 2,000 characters.")
    percent: int | None = strawberry.field(
        default=None, description="Percent done, 0–100; 100 from a co-handler unit finishes its part."
    )
    stage: str | None = strawberry.field(default=None, description="A named stage, at most 40 characters.")
    unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The assigned unit you report for; omitted = yours (the lead first)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="The result (办理结果), by a member of the lead unit.")
class ReportSupervisionResultInput:
    item_id: relay.GlobalID = strawberry.field(description="The SupervisionItem.")
    result: str = strawberry.field(description="The result, required, at most 10,000 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="办结: the creator closes an item whose result was reported.")
class CloseSupervisionItemInput:
    item_id: relay.GlobalID = strawberry.field(description="The SupervisionItem.")
    remark: str | None = strawberry.field(default=None, description="Remark, at most 2,000 characters.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The item after the change, or errors.")
class SupervisionItemPayload:
    item: SupervisionItem | None = strawberry.field(description="The item after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def _payload(row: ItemModel | None, errors: list[UserError]) -> SupervisionItemPayload:
    return SupervisionItemPayload(item=SupervisionItem.from_model(row) if row else None, errors=errors)


_SOURCE_KINDS = {SourceType.DOCUMENT: "Document", SourceType.INCOMING: "IncomingDocument"}


async def _visible_unit(info: Info, unit_id: relay.GlobalID) -> UnitRow:
    actor = await require_actor(info)
    pk = decode_id(unit_id, "OrgUnit", "unitId")
    async with info.context.db.read() as s:
        return await svc.visible_unit(s, actor, pk)


@strawberry.type
class SupervisionQuery:
    @strawberry.field(
        description="One supervision item, for its creator, members of its assigned units and whoever may see its "
        "lead unit; null otherwise (existence is not revealed).",
        permission_classes=[IsAuthenticated],
    )
    async def supervision_item(
        self, info: Info, id: Annotated[relay.GlobalID, strawberry.argument(description="The item.")]
    ) -> SupervisionItem | None:
        actor = await require_actor(info)
        pk = decode_id(id, "SupervisionItem", "id")
        async with info.context.db.read() as s:
            row = await svc.get_visible_item(s, actor, pk)
        return SupervisionItem.from_model(row) if row else None

    @strawberry.field(
        description="Supervision items led by a unit (or its subtree), newest first. For members of the unit or an "
        "ancestor, supervising posts covering it, and administrators of its subtree; FORBIDDEN otherwise. "
        "`first`: 1–100, default 20.",
        permission_classes=[IsAuthenticated],
    )
    async def supervision_items(
        self,
        info: Info,
        unit_id: Annotated[relay.GlobalID, strawberry.argument(description="The lead unit (OrgUnit).")],
        include_subtree: Annotated[
            bool, strawberry.argument(description="Also items led by units below it (default true).")
        ] = True,
        state: Annotated[
            ItemStateEnum | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only items in this state; omitted = all."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1–100 (default 20).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor of the last edge seen.")] = None,
    ) -> Connection[SupervisionItem]:
        limit = page_size(first)
        unit = await _visible_unit(info, unit_id)
        async with info.context.db.read() as s:
            rows = await svc.items_in_unit(
                s,
                unit,
                subtree=include_subtree,
                state=ItemState(state).value if state else None,
                after_id=decode_cursor(after),
                limit=limit + 1,
            )
        return make_connection(rows, limit, lambda r: r.id, SupervisionItem.from_model, after=after)

    @strawberry.field(
        description="Supervision dashboard of a unit or its subtree (items by their lead unit): open, due soon, "
        'overdue and closed counts, average and 90th-percentile handling time in working days, and the "3545" '
        "compliance rate per matter type. Open counts are as of now; closed figures cover items closed in "
        "[closedFrom, closedTo] (Asia/Shanghai dates, inclusive, either optional). Same visibility as "
        "supervisionItems. Errors: FORBIDDEN, NOT_FOUND, INVALID_VALUE (closedTo before closedFrom).",
        permission_classes=[IsAuthenticated],
    )
    async def supervision_dashboard(
        self,
        info: Info,
        unit_id: Annotated[relay.GlobalID, strawberry.argument(description="The unit (OrgUnit).")],
        include_subtree: Annotated[
            bool, strawberry.argument(description="Count items led by units below it too (default true).")
        ] = True,
        closed_from: Annotated[
            dt.date | None, strawberry.argument(description="First close date counted (Asia/Shanghai).")
        ] = None,
        closed_to: Annotated[
            dt.date | None, strawberry.argument(description="Last close date counted (Asia/Shanghai).")
        ] = None,
    ) -> SupervisionDashboard:
        board.check_range(closed_from, closed_to)
        unit = await _visible_unit(info, unit_id)
        cal = await info.context.work_calendar()
        async with info.context.db.read() as s:
            d = await board.dashboard(
                s,
                cal,
                unit,
                subtree=include_subtree,
                now=info.context.platform.clock(),
                closed_from=closed_from,
                closed_to=closed_to,
            )
        return SupervisionDashboard(
            open=d.open,
            due_soon=d.due_soon,
            overdue=d.overdue,
            closed=d.closed,
            average_handling_days=d.average_handling_days,
            p90_handling_days=d.p90_handling_days,
            compliance3545=[
                MatterCompliance(matter_type=c.matter_type, closed=c.closed, on_time=c.on_time, rate=c.rate)
                for c in d.compliance
            ],
        )


_ERRORS = "Errors: NOT_FOUND, FORBIDDEN (not yours to act on), INVALID_STATE (closed, or no result yet)"


@strawberry.type
class SupervisionMutation:
    @strawberry.mutation(
        description="Create a supervision item (督办事项) from a leader's instruction on a document or incoming copy, "
        "or by hand: a lead unit (主办) and co-handlers (协办), each with a deadline (the item's policy, limit or "
        "date, or their own earlier date). For a head, deputy head, clerk or leader post of a unit that is each "
        "assigned unit or an ancestor of it (a General Office post covers its government's subtree). The units' "
        "clerks are notified. Errors: REQUIRED, TOO_LONG, TOO_MANY, INVALID_VALUE, LEAD_REQUIRED, DUPLICATE, "
        "NOT_FOUND, INACTIVE, FORBIDDEN, INVALID_STATE (an incoming copy without 批示).",
        permission_classes=[IsAuthenticated],
    )
    async def create_supervision_item(self, info: Info, input: CreateSupervisionItemInput) -> SupervisionItemPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker
        cal = await info.context.work_calendar()

        async def work(uow: Any) -> ItemModel:
            source = SourceType(input.source_type)
            if source is SourceType.MEETING_MATTER:
                raise DomainError(
                    ErrorCode.INVALID_VALUE, "sourceType", detail="meeting matters are created by the meeting module"
                )
            source_id = None
            if input.source_id is not None:
                if source not in _SOURCE_KINDS:
                    raise DomainError(ErrorCode.INVALID_VALUE, "sourceId", detail="a manual item has no source")
                source_id = decode_id(input.source_id, _SOURCE_KINDS[source], "sourceId")

            def unit(u: SupervisionUnitInput, field: str) -> svc.UnitAssignment:
                return svc.UnitAssignment(decode_id(u.unit_id, "OrgUnit", f"{field}.unitId"), u.due_on)

            data = svc.ItemInput(
                source_type=source,
                source_id=source_id,
                title=input.title,
                instruction=input.instruction,
                lead=unit(input.lead, "lead") if input.lead else None,
                co_handlers=[unit(u, f"coHandlers.{i}") for i, u in enumerate(input.co_handlers)],
                due_on=input.due_on,
                working_days=input.working_days,
                policy_code=input.policy_code,
                report_every=input.report_every,
            )
            return await svc.create_item(uow, broker, cal, actor, data, now=clock())

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="A progress report (进展) on an open item by a member of an assigned unit; the creator is "
        f"notified. {_ERRORS}, REQUIRED, TOO_LONG, INVALID_VALUE (percent outside 0–100, unitId not assigned).",
        permission_classes=[IsAuthenticated],
    )
    async def report_supervision_progress(
        self, info: Info, input: ReportSupervisionProgressInput
    ) -> SupervisionItemPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker
        cal = await info.context.work_calendar()

        async def work(uow: Any) -> ItemModel:
            item_id = decode_id(input.item_id, "SupervisionItem", "itemId")
            unit_id = decode_id(input.unit_id, "OrgUnit", "unitId") if input.unit_id else None
            await svc.report_progress(
                uow,
                broker,
                cal,
                actor,
                item_id,
                text=input.text,
                percent=input.percent,
                stage=input.stage,
                unit_id=unit_id,
                now=clock(),
            )
            item = await uow.session.get(ItemModel, item_id)
            assert item is not None
            return item

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="The lead unit reports the result (办理结果): OPEN → RESULT_REPORTED, its clock closes, the "
        f"creator is notified. {_ERRORS}, REQUIRED, TOO_LONG.",
        permission_classes=[IsAuthenticated],
    )
    async def report_supervision_result(
        self, info: Info, input: ReportSupervisionResultInput
    ) -> SupervisionItemPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker

        async def work(uow: Any) -> ItemModel:
            item_id = decode_id(input.item_id, "SupervisionItem", "itemId")
            return await svc.report_result(uow, broker, actor, item_id, text=input.result, now=clock())

        return _payload(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="办结: the creator closes an item in RESULT_REPORTED; every clock closes (met or missed) and the "
        f"handling time in working days is recorded; the units' clerks are notified. {_ERRORS}.",
        permission_classes=[IsAuthenticated],
    )
    async def close_supervision_item(self, info: Info, input: CloseSupervisionItemInput) -> SupervisionItemPayload:
        actor, clock, broker = await require_actor(info), info.context.platform.clock, info.context.broker
        cal = await info.context.work_calendar()

        async def work(uow: Any) -> ItemModel:
            item_id = decode_id(input.item_id, "SupervisionItem", "itemId")
            return await svc.close_item(uow, broker, cal, actor, item_id, remark=input.remark, now=clock())

        return _payload(*await run_mutation(info, work, idempotent=input))

"""GraphQL surface of check-in (签到), attendance and minutes (纪要) with decided matters (议定事项),
DOMAIN §7.3 and §7.4. The rules live in ``meetings.check_in`` and ``meetings.minutes``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from documents import service as docs
from documents.supervision_models import SupervisionItem as ItemModel
from meetings import check_in as checkins
from meetings import minutes as svc
from meetings.check_in import AttendanceCategory
from meetings.models import AttendeeRole, CheckIn, DecidedMatter, Invitation
from meetings.models import MeetingMinutes as MinutesModel
from meetings.models import MeetingOccurrence as OccurrenceModel
from schema.common import (
    IsAuthenticated,
    UserError,
    decode_id,
    decode_ids,
    idempotency_key_field,
    require_actor,
    run_mutation,
    visible_nodes,
)
from schema.documents import Document, RouteInput, _step_input
from schema.meetings import AttendeeRoleEnum, MeetingInvitation, MeetingOccurrence
from schema.org import OrgUnit, User, unit_by_id, units_by_ids, user_by_id
from schema.supervision import SupervisionItem

AttendanceCategoryEnum = strawberry.enum(
    AttendanceCategory,
    name="AttendanceCategory",
    description="签到 outcome (DOMAIN §7.3): PRESENT (checked in on time), LATE (checked in after start + "
    "lateAfterMinutes), ON_LEAVE (approved leave 请假 covering the meeting or this occurrence), SUBSTITUTE (the "
    "approved substitute checked in on the invitee's behalf), ABSENT (no check-in and no approved leave; an "
    "unapproved substitution is absence; before the window closes: not checked in yet).",
)


async def _occurrence(info: Info, occurrence_id: int) -> MeetingOccurrence:
    return MeetingOccurrence.from_model(await info.context.loaders.occurrence.load(occurrence_id))


# ---- check-in --------------------------------------------------------------------------------


@strawberry.type(description="A check-in code (签到码) of one occurrence, to show as a QR code.")
class MeetingCheckInCode:
    token: str = strawberry.field(
        description="Signed token (JWT, HS256, audience meeting-check-in; not an access token) naming the "
        "occurrence, valid from opensAt to closesAt."
    )
    qr_text: str = strawberry.field(
        description="The text to encode in the QR code: office-api://meeting-check-in?token=<token>. "
        "checkInToMeeting accepts it as scanned."
    )
    opens_at: dt.datetime = strawberry.field(description="UTC instant check-in opens: start − checkInOpensMinutes.")
    closes_at: dt.datetime = strawberry.field(description="UTC instant check-in closes: the end (no signing after).")
    occurrence_id: strawberry.Private[int]

    @strawberry.field(description="The occurrence the code is for.")
    async def occurrence(self, info: Info) -> MeetingOccurrence:
        return await _occurrence(info, self.occurrence_id)


@strawberry.type(description="A check-in (签到): immutable once written.")
class MeetingCheckIn:
    checked_in_at: dt.datetime = strawberry.field(description="UTC instant of the check-in (the platform clock).")
    late: bool = strawberry.field(description="After start + lateAfterMinutes.")
    method: str = strawberry.field(description="How: qr (the check-in code).")
    occurrence_id: strawberry.Private[int]
    user_id: strawberry.Private[int]
    meeting_id: strawberry.Private[int]
    invitation_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: CheckIn, meeting_id: int) -> MeetingCheckIn:
        return cls(
            checked_in_at=m.checked_in_at,
            late=m.late,
            method=m.method,
            occurrence_id=m.occurrence_id,
            user_id=m.user_id,
            meeting_id=meeting_id,
            invitation_id=m.invitation_id,
        )

    @strawberry.field(description="The occurrence.")
    async def occurrence(self, info: Info) -> MeetingOccurrence:
        return await _occurrence(info, self.occurrence_id)

    @strawberry.field(description="Who checked in (always the person signed in when it was made).")
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self.user_id)

    @strawberry.field(description="The invitation of record it counts for (a substitute's own invitation).")
    async def invitation(self, info: Info) -> MeetingInvitation | None:
        rows: list[Invitation] = await info.context.loaders.meeting_invitations.load(self.meeting_id)
        row = next((r for r in rows if r.id == self.invitation_id), None)
        return MeetingInvitation.from_model(row) if row else None


@strawberry.type(description="The check-in, or the problems found.")
class CheckInPayload:
    check_in: MeetingCheckIn | None = strawberry.field(description="Your check-in (the first one if repeated).")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.input(description="Check in (签到) with a scanned check-in code, for yourself only.")
class CheckInToMeetingInput:
    token: str = strawberry.field(description="The scanned QR text or the bare token (meetingCheckInCode).")
    occurrence_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="The MeetingOccurrence the app shows; when given, the code must be this occurrence's "
        "(CHECK_IN_TOKEN_INVALID otherwise).",
    )
    idempotency_key: str | None = idempotency_key_field()


# ---- attendance ----------------------------------------------------------------------------------


@strawberry.type(description="One expected attendee in the attendance report.")
class AttendanceRow:
    category: AttendanceCategoryEnum = strawberry.field(description="Outcome.")  # type: ignore[valid-type]
    role: AttendeeRoleEnum = strawberry.field(description="出席 / 列席 / 旁听 / 特邀.")  # type: ignore[valid-type]
    checked_in_at: dt.datetime | None = strawberry.field(description="UTC instant of the check-in; null for none.")
    late: bool = strawberry.field(description="The check-in was late (also for a SUBSTITUTE).")
    leave_reason: str | None = strawberry.field(description="ON_LEAVE: the reason of the approved leave request.")
    invitation_model: strawberry.Private[Invitation]
    on_behalf_of_model: strawberry.Private[Invitation | None]

    @strawberry.field(description="The attendee (for SUBSTITUTE: the substitute).")
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self.invitation_model.user_id)

    @strawberry.field(description="Their invitation (a nominee's, a substitute's own).")
    def invitation(self) -> MeetingInvitation:
        return MeetingInvitation.from_model(self.invitation_model)

    @strawberry.field(description="For a substitute: the invitee they attend on behalf of (代参会); else null.")
    async def on_behalf_of(self, info: Info) -> User | None:
        m = self.on_behalf_of_model
        return await user_by_id(info, m.user_id) if m is not None else None


@strawberry.type(description="Counts per category.")
class AttendanceCounts:
    expected: int = strawberry.field(description="Rows in the report.")
    present: int = strawberry.field(description="PRESENT.")
    late: int = strawberry.field(description="LATE.")
    on_leave: int = strawberry.field(description="ON_LEAVE.")
    substitute: int = strawberry.field(description="SUBSTITUTE.")
    absent: int = strawberry.field(description="ABSENT.")


@strawberry.type(description="The attendance report (签到情况) of one occurrence, as of the request.")
class MeetingAttendance:
    opens_at: dt.datetime = strawberry.field(description="UTC instant check-in opens.")
    closes_at: dt.datetime = strawberry.field(description="UTC instant check-in closes (the end).")
    closed: bool = strawberry.field(description="Check-in has closed: ABSENT is final.")
    rows: list[AttendanceRow] = strawberry.field(
        description="One per expected attendee, in invitation order, a substitute in the place of the invitee they "
        "replace (who has no row)."
    )
    counts: AttendanceCounts = strawberry.field(description="Counts per category.")
    occurrence_id: strawberry.Private[int]

    @strawberry.field(description="The occurrence.")
    async def occurrence(self, info: Info) -> MeetingOccurrence:
        return await _occurrence(info, self.occurrence_id)


def _attendance(report: checkins.Attendance, now: dt.datetime) -> MeetingAttendance:
    rows = [
        AttendanceRow(
            category=r.category,
            role=AttendeeRole(r.invitation.role),
            checked_in_at=r.check_in.checked_in_at if r.check_in else None,
            late=bool(r.check_in and r.check_in.late),
            leave_reason=r.leave.reason if r.leave else None,
            invitation_model=r.invitation,
            on_behalf_of_model=r.on_behalf_of,
        )
        for r in report.rows
    ]
    c = AttendanceCategory
    counts = AttendanceCounts(
        expected=len(rows),
        present=report.count(c.PRESENT),
        late=report.count(c.LATE),
        on_leave=report.count(c.ON_LEAVE),
        substitute=report.count(c.SUBSTITUTE),
        absent=report.count(c.ABSENT),
    )
    return MeetingAttendance(
        opens_at=report.opens_at,
        closes_at=report.closes_at,
        closed=now >= report.closes_at,
        rows=rows,
        counts=counts,
        occurrence_id=report.occurrence.id,
    )


# ---- minutes ---------------------------------------------------------------------------------------


@strawberry.type(description="A decided matter (议定事项) of minutes; it can become a supervision item (督办).")
class MeetingDecidedMatter(relay.Node):
    id: relay.NodeID[int]
    seq: int = strawberry.field(description="Its number in the minutes, from 1 (（一）, （二）…).")
    text: str = strawberry.field(description="What the meeting decided.")
    due_on: dt.date | None = strawberry.field(description="Due date (Asia/Shanghai) for a supervision item.")
    lead_unit_id: strawberry.Private[int | None]
    co_handler_unit_ids: strawberry.Private[list[int]]
    item_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, m: DecidedMatter) -> MeetingDecidedMatter:
        return cls(
            id=m.id,
            seq=m.seq,
            text=m.text,
            due_on=m.due_on,
            lead_unit_id=m.lead_unit_id,
            co_handler_unit_ids=list(m.co_handler_unit_ids or []),
            item_id=m.supervision_item_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[MeetingDecidedMatter | None]:
        return await visible_nodes(info, node_ids, svc.get_visible_matter, cls.from_model)

    @strawberry.field(description="Lead unit (主办) named for it; null when none yet.")
    async def lead_unit(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.lead_unit_id)

    @strawberry.field(description="Co-handler units (协办).")
    async def co_handler_units(self, info: Info) -> list[OrgUnit]:
        return await units_by_ids(info, self.co_handler_unit_ids)

    @strawberry.field(description="Global id of its supervision item; null until superviseDecidedMatter.")
    def supervision_item_id(self) -> relay.GlobalID | None:
        return None if self.item_id is None else relay.GlobalID("SupervisionItem", str(self.item_id))

    @strawberry.field(description="Its supervision item, when there is one and you may see it.")
    async def supervision_item(self, info: Info) -> SupervisionItem | None:
        if self.item_id is None:
            return None
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            row: ItemModel | None = await svc.visible_supervision_item(s, actor, self.item_id)
        return SupervisionItem.from_model(row) if row else None


@strawberry.type(description="The minutes (纪要) of an occurrence: a document of type MINUTES and its decided matters.")
class MeetingMinutes(relay.Node):
    id: relay.NodeID[int]
    created_at: dt.datetime = strawberry.field(description="UTC instant the minutes were drafted.")
    occurrence_id: strawberry.Private[int]
    document_pk: strawberry.Private[int]
    created_by_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: MinutesModel) -> MeetingMinutes:
        return cls(
            id=m.id,
            created_at=m.created_at,
            occurrence_id=m.occurrence_id,
            document_pk=m.document_id,
            created_by_id=m.created_by_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[MeetingMinutes | None]:
        return await visible_nodes(info, node_ids, svc.get_visible_minutes, cls.from_model)

    @strawberry.field(description="Global id of the 纪要 document (routed, signed off and issued as any document).")
    def document_id(self) -> relay.GlobalID:
        return relay.GlobalID("Document", str(self.document_pk))

    @strawberry.field(description="The 纪要 document, when you may see it (its drafter, the people on its route…).")
    async def document(self, info: Info) -> Document | None:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            row = await docs.get_visible_document(s, actor, self.document_pk)
        return Document.from_model(row) if row else None

    @strawberry.field(description="The occurrence.")
    async def occurrence(self, info: Info) -> MeetingOccurrence:
        return await _occurrence(info, self.occurrence_id)

    @strawberry.field(description="Who drafted them.")
    async def created_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.created_by_id)

    @strawberry.field(description="The decided matters (议定事项) in order.")
    async def decided_matters(self, info: Info) -> list[MeetingDecidedMatter]:
        async with info.context.db.read() as s:
            rows = await svc.matters_of_minutes(s, [self.id])
        return [MeetingDecidedMatter.from_model(r) for r in rows]


@strawberry.input(description="A decided matter (议定事项): only what the meeting decided, not individual remarks.")
class DecidedMatterInput:
    text: str = strawberry.field(description="The decision, 1–2,000 characters.")
    lead_unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Lead unit (主办, OrgUnit) for a supervision item."
    )
    co_handler_unit_ids: list[relay.GlobalID] = strawberry.field(
        default_factory=list, description="Co-handler units (协办), at most 20, not the lead, no repeats."
    )
    due_on: dt.date | None = strawberry.field(
        default=None, description="Due date (Asia/Shanghai), not before today; default: the supervision policy."
    )


@strawberry.input(description="Minutes (纪要) of an occurrence, drafted as a document of type MINUTES.")
class DraftMeetingMinutesInput:
    occurrence_id: relay.GlobalID = strawberry.field(description="The MeetingOccurrence (it must have started).")
    title: str | None = strawberry.field(
        default=None, description="Title, at most 200 characters; default: the meeting title + 纪要."
    )
    discussion: str = strawberry.field(description="Main discussion (会议讨论情况), 1–20,000 characters.")
    decided_matters: list[DecidedMatterInput] = strawberry.field(
        default_factory=list, description="Decided matters (议定事项), at most 50, numbered in this order."
    )
    further_study: str | None = strawberry.field(
        default=None, description="Items left for further study (需进一步研究的事项), at most 5,000 characters."
    )
    route: RouteInput | None = strawberry.field(
        default=None,
        description="The document's route (as in createDocument). With neither route nor routeTemplateId the "
        "organising unit's default template for MINUTES is copied (REQUIRED on `route` when there is none).",
    )
    route_template_id: relay.GlobalID | None = strawberry.field(
        default=None, description="A route template applying to the organising unit."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Make a decided matter a supervision item (督办事项).")
class SuperviseDecidedMatterInput:
    matter_id: relay.GlobalID = strawberry.field(description="The MeetingDecidedMatter.")
    lead_unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Lead unit (主办); default: the matter's (REQUIRED when neither)."
    )
    due_on: dt.date | None = strawberry.field(
        default=None,
        description="Due date (Asia/Shanghai), not before today; default: the matter's, else the "
        "supervision-minutes policy (20 calendar days).",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The minutes after the change, or the problems found.")
class MeetingMinutesPayload:
    minutes: MeetingMinutes | None = strawberry.field(description="The minutes; null on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The decided matter after the change, or the problems found.")
class DecidedMatterPayload:
    matter: MeetingDecidedMatter | None = strawberry.field(description="The matter; null on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


# ---- root fields ----------------------------------------------------------------------------------

_OCCURRENCE_ARG = strawberry.argument(description="The MeetingOccurrence.")


@strawberry.type
class MeetingAttendanceQuery:
    @strawberry.field(
        description="The check-in code (签到码) of an occurrence, for its organisers (creator, convener, chair): a "
        "signed token and the text of its QR code, valid from start − checkInOpensMinutes to the end. Null when "
        "you cannot see the occurrence. Errors: FORBIDDEN (a viewer but no organiser), MEETING_CANCELLED.",
        permission_classes=[IsAuthenticated],
    )
    async def meeting_check_in_code(
        self, info: Info, occurrence_id: Annotated[relay.GlobalID, _OCCURRENCE_ARG]
    ) -> MeetingCheckInCode | None:
        actor = await require_actor(info)
        pk = decode_id(occurrence_id, "MeetingOccurrence", "occurrenceId")
        async with info.context.db.read() as s:
            code = await checkins.check_in_code(s, info.context.settings, actor, pk, info.context.platform.clock())
        if code is None:
            return None
        return MeetingCheckInCode(
            token=code.token,
            qr_text=code.qr_text,
            opens_at=code.opens_at,
            closes_at=code.closes_at,
            occurrence_id=code.occurrence.id,
        )

    @strawberry.field(
        description="The attendance report (DOMAIN §7.3) of an occurrence, for its organisers: one row per expected "
        "attendee (person invitees, units' nominees, substitutes of record) with category PRESENT, LATE, ON_LEAVE, "
        "SUBSTITUTE or ABSENT, role and check-in instant, and counts per category. Null when you cannot see the "
        "occurrence. Errors: FORBIDDEN (a viewer but no organiser).",
        permission_classes=[IsAuthenticated],
    )
    async def meeting_attendance(
        self, info: Info, occurrence_id: Annotated[relay.GlobalID, _OCCURRENCE_ARG]
    ) -> MeetingAttendance | None:
        actor = await require_actor(info)
        pk = decode_id(occurrence_id, "MeetingOccurrence", "occurrenceId")
        async with info.context.db.read() as s:
            report = await checkins.attendance(s, actor, pk)
        return _attendance(report, info.context.platform.clock()) if report else None

    @strawberry.field(
        description="The minutes (纪要) of an occurrence with their decided matters, for the meeting's organisers and "
        "whoever may see the minutes document; null when there are none or you may not see them.",
        permission_classes=[IsAuthenticated],
    )
    async def meeting_minutes(
        self, info: Info, occurrence_id: Annotated[relay.GlobalID, _OCCURRENCE_ARG]
    ) -> MeetingMinutes | None:
        actor = await require_actor(info)
        pk = decode_id(occurrence_id, "MeetingOccurrence", "occurrenceId")
        async with info.context.db.read() as s:
            row = await svc.minutes_of_occurrence(s, actor, pk)
        return MeetingMinutes.from_model(row) if row else None


@strawberry.type
class MeetingAttendanceMutation:
    @strawberry.mutation(
        description="Check in (签到) to an occurrence with its check-in code, for yourself only (no proxy signing): "
        "you must be an attendee of record (invited in person, a unit's nominee or an approved substitute; not an "
        "invitee who declined or whose substitute attends), and the platform clock must lie in [start − "
        "checkInOpensMinutes, end) (no signing afterwards). Late after start + lateAfterMinutes. A second check-in "
        "returns the first, unchanged. Errors on `token`: CHECK_IN_TOKEN_INVALID (bad or foreign code, another "
        "occurrence than occurrenceId, a code issued before the occurrence was moved), MEETING_CANCELLED, "
        "NOT_AN_ATTENDEE, CHECK_IN_CLOSED (the message gives the "
        "window in the meeting's local time, Asia/Shanghai by default).",
        permission_classes=[IsAuthenticated],
    )
    async def check_in_to_meeting(self, info: Info, input: CheckInToMeetingInput) -> CheckInPayload:
        actor, settings = await require_actor(info), info.context.settings

        async def work(uow: Any) -> tuple[CheckIn, int]:
            pk = (
                decode_id(input.occurrence_id, "MeetingOccurrence", "occurrenceId")
                if input.occurrence_id is not None
                else None
            )
            row = await checkins.check_in(uow, settings, actor, input.token, pk)
            occurrence = await uow.session.get(OccurrenceModel, row.occurrence_id)
            assert occurrence is not None
            return row, occurrence.meeting_id

        result, errors = await run_mutation(info, work, idempotent=input)
        return CheckInPayload(check_in=MeetingCheckIn.from_model(*result) if result else None, errors=errors)

    @strawberry.mutation(
        description="Draft the minutes (纪要, DOMAIN §7.4) of an occurrence that has started, by an organiser "
        "holding a post in the organising unit: a draft document of type MINUTES in that unit (route given, chosen "
        "template or the unit's default template). Body per GB/T 9704 clause 10.3: 时间 (meeting's local time), "
        "地点, 主持, 议题; 一、会议讨论情况; 二、议定事项 （一）（二）…; optionally 需进一步研究的事项; then the "
        "lines 出席：, 请假：, 列席： from the attendance. Keep individual remarks in the discussion: only decided "
        "matters are decisions. One set of minutes per occurrence. Errors: NOT_FOUND, FORBIDDEN, MEETING_CANCELLED, "
        "INVALID_STATE (not started), DUPLICATE (minutes exist; a unit twice), REQUIRED, TOO_LONG, TOO_MANY, "
        "INVALID_VALUE (dueOn before today), INACTIVE, and the document's errors (title, route.steps…).",
        permission_classes=[IsAuthenticated],
    )
    async def draft_meeting_minutes(self, info: Info, input: DraftMeetingMinutesInput) -> MeetingMinutesPayload:
        actor = await require_actor(info)

        async def work(uow: Any) -> MinutesModel:
            matters = [
                svc.MatterInput(
                    text=m.text,
                    lead_unit_id=decode_id(m.lead_unit_id, "OrgUnit", f"decidedMatters.{i}.leadUnitId")
                    if m.lead_unit_id is not None
                    else None,
                    co_handler_unit_ids=decode_ids(
                        m.co_handler_unit_ids, "OrgUnit", f"decidedMatters.{i}.coHandlerUnitIds"
                    ),
                    due_on=m.due_on,
                )
                for i, m in enumerate(input.decided_matters)
            ]
            data = svc.MinutesInput(
                occurrence_id=decode_id(input.occurrence_id, "MeetingOccurrence", "occurrenceId"),
                title=input.title,
                discussion=input.discussion,
                decided_matters=matters,
                further_study=input.further_study,
                steps=[_step_input(i, s) for i, s in enumerate(input.route.steps)] if input.route else [],
                route_template_id=decode_id(input.route_template_id, "RouteTemplate", "routeTemplateId")
                if input.route_template_id is not None
                else None,
            )
            return await svc.draft_minutes(uow, actor, data)

        row, errors = await run_mutation(info, work, idempotent=input)
        return MeetingMinutesPayload(minutes=MeetingMinutes.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        description="Make a decided matter a supervision item (督办, DOMAIN §5.3) and link them, by an organiser of "
        "the meeting who may assign supervision items in the units: lead unit (given or the matter's), the matter's "
        "co-handlers, due date (given, the matter's, or the supervision-minutes policy: 20 calendar days). Once "
        "per matter. Errors: NOT_FOUND, FORBIDDEN (on matterId, or on a unit you do not cover), DUPLICATE "
        "(supervised already), REQUIRED (leadUnitId: neither given nor the matter's), INACTIVE, "
        "INVALID_VALUE (dueOn before today).",
        permission_classes=[IsAuthenticated],
    )
    async def supervise_decided_matter(self, info: Info, input: SuperviseDecidedMatterInput) -> DecidedMatterPayload:
        actor, broker = await require_actor(info), info.context.broker
        cal = await info.context.work_calendar()

        async def work(uow: Any) -> DecidedMatter:
            return await svc.supervise_matter(
                uow,
                broker,
                cal,
                actor,
                decode_id(input.matter_id, "MeetingDecidedMatter", "matterId"),
                lead_unit_id=decode_id(input.lead_unit_id, "OrgUnit", "leadUnitId") if input.lead_unit_id else None,
                due_on=input.due_on,
            )

        row, errors = await run_mutation(info, work, idempotent=input)
        return DecidedMatterPayload(matter=MeetingDecidedMatter.from_model(row) if row else None, errors=errors)

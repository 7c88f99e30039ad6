"""GraphQL surface of official documents: drafting, routing, tasks."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET, relay
from strawberry.types import Info

from documents import phrases, registration, templates, validation
from documents import service as docs
from documents.actions import return_to_step
from documents.models import Document as DocumentModel
from documents.models import DocumentAction as ActionModel
from documents.models import DocumentRecipient as RecipientModel
from documents.models import RouteStep as StepModel
from documents.models import StepAssignee as AssigneeModel
from documents.models import Task as TaskModel
from documents.types import (
    ActionKind,
    DocType,
    DocumentStatus,
    RecipientKind,
    Sensitivity,
    StepKind,
    StepMode,
    TaskStatus,
    Urgency,
)
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import Duty
from schema.common import (
    IsAuthenticated,
    UserError,
    decode_id,
    decode_ids,
    idempotency_key_field,
    require_actor,
    run_mutation,
)
from schema.deadlines import DeadlineType, deadline_of
from schema.open_log import record_opening
from schema.org import DutyEnum, OrgUnit, User, unit_by_id, units_by_ids, user_by_id

if TYPE_CHECKING:
    from schema.attachments import Attachment, BodyVersion
    from schema.circulation import CirculationItem, CirculationSummary
    from schema.incoming import Distribution

DocTypeEnum = strawberry.enum(
    DocType,
    name="DocType",
    description="The 15 document types of the 2012 regulation, Art. 8 (决议 决定 命令 公报 公告 通告 意见 通知 通报 "
    "报告 请示 批复 议案 函 纪要).",
)
UrgencyEnum = strawberry.enum(
    Urgency, name="Urgency", description="紧急程度 (REG Art. 9(3)): NORMAL 平件, URGENT 加急, EXTRA_URGENT 特急."
)
SensitivityEnum = strawberry.enum(
    Sensitivity,
    name="Sensitivity",
    description="Non-classified marking (not a state-secret level under the Law on Guarding State Secrets): "
    "PUBLIC, INTERNAL 内部, WORK_SECRET 工作秘密. "
    "State-secret levels are never allowed on this platform.",
)
DocumentStatusEnum = strawberry.enum(
    DocumentStatus,
    name="DocumentStatus",
    description="DRAFT, IN_REVIEW (a step is open), RETURNED (back with the drafter), APPROVED (every step done; "
    "signedOffAt is set when the last step was the sign-off, which registration requires), REGISTERED (发文字号 "
    "assigned), DISPATCHED (sent to the recipient units), ARCHIVED (归档, "
    "read-only), REVOKED (撤销: void from the start), REPEALED (废止: void from a date; REG Art. 33).",
)
StepModeEnum = strawberry.enum(
    StepMode,
    name="StepMode",
    description="How a step completes. SINGLE: its one assignee approves. SEQUENTIAL: the assignees one after "
    "another (the next one's task opens when the previous approves). PARALLEL_ALL: 会签, every assignee must "
    "approve. ANY_ONE: 或签/抢办, the first approval completes the step and cancels the others' tasks. QUORUM: k of "
    "n approvals (the step's `quorum`) complete it and cancel the remaining tasks. A return ends any step.",
)
RouteReasonEnum = strawberry.enum(
    docs.Basis,
    name="RouteReason",
    description="Why a person receives a task: USER (named by id), DUTY (holds the duty in the unit), "
    "UNIT_CLERK (the unit's clerk 文书), DELEGATION (the person so named delegated to them: see `delegator`; "
    "`duty` and `unit` still say how the delegator was chosen).",
)
TaskStatusEnum = strawberry.enum(
    TaskStatus,
    name="TaskStatus",
    description="PENDING, APPROVED, RETURNED, CANCELLED, TRANSFERRED (转办 or rerouted: a new task replaced it), "
    "SUPERSEDED (an approval undone by a return to an earlier step). See docs/routing.md.",
)
ActionKindEnum = strawberry.enum(ActionKind, name="ActionKind", description="Kind of history entry.")
DirectionEnum = strawberry.enum(
    validation.Direction,
    name="Direction",
    description="行文方向: UPWARD 上行文 (to a superior organ), DOWNWARD 下行文 (to subordinate organs), "
    "PARALLEL 平行文 (to organs with no reporting line).",
)
WarningCodeEnum = strawberry.enum(
    validation.WarningCode,
    name="WarningCode",
    description="Stable codes of format warnings (principle and practice rules that do not block): "
    "UPWARD_MULTIPLE_MAIN_RECIPIENTS (REG Art. 15(1): an upward document addresses one superior as a principle), "
    "TITLE_TYPE_MISMATCH (the title should end with the document type, e.g. …的通知), TITLE_END_PUNCTUATION, "
    "UNUSUAL_DIRECTION (请示/报告/议案 upward, 批复 downward, 函 parallel), NOTE_NOT_IN_PARENTHESES.",
)


@strawberry.type(description="A format finding that does not block (a rule worded 原则上 / 一般, or practice).")
class ValidationWarning:
    code: WarningCodeEnum = strawberry.field(description="Stable warning code.")  # type: ignore[valid-type]
    field: str = strawberry.field(description="The input field concerned, e.g. `title`, `mainRecipientIds`.")
    message: str = strawberry.field(
        description="Human-readable message: zh-CN by default, English with `Accept-Language: en`."
    )

    @classmethod
    def from_warning(cls, w: validation.FormatWarning, lang: str) -> ValidationWarning:
        return cls(code=w.code, field=w.field, message=w.message_en if lang == "en" else w.message_zh)


@strawberry.type(description="An official document (公文).")
class Document(relay.Node):
    id: relay.NodeID[int]
    title: str = strawberry.field(description="Title, e.g. 山东省人民政府办公厅关于…的通知.")
    doc_type: DocTypeEnum = strawberry.field(description="Document type.")  # type: ignore[valid-type]
    body: str = strawberry.field(description="Body text.")
    urgency: UrgencyEnum = strawberry.field(description="Urgency.")  # type: ignore[valid-type]
    sensitivity: SensitivityEnum = strawberry.field(description="Non-classified marking.")  # type: ignore[valid-type]
    status: DocumentStatusEnum = strawberry.field(description="Where the document is in its life.")  # type: ignore[valid-type]
    round: int = strawberry.field(description="Submission round: 0 for a draft, +1 on every (re)submission.")
    version: int = strawberry.field(description="Increases on every change.")
    created_at: dt.datetime = strawberry.field(description="UTC instant of creation.")
    updated_at: dt.datetime = strawberry.field(description="UTC instant of the last change.")
    attested_no_state_secret_at: dt.datetime | None = strawberry.field(
        description="UTC instant when the drafter last attested 本文件不涉及国家秘密 (at submission)."
    )
    direction: DirectionEnum = strawberry.field(description="行文方向 (default DOWNWARD).")  # type: ignore[valid-type]
    copy_number: str | None = strawberry.field(description="份号: 6 digits, e.g. 000123; null when not given.")
    signers: list[str] = strawberry.field(description="签发人: names in order (required for upward documents).")
    main_recipients_text: str | None = strawberry.field(
        description="主送 as text, ending with a full-width colon, e.g. 各市人民政府，省政府各部门："
    )
    cc_text: str | None = strawberry.field(description="抄送 as text, ending with a full-width period 。")
    attachment_titles: list[str] = strawberry.field(description="附件说明: attachment titles in order.")
    note: str | None = strawberry.field(description="附注, e.g. （此件公开发布）.")
    issued_on: dt.date | None = strawberry.field(description="成文日期: Asia/Shanghai calendar date.")
    printing_office: str | None = strawberry.field(description="印发机关.")
    printed_on: dt.date | None = strawberry.field(description="印发日期: Asia/Shanghai date, not before issuedOn.")
    issuer_signature: str | None = strawberry.field(description="发文机关署名: the issuer signature line.")
    drafter_id: strawberry.Private[int]
    issuing_unit_id: strawberry.Private[int]
    current_step_index: strawberry.Private[int | None]
    doc_number: str | None = strawberry.field(
        default=None,
        description="发文字号 assigned at registration, e.g. 鲁政办发〔2026〕5号 (GB/T 9704-2012); "
        "null until registered.",
    )
    registered_at: dt.datetime | None = strawberry.field(
        default=None, description="UTC instant of registration (登记); null until registered."
    )
    registered_by_id: strawberry.Private[int | None] = None
    important: bool = strawberry.field(
        default=False, description="重要公文: signed off by the head of the issuing unit only (REG Art. 22)."
    )
    signed_off_at: dt.datetime | None = strawberry.field(
        default=None,
        description="UTC instant of the sign-off (签发); null until signed off, and again after an edit "
        "invalidated it.",
    )
    signed_body_sha256: str | None = strawberry.field(
        default=None, description="SHA-256 (hex) of the body as signed off; null when not signed off."
    )
    revoked_at: dt.datetime | None = strawberry.field(
        default=None, description="撤销: UTC instant the document was revoked (void from the start); null otherwise."
    )
    repealed_on: dt.date | None = strawberry.field(
        default=None, description="废止: Asia/Shanghai date from which the document is void; null otherwise."
    )
    void_reason: str | None = strawberry.field(
        default=None, description="Why the document was revoked or repealed; null otherwise."
    )
    signed_off_by_id: strawberry.Private[int | None] = None
    voided_by_id: strawberry.Private[int | None] = None

    @strawberry.field(description="Who signed it off (签发人); null until signed off.")
    async def signed_off_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.signed_off_by_id)

    @strawberry.field(description="Who revoked or repealed it; null otherwise.")
    async def voided_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.voided_by_id)

    @strawberry.field(
        description="成文日期 as printed (GB/T 9704-2012): 2026年1月5日, no leading zeros; null if unset."
    )
    def issued_on_text(self) -> str | None:
        return validation.format_chinese_date(self.issued_on) if self.issued_on else None

    @strawberry.field(description="印发日期 as printed: 2026年1月6日; null if unset.")
    def printed_on_text(self) -> str | None:
        return validation.format_chinese_date(self.printed_on) if self.printed_on else None

    @classmethod
    def from_model(cls, m: DocumentModel) -> Document:
        return cls(
            doc_number=m.doc_number,
            registered_at=m.registered_at,
            registered_by_id=m.registered_by_id,
            important=bool(m.important),
            signed_off_at=m.signed_off_at,
            signed_body_sha256=m.signed_body_sha256,
            signed_off_by_id=m.signed_off_by_id,
            revoked_at=m.revoked_at,
            repealed_on=m.repealed_on,
            void_reason=m.void_reason,
            voided_by_id=m.voided_by_id,
            id=m.id,
            title=m.title,
            doc_type=DocType(m.doc_type),
            body=m.body,
            urgency=Urgency(m.urgency),
            sensitivity=Sensitivity(m.sensitivity),
            status=DocumentStatus(m.status),
            round=m.round,
            version=m.version,
            created_at=m.created_at,
            updated_at=m.updated_at,
            attested_no_state_secret_at=m.attested_no_state_secret_at,
            direction=validation.Direction(m.direction or validation.Direction.DOWNWARD),
            copy_number=m.copy_number,
            signers=list(m.signers or []),
            main_recipients_text=m.main_recipients_text,
            cc_text=m.cc_text,
            attachment_titles=list(m.attachment_titles or []),
            note=m.note,
            issued_on=m.issued_on,
            printing_office=m.printing_office,
            printed_on=m.printed_on,
            issuer_signature=m.issuer_signature,
            drafter_id=m.drafter_id,
            issuing_unit_id=m.issuing_unit_id,
            current_step_index=m.current_step,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Document | None]:
        actor = await require_actor(info)
        ids = [int(i) for i in node_ids]
        async with info.context.db.read() as s:
            visible = await docs.visible_document_ids(s, actor, ids)
        rows = await info.context.loaders.document.load_many(ids)
        for pk in visible:
            await record_opening(info, pk)
        return [cls.from_model(r) if r and r.id in visible else None for r in rows]

    @strawberry.field(description="Who drafted it.")
    async def drafter(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.drafter_id))

    @strawberry.field(description="The unit issuing it (the drafter's primary unit).")
    async def issuing_unit(self, info: Info) -> OrgUnit:
        return OrgUnit.from_model(await info.context.loaders.unit.load(self.issuing_unit_id))

    async def _recipients(self, info: Info, kind: RecipientKind) -> list[OrgUnit]:
        rows: list[RecipientModel] = await info.context.loaders.document_recipients.load(self.id)
        return await units_by_ids(info, [r.unit_id for r in rows if r.kind == kind.value])

    @strawberry.field(description="Main recipients (主送), in the order given.")
    async def main_recipients(self, info: Info) -> list[OrgUnit]:
        return await self._recipients(info, RecipientKind.MAIN)

    @strawberry.field(description="Copied recipients (抄送), in the order given.")
    async def cc_recipients(self, info: Info) -> list[OrgUnit]:
        return await self._recipients(info, RecipientKind.CC)

    @strawberry.field(description="The route's steps in order, with their tasks of every round.")
    async def steps(self, info: Info) -> list[RouteStep]:
        rows: list[StepModel] = await info.context.loaders.document_steps.load(self.id)
        return [RouteStep.from_model(st) for st in rows]

    @strawberry.field(
        description="The due date of the document's whole processing, from its first submission to its approval "
        "(a policy bound to target `document` for its type and urgency, e.g. hotline-12345: 5 working days). While "
        "the document is returned to its drafter the clock stops (PAUSED, dueOn null) when the policy says so, and "
        "resubmission moves the due date by the working days it stood still. Null when no policy applies (none by "
        "default) or before the first submission."
    )
    async def deadline(self, info: Info) -> DeadlineType | None:
        return await deadline_of(info, "document", self.id)

    @strawberry.field(description="The open step while IN_REVIEW; null otherwise.")
    async def current_step(self, info: Info) -> RouteStep | None:
        if self.current_step_index is None:
            return None
        steps = await self.steps(info)
        return next((s for s in steps if s.index == self.current_step_index), None)

    @strawberry.field(description="Every action on the document, oldest first: who, when, with which opinion.")
    async def history(self, info: Info) -> list[HistoryEntry]:
        rows: list[ActionModel] = await info.context.loaders.document_history.load(self.id)
        return [HistoryEntry.from_model(r) for r in rows]

    @strawberry.field(description="Who registered it (assigned the 发文字号); null until registered.")
    async def registered_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.registered_by_id)

    @strawberry.field(
        description="The circulation trail (传阅), oldest first: who sent it to whom, when, read when, with which "
        "comment."
    )
    async def circulation(self, info: Info) -> list[Annotated[CirculationItem, strawberry.lazy("schema.circulation")]]:
        from schema.circulation import document_circulation

        return await document_circulation(info, self.id)

    @strawberry.field(description="How many of the readers it was circulated to have read it (n of m).")
    async def circulation_summary(
        self, info: Info
    ) -> Annotated[CirculationSummary, strawberry.lazy("schema.circulation")]:
        from schema.circulation import document_circulation_summary

        return await document_circulation_summary(info, self.id)

    @strawberry.field(
        description="For the sender (drafter, registrar, dispatcher, clerks of the issuing unit) of a dispatched "
        "document: what its recipient units did with it (received, replied, returned …); null otherwise."
    )
    async def distribution(self, info: Info) -> Annotated[Distribution, strawberry.lazy("schema.incoming")] | None:
        from schema.incoming import distribution_of

        return await distribution_of(info, self.id, self.drafter_id, self.issuing_unit_id, self.registered_by_id)

    @strawberry.field(description="Approvers' opinions (approvals and returns), oldest first.")
    async def opinions(self, info: Info) -> list[HistoryEntry]:
        entries = await self.history(info)
        return [
            e for e in entries if e.action in (ActionKind.APPROVED, ActionKind.RETURNED, ActionKind.RETURNED_TO_STEP)
        ]

    @strawberry.field(
        description="Uploaded attachments (附件) in list order; at submission their titles must equal attachmentTitles."
    )
    async def attachments(self, info: Info) -> list[Annotated[Attachment, strawberry.lazy("schema.attachments")]]:
        from schema.attachments import document_attachments

        return await document_attachments(info, self.id)

    @strawberry.field(description="Every version of the body text, newest first (a version per change of the body).")
    async def body_versions(self, info: Info) -> list[Annotated[BodyVersion, strawberry.lazy("schema.attachments")]]:
        from schema.attachments import document_body_versions

        return await document_body_versions(info, self.id)

    @strawberry.field(description="One version of the body text by number (from 1); null when there is none.")
    async def body_version(
        self,
        info: Info,
        number: Annotated[int, strawberry.argument(description="The version number, from 1.")],
    ) -> Annotated[BodyVersion, strawberry.lazy("schema.attachments")] | None:
        from schema.attachments import document_body_version

        return await document_body_version(info, self.id, number)


@strawberry.type(description="One step of a document's route.")
class RouteStep:
    index: int = strawberry.field(description="0-based position in the route.")
    name: str = strawberry.field(description="What the step is for, e.g. 核稿, 会签, 签发.")
    mode: StepModeEnum = strawberry.field(description="How the step completes.")  # type: ignore[valid-type]
    quorum: int | None = strawberry.field(description="k of a QUORUM step; null for the other modes.")
    step_id: strawberry.Private[int]
    document_id: strawberry.Private[int]
    sign_off: bool = strawberry.field(
        default=False, description="True for the sign-off step (签发) by a leader of the issuing unit."
    )

    @classmethod
    def from_model(cls, m: StepModel) -> RouteStep:
        return cls(
            index=m.index,
            name=m.name,
            mode=StepMode(m.mode),
            quorum=m.quorum,
            step_id=m.id,
            document_id=m.document_id,
            sign_off=m.kind == StepKind.SIGN_OFF.value,
        )

    @strawberry.field(
        description="The people named by id on the step, in order (assignees by duty or unit are resolved when the "
        "step opens: see routePreview and the tasks)."
    )
    async def assignees(self, info: Info) -> list[User]:
        rows: list[AssigneeModel] = await info.context.loaders.step_assignees.load(self.step_id)
        users = await info.context.loaders.user.load_many([r.user_id for r in rows])
        return [User.from_model(u) for u in users if u]

    @strawberry.field(
        description="The step's tasks across all rounds, oldest first (sub-tasks routed within a unit are under "
        "their task's `subtasks`)."
    )
    async def tasks(self, info: Info) -> list[Task]:
        rows: list[TaskModel] = await info.context.loaders.document_tasks.load(self.document_id)
        return [Task.from_model(t) for t in rows if t.step_id == self.step_id and t.parent_task_id is None]

    @strawberry.field(
        description="When the step is due while open: the latest due date among its pending tasks' deadlines (a "
        "step is done when its last task is); null when none of its tasks is pending. Each task's own due date is "
        "`Task.deadline`."
    )
    async def deadline(self, info: Info) -> DeadlineType | None:
        tasks = await self.tasks(info)
        open_ = [t for t in tasks if t.status == TaskStatus.PENDING]
        found = [d for d in await asyncio.gather(*(t.deadline(info) for t in open_)) if d is not None]
        dated = [d for d in found if d.due_at is not None]
        if dated:
            return max(dated, key=lambda d: d.due_at)  # type: ignore[arg-type, return-value]
        return found[0] if found else None


@strawberry.type(description="A to-do (待办) of one person in one step of one round.")
class Task(relay.Node):
    id: relay.NodeID[int]
    status: TaskStatusEnum = strawberry.field(description="State of the task.")  # type: ignore[valid-type]
    round: int = strawberry.field(description="Submission round the task belongs to.")
    opinion: str | None = strawberry.field(description="The opinion written when acting on it.")
    created_at: dt.datetime = strawberry.field(description="UTC instant the task was opened.")
    acted_at: dt.datetime | None = strawberry.field(description="UTC instant it was approved, returned or cancelled.")
    document_id: strawberry.Private[int]
    step_id: strawberry.Private[int]
    sender_id: strawberry.Private[int]
    assignee_id: strawberry.Private[int]
    on_behalf_of_id: strawberry.Private[int | None] = None
    unit_id: strawberry.Private[int | None] = None
    parent_task_id: strawberry.Private[int | None] = None

    @classmethod
    def from_model(cls, m: TaskModel) -> Task:
        return cls(
            id=m.id,
            status=TaskStatus(m.status),
            round=m.round,
            opinion=m.opinion,
            created_at=m.created_at,
            acted_at=m.acted_at,
            document_id=m.document_id,
            step_id=m.step_id,
            sender_id=m.sender_id,
            assignee_id=m.assignee_id,
            on_behalf_of_id=m.on_behalf_of_id,
            unit_id=m.unit_id,
            parent_task_id=m.parent_task_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Task | None]:
        return [None for _ in node_ids]

    @strawberry.field(description="The document the task is about.")
    async def document(self, info: Info) -> Document:
        return Document.from_model(await info.context.loaders.document.load(self.document_id))

    @strawberry.field(description="The route step of the task.")
    async def step(self, info: Info) -> RouteStep:
        return RouteStep.from_model(await info.context.loaders.step.load(self.step_id))

    @strawberry.field(
        description="When the task is due (办理时限): opened with a running clock on the policy bound to target `task` "
        "for the document's type, urgency and the step's name (by default 3 working days; urgent 1 working day; "
        "extra urgent 24 hours), counted from the day after it opened (Civil Code Art. 201), due at 24:00 "
        "Asia/Shanghai on `dueOn`. A transferred (转办) or rerouted task keeps the due date of the task it "
        "replaces; delegation keeps the same task and clock; a sub-task routed within a unit shares the clerk's due "
        "date; a task a withdrawal makes pending again gets its clock back. Closed MET or MISSED when approved or "
        "returned, CANCELLED when cancelled or passed on. Null when no policy applies."
    )
    async def deadline(self, info: Info) -> DeadlineType | None:
        return await deadline_of(info, "task", self.id)

    @strawberry.field(description="Who sent it: the submitter, or the approver who completed the previous step.")
    async def sender(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.sender_id))

    @strawberry.field(description="Whose task it is.")
    async def assignee(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.assignee_id))

    @strawberry.field(
        description="The delegator (委托人) the assignee acts for, when delegation routed the task; null otherwise."
    )
    async def on_behalf_of(self, info: Info) -> User | None:
        return await user_by_id(info, self.on_behalf_of_id)

    # ---- countersign inside a unit (schema/unit_countersign.py)

    @strawberry.field(
        description="The unit whose clerk (文书) the route sent this task to: its holder may routeWithinUnit. Null "
        "for a task sent to a person or by another duty, and on sub-tasks."
    )
    async def unit(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.unit_id)

    @strawberry.field(description="On a sub-task routed within a unit: the clerk's task it belongs to; null otherwise.")
    async def parent_task(self, info: Info) -> Task | None:
        if self.parent_task_id is None:
            return None
        rows: list[TaskModel] = await info.context.loaders.document_tasks.load(self.document_id)
        return next((Task.from_model(t) for t in rows if t.id == self.parent_task_id), None)

    @strawberry.field(
        description="The sub-tasks the clerk routed within the unit (every routing), oldest first: each member's "
        "status, opinion and actedAt. Empty for other tasks."
    )
    async def subtasks(self, info: Info) -> list[Task]:
        rows: list[TaskModel] = await info.context.loaders.document_tasks.load(self.document_id)
        return [Task.from_model(t) for t in rows if t.parent_task_id == self.id]


@strawberry.type(description="One entry of a document's history.")
class HistoryEntry:
    action: ActionKindEnum = strawberry.field(description="What happened.")  # type: ignore[valid-type]
    round: int = strawberry.field(description="Submission round.")
    step_index: int | None = strawberry.field(description="Route step concerned, if any.")
    opinion: str | None = strawberry.field(description="The opinion written, if any.")
    attested_no_state_secret: bool = strawberry.field(description="True on submissions: the drafter's attestation.")
    created_at: dt.datetime = strawberry.field(description="UTC instant.")
    actor_id: strawberry.Private[int]
    doc_number: str | None = strawberry.field(
        default=None, description="On REGISTERED entries: the 发文字号 assigned; null otherwise."
    )
    to_step_index: int | None = strawberry.field(
        default=None, description="On RETURNED_TO_STEP entries: the earlier step that reopened; null otherwise."
    )
    target_user_id: strawberry.Private[int | None] = None

    @strawberry.field(
        description="The other person of a routing action: the new assignee (TRANSFERRED, DELEGATED, REROUTED) or "
        "the signer added or removed (SIGNER_ADDED, SIGNER_REMOVED); null otherwise."
    )
    async def target_user(self, info: Info) -> User | None:
        return await user_by_id(info, self.target_user_id)

    @classmethod
    def from_model(cls, m: ActionModel) -> HistoryEntry:
        return cls(
            to_step_index=m.to_step_index,
            target_user_id=m.target_user_id,
            doc_number=m.doc_number,
            action=ActionKind(m.action),
            round=m.round,
            step_index=m.step_index,
            opinion=m.opinion,
            attested_no_state_secret=m.attested_no_state_secret,
            created_at=m.created_at,
            actor_id=m.actor_id,
        )

    @strawberry.field(description="Who acted.")
    async def actor(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user.load(self.actor_id))


# ---- routing preview -------------------------------------------------------------------


@strawberry.type(description="Who would receive the task of one assignee of a step, and why.")
class RoutePreviewRecipient:
    position: int = strawberry.field(description="0-based position of the assignee in the step.")
    reason: RouteReasonEnum = strawberry.field(  # type: ignore[valid-type]
        description="Why this person: named (USER), by duty (DUTY), unit clerk (UNIT_CLERK), or DELEGATION."
    )
    duty: DutyEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The duty resolved (DUTY; CLERK for UNIT_CLERK); null for a user named by id."
    )
    user_id: strawberry.Private[int | None]
    delegator_id: strawberry.Private[int | None]
    unit_id: strawberry.Private[int | None]

    @strawberry.field(
        description="Who receives the task; null when nobody holds the duty (submission refuses with NO_ASSIGNEE)."
    )
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self.user_id)

    @strawberry.field(description="The unit of a DUTY or UNIT_CLERK assignee; null for USER.")
    async def unit(self, info: Info) -> OrgUnit | None:
        return await unit_by_id(info, self.unit_id)

    @strawberry.field(description="The person who delegated the task (委托人) on DELEGATION; null otherwise.")
    async def delegator(self, info: Info) -> User | None:
        return await user_by_id(info, self.delegator_id)

    @classmethod
    def from_recipient(cls, r: docs.Recipient) -> RoutePreviewRecipient:
        duty = r.duty if r.duty is not None else (Duty.CLERK if r.basis is docs.Basis.UNIT_CLERK else None)
        return cls(
            position=r.position,
            reason=docs.Basis.DELEGATION if r.on_behalf_of_id is not None else r.basis,
            duty=duty,
            user_id=r.assignee_id,
            delegator_id=r.on_behalf_of_id,
            unit_id=r.unit_id,
        )


@strawberry.type(description="One step of a routing preview.")
class RoutePreviewStep:
    index: int = strawberry.field(description="0-based position in the route.")
    name: str = strawberry.field(description="What the step is for.")
    mode: StepModeEnum = strawberry.field(description="How the step completes.")  # type: ignore[valid-type]
    quorum: int | None = strawberry.field(description="k of a QUORUM step; null otherwise.")
    is_next: bool = strawberry.field(description="True for the step that opens next.")
    recipients: list[RoutePreviewRecipient] = strawberry.field(
        description="Every assignee of the step resolved for today, in order (a SEQUENTIAL step opens them one "
        "after another)."
    )


@strawberry.type(description="Who will receive a document's tasks, step by step, and why (resolved for today).")
class RoutePreview:
    next_step_index: int | None = strawberry.field(
        description="The step that opens next: 0 for a draft or returned document, the one after the open step "
        "while in review; null when no step is left."
    )
    steps: list[RoutePreviewStep] = strawberry.field(description="Every step of the route, in order.")
    document_model: strawberry.Private[DocumentModel]

    @strawberry.field(description="The document previewed.")
    def document(self) -> Document:
        return Document.from_model(self.document_model)

    @classmethod
    def from_preview(cls, p: docs.RoutePreview) -> RoutePreview:
        return cls(
            next_step_index=p.next_step_index,
            document_model=p.document,
            steps=[
                RoutePreviewStep(
                    index=sp.step.index,
                    name=sp.step.name,
                    mode=StepMode(sp.step.mode),
                    quorum=sp.step.quorum,
                    is_next=sp.step.index == p.next_step_index,
                    recipients=[RoutePreviewRecipient.from_recipient(r) for r in sp.recipients],
                )
                for sp in p.steps
            ],
        )


# ---- inputs and payloads ---------------------------------------------------------------


@strawberry.input(
    description="Who a step names: `userId`, or `unitId` with `duty` (the holder of that duty in the unit, e.g. "
    "the head of the Finance Department), or `unitId` alone (the unit's clerk 文书). Resolved when the step opens; "
    "nobody holding the duty is NO_ASSIGNEE at submission. In a route template only, `duty` alone names that duty "
    "in the issuing unit of each document made from the template."
)
class AssigneeInput:
    user_id: relay.GlobalID | None = strawberry.field(default=None, description="A user.")
    unit_id: relay.GlobalID | None = strawberry.field(default=None, description="A unit (with or without duty).")
    duty: DutyEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="With unitId: HEAD, DEPUTY_HEAD or CLERK; omitted = CLERK."
    )


@strawberry.input(description="One step of a route.")
class RouteStepInput:
    name: str = strawberry.field(description="What the step is for (核稿, 会签, 签发 …), at most 64 characters.")
    mode: StepModeEnum = strawberry.field(  # type: ignore[valid-type]
        description="SINGLE takes exactly one assignee; the other modes one or more; QUORUM needs `quorum`."
    )
    assignee_ids: list[relay.GlobalID] = strawberry.field(
        default_factory=list, description="User ids, at most 50, no repeats (or use `assignees`, not both)."
    )
    assignees: list[AssigneeInput] = strawberry.field(
        default_factory=list, description="Assignees by user, duty or unit, at most 50, no repeats."
    )
    quorum: int | None = strawberry.field(
        default=None, description="k of a QUORUM step: 1 ≤ k ≤ the number of assignees; only for QUORUM."
    )
    sign_off: bool = strawberry.field(
        default=False,
        description="Marks the sign-off step (签发, REG Art. 22): at most one, the last step, SINGLE, its assignee a "
        "head or deputy head of the issuing unit (the head for UPWARD or important documents); WRONG_SIGNER "
        "otherwise. Registration requires an approved sign-off.",
    )


@strawberry.input(description="The route of a document.")
class RouteInput:
    steps: list[RouteStepInput] = strawberry.field(description="Steps in order, 1 to 20.")


@strawberry.input(description="A new draft.")
class CreateDocumentInput:
    title: str = strawberry.field(description="Title, at most 200 characters.")
    doc_type: DocTypeEnum = strawberry.field(description="Document type.")  # type: ignore[valid-type]
    route: RouteInput | None = strawberry.field(
        default=None,
        description="Who reviews, countersigns and signs off, in order. Give `route` or `routeTemplateId`, not both; "
        "with neither, the default route template of your unit for the type is copied (REQUIRED on `route` when "
        "there is none).",
    )
    route_template_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="A route template that applies to your unit (see applicableRouteTemplates); its steps are copied "
        "into the document's route now (later template edits do not change the document).",
    )
    body: str = strawberry.field(default="", description="Body text, at most 200,000 characters.")
    urgency: UrgencyEnum = strawberry.field(default=Urgency.NORMAL, description="Urgency.")  # type: ignore[valid-type]
    sensitivity: SensitivityEnum = strawberry.field(default=Sensitivity.PUBLIC, description="Non-classified marking.")  # type: ignore[valid-type]
    classification: str | None = strawberry.field(
        default=None,
        description="Classification text as an integrating system may send it. Any state-secret level (绝密, 机密, "
        "秘密, in any spelling, with ★ and a period), 'pending classification' or an unknown value is refused with "
        "STATE_SECRET_REFUSED (涉密不上网: the 2012 regulation, Arts. 26 and 30). "
        "内部 / 工作秘密 / 公开 are accepted (use `sensitivity`).",
    )
    main_recipient_ids: list[relay.GlobalID] = strawberry.field(
        default_factory=list, description="Main recipient units (主送), at most 300."
    )
    cc_recipient_ids: list[relay.GlobalID] = strawberry.field(
        default_factory=list, description="Copied units (抄送), at most 300."
    )
    direction: DirectionEnum = strawberry.field(  # type: ignore[valid-type]
        default=validation.Direction.DOWNWARD, description="行文方向; UPWARD requires signers (REG Art. 9(6))."
    )
    copy_number: str | None = strawberry.field(default=None, description="份号: exactly 6 digits, e.g. 000123.")
    signers: list[str] = strawberry.field(
        default_factory=list, description="签发人 names in order, at most 20; required when direction is UPWARD."
    )
    main_recipients_text: str | None = strawberry.field(
        default=None,
        description="主送 as text, ending with a full-width colon (各市人民政府，省政府各部门：), ≤ 2,000 characters.",
    )
    cc_text: str | None = strawberry.field(
        default=None, description="抄送 as text, ending with a full-width period (省委办公厅，省人大常委会办公厅。)."
    )
    attachment_titles: list[str] = strawberry.field(
        default_factory=list,
        description="附件说明: attachment titles in order, at most 50, non-empty, unique, no final punctuation.",
    )
    note: str | None = strawberry.field(
        default=None, description="附注, at most 500 characters, e.g. （此件公开发布）."
    )
    issued_on: dt.date | None = strawberry.field(default=None, description="成文日期 (Asia/Shanghai date).")
    issued_on_text: str | None = strawberry.field(
        default=None,
        description="成文日期 written as 2026年1月5日 (no leading zeros, a real date); agrees with issuedOn.",
    )
    printing_office: str | None = strawberry.field(default=None, description="印发机关, at most 200 characters.")
    printed_on: dt.date | None = strawberry.field(default=None, description="印发日期; not before the 成文日期.")
    printed_on_text: str | None = strawberry.field(default=None, description="印发日期 written as 2026年1月6日.")
    issuer_signature: str | None = strawberry.field(default=None, description="发文机关署名, at most 200 characters.")
    important: bool = strawberry.field(
        default=False, description="重要公文: only the head of the issuing unit may sign it off (REG Art. 22)."
    )
    idempotency_key: str | None = idempotency_key_field()


_UPDATE_FIELDS = (
    "title",
    "body",
    "urgency",
    "direction",
    "copy_number",
    "signers",
    "main_recipients_text",
    "cc_text",
    "attachment_titles",
    "note",
    "issued_on",
    "issued_on_text",
    "printing_office",
    "printed_on",
    "printed_on_text",
    "issuer_signature",
    "important",
)


@strawberry.input(
    description="Changes to a draft or returned document: an omitted field stays as it is, null clears it."
)
class UpdateDocumentInput:
    document_id: relay.GlobalID = strawberry.field(description="The document (you must be its drafter).")
    expected_version: int | None = strawberry.field(
        default=None, description="If given, refuse with STALE_VERSION unless the document still has this version."
    )
    title: str | None = strawberry.field(default=UNSET, description="Title, at most 200 characters (not null).")
    body: str | None = strawberry.field(default=UNSET, description="Body text, at most 200,000 characters.")
    urgency: UrgencyEnum | None = strawberry.field(default=UNSET, description="Urgency (not null).")  # type: ignore[valid-type]
    direction: DirectionEnum | None = strawberry.field(default=UNSET, description="行文方向 (not null).")  # type: ignore[valid-type]
    copy_number: str | None = strawberry.field(default=UNSET, description="份号: exactly 6 digits.")
    signers: list[str] | None = strawberry.field(default=UNSET, description="签发人 names in order.")
    main_recipients_text: str | None = strawberry.field(default=UNSET, description="主送 as text, ending with ：")
    cc_text: str | None = strawberry.field(default=UNSET, description="抄送 as text, ending with 。")
    attachment_titles: list[str] | None = strawberry.field(default=UNSET, description="附件说明: titles in order.")
    note: str | None = strawberry.field(default=UNSET, description="附注.")
    issued_on: dt.date | None = strawberry.field(default=UNSET, description="成文日期 (Asia/Shanghai date).")
    issued_on_text: str | None = strawberry.field(default=UNSET, description="成文日期 written as 2026年1月5日.")
    printing_office: str | None = strawberry.field(default=UNSET, description="印发机关.")
    printed_on: dt.date | None = strawberry.field(default=UNSET, description="印发日期; not before the 成文日期.")
    printed_on_text: str | None = strawberry.field(default=UNSET, description="印发日期 written as 2026年1月6日.")
    issuer_signature: str | None = strawberry.field(default=UNSET, description="发文机关署名.")
    important: bool | None = strawberry.field(
        default=UNSET, description="重要公文 (not null); a change after sign-off invalidates it."
    )


def _update_changes(input: UpdateDocumentInput) -> dict:
    """The fields the client sent (UNSET = omitted), with null for "not null" fields refused."""
    changes = {k: getattr(input, k) for k in _UPDATE_FIELDS if getattr(input, k) is not UNSET}
    for key, default in (("urgency", None), ("direction", None), ("title", ""), ("important", None)):
        if key in changes and changes[key] is None:
            if default is None:
                raise DomainError(ErrorCode.REQUIRED, _camel(key))
            changes[key] = default
    for key in ("signers", "attachment_titles"):
        if key in changes and changes[key] is None:
            changes[key] = []
    if changes.get("direction") is not None:
        changes["direction"] = validation.Direction(changes["direction"]).value
    if changes.get("urgency") is not None:
        changes["urgency"] = Urgency(changes["urgency"]).value
    return changes


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


@strawberry.type(description="The document created or changed, or errors.")
class DocumentPayload:
    document: Document | None = strawberry.field(description="The document after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")
    warnings: list[ValidationWarning] = strawberry.field(
        default_factory=list,
        description="Format findings that do not block (principle and practice rules); empty when there are errors.",
    )


@strawberry.input(description="Submit a draft or resubmit a returned document.")
class SubmitDocumentInput:
    document_id: relay.GlobalID = strawberry.field(description="The document (you must be its drafter).")
    attest_no_state_secret: bool = strawberry.field(
        description="Must be true: you attest 本文件不涉及国家秘密 (the document holds no state secret). Recorded."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Act on one of your tasks.")
class TaskActionInput:
    task_id: relay.GlobalID = strawberry.field(description="Your pending task.")
    opinion: str | None = strawberry.field(
        default=None, description="Opinion (审批意见), at most 2,000 characters; required to return."
    )
    to_step_index: int | None = strawberry.field(
        default=None,
        description="returnTask only: return to this earlier step (0-based, below the current step) instead of "
        "the drafter; the step reopens with fresh tasks in the same round (docs/routing.md). approveTask "
        "refuses it (INVALID_VALUE).",
    )
    opinion_phrase_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="One of your saved opinion phrases (常用意见, type OpinionPhrase): its text becomes the opinion. "
        "Not together with `opinion` (INVALID_VALUE); another user's phrase is NOT_FOUND.",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Register (登记) a signed-off document: assign its 发文字号.")
class RegisterDocumentInput:
    document_id: relay.GlobalID = strawberry.field(
        description="An APPROVED document you drafted, or one of your unit's if you are its clerk (文书)."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The task acted on and its document, or errors.")
class TaskPayload:
    task: Task | None = strawberry.field(description="The task after the action.")
    document: Document | None = strawberry.field(description="Its document after the action.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


async def _input_opinion(uow, actor, input: TaskActionInput) -> str | None:
    """The typed opinion, or the text of the saved phrase ``opinionPhraseId`` (documents/phrases.py)."""
    if input.opinion_phrase_id is None:
        return input.opinion
    pid = decode_id(input.opinion_phrase_id, "OpinionPhrase", "opinionPhraseId")
    return await phrases.opinion_of(uow.session, actor, input.opinion, pid)


def _step_input(i: int, s: RouteStepInput) -> docs.StepInput:
    prefix = f"route.steps.{i}"
    assignees = [
        docs.AssigneeInput(
            user_id=decode_id(a.user_id, "User", f"{prefix}.assignees.{j}.userId") if a.user_id else None,
            unit_id=decode_id(a.unit_id, "OrgUnit", f"{prefix}.assignees.{j}.unitId") if a.unit_id else None,
            duty=Duty(a.duty) if a.duty else None,
        )
        for j, a in enumerate(s.assignees)
    ]
    return docs.StepInput(
        s.name,
        StepMode(s.mode),
        decode_ids(s.assignee_ids, "User", f"{prefix}.assigneeIds"),
        assignees,
        s.quorum,
        s.sign_off,
    )


def _document_input(input: CreateDocumentInput) -> docs.DocumentInput:
    return docs.DocumentInput(
        title=input.title,
        doc_type=DocType(input.doc_type),
        body=input.body,
        urgency=Urgency(input.urgency),
        sensitivity=Sensitivity(input.sensitivity),
        classification=input.classification,
        main_recipient_ids=decode_ids(input.main_recipient_ids, "OrgUnit", "mainRecipientIds"),
        cc_recipient_ids=decode_ids(input.cc_recipient_ids, "OrgUnit", "ccRecipientIds"),
        direction=validation.Direction(input.direction),
        copy_number=input.copy_number,
        signers=list(input.signers),
        main_recipients_text=input.main_recipients_text,
        cc_text=input.cc_text,
        attachment_titles=list(input.attachment_titles),
        note=input.note,
        issued_on=input.issued_on,
        issued_on_text=input.issued_on_text,
        printing_office=input.printing_office,
        printed_on=input.printed_on,
        printed_on_text=input.printed_on_text,
        issuer_signature=input.issuer_signature,
        important=input.important,
        steps=[_step_input(i, s) for i, s in enumerate(input.route.steps)] if input.route is not None else [],
    )


def _document_payload(
    info: Info, result: tuple[DocumentModel, validation.Report] | None, errors: list[UserError]
) -> DocumentPayload:
    if result is None:
        return DocumentPayload(document=None, errors=errors, warnings=[])
    doc, report = result
    warnings = [ValidationWarning.from_warning(w, info.context.lang) for w in report.warnings]
    return DocumentPayload(document=Document.from_model(doc), errors=errors, warnings=warnings)


async def _task_payload(info: Info, task: TaskModel | None, errors: list[UserError]) -> TaskPayload:
    if task is None:
        return TaskPayload(task=None, document=None, errors=errors)
    async with info.context.db.read() as s:
        doc = await s.get(DocumentModel, task.document_id)
    return TaskPayload(task=Task.from_model(task), document=Document.from_model(doc) if doc else None, errors=errors)


@strawberry.type
class DocumentQuery:
    @strawberry.field(
        description="One document, if you drafted it or are on its route (an integration client with "
        "documents:read: if it was submitted by a unit inside its subtree); null otherwise (existence is not "
        "revealed).",
        permission_classes=[IsAuthenticated],
    )
    async def document(self, info: Info, id: relay.GlobalID) -> Document | None:
        client = info.context.client
        actor = await require_actor(info) if client is None else None
        pk = decode_id(id, "Document", "id")
        async with info.context.db.read() as s:
            if actor is None:
                doc = await docs.get_document_in_subtree(s, client.unit_path, pk)
            else:
                doc = await docs.get_visible_document(s, actor, pk)
        if doc is not None:
            await record_opening(info, doc.id)
        return Document.from_model(doc) if doc else None

    @strawberry.field(
        description="Who would receive a document's tasks, step by step, and why (named user, duty, unit clerk, "
        "delegation), resolved for today; for its drafter and the people on its route. Null when you cannot see "
        "the document.",
        permission_classes=[IsAuthenticated],
    )
    async def route_preview(
        self,
        info: Info,
        document_id: Annotated[relay.GlobalID, strawberry.argument(description="The document to preview.")],
    ) -> RoutePreview | None:
        actor = await require_actor(info)
        pk = decode_id(document_id, "Document", "documentId")
        async with info.context.db.read() as s:
            preview = await docs.route_preview(s, actor, pk)
        return RoutePreview.from_preview(preview) if preview else None


@strawberry.type
class DocumentMutation:
    @strawberry.mutation(
        description="Create a draft in your primary unit. Refuses state-secret classifications (STATE_SECRET_REFUSED).",
        permission_classes=[IsAuthenticated],
    )
    async def create_document(self, info: Info, input: CreateDocumentInput) -> DocumentPayload:
        actor = await require_actor(info)

        async def work(uow):
            data = _document_input(input)
            if input.route is not None and input.route_template_id is not None:
                raise DomainError(ErrorCode.INVALID_VALUE, "routeTemplateId", detail="give route or routeTemplateId")
            if input.route is None:
                template_pk = (
                    decode_id(input.route_template_id, "RouteTemplate", "routeTemplateId")
                    if input.route_template_id is not None
                    else None
                )
                data.steps = await templates.route_for_document(uow.session, actor, data.doc_type, template_pk)
            doc = await docs.create_document(uow, actor, data)
            return doc, await docs.format_report(uow.session, doc)

        result, errors = await run_mutation(info, work, idempotent=input)
        return _document_payload(info, result, errors)

    @strawberry.mutation(
        description="Change a draft or returned document you drafted (title, body, urgency, GB/T 9704 format "
        "elements). Format errors refuse the whole change; warnings come back in the payload. Errors: NOT_FOUND "
        "(you cannot see it), FORBIDDEN (you read it but did not draft it), INVALID_STATE, STALE_VERSION, field "
        "errors. A signed-off APPROVED document (not yet registered) may be "
        "edited too: changing its title, body, attachment titles, direction or importance invalidates the sign-off "
        "(history SIGN_OFF_INVALIDATED) and sends it back IN_REVIEW to the signer; other format elements change "
        "without that; issuedOn (the sign-off date) cannot change.",
        permission_classes=[IsAuthenticated],
    )
    async def update_document(self, info: Info, input: UpdateDocumentInput) -> DocumentPayload:
        actor = await require_actor(info)

        async def work(uow):
            doc = await docs.update_document(
                uow,
                actor,
                decode_id(input.document_id, "Document", "documentId"),
                _update_changes(input),
                expected_version=input.expected_version,
                broker=info.context.broker,
            )
            return doc, await docs.format_report(uow.session, doc)

        result, errors = await run_mutation(info, work)
        return _document_payload(info, result, errors)

    @strawberry.mutation(
        description="Submit (or resubmit after a return): opens the first step's tasks. Requires "
        "attestNoStateSecret: true (ATTESTATION_REQUIRED).",
        permission_classes=[IsAuthenticated],
    )
    async def submit_document(self, info: Info, input: SubmitDocumentInput) -> DocumentPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            doc = await docs.submit_document(
                uow,
                ctx.broker,
                actor,
                decode_id(input.document_id, "Document", "documentId"),
                attest_no_state_secret=input.attest_no_state_secret,
            )
            return doc, await docs.format_report(uow.session, doc)

        result, errors = await run_mutation(info, work, idempotent=input)
        return _document_payload(info, result, errors)

    @strawberry.mutation(
        description="Approve your pending task. Approving the sign-off step (签发) records the sign-off and sets "
        "issuedOn to its Asia/Shanghai date. Errors: NOT_YOUR_TASK, TASK_ALREADY_HANDLED (also for a retry), "
        "WRONG_SIGNER (a sign-off task of someone who is not, or no longer, a leader allowed to sign it).",
        permission_classes=[IsAuthenticated],
    )
    async def approve_task(self, info: Info, input: TaskActionInput) -> TaskPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            if input.to_step_index is not None:
                raise DomainError(ErrorCode.INVALID_VALUE, "toStepIndex", detail="only returnTask takes a step")
            opinion = await _input_opinion(uow, actor, input)
            return await docs.approve_task(uow, ctx.broker, actor, decode_id(input.task_id, "Task", "taskId"), opinion)

        task, errors = await run_mutation(info, work, idempotent=input)
        return await _task_payload(info, task, errors)

    @strawberry.mutation(
        description="Return the document to its drafter (opinion required); the step's other open tasks are "
        "cancelled. With toStepIndex: return to that earlier step instead (same round; its approvals and those of "
        "the steps after it are superseded, see docs/routing.md).",
        permission_classes=[IsAuthenticated],
    )
    async def return_task(self, info: Info, input: TaskActionInput) -> TaskPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            opinion = await _input_opinion(uow, actor, input)
            if input.to_step_index is not None:
                return await return_to_step(
                    uow, ctx.broker, actor, decode_id(input.task_id, "Task", "taskId"), opinion, input.to_step_index
                )
            return await docs.return_task(uow, ctx.broker, actor, decode_id(input.task_id, "Task", "taskId"), opinion)

        task, errors = await run_mutation(info, work, idempotent=input)
        return await _task_payload(info, task, errors)

    @strawberry.mutation(
        description="Register (登记) an APPROVED document: assign the next 发文字号 of its issuer code and "
        "Asia/Shanghai year, e.g. 鲁政办发〔2026〕5号 (gapless per code and year). For the drafter or a clerk "
        "(文书) of the issuing unit. Registering again returns the document unchanged with the same number. "
        "Errors: INVALID_STATE (not approved), NO_DOC_NUMBER_CODE (no issuer code configured for the unit or "
        "any unit above it), FORBIDDEN, NOT_FOUND.",
        permission_classes=[IsAuthenticated],
    )
    async def register_document(self, info: Info, input: RegisterDocumentInput) -> DocumentPayload:
        actor = await require_actor(info)
        ctx = info.context

        async def work(uow):
            return await registration.register_document(
                uow, actor, decode_id(input.document_id, "Document", "documentId"), now=ctx.platform.clock()
            )

        doc, errors = await run_mutation(info, work, idempotent=input)
        return DocumentPayload(document=Document.from_model(doc) if doc else None, errors=errors)

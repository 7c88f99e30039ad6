"""Enumerations of the document domain."""

from __future__ import annotations

from enum import StrEnum


class DocType(StrEnum):
    """The 15 document types of the 2012 regulation (中办发〔2012〕14号), Art. 8."""

    RESOLUTION = "resolution"  # 决议
    DECISION = "decision"  # 决定
    ORDER = "order"  # 命令(令)
    COMMUNIQUE = "communique"  # 公报
    ANNOUNCEMENT = "announcement"  # 公告
    PUBLIC_NOTICE = "public_notice"  # 通告
    OPINION = "opinion"  # 意见
    NOTICE = "notice"  # 通知
    BULLETIN = "bulletin"  # 通报
    REPORT = "report"  # 报告
    REQUEST = "request"  # 请示
    REPLY = "reply"  # 批复
    MOTION = "motion"  # 议案
    LETTER = "letter"  # 函
    MINUTES = "minutes"  # 纪要


#: Chinese name of each type, and accepted aliases (会议纪要 → 纪要, 令 → 命令).
DOC_TYPE_NAMES: dict[DocType, str] = {
    DocType.RESOLUTION: "决议",
    DocType.DECISION: "决定",
    DocType.ORDER: "命令",
    DocType.COMMUNIQUE: "公报",
    DocType.ANNOUNCEMENT: "公告",
    DocType.PUBLIC_NOTICE: "通告",
    DocType.OPINION: "意见",
    DocType.NOTICE: "通知",
    DocType.BULLETIN: "通报",
    DocType.REPORT: "报告",
    DocType.REQUEST: "请示",
    DocType.REPLY: "批复",
    DocType.MOTION: "议案",
    DocType.LETTER: "函",
    DocType.MINUTES: "纪要",
}


class Urgency(StrEnum):
    """紧急程度 (REG Art. 9(3)): unmarked 平件, 加急, 特急."""

    NORMAL = "normal"
    URGENT = "urgent"
    EXTRA_URGENT = "extra_urgent"


class Sensitivity(StrEnum):
    """Non-classified markings (内部, 工作秘密). Never a state-secret level."""

    PUBLIC = "public"
    INTERNAL = "internal"
    WORK_SECRET = "work_secret"


class DocumentStatus(StrEnum):
    """The life of a document (DOMAIN §1.3–§1.6). Outgoing: draft → in_review ⇄ returned →
    approved (every step done; signed off when the last step was the sign-off step) →
    registered (发文字号 given) → dispatched (sent to the recipient units) → archived (归档,
    read-only). A registered or dispatched document may end revoked (撤销, void from the
    start) or repealed (废止, void from a date), REG Art. 33."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    APPROVED = "approved"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    ARCHIVED = "archived"
    REVOKED = "revoked"
    REPEALED = "repealed"


class StepMode(StrEnum):
    """How a step completes: ``single`` (one assignee), ``sequential`` (one after another),
    ``parallel_all`` (会签: all), ``any_one`` (或签/抢办: the first approval), ``quorum`` (k of n)."""

    SINGLE = "single"
    SEQUENTIAL = "sequential"
    PARALLEL_ALL = "parallel_all"
    ANY_ONE = "any_one"
    QUORUM = "quorum"


class TaskStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    #: Passed to another person by 转办 or an administrator's reroute (a new task replaces it).
    TRANSFERRED = "transferred"
    #: An approval undone by a return to an earlier step (the step reopens with fresh tasks).
    SUPERSEDED = "superseded"


class RecipientKind(StrEnum):
    MAIN = "main"  # 主送
    CC = "cc"  # 抄送


class ActionKind(StrEnum):
    """Entries of a document's history."""

    CREATED = "created"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"
    COMPLETED = "completed"
    HANDED_OVER = "handed_over"
    REGISTERED = "registered"  # 登记: the 发文字号 was assigned
    # countersign inside a unit (documents/unit_countersign.py)
    ROUTED_IN_UNIT = "routed_in_unit"  # the unit's clerk routed the task to members
    SUBTASK_APPROVED = "subtask_approved"  # a member approved a sub-task (opinion)
    SUBTASK_RETURNED = "subtask_returned"  # a member sent the task back to the clerk
    UNIT_ROUTE_CANCELLED = "unit_route_cancelled"  # the clerk cancelled the internal routing
    # circulation for reading (传阅, documents/circulation.py)
    CIRCULATED = "circulated"
    CIRCULATION_READ = "circulation_read"
    ATTACHMENT_ADDED = "attachment_added"  # 附件 uploaded (with the uploader's attestation)
    ATTACHMENT_REMOVED = "attachment_removed"
    ATTACHMENTS_ORDERED = "attachments_ordered"
    # routing actions (documents/actions.py, docs/routing.md)
    RETURNED_TO_STEP = "returned_to_step"  # 退回 to an earlier step (``to_step_index``)
    WITHDRAWN = "withdrawn"  # 撤回 by the sender
    TRANSFERRED = "transferred"  # 转办 to ``target_user_id``
    DELEGATED = "delegated"  # 单件委托 to ``target_user_id``
    SIGNER_ADDED = "signer_added"  # 加签 of ``target_user_id``
    SIGNER_REMOVED = "signer_removed"  # 减签 of ``target_user_id``
    REROUTED = "rerouted"  # an administrator replaced an assignee by ``target_user_id``
    COMMENTED = "commented"  # 评论/意见 without acting
    ARCHIVED = "archived"  # 归档 (REG Art. 27): the document became read-only
    SIGNED_OFF = "signed_off"  # 签发: the sign-off step was approved (REG Art. 22)
    SIGN_OFF_INVALIDATED = "sign_off_invalidated"  # the body changed after sign-off (DOMAIN §1.4 复核)
    REVOKED = "revoked"  # 撤销: void from the start (REG Art. 33)
    REPEALED = "repealed"  # 废止: void from a date (REG Art. 33)
    DISPATCHED = "dispatched"  # 核发: sent to the recipient units


class StepKind(StrEnum):
    """What a route step is for: an ordinary ``review`` step, or the ``sign_off`` (签发) by a
    leader of the issuing unit (REG Art. 22), which must be the last step."""

    REVIEW = "review"
    SIGN_OFF = "sign_off"

"""Domain errors with stable codes and zh-CN / English messages.

Services raise :class:`DomainError` (one problem) or :class:`DomainErrors` (several, e.g.
every invalid field of an input). The GraphQL layer turns them into ``UserError`` entries
(``field``, ``code``, ``message``) of a mutation payload. :class:`AuthError` is the
exception for failed authentication or authorization; it becomes a top-level GraphQL
error with ``extensions.code``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable error codes; clients switch on these, never on messages."""

    INVALID_VALUE = "INVALID_VALUE"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    CYCLE = "CYCLE"
    OUT_OF_SCOPE = "OUT_OF_SCOPE"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TOKEN = "INVALID_TOKEN"
    TOKEN_REUSED = "TOKEN_REUSED"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    NO_POSITION = "NO_POSITION"
    STATE_SECRET_REFUSED = "STATE_SECRET_REFUSED"
    ATTESTATION_REQUIRED = "ATTESTATION_REQUIRED"
    INVALID_STATE = "INVALID_STATE"
    NOT_YOUR_TASK = "NOT_YOUR_TASK"
    TASK_ALREADY_HANDLED = "TASK_ALREADY_HANDLED"
    INACTIVE = "INACTIVE"
    STALE_VERSION = "STALE_VERSION"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    # duties and delegation (issue 3)
    HEAD_TAKEN = "HEAD_TAKEN"
    SELF_DELEGATION = "SELF_DELEGATION"
    DELEGATION_OVERLAP = "DELEGATION_OVERLAP"
    DELEGATION_CYCLE = "DELEGATION_CYCLE"
    PASSWORD_CHANGE_REQUIRED = "PASSWORD_CHANGE_REQUIRED"
    ROLE_CONFLICT = "ROLE_CONFLICT"
    # sign-in through the identity provider (OpenID Connect)
    OIDC_DISABLED = "OIDC_DISABLED"
    OIDC_STATE_INVALID = "OIDC_STATE_INVALID"
    OIDC_ACCESS_DENIED = "OIDC_ACCESS_DENIED"
    OIDC_PROVIDER_ERROR = "OIDC_PROVIDER_ERROR"
    OIDC_ID_TOKEN_INVALID = "OIDC_ID_TOKEN_INVALID"
    IDENTITY_NOT_LINKED = "IDENTITY_NOT_LINKED"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    # two-factor sign-in (TOTP)
    TOTP_REQUIRED = "TOTP_REQUIRED"
    TOTP_ENROLLMENT_REQUIRED = "TOTP_ENROLLMENT_REQUIRED"
    TOTP_REQUIRED_BY_ROLE = "TOTP_REQUIRED_BY_ROLE"
    # registration and document numbers (发文字号)
    NO_DOC_NUMBER_CODE = "NO_DOC_NUMBER_CODE"
    # idempotency keys (retried mutations)
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    # route step modes and assignees by duty
    NO_ASSIGNEE = "NO_ASSIGNEE"
    # countersign inside a unit
    NOT_A_UNIT_TASK = "NOT_A_UNIT_TASK"
    NOT_IN_UNIT = "NOT_IN_UNIT"
    SUBTASKS_PENDING = "SUBTASKS_PENDING"
    # circulation for reading (传阅)
    CIRCULATION_RESTRICTED = "CIRCULATION_RESTRICTED"
    # attachments (附件)
    TOO_LARGE = "TOO_LARGE"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    EMPTY_FILE = "EMPTY_FILE"
    ATTACHMENTS_MISMATCH = "ATTACHMENTS_MISMATCH"
    # routing actions: withdraw, transfer, add/remove signer (documents/actions.py)
    WITHDRAW_TOO_LATE = "WITHDRAW_TOO_LATE"
    NOT_THE_SENDER = "NOT_THE_SENDER"
    # sign-off (签发, REG Art. 22)
    WRONG_SIGNER = "WRONG_SIGNER"
    SIGN_OFF_REQUIRED = "SIGN_OFF_REQUIRED"
    # incoming procedure (收文办理)
    LEAD_REQUIRED = "LEAD_REQUIRED"
    DEADLINE_REQUIRED = "DEADLINE_REQUIRED"
    # working-day calendar, deadlines, reminders and extensions (工作日、办理时限、催办、延期)
    CALENDAR_DAY_CONFLICT = "CALENDAR_DAY_CONFLICT"
    DEADLINE_CLOSED = "DEADLINE_CLOSED"
    EXTENSION_AFTER_DEADLINE = "EXTENSION_AFTER_DEADLINE"
    EXTENSION_OVER_LIMIT = "EXTENSION_OVER_LIMIT"
    # meetings (会议, DOMAIN §7)
    ROOM_TAKEN = "ROOM_TAKEN"
    ROOM_OVER_CAPACITY = "ROOM_OVER_CAPACITY"
    RECURRENCE_INVALID = "RECURRENCE_INVALID"
    RECURRENCE_UNBOUNDED = "RECURRENCE_UNBOUNDED"
    MEETING_CANCELLED = "MEETING_CANCELLED"
    SUBSTITUTION_FORBIDDEN = "SUBSTITUTION_FORBIDDEN"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    NOT_AN_ATTENDEE = "NOT_AN_ATTENDEE"
    CHECK_IN_CLOSED = "CHECK_IN_CLOSED"
    CHECK_IN_TOKEN_INVALID = "CHECK_IN_TOKEN_INVALID"
    # webhooks for departmental systems (office_api/webhooks/)
    WEBHOOK_URL_REFUSED = "WEBHOOK_URL_REFUSED"
    SCOPE_MISSING = "SCOPE_MISSING"


_MESSAGES: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.WEBHOOK_URL_REFUSED: ("不允许使用该回调地址：{detail}", "This webhook URL is refused: {detail}"),
    ErrorCode.SCOPE_MISSING: ("该集成客户端没有 {detail} 权限范围", "The integration client lacks the scope {detail}"),
    ErrorCode.INVALID_VALUE: ("取值无效：{detail}", "Invalid value: {detail}"),
    ErrorCode.REQUIRED: ("此项必填", "This field is required"),
    ErrorCode.TOO_LONG: ("长度不能超过 {limit} 个字符", "Must be at most {limit} characters"),
    ErrorCode.TOO_MANY: ("最多 {limit} 项", "At most {limit} items"),
    ErrorCode.NOT_FOUND: ("未找到对象", "No such object"),
    ErrorCode.DUPLICATE: ("已存在：{detail}", "Already exists: {detail}"),
    ErrorCode.CYCLE: (
        "不能把单位移动到它自己或其下级单位之下",
        "A unit cannot be moved under itself or one of its descendants",
    ),
    ErrorCode.OUT_OF_SCOPE: ("超出您的管理范围", "Outside the subtree you administer"),
    ErrorCode.INVALID_CREDENTIALS: ("用户名或密码错误", "Wrong username or password"),
    ErrorCode.INVALID_TOKEN: ("令牌无效或已过期", "The token is invalid or expired"),
    ErrorCode.TOKEN_REUSED: (
        "刷新令牌已被使用，该登录会话已全部注销",
        "Refresh token reused; every token of this session was revoked",
    ),
    ErrorCode.WEAK_PASSWORD: (
        "密码不符合安全策略：{rule_zh}",
        "The password breaks the password policy: {rule_en}",
    ),
    ErrorCode.NO_POSITION: ("您在任何单位都没有职务", "You hold no position in any unit"),
    ErrorCode.STATE_SECRET_REFUSED: (
        "本平台为非涉密平台，不得处理涉及国家秘密的公文（{detail}）",
        "This platform is non-classified and refuses state-secret material ({detail})",
    ),
    ErrorCode.ATTESTATION_REQUIRED: (
        "提交前须确认本文件不涉及国家秘密",
        "Confirm that the document holds no state secret before submitting",
    ),
    ErrorCode.INVALID_STATE: ("当前状态不允许此操作：{detail}", "Not allowed now: {detail}"),
    ErrorCode.NOT_YOUR_TASK: ("这不是您的待办", "This task is not assigned to you"),
    ErrorCode.TASK_ALREADY_HANDLED: ("该待办已处理", "This task has already been handled"),
    ErrorCode.INACTIVE: ("已停用：{detail}", "Deactivated: {detail}"),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: (
        "该幂等键已用于一个内容不同的请求，请为新请求生成新的键",
        "This idempotency key was already used with a different input; use a new key for a new request",
    ),
    ErrorCode.STALE_VERSION: (
        "数据已被他人修改，请刷新后重试",
        "Changed by someone else meanwhile; reload and retry",
    ),
    ErrorCode.UNAUTHENTICATED: ("请先登录", "Authentication required"),
    ErrorCode.FORBIDDEN: ("无权执行此操作", "You are not allowed to do this"),
    ErrorCode.HEAD_TAKEN: (
        "该单位已有主要负责人（{detail}），请先解除",
        "The unit already has a head ({detail}); remove that duty first",
    ),
    ErrorCode.SELF_DELEGATION: ("不能委托给自己", "You cannot delegate to yourself"),
    ErrorCode.DELEGATION_OVERLAP: (
        "与已有委托的日期和文种重叠（委托 {detail}）",
        "Overlaps an existing delegation in dates and document types (delegation {detail})",
    ),
    ErrorCode.DELEGATION_CYCLE: (
        "受托人在该期间已把待办委托回来，不能形成循环委托",
        "The delegate already delegates back to you in that period: delegations cannot form a cycle",
    ),
    ErrorCode.PASSWORD_CHANGE_REQUIRED: (
        "请先修改密码",
        "Change your password first (changePassword)",
    ),
    ErrorCode.ROLE_CONFLICT: (
        "三员分立：该账号已担任{detail}，不能再担任此角色",
        "Separation of duties: the account already holds {detail}",
    ),
    ErrorCode.OIDC_DISABLED: ("未启用统一身份认证登录", "Sign-in through the identity provider is not configured"),
    ErrorCode.OIDC_STATE_INVALID: (
        "登录请求无效、已过期或已使用，请重新登录",
        "The sign-in request is unknown, expired or already used; start again",
    ),
    ErrorCode.OIDC_ACCESS_DENIED: ("您在统一身份认证处取消了登录", "Sign-in was refused at the identity provider"),
    ErrorCode.OIDC_PROVIDER_ERROR: (
        "统一身份认证服务出错，请稍后重试",
        "The identity provider failed to complete the sign-in; try again later",
    ),
    ErrorCode.OIDC_ID_TOKEN_INVALID: (
        "统一身份认证返回的身份令牌无效",
        "The identity provider's ID token failed validation",
    ),
    ErrorCode.IDENTITY_NOT_LINKED: (
        "该统一身份认证账号尚未关联平台用户，请联系管理员",
        "This identity-provider account is not linked to a platform user; ask an administrator",
    ),
    ErrorCode.ACCOUNT_DISABLED: ("账号已停用", "The account is disabled"),
    ErrorCode.TOTP_REQUIRED: (
        "请输入身份验证器显示的动态口令",
        "Enter the one-time code shown by your authenticator app (totpCode)",
    ),
    ErrorCode.TOTP_ENROLLMENT_REQUIRED: (
        "系统管理员、安全管理员、安全审计员须使用双因素登录：请先绑定身份验证器"
        "（startTotpEnrollment、confirmTotpEnrollment）",
        "System, security and audit administrators must use two-factor sign-in: enroll an authenticator app "
        "first (startTotpEnrollment, confirmTotpEnrollment)",
    ),
    ErrorCode.TOTP_REQUIRED_BY_ROLE: (
        "您担任的管理员角色须使用双因素登录，不能关闭",
        "Your administrator role requires two-factor sign-in: it cannot be turned off",
    ),
    ErrorCode.NO_DOC_NUMBER_CODE: (
        "发文单位及其上级单位均未配置机关代字，无法编号（{detail}）",
        "Neither the issuing unit nor any unit above it has an issuer code for document numbers ({detail})",
    ),
    ErrorCode.NO_ASSIGNEE: ("无人承办：{detail}", "Nobody to receive the task: {detail}"),
    ErrorCode.NOT_A_UNIT_TASK: (
        "只有发给单位文书的待办才能在单位内部流转",
        "Only a task the route sent to a unit's clerk can be routed within the unit",
    ),
    ErrorCode.NOT_IN_UNIT: (
        "该用户不在本单位及其下级单位任职（{detail}）",
        "This user holds no position in the unit or a unit below it ({detail})",
    ),
    ErrorCode.SUBTASKS_PENDING: (
        "单位内部会签尚未完成，请等待或先撤销内部流转",
        "The countersign inside the unit is still open: wait for it, or cancel it first (cancelWithinUnit)",
    ),
    ErrorCode.CIRCULATION_RESTRICTED: (
        "工作秘密公文只能由拟稿人和流程中的人员传阅",
        "A work-secret document is circulated only by its drafter and the people on its route",
    ),
    ErrorCode.TOO_LARGE: ("文件不能超过 {limit} 字节", "The file must be at most {limit} bytes"),
    ErrorCode.UNSUPPORTED_TYPE: (
        "不支持的文件类型（{detail}）：仅接受 PDF、Word（.docx）、纯文本、PNG、JPEG",
        "Unsupported file type ({detail}): PDF, Word (.docx), plain text, PNG and JPEG are accepted",
    ),
    ErrorCode.EMPTY_FILE: ("文件为空", "The file is empty"),
    ErrorCode.ATTACHMENTS_MISMATCH: (
        "附件说明与已上传的附件不一致：{detail}",
        "The attachment list (附件说明) does not match the uploaded attachments: {detail}",
    ),
    ErrorCode.WITHDRAW_TOO_LATE: (
        "已有人办理了您送出的待办，不能撤回",
        "Too late to withdraw: someone has already acted on what you sent",
    ),
    ErrorCode.NOT_THE_SENDER: (
        "只有拟稿人或送出此环节的人可以这样做",
        "Only the drafter or the person who sent this step may do this",
    ),
    ErrorCode.WRONG_SIGNER: (
        "签发人须为发文机关负责人；重要公文和上行文须由主要负责人签发（{detail}）",
        "The sign-off must be by a leader of the issuing unit; important and upward documents by its head ({detail})",
    ),
    ErrorCode.SIGN_OFF_REQUIRED: (
        "公文须经发文机关负责人签发后方可登记（{detail}）",
        "The document must be signed off by a leader of the issuing unit before registration ({detail})",
    ),
    ErrorCode.LEAD_REQUIRED: (
        "两个及以上承办人须明确主办人",
        "Two or more handlers need a lead handler (主办)",
    ),
    ErrorCode.DEADLINE_REQUIRED: (
        "紧急公文须明确办理时限",
        "An urgent document needs an explicit handling deadline",
    ),
    ErrorCode.CALENDAR_DAY_CONFLICT: (
        "{day} 不能既是放假日又是调休上班日",
        "{day} cannot be both a holiday and a make-up working day",
    ),
    ErrorCode.DEADLINE_CLOSED: (
        "该事项已办结或已撤销，不能再催办、延期或变更时限（{detail}）",
        "The item is closed or cancelled; it cannot be urged, extended or re-timed ({detail})",
    ),
    ErrorCode.EXTENSION_AFTER_DEADLINE: (
        "延期须在办理期限届满前申请并批准（期限 {due}）",
        "An extension must be requested and approved before the deadline passes (due {due})",
    ),
    ErrorCode.EXTENSION_OVER_LIMIT: (
        "延期超过政策允许的上限（还可延期 {left} 个工作日）",
        "The extension exceeds what the policy allows ({left} working days left to grant)",
    ),
    ErrorCode.ROOM_TAKEN: (
        "会议室已被占用：{detail}",
        "The room is already booked: {detail}",
    ),
    ErrorCode.ROOM_OVER_CAPACITY: (
        "参会人数 {count} 超过会议室容量 {capacity}",
        "{count} attendees exceed the room's capacity of {capacity}",
    ),
    ErrorCode.RECURRENCE_INVALID: (
        "重复规则无效（RFC 5545 RRULE）：{detail}",
        "Invalid recurrence rule (RFC 5545 RRULE): {detail}",
    ),
    ErrorCode.RECURRENCE_UNBOUNDED: (
        "重复会议须以 COUNT 或 UNTIL 限定次数或截止日期（至多 {limit} 次）",
        "A recurring series needs COUNT or UNTIL to bound it (at most {limit} occurrences)",
    ),
    ErrorCode.MEETING_CANCELLED: (
        "会议已取消",
        "The meeting is cancelled",
    ),
    ErrorCode.SUBSTITUTION_FORBIDDEN: (
        "本会议不允许代参会，须本人参加",
        "This meeting forbids substitutes: the invitee must attend in person",
    ),
    ErrorCode.QUOTA_EXCEEDED: (
        "超出本单位参会名额（{quota} 人）",
        "More attendees than the unit's quota of {quota}",
    ),
    ErrorCode.NOT_AN_ATTENDEE: (
        "您不是本次会议的参会人员（{detail}）",
        "You are not an attendee of record of this meeting ({detail})",
    ),
    ErrorCode.CHECK_IN_CLOSED: (
        "不在签到时间内（{opens} 至 {closes}），不得补签",
        "Check-in is open only from {opens} to {closes}; no signing afterwards",
    ),
    ErrorCode.CHECK_IN_TOKEN_INVALID: (
        "签到码无效或已过期",
        "The check-in code is invalid or expired",
    ),
}

#: Messages that depend on the field as well: a refused one-time code is INVALID_CREDENTIALS
#: like a wrong password, but "wrong username or password" would mislead.
_FIELD_MESSAGES: dict[tuple[ErrorCode, str], tuple[str, str]] = {
    (ErrorCode.INVALID_CREDENTIALS, "totpCode"): ("动态口令错误或已使用过", "Wrong or already used one-time code"),
    (ErrorCode.INVALID_CREDENTIALS, "code"): ("动态口令错误或已使用过", "Wrong or already used one-time code"),
    (ErrorCode.ATTESTATION_REQUIRED, "attestNoStateSecret"): (
        "须确认本文件不涉及国家秘密",
        "Confirm that the file or document holds no state secret (attestNoStateSecret: true)",
    ),
}


#: Messages of codes raised with a ``detail`` their usual message has no room for (e.g. a
#: TOO_MANY that is about what the user holds, not about an input list: field null).
_DETAILED_MESSAGES: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.TOO_MANY: ("最多 {limit} 项：{detail}", "At most {limit} items: {detail}"),
}


def render_message(code: ErrorCode, lang: str = "zh", **params: Any) -> str:
    """The message for ``code`` in ``lang`` ("zh" default, "en"), with ``params`` filled in."""
    zh, en = _DETAILED_MESSAGES[code] if "detail" in params and code in _DETAILED_MESSAGES else _MESSAGES[code]
    template = en if lang == "en" else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template.split("：{")[0].split(": {")[0]


class DomainError(Exception):
    """An expected business outcome: a code, the dotted input ``field`` it concerns, params."""

    def __init__(self, code: ErrorCode, field: str | None = None, **params: Any) -> None:
        self.code = code
        self.field = field
        self.params = params
        super().__init__(f"{code.value} {field or ''} {params or ''}".strip())

    def message(self, lang: str = "zh") -> str:
        special = _FIELD_MESSAGES.get((self.code, self.field or ""))
        if special is not None:
            return special[1] if lang == "en" else special[0]
        return render_message(self.code, lang, **self.params)


class DomainErrors(Exception):
    """Several :class:`DomainError` at once (all invalid fields of one input)."""

    def __init__(self, errors: list[DomainError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class AuthError(Exception):
    """Authentication (``UNAUTHENTICATED``) or authorization (``FORBIDDEN``) failure."""

    def __init__(self, code: ErrorCode = ErrorCode.UNAUTHENTICATED) -> None:
        self.code = code
        super().__init__(render_message(code, "en"))


class ErrorCollector:
    """Collects validation problems of one input, then raises them together."""

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def add(self, code: ErrorCode, field: str | None = None, **params: Any) -> None:
        self.errors.append(DomainError(code, field, **params))

    def raise_if_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise DomainErrors(self.errors)

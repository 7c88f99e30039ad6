"""Format validation of a document's GB/T 9704-2012 elements: a pure module (no database).

:func:`check_format` takes the format elements of one document (:class:`FormatFields`) and
returns a :class:`Report` of

- **errors** (:class:`Problem` with an :class:`~office_api.errors.ErrorCode`, the input field
  name and message params): hard rules of the 2012 regulation (REG, 中办发〔2012〕14号) and of the
  standard GB/T 9704-2012 (STD). They refuse create, update and submit.
- **warnings** (:class:`FormatWarning` with a :class:`WarningCode`, the field and zh/en messages):
  rules the regulation words as a principle (原则上, 一般) and PRACTICE. They are returned with
  the payload and never block.

Field names are the GraphQL input names (``signers``, ``copyNumber``, ``issuedOnText`` …).
Dates are Asia/Shanghai calendar dates (``datetime.date``); the display form of a date of
document (成文日期) is ``2026年1月5日``: Arabic numerals, full year, no leading zeros (STD).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from documents.types import DOC_TYPE_NAMES, DocType
from office_api.errors import ErrorCode
from office_api.text import trimmed


class Direction(StrEnum):
    """行文方向 (PRACTICE, DOMAIN §1.1): 上行 to a superior, 下行 to subordinates, 平行 to
    organs with no reporting line."""

    UPWARD = "upward"
    DOWNWARD = "downward"
    PARALLEL = "parallel"


class WarningCode(StrEnum):
    """Stable codes of format warnings; clients switch on these, never on messages."""

    UPWARD_MULTIPLE_MAIN_RECIPIENTS = "UPWARD_MULTIPLE_MAIN_RECIPIENTS"
    TITLE_TYPE_MISMATCH = "TITLE_TYPE_MISMATCH"
    TITLE_END_PUNCTUATION = "TITLE_END_PUNCTUATION"
    UNUSUAL_DIRECTION = "UNUSUAL_DIRECTION"
    NOTE_NOT_IN_PARENTHESES = "NOTE_NOT_IN_PARENTHESES"


_WARNINGS: dict[WarningCode, tuple[str, str]] = {
    WarningCode.UPWARD_MULTIPLE_MAIN_RECIPIENTS: (
        "上行文原则上只主送一个上级机关（现有 {count} 个），其他机关可抄送",
        "As a principle an upward document has one main recipient (it has {count}); copy the others",
    ),
    WarningCode.TITLE_TYPE_MISMATCH: (
        "标题一般以文种“{name}”结尾",
        "The title should end with the document type {name}",
    ),
    WarningCode.TITLE_END_PUNCTUATION: ("标题末尾一般不加标点符号", "A title normally ends without punctuation"),
    WarningCode.UNUSUAL_DIRECTION: (
        "“{name}”通常为{expected_zh}",
        "A {name} is normally {expected_en}",
    ),
    WarningCode.NOTE_NOT_IN_PARENTHESES: (
        "附注一般加圆括号，如“（此件公开发布）”",
        "A note is normally in parentheses",
    ),
}

#: Accepted title endings per type besides the Chinese name (DOMAIN §1.1: 会议纪要 → 纪要, 令 → 命令).
TITLE_ALIASES: dict[DocType, tuple[str, ...]] = {DocType.ORDER: ("令",), DocType.MINUTES: ("会议纪要",)}

#: Typical direction of a type (PRACTICE, DOMAIN §1.1); other types may go any way.
TYPICAL_DIRECTION: dict[DocType, Direction] = {
    DocType.REPORT: Direction.UPWARD,
    DocType.REQUEST: Direction.UPWARD,
    DocType.MOTION: Direction.UPWARD,
    DocType.REPLY: Direction.DOWNWARD,
    DocType.LETTER: Direction.PARALLEL,
}
_DIRECTION_WORDS = {
    Direction.UPWARD: ("上行文", "upward"),
    Direction.DOWNWARD: ("下行文", "downward"),
    Direction.PARALLEL: ("平行文", "parallel"),
}

#: ASCII digits only (``re.ASCII``: full-width ０-９ are refused), matched with ``fullmatch`` so a
#: trailing newline is refused too.
COPY_NUMBER = re.compile(r"\d{6}", re.ASCII)
CHINESE_DATE = re.compile(r"(\d{4})年([1-9]\d?)月([1-9]\d?)日", re.ASCII)
#: Separators between names in a recipients text (顿号, full- and half-width commas).
_NAME_SEPARATORS = re.compile(r"[、，,；;]")
_END_PUNCTUATION = "。．.，,、；;：:！!？?"

MAX_SIGNERS = 20
MAX_NAME = 50
MAX_ATTACHMENTS = 50
MAX_ATTACHMENT_TITLE = 200
MAX_RECIPIENTS_TEXT = 2_000
MAX_NOTE = 500
MAX_UNIT_NAME = 200


@dataclass(frozen=True)
class Problem:
    """A refused input: error ``code`` on input ``field`` with message ``params``."""

    code: ErrorCode
    field: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FormatWarning:
    """A non-blocking finding on input ``field`` with its zh and en messages."""

    code: WarningCode
    field: str
    message_zh: str
    message_en: str


def _warning(code: WarningCode, field_name: str, **params: Any) -> FormatWarning:
    zh, en = _WARNINGS[code]
    return FormatWarning(code, field_name, zh.format(**params), en.format(**params))


@dataclass
class Report:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[FormatWarning] = field(default_factory=list)

    def error(self, code: ErrorCode, field_name: str, **params: Any) -> None:
        self.errors.append(Problem(code, field_name, params))


@dataclass
class FormatFields:
    """The GB/T 9704 elements of one document, as the drafter gave them.

    ``main_recipient_count`` is the number of main recipients (主送) named as units; when it
    is 0 the names in ``main_recipients_text`` are counted instead. ``issued_on_text`` and
    ``printed_on_text`` are the dates as text (``2026年1月5日``) when given that way.
    """

    doc_type: DocType
    title: str = ""
    direction: Direction = Direction.DOWNWARD
    copy_number: str | None = None
    signers: list[str] = field(default_factory=list)
    main_recipient_count: int = 0
    main_recipients_text: str | None = None
    cc_text: str | None = None
    attachment_titles: list[str] = field(default_factory=list)
    note: str | None = None
    issued_on: dt.date | None = None
    issued_on_text: str | None = None
    printed_on: dt.date | None = None
    printed_on_text: str | None = None
    printing_office: str | None = None
    issuer_signature: str | None = None


# ---- dates -------------------------------------------------------------------------------


def format_chinese_date(day: dt.date) -> str:
    """The STD display form of a date: ``2026年1月5日`` (Arabic numerals, no leading zeros).

    >>> format_chinese_date(dt.date(2026, 1, 5))
    '2026年1月5日'
    """
    return f"{day.year}年{day.month}月{day.day}日"


def parse_chinese_date(text: str) -> dt.date | None:
    """The date written as ``2026年1月5日`` (STD: matches ``^\\d{4}年[1-9]\\d?月[1-9]\\d?日$`` and is a
    real calendar date), or None: ``2026年01月05日``, ``二〇二六年一月五日`` and ``2026年2月30日`` are None.

    >>> parse_chinese_date("2026年12月31日")
    datetime.date(2026, 12, 31)
    >>> parse_chinese_date("2026年01月05日") is None
    True
    """
    m = CHINESE_DATE.fullmatch(text)
    if m is None:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _resolve_date(
    report: Report, day: dt.date | None, text: str | None, date_field: str, text_field: str
) -> dt.date | None:
    """The date given as ``day`` or as ``text``; errors for unparseable text or a disagreement."""
    if text is None:
        return day
    parsed = parse_chinese_date(text.strip())
    if parsed is None:
        report.error(ErrorCode.INVALID_VALUE, text_field, detail=f"{text.strip()!r}: write the date as 2026年1月5日")
        return day
    if day is not None and day != parsed:
        report.error(ErrorCode.INVALID_VALUE, text_field, detail=f"{text.strip()} is not {date_field} {day}")
    return parsed


# ---- helpers -------------------------------------------------------------------------------


def recipient_names(text: str | None) -> list[str]:
    """The names in a recipients text (``各市人民政府，省政府各部门：`` → 2 names)."""
    if not text:
        return []
    body = text.strip().rstrip("：:。")
    return [n for n in (trimmed(p) for p in _NAME_SEPARATORS.split(body)) if n]


def title_matches_type(title: str, doc_type: DocType) -> bool:
    """Whether ``title`` (trailing punctuation ignored) ends with the type's Chinese name or an
    alias (令 for 命令, 会议纪要 ends with 纪要)."""
    core = title.strip().rstrip(_END_PUNCTUATION)
    endings = (DOC_TYPE_NAMES[doc_type], *TITLE_ALIASES.get(doc_type, ()))
    return core.endswith(endings)


# ---- the rules -----------------------------------------------------------------------------


def _check_signers(report: Report, f: FormatFields) -> None:
    """签发人. Error: REQUIRED when the direction is upward (REG Art. 9(6); STD 签发人 element).
    Errors: empty or over-long names, repeats, more than MAX_SIGNERS."""
    if len(f.signers) > MAX_SIGNERS:
        report.error(ErrorCode.TOO_MANY, "signers", limit=MAX_SIGNERS)
        return
    seen: set[str] = set()
    for i, name in enumerate(f.signers):
        text = trimmed(name)
        if not text:
            report.error(ErrorCode.REQUIRED, f"signers.{i}")
        elif len(text) > MAX_NAME:
            report.error(ErrorCode.TOO_LONG, f"signers.{i}", limit=MAX_NAME)
        elif text in seen:
            report.error(ErrorCode.DUPLICATE, f"signers.{i}", detail=text)
        seen.add(text)
    if f.direction is Direction.UPWARD and not f.signers:
        report.error(ErrorCode.REQUIRED, "signers")


def _check_main_recipients(report: Report, f: FormatFields) -> None:
    """主送. Error: the text ends with a full-width colon ``：`` (STD). Warning: an upward
    document addresses more than one main recipient (REG Art. 15(1), "原则上": principle)."""
    text = f.main_recipients_text
    if text is not None and text.strip():
        if len(text) > MAX_RECIPIENTS_TEXT:
            report.error(ErrorCode.TOO_LONG, "mainRecipientsText", limit=MAX_RECIPIENTS_TEXT)
        elif not text.strip().endswith("："):
            report.error(ErrorCode.INVALID_VALUE, "mainRecipientsText", detail="end it with a full-width colon ：")
    count = f.main_recipient_count or len(recipient_names(text))
    if f.direction is Direction.UPWARD and count > 1:
        field_name = "mainRecipientIds" if f.main_recipient_count else "mainRecipientsText"
        report.warnings.append(_warning(WarningCode.UPWARD_MULTIPLE_MAIN_RECIPIENTS, field_name, count=count))


def _check_cc(report: Report, f: FormatFields) -> None:
    """抄送. Error: the text ends with a full-width period ``。`` (STD 抄送机关: ``抄送：A，B，C。``)."""
    text = f.cc_text
    if text is None or not text.strip():
        return
    if len(text) > MAX_RECIPIENTS_TEXT:
        report.error(ErrorCode.TOO_LONG, "ccText", limit=MAX_RECIPIENTS_TEXT)
    elif not text.strip().endswith("。"):
        report.error(ErrorCode.INVALID_VALUE, "ccText", detail="end it with a full-width period 。")


def _check_title(report: Report, f: FormatFields) -> None:
    """标题. Warnings (STD title pattern 发文机关+事由+文种, and practice): the title should end
    with the type's Chinese name (aliases 令, 会议纪要), and without final punctuation."""
    title = trimmed(f.title)
    if not title:
        return  # REQUIRED is the caller's rule
    if title[-1] in _END_PUNCTUATION:
        report.warnings.append(_warning(WarningCode.TITLE_END_PUNCTUATION, "title"))
    if not title_matches_type(title, f.doc_type):
        report.warnings.append(_warning(WarningCode.TITLE_TYPE_MISMATCH, "title", name=DOC_TYPE_NAMES[f.doc_type]))


def _check_direction(report: Report, f: FormatFields) -> None:
    """Warning (PRACTICE, DOMAIN §1.1): 请示/报告/议案 are upward, 批复 downward, 函 parallel."""
    expected = TYPICAL_DIRECTION.get(f.doc_type)
    if expected is not None and f.direction is not expected:
        zh, en = _DIRECTION_WORDS[expected]
        report.warnings.append(
            _warning(
                WarningCode.UNUSUAL_DIRECTION,
                "direction",
                name=DOC_TYPE_NAMES[f.doc_type],
                expected_zh=zh,
                expected_en=en,
            )
        )


def _check_copy_number(report: Report, f: FormatFields) -> None:
    """份号. Error: exactly 6 Arabic digits, e.g. ``000123`` (STD); ``[1]`` or ``No.1`` refused."""
    if f.copy_number is not None and not COPY_NUMBER.fullmatch(f.copy_number):
        report.error(ErrorCode.INVALID_VALUE, "copyNumber", detail="6 digits, e.g. 000123")


def _check_attachments(report: Report, f: FormatFields) -> None:
    """附件说明. Errors (STD): every title non-empty, unique, without punctuation at the end,
    at most MAX_ATTACHMENTS titles of MAX_ATTACHMENT_TITLE characters."""
    if len(f.attachment_titles) > MAX_ATTACHMENTS:
        report.error(ErrorCode.TOO_MANY, "attachmentTitles", limit=MAX_ATTACHMENTS)
        return
    seen: set[str] = set()
    for i, raw in enumerate(f.attachment_titles):
        path = f"attachmentTitles.{i}"
        title = trimmed(raw)
        if not title:
            report.error(ErrorCode.REQUIRED, path)
        elif len(title) > MAX_ATTACHMENT_TITLE:
            report.error(ErrorCode.TOO_LONG, path, limit=MAX_ATTACHMENT_TITLE)
        elif title in seen:
            report.error(ErrorCode.DUPLICATE, path, detail=title)
        elif title[-1] in _END_PUNCTUATION:
            report.error(ErrorCode.INVALID_VALUE, path, detail="no punctuation after an attachment name")
        seen.add(title)


def _check_texts(report: Report, f: FormatFields) -> None:
    """Lengths of 附注, 印发机关, 发文机关署名 (errors). Warning: 附注 in parentheses
    ``（此件公开发布）`` (STD layout; agencies are not uniform, hence a warning)."""
    for name, value, limit in (
        ("note", f.note, MAX_NOTE),
        ("printingOffice", f.printing_office, MAX_UNIT_NAME),
        ("issuerSignature", f.issuer_signature, MAX_UNIT_NAME),
    ):
        if value is not None and len(value) > limit:
            report.error(ErrorCode.TOO_LONG, name, limit=limit)
    note = trimmed(f.note)
    if note and not (note.startswith(("（", "(")) and note.endswith(("）", ")"))):
        report.warnings.append(_warning(WarningCode.NOTE_NOT_IN_PARENTHESES, "note"))


def _check_dates(report: Report, f: FormatFields) -> tuple[dt.date | None, dt.date | None]:
    """成文日期 and 印发日期. Errors (STD): text dates as ``2026年1月5日`` and real dates; a date
    given both ways agrees; the print date is not before the date of document."""
    issued = _resolve_date(report, f.issued_on, f.issued_on_text, "issuedOn", "issuedOnText")
    printed = _resolve_date(report, f.printed_on, f.printed_on_text, "printedOn", "printedOnText")
    if issued is not None and printed is not None and printed < issued:
        report.error(
            ErrorCode.INVALID_VALUE,
            "printedOnText" if f.printed_on_text is not None else "printedOn",
            detail=f"the print date {printed} is before the date of document {issued}",
        )
    return issued, printed


def check_format(f: FormatFields) -> Report:
    """Every format rule on ``f``: errors (refuse) and warnings (returned, not blocking)."""
    report = Report()
    _check_title(report, f)
    _check_direction(report, f)
    _check_copy_number(report, f)
    _check_signers(report, f)
    _check_main_recipients(report, f)
    _check_cc(report, f)
    _check_attachments(report, f)
    _check_texts(report, f)
    _check_dates(report, f)
    return report


def resolved_dates(f: FormatFields) -> tuple[dt.date | None, dt.date | None]:
    """(date of document, print date) from ``f``, text forms parsed; call after a clean report."""
    return _check_dates(Report(), f)

"""Document numbers (发文字号) and decree numbers (令号): format, parse, validate. Pure, no database.

A document number is ``<issuer code>〔<year>〕<sequence>号``, e.g. ``鲁政办发〔2026〕5号``
(GB/T 9704-2012 7.2.4; DOMAIN §2.1): the issuer code (机关代字) is 1–12 CJK characters, the
year is the full 4-digit Gregorian year in hexagonal brackets 〔〕 (U+3014/U+3015), the
sequence is 1–99999 in Arabic numerals with no leading zero and no 第, followed by 号.

A decree number (令号, STD clause 10, 命令(令)格式) is a different thing and does use 第:
``<issuer>令第<n>号``, e.g. ``山东省人民政府令第360号`` / ``国务院令第783号``.

:func:`parse` returns ``(code, year, seq)`` or raises :class:`DocNumberError` whose
``problem`` names what is wrong and whose ``suggestion`` offers the normalised form when
only the bracket style is wrong (``[]``, ``（）``/``()``, ``【】`` → ``〔〕``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from documents.types import DocType

MAX_SEQ = 99_999
YEAR_OPEN, YEAR_CLOSE = "〔", "〕"

#: DOMAIN §2.1 suggested regex.
DOC_NUMBER_RE = re.compile(r"^(?P<code>[\u4e00-\u9fff]{1,12})〔(?P<year>\d{4})〕(?P<seq>[1-9]\d{0,4})号$")
CODE_RE = re.compile(r"^[\u4e00-\u9fff]{1,12}$")
#: 令号: issuer name, 令, 第, a sequence without leading zero, 号.
DECREE_NUMBER_RE = re.compile(r"^(?P<issuer>[\u4e00-\u9fff]{1,30}?)令第(?P<seq>[1-9]\d{0,5})号$")

#: Bracket pairs people type instead of 〔〕 (square, full-width square, round, full-width round, 【】, 〖〗).
_WRONG_BRACKETS = (("[", "]"), ("［", "］"), ("(", ")"), ("（", "）"), ("【", "】"), ("〖", "〗"))
#: A loose shape: code, any bracket pair around digits, optional 第, digits, optional 号.
_LOOSE_RE = re.compile(
    r"^(?P<code>[\u4e00-\u9fff]{1,12})(?P<open>[〔\[［(（【〖])(?P<year>\d+)(?P<close>[〕\]］)）】〗])"
    r"(?P<di>第?)(?P<seq>\d+)(?P<hao>号?)$"
)

#: Form markers (PRACTICE) an issuer code usually ends with: 发 document, 函 letter, 字 "字" series.
FORM_MARKERS = ("发", "函", "字")


class Problem(StrEnum):
    """What is wrong with a would-be document number."""

    BRACKETS = "brackets"  # not 〔〕; a normalised suggestion is offered
    LEADING_ZERO = "leading_zero"  # 05号 (虚位)
    ORDINAL = "ordinal"  # 第5号
    SHORT_YEAR = "short_year"  # 〔26〕
    MISSING_HAO = "missing_hao"  # no trailing 号
    DECREE_NUMBER = "decree_number"  # 国务院令第783号: a 令号, not a 发文字号
    SEQUENCE_RANGE = "sequence_range"  # 0 or above 99999
    MALFORMED = "malformed"  # anything else


@dataclass(frozen=True)
class DocNumber:
    """A parsed document number."""

    code: str
    year: int
    seq: int

    def __str__(self) -> str:
        return format_number(self.code, self.year, self.seq)


class DocNumberError(ValueError):
    """``text`` is not a valid 发文字号: ``problem`` says why; ``suggestion`` is the normalised
    number when only the bracket style was wrong, else None."""

    def __init__(self, text: str, problem: Problem, suggestion: str | None = None) -> None:
        self.text = text
        self.problem = problem
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        super().__init__(f"{text!r} is not a document number: {problem.value}{hint}")


def format_number(code: str, year: int, seq: int) -> str:
    """``format_number("鲁政办发", 2026, 5) == "鲁政办发〔2026〕5号"``.

    Raises ``ValueError`` for a code that is not 1–12 CJK characters, a year outside
    1000–9999, or a sequence outside 1–99999.
    """
    if not CODE_RE.match(code):
        raise ValueError(f"issuer code must be 1-12 CJK characters: {code!r}")
    if not 1000 <= year <= 9999:
        raise ValueError(f"year must have 4 digits: {year}")
    if not 1 <= seq <= MAX_SEQ:
        raise ValueError(f"sequence must be 1..{MAX_SEQ}: {seq}")
    return f"{code}{YEAR_OPEN}{year}{YEAR_CLOSE}{seq}号"


def parse(text: str) -> DocNumber:
    """Parse a 发文字号 into ``DocNumber(code, year, seq)``; raise :class:`DocNumberError`.

    Surrounding whitespace is ignored. The first problem found is reported, checked in this
    order: decree number, malformed, bracket style, short year, 第, leading zero, missing 号,
    sequence range.
    """
    s = text.strip()
    m = DOC_NUMBER_RE.match(s)
    if m:
        return DocNumber(m["code"], int(m["year"]), int(m["seq"]))
    if DECREE_NUMBER_RE.match(s):
        raise DocNumberError(text, Problem.DECREE_NUMBER)
    loose = _LOOSE_RE.match(s)
    if loose is None:
        raise DocNumberError(text, Problem.MALFORMED)
    pair = (loose["open"], loose["close"])
    if pair != (YEAR_OPEN, YEAR_CLOSE):
        suggestion = None
        if pair in _WRONG_BRACKETS:
            candidate = (
                f"{loose['code']}{YEAR_OPEN}{loose['year']}{YEAR_CLOSE}{loose['di']}{loose['seq']}{loose['hao']}"
            )
            suggestion = candidate if DOC_NUMBER_RE.match(candidate) else None
        raise DocNumberError(text, Problem.BRACKETS, suggestion)
    if len(loose["year"]) != 4:
        raise DocNumberError(text, Problem.SHORT_YEAR)
    if loose["di"]:
        raise DocNumberError(text, Problem.ORDINAL)
    if loose["seq"].startswith("0") and loose["seq"] != "0":
        raise DocNumberError(text, Problem.LEADING_ZERO)
    if not loose["hao"]:
        raise DocNumberError(text, Problem.MISSING_HAO)
    raise DocNumberError(text, Problem.SEQUENCE_RANGE)


def is_valid(text: str) -> bool:
    """True when ``text`` is exactly a valid 发文字号."""
    return DOC_NUMBER_RE.match(text) is not None


def parse_decree_number(text: str) -> tuple[str, int]:
    """Parse a 令号 such as ``山东省人民政府令第360号`` into ``(issuer, seq)``.

    Raises ``ValueError`` otherwise (a 发文字号 is not a decree number).
    """
    m = DECREE_NUMBER_RE.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a decree number (<issuer>令第<n>号)")
    return m["issuer"], int(m["seq"])


def is_valid_decree_number(text: str) -> bool:
    """True when ``text`` is a decree number (令号) such as ``国务院令第783号``."""
    return DECREE_NUMBER_RE.match(text.strip()) is not None


def issuer_code(root: str, doc_type: DocType) -> str:
    """The issuer code (机关代字) of a unit's ``doc_number_root`` for a document type (PRACTICE).

    A root already ending with a form marker (发, 函, 字) is the code itself; otherwise the
    marker is appended: 函 for a letter (函, 信函格式), 发 for every other type. So the root
    ``鲁政办`` numbers notices as ``鲁政办发〔2026〕5号`` and letters as ``鲁政办函〔2026〕3号``,
    each series running separately.
    """
    root = root.strip()
    if root.endswith(FORM_MARKERS):
        return root
    return root + ("函" if doc_type is DocType.LETTER else "发")

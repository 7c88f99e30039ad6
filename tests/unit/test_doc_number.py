"""发文字号 format/parse with every DOMAIN §2.1 test vector; 令号; issuer codes; registration year."""

from __future__ import annotations

import datetime as dt

import pytest

from documents.doc_number import (
    DocNumber,
    DocNumberError,
    Problem,
    format_number,
    is_valid,
    is_valid_decree_number,
    issuer_code,
    parse,
    parse_decree_number,
)
from documents.registration import registration_year
from documents.types import DocType


def test_format() -> None:
    assert format_number("鲁政办发", 2026, 5) == "鲁政办发〔2026〕5号"
    assert format_number("国函", 2027, 99999) == "国函〔2027〕99999号"
    assert str(DocNumber("鲁政发", 2026, 12)) == "鲁政发〔2026〕12号"


@pytest.mark.parametrize(
    ("code", "year", "seq"),
    [("鲁政办发", 2026, 0), ("鲁政办发", 2026, 100000), ("鲁政办发", 26, 5), ("LZBF", 2026, 5), ("", 2026, 1)],
)
def test_format_refuses_out_of_range(code: str, year: int, seq: int) -> None:
    with pytest.raises(ValueError, match="must"):
        format_number(code, year, seq)


def test_valid_vector_parses() -> None:
    assert parse("鲁政办发〔2026〕5号") == DocNumber("鲁政办发", 2026, 5)
    assert parse("  国函〔2026〕123号 ") == DocNumber("国函", 2026, 123)
    assert is_valid("鲁政办发〔2026〕5号")
    for code, year, seq in (("鲁政办字", 2030, 1), ("鲁政发", 2026, 99999)):
        assert parse(format_number(code, year, seq)) == DocNumber(code, year, seq)


@pytest.mark.parametrize(
    ("text", "problem", "suggestion"),
    [
        ("鲁政办发[2026]5号", Problem.BRACKETS, "鲁政办发〔2026〕5号"),
        ("鲁政办发［2026］5号", Problem.BRACKETS, "鲁政办发〔2026〕5号"),
        ("鲁政办发（2026）5号", Problem.BRACKETS, "鲁政办发〔2026〕5号"),
        ("鲁政办发(2026)5号", Problem.BRACKETS, "鲁政办发〔2026〕5号"),
        ("鲁政办发【2026】5号", Problem.BRACKETS, "鲁政办发〔2026〕5号"),
        # Only the bracket style is normalised: a number wrong in another way too gets no suggestion.
        ("鲁政办发[2026]05号", Problem.BRACKETS, None),
        ("鲁政办发〔2026〕05号", Problem.LEADING_ZERO, None),
        ("鲁政办发〔2026〕第5号", Problem.ORDINAL, None),
        ("鲁政办发〔26〕5号", Problem.SHORT_YEAR, None),
        ("鲁政办发〔2026〕5", Problem.MISSING_HAO, None),
        ("国务院令第783号", Problem.DECREE_NUMBER, None),
        ("山东省人民政府令第360号", Problem.DECREE_NUMBER, None),
        ("鲁政办发〔2026〕0号", Problem.SEQUENCE_RANGE, None),
        ("鲁政办发〔2026〕123456号", Problem.SEQUENCE_RANGE, None),
        ("〔2026〕5号", Problem.MALFORMED, None),
        ("鲁政办发2026年5号", Problem.MALFORMED, None),
        ("", Problem.MALFORMED, None),
    ],
)
def test_invalid_vectors_name_the_problem(text: str, problem: Problem, suggestion: str | None) -> None:
    with pytest.raises(DocNumberError) as err:
        parse(text)
    assert (err.value.problem, err.value.suggestion) == (problem, suggestion)
    assert not is_valid(text)


def test_decree_numbers_have_their_own_validator() -> None:
    assert parse_decree_number("山东省人民政府令第360号") == ("山东省人民政府", 360)
    assert parse_decree_number("国务院令第783号") == ("国务院", 783)
    assert is_valid_decree_number("国务院令第783号")
    for text in ("国务院令783号", "国务院令第0783号", "鲁政办发〔2026〕5号", "国务院令第783"):
        assert not is_valid_decree_number(text)
        with pytest.raises(ValueError, match="not a decree number"):
            parse_decree_number(text)


def test_issuer_code_from_root() -> None:
    assert issuer_code("鲁政办", DocType.NOTICE) == "鲁政办发"
    assert issuer_code("鲁政办", DocType.LETTER) == "鲁政办函"
    assert issuer_code("鲁政办字", DocType.NOTICE) == "鲁政办字"
    assert issuer_code("鲁政发", DocType.LETTER) == "鲁政发"


@pytest.mark.parametrize(
    ("instant", "year"),
    [
        ("2026-12-31T15:59:59+00:00", 2026),  # 23:59:59 in Shanghai
        ("2026-12-31T16:00:00+00:00", 2027),  # midnight in Shanghai
        ("2026-12-31T16:30:00+00:00", 2027),
        ("2027-01-01T00:30:00+08:00", 2027),
    ],
)
def test_registration_year_is_the_shanghai_calendar_year(instant: str, year: int) -> None:
    assert registration_year(dt.datetime.fromisoformat(instant)) == year

"""The pure format rules of documents.validation: both sides of every rule."""

from __future__ import annotations

import datetime as dt

import pytest

from documents.types import DocType
from documents.validation import (
    Direction,
    FormatFields,
    WarningCode,
    check_format,
    format_chinese_date,
    parse_chinese_date,
    recipient_names,
    resolved_dates,
    title_matches_type,
)
from office_api.errors import ErrorCode

NOTICE_TITLE = "山东省人民政府办公厅关于做好2026年春节期间值班工作的通知"


def fields(**kw) -> FormatFields:
    kw.setdefault("doc_type", DocType.NOTICE)
    kw.setdefault("title", NOTICE_TITLE)
    return FormatFields(**kw)


def errors(f: FormatFields) -> list[tuple[ErrorCode, str]]:
    return [(p.code, p.field) for p in check_format(f).errors]


def warnings(f: FormatFields) -> list[tuple[WarningCode, str]]:
    return [(w.code, w.field) for w in check_format(f).warnings]


def test_a_plain_downward_notice_is_clean():
    report = check_format(fields())
    assert report.errors == []
    assert report.warnings == []


# ---- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (dt.date(2026, 1, 5), "2026年1月5日"),
        (dt.date(2026, 12, 31), "2026年12月31日"),
        (dt.date(2026, 10, 1), "2026年10月1日"),
    ],
)
def test_format_and_parse_round_trip(day, text):
    assert format_chinese_date(day) == text
    assert parse_chinese_date(text) == day


@pytest.mark.parametrize(
    "text",
    [
        "2026年01月05日",
        "2026年1月05日",
        "二〇二六年一月五日",
        "26年1月5日",
        "2026-01-05",
        "2026年2月30日",
        "2026年13月1日",
        "2025年2月29日",
        "2026年1月5",
        " 2026年1月5日x",
        "2026年0月5日",
        "２０２６年1月5日",
        "2026年1月5日\n",
    ],
)
def test_parse_refuses_other_spellings_and_unreal_dates(text):
    assert parse_chinese_date(text) is None


def test_leap_day_is_a_real_date():
    assert parse_chinese_date("2028年2月29日") == dt.date(2028, 2, 29)


def test_issued_on_text_error_names_the_field():
    assert errors(fields(issued_on_text="2026年01月05日")) == [(ErrorCode.INVALID_VALUE, "issuedOnText")]
    assert errors(fields(issued_on_text="2026年1月5日")) == []
    assert resolved_dates(fields(issued_on_text="2026年1月5日")) == (dt.date(2026, 1, 5), None)


def test_date_given_both_ways_must_agree():
    assert errors(fields(issued_on=dt.date(2026, 1, 5), issued_on_text="2026年1月6日")) == [
        (ErrorCode.INVALID_VALUE, "issuedOnText")
    ]
    assert errors(fields(issued_on=dt.date(2026, 1, 5), issued_on_text="2026年1月5日")) == []


def test_print_date_not_before_date_of_document():
    issued = dt.date(2026, 1, 5)
    assert errors(fields(issued_on=issued, printed_on=dt.date(2026, 1, 4))) == [(ErrorCode.INVALID_VALUE, "printedOn")]
    assert errors(fields(issued_on=issued, printed_on=issued)) == []
    assert errors(fields(issued_on=issued, printed_on=dt.date(2026, 1, 6))) == []
    assert errors(fields(issued_on_text="2026年1月5日", printed_on_text="2026年1月4日")) == [
        (ErrorCode.INVALID_VALUE, "printedOnText")
    ]
    assert errors(fields(printed_on_text="2026年1月4日")) == []  # no date of document to compare with
    assert errors(fields(printed_on_text="2026年1月04日")) == [(ErrorCode.INVALID_VALUE, "printedOnText")]


# ---- 份号 --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["000123", "999999", "000001"])
def test_copy_number_six_digits(value):
    assert errors(fields(copy_number=value)) == []


@pytest.mark.parametrize("value", ["[1]", "No.1", "123", "0001234", "00012a", "", "００００１２", "000123\n", "٠٠٠١٢٣"])
def test_copy_number_other_forms_refused(value):
    assert errors(fields(copy_number=value)) == [(ErrorCode.INVALID_VALUE, "copyNumber")]


# ---- 签发人 -------------------------------------------------------------------------------


def test_upward_requires_a_signer():
    up = {"doc_type": DocType.REQUEST, "title": "山东省人民政府关于某事项的请示", "direction": Direction.UPWARD}
    assert errors(fields(**up)) == [(ErrorCode.REQUIRED, "signers")]
    assert errors(fields(**up, signers=["张三"])) == []
    assert errors(fields(signers=[])) == []  # downward: optional


def test_signer_names_non_empty_unique_short():
    assert errors(fields(signers=["张三", " \u200b"])) == [(ErrorCode.REQUIRED, "signers.1")]
    assert errors(fields(signers=["张三", "张三"])) == [(ErrorCode.DUPLICATE, "signers.1")]
    assert errors(fields(signers=["张" * 51])) == [(ErrorCode.TOO_LONG, "signers.0")]
    assert errors(fields(signers=[f"人{i}" for i in range(21)])) == [(ErrorCode.TOO_MANY, "signers")]


# ---- 主送 / 抄送 -----------------------------------------------------------------------------


def test_upward_with_several_main_recipients_is_a_warning_only():
    up = {
        "doc_type": DocType.REPORT,
        "title": "山东省财政厅关于某工作情况的报告",
        "direction": Direction.UPWARD,
        "signers": ["李四"],
    }
    assert warnings(fields(**up, main_recipient_count=1)) == []
    assert errors(fields(**up, main_recipient_count=2)) == []
    assert warnings(fields(**up, main_recipient_count=2)) == [
        (WarningCode.UPWARD_MULTIPLE_MAIN_RECIPIENTS, "mainRecipientIds")
    ]
    assert warnings(fields(**up, main_recipients_text="省政府，省委：")) == [
        (WarningCode.UPWARD_MULTIPLE_MAIN_RECIPIENTS, "mainRecipientsText")
    ]
    assert warnings(fields(**up, main_recipients_text="省人民政府：")) == []
    # downward documents may address many
    assert warnings(fields(main_recipient_count=5, main_recipients_text="各市人民政府，省政府各部门：")) == []


def test_warning_messages_in_both_languages():
    w = check_format(
        fields(
            doc_type=DocType.REPORT,
            title="关于某事的报告",
            direction=Direction.UPWARD,
            signers=["李四"],
            main_recipient_count=3,
        )
    ).warnings[0]
    assert "3" in w.message_zh
    assert "原则上" in w.message_zh
    assert "one main recipient" in w.message_en


def test_recipient_names_split():
    assert recipient_names("各市人民政府，省政府各部门、各直属机构：") == ["各市人民政府", "省政府各部门", "各直属机构"]
    assert recipient_names(None) == []
    assert recipient_names("：") == []


def test_main_recipients_text_ends_with_full_width_colon():
    assert errors(fields(main_recipients_text="各市人民政府：")) == []
    assert errors(fields(main_recipients_text="各市人民政府:")) == [(ErrorCode.INVALID_VALUE, "mainRecipientsText")]
    assert errors(fields(main_recipients_text="各市人民政府")) == [(ErrorCode.INVALID_VALUE, "mainRecipientsText")]
    assert errors(fields(main_recipients_text="  ")) == []
    assert errors(fields(main_recipients_text="单" * 2001 + "：")) == [(ErrorCode.TOO_LONG, "mainRecipientsText")]


def test_cc_text_ends_with_full_width_period():
    assert errors(fields(cc_text="省委办公厅，省人大常委会办公厅。")) == []
    assert errors(fields(cc_text="省委办公厅，省人大常委会办公厅")) == [(ErrorCode.INVALID_VALUE, "ccText")]
    assert errors(fields(cc_text="省委办公厅.")) == [(ErrorCode.INVALID_VALUE, "ccText")]
    assert errors(fields(cc_text=None)) == []


# ---- 标题 ---------------------------------------------------------------------------------


def test_title_should_end_with_the_type():
    assert warnings(fields(title="山东省人民政府办公厅关于做好值班工作的意见")) == [
        (WarningCode.TITLE_TYPE_MISMATCH, "title")
    ]
    assert errors(fields(title="山东省人民政府办公厅关于做好值班工作的意见")) == []
    assert warnings(fields()) == []


@pytest.mark.parametrize(
    ("doc_type", "title", "ok"),
    [
        (DocType.MINUTES, "省政府第5次常务会议会议纪要", True),
        (DocType.MINUTES, "省政府常务会议纪要", True),
        (DocType.ORDER, "山东省人民政府令", True),
        (DocType.ORDER, "嘉奖命令", True),
        (DocType.ORDER, "嘉奖决定", False),
        (DocType.LETTER, "山东省财政厅关于商请支持某工作的函", True),
        (DocType.REQUEST, "关于某事的报告", False),
    ],
)
def test_title_aliases(doc_type, title, ok):
    assert title_matches_type(title, doc_type) is ok


def test_title_final_punctuation_is_a_warning():
    assert warnings(fields(title=NOTICE_TITLE + "。")) == [(WarningCode.TITLE_END_PUNCTUATION, "title")]


# ---- direction per type ------------------------------------------------------------------


def test_unusual_direction_is_a_warning():
    request = {"doc_type": DocType.REQUEST, "title": "关于某事的请示"}
    assert warnings(fields(**request)) == [(WarningCode.UNUSUAL_DIRECTION, "direction")]
    assert warnings(fields(**request, direction=Direction.UPWARD, signers=["王五"])) == []
    assert warnings(fields(doc_type=DocType.LETTER, title="关于某事的函", direction=Direction.PARALLEL)) == []
    assert warnings(fields(doc_type=DocType.LETTER, title="关于某事的函")) == [
        (WarningCode.UNUSUAL_DIRECTION, "direction")
    ]
    assert warnings(fields(doc_type=DocType.OPINION, title="关于某事的意见", direction=Direction.PARALLEL)) == []


# ---- 附件说明 ------------------------------------------------------------------------------


def test_attachment_titles():
    assert errors(fields(attachment_titles=["值班表", "联系方式"])) == []
    assert errors(fields(attachment_titles=["值班表", "值班表"])) == [(ErrorCode.DUPLICATE, "attachmentTitles.1")]
    assert errors(fields(attachment_titles=["值班表", " "])) == [(ErrorCode.REQUIRED, "attachmentTitles.1")]
    assert errors(fields(attachment_titles=["值班表。"])) == [(ErrorCode.INVALID_VALUE, "attachmentTitles.0")]
    assert errors(fields(attachment_titles=["表" * 201])) == [(ErrorCode.TOO_LONG, "attachmentTitles.0")]
    assert errors(fields(attachment_titles=[f"附件{i}" for i in range(51)])) == [
        (ErrorCode.TOO_MANY, "attachmentTitles")
    ]


# ---- 附注, lengths -----------------------------------------------------------------------


def test_note_in_parentheses_is_a_warning():
    assert warnings(fields(note="（此件公开发布）")) == []
    assert warnings(fields(note="此件公开发布")) == [(WarningCode.NOTE_NOT_IN_PARENTHESES, "note")]
    assert errors(fields(note="此件公开发布")) == []
    assert errors(fields(note="（" + "注" * 500 + "）")) == [(ErrorCode.TOO_LONG, "note")]


def test_office_and_signature_lengths():
    assert errors(fields(printing_office="山东省人民政府办公厅", issuer_signature="山东省人民政府办公厅")) == []
    assert errors(fields(printing_office="办" * 201, issuer_signature="办" * 201)) == [
        (ErrorCode.TOO_LONG, "printingOffice"),
        (ErrorCode.TOO_LONG, "issuerSignature"),
    ]


def test_all_errors_are_reported_together():
    f = fields(copy_number="No.1", direction=Direction.UPWARD, cc_text="省委", issued_on_text="2026年01月5日")
    assert set(errors(f)) == {
        (ErrorCode.INVALID_VALUE, "copyNumber"),
        (ErrorCode.REQUIRED, "signers"),
        (ErrorCode.INVALID_VALUE, "ccText"),
        (ErrorCode.INVALID_VALUE, "issuedOnText"),
    }

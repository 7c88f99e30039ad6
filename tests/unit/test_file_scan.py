"""The upload checks of documents/file_scan.py on real files: names, types by extension and
content, and the state-secret header scan (DOMAIN §3.3 item 2) of .txt, .docx and .pdf."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from documents import file_scan
from documents.file_scan import FileKind, inspect_file, mark_reason, safe_filename
from office_api.errors import DomainError, ErrorCode

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def make_pdf(lines: list[str], *, title: str | None = None, pages: int = 1, later: list[str] | None = None) -> bytes:
    """A PDF whose first page shows ``lines`` top down in STSong-Light (a standard Adobe CJK
    font with the UniGB-UCS2-H CMap, so the text layer is real Chinese text)."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    if title:
        c.setTitle(title)
    for page in range(pages):
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(lines if page == 0 else (later or [])):
            c.drawString(50, 800 - 20 * i, line)
        c.showPage()
    c.save()
    return buf.getvalue()


def make_docx(paragraphs: list[str], *, header: list[str] | None = None, **props: str) -> bytes:
    document = docx.Document()
    for name, value in props.items():
        setattr(document.core_properties, name, value)
    if header:
        section = document.sections[0]
        section.header.is_linked_to_previous = False
        section.header.paragraphs[0].text = header[0]
        for line in header[1:]:
            section.header.add_paragraph(line)
    for text in paragraphs:
        document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refused(kind: FileKind, path: Path) -> DomainError:
    with pytest.raises(DomainError) as info:
        inspect_file(kind, path)
    return info.value


BODY = [
    "山东省人民政府办公厅",
    "关于做好2026年春节期间值班工作的通知",
    "各市人民政府，省政府各部门：",
    "请各单位做好保密工作，依法保护商业秘密和个人隐私，工作秘密不得外传。",
    "特此通知。",
]


# ---- the mark in one line -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("机密★10年", "机密"),
        ("秘密★6个月", "秘密"),
        ("绝密★长期", "绝密"),
        ("机密★2030年12月31日解密", "机密"),
        ("机 密 ★ 1 0 年", "机密"),  # spaces between characters
        ("ｍ机密★", "机密"),  # anywhere on the line
        ("機密★５年", "机密"),  # traditional character, full-width digit
        ("秘　密", "秘密"),  # ideographic space, the level word alone on its line
        ("秘密 5年", "秘密"),  # a level with a period but no star
        ("000123 机密", "机密"),  # with a 份号 (6 digits)
        ("份号：12 秘密", "秘密"),
    ],
)
def test_marks_are_recognised(line: str, level: str) -> None:
    reason = mark_reason(line)
    assert reason is not None
    assert level in reason


@pytest.mark.parametrize(
    "line",
    [
        "请做好保密工作",
        "依法保护商业秘密",
        "本文件涉及工作秘密，注意保管",
        "000123 工作秘密",  # a 份号 with a work-secret marking is not a state secret
        "内部事项 注意保管",
        "关于印发《机密文件管理办法》的通知",
        "依据《中华人民共和国保守国家秘密法》，请妥善保管。邮政编码：250011，联系电话：0531-86061234",
        "000123 国家秘密法学习材料",
        "特急",
        "",
    ],
)
def test_ordinary_lines_pass(line: str) -> None:
    assert mark_reason(line) is None


# ---- names and types ------------------------------------------------------------------------


def test_safe_filename_drops_paths_and_control_characters() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\张三\\值班表.docx") == "值班表.docx"
    assert safe_filename('a<b>:"c|?*\x00.pdf') == "a_b___c____.pdf"
    assert safe_filename("  ..hidden.txt ") == "hidden.txt"
    long = "长" * 300 + ".pdf"
    shortened = safe_filename(long)
    assert len(shortened) == file_scan.MAX_FILENAME
    assert shortened.endswith(".pdf")
    with pytest.raises(DomainError) as info:
        safe_filename("../")
    assert (info.value.code, info.value.field) == (ErrorCode.REQUIRED, "file")


def test_kind_by_extension_and_allowed_list() -> None:
    allowed = ["pdf", "docx", "txt", "png", "jpg", "jpeg"]
    assert file_scan.kind_of("通知.PDF", allowed) is FileKind.PDF
    assert file_scan.kind_of("照片.jpg", allowed) is FileKind.JPEG
    for name in ("宏.docm", "程序.exe", "无扩展名"):
        with pytest.raises(DomainError) as info:
            file_scan.kind_of(name, allowed)
        assert (info.value.code, info.value.field) == (ErrorCode.UNSUPPORTED_TYPE, "file")
    with pytest.raises(DomainError):
        file_scan.kind_of("a.png", ["pdf"])


@pytest.mark.parametrize(
    ("kind", "name", "data"),
    [
        (FileKind.PDF, "a.pdf", b"<html>not a pdf</html>"),
        (FileKind.PNG, "a.png", JPEG),
        (FileKind.JPEG, "a.jpg", PNG),
        (FileKind.DOCX, "a.docx", b"%PDF-1.4 renamed"),
        (FileKind.TXT, "a.txt", b"\x00\x01\x02binary\xff\xfe"),
        (FileKind.TXT, "b.txt", PNG),
    ],
)
def test_content_must_match_the_extension(tmp_path: Path, kind: FileKind, name: str, data: bytes) -> None:
    error = refused(kind, write(tmp_path, name, data))
    assert (error.code, error.field) == (ErrorCode.UNSUPPORTED_TYPE, "file")


def test_a_zip_that_is_not_a_word_document_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    error = refused(FileKind.DOCX, write(tmp_path, "a.docx", buf.getvalue()))
    assert error.code is ErrorCode.UNSUPPORTED_TYPE


def test_images_are_accepted_by_magic_number(tmp_path: Path) -> None:
    assert inspect_file(FileKind.PNG, write(tmp_path, "a.png", PNG)).content_type == "image/png"
    assert inspect_file(FileKind.JPEG, write(tmp_path, "a.jpg", JPEG)).content_type == "image/jpeg"


# ---- plain text -------------------------------------------------------------------------------


def test_text_in_utf8_and_gb18030_is_accepted(tmp_path: Path) -> None:
    text = "\n".join(BODY)
    utf8 = inspect_file(FileKind.TXT, write(tmp_path, "a.txt", text.encode("utf-8")))
    assert utf8.content_type == "text/plain; charset=utf-8"
    gb = inspect_file(FileKind.TXT, write(tmp_path, "b.txt", text.encode("gb18030")))
    assert gb.content_type == "text/plain; charset=gb18030"


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_text_with_a_mark_in_the_header_is_refused(tmp_path: Path, encoding: str) -> None:
    text = "\n\n000123\n机密★10年\n特急\n" + "\n".join(BODY)
    error = refused(FileKind.TXT, write(tmp_path, "a.txt", text.encode(encoding)))
    assert (error.code, error.field) == (ErrorCode.STATE_SECRET_REFUSED, "file")
    assert "机密" in error.params["detail"]


def test_text_with_the_level_word_below_the_header_is_accepted(tmp_path: Path) -> None:
    text = "\n".join(BODY * 3) + "\n机密★10年\n"  # past the first 10 non-empty lines
    assert inspect_file(FileKind.TXT, write(tmp_path, "a.txt", text.encode())).kind is FileKind.TXT


# ---- Word (.docx) ---------------------------------------------------------------------------


def test_docx_without_a_mark_is_accepted(tmp_path: Path) -> None:
    data = make_docx(BODY, title="关于做好保密工作的通知", keywords="值班 商业秘密")
    got = inspect_file(FileKind.DOCX, write(tmp_path, "a.docx", data))
    assert got.content_type == file_scan.CONTENT_TYPES[FileKind.DOCX]


def test_docx_with_a_mark_in_the_first_paragraphs_is_refused(tmp_path: Path) -> None:
    data = make_docx(["000123", "秘密★5年", *BODY])
    error = refused(FileKind.DOCX, write(tmp_path, "a.docx", data))
    assert error.code is ErrorCode.STATE_SECRET_REFUSED
    assert "first page line 2" in error.params["detail"]


@pytest.mark.parametrize(
    "props", [{"category": "机密"}, {"keywords": "绝密★长期"}, {"subject": "秘密★2030年1月1日解密"}]
)
def test_docx_with_a_mark_in_its_properties_is_refused(tmp_path: Path, props: dict[str, str]) -> None:
    error = refused(FileKind.DOCX, write(tmp_path, "a.docx", make_docx(BODY, **props)))
    assert error.code is ErrorCode.STATE_SECRET_REFUSED
    assert "document properties" in error.params["detail"]


def test_docx_with_a_mark_in_the_page_header_is_refused(tmp_path: Path) -> None:
    data = make_docx(BODY, header=["机 密★10年"])
    error = refused(FileKind.DOCX, write(tmp_path, "a.docx", data))
    assert error.code is ErrorCode.STATE_SECRET_REFUSED
    assert "page header" in error.params["detail"]


# ---- PDF -----------------------------------------------------------------------------------


def test_pdf_with_a_mark_in_the_header_lines_is_refused(tmp_path: Path) -> None:
    data = make_pdf(["000123", "机密★10年", "特急", *BODY])
    assert data.startswith(b"%PDF-")
    error = refused(FileKind.PDF, write(tmp_path, "a.pdf", data))
    assert (error.code, error.field) == (ErrorCode.STATE_SECRET_REFUSED, "file")
    assert "first page line 2" in error.params["detail"]


def test_pdf_with_a_mark_in_its_title_is_refused(tmp_path: Path) -> None:
    error = refused(FileKind.PDF, write(tmp_path, "a.pdf", make_pdf(BODY, title="秘密★1年 值班安排")))
    assert error.code is ErrorCode.STATE_SECRET_REFUSED
    assert "document properties" in error.params["detail"]


def test_pdf_with_ordinary_words_or_a_mark_on_a_later_page_is_accepted(tmp_path: Path) -> None:
    data = make_pdf(BODY, title="关于做好保密工作的通知", pages=2, later=["机密★10年"])
    assert inspect_file(FileKind.PDF, write(tmp_path, "a.pdf", data)).content_type == "application/pdf"


def test_a_broken_pdf_is_refused(tmp_path: Path) -> None:
    error = refused(FileKind.PDF, write(tmp_path, "a.pdf", b"%PDF-1.4\n%garbage without objects\n"))
    assert error.code is ErrorCode.UNSUPPORTED_TYPE

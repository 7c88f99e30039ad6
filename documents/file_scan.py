"""Checks on an uploaded file before it becomes an attachment: name, type, state-secret header.

* :func:`safe_filename`: the client's name reduced to a base name without path separators,
  control or reserved characters, at most :data:`MAX_FILENAME` characters.
* :func:`inspect_file`: the type from the extension **and** the content (``.pdf`` starts
  with ``%PDF-``, ``.docx`` is a zip holding ``word/document.xml``, ``.txt`` is UTF-8 or
  GB18030 text, ``.png`` / ``.jpg`` carry their magic numbers), then the classification gate
  of DOMAIN §3.3 item 2: a file whose **header block** (the first non-empty lines of the
  first page, the header parts, the document properties) carries a state-secret mark is
  refused (``STATE_SECRET_REFUSED``, 2012 regulation Art. 26: 涉密不上网).

A mark is a level word (绝密, 机密, 秘密 in any spelling: full-width, spaced, traditional)
followed by ★ (optionally a period, date or condition: ``机密★10年``), a level word with a
period (``秘密 5年``), a level word alone on its line, or a level word on a line with a 份号
(``份号：000123 机密``; GB/T 9704-2012 puts 份号 and 密级 top left). Bare words in body text
such as 商业秘密, 工作秘密 or 做好保密工作 are never refused, nor are words below the header.
Images are not read (no text layer); the uploader's attestation covers them.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from documents.classification import normalise, state_secret_reason
from office_api.errors import DomainError, ErrorCode

#: Non-empty lines of the first page (or text file) that form the header block.
HEADER_LINES = 10
#: Longest stored file name, in characters (the extension is kept when shortening).
MAX_FILENAME = 120
#: Bytes of a text file decoded for the header (the rest is only checked to be text).
_TEXT_HEAD = 64 * 1024
#: A .docx may expand to at most this many bytes and entries (zip bombs are refused).
_ZIP_MAX_BYTES = 200 * 1024 * 1024
_ZIP_MAX_ENTRIES = 2000


class FileKind(StrEnum):
    """The accepted kinds of attachment."""

    PDF = "pdf"
    DOCX = "docx"
    TXT = "txt"
    PNG = "png"
    JPEG = "jpeg"


#: File name extensions (lower case, no dot) and their kind.
EXTENSIONS: dict[str, FileKind] = {
    "pdf": FileKind.PDF,
    "docx": FileKind.DOCX,
    "txt": FileKind.TXT,
    "png": FileKind.PNG,
    "jpg": FileKind.JPEG,
    "jpeg": FileKind.JPEG,
}

CONTENT_TYPES: dict[FileKind, str] = {
    FileKind.PDF: "application/pdf",
    FileKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileKind.TXT: "text/plain",
    FileKind.PNG: "image/png",
    FileKind.JPEG: "image/jpeg",
}


@dataclass(frozen=True)
class Inspected:
    """What :func:`inspect_file` found: the kind and the Content-Type to serve it with."""

    kind: FileKind
    content_type: str


# ---- names ------------------------------------------------------------------------------

_RESERVED = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')


def safe_filename(raw: str | None) -> str:
    """The base name of ``raw`` fit to store and to send back in Content-Disposition.

    Path components (``/`` and ``\\``) are dropped, the name is NFC-normalised, control and
    reserved characters (``<>:"|?*``) become ``_``, surrounding spaces and leading dots go,
    and a name longer than :data:`MAX_FILENAME` characters is shortened keeping its
    extension. Raises ``REQUIRED`` on field ``file`` when nothing is left.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join("_" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in name)
    name = _RESERVED.sub("_", name).strip().lstrip(".").strip()
    if not name or set(name) <= {"_", "."}:
        raise DomainError(ErrorCode.REQUIRED, "file", detail="file name")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        keep_ext = bool(dot) and 0 < len(ext) <= 10
        name = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext if keep_ext else name[:MAX_FILENAME]
    return name


def kind_of(filename: str, allowed: list[str]) -> FileKind:
    """The kind named by ``filename``'s extension, if ``allowed`` (extensions, lower case).

    Raises ``UNSUPPORTED_TYPE`` on field ``file``.
    """
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    kind = EXTENSIONS.get(ext)
    if kind is None or ext not in {a.lower().lstrip(".") for a in allowed}:
        raise DomainError(ErrorCode.UNSUPPORTED_TYPE, "file", detail=f".{ext}" if ext else "no extension")
    return kind


# ---- the state-secret mark ----------------------------------------------------------------

_LEVEL = "(绝密|机密|秘密)"
_STAR = re.compile(_LEVEL + r"[★☆*]")
_WITH_PERIOD = re.compile("^" + _LEVEL + r"(\d+年|\d+个月|长期)")
_ALONE = re.compile("^" + _LEVEL + "(级|件)?$")
_LEVEL_WORD = re.compile(r"(?<!商业)(?<!工作)(?<!个人)(?<!国家)" + _LEVEL)
#: A 份号 line is short (份号 and 密级 sit alone top left); longer lines are body text.
_MARK_LINE_MAX = 30
_COPY_NUMBER = re.compile(r"份号|(?<!\d)\d{6}(?!\d)")


def mark_reason(line: str) -> str | None:
    """Why one header line (or property value) is a state-secret mark, or None.

    >>> mark_reason("机 密 ★ 10 年")
    'state-secret level 机密'
    >>> mark_reason("做好保密工作，保护商业秘密") is None
    True
    """
    text = normalise(line)
    if not text:
        return None
    for pattern in (_STAR, _WITH_PERIOD, _ALONE):
        m = pattern.search(text)
        if m:
            return state_secret_reason(m.group(0))
    m = _LEVEL_WORD.search(text) if len(text) <= _MARK_LINE_MAX else None
    if m and _COPY_NUMBER.search(text):
        reason = state_secret_reason(m.group(1))
        return f"{reason} with a 份号"
    return None


def header_reason(sources: list[tuple[str, list[str]]]) -> str | None:
    """The first mark found in ``sources`` (where, lines), as ``"<reason> (<where> line n)"``."""
    for where, lines in sources:
        for i, line in enumerate(lines, start=1):
            reason = mark_reason(line)
            if reason:
                return f"{reason} ({where} line {i}: {line.strip()[:40]})"
    return None


def text_mark_reasons(fields: dict[str, str | None]) -> list[tuple[str, str]]:
    """``(field, reason)`` for each typed-in text field carrying a state-secret mark where a
    mark sits: a title as one line, a body in its first :data:`HEADER_LINES` non-empty lines
    (the header block, DOMAIN §3.3 item 2) — the same rule as an uploaded file's header. A
    bare word in running text (商业秘密, 做好保密工作) is not a mark.

    >>> text_mark_reasons({"title": "机密★关于的通知", "body": "做好保密工作"})
    [('title', 'state-secret level 机密 (title line 1: 机密★关于的通知)')]
    """
    out = []
    for field, value in fields.items():
        if value:
            reason = header_reason([(field, _first_lines([value]))])
            if reason:
                out.append((field, reason))
    return out


def _first_lines(texts: list[str], limit: int = HEADER_LINES) -> list[str]:
    out: list[str] = []
    for text in texts:
        for line in text.splitlines():
            if line.strip():
                out.append(line)
                if len(out) >= limit:
                    return out
    return out


# ---- per kind -----------------------------------------------------------------------------


def _unsupported(detail: str) -> DomainError:
    return DomainError(ErrorCode.UNSUPPORTED_TYPE, "file", detail=detail)


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def _text_head(path: Path) -> tuple[str, str]:
    """The first characters of a text file and its encoding (utf-8 or gb18030); the whole
    file is decoded in chunks to check it is text."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        head: list[str] = []
        size = 0
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(64 * 1024):
                    text = decoder.decode(chunk)
                    if _CONTROL.search(text):
                        raise _unsupported("not a text file")
                    if size < _TEXT_HEAD:
                        head.append(text)
                        size += len(text)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return "".join(head), "utf-8" if encoding == "utf-8-sig" else encoding
    raise _unsupported("text that is neither UTF-8 nor GB18030")


def _docx_sources(path: Path) -> list[tuple[str, list[str]]]:
    import docx
    from docx.oxml.ns import qn

    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                raise _unsupported("not a Word document (.docx)")
            if len(infos) > _ZIP_MAX_ENTRIES or sum(i.file_size for i in infos) > _ZIP_MAX_BYTES:
                raise _unsupported("the .docx expands too much")
        document = docx.Document(str(path))
    except DomainError:
        raise
    except Exception as exc:  # a malformed package: python-docx and zipfile raise many kinds
        raise _unsupported("not a readable Word document (.docx)") from exc

    def paragraphs(element) -> list[str]:
        return ["".join(t.text or "" for t in p.iter(qn("w:t"))) for p in element.iter(qn("w:p"))]

    props = document.core_properties
    prop_lines = [v for v in (props.title, props.subject, props.keywords, props.category) if v]
    header_lines: list[str] = []
    for section in document.sections:
        for part in (section.first_page_header, section.header):
            if part.is_linked_to_previous:
                continue
            header_lines += paragraphs(part._element)
    body: list[str] = []
    for block in document.element.body.iterchildren():
        body += paragraphs(block)
        if sum(1 for b in body if b.strip()) >= HEADER_LINES:
            break
    return [
        ("document properties", prop_lines),
        ("page header", _first_lines(header_lines)),
        ("first page", _first_lines(body)),
    ]


def _pdf_sources(path: Path) -> list[tuple[str, list[str]]]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _unsupported("an encrypted PDF cannot be checked")
        if len(reader.pages) == 0:
            raise _unsupported("a PDF without pages")
        meta = reader.metadata or {}
        props = [str(meta.get(k)) for k in ("/Title", "/Subject", "/Keywords") if meta.get(k)]
        first = reader.pages[0].extract_text() or ""
    except DomainError:
        raise
    except Exception as exc:  # pypdf raises many kinds on malformed files
        raise _unsupported("not a readable PDF") from exc
    return [("document properties", props), ("first page", _first_lines([first]))]


_MAGIC = {
    FileKind.PDF: (b"%PDF-",),
    FileKind.PNG: (b"\x89PNG\r\n\x1a\n",),
    FileKind.JPEG: (b"\xff\xd8\xff",),
    FileKind.DOCX: (b"PK\x03\x04",),
}


def inspect_file(kind: FileKind, path: Path) -> Inspected:
    """Check that the file at ``path`` is what its extension says, then scan its header block.

    Raises ``UNSUPPORTED_TYPE`` (field ``file``) when the content does not match the kind,
    ``STATE_SECRET_REFUSED`` (field ``file``, DOMAIN §3.3 item 2) when the header block, the
    page headers or the document properties carry a state-secret mark (see :func:`mark_reason`).
    Reads the file; runs synchronously (call it in a worker thread).
    """
    with open(path, "rb") as fh:
        head = fh.read(16)
    magic = _MAGIC.get(kind)
    if magic and not head.startswith(magic):
        raise _unsupported(f"the content is not {kind.value.upper()}")
    content_type = CONTENT_TYPES[kind]
    sources: list[tuple[str, list[str]]] = []
    if kind is FileKind.TXT:
        text, encoding = _text_head(path)
        content_type = f"text/plain; charset={encoding}"
        sources = [("first page", _first_lines([text]))]
    elif kind is FileKind.DOCX:
        sources = _docx_sources(path)
    elif kind is FileKind.PDF:
        sources = _pdf_sources(path)
    reason = header_reason(sources)
    if reason is not None:
        raise DomainError(ErrorCode.STATE_SECRET_REFUSED, "file", detail=reason)
    return Inspected(kind=kind, content_type=content_type)

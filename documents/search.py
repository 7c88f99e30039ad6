"""Full-text search of documents by document number (发文字号), title and body.

Tokenization (the same Python code for both databases)
------------------------------------------------------
Chinese is written without spaces, so neither PostgreSQL's ``simple`` parser nor SQLite's
``unicode61`` tokenizer finds 安全生产 inside 关于做好安全生产工作的通知. The text is
therefore cut into terms here, before it reaches the database:

* the text is NFKC-normalised (full-width ``２０２６`` → ``2026``) and lower-cased;
* a run of CJK characters gives every single character **and** every overlapping bigram
  (关于做好 → 关 于 做 好 关于 于做 做好);
* a run of letters and digits gives itself (``2026``, ``5``, ``gb``), at most 64 characters;
* anything else (punctuation, 〔 〕, spaces) separates runs.

A query is cut the same way, except that a CJK run of two or more characters gives only its
bigrams (安全生产 → 安全 全生 生产; a single character gives itself), and every term must be
present (AND). So 安全生产 finds any text containing it, ``鲁政办发〔2026〕5号`` finds the
document with that number (鲁政 政办 办发 2026 5 号), ``2026`` and ``5号`` find it too
(``5号`` also finds a document mentioning both 5 and 号 elsewhere: terms, not phrases).

Each term is written as ``x`` + the hex of its UTF-8 bytes (安全 → ``xe5ae89e585a8``), so
both database tokenizers see one plain ASCII word per term and treat it identically: the
two backends return the same ids for the same query, and nothing a user types (quotes,
``*``, ``-``, ``NEAR``, parentheses, ``'``) can reach the FTS query syntax.

Why not jieba: a dictionary segmenter cuts the same string differently depending on its
context and dictionary version (安全生产 may be one word in a title and 安全/生产 in a
query), so a substring can be missed; bigrams find every substring of two or more
characters, need no dependency and no dictionary updates. The cost is a larger index,
bounded by storing each document's distinct terms only (at most :data:`MAX_TERMS`).

Storage
-------
``document_search`` (one row per document: its distinct terms, space separated) is the
portable table. PostgreSQL searches it through a GIN index on
``to_tsvector('simple', terms)``; SQLite through the FTS5 table ``document_search_fts``
(external content = ``document_search``) kept in step by triggers. Both are created by
migration 0017 and left out of ``alembic check`` (migrations/env.py). :func:`reindex` is the
one function that keeps the row in step; it is called wherever the title, body or document
number change (create, update, registration).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import ColumnElement, ForeignKey, Text, column, false, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from documents.models import Document
from office_api.db import Base
from office_api.text import trimmed

#: Distinct terms indexed per document at most (a PostgreSQL tsvector must stay under 1 MB).
MAX_TERMS = 50_000
#: Longest letter/digit run indexed (longer ones are cut).
MAX_WORD = 64
#: Longest query accepted, in characters (longer ones are cut).
MAX_QUERY = 200
#: Name of the SQLite FTS5 table and prefix of its shadow tables (not in the models).
FTS_TABLE = "document_search_fts"
#: Name of the PostgreSQL GIN index (an expression index, not in the models).
PG_INDEX = "ix_document_search_tsv"

_CJK = (
    "\u3400-\u4dbf"  # extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\U00020000-\U0003134f"  # extensions B–G
)
_RUN = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")


class DocumentSearch(Base):
    """The search terms of one document (see the module docstring for the encoding)."""

    __tablename__ = "document_search"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    terms: Mapped[str] = mapped_column(Text, default="")


def _runs(value: str) -> Iterable[tuple[bool, str]]:
    """(is_cjk, run) pairs of ``value`` after NFKC and lower-casing."""
    norm = unicodedata.normalize("NFKC", value or "").lower()
    for m in _RUN.finditer(norm):
        if m.group(1):
            yield True, m.group(1)
        else:
            yield False, m.group(2)[:MAX_WORD]


def _encode(term: str) -> str:
    return "x" + term.encode("utf-8").hex()


def index_terms(*texts: str | None) -> list[str]:
    """The distinct encoded terms of ``texts`` in first-seen order (at most :data:`MAX_TERMS`):
    every CJK character and overlapping CJK bigram, every letter/digit run."""
    seen: dict[str, None] = {}
    for value in texts:
        for is_cjk, run in _runs(value or ""):
            terms = list(run) + [run[i : i + 2] for i in range(len(run) - 1)] if is_cjk else [run]
            for t in terms:
                seen.setdefault(_encode(t), None)
                if len(seen) >= MAX_TERMS:
                    return list(seen)
    return list(seen)


def query_words(query: str | None) -> list[str]:
    """The distinct plain (not encoded) terms of ``query`` (cut to :data:`MAX_QUERY`
    characters): bigrams of CJK runs (a lone character as itself) and letter/digit runs,
    NFKC-normalised and lower-cased. They hold no punctuation (so no LIKE wildcard)."""
    seen: dict[str, None] = {}
    for is_cjk, run in _runs((query or "")[:MAX_QUERY]):
        terms = [run[i : i + 2] for i in range(len(run) - 1)] if is_cjk and len(run) > 1 else [run]
        for t in terms:
            seen.setdefault(t, None)
    return list(seen)


def query_terms(query: str | None) -> list[str]:
    """The distinct encoded terms a document must all contain to match ``query``: the
    :func:`query_words`, encoded. Empty when the query holds no searchable character."""
    return [_encode(t) for t in query_words(query)]


async def reindex(session: AsyncSession, doc: Document) -> None:
    """Write the search row of ``doc`` from its current document number, title and body.

    Call it after any change of those three fields, inside the same transaction (the
    document row is already locked by the caller). Upsert: the row is created on first use.
    """
    terms = " ".join(index_terms(doc.doc_number, doc.title, doc.body))
    row = await session.get(DocumentSearch, doc.id)
    if row is None:
        session.add(DocumentSearch(document_id=doc.id, terms=terms))
    elif row.terms != terms:
        row.terms = terms
    await session.flush()


def matching(session: AsyncSession, query: str) -> ColumnElement[bool] | None:
    """SQL condition on ``Document.id``: the documents whose terms hold every term of
    ``query``; None when the query is blank (whitespace and invisible characters only: no
    filter); a query with text but no searchable character (only punctuation, e.g. ``"`` or
    ``*``) matches nothing. The condition is the same set on PostgreSQL (GIN/tsquery) and
    SQLite (FTS5 MATCH)."""
    terms = query_terms(query)
    if not terms:
        return None if not trimmed(query) else false()
    if session.get_bind().dialect.name == "postgresql":
        tsv = literal_column("to_tsvector('simple'::regconfig, document_search.terms)")
        ids = select(DocumentSearch.document_id).where(
            tsv.op("@@")(text("to_tsquery('simple'::regconfig, :fts_query)").bindparams(fts_query=" & ".join(terms)))
        )
    else:
        fts = table(FTS_TABLE, column("rowid"))
        ids = select(fts.c.rowid).where(text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=" AND ".join(terms)))
    return Document.id.in_(ids)

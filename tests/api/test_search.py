"""Full-text search by document number, title and body (documents/search.py), on SQLite (FTS5)
and PostgreSQL (GIN + tsquery): the same queries return the same documents on both."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from strawberry.relay import GlobalID

from documents.search import DocumentSearch, index_terms, query_terms
from tests.api import test_documents as documents_api
from tests.api.test_documents import Demo, approve, create_ok, doc_input, step, submitted
from tests.conftest import GraphQLClient

demo = documents_api.demo
users = documents_api.users

SEARCH = """query($f: DocumentListFilter) {
  searchDocuments(first: 100, filter: $f) { totalCount edges { node { title docNumber } } } }"""
UPDATE = """mutation($id: ID!, $t: String) { updateDocument(input: {documentId: $id, title: $t}) {
  errors { field code } } }"""
REGISTER = """mutation($id: ID!) { registerDocument(input: {documentId: $id}) {
  document { docNumber } errors { code } } }"""
MY_TASKS = "{ myTasks { edges { node { id document { id } } } } }"

SAFETY = "关于做好安全生产工作的通知"
CHECK = "关于开展安全检查的通知"
PRODUCTION = "关于生产经营单位备案的通知"


async def found(c: GraphQLClient, q: str) -> list[str]:
    """Titles of the documents ``c`` can read matching ``q``, newest first."""
    data = await c.execute(SEARCH, {"f": {"search": q}})
    assert "errors" not in data, data
    titles = [e["node"]["title"] for e in data["data"]["searchDocuments"]["edges"]]
    assert data["data"]["searchDocuments"]["totalCount"] == len(titles)
    return titles


@pytest.fixture
async def corpus(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> dict[str, str]:
    """Three documents by clerk; the safety notice is signed off by deputy and registered as
    鲁政办发〔2026〕1号 (the platform clock is in 2026)."""
    platform.clock = lambda: dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    clerk = users["clerk"]
    route = {"steps": [{**step(demo, "签发", "SINGLE", "deputy"), "signOff": True}]}
    ids = {}
    ids[SAFETY] = await submitted(clerk, doc_input(demo, title=SAFETY, route=route, body="各市要压实企业主体责任。"))
    ids[CHECK] = (await create_ok(clerk, doc_input(demo, title=CHECK, route=route, body="检查生产安全隐患。")))["id"]
    ids[PRODUCTION] = (
        await create_ok(clerk, doc_input(demo, title=PRODUCTION, route=route, body="GB/T 9704-2012 格式；共5号文件。"))
    )["id"]
    tasks = (await users["deputy"].execute(MY_TASKS))["data"]["myTasks"]["edges"]
    assert (await approve(users["deputy"], tasks[0]["node"]["id"]))["errors"] == []
    registered = (await clerk.execute(REGISTER, {"id": ids[SAFETY]}))["data"]["registerDocument"]
    assert registered["document"]["docNumber"] == "鲁政办发〔2026〕1号"
    return ids


async def test_chinese_words_inside_titles_and_bodies(users: dict[str, GraphQLClient], corpus: dict) -> None:
    clerk = users["clerk"]
    assert await found(clerk, "安全生产") == [SAFETY]
    assert await found(clerk, "生产") == [PRODUCTION, CHECK, SAFETY]  # CHECK: 生产 in its body
    assert await found(clerk, "安全") == [CHECK, SAFETY]
    assert await found(clerk, "主体责任") == [SAFETY]  # body only
    assert await found(clerk, "产") == [PRODUCTION, CHECK, SAFETY]  # one character
    assert await found(clerk, "安全 备案") == []  # every part must occur
    assert await found(clerk, "生产 备案") == [PRODUCTION]
    assert await found(clerk, "ＧＢ／Ｔ ９７０４") == [PRODUCTION]  # full-width forms fold (NFKC)
    assert await found(clerk, "gb") == [PRODUCTION]  # case-insensitive
    assert await found(clerk, "通报") == []


async def test_document_numbers(users: dict[str, GraphQLClient], corpus: dict) -> None:
    clerk = users["clerk"]
    assert await found(clerk, "鲁政办发〔2026〕1号") == [SAFETY]
    assert await found(clerk, "鲁政办发[2026]1号") == [SAFETY]  # brackets typed on a phone
    assert await found(clerk, "1号") == [SAFETY]
    assert await found(clerk, "2026") == [SAFETY]
    assert await found(clerk, "鲁政办发") == [SAFETY]
    assert await found(clerk, "5号") == [PRODUCTION]  # body: 共5号文件
    assert await found(clerk, "鲁政办发〔2026〕2号") == []


ALL = [PRODUCTION, CHECK, SAFETY]
WITH_SAFETY = [CHECK, SAFETY]


#: Queries with FTS operator characters, and what they find: the operators are plain text here.
OPERATOR_CASES = [
    ('"', []),  # text but nothing searchable: nothing matches
    ('"安全', WITH_SAFETY),  # the operator is ignored, the word searched
    ("安全*", WITH_SAFETY),
    ("*", []),
    ("-安全", WITH_SAFETY),
    ("安全 NEAR 生产", []),  # "near" is a word like any other, and occurs nowhere
    ("NEAR(安全 生产)", []),
    ("(安全", WITH_SAFETY),
    (")", []),
    ("'", []),
    ("安全' OR '1'='1", []),
    ("AND OR NOT", []),
    ("a:b", []),
    ("^安全", WITH_SAFETY),
    ("安全 & 生产 | !检查 <-> :*", [CHECK]),
    ("\\", []),
    ("", ALL),
    ("   ", ALL),  # blank: no filter
    ("\u200b", ALL),
    ("。，！", []),
    ("x" * 500, []),
]


async def test_operator_characters_never_fail(users: dict[str, GraphQLClient], corpus: dict) -> None:
    for query, expected in OPERATOR_CASES:
        assert (query, await found(users["clerk"], query)) == (query, expected)


async def test_the_index_follows_changes_and_visibility(
    users: dict[str, GraphQLClient], corpus: dict, platform: Any
) -> None:
    clerk = users["clerk"]
    assert (await clerk.execute(UPDATE, {"id": corpus[CHECK], "t": "关于开展消防检查的通知"}))["data"][
        "updateDocument"
    ]["errors"] == []
    assert await found(clerk, "安全检查") == []
    assert await found(clerk, "消防检查") == ["关于开展消防检查的通知"]
    # deputy reads the safety notice only (on its route); finance_head none.
    assert await found(users["deputy"], "通知") == [SAFETY]
    assert await found(users["finance_head"], "通知") == []
    # One row per document, its terms encoded as in documents/search.py.
    async with platform.db.read() as s:
        rows = (await s.execute(select(DocumentSearch))).scalars().all()
    assert len(rows) == 3
    pk = int(GlobalID.from_id(corpus[SAFETY]).node_id)
    terms = next(r.terms for r in rows if r.document_id == pk).split()
    assert set(query_terms("鲁政办发〔2026〕1号")) <= set(terms)
    assert terms == index_terms("鲁政办发〔2026〕1号", SAFETY, "各市要压实企业主体责任。")


def test_terms_are_plain_ascii_words() -> None:
    """What reaches either database is hex words: nothing a user types is FTS syntax."""
    assert query_terms("安全生产") == ["xe5ae89e585a8", "xe585a8e7949f", "xe7949fe4baa7"]
    assert query_terms('"安全" NEAR(*)') == ["xe5ae89e585a8", "x6e656172"]
    assert index_terms("关于") == ["xe585b3", "xe4ba8e", "xe585b3e4ba8e"]
    assert query_terms("〔〕（）") == []

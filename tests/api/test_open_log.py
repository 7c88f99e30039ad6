"""The document-open log through GraphQL, on SQLite and PostgreSQL: who opened which document
when, read by the audit admin only; a busy database never turns a read into a failure."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import pytest
from sqlalchemy import func, select

from documents.open_log import DocumentOpen
from office_api.config import Settings
from tests.api import test_documents as documents_api
from tests.api.test_clients import as_user, get_token, register
from tests.api.test_documents import Demo, doc_input, step, submitted
from tests.conftest import GraphQLClient

demo = documents_api.demo
users = documents_api.users

T1 = dt.datetime(2026, 6, 1, 1, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 6, 1, 3, 0, tzinfo=dt.UTC)
T3 = dt.datetime(2026, 6, 2, 3, 0, tzinfo=dt.UTC)
OPEN = "query($id: ID!) { document(id: $id) { title } }"
OPEN_TWICE = "query($id: ID!) { a: document(id: $id) { title } b: document(id: $id) { status } }"
LOG = """query($d: ID, $u: ID, $from: DateTime, $to: DateTime, $after: String, $first: Int) {
  documentOpenLog(documentId: $d, userId: $u, from: $from, to: $to, after: $after, first: $first) {
    pageInfo { hasNextPage endCursor }
    edges { node { documentId apiClientId openedAt user { username } } } } }"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A short SQLite busy timeout, so that the busy-database test does not wait 30 s."""
    return settings.model_copy(update={"sqlite_busy_timeout_ms": 300})


async def opened(audit: GraphQLClient, **variables: Any) -> list[tuple[str | None, str, str | None]]:
    data = await audit.execute(LOG, {"first": 100, **variables})
    assert "errors" not in data, data
    return [
        ((n["user"] or {}).get("username"), n["openedAt"], n["apiClientId"])
        for n in (e["node"] for e in data["data"]["documentOpenLog"]["edges"])
    ]


async def test_who_opened_what_when(
    client: GraphQLClient, users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    clerk, deputy = users["clerk"], users["deputy"]
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy")]}
    doc = await submitted(clerk, doc_input(demo, route=route))
    # An integration client of the province, reading with documents:read (token taken now).
    reg = await register(users["admin"], platform, code="370000", scopes=("DOCUMENTS_READ",))
    token = await get_token(client.http, reg["apiClient"]["clientId"], reg["clientSecret"])
    other = await submitted(clerk, doc_input(demo, title="关于另一项工作的通知", route=route))

    platform.clock = lambda: T1
    assert (await clerk.execute(OPEN, {"id": doc}))["data"]["document"]["title"]
    platform.clock = lambda: T2
    assert (await deputy.execute(OPEN_TWICE, {"id": doc}))["data"]["a"]["title"]  # one opening per request
    assert (await clerk.execute(OPEN, {"id": other}))["data"]["document"]["title"]
    platform.clock = lambda: T3
    assert (await users["finance_head"].execute(OPEN, {"id": doc}))["data"]["document"] is None  # not visible
    lists = "{ myTasks { edges { node { document { title } } } } }"
    assert len((await deputy.execute(lists))["data"]["myTasks"]["edges"]) == 2  # a list is no opening

    # The integration client's opening is logged with its id.
    as_client = await client.execute(OPEN, {"id": doc}, token=token)
    assert as_client["data"]["document"]["title"] == documents_api.TITLE, as_client

    audit = await as_user(client, platform, "audit_admin")
    api_client = reg["apiClient"]["id"]
    assert await opened(audit, d=doc) == [
        (None, "2026-06-02T03:00:00+00:00", api_client),
        ("deputy", "2026-06-01T03:00:00+00:00", None),
        ("clerk", "2026-06-01T01:00:00+00:00", None),
    ]
    assert await opened(audit, u=demo.user("clerk")) == [
        ("clerk", "2026-06-01T03:00:00+00:00", None),
        ("clerk", "2026-06-01T01:00:00+00:00", None),
    ]
    assert await opened(audit, d=doc, u=demo.user("clerk")) == [("clerk", "2026-06-01T01:00:00+00:00", None)]
    window = await opened(audit, **{"from": "2026-06-01T02:00:00Z", "to": "2026-06-02T00:00:00Z"})
    assert [w[0] for w in window] == ["clerk", "deputy"]  # from inclusive, to exclusive
    assert await opened(audit, u=demo.user("finance_head")) == []
    data = (await audit.execute(LOG, {"first": 2}))["data"]["documentOpenLog"]
    assert data["pageInfo"]["hasNextPage"] is True
    rest = await opened(audit, after=data["pageInfo"]["endCursor"])
    assert len(rest) == 2

    # Nobody else reads the log, not even the system admin or the document's drafter.
    for who in (users["admin"], clerk):
        refused = await who.execute(LOG, {"d": doc})
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    naive = await audit.execute(LOG, {"from": "2026-06-01T02:00:00"})
    assert naive["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "from"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_busy_database_does_not_fail_the_read(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any, settings: Settings
) -> None:
    """SQLite only: another connection holds the write lock past the busy timeout; the reader
    still gets the document, the opening is lost (and logged as open_log_write_failed).
    PostgreSQL has no database-wide write lock (readers and writers do not block each other)."""
    clerk = users["clerk"]
    doc = await submitted(clerk, doc_input(demo, route={"steps": [step(demo, "核稿", "SINGLE", "deputy")]}))
    path = settings.database_url.split("///", 1)[1]
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        data = await clerk.execute(OPEN, {"id": doc})
        assert "errors" not in data, data
        assert data["data"]["document"]["title"] == documents_api.TITLE
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(DocumentOpen))).scalar() == 0
    assert (await clerk.execute(OPEN, {"id": doc}))["data"]["document"]["title"] == documents_api.TITLE
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(DocumentOpen))).scalar() == 1

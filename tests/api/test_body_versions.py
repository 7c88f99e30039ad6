"""Body versions: every change of a document's body is kept (number, body, author, UTC time,
SHA-256); readers of the document list them newest first and read one in full. Runs on
SQLite and PostgreSQL (``database_url``)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from sqlalchemy import select
from strawberry.relay import GlobalID

from documents.versions import BodyVersion
from office_api.auth import issue_access_token
from office_api.config import Settings
from office_api.org.models import User
from tests.conftest import GraphQLClient, count_statements

CREATE = (
    "mutation($input: CreateDocumentInput!) { createDocument(input: $input) { document { id } errors { field code } } }"
)
UPDATE = (
    "mutation($input: UpdateDocumentInput!) { updateDocument(input: $input) {"
    " document { version body } errors { field code } } }"
)
SUBMIT = (
    "mutation($id: ID!) { submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {"
    " errors { field code } } }"
)
VERSIONS = (
    "query($id: ID!) { document(id: $id) { bodyVersions { number sha256 length createdAt author { username } } } }"
)
ONE_VERSION = "query($id: ID!, $n: Int!) { document(id: $id) { bodyVersion(number: $n) { number body sha256 } } }"
ALL_BODIES = "query($id: ID!) { document(id: $id) { bodyVersions { number body } } }"

FIRST = "各市人民政府：\n请做好春节期间值班工作。"
SECOND = "各市人民政府，省政府各部门：\n请做好2026年春节期间值班工作。"


@pytest.fixture
async def users(client: GraphQLClient, settings: Settings, platform: Any) -> dict[str, Any]:
    async with platform.db.read() as s:
        pks = {u: pk for pk, u in (await s.execute(select(User.id, User.username))).all()}
    out: dict[str, Any] = {"pks": pks}
    for name in ("clerk", "deputy", "finance_head"):
        token, _ = issue_access_token(settings, pks[name])
        out[name] = GraphQLClient(client.http, token, client.lang)
    return out


async def new_document(users: dict[str, Any], body: str = FIRST) -> str:
    deputy = str(GlobalID("User", str(users["pks"]["deputy"])))
    data = await users["clerk"].execute(
        CREATE,
        {
            "input": {
                "title": "山东省人民政府办公厅关于做好2026年春节期间值班工作的通知",
                "docType": "NOTICE",
                "body": body,
                "route": {"steps": [{"name": "核稿", "mode": "SINGLE", "assigneeIds": [deputy]}]},
            }
        },
    )
    payload = data["data"]["createDocument"]
    assert payload["errors"] == [], payload
    return payload["document"]["id"]


async def update(c: GraphQLClient, doc: str, **changes: Any) -> dict[str, Any]:
    data = await c.execute(UPDATE, {"input": {"documentId": doc, **changes}})
    return data["data"]["updateDocument"]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def test_every_body_change_is_a_version(users: dict[str, Any]) -> None:
    clerk = users["clerk"]
    doc = await new_document(users)
    assert (await update(clerk, doc, body=SECOND))["errors"] == []
    assert (await update(clerk, doc, title="山东省人民政府办公厅关于值班工作的通知"))["errors"] == []  # body kept
    assert (await update(clerk, doc, body=SECOND))["errors"] == []  # the same body again: no new version
    assert (await update(clerk, doc, body=""))["errors"] == []
    versions = (await clerk.execute(VERSIONS, {"id": doc}))["data"]["document"]["bodyVersions"]
    assert [(v["number"], v["sha256"], v["length"], v["author"]["username"]) for v in versions] == [
        (3, sha(""), 0, "clerk"),
        (2, sha(SECOND), len(SECOND), "clerk"),
        (1, sha(FIRST), len(FIRST), "clerk"),
    ]
    assert all(v["createdAt"].endswith("+00:00") for v in versions)
    one = (await clerk.execute(ONE_VERSION, {"id": doc, "n": 1}))["data"]["document"]["bodyVersion"]
    assert one == {"number": 1, "body": FIRST, "sha256": sha(FIRST)}
    missing = (await clerk.execute(ONE_VERSION, {"id": doc, "n": 9}))["data"]["document"]["bodyVersion"]
    assert missing is None


async def test_a_refused_update_keeps_no_version(users: dict[str, Any], platform: Any) -> None:
    clerk = users["clerk"]
    doc = await new_document(users)
    refused = await update(clerk, doc, body=SECOND, title="")
    assert refused["errors"] == [{"field": "title", "code": "REQUIRED"}]
    async with platform.db.read() as s:
        numbers = list((await s.execute(select(BodyVersion.number))).scalars())
    assert numbers == [1]


async def test_only_readers_of_the_document_see_versions(users: dict[str, Any]) -> None:
    clerk, deputy, outsider = users["clerk"], users["deputy"], users["finance_head"]
    doc = await new_document(users)
    assert (await outsider.execute(VERSIONS, {"id": doc}))["data"]["document"] is None
    assert (await clerk.execute(SUBMIT, {"id": doc}))["data"]["submitDocument"]["errors"] == []
    seen = (await deputy.execute(ONE_VERSION, {"id": doc, "n": 1}))["data"]["document"]["bodyVersion"]
    assert seen["body"] == FIRST
    assert (await outsider.execute(ONE_VERSION, {"id": doc, "n": 1}))["data"]["document"] is None


async def test_concurrent_edits_get_consecutive_numbers(users: dict[str, Any], platform: Any) -> None:
    clerk = users["clerk"]
    twin = GraphQLClient(clerk.http, clerk.token)
    doc = await new_document(users)
    results = await asyncio.gather(update(clerk, doc, body="甲稿"), update(twin, doc, body="乙稿"))
    assert [r["errors"] for r in results] == [[], []]
    async with platform.db.read() as s:
        rows = (await s.execute(select(BodyVersion.number, BodyVersion.body).order_by(BodyVersion.number))).all()
    assert [n for n, _ in rows] == [1, 2, 3]
    assert {b for _, b in rows[1:]} == {"甲稿", "乙稿"}
    final = (await clerk.execute("query($id: ID!) { document(id: $id) { body } }", {"id": doc}))["data"]
    assert final["document"]["body"] == rows[-1][1]  # the last version is the current body


async def test_listing_bodies_does_not_query_per_version(users: dict[str, Any], platform: Any) -> None:
    clerk = users["clerk"]
    doc = await new_document(users)
    counts = []
    for body in ("二稿", "三稿", "四稿"):
        assert (await update(clerk, doc, body=body))["errors"] == []
        with count_statements(platform) as statements:
            data = await clerk.execute(ALL_BODIES, {"id": doc})
        counts.append(len(statements))
        assert data["data"]["document"]["bodyVersions"][0]["body"] == body
    assert counts[0] == counts[1] == counts[2]

"""Archiving (归档, REG Art. 27) through GraphQL, on SQLite and PostgreSQL: who may archive,
from which statuses, read-only afterwards, history and notification, concurrent archivings."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import select
from strawberry.relay import GlobalID

from documents.models import Document, DocumentAction
from tests.api import test_documents as documents_api
from tests.api.test_documents import Demo, doc_input, step, submitted
from tests.conftest import GraphQLClient

demo = documents_api.demo
users = documents_api.users

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
ARCHIVE = """mutation($id: ID!) { archiveDocument(input: {documentId: $id}) {
  document { id status version history { action actor { username } createdAt } } errors { field code } } }"""
UPDATE = """mutation($id: ID!) { updateDocument(input: {documentId: $id, title: "新标题的通知"}) {
  errors { field code } } }"""
SUBMIT = """mutation($id: ID!) { submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {
  errors { field code } } }"""
REGISTER = "mutation($id: ID!) { registerDocument(input: {documentId: $id}) { document { status } errors { code } } }"
MY_TASKS = "{ myTasks { edges { node { id } } } }"
APPROVE = "mutation($id: ID!) { approveTask(input: {taskId: $id}) { errors { code } } }"
NOTIFICATIONS = "{ notifications(first: 100) { edges { node { kind title subjectId } } } }"


def gid(pk: int) -> str:
    return str(GlobalID("Document", str(pk)))


async def archive(c: GraphQLClient, doc_id: str) -> dict[str, Any]:
    data = await c.execute(ARCHIVE, {"id": doc_id})
    assert "errors" not in data, data
    return data["data"]["archiveDocument"]


def codes(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def registered_by_deputy(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> str:
    """A document deputy drafted in the General Office, signed off by secretary_general and
    registered: 鲁政办发〔2026〕n号."""
    platform.clock = lambda: NOW
    route = {"steps": [{**step(demo, "签发", "SINGLE", "secretary_general"), "signOff": True}]}
    doc_id = await submitted(users["deputy"], doc_input(demo, title="关于做好归档工作的通知", route=route))
    task = (await users["secretary_general"].execute(MY_TASKS))["data"]["myTasks"]["edges"][0]["node"]["id"]
    assert (await users["secretary_general"].execute(APPROVE, {"id": task}))["data"]["approveTask"]["errors"] == []
    reg = (await users["deputy"].execute(REGISTER, {"id": doc_id}))["data"]["registerDocument"]
    assert reg == {"document": {"status": "REGISTERED"}, "errors": []}
    return doc_id


async def orm_document(platform: Any, demo: Demo, status: str) -> str:
    async with platform.db.unit_of_work() as uow:
        doc = Document(
            title=f"关于{status}的通知",
            doc_type="notice",
            status=status,
            drafter_id=demo.user_pks["deputy"],
            issuing_unit_id=demo.unit_pks["370000-general_office"],
            round=1,
        )
        uow.session.add(doc)
        await uow.session.flush()
        return gid(doc.id)


async def test_a_clerk_archives_a_registered_document(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    deputy, clerk = users["deputy"], users["clerk"]
    doc_id = await registered_by_deputy(users, demo, platform)

    # secretary_general is on the route but neither drafter nor clerk; finance_head cannot see it.
    assert codes(await archive(users["secretary_general"], doc_id)) == [("documentId", "FORBIDDEN")]
    assert codes(await archive(users["finance_head"], doc_id)) == [("documentId", "NOT_FOUND")]

    done = await archive(clerk, doc_id)
    assert done["errors"] == []
    doc = done["document"]
    assert doc["status"] == "ARCHIVED"
    assert doc["history"][-1] == {
        "action": "ARCHIVED",
        "actor": {"username": "clerk"},
        "createdAt": "2026-06-01T02:00:00+00:00",
    }
    notes = [n["node"] for n in (await deputy.execute(NOTIFICATIONS))["data"]["notifications"]["edges"]]
    archived = [n for n in notes if n["kind"] == "DOCUMENT_ARCHIVED"]
    assert archived == [{"kind": "DOCUMENT_ARCHIVED", "title": "已归档：关于做好归档工作的通知", "subjectId": doc_id}]

    # Read-only: every change is INVALID_STATE; registering again changes nothing.
    assert codes((await deputy.execute(UPDATE, {"id": doc_id}))["data"]["updateDocument"]) == [
        ("documentId", "INVALID_STATE")
    ]
    assert codes((await deputy.execute(SUBMIT, {"id": doc_id}))["data"]["submitDocument"]) == [
        ("documentId", "INVALID_STATE")
    ]
    again = (await deputy.execute(REGISTER, {"id": doc_id}))["data"]["registerDocument"]
    assert again == {"document": {"status": "ARCHIVED"}, "errors": []}
    # Archiving again returns it unchanged: same version, no second entry.
    twice = await archive(deputy, doc_id)
    assert (twice["errors"], twice["document"]["version"]) == ([], doc["version"])
    assert [h["action"] for h in twice["document"]["history"]].count("ARCHIVED") == 1


async def test_which_statuses_may_be_archived(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    deputy = users["deputy"]
    for status in ("draft", "in_review", "returned", "approved"):
        doc_id = await orm_document(platform, demo, status)
        assert (status, codes(await archive(deputy, doc_id))) == (status, [("documentId", "INVALID_STATE")])
        async with platform.db.read() as s:
            row = (
                await s.execute(select(Document.status).where(Document.id == int(GlobalID.from_id(doc_id).node_id)))
            ).scalar()
        assert row == status
    for status in ("registered", "dispatched", "revoked", "repealed"):
        doc_id = await orm_document(platform, demo, status)
        result = await archive(deputy, doc_id)
        assert (status, result["errors"], result["document"]["status"]) == (status, [], "ARCHIVED")
    # The drafter archiving their own document notifies nobody.
    notes = (await deputy.execute(NOTIFICATIONS))["data"]["notifications"]["edges"]
    assert [n for n in notes if n["node"]["kind"] == "DOCUMENT_ARCHIVED"] == []


async def test_concurrent_archivings_write_one_entry(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    doc_id = await orm_document(platform, demo, "registered")
    a, b = await asyncio.gather(archive(users["deputy"], doc_id), archive(users["clerk"], doc_id))
    assert (a["errors"], b["errors"]) == ([], [])
    assert a["document"]["status"] == b["document"]["status"] == "ARCHIVED"
    async with platform.db.read() as s:
        entries = (await s.execute(select(DocumentAction).where(DocumentAction.action == "archived"))).scalars().all()
        version = (await s.execute(select(Document.version))).scalar()
    assert len(entries) == 1
    assert version == 2

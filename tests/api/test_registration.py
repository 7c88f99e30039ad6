"""Registration (登记) and document numbers (发文字号) through GraphQL, on SQLite and PostgreSQL.

The demo General Office (370000-general_office) has the issuer code root 鲁政办 and the
province government (370000) 鲁政; clerk (文书) and deputy hold posts in the General Office,
finance_head in 财政厅. The platform clock is fixed per test so the Asia/Shanghai year is known.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update
from strawberry.relay import GlobalID

from documents.models import DocNumberCounter, Document, DocumentAction
from documents.registration import register_document
from office_api.auth import issue_access_token
from office_api.config import Settings
from office_api.org.models import OrgUnit, User
from office_api.org.permissions import load_actor
from tests.conftest import GraphQLClient
from tests.documents_helpers import signed_off_documents

REGISTER = """mutation($id: ID!) { registerDocument(input: {documentId: $id}) {
  document { id status version docNumber registeredAt registeredBy { username }
             history { action docNumber actor { username } createdAt } }
  errors { field code message } } }"""
DOCUMENT = "query($id: ID!) { document(id: $id) { docNumber registeredAt registeredBy { username } } }"
CREATE = """mutation($input: CreateDocumentInput!) { createDocument(input: $input) {
  document { id } errors { field code } } }"""
SUBMIT = """mutation($id: ID!) { submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {
  document { id } errors { code } } }"""
MY_TASKS = "{ myTasks(first: 10) { edges { node { id document { id } } } } }"
APPROVE = "mutation($id: ID!) { approveTask(input: {taskId: $id}) { document { status } errors { code } } }"

MID_2026 = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
GENERAL_OFFICE = "370000-general_office"


def gid(kind: str, pk: int) -> str:
    return str(GlobalID(kind, str(pk)))


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    async with platform.db.read() as s:
        users = {u: pk for pk, u in (await s.execute(select(User.id, User.username))).all()}
        units = {c: pk for pk, c in (await s.execute(select(OrgUnit.id, OrgUnit.code))).all()}
    return {**users, **units}


@pytest.fixture
def clients(client: GraphQLClient, ids: dict[str, int], settings: Settings, platform: Any) -> dict[str, GraphQLClient]:
    """Signed-in clients (tokens issued directly: argon2 sign-ins would dominate the run time)."""
    platform.clock = lambda: MID_2026
    out = {}
    for name in ("clerk", "deputy", "finance_head", "secretary_general"):
        token, _ = issue_access_token(settings, ids[name])
        out[name] = GraphQLClient(client.http, token, client.lang)
    return out


async def approved_documents(
    platform: Any, drafter_id: int, unit_id: int, count: int, doc_type: str = "notice"
) -> list[int]:
    """``count`` approved, signed-off documents (fast ORM set-up, tests/documents_helpers.py)."""
    return await signed_off_documents(platform, drafter_id, unit_id, count, doc_type)


async def register(c: GraphQLClient, doc_pk: int) -> dict[str, Any]:
    data = await c.execute(REGISTER, {"id": gid("Document", doc_pk)})
    assert "errors" not in data, data
    return data["data"]["registerDocument"]


async def number_of(c: GraphQLClient, doc_pk: int) -> str:
    result = await register(c, doc_pk)
    assert result["errors"] == [], result
    return result["document"]["docNumber"]


async def test_register_after_sign_off_through_the_route(
    clients: dict[str, GraphQLClient], ids: dict[str, int]
) -> None:
    """Draft → submit → 核稿 → 签发 (approved) → register: 鲁政办发〔2026〕1号, once."""
    clerk = clients["clerk"]
    route = {
        "steps": [
            {"name": "核稿", "mode": "SINGLE", "assigneeIds": [gid("User", ids["deputy"])]},
            {"name": "签发", "mode": "SINGLE", "signOff": True, "assigneeIds": [gid("User", ids["secretary_general"])]},
        ]
    }
    created = await clerk.execute(
        CREATE, {"input": {"title": "山东省人民政府办公厅关于做好值班工作的通知", "docType": "NOTICE", "route": route}}
    )
    doc_id = created["data"]["createDocument"]["document"]["id"]
    doc_pk = int(GlobalID.from_id(doc_id).node_id)
    early = await register(clerk, doc_pk)
    assert [(e["field"], e["code"]) for e in early["errors"]] == [("documentId", "INVALID_STATE")]
    assert (await clerk.execute(SUBMIT, {"id": doc_id}))["data"]["submitDocument"]["errors"] == []
    in_review = await register(clerk, doc_pk)
    assert [e["code"] for e in in_review["errors"]] == ["INVALID_STATE"]
    for who in ("deputy", "secretary_general"):
        tasks = (await clients[who].execute(MY_TASKS))["data"]["myTasks"]["edges"]
        task = next(t["node"]["id"] for t in tasks if t["node"]["document"]["id"] == doc_id)
        assert (await clients[who].execute(APPROVE, {"id": task}))["data"]["approveTask"]["errors"] == []

    # deputy approved it (on the route) but is neither drafter nor clerk; finance_head cannot see it.
    forbidden = await register(clients["deputy"], doc_pk)
    assert [(e["field"], e["code"]) for e in forbidden["errors"]] == [("documentId", "FORBIDDEN")]
    hidden = await register(clients["finance_head"], doc_pk)
    assert [(e["field"], e["code"]) for e in hidden["errors"]] == [("documentId", "NOT_FOUND")]

    done = await register(clerk, doc_pk)
    assert done["errors"] == []
    doc = done["document"]
    assert (doc["status"], doc["docNumber"], doc["registeredBy"]) == (
        "REGISTERED",
        "鲁政办发〔2026〕1号",
        {"username": "clerk"},
    )
    assert dt.datetime.fromisoformat(doc["registeredAt"]) == MID_2026
    assert doc["history"][-1] == {
        "action": "REGISTERED",
        "docNumber": "鲁政办发〔2026〕1号",
        "actor": {"username": "clerk"},
        "createdAt": doc["registeredAt"],
    }
    assert [h["docNumber"] for h in doc["history"][:-1]] == [None] * (len(doc["history"]) - 1)

    # A re-registration (retry, double tap, later call) keeps the number and changes nothing.
    again = await register(clerk, doc_pk)
    assert again["errors"] == []
    assert again["document"] == doc
    read = (await clerk.execute(DOCUMENT, {"id": doc_id}))["data"]["document"]
    assert read == {
        "docNumber": "鲁政办发〔2026〕1号",
        "registeredAt": doc["registeredAt"],
        "registeredBy": {"username": "clerk"},
    }


async def test_clerk_of_the_issuing_unit_registers_and_series_are_separate(
    clients: dict[str, GraphQLClient], ids: dict[str, int], platform: Any
) -> None:
    """deputy drafts in the General Office; its clerk registers. Letters run in the 函 series."""
    office = ids[GENERAL_OFFICE]
    notices = await approved_documents(platform, ids["deputy"], office, 2)
    letters = await approved_documents(platform, ids["deputy"], office, 2, doc_type="letter")
    assert await number_of(clients["clerk"], notices[0]) == "鲁政办发〔2026〕1号"
    assert await number_of(clients["clerk"], letters[0]) == "鲁政办函〔2026〕1号"
    assert await number_of(clients["deputy"], letters[1]) == "鲁政办函〔2026〕2号"
    assert await number_of(clients["deputy"], notices[1]) == "鲁政办发〔2026〕2号"
    async with platform.db.read() as s:
        rows = (
            await s.execute(select(Document).where(Document.id.in_(notices + letters)).order_by(Document.id))
        ).scalars()
        assert [(d.doc_number_code, d.doc_number_year, d.doc_number_seq, d.registered_by_id) for d in rows] == [
            ("鲁政办发", 2026, 1, ids["clerk"]),
            ("鲁政办发", 2026, 2, ids["deputy"]),
            ("鲁政办函", 2026, 1, ids["clerk"]),
            ("鲁政办函", 2026, 2, ids["deputy"]),
        ]
        counters = (await s.execute(select(DocNumberCounter).order_by(DocNumberCounter.code))).scalars()
        assert [(c.code, c.year, c.last_seq) for c in counters] == [("鲁政办函", 2026, 2), ("鲁政办发", 2026, 2)]


async def test_issuer_code_from_the_nearest_ancestor_or_a_typed_error(
    clients: dict[str, GraphQLClient], ids: dict[str, int], platform: Any
) -> None:
    office = ids[GENERAL_OFFICE]
    docs = await approved_documents(platform, ids["clerk"], office, 2)
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(OrgUnit).where(OrgUnit.id == office).values(doc_number_root=None))
    # The General Office has no root of its own: the province government's 鲁政 applies.
    assert await number_of(clients["clerk"], docs[0]) == "鲁政发〔2026〕1号"
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(OrgUnit).values(doc_number_root=None))
    refused = await register(clients["clerk"], docs[1])
    assert refused["document"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("documentId", "NO_DOC_NUMBER_CODE")]
    assert "机关代字" in refused["errors"][0]["message"]
    async with platform.db.read() as s:
        assert (await s.get(Document, docs[1])).doc_number is None


async def test_year_is_the_asia_shanghai_year_at_registration(
    clients: dict[str, GraphQLClient], ids: dict[str, int], platform: Any
) -> None:
    docs = await approved_documents(platform, ids["clerk"], ids[GENERAL_OFFICE], 3)
    platform.clock = lambda: dt.datetime(2026, 12, 31, 15, 59, 59, tzinfo=dt.UTC)  # 23:59:59 in Shanghai
    assert await number_of(clients["clerk"], docs[0]) == "鲁政办发〔2026〕1号"
    platform.clock = lambda: dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.UTC)  # 00:30 on 1 January in Shanghai
    assert await number_of(clients["clerk"], docs[1]) == "鲁政办发〔2027〕1号"
    assert await number_of(clients["clerk"], docs[2]) == "鲁政办发〔2027〕2号"


async def test_a_rolled_back_registration_leaves_no_gap(ids: dict[str, int], platform: Any) -> None:
    docs = await approved_documents(platform, ids["clerk"], ids[GENERAL_OFFICE], 3)
    async with platform.db.read() as s:
        actor = await load_actor(s, ids["clerk"])
    assert actor is not None
    async with platform.db.unit_of_work() as uow:
        first = await register_document(uow, actor, docs[0], now=MID_2026)
        assert first.doc_number == "鲁政办发〔2026〕1号"

    async def register_then_fail() -> None:
        """Take number 2 inside the unit of work, then fail before it commits."""
        async with platform.db.unit_of_work() as uow:
            taken = await register_document(uow, actor, docs[1], now=MID_2026)
            assert taken.doc_number == "鲁政办发〔2026〕2号"
            raise RuntimeError("printing failed")

    with pytest.raises(RuntimeError, match="printing failed"):
        await register_then_fail()
    async with platform.db.unit_of_work() as uow:
        third = await register_document(uow, actor, docs[2], now=MID_2026)
        assert third.doc_number == "鲁政办发〔2026〕2号"
    async with platform.db.read() as s:
        rolled_back = await s.get(Document, docs[1])
        assert (rolled_back.doc_number, rolled_back.registered_at, rolled_back.version) == (None, None, 1)
        actions = (
            await s.execute(
                select(DocumentAction.document_id, DocumentAction.doc_number).where(
                    DocumentAction.action == "registered"
                )
            )
        ).all()
        assert sorted(actions) == [(docs[0], "鲁政办发〔2026〕1号"), (docs[2], "鲁政办发〔2026〕2号")]
    async with platform.db.unit_of_work() as uow:
        assert (await register_document(uow, actor, docs[1], now=MID_2026)).doc_number == "鲁政办发〔2026〕3号"


async def test_concurrent_registrations_get_1_to_100(
    clients: dict[str, GraphQLClient], ids: dict[str, int], platform: Any
) -> None:
    """100 approved documents registered at once: numbers exactly 1..100, distinct, no gap."""
    docs = await approved_documents(platform, ids["clerk"], ids[GENERAL_OFFICE], 100)
    results = await asyncio.gather(*(register(clients["clerk"], pk) for pk in docs))
    assert [r["errors"] for r in results] == [[]] * 100
    numbers = [r["document"]["docNumber"] for r in results]
    assert len(set(numbers)) == 100
    async with platform.db.read() as s:
        seqs = (
            await s.execute(
                select(Document.doc_number_seq).where(Document.id.in_(docs)).order_by(Document.doc_number_seq)
            )
        ).scalars()
        assert list(seqs) == list(range(1, 101))
        counter = await s.get(DocNumberCounter, ("鲁政办发", 2026))
        assert counter.last_seq == 100
    assert sorted(numbers) == sorted(f"鲁政办发〔2026〕{n}号" for n in range(1, 101))


async def test_the_same_document_registered_twice_at_once_gets_one_number(
    clients: dict[str, GraphQLClient], ids: dict[str, int], platform: Any
) -> None:
    (doc,) = await approved_documents(platform, ids["clerk"], ids[GENERAL_OFFICE], 1)
    a, b = await asyncio.gather(register(clients["clerk"], doc), register(clients["clerk"], doc))
    assert (a["errors"], b["errors"]) == ([], [])
    assert a["document"]["docNumber"] == b["document"]["docNumber"] == "鲁政办发〔2026〕1号"
    async with platform.db.read() as s:
        assert (await s.get(DocNumberCounter, ("鲁政办发", 2026))).last_seq == 1
        registered = (await s.execute(select(DocumentAction).where(DocumentAction.action == "registered"))).scalars()
        assert len(list(registered)) == 1

"""Dispatch (核发) of registered documents and the sender's roll-up, on SQLite and PostgreSQL.

The demo gives each of the 16 city governments a clerk ``clerk_<code>``; the General Office's
clerk drafts and registers (see tests/dispatch_helpers.registered_document).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from documents.incoming_models import IncomingAction, IncomingDocument
from documents.models import Document, DocumentAction
from messaging.models import Notification
from office_api.config import Settings
from office_api.org.models import Duty
from tests.conftest import GraphQLClient, count_statements
from tests.dispatch_helpers import (
    CITIES,
    GENERAL_OFFICE,
    NOW,
    gid,
    give_duty,
    ids_of,
    registered_document,
    signed_in,
)

DISPATCH = """mutation($id: ID!, $key: String) { dispatchDocument(input: {documentId: $id, idempotencyKey: $key}) {
  document { id status version history { action actor { username } } }
  errors { field code message } } }"""
ROLL_UP = """query($id: ID!) { document(id: $id) { status distribution {
  total received replied returned pending closed
  units { unit { code } kind state receivedAt repliedAt returnedReason } } } }"""
INBOX = """query($unit: ID!) { incomingDocuments(unitId: $unit) { totalCount
  edges { node { id state kind dispatchedAt document { id title docNumber } } } } }"""
NOTES = "{ notifications(first: 10) { edges { node { kind title subjectType data } } } }"


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


async def dispatch(c: GraphQLClient, doc_pk: int, key: str | None = None) -> dict[str, Any]:
    data = await c.execute(DISPATCH, {"id": gid("Document", doc_pk), "key": key})
    assert "errors" not in data, data
    return data["data"]["dispatchDocument"]


async def counts(platform: Any) -> tuple[int, int, int]:
    """(incoming copies, incoming history entries, notifications) in the database."""
    async with platform.db.read() as s:
        return (
            (await s.execute(select(func.count()).select_from(IncomingDocument))).scalar_one(),
            (await s.execute(select(func.count()).select_from(IncomingAction))).scalar_one(),
            (await s.execute(select(func.count()).select_from(Notification))).scalar_one(),
        )


async def test_dispatch_to_the_16_cities_and_a_cc(as_, ids: dict[str, int], platform: Any) -> None:
    await give_duty(platform, "zhang_wei", "370000-finance", Duty.CLERK)
    doc = await registered_document(platform, ids, main=CITIES, cc=["370000-finance"])
    clerk = as_("clerk")
    done = await dispatch(clerk, doc)
    assert done["errors"] == []
    assert done["document"]["status"] == "DISPATCHED"
    assert [h["action"] for h in done["document"]["history"]][-2:] == ["REGISTERED", "DISPATCHED"]
    assert done["document"]["history"][-1]["actor"] == {"username": "clerk"}

    roll = (await clerk.execute(ROLL_UP, {"id": gid("Document", doc)}))["data"]["document"]["distribution"]
    assert {k: roll[k] for k in ("total", "received", "replied", "returned", "pending", "closed")} == {
        "total": 17,
        "received": 0,
        "replied": 0,
        "returned": 0,
        "pending": 17,
        "closed": 0,
    }
    assert [u["unit"]["code"] for u in roll["units"]] == [*CITIES, "370000-finance"]
    assert [u["kind"] for u in roll["units"]] == ["MAIN"] * 16 + ["CC"]
    assert {u["state"] for u in roll["units"]} == {"PENDING_RECEIPT"}

    # Every city clerk is told and finds it in the unit's 收文 list.
    jinan = as_("clerk_370100")
    note = (await jinan.execute(NOTES))["data"]["notifications"]["edges"][0]["node"]
    assert (note["kind"], note["title"], note["subjectType"]) == (
        "INCOMING_ARRIVED",
        "收文待签收：山东省人民政府办公厅关于做好防汛工作的通知",
        "IncomingDocument",
    )
    assert note["data"] == {"documentId": gid("Document", doc), "unitId": gid("OrgUnit", ids["370100"]), "kind": "main"}
    inbox = (await jinan.execute(INBOX, {"unit": gid("OrgUnit", ids["370100"])}))["data"]["incomingDocuments"]
    assert inbox["totalCount"] == 1
    node = inbox["edges"][0]["node"]
    assert (node["state"], node["kind"], node["document"]["docNumber"]) == (
        "PENDING_RECEIPT",
        "MAIN",
        "鲁政办发〔2026〕1号",
    )
    assert node["dispatchedAt"] == "2026-06-01T02:00:00+00:00"
    zhang = (await as_("zhang_wei").execute(NOTES))["data"]["notifications"]["edges"]
    assert [n["node"]["kind"] for n in zhang] == ["INCOMING_ARRIVED"]
    # A city clerk reads the document, but not the sender's roll-up.
    seen = (await jinan.execute(ROLL_UP, {"id": gid("Document", doc)}))["data"]["document"]
    assert seen == {"status": "DISPATCHED", "distribution": None}

    # Dispatching again changes nothing.
    before = await counts(platform)
    again = await dispatch(clerk, doc)
    assert again["errors"] == []
    assert again["document"]["version"] == done["document"]["version"]
    assert await counts(platform) == before == (17, 17, 17)


async def test_a_unit_without_a_clerk_refuses_the_whole_dispatch(as_, ids: dict[str, int], platform: Any) -> None:
    doc = await registered_document(platform, ids, main=["370100", "370000-drc"], cc=["370000-finance"])
    result = await dispatch(as_("clerk"), doc)
    assert result["document"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("mainRecipientIds.1", "NO_ASSIGNEE"),
        ("ccRecipientIds.0", "NO_ASSIGNEE"),
    ]
    assert "山东省发展和改革委员会 (370000-drc) has no active clerk" in result["errors"][0]["message"]
    async with platform.db.read() as s:
        assert (await s.get(Document, doc)).status == "registered"
    assert await counts(platform) == (0, 0, 0)


async def test_who_may_dispatch(as_, ids: dict[str, int], platform: Any) -> None:
    doc = await registered_document(platform, ids, main=["370100"], drafter="deputy")
    # finance_head cannot see it; the clerk of 济南 has nothing yet.
    for who in ("finance_head", "clerk_370100"):
        refused = await dispatch(as_(who), doc)
        assert [(e["field"], e["code"]) for e in refused["errors"]] == [("documentId", "NOT_FOUND")]
    # The General Office's clerk may, though deputy drafted and registered it; then reads it back.
    clerk = as_("clerk")
    assert (await clerk.execute(ROLL_UP, {"id": gid("Document", doc)}))["data"]["document"] is None
    assert (await dispatch(clerk, doc))["errors"] == []
    roll = (await clerk.execute(ROLL_UP, {"id": gid("Document", doc)}))["data"]["document"]
    assert (roll["status"], roll["distribution"]["total"]) == ("DISPATCHED", 1)


async def test_only_registered_documents_are_dispatched(as_, ids: dict[str, int], platform: Any) -> None:
    async with platform.db.unit_of_work() as uow:
        approved = Document(
            title="关于某事的通知",
            doc_type="notice",
            status="approved",
            drafter_id=ids["clerk"],
            issuing_unit_id=ids[GENERAL_OFFICE],
            round=1,
        )
        uow.session.add(approved)
    result = await dispatch(as_("clerk"), approved.id)
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("documentId", "INVALID_STATE")]
    no_recipients = await registered_document(platform, ids, main=[])
    result = await dispatch(as_("clerk"), no_recipients)
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("documentId", "INVALID_STATE")]
    assert await counts(platform) == (0, 0, 0)


async def test_concurrent_dispatches_send_once(as_, ids: dict[str, int], platform: Any) -> None:
    doc = await registered_document(platform, ids, main=CITIES[:4], drafter="deputy")
    results = await asyncio.gather(dispatch(as_("clerk"), doc), dispatch(as_("deputy"), doc))
    assert [r["errors"] for r in results] == [[], []]
    assert {r["document"]["status"] for r in results} == {"DISPATCHED"}
    assert await counts(platform) == (4, 4, 4)
    async with platform.db.read() as s:
        actions = list(
            (
                await s.execute(
                    select(DocumentAction.action).where(DocumentAction.document_id == doc).order_by(DocumentAction.id)
                )
            ).scalars()
        )
        assert actions[-2:] == ["registered", "dispatched"]
        assert actions.count("dispatched") == 1


async def test_idempotency_key(as_, ids: dict[str, int], platform: Any) -> None:
    doc = await registered_document(platform, ids, main=CITIES[:2])
    other = await registered_document(platform, ids, main=CITIES[2:3], title="关于另一事项的通知")
    clerk = as_("clerk")
    first = await dispatch(clerk, doc, key="k-1")
    again = await dispatch(clerk, doc, key="k-1")
    assert first == again
    reused = await dispatch(clerk, other, key="k-1")
    assert [(e["field"], e["code"]) for e in reused["errors"]] == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert await counts(platform) == (2, 2, 2)


async def test_roll_up_statements_do_not_grow_with_the_units(as_, ids: dict[str, int], platform: Any) -> None:
    small = await registered_document(platform, ids, main=CITIES[:2])
    large = await registered_document(platform, ids, main=CITIES, title="关于另一事项的通知")
    clerk = as_("clerk")
    for doc in (small, large):
        assert (await dispatch(clerk, doc))["errors"] == []
    measured = []
    for doc in (small, large):
        with count_statements(platform) as statements:
            data = await clerk.execute(ROLL_UP, {"id": gid("Document", doc)})
        assert "errors" not in data, data
        measured.append(len(statements))
    assert measured[0] == measured[1]

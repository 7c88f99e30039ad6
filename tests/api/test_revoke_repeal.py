"""Revoke (撤销) and repeal (废止) of issued documents (REG Art. 33), through GraphQL on SQLite
and PostgreSQL.

Set-up: deputy drafts in the General Office, secretary_general (its head) signed off, the
clerk (its 文书) registers. The head or the clerk may revoke or repeal; deputy (the drafter,
not head or clerk) is refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from tests.api import test_documents as shared
from tests.api.test_documents import Demo, codes, notifications, snapshot
from tests.conftest import GraphQLClient
from tests.documents_helpers import gid, signed_off_documents

demo = shared.demo
users = shared.users

GO = "370000-general_office"
NOW = dt.datetime(2026, 7, 1, 1, 0, tzinfo=dt.UTC)
FIELDS = """document { id status version revokedAt repealedOn voidReason voidedBy { username } docNumber
  history { action opinion actor { username } createdAt } }
  errors { field code message }"""
REVOKE = f"""mutation($id: ID!, $r: String!, $key: String) {{
  revokeDocument(input: {{documentId: $id, reason: $r, idempotencyKey: $key}}) {{ {FIELDS} }} }}"""
REPEAL = f"""mutation($id: ID!, $r: String!, $on: Date!, $key: String) {{
  repealDocument(input: {{documentId: $id, reason: $r, effectiveOn: $on, idempotencyKey: $key}}) {{ {FIELDS} }} }}"""
REGISTER = (
    """mutation($id: ID!) { registerDocument(input: {documentId: $id}) { document { docNumber } errors { code } } }"""
)


async def revoke(c: GraphQLClient, doc_id: str, reason: str = "与上位法相抵触", key: str | None = None) -> dict:
    data = await c.execute(REVOKE, {"id": doc_id, "r": reason, "key": key})
    assert "errors" not in data, data
    return data["data"]["revokeDocument"]


async def repeal(
    c: GraphQLClient, doc_id: str, on: str = "2026-08-01", reason: str = "已被新文件替代", key: str | None = None
) -> dict:
    data = await c.execute(REPEAL, {"id": doc_id, "r": reason, "on": on, "key": key})
    assert "errors" not in data, data
    return data["data"]["repealDocument"]


async def issued(platform: Any, demo: Demo, users: dict[str, GraphQLClient], count: int = 1) -> list[str]:
    """``count`` documents drafted by deputy, signed off by the head on 2026-06-01, registered."""
    platform.clock = lambda: NOW
    pks = await signed_off_documents(platform, demo.user_pks["deputy"], demo.unit_pks[GO], count)
    out = []
    for pk in pks:
        doc_id = gid("Document", pk)
        registered = (await users["clerk"].execute(REGISTER, {"id": doc_id}))["data"]["registerDocument"]
        assert registered["errors"] == [], registered
        out.append(doc_id)
    return out


async def test_clerk_revokes_a_registered_document(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    (doc_id,) = await issued(platform, demo, users)
    seen = {u: len(await notifications(users[u])) for u in ("deputy", "secretary_general")}
    done = await revoke(users["clerk"], doc_id)
    assert done["errors"] == []
    doc = done["document"]
    assert (doc["status"], doc["revokedAt"], doc["repealedOn"], doc["voidReason"], doc["voidedBy"]) == (
        "REVOKED",
        NOW.isoformat(),
        None,
        "与上位法相抵触",
        {"username": "clerk"},
    )
    assert doc["history"][-1] == {
        "action": "REVOKED",
        "opinion": "与上位法相抵触",
        "actor": {"username": "clerk"},
        "createdAt": NOW.isoformat(),
    }
    for who in ("deputy", "secretary_general"):
        news = (await notifications(users[who]))[seen[who] :]
        assert [(n["kind"], n["subjectId"]) for n in news] == [("DOCUMENT_REVOKED", doc_id)]
        assert doc["docNumber"] in news[0]["body"]

    # Void already: revoking again or repealing is INVALID_STATE and changes nothing.
    before = await snapshot(platform)
    assert codes((await revoke(users["clerk"], doc_id))["errors"]) == [("documentId", "INVALID_STATE")]
    assert codes((await repeal(users["secretary_general"], doc_id))["errors"]) == [("documentId", "INVALID_STATE")]
    assert await snapshot(platform) == before


async def test_head_repeals_from_a_date_not_before_the_document_date(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    (doc_id,) = await issued(platform, demo, users)
    head = users["secretary_general"]
    before = await snapshot(platform)
    early = await repeal(head, doc_id, on="2026-05-31")  # the 成文日期 is 2026-06-01
    assert codes(early["errors"]) == [("effectiveOn", "INVALID_VALUE")]
    assert await snapshot(platform) == before
    done = await repeal(head, doc_id, on="2026-06-01")
    assert done["errors"] == []
    doc = done["document"]
    assert (doc["status"], doc["repealedOn"], doc["revokedAt"], doc["voidReason"], doc["voidedBy"]) == (
        "REPEALED",
        "2026-06-01",
        None,
        "已被新文件替代",
        {"username": "secretary_general"},
    )
    assert [h["action"] for h in doc["history"][-2:]] == ["REGISTERED", "REPEALED"]
    news = await notifications(users["deputy"])
    assert news[-1]["kind"] == "DOCUMENT_REPEALED"
    assert "2026年6月1日" in news[-1]["body"]
    assert codes((await repeal(head, doc_id))["errors"]) == [("documentId", "INVALID_STATE")]
    assert codes((await revoke(head, doc_id))["errors"]) == [("documentId", "INVALID_STATE")]


async def test_who_may_revoke_and_what_is_refused(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    (doc_id,) = await issued(platform, demo, users)
    (approved_only,) = await signed_off_documents(platform, demo.user_pks["deputy"], demo.unit_pks[GO], 1)
    before = await snapshot(platform)
    # The drafter sees it but is neither head nor clerk; finance_head cannot see it.
    assert codes((await revoke(users["deputy"], doc_id))["errors"]) == [("documentId", "FORBIDDEN")]
    assert codes((await revoke(users["finance_head"], doc_id))["errors"]) == [("documentId", "NOT_FOUND")]
    assert codes((await revoke(users["clerk"], doc_id, reason="  "))["errors"]) == [("reason", "REQUIRED")]
    assert codes((await revoke(users["clerk"], doc_id, reason="理" * 501))["errors"]) == [("reason", "TOO_LONG")]
    # Not issued yet (approved, not registered).
    not_issued = await revoke(users["clerk"], gid("Document", approved_only))
    assert codes(not_issued["errors"]) == [("documentId", "INVALID_STATE")]
    assert await snapshot(platform) == before


async def test_retried_revoke_with_a_key_writes_once_and_concurrent_ones_have_one_winner(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    first_doc, second_doc = await issued(platform, demo, users, 2)
    first = await revoke(users["clerk"], first_doc, key="revoke-1")
    again = await revoke(users["clerk"], first_doc, key="revoke-1")
    assert first["errors"] == again["errors"] == []
    assert again["document"]["version"] == first["document"]["version"]
    assert [h["action"] for h in again["document"]["history"]].count("REVOKED") == 1
    reused = await revoke(users["clerk"], first_doc, reason="另一理由", key="revoke-1")
    assert codes(reused["errors"]) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]

    results = await asyncio.gather(
        revoke(users["clerk"], second_doc), repeal(users["secretary_general"], second_doc, on="2026-07-01")
    )
    outcomes = sorted(codes(r["errors"]) for r in results)
    assert outcomes == [[], [("documentId", "INVALID_STATE")]]
    winner = next(r for r in results if r["errors"] == [])["document"]
    assert [h["action"] for h in winner["history"]].count("REVOKED") + [h["action"] for h in winner["history"]].count(
        "REPEALED"
    ) == 1

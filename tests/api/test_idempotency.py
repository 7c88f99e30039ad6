"""Idempotency keys on mutations, on SQLite and PostgreSQL: a retried request returns the
first result and changes nothing; the same key with another input is IDEMPOTENCY_KEY_REUSED;
two identical requests at once run once; keys are per user; records expire; failed attempts
are not remembered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import func, select

from documents.models import DocumentAction
from messaging.models import Notification
from office_api.db import utcnow
from office_api.idempotency import IdempotencyRecord
from office_api.org.delegation import local_today
from tests.api import test_documents as td
from tests.api.test_documents import Demo, demo, users  # noqa: F401
from tests.conftest import GraphQLClient

APPROVE = f"""mutation($id: ID!, $o: String, $key: String) {{
  approveTask(input: {{taskId: $id, opinion: $o, idempotencyKey: $key}}) {{ {td.TASK_RESULT} }} }}"""
RETURN = f"""mutation($id: ID!, $o: String, $key: String) {{
  returnTask(input: {{taskId: $id, opinion: $o, idempotencyKey: $key}}) {{ {td.TASK_RESULT} }} }}"""
SUBMIT = """mutation($id: ID!, $key: String) {
  submitDocument(input: {documentId: $id, attestNoStateSecret: true, idempotencyKey: $key}) {
    document { id status round version } errors { field code } } }"""
CREATE_DELEGATION = """mutation($input: CreateDelegationInput!) { createDelegation(input: $input) {
  delegation { id startDate endDate reason delegate { username } } errors { field code } } }"""
KEY = "3f1c9a2e-7b4d-4e8a-9c1f-2a6b8d0e5f47"


async def create(c: GraphQLClient, data: dict[str, Any], key: str | None) -> dict[str, Any]:
    return (await c.execute(td.CREATE, {"input": {**data, "idempotencyKey": key}}))["data"]["createDocument"]


async def approve(c: GraphQLClient, task_id: str, key: str | None, opinion: str | None = "同意") -> dict[str, Any]:
    return (await c.execute(APPROVE, {"id": task_id, "o": opinion, "key": key}))["data"]["approveTask"]


async def count(platform: Any, model: Any, *where: Any) -> int:
    async with platform.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def approvals(platform: Any) -> int:
    return await count(platform, DocumentAction, DocumentAction.action == "approved")


async def test_retried_create_document_returns_the_same_document(
    users: dict[str, GraphQLClient],  # noqa: F811
    demo: Demo,  # noqa: F811
    platform: Any,
) -> None:
    before = await td.document_count(platform)
    first = await create(users["clerk"], td.doc_input(demo), KEY)
    assert first["errors"] == []
    assert first["document"]["title"]
    second = await create(users["clerk"], td.doc_input(demo), KEY)
    assert second == first  # the whole payload, id, version and history included
    assert await td.document_count(platform) == before + 1
    assert await count(platform, IdempotencyRecord) == 1
    # without a key the same input is a new request
    third = await create(users["clerk"], td.doc_input(demo), None)
    assert third["document"]["id"] != first["document"]["id"]
    assert await td.document_count(platform) == before + 2


async def test_retried_approve_returns_the_same_payload_and_writes_once(
    users: dict[str, GraphQLClient],  # noqa: F811
    demo: Demo,  # noqa: F811
    platform: Any,
) -> None:
    doc_id = await td.submitted(users["clerk"], td.doc_input(demo))
    task_id = await td.task_of(users["deputy"], doc_id)
    actions, notes = await approvals(platform), await count(platform, Notification)
    first = await approve(users["deputy"], task_id, KEY)
    assert first["errors"] == []
    assert first["task"]["status"] == "APPROVED"
    assert first["document"]["currentStep"]["name"] == "会签"
    after_first = await count(platform, Notification)
    assert after_first == notes + 3  # the drafter, and the two 会签 approvers of the next step
    second = await approve(users["deputy"], task_id, KEY)
    assert second == first
    assert await approvals(platform) == actions + 1
    assert await count(platform, Notification) == after_first
    # a retry without the key is refused as before: the task is handled
    third = await approve(users["deputy"], task_id, None)
    assert td.codes(third["errors"]) == [("taskId", "TASK_ALREADY_HANDLED")]


async def test_same_key_with_another_input_is_refused_and_changes_nothing(
    users: dict[str, GraphQLClient],  # noqa: F811
    demo: Demo,  # noqa: F811
    platform: Any,
) -> None:
    doc_id = await td.submitted(users["clerk"], td.doc_input(demo))
    task_id = await td.task_of(users["deputy"], doc_id)
    assert (await approve(users["deputy"], task_id, KEY))["errors"] == []
    before = await td.snapshot(platform)
    other = await approve(users["deputy"], task_id, KEY, opinion="同意，请抓紧办理")
    assert other["task"] is None
    assert other["document"] is None
    assert td.codes(other["errors"]) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    zh = (await users["deputy"].execute(APPROVE, {"id": task_id, "o": "另一意见", "key": KEY}))["data"]
    assert zh["approveTask"]["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    en = GraphQLClient(users["deputy"].http, users["deputy"].token, "en")
    payload = (
        await en.execute(
            'mutation($id: ID!, $key: String) { approveTask(input: {taskId: $id, opinion: "x", '
            "idempotencyKey: $key}) { errors { field code message } } }",
            {"id": task_id, "key": KEY},
        )
    )["data"]["approveTask"]
    assert payload["errors"] == [
        {
            "field": "idempotencyKey",
            "code": "IDEMPOTENCY_KEY_REUSED",
            "message": "This idempotency key was already used with a different input; use a new key for a new request",
        }
    ]
    # the same key on another mutation is another key
    doc2 = await create(users["clerk"], td.doc_input(demo, title="关于另一项工作的通知"), KEY)
    assert doc2["errors"] == []
    assert await td.snapshot(platform) != before  # (the new draft)
    assert await approvals(platform) == 1


async def test_concurrent_identical_approvals_run_once(
    users: dict[str, GraphQLClient],  # noqa: F811
    demo: Demo,  # noqa: F811
    platform: Any,
) -> None:
    doc_id = await td.submitted(users["clerk"], td.doc_input(demo))
    task_id = await td.task_of(users["deputy"], doc_id)
    notes = await count(platform, Notification)
    first, second = await asyncio.gather(approve(users["deputy"], task_id, KEY), approve(users["deputy"], task_id, KEY))
    assert first["errors"] == []
    assert first["task"]["status"] == "APPROVED"
    assert second == first
    assert await approvals(platform) == 1
    # one approval's notifications: the drafter and the two 会签 approvers
    assert await count(platform, Notification) == notes + 3


async def test_concurrent_identical_creates_make_one_document(
    users: dict[str, GraphQLClient],  # noqa: F811
    demo: Demo,  # noqa: F811
    platform: Any,
) -> None:
    before = await td.document_count(platform)
    results = await asyncio.gather(*(create(users["clerk"], td.doc_input(demo), KEY) for _ in range(4)))
    assert all(r == results[0] for r in results)
    assert results[0]["errors"] == []
    assert await td.document_count(platform) == before + 1


async def test_keys_are_per_user(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:  # noqa: F811
    before = await td.document_count(platform)
    mine = await create(users["clerk"], td.doc_input(demo), KEY)
    theirs = await create(users["deputy"], td.doc_input(demo), KEY)
    assert mine["errors"] == []
    assert theirs["errors"] == []
    assert mine["document"]["id"] != theirs["document"]["id"]
    assert mine["document"]["drafter"]["username"] == "clerk"
    assert theirs["document"]["drafter"]["username"] == "deputy"
    assert await td.document_count(platform) == before + 2
    # and another user's input does not make my retry "reused"
    assert await create(users["clerk"], td.doc_input(demo), KEY) == mine


async def test_an_expired_record_no_longer_matches(
    users: dict[str, GraphQLClient],  # noqa: F811
    demo: Demo,  # noqa: F811
    platform: Any,
    settings: Any,
) -> None:
    before = await td.document_count(platform)
    first = await create(users["clerk"], td.doc_input(demo), KEY)
    ttl = dt.timedelta(seconds=settings.idempotency_ttl_seconds)
    assert ttl == dt.timedelta(hours=24)
    start = utcnow()
    platform.clock = lambda: start + ttl - dt.timedelta(minutes=1)
    assert await create(users["clerk"], td.doc_input(demo), KEY) == first
    platform.clock = lambda: start + ttl + dt.timedelta(minutes=1)
    later = await create(users["clerk"], td.doc_input(demo), KEY)
    assert later["errors"] == []
    assert later["document"]["id"] != first["document"]["id"]
    assert await td.document_count(platform) == before + 2
    async with platform.db.read() as s:
        records = (await s.execute(select(IdempotencyRecord))).scalars().all()
    assert len(records) == 1
    assert records[0].expires_at > start + ttl
    # an expired key may also be reused with another input
    platform.clock = lambda: start + 3 * ttl
    other = await create(users["clerk"], td.doc_input(demo, title="关于另一项工作的通知"), KEY)
    assert other["errors"] == []
    assert other["document"]["title"] == "关于另一项工作的通知"


async def test_bad_keys_are_invalid_value(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:  # noqa: F811
    before = await td.snapshot(platform)
    for key in ("", "k" * 101, "键", "tab\there", "line\n"):
        payload = await create(users["clerk"], td.doc_input(demo), key)
        assert payload["document"] is None
        assert td.codes(payload["errors"]) == [("idempotencyKey", "INVALID_VALUE")], key
    assert await td.snapshot(platform) == before
    assert await count(platform, IdempotencyRecord) == 0
    ok = await create(users["clerk"], td.doc_input(demo), "k" * 100)
    assert ok["errors"] == []
    assert (await create(users["clerk"], td.doc_input(demo), " ~!"))["errors"] == []


async def test_failed_attempts_are_not_remembered(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:  # noqa: F811
    """A refused request stores nothing: its retry validates again, and a corrected retry
    with the same key runs (it is not IDEMPOTENCY_KEY_REUSED)."""
    doc_id = await td.submitted(users["clerk"], td.doc_input(demo))
    task_id = await td.task_of(users["deputy"], doc_id)
    vars_ = {"id": task_id, "o": None, "key": KEY}
    refused = (await users["deputy"].execute(RETURN, vars_))["data"]["returnTask"]
    assert td.codes(refused["errors"]) == [("opinion", "REQUIRED")]
    assert await count(platform, IdempotencyRecord) == 0
    again = (await users["deputy"].execute(RETURN, vars_))["data"]["returnTask"]
    assert td.codes(again["errors"]) == [("opinion", "REQUIRED")]
    fixed = (await users["deputy"].execute(RETURN, {**vars_, "o": "请补充依据"}))["data"]["returnTask"]
    assert fixed["errors"] == []
    assert fixed["document"]["status"] == "RETURNED"
    assert (await users["deputy"].execute(RETURN, {**vars_, "o": "请补充依据"}))["data"]["returnTask"] == fixed
    assert await count(platform, IdempotencyRecord) == 1


async def test_submit_and_delegation_retries(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:  # noqa: F811
    doc = await create(users["clerk"], td.doc_input(demo), None)
    doc_id = doc["document"]["id"]
    first = (await users["clerk"].execute(SUBMIT, {"id": doc_id, "key": KEY}))["data"]["submitDocument"]
    assert first["errors"] == []
    assert first["document"]["status"] == "IN_REVIEW"
    again = (await users["clerk"].execute(SUBMIT, {"id": doc_id, "key": KEY}))["data"]["submitDocument"]
    assert again == first
    assert await count(platform, DocumentAction, DocumentAction.action == "submitted") == 1

    today = local_today()
    data = {
        "delegateId": demo.user("clerk"),
        "startDate": (today + dt.timedelta(days=1)).isoformat(),
        "endDate": (today + dt.timedelta(days=3)).isoformat(),
        "reason": "出差",
        "idempotencyKey": KEY,
    }
    made = (await users["deputy"].execute(CREATE_DELEGATION, {"input": data}))["data"]["createDelegation"]
    assert made["errors"] == []
    assert made["delegation"]["delegate"]["username"] == "clerk"
    retried = (await users["deputy"].execute(CREATE_DELEGATION, {"input": data}))["data"]["createDelegation"]
    assert retried == made  # not DELEGATION_OVERLAP
    changed = {**data, "reason": "休假"}
    reused = (await users["deputy"].execute(CREATE_DELEGATION, {"input": changed}))["data"]["createDelegation"]
    assert td.codes(reused["errors"]) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]

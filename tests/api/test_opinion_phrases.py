"""Saved opinion phrases (常用意见) and one-tap approval through GraphQL, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from strawberry.relay import GlobalID

from documents.models import DocumentAction, Task
from documents.phrases import MAX_PHRASES, OpinionPhrase
from tests.api import test_documents as documents_api
from tests.api.test_documents import Demo, doc_input, step, submitted
from tests.conftest import GraphQLClient

demo = documents_api.demo
users = documents_api.users

PHRASE = "opinionPhrase { id text position } errors { field code }"
ADD = (
    f"mutation($t: String!, $k: String) {{ addOpinionPhrase(input: {{text: $t, idempotencyKey: $k}}) {{ {PHRASE} }} }}"
)
UPDATE = f"mutation($id: ID!, $t: String!) {{ updateOpinionPhrase(input: {{id: $id, text: $t}}) {{ {PHRASE} }} }}"
DELETE = """mutation($id: ID!) { deleteOpinionPhrase(input: {id: $id}) {
  opinionPhrases { text position } errors { field code } } }"""
REORDER = """mutation($ids: [ID!]!) { reorderOpinionPhrases(input: {ids: $ids}) {
  opinionPhrases { text position } errors { field code } } }"""
MINE = "{ myOpinionPhrases { id text position } }"
APPROVE = """mutation($id: ID!, $o: String, $p: ID) {
  approveTask(input: {taskId: $id, opinion: $o, opinionPhraseId: $p}) {
    task { status opinion } errors { field code } } }"""
MY_TASKS = "{ myTasks { edges { node { id } } } }"


async def add(c: GraphQLClient, text: str, key: str | None = None) -> dict[str, Any]:
    return (await c.execute(ADD, {"t": text, "k": key}))["data"]["addOpinionPhrase"]


async def mine(c: GraphQLClient) -> list[str]:
    return [p["text"] for p in (await c.execute(MINE))["data"]["myOpinionPhrases"]]


def codes(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def test_add_update_delete_reorder(users: dict[str, GraphQLClient]) -> None:
    deputy = users["deputy"]
    agree = await add(deputy, "  同意  ")
    assert (agree["opinionPhrase"]["text"], agree["opinionPhrase"]["position"], agree["errors"]) == ("同意", 0, [])
    propose = (await add(deputy, "拟同意，请领导审示"))["opinionPhrase"]
    proceed = (await add(deputy, "请按程序办理"))["opinionPhrase"]
    assert await mine(deputy) == ["同意", "拟同意，请领导审示", "请按程序办理"]

    # Typed errors, nothing written.
    assert codes(await add(deputy, "同意")) == [("text", "DUPLICATE")]
    assert codes(await add(deputy, " \u200b ")) == [("text", "REQUIRED")]
    assert codes(await add(deputy, "好" * 201)) == [("text", "TOO_LONG")]
    assert len((await add(deputy, "好" * 200))["opinionPhrase"]["text"]) == 200
    dup = (await deputy.execute(UPDATE, {"id": proceed["id"], "t": "同意"}))["data"]["updateOpinionPhrase"]
    assert codes(dup) == [("text", "DUPLICATE")]

    changed = (await deputy.execute(UPDATE, {"id": proceed["id"], "t": "请按规定程序办理"}))["data"][
        "updateOpinionPhrase"
    ]
    assert (changed["opinionPhrase"]["text"], changed["opinionPhrase"]["position"]) == ("请按规定程序办理", 2)
    # Saving the same text again is no duplicate of itself.
    same = (await deputy.execute(UPDATE, {"id": proceed["id"], "t": "请按规定程序办理"}))["data"]
    assert same["updateOpinionPhrase"]["errors"] == []

    rest = (await deputy.execute(DELETE, {"id": propose["id"]}))["data"]["deleteOpinionPhrase"]
    assert [(p["text"], p["position"]) for p in rest["opinionPhrases"]] == [
        ("同意", 0),
        ("请按规定程序办理", 1),
        ("好" * 200, 2),
    ]
    again = (await deputy.execute(DELETE, {"id": propose["id"]}))["data"]["deleteOpinionPhrase"]
    assert codes(again) == [("id", "NOT_FOUND")]

    ids = [p["id"] for p in (await deputy.execute(MINE))["data"]["myOpinionPhrases"]]
    reordered = (await deputy.execute(REORDER, {"ids": [ids[2], ids[0], ids[1]]}))["data"]["reorderOpinionPhrases"]
    assert [p["text"] for p in reordered["opinionPhrases"]] == ["好" * 200, "同意", "请按规定程序办理"]
    assert await mine(deputy) == ["好" * 200, "同意", "请按规定程序办理"]
    for bad in ([ids[0], ids[1]], [ids[0], ids[0], ids[1], ids[2]], [ids[0], ids[1], propose["id"]]):
        refused = (await deputy.execute(REORDER, {"ids": bad}))["data"]["reorderOpinionPhrases"]
        assert codes(refused) == [("ids", "INVALID_VALUE")]
    assert await mine(deputy) == ["好" * 200, "同意", "请按规定程序办理"]

    # Another person's phrases are not found, and their own list is empty.
    clerk = users["clerk"]
    assert await mine(clerk) == []
    stolen = (await clerk.execute(UPDATE, {"id": ids[0], "t": "不同意"}))["data"]["updateOpinionPhrase"]
    assert codes(stolen) == [("id", "NOT_FOUND")]
    assert codes((await clerk.execute(DELETE, {"id": ids[0]}))["data"]["deleteOpinionPhrase"]) == [("id", "NOT_FOUND")]
    assert codes((await clerk.execute(REORDER, {"ids": ids}))["data"]["reorderOpinionPhrases"]) == [
        ("ids", "INVALID_VALUE")
    ]

    # A retried add with the same idempotency key saves one phrase and answers the same.
    first = await add(clerk, "已阅", key="phrase-1")
    assert (await add(clerk, "已阅", key="phrase-1")) == first
    assert await mine(clerk) == ["已阅"]
    assert codes(await add(clerk, "已办", key="phrase-1")) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]


async def test_the_limit_holds_under_concurrent_adds(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    deputy = users["deputy"]
    async with platform.db.unit_of_work() as uow:
        uow.session.add_all(
            OpinionPhrase(user_id=demo.user_pks["deputy"], text=f"意见{i}", position=i) for i in range(MAX_PHRASES - 1)
        )
    # Two phones of the same person add the 50th phrase at once: exactly one wins.
    other = GraphQLClient(deputy.http, deputy.token, deputy.lang)
    results = await asyncio.gather(add(deputy, "甲"), add(other, "乙"))
    assert sorted(r["errors"] == [] for r in results) == [False, True]
    assert [codes(r) for r in results if r["errors"]] == [[("text", "TOO_MANY")]]
    async with platform.db.read() as s:
        count = await s.execute(select(func.count()).select_from(OpinionPhrase))
    assert count.scalar() == MAX_PHRASES
    # The same text twice at once: one DUPLICATE, never two rows.
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(OpinionPhrase.__table__.delete().where(OpinionPhrase.text.like("意见%")))
    results = await asyncio.gather(add(deputy, "同意"), add(other, "同意"))
    assert sorted(str(codes(r)) for r in results) == ["[('text', 'DUPLICATE')]", "[]"]


async def test_one_tap_approval_with_a_saved_phrase(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    clerk, deputy = users["clerk"], users["deputy"]
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy"), step(demo, "签发", "SINGLE", "secretary_general")]}
    await submitted(clerk, doc_input(demo, route=route))
    task_id = (await deputy.execute(MY_TASKS))["data"]["myTasks"]["edges"][0]["node"]["id"]
    phrase = (await add(deputy, "拟同意，请秘书长审示"))["opinionPhrase"]["id"]
    clerk_phrase = (await add(clerk, "同意"))["opinionPhrase"]["id"]

    # Not both; not someone else's phrase; nothing changes on a refusal.
    both = (await deputy.execute(APPROVE, {"id": task_id, "o": "同意", "p": phrase}))["data"]["approveTask"]
    assert codes(both) == [("opinionPhraseId", "INVALID_VALUE")]
    foreign = (await deputy.execute(APPROVE, {"id": task_id, "p": clerk_phrase}))["data"]["approveTask"]
    assert codes(foreign) == [("opinionPhraseId", "NOT_FOUND")]
    wrong_type = (await deputy.execute(APPROVE, {"id": task_id, "p": task_id}))["data"]["approveTask"]
    assert codes(wrong_type) == [("opinionPhraseId", "INVALID_VALUE")]
    async with platform.db.read() as s:
        assert (
            await s.execute(select(Task.status).where(Task.id == int(GlobalID.from_id(task_id).node_id)))
        ).scalar() == "pending"

    ok = (await deputy.execute(APPROVE, {"id": task_id, "p": phrase}))["data"]["approveTask"]
    assert (ok["errors"], ok["task"]) == ([], {"status": "APPROVED", "opinion": "拟同意，请秘书长审示"})
    async with platform.db.read() as s:
        entry = (await s.execute(select(DocumentAction).where(DocumentAction.action == "approved"))).scalar_one()
    assert (entry.opinion, entry.actor_id) == ("拟同意，请秘书长审示", demo.user_pks["deputy"])

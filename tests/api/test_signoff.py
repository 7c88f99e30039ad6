"""Sign-off (签发, REG Art. 22): route rules, the record of the sign-off, registration's
requirement, and editing after sign-off (DOMAIN §1.4 复核), through GraphQL on SQLite and
PostgreSQL.

Demo organization: in the General Office (the issuing unit of clerk's drafts)
secretary_general is HEAD, deputy DEPUTY_HEAD and clerk CLERK; finance_head heads 财政厅.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from office_api.org.models import PositionDuty
from tests.api import test_documents as shared
from tests.api.test_documents import (
    Demo,
    approve,
    codes,
    create,
    create_ok,
    doc_input,
    document_count,
    notifications,
    snapshot,
    step,
    submit,
    task_of,
)
from tests.conftest import GraphQLClient
from tests.documents_helpers import gid, sign_off_via_api, signed_off_documents

demo = shared.demo
users = shared.users

GO, FINANCE = "370000-general_office", "370000-finance"
SHANGHAI = ZoneInfo("Asia/Shanghai")

SIGNED = """query($id: ID!) { document(id: $id) {
  id status round version body title note issuedOn important signedOffAt signedBodySha256 docNumber
  signedOffBy { username }
  steps { index name signOff tasks { status round assignee { username } } }
  history { action round stepIndex actor { username } } } }"""
UPDATE = """mutation($input: UpdateDocumentInput!) { updateDocument(input: $input) {
  document { id status round signedOffAt issuedOn body note } errors { field code message } } }"""
REGISTER = """mutation($id: ID!) { registerDocument(input: {documentId: $id}) {
  document { id status docNumber } errors { field code message } } }"""


def sign_off_step(demo: Demo, username: str = "secretary_general", **extra: Any) -> dict[str, Any]:
    return {**step(demo, "签发", "SINGLE", username), "signOff": True, **extra}


async def signed(c: GraphQLClient, doc_id: str) -> dict[str, Any]:
    data = await c.execute(SIGNED, {"id": doc_id})
    assert "errors" not in data, data
    return data["data"]["document"]


async def update(c: GraphQLClient, data: dict[str, Any]) -> dict[str, Any]:
    return (await c.execute(UPDATE, {"input": data}))["data"]["updateDocument"]


# ---- route rules ---------------------------------------------------------------------------


async def test_sign_off_step_shape_is_checked_at_create(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    """At most one sign-off step, the last, SINGLE: each break names the step; nothing is written."""
    before = await document_count(platform)
    not_last = await create(
        users["clerk"],
        doc_input(demo, route={"steps": [sign_off_step(demo), step(demo, "核稿", "SINGLE", "deputy")]}),
    )
    assert codes(not_last["errors"]) == [("route.steps.0.signOff", "INVALID_VALUE")]
    assert "last step" in not_last["errors"][0]["message"] or "最后" in not_last["errors"][0]["message"]
    two = await create(
        users["clerk"],
        doc_input(demo, route={"steps": [sign_off_step(demo, "deputy"), sign_off_step(demo)]}),
    )
    assert codes(two["errors"]) == [
        ("route.steps.1.signOff", "INVALID_VALUE"),
        ("route.steps.0.signOff", "INVALID_VALUE"),
    ]
    parallel = await create(
        users["clerk"],
        doc_input(
            demo,
            route={"steps": [{**step(demo, "签发", "PARALLEL_ALL", "secretary_general", "deputy"), "signOff": True}]},
        ),
    )
    assert codes(parallel["errors"]) == [("route.steps.0.mode", "INVALID_VALUE")]
    assert await document_count(platform) == before


async def test_signer_must_be_a_leader_of_the_issuing_unit(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    clerk = users["clerk"]
    before = await document_count(platform)
    # finance_head leads another unit; clerk is no leader; the unit's clerk by unit is no leader.
    for assignee, field in (
        ({"assigneeIds": [demo.user("finance_head")]}, "route.steps.1.assigneeIds.0"),
        ({"assigneeIds": [demo.user("clerk")]}, "route.steps.1.assigneeIds.0"),
        ({"assignees": [{"unitId": demo.unit(GO)}]}, "route.steps.1.assignees.0"),
        ({"assignees": [{"unitId": demo.unit(FINANCE), "duty": "HEAD"}]}, "route.steps.1.assignees.0"),
    ):
        route = {
            "steps": [
                step(demo, "核稿", "SINGLE", "deputy"),
                {"name": "签发", "mode": "SINGLE", "signOff": True, **assignee},
            ]
        }
        refused = await create(clerk, doc_input(demo, route=route))
        assert codes(refused["errors"]) == [(field, "WRONG_SIGNER")], (assignee, refused)
    assert await document_count(platform) == before

    # A deputy head may sign an ordinary downward document, by id or by duty.
    by_id = await create_ok(clerk, doc_input(demo, route={"steps": [sign_off_step(demo, "deputy")]}))
    by_duty = await create_ok(
        clerk,
        doc_input(
            demo,
            route={
                "steps": [
                    {
                        "name": "签发",
                        "mode": "SINGLE",
                        "signOff": True,
                        "assignees": [{"unitId": demo.unit(GO), "duty": "DEPUTY_HEAD"}],
                    }
                ]
            },
        ),
    )
    assert by_id["steps"][0]["name"] == by_duty["steps"][0]["name"] == "签发"

    # Upward and important documents: the head (主要负责人) only.
    upward = await create(
        clerk,
        doc_input(
            demo,
            direction="UPWARD",
            signers=["李副主任"],
            docType="REQUEST",
            title="山东省人民政府办公厅关于拨付值班经费的请示",
            route={"steps": [sign_off_step(demo, "deputy")]},
        ),
    )
    assert codes(upward["errors"]) == [("route.steps.0.assigneeIds.0", "WRONG_SIGNER")]
    important = await create(clerk, doc_input(demo, important=True, route={"steps": [sign_off_step(demo, "deputy")]}))
    assert codes(important["errors"]) == [("route.steps.0.assigneeIds.0", "WRONG_SIGNER")]
    ok = await create_ok(clerk, doc_input(demo, important=True, route={"steps": [sign_off_step(demo)]}))
    assert ok["status"] == "DRAFT"


async def test_signer_rules_are_checked_again_at_submit(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    """The document became important after creation: the deputy may no longer sign it."""
    clerk = users["clerk"]
    doc = await create_ok(clerk, doc_input(demo, route={"steps": [sign_off_step(demo, "deputy")]}))
    changed = await update(clerk, {"documentId": doc["id"], "important": True})
    assert changed["errors"] == []
    before = await snapshot(platform)
    refused = await submit(clerk, doc["id"])
    assert codes(refused["errors"]) == [("route.steps.0.assignees.0", "WRONG_SIGNER")]
    assert await snapshot(platform) == before
    assert (await update(clerk, {"documentId": doc["id"], "important": False}))["errors"] == []
    assert (await submit(clerk, doc["id"]))["errors"] == []


async def test_the_approver_of_the_sign_off_must_still_hold_the_duty(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    """The head lost the duty after submission: the sign-off task cannot be approved."""
    clerk, boss = users["clerk"], users["secretary_general"]
    doc = await create_ok(clerk, doc_input(demo, route={"steps": [sign_off_step(demo)]}))
    assert (await submit(clerk, doc["id"]))["errors"] == []
    task = await task_of(boss, doc["id"])
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(
            delete(PositionDuty).where(PositionDuty.unit_id == demo.unit_pks[GO], PositionDuty.duty == "head")
        )
    before = await snapshot(platform)
    refused = await approve(boss, task)
    assert codes(refused["errors"]) == [("taskId", "WRONG_SIGNER")]
    assert await snapshot(platform) == before


# ---- the sign-off and registration -------------------------------------------------------------


async def test_approving_the_sign_off_step_records_the_sign_off(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    clerk, boss = users["clerk"], users["secretary_general"]
    body = "一、做好值班工作。"
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy"), sign_off_step(demo)]}
    doc = await create_ok(clerk, doc_input(demo, body=body, issuedOn="2026-01-05", route=route))
    assert (await submit(clerk, doc["id"]))["errors"] == []
    assert (await approve(users["deputy"], await task_of(users["deputy"], doc["id"])))["errors"] == []
    middle = await signed(clerk, doc["id"])
    assert (middle["status"], middle["signedOffAt"], middle["signedOffBy"]) == ("IN_REVIEW", None, None)
    assert (await approve(boss, await task_of(boss, doc["id"]), "同意印发"))["errors"] == []

    read = await signed(clerk, doc["id"])
    assert read["status"] == "APPROVED"
    assert read["signedOffBy"] == {"username": "secretary_general"}
    at = dt.datetime.fromisoformat(read["signedOffAt"])
    assert at.utcoffset() == dt.timedelta(0)
    # 成文日期 is the sign-off date in Asia/Shanghai (REG Art. 22), replacing the one typed in.
    assert read["issuedOn"] == at.astimezone(SHANGHAI).date().isoformat()
    assert read["signedBodySha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert [s["signOff"] for s in read["steps"]] == [False, True]
    assert [(h["action"], h["stepIndex"], h["actor"]["username"]) for h in read["history"][-3:]] == [
        ("APPROVED", 1, "secretary_general"),
        ("SIGNED_OFF", 1, "secretary_general"),
        ("COMPLETED", None, "secretary_general"),
    ]
    registered = (await clerk.execute(REGISTER, {"id": doc["id"]}))["data"]["registerDocument"]
    assert registered["errors"] == []
    assert registered["document"]["docNumber"].startswith("鲁政办发〔")


async def test_registration_requires_a_sign_off(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    """A route without a sign-off step approves the document, but it cannot be registered."""
    clerk = users["clerk"]
    doc = await create_ok(clerk, doc_input(demo, route={"steps": [step(demo, "核稿", "SINGLE", "deputy")]}))
    assert (await submit(clerk, doc["id"]))["errors"] == []
    assert (await approve(users["deputy"], await task_of(users["deputy"], doc["id"])))["errors"] == []
    read = await signed(clerk, doc["id"])
    assert (read["status"], read["signedOffAt"], read["issuedOn"]) == ("APPROVED", None, None)
    before = await snapshot(platform)
    refused = (await clerk.execute(REGISTER, {"id": doc["id"]}))["data"]["registerDocument"]
    assert refused["document"] is None
    assert codes(refused["errors"]) == [("documentId", "SIGN_OFF_REQUIRED")]
    assert "签发" in refused["errors"][0]["message"]
    assert await snapshot(platform) == before


# ---- editing after sign-off ----------------------------------------------------------------


async def test_editing_the_body_after_sign_off_sends_it_back_to_the_signer(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    clerk, boss = users["clerk"], users["secretary_general"]
    doc_id = await sign_off_via_api(clerk, boss, demo.user_pks["secretary_general"], body="原稿")
    first = await signed(clerk, doc_id)
    seen = len(await notifications(boss))

    edited = await update(clerk, {"documentId": doc_id, "body": "改稿"})
    assert edited["errors"] == []
    assert (edited["document"]["status"], edited["document"]["signedOffAt"], edited["document"]["issuedOn"]) == (
        "IN_REVIEW",
        None,
        None,
    )
    read = await signed(clerk, doc_id)
    assert read["round"] == first["round"] + 1
    assert (read["signedOffBy"], read["signedBodySha256"]) == (None, None)
    assert [(h["action"], h["round"], h["stepIndex"], h["actor"]["username"]) for h in read["history"][-1:]] == [
        ("SIGN_OFF_INVALIDATED", read["round"], 0, "clerk")
    ]
    assert [(t["status"], t["round"], t["assignee"]["username"]) for t in read["steps"][0]["tasks"]] == [
        ("APPROVED", first["round"], "secretary_general"),
        ("PENDING", read["round"], "secretary_general"),
    ]
    news = (await notifications(boss))[seen:]
    assert [n["kind"] for n in news] == ["SIGN_OFF_INVALIDATED", "TASK_ASSIGNED"]
    assert [n["subjectId"] for n in news] == [doc_id, doc_id]
    # Not registrable until signed off again.
    refused = (await clerk.execute(REGISTER, {"id": doc_id}))["data"]["registerDocument"]
    assert codes(refused["errors"]) == [("documentId", "INVALID_STATE")]

    assert (await approve(boss, await task_of(boss, doc_id)))["errors"] == []
    again = await signed(clerk, doc_id)
    assert again["status"] == "APPROVED"
    assert again["signedBodySha256"] == hashlib.sha256("改稿".encode()).hexdigest()
    assert again["history"][-2]["action"] == "SIGNED_OFF"
    assert (await clerk.execute(REGISTER, {"id": doc_id}))["data"]["registerDocument"]["errors"] == []
    # Registered: no more edits.
    late = await update(clerk, {"documentId": doc_id, "body": "再改"})
    assert codes(late["errors"]) == [("documentId", "INVALID_STATE")]


async def test_format_fields_change_after_sign_off_without_invalidating_it(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    clerk = users["clerk"]
    (pk,) = await signed_off_documents(platform, demo.user_pks["clerk"], demo.unit_pks[GO], 1)
    doc_id = gid("Document", pk)
    noted = await update(clerk, {"documentId": str(doc_id), "note": "（此件公开发布）", "body": "正文"})
    assert noted["errors"] == []
    assert (noted["document"]["status"], noted["document"]["note"]) == ("APPROVED", "（此件公开发布）")
    assert noted["document"]["signedOffAt"] == "2026-06-01T02:00:00+00:00"
    assert noted["document"]["issuedOn"] == "2026-06-01"
    before = await snapshot(platform)
    date = await update(clerk, {"documentId": str(doc_id), "issuedOn": "2026-06-02"})
    assert codes(date["errors"]) == [("issuedOn", "INVALID_VALUE")]
    assert await snapshot(platform) == before
    # Only the drafter edits.
    other = await update(users["deputy"], {"documentId": str(doc_id), "body": "x"})
    assert codes(other["errors"]) == [("documentId", "NOT_FOUND")]


async def test_signer_approving_while_the_drafter_edits_ends_consistently(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    """Either the edit comes first (refused: the document is in review) and the sign-off stands
    on the original body, or the sign-off comes first and the edit invalidates it."""
    clerk, boss = users["clerk"], users["secretary_general"]
    for _ in range(3):
        doc = await create_ok(clerk, doc_input(demo, body="原稿", route={"steps": [sign_off_step(demo)]}))
        assert (await submit(clerk, doc["id"]))["errors"] == []
        task = await task_of(boss, doc["id"])
        approved, edited = await asyncio.gather(
            approve(boss, task), update(clerk, {"documentId": doc["id"], "body": "改稿"})
        )
        assert approved["errors"] == []
        read = await signed(clerk, doc["id"])
        if edited["errors"]:
            assert codes(edited["errors"]) == [("documentId", "INVALID_STATE")]
            assert (read["status"], read["body"]) == ("APPROVED", "原稿")
            assert read["signedBodySha256"] == hashlib.sha256("原稿".encode()).hexdigest()
        else:
            assert (read["status"], read["body"], read["signedOffAt"]) == ("IN_REVIEW", "改稿", None)
            pending = [t for t in read["steps"][0]["tasks"] if t["status"] == "PENDING"]
            assert [(t["round"], t["assignee"]["username"]) for t in pending] == [(read["round"], "secretary_general")]


async def test_registering_while_the_drafter_edits_has_one_winner(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    """Registration and an edit after sign-off both lock the document: one wins, the other
    sees the state it left (REGISTERED: no edit; IN_REVIEW: no registration)."""
    clerk = users["clerk"]
    pks = await signed_off_documents(platform, demo.user_pks["clerk"], demo.unit_pks[GO], 3)
    for pk in pks:
        doc_id = gid("Document", pk)
        registered, edited = await asyncio.gather(
            clerk.execute(REGISTER, {"id": doc_id}), update(clerk, {"documentId": doc_id, "body": "改稿"})
        )
        registered = registered["data"]["registerDocument"]
        read = await signed(clerk, doc_id)
        if registered["errors"] == []:
            assert codes(edited["errors"]) == [("documentId", "INVALID_STATE")]
            assert (read["status"], read["body"]) == ("REGISTERED", "正文")
            assert read["docNumber"] == registered["document"]["docNumber"]
        else:
            assert codes(registered["errors"]) == [("documentId", "INVALID_STATE")]
            assert edited["errors"] == []
            assert (read["status"], read["body"], read["docNumber"], read["signedOffAt"]) == (
                "IN_REVIEW",
                "改稿",
                None,
                None,
            )


async def test_an_edit_after_sign_off_that_the_signer_may_not_sign_is_refused(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    # deputy (DEPUTY_HEAD) signed off an ordinary notice; marking it important would need the
    # principal leader, so the edit is refused whole instead of routing it to someone who may
    # not sign it (REG Art. 22).
    clerk, deputy = users["clerk"], users["deputy"]
    doc_id = await sign_off_via_api(clerk, deputy, demo.user_pks["deputy"])
    before = await snapshot(platform)
    refused = await update(clerk, {"documentId": doc_id, "important": True, "body": "改稿"})
    assert codes(refused["errors"]) == [("route.steps.0.assignees.0", "WRONG_SIGNER")]
    assert await snapshot(platform) == before
    still = await signed(clerk, doc_id)
    assert (still["status"], still["important"], still["body"]) == ("APPROVED", False, "正文")
    # The signer reads the document but only its drafter edits it.
    assert codes((await update(deputy, {"documentId": doc_id, "body": "x"}))["errors"]) == [("documentId", "FORBIDDEN")]


async def test_an_edit_after_sign_off_must_keep_the_attachment_list_matching(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    # No upload can follow sign-off, so 附件说明 cannot change away from the attachments.
    clerk = users["clerk"]
    (pk,) = await signed_off_documents(platform, demo.user_pks["clerk"], demo.unit_pks[GO], 1)
    doc_id = str(gid("Document", pk))
    before = await snapshot(platform)
    refused = await update(clerk, {"documentId": doc_id, "attachmentTitles": ["另一个附件"]})
    assert codes(refused["errors"]) == [("attachmentTitles", "ATTACHMENTS_MISMATCH")]
    assert await snapshot(platform) == before
    assert (await signed(clerk, doc_id))["status"] == "APPROVED"

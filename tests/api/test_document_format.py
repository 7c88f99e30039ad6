"""GB/T 9704-2012 format elements of documents through GraphQL: createDocument and
updateDocument store them, errors name the field and write nothing, warnings come back in
the payload and do not block, submitDocument re-checks. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from strawberry.relay import GlobalID

from documents.models import Document
from office_api.auth import issue_access_token
from office_api.config import Settings
from tests.api.test_documents import TITLE, Demo, codes, demo, doc_input, snapshot  # noqa: F401
from tests.conftest import GraphQLClient

FORMAT_FIELDS = """
  id title version status direction copyNumber signers mainRecipientsText ccText attachmentTitles note
  issuedOn issuedOnText printingOffice printedOn printedOnText issuerSignature mainRecipients { code }
"""
PAYLOAD = f"document {{ {FORMAT_FIELDS} }} errors {{ field code message }} warnings {{ code field message }}"
CREATE = f"mutation($input: CreateDocumentInput!) {{ createDocument(input: $input) {{ {PAYLOAD} }} }}"
UPDATE = f"mutation($input: UpdateDocumentInput!) {{ updateDocument(input: $input) {{ {PAYLOAD} }} }}"
SUBMIT = (
    f"mutation($id: ID!) {{ submitDocument(input: {{documentId: $id, attestNoStateSecret: true}}) {{ {PAYLOAD} }} }}"
)
DOCUMENT = f"query($id: ID!) {{ document(id: $id) {{ {FORMAT_FIELDS} }} }}"

REQUEST_TITLE = "山东省人民政府办公厅关于申请专项资金的请示"


@pytest.fixture
async def clerk(client: GraphQLClient, demo: Demo, settings: Settings) -> GraphQLClient:  # noqa: F811
    token, _ = issue_access_token(settings, demo.user_pks["clerk"])
    return GraphQLClient(client.http, token, client.lang)


@pytest.fixture
async def deputy(client: GraphQLClient, demo: Demo, settings: Settings) -> GraphQLClient:  # noqa: F811
    token, _ = issue_access_token(settings, demo.user_pks["deputy"])
    return GraphQLClient(client.http, token, "en")


async def run(c: GraphQLClient, query: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    result = await c.execute(query, {"input": data})
    assert "errors" not in result, result
    return result["data"][name]


def full_format() -> dict[str, Any]:
    return {
        "copyNumber": "000123",
        "signers": ["张三", "李四"],
        "mainRecipientsText": "各市人民政府，省政府各部门：",
        "ccText": "省委办公厅，省人大常委会办公厅。",
        "attachmentTitles": ["2026年春节值班表", "值班联系方式"],
        "note": "（此件公开发布）",
        "issuedOnText": "2026年1月5日",
        "printingOffice": "山东省人民政府办公厅",
        "printedOn": "2026-01-06",
        "issuerSignature": "山东省人民政府办公厅",
    }


async def row(platform: Any, doc_id: str) -> Document:
    async with platform.db.read() as s:
        pk = int(GlobalID.from_id(doc_id).node_id)
        return (await s.execute(select(Document).where(Document.id == pk))).scalar_one()


async def test_existing_callers_get_the_defaults(clerk: GraphQLClient, demo: Demo) -> None:  # noqa: F811
    payload = await run(clerk, CREATE, "createDocument", doc_input(demo))
    assert payload["errors"] == []
    assert payload["warnings"] == []
    doc = payload["document"]
    assert {k: doc[k] for k in doc if k not in ("id", "title", "version", "status", "mainRecipients")} == {
        "direction": "DOWNWARD",
        "copyNumber": None,
        "signers": [],
        "mainRecipientsText": None,
        "ccText": None,
        "attachmentTitles": [],
        "note": None,
        "issuedOn": None,
        "issuedOnText": None,
        "printingOffice": None,
        "printedOn": None,
        "printedOnText": None,
        "issuerSignature": None,
    }


async def test_create_stores_every_element(clerk: GraphQLClient, demo: Demo, platform: Any) -> None:  # noqa: F811
    payload = await run(clerk, CREATE, "createDocument", doc_input(demo, **full_format()))
    assert payload["errors"] == []
    assert payload["warnings"] == []
    doc = payload["document"]
    assert doc["copyNumber"] == "000123"
    assert doc["signers"] == ["张三", "李四"]
    assert doc["mainRecipientsText"] == "各市人民政府，省政府各部门："
    assert doc["ccText"] == "省委办公厅，省人大常委会办公厅。"
    assert doc["attachmentTitles"] == ["2026年春节值班表", "值班联系方式"]
    assert doc["note"] == "（此件公开发布）"
    assert (doc["issuedOn"], doc["issuedOnText"]) == ("2026-01-05", "2026年1月5日")
    assert (doc["printedOn"], doc["printedOnText"]) == ("2026-01-06", "2026年1月6日")
    assert doc["printingOffice"] == doc["issuerSignature"] == "山东省人民政府办公厅"
    stored = await row(platform, doc["id"])
    assert stored.issued_on == dt.date(2026, 1, 5)
    assert stored.printed_on == dt.date(2026, 1, 6)
    assert stored.signers == ["张三", "李四"]
    assert stored.direction == "downward"
    again = (await clerk.execute(DOCUMENT, {"id": doc["id"]}))["data"]["document"]
    assert again == doc


async def test_create_errors_name_fields_and_write_nothing(
    clerk: GraphQLClient,
    demo: Demo,  # noqa: F811
    platform: Any,
) -> None:
    before = await snapshot(platform)
    data = doc_input(
        demo,
        title=REQUEST_TITLE,
        docType="REQUEST",
        direction="UPWARD",
        copyNumber="No.1",
        ccText="省委办公厅",
        issuedOnText="2026年01月05日",
        attachmentTitles=["值班表", "值班表"],
    )
    payload = await run(clerk, CREATE, "createDocument", data)
    assert payload["document"] is None
    assert payload["warnings"] == []
    assert sorted(codes(payload["errors"])) == sorted(
        [
            ("copyNumber", "INVALID_VALUE"),
            ("signers", "REQUIRED"),
            ("ccText", "INVALID_VALUE"),
            ("issuedOnText", "INVALID_VALUE"),
            ("attachmentTitles.1", "DUPLICATE"),
        ]
    )
    assert await snapshot(platform) == before


async def test_print_date_before_document_date_is_refused(clerk: GraphQLClient, demo: Demo) -> None:  # noqa: F811
    data = doc_input(demo, issuedOn="2026-01-05", printedOn="2026-01-04")
    payload = await run(clerk, CREATE, "createDocument", data)
    assert codes(payload["errors"]) == [("printedOn", "INVALID_VALUE")]


async def test_warnings_do_not_block(clerk: GraphQLClient, demo: Demo) -> None:  # noqa: F811
    data = doc_input(
        demo,
        title="山东省人民政府办公厅关于申请专项资金的报告",
        docType="REQUEST",
        direction="UPWARD",
        signers=["张三"],
        mainRecipientIds=[demo.unit("370200"), demo.unit("370100")],
    )
    payload = await run(clerk, CREATE, "createDocument", data)
    assert payload["errors"] == []
    assert payload["document"]["direction"] == "UPWARD"
    assert [(w["field"], w["code"]) for w in payload["warnings"]] == [
        ("title", "TITLE_TYPE_MISMATCH"),
        ("mainRecipientIds", "UPWARD_MULTIPLE_MAIN_RECIPIENTS"),
    ]
    assert "请示" in payload["warnings"][0]["message"]
    assert "原则上" in payload["warnings"][1]["message"]


async def test_update_changes_checks_and_returns_warnings(
    clerk: GraphQLClient,
    deputy: GraphQLClient,
    demo: Demo,  # noqa: F811
    platform: Any,
) -> None:
    created = await run(clerk, CREATE, "createDocument", doc_input(demo, **full_format()))
    doc_id = created["document"]["id"]

    # an upward request without a signer is refused as a whole: nothing changes
    before = await row(platform, doc_id)
    refused = await run(
        clerk,
        UPDATE,
        "updateDocument",
        {"documentId": doc_id, "title": REQUEST_TITLE, "direction": "UPWARD", "signers": [], "note": "备注"},
    )
    assert refused["document"] is None
    assert codes(refused["errors"]) == [("signers", "REQUIRED")]
    after = await row(platform, doc_id)
    assert (after.title, after.direction, after.signers, after.note, after.version) == (
        before.title,
        "downward",
        ["张三", "李四"],
        "（此件公开发布）",
        1,
    )

    # with a signer it passes; the note without parentheses is only a warning
    ok = await run(
        clerk,
        UPDATE,
        "updateDocument",
        {
            "documentId": doc_id,
            "expectedVersion": 1,
            "title": REQUEST_TITLE,
            "direction": "UPWARD",
            "signers": ["王五"],
            "note": "此件公开发布",
            "issuedOnText": "2026年1月6日",
            "copyNumber": None,
        },
    )
    assert ok["errors"] == []
    assert [(w["field"], w["code"]) for w in ok["warnings"]] == [
        ("title", "TITLE_TYPE_MISMATCH"),  # still a 通知
        ("mainRecipientsText", "UPWARD_MULTIPLE_MAIN_RECIPIENTS"),
        ("note", "NOTE_NOT_IN_PARENTHESES"),
    ]
    doc = ok["document"]
    assert (doc["version"], doc["direction"], doc["signers"], doc["copyNumber"]) == (2, "UPWARD", ["王五"], None)
    assert (doc["issuedOn"], doc["issuedOnText"]) == ("2026-01-06", "2026年1月6日")
    assert doc["ccText"] == "省委办公厅，省人大常委会办公厅。"  # omitted: unchanged

    # the date of document may not move past the print date (2026-01-06)
    late = await run(clerk, UPDATE, "updateDocument", {"documentId": doc_id, "issuedOn": "2026-01-07"})
    assert codes(late["errors"]) == [("printedOn", "INVALID_VALUE")]

    stale = await run(clerk, UPDATE, "updateDocument", {"documentId": doc_id, "expectedVersion": 1, "note": None})
    assert codes(stale["errors"]) == [("expectedVersion", "STALE_VERSION")]

    # only the drafter sees and changes the draft
    other = await run(deputy, UPDATE, "updateDocument", {"documentId": doc_id, "note": None})
    assert codes(other["errors"]) == [("documentId", "NOT_FOUND")]

    nulls = await run(clerk, UPDATE, "updateDocument", {"documentId": doc_id, "direction": None})
    assert codes(nulls["errors"]) == [("direction", "REQUIRED")]


async def test_update_refused_after_submission_and_submit_returns_warnings(
    clerk: GraphQLClient,
    demo: Demo,  # noqa: F811
    platform: Any,
) -> None:
    created = await run(clerk, CREATE, "createDocument", doc_input(demo, note="此件公开发布"))
    doc_id = created["document"]["id"]
    result = await clerk.execute(SUBMIT, {"id": doc_id})
    submitted = result["data"]["submitDocument"]
    assert submitted["errors"] == []
    assert submitted["document"]["status"] == "IN_REVIEW"
    assert [w["code"] for w in submitted["warnings"]] == ["NOTE_NOT_IN_PARENTHESES"]
    refused = await run(clerk, UPDATE, "updateDocument", {"documentId": doc_id, "note": None})
    assert codes(refused["errors"]) == [("documentId", "INVALID_STATE")]
    assert (await row(platform, doc_id)).note == "此件公开发布"


async def test_submit_rechecks_stored_elements(clerk: GraphQLClient, demo: Demo, platform: Any) -> None:  # noqa: F811
    """A stored document that breaks a rule (written before the rule existed) cannot be submitted."""
    created = await run(clerk, CREATE, "createDocument", doc_input(demo))
    doc_id = created["document"]["id"]
    async with platform.db.unit_of_work() as uow:
        stored = await uow.session.get(Document, int(GlobalID.from_id(doc_id).node_id))
        stored.direction = "upward"
    before = await snapshot(platform)
    result = (await clerk.execute(SUBMIT, {"id": doc_id}))["data"]["submitDocument"]
    assert codes(result["errors"]) == [("signers", "REQUIRED")]
    assert await snapshot(platform) == before


async def test_messages_follow_accept_language(deputy: GraphQLClient, demo: Demo) -> None:  # noqa: F811
    data = doc_input(demo, title="关于某事的意见", copyNumber="[1]")
    payload = await run(deputy, CREATE, "createDocument", data)
    assert codes(payload["errors"]) == [("copyNumber", "INVALID_VALUE")]
    assert "6 digits" in payload["errors"][0]["message"]
    ok = await run(deputy, CREATE, "createDocument", doc_input(demo, title="关于某事的意见"))
    assert ok["warnings"][0]["message"] == "The title should end with the document type 通知"

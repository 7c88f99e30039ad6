"""Attachments through GraphQL multipart requests and the download endpoint: storage, limits,
types, the state-secret header scan, the attestation, 附件说明 at submission, visibility,
idempotency and concurrent uploads. Runs on SQLite and PostgreSQL (``database_url``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from strawberry.relay import GlobalID

from documents.attachments import Attachment as AttachmentRow
from documents.models import DocumentAction
from office_api.auth import issue_access_token
from office_api.config import Environment, Settings
from office_api.org.models import User
from tests.conftest import TEST_SECRET, GraphQLClient
from tests.unit.test_file_scan import BODY, make_docx, make_pdf

MAX_BYTES = 100_000
MAX_PER_DOCUMENT = 3

ATTACHMENT_FIELDS = "id title filename contentType size sha256 position uploadedAt attestedNoStateSecret downloadPath"
UPLOAD = (
    "mutation($input: UploadAttachmentInput!) { uploadAttachment(input: $input) {"
    f" attachment {{ {ATTACHMENT_FIELDS} uploadedBy {{ username }} }}"
    " document { id version attachments { title position } } errors { field code message } } }"
)
REMOVE = (
    "mutation($id: ID!) { removeAttachment(input: {attachmentId: $id}) {"
    " document { version attachments { title position } } errors { field code } } }"
)
REORDER = (
    "mutation($doc: ID!, $ids: [ID!]!) { reorderAttachments(input: {documentId: $doc, attachmentIds: $ids}) {"
    " document { attachments { title position } } errors { field code } } }"
)
CREATE = (
    "mutation($input: CreateDocumentInput!) { createDocument(input: $input) { document { id } errors { field code } } }"
)
UPDATE_TITLES = (
    "mutation($id: ID!, $t: [String!]) { updateDocument(input: {documentId: $id, attachmentTitles: $t}) {"
    " document { attachmentTitles } errors { field code } } }"
)
SUBMIT = (
    "mutation($id: ID!) { submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {"
    " document { status } errors { field code message } } }"
)
DOCUMENT = (
    "query($id: ID!) { document(id: $id) { attachments { title filename size sha256 position"
    " uploadedBy { username } } history { action attestedNoStateSecret actor { username } } } }"
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env=Environment.production,
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        log_level="WARNING",
        attachment_max_bytes=MAX_BYTES,
        attachment_max_per_document=MAX_PER_DOCUMENT,
    )


@pytest.fixture
async def users(client: GraphQLClient, settings: Settings, platform: Any) -> dict[str, GraphQLClient]:
    async with platform.db.read() as s:
        pks = {u: pk for pk, u in (await s.execute(select(User.id, User.username))).all()}
    out = {}
    for name in ("clerk", "deputy", "finance_head"):
        token, _ = issue_access_token(settings, pks[name])
        out[name] = GraphQLClient(client.http, token, client.lang)
    out["pks"] = pks  # type: ignore[assignment]
    return out


async def new_document(users: dict[str, Any], titles: list[str] | None = None) -> str:
    """A draft by clerk with one step (核稿 by deputy); its global id."""
    deputy = str(GlobalID("User", str(users["pks"]["deputy"])))
    data = await users["clerk"].execute(
        CREATE,
        {
            "input": {
                "title": "山东省人民政府办公厅关于做好2026年春节期间值班工作的通知",
                "docType": "NOTICE",
                "body": "各单位：请做好值班工作。",
                "attachmentTitles": titles or [],
                "route": {"steps": [{"name": "核稿", "mode": "SINGLE", "assigneeIds": [deputy]}]},
            }
        },
    )
    payload = data["data"]["createDocument"]
    assert payload["errors"] == [], payload
    return payload["document"]["id"]


async def upload(
    c: GraphQLClient,
    document_id: str,
    filename: str,
    data: bytes,
    *,
    title: str | None = None,
    attest: bool = True,
    key: str | None = None,
) -> dict[str, Any]:
    """POST a GraphQL multipart request (operations, map, file) and return the payload."""
    variables = {"input": {"documentId": document_id, "file": None, "attestNoStateSecret": attest}}
    if title is not None:
        variables["input"]["title"] = title
    if key is not None:
        variables["input"]["idempotencyKey"] = key
    resp = await c.http.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": UPLOAD, "variables": variables}),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": (filename, data, "application/octet-stream")},
        headers={"authorization": f"Bearer {c.token}"},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "errors" not in body, body
    return body["data"]["uploadAttachment"]


def codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def stored_files(settings: Settings) -> list[Path]:
    root = settings.attachment_root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def row_count(platform: Any) -> int:
    async with platform.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(AttachmentRow))).scalar_one())


async def test_upload_download_reorder_remove(users: dict[str, Any], settings: Settings, platform: Any) -> None:
    clerk = users["clerk"]
    doc = await new_document(users)
    pdf = make_pdf(BODY, title="值班安排")
    first = await upload(clerk, doc, "春节值班表.pdf", pdf)
    assert first["errors"] == []
    a = first["attachment"]
    assert a["title"] == "春节值班表"  # the file name without its extension
    assert (a["filename"], a["contentType"], a["size"]) == ("春节值班表.pdf", "application/pdf", len(pdf))
    assert a["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert (a["position"], a["attestedNoStateSecret"], a["uploadedBy"]) == (0, True, {"username": "clerk"})
    pk = GlobalID.from_id(a["id"]).node_id
    assert a["downloadPath"] == f"/files/attachments/{pk}"
    files = stored_files(settings)
    assert len(files) == 1
    assert files[0].read_bytes() == pdf
    assert files[0].name.startswith(a["sha256"])

    docx_bytes = make_docx(BODY)
    second = await upload(clerk, doc, "联系方式.docx", docx_bytes, title="值班联系方式")
    assert second["errors"] == []
    assert second["document"]["attachments"] == [
        {"title": "春节值班表", "position": 0},
        {"title": "值班联系方式", "position": 1},
    ]

    resp = await clerk.http.get(a["downloadPath"], headers={"authorization": f"Bearer {clerk.token}"})
    assert resp.status_code == 200
    assert resp.content == pdf
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["etag"] == f'"{a["sha256"]}"'
    assert resp.headers["content-disposition"] == (
        f"attachment; filename=\"_____.pdf\"; filename*=UTF-8''{quote('春节值班表.pdf', safe='')}"
    )
    assert resp.headers["x-content-type-options"] == "nosniff"
    cached = await clerk.http.get(
        a["downloadPath"], headers={"authorization": f"Bearer {clerk.token}", "if-none-match": resp.headers["etag"]}
    )
    assert cached.status_code == 304

    ids = [second["attachment"]["id"], a["id"]]
    reordered = (await clerk.execute(REORDER, {"doc": doc, "ids": ids}))["data"]["reorderAttachments"]
    assert reordered["errors"] == []
    assert reordered["document"]["attachments"] == [
        {"title": "值班联系方式", "position": 0},
        {"title": "春节值班表", "position": 1},
    ]
    bad = (await clerk.execute(REORDER, {"doc": doc, "ids": [a["id"]]}))["data"]["reorderAttachments"]
    assert codes(bad) == [("attachmentIds", "INVALID_VALUE")]

    removed = (await clerk.execute(REMOVE, {"id": second["attachment"]["id"]}))["data"]["removeAttachment"]
    assert removed["errors"] == []
    assert removed["document"]["attachments"] == [{"title": "春节值班表", "position": 0}]
    assert [p.read_bytes() for p in stored_files(settings)] == [pdf]  # the .docx file is gone

    history = (await clerk.execute(DOCUMENT, {"id": doc}))["data"]["document"]["history"]
    assert [(h["action"], h["attestedNoStateSecret"]) for h in history] == [
        ("CREATED", False),
        ("ATTACHMENT_ADDED", True),
        ("ATTACHMENT_ADDED", True),
        ("ATTACHMENTS_ORDERED", False),
        ("ATTACHMENT_REMOVED", False),
    ]


@pytest.mark.parametrize(
    ("filename", "data", "attest", "expected"),
    [
        ("值班表.txt", "值班表".encode(), False, ("attestNoStateSecret", "ATTESTATION_REQUIRED")),
        ("值班表.txt", "000123\n机密★10年\n值班表\n".encode("gb18030"), True, ("file", "STATE_SECRET_REFUSED")),
        ("值班表.pdf", make_pdf(["秘 密★5年", *BODY]), True, ("file", "STATE_SECRET_REFUSED")),
        ("值班表.docx", make_docx(BODY, category="绝密"), True, ("file", "STATE_SECRET_REFUSED")),
        ("setup.exe", b"MZ\x90\x00", True, ("file", "UNSUPPORTED_TYPE")),
        ("伪装.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, True, ("file", "UNSUPPORTED_TYPE")),
        ("空.txt", b"", True, ("file", "EMPTY_FILE")),
        ("大.txt", b"a" * (MAX_BYTES + 1), True, ("file", "TOO_LARGE")),
    ],
)
async def test_refused_uploads_leave_nothing(
    users: dict[str, Any],
    settings: Settings,
    platform: Any,
    filename: str,
    data: bytes,
    attest: bool,
    expected: tuple[str, str],
) -> None:
    doc = await new_document(users)
    payload = await upload(users["clerk"], doc, filename, data, attest=attest)
    assert codes(payload) == [expected]
    assert payload["attachment"] is None
    assert await row_count(platform) == 0
    assert stored_files(settings) == []


async def test_ordinary_secrecy_words_in_the_body_are_accepted(users: dict[str, Any]) -> None:
    doc = await new_document(users)
    text = "\n".join(BODY).encode()  # 做好保密工作, 商业秘密, 工作秘密
    payload = await upload(users["clerk"], doc, "../../etc/通知.txt", text)
    assert payload["errors"] == []
    assert payload["attachment"]["filename"] == "通知.txt"  # no path
    assert payload["attachment"]["contentType"] == "text/plain; charset=utf-8"


async def test_too_large_is_refused_before_parsing_when_far_over(users: dict[str, Any], settings: Settings) -> None:
    doc = await new_document(users)
    clerk = users["clerk"]
    resp = await clerk.http.post(
        "/graphql",
        data={"operations": json.dumps({"query": UPLOAD, "variables": {}}), "map": "{}"},
        files={"0": ("x.txt", b"a" * (settings.max_request_bytes + 1), "text/plain")},
        headers={"authorization": f"Bearer {clerk.token}"},
    )
    assert resp.status_code == 413
    unauthenticated = await clerk.http.post(
        "/graphql",
        data={"operations": json.dumps({"query": UPLOAD, "variables": {"input": {"documentId": doc}}})},
        files={"0": ("x.txt", b"abc", "text/plain")},
    )
    assert unauthenticated.status_code == 401


async def test_only_the_drafter_while_draft_or_returned(users: dict[str, Any], settings: Settings) -> None:
    doc = await new_document(users)
    other = await upload(users["finance_head"], doc, "a.txt", b"hello")
    assert codes(other) == [("documentId", "NOT_FOUND")]
    ok = await upload(users["clerk"], doc, "a.txt", b"hello")
    assert ok["errors"] == []
    dup = await upload(users["clerk"], doc, "b.txt", b"world", title="a")
    assert codes(dup) == [("title", "DUPLICATE")]
    await users["clerk"].execute(UPDATE_TITLES, {"id": doc, "t": ["a"]})
    submitted = (await users["clerk"].execute(SUBMIT, {"id": doc}))["data"]["submitDocument"]
    assert submitted["errors"] == []
    late = await upload(users["clerk"], doc, "c.txt", b"late")
    assert codes(late) == [("documentId", "INVALID_STATE")]
    removed = (await users["clerk"].execute(REMOVE, {"id": ok["attachment"]["id"]}))["data"]["removeAttachment"]
    assert codes(removed) == [("documentId", "INVALID_STATE")]
    assert len(stored_files(settings)) == 1


async def test_download_visibility(users: dict[str, Any]) -> None:
    clerk, deputy, outsider = users["clerk"], users["deputy"], users["finance_head"]
    doc = await new_document(users, ["值班表"])
    payload = await upload(clerk, doc, "值班表.txt", "值班安排".encode())
    path = payload["attachment"]["downloadPath"]

    def get(c: GraphQLClient | None, p: str = path) -> Any:
        headers = {"authorization": f"Bearer {c.token}"} if c else {}
        return clerk.http.get(p, headers=headers)

    assert (await get(None)).status_code == 401
    assert (await get(outsider)).status_code == 404
    assert (await get(deputy)).status_code == 404  # not on the route yet: no task
    assert (await get(clerk, "/files/attachments/999999")).status_code == 404
    assert (await get(clerk, "/files/attachments/abc")).status_code == 404
    assert (await clerk.execute(SUBMIT, {"id": doc}))["data"]["submitDocument"]["errors"] == []
    resp = await get(deputy)
    assert resp.status_code == 200
    assert resp.content == "值班安排".encode()
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert (await get(outsider)).status_code == 404
    seen = (await deputy.execute(DOCUMENT, {"id": doc}))["data"]["document"]["attachments"]
    assert [(a["title"], a["uploadedBy"]["username"]) for a in seen] == [("值班表", "clerk")]


async def test_submission_checks_the_attachment_list(users: dict[str, Any]) -> None:
    clerk = users["clerk"]
    doc = await new_document(users, ["值班表", "联系方式"])
    refused = (await clerk.execute(SUBMIT, {"id": doc}))["data"]["submitDocument"]
    assert codes(refused) == [("attachmentTitles", "ATTACHMENTS_MISMATCH")]
    assert "2 listed, 0 uploaded" in refused["errors"][0]["message"]
    await upload(clerk, doc, "联系方式.txt", b"12345")
    await upload(clerk, doc, "值班表.txt", b"abc")
    wrong_order = (await clerk.execute(SUBMIT, {"id": doc}))["data"]["submitDocument"]
    assert codes(wrong_order) == [("attachmentTitles", "ATTACHMENTS_MISMATCH")]
    assert "listed 值班表, uploaded 联系方式" in wrong_order["errors"][0]["message"]
    fixed = await clerk.execute(UPDATE_TITLES, {"id": doc, "t": ["联系方式", "值班表"]})
    assert fixed["data"]["updateDocument"]["errors"] == []
    ok = (await clerk.execute(SUBMIT, {"id": doc}))["data"]["submitDocument"]
    assert ok == {"document": {"status": "IN_REVIEW"}, "errors": []}


async def test_idempotent_upload_keeps_one_row_and_one_file(
    users: dict[str, Any], settings: Settings, platform: Any
) -> None:
    doc = await new_document(users)
    first = await upload(users["clerk"], doc, "a.txt", b"hello", key="upload-1")
    again = await upload(users["clerk"], doc, "a.txt", b"hello", key="upload-1")
    assert first["errors"] == again["errors"] == []
    assert again["attachment"] == first["attachment"]
    assert await row_count(platform) == 1
    assert len(stored_files(settings)) == 1
    reused = await upload(users["clerk"], doc, "b.txt", b"other", key="upload-1")
    assert codes(reused) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert len(stored_files(settings)) == 1


async def test_concurrent_uploads_respect_the_limit(users: dict[str, Any], settings: Settings, platform: Any) -> None:
    clerk = users["clerk"]
    doc = await new_document(users)
    for i in range(MAX_PER_DOCUMENT - 1):
        assert (await upload(clerk, doc, f"{i}.txt", f"file {i}".encode()))["errors"] == []
    twin = GraphQLClient(clerk.http, clerk.token)
    results = await asyncio.gather(upload(clerk, doc, "x.txt", b"one"), upload(twin, doc, "y.txt", b"two"))
    assert sorted(tuple(codes(r)) for r in results) == [(), (("file", "TOO_MANY"),)]
    assert await row_count(platform) == MAX_PER_DOCUMENT
    assert len(stored_files(settings)) == MAX_PER_DOCUMENT
    async with platform.db.read() as s:
        positions = list((await s.execute(select(AttachmentRow.position).order_by(AttachmentRow.position))).scalars())
        added = (
            await s.execute(
                select(func.count()).select_from(DocumentAction).where(DocumentAction.action == "attachment_added")
            )
        ).scalar_one()
    assert positions == list(range(MAX_PER_DOCUMENT))
    assert added == MAX_PER_DOCUMENT

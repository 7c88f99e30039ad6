"""Official documents through GraphQL over HTTP: drafting, the classification gate, routing,
tasks, visibility, pagination, query counts, notifications and concurrent approvals.

Every test runs on SQLite and on PostgreSQL (the ``database_url`` fixture). The demo
organization is loaded: clerk and deputy in the General Office, finance_head (财政厅),
drc_head (发展改革委), secretary_general (省政府), and admin who holds no post.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, update
from strawberry.relay import GlobalID

from documents.models import Document, DocumentAction, DocumentRecipient, RouteStep, StepAssignee, Task
from messaging.models import Notification
from office_api.auth import issue_access_token
from office_api.config import Settings
from office_api.org.models import OrgUnit, User
from tests.conftest import GraphQLClient, count_statements, enable_totp

# ---- GraphQL operations ----------------------------------------------------------------

DOCUMENT_FIELDS = """
  id title docType body urgency sensitivity status round version attestedNoStateSecretAt
  drafter { username }
  issuingUnit { code }
  mainRecipients { code }
  ccRecipients { code }
  steps { index name mode assignees { username } tasks { status round opinion assignee { username } } }
  currentStep { index name }
  history { action round stepIndex opinion attestedNoStateSecret actor { username } }
  opinions { action opinion actor { username } }
"""
CREATE = (
    "mutation($input: CreateDocumentInput!) { createDocument(input: $input) {"
    f" document {{ {DOCUMENT_FIELDS} }} errors {{ field code message }} }} }}"
)
SUBMIT = (
    "mutation($id: ID!, $attest: Boolean!) {"
    " submitDocument(input: {documentId: $id, attestNoStateSecret: $attest}) {"
    " document { id status round version currentStep { index name } } errors { field code } } }"
)
SUBMIT_TIMES = (
    "mutation($id: ID!) { submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {"
    " document { createdAt updatedAt attestedNoStateSecretAt } errors { field code } } }"
)
TASK_RESULT = """task { id status round opinion assignee { username } }
  document { id status round version currentStep { index name } } errors { field code }"""
APPROVE = f"mutation($id: ID!, $o: String) {{ approveTask(input: {{taskId: $id, opinion: $o}}) {{ {TASK_RESULT} }} }}"
RETURN = f"mutation($id: ID!, $o: String) {{ returnTask(input: {{taskId: $id, opinion: $o}}) {{ {TASK_RESULT} }} }}"
DOCUMENT = f"query($id: ID!) {{ document(id: $id) {{ {DOCUMENT_FIELDS} }} }}"
MY_TASKS = """query($first: Int, $after: String) { myTasks(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { id status round document { id title status } step { index name mode }
                        sender { username } assignee { username } } } } }"""
NOTIFICATIONS = """{ notifications(first: 100) { edges { node {
  sequence kind title body subjectType subjectId data } } } }"""

TITLE = "山东省人民政府办公厅关于做好2026年春节期间值班工作的通知"


# ---- helpers ---------------------------------------------------------------------------


@dataclass
class Demo:
    """Global ids of the demo accounts and units, read from the test database."""

    user_pks: dict[str, int]
    unit_pks: dict[str, int]

    def user(self, username: str) -> str:
        return str(GlobalID("User", str(self.user_pks[username])))

    def unit(self, code: str) -> str:
        return str(GlobalID("OrgUnit", str(self.unit_pks[code])))


@pytest.fixture
async def demo(platform: Any) -> Demo:
    async with platform.db.read() as s:
        users = {u: pk for pk, u in (await s.execute(select(User.id, User.username))).all()}
        units = {c: pk for pk, c in (await s.execute(select(OrgUnit.id, OrgUnit.code))).all()}
    return Demo(users, units)


@pytest.fixture
async def users(client: GraphQLClient, demo: Demo, settings: Settings, platform: Any) -> dict[str, GraphQLClient]:
    """A signed-in client per demo account.

    clerk signs in through the ``login`` mutation; the others get access tokens issued
    directly, because six password hashes (argon2) per test would dominate the run time
    (admin with two-factor sign-in turned on, as its role requires).
    """
    signed_in = {"clerk": await client.login("clerk")}
    await enable_totp(platform, "admin")
    for name in ("admin", "deputy", "finance_head", "drc_head", "secretary_general"):
        token, _ = issue_access_token(settings, demo.user_pks[name])
        signed_in[name] = GraphQLClient(client.http, token, client.lang)
    return signed_in


def step(demo: Demo, name: str, mode: str, *usernames: str) -> dict[str, Any]:
    return {"name": name, "mode": mode, "assigneeIds": [demo.user(u) for u in usernames]}


def standard_route(demo: Demo) -> dict[str, Any]:
    """核稿 by deputy, 会签 by finance_head and drc_head, 签发 by secretary_general."""
    return {
        "steps": [
            step(demo, "核稿", "SINGLE", "deputy"),
            step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head"),
            step(demo, "签发", "SINGLE", "secretary_general"),
        ]
    }


def doc_input(demo: Demo, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"title": TITLE, "docType": "NOTICE", "route": standard_route(demo)}
    data.update(overrides)
    return data


async def create(c: GraphQLClient, data: dict[str, Any]) -> dict[str, Any]:
    """The createDocument payload."""
    return (await c.execute(CREATE, {"input": data}))["data"]["createDocument"]


async def create_ok(c: GraphQLClient, data: dict[str, Any]) -> dict[str, Any]:
    payload = await create(c, data)
    assert payload["errors"] == [], payload
    return payload["document"]


async def submit(c: GraphQLClient, doc_id: str, attest: bool = True) -> dict[str, Any]:
    return (await c.execute(SUBMIT, {"id": doc_id, "attest": attest}))["data"]["submitDocument"]


async def submitted(c: GraphQLClient, data: dict[str, Any]) -> str:
    """Create and submit a document; its global id."""
    doc = await create_ok(c, data)
    payload = await submit(c, doc["id"])
    assert payload["errors"] == [], payload
    return doc["id"]


async def approve(c: GraphQLClient, task_id: str, opinion: str | None = None) -> dict[str, Any]:
    return (await c.execute(APPROVE, {"id": task_id, "o": opinion}))["data"]["approveTask"]


async def return_(c: GraphQLClient, task_id: str, opinion: str | None = None) -> dict[str, Any]:
    return (await c.execute(RETURN, {"id": task_id, "o": opinion}))["data"]["returnTask"]


async def my_tasks(c: GraphQLClient, first: int | None = 100, after: str | None = None) -> dict[str, Any]:
    data = await c.execute(MY_TASKS, {"first": first, "after": after})
    assert "errors" not in data, data
    return data["data"]["myTasks"]


async def task_of(c: GraphQLClient, doc_id: str) -> str:
    """The id of ``c``'s one pending task on ``doc_id``."""
    edges = [e for e in (await my_tasks(c))["edges"] if e["node"]["document"]["id"] == doc_id]
    assert len(edges) == 1, edges
    return edges[0]["node"]["id"]


async def get_document(c: GraphQLClient, doc_id: str) -> dict[str, Any] | None:
    data = await c.execute(DOCUMENT, {"id": doc_id})
    assert "errors" not in data, data
    return data["data"]["document"]


async def notifications(c: GraphQLClient) -> list[dict[str, Any]]:
    """``c``'s notifications, oldest first."""
    data = await c.execute(NOTIFICATIONS)
    assert "errors" not in data, data
    return [e["node"] for e in reversed(data["data"]["notifications"]["edges"])]


async def sequences(c: GraphQLClient) -> list[int]:
    return [n["sequence"] for n in await notifications(c)]


def codes(errors: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in errors]


async def snapshot(platform: Any) -> dict[str, Any]:
    """Every document-domain row and notification, to prove that a refused action changed nothing."""
    async with platform.db.read() as s:

        async def rows(*cols: Any) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in (await s.execute(select(*cols).order_by(cols[0]))).all()]

        return {
            "documents": await rows(
                Document.id, Document.status, Document.round, Document.current_step, Document.version
            ),
            "recipients": await rows(DocumentRecipient.id),
            "steps": await rows(RouteStep.id),
            "assignees": await rows(StepAssignee.id),
            "tasks": await rows(Task.id, Task.status, Task.opinion, Task.acted_at),
            "actions": await rows(DocumentAction.id),
            "notifications": await rows(Notification.id, Notification.user_id, Notification.seq),
        }


async def document_count(platform: Any) -> int:
    async with platform.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(Document))).scalar_one())


def cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


# ---- createDocument --------------------------------------------------------------------


async def test_create_document_returns_the_draft(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    data = doc_input(
        demo,
        body="各市人民政府，省政府各部门：\n现将有关事项通知如下。",
        urgency="URGENT",
        sensitivity="INTERNAL",
        mainRecipientIds=[demo.unit("370200"), demo.unit("370100")],
        ccRecipientIds=[demo.unit("370000-finance"), demo.unit("370000-drc")],
    )
    doc = await create_ok(users["clerk"], data)
    pk = int(GlobalID.from_id(doc["id"]).node_id)
    assert doc["id"] == str(GlobalID("Document", str(pk)))
    assert doc["attestedNoStateSecretAt"] is None
    del doc["id"], doc["attestedNoStateSecretAt"]
    assert doc == {
        "title": TITLE,
        "docType": "NOTICE",
        "body": "各市人民政府，省政府各部门：\n现将有关事项通知如下。",
        "urgency": "URGENT",
        "sensitivity": "INTERNAL",
        "status": "DRAFT",
        "round": 0,
        "version": 1,
        "drafter": {"username": "clerk"},
        "issuingUnit": {"code": "370000-general_office"},
        "mainRecipients": [{"code": "370200"}, {"code": "370100"}],
        "ccRecipients": [{"code": "370000-finance"}, {"code": "370000-drc"}],
        "steps": [
            {"index": 0, "name": "核稿", "mode": "SINGLE", "assignees": [{"username": "deputy"}], "tasks": []},
            {
                "index": 1,
                "name": "会签",
                "mode": "PARALLEL_ALL",
                "assignees": [{"username": "finance_head"}, {"username": "drc_head"}],
                "tasks": [],
            },
            {
                "index": 2,
                "name": "签发",
                "mode": "SINGLE",
                "assignees": [{"username": "secretary_general"}],
                "tasks": [],
            },
        ],
        "currentStep": None,
        "history": [
            {
                "action": "CREATED",
                "round": 0,
                "stepIndex": None,
                "opinion": None,
                "attestedNoStateSecret": False,
                "actor": {"username": "clerk"},
            }
        ],
        "opinions": [],
    }
    # The same document read back.
    again = await get_document(users["clerk"], str(GlobalID("Document", str(pk))))
    assert again is not None
    del again["id"], again["attestedNoStateSecretAt"]
    assert again == doc
    assert await document_count(platform) == 1


async def test_create_document_strips_title_and_step_names(users: dict[str, GraphQLClient], demo: Demo) -> None:
    data = doc_input(demo, title=f"  {TITLE}\n", route={"steps": [step(demo, " 核稿 ", "SINGLE", "deputy")]})
    doc = await create_ok(users["clerk"], data)
    assert doc["title"] == TITLE
    assert [s["name"] for s in doc["steps"]] == ["核稿"]
    assert (doc["body"], doc["urgency"], doc["sensitivity"]) == ("", "NORMAL", "PUBLIC")


async def test_title_of_exactly_200_characters_is_accepted(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc = await create_ok(users["clerk"], doc_input(demo, title="通" * 200))
    assert doc["title"] == "通" * 200


def _unknown_user() -> str:
    return str(GlobalID("User", "987654"))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(lambda d: {"title": ""}, [("title", "REQUIRED")], id="empty-title"),
        pytest.param(lambda d: {"title": " \u3000\n"}, [("title", "REQUIRED")], id="blank-title"),
        pytest.param(lambda d: {"title": "\u200b\u200d"}, [("title", "REQUIRED")], id="zero-width-title"),
        pytest.param(lambda d: {"title": "通" * 201}, [("title", "TOO_LONG")], id="long-title"),
        pytest.param(lambda d: {"route": {"steps": []}}, [("route.steps", "REQUIRED")], id="no-steps"),
        pytest.param(
            lambda d: {"route": {"steps": [step(d, "核稿", "SINGLE", "deputy")] * 21}},
            [("route.steps", "TOO_MANY")],
            id="too-many-steps",
        ),
        pytest.param(
            lambda d: {"route": {"steps": [step(d, "核稿", "SINGLE", "deputy", "finance_head")]}},
            [("route.steps.0.assigneeIds", "INVALID_VALUE")],
            id="single-with-two",
        ),
        pytest.param(
            lambda d: {"route": {"steps": [step(d, "核稿", "SINGLE", "deputy"), step(d, "会签", "PARALLEL_ALL")]}},
            [("route.steps.1.assigneeIds", "INVALID_VALUE")],
            id="parallel-with-none",
        ),
        pytest.param(
            lambda d: {
                "route": {
                    "steps": [
                        step(d, "核稿", "SINGLE", "deputy"),
                        {"name": "签发", "mode": "SINGLE", "assigneeIds": [_unknown_user()]},
                    ]
                }
            },
            [("route.steps.1.assigneeIds.0", "NOT_FOUND")],
            id="unknown-user",
        ),
        pytest.param(
            lambda d: {
                "route": {"steps": [step(d, "会签", "PARALLEL_ALL", "finance_head", "drc_head", "finance_head")]}
            },
            [("route.steps.0.assigneeIds", "DUPLICATE")],
            id="duplicate-assignee",
        ),
        pytest.param(
            lambda d: {"route": {"steps": [{"name": "", "mode": "SINGLE", "assigneeIds": [d.user("deputy")]}]}},
            [("route.steps.0.name", "REQUIRED")],
            id="empty-step-name",
        ),
        pytest.param(
            lambda d: {"route": {"steps": [{"name": "核" * 65, "mode": "SINGLE", "assigneeIds": [d.user("deputy")]}]}},
            [("route.steps.0.name", "TOO_LONG")],
            id="long-step-name",
        ),
        pytest.param(
            lambda d: {"mainRecipientIds": [d.unit("370100"), d.unit("370100")]},
            [("mainRecipientIds.1", "DUPLICATE")],
            id="duplicate-recipient",
        ),
        pytest.param(
            lambda d: {"mainRecipientIds": [d.unit("370100")], "ccRecipientIds": [d.unit("370100")]},
            [("ccRecipientIds.0", "DUPLICATE")],
            id="main-and-cc",
        ),
        pytest.param(
            lambda d: {"ccRecipientIds": [d.unit("370100"), str(GlobalID("OrgUnit", "987654"))]},
            [("ccRecipientIds.1", "NOT_FOUND")],
            id="unknown-unit",
        ),
        pytest.param(
            lambda d: {"body": "文" * 200_001},
            [("body", "TOO_LONG")],
            id="long-body",
        ),
        pytest.param(
            lambda d: {
                "title": "",
                "classification": "机密★10年",
                "route": {"steps": [step(d, "核稿", "SINGLE", "deputy", "drc_head")]},
            },
            [
                ("classification", "STATE_SECRET_REFUSED"),
                ("title", "REQUIRED"),
                ("route.steps.0.assigneeIds", "INVALID_VALUE"),
            ],
            id="every-problem-at-once",
        ),
    ],
)
async def test_create_document_validation(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any, overrides: Any, expected: list[tuple[str, str]]
) -> None:
    before = await snapshot(platform)
    payload = await create(users["clerk"], doc_input(demo, **overrides(demo)))
    assert payload["document"] is None
    assert codes(payload["errors"]) == expected
    assert await snapshot(platform) == before


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            lambda d: {"mainRecipientIds": [d.user("deputy")]},
            [("mainRecipientIds.0", "INVALID_VALUE")],
            id="user-as-unit",
        ),
        pytest.param(
            lambda d: {"route": {"steps": [{"name": "核稿", "mode": "SINGLE", "assigneeIds": [d.unit("370100")]}]}},
            [("route.steps.0.assigneeIds.0", "INVALID_VALUE")],
            id="unit-as-user",
        ),
        pytest.param(
            lambda d: {"ccRecipientIds": [d.unit("370100"), str(GlobalID("Document", "1"))]},
            [("ccRecipientIds.1", "INVALID_VALUE")],
            id="document-as-unit",
        ),
        pytest.param(
            lambda d: {
                "route": {"steps": [{"name": "核稿", "mode": "SINGLE", "assigneeIds": [str(GlobalID("User", "0"))]}]}
            },
            [("route.steps.0.assigneeIds.0", "INVALID_VALUE")],
            id="zero-pk",
        ),
        pytest.param(
            lambda d: {
                "route": {"steps": [{"name": "核稿", "mode": "SINGLE", "assigneeIds": [str(GlobalID("User", "x"))]}]}
            },
            [("route.steps.0.assigneeIds.0", "INVALID_VALUE")],
            id="non-numeric-pk",
        ),
        pytest.param(
            lambda d: {
                "route": {
                    "steps": [{"name": "核稿", "mode": "SINGLE", "assigneeIds": [str(GlobalID("User", str(2**40)))]}]
                }
            },
            [("route.steps.0.assigneeIds.0", "INVALID_VALUE")],
            id="pk-out-of-range",
        ),
    ],
)
async def test_wrong_type_global_ids_are_invalid_values(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any, overrides: Any, expected: list[tuple[str, str]]
) -> None:
    before = await snapshot(platform)
    payload = await create(users["clerk"], doc_input(demo, **overrides(demo)))
    assert payload["document"] is None
    assert codes(payload["errors"]) == expected
    assert await snapshot(platform) == before


@pytest.mark.parametrize(
    ("classification", "detail"),
    [
        ("秘密", "state-secret level 秘密"),
        ("秘 密", "state-secret level 秘密"),
        ("机密★", "state-secret level 机密"),
        ("机密★10年", "state-secret level 机密"),
        ("秘密★6个月", "state-secret level 秘密"),
        ("绝密★长期", "state-secret level 绝密"),
        ("机密★2030年12月31日解密", "state-secret level 机密"),
        ("机密　★　１０年", "state-secret level 机密"),
        ("TOP SECRET", "state-secret level TOPSECRET"),
        ("拟定密级", "pending classification"),
        ("待定密", "pending classification"),
        ("密电", "confidential channel"),
        ("机要", "confidential channel"),
    ],
)
async def test_state_secret_classification_is_refused_and_nothing_is_written(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any, classification: str, detail: str
) -> None:
    before = await snapshot(platform)
    payload = await create(users["clerk"], doc_input(demo, classification=classification))
    assert payload == {
        "document": None,
        "errors": [
            {
                "field": "classification",
                "code": "STATE_SECRET_REFUSED",
                "message": f"本平台为非涉密平台，不得处理涉及国家秘密的公文（{detail}）",
            }
        ],
    }
    assert await document_count(platform) == 0
    assert await snapshot(platform) == before


async def test_state_secret_message_in_english(client: GraphQLClient, demo: Demo) -> None:
    clerk = await client.login("clerk")
    clerk.lang = "en"
    payload = await create(clerk, doc_input(demo, classification="绝密★30年"))
    assert payload["errors"] == [
        {
            "field": "classification",
            "code": "STATE_SECRET_REFUSED",
            "message": "This platform is non-classified and refuses state-secret material (state-secret level 绝密)",
        }
    ]


@pytest.mark.parametrize("classification", [None, "", "内部", " 内部 ", "工作秘密", "公开"])
async def test_non_secret_classification_is_accepted(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any, classification: str | None
) -> None:
    doc = await create_ok(users["clerk"], doc_input(demo, classification=classification))
    assert doc["status"] == "DRAFT"
    assert await document_count(platform) == 1


async def test_secret_words_in_the_body_are_not_checked(users: dict[str, GraphQLClient], demo: Demo) -> None:
    body = (
        "各单位要做好保密工作，依法保护商业秘密和个人隐私；涉及工作秘密的材料按规定管理。机密、秘密、绝密文件不得上网。"
    )
    doc = await create_ok(users["clerk"], doc_input(demo, title="关于做好保密工作的通知", body=body))
    assert (doc["title"], doc["body"], doc["status"]) == ("关于做好保密工作的通知", body, "DRAFT")


@pytest.mark.parametrize(
    ("title", "body", "field"),
    [
        ("机密★关于做好值班工作的通知", "正文", "title"),
        ("关于做好值班工作的通知", "机 密 ★ 1 年\n关于……", "body"),
        ("关于做好值班工作的通知", "\n000123\n秘密\n特急\n正文", "body"),
    ],
)
async def test_a_state_secret_mark_in_the_title_or_body_header_is_refused(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any, title: str, body: str, field: str
) -> None:
    # The same rule as an uploaded file's header lines (DOMAIN §3.3 item 2), on create and update.
    before = await snapshot(platform)
    payload = await create(users["clerk"], doc_input(demo, title=title, body=body))
    assert codes(payload["errors"]) == [(field, "STATE_SECRET_REFUSED")]
    assert await snapshot(platform) == before
    doc = await create_ok(users["clerk"], doc_input(demo))
    update = """mutation($input: UpdateDocumentInput!) { updateDocument(input: $input) { errors { field code } } }"""
    changed = await users["clerk"].execute(
        update, {"input": {"documentId": doc["id"], field: {"title": title, "body": body}[field]}}
    )
    assert codes(changed["data"]["updateDocument"]["errors"]) == [(field, "STATE_SECRET_REFUSED")]


async def test_inactive_assignee_and_recipient_are_refused(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(User).where(User.username == "drc_head").values(is_active=False))
        await uow.session.execute(update(OrgUnit).where(OrgUnit.code == "370200").values(is_active=False))
    before = await snapshot(platform)
    payload = await create(users["clerk"], doc_input(demo, mainRecipientIds=[demo.unit("370100"), demo.unit("370200")]))
    assert payload["document"] is None
    assert codes(payload["errors"]) == [("mainRecipientIds.1", "INACTIVE"), ("route.steps.1.assigneeIds.1", "INACTIVE")]
    assert await snapshot(platform) == before


async def test_user_without_position_gets_no_position(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    before = await snapshot(platform)
    payload = await create(users["admin"], doc_input(demo))
    assert payload == {
        "document": None,
        "errors": [{"field": None, "code": "NO_POSITION", "message": "您在任何单位都没有职务"}],
    }
    assert await snapshot(platform) == before


async def test_create_document_requires_authentication(client: GraphQLClient, demo: Demo, platform: Any) -> None:
    data = await client.execute(CREATE, {"input": doc_input(demo)})
    assert data["data"] is None
    assert data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await document_count(platform) == 0


# ---- submitDocument --------------------------------------------------------------------


async def test_submit_requires_the_attestation(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    doc = await create_ok(users["clerk"], doc_input(demo))
    before = await snapshot(platform)
    payload = await submit(users["clerk"], doc["id"], attest=False)
    assert payload == {"document": None, "errors": [{"field": "attestNoStateSecret", "code": "ATTESTATION_REQUIRED"}]}
    assert await snapshot(platform) == before
    after = await get_document(users["clerk"], doc["id"])
    assert after is not None
    assert (after["status"], after["round"], after["version"]) == ("DRAFT", 0, 1)
    assert (await my_tasks(users["deputy"]))["totalCount"] == 0


async def test_submit_opens_the_first_step(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc = await create_ok(users["clerk"], doc_input(demo))
    payload = await submit(users["clerk"], doc["id"])
    assert payload == {
        "document": {
            "id": doc["id"],
            "status": "IN_REVIEW",
            "round": 1,
            "version": 2,
            "currentStep": {"index": 0, "name": "核稿"},
        },
        "errors": [],
    }
    tasks = await my_tasks(users["deputy"])
    assert tasks["totalCount"] == 1
    node = tasks["edges"][0]["node"]
    assert GlobalID.from_id(node["id"]).type_name == "Task"
    del node["id"]
    assert node == {
        "status": "PENDING",
        "round": 1,
        "document": {"id": doc["id"], "title": TITLE, "status": "IN_REVIEW"},
        "step": {"index": 0, "name": "核稿", "mode": "SINGLE"},
        "sender": {"username": "clerk"},
        "assignee": {"username": "deputy"},
    }
    # Only the first step is open.
    for name in ("finance_head", "drc_head", "secretary_general", "clerk"):
        assert (await my_tasks(users[name]))["totalCount"] == 0
    read = await get_document(users["clerk"], doc["id"])
    assert read is not None
    assert read["attestedNoStateSecretAt"] is not None
    assert read["history"] == [
        {
            "action": "CREATED",
            "round": 0,
            "stepIndex": None,
            "opinion": None,
            "attestedNoStateSecret": False,
            "actor": {"username": "clerk"},
        },
        {
            "action": "SUBMITTED",
            "round": 1,
            "stepIndex": 0,
            "opinion": None,
            "attestedNoStateSecret": True,
            "actor": {"username": "clerk"},
        },
    ]
    assert [s["tasks"] for s in read["steps"]] == [
        [{"status": "PENDING", "round": 1, "opinion": None, "assignee": {"username": "deputy"}}],
        [],
        [],
    ]


async def test_submit_records_the_attestation_instant(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc = await create_ok(users["clerk"], doc_input(demo))
    payload = (await users["clerk"].execute(SUBMIT_TIMES, {"id": doc["id"]}))["data"]["submitDocument"]
    assert payload["errors"] == []
    times = payload["document"]
    created = dt.datetime.fromisoformat(times["createdAt"])
    updated = dt.datetime.fromisoformat(times["updatedAt"])
    attested = dt.datetime.fromisoformat(times["attestedNoStateSecretAt"])
    assert created.utcoffset() == updated.utcoffset() == attested.utcoffset() == dt.timedelta(0)
    assert created <= attested <= updated
    read = await get_document(users["clerk"], doc["id"])
    assert read is not None
    assert dt.datetime.fromisoformat(read["attestedNoStateSecretAt"]) == attested


async def test_submitting_twice_is_invalid_state(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo))
    before = await snapshot(platform)
    payload = await submit(users["clerk"], doc_id)
    assert payload == {"document": None, "errors": [{"field": "documentId", "code": "INVALID_STATE"}]}
    assert await snapshot(platform) == before
    assert (await my_tasks(users["deputy"]))["totalCount"] == 1


async def test_only_the_drafter_can_submit(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    doc = await create_ok(users["clerk"], doc_input(demo))
    before = await snapshot(platform)
    for name in ("deputy", "admin"):
        payload = await submit(users[name], doc["id"])
        assert payload == {"document": None, "errors": [{"field": "documentId", "code": "NOT_FOUND"}]}
    missing = await submit(users["clerk"], str(GlobalID("Document", "987654")))
    assert missing == {"document": None, "errors": [{"field": "documentId", "code": "NOT_FOUND"}]}
    wrong_type = await submit(users["clerk"], demo.user("clerk"))
    assert wrong_type == {"document": None, "errors": [{"field": "documentId", "code": "INVALID_VALUE"}]}
    assert await snapshot(platform) == before


# ---- approveTask -----------------------------------------------------------------------


async def test_approving_someone_elses_task_is_refused(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo))
    task_id = await task_of(users["deputy"], doc_id)
    before = await snapshot(platform)
    for name in ("clerk", "finance_head", "admin"):
        payload = await approve(users[name], task_id)
        assert payload == {"task": None, "document": None, "errors": [{"field": "taskId", "code": "NOT_YOUR_TASK"}]}
        payload = await return_(users[name], task_id, "不同意")
        assert payload == {"task": None, "document": None, "errors": [{"field": "taskId", "code": "NOT_YOUR_TASK"}]}
    assert await snapshot(platform) == before


async def test_approving_unknown_or_malformed_task(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    await submitted(users["clerk"], doc_input(demo))
    before = await snapshot(platform)
    missing = await approve(users["deputy"], str(GlobalID("Task", "987654")))
    assert missing["errors"] == [{"field": "taskId", "code": "NOT_FOUND"}]
    wrong_type = await approve(users["deputy"], demo.user("deputy"))
    assert wrong_type["errors"] == [{"field": "taskId", "code": "INVALID_VALUE"}]
    assert await snapshot(platform) == before


async def test_retried_approval_is_already_handled_and_changes_nothing(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo))
    task_id = await task_of(users["deputy"], doc_id)
    first = await approve(users["deputy"], task_id, "同意")
    assert first["errors"] == []
    before = await snapshot(platform)
    retry = await approve(users["deputy"], task_id, "同意")
    assert retry == {"task": None, "document": None, "errors": [{"field": "taskId", "code": "TASK_ALREADY_HANDLED"}]}
    back = await return_(users["deputy"], task_id, "退回")
    assert back["errors"] == [{"field": "taskId", "code": "TASK_ALREADY_HANDLED"}]
    assert await snapshot(platform) == before


async def test_opinion_too_long_is_refused(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo))
    task_id = await task_of(users["deputy"], doc_id)
    before = await snapshot(platform)
    payload = await approve(users["deputy"], task_id, "意" * 2001)
    assert payload["errors"] == [{"field": "opinion", "code": "TOO_LONG"}]
    assert await snapshot(platform) == before
    ok = await approve(users["deputy"], task_id, "意" * 2000)
    assert ok["errors"] == []
    assert ok["task"]["opinion"] == "意" * 2000
    # The drafter's notification quotes the start of it; the history keeps all of it.
    assert [n["body"] for n in await notifications(users["clerk"])] == ["李副主任：" + "意" * 199 + "…"]
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert doc["opinions"] == [{"action": "APPROVED", "opinion": "意" * 2000, "actor": {"username": "deputy"}}]


async def test_full_route_to_approval(users: dict[str, GraphQLClient], demo: Demo) -> None:
    clerk = users["clerk"]
    doc_id = await submitted(clerk, doc_input(demo))

    # 核稿 (single): deputy approves, the 会签 step opens for both countersigners.
    t_deputy = await task_of(users["deputy"], doc_id)
    payload = await approve(users["deputy"], t_deputy, "  请财政厅、发展改革委会签。 ")
    assert payload == {
        "task": {
            "id": t_deputy,
            "status": "APPROVED",
            "round": 1,
            "opinion": "请财政厅、发展改革委会签。",
            "assignee": {"username": "deputy"},
        },
        "document": {
            "id": doc_id,
            "status": "IN_REVIEW",
            "round": 1,
            "version": 3,
            "currentStep": {"index": 1, "name": "会签"},
        },
        "errors": [],
    }
    assert (await my_tasks(users["deputy"]))["totalCount"] == 0
    finance = (await my_tasks(users["finance_head"]))["edges"]
    drc = (await my_tasks(users["drc_head"]))["edges"]
    assert [e["node"]["sender"] for e in finance + drc] == [{"username": "deputy"}] * 2
    assert [e["node"]["step"] for e in finance + drc] == [{"index": 1, "name": "会签", "mode": "PARALLEL_ALL"}] * 2

    # 会签 (parallel_all): the first approval waits for the second.
    payload = await approve(users["finance_head"], finance[0]["node"]["id"])
    assert payload["errors"] == []
    assert payload["task"]["opinion"] is None
    assert payload["document"]["currentStep"] == {"index": 1, "name": "会签"}
    assert payload["document"]["version"] == 4
    assert (await my_tasks(users["secretary_general"]))["totalCount"] == 0
    payload = await approve(users["drc_head"], drc[0]["node"]["id"], "同意")
    assert payload["errors"] == []
    assert payload["document"]["currentStep"] == {"index": 2, "name": "签发"}
    sg = (await my_tasks(users["secretary_general"]))["edges"]
    assert len(sg) == 1
    assert sg[0]["node"]["sender"] == {"username": "drc_head"}

    # 签发 (single, last): the document is approved.
    payload = await approve(users["secretary_general"], sg[0]["node"]["id"], "同意印发")
    assert payload["errors"] == []
    assert payload["document"] == {
        "id": doc_id,
        "status": "APPROVED",
        "round": 1,
        "version": 6,
        "currentStep": None,
    }
    for name in ("deputy", "finance_head", "drc_head", "secretary_general"):
        assert (await my_tasks(users[name]))["totalCount"] == 0

    doc = await get_document(clerk, doc_id)
    assert doc is not None
    assert doc["opinions"] == [
        {"action": "APPROVED", "opinion": "请财政厅、发展改革委会签。", "actor": {"username": "deputy"}},
        {"action": "APPROVED", "opinion": None, "actor": {"username": "finance_head"}},
        {"action": "APPROVED", "opinion": "同意", "actor": {"username": "drc_head"}},
        {"action": "APPROVED", "opinion": "同意印发", "actor": {"username": "secretary_general"}},
    ]
    assert [
        (h["action"], h["round"], h["stepIndex"], h["opinion"], h["actor"]["username"]) for h in doc["history"]
    ] == [
        ("CREATED", 0, None, None, "clerk"),
        ("SUBMITTED", 1, 0, None, "clerk"),
        ("APPROVED", 1, 0, "请财政厅、发展改革委会签。", "deputy"),
        ("APPROVED", 1, 1, None, "finance_head"),
        ("APPROVED", 1, 1, "同意", "drc_head"),
        ("APPROVED", 1, 2, "同意印发", "secretary_general"),
        ("COMPLETED", 1, None, None, "secretary_general"),
    ]
    assert [[(t["assignee"]["username"], t["status"], t["round"]) for t in s["tasks"]] for s in doc["steps"]] == [
        [("deputy", "APPROVED", 1)],
        [("finance_head", "APPROVED", 1), ("drc_head", "APPROVED", 1)],
        [("secretary_general", "APPROVED", 1)],
    ]
    assert doc["currentStep"] is None

    # The drafter heard of every approval and of the end, numbered without gaps.
    notes = await notifications(clerk)
    assert [(n["sequence"], n["kind"], n["title"]) for n in notes] == [
        (1, "TASK_APPROVED", f"已核稿：{TITLE}"),
        (2, "TASK_APPROVED", f"已会签：{TITLE}"),
        (3, "TASK_APPROVED", f"已会签：{TITLE}"),
        (4, "TASK_APPROVED", f"已签发：{TITLE}"),
        (5, "DOCUMENT_APPROVED", f"已办结：{TITLE}"),
    ]
    assert [n["body"] for n in notes] == [
        "李副主任：请财政厅、发展改革委会签。",
        "赵厅长：同意",
        "钱主任：同意",
        "孙秘书长：同意印发",
        "公文已完成全部审批环节",
    ]
    # Approving after the end is refused.
    again = await approve(users["secretary_general"], sg[0]["node"]["id"])
    assert again["errors"] == [{"field": "taskId", "code": "TASK_ALREADY_HANDLED"}]
    assert await submit(clerk, doc_id) == {
        "document": None,
        "errors": [{"field": "documentId", "code": "INVALID_STATE"}],
    }


async def test_task_step_lists_its_assignees_and_tasks(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo))
    assert (await approve(users["deputy"], await task_of(users["deputy"], doc_id)))["errors"] == []
    query = """{ myTasks { edges { node { step { index name mode assignees { username }
                 tasks { status round assignee { username } } } } } } }"""
    data = await users["drc_head"].execute(query)
    assert data["data"]["myTasks"]["edges"] == [
        {
            "node": {
                "step": {
                    "index": 1,
                    "name": "会签",
                    "mode": "PARALLEL_ALL",
                    "assignees": [{"username": "finance_head"}, {"username": "drc_head"}],
                    "tasks": [
                        {"status": "PENDING", "round": 1, "assignee": {"username": "finance_head"}},
                        {"status": "PENDING", "round": 1, "assignee": {"username": "drc_head"}},
                    ],
                }
            }
        }
    ]


async def test_two_mutations_in_one_request_each_see_their_own_result(
    users: dict[str, GraphQLClient], demo: Demo
) -> None:
    """Mutations of one request run in order; the second payload must not reuse what the first read."""
    route = {"steps": [step(demo, "核稿", "SINGLE", "clerk"), step(demo, "签发", "SINGLE", "clerk")]}
    doc_id = await submitted(users["deputy"], doc_input(demo, route=route))
    first = await task_of(users["clerk"], doc_id)
    second = str(GlobalID("Task", str(int(GlobalID.from_id(first).node_id) + 1)))  # the next task opened
    fields = "errors { code } document { status history { action } steps { tasks { status } } }"
    query = f"""mutation($a: ID!, $b: ID!) {{
      a: approveTask(input: {{taskId: $a}}) {{ {fields} }}
      b: approveTask(input: {{taskId: $b}}) {{ {fields} }}
    }}"""
    data = (await users["clerk"].execute(query, {"a": first, "b": second}))["data"]
    assert data["a"] == {
        "errors": [],
        "document": {
            "status": "IN_REVIEW",
            "history": [{"action": "CREATED"}, {"action": "SUBMITTED"}, {"action": "APPROVED"}],
            "steps": [{"tasks": [{"status": "APPROVED"}]}, {"tasks": [{"status": "PENDING"}]}],
        },
    }
    assert data["b"] == {
        "errors": [],
        "document": {
            "status": "APPROVED",
            "history": [
                {"action": "CREATED"},
                {"action": "SUBMITTED"},
                {"action": "APPROVED"},
                {"action": "APPROVED"},
                {"action": "COMPLETED"},
            ],
            "steps": [{"tasks": [{"status": "APPROVED"}]}, {"tasks": [{"status": "APPROVED"}]}],
        },
    }


async def test_parallel_all_of_three_completes_on_the_third_approval(
    users: dict[str, GraphQLClient], demo: Demo
) -> None:
    route = {
        "steps": [
            step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head", "deputy"),
            step(demo, "签发", "SINGLE", "secretary_general"),
        ]
    }
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    for i, name in enumerate(("drc_head", "deputy", "finance_head")):
        payload = await approve(users[name], await task_of(users[name], doc_id))
        assert payload["errors"] == []
        expected_step = {"index": 0, "name": "会签"} if i < 2 else {"index": 1, "name": "签发"}
        assert payload["document"]["currentStep"] == expected_step
        assert (await my_tasks(users["secretary_general"]))["totalCount"] == (1 if i == 2 else 0)


# ---- returnTask ------------------------------------------------------------------------


async def test_return_requires_an_opinion(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo))
    task_id = await task_of(users["deputy"], doc_id)
    before = await snapshot(platform)
    for opinion in (None, "", "  \n", "\u200b", " \ufeff\u2060 "):  # zero-width characters are not an opinion
        payload = await return_(users["deputy"], task_id, opinion)
        assert payload == {"task": None, "document": None, "errors": [{"field": "opinion", "code": "REQUIRED"}]}
    assert await snapshot(platform) == before


async def test_return_cancels_siblings_and_resubmission_starts_round_two(
    users: dict[str, GraphQLClient], demo: Demo
) -> None:
    clerk = users["clerk"]
    doc_id = await submitted(clerk, doc_input(demo))
    assert (await approve(users["deputy"], await task_of(users["deputy"], doc_id)))["errors"] == []
    t_finance = await task_of(users["finance_head"], doc_id)
    t_drc = await task_of(users["drc_head"], doc_id)

    payload = await return_(users["finance_head"], t_finance, "请补充资金来源说明。")
    assert payload == {
        "task": {
            "id": t_finance,
            "status": "RETURNED",
            "round": 1,
            "opinion": "请补充资金来源说明。",
            "assignee": {"username": "finance_head"},
        },
        "document": {"id": doc_id, "status": "RETURNED", "round": 1, "version": 4, "currentStep": None},
        "errors": [],
    }
    # The sibling's task is cancelled and gone from drc_head's to-do list.
    assert (await my_tasks(users["drc_head"]))["totalCount"] == 0
    cancelled = await approve(users["drc_head"], t_drc)
    assert cancelled["errors"] == [{"field": "taskId", "code": "TASK_ALREADY_HANDLED"}]
    doc = await get_document(clerk, doc_id)
    assert doc is not None
    assert doc["status"] == "RETURNED"
    assert doc["currentStep"] is None
    assert [[(t["assignee"]["username"], t["status"], t["opinion"]) for t in s["tasks"]] for s in doc["steps"]] == [
        [("deputy", "APPROVED", None)],
        [("finance_head", "RETURNED", "请补充资金来源说明。"), ("drc_head", "CANCELLED", None)],
        [],
    ]
    assert doc["opinions"][-1] == {
        "action": "RETURNED",
        "opinion": "请补充资金来源说明。",
        "actor": {"username": "finance_head"},
    }
    assert [(h["action"], h["stepIndex"]) for h in doc["history"]][-1] == ("RETURNED", 1)

    # Notifications: the drafter hears of the return, drc_head of the cancellation.
    assert [(n["sequence"], n["kind"]) for n in await notifications(clerk)] == [
        (1, "TASK_APPROVED"),
        (2, "DOCUMENT_RETURNED"),
    ]
    drc_notes = await notifications(users["drc_head"])
    assert [(n["sequence"], n["kind"]) for n in drc_notes] == [(1, "TASK_ASSIGNED"), (2, "TASK_CANCELLED")]
    assert drc_notes[1]["data"] == {"taskId": t_drc, "round": 1}

    # A second return is refused.
    again = await return_(users["finance_head"], t_finance, "再次退回")
    assert again["errors"] == [{"field": "taskId", "code": "TASK_ALREADY_HANDLED"}]

    # Resubmission: round 2 starts at step 0 with a fresh task.
    assert await submit(clerk, doc_id, attest=False) == {
        "document": None,
        "errors": [{"field": "attestNoStateSecret", "code": "ATTESTATION_REQUIRED"}],
    }
    payload = await submit(clerk, doc_id)
    assert payload["errors"] == []
    assert payload["document"] == {
        "id": doc_id,
        "status": "IN_REVIEW",
        "round": 2,
        "version": 5,
        "currentStep": {"index": 0, "name": "核稿"},
    }
    deputy_tasks = (await my_tasks(users["deputy"]))["edges"]
    assert len(deputy_tasks) == 1
    assert deputy_tasks[0]["node"]["round"] == 2
    doc = await get_document(clerk, doc_id)
    assert doc is not None
    assert [[(t["assignee"]["username"], t["status"], t["round"]) for t in s["tasks"]] for s in doc["steps"]] == [
        [("deputy", "APPROVED", 1), ("deputy", "PENDING", 2)],
        [("finance_head", "RETURNED", 1), ("drc_head", "CANCELLED", 1)],
        [],
    ]
    assert [(h["action"], h["round"], h["stepIndex"]) for h in doc["history"]] == [
        ("CREATED", 0, None),
        ("SUBMITTED", 1, 0),
        ("APPROVED", 1, 0),
        ("RETURNED", 1, 1),
        ("SUBMITTED", 2, 0),
    ]

    # Round 2 runs to the end; round-1 tasks stay as they were.
    assert (await approve(users["deputy"], await task_of(users["deputy"], doc_id)))["errors"] == []
    for name in ("finance_head", "drc_head"):
        tasks = (await my_tasks(users[name]))["edges"]
        assert [e["node"]["round"] for e in tasks] == [2]
        assert (await approve(users[name], tasks[0]["node"]["id"]))["errors"] == []
    final = await approve(users["secretary_general"], await task_of(users["secretary_general"], doc_id))
    assert final["document"]["status"] == "APPROVED"
    assert final["document"]["round"] == 2


async def test_return_from_the_first_step(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo))
    payload = await return_(users["deputy"], await task_of(users["deputy"], doc_id), "标题不规范")
    assert payload["errors"] == []
    assert payload["document"]["status"] == "RETURNED"
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert (doc["history"][-1]["action"], doc["history"][-1]["stepIndex"]) == ("RETURNED", 0)
    assert (await notifications(users["clerk"]))[-1]["body"] == "李副主任：标题不规范"


# ---- visibility ------------------------------------------------------------------------


async def test_document_visibility(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy"), step(demo, "签发", "SINGLE", "secretary_general")]}
    doc = await create_ok(users["clerk"], doc_input(demo, route=route))
    doc_id = doc["id"]
    # A draft: only its drafter sees it; not even the people named on the route.
    assert (await get_document(users["clerk"], doc_id)) is not None
    for name in ("deputy", "secretary_general", "drc_head", "admin"):
        assert await get_document(users[name], doc_id) is None
    # Submitted: the first step's assignee sees it; the later step's does not yet.
    assert (await submit(users["clerk"], doc_id))["errors"] == []
    assert (await get_document(users["deputy"], doc_id))["status"] == "IN_REVIEW"  # type: ignore[index]
    for name in ("secretary_general", "drc_head", "admin"):
        assert await get_document(users[name], doc_id) is None
    # Once the task reaches the signer, they see it; others still do not, the system admin included.
    assert (await approve(users["deputy"], await task_of(users["deputy"], doc_id)))["errors"] == []
    assert (await get_document(users["secretary_general"], doc_id))["status"] == "IN_REVIEW"  # type: ignore[index]
    assert (await get_document(users["deputy"], doc_id)) is not None
    for name in ("drc_head", "finance_head", "admin"):
        assert await get_document(users[name], doc_id) is None
    # An unknown id looks the same as an invisible one.
    assert await get_document(users["clerk"], str(GlobalID("Document", "987654"))) is None


async def test_document_query_errors(users: dict[str, GraphQLClient], demo: Demo, client: GraphQLClient) -> None:
    wrong = await users["clerk"].execute(DOCUMENT, {"id": demo.user("clerk")})
    assert wrong["data"] == {"document": None}
    assert wrong["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "id"}
    anonymous = await client.execute(DOCUMENT, {"id": str(GlobalID("Document", "1"))})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # Beyond the 32-bit INTEGER keys: refused before reaching PostgreSQL (which would fail the query).
    huge = await users["clerk"].execute(DOCUMENT, {"id": str(GlobalID("Document", str(2**31)))})
    assert huge == {
        "data": {"document": None},
        "errors": [
            {
                "message": "取值无效：not a Document id",
                "locations": huge["errors"][0]["locations"],
                "path": ["document"],
                "extensions": {"code": "INVALID_VALUE", "field": "id"},
            }
        ],
    }
    largest = await users["clerk"].execute(DOCUMENT, {"id": str(GlobalID("Document", str(2**31 - 1)))})
    assert largest == {"data": {"document": None}}


# ---- myTasks ---------------------------------------------------------------------------


async def _documents_for(
    users: dict[str, GraphQLClient], demo: Demo, count: int, assignee: str = "deputy"
) -> list[str]:
    """``count`` submitted documents whose first step is ``assignee``'s."""
    route = {"steps": [step(demo, "核稿", "SINGLE", assignee)]}
    return [await submitted(users["clerk"], doc_input(demo, title=f"通知{i}", route=route)) for i in range(count)]


async def test_my_tasks_pagination(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_ids = await _documents_for(users, demo, 5)
    deputy = users["deputy"]
    newest_first = [f"通知{i}" for i in reversed(range(5))]

    page1 = await my_tasks(deputy, first=2)
    assert page1["totalCount"] == 5
    assert [e["node"]["document"]["title"] for e in page1["edges"]] == newest_first[:2]
    info1 = page1["pageInfo"]
    assert (info1["hasNextPage"], info1["hasPreviousPage"]) == (True, False)
    assert info1["startCursor"] == page1["edges"][0]["cursor"]
    assert info1["endCursor"] == page1["edges"][-1]["cursor"]

    page2 = await my_tasks(deputy, first=2, after=info1["endCursor"])
    assert [e["node"]["document"]["title"] for e in page2["edges"]] == newest_first[2:4]
    assert (page2["pageInfo"]["hasNextPage"], page2["pageInfo"]["hasPreviousPage"]) == (True, True)
    assert page2["totalCount"] == 5

    page3 = await my_tasks(deputy, first=2, after=page2["pageInfo"]["endCursor"])
    assert [e["node"]["document"]["title"] for e in page3["edges"]] == newest_first[4:]
    assert page3["pageInfo"]["hasNextPage"] is False

    # The ids are strictly decreasing (newest first), with no repeats across pages.
    ids = [int(GlobalID.from_id(e["node"]["id"]).node_id) for p in (page1, page2, page3) for e in p["edges"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 5

    # The largest cursor key is valid and comes before every task.
    top = await my_tasks(deputy, first=2, after=cursor(f"k:{2**31 - 1}"))
    assert [e["node"]["document"]["title"] for e in top["edges"]] == newest_first[:2]

    # Default page size, and the whole list in one page.
    everything = await my_tasks(deputy, first=None)
    assert len(everything["edges"]) == 5
    assert everything["pageInfo"]["hasNextPage"] is False
    assert (await my_tasks(deputy, first=5))["pageInfo"]["hasNextPage"] is False

    # Acting on a task removes it from the list and the count.
    assert (await approve(deputy, await task_of(deputy, doc_ids[4])))["errors"] == []
    after_one = await my_tasks(deputy, first=2)
    assert after_one["totalCount"] == 4
    assert [e["node"]["document"]["title"] for e in after_one["edges"]] == ["通知3", "通知2"]
    # Another user's list is theirs only.
    assert (await my_tasks(users["clerk"]))["totalCount"] == 0


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_my_tasks_first_out_of_range(users: dict[str, GraphQLClient], first: int) -> None:
    data = await users["deputy"].execute(MY_TASKS, {"first": first})
    assert data["data"] is None
    assert len(data["errors"]) == 1
    assert data["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "first"}
    assert data["errors"][0]["path"] == ["myTasks"]


@pytest.mark.parametrize(
    "after",
    [
        "not a cursor",
        "!!!",
        "",
        cursor("x:5"),
        cursor("k:abc"),
        cursor("k5"),
        cursor("k:" + "9" * 30),
        cursor("k:" + str(2**31)),
        "游标",
    ],
)
async def test_my_tasks_malformed_cursor(users: dict[str, GraphQLClient], after: str) -> None:
    data = await users["deputy"].execute(MY_TASKS, {"first": 2, "after": after})
    assert data["data"] is None
    assert data["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "after"}


async def test_my_tasks_requires_authentication(client: GraphQLClient) -> None:
    data = await client.execute(MY_TASKS, {"first": 2})
    assert data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


TASK_LIST_DEEP = """query($first: Int) { myTasks(first: $first) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node {
    id status round createdAt actedAt opinion
    sender { username displayName }
    assignee { username }
    step { index name mode assignees { username } tasks { status } }
    document {
      id title status round version docType urgency
      drafter { displayName } issuingUnit { name }
      mainRecipients { code } ccRecipients { code }
      currentStep { index name assignees { username } }
      steps { index name assignees { username } tasks { status assignee { username } } }
      history { action actor { username } }
      opinions { opinion }
    }
  } } } }"""


async def test_my_tasks_query_count_does_not_grow_with_page_size(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    # Twelve documents, each with its own route and recipients, all waiting for deputy.
    for i in range(12):
        route = {
            "steps": [
                step(demo, "核稿", "SINGLE", "deputy"),
                step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head"),
            ]
        }
        data = doc_input(demo, title=f"通知{i}", route=route, mainRecipientIds=[demo.unit("370100")], ccRecipientIds=[])
        await submitted(users["clerk"], data)
    deputy = users["deputy"]
    counts = {}
    for first in (2, 10):
        with count_statements(platform) as statements:
            data = await deputy.execute(TASK_LIST_DEEP, {"first": first})
        assert "errors" not in data, data
        assert len(data["data"]["myTasks"]["edges"]) == first
        counts[first] = len(statements)
    assert counts[2] == counts[10], counts
    # A sanity bound: a few statements per loader batch (SQLite adds a BEGIN to each read session).
    assert counts[10] <= 32, counts


# ---- notifications ---------------------------------------------------------------------


async def test_submit_notifies_the_assignee(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo))
    task_id = await task_of(users["deputy"], doc_id)
    assert await notifications(users["deputy"]) == [
        {
            "sequence": 1,
            "kind": "TASK_ASSIGNED",
            "title": f"待办：{TITLE}",
            "body": f"王文书 送来《{TITLE}》，请核稿",
            "subjectType": "Document",
            "subjectId": doc_id,
            "data": {"taskId": task_id, "stepIndex": 0, "round": 1},
        }
    ]
    assert await notifications(users["clerk"]) == []
    assert await notifications(users["finance_head"]) == []


async def test_notification_sequences_are_gapless_per_user(users: dict[str, GraphQLClient], demo: Demo) -> None:
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy")]}
    for i in range(3):
        await submitted(users["clerk"], doc_input(demo, title=f"通知{i}", route=route))
    assert await sequences(users["deputy"]) == [1, 2, 3]
    # Refused actions in between allocate no number.
    task_id = (await my_tasks(users["deputy"]))["edges"][0]["node"]["id"]
    assert (await approve(users["clerk"], task_id))["errors"][0]["code"] == "NOT_YOUR_TASK"
    assert (await return_(users["deputy"], task_id))["errors"][0]["code"] == "REQUIRED"
    await submitted(users["clerk"], doc_input(demo, title="通知3", route=route))
    assert await sequences(users["deputy"]) == [1, 2, 3, 4]
    for edge in (await my_tasks(users["deputy"]))["edges"]:
        assert (await approve(users["deputy"], edge["node"]["id"]))["errors"] == []
    assert await sequences(users["clerk"]) == list(range(1, 9))  # TASK_APPROVED + DOCUMENT_APPROVED per document


async def test_refused_action_writes_no_notification(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo))
    task_id = await task_of(users["deputy"], doc_id)
    before = await snapshot(platform)
    assert (await approve(users["finance_head"], task_id))["errors"][0]["code"] == "NOT_YOUR_TASK"
    assert (await submit(users["clerk"], doc_id))["errors"][0]["code"] == "INVALID_STATE"
    assert await snapshot(platform) == before
    assert await sequences(users["deputy"]) == [1]
    assert await sequences(users["clerk"]) == []
    assert await sequences(users["finance_head"]) == []


# ---- concurrency -----------------------------------------------------------------------


def countersign_route(demo: Demo) -> dict[str, Any]:
    return {
        "steps": [
            step(demo, "会签", "PARALLEL_ALL", "finance_head", "drc_head"),
            step(demo, "签发", "SINGLE", "secretary_general"),
        ]
    }


async def test_countersigners_approving_at_the_same_instant(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    rounds = 3
    for i in range(rounds):
        doc_id = await submitted(users["clerk"], doc_input(demo, title=f"会签{i}", route=countersign_route(demo)))
        t_finance = await task_of(users["finance_head"], doc_id)
        t_drc = await task_of(users["drc_head"], doc_id)
        results = await asyncio.gather(approve(users["finance_head"], t_finance), approve(users["drc_head"], t_drc))
        assert [r["errors"] for r in results] == [[], []]
        # Exactly one task opened for the next step.
        sg = [e for e in (await my_tasks(users["secretary_general"]))["edges"] if e["node"]["document"]["id"] == doc_id]
        assert len(sg) == 1
        assert sg[0]["node"]["step"] == {"index": 1, "name": "签发", "mode": "SINGLE"}
        assert sg[0]["node"]["sender"]["username"] in {"finance_head", "drc_head"}
        doc = await get_document(users["clerk"], doc_id)
        assert doc is not None
        assert (doc["status"], doc["version"], doc["currentStep"]) == ("IN_REVIEW", 4, {"index": 1, "name": "签发"})
        assert [len(s["tasks"]) for s in doc["steps"]] == [2, 1]
        assert sorted(h["actor"]["username"] for h in doc["history"] if h["action"] == "APPROVED") == [
            "drc_head",
            "finance_head",
        ]
    async with platform.db.read() as s:
        step_one_tasks = (
            await s.execute(
                select(func.count())
                .select_from(Task)
                .join(RouteStep, RouteStep.id == Task.step_id)
                .where(RouteStep.index == 1)
            )
        ).scalar_one()
    assert step_one_tasks == rounds
    assert (await my_tasks(users["secretary_general"]))["totalCount"] == rounds
    # Gapless sequences for everybody concerned.
    assert await sequences(users["clerk"]) == list(range(1, 2 * rounds + 1))
    assert await sequences(users["secretary_general"]) == list(range(1, rounds + 1))
    assert await sequences(users["finance_head"]) == list(range(1, rounds + 1))
    assert await sequences(users["drc_head"]) == list(range(1, rounds + 1))


async def test_same_task_approved_twice_concurrently(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    route = {"steps": [step(demo, "核稿", "SINGLE", "deputy"), step(demo, "签发", "SINGLE", "secretary_general")]}
    doc_id = await submitted(users["clerk"], doc_input(demo, route=route))
    task_id = await task_of(users["deputy"], doc_id)
    results = await asyncio.gather(approve(users["deputy"], task_id, "同意"), approve(users["deputy"], task_id, "同意"))
    assert sorted(codes(r["errors"]) for r in results) == [[], [("taskId", "TASK_ALREADY_HANDLED")]]
    assert (await my_tasks(users["secretary_general"]))["totalCount"] == 1
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert (doc["version"], [h["action"] for h in doc["history"]]) == (3, ["CREATED", "SUBMITTED", "APPROVED"])
    assert await sequences(users["clerk"]) == [1]
    assert await sequences(users["secretary_general"]) == [1]


async def test_double_tapped_submit_opens_one_round(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc = await create_ok(users["clerk"], doc_input(demo))
    results = await asyncio.gather(submit(users["clerk"], doc["id"]), submit(users["clerk"], doc["id"]))
    assert sorted(codes(r["errors"]) for r in results) == [[], [("documentId", "INVALID_STATE")]]
    tasks = await my_tasks(users["deputy"])
    assert (tasks["totalCount"], tasks["edges"][0]["node"]["round"]) == (1, 1)
    read = await get_document(users["clerk"], doc["id"])
    assert read is not None
    assert (read["round"], read["version"], [h["action"] for h in read["history"]]) == (1, 2, ["CREATED", "SUBMITTED"])
    assert await sequences(users["deputy"]) == [1]


async def test_approve_and_return_racing_on_one_step(users: dict[str, GraphQLClient], demo: Demo) -> None:
    doc_id = await submitted(users["clerk"], doc_input(demo, route=countersign_route(demo)))
    t_finance = await task_of(users["finance_head"], doc_id)
    t_drc = await task_of(users["drc_head"], doc_id)
    approved, returned = await asyncio.gather(
        approve(users["finance_head"], t_finance), return_(users["drc_head"], t_drc, "不同意")
    )
    assert returned["errors"] == []
    assert approved["errors"] in ([], [{"field": "taskId", "code": "TASK_ALREADY_HANDLED"}])
    doc = await get_document(users["clerk"], doc_id)
    assert doc is not None
    assert (doc["status"], doc["currentStep"]) == ("RETURNED", None)
    assert (await my_tasks(users["secretary_general"]))["totalCount"] == 0
    assert (await my_tasks(users["finance_head"]))["totalCount"] == 0
    assert await sequences(users["clerk"]) == list(range(1, len(await notifications(users["clerk"])) + 1))


async def test_cross_document_approvals_do_not_deadlock(users: dict[str, GraphQLClient], demo: Demo) -> None:
    """Two approvals that each notify the other document's drafter and next assignee, in opposite
    user order, run at once: both succeed (counters are locked in one global order)."""
    for i in range(3):
        doc_a = await submitted(
            users["clerk"],
            doc_input(
                demo,
                title=f"甲{i}",
                route={"steps": [step(demo, "核稿", "SINGLE", "finance_head"), step(demo, "签发", "SINGLE", "deputy")]},
            ),
        )
        doc_b = await submitted(
            users["deputy"],
            doc_input(
                demo,
                title=f"乙{i}",
                route={"steps": [step(demo, "核稿", "SINGLE", "drc_head"), step(demo, "签发", "SINGLE", "clerk")]},
            ),
        )
        results = await asyncio.gather(
            approve(users["finance_head"], await task_of(users["finance_head"], doc_a)),
            approve(users["drc_head"], await task_of(users["drc_head"], doc_b)),
        )
        assert [r["errors"] for r in results] == [[], []]
    # clerk: TASK_APPROVED for each 甲 and TASK_ASSIGNED for each 乙; deputy the reverse.
    assert await sequences(users["clerk"]) == list(range(1, 7))
    assert await sequences(users["deputy"]) == list(range(1, 7))

"""Reusable set-ups for document tests: signed-off (签发) documents, fast or through the API.

:func:`signed_off_documents` writes APPROVED documents with a completed one-step sign-off
route straight through the ORM (a route step marked sign-off, its approved task in round 1,
the SIGNED_OFF and COMPLETED history entries, and the sign-off fields), as approving the
route would leave them: registration and everything after it accept them.
:func:`sign_off_via_api` drives a draft through createDocument → submitDocument → approveTask
as real users do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from strawberry.relay import GlobalID

from documents import signoff
from documents.models import Document, DocumentAction, RouteStep, StepAssignee, Task
from documents.types import ActionKind, DocumentStatus, StepKind, StepMode, TaskStatus
from office_api.org.duties import resolve_duty
from office_api.org.models import Duty
from tests.conftest import GraphQLClient

#: A fixed sign-off instant: 2026-06-01 10:00 in Asia/Shanghai, so 成文日期 2026-06-01.
SIGNED_AT = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)

CREATE = """mutation($input: CreateDocumentInput!) { createDocument(input: $input) {
  document { id } errors { field code message } } }"""
SUBMIT = """mutation($id: ID!) { submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {
  document { id status } errors { field code } } }"""
MY_TASKS = "{ myTasks(first: 50) { edges { node { id document { id } } } } }"
APPROVE = """mutation($id: ID!) { approveTask(input: {taskId: $id}) {
  document { status signedOffAt issuedOn } errors { code } } }"""


def gid(kind: str, pk: int) -> str:
    return str(GlobalID(kind, str(pk)))


def pk_of(global_id: str) -> int:
    return int(GlobalID.from_id(global_id).node_id)


async def signed_off_documents(
    platform: Any,
    drafter_id: int,
    unit_id: int,
    count: int,
    doc_type: str = "notice",
    *,
    signer_id: int | None = None,
    body: str = "正文",
    signed_at: dt.datetime = SIGNED_AT,
) -> list[int]:
    """``count`` APPROVED documents of ``unit_id`` drafted by ``drafter_id`` and signed off by
    ``signer_id`` (default: the head of ``unit_id``) at ``signed_at``; their ids in order."""
    async with platform.db.unit_of_work() as uow:
        s = uow.session
        if signer_id is None:
            (signer_id,) = (await resolve_duty(s, unit_id, Duty.HEAD))[:1]
        docs = [
            Document(
                title=f"关于第{i}项工作的通知",
                doc_type=doc_type,
                body=body,
                status=DocumentStatus.APPROVED.value,
                drafter_id=drafter_id,
                issuing_unit_id=unit_id,
                round=1,
                signed_off_by_id=signer_id,
                signed_off_at=signed_at,
                signed_body_sha256=signoff.body_hash(body),
                signed_version=1,
                version=1,
                issued_on=signoff.local_date(signed_at),
            )
            for i in range(count)
        ]
        s.add_all(docs)
        await s.flush()
        steps = [
            RouteStep(document_id=d.id, index=0, name="签发", mode=StepMode.SINGLE.value, kind=StepKind.SIGN_OFF.value)
            for d in docs
        ]
        s.add_all(steps)
        await s.flush()
        s.add_all(StepAssignee(step_id=st.id, user_id=signer_id, position=0) for st in steps)
        tasks = [
            Task(
                document_id=d.id,
                step_id=st.id,
                round=1,
                assignee_id=signer_id,
                sender_id=drafter_id,
                status=TaskStatus.APPROVED.value,
                created_at=signed_at,
                acted_at=signed_at,
            )
            for d, st in zip(docs, steps, strict=True)
        ]
        s.add_all(tasks)
        await s.flush()
        for d, t in zip(docs, tasks, strict=True):
            for action, actor in (
                (ActionKind.CREATED, drafter_id),
                (ActionKind.SUBMITTED, drafter_id),
                (ActionKind.APPROVED, signer_id),
                (ActionKind.SIGNED_OFF, signer_id),
                (ActionKind.COMPLETED, signer_id),
            ):
                s.add(
                    DocumentAction(
                        document_id=d.id,
                        actor_id=actor,
                        action=action.value,
                        round=0 if action is ActionKind.CREATED else 1,
                        step_index=0 if action in (ActionKind.APPROVED, ActionKind.SIGNED_OFF) else None,
                        task_id=t.id if action is ActionKind.APPROVED else None,
                        attested_no_state_secret=action is ActionKind.SUBMITTED,
                        created_at=signed_at,
                    )
                )
        await s.flush()
        return [d.id for d in docs]


async def sign_off_via_api(
    drafter: GraphQLClient,
    signer: GraphQLClient,
    signer_pk: int,
    *,
    title: str = "山东省人民政府办公厅关于做好值班工作的通知",
    body: str = "正文",
    extra: dict[str, Any] | None = None,
) -> str:
    """A document created by ``drafter`` with a one-step sign-off route to ``signer`` (user
    ``signer_pk``), submitted and signed off through GraphQL; returns its global id."""
    route = {"steps": [{"name": "签发", "mode": "SINGLE", "signOff": True, "assigneeIds": [gid("User", signer_pk)]}]}
    created = await drafter.execute(
        CREATE, {"input": {"title": title, "docType": "NOTICE", "body": body, "route": route, **(extra or {})}}
    )
    payload = created["data"]["createDocument"]
    assert payload["errors"] == [], payload
    doc_id = payload["document"]["id"]
    submitted = (await drafter.execute(SUBMIT, {"id": doc_id}))["data"]["submitDocument"]
    assert submitted["errors"] == [], submitted
    tasks = (await signer.execute(MY_TASKS))["data"]["myTasks"]["edges"]
    task = next(t["node"]["id"] for t in tasks if t["node"]["document"]["id"] == doc_id)
    approved = (await signer.execute(APPROVE, {"id": task}))["data"]["approveTask"]
    assert approved["errors"] == [], approved
    assert approved["document"]["status"] == "APPROVED", approved
    assert approved["document"]["signedOffAt"] is not None, approved
    return doc_id

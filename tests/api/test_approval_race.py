"""Races on one task, with real concurrent HTTP requests, on SQLite and PostgreSQL: 50 trials
each of (1) one user approving the same task from two HTTP clients, (2) two approvers of an
ANY_ONE step approving at once, (3) an approval racing the sender's withdrawal. Every trial ends
with exactly one winner, one typed error for the loser, one history entry and one notification
for the drafter. Each trial's document is written directly through the ORM (already in review)
so that the trials stay fast; only the race goes through the API.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from sqlalchemy import func, select
from strawberry.relay import GlobalID

from documents.models import Document, DocumentAction, RouteStep, StepAssignee, Task
from messaging.models import Notification
from office_api.auth import issue_access_token
from office_api.config import Settings
from office_api.db import utcnow
from office_api.org.models import OrgUnit
from tests.api import test_documents as shared
from tests.api.test_documents import APPROVE, Demo, codes
from tests.conftest import GraphQLClient

demo = shared.demo
users = shared.users

TRIALS = 50
WITHDRAW = (
    """mutation($id: ID!) { withdrawDocument(input: {documentId: $id}) { document { id } errors { field code } } }"""
)


async def in_review(
    platform: Any, demo: Demo, title: str, steps: list[tuple[str, list[str]]], *, approved_first: bool = False
) -> tuple[int, dict[str, int]]:
    """A document drafted by clerk, in review at step 0 with a pending task per assignee; with
    ``approved_first``, deputy has approved step 0 (history and task as approve_task writes them)
    and step 1 is open. Returns the document id and the pending task ids by username."""
    pks = demo.user_pks
    async with platform.db.unit_of_work() as uow:
        s = uow.session
        unit = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == "370000-general_office"))).scalar_one()
        doc = Document(
            title=title,
            doc_type="notice",
            status="in_review",
            drafter_id=pks["clerk"],
            issuing_unit_id=unit,
            current_step=1 if approved_first else 0,
            round=1,
            attested_no_state_secret_at=utcnow(),
        )
        s.add(doc)
        await s.flush()
        rows = []
        for i, (mode, names) in enumerate(steps):
            rs = RouteStep(document_id=doc.id, index=i, name=f"环节{i}", mode=mode)
            s.add(rs)
            await s.flush()
            rows.append(rs)
            s.add_all(StepAssignee(step_id=rs.id, user_id=pks[n], position=p) for p, n in enumerate(names))
        s.add(DocumentAction(document_id=doc.id, actor_id=pks["clerk"], action="submitted", round=1, step_index=0))
        open_index, sender = 0, pks["clerk"]
        if approved_first:
            at = utcnow() - dt.timedelta(seconds=1)
            done = Task(
                document_id=doc.id,
                step_id=rows[0].id,
                round=1,
                assignee_id=pks["deputy"],
                sender_id=pks["clerk"],
                status="approved",
                acted_at=at,
                created_at=at - dt.timedelta(seconds=1),
            )
            s.add(done)
            await s.flush()
            s.add(
                DocumentAction(
                    document_id=doc.id,
                    actor_id=pks["deputy"],
                    action="approved",
                    round=1,
                    step_index=0,
                    task_id=done.id,
                )
            )
            open_index, sender = 1, pks["deputy"]
        tasks = {
            n: Task(document_id=doc.id, step_id=rows[open_index].id, round=1, assignee_id=pks[n], sender_id=sender)
            for n in steps[open_index][1]
        }
        s.add_all(tasks.values())
        await s.flush()
        return doc.id, {n: t.id for n, t in tasks.items()}


async def outcome(platform: Any, doc_id: int, action: str) -> tuple[int, int]:
    """(history entries of ``action``, notifications to the drafter) about the document."""
    async with platform.db.read() as s:
        entries = (
            await s.execute(
                select(func.count())
                .select_from(DocumentAction)
                .where(DocumentAction.document_id == doc_id, DocumentAction.action == action)
            )
        ).scalar_one()
        told = (
            await s.execute(
                select(func.count())
                .select_from(Notification)
                .join(Document, Document.drafter_id == Notification.user_id)
                .where(Document.id == doc_id, Notification.subject_id == doc_id)
            )
        ).scalar_one()
    return entries, told


def tid(pk: int) -> str:
    return str(GlobalID("Task", str(pk)))


def error_codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def test_same_user_approving_from_two_clients(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any, app: Any, settings: Settings
) -> None:
    token, _ = issue_access_token(settings, demo.user_pks["deputy"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as other_http:
        phone = users["deputy"]
        desktop = GraphQLClient(other_http, token)
        for i in range(TRIALS):
            steps = [("single", ["deputy"]), ("single", ["secretary_general"])]
            doc_id, tasks = await in_review(platform, demo, f"同人{i}", steps)
            variables = {"id": tid(tasks["deputy"]), "o": "同意"}
            results = await asyncio.gather(phone.execute(APPROVE, variables), desktop.execute(APPROVE, variables))
            payloads = [r["data"]["approveTask"] for r in results]
            assert sorted(len(p["errors"]) for p in payloads) == [0, 1], payloads
            assert codes(next(p for p in payloads if p["errors"])["errors"]) == [("taskId", "TASK_ALREADY_HANDLED")]
            assert await outcome(platform, doc_id, "approved") == (1, 1)


async def test_two_approvers_of_an_any_one_step(users: dict[str, GraphQLClient], demo: Demo, platform: Any) -> None:
    for i in range(TRIALS):
        doc_id, tasks = await in_review(
            platform, demo, f"或签{i}", [("any_one", ["deputy", "finance_head"]), ("single", ["secretary_general"])]
        )
        results = await asyncio.gather(
            users["deputy"].execute(APPROVE, {"id": tid(tasks["deputy"])}),
            users["finance_head"].execute(APPROVE, {"id": tid(tasks["finance_head"])}),
        )
        payloads = [r["data"]["approveTask"] for r in results]
        assert sorted(len(p["errors"]) for p in payloads) == [0, 1], payloads
        assert error_codes(next(p for p in payloads if p["errors"])) == ["TASK_ALREADY_HANDLED"]
        assert await outcome(platform, doc_id, "approved") == (1, 1)
        async with platform.db.read() as s:
            statuses = sorted((await s.execute(select(Task.status).where(Task.document_id == doc_id))).scalars())
        assert statuses == ["approved", "cancelled", "pending"]  # the winner, the loser, the next step


async def test_approval_racing_the_senders_withdrawal(
    users: dict[str, GraphQLClient], demo: Demo, platform: Any
) -> None:
    wins = {"approve": 0, "withdraw": 0}
    for i in range(TRIALS):
        doc_id, tasks = await in_review(
            platform,
            demo,
            f"撤回{i}",
            [("single", ["deputy"]), ("single", ["finance_head"]), ("single", ["secretary_general"])],
            approved_first=True,
        )
        approved, withdrawn = await asyncio.gather(
            users["finance_head"].execute(APPROVE, {"id": tid(tasks["finance_head"])}),
            users["deputy"].execute(WITHDRAW, {"id": str(GlobalID("Document", str(doc_id)))}),
        )
        a, w = approved["data"]["approveTask"], withdrawn["data"]["withdrawDocument"]
        if not a["errors"]:
            assert codes(w["errors"]) == [("documentId", "WITHDRAW_TOO_LATE")]
            wins["approve"] += 1
            assert await outcome(platform, doc_id, "approved") == (2, 1)
            assert await outcome(platform, doc_id, "withdrawn") == (0, 1)
        else:
            assert codes(a["errors"]) == [("taskId", "TASK_ALREADY_HANDLED")]
            assert w["errors"] == []
            wins["withdraw"] += 1
            assert await outcome(platform, doc_id, "withdrawn") == (1, 1)
            assert await outcome(platform, doc_id, "approved") == (1, 1)
    assert sum(wins.values()) == TRIALS

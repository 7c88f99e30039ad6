"""The README walkthrough (examples/walkthrough.py) against a live demo server."""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
import sys

import pytest

from tests.conftest import DEMO_PASSWORD
from tests.e2e.live import ROOT, LiveServer, load_example

pytestmark = pytest.mark.e2e

#: The whole walkthrough must finish well within this (it takes a few seconds).
RUN_TIMEOUT = 60.0


def gid(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def expected_notifications(first: int) -> list[dict]:
    course = [
        ("TASK_APPROVED", 0, 1),  # deputy: 核稿
        ("DOCUMENT_RETURNED", 1, 1),  # finance_head returns during 会签
        ("TASK_APPROVED", 0, 2),  # deputy again, after the resubmission
        ("TASK_APPROVED", 1, 2),  # the two countersigners, in either order
        ("TASK_APPROVED", 1, 2),
        ("TASK_APPROVED", 2, 2),  # secretary_general: 签发
        ("DOCUMENT_APPROVED", None, None),
    ]
    return [
        {"sequence": first + i, "kind": kind, "stepIndex": step, "round": rnd}
        for i, (kind, step, rnd) in enumerate(course)
    ]


async def test_walkthrough_from_draft_to_dispatch_and_replies(live_server: LiveServer) -> None:
    walkthrough = load_example("walkthrough")
    lines: list[str] = []
    summary = await asyncio.wait_for(
        walkthrough.run(live_server.graphql_url, DEMO_PASSWORD, log=lines.append), RUN_TIMEOUT
    )
    title = "山东省人民政府办公厅关于做好2027年元旦春节期间安全生产工作的通知"
    assert summary == {
        "document_id": gid("Document", 1),
        "title": title,
        "status": "DISPATCHED",
        "doc_number": summary["doc_number"],
        "round": 2,
        "after": 0,
        "notifications": expected_notifications(1),
        "replies": [
            {"sequence": 8, "kind": "INCOMING_RECEIVED", "title": f"济南市人民政府已签收：{title}"},
            {"sequence": 9, "kind": "INCOMING_REPLIED", "title": f"济南市人民政府已答复：{title}"},
            {"sequence": 10, "kind": "INCOMING_RECEIVED", "title": f"青岛市人民政府已签收：{title}"},
            {"sequence": 11, "kind": "INCOMING_REPLIED", "title": f"青岛市人民政府已答复：{title}"},
            {"sequence": 12, "kind": "INCOMING_RECEIVED", "title": f"淄博市人民政府已签收：{title}"},
            {"sequence": 13, "kind": "INCOMING_REPLIED", "title": f"淄博市人民政府已答复：{title}"},
        ],
        "distribution": {"total": 16, "received": 3, "replied": 3, "returned": 0, "pending": 13},
    }
    assert re.fullmatch(r"鲁政办发〔20\d\d〕1号", summary["doc_number"]), summary["doc_number"]
    assert any("🔔 clerk ← #7 DOCUMENT_APPROVED" in line for line in lines), lines
    assert "  3 of 16 cities have received; 3 have replied; 13 not yet signed for" in lines, lines
    live_server.assert_no_errors()

    if live_server.backend != "sqlite":
        return  # the command-line checks below do not depend on the database
    # The script as a user runs it, on the database the first run left behind: the clerk
    # already has 13 notifications, so it subscribes after #13 and gets #14–#26.
    script = [sys.executable, str(ROOT / "examples" / "walkthrough.py"), "--url", live_server.graphql_url]
    done = await asyncio.to_thread(
        subprocess.run,
        script,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    number = summary["doc_number"].replace("1号", "2号")
    assert done.stdout.splitlines()[-1] == (
        f"walkthrough OK: document {gid('Document', 2)} {number} DISPATCHED to 16 cities, 3 received, 3 replied; "
        "clerk received #14 TASK_APPROVED, #15 DOCUMENT_RETURNED, #16 TASK_APPROVED, #17 TASK_APPROVED, "
        "#18 TASK_APPROVED, #19 TASK_APPROVED, #20 DOCUMENT_APPROVED, #21 INCOMING_RECEIVED, #22 INCOMING_REPLIED, "
        "#23 INCOMING_RECEIVED, #24 INCOMING_REPLIED, #25 INCOMING_RECEIVED, #26 INCOMING_REPLIED"
    )

    # A wrong password: a clear message and exit status 1.
    refused = await asyncio.to_thread(
        subprocess.run,
        [*script, "--password", "not-the-password"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.startswith("walkthrough FAILED: clerk cannot sign in (is --password right?)"), refused.stderr

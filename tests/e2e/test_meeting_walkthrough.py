"""The README meeting walkthrough (examples/meeting_walkthrough.py) against a live demo server,
on the real wall clock: run three times on one database (a room, the other room, no room)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import DEMO_PASSWORD
from tests.dispatch_helpers import CITIES
from tests.e2e.live import ROOT, LiveServer, load_example

pytestmark = pytest.mark.e2e

#: The whole walkthrough must finish well within this (about 12 s on a busy 2-CPU machine).
RUN_TIMEOUT = 60.0
TITLE = "全省元旦春节安全生产工作推进会"
CITY_NAMES = {
    "370100": "济南市",
    "370200": "青岛市",
    "370300": "淄博市",
    "370400": "枣庄市",
    "370500": "东营市",
    "370600": "烟台市",
    "370700": "潍坊市",
    "370800": "济宁市",
    "370900": "泰安市",
    "371000": "威海市",
    "371100": "日照市",
    "371300": "临沂市",
    "371400": "德州市",
    "371500": "聊城市",
    "371600": "滨州市",
    "371700": "菏泽市",
}


def gid(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def expected_summary(n: int, room: str | None) -> dict[str, Any]:
    """The summary of the n-th run on a fresh demo database (meeting n, minutes document n)."""
    attended = ["赵厅长"] + [
        "青岛市文书（代青岛市副市长）" if code == "370200" else f"{CITY_NAMES[code]}副市长"
        for code in CITIES
        if code != "371700"  # 菏泽's leader is absent
    ]
    return {
        "meeting_id": gid("Meeting", n),
        "title": TITLE,
        "room": room,
        "booking": "APPROVED" if room else None,
        "invitations": 19,
        "replies": {
            "people": 20,
            "pending": 0,
            "accepted": 18,
            "declined": 1,
            "delegated": 1,
            "late": 0,
            "units": 16,
            "unitsPending": 0,
            "unitsNominated": 16,
            "unitsDeclined": 0,
        },
        "leave": [
            {"user": "drc_head", "substitute": None, "state": "APPROVED"},
            {"user": "leader_370200", "substitute": "clerk_370200", "state": "APPROVED"},
        ],
        "check_ins": 17,
        "refused": {"username": "leader_370200", "code": "NOT_AN_ATTENDEE"},
        "attendance": {"expected": 19, "present": 16, "late": 0, "onLeave": 1, "substitute": 1, "absent": 1},
        "absent": ["leader_371700"],
        "substitutes": [{"username": "clerk_370200", "onBehalfOf": "leader_370200"}],
        "minutes": {
            "document_id": gid("Document", n),
            "title": f"{TITLE}纪要",
            "status": "DRAFT",
            "matters": 3,
            "lines": {"出席": "，".join(attended), "请假": "钱主任", "列席": "李副主任"},
        },
        "supervision": {"title": f"{TITLE} 议定事项（一）", "lead": "山东省应急管理厅", "units": 17},
        "ics_attendees": 36,
    }


def final_line(n: int, room: str) -> str:
    return (
        f"meeting walkthrough OK: meeting {gid('Meeting', n)} in {room}, 19 expected: 16 present, 0 late, "
        f"1 on leave, 1 substitute, 1 absent; minutes {gid('Document', n)} with 3 decided matters, the first supervised"
    )


async def run_script(live_server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    script = [sys.executable, str(ROOT / "examples" / "meeting_walkthrough.py"), "--url", live_server.graphql_url]
    return await asyncio.to_thread(
        subprocess.run, [*script, *args], capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


async def test_meeting_walkthrough_from_notice_to_minutes(live_server: LiveServer) -> None:
    walkthrough = load_example("meeting_walkthrough")
    lines: list[str] = []
    summary = await asyncio.wait_for(
        walkthrough.run(live_server.graphql_url, DEMO_PASSWORD, log=lines.append), RUN_TIMEOUT
    )
    assert summary == expected_summary(1, "第一会议室")
    assert any(line.startswith("  青岛市副市长 scans it too → NOT_AN_ATTENDEE: ") for line in lines), lines
    assert "  请假：钱主任" in lines, lines
    assert "  列席：李副主任" in lines, lines
    assert f"  出席：{summary['minutes']['lines']['出席']}" in lines, lines
    assert any(line.startswith("  地点 济南市历下区省府前街1号 省政府1号楼第一会议室") for line in lines), lines
    live_server.assert_no_errors()

    if live_server.backend != "sqlite":
        return  # the runs below do not depend on the database
    # The script as a user runs it, on the database the first run left behind: 第一会议室 is
    # taken for the next two hours, so it books the executive meeting room (the clerk answers
    # for the General Office: approved at once).
    done = await run_script(live_server)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == final_line(2, "省政府常务会议室")

    # A third run finds no free room with video conferencing: the meeting is held by video.
    lines.clear()
    third = await asyncio.wait_for(
        walkthrough.run(live_server.graphql_url, DEMO_PASSWORD, log=lines.append), RUN_TIMEOUT
    )
    assert third == expected_summary(3, None)
    assert "  地点 视频会议，各市设分会场 https://meet.example.gov.cn/r/20270101-safety" in lines, lines
    live_server.assert_no_errors()

    # A wrong password: a clear message and exit status 1.
    refused = await run_script(live_server, "--password", "not-the-password")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.startswith("meeting walkthrough FAILED: clerk cannot sign in (is --password right?)"), (
        refused.stderr
    )

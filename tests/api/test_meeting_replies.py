"""Replies (回执), leave requests (请假) and substitutes (代参会), DOMAIN §7.2, on SQLite and
PostgreSQL: the reply slip, late replies, replies per occurrence, the reply summary, the reset
after a change of time (``meetings.replies.reset_replies``, called directly as rescheduling
does), idempotent and concurrent replies, and leave under each substitution policy.

The General Office's clerk (clerk) organises and convenes, the deputy chairs; the clock is
Monday 2026-06-01 10:00 Shanghai; replies are due Monday 18:00; the meeting is Tuesday
09:00–10:00 (a weekly series where a test says so).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from meetings import replies
from meetings.models import Meeting, MeetingOccurrence
from office_api.config import Settings
from office_api.org.models import User
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import NOW, gid, ids_of, pk_of, signed_in
from tests.meeting_notice_helpers import (
    CANCEL,
    DECIDE,
    LEAVE_REQUEST,
    REPLY,
    UPDATE,
    WITHDRAW,
    codes,
    invitation,
    kinds,
    meeting,
    notes,
    run,
)
from tests.meetings_helpers import create_meeting, local

D = dt.date
#: Monday 19:00 Shanghai: after the reply deadline.
AFTER_DEADLINE = dt.datetime(2026, 6, 1, 11, 0, tzinfo=dt.UTC)


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


async def a_meeting(as_: Any, ids: dict[str, int], *people: str, **fields: Any) -> dict[str, Any]:
    """A meeting by clerk, chaired by deputy, replies due Monday 18:00, inviting ``people``
    (default finance_head and drc_head) and Qingdao (quota 2)."""
    invitees = [{"userId": gid("User", ids[p])} for p in people or ("finance_head", "drc_head")]
    invitees.append({"unitId": gid("OrgUnit", ids["370200"]), "quota": 2})
    fields.setdefault("replyDeadline", local(D(2026, 6, 1), 18))
    out = await create_meeting(as_("clerk"), ids, chairId=gid("User", ids["deputy"]), invitees=invitees, **fields)
    assert out["errors"] == [], out
    return await meeting(as_("clerk"), out["meeting"]["id"])


SUMMARY = """query($id: ID!, $occ: ID) { meeting(id: $id) { replySummary(occurrenceId: $occ) {
  people pending accepted declined delegated late units unitsPending unitsNominated unitsDeclined } } }"""


async def summary(client: GraphQLClient, meeting_id: str, occurrence: str | None = None) -> dict[str, int]:
    res = await client.execute(SUMMARY, {"id": meeting_id, "occ": occurrence})
    assert "errors" not in res, res
    return res["data"]["meeting"]["replySummary"]


def counts(**given: int) -> dict[str, int]:
    base = dict.fromkeys(
        ("people", "pending", "accepted", "declined", "delegated", "late", "units", "unitsPending"), 0
    ) | {"unitsNominated": 0, "unitsDeclined": 0}
    return base | given


# ---- replies ----------------------------------------------------------------------------------


async def test_a_reply_slip_is_kept_late_replies_are_marked_and_the_convener_is_told(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids)
    head, drc = as_("finance_head"), as_("drc_head")
    mine = invitation(m, "finance_head")["id"]
    out = await run(
        head,
        REPLY,
        invitationId=mine,
        state="ACCEPTED",
        remark="准时参加",
        phone="13800000003",
        arrival="6月2日 8:30 自行前往",
        accommodation="不需要",
    )
    assert out["errors"] == []
    got = out["invitation"]
    assert (got["state"], got["late"], got["remark"], got["repliedAt"], got["version"]) == (
        "ACCEPTED",
        False,
        "准时参加",
        "2026-06-01T02:00:00+00:00",
        2,
    )
    assert got["replySlip"] == {"phone": "13800000003", "arrival": "6月2日 8:30 自行前往", "accommodation": "不需要"}
    assert (await notes(as_("clerk")))[-1] == (
        "MEETING_REPLY_RECEIVED",
        {"invitationId": mine, "state": "accepted", "late": False},
    )
    # the organisers see the slip; another invitee does not
    assert invitation(await meeting(as_("clerk"), m["id"]), "finance_head")["replySlip"]["phone"] == "13800000003"
    assert invitation(await meeting(drc, m["id"]), "finance_head")["replySlip"] is None

    platform.clock = lambda: AFTER_DEADLINE
    late = await run(drc, REPLY, invitationId=invitation(m, "drc_head")["id"], state="DECLINED", remark="另有公务")
    assert (late["invitation"]["state"], late["invitation"]["late"]) == ("DECLINED", True)
    assert (await notes(as_("clerk")))[-1][1]["late"] is True
    assert await summary(as_("clerk"), m["id"]) == counts(
        people=2, accepted=1, declined=1, late=1, units=1, unitsPending=1
    )

    # moving the deadline re-evaluates lateness
    moved = await run(
        as_("clerk"), UPDATE, meetingId=m["id"], expectedVersion=1, replyDeadline=local(D(2026, 6, 1), 20)
    )
    assert moved["errors"] == []
    assert invitation(moved["meeting"], "drc_head")["late"] is False
    assert (await summary(as_("clerk"), m["id"]))["late"] == 0


@pytest.mark.parametrize(
    ("who", "fields", "expected"),
    [
        ("drc_head", {}, [("invitationId", "FORBIDDEN")]),
        ("li_na", {}, [("invitationId", "NOT_FOUND")]),
        ("finance_head", {"state": "PENDING"}, [("state", "INVALID_VALUE")]),
        ("finance_head", {"state": "DELEGATED"}, [("state", "INVALID_VALUE")]),
        (
            "finance_head",
            {"remark": "备" * 501, "phone": "1" * 25, "arrival": "到" * 201},
            [("remark", "TOO_LONG"), ("phone", "TOO_LONG"), ("arrival", "TOO_LONG")],
        ),
        ("finance_head", {"occurrenceId": gid("MeetingOccurrence", 99999)}, [("occurrenceId", "NOT_FOUND")]),
        ("finance_head", {"invitationId": gid("MeetingInvitation", 99999)}, [("invitationId", "NOT_FOUND")]),
    ],
)
async def test_bad_replies_are_refused_naming_the_field(ids, as_, who, fields, expected) -> None:
    m = await a_meeting(as_, ids)
    input = {"invitationId": invitation(m, "finance_head")["id"], "state": "ACCEPTED"} | fields
    out = await run(as_(who), REPLY, **input)
    assert (out["invitation"], codes(out)) == (None, expected)
    assert invitation(await meeting(as_("clerk"), m["id"]), "finance_head")["state"] == "PENDING"


async def test_no_reply_once_the_meeting_has_ended(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids)
    platform.clock = lambda: dt.datetime(2026, 6, 2, 2, 0, tzinfo=dt.UTC)  # Tuesday 10:00, the end
    out = await run(as_("finance_head"), REPLY, invitationId=invitation(m, "finance_head")["id"], state="ACCEPTED")
    assert codes(out) == [("invitationId", "INVALID_STATE")]


async def test_replies_per_occurrence_override_the_series_reply(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids, recurrence="FREQ=WEEKLY;COUNT=3")
    first, second, third = (o["id"] for o in m["occurrences"])
    head = as_("finance_head")
    mine = invitation(m, "finance_head")["id"]
    await run(head, REPLY, invitationId=mine, state="ACCEPTED")
    out = await run(head, REPLY, invitationId=mine, state="DECLINED", occurrenceId=second, remark="出差")
    got = out["invitation"]
    assert (got["state"], got["occurrenceReplies"]) == (
        "ACCEPTED",
        [{"state": "DECLINED", "late": False, "remark": "出差", "occurrence": {"id": second}}],
    )
    kind, data = (await notes(as_("clerk")))[-1]
    assert (kind, data["occurrenceId"], data["state"]) == ("MEETING_REPLY_RECEIVED", second, "declined")
    clerk = as_("clerk")
    assert await summary(clerk, m["id"]) == counts(people=2, pending=1, accepted=1, units=1, unitsPending=1)
    assert await summary(clerk, m["id"], second) == counts(people=2, pending=1, declined=1, units=1, unitsPending=1)
    assert (await summary(clerk, m["id"], third))["accepted"] == 1
    # an occurrence of another meeting
    other = await a_meeting(as_, ids, startAt=local(D(2026, 6, 3), 9), endAt=local(D(2026, 6, 3), 10))
    foreign = other["occurrences"][0]["id"]
    out = await run(head, REPLY, invitationId=mine, state="DECLINED", occurrenceId=foreign)
    assert codes(out) == [("occurrenceId", "NOT_FOUND")]
    res = await clerk.execute(SUMMARY, {"id": m["id"], "occ": foreign})
    assert res["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # a cancelled occurrence, an ended one
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(
            update(MeetingOccurrence).where(MeetingOccurrence.id == pk_of(third)).values(state="cancelled")
        )
    out = await run(head, REPLY, invitationId=mine, state="ACCEPTED", occurrenceId=third)
    assert codes(out) == [("occurrenceId", "MEETING_CANCELLED")]
    platform.clock = lambda: dt.datetime(2026, 6, 3, 2, 0, tzinfo=dt.UTC)  # Wednesday: the first is over
    out = await run(head, REPLY, invitationId=mine, state="DECLINED", occurrenceId=first)
    assert codes(out) == [("occurrenceId", "INVALID_STATE")]
    assert (await run(head, REPLY, invitationId=mine, state="ACCEPTED", occurrenceId=second))["errors"] == []


async def test_a_retried_reply_with_its_key_is_answered_once(ids, as_) -> None:
    m = await a_meeting(as_, ids)
    head = as_("finance_head")
    mine = invitation(m, "finance_head")["id"]
    first = await run(head, REPLY, invitationId=mine, state="ACCEPTED", idempotencyKey="reply-1")
    again = await run(head, REPLY, invitationId=mine, state="ACCEPTED", idempotencyKey="reply-1")
    assert first == again
    assert first["invitation"]["version"] == 2
    assert await kinds(as_("clerk")) == ["MEETING_REPLY_RECEIVED"]
    other = await run(head, REPLY, invitationId=mine, state="DECLINED", idempotencyKey="reply-1")
    assert codes(other) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]


async def test_two_replies_of_one_person_at_once_both_stick(ids, as_) -> None:
    for trial in range(3):
        m = await a_meeting(as_, ids, recurrence="FREQ=WEEKLY;COUNT=2")
        mine = invitation(m, "finance_head")["id"]
        second = m["occurrences"][1]["id"]
        results = await asyncio.gather(
            run(as_("finance_head"), REPLY, invitationId=mine, state="ACCEPTED", phone="13800000003"),
            run(as_("finance_head"), REPLY, invitationId=mine, state="DECLINED", occurrenceId=second, remark="出差"),
        )
        assert [r["errors"] for r in results] == [[], []]
        got = invitation(await meeting(as_("clerk"), m["id"]), "finance_head")
        assert (got["state"], got["version"], got["replySlip"]["phone"]) == ("ACCEPTED", 3, "13800000003")
        assert [(r["state"], r["occurrence"]["id"]) for r in got["occurrenceReplies"]] == [("DECLINED", second)]
        assert await kinds(as_("clerk")) == ["MEETING_REPLY_RECEIVED"] * (2 * (trial + 1))


# ---- a change of time resets replies ------------------------------------------------------------------


async def _reset(platform: Any, meeting_id: str, occurrences: list[str] | None) -> list[int]:
    async with platform.db.unit_of_work() as uow:
        uow.now = platform.clock()
        row = await uow.session.get(Meeting, pk_of(meeting_id))
        assert row is not None
        return await replies.reset_replies(uow, row, [pk_of(o) for o in occurrences] if occurrences else None)


async def test_a_change_of_time_resets_every_reply_but_keeps_delegations(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids, "finance_head", "drc_head", "secretary_general", substitutionPolicy="ALLOWED")
    platform.clock = lambda: AFTER_DEADLINE
    await run(as_("finance_head"), REPLY, invitationId=invitation(m, "finance_head")["id"], state="ACCEPTED")
    await run(as_("drc_head"), REPLY, invitationId=invitation(m, "drc_head")["id"], state="DECLINED")
    leave = await run(
        as_("secretary_general"),
        LEAVE_REQUEST,
        invitationId=invitation(m, "secretary_general")["id"],
        reason="出国访问",
        substituteUserId=gid("User", ids["deputy"]),
    )
    assert leave["errors"] == []
    await run(as_("clerk_370200"), REPLY, invitationId=invitation(m, "370200")["id"], state="DECLINED")
    before = await meeting(as_("clerk"), m["id"])
    assert invitation(before, "finance_head")["late"] is True

    reset = await _reset(platform, m["id"], None)
    after = await meeting(as_("clerk"), m["id"])
    expected = sorted(pk_of(invitation(after, who)["id"]) for who in ("finance_head", "drc_head", "370200", "deputy"))
    assert reset == expected
    states = {
        who: invitation(after, who) for who in ("finance_head", "drc_head", "370200", "deputy", "secretary_general")
    }
    assert {who: (i["state"], i["late"], i["repliedAt"]) for who, i in states.items()} == {
        "finance_head": ("PENDING", False, None),
        "drc_head": ("PENDING", False, None),
        "370200": ("PENDING", False, None),
        "deputy": ("PENDING", False, None),  # the substitute confirms the new time
        "secretary_general": ("DELEGATED", True, "2026-06-01T11:00:00+00:00"),  # the delegation stands
    }
    assert states["deputy"]["onBehalfOf"]["user"]["username"] == "secretary_general"
    # nothing left to reset
    assert await _reset(platform, m["id"], None) == []


async def test_moving_one_occurrence_asks_for_a_reply_for_it_only(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids, recurrence="FREQ=WEEKLY;COUNT=3")
    _, second, third = (o["id"] for o in m["occurrences"])
    head, drc = as_("finance_head"), as_("drc_head")
    mine, theirs = invitation(m, "finance_head")["id"], invitation(m, "drc_head")["id"]
    await run(head, REPLY, invitationId=mine, state="ACCEPTED")
    await run(drc, REPLY, invitationId=theirs, state="DECLINED", occurrenceId=second)
    assert await _reset(platform, m["id"], [second]) == sorted([pk_of(mine), pk_of(theirs)])
    after = await meeting(as_("clerk"), m["id"])
    assert invitation(after, "finance_head")["state"] == "ACCEPTED"
    assert [(r["state"], r["occurrence"]["id"]) for r in invitation(after, "finance_head")["occurrenceReplies"]] == [
        ("PENDING", second)
    ]
    assert await summary(as_("clerk"), m["id"], second) == counts(people=2, pending=2, units=1, unitsPending=1)
    assert (await summary(as_("clerk"), m["id"], third))["accepted"] == 1
    # answering for the whole series again answers the moved one too
    out = await run(head, REPLY, invitationId=mine, state="ACCEPTED")
    assert out["invitation"]["occurrenceReplies"] == []
    assert (await summary(as_("clerk"), m["id"], second))["accepted"] == 1


# ---- leave and substitutes -----------------------------------------------------------------------------


async def test_forbidden_policy_refuses_substitutes_but_the_chair_may_excuse(ids, as_) -> None:
    m = await a_meeting(as_, ids, substitutionPolicy="FORBIDDEN")
    head = as_("finance_head")
    mine = invitation(m, "finance_head")["id"]
    sub = await run(
        head, LEAVE_REQUEST, invitationId=mine, reason="出差", substituteUserId=gid("User", ids["zhang_wei"])
    )
    assert codes(sub) == [("substituteUserId", "SUBSTITUTION_FORBIDDEN")]
    assert sub["errors"][0]["message"] == "本会议不允许代参会，须本人参加"
    out = await run(head, LEAVE_REQUEST, invitationId=mine, reason="赴京参加国务院会议")
    leave = out["leaveRequest"]
    assert (leave["state"], leave["substitute"], leave["invitation"]["state"]) == ("PENDING", None, "PENDING")
    for approver in ("clerk", "deputy"):
        assert (await notes(as_(approver)))[-1] == (
            "MEETING_LEAVE_REQUESTED",
            {"leaveRequestId": leave["id"], "invitationId": mine},
        )
    assert codes(await run(as_("drc_head"), DECIDE, leaveRequestId=leave["id"], approve=True)) == [
        ("leaveRequestId", "FORBIDDEN")
    ]
    decided = await run(as_("deputy"), DECIDE, leaveRequestId=leave["id"], approve=True, remark="同意")
    got = decided["leaveRequest"]
    assert (got["state"], got["decidedBy"]["username"], got["decisionRemark"], got["invitation"]["state"]) == (
        "APPROVED",
        "deputy",
        "同意",
        "DECLINED",
    )
    assert (await notes(head))[-1] == (
        "MEETING_LEAVE_DECIDED",
        {"leaveRequestId": leave["id"], "invitationId": mine, "approved": True},
    )
    again = await run(as_("clerk"), DECIDE, leaveRequestId=leave["id"], approve=False)
    assert codes(again) == [("leaveRequestId", "INVALID_STATE")]
    q = "query($id: ID!) { meetingLeaveRequests(meetingId: $id) { id state reason } }"
    listed = await as_("clerk").execute(q, {"id": m["id"]})
    assert listed["data"]["meetingLeaveRequests"] == [
        {"id": leave["id"], "state": "APPROVED", "reason": "赴京参加国务院会议"}
    ]
    refused = await head.execute(q, {"id": m["id"]})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_approved_substitute_becomes_the_attendee_of_record(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids, "finance_head", "drc_head")
    head = as_("finance_head")
    mine = invitation(m, "finance_head")["id"]
    out = await run(
        head,
        LEAVE_REQUEST,
        invitationId=mine,
        reason="省人大常委会会议",
        substituteUserId=gid("User", ids["zhang_wei"]),
    )
    leave = out["leaveRequest"]
    assert (leave["state"], leave["substitute"]["username"], leave["substituteInvitation"]) == (
        "PENDING",
        "zhang_wei",
        None,
    )
    assert await kinds(as_("zhang_wei")) == []  # not of record before approval
    dup = await run(head, LEAVE_REQUEST, invitationId=mine, reason="再次请假")
    assert codes(dup) == [("invitationId", "DUPLICATE")]
    approved = await run(as_("clerk"), DECIDE, leaveRequestId=leave["id"], approve=True)
    sub = approved["leaveRequest"]["substituteInvitation"]
    assert approved["leaveRequest"]["invitation"]["state"] == "DELEGATED"
    assert (sub["state"], sub["role"], sub["occurrencesOnly"], sub["user"]["username"]) == (
        "ACCEPTED",
        "PARTICIPANT",
        False,
        "zhang_wei",
    )
    assert sub["onBehalfOf"]["user"]["username"] == "finance_head"
    kind, data = (await notes(as_("zhang_wei")))[-1]
    assert (kind, data["invitationId"], data["onBehalfOfId"]) == ("MEETING_SUBSTITUTE_NAMED", sub["id"], mine)
    assert await summary(as_("clerk"), m["id"]) == counts(
        people=3, pending=1, accepted=1, delegated=1, units=1, unitsPending=1
    )
    async with platform.db.read() as s:
        record = await replies.attendees_of_record(s, pk_of(m["id"]))
    assert sorted(i.user_id for i in record) == sorted([ids["zhang_wei"], ids["drc_head"]])
    # a delegated invitee who replies takes the place back; the substitute is told
    back = await run(head, REPLY, invitationId=mine, state="ACCEPTED")
    assert (back["invitation"]["state"], back["invitation"]["substitutes"]) == ("ACCEPTED", [])
    assert (await notes(as_("zhang_wei")))[-1][0] == "MEETING_INVITATION_WITHDRAWN"
    assert invitation(await meeting(as_("clerk"), m["id"]), "zhang_wei")["isActive"] is False


async def test_a_refused_leave_leaves_the_invitee_expected(ids, as_) -> None:
    m = await a_meeting(as_, ids)
    mine = invitation(m, "finance_head")["id"]
    leave = (await run(as_("finance_head"), LEAVE_REQUEST, invitationId=mine, reason="身体不适"))["leaveRequest"]
    out = await run(as_("clerk"), DECIDE, leaveRequestId=leave["id"], approve=False, remark="会议重要，请安排参加")
    assert (out["leaveRequest"]["state"], out["leaveRequest"]["invitation"]["state"]) == ("REFUSED", "PENDING")
    kind, data = (await notes(as_("finance_head")))[-1]
    assert (kind, data["approved"]) == ("MEETING_LEAVE_DECIDED", False)


async def test_allowed_policy_names_a_substitute_for_single_occurrences_at_once(ids, as_) -> None:
    m = await a_meeting(as_, ids, substitutionPolicy="ALLOWED", recurrence="FREQ=WEEKLY;COUNT=3")
    first, second, third = (o["id"] for o in m["occurrences"])
    head = as_("finance_head")
    mine = invitation(m, "finance_head")["id"]
    zhang = gid("User", ids["zhang_wei"])
    out = await run(head, LEAVE_REQUEST, invitationId=mine, reason="出差", substituteUserId=zhang, occurrenceId=second)
    leave = out["leaveRequest"]
    assert (leave["state"], leave["decidedBy"], leave["occurrence"]["id"]) == ("APPROVED", None, second)
    sub = leave["substituteInvitation"]
    assert (sub["occurrencesOnly"], sub["state"]) == (True, "DECLINED")
    again = await run(head, LEAVE_REQUEST, invitationId=mine, reason="出差", substituteUserId=zhang, occurrenceId=third)
    assert again["leaveRequest"]["substituteInvitation"]["id"] == sub["id"]  # the same substitute, one more row
    got = await meeting(as_("clerk"), m["id"])
    assert [(r["state"], r["occurrence"]["id"]) for r in invitation(got, "finance_head")["occurrenceReplies"]] == [
        ("DELEGATED", second),
        ("DELEGATED", third),
    ]
    assert [(r["state"], r["occurrence"]["id"]) for r in invitation(got, "zhang_wei")["occurrenceReplies"]] == [
        ("ACCEPTED", second),
        ("ACCEPTED", third),
    ]
    clerk = as_("clerk")
    assert (await summary(clerk, m["id"]))["people"] == 2  # the series: finance_head and drc_head
    occ2 = await summary(clerk, m["id"], second)
    assert (occ2["people"], occ2["delegated"], occ2["accepted"]) == (3, 1, 1)
    zw = as_("zhang_wei")
    sub_id = sub["id"]
    assert codes(await run(zw, REPLY, invitationId=sub_id, state="ACCEPTED")) == [("occurrenceId", "REQUIRED")]
    not_covered = await run(zw, REPLY, invitationId=sub_id, state="ACCEPTED", occurrenceId=first)
    assert codes(not_covered) == [("occurrenceId", "INVALID_VALUE")]
    # withdrawing the substitute gives finance_head the occurrences back
    gone = await run(clerk, WITHDRAW, invitationId=sub_id)
    assert gone["errors"] == []
    after = invitation(await meeting(clerk, m["id"]), "finance_head")
    assert (after["state"], after["occurrenceReplies"]) == ("PENDING", [])
    assert (await notes(head))[-1] == ("MEETING_CHANGED", {"invitationId": mine, "changed": ["substitute"]})


async def test_bad_leave_requests_are_refused_naming_the_field(platform, ids, as_) -> None:
    m = await a_meeting(as_, ids)
    head = as_("finance_head")
    mine = invitation(m, "finance_head")["id"]

    async def ask(**fields: Any) -> list[tuple[str, str]]:
        return codes(await run(head, LEAVE_REQUEST, **({"invitationId": mine, "reason": "出差"} | fields)))

    assert await ask(reason=" ", substituteUserId=gid("User", ids["finance_head"])) == [
        ("reason", "REQUIRED"),
        ("substituteUserId", "INVALID_VALUE"),
    ]
    assert await ask(substituteUserId=gid("User", ids["drc_head"])) == [("substituteUserId", "DUPLICATE")]
    assert await ask(substituteUserId=gid("User", 99999)) == [("substituteUserId", "NOT_FOUND")]
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(User).where(User.id == ids["zhang_wei2"]).values(is_active=False))
    assert await ask(substituteUserId=gid("User", ids["zhang_wei2"])) == [("substituteUserId", "INACTIVE")]
    assert await ask(reason="假" * 501) == [("reason", "TOO_LONG")]
    unit = await run(as_("clerk_370200"), LEAVE_REQUEST, invitationId=invitation(m, "370200")["id"], reason="市里有会")
    assert codes(unit) == [("invitationId", "INVALID_VALUE")]
    assert await ask(invitationId=invitation(m, "drc_head")["id"]) == [("invitationId", "FORBIDDEN")]
    await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="取消")
    assert await ask() == [("invitationId", "MEETING_CANCELLED")]


async def test_convener_and_chair_deciding_at_once_make_one_decision(ids, as_) -> None:
    for _ in range(3):
        m = await a_meeting(as_, ids)
        mine = invitation(m, "finance_head")["id"]
        asked = await run(
            as_("finance_head"),
            LEAVE_REQUEST,
            invitationId=mine,
            reason="出差",
            substituteUserId=gid("User", ids["zhang_wei"]),
        )
        leave_id = asked["leaveRequest"]["id"]
        results = await asyncio.gather(
            run(as_("clerk"), DECIDE, leaveRequestId=leave_id, approve=True),
            run(as_("deputy"), DECIDE, leaveRequestId=leave_id, approve=True),
        )
        assert sorted(str(codes(r)) for r in results) == ["[('leaveRequestId', 'INVALID_STATE')]", "[]"]
        winner = next(r for r in results if not r["errors"])["leaveRequest"]
        assert (winner["state"], winner["substituteInvitation"]["user"]["username"]) == ("APPROVED", "zhang_wei")
        got = await meeting(as_("clerk"), m["id"])
        assert (invitation(got, "finance_head")["state"], invitation(got, "zhang_wei")["state"]) == (
            "DELEGATED",
            "ACCEPTED",
        )
    assert await kinds(as_("zhang_wei")) == ["MEETING_SUBSTITUTE_NAMED"] * 3


async def test_the_readme_example_runs_as_printed(ids, as_) -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("### Meeting notices, replies and substitutes", 1)[1]
    block = re.search(r"```graphql\n(.*?)```", section, flags=re.S)
    assert block is not None
    m = await a_meeting(as_, ids, "finance_head")

    async def op(who: str, name: str, **variables: Any) -> dict[str, Any]:
        client = as_(who)
        resp = await client.http.post(
            "/graphql",
            json={"query": block.group(1), "operationName": name, "variables": variables},
            headers={"authorization": f"Bearer {client.token}"},
        )
        body = resp.json()
        assert "errors" not in body, body
        return next(iter(body["data"].values()))

    changed = await op("clerk", "ChangeNotice", meeting=m["id"])
    assert (changed["errors"], changed["meeting"]["version"]) == ([], 2)
    named = await op(
        "clerk_370200",
        "NameAttendees",
        unitInvitation=invitation(m, "370200")["id"],
        person=gid("User", ids["clerk_370200"]),
    )
    assert (named["errors"], named["invitation"]["state"]) == ([], "ACCEPTED")
    mine = invitation(m, "finance_head")["id"]
    replied = await op("finance_head", "Reply", invitation=mine)
    assert (replied["errors"], replied["invitation"]["state"], replied["invitation"]["late"]) == ([], "ACCEPTED", False)
    asked = await op("finance_head", "AskLeave", invitation=mine, substitute=gid("User", ids["zhang_wei"]))
    assert (asked["errors"], asked["leaveRequest"]["state"]) == ([], "PENDING")
    decided = await op("clerk", "DecideLeave", leave=asked["leaveRequest"]["id"])
    leave = decided["leaveRequest"]
    assert (leave["state"], leave["invitation"]["state"], leave["substituteInvitation"]["user"]["displayName"]) == (
        "APPROVED",
        "DELEGATED",
        "张伟",
    )
    summary_ = await op("clerk", "Replies", meeting=m["id"])
    assert summary_["replySummary"] == counts(people=3, accepted=1, delegated=1, pending=1, units=1, unitsNominated=1)


async def test_cancelling_withdraws_pending_leave_requests(ids, as_) -> None:
    m = await a_meeting(as_, ids)
    mine = invitation(m, "finance_head")["id"]
    leave = (await run(as_("finance_head"), LEAVE_REQUEST, invitationId=mine, reason="出差"))["leaveRequest"]
    await run(as_("clerk"), CANCEL, meetingId=m["id"], reason="取消")
    decided = await run(as_("clerk"), DECIDE, leaveRequestId=leave["id"], approve=True)
    assert codes(decided) == [("leaveRequestId", "MEETING_CANCELLED")]
    q = "query($id: ID!) { meetingLeaveRequests(meetingId: $id, state: WITHDRAWN) { id state } }"
    listed = await as_("deputy").execute(q, {"id": m["id"]})
    assert listed["data"]["meetingLeaveRequests"] == [{"id": leave["id"], "state": "WITHDRAWN"}]


async def test_remarks_and_leave_reasons_are_for_those_who_see_the_reply_slip(ids, as_) -> None:
    m = await a_meeting(as_, ids, recurrence="FREQ=WEEKLY;COUNT=2")
    second = m["occurrences"][1]["id"]
    fin, drc = invitation(m, "finance_head")["id"], invitation(m, "drc_head")["id"]
    out = await run(as_("finance_head"), REPLY, invitationId=fin, state="DECLINED", remark="因病住院治疗")
    assert out["invitation"]["remark"] == "因病住院治疗"
    leave = await run(as_("drc_head"), LEAVE_REQUEST, invitationId=drc, reason="赴京汇报工作", occurrenceId=second)
    decided = await run(as_("deputy"), DECIDE, leaveRequestId=leave["leaveRequest"]["id"], approve=True)
    assert decided["errors"] == []
    whole = await run(as_("drc_head"), LEAVE_REQUEST, invitationId=drc, reason="另有公务安排")
    assert (await run(as_("deputy"), DECIDE, leaveRequestId=whole["leaveRequest"]["id"], approve=True))["errors"] == []

    def seen(got: dict[str, Any]) -> tuple[Any, Any, list[Any]]:
        f, d = invitation(got, "finance_head"), invitation(got, "drc_head")
        return f["remark"], d["remark"], [r["remark"] for r in d["occurrenceReplies"]]

    assert seen(await meeting(as_("clerk"), m["id"])) == ("因病住院治疗", "另有公务安排", ["赴京汇报工作"])
    assert seen(await meeting(as_("deputy"), m["id"])) == ("因病住院治疗", "另有公务安排", ["赴京汇报工作"])
    assert seen(await meeting(as_("finance_head"), m["id"])) == ("因病住院治疗", None, [None])
    assert seen(await meeting(as_("drc_head"), m["id"])) == (None, "另有公务安排", ["赴京汇报工作"])
    assert seen(await meeting(as_("clerk_370200"), m["id"])) == (None, None, [None])

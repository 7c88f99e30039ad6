"""The meeting walkthrough: the follow-up meeting on the 2027 New Year and Spring Festival work
safety 通知 (examples/walkthrough.py), from the notice to the minutes, as the people would do it.

Start the demo server (``./dev demo`` or ``office-api demo --port 8000``), then::

    python examples/meeting_walkthrough.py --url http://127.0.0.1:8000/graphql [--password Demo@2026]

It runs on the real wall clock, so the meeting starts now: at the current minute less one
(check-in is open and minutes can be drafted at once) and lasts two hours. Over GraphQL with
the ``gql`` client (HTTP):

1. Everyone signs in: the General Office clerk (王文书) first, then, four at a time, the
   Secretary-General (孙秘书长, convener and chair), the deputy director (李副主任), the heads of
   the Finance Department and the DRC, and for each of the 16 cities its clerk
   (``clerk_<code>``) and its leader in charge (``leader_<code>``, 副市长).
2. The clerk looks for a free room of the General Office with video conferencing and enough
   seats (``rooms(freeFrom, freeTo)``; the one that needs no approval first, then the
   smallest) and creates 全省元旦春节安全生产工作推进会: leave needs approval
   (APPROVAL_REQUIRED), check-in opens 30 minutes before, late after 30 minutes. Invited:
   finance_head (出席), drc_head and the deputy director (列席), and the 16 city governments,
   one 分管负责同志 each. When every suitable room is taken (a third run within two hours), the
   meeting is held by video (``onlineLink``) without one.
3. Each city clerk names the city's leader (``nominateAttendees``), in city-code order. The
   leaders accept, except 青岛's, who asks leave (请假) and names a substitute; drc_head asks
   leave without one; finance_head and the deputy director accept. The Secretary-General
   approves both requests: 青岛's substitute becomes the attendee of record on behalf of
   ``leader_370200``, drc_head is on leave. The reply summary must say 20 people, 18
   accepted, 1 declined, 1 delegated, 16 units that named their attendee.

   The substitute is ``clerk_370200`` (青岛市文书), the only other Qingdao person in the demo.
   DOMAIN §7.2 wants a substitute of suitable rank (say, a deputy secretary-general of the city
   government), but the demo has no such account, and creating one takes an administrator
   with two-factor sign-in and would add an account at every run. What the walkthrough shows is
   the rule that matters: only an approved substitute is of record.
4. The clerk shows the check-in code (``meetingCheckInCode``); the 17 attendees of record
   present scan it at the same moment, each with their own token: everyone but 菏泽's leader
   (absent). ``leader_370200``, whose substitute attends, scans it too and is refused
   (NOT_AN_ATTENDEE).
5. The attendance report must count exactly 19 expected: 16 present, 0 late, 1 on leave,
   1 substitute, 1 absent.
6. The clerk drafts the minutes (``draftMeetingMinutes``, route 核稿 deputy → 签发
   Secretary-General) with three decided matters, and makes the first (the cities' pre-holiday
   safety inspection, led by the Emergency Management Department with the 16 cities) a
   supervision item (``superviseDecidedMatter``). The body's 出席, 请假 and 列席 lines are
   checked and printed.
7. The clerk downloads the meeting's iCalendar file (``GET /meetings/{id}.ics``): one VEVENT
   with 36 ATTENDEE lines (3 people, 16 units, 16 nominees, 1 substitute).

The meeting's times come from this machine's clock: the server's must agree within a minute.
It can run again on the same demo database (each run creates a new meeting; the leaders are
invited to several at once). Exits 1 with a message when anything differs from the expected
course. ``run(url, password)`` returns a summary for tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
from gql import Client
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportError
from gql.transport.httpx import HTTPXAsyncTransport
from walkthrough import (  # the document walkthrough's client plumbing (examples/ is on sys.path)
    DEFAULT_PASSWORD,
    LOGIN,
    ME,
    ORG_UNITS,
    TIMEOUT,
    Person,
    WalkthroughError,
    check,
    execute,
    payload,
)

TITLE = "全省元旦春节安全生产工作推进会"
#: Sign-ins sent at once (see ``MeetingWalkthrough._signing_in``).
SIGN_INS_AT_ONCE = 4
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: The meeting lasts two hours from the current minute less one.
DURATION = dt.timedelta(hours=2)
#: The 16 city governments (GB/T 2260 codes, as in the demo: ``clerk_<code>``, ``leader_<code>``).
CITIES = (
    "370100",
    "370200",
    "370300",
    "370400",
    "370500",
    "370600",
    "370700",
    "370800",
    "370900",
    "371000",
    "371100",
    "371300",
    "371400",
    "371500",
    "371600",
    "371700",
)
#: 青岛: its leader asks leave and sends the city's clerk instead.
SUBSTITUTED = "370200"
#: 菏泽: its leader does not come and does not check in.
ABSENT = "371700"
#: Seats the room needs: three people invited by name and one place per city.
SEATS = 3 + len(CITIES)

AGENDA = (
    "一、传达学习全国安全生产电视电话会议精神；二、通报全省今冬明春安全生产形势；"
    "三、部署2027年元旦春节期间安全生产重点工作；四、各市汇报节前安全生产大检查准备情况。"
)
MATERIALS = "各市节前安全生产大检查工作方案及准备情况书面汇报（1500字以内），会前报省政府办公厅。"
LOGISTICS = "请参会同志提前30分钟到省政府1号楼报到；外地参会同志自行安排交通，会议不安排住宿。"
ADDRESS = "济南市历下区省府前街1号"
ONLINE_LINK = "https://meet.example.gov.cn/r/20270101-safety"
CONTACT = ("王文书", "0531-86000001")
DISCUSSION = (
    "会议传达学习了全国安全生产电视电话会议精神，省应急厅通报了全省今冬明春安全生产形势，"
    "各市汇报了节前安全生产大检查准备情况。与会同志结合分管工作进行了讨论。"
)
MATTERS = (
    (
        "各市立即组织开展节前安全生产大检查，重点检查危险化学品、道路交通、建筑施工、人员密集场所"
        "和城镇燃气，检查情况报省应急厅汇总。"
    ),
    "省财政厅统筹安排节日期间安全生产专项经费，保障检查执法和应急值守需要。",
    "严格落实节日期间领导干部带班和24小时应急值守制度，重大情况按规定及时报告。",
)
LEAVE_QINGDAO = "同日陪同国务院安委会督导组检查青岛港危险化学品储运安全"
LEAVE_DRC = "同日赴国家发展改革委汇报重大项目建设情况"

FREE_ROOMS = """
query FreeRooms($unit: ID!, $seats: Int!, $from: DateTime!, $to: DateTime!) {
  rooms(unitId: $unit, minCapacity: $seats, equipment: ["video_conference"], freeFrom: $from, freeTo: $to) {
    id name building floor capacity requiresApproval
  }
}"""
CREATE_MEETING = """
mutation CreateMeeting($input: CreateMeetingInput!) {
  createMeeting(input: $input) {
    meeting {
      id title state version startAt endAt location onlineLink substitutionPolicy
      checkInOpensMinutes lateAfterMinutes
      convener { displayName } chair { displayName } organizerUnit { name } room { name }
      occurrences { id startAt endAt room { name building } booking { status } }
      invitations { id role quota requiredRank user { username } unit { code name } }
    }
    errors { field code message }
  }
}"""
MY_INVITATIONS = """
query MyInvitations {
  myMeetingInvitations(state: PENDING) {
    id role quota requiredRank meeting { id title } user { id } unit { id code name }
  }
}"""
NOMINATE = """
mutation Nominate($invitation: ID!, $people: [ID!]!) {
  nominateAttendees(input: {invitationId: $invitation, userIds: $people}) {
    invitation { state nominees { id state user { username displayName } } }
    errors { field code message }
  }
}"""
REPLY = """
mutation Reply($invitation: ID!, $phone: String, $arrival: String) {
  replyToMeeting(input: {invitationId: $invitation, state: ACCEPTED, phone: $phone, arrival: $arrival,
      accommodation: "不需要"}) {
    invitation { state late user { username } }
    errors { field code message }
  }
}"""
ASK_LEAVE = """
mutation AskLeave($invitation: ID!, $reason: String!, $substitute: ID) {
  requestMeetingLeave(input: {invitationId: $invitation, reason: $reason, substituteUserId: $substitute}) {
    leaveRequest { id state substitute { username } }
    errors { field code message }
  }
}"""
LEAVE_REQUESTS = """
query LeaveRequests($meeting: ID!) {
  meetingLeaveRequests(meetingId: $meeting, state: PENDING) {
    id reason requestedBy { username displayName } substitute { username displayName }
  }
}"""
DECIDE_LEAVE = """
mutation DecideLeave($leave: ID!, $remark: String!) {
  decideMeetingLeave(input: {leaveRequestId: $leave, approve: true, remark: $remark}) {
    leaveRequest {
      state decidedBy { username }
      invitation { state user { username } }
      substituteInvitation { state role user { username displayName } onBehalfOf { user { username displayName } } }
    }
    errors { field code message }
  }
}"""
REPLY_SUMMARY = """
query Replies($meeting: ID!) {
  meeting(id: $meeting) {
    replySummary { people pending accepted declined delegated late units unitsPending unitsNominated unitsDeclined }
  }
}"""
CHECK_IN_CODE = """
query CheckInCode($occurrence: ID!) {
  meetingCheckInCode(occurrenceId: $occurrence) { qrText opensAt closesAt }
}"""
CHECK_IN = """
mutation CheckIn($scanned: String!, $occurrence: ID!) {
  checkInToMeeting(input: {token: $scanned, occurrenceId: $occurrence}) {
    checkIn { checkedInAt late user { username displayName } }
    errors { field code message }
  }
}"""
ATTENDANCE = """
query Attendance($occurrence: ID!) {
  meetingAttendance(occurrenceId: $occurrence) {
    closed
    counts { expected present late onLeave substitute absent }
    rows {
      category role checkedInAt late leaveReason
      user { username displayName } onBehalfOf { username displayName }
    }
  }
}"""
DRAFT_MINUTES = """
mutation DraftMinutes($input: DraftMeetingMinutesInput!) {
  draftMeetingMinutes(input: $input) {
    minutes {
      documentId
      document { id title docType status body }
      decidedMatters { id seq text leadUnit { name } coHandlerUnits { code } }
    }
    errors { field code message }
  }
}"""
SUPERVISE = """
mutation Supervise($matter: ID!) {
  superviseDecidedMatter(input: {matterId: $matter}) {
    matter {
      seq supervisionItemId
      supervisionItem { id title sourceType state leadUnit { name } units { isLead unit { code } } deadline { dueOn } }
    }
    errors { field code message }
  }
}"""


def local(value: str | dt.datetime) -> str:
    """A UTC instant (ISO text or aware datetime) as Asia/Shanghai ``YYYY-MM-DD HH:MM``."""
    t = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def base_url(graphql_url: str) -> str:
    """``http://host:port/graphql`` → ``http://host:port``."""
    return graphql_url.rstrip("/").removesuffix("/graphql")


def body_lines(body: str) -> dict[str, str]:
    """The 出席, 请假 and 列席 lines at the end of the minutes (label → names)."""
    lines: dict[str, str] = {}
    for line in body.splitlines():
        label, sep, names = line.partition("：")
        if sep and label in ("出席", "请假", "列席"):
            lines[label] = names
    return lines


@dataclass
class MeetingWalkthrough:
    url: str
    password: str
    log: Callable[[str], None] = print
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    #: Sign-ins under way at once: each costs the server an argon2 check (about 0.1–0.2 s of
    #: CPU), so 36 at once would leave the last one waiting longer than TIMEOUT on a busy
    #: 2-CPU machine; four keep both CPUs busy and every request short.
    _signing_in: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(SIGN_INS_AT_ONCE))

    async def http_session(self, token: str | None = None) -> AsyncClientSession:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        client = Client(transport=HTTPXAsyncTransport(url=self.url, headers=headers, timeout=TIMEOUT))
        return await self._stack.enter_async_context(client)

    async def sign_in(self, username: str) -> Person:
        anonymous = await self.http_session()
        async with self._signing_in:
            result = (await execute(anonymous, LOGIN, {"username": username, "password": self.password}))["login"]
        check(result["errors"] == [], f"{username} cannot sign in (is --password right?): {result['errors']}")
        token = result["accessToken"]
        session = await self.http_session(token)
        me = (await execute(session, ME))["me"]
        check(me["username"] == username, f"signed in as {username} but me is {me['username']}")
        return Person(username, me["id"], me["displayName"], token, session)

    async def units(self, person: Person, parent_id: str | None) -> list[dict[str, Any]]:
        units: list[dict[str, Any]] = []
        after = None
        while True:
            page = (await person.call(ORG_UNITS, parentId=parent_id, after=after))["orgUnits"]
            units += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return units
            after = page["pageInfo"]["endCursor"]

    async def province_units(self, person: Person) -> dict[str, dict[str, Any]]:
        """The units directly under the province (370000), by code: the 16 city governments
        (PREFECTURE), the General Office and the departments."""
        roots = await self.units(person, None)
        province = next((u for u in roots if u["code"] == "370000"), None)
        check(province is not None, "the province unit 370000 is not among the root units (is the demo loaded?)")
        assert province is not None
        by_code = {u["code"]: u for u in await self.units(person, province["id"])}
        cities = [c for c in by_code.values() if c["kind"] == "PREFECTURE"]
        check(
            sorted(c["code"] for c in cities) == list(CITIES),
            f"expected the 16 prefecture governments under {province['name']}, found {len(cities)}",
        )
        for code in ("370000-general_office", "370000-emergency", "370000-finance"):
            check(code in by_code, f"the demo unit {code} is missing")
        return by_code

    async def invitation_for(self, person: Person, meeting_id: str, *, unit_code: str | None = None) -> dict[str, Any]:
        """The person's pending invitation to the meeting (their own, or with ``unit_code`` the
        one of the unit they answer for), as ``myMeetingInvitations`` lists it."""
        found = [
            i
            for i in (await person.call(MY_INVITATIONS))["myMeetingInvitations"]
            if i["meeting"]["id"] == meeting_id
            and ((i["unit"] or {}).get("code") == unit_code if unit_code else (i["user"] or {}).get("id") == person.id)
        ]
        what = f"{unit_code}'s invitation" if unit_code else "an invitation"
        check(len(found) == 1, f"{person.username} should see {what} waiting for a reply, sees {len(found)}")
        return found[0]

    async def run(self) -> dict[str, Any]:
        async with self._stack:
            return await self._run()

    async def _run(self) -> dict[str, Any]:
        log = self.log
        log(f"Meeting walkthrough against {self.url}")

        log("1. Everyone signs in")
        officials = ("clerk", "secretary_general", "deputy", "finance_head", "drc_head")
        city_clerk_names = tuple(f"clerk_{code}" for code in CITIES)
        leader_names = tuple(f"leader_{code}" for code in CITIES)
        first = await self.sign_in(officials[0])  # the clerk starts: a wrong password stops here
        rest = (*officials[1:], *city_clerk_names, *leader_names)
        signed = await asyncio.gather(*(self.sign_in(u) for u in rest), return_exceptions=True)
        for outcome in signed:  # the first failure in the order above, not the first to finish
            if isinstance(outcome, BaseException):
                raise outcome
        by_name = {first.username: first} | {p.username: p for p in signed if isinstance(p, Person)}
        clerk, secgen, deputy, finance, drc = (by_name[u] for u in officials)
        city_clerks = {code: by_name[f"clerk_{code}"] for code in CITIES}
        leaders = {code: by_name[f"leader_{code}"] for code in CITIES}
        log(f"  {'、'.join(by_name[u].display_name for u in officials)} signed in")
        log(f"  the 16 cities' clerks ({city_clerks['370100'].display_name} … {city_clerks['371700'].display_name})")
        log(f"  and leaders in charge ({leaders['370100'].display_name} … {leaders['371700'].display_name})")

        log("2. The clerk books a room and sends the meeting notice")
        units = await self.province_units(clerk)
        office = units["370000-general_office"]
        now = dt.datetime.now(dt.UTC).astimezone(SHANGHAI)
        start = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
        end = start + DURATION
        free = (
            await clerk.call(
                FREE_ROOMS, unit=office["id"], seats=SEATS, **{"from": start.isoformat()}, to=end.isoformat()
            )
        )["rooms"]
        free.sort(key=lambda r: (r["requiresApproval"], r["capacity"], r["name"]))
        room = free[0] if free else None
        if room is not None:
            log(
                f"  free from {local(start)} to {local(end)} with video conferencing and {SEATS}+ seats: "
                f"{'、'.join(r['name'] for r in free)} → {room['name']} ({room['building']} {room['floor']}F, "
                f"{room['capacity']} seats)"
            )
        else:
            log(f"  no room with video conferencing and {SEATS}+ seats is free: the meeting is held by video")
        invitees = [
            {"userId": finance.id, "role": "PARTICIPANT"},
            {"userId": drc.id, "role": "NON_VOTING"},
            {"userId": deputy.id, "role": "NON_VOTING"},
            *(
                {"unitId": units[code]["id"], "role": "PARTICIPANT", "quota": 1, "requiredRank": "分管负责同志"}
                for code in CITIES
            ),
        ]
        created = payload(
            await clerk.call(
                CREATE_MEETING,
                input={
                    "title": TITLE,
                    "organizerUnitId": office["id"],
                    "startAt": start.isoformat(),
                    "endAt": end.isoformat(),
                    "reportAt": (start - dt.timedelta(minutes=30)).isoformat(),
                    "convenerId": secgen.id,
                    "chairId": secgen.id,
                    "agenda": AGENDA,
                    "materials": MATERIALS,
                    "logistics": LOGISTICS,
                    "location": ADDRESS if room else "视频会议，各市设分会场",
                    "onlineLink": None if room else ONLINE_LINK,
                    "contactName": CONTACT[0],
                    "contactPhone": CONTACT[1],
                    "roomId": room["id"] if room else None,
                    "substitutionPolicy": "APPROVAL_REQUIRED",
                    "checkInOpensMinutes": 30,
                    "lateAfterMinutes": 30,
                    "invitees": invitees,
                },
            ),
            "createMeeting",
        )["meeting"]
        meeting_id = created["id"]
        occurrence = created["occurrences"][0]
        check(len(created["occurrences"]) == 1, f"a single meeting has {len(created['occurrences'])} occurrences")
        check(
            dt.datetime.fromisoformat(occurrence["startAt"]) == start,
            f"the meeting starts at {occurrence['startAt']}, not {start.isoformat()}",
        )
        booking = occurrence["booking"]["status"] if occurrence["booking"] else None
        if room is not None:
            check(
                (occurrence["room"] or {}).get("name") == room["name"] and booking == "APPROVED",
                f"the room booking is {occurrence['room']} {booking}, expected {room['name']} APPROVED",
            )
        check(len(created["invitations"]) == 19, f"{len(created['invitations'])} invitations, expected 19")
        log(f"  meeting {meeting_id}: {created['title']}, {created['organizerUnit']['name']}")
        log(f"  时间 {local(start)}—{local(end)[-5:]} (报到 {local(start - dt.timedelta(minutes=30))[-5:]})")
        if room is not None:
            log(f"  地点 {created['location']} {occurrence['room']['building']}{occurrence['room']['name']}")
        else:
            log(f"  地点 {created['location']} {created['onlineLink']}")
        log(f"  召集人、主持 {created['convener']['displayName']}; 联系人 {CONTACT[0]} {CONTACT[1]}")
        log(f"  议题 {AGENDA}")
        log(
            f"  出席 {finance.display_name}; 列席 {drc.display_name}、{deputy.display_name}; "
            f"16 city governments, 1 分管负责同志 each; leave and substitutes need approval"
        )

        log("3. The cities name their leaders; replies and leave")
        for code in CITIES:  # in city-code order, so the minutes list the cities in that order
            city_clerk, leader = city_clerks[code], leaders[code]
            invitation = await self.invitation_for(city_clerk, meeting_id, unit_code=code)
            check(
                (invitation["quota"], invitation["requiredRank"]) == (1, "分管负责同志"),
                f"{code}'s invitation asks for {invitation['quota']} {invitation['requiredRank']}",
            )
            named = payload(
                await city_clerk.call(NOMINATE, invitation=invitation["id"], people=[leader.id]), "nominateAttendees"
            )
            nominees = [n["user"]["username"] for n in named["invitation"]["nominees"]]
            check(
                (named["invitation"]["state"], nominees) == ("ACCEPTED", [leader.username]),
                f"{code}'s unit invitation is {named['invitation']['state']} naming {nominees}",
            )
        log(f"  each city clerk names the city's 副市长 ({len(CITIES)} nominations)")

        async def accept(person: Person, arrival: str) -> None:
            invitation = await self.invitation_for(person, meeting_id)
            replied = payload(
                await person.call(REPLY, invitation=invitation["id"], phone=None, arrival=arrival), "replyToMeeting"
            )["invitation"]
            check(replied["state"] == "ACCEPTED", f"{person.username}'s reply is {replied['state']}")

        async def ask_leave(person: Person, reason: str, substitute: Person | None) -> dict[str, Any]:
            invitation = await self.invitation_for(person, meeting_id)
            leave = payload(
                await person.call(
                    ASK_LEAVE,
                    invitation=invitation["id"],
                    reason=reason,
                    substitute=substitute.id if substitute else None,
                ),
                "requestMeetingLeave",
            )["leaveRequest"]
            check(leave["state"] == "PENDING", f"{person.username}'s leave request is {leave['state']}, not PENDING")
            return leave

        substituted, substitute = leaders[SUBSTITUTED], city_clerks[SUBSTITUTED]
        await asyncio.gather(
            *(accept(leaders[code], "会前自行到达") for code in CITIES if code != SUBSTITUTED),
            accept(finance, "步行前往"),
            accept(deputy, "步行前往"),
            ask_leave(substituted, LEAVE_QINGDAO, substitute),
            ask_leave(drc, LEAVE_DRC, None),
        )
        log(f"  15 city leaders, {finance.display_name} and {deputy.display_name} accept")
        log(f"  {substituted.display_name} asks leave (“{LEAVE_QINGDAO}”), sending {substitute.display_name}")
        log(f"  {drc.display_name} asks leave (“{LEAVE_DRC}”), without a substitute")

        requests = (await secgen.call(LEAVE_REQUESTS, meeting=meeting_id))["meetingLeaveRequests"]
        asked = sorted((r["requestedBy"]["username"], (r["substitute"] or {}).get("username")) for r in requests)
        check(
            asked == sorted([(substituted.username, substitute.username), (drc.username, None)]),
            f"the pending leave requests are {asked}",
        )
        leave_summary = []
        for request in requests:
            remark = "同意，请做好工作交接。" if request["substitute"] else "同意。"
            decided = payload(
                await secgen.call(DECIDE_LEAVE, leave=request["id"], remark=remark), "decideMeetingLeave"
            )["leaveRequest"]
            sub = decided["substituteInvitation"]
            if request["substitute"]:
                check(
                    decided["invitation"]["state"] == "DELEGATED"
                    and sub is not None
                    and (sub["state"], sub["user"]["username"], sub["onBehalfOf"]["user"]["username"])
                    == ("ACCEPTED", substitute.username, substituted.username),
                    f"after approval the substitution is {decided}",
                )
                log(
                    f"  {secgen.display_name} approves: {sub['user']['displayName']} attends on behalf of "
                    f"{sub['onBehalfOf']['user']['displayName']} (代参会)"
                )
            else:
                check(decided["invitation"]["state"] == "DECLINED", f"after approval drc_head's reply is {decided}")
                log(f"  {secgen.display_name} approves {request['requestedBy']['displayName']}'s leave (请假)")
            leave_summary.append(
                {
                    "user": request["requestedBy"]["username"],
                    "substitute": (request["substitute"] or {}).get("username"),
                    "state": decided["state"],
                }
            )
        leave_summary.sort(key=lambda r: r["user"])
        replies = (await clerk.call(REPLY_SUMMARY, meeting=meeting_id))["meeting"]["replySummary"]
        expected_replies = {
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
        }
        check(replies == expected_replies, f"the reply summary is {replies}, expected {expected_replies}")
        log(
            f"  回执: {replies['people']} people, {replies['accepted']} accepted, {replies['declined']} declined, "
            f"{replies['delegated']} delegated; {replies['unitsNominated']} of {replies['units']} units named theirs"
        )

        log("4. Check-in")
        code = (await clerk.call(CHECK_IN_CODE, occurrence=occurrence["id"]))["meetingCheckInCode"]
        check(code is not None, "the clerk gets no check-in code")
        log(f"  the clerk shows the check-in QR code, valid {local(code['opensAt'])} to {local(code['closesAt'])}")
        present = [
            finance,
            deputy,
            *(leaders[c] for c in CITIES if c not in (SUBSTITUTED, ABSENT)),
            substitute,
        ]

        async def check_in(person: Person) -> dict[str, Any]:
            return payload(
                await person.call(CHECK_IN, scanned=code["qrText"], occurrence=occurrence["id"]), "checkInToMeeting"
            )["checkIn"]

        check_ins = await asyncio.gather(*(check_in(p) for p in present))
        for person, done in zip(present, check_ins, strict=True):
            check(
                (done["user"]["username"], done["late"]) == (person.username, False),
                f"{person.username}'s check-in is {done}",
            )
        log(
            f"  {len(check_ins)} attendees of record scan it at once, none late; "
            f"{leaders[ABSENT].display_name} does not come"
        )
        refused = (await substituted.call(CHECK_IN, scanned=code["qrText"], occurrence=occurrence["id"]))[
            "checkInToMeeting"
        ]
        errors = refused["errors"]
        check(
            refused["checkIn"] is None and [e["code"] for e in errors] == ["NOT_AN_ATTENDEE"],
            f"{substituted.username}'s check-in should be refused with NOT_AN_ATTENDEE, got {refused}",
        )
        log(f"  {substituted.display_name} scans it too → {errors[0]['code']}: {errors[0]['message']}")

        log("5. The attendance report")
        report = (await clerk.call(ATTENDANCE, occurrence=occurrence["id"]))["meetingAttendance"]
        counts = report["counts"]
        expected_counts = {"expected": 19, "present": 16, "late": 0, "onLeave": 1, "substitute": 1, "absent": 1}
        check(counts == expected_counts, f"the attendance counts are {counts}, expected {expected_counts}")
        by_category: dict[str, list[dict[str, Any]]] = {}
        for row in report["rows"]:
            by_category.setdefault(row["category"], []).append(row)
        absent = [r["user"]["username"] for r in by_category.get("ABSENT", [])]
        on_leave = [(r["user"]["username"], r["leaveReason"]) for r in by_category.get("ON_LEAVE", [])]
        subs = [(r["user"]["username"], r["onBehalfOf"]["username"]) for r in by_category.get("SUBSTITUTE", [])]
        check(absent == [leaders[ABSENT].username], f"absent: {absent}")
        check(on_leave == [(drc.username, LEAVE_DRC)], f"on leave: {on_leave}")
        check(subs == [(substitute.username, substituted.username)], f"substitutes: {subs}")
        check(not report["closed"], "the report says check-in has closed, two hours early")
        log(
            f"  expected {counts['expected']}: present {counts['present']}, late {counts['late']}, "
            f"on leave {counts['onLeave']} ({drc.display_name}), substitute {counts['substitute']} "
            f"({substitute.display_name} for {substituted.display_name}), absent {counts['absent']} "
            f"({leaders[ABSENT].display_name}; not final until check-in closes)"
        )

        log("6. The minutes (纪要) and a supervision item")
        emergency, finance_dept = units["370000-emergency"], units["370000-finance"]
        drafted = payload(
            await clerk.call(
                DRAFT_MINUTES,
                input={
                    "occurrenceId": occurrence["id"],
                    "discussion": DISCUSSION,
                    "decidedMatters": [
                        {
                            "text": MATTERS[0],
                            "leadUnitId": emergency["id"],
                            "coHandlerUnitIds": [units[c]["id"] for c in CITIES],
                        },
                        {"text": MATTERS[1], "leadUnitId": finance_dept["id"]},
                        {"text": MATTERS[2]},
                    ],
                    "route": {
                        "steps": [
                            {"name": "核稿", "mode": "SINGLE", "assigneeIds": [deputy.id]},
                            {"name": "签发", "mode": "SINGLE", "signOff": True, "assigneeIds": [secgen.id]},
                        ]
                    },
                },
            ),
            "draftMeetingMinutes",
        )["minutes"]
        document = drafted["document"]
        check(
            (document["docType"], document["status"], document["title"]) == ("MINUTES", "DRAFT", f"{TITLE}纪要"),
            f"the minutes document is {document['docType']} {document['status']} 《{document['title']}》",
        )
        lines = body_lines(document["body"])
        expected_lines = {
            "出席": "，".join(
                [
                    finance.display_name,
                    *(
                        f"{substitute.display_name}（代{substituted.display_name}）"
                        if c == SUBSTITUTED
                        else leaders[c].display_name
                        for c in CITIES
                        if c != ABSENT
                    ),
                ]
            ),
            "请假": drc.display_name,
            "列席": deputy.display_name,
        }
        check(lines == expected_lines, f"the minutes' attendance lines are {lines}, expected {expected_lines}")
        matters = drafted["decidedMatters"]
        check([m["text"] for m in matters] == list(MATTERS), "the decided matters differ from those given")
        log(f"  document {document['id']}: 《{document['title']}》 ({document['docType']}, {document['status']})")
        for matter in matters:
            lead = f" (主办 {matter['leadUnit']['name']})" if matter["leadUnit"] else ""
            log(f"  议定事项（{'一二三'[matter['seq'] - 1]}）{matter['text']}{lead}")
        for label in ("出席", "请假", "列席"):
            log(f"  {label}：{lines[label]}")
        supervised = payload(await clerk.call(SUPERVISE, matter=matters[0]["id"]), "superviseDecidedMatter")["matter"]
        item = supervised["supervisionItem"]
        check(item is not None and supervised["supervisionItemId"] == item["id"], f"the matter's item is {supervised}")
        assigned = [u["unit"]["code"] for u in item["units"]]
        check(
            (item["sourceType"], item["state"], item["leadUnit"]["name"], assigned)
            == ("MEETING_MATTER", "OPEN", emergency["name"], ["370000-emergency", *CITIES]),
            f"the supervision item is {item}",
        )
        log(
            f"  督办: “{item['title']}”, 主办 {item['leadUnit']['name']}, 协办 the 16 cities, "
            f"due {item['deadline']['dueOn']}"
        )

        log("7. The calendar file")
        ics = await self.download_ics(clerk, meeting_id)
        calendar = icalendar.Calendar.from_ical(ics)
        events = list(calendar.walk("VEVENT"))
        check(len(events) == 1, f"the .ics holds {len(events)} events, expected 1")
        attendees = events[0].get("ATTENDEE")
        attendees = attendees if isinstance(attendees, list) else [attendees]
        check(
            str(events[0]["SUMMARY"]) == TITLE and len(attendees) == 36,
            f"the .ics event is “{events[0]['SUMMARY']}” with {len(attendees)} attendees, expected 36",
        )
        log(f"  GET /meetings/{meeting_id}.ics: {len(ics)} bytes, 1 VEVENT, {len(attendees)} ATTENDEE lines")

        return {
            "meeting_id": meeting_id,
            "title": created["title"],
            "room": room["name"] if room else None,
            "booking": booking,
            "invitations": len(created["invitations"]),
            "replies": replies,
            "leave": leave_summary,
            "check_ins": len(check_ins),
            "refused": {"username": substituted.username, "code": errors[0]["code"]},
            "attendance": counts,
            "absent": absent,
            "substitutes": [{"username": s, "onBehalfOf": b} for s, b in subs],
            "minutes": {
                "document_id": document["id"],
                "title": document["title"],
                "status": document["status"],
                "matters": len(matters),
                "lines": lines,
            },
            "supervision": {
                "title": item["title"],
                "lead": item["leadUnit"]["name"],
                "units": len(assigned),
            },
            "ics_attendees": len(attendees),
        }

    async def download_ics(self, person: Person, meeting_id: str) -> bytes:
        url = f"{base_url(self.url)}/meetings/{meeting_id}.ics"
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            resp = await http.get(url, headers={"authorization": f"Bearer {person.token}"})
        check(resp.status_code == 200, f"GET {url} answered {resp.status_code}")
        check(
            resp.headers.get("content-type", "").startswith("text/calendar"),
            f"GET {url} returned {resp.headers.get('content-type')}",
        )
        return resp.content


async def run(url: str, password: str = DEFAULT_PASSWORD, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Drive the meeting walkthrough against the server at ``url``; return a summary.

    The summary: ``meeting_id``, ``title``, ``room`` (the room booked, None when every suitable
    room was taken) and ``booking`` (APPROVED, or None), ``invitations`` (19), ``replies``
    (the reply summary: 20 people, 18 accepted, 1 declined, 1 delegated, 16 units nominated),
    ``leave`` (the two approved requests ``{user, substitute, state}`` by username),
    ``check_ins`` (17), ``refused`` (leader_370200's NOT_AN_ATTENDEE), ``attendance`` (the
    counts), ``absent`` and ``substitutes`` (usernames), ``minutes`` (``document_id``,
    ``title``, ``status``, ``matters``, ``lines``: the 出席/请假/列席 lines of the body),
    ``supervision`` (the first matter's item: ``title``, ``lead``, ``units``) and
    ``ics_attendees`` (36). Raises :class:`WalkthroughError` on any difference from the
    expected course.
    """
    try:
        return await MeetingWalkthrough(url, password, log).run()
    except (TransportError, httpx.HTTPError, OSError) as exc:
        raise WalkthroughError(f"cannot talk to {url}: {exc!r}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Drive the demo: the follow-up meeting with the 16 cities, from the notice to check-in and minutes."
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000/graphql", help="GraphQL endpoint")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="demo accounts' password")
    args = parser.parse_args(argv)
    try:
        summary = asyncio.run(run(args.url, args.password))
    except WalkthroughError as exc:
        print(f"meeting walkthrough FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("meeting walkthrough interrupted", file=sys.stderr)
        return 130
    a = summary["attendance"]
    print(
        f"meeting walkthrough OK: meeting {summary['meeting_id']} in {summary['room'] or 'no room (video)'}, "
        f"{a['expected']} expected: {a['present']} present, {a['late']} late, {a['onLeave']} on leave, "
        f"{a['substitute']} substitute, {a['absent']} absent; minutes {summary['minutes']['document_id']} "
        f"with {summary['minutes']['matters']} decided matters, the first supervised"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

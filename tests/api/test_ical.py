"""iCalendar export: ``GET /meetings/{id}.ics``, per-user feeds ``GET /calendar/{token}.ics`` and
the createCalendarFeed / calendarFeeds / revokeCalendarFeed operations (SQLite and PostgreSQL).

Every calendar produced is parsed back with ``icalendar.Calendar.from_ical`` and its values
compared exactly. Meetings are created with createMeeting; cancelled and moved occurrences,
replies, nominations, substitutes and withdrawn invitations are written directly (their
mutations live in other modules). The clock is Monday 2026-06-01 10:00 Shanghai.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar, Event
from sqlalchemy import delete, select, update

from meetings import ical
from meetings.models import CalendarFeed, Invitation, Meeting, MeetingOccurrence, OccurrenceReply
from office_api.config import Settings
from office_api.org.models import User
from tests.conftest import GraphQLClient
from tests.dispatch_helpers import NOW, gid, ids_of, pk_of, signed_in
from tests.meetings_helpers import GENERAL_OFFICE, add_room, create_meeting, local, utc

D = dt.date
SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

CREATE_FEED = """mutation($label: String) { createCalendarFeed(input: {label: $label}) {
  url feed { id label active createdAt lastUsedAt revokedAt } errors { field code } } }"""
REVOKE_FEED = """mutation($id: ID!) { revokeCalendarFeed(input: {feedId: $id}) {
  feed { id active revokedAt } errors { field code } } }"""
FEEDS = "{ calendarFeeds { id label active lastUsedAt revokedAt } }"


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


# ---- helpers -----------------------------------------------------------------------------


async def get(client: GraphQLClient, path: str, *, token: str | None = None, auth: bool = True) -> httpx.Response:
    headers = {}
    if auth and (token or client.token):
        headers["authorization"] = f"Bearer {token or client.token}"
    return await client.http.get(path, headers=headers)


def assert_folded(body: bytes) -> None:
    """RFC 5545 §3.1: CRLF line ends, every physical line at most 75 octets and valid UTF-8 on
    its own (a fold never splits a character)."""
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines)
    for line in lines:
        assert len(line) <= 75, line
        line.decode("utf-8")  # raises on a split multi-byte sequence


def parse(resp: httpx.Response) -> Calendar:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/calendar; charset=utf-8"
    assert_folded(resp.content)
    return Calendar.from_ical(resp.content)


def vevents(cal: Calendar) -> list[Event]:
    return list(cal.walk("VEVENT"))


def attendees(event: Event) -> list[tuple[str, str, str, str]]:
    raw = event.get("ATTENDEE", [])
    items = raw if isinstance(raw, list) else [raw]
    return [(a.params["CN"], a.params["CUTYPE"], a.params["ROLE"], a.params["PARTSTAT"]) for a in items]


def dt_of(event: Event, name: str) -> Any:
    return event[name].dt


async def names(platform: Any, *usernames: str) -> dict[str, str]:
    async with platform.db.read() as s:
        rows = (await s.execute(select(User.username, User.display_name).where(User.username.in_(usernames)))).all()
    return dict(rows)


async def write(platform: Any, *statements: Any) -> None:
    async with platform.db.unit_of_work() as uow:
        for st in statements:
            await uow.session.execute(st)


async def occurrences(platform: Any, meeting_pk: int) -> list[MeetingOccurrence]:
    async with platform.db.read() as s:
        q = (
            select(MeetingOccurrence)
            .where(MeetingOccurrence.meeting_id == meeting_pk)
            .order_by(MeetingOccurrence.start_at)
        )
        return list((await s.execute(q)).scalars())


async def invitation_of(platform: Any, meeting_pk: int, user_id: int) -> Invitation:
    async with platform.db.read() as s:
        q = select(Invitation).where(Invitation.meeting_id == meeting_pk, Invitation.user_id == user_id)
        return (await s.execute(q)).scalar_one()


async def new_feed(client: GraphQLClient, label: str | None = None) -> tuple[str, str]:
    """createCalendarFeed; returns (feed global id, feed path)."""
    out = (await client.execute(CREATE_FEED, {"label": label}))["data"]["createCalendarFeed"]
    assert out["errors"] == [], out
    return out["feed"]["id"], out["url"].removeprefix("http://test")


async def meeting_pk(client: GraphQLClient, ids: dict[str, int], **fields: Any) -> int:
    out = await create_meeting(client, ids, **fields)
    assert out["errors"] == [], out
    return pk_of(out["meeting"]["id"])


# ---- one meeting -------------------------------------------------------------------------


async def test_one_meeting_as_icalendar_with_room_attendees_and_replies(platform, ids, as_) -> None:
    room = await add_room(platform, ids[GENERAL_OFFICE])
    await write(
        platform,
        update(User).where(User.id == ids["clerk"]).values(email="clerk@sd.gov.cn"),
        update(User).where(User.id == ids["finance_head"]).values(email="fh@sd.gov.cn", mobile="13900000001"),
        update(User).where(User.id == ids["drc_head"]).values(office_phone="0531-86000000"),
    )
    pk = await meeting_pk(
        as_("clerk"),
        ids,
        roomId=gid("Room", room),
        chairId=gid("User", ids["secretary_general"]),
        agenda="听取各市安全生产情况汇报；研究部署下半年工作",
        materials="各市汇报材料",
        contactName="王明",
        contactPhone="0531-86061234",
        onlineLink="https://meet.sd.gov.cn/j/8801",
        location="省政府大院",
        invitees=[
            {"userId": gid("User", ids["finance_head"]), "role": "PARTICIPANT"},
            {"userId": gid("User", ids["drc_head"]), "role": "NON_VOTING", "required": False},
            {"userId": gid("User", ids["deputy"]), "role": "OBSERVER"},
            {"userId": gid("User", ids["secretary_general"]), "role": "PARTICIPANT"},
            {"unitId": gid("OrgUnit", ids["370200"]), "quota": 2},
        ],
    )
    fh = await invitation_of(platform, pk, ids["finance_head"])
    drc = await invitation_of(platform, pk, ids["drc_head"])
    await write(
        platform,
        update(Invitation).where(Invitation.id == fh.id).values(state="accepted"),
        update(Invitation).where(Invitation.id == drc.id).values(state="declined"),
    )
    n = await names(platform, "clerk", "finance_head", "drc_head", "deputy", "secretary_general")

    resp = await get(as_("clerk"), f"/meetings/{pk}.ics")
    cal = parse(resp)
    assert resp.headers["content-disposition"] == f'attachment; filename="meeting-{pk}.ics"'
    assert (str(cal["PRODID"]), str(cal["VERSION"]), str(cal["CALSCALE"]), str(cal["METHOD"])) == (
        ical.PRODID,
        "2.0",
        "GREGORIAN",
        "PUBLISH",
    )
    assert str(cal["X-WR-CALNAME"]) == "全省安全生产工作会议"
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    [ev] = vevents(cal)
    assert str(ev["UID"]) == f"meeting-{pk}@office-api"
    assert dt_of(ev, "DTSTAMP") == NOW
    assert ev["SEQUENCE"] == 1
    assert dt_of(ev, "DTSTART") == dt.datetime(2026, 6, 2, 9, 0, tzinfo=SH)
    assert ev["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert b"DTSTART;TZID=Asia/Shanghai:20260602T090000\r\n" in resp.content
    assert dt_of(ev, "DTEND") == dt.datetime(2026, 6, 2, 10, 0, tzinfo=SH)
    assert "RRULE" not in ev
    assert str(ev["SUMMARY"]) == "全省安全生产工作会议"
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert str(ev["LOCATION"]) == "省政府1号楼 3层 第一会议室；省政府大院"
    assert str(ev["URL"]) == "https://meet.sd.gov.cn/j/8801"
    assert str(ev["CONFERENCE"]) == "https://meet.sd.gov.cn/j/8801"
    assert str(ev["DESCRIPTION"]) == (
        "议程：听取各市安全生产情况汇报；研究部署下半年工作\n"
        "材料：各市汇报材料\n"
        "主办：山东省人民政府办公厅\n"
        f"召集人：{n['clerk']}；主持人：{n['secretary_general']}\n"
        "联系人：王明 0531-86061234\n"
        "线上会议：https://meet.sd.gov.cn/j/8801"
    )
    organizer = ev["ORGANIZER"]
    assert (str(organizer), organizer.params["CN"]) == ("mailto:clerk@sd.gov.cn", n["clerk"])
    assert attendees(ev) == [
        (n["finance_head"], "INDIVIDUAL", "REQ-PARTICIPANT", "ACCEPTED"),
        (n["drc_head"], "INDIVIDUAL", "OPT-PARTICIPANT", "DECLINED"),
        (n["deputy"], "INDIVIDUAL", "NON-PARTICIPANT", "NEEDS-ACTION"),
        (n["secretary_general"], "INDIVIDUAL", "CHAIR", "NEEDS-ACTION"),
        ("青岛市人民政府", "GROUP", "REQ-PARTICIPANT", "NEEDS-ACTION"),
    ]
    # names only: other people's e-mail and phone numbers stay out; addresses are opaque URNs
    assert next(str(a) for a in ev["ATTENDEE"]) == ical.address(ids["finance_head"], "office-api")
    assert all(str(a).startswith("urn:uuid:") for a in ev["ATTENDEE"])
    for secret in (b"fh@sd.gov.cn", b"13900000001", b"0531-86000000"):
        assert secret not in resp.content
    # the invitee's own download shows their own address
    mine = vevents(parse(await get(as_("finance_head"), f"/meetings/{pk}.ics")))[0]
    assert str(mine["ATTENDEE"][0]) == "mailto:fh@sd.gov.cn"
    assert str(mine["ORGANIZER"]) == ical.address(ids["clerk"], "office-api")
    assert b"clerk@sd.gov.cn" not in (await get(as_("finance_head"), f"/meetings/{pk}.ics")).content


async def test_meeting_ics_refuses_strangers_without_revealing_the_meeting(platform, ids, as_, client) -> None:
    pk = await meeting_pk(as_("clerk"), ids, invitees=[{"userId": gid("User", ids["finance_head"])}])
    unauthenticated = await get(client, f"/meetings/{pk}.ics", auth=False)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "UNAUTHENTICATED"
    assert (await get(client, f"/meetings/{pk}.ics", token="not.a.jwt")).status_code == 401
    stranger = await get(as_("li_na"), f"/meetings/{pk}.ics")
    absent = await get(as_("li_na"), f"/meetings/{pk + 1000}.ics")
    assert (stranger.status_code, stranger.json()) == (absent.status_code, absent.json())
    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == "NOT_FOUND"
    # the global id GraphQL returns works as well as the number inside it
    by_gid = await get(as_("finance_head"), f"/meetings/{gid('Meeting', pk)}.ics")
    assert str(vevents(parse(by_gid))[0]["UID"]) == f"meeting-{pk}@office-api"
    for bad in ("abc", "0", "-1", "99999999999999999999", "１２", gid("Room", pk), gid("Meeting", 0), "TWVldGluZzp4"):
        assert (await get(as_("clerk"), f"/meetings/{bad}.ics")).status_code == 404, bad
    assert (await get(as_("finance_head"), f"/meetings/{pk}.ics")).status_code == 200
    head = await as_("finance_head").http.head(
        f"/meetings/{pk}.ics", headers={"authorization": f"Bearer {as_('finance_head').token}"}
    )
    assert (head.status_code, head.headers["content-type"]) == (200, "text/calendar; charset=utf-8")


async def test_a_series_has_rrule_exdate_for_a_cancelled_and_recurrence_id_for_a_moved_occurrence(
    platform, ids, as_
) -> None:
    room = await add_room(platform, ids[GENERAL_OFFICE])
    other = await add_room(platform, ids[GENERAL_OFFICE], "第二会议室")
    pk = await meeting_pk(
        as_("clerk"),
        ids,
        roomId=gid("Room", room),
        recurrence="FREQ=WEEKLY;COUNT=4",
        invitees=[{"userId": gid("User", ids["finance_head"])}],
    )
    occ = await occurrences(platform, pk)
    fh = await invitation_of(platform, pk, ids["finance_head"])
    # 2nd (06-09) cancelled; 3rd (06-16) moved to Wednesday 14:00–15:30 in another room, declined there
    await write(
        platform,
        update(MeetingOccurrence).where(MeetingOccurrence.id == occ[1].id).values(state="cancelled", version=2),
        update(MeetingOccurrence)
        .where(MeetingOccurrence.id == occ[2].id)
        .values(
            start_at=utc(D(2026, 6, 17), 14),
            end_at=utc(D(2026, 6, 17), 15, 30),
            room_id=other,
            is_exception=True,
            version=2,
        ),
        update(Meeting).where(Meeting.id == pk).values(version=3),
    )
    async with platform.db.unit_of_work() as uow:
        uow.session.add(OccurrenceReply(invitation_id=fh.id, occurrence_id=occ[2].id, state="declined"))

    resp = await get(as_("finance_head"), f"/meetings/{pk}.ics")
    cal = parse(resp)
    master, moved = vevents(cal)
    assert dt_of(master, "DTSTART") == dt.datetime(2026, 6, 2, 9, 0, tzinfo=SH)
    assert dict(master["RRULE"]) == {"FREQ": ["WEEKLY"], "COUNT": [4]}
    assert master["SEQUENCE"] == 3
    assert [d.dt for d in master["EXDATE"].dts] == [dt.datetime(2026, 6, 9, 9, 0, tzinfo=SH)]
    assert b"EXDATE;TZID=Asia/Shanghai:20260609T090000\r\n" in resp.content
    assert str(master["LOCATION"]) == "省政府1号楼 3层 第一会议室"
    assert attendees(master) == [
        ((await names(platform, "finance_head"))["finance_head"], "INDIVIDUAL", "REQ-PARTICIPANT", "NEEDS-ACTION")
    ]
    assert str(moved["UID"]) == str(master["UID"]) == f"meeting-{pk}@office-api"
    assert dt_of(moved, "RECURRENCE-ID") == dt.datetime(2026, 6, 16, 9, 0, tzinfo=SH)
    assert moved["RECURRENCE-ID"].params["TZID"] == "Asia/Shanghai"
    assert (dt_of(moved, "DTSTART"), dt_of(moved, "DTEND")) == (
        dt.datetime(2026, 6, 17, 14, 0, tzinfo=SH),
        dt.datetime(2026, 6, 17, 15, 30, tzinfo=SH),
    )
    assert moved["SEQUENCE"] == 4  # meeting version 3 + occurrence version 2 − 1
    assert str(moved["LOCATION"]) == "省政府1号楼 3层 第二会议室"
    assert [a[3] for a in attendees(moved)] == ["DECLINED"]
    # expanding what was written gives exactly the scheduled instances
    rule = rrulestr(master["RRULE"].to_ical().decode(), dtstart=dt_of(master, "DTSTART"))
    excluded = {d.dt for d in master["EXDATE"].dts}
    assert [t for t in rule if t not in excluded] == [
        dt.datetime(2026, 6, 2, 9, 0, tzinfo=SH),
        dt.datetime(2026, 6, 16, 9, 0, tzinfo=SH),  # replaced by the RECURRENCE-ID event
        dt.datetime(2026, 6, 23, 9, 0, tzinfo=SH),
    ]


async def test_until_is_written_in_utc_and_a_cancelled_meeting_is_cancelled(platform, ids, as_) -> None:
    pk = await meeting_pk(as_("clerk"), ids, recurrence="FREQ=WEEKLY;UNTIL=20260623")
    ev = vevents(parse(await get(as_("clerk"), f"/meetings/{pk}.ics")))[0]
    # a bare UNTIL date is the end of that day in Shanghai: 2026-06-23 23:59:59+08:00
    assert dict(ev["RRULE"]) == {"FREQ": ["WEEKLY"], "UNTIL": [dt.datetime(2026, 6, 23, 15, 59, 59, tzinfo=dt.UTC)]}
    await write(platform, update(Meeting).where(Meeting.id == pk).values(state="cancelled", version=2))
    ev = vevents(parse(await get(as_("clerk"), f"/meetings/{pk}.ics")))[0]
    assert (str(ev["STATUS"]), ev["SEQUENCE"]) == ("CANCELLED", 2)


async def test_a_stored_rule_that_no_longer_expands_falls_back_to_rdates(platform, ids, as_) -> None:
    pk = await meeting_pk(as_("clerk"), ids, recurrence="FREQ=WEEKLY;COUNT=3")
    occ = await occurrences(platform, pk)
    # a Wednesday rule for a Tuesday start: the expansion refuses it; the rows still say what happens
    await write(
        platform,
        update(Meeting).where(Meeting.id == pk).values(rrule="FREQ=WEEKLY;BYDAY=WE;COUNT=3"),
        update(MeetingOccurrence).where(MeetingOccurrence.id == occ[2].id).values(state="cancelled"),
    )
    ev = vevents(parse(await get(as_("clerk"), f"/meetings/{pk}.ics")))[0]
    assert "RRULE" not in ev
    assert "EXDATE" not in ev
    assert dt_of(ev, "DTSTART") == dt.datetime(2026, 6, 2, 9, 0, tzinfo=SH)
    assert [d.dt for d in ev["RDATE"].dts] == [dt.datetime(2026, 6, 9, 9, 0, tzinfo=SH)]


async def test_all_day_meetings_are_dates_and_need_no_time_zone(platform, ids, as_) -> None:
    clerk = as_("clerk")
    pk = await meeting_pk(clerk, ids, startAt=None, endAt=None, allDayFrom="2026-06-03", allDayTo="2026-06-04")
    resp = await get(clerk, f"/meetings/{pk}.ics")
    cal = parse(resp)
    [ev] = vevents(cal)
    assert (dt_of(ev, "DTSTART"), dt_of(ev, "DTEND")) == (D(2026, 6, 3), D(2026, 6, 5))
    assert b"DTSTART;VALUE=DATE:20260603\r\n" in resp.content
    assert b"DTEND;VALUE=DATE:20260605\r\n" in resp.content
    assert cal.walk("VTIMEZONE") == []
    series = await meeting_pk(
        clerk, ids, startAt=None, endAt=None, allDayFrom="2026-06-03", recurrence="FREQ=DAILY;UNTIL=20260606"
    )
    occ = await occurrences(platform, series)
    await write(platform, update(MeetingOccurrence).where(MeetingOccurrence.id == occ[1].id).values(state="cancelled"))
    ev = vevents(parse(await get(clerk, f"/meetings/{series}.ics")))[0]
    assert dict(ev["RRULE"]) == {"FREQ": ["DAILY"], "UNTIL": [D(2026, 6, 6)]}
    assert [d.dt for d in ev["EXDATE"].dts] == [D(2026, 6, 4)]


async def test_other_time_zones_keep_their_wall_clock_and_get_their_vtimezone(platform, ids, as_) -> None:
    pk = await meeting_pk(
        as_("clerk"),
        ids,
        timeZone="Europe/Berlin",
        startAt="2026-10-20T09:00:00+02:00",
        endAt="2026-10-20T10:00:00+02:00",
        recurrence="FREQ=WEEKLY;COUNT=2",
    )
    cal = parse(await get(as_("clerk"), f"/meetings/{pk}.ics"))
    [tz] = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Europe/Berlin"
    assert {str(c["TZNAME"]) for c in tz.walk() if c.name in ("STANDARD", "DAYLIGHT")} == {"CET", "CEST"}
    [ev] = vevents(cal)
    assert dt_of(ev, "DTSTART") == dt.datetime(2026, 10, 20, 9, 0, tzinfo=BERLIN)
    # after the change to winter time on 10-25 the second one is still 09:00 local (08:00 UTC)
    rule = rrulestr(ev["RRULE"].to_ical().decode(), dtstart=dt_of(ev, "DTSTART"))
    assert [t.astimezone(dt.UTC).hour for t in rule] == [7, 8]
    assert [o.start_at.astimezone(dt.UTC).hour for o in await occurrences(platform, pk)] == [7, 8]


async def test_long_chinese_text_is_folded_on_character_boundaries(platform, ids, as_) -> None:
    title = ("全省安全生产工作电视电话会议暨防汛抗旱𠮷工作部署会" * 3)[:60]
    agenda = "；".join(
        f"第{i}项：听取各市关于安全生产、防汛抗旱和森林防火工作的汇报，研究部署下一步工作" for i in range(40)
    )
    assert len(title) == 60
    pk = await meeting_pk(as_("clerk"), ids, title=title, agenda=agenda)
    resp = await get(as_("clerk"), f"/meetings/{pk}.ics")
    cal = parse(resp)  # checks every physical line: ≤ 75 octets, valid UTF-8 on its own
    lines = resp.content.split(b"\r\n")
    assert sum(1 for line in lines if line.startswith(b" ")) > 40  # long values really were folded
    assert max(len(line) for line in lines) >= 70
    [ev] = vevents(cal)
    assert str(ev["SUMMARY"]) == title
    assert str(ev["DESCRIPTION"]).split("\n")[0] == f"议程：{agenda}"
    assert str(cal["X-WR-CALNAME"]) == title


async def test_a_substitute_is_delegated_from_the_invitee(platform, ids, as_) -> None:
    pk = await meeting_pk(as_("clerk"), ids, invitees=[{"userId": gid("User", ids["finance_head"])}])
    fh = await invitation_of(platform, pk, ids["finance_head"])
    async with platform.db.unit_of_work() as uow:
        uow.session.add(
            Invitation(
                meeting_id=pk, user_id=ids["zhang_wei"], on_behalf_of_id=fh.id, state="accepted", role="participant"
            )
        )
        await uow.session.execute(update(Invitation).where(Invitation.id == fh.id).values(state="delegated"))
    resp = await get(as_("clerk"), f"/meetings/{pk}.ics")
    head, sub = vevents(parse(resp))[0]["ATTENDEE"]
    boss, deputy = ical.address(ids["finance_head"], "office-api"), ical.address(ids["zhang_wei"], "office-api")
    assert (head.params["PARTSTAT"], head.params["DELEGATED-TO"], str(head)) == ("DELEGATED", deputy, boss)
    assert (sub.params["PARTSTAT"], sub.params["DELEGATED-FROM"], str(sub)) == ("ACCEPTED", boss, deputy)
    unfolded = resp.content.replace(b"\r\n ", b"")
    assert f'DELEGATED-TO="{deputy}"'.encode() in unfolded  # cal-address parameters are quoted
    assert f'DELEGATED-FROM="{boss}"'.encode() in unfolded


# ---- feeds -------------------------------------------------------------------------------


async def test_a_feed_holds_my_meetings_only_and_dies_when_revoked(platform, ids, as_, client, caplog) -> None:
    clerk, fh = as_("clerk"), as_("finance_head")
    me = gid("User", ids["finance_head"])
    invited = await meeting_pk(clerk, ids, title="已邀请", invitees=[{"userId": me}])
    others = await meeting_pk(clerk, ids, title="与我无关", invitees=[{"userId": gid("User", ids["drc_head"])}])
    withdrawn = await meeting_pk(clerk, ids, title="已撤回邀请", invitees=[{"userId": me}])
    platform.clock = lambda: NOW - dt.timedelta(days=100)  # the past ones were created back then
    past = await meeting_pk(
        clerk,
        ids,
        title="上月会议",
        startAt=local(D(2026, 5, 6), 9),
        endAt=local(D(2026, 5, 6), 10),
        invitees=[{"userId": me}],
    )
    too_old = await meeting_pk(
        clerk,
        ids,
        title="太早",
        startAt=local(D(2026, 3, 2), 9),
        endAt=local(D(2026, 3, 2), 10),
        invitees=[{"userId": me}],
    )
    platform.clock = lambda: NOW
    too_far = await meeting_pk(
        clerk,
        ids,
        title="太远",
        startAt=local(D(2027, 7, 7), 9),
        endAt=local(D(2027, 7, 7), 10),
        invitees=[{"userId": me}],
    )
    nominated = await meeting_pk(
        clerk, ids, title="单位报名", invitees=[{"unitId": gid("OrgUnit", ids["370000-finance"])}]
    )
    substitute = await meeting_pk(clerk, ids, title="代参会", invitees=[{"userId": gid("User", ids["drc_head"])}])
    organised = await meeting_pk(fh, ids, title="我召集的", organizerUnitId=gid("OrgUnit", ids["370000-finance"]))
    cancelled = await meeting_pk(clerk, ids, title="已取消", invitees=[{"userId": me}])
    async with platform.db.unit_of_work() as uow:
        s = uow.session
        unit_inv = (await s.execute(select(Invitation).where(Invitation.meeting_id == nominated))).scalar_one()
        drc_inv = (await s.execute(select(Invitation).where(Invitation.meeting_id == substitute))).scalar_one()
        s.add(Invitation(meeting_id=nominated, user_id=ids["finance_head"], nominated_via_id=unit_inv.id))
        s.add(Invitation(meeting_id=substitute, user_id=ids["finance_head"], on_behalf_of_id=drc_inv.id))
        await s.execute(
            update(Invitation)
            .where(Invitation.meeting_id == withdrawn, Invitation.user_id == ids["finance_head"])
            .values(is_active=False)
        )
        await s.execute(update(Meeting).where(Meeting.id == cancelled).values(state="cancelled"))

    feed_id, path = await new_feed(fh, "手机日历")
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    assert len(token) == 43
    assert path == f"/calendar/{token}.ics"
    caplog.set_level(logging.INFO, logger="office_api.request")
    resp = await client.http.get(path)  # no Authorization: the URL is the secret
    cal = parse(resp)
    assert [r.path for r in caplog.records if r.name == "office_api.request"] == ["/calendar/{token}"]
    assert resp.headers["cache-control"] == "private, no-cache"
    assert "x-calendar-truncated" not in resp.headers
    assert str(cal["X-WR-CALNAME"]) == "会议日程（手机日历）"
    assert str(cal["METHOD"]) == "PUBLISH"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\nX-PUBLISHED-TTL:PT1H\r\n" in resp.content
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    got = {str(e["UID"]): str(e["SUMMARY"]) for e in vevents(cal)}
    assert got == {
        f"meeting-{pk}@office-api": title
        for pk, title in [
            (past, "上月会议"),
            (invited, "已邀请"),
            (nominated, "单位报名"),
            (substitute, "代参会"),
            (organised, "我召集的"),
            (cancelled, "已取消"),
        ]
    }
    assert not {others, withdrawn, too_old, too_far} & {int(u.split("-")[1].split("@")[0]) for u in got}
    status = {str(e["SUMMARY"]): str(e["STATUS"]) for e in vevents(cal)}
    assert (status["已取消"], status["已邀请"]) == ("CANCELLED", "CONFIRMED")

    # last_used_at: recorded, then not rewritten for 15 minutes
    listed = (await fh.execute(FEEDS))["data"]["calendarFeeds"]
    assert listed == [
        {
            "id": feed_id,
            "label": "手机日历",
            "active": True,
            "lastUsedAt": "2026-06-01T02:00:00+00:00",
            "revokedAt": None,
        }
    ]
    platform.clock = lambda: NOW + dt.timedelta(minutes=10)
    assert (await client.http.get(path)).status_code == 200
    assert (await fh.execute(FEEDS))["data"]["calendarFeeds"][0]["lastUsedAt"] == "2026-06-01T02:00:00+00:00"
    platform.clock = lambda: NOW + dt.timedelta(minutes=20)
    assert (await client.http.get(path)).status_code == 200
    assert (await fh.execute(FEEDS))["data"]["calendarFeeds"][0]["lastUsedAt"] == "2026-06-01T02:20:00+00:00"

    # someone else cannot revoke it; I can, and the URL is dead
    theirs = (await clerk.execute(REVOKE_FEED, {"id": feed_id}))["data"]["revokeCalendarFeed"]
    assert theirs == {"feed": None, "errors": [{"field": "feedId", "code": "NOT_FOUND"}]}
    assert (await client.http.get(path)).status_code == 200
    done = (await fh.execute(REVOKE_FEED, {"id": feed_id}))["data"]["revokeCalendarFeed"]
    assert done == {"feed": {"id": feed_id, "active": False, "revokedAt": "2026-06-01T02:20:00+00:00"}, "errors": []}
    gone = await client.http.get(path)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "NOT_FOUND")
    platform.clock = lambda: NOW + dt.timedelta(hours=1)
    again = (await fh.execute(REVOKE_FEED, {"id": feed_id}))["data"]["revokeCalendarFeed"]
    assert again["feed"]["revokedAt"] == "2026-06-01T02:20:00+00:00"
    assert (await fh.execute(FEEDS))["data"]["calendarFeeds"][0]["active"] is False


async def test_only_the_hash_of_the_token_is_stored(platform, ids, as_) -> None:
    out = (await as_("zhang_wei").execute(CREATE_FEED, {"label": None}))["data"]["createCalendarFeed"]
    assert out["errors"] == []
    assert out["feed"]["label"] is None
    assert out["url"].startswith("http://test/calendar/")
    assert out["url"].endswith(".ics")
    token = out["url"].removeprefix("http://test/calendar/").removesuffix(".ics")
    async with platform.db.read() as s:
        row = (await s.execute(select(CalendarFeed))).scalar_one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.token_hash, row.label)
    # the listing never shows a URL or token: the type has no such field
    bad = await as_("zhang_wei").execute("{ calendarFeeds { url } }")
    assert "errors" in bad


async def test_bad_or_unknown_feed_tokens_get_404_never_500(platform, ids, as_, client) -> None:
    _, path = await new_feed(as_("zhang_wei"))
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    for bad in (
        "abc",
        "A" * 43,
        token[:-1],
        token + "A",
        token.upper() if token.upper() != token else token.lower(),
        "%00" * 15,
        "x" * 5000,
        "中文令牌",
    ):
        resp = await client.http.get(f"/calendar/{bad}.ics")
        assert resp.status_code == 404, bad
        assert resp.json()["error"]["code"] == "NOT_FOUND"
    assert (await client.http.get(f"/calendar/{token}")).status_code == 404
    assert (await client.http.get("/calendar/..%2F..%2Fetc%2Fpasswd.ics")).status_code == 404
    assert (await client.http.get(path)).status_code == 200
    # a disabled account's feeds stop working
    await write(platform, update(User).where(User.id == ids["zhang_wei"]).values(is_active=False))
    assert (await client.http.get(path)).status_code == 404


async def test_feeds_are_capped_per_person(platform, ids, as_) -> None:
    li = as_("li_na")
    too_long = (await li.execute(CREATE_FEED, {"label": "长" * 101}))["data"]["createCalendarFeed"]
    assert (too_long["url"], too_long["feed"], too_long["errors"]) == (
        None,
        None,
        [{"field": "label", "code": "TOO_LONG"}],
    )
    first, _ = await new_feed(li, " 第一个 ")
    for n in range(9):
        await new_feed(li, f"feed {n}")
    listed = (await li.execute(FEEDS))["data"]["calendarFeeds"]
    assert len(listed) == 10
    assert listed[-1]["label"] == "第一个"
    over = (await li.execute(CREATE_FEED, {"label": None}))["data"]["createCalendarFeed"]
    assert (over["url"], over["errors"]) == (None, [{"field": None, "code": "TOO_MANY"}])
    # the limit is on the feeds held (no input field): the message gives it and the remedy
    over_en = await GraphQLClient(li.http, li.token, "en").execute(
        "mutation { createCalendarFeed(input: {}) { url errors { field code message } } }"
    )
    assert over_en["data"]["createCalendarFeed"] == {
        "url": None,
        "errors": [
            {
                "field": None,
                "code": "TOO_MANY",
                "message": "At most 10 items: unrevoked calendar feeds per person; revoke one first",
            }
        ],
    }
    # revoking one makes room again; another person's feeds do not count
    assert (await li.execute(REVOKE_FEED, {"id": first}))["data"]["revokeCalendarFeed"]["errors"] == []
    await new_feed(li)
    again = (await li.execute(CREATE_FEED, {"label": None}))["data"]["createCalendarFeed"]
    assert again["errors"] == [{"field": None, "code": "TOO_MANY"}]
    await new_feed(as_("zhou_wei"))
    for bad, code in ((gid("Meeting", pk_of(first)), "INVALID_VALUE"), (gid("CalendarFeed", 999999), "NOT_FOUND")):
        out = (await li.execute(REVOKE_FEED, {"id": bad}))["data"]["revokeCalendarFeed"]
        assert out == {"feed": None, "errors": [{"field": "feedId", "code": code}]}


async def test_concurrent_requests_cannot_exceed_the_feed_cap(platform, ids, client, settings) -> None:
    for trial in range(3):
        async with platform.db.unit_of_work() as uow:
            await uow.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == ids["li_na"]))
            uow.session.add_all(
                CalendarFeed(user_id=ids["li_na"], token_hash=f"{trial}-{n}".ljust(64, "0"), created_at=NOW)
                for n in range(9)
            )
        # nine held; six requests at once, each with its own access token: exactly one gets the tenth
        racers = [signed_in(client, settings, ids["li_na"]) for _ in range(6)]
        outs = await asyncio.gather(*(r.execute(CREATE_FEED, {"label": "race"}) for r in racers))
        payloads = [o["data"]["createCalendarFeed"] for o in outs]
        assert sorted(p["errors"] for p in payloads) == [[]] + [[{"field": None, "code": "TOO_MANY"}]] * 5
        async with platform.db.read() as s:
            held = (await s.execute(select(CalendarFeed.id).where(CalendarFeed.user_id == ids["li_na"]))).all()
        assert len(held) == 10


async def test_a_configured_public_url_names_the_feed_and_the_uids(platform, ids, as_, client) -> None:
    platform.settings.public_base_url = "https://oa.sd.gov.cn/office/"
    pk = await meeting_pk(as_("clerk"), ids, invitees=[{"userId": gid("User", ids["wang_wei"])}])
    out = (await as_("wang_wei").execute(CREATE_FEED, {"label": None}))["data"]["createCalendarFeed"]
    assert out["url"].startswith("https://oa.sd.gov.cn/office/calendar/")
    path = "/calendar/" + out["url"].rsplit("/", 1)[1]
    [ev] = vevents(parse(await client.http.get(path)))
    assert str(ev["UID"]) == f"meeting-{pk}@oa.sd.gov.cn"


async def test_a_feed_over_the_event_cap_is_cut_and_says_so(platform, ids, as_, client, monkeypatch) -> None:
    monkeypatch.setattr(ical, "MAX_FEED_EVENTS", 2)
    clerk = as_("clerk")
    for day in (2, 3, 4):
        await meeting_pk(
            clerk, ids, title=f"6月{day}日", startAt=local(D(2026, 6, day), 9), endAt=local(D(2026, 6, day), 10)
        )
    _, path = await new_feed(clerk)
    resp = await client.http.get(path)
    cal = parse(resp)
    assert resp.headers["x-calendar-truncated"] == "true"
    assert str(cal["X-OFFICE-TRUNCATED"]) == "TRUE"
    assert [str(e["SUMMARY"]) for e in vevents(cal)] == ["6月2日", "6月3日"]

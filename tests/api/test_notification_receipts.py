"""Notification kinds, priority and unit; unread counts by kind; mark read by kind; read
receipts (delivered, opened, acknowledged 已知悉) and their per-unit roll-up. SQLite and
PostgreSQL.

The General Office's clerk (clerk) drafts, registers and dispatches; each city has one clerk
``clerk_<code>``; 张伟 (zhang_wei) is made the clerk of 山东省财政厅. The clock is 2026-06-01
10:00 Shanghai unless a test advances it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import select

from documents.incoming_models import IncomingDocument
from messaging.models import Notification, NotificationKind
from messaging.outbox import Message, notify
from messaging.receipts import DeliveryRecorder
from office_api.config import Settings
from office_api.db import Database
from office_api.deadlines import Deadline
from office_api.org.models import Duty, OrgUnit, User
from office_api.reminders import messages_for
from tests.conftest import GraphQLClient, count_statements
from tests.dispatch_helpers import CITIES, NOW, gid, give_duty, ids_of, registered_document, signed_in
from tests.meeting_notice_helpers import NOMINATE, REPLY, invitation, meeting, run
from tests.meetings_helpers import create_meeting

FINANCE = "370000-finance"
DISPATCH = "mutation($id: ID!) { dispatchDocument(input: {documentId: $id}) { errors { field code } } }"
RECEIVE = "mutation($id: ID!) { receiveIncoming(input: {incomingId: $id}) { errors { field code } } }"
LATEST = "{ notifications(first: 1) { edges { node { kind title priority unit { code } data } } } }"
COUNTS = "{ unreadNotificationCount unreadNotificationCounts { total byKind { kind count } } }"
MARK = """mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input) {
  marked unreadCount errors { field code } } }"""
ACK = """mutation($ids: [ID!]!) { acknowledgeNotifications(input: {ids: $ids}) {
  acknowledged unreadCount notifications { id acknowledgedAt readAt deliveredAt } errors { field code } } }"""
RECEIPTS = """query($id: ID!, $kind: NotificationKind) { notificationReceipts(subjectId: $id, kind: $kind) {
  recipients delivered opened acknowledged
  units { unit { code } recipients delivered opened acknowledged pending { username } } } }"""


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    platform.clock = lambda: NOW
    await give_duty(platform, "zhang_wei", FINANCE, Duty.CLERK)
    return await ids_of(platform)


@pytest.fixture
def as_(client: GraphQLClient, ids: dict[str, int], settings: Settings):
    def make(username: str) -> GraphQLClient:
        return signed_in(client, settings, ids[username])

    return make


async def dispatched(as_: Any, platform: Any, ids: dict[str, int], **kw: Any) -> tuple[int, dict[str, str]]:
    """A registered document dispatched by clerk; its id and its copies' global ids by unit code."""
    doc = await registered_document(platform, ids, **kw)
    data = await as_("clerk").execute(DISPATCH, {"id": gid("Document", doc)})
    assert data["data"]["dispatchDocument"]["errors"] == [], data
    _, codes = await names(platform)
    async with platform.db.read() as s:
        rows = (await s.execute(select(IncomingDocument).where(IncomingDocument.document_id == doc))).scalars()
        return doc, {codes[r.unit_id]: gid("IncomingDocument", r.id) for r in rows}


async def rows_of(platform: Any, kind: NotificationKind) -> list[Notification]:
    async with platform.db.read() as s:
        q = select(Notification).where(Notification.kind == kind.value).order_by(Notification.id)
        return list((await s.execute(q)).scalars())


async def names(platform: Any) -> tuple[dict[int, str], dict[int | None, str | None]]:
    """Usernames by user id, and unit codes by unit id (None for None)."""
    async with platform.db.read() as s:
        users = dict((await s.execute(select(User.id, User.username))).all())
        units: dict[int | None, str | None] = dict((await s.execute(select(OrgUnit.id, OrgUnit.code))).all())
    return users, {**units, None: None}


async def latest(c: GraphQLClient) -> dict[str, Any]:
    return (await c.execute(LATEST))["data"]["notifications"]["edges"][0]["node"]


# ---- kinds, priority, unit -------------------------------------------------------------------------


async def test_arrival_and_receipt_carry_the_documents_urgency_and_the_recipient_unit(
    as_, ids: dict[str, int], platform: Any
) -> None:
    doc, copies = await dispatched(as_, platform, ids, main=[FINANCE, "370100"], cc=["370200"], urgency="urgent")
    who, unit = await names(platform)
    arrived = {
        (who[n.user_id], unit[n.unit_id], n.priority)
        for n in await rows_of(platform, NotificationKind.INCOMING_ARRIVED)
    }
    assert arrived == {
        ("zhang_wei", FINANCE, "urgent"),
        ("clerk_370100", "370100", "urgent"),
        ("clerk_370200", "370200", "urgent"),
    }
    assert (await latest(as_("clerk_370100")))["priority"] == "URGENT"

    result = await as_("clerk_370100").execute(RECEIVE, {"id": copies["370100"]})
    assert result["data"]["receiveIncoming"]["errors"] == []
    received = await rows_of(platform, NotificationKind.INCOMING_RECEIVED)
    # The drafter dispatched it too: one notification, to the sending side only.
    assert [(who[n.user_id], unit[n.unit_id], n.priority, who[n.actor_id]) for n in received] == [
        ("clerk", "370100", "normal", "clerk_370100")
    ]
    note = await latest(as_("clerk"))
    assert (note["kind"], note["priority"], note["unit"], note["title"]) == (
        "INCOMING_RECEIVED",
        "NORMAL",
        {"code": "370100"},
        "济南市人民政府已签收：山东省人民政府办公厅关于做好防汛工作的通知",
    )
    assert note["data"]["documentId"] == gid("Document", doc)


async def test_disabling_an_account_tells_the_person_only(
    client: GraphQLClient, ids: dict[str, int], platform: Any
) -> None:
    admin = await client.login("admin")
    before = {n.id for n in await rows_of(platform, NotificationKind.ACCOUNT_DISABLED)}
    assert before == set()
    disable = """mutation($id: ID!) { disableUser(input: {userId: $id}) { errors { code } } }"""
    enable = """mutation($id: ID!) { enableUser(input: {userId: $id}) { errors { code } } }"""
    assert (await admin.execute(disable, {"id": gid("User", ids["li_na"])}))["data"]["disableUser"]["errors"] == []
    # Disabling again changes nothing and tells nobody again.
    assert (await admin.execute(disable, {"id": gid("User", ids["li_na"])}))["data"]["disableUser"]["errors"] == []
    rows = await rows_of(platform, NotificationKind.ACCOUNT_DISABLED)
    who, _ = await names(platform)
    assert [(who[n.user_id], who[n.actor_id], n.priority, n.unit_id, n.subject_type) for n in rows] == [
        ("li_na", "admin", "normal", None, "User")
    ]
    assert (await admin.execute(enable, {"id": gid("User", ids["li_na"])}))["data"]["enableUser"]["errors"] == []
    note = await latest(await client.login("li_na"))
    assert (note["kind"], note["title"], note["unit"]) == ("ACCOUNT_DISABLED", "您的账号已停用", None)


def test_red_escalated_and_urged_deadlines_are_urgent_yellow_is_not() -> None:
    d = Deadline(id=1, subject_type="task", subject_id=2, due_on=dt.date(2026, 6, 5))
    got = {
        kind: messages_for(d, [7], kind, "t")[0].priority
        for kind in (
            NotificationKind.DEADLINE_YELLOW,
            NotificationKind.DEADLINE_RED,
            NotificationKind.DEADLINE_ESCALATED,
            NotificationKind.DEADLINE_URGED,
            NotificationKind.EXTENSION_REQUESTED,
        )
    }
    assert got == {
        NotificationKind.DEADLINE_YELLOW: "normal",
        NotificationKind.DEADLINE_RED: "urgent",
        NotificationKind.DEADLINE_ESCALATED: "urgent",
        NotificationKind.DEADLINE_URGED: "urgent",
        NotificationKind.EXTENSION_REQUESTED: "normal",
    }


async def test_a_unit_invitation_and_its_nominees_carry_the_unit(as_, ids: dict[str, int], platform: Any) -> None:
    out = await create_meeting(
        as_("clerk"),
        ids,
        invitees=[
            {"userId": gid("User", ids["finance_head"])},
            {"unitId": gid("OrgUnit", ids["370100"]), "quota": 2},
        ],
    )
    assert out["errors"] == [], out
    m = await meeting(as_("clerk"), out["meeting"]["id"])
    nominated = await run(
        as_("clerk_370100"), NOMINATE, invitationId=invitation(m, "370100")["id"], userIds=[gid("User", ids["li_na"])]
    )
    assert nominated["errors"] == []
    who, unit = await names(platform)
    invited = await rows_of(platform, NotificationKind.MEETING_INVITED)
    asked = await rows_of(platform, NotificationKind.MEETING_NOMINATION_REQUESTED)
    assert [(who[n.user_id], unit[n.unit_id]) for n in invited] == [
        ("finance_head", None),
        ("li_na", "370100"),
    ]
    assert [(who[n.user_id], unit[n.unit_id]) for n in asked] == [("clerk_370100", "370100")]
    assert (await latest(as_("li_na")))["unit"] == {"code": "370100"}


# ---- unread counts, mark read -----------------------------------------------------------------------


async def tell(platform: Any, user_id: int, *kinds: NotificationKind) -> list[int]:
    """Notifications of ``kinds`` to ``user_id`` through the outbox; their ids."""
    async with platform.db.unit_of_work() as uow:
        await notify(uow, platform.broker, [Message(user_id=user_id, kind=k.value, title=k.value) for k in kinds])
    async with platform.db.read() as s:
        q = select(Notification.id).where(Notification.user_id == user_id).order_by(Notification.seq.desc())
        return list(reversed((await s.execute(q.limit(len(kinds)))).scalars().all()))


async def test_unread_counts_by_kind_and_marking_read_by_kind(as_, ids: dict[str, int], platform: Any) -> None:
    K = NotificationKind
    mine = await tell(
        platform,
        ids["zhou_wei"],
        K.TASK_ASSIGNED,
        K.MEETING_INVITED,
        K.TASK_ASSIGNED,
        K.DEADLINE_RED,
        K.MEETING_CHANGED,
    )
    theirs = await tell(platform, ids["wang_wei"], K.TASK_ASSIGNED)
    me = as_("zhou_wei")
    with count_statements(platform) as statements:
        counts = await me.execute(COUNTS)
    assert counts["data"] == {
        "unreadNotificationCount": 5,
        "unreadNotificationCounts": {
            "total": 5,
            "byKind": [
                {"kind": "DEADLINE_RED", "count": 1},
                {"kind": "MEETING_CHANGED", "count": 1},
                {"kind": "MEETING_INVITED", "count": 1},
                {"kind": "TASK_ASSIGNED", "count": 2},
            ],
        },
    }
    assert len([s for s in statements if "GROUP BY" in s]) == 1

    marked = await me.execute(MARK, {"input": {"kinds": ["TASK_ASSIGNED", "MEETING_CHANGED"]}})
    assert marked["data"]["markNotificationsRead"] == {"marked": 3, "unreadCount": 2, "errors": []}
    # ids and kinds together: only the ids of those kinds; another person's id is ignored.
    both = {"ids": [gid("Notification", mine[1]), gid("Notification", mine[3]), gid("Notification", theirs[0])]}
    marked = await me.execute(MARK, {"input": {**both, "kinds": ["DEADLINE_RED"]}})
    assert marked["data"]["markNotificationsRead"] == {"marked": 1, "unreadCount": 1, "errors": []}
    counts = (await me.execute(COUNTS))["data"]["unreadNotificationCounts"]
    assert counts == {"total": 1, "byKind": [{"kind": "MEETING_INVITED", "count": 1}]}
    too_many = await me.execute(MARK, {"input": {"kinds": ["TASK_ASSIGNED"] * 101}})
    assert too_many["data"]["markNotificationsRead"]["errors"] == [{"field": "kinds", "code": "TOO_MANY"}]
    everything = await me.execute(MARK, {"input": {}})
    assert everything["data"]["markNotificationsRead"] == {"marked": 1, "unreadCount": 0, "errors": []}
    async with platform.db.read() as s:
        rows = {n.id: n for n in (await s.execute(select(Notification))).scalars() if n.id in mine + theirs}
    assert {rows[i].read_at for i in mine} == {NOW}
    assert {rows[i].delivered_at for i in mine} == {NOW}  # opened implies delivered
    assert rows[theirs[0]].read_at is None


# ---- acknowledge (已知悉) -----------------------------------------------------------------------------


async def test_acknowledging_is_for_ones_own_idempotent_and_one_instant_under_a_double_tap(
    as_, ids: dict[str, int], platform: Any
) -> None:
    ticks = itertools.count()
    platform.clock = lambda: NOW + dt.timedelta(seconds=next(ticks))
    K = NotificationKind
    mine = await tell(platform, ids["zhou_wei"], K.MEETING_INVITED, K.TASK_ASSIGNED, K.DEADLINE_URGED)
    theirs = await tell(platform, ids["wang_wei"], K.MEETING_INVITED)
    me = as_("zhou_wei")
    await me.execute(MARK, {"input": {"ids": [gid("Notification", mine[1])]}})
    async with platform.db.read() as s:
        read_before = (await s.get(Notification, mine[1])).read_at

    first = (await me.execute(ACK, {"ids": [gid("Notification", i) for i in (mine[1], theirs[0])]}))["data"]
    payload = first["acknowledgeNotifications"]
    assert (payload["acknowledged"], payload["errors"], payload["unreadCount"]) == (1, [], 2)
    (acked,) = payload["notifications"]  # the other person's is ignored
    assert acked["id"] == gid("Notification", mine[1])
    assert acked["readAt"] == read_before.isoformat()  # kept: it was opened earlier
    assert acked["acknowledgedAt"] > acked["readAt"]
    again = (await me.execute(ACK, {"ids": [gid("Notification", mine[1])]}))["data"]["acknowledgeNotifications"]
    assert (again["acknowledged"], again["notifications"]) == (0, [acked])

    # Two taps at once on the same item: one writes, both report the same instant.
    tap = {"ids": [gid("Notification", mine[0]), gid("Notification", mine[2])]}
    results = await asyncio.gather(me.execute(ACK, tap), me.execute(ACK, tap))
    payloads = [r["data"]["acknowledgeNotifications"] for r in results]
    assert sorted(p["acknowledged"] for p in payloads) == [0, 2]
    assert payloads[0]["notifications"] == payloads[1]["notifications"]
    stamps = {n["acknowledgedAt"] for n in payloads[0]["notifications"]}
    assert len(stamps) == 1
    assert {n["readAt"] for n in payloads[0]["notifications"]} == stamps  # filled with the same instant
    async with platform.db.read() as s:
        other = await s.get(Notification, theirs[0])
    assert (other.acknowledged_at, other.read_at) == (None, None)

    empty = (await me.execute(ACK, {"ids": []}))["data"]["acknowledgeNotifications"]
    assert empty["errors"] == [{"field": "ids", "code": "REQUIRED"}]
    over = (await me.execute(ACK, {"ids": [gid("Notification", mine[0])] * 501}))["data"]
    assert over["acknowledgeNotifications"]["errors"] == [{"field": "ids", "code": "TOO_MANY"}]
    wrong = (await me.execute(ACK, {"ids": [gid("Task", 1)]}))["data"]["acknowledgeNotifications"]
    assert wrong["errors"] == [{"field": "ids.0", "code": "INVALID_VALUE"}]


# ---- delivered --------------------------------------------------------------------------------------


async def test_the_delivery_recorder_writes_a_flush_in_one_statement_and_keeps_the_first_instant(
    ids: dict[str, int], platform: Any
) -> None:
    K = NotificationKind
    first = await tell(platform, ids["zhou_wei"], K.TASK_ASSIGNED, K.MEETING_INVITED)
    second = await tell(platform, ids["wang_wei"], K.TASK_ASSIGNED, K.TASK_ASSIGNED)
    recorder = DeliveryRecorder(platform.db, clock=lambda: NOW)
    recorder.record(first[0])
    assert await recorder.flush() == 1
    later = NOW + dt.timedelta(minutes=5)
    recorder = DeliveryRecorder(platform.db, clock=lambda: later)
    for i in [*first, *second, first[0]]:  # from several sockets; one already delivered
        recorder.record(i)
    assert recorder.pending == 4
    with count_statements(platform) as statements:
        assert await recorder.flush() == 3
    assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE")]) == 1
    assert recorder.pending == 0
    assert await recorder.flush() == 0  # nothing buffered: no transaction at all
    async with platform.db.read() as s:
        rows = {n.id: n.delivered_at for n in (await s.execute(select(Notification))).scalars()}
    assert [rows[i] for i in [*first, *second]] == [NOW, later, later, later]


async def test_a_failed_flush_is_kept_for_the_next_one_and_never_raises(tmp_path: Any) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
    recorder = DeliveryRecorder(db, interval=0.05)
    try:
        recorder.record(1)
        recorder.record(2)
        assert await recorder.flush() == 0
        assert (recorder.pending, recorder.failures, recorder.flushes) == (2, 1, 0)
        recorder.start()
        await asyncio.sleep(0.2)  # the loop retries, and keeps failing quietly
        assert recorder.failures >= 2
        assert recorder.pending == 2
        await recorder.close()
    finally:
        await db.dispose()


# ---- roll-up ---------------------------------------------------------------------------------------


async def test_receipts_of_a_document_sent_to_several_cities_per_unit(as_, ids: dict[str, int], platform: Any) -> None:
    cities = list(CITIES[:4])
    doc, copies = await dispatched(as_, platform, ids, main=cities)
    who, _ = await names(platform)
    arrived = {who[n.user_id]: n.id for n in await rows_of(platform, NotificationKind.INCOMING_ARRIVED)}
    c1, c2, c3 = (f"clerk_{c}" for c in cities[:3])
    ack = await as_(c1).execute(ACK, {"ids": [gid("Notification", arrived[c1])]})
    assert ack["data"]["acknowledgeNotifications"]["acknowledged"] == 1
    await as_(c2).execute(MARK, {"input": {"ids": [gid("Notification", arrived[c2])]}})
    platform.deliveries.record(arrived[c3])
    await platform.deliveries.flush()

    variables = {"id": gid("Document", doc), "kind": "INCOMING_ARRIVED"}
    got = (await as_("clerk").execute(RECEIPTS, variables))["data"]["notificationReceipts"]

    def unit(code: str, d: int, o: int, a: int) -> dict[str, Any]:
        pending = [] if a else [{"username": f"clerk_{code}"}]
        return {
            "unit": {"code": code},
            "recipients": 1,
            "delivered": d,
            "opened": o,
            "acknowledged": a,
            "pending": pending,
        }

    assert got == {
        "recipients": 4,
        "delivered": 3,
        "opened": 2,
        "acknowledged": 1,
        "units": [
            unit(cities[0], 1, 1, 1),
            unit(cities[1], 1, 1, 0),
            unit(cities[2], 1, 0, 0),
            unit(cities[3], 0, 0, 0),
        ],
    }
    # Signing for a copy tells the sender (INCOMING_RECEIVED): that reports back, it is no notice
    # and counts nowhere, with or without a kind.
    assert (await as_(c1).execute(RECEIVE, {"id": copies[cities[0]]}))["data"]["receiveIncoming"]["errors"] == []
    every = (await as_("clerk").execute(RECEIPTS, {"id": gid("Document", doc)}))["data"]["notificationReceipts"]
    assert every == got


async def test_only_the_sending_side_and_whoever_caused_them_see_receipts(
    as_, ids: dict[str, int], platform: Any
) -> None:
    doc, _ = await dispatched(as_, platform, ids, main=["370100", "370200"])
    variables = {"id": gid("Document", doc), "kind": "INCOMING_ARRIVED"}
    for outsider in ("deputy", "clerk_370100", "zhang_wei", "wang_wei"):
        got = await as_(outsider).execute(RECEIPTS, variables)
        assert got == {"data": {"notificationReceipts": None}}, outsider
    assert (await as_("clerk").execute(RECEIPTS, variables))["data"]["notificationReceipts"]["recipients"] == 2
    # A meeting: its organisers see the receipts of its notices, an invitee does not.
    out = await create_meeting(as_("clerk"), ids, invitees=[{"unitId": gid("OrgUnit", ids["370300"]), "quota": 1}])
    m = {"id": out["meeting"]["id"], "kind": "MEETING_NOMINATION_REQUESTED"}
    seen = (await as_("clerk").execute(RECEIPTS, m))["data"]["notificationReceipts"]
    assert (seen["recipients"], seen["units"][0]["unit"]) == (1, {"code": "370300"})
    assert (await as_("clerk_370300").execute(RECEIPTS, m))["data"]["notificationReceipts"] is None
    # Nothing of that kind: null, for the sender too.
    none = {**variables, "kind": "MEETING_INVITED"}
    assert (await as_("clerk").execute(RECEIPTS, none))["data"]["notificationReceipts"] is None


async def test_the_roll_up_costs_the_same_statements_for_2_or_16_units(as_, ids: dict[str, int], platform: Any) -> None:
    small, _ = await dispatched(as_, platform, ids, main=list(CITIES[:2]))
    large, _ = await dispatched(as_, platform, ids, main=list(CITIES), title="关于开展安全生产大检查的通知")
    sender = as_("clerk")
    counted = []
    for doc in (small, large):
        with count_statements(platform) as statements:
            got = await sender.execute(RECEIPTS, {"id": gid("Document", doc), "kind": "INCOMING_ARRIVED"})
        assert got["data"]["notificationReceipts"]["recipients"] == (2 if doc == small else 16)
        counted.append([s.split()[0] for s in statements if s.lstrip().upper().startswith("SELECT")])
    # The actor (user, revoked token, roles), the document, the GROUP BY, then one batch each of
    # the pending people and the units.
    assert counted[0] == counted[1] == ["SELECT"] * 7


async def test_a_person_counts_once_and_what_reports_back_to_the_sender_is_no_notice(
    as_, ids: dict[str, int], platform: Any
) -> None:
    # 张伟 answers for 山东省财政厅 and for 济南市 (370100) as well.
    await give_duty(platform, "zhang_wei", "370100", Duty.CLERK)
    doc, copies = await dispatched(as_, platform, ids, main=[*CITIES, FINANCE])
    who, unit = await names(platform)
    arrived = [
        (who[n.user_id], unit[n.unit_id], n.id) for n in await rows_of(platform, NotificationKind.INCOMING_ARRIVED)
    ]
    assert len(arrived) == 18  # 16 city clerks, 张伟 twice
    zhang = {code: i for u, code, i in arrived if u == "zhang_wei"}
    assert set(zhang) == {FINANCE, "370100"}
    ack = await as_("zhang_wei").execute(ACK, {"ids": [gid("Notification", zhang[FINANCE])]})
    assert ack["data"]["acknowledgeNotifications"]["acknowledged"] == 1
    # Every city signs for its copy: the provincial clerk gets 16 INCOMING_RECEIVED and
    # acknowledges 10 of them; those report back to the sender and count nowhere.
    for code in CITIES:
        clerk = "zhang_wei" if code == "370100" else f"clerk_{code}"
        signed = await as_(clerk).execute(RECEIVE, {"id": copies[code]})
        assert signed["data"]["receiveIncoming"]["errors"] == [], code
    received = [n.id for n in await rows_of(platform, NotificationKind.INCOMING_RECEIVED)]
    assert len(received) == 16
    ack = await as_("clerk").execute(ACK, {"ids": [gid("Notification", i) for i in received[:10]]})
    assert ack["data"]["acknowledgeNotifications"]["acknowledged"] == 10

    refused = await as_("clerk").execute(RECEIPTS, {"id": gid("Document", doc), "kind": "INCOMING_RECEIVED"})
    assert refused["data"] == {"notificationReceipts": None}
    assert refused["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "kind"}
    for sender_side in ("INCOMING_REPLIED", "MEETING_REPLY_RECEIVED", "SUPERVISION_PROGRESS", "TASK_ASSIGNED"):
        got = await as_("clerk").execute(RECEIPTS, {"id": gid("Document", doc), "kind": sender_side})
        assert got["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "kind"}, sender_side

    every = (await as_("clerk").execute(RECEIPTS, {"id": gid("Document", doc)}))["data"]["notificationReceipts"]
    # 17 people: the 16 city clerks and 张伟 (济南市's second clerk, and 财政厅's).
    assert (every["recipients"], every["acknowledged"]) == (17, 0)
    groups = {u["unit"]["code"]: (u["recipients"], u["acknowledged"], u["pending"]) for u in every["units"]}
    assert len(groups) == 17  # one per recipient unit; nobody personally
    assert groups[FINANCE] == (1, 1, [])
    assert groups["370100"] == (2, 0, [{"username": "clerk_370100"}, {"username": "zhang_wei"}])
    assert {code: g[0] for code, g in groups.items() if code not in (FINANCE, "370100")} == {
        code: 1 for code in CITIES[1:]
    }
    # 张伟 acknowledges for 济南市 too: counted once, acknowledged once.
    ack = await as_("zhang_wei").execute(ACK, {"ids": [gid("Notification", zhang["370100"])]})
    assert ack["data"]["acknowledgeNotifications"]["acknowledged"] == 1
    every = (await as_("clerk").execute(RECEIPTS, {"id": gid("Document", doc)}))["data"]["notificationReceipts"]
    assert (every["recipients"], every["delivered"], every["opened"], every["acknowledged"]) == (17, 1, 1, 1)
    # A city's clerk caused INCOMING_RECEIVED by signing: that is no notice, they see nothing.
    for recipient in ("clerk_370200", "zhang_wei"):
        assert (await as_(recipient).execute(RECEIPTS, {"id": gid("Document", doc)})) == {
            "data": {"notificationReceipts": None}
        }, recipient


async def test_a_meeting_roll_up_counts_its_notices_and_a_nominator_sees_their_own(
    as_, ids: dict[str, int], platform: Any
) -> None:
    out = await create_meeting(
        as_("clerk"),
        ids,
        invitees=[
            {"userId": gid("User", ids["finance_head"])},
            {"unitId": gid("OrgUnit", ids["370100"]), "quota": 2},
            {"unitId": gid("OrgUnit", ids["370200"]), "quota": 1},
        ],
    )
    assert out["errors"] == [], out
    m = await meeting(as_("clerk"), out["meeting"]["id"])
    nominated = await run(
        as_("clerk_370100"), NOMINATE, invitationId=invitation(m, "370100")["id"], userIds=[gid("User", ids["li_na"])]
    )
    assert nominated["errors"] == []
    m = await meeting(as_("clerk"), out["meeting"]["id"])
    for person in ("finance_head", "li_na"):
        replied = await run(as_(person), REPLY, invitationId=invitation(m, person)["id"], state="ACCEPTED")
        assert replied["errors"] == [], person
    assert len(await rows_of(platform, NotificationKind.MEETING_REPLY_RECEIVED)) == 2
    variables = {"id": out["meeting"]["id"]}

    # Who only received a notice, or replied (caused MEETING_REPLY_RECEIVED), sees nothing; the
    # organiser sees the four people; the nominating clerk only the notice they sent (li_na's).
    for attendee in ("li_na", "finance_head", "clerk_370200"):
        assert (await as_(attendee).execute(RECEIPTS, variables)) == {"data": {"notificationReceipts": None}}
    every = (await as_("clerk").execute(RECEIPTS, variables))["data"]["notificationReceipts"]
    assert every["recipients"] == 4
    assert [(u["unit"], u["recipients"], [p["username"] for p in u["pending"]]) for u in every["units"]] == [
        ({"code": "370100"}, 2, sorted(["li_na", "clerk_370100"], key=ids.__getitem__)),
        ({"code": "370200"}, 1, ["clerk_370200"]),
        (None, 1, ["finance_head"]),
    ]
    own = (await as_("clerk_370100").execute(RECEIPTS, variables))["data"]["notificationReceipts"]
    assert own == {
        "recipients": 1,
        "delivered": 0,
        "opened": 0,
        "acknowledged": 0,
        "units": [
            {
                "unit": {"code": "370100"},
                "recipients": 1,
                "delivered": 0,
                "opened": 0,
                "acknowledged": 0,
                "pending": [{"username": "li_na"}],
            }
        ],
    }


async def test_a_subject_that_has_no_receipts_is_refused(as_, ids: dict[str, int], platform: Any) -> None:
    clerk = as_("clerk")
    for subject in (gid("User", ids["li_na"]), gid("OrgUnit", ids["370100"]), gid("Notification", 1)):
        got = await clerk.execute(RECEIPTS, {"id": subject})
        assert got["data"] == {"notificationReceipts": None}
        assert got["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "subjectId"}, subject
    malformed = await clerk.execute(RECEIPTS, {"id": gid("Document", 0)})
    assert malformed["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "subjectId"}
    # A well-formed id of a supported type that names no row: null, like an invisible one.
    assert await clerk.execute(RECEIPTS, {"id": gid("Meeting", 987654)}) == {"data": {"notificationReceipts": None}}

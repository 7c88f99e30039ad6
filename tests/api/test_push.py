"""Mobile push on both databases: devices (register, move, unregister, removal with the session),
quiet hours, the push queue (held, summary, retries, dead tokens), escalation to SMS.

Notifications are written with :func:`messaging.outbox.notify` in a unit of work whose ``now``
is the story's instant, and the jobs run with ``platform.scheduler.run_due(instant)``. Push and
SMS go through the development providers (``platform.push.sent``, ``platform.sms.sent``) or a
scripted provider loaded the way ``OFFICE_PUSH_PROVIDER=package.module:Class`` loads one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from messaging.devices import Device, PushOutbox, register_device
from messaging.models import Notification
from messaging.outbox import Message, notify
from messaging.push import LoggingPushProvider, PushOutcome, load_provider
from office_api.config import Settings
from office_api.errors import DomainError, ErrorCode
from office_api.mobile_push import ESCALATE_PUSH_KIND, ESCALATE_SMS_KIND, FLUSH_KIND
from office_api.org.models import User
from office_api.scheduler import ScheduledJob
from office_api.workdays import SHANGHAI
from tests.conftest import DEMO_PASSWORD, GraphQLClient
from tests.dispatch_helpers import gid, ids_of, pk_of
from tests.push_helpers import ScriptedPush

REGISTER = """mutation($p:PushPlatform!,$t:String!,$n:String,$v:String){
  registerDevice(input:{platform:$p,token:$t,name:$n,appVersion:$v}){
    device{ id platform name appVersion currentSession } errors{ field code } } }"""
UNREGISTER = "mutation($id:ID!){ unregisterDevice(input:{id:$id}){ deviceId errors{ field code } } }"
MY_DEVICES = "{ myDevices { id platform name appVersion currentSession } }"
SET_QUIET = """mutation($s:String!,$e:String!){ setQuietHours(input:{start:$s,end:$e}){
  quietHours{ start end timeZone crossesMidnight } errors{ field code } } }"""
CLEAR_QUIET = "mutation{ clearQuietHours { quietHours { start } errors { code } } }"
MY_QUIET = "{ myQuietHours { start end timeZone crossesMidnight } }"


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """``hour:minute`` Asia/Shanghai on 2026-06-``day`` as a UTC instant."""
    return dt.datetime(2026, 6, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(dt.UTC)


@pytest.fixture
async def ids(platform: Any) -> dict[str, int]:
    return await ids_of(platform)


async def add_device(platform: Any, user_id: int, token: str, platform_name: str = "APNS") -> int:
    async with platform.db.unit_of_work() as uow:
        return (await register_device(uow, user_id, None, platform_name, token)).id


async def send(platform: Any, when: dt.datetime, *messages: Message, fail: bool = False) -> list[int]:
    """Notify at ``when``; the ids of the notifications written (in message order)."""
    async with platform.db.unit_of_work() as uow:
        uow.now = when
        seqs = await notify(uow, platform.broker, list(messages))
        ids = []
        for m, seq in zip(messages, seqs, strict=True):
            q = select(Notification.id).where(Notification.user_id == m.user_id, Notification.seq == seq)
            ids.append((await uow.session.execute(q)).scalar_one())
        if fail:
            raise RuntimeError("the change fails after notifying")
    return ids


def msg(user_id: int, title: str, priority: str = "normal") -> Message:
    return Message(user_id=user_id, kind="TASK_ASSIGNED", title=title, body="正文摘要", priority=priority)


async def notes(platform: Any, ids: list[int]) -> dict[int, Notification]:
    async with platform.db.read() as s:
        rows = (await s.execute(select(Notification).where(Notification.id.in_(ids)))).scalars()
        return {n.id: n for n in rows}


async def jobs(platform: Any, kind: str) -> list[tuple[str, dt.datetime, dict]]:
    async with platform.db.read() as s:
        rows = (
            await s.execute(select(ScheduledJob).where(ScheduledJob.kind == kind).order_by(ScheduledJob.id))
        ).scalars()
        return [(j.key, j.run_at, j.payload) for j in rows]


async def count(platform: Any, model: Any, *where: Any) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


def pushed(platform: Any) -> list[tuple[str, str, str, str, bool, dict]]:
    """(token, title, body, priority, alert, data) of every push sent so far."""
    return [(d.token, m.title, m.body, m.priority, m.alert, m.data) for d, m in platform.push.sent]


# ---- devices over the API -----------------------------------------------------------------


async def test_register_list_reregister_and_unregister(client: GraphQLClient, platform: Any) -> None:
    zhang = await client.login("zhang_wei")
    first = (await zhang.execute(REGISTER, {"p": "APNS", "t": "a" * 64, "n": "张伟的 iPhone", "v": "2.1.0"}))["data"]
    device = first["registerDevice"]["device"]
    assert first["registerDevice"]["errors"] == []
    assert {k: v for k, v in device.items() if k != "id"} == {
        "platform": "APNS",
        "name": "张伟的 iPhone",
        "appVersion": "2.1.0",
        "currentSession": True,
    }
    # Registering the same token again (every app start) is the same device, refreshed.
    again = (await zhang.execute(REGISTER, {"p": "APNS", "t": "a" * 64, "v": "2.2.0"}))["data"]["registerDevice"]
    assert again == {
        "device": {"id": device["id"], "platform": "APNS", "name": None, "appVersion": "2.2.0", "currentSession": True},
        "errors": [],
    }
    # The same token string of another push service is another device.
    other = (await zhang.execute(REGISTER, {"p": "FCM", "t": "a" * 64}))["data"]["registerDevice"]["device"]
    listed = (await zhang.execute(MY_DEVICES))["data"]["myDevices"]
    assert [d["id"] for d in listed] == [other["id"], device["id"]]
    assert await count(platform, Device) == 2

    gone = (await zhang.execute(UNREGISTER, {"id": device["id"]}))["data"]["unregisterDevice"]
    assert gone == {"deviceId": device["id"], "errors": []}
    assert [d["id"] for d in (await zhang.execute(MY_DEVICES))["data"]["myDevices"]] == [other["id"]]
    again_gone = (await zhang.execute(UNREGISTER, {"id": device["id"]}))["data"]["unregisterDevice"]
    assert again_gone == {"deviceId": None, "errors": [{"field": "id", "code": "NOT_FOUND"}]}
    # Someone else's device: NOT_FOUND, and it stays.
    wang = await client.login("wang_wei")
    refused = (await wang.execute(UNREGISTER, {"id": other["id"]}))["data"]["unregisterDevice"]
    assert refused == {"deviceId": None, "errors": [{"field": "id", "code": "NOT_FOUND"}]}
    assert await count(platform, Device) == 1
    not_a_device = (await wang.execute(UNREGISTER, {"id": gid("User", 1)}))["data"]["unregisterDevice"]
    assert not_a_device == {"deviceId": None, "errors": [{"field": "id", "code": "INVALID_VALUE"}]}


async def test_a_token_registered_by_another_user_moves_to_them(
    client: GraphQLClient, platform: Any, ids: dict[str, int]
) -> None:
    zhang = await client.login("zhang_wei")
    wang = await client.login("wang_wei")
    token = "shared-phone-token-0001"
    mine = (await zhang.execute(REGISTER, {"p": "HUAWEI", "t": token, "n": "办公室共用手机"}))["data"]
    theirs = (await wang.execute(REGISTER, {"p": "HUAWEI", "t": token}))["data"]["registerDevice"]
    assert theirs["errors"] == []
    assert theirs["device"]["id"] == mine["registerDevice"]["device"]["id"]
    assert (await zhang.execute(MY_DEVICES))["data"]["myDevices"] == []
    assert [d["id"] for d in (await wang.execute(MY_DEVICES))["data"]["myDevices"]] == [theirs["device"]["id"]]
    async with platform.db.read() as s:
        row = (await s.execute(select(Device))).scalar_one()
    assert (row.user_id, row.platform, row.token, row.name) == (ids["wang_wei"], "HUAWEI", token, None)
    # A notification for zhang_wei no longer reaches the phone; one for wang_wei does.
    t0 = local(1, 10)
    await send(platform, t0, msg(ids["zhang_wei"], "给张伟"), msg(ids["wang_wei"], "给王伟"))
    await platform.scheduler.run_due(t0)
    assert [(p[0], p[1]) for p in pushed(platform)] == [(token, "给王伟")]


async def test_concurrent_registrations_of_one_token_leave_one_row(
    client: GraphQLClient, platform: Any, ids: dict[str, int]
) -> None:
    zhang = await client.login("zhang_wei")
    wang = await client.login("wang_wei")
    token = "f" * 152
    results = await asyncio.gather(*(c.execute(REGISTER, {"p": "FCM", "t": token}) for c in [zhang, wang] * 6))
    assert [r["data"]["registerDevice"]["errors"] for r in results] == [[]] * 12
    assert len({r["data"]["registerDevice"]["device"]["id"] for r in results}) == 1
    async with platform.db.read() as s:
        rows = (await s.execute(select(Device.user_id).where(Device.token == token))).scalars().all()
    assert len(rows) == 1
    assert rows[0] in (ids["zhang_wei"], ids["wang_wei"])


async def test_logout_removes_that_sessions_devices_and_a_password_change_all(
    client: GraphQLClient, platform: Any
) -> None:
    a, b, c = [await client.login("zhang_wei") for _ in range(3)]
    for session, token in ((a, "token-a"), (b, "token-b"), (c, "token-c")):
        assert (await session.execute(REGISTER, {"p": "XIAOMI", "t": token}))["data"]["registerDevice"]["errors"] == []
    listed = (await b.execute(MY_DEVICES))["data"]["myDevices"]
    assert sorted(d["currentSession"] for d in listed) == [False, False, True]
    assert (await a.execute("mutation{ logout { ok errors { code } } }"))["data"]["logout"] == {
        "ok": True,
        "errors": [],
    }
    async with platform.db.read() as s:
        assert sorted((await s.execute(select(Device.token))).scalars()) == ["token-b", "token-c"]
    changed = await b.execute(
        "mutation($o:String!,$n:String!){ changePassword(input:{oldPassword:$o,newPassword:$n}){ errors { code } } }",
        {"o": DEMO_PASSWORD, "n": "Another@2027"},
    )
    assert changed["data"]["changePassword"]["errors"] == []
    assert await count(platform, Device) == 0


async def test_disabling_an_account_removes_its_devices(
    client: GraphQLClient, platform: Any, ids: dict[str, int]
) -> None:
    await add_device(platform, ids["clerk"], "clerk-phone")
    await add_device(platform, ids["li_na"], "li-na-phone")
    admin = await client.login("admin")
    result = await admin.execute(
        "mutation($id:ID!){ disableUser(input:{userId:$id}){ errors { code } } }", {"id": gid("User", ids["clerk"])}
    )
    assert result["data"]["disableUser"]["errors"] == []
    async with platform.db.read() as s:
        assert list((await s.execute(select(Device.token))).scalars()) == ["li-na-phone"]


async def test_bad_device_input_gives_coded_errors_and_changes_nothing(
    client: GraphQLClient, platform: Any, ids: dict[str, int]
) -> None:
    zhang = await client.login("zhang_wei")

    async def errors(**variables: Any) -> list[dict]:
        data = await zhang.execute(REGISTER, {"p": "APNS", "t": "ok-token", **variables})
        return data["data"]["registerDevice"]["errors"]

    assert await errors(t="") == [{"field": "token", "code": "REQUIRED"}]
    assert await errors(t="   ") == [{"field": "token", "code": "REQUIRED"}]
    assert await errors(t="x" * 513) == [{"field": "token", "code": "TOO_LONG"}]
    assert await errors(t="has space") == [{"field": "token", "code": "INVALID_VALUE"}]
    assert await errors(t="令牌") == [{"field": "token", "code": "INVALID_VALUE"}]
    assert await errors(n="名" * 101, v="1" * 41) == [
        {"field": "name", "code": "TOO_LONG"},
        {"field": "appVersion", "code": "TOO_LONG"},
    ]
    assert await errors(t="x" * 512) == []  # the longest accepted
    # An unknown push service is refused by the schema (PushPlatform enum), naming the value…
    unknown = await zhang.execute(REGISTER, {"p": "NOKIA", "t": "ok-token"})
    assert unknown["data"] is None
    assert "NOKIA" in unknown["errors"][0]["message"]
    assert "PushPlatform" in unknown["errors"][0]["message"]
    # …and by the service, with a coded error naming the field, for callers other than the API.
    async with platform.db.unit_of_work() as uow:
        with pytest.raises(DomainError) as refused:
            await register_device(uow, ids["zhang_wei"], None, "NOKIA", "ok-token")
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_VALUE, "platform")
    async with platform.db.read() as s:
        assert list((await s.execute(select(Device.token))).scalars()) == ["x" * 512]


async def test_at_most_ten_devices_the_least_recently_seen_goes(platform: Any, ids: dict[str, int]) -> None:
    for i in range(11):
        async with platform.db.unit_of_work() as uow:
            uow.now = local(1, 9, i)
            await register_device(uow, ids["zhang_wei"], None, "FCM", f"token-{i:02d}")
    async with platform.db.read() as s:
        tokens = sorted((await s.execute(select(Device.token))).scalars())
    assert tokens == [f"token-{i:02d}" for i in range(1, 11)]


async def test_the_device_just_registered_is_kept_even_when_its_time_is_the_oldest(
    platform: Any, ids: dict[str, int]
) -> None:
    for i in range(10):
        async with platform.db.unit_of_work() as uow:
            uow.now = local(1, 9, 10 + i)
            await register_device(uow, ids["zhang_wei"], None, "FCM", f"token-{i:02d}")
    # A request whose instant is older than every device it finds (it started, then waited).
    async with platform.db.unit_of_work() as uow:
        uow.now = local(1, 9, 0)
        late = await register_device(uow, ids["zhang_wei"], None, "FCM", "late-token")
    assert (late.token, late.last_seen_at) == ("late-token", local(1, 9, 0))
    async with platform.db.read() as s:
        tokens = sorted((await s.execute(select(Device.token))).scalars())
    assert tokens == ["late-token"] + [f"token-{i:02d}" for i in range(1, 10)]


async def test_concurrent_registrations_of_one_user_all_succeed_and_the_last_ten_committed_stay(
    client: GraphQLClient, platform: Any, ids: dict[str, int]
) -> None:
    sessions = [await client.login("zhang_wei") for _ in range(2)]
    # A clock that moves on at every reading: a registration that read the time when its
    # request started, then waited for its turn, would be older than devices committed meanwhile.
    start, ticks = dt.datetime.now(dt.UTC), iter(range(1_000_000))
    platform.clock = lambda: start + dt.timedelta(milliseconds=next(ticks))
    results = await asyncio.gather(
        *(sessions[i % 2].execute(REGISTER, {"p": "XIAOMI", "t": f"race_tok_{i}"}) for i in range(30))
    )
    assert [r.get("errors") for r in results] == [None] * 30
    assert [r["data"]["registerDevice"]["errors"] for r in results] == [[]] * 30
    returned = [pk_of(r["data"]["registerDevice"]["device"]["id"]) for r in results]
    assert len(set(returned)) == 30
    token_of = {pk: f"race_tok_{i}" for i, pk in enumerate(returned)}
    async with platform.db.read() as s:
        q = select(Device).where(Device.user_id == ids["zhang_wei"]).order_by(Device.id)
        kept = list((await s.execute(q)).scalars())
    # Registrations take turns, so ids are given in commit order: the ten committed last stay,
    # each with its caller's token, and their last-seen times strictly follow that order.
    last_ten = sorted(returned)[-10:]
    assert [d.id for d in kept] == last_ten
    assert [d.token for d in kept] == [token_of[pk] for pk in last_ten]
    times = [d.last_seen_at for d in kept]
    assert times == sorted(set(times))
    listed = (await sessions[0].execute(MY_DEVICES))["data"]["myDevices"]
    assert [d["id"] for d in listed] == [gid("Device", pk) for pk in reversed(last_ten)]


# ---- quiet hours over the API ---------------------------------------------------------------


async def test_set_read_and_clear_quiet_hours(client: GraphQLClient) -> None:
    zhang = await client.login("zhang_wei")
    assert (await zhang.execute(MY_QUIET))["data"]["myQuietHours"] is None
    night = {"start": "22:00", "end": "07:00", "timeZone": "Asia/Shanghai", "crossesMidnight": True}
    assert (await zhang.execute(SET_QUIET, {"s": "22:00", "e": "07:00"}))["data"]["setQuietHours"] == {
        "quietHours": night,
        "errors": [],
    }
    assert (await zhang.execute(MY_QUIET))["data"]["myQuietHours"] == night
    lunch = {"start": "12:00", "end": "13:30", "timeZone": "Asia/Shanghai", "crossesMidnight": False}
    assert (await zhang.execute(SET_QUIET, {"s": " 12:00", "e": "13:30"}))["data"]["setQuietHours"][
        "quietHours"
    ] == lunch
    for start, end, expected in (
        ("24:00", "07:00", [{"field": "start", "code": "INVALID_VALUE"}]),
        ("7:00", "08:00", [{"field": "start", "code": "INVALID_VALUE"}]),
        ("22:00", "07:60", [{"field": "end", "code": "INVALID_VALUE"}]),
        ("", "", [{"field": "start", "code": "INVALID_VALUE"}, {"field": "end", "code": "INVALID_VALUE"}]),
        ("22:00", "22:00", [{"field": "end", "code": "INVALID_VALUE"}]),
        ("22:00:00", "07:00", [{"field": "start", "code": "INVALID_VALUE"}]),
    ):
        result = (await zhang.execute(SET_QUIET, {"s": start, "e": end}))["data"]["setQuietHours"]
        assert result == {"quietHours": None, "errors": expected}, (start, end)
    assert (await zhang.execute(MY_QUIET))["data"]["myQuietHours"] == lunch  # refused changes changed nothing
    assert (await zhang.execute(CLEAR_QUIET))["data"]["clearQuietHours"] == {"quietHours": None, "errors": []}
    assert (await zhang.execute(MY_QUIET))["data"]["myQuietHours"] is None
    assert (await zhang.execute(CLEAR_QUIET))["data"]["clearQuietHours"] == {"quietHours": None, "errors": []}


# ---- delivery ----------------------------------------------------------------------------


async def test_quiet_hours_across_midnight_hold_all_but_extra_urgent(
    client: GraphQLClient, platform: Any, ids: dict[str, int]
) -> None:
    zhang = await client.login("zhang_wei")
    assert (await zhang.execute(SET_QUIET, {"s": "22:00", "e": "07:00"}))["data"]["setQuietHours"]["errors"] == []
    await add_device(platform, ids["zhang_wei"], "zhang-iphone")
    me = ids["zhang_wei"]

    [evening] = await send(platform, local(1, 21, 59, 59), msg(me, "晚间待办"))
    await platform.scheduler.run_due(local(1, 21, 59, 59))
    assert [p[1] for p in pushed(platform)] == ["晚间待办"]

    [n1] = await send(platform, local(1, 22, 0), msg(me, "夜间待办一"))
    [x1] = await send(platform, local(1, 23, 30), msg(me, "特急来文", "extra_urgent"))
    [n2] = await send(platform, local(2, 6, 59, 59), msg(me, "清晨待办二", "urgent"))
    await platform.scheduler.run_due(local(1, 23, 30))
    assert pushed(platform)[1:] == [
        ("zhang-iphone", "特急来文", "", "extra_urgent", False, {"sequence": 3, "count": 1, "kinds": ["TASK_ASSIGNED"]})
    ]
    async with platform.db.unit_of_work() as uow:  # 已知悉: the extra-urgent item escalates no further
        await uow.session.execute(
            update(Notification).where(Notification.id == x1).values(acknowledged_at=local(1, 23, 31))
        )
    await platform.scheduler.run_due(local(2, 6, 59, 59))
    assert len(platform.push.sent) == 2
    assert platform.sms.sent == []
    # 07:00: what was held goes out as one summary push per device.
    await platform.scheduler.run_due(local(2, 7, 0))
    assert pushed(platform)[2:] == [
        (
            "zhang-iphone",
            "2 条新通知",
            "清晨待办二",
            "urgent",
            False,
            {"sequence": 4, "count": 2, "kinds": ["TASK_ASSIGNED"]},
        )
    ]
    got = await notes(platform, [evening, n1, x1, n2])
    assert [got[i].delivered_at for i in (evening, n1, x1, n2)] == [
        local(1, 21, 59, 59),
        local(2, 7, 0),
        local(1, 23, 30),
        local(2, 7, 0),
    ]
    assert await count(platform, PushOutbox) == 0
    # The urgent one held by quiet hours escalates from their end: 07:05 and 07:30.
    assert [(run_at, payload) for _, run_at, payload in await jobs(platform, ESCALATE_PUSH_KIND)] == [
        (local(1, 23, 35), {"ids": [x1]}),
        (local(2, 7, 5), {"ids": [n2]}),
    ]
    assert [run_at for _, run_at, _ in await jobs(platform, ESCALATE_SMS_KIND)] == [local(2, 0, 0), local(2, 7, 30)]


async def test_escalation_timeline_push_then_sms(platform: Any, ids: dict[str, int]) -> None:
    wang = ids["wang_wei"]
    t0 = local(1, 10)
    [n] = await send(platform, t0, msg(wang, "关于防汛工作的紧急通知", "urgent"))
    await platform.scheduler.run_due(t0)
    assert platform.push.sent == []  # no device yet: nothing queued
    assert await count(platform, PushOutbox) == 0
    await add_device(platform, wang, "wang-android", "FCM")
    await platform.scheduler.run_due(t0 + dt.timedelta(seconds=299))
    assert platform.push.sent == []
    await platform.scheduler.run_due(t0 + dt.timedelta(seconds=300))
    assert pushed(platform) == [
        (
            "wang-android",
            "【加急】待确认：关于防汛工作的紧急通知",
            "",
            "urgent",
            True,
            {"sequence": 1, "count": 1, "kinds": ["TASK_ASSIGNED"]},
        )
    ]
    assert (await notes(platform, [n]))[n].delivered_at == t0 + dt.timedelta(seconds=300)
    await platform.scheduler.run_due(t0 + dt.timedelta(seconds=1799))
    assert platform.sms.sent == []
    await platform.scheduler.run_due(t0 + dt.timedelta(seconds=1800))
    assert platform.sms.sent == [("13800000007", "【加急】关于防汛工作的紧急通知。请登录移动办公查看并确认。")]
    await platform.scheduler.run_due(t0 + dt.timedelta(days=3))
    assert (len(platform.push.sent), len(platform.sms.sent)) == (1, 1)


async def test_pushed_urgent_items_skip_the_reminder_and_acknowledged_ones_stop(
    platform: Any, ids: dict[str, int]
) -> None:
    zhang, li = ids["zhang_wei"], ids["li_na"]
    await add_device(platform, zhang, "zhang-iphone")
    t0 = local(1, 10)
    [a, b] = await send(platform, t0, msg(zhang, "加急一", "urgent"), msg(li, "特急二", "extra_urgent"))
    await platform.scheduler.run_due(t0)
    await send(platform, t0, msg(zhang, "加急三", "urgent"))
    await platform.scheduler.run_due(t0)
    assert [p[1] for p in pushed(platform)] == ["加急一", "加急三"]  # li_na has no phone
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(Notification).where(Notification.id == b).values(acknowledged_at=t0))
    await platform.scheduler.run_due(t0 + dt.timedelta(seconds=1800))
    # Delivered by push: no reminder push. Not acknowledged: SMS, one per transaction's batch.
    assert len(platform.push.sent) == 2
    assert platform.sms.sent == [
        ("13800000006", "【加急】加急一。请登录移动办公查看并确认。"),
        ("13800000006", "【加急】加急三。请登录移动办公查看并确认。"),
    ]
    assert a != b


async def test_one_notify_to_many_people_is_one_job_per_step(platform: Any, ids: dict[str, int]) -> None:
    people = sorted(v for k, v in ids.items() if k.startswith("clerk_") or k.startswith("leader_"))
    assert len(people) == 32
    for uid in people:
        await add_device(platform, uid, f"phone-{uid}", "HUAWEI")
    t0 = local(1, 10)
    sent_ids = await send(platform, t0, *(msg(uid, "关于召开全省视频会议的通知", "urgent") for uid in people))
    assert [len(await jobs(platform, k)) for k in (FLUSH_KIND, ESCALATE_PUSH_KIND, ESCALATE_SMS_KIND)] == [1, 1, 1]
    assert await count(platform, PushOutbox) == 32
    assert await platform.scheduler.run_due(t0) == 1
    assert sorted(p[0] for p in pushed(platform)) == sorted(f"phone-{uid}" for uid in people)
    got = await notes(platform, sent_ids)
    assert {n.delivered_at for n in got.values()} == {t0}


async def test_a_rolled_back_change_pushes_nothing(platform: Any, ids: dict[str, int]) -> None:
    await add_device(platform, ids["zhang_wei"], "zhang-iphone")
    with pytest.raises(RuntimeError):
        await send(platform, local(1, 10), msg(ids["zhang_wei"], "不会发生", "extra_urgent"), fail=True)
    assert await count(platform, PushOutbox) == 0
    kinds = (FLUSH_KIND, ESCALATE_PUSH_KIND, ESCALATE_SMS_KIND)
    assert await count(platform, ScheduledJob, ScheduledJob.kind.in_(kinds)) == 0
    await platform.scheduler.run_due(local(3, 10))
    assert (platform.push.sent, platform.sms.sent) == ([], [])


async def test_invalid_token_deletes_the_device_and_retry_later_is_retried(
    platform: Any, ids: dict[str, int], settings: Settings
) -> None:
    provider = load_provider("tests.push_helpers:ScriptedPush", settings, LoggingPushProvider)
    assert isinstance(provider, ScriptedPush)
    platform.push = provider
    zhang = ids["zhang_wei"]
    for token in ("dead", "flaky", "fine"):
        await add_device(platform, zhang, token)
    provider.script["dead"] = [PushOutcome.INVALID_TOKEN]
    provider.script["flaky"] = [PushOutcome.RETRY_LATER, TimeoutError("slow service")]
    t0 = local(1, 10)
    [n] = await send(platform, t0, msg(zhang, "新待办"))
    await platform.scheduler.run_due(t0)
    assert sorted(d.token for d, _ in provider.sent) == ["dead", "fine", "flaky"]
    async with platform.db.read() as s:
        assert sorted((await s.execute(select(Device.token))).scalars()) == ["fine", "flaky"]
        queued = (await s.execute(select(PushOutbox))).scalar_one()
    assert (queued.notification_id, queued.attempts, queued.due_at) == (n, 1, t0 + dt.timedelta(seconds=60))
    assert (await notes(platform, [n]))[n].delivered_at == t0  # "fine" took it
    await platform.scheduler.run_due(t0 + dt.timedelta(seconds=59))
    assert len(provider.sent) == 3
    await platform.scheduler.run_due(t0 + dt.timedelta(seconds=60))  # raises: retried like retry_later
    async with platform.db.read() as s:
        queued = (await s.execute(select(PushOutbox))).scalar_one()
    assert (queued.attempts, queued.due_at) == (2, t0 + dt.timedelta(seconds=180))
    await platform.scheduler.run_due(t0 + dt.timedelta(seconds=180))
    assert [d.token for d, _ in provider.sent[3:]] == ["flaky", "flaky"]
    assert [m.title for _, m in provider.sent] == ["新待办"] * 5
    assert await count(platform, PushOutbox) == 0


async def test_retries_stop_after_the_configured_tries(platform: Any, ids: dict[str, int], settings: Settings) -> None:
    provider = ScriptedPush(settings)
    platform.push = provider
    await add_device(platform, ids["zhang_wei"], "down")
    provider.script["down"] = [PushOutcome.RETRY_LATER] * 10
    t0 = local(1, 10)
    await send(platform, t0, msg(ids["zhang_wei"], "新待办"))
    await platform.scheduler.run_due(t0 + dt.timedelta(days=2))
    await platform.scheduler.run_due(t0 + dt.timedelta(days=4))
    for day in range(5, 10):
        await platform.scheduler.run_due(t0 + dt.timedelta(days=day))
    assert len(provider.sent) == settings.push_max_attempts == 5
    assert await count(platform, PushOutbox) == 0


async def test_no_sms_without_a_mobile_number_and_read_items_are_not_pushed(platform: Any, ids: dict[str, int]) -> None:
    zhang = ids["zhang_wei"]
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(User).where(User.id == zhang).values(mobile=None))
    await add_device(platform, zhang, "zhang-iphone")
    t0 = local(1, 10)
    [n] = await send(platform, t0, msg(zhang, "已在电脑上读过", "urgent"))
    async with platform.db.unit_of_work() as uow:  # read on the desktop before the push went out
        await uow.session.execute(update(Notification).where(Notification.id == n).values(read_at=t0))
    await platform.scheduler.run_due(t0 + dt.timedelta(hours=1))
    # not pushed (read), the reminder push went (not acknowledged, not delivered), no SMS (no number)
    assert [(p[1], p[4]) for p in pushed(platform)] == [("【加急】待确认：已在电脑上读过", True)]
    assert platform.sms.sent == []


async def test_a_moved_token_loses_the_retries_queued_for_its_previous_owner(
    platform: Any, ids: dict[str, int], settings: Settings
) -> None:
    provider = ScriptedPush(settings)
    platform.push = provider
    await add_device(platform, ids["zhang_wei"], "handed-on-phone")
    provider.script["handed-on-phone"] = [PushOutcome.RETRY_LATER]
    t0 = local(1, 10)
    await send(platform, t0, msg(ids["zhang_wei"], "张伟的待办"))
    await platform.scheduler.run_due(t0)
    assert await count(platform, PushOutbox) == 1  # a retry for that device
    await add_device(platform, ids["wang_wei"], "handed-on-phone")
    assert await count(platform, PushOutbox) == 0
    await platform.scheduler.run_due(t0 + dt.timedelta(hours=1))
    assert [(d.token, m.title) for d, m in provider.sent] == [("handed-on-phone", "张伟的待办")]

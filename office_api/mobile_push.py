"""Mobile push and SMS escalation of notifications: when, to which devices, and what.

Enqueueing (in the notifying transaction)
    :func:`enqueue` is a :func:`messaging.outbox.on_notify` hook. For every notification of a
    person who has at least one registered device it writes a :class:`PushOutbox` row due now,
    or, when the person is in quiet hours and the item is not ``extra_urgent`` (特急), due at
    the end of the quiet hours; and it schedules one ``push.flush`` job per due instant (not
    one per person: a notice to 500 people is one job). For ``urgent`` (加急) and
    ``extra_urgent`` items it schedules, per batch of up to 500 notifications, one
    ``push.escalate`` and one ``sms.escalate`` job. All of it commits with the change or not
    at all: a rolled-back change pushes nothing.

Sending (job ``push.flush``, :func:`flush`)
    Takes up to 1,000 due queue rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: every row is
    taken by one process), drops those whose notification was read or acknowledged meanwhile,
    holds again those whose person is now in quiet hours (not ``extra_urgent``), and sends to
    each of the person's current devices one push: the notification's title when there is one
    item, else one summary push ``N 条新通知`` with the newest title as body (what quiet hours
    held comes out this way at their end). Notification bodies are not sent through push
    services; the app reads them over the API. Per device: ``ok`` sets the notifications'
    ``delivered_at`` (one UPDATE, only where null); ``invalid_token`` deletes the device;
    ``retry_later`` (or a provider error or a timeout of ``push_timeout_seconds``) queues that
    device's items again after the scheduler's backoff (``scheduler_retry_seconds`` ×
    2^(attempts−1)), at most ``push_max_attempts`` tries.

Escalation (the exact policy)
    An ``urgent`` or ``extra_urgent`` notification escalates from its *start*: the instant it
    was written, or, for an ``urgent`` item held by quiet hours, the end of the quiet hours
    (quiet hours hold ``urgent`` items and their escalation, never ``extra_urgent`` ones).

    * start + ``escalate_push_after_seconds`` (300): if it is not acknowledged (已知悉) and no
      device has received it (``delivered_at`` null: no push was accepted and no websocket
      delivered it), a reminder push (``alert``: title ``【加急】待确认：…``) goes to the
      person's current devices.
    * start + ``escalate_sms_after_seconds`` (1800): if it is still not acknowledged, one SMS
      per person (all of the batch's unacknowledged items in one text) to the mobile number of
      the person's account, through the SMS provider; none without a number or for a disabled
      account. ``retry_later`` is retried with the backoff, ``invalid_number`` is not.
    * Acknowledged by then: nothing more is sent.

The policy's settings (time zone, delays) come from :func:`configure`, called by the app at
start-up; outbound providers come from the scheduler's ``services`` (the Platform).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, update

from messaging.devices import Device, PushOutbox, quiet_hours_of, quiet_until
from messaging.models import Notification, NotificationPriority
from messaging.outbox import on_notify
from messaging.push import PushMessage, PushOutcome, PushTarget, SmsOutcome
from office_api.config import Settings
from office_api.db import UnitOfWork
from office_api.org.models import User
from office_api.scheduler import Job, JobContext, backoff, register, schedule

log = logging.getLogger("office_api.push")

FLUSH_KIND = "push.flush"
ESCALATE_PUSH_KIND = "push.escalate"
ESCALATE_SMS_KIND = "sms.escalate"
#: Queue rows one flush takes; a fuller queue schedules another flush at once.
FLUSH_BATCH = 1000
#: Notifications per escalation job.
ESCALATION_BATCH = 500
#: Provider calls in flight at once within one job.
SEND_CONCURRENCY = 20
_ESCALATING = (NotificationPriority.URGENT.value, NotificationPriority.EXTRA_URGENT.value)
_EXTRA = NotificationPriority.EXTRA_URGENT.value
_RANK = {NotificationPriority.NORMAL.value: 0, NotificationPriority.URGENT.value: 1, _EXTRA: 2}
_LABEL = {NotificationPriority.URGENT.value: "加急", _EXTRA: "特急"}


@dataclass(frozen=True)
class Policy:
    """What :func:`enqueue` needs from the settings (it gets no settings of its own)."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    push_after: dt.timedelta = dt.timedelta(seconds=300)
    sms_after: dt.timedelta = dt.timedelta(seconds=1800)


_policy = Policy()


def configure(settings: Settings) -> None:
    """Take the time zone and escalation delays from ``settings`` (the app's lifespan calls it)."""
    global _policy
    _policy = Policy(
        ZoneInfo(settings.timezone),
        dt.timedelta(seconds=settings.escalate_push_after_seconds),
        dt.timedelta(seconds=settings.escalate_sms_after_seconds),
    )


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


@on_notify
async def enqueue(uow: UnitOfWork, rows: list[Notification]) -> None:
    """Queue the pushes and schedule the escalations of ``rows`` in the notifying transaction."""
    s = uow.session
    now = uow.now
    policy = _policy
    user_ids = sorted({r.user_id for r in rows})
    with_devices = set(
        (await s.execute(select(Device.user_id).where(Device.user_id.in_(user_ids)).distinct())).scalars()
    )
    quiet = await quiet_hours_of(s, user_ids)
    queue: list[dict[str, Any]] = []
    escalations: dict[dt.datetime, list[int]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r.id):
        q = quiet.get(r.user_id)
        held = quiet_until(now, q.start_minute, q.end_minute, policy.tz) if q and r.priority != _EXTRA else None
        start = held or now
        if r.user_id in with_devices:
            queue.append(
                {"notification_id": r.id, "user_id": r.user_id, "due_at": start, "attempts": 0, "alert": False}
            )
        if r.priority in _ESCALATING:
            escalations[start].append(r.id)
    if queue:
        await s.execute(insert(PushOutbox), queue)
        for due in sorted({q["due_at"] for q in queue}):
            first = min(q["notification_id"] for q in queue if q["due_at"] == due)
            await schedule(uow, FLUSH_KIND, f"n{first}@{due.isoformat()}", due)
    for start, ids in escalations.items():
        for chunk in _chunks(ids, ESCALATION_BATCH):
            await schedule(uow, ESCALATE_PUSH_KIND, f"n{chunk[0]}", start + policy.push_after, {"ids": chunk})
            await schedule(uow, ESCALATE_SMS_KIND, f"n{chunk[0]}", start + policy.sms_after, {"ids": chunk})


def _providers(ctx: JobContext) -> Any:
    if ctx.services is None:
        raise RuntimeError("this scheduler has no outbound providers (Scheduler.services)")
    return ctx.services


def _message(items: list[tuple[PushOutbox, Notification]]) -> PushMessage:
    """One push for one device: the item's title, or a summary of several."""
    notes = sorted({n.id: n for _, n in items}.values(), key=lambda n: n.seq)
    newest = notes[-1]
    priority = max((n.priority for n in notes), key=lambda p: _RANK.get(p, 0))
    alert = any(row.alert for row, _ in items)
    data = {"sequence": newest.seq, "count": len(notes), "kinds": sorted({n.kind for n in notes})}
    if len(notes) == 1:
        title = f"【{_LABEL.get(priority, '提醒')}】待确认：{newest.title}" if alert else newest.title
        return PushMessage(title=title[:300], body="", priority=priority, data=data, alert=alert)
    return PushMessage(title=f"{len(notes)} 条新通知", body=newest.title, priority=priority, data=data, alert=alert)


async def _send_push(provider: Any, device: Device, message: PushMessage, limit_seconds: float) -> PushOutcome:
    try:
        outcome = await asyncio.wait_for(
            provider.send(PushTarget(device.platform, device.token), message), limit_seconds
        )
        return PushOutcome(outcome)
    except Exception as exc:  # a provider failure or timeout is retried like a refusal to take it now
        log.warning("push to device %s failed: %s", device.id, type(exc).__name__)
        return PushOutcome.RETRY_LATER


async def flush(uow: UnitOfWork, ctx: JobContext, key_prefix: str) -> int:
    """Send the due queued pushes (see the module docstring); returns the pushes accepted.

    ``key_prefix`` makes the keys of the follow-up flush jobs this run schedules unique."""
    s = uow.session
    now = ctx.now
    settings = ctx.settings
    q = select(PushOutbox).where(PushOutbox.due_at <= now).order_by(PushOutbox.id).limit(FLUSH_BATCH)
    if s.bind.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    queued = list((await s.execute(q)).scalars())
    if not queued:
        return 0
    provider = _providers(ctx).push
    if len(queued) == FLUSH_BATCH:
        await schedule(uow, FLUSH_KIND, f"{key_prefix}+{queued[-1].id}", now)
    note_ids = sorted({r.notification_id for r in queued})
    notes = {n.id: n for n in (await s.execute(select(Notification).where(Notification.id.in_(note_ids)))).scalars()}
    user_ids = sorted({r.user_id for r in queued})
    devices = list((await s.execute(select(Device).where(Device.user_id.in_(user_ids)).order_by(Device.id))).scalars())
    by_user: dict[int, list[Device]] = defaultdict(list)
    for d in devices:
        by_user[d.user_id].append(d)
    by_id = {d.id: d for d in devices}
    quiet = await quiet_hours_of(s, user_ids)
    finished: list[int] = []
    plan: dict[int, list[tuple[PushOutbox, Notification]]] = defaultdict(list)
    for row in queued:
        n = notes.get(row.notification_id)
        if n is None or n.acknowledged_at is not None or (n.read_at is not None and not row.alert):
            finished.append(row.id)
            continue
        qh = quiet.get(n.user_id)
        held = quiet_until(now, qh.start_minute, qh.end_minute, ctx.tz) if qh and n.priority != _EXTRA else None
        if held is not None:
            row.due_at = held
            await schedule(uow, FLUSH_KIND, f"{key_prefix}@{held.isoformat()}", held)
            continue
        targets = [by_id[row.device_id]] if row.device_id in by_id else by_user.get(n.user_id, [])
        for d in targets:
            if d.user_id == n.user_id:
                plan[d.id].append((row, n))
        finished.append(row.id)

    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(device_id: int) -> PushOutcome:
        async with gate:
            return await _send_push(
                provider, by_id[device_id], _message(plan[device_id]), settings.push_timeout_seconds
            )

    device_order = sorted(plan)
    outcomes = await asyncio.gather(*(send(d) for d in device_order))
    delivered: set[int] = set()
    dead: list[int] = []
    retries: list[dict[str, Any]] = []
    for device_id, outcome in zip(device_order, outcomes, strict=True):
        if outcome is PushOutcome.OK:
            delivered.update(n.id for _, n in plan[device_id])
        elif outcome is PushOutcome.INVALID_TOKEN:
            dead.append(device_id)
        else:
            for row, n in plan[device_id]:
                attempts = row.attempts + 1
                if attempts >= settings.push_max_attempts:
                    log.warning(
                        "push of notification %s to device %s dropped after %s tries", n.id, device_id, attempts
                    )
                    continue
                retries.append(
                    {
                        "notification_id": n.id,
                        "user_id": n.user_id,
                        "device_id": device_id,
                        "due_at": now + backoff(settings, attempts),
                        "attempts": attempts,
                        "alert": row.alert,
                    }
                )
    if finished:
        await s.execute(delete(PushOutbox).where(PushOutbox.id.in_(finished)))
    if dead:
        log.info("push tokens refused as invalid: %s devices deleted", len(dead))
        await s.execute(delete(Device).where(Device.id.in_(dead)))
    if retries:
        await s.execute(insert(PushOutbox), retries)
        for due in sorted({r["due_at"] for r in retries}):
            await schedule(uow, FLUSH_KIND, f"{key_prefix}@{due.isoformat()}", due)
    if delivered:
        await s.execute(
            update(Notification)
            .where(Notification.id.in_(sorted(delivered)), Notification.delivered_at.is_(None))
            .values(delivered_at=now)
        )
    return sum(o is PushOutcome.OK for o in outcomes)


@register(FLUSH_KIND)
async def _flush_job(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
    await flush(uow, ctx, f"j{job.id}")


@register(ESCALATE_PUSH_KIND)
async def _escalate_push(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
    """Queue a reminder push for each of the batch's notifications that is neither
    acknowledged nor delivered to any device, then send what is due."""
    s = uow.session
    ids = [int(i) for i in job.payload.get("ids", [])]
    rows = (
        await s.execute(
            select(Notification.id, Notification.user_id)
            .join(Device, Device.user_id == Notification.user_id)
            .where(
                Notification.id.in_(ids),
                Notification.acknowledged_at.is_(None),
                Notification.delivered_at.is_(None),
            )
            .distinct()
            .order_by(Notification.id)
        )
    ).all()
    if rows:
        await s.execute(
            insert(PushOutbox),
            [
                {"notification_id": nid, "user_id": uid, "due_at": ctx.now, "attempts": 0, "alert": True}
                for nid, uid in rows
            ],
        )
        await flush(uow, ctx, f"e{job.id}")


def _sms_text(notes: list[Notification]) -> str:
    label = "特急" if any(n.priority == _EXTRA for n in notes) else "加急"
    newest = max(notes, key=lambda n: n.seq)
    title = newest.title if len(newest.title) <= 60 else newest.title[:59] + "…"
    if len(notes) == 1:
        return f"【{label}】{title}。请登录移动办公查看并确认。"
    return f"【{label}】您有 {len(notes)} 条通知待确认：{title} 等。请登录移动办公查看。"


@register(ESCALATE_SMS_KIND)
async def _escalate_sms(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
    """Text each person of the batch who has not acknowledged their items (one SMS per
    person); ``retry_later`` is retried with the backoff in a follow-up job."""
    s = uow.session
    ids = [int(i) for i in job.payload.get("ids", [])]
    attempt = int(job.payload.get("attempt", 0))
    rows = (
        await s.execute(
            select(Notification, User.mobile)
            .join(User, User.id == Notification.user_id)
            .where(Notification.id.in_(ids), Notification.acknowledged_at.is_(None), User.is_active.is_(True))
            .order_by(Notification.id)
        )
    ).all()
    if not rows:
        return
    provider = _providers(ctx).sms
    by_user: dict[int, tuple[str | None, list[Notification]]] = {}
    for n, mobile in rows:
        by_user.setdefault(n.user_id, (mobile, []))[1].append(n)
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(mobile: str, notes: list[Notification]) -> SmsOutcome:
        async with gate:
            try:
                out = await asyncio.wait_for(provider.send(mobile, _sms_text(notes)), ctx.settings.push_timeout_seconds)
                return SmsOutcome(out)
            except Exception as exc:  # retried like retry_later
                log.warning("sms failed: %s", type(exc).__name__)
                return SmsOutcome.RETRY_LATER

    users = [(uid, mobile, notes) for uid, (mobile, notes) in sorted(by_user.items()) if mobile]
    for uid in sorted(set(by_user) - {u for u, _, _ in users}):
        log.info("sms escalation skipped: user %s has no mobile number", uid)
    outcomes = await asyncio.gather(*(send(mobile, notes) for _, mobile, notes in users))
    retry_ids: list[int] = []
    for (uid, _, notes), outcome in zip(users, outcomes, strict=True):
        if outcome is SmsOutcome.RETRY_LATER:
            retry_ids.extend(n.id for n in notes)
        elif outcome is SmsOutcome.INVALID_NUMBER:
            log.warning("sms escalation to user %s refused: invalid number", uid)
    if retry_ids:
        nxt = attempt + 1
        if nxt >= ctx.settings.push_max_attempts:
            log.warning("sms escalation of %s notifications dropped after %s tries", len(retry_ids), nxt)
            return
        run_at = ctx.now + backoff(ctx.settings, nxt)
        await schedule(uow, ESCALATE_SMS_KIND, f"n{retry_ids[0]}r{nxt}", run_at, {"ids": retry_ids, "attempt": nxt})

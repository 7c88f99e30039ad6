"""Benchmark of find-a-time: ``python -m bench.find_time [options]`` (or ``./dev bench find_time``).

Generates a realistic meeting calendar for 2,000 people (``--scale`` shrinks it) over 26
weeks from Monday 2026-03-02 (three months either side of the windows asked about): each
person in about 3–6 meetings a week (single meetings of 2–8 people, 30–120 minutes in working
hours on working days, 1 % all-day), weekly series of 8 occurrences, replies (70 % accepted,
15 % pending, 10 % declined, 5 % delegated to a substitute), per-occurrence replies on series,
organisers who are not invited, 150 rooms with non-overlapping bookings; all bulk-inserted into
a fresh database built by the migrations.

Then times, in the same run, the full ``meetings.availability.find_meeting_times`` service call
(the working-day calendar read, the people and rooms checked, every busy interval read in one
statement, the slots swept and ranked in memory) for (a) 20 attendees over 2 weeks and (b) 50
attendees over 4 weeks, against the plain SQL baseline: the single SELECT of those people's
invitation intervals in the window, fetched, nothing else. Before timing, each case's
suggestions are checked against a naive per-slot computation in Python. Each figure is the
median of ``--repeat`` runs after one warm-up; the ratio is baseline / ours (below 1: ours does
more than the bare fetch). See bench/README.md.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.__main__ import PG_ADMIN, Result, bulk_insert, format_results, fresh_database, generate, run_cli, timed
from meetings import availability as av
from meetings.models import (
    Invitation,
    Meeting,
    MeetingOccurrence,
    OccurrenceReply,
    Room,
    RoomBooking,
)
from office_api.db import Database, utcnow
from office_api.workdays import SHANGHAI, WorkCalendar, load_calendar

FULL_USERS = 2_000
FULL_ROOMS = 150
#: The calendar runs 26 weeks, three months either side of the windows asked about (a table
#: that also holds past meetings, as it will in use).
FIRST_DAY = dt.date(2026, 3, 2)
WEEKS = 26
#: The service is asked on the Friday before the window, in the afternoon.
NOW = dt.datetime(2026, 6, 5, 15, 0, tzinfo=SHANGHAI).astimezone(dt.UTC)
HOURS = av.WorkingHours()

BASELINE = """SELECT i.user_id, o.start_at, o.end_at
FROM meeting_invitations i JOIN meeting_occurrences o ON o.meeting_id = i.meeting_id
WHERE i.user_id IN ({ids}) AND i.is_active AND i.state IN ('accepted', 'pending')
  AND o.state = 'scheduled' AND o.start_at < :to AND o.end_at > :from"""


@dataclass(frozen=True)
class Case:
    label: str
    required: int
    optional: int
    first_day: dt.date
    last_day: dt.date
    rooms: int = 3
    duration: int = 60
    granularity: int = 30
    min_optional_percent: int = 60
    max_results: int = 10


CASES = (
    Case("20 attendees over 2 weeks", 4, 16, dt.date(2026, 6, 8), dt.date(2026, 6, 19)),
    Case("50 attendees over 4 weeks", 5, 45, dt.date(2026, 6, 8), dt.date(2026, 7, 5)),
)


def _at(day: dt.date, minutes: int) -> dt.datetime:
    return (dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI) + dt.timedelta(minutes=minutes)).astimezone(dt.UTC)


def _reply(rng: random.Random) -> str:
    x = rng.random()
    return "accepted" if x < 0.70 else "pending" if x < 0.85 else "declined" if x < 0.95 else "delegated"


class Seeder:
    """Builds the rows of the calendar in memory (ids assigned here), then bulk-inserts them."""

    def __init__(self, n_users: int, n_rooms: int, seed: int = 6) -> None:
        self.rng = random.Random(seed)
        self.n_users = n_users
        self.now = utcnow()
        cal = WorkCalendar()
        self.days = [d for d in (FIRST_DAY + dt.timedelta(days=i) for i in range(WEEKS * 7)) if cal.is_workday(d)]
        self.rooms = [
            {
                "id": r,
                "name": f"会议室{r}",
                "building": f"{1 + r % 5}号楼",
                "floor": str(1 + r % 9),
                "address": None,
                "capacity": self.rng.choice((8, 12, 20, 30, 60, 120)),
                "equipment": ["projector"],
                "owner_unit_id": 1,
                "requires_approval": r % 4 == 0,
                "is_active": True,
                "version": 1,
                "created_at": self.now,
            }
            for r in range(1, n_rooms + 1)
        ]
        self.room_busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {r["id"]: [] for r in self.rooms}
        self.meetings: list[dict[str, Any]] = []
        self.occurrences: list[dict[str, Any]] = []
        self.bookings: list[dict[str, Any]] = []
        self.invitations: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []

    def _free_room(self, start: dt.datetime, end: dt.datetime) -> int | None:
        for room_id in self.rng.sample(list(self.room_busy), 6):
            if all(e <= start or s >= end for s, e in self.room_busy[room_id]):
                self.room_busy[room_id].append((start, end))
                return room_id
        return None

    def meeting(
        self, attendees: list[int], times: list[tuple[dt.datetime, dt.datetime]], all_day: bool = False
    ) -> None:
        rng = self.rng
        mid = len(self.meetings) + 1
        creator = attendees[0] if rng.random() < 0.5 else rng.randint(1, self.n_users)
        chair = attendees[1] if len(attendees) > 1 and rng.random() < 0.5 else None
        first = times[0]
        self.meetings.append(
            {
                "id": mid,
                "title": f"会议{mid}",
                "organizer_unit_id": 1,
                "co_organizer_unit_ids": [],
                "convener_id": creator,
                "chair_id": chair,
                "agenda": "",
                "materials": "",
                "logistics": "",
                "location": "",
                "start_at": first[0],
                "end_at": first[1],
                "time_zone": "Asia/Shanghai",
                "all_day": all_day,
                "rrule": f"FREQ=WEEKLY;COUNT={len(times)}" if len(times) > 1 else None,
                "substitution_policy": "approval_required",
                "check_in_opens_minutes": 30,
                "late_after_minutes": 0,
                "state": "scheduled",
                "version": 1,
                "created_by_id": creator,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        room_id = None if all_day or rng.random() < 0.4 else self._free_room(*first)
        occ_ids = []
        for start, end in times:
            oid = len(self.occurrences) + 1
            occ_ids.append(oid)
            cancelled = rng.random() < 0.03
            self.occurrences.append(
                {
                    "id": oid,
                    "meeting_id": mid,
                    "recurrence_id": start,
                    "start_at": start,
                    "end_at": end,
                    "room_id": room_id,
                    "state": "cancelled" if cancelled else "scheduled",
                    "is_exception": False,
                    "version": 1,
                }
            )
            if room_id is not None and (start, end) != first:
                if any(not (e <= start or s >= end) for s, e in self.room_busy[room_id]):
                    continue
                self.room_busy[room_id].append((start, end))
            if room_id is not None:
                self.bookings.append(
                    {
                        "id": len(self.bookings) + 1,
                        "room_id": room_id,
                        "occurrence_id": oid,
                        "start_at": start,
                        "end_at": end,
                        "status": "released" if cancelled else rng.choice(("approved", "approved", "pending")),
                        "created_at": self.now,
                    }
                )
        invited = set(attendees)
        for user_id in attendees:
            if user_id == creator and rng.random() < 0.5:
                continue  # an organiser who did not invite themselves
            state = _reply(rng)
            iid = len(self.invitations) + 1
            self.invitations.append(self._invitation(iid, mid, user_id, state, None))
            if state == "delegated":
                substitute = rng.randint(1, self.n_users)
                if substitute not in invited:
                    invited.add(substitute)
                    self.invitations.append(
                        self._invitation(len(self.invitations) + 1, mid, substitute, "accepted", iid)
                    )
            if len(times) > 1:
                for oid in occ_ids:
                    if rng.random() < 0.1:
                        self.replies.append(
                            {
                                "id": len(self.replies) + 1,
                                "invitation_id": iid,
                                "occurrence_id": oid,
                                "state": rng.choice(("declined", "accepted")),
                                "late": False,
                            }
                        )

    def _invitation(self, iid: int, mid: int, user_id: int, state: str, on_behalf_of: int | None) -> dict[str, Any]:
        return {
            "id": iid,
            "meeting_id": mid,
            "user_id": user_id,
            "unit_id": None,
            "role": "participant",
            "required": True,
            "on_behalf_of_id": on_behalf_of,
            "state": state,
            "late": False,
            "reply_details": {},
            "is_active": self.rng.random() > 0.02,
            "version": 1,
            "created_at": self.now,
        }

    def build(self) -> None:
        """About 4.5 meetings a week per person: weekly series of 8 people first (at any time one
        person in three sits in one), then single meetings of 2–8 people up to the weekly count."""
        rng = self.rng
        users = list(range(1, self.n_users + 1))
        last_start = FIRST_DAY + dt.timedelta(weeks=WEEKS - 8)
        series_days = [d for d in self.days if d < last_start]
        for _ in range(max(1, round(self.n_users / 24 * WEEKS / 8))):  # a third of everybody in one at a time
            day = rng.choice(series_days)
            start = rng.choice((540, 600, 840, 900))
            times = [
                (_at(day + dt.timedelta(weeks=w), start), _at(day + dt.timedelta(weeks=w), start + 60))
                for w in range(8)
            ]
            self.meeting(rng.sample(users, min(8, len(users))), times)
        per_week = 4.5 - 1 / 3
        singles = int(self.n_users * per_week * WEEKS / 5)
        for _ in range(singles):
            day = rng.choice(self.days)
            people = rng.sample(users, min(len(users), rng.randint(2, 8)))
            if rng.random() < 0.01:
                self.meeting(people, [(_at(day, 0), _at(day + dt.timedelta(days=1), 0))], all_day=True)
                continue
            length = rng.choice((30, 60, 60, 90, 120))
            start = rng.choice([m for m in range(540, 1050 - length + 1, 30) if not (m < 810 and m + length > 720)])
            self.meeting(people, [(_at(day, start), _at(day, start + length))])


async def seed_calendar(db: Database, n_users: int, n_rooms: int) -> dict[str, float]:
    """Bulk-load the calendar for users 1..``n_users``; returns seconds per phase."""
    t0 = time.perf_counter()
    s = Seeder(n_users, n_rooms)
    s.build()
    timings = {"prepare meetings": time.perf_counter() - t0}
    await bulk_insert(
        db,
        timings,
        [
            ("insert rooms", Room.__table__, s.rooms),
            ("insert meetings", Meeting.__table__, s.meetings),
            ("insert occurrences", MeetingOccurrence.__table__, s.occurrences),
            ("insert bookings", RoomBooking.__table__, s.bookings),
            ("insert invitations", Invitation.__table__, s.invitations),
            ("insert replies", OccurrenceReply.__table__, s.replies),
        ],
    )
    timings["meetings"] = len(s.meetings)
    timings["occurrences"] = len(s.occurrences)
    timings["invitations"] = len(s.invitations)
    return timings


# ---- the cases ------------------------------------------------------------------------------------


def request(case: Case, people: Sequence[int], rooms: Sequence[int]) -> av.FindTimeRequest:
    return av.FindTimeRequest(
        required_user_ids=list(people[: case.required]),
        optional_user_ids=list(people[case.required : case.required + case.optional]),
        duration_minutes=case.duration,
        first_day=case.first_day,
        last_day=case.last_day,
        min_optional_percent=case.min_optional_percent,
        room_ids=list(rooms),
        granularity_minutes=case.granularity,
        max_results=case.max_results,
    )


def window(case: Case) -> tuple[dt.datetime, dt.datetime]:
    return _at(case.first_day, 0), _at(case.last_day + dt.timedelta(days=1), 0)


async def ours(s: AsyncSession, req: av.FindTimeRequest) -> list[av.Suggestion]:
    """The full service call, calendar read included."""
    cal = await load_calendar(s)
    return await av.find_meeting_times(s, cal, HOURS, req, NOW)


async def baseline(s: AsyncSession, case: Case, people: Sequence[int]) -> int:
    """The plain SQL baseline: the invitation intervals of the people in the window, fetched."""
    ids = ", ".join(str(int(p)) for p in people[: case.required + case.optional])
    start, end = window(case)
    rows = (await s.execute(text(BASELINE.format(ids=ids)), {"from": start, "to": end})).all()
    return len(rows)


async def naive(s: AsyncSession, req: av.FindTimeRequest) -> list[tuple[dt.datetime, int | None, int, list[int]]]:
    """Suggestions computed the slow, obvious way (for the check only): every slot against every
    loaded meeting of every person, the reply and organiser rules spelt out in Python."""
    people = [*req.required_user_ids, *req.optional_user_ids]
    start, end = _at(req.first_day, 0), _at(req.last_day + dt.timedelta(days=1), 0)
    occs = (
        await s.execute(
            select(MeetingOccurrence, Meeting)
            .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .where(
                MeetingOccurrence.start_at < end,
                MeetingOccurrence.end_at > start,
                MeetingOccurrence.state == "scheduled",
                Meeting.state == "scheduled",
            )
        )
    ).all()
    invs = (await s.execute(select(Invitation).where(Invitation.user_id.in_(people), Invitation.is_active))).scalars()
    inv_of = {(i.meeting_id, i.user_id): i for i in invs}
    over = {(r.invitation_id, r.occurrence_id): r.state for r in (await s.execute(select(OccurrenceReply))).scalars()}
    rooms = sorted(
        (
            r
            for r in (await s.execute(select(Room).where(Room.id.in_(req.room_ids)))).scalars()
            if r.capacity >= len(people)
        ),
        key=lambda r: (r.capacity, r.id),
    )
    books = (
        (await s.execute(select(RoomBooking).where(RoomBooking.status.in_(("pending", "approved"))))).scalars().all()
    )

    mine = {
        u: [(o, m) for o, m in occs if (m.id, u) in inv_of or u in (m.convener_id, m.chair_id, m.created_by_id)]
        for u in people
    }

    def status(user: int, a: dt.datetime, b: dt.datetime) -> int:
        worst = 0
        for o, m in mine[user]:
            if not (o.start_at < b and o.end_at > a):
                continue
            inv = inv_of.get((m.id, user))
            organiser = user in (m.convener_id, m.chair_id, m.created_by_id)
            if inv is None:
                worst = max(worst, 2 if organiser else 0)
                continue
            state = over.get((inv.id, o.id), inv.state)
            if state == "accepted" or (state == "pending" and organiser):
                worst = 2
            elif state == "pending":
                worst = max(worst, 1)
        return worst

    cal = await load_calendar(s)
    found = []
    for a, b in av.candidate_slots(
        cal, HOURS, req.first_day, req.last_day, req.duration_minutes, req.granularity_minutes, NOW
    ):
        st = {u: status(u, a, b) for u in people}
        if any(st[u] == 2 for u in req.required_user_ids):
            continue
        room = next(
            (r.id for r in rooms if not any(k.room_id == r.id and k.start_at < b and k.end_at > a for k in books)), None
        )
        if req.room_ids and room is None:
            continue
        available = sum(1 for u in req.optional_user_ids if st[u] < 2)
        if available * 100 < req.min_optional_percent * len(req.optional_user_ids):
            continue
        tentative = [u for u in people if st[u] == 1]
        found.append(((len(tentative), -available, a), (a, room, available, tentative)))
    found.sort(key=lambda x: x[0])
    return [x for _, x in found[: req.max_results]]


async def measure(db: Database, backend: str, repeat: int, n_users: int) -> list[Result]:
    rng = random.Random(2026)
    async with db.read() as s:
        room_ids = [r for (r,) in await s.execute(select(Room.id).where(Room.capacity >= 60).order_by(Room.id))]
    results: list[Result] = []
    for case in CASES:
        people = rng.sample(range(1, n_users + 1), case.required + case.optional)
        req = request(case, people, room_ids[: case.rooms])
        async with db.read() as s:
            got = [(x.start, x.room_id, x.optional_available, x.tentative_user_ids) for x in await ours(s, req)]
            want = await naive(s, req)
        if got != want:
            raise AssertionError(f"{case.label}: the service and the naive computation disagree:\n{got}\n{want}")
        o_ms, found = await timed(db, lambda s, r=req: ours(s, r), repeat)
        b_ms, _ = await timed(db, lambda s, c=case, p=people: baseline(s, c, p), repeat)
        results.append(Result(backend, case.label, len(found), o_ms, b_ms))
    return results


async def run_backend(
    backend: str, scale: float, repeat: int, *, pg_admin: str = PG_ADMIN, keep: bool = False, out: Any = sys.stdout
) -> list[Result]:
    """Seed the calendar at ``scale`` on a fresh ``backend`` database, measure, drop it."""
    n_users = max(60, int(FULL_USERS * scale))
    n_rooms = max(12, int(FULL_ROOMS * scale))
    async with fresh_database(backend, pg_admin, keep) as db:
        print(f"[{backend}] generating {n_users:,} people and their meetings ...", file=out, flush=True)
        timings = await generate(db, max(30, n_users // 10), n_users)
        timings.update(await seed_calendar(db, n_users, n_rooms))
        print(
            f"[{backend}] "
            + ", ".join(f"{k} {v:.1f}s" if isinstance(v, float) else f"{k} {v:,}" for k, v in timings.items()),
            file=out,
            flush=True,
        )
        return await measure(db, backend, repeat, n_users)


def main(argv: Sequence[str] | None = None) -> int:
    results = run_cli(
        argv,
        "python -m bench.find_time",
        __doc__.split("\n\n")[0],
        "1.0 = 2,000 people, 150 rooms, nine weeks of meetings",
        run_backend,
    )
    table = format_results(results).splitlines()[:-1]
    print(
        "\n".join(
            [
                *table,
                "rows = suggestions; ratio = baseline / ours; baseline: one SELECT of the people's invitation "
                "intervals in the window, fetched",
            ]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

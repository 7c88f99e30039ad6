"""The find-a-time benchmark runs end to end at a tiny scale, so that it cannot rot: a calendar
is generated, the service's suggestions agree with the naive per-slot computation (checked
inside the run), and both cases are reported with both timings and a ratio."""

from __future__ import annotations

import asyncio
import datetime as dt
from itertools import pairwise

import pytest

from bench.find_time import CASES, Seeder, main, run_backend
from tests.conftest import _require_pg


def test_the_seeded_calendar_is_realistic() -> None:
    s = Seeder(240, 24)
    s.build()
    weeks = 26
    per_person_week = sum(1 for i in s.invitations if i["on_behalf_of_id"] is None) / 240 / weeks
    assert 2.5 < per_person_week < 5  # organisers who did not invite themselves come on top
    assert {i["state"] for i in s.invitations} == {"accepted", "pending", "declined", "delegated"}
    assert any(m["rrule"] == "FREQ=WEEKLY;COUNT=8" for m in s.meetings)
    assert any(m["all_day"] for m in s.meetings)
    assert s.replies
    # Holding bookings of a room never overlap (the PostgreSQL exclusion constraint would refuse them).
    held: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for b in s.bookings:
        if b["status"] != "released":
            held.setdefault(b["room_id"], []).append((b["start_at"], b["end_at"]))
    for spans in held.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in pairwise(spans))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_find_time_benchmark_runs_at_tiny_scale(backend: str) -> None:
    if backend == "postgresql":
        _require_pg()  # skips, or fails with CI=true, when PostgreSQL does not answer
    results = asyncio.run(run_backend(backend, 0.03, 1))
    assert (
        [r.case for r in results]
        == [c.label for c in CASES]
        == [
            "20 attendees over 2 weeks",
            "50 attendees over 4 weeks",
        ]
    )
    assert all(1 <= r.rows <= 10 for r in results)
    assert all(r.ours_ms > 0 and r.baseline_ms > 0 and r.ratio > 0 for r in results)


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scale", "0.03", "--db", "sqlite", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "ratio = baseline / ours" in out
    assert "50 attendees over 4 weeks" in out

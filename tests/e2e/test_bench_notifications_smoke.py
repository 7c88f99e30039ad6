"""The delivery benchmark (bench/notifications.py) at a tiny size, so that it keeps working."""

from __future__ import annotations

import io

import pytest

from bench import notifications as bench

pytestmark = pytest.mark.e2e


def test_the_delivery_benchmark_runs_end_to_end() -> None:
    out = io.StringIO()
    rows = bench.run("sqlite", [4, 10], people=3, events=1, out=out)
    assert [(r.backend, r.subscribers, r.people) for r in rows] == [("sqlite", 4, 3), ("sqlite", 10, 3)]
    for r in rows:
        # Every socket received every event (run() fails otherwise); the figures are measured ones.
        assert 0 < r.ours_p50 <= r.ours_p99 < bench.EVENT_TIMEOUT * 1000
        assert 0 < r.raw_p50 <= r.raw_p99 < bench.EVENT_TIMEOUT * 1000
        assert r.commit_ms > 0
    assert "[sqlite] 10 + 10 connected" in out.getvalue()
    table = bench.format_rows(rows).splitlines()
    assert len(table) == 3
    assert table[2].split()[:3] == ["sqlite", "10", "3"]

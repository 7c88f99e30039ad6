"""The supervision dashboard benchmark runs end to end at a tiny scale, so that it cannot rot:
a year of items is generated, the SQL dashboard agrees with the rows counted in Python (checked
inside the run), and every case is reported with both timings and a ratio."""

from __future__ import annotations

import asyncio

import pytest

from bench.supervision import main, run_backend
from tests.conftest import _require_pg

CASES = [
    "dashboard of a province vs count(*)",
    "dashboard of a city vs count(*)",
    "dashboard of a city vs rows in Python",
    "dashboard of a county vs count(*)",
]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_supervision_benchmark_runs_at_tiny_scale(backend: str) -> None:
    if backend == "postgresql":
        _require_pg()  # skips, or fails with CI=true, when PostgreSQL does not answer
    results = asyncio.run(run_backend(backend, 0.004, 1))
    assert [r.case for r in results] == CASES
    # 400 items, all led below the province: the province's count is every item.
    assert results[0].rows == 400
    assert 0 < results[1].rows == results[2].rows < 400
    assert all(r.ours_ms > 0 and r.baseline_ms > 0 and r.ratio > 0 for r in results)


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scale", "0.003", "--db", "sqlite", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "ratio = baseline / ours" in out
    assert "dashboard of a city vs rows in Python" in out

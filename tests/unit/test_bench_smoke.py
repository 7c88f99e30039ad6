"""The benchmark runs end to end at a tiny scale, so that it cannot rot: the tree and the
people are generated, the path-prefix subtree equals the recursive CTE's, and every case is
reported with both timings and a ratio."""

from __future__ import annotations

import asyncio

import pytest

from bench.__main__ import format_results, main, plan_tree, run_backend
from tests.conftest import _require_pg

CASES = [
    "subtree units of a city",
    "members in subtree of a city",
    "subtree units of a county",
    "members in subtree of a county",
    "directory search 'zw', first page",
    "directory search 'zhangwei', first page",
    "directory search '张伟', first page",
    "directory search '1390000012', first page",
]


def test_plan_tree_shape() -> None:
    units = plan_tree(1000)
    assert len(units) == 1000
    assert units[0] == (1, None, 0)
    assert sum(1 for _, _, d in units if d == 1) == 16
    assert sum(1 for _, _, d in units if d == 2) == 160
    assert max(d for _, _, d in units) == 3
    assert all(p is None or p < i for i, p, _ in units)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_benchmark_runs_at_tiny_scale(backend: str) -> None:
    if backend == "postgresql":
        _require_pg()  # skips, or fails with CI=true, when PostgreSQL does not answer
    results = asyncio.run(run_backend(backend, 0.002, 1))
    assert [r.case for r in results] == CASES
    # 200 units: the first city has 10 counties; the first county takes the 23 units left over.
    assert [r.rows for r in results[:4]] == [34, results[1].rows, 24, results[3].rows]
    assert results[1].rows > 0
    assert all(r.ours_ms > 0 and r.baseline_ms > 0 and r.ratio > 0 for r in results)
    table = format_results(results)
    assert table.count(f"{backend} ") == len(CASES)


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scale", "0.001", "--db", "sqlite", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "ratio = baseline / ours" in out
    assert "directory search 'zw', first page" in out

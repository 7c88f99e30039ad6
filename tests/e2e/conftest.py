"""End-to-end fixtures: a live ``office-api demo`` server per test or per module (see live.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.live import BACKENDS, WS_TIMEOUT, LiveServer, Office, run_server


@pytest.fixture(params=BACKENDS)
def live_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A live server over a fresh demo database, for one test."""
    with run_server(request.param, tmp_path) as server:
        yield server


@pytest.fixture(scope="module", params=BACKENDS)
def shared_live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server shared by the tests of a module (tests must not assume a fresh database)."""
    with run_server(request.param, tmp_path_factory.mktemp(f"server-{request.param}")) as server:
        yield server


@pytest.fixture
async def office(shared_live_server: LiveServer) -> AsyncIterator[Office]:
    async with httpx.AsyncClient(trust_env=False, timeout=WS_TIMEOUT) as http:
        yield Office(shared_live_server, http)

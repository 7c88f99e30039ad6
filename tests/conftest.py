"""Shared fixtures: databases built by the migrations (with the demo organization), the
app over httpx ASGITransport, and a GraphQL helper.

Every API test runs on SQLite and, when 127.0.0.1:5432 answers, on PostgreSQL too. With
``CI=true`` an unreachable PostgreSQL fails the run instead of skipping. Redis tests use
127.0.0.1:6379 (``_require_redis``, same rule) or a private ``redis-server`` (``private_redis``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import event, select

from office_api.config import Environment, Settings
from office_api.db import Database
from office_api.migrate import upgrade

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/postgres"
TEST_SECRET = "test-secret-" + "x" * 40
DEMO_PASSWORD = "Demo@2026"


def pg_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def _require_pg() -> None:
    if pg_available():
        return
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL at 127.0.0.1:5432 does not answer, and CI=true forbids skipping")
    pytest.skip("PostgreSQL at 127.0.0.1:5432 does not answer: PostgreSQL tests skipped")


REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


def redis_available() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _require_redis() -> None:
    if redis_available():
        return
    if os.environ.get("CI"):
        pytest.fail("Redis at 127.0.0.1:6379 does not answer, and CI=true forbids skipping")
    pytest.skip("Redis at 127.0.0.1:6379 does not answer: Redis tests skipped")


class RedisServer:
    """A private ``redis-server`` on a free port (no persistence), to stop and restart at will."""

    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI"):
                pytest.fail("redis-server is not installed, and CI=true forbids skipping")
            pytest.skip("redis-server is not installed: tests with a private Redis skipped")
        self.binary, self.tmp = binary, tmp
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait (at most 10 s) until it answers PING."""
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"redis-server on port {self.port} did not answer within 10 s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); its connections drop."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextmanager
def private_redis(tmp: Path) -> Iterator[RedisServer]:
    """A started :class:`RedisServer`, stopped after the block."""
    server = RedisServer(tmp)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _pg_exec(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        for stmt in statements:
            await conn.execute(stmt)
    finally:
        await conn.close()


async def _seed(url: str) -> None:
    from office_api.demo import load_demo

    db = Database(url)
    try:
        await load_demo(db, DEMO_PASSWORD)
    finally:
        await db.dispose()


def _sqlite_template(factory: pytest.TempPathFactory, *, seed: bool) -> Path:
    path = factory.mktemp("template") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    if seed:
        asyncio.run(_seed(url))
    return path


def _pg_template(*, seed: bool) -> Iterator[str]:
    _require_pg()
    name = f"office_tpl_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    upgrade(url)
    if seed:
        asyncio.run(_seed(url))
    yield name
    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _fresh_database(request: pytest.FixtureRequest, tmp_path: Path, template: str) -> Iterator[str]:
    """A copy of the ``template`` fixture's database on the backend named by ``request.param``."""
    if request.param == "sqlite":
        path = tmp_path / f"{template}.db"
        shutil.copy(request.getfixturevalue(f"sqlite_{template}"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    source = request.getfixturevalue(f"pg_{template}")
    name = f"office_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
    yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sqlite_template(tmp_path_factory, seed=True)


@pytest.fixture(scope="session")
def sqlite_empty_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sqlite_template(tmp_path_factory, seed=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    yield from _pg_template(seed=True)


@pytest.fixture(scope="session")
def pg_empty_template() -> Iterator[str]:
    yield from _pg_template(seed=False)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database with the demo organization, one per test."""
    yield from _fresh_database(request, tmp_path, "template")


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database without any organization data, one per test."""
    yield from _fresh_database(request, tmp_path, "empty_template")


@contextmanager
def count_statements(platform: Any) -> Iterator[list[str]]:
    """Collect the SQL statements run on the read and write engines inside the block."""
    statements: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engines = {id(e): e for e in (platform.db.read_engine.sync_engine, platform.db.write_engine.sync_engine)}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", listener)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env=Environment.production,
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        log_level="WARNING",
        # No background polling in API tests: they run due jobs with platform.scheduler.run_due(now).
        scheduler_enabled=False,
    )


LOGIN_WITH_CODE = (
    "mutation($u:String!,$p:String!,$c:String){login(input:{username:$u,password:$p,totpCode:$c})"
    "{accessToken mustEnrollTotp errors{field code}}}"
)
START_TOTP = "mutation{startTotpEnrollment{secret otpauthUri errors{field code}}}"
CONFIRM_TOTP = (
    "mutation($c:String!){confirmTotpEnrollment(input:{code:$c}){accessToken refreshToken errors{field code}}}"
)


def platform_of(http: httpx.AsyncClient) -> Any:
    """The platform of the app behind a test client's ASGI transport."""
    return http._transport.app.state.platform  # type: ignore[attr-defined]


async def totp_state(platform: Any, username: str) -> tuple[str | None, int | None]:
    """The active TOTP secret of ``username`` (decrypted; None when off) and its last used step."""
    from office_api import totp
    from office_api.org.models import User, UserTotp

    async with platform.db.read() as s:
        row = (
            await s.execute(select(UserTotp).join(User, User.id == UserTotp.user_id).where(User.username == username))
        ).scalar_one_or_none()
    if row is None or row.secret is None:
        return None, None
    return totp.decrypt_secret(platform.settings, row.secret), row.last_used_step


async def enable_totp(platform: Any, username: str) -> str:
    """Test set-up: turn two-factor sign-in on for ``username`` by writing its row directly
    (no audit row, no token revoked), for tests that issue access tokens themselves to one of
    the three administrators; returns the secret (the existing one when it is on already)."""
    from office_api import totp
    from office_api.org.models import User, UserTotp

    async with platform.db.unit_of_work() as uow:
        user = (await uow.session.execute(select(User).where(User.username == username))).scalar_one()
        row = await uow.session.get(UserTotp, user.id)
        if row is not None and row.secret is not None:
            return totp.decrypt_secret(platform.settings, row.secret)
        if row is None:
            row = UserTotp(user_id=user.id)
            uow.session.add(row)
        secret = pyotp.random_base32()
        row.secret, row.enabled_at = totp.encrypt_secret(platform.settings, secret), platform.clock()
    return secret


async def enable_totp_if_required(platform: Any, username: str) -> None:
    """:func:`enable_totp` when ``username``'s roles require two-factor sign-in and it is off."""
    from office_api import totp
    from office_api.org.models import User

    async with platform.db.read() as s:
        uid = (await s.execute(select(User.id).where(User.username == username))).scalar_one()
        needed = await totp.must_enroll(s, uid)
    if needed:
        await enable_totp(platform, username)


def totp_code(secret: str, at: Any, steps: int = 0) -> str:
    """The code of ``secret`` at the instant ``at``, ``steps`` time steps later (pyotp)."""
    return pyotp.TOTP(secret).at(at, counter_offset=steps)


@dataclass
class GraphQLClient:
    """Posts GraphQL over HTTP to the app; remembers a bearer token after ``login``."""

    http: httpx.AsyncClient
    token: str | None = None
    lang: str = "zh"

    async def execute(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> dict:
        headers = {"accept-language": self.lang}
        bearer = token or self.token
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
        resp = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def login(self, username: str, password: str = DEMO_PASSWORD, *, enroll: bool = True) -> GraphQLClient:
        """Sign in with every factor, as the app would, and return a client with the token.

        A user with TOTP on sends the current code (computed with pyotp from the stored
        secret at the platform's clock). A code works once, so a later sign-in within the same
        30 s uses the next step's (accepted: ±1 step), and beyond that the session is opened
        by ``auth.complete_login``, the function ``login`` ends with once every factor passed,
        after checking the password here: a test-only shortcut around replay protection. A user
        who must enroll (the three administrators) enrolls first, unless ``enroll`` is False.
        """
        platform = platform_of(self.http)
        secret, last_step = await totp_state(platform, username)
        code = None
        if secret is not None:
            now = platform.clock()
            current = int(now.timestamp()) // 30
            fresh = [step for step in (current, current + 1) if last_step is None or step > last_step]
            if not fresh:
                return await self._open_session(platform, username, password)
            code = totp_code(secret, now, fresh[0] - current)
        data = await self.execute(LOGIN_WITH_CODE, {"u": username, "p": password, "c": code})
        payload = data["data"]["login"]
        assert payload["errors"] == [], payload
        signed_in = GraphQLClient(self.http, payload["accessToken"], self.lang)
        if payload["mustEnrollTotp"] and enroll:
            return await signed_in.enroll_totp()
        return signed_in

    async def enroll_totp(self) -> GraphQLClient:
        """Start and confirm a TOTP enrollment as this client's user; returns a client with the
        confirmed session's fresh token (confirming revokes the older ones)."""
        started = (await self.execute(START_TOTP))["data"]["startTotpEnrollment"]
        assert started["errors"] == [], started
        code = totp_code(started["secret"], platform_of(self.http).clock())
        confirmed = (await self.execute(CONFIRM_TOTP, {"c": code}))["data"]["confirmTotpEnrollment"]
        assert confirmed["errors"] == [], confirmed
        return GraphQLClient(self.http, confirmed["accessToken"], self.lang)

    async def _open_session(self, platform: Any, username: str, password: str) -> GraphQLClient:
        from office_api.auth import complete_login, verify_password
        from office_api.org.models import User

        async with platform.db.unit_of_work() as uow:
            user = (await uow.session.execute(select(User).where(User.username == username))).scalar_one()
            assert verify_password(password, user.password_hash), f"wrong password for {username}"
            pair = await complete_login(uow, platform.settings, user, now=platform.clock(), totp_used=True)
        return GraphQLClient(self.http, pair.access_token, self.lang)

    async def first_login(self, username: str, password: str, new_password: str | None = None) -> GraphQLClient:
        """Sign in with an admin-chosen password and make the forced change (to ``new_password``,
        default ``password`` with ``-new`` appended); returns a client with the new token."""
        data = await self.execute(
            "mutation($u:String!,$p:String!){login(input:{username:$u,password:$p})"
            "{accessToken mustChangePassword errors{code}}}",
            {"u": username, "p": password},
        )
        payload = data["data"]["login"]
        assert payload["errors"] == [], payload
        assert payload["mustChangePassword"] is True, payload
        changed = await self.execute(
            "mutation($o:String!,$n:String!){changePassword(input:{oldPassword:$o,newPassword:$n})"
            "{accessToken errors{code}}}",
            {"o": password, "n": new_password or f"{password}-new"},
            token=payload["accessToken"],
        )
        result = changed["data"]["changePassword"]
        assert result["errors"] == [], result
        return GraphQLClient(self.http, result["accessToken"], self.lang)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    from office_api.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield GraphQLClient(http)


@pytest.fixture
def platform(app: Any) -> Any:
    return app.state.platform

"""End-to-end helpers: a live ``office-api demo`` server in a subprocess, and small clients.

The server is started the way the README does (``office-api demo --host --port``) with
``OFFICE_DATABASE_URL`` pointing at a fresh database (a SQLite file under the test's tmp
directory, or a new PostgreSQL database created here and dropped WITH (FORCE) after) and
``OFFICE_DATA_DIR`` in tmp (the demo writes its JWT secret there). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import DEMO_PASSWORD, PG_HOST, PG_PORT, _pg_exec, _require_pg

ROOT = Path(__file__).resolve().parents[2]
#: Longest wait for the server to answer /readyz (migrations + demo data + start-up).
STARTUP_TIMEOUT = 30.0
#: Longest wait for the server to stop after SIGTERM before it is killed.
SHUTDOWN_TIMEOUT = 10.0
#: Longest wait for one websocket message or one HTTP answer. Shorter than the
#: subscription's periodic re-check (15 s), so a lost wake-up fails the test.
WS_TIMEOUT = 5.0
GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass(frozen=True)
class LiveServer:
    backend: str
    base_url: str
    database_url: str
    data_dir: Path
    log_path: Path
    pid: int

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    @property
    def ws_url(self) -> str:
        return "ws://" + self.graphql_url.removeprefix("http://")

    def jwt_secret(self) -> str:
        """The secret the demo generated under its data directory."""
        return (self.data_dir / "jwt_secret").read_text().strip()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def assert_no_errors(self) -> None:
        """The server logged no traceback and no error."""
        bad = [line for line in self.log().splitlines() if "Traceback" in line or "ERROR" in line]
        assert bad == [], "server log:\n" + self.log()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def office_api_command() -> list[str]:
    """The installed ``office-api`` script next to this interpreter, else ``-m office_api.cli``."""
    script = Path(sys.executable).with_name("office-api")
    return [str(script)] if script.exists() else [sys.executable, "-m", "office_api.cli"]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=SHUTDOWN_TIMEOUT)


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, log_path: Path) -> bool:
    """True once /readyz answers 200; False if the process died of a taken port; fails otherwise."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(trust_env=False, timeout=1.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = log_path.read_text(encoding="utf-8", errors="replace")
                if "address already in use" in log.lower():
                    return False
                pytest.fail(f"office-api demo exited with code {proc.returncode}:\n{log}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"{base_url}/readyz").status_code == 200:
                    return True
            time.sleep(0.1)
    _stop(proc)
    log = log_path.read_text(encoding="utf-8", errors="replace")
    pytest.fail(f"office-api demo did not answer /readyz within {STARTUP_TIMEOUT:.0f} s:\n{log}")


@contextlib.contextmanager
def _database(backend: str, tmp: Path) -> Iterator[str]:
    """An empty database for the demo to migrate: a SQLite path, or a new PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'office.db'}"
        return
    _require_pg()
    name = f"office_e2e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def run_server(backend: str, tmp: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """``office-api demo`` on a free port over a fresh database; stopped (and the database dropped) after.

    ``env``: extra environment variables for the server (e.g. ``OFFICE_WS_PING_SECONDS``)."""
    extra_env = env
    with _database(backend, tmp) as database_url:
        data_dir = tmp / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OFFICE_")}
        env.update(
            OFFICE_DATABASE_URL=database_url,
            OFFICE_DATA_DIR=str(data_dir),
            OFFICE_DEMO_PASSWORD=DEMO_PASSWORD,
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        for attempt in range(3):
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            log_path = tmp / f"server-{attempt}.log"
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    [*office_api_command(), "demo", "--host", "127.0.0.1", "--port", str(port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=tmp,
                )
            try:
                if not _wait_ready(proc, base_url, log_path):
                    continue  # the port was taken between free_port() and bind: try another
                yield LiveServer(backend, base_url, database_url, data_dir, log_path, proc.pid)
                return
            finally:
                _stop(proc)
        pytest.fail("office-api demo could not bind a free port in 3 attempts")


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (examples/ is not a package; it goes on ``sys.path``, as
    when a script there runs, so that one example can import another's helpers)."""
    examples = str(ROOT / "examples")
    if examples not in sys.path:
        sys.path.append(examples)
    module_name = f"examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "examples" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


# ---- HTTP -------------------------------------------------------------------------------


class GraphQLError(AssertionError):
    pass


_TOKENS: dict[tuple[str, str], str] = {}
#: TOTP secrets enrolled by ``Office.login`` and the last time step used, per (server, username).
_TOTP: dict[tuple[str, str], tuple[str, int]] = {}
LOGIN = (
    "mutation($u:String!,$p:String!,$c:String){login(input:{username:$u,password:$p,totpCode:$c})"
    "{accessToken mustEnrollTotp errors{field code}}}"
)


@dataclass
class Office:
    """GraphQL over HTTP against the live server, as several signed-in users."""

    server: LiveServer
    http: httpx.AsyncClient

    async def call(self, token: str | None, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        resp = await asyncio.wait_for(
            self.http.post(self.server.graphql_url, json={"query": query, "variables": variables}, headers=headers),
            WS_TIMEOUT,
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        return body["data"]

    async def login(self, username: str) -> str:
        """An access token of ``username`` (cached per server: tokens live 15 minutes)."""
        key = (self.server.base_url, username)
        if key not in _TOKENS:
            _TOKENS[key] = await self._login(username)
        return _TOKENS[key]

    async def _login(self, username: str) -> str:
        """Sign in as a person would: with the current TOTP code once enrolled (waiting for the
        next 30 s step when this one was used: codes work once), and the three administrators
        enroll at their first sign-in (startTotpEnrollment, confirmTotpEnrollment)."""
        key = (self.server.base_url, username)
        code = None
        if key in _TOTP:
            secret, used = _TOTP[key]
            while int(time.time()) // 30 <= used:
                await asyncio.sleep(30 - time.time() % 30 + 0.05)
            step = int(time.time()) // 30
            code, _TOTP[key] = pyotp.TOTP(secret).at(step * 30), (secret, step)
        data = await self.call(None, LOGIN, u=username, p=DEMO_PASSWORD, c=code)
        assert data["login"]["errors"] == [], data
        token = data["login"]["accessToken"]
        if not data["login"]["mustEnrollTotp"]:
            return token
        started = await self.call(token, "mutation { startTotpEnrollment { secret errors { code } } }")
        secret = started["startTotpEnrollment"]["secret"]
        step = int(time.time()) // 30
        confirmed = await self.call(
            token,
            "mutation($c: String!) { confirmTotpEnrollment(input: {code: $c}) { accessToken errors { code } } }",
            c=pyotp.TOTP(secret).at(step * 30),
        )
        assert confirmed["confirmTotpEnrollment"]["errors"] == [], confirmed
        _TOTP[key] = (secret, step)
        return confirmed["confirmTotpEnrollment"]["accessToken"]

    async def user_id(self, token: str) -> str:
        return (await self.call(token, "{ me { id } }"))["me"]["id"]

    async def last_sequence(self, token: str) -> int:
        edges = (await self.call(token, "{ notifications(first: 1) { edges { node { sequence } } } }"))[
            "notifications"
        ]["edges"]
        return edges[0]["node"]["sequence"] if edges else 0

    async def notifications_after(self, token: str, after: int) -> list[dict[str, Any]]:
        """The user's stored notifications with sequence > ``after``, oldest first (at most 100)."""
        edges = (
            await self.call(token, "{ notifications(first: 100) { edges { node { id sequence kind subjectId } } } }")
        )["notifications"]["edges"]
        return [e["node"] for e in reversed(edges) if e["node"]["sequence"] > after]

    async def draft(self, drafter: str, approver_id: str, title: str) -> str:
        """A draft by ``drafter`` with one SINGLE step (签发) by ``approver_id``."""
        created = await self.call(
            drafter,
            """mutation($input: CreateDocumentInput!) {
                 createDocument(input: $input) { document { id } errors { code field } } }""",
            input={
                "title": title,
                "docType": "NOTICE",
                "route": {"steps": [{"name": "签发", "mode": "SINGLE", "assigneeIds": [approver_id]}]},
            },
        )
        assert created["createDocument"]["errors"] == [], created
        return created["createDocument"]["document"]["id"]

    async def submit(self, drafter: str, doc_id: str) -> None:
        submitted = await self.call(
            drafter,
            """mutation($id: ID!) { submitDocument(input: {documentId: $id, attestNoStateSecret: true}) {
                 errors { code } } }""",
            id=doc_id,
        )
        assert submitted["submitDocument"]["errors"] == [], submitted

    async def approve(self, approver: str, doc_id: str) -> None:
        """The approver approves their pending task on the document."""
        tasks = (await self.call(approver, "{ myTasks(first: 100) { edges { node { id document { id } } } } }"))[
            "myTasks"
        ]["edges"]
        task_id = next(e["node"]["id"] for e in tasks if e["node"]["document"]["id"] == doc_id)
        approved = await self.call(
            approver,
            'mutation($t: ID!) { approveTask(input: {taskId: $t, opinion: "同意"}) { errors { code } } }',
            t=task_id,
        )
        assert approved["approveTask"]["errors"] == [], approved

    async def approved_document(self, drafter: str, approver: str, approver_id: str, title: str) -> str:
        """Draft → submit → the approver approves (one SINGLE step).

        The drafter is told TASK_APPROVED and DOCUMENT_APPROVED; the approver TASK_ASSIGNED.
        """
        doc_id = await self.draft(drafter, approver_id, title)
        await self.submit(drafter, doc_id)
        await self.approve(approver, doc_id)
        return doc_id


# ---- websockets (raw graphql-transport-ws) ----------------------------------------------

SUBSCRIBE_NOTIFICATIONS = (
    "subscription($after: Int!) { notifications(after: $after) { id sequence kind subjectId data } }"
)


class Socket:
    """A raw graphql-transport-ws client on the ``websockets`` library; every wait is bounded."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await asyncio.wait_for(self.ws.send(json.dumps(message)), WS_TIMEOUT)

    async def receive(self, timeout: float = WS_TIMEOUT) -> dict[str, Any]:
        """The next protocol message, answering server pings on the way."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def init(self, payload: dict[str, Any] | None) -> None:
        await self.send(
            {"type": "connection_init", "payload": payload} if payload is not None else {"type": "connection_init"}
        )

    async def authenticate(self, token: str) -> None:
        await self.init({"authorization": f"Bearer {token}"})
        assert await self.receive() == {"type": "connection_ack", "payload": {"userId": user_gid(token)}}

    async def subscribe(self, op_id: str, after: int) -> None:
        await self.send(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE_NOTIFICATIONS, "variables": {"after": after}},
            }
        )

    async def next_notification(self, op_id: str = "1") -> dict[str, Any]:
        message = await self.receive()
        assert (message.get("type"), message.get("id")) == ("next", op_id), message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]["notifications"]

    async def take(self, count: int, op_id: str = "1") -> list[dict[str, Any]]:
        return [await self.next_notification(op_id) for _ in range(count)]

    async def assert_silent(self, seconds: float = 0.5) -> None:
        """Nothing arrives within ``seconds``."""
        with contextlib.suppress(TimeoutError):
            message = await self.receive(timeout=seconds)
            raise AssertionError(f"unexpected message {message}")

    async def closed(self, within: float = WS_TIMEOUT) -> tuple[int | None, str | None, list[dict[str, Any]]]:
        """Wait (at most ``within`` seconds) until the server closes the socket.

        Returns the close code, the reason and the messages received before.
        """
        received = []
        try:
            async with asyncio.timeout(within):
                while True:
                    received.append(json.loads(await self.ws.recv()))
        except ConnectionClosed as exc:
            frame = exc.rcvd
            return (frame.code, frame.reason, received) if frame is not None else (None, None, received)


def token_subject(token: str) -> str:
    """The ``sub`` claim (user id) of an access token."""
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def user_gid(token: str) -> str:
    """The Relay global id of the token's user."""
    return base64.b64encode(f"User:{token_subject(token)}".encode()).decode()


@contextlib.asynccontextmanager
async def open_socket(
    server: LiveServer, subprotocols: list[str] | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[Socket]:
    """A websocket to /graphql offering ``subprotocols`` (default: graphql-transport-ws only)."""
    protocols = [GRAPHQL_TRANSPORT_WS] if subprotocols is None else subprotocols
    async with connect(
        server.ws_url,
        subprotocols=protocols or None,  # type: ignore[arg-type]
        additional_headers=headers,
        proxy=None,
        open_timeout=WS_TIMEOUT,
        close_timeout=2,
    ) as ws:
        yield Socket(ws)


@contextlib.asynccontextmanager
async def subscribed(server: LiveServer, token: str, after: int) -> AsyncIterator[Socket]:
    """An authenticated socket with subscription "1" on notifications(after)."""
    async with open_socket(server) as sock:
        await sock.authenticate(token)
        await sock.subscribe("1", after)
        yield sock

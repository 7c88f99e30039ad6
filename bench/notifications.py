"""Benchmark of live notification delivery: ``python -m bench.notifications`` (or ``./dev bench notifications``).

Starts a live ``office-api demo`` server (a subprocess, as in production) over a fresh database,
adds ``--users`` people directly in the database (with their notification counters) and signs
access tokens for them with the demo's secret, has the General Office clerk send them one meeting
notice, then opens websocket subscribers (graphql-transport-ws, ``notifications(after: 1)``) in
this process, spread evenly over the people (1,000 subscribers over 500 people: two devices
each; 5,000: ten each). Each event is one committed change that concerns every subscriber: the
clerk changes the meeting's agenda (``updateMeeting``), which writes one ``MEETING_CHANGED`` row
per person in one transaction; the latency of a delivery is client receipt minus the row's
``createdAt`` (written in that transaction, just before the commit; same machine, same clock).

Baseline, in the same run and with the same number of connections: a raw ``websockets`` server
(a subprocess too) that broadcasts one small JSON message carrying its send time to every raw
websocket client (``websockets.broadcast``); latency is receipt minus send time. Events of the
two alternate, so both see the same machine load. Memory per connection is the server process's
resident set growth (VmRSS in /proc/<pid>/status) from before the first socket, divided by the
open sockets. Only the public protocol is used: the server's internals may change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from sqlalchemy import func, insert, select
from websockets.asyncio.client import ClientConnection, connect

from bench.__main__ import PG_ADMIN, _pg_admin, pg_answers
from messaging.models import NotificationCounter
from office_api.db import Database, utcnow
from office_api.org.models import User

PASSWORD = "Bench@2026-pass"
STARTUP_TIMEOUT = 60.0
#: Longest wait for every subscriber to receive one event.
EVENT_TIMEOUT = 300.0
#: Sockets opened at the same time while connecting.
CONNECT_CONCURRENCY = 64
SUBSCRIBE = "subscription($after: Int!) { notifications(after: $after) { sequence createdAt } }"
UPDATE_MEETING = """mutation($input: UpdateMeetingInput!) {
  updateMeeting(input: $input) { meeting { id version } errors { code field message } } }"""
CREATE_MEETING = """mutation($input: CreateMeetingInput!) {
  createMeeting(input: $input) { meeting { id version } errors { code field message } } }"""


# ---- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def raise_fd_limit() -> int:
    """Raise this process's open-file soft limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _wait_http(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(trust_env=False, timeout=1.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(url).status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} within {STARTUP_TIMEOUT}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Server:
    pid: int
    port: int
    database_url: str
    data_dir: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


@contextlib.contextmanager
def office_server(backend: str, tmp: Path, pg_admin: str) -> Iterator[Server]:
    """``office-api demo`` on a free port over a fresh database (a PostgreSQL one is dropped after)."""
    if backend == "sqlite":
        url, drop = f"sqlite+aiosqlite:///{tmp / 'office.db'}", None
    else:
        name = f"office_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"', pg_admin))
        url, drop = pg_admin.rsplit("/", 1)[0] + f"/{name}", name
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFICE_")}
    env.update(
        OFFICE_DATABASE_URL=url,
        OFFICE_DATA_DIR=str(tmp / "data"),
        OFFICE_DEMO_PASSWORD=PASSWORD,
        # A per-user connection cap, where there is one, must not refuse the bench's devices.
        OFFICE_WS_MAX_CONNECTIONS_PER_USER="1000",
        PYTHONUNBUFFERED="1",
    )
    script = Path(sys.executable).with_name("office-api")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "office_api.cli"]
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "demo", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp,
        )
    try:
        _wait_http(proc, f"http://127.0.0.1:{port}/readyz", log)
        yield Server(proc.pid, port, url, tmp / "data")
    finally:
        _stop(proc)
        if drop is not None:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)', pg_admin))


@contextlib.contextmanager
def raw_server() -> Iterator[tuple[int, int]]:
    """The baseline: ``python -m bench.notifications --raw-server PORT`` in a subprocess; (pid, port)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.notifications", "--raw-server", str(port)])
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the raw websockets server did not start")
            time.sleep(0.05)
        yield proc.pid, port
    finally:
        _stop(proc)


async def _raw_serve(port: int) -> None:
    """Every connection is a subscriber; a text "go" from one broadcasts {"t": send time} to all
    the others with ``websockets.broadcast`` (one encoding, a write per socket)."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            async for message in ws:
                if message == "go":
                    broadcast([c for c in clients if c is not ws], json.dumps({"t": time.time()}))
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, max_queue=None, ping_interval=None):
        await asyncio.Future()


# ---- clients ------------------------------------------------------------------------------------


@dataclass
class Receipts:
    """Receipt times of the current event, one per socket."""

    expected: int = 0
    latencies: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def reset(self, expected: int) -> None:
        self.expected, self.latencies, self.done = expected, [], asyncio.Event()

    def add(self, latency: float) -> None:
        self.latencies.append(latency)
        if len(self.latencies) >= self.expected:
            self.done.set()


@dataclass
class Opened:
    """Counts sockets that are open and subscribed."""

    count: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self) -> None:
        self.count += 1
        self.changed.set()

    async def until(self, count: int, tasks: list[asyncio.Task[None]]) -> None:
        while self.count < count:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1)
            for t in tasks:
                if t.done():
                    t.result()  # a subscriber failed: stop with its error


async def _open(url: str, subprotocol: str | None) -> ClientConnection:
    return await connect(
        url,
        subprotocols=[subprotocol] if subprotocol else None,  # type: ignore[list-item]
        proxy=None,
        open_timeout=60,
        ping_interval=None,
        max_queue=None,
        compression=None,
    )


async def office_subscriber(
    url: str, token: str, after: int, receipts: Receipts, ready: asyncio.Semaphore, opened: Opened
) -> None:
    """One graphql-transport-ws subscriber after ``after``; records receipt minus the row's createdAt."""
    async with ready:
        ws = await _open(url, "graphql-transport-ws")
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        payload = {"query": SUBSCRIBE, "variables": {"after": after}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    opened.add()
    async for raw in ws:
        now = time.time()
        message = json.loads(raw)
        if message.get("type") == "ping":
            await ws.send('{"type":"pong"}')
        elif message.get("type") == "next":
            if message["payload"].get("errors"):
                raise RuntimeError(f"the subscription failed on the server: {message['payload']['errors']}")
            created = dt.datetime.fromisoformat(message["payload"]["data"]["notifications"]["createdAt"])
            receipts.add(now - created.timestamp())
        else:
            raise RuntimeError(f"unexpected message {message}")


async def raw_subscriber(url: str, receipts: Receipts, ready: asyncio.Semaphore, opened: Opened) -> None:
    async with ready:
        ws = await _open(url, None)
    opened.add()
    async for raw in ws:
        receipts.add(time.time() - json.loads(raw)["t"])


# ---- the office side ----------------------------------------------------------------------------


async def add_people(database_url: str, count: int) -> list[int]:
    """``count`` active people with notification counters, inserted directly; their ids."""
    db = Database(database_url)
    try:
        async with db.unit_of_work() as uow:
            first = int((await uow.session.execute(select(func.max(User.id)))).scalar_one()) + 1
            now = utcnow()
            ids = list(range(first, first + count))
            await uow.session.execute(
                insert(User),
                [
                    {
                        "id": i,
                        "username": f"bench{i}",
                        "display_name": f"测试{i}",
                        "password_hash": "!bench",
                        "is_active": True,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                        "name_pinyin": f"ceshi{i}",
                        "name_initials": "cs",
                    }
                    for i in ids
                ],
            )
            await uow.session.execute(insert(NotificationCounter), [{"user_id": i, "last_seq": 0} for i in ids])
        return ids
    finally:
        await db.dispose()


def access_token(secret: str, user_id: int, hours: int = 2) -> str:
    """An access token signed as the server signs them (office_api.auth.issue_access_token)."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "iat": now,
        "nbf": now,
        "exp": now + hours * 3600,
        "iss": "office-api",
        "aud": "office-api",
        "jti": uuid.uuid4().hex,
        "tv": 0,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


async def _call(http: httpx.AsyncClient, url: str, token: str | None, query: str, **variables: Any) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    resp = await http.post(url, json={"query": query, "variables": variables}, headers=headers)
    body = resp.json()
    if resp.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{resp.status_code}: {body}")
    return body["data"]


def _gid(type_name: str, pk: int) -> str:
    import base64

    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


# ---- the run ------------------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    subscribers: int
    people: int
    ours_p50: float
    ours_p99: float
    raw_p50: float
    raw_p99: float
    ours_kib: float
    raw_kib: float
    commit_ms: float


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(
    backend: str, server: Server, raw: tuple[int, int], sizes: list[int], people: int, events: int, out: Any
) -> list[Row]:
    raw_pid, raw_port = raw
    ids = await add_people(server.database_url, people)
    secret = (server.data_dir / "jwt_secret").read_text().strip()
    tokens = [access_token(secret, i) for i in ids]
    rows: list[Row] = []
    async with httpx.AsyncClient(trust_env=False, timeout=120) as http:
        login = await _call(
            http,
            server.http_url,
            None,
            'mutation($p:String!){login(input:{username:"clerk",password:$p}){accessToken errors{code}}}',
            p=PASSWORD,
        )
        clerk = login["login"]["accessToken"]
        unit = (await _call(http, server.http_url, clerk, "{ me { positions { unit { id } } } }"))["me"]
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
        meeting = (
            await _call(
                http,
                server.http_url,
                clerk,
                CREATE_MEETING,
                input={
                    "title": "全员通知",
                    "organizerUnitId": unit["positions"][0]["unit"]["id"],
                    "startAt": start.isoformat(),
                    "endAt": (start + dt.timedelta(hours=1)).isoformat(),
                    "invitees": [{"userId": _gid("User", i), "role": "PARTICIPANT"} for i in ids],
                },
            )
        )["createMeeting"]
        if meeting["errors"]:
            raise RuntimeError(meeting["errors"])
        meeting = meeting["meeting"]  # every person's MEETING_INVITED is sequence 1

        ours, base = Receipts(), Receipts()
        tasks: list[asyncio.Task[None]] = []
        ready = asyncio.Semaphore(CONNECT_CONCURRENCY)
        ours_rss0, raw_rss0 = rss_kib(server.pid), rss_kib(raw_pid)
        control = await _open(f"ws://127.0.0.1:{raw_port}", None)
        version = meeting["version"]
        n = 0
        last_seq = 1  # each person's last sequence: the invitation, then one per agenda change
        opened = Opened()

        async def office_event(expected: int) -> tuple[list[float], float]:
            nonlocal version, last_seq
            ours.reset(expected)
            started = time.perf_counter()
            changed = await _call(
                http,
                server.http_url,
                clerk,
                UPDATE_MEETING,
                input={"meetingId": meeting["id"], "expectedVersion": version, "agenda": f"议程 {time.time()}"},
            )
            commit_ms = (time.perf_counter() - started) * 1000
            if changed["updateMeeting"]["errors"]:
                raise RuntimeError(changed["updateMeeting"]["errors"])
            version = changed["updateMeeting"]["meeting"]["version"]
            last_seq += 1
            await asyncio.wait_for(ours.done.wait(), EVENT_TIMEOUT)
            return ours.latencies, commit_ms

        async def raw_event(expected: int) -> list[float]:
            base.reset(expected)
            await control.send("go")
            await asyncio.wait_for(base.done.wait(), EVENT_TIMEOUT)
            return base.latencies

        try:
            for size in sizes:
                print(f"[{backend}] opening {size - n:,} more subscribers of each kind ...", file=out, flush=True)
                t0 = time.perf_counter()
                for k in range(n, size):
                    tasks.append(
                        asyncio.create_task(
                            office_subscriber(server.ws_url, tokens[k % people], last_seq, ours, ready, opened)
                        )
                    )
                    tasks.append(asyncio.create_task(raw_subscriber(f"ws://127.0.0.1:{raw_port}", base, ready, opened)))
                n = size
                await opened.until(2 * n, tasks)
                await asyncio.sleep(1)  # the servers register the last sockets
                # A warm-up event of each kind: every socket is subscribed once it has received it.
                await office_event(n)
                await raw_event(n)
                print(f"[{backend}] {n:,} + {n:,} connected in {time.perf_counter() - t0:.1f}s", file=out, flush=True)
                ours_kib = (rss_kib(server.pid) - ours_rss0) / n
                raw_kib = (rss_kib(raw_pid) - raw_rss0) / n
                ours_all: list[float] = []
                raw_all: list[float] = []
                commits: list[float] = []
                for _ in range(events):
                    lat, commit_ms = await office_event(n)
                    ours_all += lat
                    commits.append(commit_ms)
                    raw_all += await raw_event(n)
                    for t in tasks:
                        if t.done():
                            t.result()  # a subscriber failed: stop with its error
                rows.append(
                    Row(
                        backend,
                        n,
                        min(people, n),
                        pct(ours_all, 0.5) * 1000,
                        pct(ours_all, 0.99) * 1000,
                        pct(raw_all, 0.5) * 1000,
                        pct(raw_all, 0.99) * 1000,
                        ours_kib,
                        raw_kib,
                        statistics.median(commits),
                    )
                )
                print(format_rows(rows[-1:]), file=out, flush=True)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await control.close()
    return rows


def format_rows(rows: Sequence[Row]) -> str:
    lines = [
        f"{'backend':<10} {'subscribers':>11} {'people':>6} {'ours p50 ms':>11} {'p99 ms':>8} "
        f"{'raw p50 ms':>10} {'p99 ms':>8} {'p50 ratio':>9} {'p99 ratio':>9} "
        f"{'ours KiB/conn':>13} {'raw KiB/conn':>12} {'mutation ms':>11}"
    ]
    for r in rows:
        lines.append(
            f"{r.backend:<10} {r.subscribers:>11,} {r.people:>6,} {r.ours_p50:>11.1f} {r.ours_p99:>8.1f} "
            f"{r.raw_p50:>10.1f} {r.raw_p99:>8.1f} {r.raw_p50 / r.ours_p50:>9.3f} {r.raw_p99 / r.ours_p99:>9.3f} "
            f"{r.ours_kib:>13.1f} {r.raw_kib:>12.1f} {r.commit_ms:>11.1f}"
        )
    return "\n".join(lines)


def run(
    backend: str, sizes: list[int], people: int, events: int, pg_admin: str = PG_ADMIN, out: Any = sys.stdout
) -> list[Row]:
    """One backend: a live office server and a raw websockets server, ``sizes`` subscribers of each."""
    with (
        tempfile.TemporaryDirectory(prefix="office-bench-notify-") as tmp,
        raw_server() as raw,
        office_server(backend, Path(tmp), pg_admin) as server,
    ):
        return asyncio.run(measure(backend, server, raw, sizes, people, events, out))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications", description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", default="1000,5000", help="comma-separated socket counts (ascending)")
    parser.add_argument("--people", type=int, default=500, help="people the sockets are spread over (at most 500)")
    parser.add_argument("--events", type=int, default=3, help="timed events per size and kind (after one warm-up)")
    parser.add_argument(
        "--db", choices=["sqlite", "postgresql", "both"], default="sqlite", help="both: PostgreSQL when it answers"
    )
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help="server where a throwaway database is created")
    parser.add_argument("--raw-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.raw_server:
        asyncio.run(_raw_serve(args.raw_server))
        return 0
    sizes = sorted(int(s) for s in args.subscribers.split(","))
    if not 1 <= args.people <= 500:
        parser.error("--people must be 1–500 (a meeting invites at most 500)")
    limit = raise_fd_limit()
    if 2 * sizes[-1] + 100 > limit:
        parser.error(f"{sizes[-1]} subscribers of each kind need more than the {limit} open files allowed")
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if args.db == "both" and not pg_answers(args.pg_admin_url):
        print("PostgreSQL does not answer: SQLite only", file=sys.stderr)
        backends = ["sqlite"]
    rows: list[Row] = []
    for backend in backends:
        rows += run(backend, sizes, args.people, args.events, args.pg_admin_url)
    print(format_rows(rows))
    print(
        "latency: office = client receipt - the row's createdAt (in the committing transaction); raw = receipt - "
        "send time of websockets.broadcast; ratio = raw / ours (below 1: ours is slower); KiB/conn = server VmRSS "
        "growth / sockets; mutation ms = updateMeeting round trip (median)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

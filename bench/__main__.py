"""Benchmark of the province-scale tree and the directory: ``./dev bench [options]``.

Generates an organization of 100,000 units and 300,000 people (``--scale`` shrinks it) with
bulk inserts into a fresh database built by the migrations, then times, in the same run:

* subtree queries on the indexed materialized path (``path LIKE '/1/5/%'``) against a plain
  recursive CTE over ``parent_id`` (the same rows, checked);
* directory searches (office_api.org.directory.search, ranked first page) against a plain
  unindexed ``LIKE '%q%'`` over name, pinyin, initials and mobile.

Each figure is the median of ``--repeat`` runs after one warm-up; the ratio is
baseline / ours (above 1 means ours is faster). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from office_api.db import Database, utcnow
from office_api.migrate import upgrade_async
from office_api.org import directory
from office_api.org.models import OrgUnit, Position, User
from office_api.org.pinyin import search_keys

FULL_UNITS = 100_000
FULL_USERS = 300_000
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建国红文海燕鑫波斌宇浩"
    "凯俊峰晨琳雪梅林飞雷亮成志新宁婷倩颖佳欣怡子涵博文轩"
)

COMMON = ("张伟", "王伟", "李娜", "王芳", "刘伟", "张敏")


@dataclass
class Result:
    backend: str
    case: str
    rows: int
    ours_ms: float
    baseline_ms: float

    @property
    def ratio(self) -> float:
        return self.baseline_ms / self.ours_ms if self.ours_ms > 0 else float("inf")


# ---- data ---------------------------------------------------------------------------------------


def plan_tree(n_units: int) -> list[tuple[int, int | None, int]]:
    """(id, parent id, depth) of ``n_units`` units: province, 16 cities, ~10 counties each,
    ~25 townships or departments per county, offices below them (ids in breadth-first order)."""
    fanouts = [16, 10, 25]
    units: list[tuple[int, int | None, int]] = [(1, None, 0)]
    level = [1]
    depth = 0
    while len(units) < n_units:
        depth += 1
        fan = fanouts[depth - 1] if depth - 1 < len(fanouts) else 0
        remaining = n_units - len(units)
        if not fan:  # last level: spread what is left over the previous level
            fan = max(1, -(-remaining // len(level)))
        nxt = []
        for parent in level:
            for _ in range(fan):
                if len(units) >= n_units:
                    break
                uid = len(units) + 1
                units.append((uid, parent, depth))
                nxt.append(uid)
        level = nxt
    return units


KINDS = ["province", "prefecture", "county", "township", "office", "office"]


@cache
def keys(name: str) -> tuple[str, str]:
    return search_keys(name)


async def generate(db: Database, n_units: int, n_users: int, seed: int = 2026) -> dict[str, float]:
    """Bulk-load the tree and the people; returns seconds per phase."""
    rng = random.Random(seed)
    now = utcnow()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    plan = plan_tree(n_units)
    paths: dict[int, str] = {}
    unit_rows = []
    for uid, parent, depth in plan:
        paths[uid] = f"{paths[parent] if parent else '/'}{uid}/"
        unit_rows.append(
            {
                "id": uid,
                "code": f"B{uid:07d}",
                "name": f"单位{uid}",
                "kind": KINDS[min(depth, len(KINDS) - 1)],
                "parent_id": parent,
                "path": paths[uid],
                "depth": depth,
                "is_active": True,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    user_rows, position_rows = [], []
    for i in range(1, n_users + 1):
        if i % 50 == 0:  # the most common names, so that every scale has 张伟
            name = COMMON[(i // 50) % len(COMMON)]
        else:
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        full, initials = keys(name)
        user_rows.append(
            {
                "id": i,
                "username": f"u{i:07d}",
                "display_name": name,
                "password_hash": "!bench",
                "is_active": True,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "mobile": f"139{i:08d}",
                "office_phone": None,
                "email": None,
                "name_pinyin": full,
                "name_initials": initials,
            }
        )
        position_rows.append(
            {
                "id": i,
                "user_id": i,
                "unit_id": rng.randint(1, n_units),
                "title": "科员",
                "is_primary": True,
                "is_leader": rng.random() < 0.05,
                "created_at": now,
            }
        )
    timings["prepare"] = time.perf_counter() - t0
    await bulk_insert(
        db,
        timings,
        [
            ("insert units", OrgUnit.__table__, unit_rows),
            ("insert users", User.__table__, user_rows),
            ("insert positions", Position.__table__, position_rows),
        ],
    )
    return timings


async def bulk_insert(db: Database, timings: dict[str, float], batches: list[tuple[str, Any, list[Any]]]) -> None:
    """Insert each (label, table, rows) in chunks of 5,000, then ANALYZE; the seconds of each step go into
    ``timings`` under its label and ``analyze``."""
    for label, table, rows in batches:
        t0 = time.perf_counter()
        async with db.unit_of_work() as uow:
            for start in range(0, len(rows), 5000):
                await uow.session.execute(insert(table), rows[start : start + 5000])
        timings[label] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if db.is_sqlite:
        async with db.unit_of_work() as uow:
            await uow.session.execute(text("ANALYZE"))
    else:
        async with db.write_engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    timings["analyze"] = time.perf_counter() - t0


# ---- measurements -------------------------------------------------------------------------------

RECURSIVE_SUBTREE = """WITH RECURSIVE sub(id) AS (
  SELECT id FROM org_units WHERE id = :root
  UNION ALL SELECT o.id FROM org_units o JOIN sub ON o.parent_id = sub.id)
SELECT id FROM sub"""

RECURSIVE_MEMBERS = """WITH RECURSIVE sub(id) AS (
  SELECT id FROM org_units WHERE id = :root
  UNION ALL SELECT o.id FROM org_units o JOIN sub ON o.parent_id = sub.id)
SELECT p.id FROM positions p JOIN sub ON p.unit_id = sub.id"""

PLAIN_LIKE = """SELECT id FROM users
WHERE is_active AND (display_name LIKE :pat OR name_pinyin LIKE :pat OR name_initials LIKE :pat OR mobile LIKE :pat)
ORDER BY name_pinyin, id LIMIT :lim"""


async def timed(db: Database, fn: Callable[[AsyncSession], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    """Median milliseconds of ``fn`` over ``repeat`` runs (after one warm-up), and its last result."""
    async with db.read() as session:
        result = await fn(session)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = await fn(session)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


async def measure(db: Database, backend: str, repeat: int, page: int = 20) -> list[Result]:
    results: list[Result] = []
    async with db.read() as s:
        # A city (depth 1) and a county (depth 2): the largest and a typical subtree.
        city = (await s.execute(select(OrgUnit).where(OrgUnit.depth == 1).order_by(OrgUnit.id).limit(1))).scalar()
        county = (await s.execute(select(OrgUnit).where(OrgUnit.depth == 2).order_by(OrgUnit.id).limit(1))).scalar()
    for label, unit in (("city", city), ("county", county)):
        if unit is None:
            continue
        for case, ours_q, base_sql in (
            (
                f"subtree units of a {label}",
                lambda s, u=unit: select(OrgUnit.id).where(directory.subtree_of(u.path, directory.is_sqlite(s))),
                RECURSIVE_SUBTREE,
            ),
            (
                f"members in subtree of a {label}",
                lambda s, u=unit: (
                    select(Position.id)
                    .join(OrgUnit, OrgUnit.id == Position.unit_id)
                    .where(directory.subtree_of(u.path, directory.is_sqlite(s)))
                ),
                RECURSIVE_MEMBERS,
            ),
        ):
            # Same rows (checked once, untimed); then the timed form counts them in the database.
            async with db.read() as s:
                ours_ids = sorted(r[0] for r in await s.execute(ours_q(s)))
                base_ids = sorted(r[0] for r in await s.execute(text(base_sql), {"root": unit.id}))
            if ours_ids != base_ids:
                raise AssertionError(f"{case}: path prefix and recursive CTE disagree")

            async def ours(s: AsyncSession, q: Any = ours_q) -> int:
                return int((await s.execute(select(func.count()).select_from(q(s).subquery()))).scalar_one())

            async def base(s: AsyncSession, sql: str = base_sql, root: int = unit.id) -> int:
                return int((await s.execute(text(f"SELECT count(*) FROM ({sql}) AS t"), {"root": root})).scalar_one())

            o_ms, o_count = await timed(db, ours, repeat)
            b_ms, b_count = await timed(db, base, repeat)
            assert o_count == b_count == len(ours_ids)
            results.append(Result(backend, case, o_count, o_ms, b_ms))

    for query in ("zw", "zhangwei", "张伟", "1390000012"):

        async def ours_s(s: AsyncSession, query: str = query) -> list[int]:
            hits = await directory.search(
                s,
                directory.DirectoryQuery(query),
                viewer_id=1,
                can_see_leader_mobile=True,
                after=None,
                limit=page + 1,
            )
            return [h.user.id for h in hits]

        async def base_s(s: AsyncSession, query: str = query) -> list[int]:
            rows = await s.execute(text(PLAIN_LIKE), {"pat": f"%{query}%", "lim": page + 1})
            return [r[0] for r in rows]

        o_ms, o_rows = await timed(db, ours_s, repeat)
        b_ms, _ = await timed(db, base_s, repeat)
        if not o_rows:
            raise AssertionError(f"directory search {query!r} found nobody")
        results.append(Result(backend, f"directory search {query!r}, first page", len(o_rows), o_ms, b_ms))
    return results


# ---- runner -------------------------------------------------------------------------------------


async def _pg_admin(statement: str, admin_url: str) -> None:
    engine = Database(admin_url).write_engine
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def fresh_database(backend: str, pg_admin: str = PG_ADMIN, keep: bool = False) -> AsyncIterator[Database]:
    """A migrated throwaway database on ``backend`` (a temporary SQLite file, or a new PostgreSQL
    database on ``pg_admin``'s server, dropped afterwards unless ``keep``)."""
    tmp = None
    if backend == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="office-bench-")
        url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    else:
        name = f"office_bench_{uuid.uuid4().hex[:8]}"
        await _pg_admin(f'CREATE DATABASE "{name}"', pg_admin)
        url = pg_admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        await upgrade_async(url)
        db = Database(url)
        try:
            yield db
        finally:
            await db.dispose()
    finally:
        if tmp is not None:
            tmp.cleanup()
        elif not keep:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)', pg_admin)


async def run_backend(
    backend: str, scale: float, repeat: int, *, pg_admin: str = PG_ADMIN, keep: bool = False, out: Any = sys.stdout
) -> list[Result]:
    """Build the tree at ``scale`` on a fresh ``backend`` database, measure, drop it."""
    n_units = max(30, int(FULL_UNITS * scale))
    n_users = max(60, int(FULL_USERS * scale))
    async with fresh_database(backend, pg_admin, keep) as db:
        print(f"[{backend}] generating {n_units:,} units and {n_users:,} users ...", file=out, flush=True)
        timings = await generate(db, n_units, n_users)
        print(f"[{backend}] " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()), file=out, flush=True)
        return await measure(db, backend, repeat)


def format_results(results: Sequence[Result]) -> str:
    lines = [
        f"{'backend':<11} {'case':<40} {'rows':>7} {'ours ms':>9} {'baseline ms':>12} {'ratio':>8}",
    ]
    for r in results:
        lines.append(
            f"{r.backend:<11} {r.case:<40} {r.rows:>7} {r.ours_ms:>9.2f} {r.baseline_ms:>12.2f} {r.ratio:>7.1f}x"
        )
    lines.append("ratio = baseline / ours; baselines: recursive CTE on parent_id (subtree), LIKE '%q%' (search)")
    return "\n".join(lines)


def pg_answers(admin_url: str = PG_ADMIN) -> bool:
    import socket

    host_port = admin_url.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port or 5432)), timeout=1):
            return True
    except OSError:
        return False


def run_cli(
    argv: Sequence[str] | None,
    prog: str,
    description: str,
    scale_help: str,
    run: Callable[..., Awaitable[list[Result]]],
) -> list[Result]:
    """Parse a benchmark's command line (--scale, --db, --repeat, --pg-admin-url, --keep) and run
    ``run(backend, scale, repeat, pg_admin=, keep=)`` on each chosen backend; the results in order."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--scale", type=float, default=1.0, help=scale_help)
    parser.add_argument(
        "--db", choices=["sqlite", "postgresql", "both"], default="both", help="both: PostgreSQL when it answers"
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help="server where a throwaway database is created")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if args.db == "both" and not pg_answers(args.pg_admin_url):
        print("PostgreSQL does not answer: SQLite only", file=sys.stderr)
        backends = ["sqlite"]
    results: list[Result] = []
    for backend in backends:
        results += asyncio.run(run(backend, args.scale, args.repeat, pg_admin=args.pg_admin_url, keep=args.keep))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    results = run_cli(
        argv, "python -m bench", __doc__.split("\n\n")[0], "1.0 = 100,000 units and 300,000 users", run_backend
    )
    print(format_results(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

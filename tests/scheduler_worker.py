"""A scheduler process for the multi-process test (tests/api/test_scheduler.py).

``python -m tests.scheduler_worker DATABASE_URL GO_FILE`` builds its own Database (its own
engine and connections), connects, creates ``GO_FILE.<pid>.ready`` and waits until GO_FILE
exists, so that every worker starts together,
runs every due ``test.mark`` job, and prints ``{"ran": N, "pid": PID}`` as JSON. The handler
writes one notification per job (``subject_id`` = the job id, ``payload.pid`` = this process).

With a third argument, an ISO instant, it is a server process at that instant instead: it
ensures the next runs of the daily jobs (as at start-up, a minute before) and runs the jobs
due then with the platform's own handlers (the 09:00 reminder sweep).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import office_api.models  # noqa: F401 - every mapped table (notifications refer to users)
from messaging.outbox import Message, notify
from office_api import scheduler as platform_jobs
from office_api.config import Settings
from office_api.db import Database, UnitOfWork
from office_api.scheduler import Job, JobContext, Registry, Scheduler

registry = Registry()
KIND = "test.mark"
NOTIFICATION_KIND = "SCHEDULER_TEST"


@registry.register(KIND)
async def mark(uow: UnitOfWork, ctx: JobContext, job: Job) -> None:
    message = Message(
        user_id=job.payload["user_id"],
        kind=NOTIFICATION_KIND,
        title=f"job {job.key}",
        subject_type="ScheduledJob",
        subject_id=job.id,
        payload={"pid": os.getpid()},
    )
    await notify(uow, ctx.broker, [message])
    await asyncio.sleep(0.002)  # a little work inside the transaction, so that the workers interleave


ROOT = Path(__file__).resolve().parents[1]


async def run_workers(url: str, tmp: Path, workers: int = 2, *extra: str) -> list[dict[str, int]]:
    """Start ``workers`` processes of this module on ``url``, start them together once all have
    connected, wait for them, and return what each printed (``ran``, ``pid``)."""
    go = tmp / "go"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.scheduler_worker", url, str(go), *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    for _ in range(600):  # every worker connected (or one died): go
        if len(list(tmp.glob("go.*.ready"))) == workers or any(p.poll() is not None for p in procs):
            break
        await asyncio.sleep(0.1)
    go.touch()
    results = []
    for proc in procs:
        out, err = await asyncio.to_thread(proc.communicate, timeout=180)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


class NullBroker:
    async def publish(self, user_ids: object) -> None:
        return None


async def main(url: str, go: Path, at: dt.datetime | None) -> int:
    settings = Settings(database_url=url, jwt_secret="w" * 40, scheduler_enabled=False)
    db = Database(url)
    if at is None:
        scheduler = Scheduler(settings, db, NullBroker(), registry=registry)
    else:
        from office_api import reminders  # noqa: F401 - registers the reminder sweep

        scheduler = Scheduler(settings, db, NullBroker(), clock=lambda: at, registry=platform_jobs.registry)
    try:
        async with db.unit_of_work() as uow:  # connect (and import everything) before the start signal
            await uow.session.connection()
        go.with_name(f"{go.name}.{os.getpid()}.ready").touch()
        deadline = time.monotonic() + 60
        while not go.exists():
            if time.monotonic() > deadline:
                raise SystemExit("no start signal")
            await asyncio.sleep(0.01)
        if at is not None:
            await scheduler.ensure_recurring_jobs(at - dt.timedelta(minutes=1))
        return await scheduler.run_due()
    finally:
        await db.dispose()


if __name__ == "__main__":
    instant = dt.datetime.fromisoformat(sys.argv[3]) if len(sys.argv) > 3 else None
    ran = asyncio.run(main(sys.argv[1], Path(sys.argv[2]), instant))
    print(json.dumps({"ran": ran, "pid": os.getpid()}), flush=True)

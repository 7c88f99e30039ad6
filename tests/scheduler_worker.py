"""A scheduler process for the multi-process test (tests/api/test_scheduler.py).

``python -m tests.scheduler_worker DATABASE_URL GO_FILE`` builds its own Database (its own
engine and connections), connects, creates ``GO_FILE.<pid>.ready`` and waits until GO_FILE
exists, so that every worker starts together,
runs every due ``test.mark`` job, and prints ``{"ran": N, "pid": PID}`` as JSON. The handler
writes one notification per job (``subject_id`` = the job id, ``payload.pid`` = this process).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import office_api.models  # noqa: F401 - every mapped table (notifications refer to users)
from messaging.outbox import Message, notify
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


class NullBroker:
    async def publish(self, user_ids: object) -> None:
        return None


async def main(url: str, go: Path) -> int:
    settings = Settings(database_url=url, jwt_secret="w" * 40, scheduler_enabled=False)
    db = Database(url)
    scheduler = Scheduler(settings, db, NullBroker(), registry=registry)
    try:
        async with db.unit_of_work() as uow:  # connect (and import everything) before the start signal
            await uow.session.connection()
        go.with_name(f"{go.name}.{os.getpid()}.ready").touch()
        deadline = time.monotonic() + 60
        while not go.exists():
            if time.monotonic() > deadline:
                raise SystemExit("no start signal")
            await asyncio.sleep(0.01)
        return await scheduler.run_due()
    finally:
        await db.dispose()


if __name__ == "__main__":
    ran = asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
    print(json.dumps({"ran": ran, "pid": os.getpid()}), flush=True)

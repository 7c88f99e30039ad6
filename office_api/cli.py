"""The ``office-api`` command: serve, migrate, import-org, export-org, reset-totp, calendar, jobs, demo."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from office_api.config import ConfigurationError, Environment, Settings, ensure_dev_secret
from office_api.db import Database
from office_api.errors import DomainErrors
from office_api.migrate import upgrade


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from office_api.app import create_app

    try:
        app = create_app(settings)
    except ConfigurationError as exc:
        sys.exit(f"office-api: {exc}")
    print(f"office-api: GraphQL at http://{host}:{port}/graphql (database {settings.database_url})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", ws="websockets-sansio")


class _ProgressLine:
    """ "N/M rows" on stderr, rewritten in place (at most every 1% and at the end)."""

    def __init__(self) -> None:
        self.shown = -1
        self.open = False  # a line without its newline is on stderr

    def __call__(self, done: int, total: int) -> None:
        step = max(total // 100, 1)
        if done == total or done - self.shown >= step:
            self.shown = done
            sys.stderr.write(f"\r{done}/{total} rows")
            self.open = done != total
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    def close(self) -> None:
        """End an unfinished line (the import stopped half-way), so that messages start on their own."""
        if self.open:
            sys.stderr.write("\n")
            self.open = False


async def _import(settings: Settings, path: Path, parent: str, progress: bool = False) -> int:
    """Import one CSV file in one transaction; print the counts, or every problem and exit 1."""
    from sqlalchemy.exc import SQLAlchemyError

    from office_api.org.importer import import_org
    from office_api.org.transfer import UsersReport

    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"office-api: {path}: cannot read as UTF-8 text ({type(exc).__name__})", file=sys.stderr)
        return 1
    line = _ProgressLine() if progress else None
    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as uow:
            report = await import_org(uow, text, default_parent=parent, progress=line)
    except DomainErrors as errs:
        if line is not None:
            line.close()
        for e in errs.errors:
            print(f"{path}: {e.field}: {e.params.get('detail', e.code.value)}", file=sys.stderr)
        n = len(errs.errors)
        print(f"office-api: import refused, nothing written ({n} problem{'s' if n != 1 else ''})", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        if line is not None:
            line.close()
        # No parameters or row values: only the kind of failure and the usual cause.
        print(
            f"office-api: database error ({type(exc).__name__}); nothing written. "
            "Is OFFICE_DATABASE_URL right, and was `office-api migrate` run?",
            file=sys.stderr,
        )
        return 1
    finally:
        await db.dispose()
    if isinstance(report, UsersReport):
        print(
            f"{path}: users {report.created} created, {report.updated} updated, {report.unchanged} unchanged; "
            f"positions {report.positions_created} created, {report.positions_unchanged} unchanged"
        )
    else:
        print(f"{path}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged")
    return 0


async def _export(settings: Settings, units: Path | None, users: Path | None, root: str | None) -> int:
    """Write the units and/or users CSV files (the import formats) of the whole tree or ``root``'s subtree."""
    from sqlalchemy import select

    from office_api.org.models import OrgUnit
    from office_api.org.transfer import export_units, export_users

    db = Database(settings.database_url)
    try:
        async with db.read() as s:
            unit = None
            if root is not None:
                unit = (await s.execute(select(OrgUnit).where(OrgUnit.code == root))).scalar_one_or_none()
                if unit is None:
                    print(f"office-api: no unit with code {root}", file=sys.stderr)
                    return 1
            for path, fn in ((units, export_units), (users, export_users)):
                if path is not None:
                    text = await fn(s, unit)
                    await asyncio.to_thread(path.write_text, text, encoding="utf-8")
                    print(f"{path}: {text.count(chr(10)) - 1} rows")
    finally:
        await db.dispose()
    return 0


async def _reset_totp(settings: Settings, username: str) -> int:
    """Turn a user's two-factor sign-in off (lost device), whatever their roles; audited."""
    from office_api.org.two_factor import reset_by_operator

    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as uow:
            found = await reset_by_operator(uow, username)
    finally:
        await db.dispose()
    if not found:
        print(f"office-api: no user {username}", file=sys.stderr)
        return 1
    print(f"{username.strip().lower()}: two-factor sign-in reset (off): the user enrolls again to turn it on")
    return 0


async def _jobs(settings: Settings, status: str | None, limit: int, retry_id: int | None) -> int:
    """List scheduled jobs (newest first), or put a failed one back (``--retry ID``)."""
    from office_api import scheduler

    db = Database(settings.database_url)
    try:
        if retry_id is not None:
            async with db.unit_of_work() as uow:
                done = await scheduler.retry(uow, retry_id, scheduler.utcnow())
            if not done:
                print(f"office-api: no failed job {retry_id}", file=sys.stderr)
                return 1
            print(f"job {retry_id}: pending again, due now")
            return 0
        async with db.read() as s:
            rows = await scheduler.list_jobs(s, status=status, limit=limit)
    finally:
        await db.dispose()
    for j in rows:
        error = f"  {j.last_error}" if j.last_error else ""
        print(f"{j.id}\t{j.kind}\t{j.key}\t{j.run_at.isoformat()}\t{j.status}\tattempts={j.attempts}{error}")
    return 0


async def _calendar_load(settings: Settings, path: Path, year: int) -> int:
    """Load a year's holiday arrangement from a JSON file (``office_api.calendar_admin``); audited.

    Refusals print ``file: field: rule`` per problem and return 2; nothing is written then.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from office_api.calendar_admin import load_arrangement, parse_arrangement, summary_lines, year_info
    from office_api.errors import DomainError

    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"office-api: {path}: cannot read as UTF-8 text ({type(exc).__name__})", file=sys.stderr)
        return 1
    db = Database(settings.database_url)
    try:
        arr = parse_arrangement(text, year)
        async with db.unit_of_work() as uow:
            cal, changed = await load_arrangement(uow, None, arr, via="command line")
            info = await year_info(uow.session, arr.year, cal)
    except (DomainError, DomainErrors) as exc:
        errs = exc.errors if isinstance(exc, DomainErrors) else [exc]
        for e in errs:
            print(f"{path}: {e.field}: {e.message('en')}", file=sys.stderr)
        n = len(errs)
        print(f"office-api: calendar refused, nothing written ({n} problem{'s' if n != 1 else ''})", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(
            f"office-api: database error ({type(exc).__name__}); nothing written. "
            "Is OFFICE_DATABASE_URL right, and was `office-api migrate` run?",
            file=sys.stderr,
        )
        return 1
    finally:
        await db.dispose()
    for line in summary_lines(info):
        print(line)
    print(f"deadlines recomputed: {changed}")
    return 0


async def _calendar_show(settings: Settings, year: int) -> int:
    """Print a year of the working-day calendar (``office-api calendar show``)."""
    from sqlalchemy.exc import SQLAlchemyError

    from office_api.calendar_admin import summary_lines, year_info
    from office_api.errors import DomainError

    db = Database(settings.database_url)
    try:
        async with db.read() as s:
            info = await year_info(s, year)
    except DomainError as exc:
        print(f"office-api: {exc.field}: {exc.message('en')}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(
            f"office-api: database error ({type(exc).__name__}). "
            "Is OFFICE_DATABASE_URL right, and was `office-api migrate` run?",
            file=sys.stderr,
        )
        return 1
    finally:
        await db.dispose()
    for line in summary_lines(info):
        print(line)
    return 0


async def _demo_data(settings: Settings) -> None:
    from office_api.demo import load_demo

    db = Database(settings.database_url)
    try:
        reports, created = await load_demo(db, settings.demo_password)
    finally:
        await db.dispose()
    for r in reports:
        print(f"demo organization: {r.created} created, {r.updated} updated, {r.unchanged} unchanged")
    print(f"demo accounts created: {', '.join(created) or 'none (already there)'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="office-api", description="Government mobile office platform backend.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("serve", "run the server"), ("demo", "migrate, load the demo organization and serve")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
    sub.add_parser("migrate", help="apply database migrations (Alembic) to OFFICE_DATABASE_URL")
    p = sub.add_parser("import-org", help="import organization units or users from a CSV file (idempotent)")
    p.add_argument("file", type=Path)
    p.add_argument("--parent", default="370000", help="parent unit code for the departments layout")
    p.add_argument("--progress", action="store_true", help="show N/M rows on stderr even when it is not a terminal")
    p = sub.add_parser("export-org", help="export units and/or users as CSV in the import formats")
    p.add_argument("--units", type=Path, help="write the units CSV here")
    p.add_argument("--users", type=Path, help="write the users and positions CSV here")
    p.add_argument("--root", help="code of the subtree to export (default: everything)")
    p = sub.add_parser("reset-totp", help="turn a user's two-factor sign-in off (lost device); audited")
    p.add_argument("username")
    p = sub.add_parser("jobs", help="list scheduled jobs (reminder sweeps …), or put a failed one back")
    p.add_argument("--status", choices=["pending", "done", "failed", "cancelled"], help="only jobs in this status")
    p.add_argument("--limit", type=int, default=50, help="how many, newest run first (default 50)")
    p.add_argument("--retry", type=int, metavar="ID", help="make the failed job ID pending again, due now")
    p = sub.add_parser(
        "calendar", help="the working-day calendar: load next year's holiday arrangement, or show a year"
    )
    cal = p.add_subparsers(dest="calendar_command", required=True)
    c = cal.add_parser("load", help="load (or replace) a year's arrangement from a JSON file; audited")
    c.add_argument("--year", type=int, required=True, help="the year, as in the file")
    c.add_argument(
        "--file", type=Path, required=True, help='JSON: {"year", "source", "holidays": [...], "workdays": [...]}'
    )
    c = cal.add_parser("show", help="print a year's weekdays off, make-up workdays and working-day count")
    c.add_argument("--year", type=int, required=True)
    args = parser.parse_args(argv)

    if args.command == "demo":
        os.environ.setdefault("OFFICE_ENV", Environment.development.value)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic validation of OFFICE_* variables
        sys.exit(f"office-api: invalid settings: {exc}")
    if args.command == "demo":
        settings = ensure_dev_secret(settings)
    if args.command in ("migrate", "demo"):
        upgrade(settings.database_url)
        print("office-api: database migrated")
    if args.command == "import-org":
        if not args.file.is_file():
            sys.exit(f"office-api: {args.file}: no such file")
        return asyncio.run(_import(settings, args.file, args.parent, args.progress or sys.stderr.isatty()))
    if args.command == "export-org":
        if args.units is None and args.users is None:
            sys.exit("office-api: export-org needs --units FILE and/or --users FILE")
        return asyncio.run(_export(settings, args.units, args.users, args.root))
    if args.command == "reset-totp":
        return asyncio.run(_reset_totp(settings, args.username))
    if args.command == "jobs":
        return asyncio.run(_jobs(settings, args.status, max(1, args.limit), args.retry))
    if args.command == "calendar":
        if args.calendar_command == "load":
            if not args.file.is_file():
                sys.exit(f"office-api: {args.file}: no such file")
            return asyncio.run(_calendar_load(settings, args.file, args.year))
        return asyncio.run(_calendar_show(settings, args.year))
    if args.command == "demo":
        asyncio.run(_demo_data(settings))
    if args.command in ("serve", "demo"):
        _serve(settings, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The real ``office-api`` console script in a subprocess: migrate, import-org, serve, demo.

Each test gets its own SQLite file and data directory under tmp, and a clean environment
(no inherited ``OFFICE_*`` variables). Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
OFFICE_API = Path(sys.executable).parent / "office-api"
DIVISIONS = ROOT / "office_api" / "data" / "shandong_divisions.csv"
DEPARTMENTS = ROOT / "office_api" / "data" / "shandong_provincial_departments.csv"
#: Longest wait for one short command (migrate, import).
COMMAND_TIMEOUT = 60
#: Longest wait for the demo to answer /readyz (migrations + demo data + start-up).
STARTUP_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 15.0


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFICE_")}
    env.update(
        OFFICE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'office.db'}",
        OFFICE_DATA_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def office_api(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OFFICE_API), *args],
        env=env or clean_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def unit_rows(tmp_path: Path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "office.db") as conn:
        return conn.execute("SELECT * FROM org_units ORDER BY id").fetchall()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    result = office_api(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert "office-api: database migrated" in result.stdout
    return tmp_path


def test_script_is_installed() -> None:
    assert OFFICE_API.is_file()
    assert os.access(OFFICE_API, os.X_OK)


def test_migrate_then_import_org_is_idempotent(migrated: Path) -> None:
    first = office_api(migrated, "import-org", str(DIVISIONS))
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == f"{DIVISIONS}: 153 created, 0 updated, 0 unchanged\n"
    rows = unit_rows(migrated)
    assert len(rows) == 153

    second = office_api(migrated, "import-org", str(DIVISIONS))
    assert (second.returncode, second.stderr) == (0, "")
    assert second.stdout == f"{DIVISIONS}: 0 created, 0 updated, 153 unchanged\n"
    assert unit_rows(migrated) == rows

    departments = office_api(migrated, "import-org", str(DEPARTMENTS))
    assert departments.returncode == 0, departments.stderr
    assert departments.stdout == f"{DEPARTMENTS}: 35 created, 1 updated, 0 unchanged\n"
    assert len(unit_rows(migrated)) == 188


def test_migrate_twice_is_harmless(migrated: Path) -> None:
    again = office_api(migrated, "migrate")
    assert again.returncode == 0, again.stderr


def test_bad_csv_is_refused_with_a_per_row_report(migrated: Path) -> None:
    assert office_api(migrated, "import-org", str(DIVISIONS)).returncode == 0
    before = unit_rows(migrated)
    bad = migrated / "bad.csv"
    bad.write_text(
        "code,name,level,parent_code\n"
        "370198,新区,county,370100\n"
        "37019X,坏区,county,370100\n"
        "370199,某区,county,379900\n",
        encoding="utf-8",
    )
    result = office_api(migrated, "import-org", str(bad))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{bad}: line 3: code: must be six digits (GB/T 2260)",
        f"{bad}: line 4: parent_code: unknown parent 379900",
        "office-api: import refused, nothing written (2 problems)",
    ]
    assert unit_rows(migrated) == before


def test_bad_header_and_unreadable_files(migrated: Path) -> None:
    header = migrated / "header.csv"
    header.write_text("kode,name\n1,x\n", encoding="utf-8")
    result = office_api(migrated, "import-org", str(header))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith(f"{header}: line 1: header: unknown layout: expected ")

    gbk = migrated / "gbk.csv"
    gbk.write_bytes("code,name,level,parent_code\n370000,山东省,province,\n".encode("gbk"))
    result = office_api(migrated, "import-org", str(gbk))
    assert result.returncode == 1
    assert result.stderr == f"office-api: {gbk}: cannot read as UTF-8 text (UnicodeDecodeError)\n"

    missing = office_api(migrated, "import-org", str(migrated / "nope.csv"))
    assert missing.returncode == 1
    assert "no such file" in missing.stderr
    assert unit_rows(migrated) == []


def test_bom_csv_through_the_cli(migrated: Path) -> None:
    bom = migrated / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + DIVISIONS.read_bytes())
    result = office_api(migrated, "import-org", str(bom))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{bom}: 153 created, 0 updated, 0 unchanged\n"


def test_users_import_with_progress_then_export_round_trips(migrated: Path, tmp_path_factory) -> None:
    assert office_api(migrated, "import-org", str(DIVISIONS)).returncode == 0
    users = migrated / "users.csv"
    users.write_bytes(
        b"\xef\xbb\xbf"
        + (
            "username,display_name,unit_code,title,is_primary,is_leader,duties,mobile,office_phone,email\n"
            "zhangwei,张伟,370100,市长,true,true,head,13800000101,,\n"
            "zhangwei,张伟,370102,兼职,false,false,,13800000101,,\n"
            "lina,李娜,370102,文书,,,clerk,,,lina@shandong.gov.cn\n"
        ).encode()
    )
    result = office_api(migrated, "import-org", "--progress", str(users))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{users}: users 2 created, 0 updated, 0 unchanged; positions 3 created, 0 unchanged\n"
    # "\rN/M rows" rewritten in place (text mode reads each "\r" as a newline).
    assert result.stderr == "\n1/3 rows\n2/3 rows\n3/3 rows\n"
    quiet = office_api(migrated, "import-org", str(users))  # stderr is not a terminal: no progress
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert quiet.stdout == f"{users}: users 0 created, 0 updated, 2 unchanged; positions 0 created, 3 unchanged\n"
    with sqlite3.connect(migrated / "office.db") as conn:
        assert conn.execute("SELECT must_change_password FROM users ORDER BY id").fetchall() == [(1,), (1,)]

    bad = migrated / "bad-users.csv"
    bad.write_text("username,display_name,unit_code,title\nlina,李娜,999999,科员\n", encoding="utf-8")
    refused = office_api(migrated, "import-org", str(bad))
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"{bad}: line 2: unit_code: unknown unit 999999",
        "office-api: import refused, nothing written (1 problem)",
    ]

    usage = office_api(migrated, "export-org")
    assert usage.returncode == 1
    exported = office_api(migrated, "export-org", "--units", "units.csv", "--users", "posts.csv")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == "units.csv: 153 rows\nposts.csv: 3 rows\n"
    posts = (migrated / "posts.csv").read_text(encoding="utf-8")
    assert posts == (
        "username,display_name,unit_code,title,is_primary,is_leader,duties,mobile,office_phone,email\n"
        "zhangwei,张伟,370100,市长,true,true,head,13800000101,,\n"
        "zhangwei,张伟,370102,兼职,false,false,,13800000101,,\n"
        "lina,李娜,370102,文书,true,false,clerk,,,lina@shandong.gov.cn\n"
    )
    other = tmp_path_factory.mktemp("copy")
    assert office_api(other, "migrate").returncode == 0
    assert office_api(other, "import-org", str(migrated / "units.csv")).stdout.endswith(
        "153 created, 0 updated, 0 unchanged\n"
    )
    assert office_api(other, "import-org", str(migrated / "posts.csv")).returncode == 0
    again = office_api(other, "export-org", "--units", "units.csv", "--users", "posts.csv")
    assert again.returncode == 0, again.stderr
    assert (other / "units.csv").read_text(encoding="utf-8") == (migrated / "units.csv").read_text(encoding="utf-8")
    assert (other / "posts.csv").read_text(encoding="utf-8") == posts


def test_import_into_an_unmigrated_database_says_so(tmp_path: Path) -> None:
    result = office_api(tmp_path, "import-org", str(DIVISIONS))
    assert result.returncode == 1
    assert "office-api migrate" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("secret", [None, "changeme", "short-secret"])
def test_serve_in_production_needs_a_strong_jwt_secret(tmp_path: Path, secret: str | None) -> None:
    extra = {} if secret is None else {"OFFICE_JWT_SECRET": secret}
    env = clean_env(tmp_path, **extra)
    result = subprocess.run(
        [str(OFFICE_API), "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    assert "OFFICE_JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def run_demo(tmp_path: Path, log: Path, after_ready=None) -> str:
    """Start ``office-api demo``, wait for /readyz, run ``after_ready(base_url)``, stop it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(OFFICE_API), "demo", "--port", str(port)],
            env=clean_env(tmp_path),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                assert proc.poll() is None, f"demo exited early:\n{log.read_text()}"
                try:
                    if httpx.get(f"{base}/readyz", timeout=1.0, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"demo did not become ready:\n{log.read_text()}"
                time.sleep(0.2)
            if after_ready is not None:
                after_ready(base)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=SHUTDOWN_TIMEOUT)
    return log.read_text()


def graphql(base: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    resp = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers, trust_env=False
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_demo_is_idempotent_and_keeps_its_secret(tmp_path: Path) -> None:
    tokens: list[str] = []

    def sign_in(base: str) -> None:
        data = graphql(
            base,
            'mutation($p:String!){ login(input:{username:"clerk",password:$p}){ accessToken errors{code} } }',
            {"p": DEMO_PASSWORD},
        )
        assert data["data"]["login"]["errors"] == []
        tokens.append(data["data"]["login"]["accessToken"])

    first = run_demo(tmp_path, tmp_path / "first.log", sign_in)
    assert "demo organization: 153 created, 0 updated, 0 unchanged" in first
    assert "demo organization: 35 created, 1 updated, 0 unchanged" in first
    assert (
        "demo accounts created: admin, security_admin, audit_admin, "
        "clerk, deputy, finance_head, drc_head, secretary_general" in first
    )
    secret_path = tmp_path / "var" / "jwt_secret"
    assert stat.S_IMODE(secret_path.stat().st_mode) == 0o600
    secret = secret_path.read_bytes()
    assert len(secret.strip()) >= 32
    rows = unit_rows(tmp_path)
    with sqlite3.connect(tmp_path / "office.db") as conn:
        users = conn.execute("SELECT id, username, password_hash FROM users ORDER BY id").fetchall()

    def token_still_valid(base: str) -> None:
        # The secret survived the restart, so the first run's token is still good.
        me = graphql(base, "{ me { username } }", token=tokens[0])
        assert me["data"]["me"] == {"username": "clerk"}

    second = run_demo(tmp_path, tmp_path / "second.log", token_still_valid)
    assert "demo accounts created: none (already there)" in second
    assert "demo organization: 0 created, 0 updated, 153 unchanged" in second
    assert "demo organization: 0 created, 0 updated, 36 unchanged" in second
    assert stat.S_IMODE(secret_path.stat().st_mode) == 0o600
    assert secret_path.read_bytes() == secret
    assert unit_rows(tmp_path) == rows
    with sqlite3.connect(tmp_path / "office.db") as conn:
        assert conn.execute("SELECT id, username, password_hash FROM users ORDER BY id").fetchall() == users


CALENDAR_2026 = ROOT / "office_api" / "data" / "calendar-2026.json"


def calendar_rows(tmp_path: Path) -> tuple[list[tuple], list[tuple]]:
    with sqlite3.connect(tmp_path / "office.db") as conn:
        years = conn.execute("SELECT year, source, loaded_by_id FROM calendar_years ORDER BY year").fetchall()
        days = conn.execute("SELECT day, year, workday FROM calendar_days ORDER BY day").fetchall()
    return years, days


def test_calendar_on_an_unmigrated_database_says_so(tmp_path: Path) -> None:
    env = clean_env(tmp_path, PYTHONPATH=str(ROOT))
    for args in (("show", "--year", "2026"), ("load", "--year", "2026", "--file", str(CALENDAR_2026))):
        result = office_api(tmp_path, "calendar", *args, env=env)
        assert result.returncode == 1
        assert "was `office-api migrate` run?" in result.stderr
        assert "Traceback" not in result.stderr


def test_calendar_load_and_show(migrated: Path) -> None:
    # This checkout's package, whatever the console script was installed from.
    env = clean_env(migrated, PYTHONPATH=str(ROOT))
    shown = office_api(migrated, "calendar", "show", "--year", "2027", env=env)
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout.splitlines()[0] == (
        "year 2027: statutory-estimate (provisional: statutory holidays only, no make-up days)"
    )
    assert "make-up workdays (0): -" in shown.stdout

    loaded = office_api(migrated, "calendar", "load", "--year", "2026", "--file", str(CALENDAR_2026), env=env)
    assert (loaded.returncode, loaded.stderr) == (0, "")
    lines = loaded.stdout.splitlines()
    assert lines[:2] == ["year 2026: loaded", "working days: 248"]
    assert lines[3] == ("make-up workdays (6): 2026-01-04 2026-02-14 2026-02-28 2026-05-09 2026-09-20 2026-10-10")
    assert lines[4].endswith("by command line: 国务院办公厅关于2026年部分节假日安排的通知（2025-11-04）")
    assert lines[5] == "deadlines recomputed: 0"
    years, days = calendar_rows(migrated)
    assert years == [(2026, "国务院办公厅关于2026年部分节假日安排的通知（2025-11-04）", None)]
    assert (len(days), sum(d[2] for d in days)) == (39, 6)
    with sqlite3.connect(migrated / "office.db") as conn:
        audit = conn.execute(
            "SELECT actor_id, target_id, after FROM audit_log WHERE action = 'calendar.load'"
        ).fetchall()
    assert [(a[0], a[1]) for a in audit] == [(None, "2026")]
    assert '"via": "command line"' in audit[0][2]

    # Refusals: the field and the rule on stderr, exit code 2, nothing written.
    bad = migrated / "2027.json"
    bad.write_text('{"year": 2027, "holidays": ["2027-01-01", "2027-13-01"], "workdays": []}', encoding="utf-8")
    refused = office_api(migrated, "calendar", "load", "--year", "2027", "--file", str(bad), env=env)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"{bad}: holidays.1: Invalid value: '2027-13-01' is not a YYYY-MM-DD date",
        "office-api: calendar refused, nothing written (1 problem)",
    ]
    bad.write_text('{"year": 2027, "holidays": ["2027-01-01"], "workdays": []}')
    refused = office_api(migrated, "calendar", "load", "--year", "2027", "--file", str(bad), env=env)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[:1] == [f"{bad}: source: This field is required"]
    bad.write_text(
        '{"year": 2027, "source": "通知", "holidays": ["2027-01-01", "2027-01-02"], '
        '"workdays": ["2027-01-02", "2027-01-05"]}',
        encoding="utf-8",
    )
    refused = office_api(migrated, "calendar", "load", "--year", "2027", "--file", str(bad), env=env)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[:2] == [
        f"{bad}: workdays.0: 2027-01-02 cannot be both a holiday and a make-up working day",
        f"{bad}: workdays.1: Invalid value: 2027-01-05 is a weekday, not a make-up day",
    ]
    mismatch = office_api(migrated, "calendar", "load", "--year", "2028", "--file", str(CALENDAR_2026), env=env)
    assert mismatch.returncode == 2
    assert "year: Invalid value: the file is for 2026, not 2028" in mismatch.stderr
    assert calendar_rows(migrated) == (years, days)

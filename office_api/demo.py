"""The demo organization and accounts (idempotent: safe to run on an existing database)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select

from office_api.db import Database
from office_api.org.importer import ImportReport, import_units
from office_api.org.models import OrgUnit, Role, User
from office_api.org.service import UserInput, create_user, grant_role

DATA_FILES = ("shandong_divisions.csv", "shandong_provincial_departments.csv")


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    unit_code: str | None
    title: str | None
    is_leader: bool = False
    role: Role | None = None


#: The accounts of the README, in the General Office's walkthrough.
DEMO_ACCOUNTS = (
    DemoAccount("admin", "系统管理员", None, None, role=Role.SYSTEM_ADMIN),
    DemoAccount("security_admin", "安全管理员", None, None, role=Role.SECURITY_ADMIN),
    DemoAccount("audit_admin", "安全审计员", None, None, role=Role.AUDIT_ADMIN),
    DemoAccount("clerk", "王文书", "370000-general_office", "文书"),
    DemoAccount("deputy", "李副主任", "370000-general_office", "副主任", is_leader=True),
    DemoAccount("finance_head", "赵厅长", "370000-finance", "厅长", is_leader=True),
    DemoAccount("drc_head", "钱主任", "370000-drc", "主任", is_leader=True),
    DemoAccount("secretary_general", "孙秘书长", "370000", "秘书长", is_leader=True),
)


def data_file_text(name: str) -> str:
    """Text of a CSV shipped in ``office_api/data``."""
    return resources.files("office_api").joinpath("data", name).read_text(encoding="utf-8")


async def load_demo(db: Database, password: str) -> tuple[list[ImportReport], list[str]]:
    """Import the shipped organization CSVs and create the missing demo accounts.

    Returns the import reports and the usernames created this time.
    """
    reports = []
    for name in DATA_FILES:
        async with db.unit_of_work() as uow:
            reports.append(await import_units(uow, data_file_text(name)))
    created = []
    async with db.unit_of_work() as uow:
        s = uow.session
        for acc in DEMO_ACCOUNTS:
            if (await s.execute(select(User.id).where(User.username == acc.username))).first():
                continue
            unit_id = None
            if acc.unit_code:
                unit_id = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == acc.unit_code))).scalar_one()
            user = await create_user(
                uow, None, UserInput(acc.username, acc.display_name, password, unit_id, acc.title, acc.is_leader)
            )
            if acc.role is not None:
                await grant_role(uow, user.id, acc.role)
            created.append(acc.username)
    return reports, created

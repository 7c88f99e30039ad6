"""The demo organization and accounts (idempotent: safe to run on an existing database)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select, update

from meetings.models import Room
from office_api.db import Database, UnitOfWork
from office_api.errors import DomainError
from office_api.org.duties import set_position_duties
from office_api.org.importer import ImportReport, import_units
from office_api.org.models import Duty, OrgUnit, Position, PositionDuty, Role, User
from office_api.org.service import UserInput, assign_position, create_user, grant_role

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


@dataclass(frozen=True)
class DemoPost:
    """A post of a demo account carrying routing duties (created when missing)."""

    username: str
    unit_code: str
    title: str
    duties: tuple[Duty, ...]
    is_leader: bool = False


#: The 16 prefecture-level cities of Shandong (GB/T 2260 code, name): each city government
#: has a demo clerk (文书) ``clerk_<code>`` who signs for the documents dispatched to it.
DEMO_CITIES = (
    ("370100", "济南市"),
    ("370200", "青岛市"),
    ("370300", "淄博市"),
    ("370400", "枣庄市"),
    ("370500", "东营市"),
    ("370600", "烟台市"),
    ("370700", "潍坊市"),
    ("370800", "济宁市"),
    ("370900", "泰安市"),
    ("371000", "威海市"),
    ("371100", "日照市"),
    ("371300", "临沂市"),
    ("371400", "德州市"),
    ("371500", "聊城市"),
    ("371600", "滨州市"),
    ("371700", "菏泽市"),
)
CITY_CLERKS = tuple(DemoAccount(f"clerk_{code}", f"{name}文书", code, "文书") for code, name in DEMO_CITIES)
#: Each city government's leader in charge (分管副市长) ``leader_<code>``: the person a city
#: clerk names for a provincial meeting (the meeting walkthrough).
CITY_LEADERS = tuple(
    DemoAccount(f"leader_{code}", f"{name}副市长", code, "副市长", is_leader=True) for code, name in DEMO_CITIES
)

#: Who heads, deputizes and clerks for the demo units. The Secretary-General also heads the
#: General Office (a second, non-primary post).
DEMO_POSTS = (
    DemoPost("secretary_general", "370000-general_office", "秘书长", (Duty.HEAD,), is_leader=True),
    DemoPost("deputy", "370000-general_office", "副主任", (Duty.DEPUTY_HEAD,), is_leader=True),
    DemoPost("clerk", "370000-general_office", "文书", (Duty.CLERK,)),
    DemoPost("finance_head", "370000-finance", "厅长", (Duty.HEAD,), is_leader=True),
    DemoPost("drc_head", "370000-drc", "主任", (Duty.HEAD,), is_leader=True),
    *(DemoPost(acc.username, acc.unit_code or "", "文书", (Duty.CLERK,)) for acc in CITY_CLERKS),
    *(
        DemoPost(acc.username, acc.unit_code or "", "副市长", (Duty.DEPUTY_HEAD,), is_leader=True)
        for acc in CITY_LEADERS
    ),
)


async def _demo_posts(uow: UnitOfWork) -> None:
    """Create the missing :data:`DEMO_POSTS` and give posts without duties theirs."""
    s = uow.session
    for post in DEMO_POSTS:
        row = (
            await s.execute(
                select(User.id, OrgUnit.id)
                .join(OrgUnit, OrgUnit.code == post.unit_code)
                .where(User.username == post.username)
            )
        ).first()
        if row is None:
            continue
        user_id, unit_id = row
        pos_id = (
            await s.execute(
                select(Position.id).where(
                    Position.user_id == user_id, Position.unit_id == unit_id, Position.title == post.title
                )
            )
        ).scalar_one_or_none()
        if pos_id is None:
            pos_id = (
                await assign_position(
                    uow, None, user_id=user_id, unit_id=unit_id, title=post.title, is_leader=post.is_leader
                )
            ).id
        if (await s.execute(select(PositionDuty.id).where(PositionDuty.position_id == pos_id))).first():
            continue
        try:
            await set_position_duties(uow, None, pos_id, post.duties)
        except DomainError:  # someone else holds the head duty already: leave it
            continue


#: Directory demo (通讯录): people with common names, so that "zw" finds 张伟 and "wangwei" 王伟.
DIRECTORY_DEMO_ACCOUNTS = (
    DemoAccount("zhang_wei", "张伟", "370000-finance", "科员"),
    DemoAccount("wang_wei", "王伟", "370000-drc", "科员"),
    DemoAccount("li_na", "李娜", "370102", "科员"),
    DemoAccount("zhang_wei2", "张维", "370000-finance", "科员"),
    DemoAccount("zhou_wei", "周伟", "370102", "科员"),
)

#: Fake contact details of the demo accounts: (mobile, office phone, e-mail).
DEMO_CONTACTS = {
    "clerk": ("13800000001", "0531-86000001", "clerk@demo.shandong.gov.cn"),
    "deputy": ("13800000002", "0531-86000002", "deputy@demo.shandong.gov.cn"),
    "finance_head": ("13800000003", "0531-86000003", "finance_head@demo.shandong.gov.cn"),
    "drc_head": ("13800000004", "0531-86000004", "drc_head@demo.shandong.gov.cn"),
    "secretary_general": ("13800000005", "0531-86000005", "secretary_general@demo.shandong.gov.cn"),
    "zhang_wei": ("13800000006", "0531-86000006", "zhangwei@demo.shandong.gov.cn"),
    "wang_wei": ("13800000007", "0531-86000007", "wangwei@demo.shandong.gov.cn"),
    "li_na": ("13800000008", "0531-86000008", "lina@demo.shandong.gov.cn"),
    "zhang_wei2": ("13800000009", "0531-86000009", "zhangwei2@demo.shandong.gov.cn"),
    "zhou_wei": ("13800000010", "0531-86000010", "zhouwei@demo.shandong.gov.cn"),
}


@dataclass(frozen=True)
class DemoRoom:
    """A meeting room of a demo unit (created when the unit has no room of that name)."""

    unit_code: str
    name: str
    building: str
    floor: str | None
    capacity: int
    equipment: tuple[str, ...] = ()
    requires_approval: bool = False


#: The General Office's meeting rooms (会议室); the executive meeting room's bookings need the
#: General Office's approval (its clerk approves; the clerk's own bookings are approved at once).
DEMO_ROOMS = (
    DemoRoom("370000-general_office", "第一会议室", "省政府1号楼", "3", 60, ("projector", "video_conference")),
    DemoRoom("370000-general_office", "第二会议室", "省政府1号楼", "3", 20, ("projector",)),
    DemoRoom(
        "370000-general_office",
        "省政府常务会议室",
        "省政府1号楼",
        "2",
        30,
        ("microphones", "video_conference"),
        requires_approval=True,
    ),
)


async def _demo_rooms(uow: UnitOfWork) -> None:
    """Create the missing :data:`DEMO_ROOMS` (a room renamed or retired since is left alone)."""
    s = uow.session
    for demo in DEMO_ROOMS:
        unit_id = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == demo.unit_code))).scalar_one_or_none()
        if unit_id is None:
            continue
        if (await s.execute(select(Room.id).where(Room.owner_unit_id == unit_id, Room.name == demo.name))).first():
            continue
        s.add(
            Room(
                name=demo.name,
                building=demo.building,
                floor=demo.floor,
                capacity=demo.capacity,
                equipment=list(demo.equipment),
                owner_unit_id=unit_id,
                requires_approval=demo.requires_approval,
            )
        )
    await s.flush()


def data_file_text(name: str) -> str:
    """Text of a CSV shipped in ``office_api/data``."""
    return resources.files("office_api").joinpath("data", name).read_text(encoding="utf-8")


async def load_demo(db: Database, password: str) -> tuple[list[ImportReport], list[str]]:
    """Import the shipped organization CSVs and create the missing demo accounts, posts and
    meeting rooms.

    Returns the import reports and the usernames created this time.
    """
    reports = []
    for name in DATA_FILES:
        async with db.unit_of_work() as uow:
            reports.append(await import_units(uow, data_file_text(name)))
    created = []
    async with db.unit_of_work() as uow:
        s = uow.session
        for acc in (*DEMO_ACCOUNTS, *CITY_CLERKS, *CITY_LEADERS):
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
        await _demo_posts(uow)
        await _demo_rooms(uow)
    created += await _load_directory_demo(db, password)
    return reports, created


async def _load_directory_demo(db: Database, password: str) -> list[str]:
    """The directory's demo people and everyone's fake contact details (only where missing)."""
    created = []
    async with db.unit_of_work() as uow:
        s = uow.session
        for acc in DIRECTORY_DEMO_ACCOUNTS:
            if (await s.execute(select(User.id).where(User.username == acc.username))).first():
                continue
            unit_id = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == acc.unit_code))).scalar_one()
            await create_user(
                uow, None, UserInput(acc.username, acc.display_name, password, unit_id, acc.title, acc.is_leader)
            )
            created.append(acc.username)
        for username, (mobile, office_phone, email) in DEMO_CONTACTS.items():
            await s.execute(
                update(User)
                .where(User.username == username, User.mobile.is_(None))
                .values(mobile=mobile, office_phone=office_phone, email=email)
            )
    return created

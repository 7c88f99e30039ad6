"""CSV import of users and posts, export in the import formats, and the GraphQL surface
(office_api.org.transfer, importOrganization, exportOrganization) on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from office_api.db import Database
from office_api.errors import DomainErrors
from office_api.org.importer import import_org
from office_api.org.models import AuditEntry, OrgUnit, Position, PositionDuty, Role, User
from office_api.org.service import UserInput, create_user, grant_role
from office_api.org.transfer import UsersReport, export_units, export_users
from tests.conftest import GraphQLClient

USERS = (
    "\ufeffusername,display_name,unit_code,title,is_primary,is_leader,duties,mobile,office_phone,email\n"
    "zhangwei,张伟,370000-finance,副厅长,true,true,deputy_head,13800000101,0531-86000101,zhangwei@shandong.gov.cn\n"
    "zhangwei,张伟,370000-general_office,兼职秘书,false,false,,13800000101,0531-86000101,zhangwei@shandong.gov.cn\n"
    "lina,李娜,370100,科员,,,clerk,,,\n"
)

IMPORT = (
    "mutation($i:ImportOrganizationInput!){importOrganization(input:$i){layout created updated unchanged "
    "positionsCreated positionsUnchanged dryRun errors{field code message}}}"
)
EXPORT = "query($r:ID){exportOrganization(rootId:$r){unitsCsv usersCsv}}"


@pytest.fixture
async def demo_db(database_url: str):
    db = Database(database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def empty_db(empty_database_url: str):
    db = Database(empty_database_url)
    yield db
    await db.dispose()


async def run(db: Database, text: str, **kwargs: Any):
    async with db.unit_of_work() as uow:
        return await import_org(uow, text, **kwargs)


async def refused(db: Database, text: str, **kwargs: Any) -> list[tuple[str, str, str]]:
    with pytest.raises(DomainErrors) as info:
        await run(db, text, **kwargs)
    return [(e.field or "", e.code.value, e.params["detail"]) for e in info.value.errors]


async def snapshot(db: Database) -> dict[str, list[tuple]]:
    """Every row of the tables an import may write."""
    out: dict[str, list[tuple]] = {}
    async with db.read() as s:
        for model in (OrgUnit, User, Position, PositionDuty, AuditEntry):
            cols = list(model.__table__.columns)
            out[model.__tablename__] = [tuple(r) for r in (await s.execute(select(*cols).order_by(cols[0]))).all()]
    return out


async def posts(db: Database) -> set[tuple]:
    """(username, unit code, title, primary, leader, duties) of every post."""
    async with db.read() as s:
        rows = (
            await s.execute(
                select(
                    User.username, OrgUnit.code, Position.title, Position.is_primary, Position.is_leader, Position.id
                )
                .join(User, User.id == Position.user_id)
                .join(OrgUnit, OrgUnit.id == Position.unit_id)
            )
        ).all()
        duties: dict[int, set[str]] = {}
        for d in (await s.execute(select(PositionDuty))).scalars():
            duties.setdefault(d.position_id, set()).add(d.duty)
    return {(r[0], r[1], r[2], r[3], r[4], frozenset(duties.get(r[5], ()))) for r in rows}


async def people(db: Database) -> set[tuple]:
    async with db.read() as s:
        rows = (await s.execute(select(User).join(Position, Position.user_id == User.id).distinct())).scalars()
        return {(u.username, u.display_name, u.mobile, u.office_phone, u.email) for u in rows}


async def test_users_import_creates_users_and_posts_then_is_idempotent(demo_db: Database) -> None:
    report = await run(demo_db, USERS)
    assert isinstance(report, UsersReport)
    assert report.__dict__ == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "positions_created": 3,
        "positions_unchanged": 0,
    }
    async with demo_db.read() as s:
        zw = (await s.execute(select(User).where(User.username == "zhangwei"))).scalar_one()
        assert (zw.display_name, zw.mobile, zw.office_phone, zw.email, zw.must_change_password) == (
            "张伟",
            "13800000101",
            "0531-86000101",
            "zhangwei@shandong.gov.cn",
            True,
        )
        assert zw.password_hash.startswith("$argon2")
    mine = {p for p in await posts(demo_db) if p[0] in ("zhangwei", "lina")}
    assert mine == {
        ("zhangwei", "370000-finance", "副厅长", True, True, frozenset({"deputy_head"})),
        ("zhangwei", "370000-general_office", "兼职秘书", False, False, frozenset()),
        ("lina", "370100", "科员", True, False, frozenset({"clerk"})),
    }
    before = await snapshot(demo_db)
    again = await run(demo_db, USERS)
    assert again.__dict__ == {
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "positions_created": 0,
        "positions_unchanged": 3,
    }
    assert await snapshot(demo_db) == before
    # A changed name or contact updates the known user; a new row adds a post.
    changed = await run(
        demo_db,
        "username,display_name,unit_code,title,mobile\n"
        "lina,李娜娜,370100,科员,13900000002\n"
        "lina,李娜娜,370102,兼职,13900000002\n"
        "zhangwei,张伟,370000-finance,副厅长,13800000101\n",
    )
    assert changed.__dict__ == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "positions_created": 1,
        "positions_unchanged": 2,
    }
    async with demo_db.read() as s:  # columns missing from the header are left as they are
        zw = (await s.execute(select(User).where(User.username == "zhangwei"))).scalar_one()
        assert (zw.mobile, zw.office_phone, zw.email) == ("13800000101", "0531-86000101", "zhangwei@shandong.gov.cn")


async def test_bad_users_file_is_refused_with_a_per_row_report_and_writes_nothing(demo_db: Database) -> None:
    before = await snapshot(demo_db)
    text = (
        "username,display_name,unit_code,title,is_primary,is_leader,duties,mobile,office_phone,email\n"
        "Bad Name,张三,370100,科员,true,false,,,,\n"
        "wangwu,,370100,,maybe,false,boss,123,,not-an-email\n"
        "zhaoliu,赵六,NOPE,科员,,,,,,\n"
        "sunqi,孙七,370100,科员,true,,,,,\n"
        "sunqi,孙七七,370100,科员,true,,,,,\n"
        "zhouba,周八,370000-finance,处长,,,head,,,\n"
        "zhouba,周八\n"
    )
    assert await refused(demo_db, text) == [
        (
            "line 2: username",
            "INVALID_VALUE",
            "3-64 characters: lowercase letters, digits, _ . -, starting with a letter",
        ),
        ("line 3: display_name", "INVALID_VALUE", "required"),
        ("line 3: duties", "INVALID_VALUE", "one of head, deputy_head, clerk, separated by ;"),
        ("line 3: email", "INVALID_VALUE", "Invalid value: an e-mail address, e.g. zhangwei@shandong.gov.cn"),
        ("line 3: is_primary", "INVALID_VALUE", "true or false"),
        ("line 3: mobile", "INVALID_VALUE", "Invalid value: 11-digit mainland mobile number, e.g. 13800000001"),
        ("line 3: title", "INVALID_VALUE", "required"),
        ("line 4: unit_code", "INVALID_VALUE", "unknown unit NOPE"),
        ("line 6: display_name", "INVALID_VALUE", "differs from line 5 for sunqi"),
        ("line 6: is_primary", "INVALID_VALUE", "second primary post of sunqi (line 5)"),
        ("line 6: title", "INVALID_VALUE", "duplicate post in file (line 5)"),
        ("line 8: row", "INVALID_VALUE", "the header has 10 fields"),
    ]
    # A head where the unit has one already is found while writing: still nothing written.
    async with demo_db.read() as s:
        head = (
            await s.execute(
                select(PositionDuty.position_id)
                .join(OrgUnit, OrgUnit.id == PositionDuty.unit_id)
                .where(OrgUnit.code == "370000-finance", PositionDuty.duty == "head")
            )
        ).scalar_one()
    assert await refused(
        demo_db, "username,display_name,unit_code,title,duties\nzhouba,周八,370000-finance,处长,head\n"
    ) == [
        (
            "line 2: duties",
            "INVALID_VALUE",
            f"The unit already has a head (position {head}); remove that duty first",
        )
    ]
    assert await snapshot(demo_db) == before


async def test_unit_admin_scope_is_checked_per_row(demo_db: Database) -> None:
    async with demo_db.unit_of_work() as uow:
        unit = (await uow.session.execute(select(OrgUnit).where(OrgUnit.code == "370100"))).scalar_one()
        admin = await create_user(uow, None, UserInput("jinan_admin", "济南管理员", "Demo@2026", unit.id, "管理员"))
        await grant_role(uow, admin.id, Role.UNIT_ADMIN, unit.id)
    from office_api.org.permissions import load_actor

    async with demo_db.read() as s:
        actor = await load_actor(s, admin.id)
    before = await snapshot(demo_db)
    text = (
        "username,display_name,unit_code,title\n"
        "lina,李娜,370102,科员\n"
        "zhangwei,张伟,370000-finance,副厅长\n"
        "clerk,王文书,370102,兼职\n"
    )
    assert await refused(demo_db, text, actor=actor) == [
        ("line 3: unit_code", "OUT_OF_SCOPE", "370000-finance is outside the subtree you administer"),
        ("line 4: username", "OUT_OF_SCOPE", "clerk is administered outside your subtree"),
    ]
    units = "code,name,kind,parent_code\nJN-1,济南新区,office,370100\nX-1,外部,office,370000\n"
    assert await refused(demo_db, units, actor=actor) == [
        ("line 3: code", "OUT_OF_SCOPE", "X-1 is outside the subtree you administer"),
    ]
    assert await snapshot(demo_db) == before
    report = await run(demo_db, "username,display_name,unit_code,title\nlina,李娜,370102,科员\n", actor=actor)
    assert (report.created, report.positions_created) == (1, 1)
    async with demo_db.read() as s:
        actions = [
            (a.action, a.actor_id)
            for a in (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
            if a.actor_id == admin.id
        ]
    assert actions == [("user.create", admin.id), ("position.assign", admin.id), ("org.import", admin.id)]


async def test_export_then_import_into_an_empty_database_round_trips(demo_db: Database, empty_db: Database) -> None:
    await run(demo_db, USERS)
    async with demo_db.read() as s:
        units_csv = await export_units(s)
        users_csv = await export_users(s)
    assert users_csv.split("\n")[0] == (
        "username,display_name,unit_code,title,is_primary,is_leader,duties,mobile,office_phone,email"
    )
    assert units_csv.split("\n")[0] == "code,name,kind,parent_code,division_code,short_name,doc_number_root"
    first = await run(empty_db, units_csv)
    async with demo_db.read() as s:
        n_units = (await s.execute(select(func.count()).select_from(OrgUnit))).scalar_one()
    assert (first.created, first.updated, first.unchanged) == (n_units, 0, 0)
    second = await run(empty_db, users_csv)
    assert second.created == len(await people(demo_db))
    assert await posts(empty_db) == await posts(demo_db)
    assert await people(empty_db) == await people(demo_db)

    def facts(rows: list[OrgUnit]) -> set[tuple]:
        by_id = {u.id: u.code for u in rows}
        return {
            (u.code, u.name, u.kind, by_id.get(u.parent_id), u.division_code, u.short_name, u.doc_number_root, u.depth)
            for u in rows
        }

    async with demo_db.read() as a, empty_db.read() as b:
        assert facts(list((await a.execute(select(OrgUnit))).scalars())) == facts(
            list((await b.execute(select(OrgUnit))).scalars())
        )
    # Exporting the copy gives the same text; importing it again changes nothing.
    async with empty_db.read() as s:
        assert await export_units(s) == units_csv
        assert await export_users(s) == users_csv
    before = await snapshot(empty_db)
    assert (await run(empty_db, units_csv)).created == 0
    assert (await run(empty_db, users_csv)).created == 0
    assert await snapshot(empty_db) == before


# ---- GraphQL ---------------------------------------------------------------------------


async def test_import_organization_mutation(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    db = platform.db
    before = await snapshot(db)
    dry = (await admin.execute(IMPORT, {"i": {"csv": USERS, "dryRun": True}}))["data"]["importOrganization"]
    assert dry == {
        "layout": "users",
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "positionsCreated": 3,
        "positionsUnchanged": 0,
        "dryRun": True,
        "errors": [],
    }
    assert await snapshot(db) == before
    bad = (await admin.execute(IMPORT, {"i": {"csv": USERS + "x,,370100,科员,,,,,,\n"}}))["data"]["importOrganization"]
    assert bad["layout"] is None
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [
        ("line 5: display_name", "INVALID_VALUE"),
        ("line 5: username", "INVALID_VALUE"),
    ]
    assert await snapshot(db) == before
    big = (await admin.execute(IMPORT, {"i": {"csv": "a" * (5 * 1024 * 1024 + 1)}}))["data"]["importOrganization"]
    assert [(e["field"], e["code"]) for e in big["errors"]] == [("csv", "TOO_LONG")]
    done = (await admin.execute(IMPORT, {"i": {"csv": USERS}}))["data"]["importOrganization"]
    assert (done["created"], done["positionsCreated"], done["dryRun"], done["errors"]) == (2, 3, False, [])
    async with db.read() as s:
        actions = [
            a.action
            for a in (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
            if a.id > max((r[0] for r in before["audit_log"]), default=0)
        ]
    assert actions.count("user.create") == 2
    assert actions.count("position.assign") == 3
    assert actions[-1] == "org.import"
    # Users who were not there get a password nobody knows and must change it.
    async with db.read() as s:
        assert (await s.execute(select(User.must_change_password).where(User.username == "lina"))).scalar_one()


async def test_export_organization_query(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    async with platform.db.read() as s:
        unit = (await s.execute(select(OrgUnit).where(OrgUnit.code == "370000-general_office"))).scalar_one()
        units_csv, users_csv = await export_units(s, unit), await export_users(s, unit)
    from strawberry import relay

    gid = str(relay.GlobalID("OrgUnit", str(unit.id)))
    data = (await admin.execute(EXPORT, {"r": gid}))["data"]["exportOrganization"]
    assert data == {"unitsCsv": units_csv, "usersCsv": users_csv}
    assert [line.split(",")[:7] for line in users_csv.strip().split("\n")[1:]] == [
        ["clerk", "王文书", "370000-general_office", "文书", "true", "false", "clerk"],
        ["deputy", "李副主任", "370000-general_office", "副主任", "true", "true", "deputy_head"],
        ["secretary_general", "孙秘书长", "370000-general_office", "秘书长", "false", "true", "head"],
    ]
    assert units_csv == (
        "code,name,kind,parent_code,division_code,short_name,doc_number_root\n"
        f"370000-general_office,{unit.name},department,370000,,{unit.short_name or ''},{unit.doc_number_root or ''}\n"
    )
    clerk = await client.login("clerk")
    refused = await clerk.execute(EXPORT, {"r": gid})
    assert refused["data"] is None
    everything = (await admin.execute(EXPORT))["data"]["exportOrganization"]
    assert everything["unitsCsv"].startswith("code,name,kind,parent_code,division_code,short_name,doc_number_root\n")


async def test_import_organization_is_scoped_and_refused_to_other_roles(client: GraphQLClient, platform: Any) -> None:
    db = platform.db
    async with db.unit_of_work() as uow:
        unit = (await uow.session.execute(select(OrgUnit).where(OrgUnit.code == "370200"))).scalar_one()
        admin = await create_user(uow, None, UserInput("qingdao_admin", "青岛管理员", "Demo@2026", unit.id, "管理员"))
        await grant_role(uow, admin.id, Role.UNIT_ADMIN, unit.id)
    qingdao = await client.login("qingdao_admin", "Demo@2026")
    others = {u: await client.login(u) for u in ("security_admin", "audit_admin", "clerk")}
    before = await snapshot(db)  # after the sign-ins, which are audited
    # A sibling subtree's admin: every row outside 370200 is OUT_OF_SCOPE, nothing is written.
    units = "code,name,kind,parent_code\nQD-1,青岛新区,office,370200\nJN-1,济南新区,office,370100\n"
    payload = (await qingdao.execute(IMPORT, {"i": {"csv": units}}))["data"]["importOrganization"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("line 3: code", "OUT_OF_SCOPE")]
    payload = (await qingdao.execute(IMPORT, {"i": {"csv": USERS}}))["data"]["importOrganization"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("line 2: unit_code", "OUT_OF_SCOPE"),
        ("line 3: unit_code", "OUT_OF_SCOPE"),
        ("line 4: unit_code", "OUT_OF_SCOPE"),
    ]
    everything = await qingdao.execute(EXPORT)
    assert everything["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for username, other in others.items():
        refused = await other.execute(IMPORT, {"i": {"csv": units}})
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", username
    assert await snapshot(db) == before
    # Inside its subtree it works, audited under its name.
    done = (await qingdao.execute(IMPORT, {"i": {"csv": units.split("JN-1")[0]}}))["data"]["importOrganization"]
    assert (done["layout"], done["created"], done["errors"]) == ("units", 1, [])
    async with db.read() as s:
        rows = (await s.execute(select(AuditEntry).where(AuditEntry.actor_id == admin.id))).scalars()
        assert [a.action for a in rows] == ["login.success", "org_unit.create", "org.import"]

"""CSV import of the organization tree (office_api.org.importer) on real databases.

The shipped files are imported into an empty migrated database and into the demo
database; invalid files are refused all-or-nothing with a per-row report.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from office_api.db import Database
from office_api.demo import data_file_text
from office_api.errors import DomainErrors
from office_api.migrate import upgrade
from office_api.org.importer import ImportReport, import_units
from office_api.org.models import OrgUnit

DIVISIONS = data_file_text("shandong_divisions.csv")
DEPARTMENTS = data_file_text("shandong_provincial_departments.csv")

#: County-level units per prefecture-level city (GB/T 2260, Ministry of Civil Affairs).
COUNTIES_PER_CITY = {
    "370100": 12,
    "370200": 10,
    "370300": 8,
    "370400": 6,
    "370500": 5,
    "370600": 11,
    "370700": 12,
    "370800": 11,
    "370900": 6,
    "371000": 4,
    "371100": 4,
    "371300": 12,
    "371400": 11,
    "371500": 8,
    "371600": 7,
    "371700": 9,
}


# ---- databases -------------------------------------------------------------------------


@pytest.fixture
async def empty_db(empty_database_url: str):
    db = Database(empty_database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def demo_db(database_url: str):
    db = Database(database_url)
    yield db
    await db.dispose()


# ---- helpers ---------------------------------------------------------------------------


async def run_import(db: Database, text: str, **kwargs: str) -> ImportReport:
    async with db.unit_of_work() as uow:
        return await import_units(uow, text, **kwargs)


async def refused(db: Database, text: str, **kwargs: str) -> list[tuple[str, str]]:
    """Import ``text`` expecting a refusal; the report as ``(\"line N: column\", problem)``."""
    with pytest.raises(DomainErrors) as info:
        await run_import(db, text, **kwargs)
    assert all(e.code.value == "INVALID_VALUE" for e in info.value.errors)
    return [(e.field or "", e.params["detail"]) for e in info.value.errors]


async def snapshot(db: Database) -> list[tuple]:
    """Every column of every unit, version and timestamps included."""
    async with db.read() as s:
        cols = list(OrgUnit.__table__.columns)
        return [tuple(r) for r in (await s.execute(select(*cols).order_by(OrgUnit.id))).all()]


async def units(db: Database) -> dict[str, OrgUnit]:
    async with db.read() as s:
        return {u.code: u for u in (await s.execute(select(OrgUnit))).scalars()}


def tree(rows: dict[str, OrgUnit]) -> set[tuple]:
    """The tree as (code, parent code, depth, name, kind, division code) facts, id-free."""
    by_id = {u.id: u for u in rows.values()}
    return {
        (u.code, by_id[u.parent_id].code if u.parent_id else None, u.depth, u.name, u.kind, u.division_code)
        for u in rows.values()
    }


def assert_paths_consistent(rows: dict[str, OrgUnit]) -> None:
    by_id = {u.id: u for u in rows.values()}
    for u in rows.values():
        parent = by_id.get(u.parent_id) if u.parent_id else None
        assert u.path == f"{parent.path if parent else '/'}{u.id}/", u.code
        assert u.depth == (parent.depth + 1 if parent else 0), u.code


def data_lines(text: str) -> tuple[str, list[str]]:
    header, *rows = text.strip("\n").split("\n")
    return header, rows


# ---- the shipped files -----------------------------------------------------------------


async def test_shipped_divisions_into_an_empty_database(empty_db: Database) -> None:
    report = await run_import(empty_db, DIVISIONS)
    assert (report.created, report.updated, report.unchanged) == (153, 0, 0)
    rows = await units(empty_db)
    assert len(rows) == 153
    assert Counter(u.kind for u in rows.values()) == {"province": 1, "prefecture": 16, "county": 136}
    assert_paths_consistent(rows)
    by_id = {u.id: u for u in rows.values()}

    province = rows["370000"]
    assert (province.name, province.short_name, province.parent_id, province.depth) == (
        "山东省人民政府",
        "山东省",
        None,
        0,
    )
    for u in rows.values():
        assert u.division_code == u.code
        assert u.name.endswith("人民政府")
        assert u.is_active
        assert u.version == 1
        assert u.depth == {"province": 0, "prefecture": 1, "county": 2}[u.kind]

    # Names are not unique; codes are. Both 市中区 sit under their own city.
    shizhong = sorted((u.code, by_id[u.parent_id].code) for u in rows.values() if u.short_name == "市中区")
    assert shizhong == [("370103", "370100"), ("370402", "370400")]
    assert rows["370103"].name == rows["370402"].name == "市中区人民政府"

    cities = {u.code for u in rows.values() if u.kind == "prefecture"}
    assert cities == set(COUNTIES_PER_CITY)
    assert Counter(by_id[u.parent_id].code for u in rows.values() if u.kind == "county") == COUNTIES_PER_CITY
    # Laiwu merged into Jinan (2019); Penglai + Changdao became 蓬莱区 (2020); no 市辖区 placeholders.
    assert "371200" not in rows
    assert {by_id[rows[c].parent_id].code for c in ("370116", "370117")} == {"370100"}
    assert rows["370116"].short_name == "莱芜区"
    assert rows["370614"].short_name == "蓬莱区"
    assert "370684" not in rows
    assert "370634" not in rows
    assert "370101" not in rows


async def test_shipped_departments_under_the_province(empty_db: Database) -> None:
    await run_import(empty_db, DIVISIONS)
    report = await run_import(empty_db, DEPARTMENTS)
    # 35 departments created; the `gov` row sets the province's document-number root.
    assert (report.created, report.updated, report.unchanged) == (35, 1, 0)
    rows = await units(empty_db)
    assert len(rows) == 188
    assert rows["370000"].doc_number_root == "鲁政"
    assert rows["370000"].version == 2
    finance = rows["370000-finance"]
    assert (finance.name, finance.short_name, finance.doc_number_root, finance.kind, finance.depth) == (
        "山东省财政厅",
        "省财政厅",
        "鲁财",
        "department",
        1,
    )
    assert finance.parent_id == rows["370000"].id
    assert finance.division_code is None
    assert_paths_consistent(rows)
    before = await snapshot(empty_db)
    again = await run_import(empty_db, DEPARTMENTS)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 36)
    assert await snapshot(empty_db) == before


async def test_reimport_changes_nothing(empty_db: Database) -> None:
    await run_import(empty_db, DIVISIONS)
    before = await snapshot(empty_db)
    report = await run_import(empty_db, DIVISIONS)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 153)
    assert await snapshot(empty_db) == before


async def test_reimport_into_the_demo_database_changes_nothing(demo_db: Database) -> None:
    before = await snapshot(demo_db)
    divisions = await run_import(demo_db, DIVISIONS)
    departments = await run_import(demo_db, DEPARTMENTS)
    assert (divisions.created, divisions.updated, divisions.unchanged) == (0, 0, 153)
    assert (departments.created, departments.updated, departments.unchanged) == (0, 0, 36)
    assert await snapshot(demo_db) == before


async def test_units_missing_from_a_reimport_are_kept(demo_db: Database) -> None:
    header, rows = data_lines(DIVISIONS)
    without_qingdao = [r for r in rows if not r.startswith("3702")]
    assert len(without_qingdao) == 142
    async with demo_db.unit_of_work() as uow:
        deactivated = (await uow.session.execute(select(OrgUnit).where(OrgUnit.code == "370103"))).scalar_one()
        deactivated.is_active = False
        deactivated.version += 1
    before = await snapshot(demo_db)
    report = await run_import(demo_db, "\n".join([header, *without_qingdao]) + "\n")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 142)
    assert await snapshot(demo_db) == before
    rows_after = await units(demo_db)
    assert all(rows_after[c].is_active for c in rows_after if c.startswith("3702"))
    assert len([c for c in rows_after if c.startswith("3702")]) == 11
    # A deactivated unit stays deactivated: an import never reactivates.
    assert rows_after["370103"].is_active is False


async def test_reimport_updates_changed_names_only(demo_db: Database) -> None:
    text = DIVISIONS.replace("370102,历下区,county,370100", "370102,历下新区,county,370100")
    before = {c: (u.name, u.version) for c, u in (await units(demo_db)).items()}
    report = await run_import(demo_db, text)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 152)
    after = {c: (u.name, u.version) for c, u in (await units(demo_db)).items()}
    assert after["370102"] == ("历下新区人民政府", before["370102"][1] + 1)
    assert {c: v for c, v in after.items() if c != "370102"} == {c: v for c, v in before.items() if c != "370102"}


async def test_bom_and_crlf_are_accepted(empty_db: Database) -> None:
    text = "\ufeff" + DIVISIONS.replace("\n", "\r\n")
    report = await run_import(empty_db, text)
    assert (report.created, report.updated, report.unchanged) == (153, 0, 0)
    rows = await units(empty_db)
    assert "370000" in rows
    assert rows["370102"].name == "历下区人民政府"  # no stray \r in the last-but-one column
    assert rows["370102"].short_name == "历下区"


async def test_parents_after_children_in_the_file(empty_db: Database, tmp_path: Path) -> None:
    header, rows = data_lines(DIVISIONS)
    report = await run_import(empty_db, "\n".join([header, *reversed(rows)]) + "\n")
    assert (report.created, report.updated, report.unchanged) == (153, 0, 0)
    reversed_tree = await units(empty_db)
    assert_paths_consistent(reversed_tree)

    other = Database(f"sqlite+aiosqlite:///{tmp_path / 'in-order.db'}")
    try:
        await asyncio.to_thread(upgrade, other.url)
        await run_import(other, DIVISIONS)
        assert tree(reversed_tree) == tree(await units(other))
    finally:
        await other.dispose()


async def test_generic_layout_with_optional_columns(demo_db: Database) -> None:
    text = (
        "code,name,kind,parent_code,division_code,short_name,doc_number_root\n"
        "370102-hitech-desk,高新区服务台,office,370102-hitech,,,\n"
        "370102-hitech,历下区科技园管委会,office,370102,,科技园,历科\n"
        "370102001,解放路街道办事处,township,370102,370199,解放路街道,\n"
    )
    report = await run_import(demo_db, text)
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    rows = await units(demo_db)
    hitech = rows["370102-hitech"]
    assert (hitech.short_name, hitech.doc_number_root, hitech.depth) == ("科技园", "历科", 3)
    assert rows["370102-hitech-desk"].parent_id == hitech.id
    assert rows["370102-hitech-desk"].depth == 4
    assert rows["370102001"].division_code == "370199"
    assert_paths_consistent(rows)
    again = await run_import(demo_db, text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


# ---- refused files ---------------------------------------------------------------------

DIV = "code,name,level,parent_code\n"
UNIT_LAYOUTS = (
    "code,name,level,parent_code | key,name,short_name,doc_number_root | "
    "code,name,kind,parent_code,division_code,short_name,doc_number_root"
)
LAYOUTS = (
    f"{UNIT_LAYOUTS} | username,display_name,unit_code,title,is_primary,is_leader,duties,mobile,office_phone,email"
)
GEN = "code,name,kind,parent_code\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            DIV + "370198,新区,county,370100\n37019X,坏区,county,370100\n370197,另区,county,370100\n",
            [("line 3: code", "must be six digits (GB/T 2260)")],
            id="bad-division-code",
        ),
        pytest.param(
            DIV + "370198,新区,county,370100\n370199,某区,county,379900\n",
            [("line 3: parent_code", "unknown parent 379900")],
            id="unknown-parent",
        ),
        pytest.param(
            "code,name,lvl,parent_code\n370198,新区,county,370100\n",
            [("line 1: header", f"unknown layout: expected {LAYOUTS}")],
            id="unknown-header",
        ),
        pytest.param(
            "code,name,kind,parent_code,colour\nx-1,单位,office,370100,red\n",
            [("line 1: header", f"unknown column colour; expected {UNIT_LAYOUTS}")],
            id="unknown-extra-column",
        ),
        pytest.param("", [("line 1: header", f"unknown layout: expected {LAYOUTS}")], id="empty-file"),
        pytest.param(
            "code,name,kind,parent_code,name\nx-1,甲,office,370100,乙\n",
            [("line 1: header", f"repeated column name; expected {UNIT_LAYOUTS}")],
            id="repeated-column",
        ),
        pytest.param(
            DIV + "370198,新区,district,370100\n",
            [("line 2: level", "one of province, prefecture, county, township")],
            id="bad-level",
        ),
        pytest.param(
            DIV + "370198,新区,county,\n",
            [("line 2: parent_code", "required for level county")],
            id="county-without-parent",
        ),
        pytest.param(DIV + "370198,,county,370100\n", [("line 2: name", "required")], id="empty-name"),
        pytest.param(
            DIV + "370198,新区,county\n370199,另区,county,370100,extra\n",
            [("line 2: row", "3 fields, the header has 4"), ("line 3: row", "5 fields, the header has 4")],
            id="wrong-field-count",
        ),
        pytest.param(
            DIV + "370198,新区,county,370100\n370198,新区,county,370100\n",
            [("line 3: code", "duplicate code 370198 in file (line 2)")],
            id="duplicate-in-file",
        ),
        pytest.param(
            GEN + "a-1,甲,office,b-1\nb-1,乙,office,a-1\nc-1,丙,office,370100\n",
            [
                ("line 2: parent_code", "cycle: a-1 is below itself"),
                ("line 3: parent_code", "cycle: b-1 is below itself"),
            ],
            id="cycle-in-file",
        ),
        pytest.param(
            GEN + "a-1,甲,office,a-1\n",
            [("line 2: parent_code", "a unit cannot be its own parent")],
            id="own-parent",
        ),
        pytest.param(
            GEN + "370102,历下区人民政府,county,370200\n",
            [("line 2: parent_code", "is 370100 in the tree; move units with moveOrgUnit")],
            id="parent-differs-from-tree",
        ),
        pytest.param(
            GEN + "bad code,甲,office,370100\nok-1,乙,castle,370100\n",
            [
                ("line 2: code", "letters, digits and _.:- only, at most 64"),
                ("line 3: kind", "one of county, department, office, prefecture, province, township"),
            ],
            id="generic-code-and-kind",
        ),
        pytest.param(
            "code,name,kind,parent_code,division_code\nx-1,甲,office,370100,370102\nx-2,乙,office,370100,3701\n",
            [
                ("line 2: division_code", "370102 already belongs to unit 370102"),
                ("line 3: division_code", "must be six digits (GB/T 2260)"),
            ],
            id="division-code-taken-or-bad",
        ),
        pytest.param(
            "code,name,kind,parent_code,short_name\nx-1,"
            + "长" * 101
            + ",office,370100,\nx-2,乙,office,370100,"
            + "短" * 51
            + "\n",
            [("line 2: name", "at most 100 characters"), ("line 3: short_name", "at most 50 characters")],
            id="too-long",
        ),
    ],
)
async def test_invalid_files_are_refused_whole(demo_db: Database, text: str, expected: list[tuple[str, str]]) -> None:
    before = await snapshot(demo_db)
    assert await refused(demo_db, text) == expected
    assert await snapshot(demo_db) == before


async def test_one_bad_row_among_the_shipped_ones_is_reported_alone(empty_db: Database) -> None:
    text = DIVISIONS.replace("370102,历下区,county,370100", "37O102,历下区,county,370100")
    assert await refused(empty_db, text) == [("line 4: code", "must be six digits (GB/T 2260)")]
    assert await snapshot(empty_db) == []


async def test_a_bad_city_row_is_reported_once(empty_db: Database) -> None:
    text = DIVISIONS.replace("370100,济南市,prefecture,370000", "370100,济南市,city,370000")
    report = await refused(empty_db, text)
    assert report == [("line 3: level", "one of province, prefecture, county, township")]
    assert await snapshot(empty_db) == []


async def test_a_city_with_a_bad_code_leaves_its_counties_without_a_parent(empty_db: Database) -> None:
    text = DIVISIONS.replace("370100,济南市,prefecture,370000", "3701OO,济南市,prefecture,370000")
    report = await refused(empty_db, text)
    assert report == [
        ("line 3: code", "must be six digits (GB/T 2260)"),
        *[(f"line {n}: parent_code", "unknown parent 370100") for n in range(4, 16)],
    ]
    assert await snapshot(empty_db) == []


async def test_departments_need_the_province_first(empty_db: Database) -> None:
    report = await refused(empty_db, DEPARTMENTS)
    assert report[0] == ("line 2: key", "unit 370000 must be imported first")
    assert [field for field, _ in report[1:]] == [f"line {n}: parent_code" for n in range(3, 38)]
    assert {problem for _, problem in report[1:]} == {"unknown parent 370000"}
    assert await snapshot(empty_db) == []


async def test_departments_under_another_parent(demo_db: Database) -> None:
    text = "key,name,short_name,doc_number_root\nfinance,济南市财政局,市财政局,济财\n"
    report = await run_import(demo_db, text, default_parent="370100")
    assert (report.created, report.updated, report.unchanged) == (1, 0, 0)
    unit = (await units(demo_db))["370100-finance"]
    assert (unit.name, unit.kind, unit.depth, unit.doc_number_root) == ("济南市财政局", "department", 2, "济财")
    empty_key = await refused(demo_db, "key,name,short_name,doc_number_root\n,某局,,\n", default_parent="370100")
    assert empty_key == [("line 2: key", "required")]


async def test_refused_rows_under_a_deactivated_parent(demo_db: Database) -> None:
    async with demo_db.unit_of_work() as uow:
        unit = (await uow.session.execute(select(OrgUnit).where(OrgUnit.code == "370102"))).scalar_one()
        unit.is_active = False
    before = await snapshot(demo_db)
    report = await refused(demo_db, GEN + "x-1,甲,office,370102\n")
    assert report == [("line 2: parent_code", "parent 370102 is deactivated")]
    assert await snapshot(demo_db) == before

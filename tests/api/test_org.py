"""The organization tree and identity administration through GraphQL over HTTP.

Every test starts from the demo organization (153 division units, 35 provincial
departments) and the demo accounts; ids are looked up by unit code, never assumed.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from sqlalchemy import func, select

from office_api.org.models import OrgUnit, Position, Role, RoleAssignment, User
from office_api.org.service import UserInput, create_user, grant_role
from tests.conftest import GraphQLClient, count_statements

UNIT_FIELDS = "id code name shortName kind divisionCode isActive depth version"

ORG_UNIT = f"""query($id: ID!, $first: Int, $after: String) {{ orgUnit(id: $id) {{
  {UNIT_FIELDS}
  parent {{ code }}
  ancestors {{ code depth }}
  children(first: $first, after: $after) {{
    edges {{ cursor node {{ code name depth }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}} }}"""

ORG_UNITS = """query($parentId: ID, $first: Int, $after: String) {
  orgUnits(parentId: $parentId, first: $first, after: $after) {
    edges { node { code } } pageInfo { hasNextPage hasPreviousPage endCursor } } }"""

CREATE_UNIT = f"""mutation($input: CreateOrgUnitInput!) {{ createOrgUnit(input: $input) {{
  orgUnit {{ {UNIT_FIELDS} parent {{ code }} ancestors {{ code }} }} errors {{ field code message }} }} }}"""

UPDATE_UNIT = f"""mutation($input: UpdateOrgUnitInput!) {{ updateOrgUnit(input: $input) {{
  orgUnit {{ {UNIT_FIELDS} }} errors {{ field code }} }} }}"""

MOVE_UNIT = f"""mutation($input: MoveOrgUnitInput!) {{ moveOrgUnit(input: $input) {{
  orgUnit {{ {UNIT_FIELDS} parent {{ code }} ancestors {{ code }} }} errors {{ field code }} }} }}"""

CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) {
  user { id username displayName isActive positions { title isPrimary isLeader unit { code } } }
  errors { field code } } }"""

ASSIGN = """mutation($input: AssignPositionInput!) { assignPosition(input: $input) {
  position { title isPrimary isLeader user { username } unit { code } } errors { field code } } }"""

MY_POSITIONS = "{ me { username positions { title isPrimary unit { code } } } }"


# ---- helpers ---------------------------------------------------------------------------


def gid(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


async def unit_pk(platform: Any, code: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(OrgUnit.id).where(OrgUnit.code == code))).scalar_one()


async def unit_gid(platform: Any, code: str) -> str:
    return gid("OrgUnit", await unit_pk(platform, code))


async def user_gid(platform: Any, username: str) -> str:
    async with platform.db.read() as s:
        pk = (await s.execute(select(User.id).where(User.username == username))).scalar_one()
    return gid("User", pk)


async def counts(platform: Any) -> dict[str, int]:
    out = {}
    async with platform.db.read() as s:
        for model in (OrgUnit, User, Position, RoleAssignment):
            out[model.__tablename__] = (await s.execute(select(func.count()).select_from(model))).scalar_one()
    return out


async def snapshot(platform: Any) -> dict[str, list[tuple]]:
    """Every row of the organization tables (all columns), to prove a refusal wrote nothing."""
    out: dict[str, list[tuple]] = {}
    async with platform.db.read() as s:
        for model in (OrgUnit, User, Position, RoleAssignment):
            cols = list(model.__table__.columns)
            rows = (await s.execute(select(*cols).order_by(model.id))).all()
            out[model.__tablename__] = [tuple(r) for r in rows]
    return out


async def unit_row(platform: Any, code: str) -> OrgUnit:
    async with platform.db.read() as s:
        return (await s.execute(select(OrgUnit).where(OrgUnit.code == code))).scalar_one()


def codes(connection: dict) -> list[str]:
    return [e["node"]["code"] for e in connection["edges"]]


def errors_of(payload: dict) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def top_level_code(data: dict) -> str:
    """The ``extensions.code`` of a refused request (no data came back)."""
    assert data["data"] is None or all(v is None for v in data["data"].values()), data
    return data["errors"][0]["extensions"]["code"]


async def make_unit_admin(platform: Any, username: str, unit_code: str) -> None:
    """A unit admin of ``unit_code``'s subtree, with a post there (trusted set-up path)."""
    unit = await unit_pk(platform, unit_code)
    async with platform.db.unit_of_work() as uow:
        user = await create_user(uow, None, UserInput(username, "济南管理员", "Demo@2026", unit, "管理员"))
        await grant_role(uow, user.id, Role.UNIT_ADMIN, unit)


JINAN_COUNTIES = [
    "370102",
    "370103",
    "370104",
    "370105",
    "370112",
    "370113",
    "370114",
    "370115",
    "370116",
    "370117",
    "370124",
    "370126",
]


@pytest.fixture
async def admin(client: GraphQLClient) -> GraphQLClient:
    return await client.login("admin")


# ---- queries ---------------------------------------------------------------------------


async def test_org_unit_with_parent_ancestors_and_children(client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    jinan = await unit_gid(platform, "370100")
    unit = (await clerk.execute(ORG_UNIT, {"id": jinan}))["data"]["orgUnit"]
    assert {k: unit[k] for k in ("code", "name", "shortName", "kind", "divisionCode", "isActive", "depth")} == {
        "code": "370100",
        "name": "济南市人民政府",
        "shortName": "济南市",
        "kind": "PREFECTURE",
        "divisionCode": "370100",
        "isActive": True,
        "depth": 1,
    }
    assert unit["id"] == jinan
    assert unit["parent"] == {"code": "370000"}
    assert unit["ancestors"] == [{"code": "370000", "depth": 0}]
    assert codes(unit["children"]) == JINAN_COUNTIES
    assert [e["node"]["name"] for e in unit["children"]["edges"]][:2] == ["历下区人民政府", "市中区人民政府"]
    assert {e["node"]["depth"] for e in unit["children"]["edges"]} == {2}
    assert unit["children"]["pageInfo"]["hasNextPage"] is False
    assert unit["children"]["pageInfo"]["hasPreviousPage"] is False

    lixia = (await clerk.execute(ORG_UNIT, {"id": await unit_gid(platform, "370102")}))["data"]["orgUnit"]
    assert lixia["ancestors"] == [{"code": "370000", "depth": 0}, {"code": "370100", "depth": 1}]
    assert lixia["parent"] == {"code": "370100"}
    assert lixia["depth"] == 2
    assert lixia["children"]["edges"] == []

    root = (await clerk.execute(ORG_UNIT, {"id": await unit_gid(platform, "370000")}))["data"]["orgUnit"]
    assert root["parent"] is None
    assert root["ancestors"] == []
    assert root["depth"] == 0


async def test_same_name_units_are_told_apart_by_code(client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    q = "query($id: ID!) { orgUnit(id: $id) { name parent { code name } } }"
    jinan = (await clerk.execute(q, {"id": await unit_gid(platform, "370103")}))["data"]["orgUnit"]
    zaozhuang = (await clerk.execute(q, {"id": await unit_gid(platform, "370402")}))["data"]["orgUnit"]
    assert jinan == {"name": "市中区人民政府", "parent": {"code": "370100", "name": "济南市人民政府"}}
    assert zaozhuang == {"name": "市中区人民政府", "parent": {"code": "370400", "name": "枣庄市人民政府"}}


async def test_children_pages_with_first_and_after(client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    jinan = await unit_gid(platform, "370100")
    seen: list[str] = []
    after = None
    pages = []
    while True:
        conn = (await clerk.execute(ORG_UNIT, {"id": jinan, "first": 5, "after": after}))["data"]["orgUnit"]["children"]
        pages.append((len(conn["edges"]), conn["pageInfo"]["hasNextPage"], conn["pageInfo"]["hasPreviousPage"]))
        seen += codes(conn)
        assert conn["pageInfo"]["startCursor"] == (conn["edges"][0]["cursor"] if conn["edges"] else None)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == [(5, True, False), (5, True, True), (2, False, True)]
    assert seen == JINAN_COUNTIES


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_first_out_of_range_is_invalid_value(client: GraphQLClient, platform: Any, first: int) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute(ORG_UNITS, {"first": first})
    assert top_level_code(data) == "INVALID_VALUE"
    assert data["errors"][0]["extensions"]["field"] == "first"


async def test_malformed_cursor_and_id_are_invalid_value(client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute(ORG_UNITS, {"after": "!!not-a-cursor"})
    assert top_level_code(data) == "INVALID_VALUE"
    assert data["errors"][0]["extensions"]["field"] == "after"
    wrong_type = await clerk.execute(ORG_UNIT, {"id": await user_gid(platform, "clerk")})
    assert top_level_code(wrong_type) == "INVALID_VALUE"
    missing = await clerk.execute(ORG_UNIT, {"id": gid("OrgUnit", 999_999)})
    assert missing == {"data": {"orgUnit": None}}


async def test_org_units_roots_and_by_parent(client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    roots = (await clerk.execute(ORG_UNITS))["data"]["orgUnits"]
    assert codes(roots) == ["370000"]
    assert roots["pageInfo"]["hasNextPage"] is False

    province = await unit_gid(platform, "370000")
    first_page = (await clerk.execute(ORG_UNITS, {"parentId": province}))["data"]["orgUnits"]
    assert len(first_page["edges"]) == 20
    assert first_page["pageInfo"]["hasNextPage"] is True
    everything = (await clerk.execute(ORG_UNITS, {"parentId": province, "first": 100}))["data"]["orgUnits"]
    under_province = codes(everything)
    assert everything["pageInfo"]["hasNextPage"] is False
    cities = [c for c in under_province if c.isdigit()]
    departments = [c for c in under_province if c.startswith("370000-")]
    assert len(cities) == 16
    assert "371200" not in cities  # 莱芜市 was merged into Jinan in 2019
    assert len(departments) == 35
    assert len(under_province) == 51
    assert under_province[:20] == codes(first_page)
    # Creation order: the divisions were imported before the departments.
    assert under_province == cities + departments

    jinan = (await clerk.execute(ORG_UNITS, {"parentId": await unit_gid(platform, "370100"), "first": 3}))["data"][
        "orgUnits"
    ]
    assert codes(jinan) == JINAN_COUNTIES[:3]
    rest = (
        await clerk.execute(
            ORG_UNITS, {"parentId": await unit_gid(platform, "370100"), "after": jinan["pageInfo"]["endCursor"]}
        )
    )["data"]["orgUnits"]
    assert codes(rest) == JINAN_COUNTIES[3:]


async def test_members_with_user_and_title(client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    q = """query($id: ID!, $first: Int, $after: String) { orgUnit(id: $id) {
      members(first: $first, after: $after) {
        edges { node { title isPrimary isLeader user { username displayName } unit { code } } }
        pageInfo { hasNextPage endCursor } } } }"""
    office = await unit_gid(platform, "370000-general_office")
    members = (await clerk.execute(q, {"id": office}))["data"]["orgUnit"]["members"]
    assert [e["node"] for e in members["edges"]] == [
        {
            "title": "文书",
            "isPrimary": True,
            "isLeader": False,
            "user": {"username": "clerk", "displayName": "王文书"},
            "unit": {"code": "370000-general_office"},
        },
        {
            "title": "副主任",
            "isPrimary": True,
            "isLeader": True,
            "user": {"username": "deputy", "displayName": "李副主任"},
            "unit": {"code": "370000-general_office"},
        },
        {
            "title": "秘书长",
            "isPrimary": False,
            "isLeader": True,
            "user": {"username": "secretary_general", "displayName": "孙秘书长"},
            "unit": {"code": "370000-general_office"},
        },
    ]
    first = (await clerk.execute(q, {"id": office, "first": 1}))["data"]["orgUnit"]["members"]
    assert [e["node"]["user"]["username"] for e in first["edges"]] == ["clerk"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = (await clerk.execute(q, {"id": office, "first": 1, "after": first["pageInfo"]["endCursor"]}))["data"][
        "orgUnit"
    ]["members"]
    assert [e["node"]["user"]["username"] for e in second["edges"]] == ["deputy"]
    assert second["pageInfo"]["hasNextPage"] is True
    province = (await clerk.execute(q, {"id": await unit_gid(platform, "370000")}))["data"]["orgUnit"]["members"]
    assert [(e["node"]["title"], e["node"]["user"]["username"]) for e in province["edges"]] == [
        ("秘书长", "secretary_general")
    ]


async def test_queries_need_a_token(client: GraphQLClient, platform: Any) -> None:
    assert top_level_code(await client.execute(ORG_UNITS)) == "UNAUTHENTICATED"
    data = await client.execute(ORG_UNIT, {"id": await unit_gid(platform, "370100")})
    assert top_level_code(data) == "UNAUTHENTICATED"


# ---- createOrgUnit ---------------------------------------------------------------------


async def test_system_admin_creates_units(admin: GraphQLClient, platform: Any) -> None:
    lixia = await unit_gid(platform, "370102")
    data = await admin.execute(
        CREATE_UNIT,
        {"input": {"code": "370102-hitech", "name": "历下区科技园管理办公室", "kind": "OFFICE", "parentId": lixia}},
    )
    payload = data["data"]["createOrgUnit"]
    assert payload["errors"] == []
    unit = payload["orgUnit"]
    assert {k: v for k, v in unit.items() if k != "id"} == {
        "code": "370102-hitech",
        "name": "历下区科技园管理办公室",
        "shortName": None,
        "kind": "OFFICE",
        "divisionCode": None,
        "isActive": True,
        "depth": 3,
        "version": 1,
        "parent": {"code": "370102"},
        "ancestors": [{"code": "370000"}, {"code": "370100"}, {"code": "370102"}],
    }
    row = await unit_row(platform, "370102-hitech")
    lixia_row = await unit_row(platform, "370102")
    assert row.path == f"{lixia_row.path}{row.id}/"
    assert unit["id"] == gid("OrgUnit", row.id)

    # Names are trimmed; a short name is kept.
    sub = await admin.execute(
        CREATE_UNIT,
        {
            "input": {
                "code": "370102-hitech.lab",
                "name": "  实验室  ",
                "shortName": "实验室",
                "kind": "OFFICE",
                "parentId": unit["id"],
            }
        },
    )
    sub_unit = sub["data"]["createOrgUnit"]["orgUnit"]
    assert (sub_unit["name"], sub_unit["shortName"], sub_unit["depth"]) == ("实验室", "实验室", 4)

    # A system admin may create a second root.
    root = (await admin.execute(CREATE_UNIT, {"input": {"code": "party", "name": "省委", "kind": "OFFICE"}}))["data"][
        "createOrgUnit"
    ]
    assert root["errors"] == []
    assert (root["orgUnit"]["depth"], root["orgUnit"]["parent"], root["orgUnit"]["ancestors"]) == (0, None, [])
    assert codes((await admin.execute(ORG_UNITS))["data"]["orgUnits"]) == ["370000", "party"]


async def test_create_unit_with_a_division_code(admin: GraphQLClient, platform: Any) -> None:
    data = await admin.execute(
        CREATE_UNIT,
        {
            "input": {
                "code": "370102001",
                "name": "解放路街道办事处",
                "kind": "TOWNSHIP",
                "divisionCode": "370199",
                "parentId": await unit_gid(platform, "370102"),
            }
        },
    )
    unit = data["data"]["createOrgUnit"]["orgUnit"]
    assert (unit["divisionCode"], unit["kind"], unit["depth"]) == ("370199", "TOWNSHIP", 3)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"code": "bad code!"}, [("code", "INVALID_VALUE")]),
        ({"code": "-starts-with-dash"}, [("code", "INVALID_VALUE")]),
        ({"code": "x" * 65}, [("code", "INVALID_VALUE")]),
        ({"code": "  "}, [("code", "REQUIRED")]),
        ({"code": "370102"}, [("code", "DUPLICATE")]),
        ({"code": "370000-finance"}, [("code", "DUPLICATE")]),
        ({"divisionCode": "37010"}, [("divisionCode", "INVALID_VALUE")]),
        ({"divisionCode": "070100"}, [("divisionCode", "INVALID_VALUE")]),
        ({"divisionCode": "37010a"}, [("divisionCode", "INVALID_VALUE")]),
        ({"divisionCode": "370102"}, [("divisionCode", "DUPLICATE")]),
        ({"parentId": gid("OrgUnit", 999_999)}, [("parentId", "NOT_FOUND")]),
        ({"parentId": gid("User", 1)}, [("parentId", "INVALID_VALUE")]),
        ({"name": ""}, [("name", "REQUIRED")]),
        ({"name": "   "}, [("name", "REQUIRED")]),
        ({"name": "\u200b \u200c"}, [("name", "REQUIRED")]),
        ({"name": "长" * 101}, [("name", "TOO_LONG")]),
        ({"shortName": "短" * 51}, [("shortName", "TOO_LONG")]),
        ({"code": "bad code!", "name": ""}, [("code", "INVALID_VALUE"), ("name", "REQUIRED")]),
    ],
)
async def test_create_unit_validation_errors(
    admin: GraphQLClient, platform: Any, changes: dict, expected: list[tuple[str, str]]
) -> None:
    base = {"code": "370102-new", "name": "新单位", "kind": "OFFICE", "parentId": await unit_gid(platform, "370102")}
    before = await snapshot(platform)
    payload = (await admin.execute(CREATE_UNIT, {"input": {**base, **changes}}))["data"]["createOrgUnit"]
    assert payload["orgUnit"] is None
    assert errors_of(payload) == expected
    assert all(e["message"] for e in payload["errors"])
    assert await snapshot(platform) == before


async def test_create_unit_error_messages_follow_accept_language(admin: GraphQLClient, platform: Any) -> None:
    variables = {"input": {"code": "370102", "name": "x", "kind": "OFFICE"}}
    zh = (await admin.execute(CREATE_UNIT, variables))["data"]["createOrgUnit"]["errors"]
    assert zh == [{"field": "code", "code": "DUPLICATE", "message": "已存在：370102"}]
    admin.lang = "en"
    en = (await admin.execute(CREATE_UNIT, variables))["data"]["createOrgUnit"]["errors"]
    assert en == [{"field": "code", "code": "DUPLICATE", "message": "Already exists: 370102"}]


async def test_unknown_kind_is_a_graphql_validation_error(admin: GraphQLClient) -> None:
    data = await admin.execute(CREATE_UNIT, {"input": {"code": "x-1", "name": "x", "kind": "CASTLE"}})
    assert data["data"] is None
    assert "CASTLE" in data["errors"][0]["message"]


# ---- updateOrgUnit ---------------------------------------------------------------------


async def test_update_unit_renames_and_bumps_the_version(admin: GraphQLClient, platform: Any) -> None:
    lixia = await unit_gid(platform, "370102")
    before = await unit_row(platform, "370102")
    payload = (
        await admin.execute(
            UPDATE_UNIT, {"input": {"id": lixia, "version": before.version, "name": "历下区政府", "shortName": "历下"}}
        )
    )["data"]["updateOrgUnit"]
    assert payload["errors"] == []
    unit = payload["orgUnit"]
    assert (unit["code"], unit["name"], unit["shortName"], unit["version"]) == (
        "370102",
        "历下区政府",
        "历下",
        before.version + 1,
    )
    # An empty short name clears it; the code is untouched.
    cleared = (await admin.execute(UPDATE_UNIT, {"input": {"id": lixia, "version": unit["version"], "shortName": ""}}))[
        "data"
    ]["updateOrgUnit"]["orgUnit"]
    assert (cleared["shortName"], cleared["version"], cleared["code"]) == (None, before.version + 2, "370102")


async def test_update_unit_with_a_stale_version_changes_nothing(admin: GraphQLClient, platform: Any) -> None:
    lixia = await unit_gid(platform, "370102")
    current = (await unit_row(platform, "370102")).version
    first = (await admin.execute(UPDATE_UNIT, {"input": {"id": lixia, "version": current, "name": "第一次"}}))["data"][
        "updateOrgUnit"
    ]
    assert first["errors"] == []
    before = await snapshot(platform)
    stale = (await admin.execute(UPDATE_UNIT, {"input": {"id": lixia, "version": current, "name": "第二次"}}))["data"][
        "updateOrgUnit"
    ]
    assert stale == {"orgUnit": None, "errors": [{"field": "version", "code": "STALE_VERSION"}]}
    assert await snapshot(platform) == before
    row = await unit_row(platform, "370102")
    assert (row.name, row.version) == ("第一次", current + 1)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": " "}, [("name", "REQUIRED")]),
        ({"name": "长" * 101}, [("name", "TOO_LONG")]),
        ({"shortName": "短" * 51}, [("shortName", "TOO_LONG")]),
        ({"id": gid("OrgUnit", 999_999)}, [("id", "NOT_FOUND")]),
    ],
)
async def test_update_unit_validation_errors(
    admin: GraphQLClient, platform: Any, changes: dict, expected: list[tuple[str, str]]
) -> None:
    before = await snapshot(platform)
    payload = (
        await admin.execute(UPDATE_UNIT, {"input": {"id": await unit_gid(platform, "370102"), "version": 1, **changes}})
    )["data"]["updateOrgUnit"]
    assert errors_of(payload) == expected
    assert await snapshot(platform) == before


async def test_deactivated_unit_stays_in_the_tree_but_takes_no_new_units_or_posts(
    admin: GraphQLClient, platform: Any
) -> None:
    lixia = await unit_gid(platform, "370102")
    row = await unit_row(platform, "370102")
    payload = (await admin.execute(UPDATE_UNIT, {"input": {"id": lixia, "version": row.version, "isActive": False}}))[
        "data"
    ]["updateOrgUnit"]
    assert payload["errors"] == []
    assert (payload["orgUnit"]["isActive"], payload["orgUnit"]["version"]) == (False, row.version + 1)
    # Kept for history: still listed under its parent.
    children = (await admin.execute(ORG_UNIT, {"id": await unit_gid(platform, "370100")}))["data"]["orgUnit"][
        "children"
    ]
    assert codes(children) == JINAN_COUNTIES

    before = await snapshot(platform)
    sub = (
        await admin.execute(CREATE_UNIT, {"input": {"code": "x-1", "name": "x", "kind": "OFFICE", "parentId": lixia}})
    )["data"]["createOrgUnit"]
    assert errors_of(sub) == [("parentId", "INACTIVE")]
    user = (
        await admin.execute(
            CREATE_USER,
            {
                "input": {
                    "username": "lixia1",
                    "displayName": "甲",
                    "password": "Passw0rd!",
                    "unitId": lixia,
                    "title": "科员",
                }
            },
        )
    )["data"]["createUser"]
    assert errors_of(user) == [("unitId", "INACTIVE")]
    post = (
        await admin.execute(
            ASSIGN, {"input": {"userId": await user_gid(platform, "clerk"), "unitId": lixia, "title": "兼职"}}
        )
    )["data"]["assignPosition"]
    assert errors_of(post) == [("unitId", "INACTIVE")]
    moved = (await admin.execute(MOVE_UNIT, {"input": {"id": await unit_gid(platform, "370103"), "parentId": lixia}}))[
        "data"
    ]["moveOrgUnit"]
    assert errors_of(moved) == [("parentId", "INACTIVE")]
    assert await snapshot(platform) == before

    # Reactivation works the same way.
    again = (await admin.execute(UPDATE_UNIT, {"input": {"id": lixia, "version": row.version + 1, "isActive": True}}))[
        "data"
    ]["updateOrgUnit"]
    assert again["orgUnit"]["isActive"] is True


# ---- moveOrgUnit -----------------------------------------------------------------------


async def _create(client: GraphQLClient, code: str, parent: str) -> dict:
    payload = (
        await client.execute(CREATE_UNIT, {"input": {"code": code, "name": code, "kind": "OFFICE", "parentId": parent}})
    )["data"]["createOrgUnit"]
    assert payload["errors"] == [], payload
    return payload["orgUnit"]


async def test_move_unit_moves_the_whole_subtree(admin: GraphQLClient, platform: Any) -> None:
    lixia = await unit_gid(platform, "370102")
    child = await _create(admin, "lixia-office", lixia)
    grandchild = await _create(admin, "lixia-office-desk", child["id"])
    assert grandchild["depth"] == 4
    qingdao = await unit_gid(platform, "370200")
    versions_before = {
        c: (await unit_row(platform, c)).version for c in ("370102", "lixia-office", "lixia-office-desk")
    }
    other_before = await unit_row(platform, "370103")

    payload = (await admin.execute(MOVE_UNIT, {"input": {"id": lixia, "parentId": qingdao}}))["data"]["moveOrgUnit"]
    assert payload["errors"] == []
    moved = payload["orgUnit"]
    assert moved["parent"] == {"code": "370200"}
    assert moved["ancestors"] == [{"code": "370000"}, {"code": "370200"}]
    assert moved["depth"] == 2

    desk = (await admin.execute(ORG_UNIT, {"id": grandchild["id"]}))["data"]["orgUnit"]
    assert [a["code"] for a in desk["ancestors"]] == ["370000", "370200", "370102", "lixia-office"]
    assert desk["depth"] == 4
    assert desk["parent"] == {"code": "lixia-office"}

    jinan_children = (await admin.execute(ORG_UNIT, {"id": await unit_gid(platform, "370100")}))["data"]["orgUnit"][
        "children"
    ]
    assert codes(jinan_children) == JINAN_COUNTIES[1:]
    qingdao_children = (await admin.execute(ORG_UNIT, {"id": qingdao}))["data"]["orgUnit"]["children"]
    assert "370102" in codes(qingdao_children)

    # Paths are consistent all the way down; versions of the moved rows went up; others untouched.
    qingdao_row = await unit_row(platform, "370200")
    rows = {c: await unit_row(platform, c) for c in ("370102", "lixia-office", "lixia-office-desk")}
    assert rows["370102"].path == f"{qingdao_row.path}{rows['370102'].id}/"
    assert rows["lixia-office"].path == f"{rows['370102'].path}{rows['lixia-office'].id}/"
    assert rows["lixia-office-desk"].path == f"{rows['lixia-office'].path}{rows['lixia-office-desk'].id}/"
    assert {c: r.version for c, r in rows.items()} == {c: v + 1 for c, v in versions_before.items()}
    after_other = await unit_row(platform, "370103")
    assert (after_other.path, after_other.version) == (other_before.path, other_before.version)

    # Depth changes when the level changes: move the office directly under the province.
    up = (
        await admin.execute(MOVE_UNIT, {"input": {"id": child["id"], "parentId": await unit_gid(platform, "370000")}})
    )["data"]["moveOrgUnit"]["orgUnit"]
    assert (up["depth"], up["ancestors"]) == (1, [{"code": "370000"}])
    desk = (await admin.execute(ORG_UNIT, {"id": grandchild["id"]}))["data"]["orgUnit"]
    assert ([a["code"] for a in desk["ancestors"]], desk["depth"]) == (["370000", "lixia-office"], 2)


async def test_move_to_the_same_parent_changes_nothing(admin: GraphQLClient, platform: Any) -> None:
    before = await snapshot(platform)
    payload = (
        await admin.execute(
            MOVE_UNIT,
            {"input": {"id": await unit_gid(platform, "370102"), "parentId": await unit_gid(platform, "370100")}},
        )
    )["data"]["moveOrgUnit"]
    assert payload["errors"] == []
    assert payload["orgUnit"]["code"] == "370102"
    assert await snapshot(platform) == before


@pytest.mark.parametrize(
    ("unit", "new_parent", "expected"),
    [
        ("370100", "370100", [("parentId", "CYCLE")]),
        ("370100", "370102", [("parentId", "CYCLE")]),
        ("370000", "370102", [("parentId", "CYCLE")]),
        ("370000", "370000", [("parentId", "CYCLE")]),
    ],
)
async def test_move_refuses_cycles(
    admin: GraphQLClient, platform: Any, unit: str, new_parent: str, expected: list[tuple[str, str]]
) -> None:
    before = await snapshot(platform)
    payload = (
        await admin.execute(
            MOVE_UNIT,
            {"input": {"id": await unit_gid(platform, unit), "parentId": await unit_gid(platform, new_parent)}},
        )
    )["data"]["moveOrgUnit"]
    assert payload["orgUnit"] is None
    assert errors_of(payload) == expected
    assert await snapshot(platform) == before


async def test_move_refuses_a_cycle_through_a_grandchild(admin: GraphQLClient, platform: Any) -> None:
    child = await _create(admin, "c1", await unit_gid(platform, "370102"))
    grandchild = await _create(admin, "c1-g", child["id"])
    before = await snapshot(platform)
    payload = (
        await admin.execute(
            MOVE_UNIT, {"input": {"id": await unit_gid(platform, "370100"), "parentId": grandchild["id"]}}
        )
    )["data"]["moveOrgUnit"]
    assert errors_of(payload) == [("parentId", "CYCLE")]
    assert await snapshot(platform) == before


async def test_move_to_an_unknown_parent_is_not_found(admin: GraphQLClient, platform: Any) -> None:
    before = await snapshot(platform)
    payload = (
        await admin.execute(
            MOVE_UNIT, {"input": {"id": await unit_gid(platform, "370102"), "parentId": gid("OrgUnit", 999_999)}}
        )
    )["data"]["moveOrgUnit"]
    assert errors_of(payload) == [("parentId", "NOT_FOUND")]
    missing = (
        await admin.execute(
            MOVE_UNIT, {"input": {"id": gid("OrgUnit", 999_999), "parentId": await unit_gid(platform, "370102")}}
        )
    )["data"]["moveOrgUnit"]
    assert errors_of(missing) == [("id", "NOT_FOUND")]
    assert await snapshot(platform) == before


# ---- users and positions ---------------------------------------------------------------


async def test_create_user_with_a_primary_post_and_sign_in(
    client: GraphQLClient, admin: GraphQLClient, platform: Any
) -> None:
    lixia = await unit_gid(platform, "370102")
    payload = (
        await admin.execute(
            CREATE_USER,
            {
                "input": {
                    "username": " ZhangWei ",
                    "displayName": "张伟",
                    "password": "Passw0rd!",
                    "unitId": lixia,
                    "title": "科员",
                }
            },
        )
    )["data"]["createUser"]
    assert payload["errors"] == []
    user = payload["user"]
    assert {k: v for k, v in user.items() if k != "id"} == {
        "username": "zhangwei",
        "displayName": "张伟",
        "isActive": True,
        "positions": [{"title": "科员", "isPrimary": True, "isLeader": False, "unit": {"code": "370102"}}],
    }
    me = await (await client.first_login("zhangwei", "Passw0rd!")).execute("{ me { username } }")
    assert me["data"]["me"] == {"username": "zhangwei"}

    # A user without a post (system admins only).
    bare = (
        await admin.execute(
            CREATE_USER, {"input": {"username": "auditor", "displayName": "审计", "password": "Passw0rd!"}}
        )
    )["data"]["createUser"]
    assert bare["errors"] == []
    assert bare["user"]["positions"] == []


async def test_assign_position_moves_the_primary_flag(admin: GraphQLClient, platform: Any) -> None:
    created = (
        await admin.execute(
            CREATE_USER,
            {
                "input": {
                    "username": "liwei",
                    "displayName": "李伟",
                    "password": "Passw0rd!",
                    "unitId": await unit_gid(platform, "370102"),
                    "title": "科员",
                }
            },
        )
    )["data"]["createUser"]["user"]
    user = created["id"]

    second = (
        await admin.execute(
            ASSIGN, {"input": {"userId": user, "unitId": await unit_gid(platform, "370100"), "title": "兼职联络员"}}
        )
    )["data"]["assignPosition"]
    assert second == {
        "position": {
            "title": "兼职联络员",
            "isPrimary": False,
            "isLeader": False,
            "user": {"username": "liwei"},
            "unit": {"code": "370100"},
        },
        "errors": [],
    }
    third = (
        await admin.execute(
            ASSIGN,
            {
                "input": {
                    "userId": user,
                    "unitId": await unit_gid(platform, "370103"),
                    "title": "副区长",
                    "isPrimary": True,
                    "isLeader": True,
                }
            },
        )
    )["data"]["assignPosition"]["position"]
    assert (third["isPrimary"], third["isLeader"]) == (True, True)

    liwei = await admin.first_login("liwei", "Passw0rd!")
    positions = (await liwei.execute(MY_POSITIONS))["data"]["me"]["positions"]
    assert positions == [
        {"title": "副区长", "isPrimary": True, "unit": {"code": "370103"}},
        {"title": "科员", "isPrimary": False, "unit": {"code": "370102"}},
        {"title": "兼职联络员", "isPrimary": False, "unit": {"code": "370100"}},
    ]
    async with platform.db.read() as s:
        primaries = (
            await s.execute(
                select(func.count())
                .select_from(Position)
                .join(User, User.id == Position.user_id)
                .where(User.username == "liwei", Position.is_primary.is_(True))
            )
        ).scalar_one()
    assert primaries == 1

    # The same post twice is a duplicate; nothing changes.
    before = await snapshot(platform)
    dup = (
        await admin.execute(
            ASSIGN, {"input": {"userId": user, "unitId": await unit_gid(platform, "370100"), "title": "兼职联络员"}}
        )
    )["data"]["assignPosition"]
    assert dup == {"position": None, "errors": [{"field": "title", "code": "DUPLICATE"}]}
    dup_primary = (
        await admin.execute(
            ASSIGN,
            {
                "input": {
                    "userId": user,
                    "unitId": await unit_gid(platform, "370100"),
                    "title": "兼职联络员",
                    "isPrimary": True,
                }
            },
        )
    )["data"]["assignPosition"]
    assert errors_of(dup_primary) == [("title", "DUPLICATE")]
    assert await snapshot(platform) == before


async def test_first_post_of_a_user_without_posts_becomes_primary(admin: GraphQLClient, platform: Any) -> None:
    bare = (
        await admin.execute(
            CREATE_USER, {"input": {"username": "nopost", "displayName": "无", "password": "Passw0rd!"}}
        )
    )["data"]["createUser"]["user"]
    first = (
        await admin.execute(
            ASSIGN, {"input": {"userId": bare["id"], "unitId": await unit_gid(platform, "370100"), "title": "科员"}}
        )
    )["data"]["assignPosition"]["position"]
    assert first["isPrimary"] is True


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"password": "short"}, [("password", "WEAK_PASSWORD")]),
        ({"password": ""}, [("password", "WEAK_PASSWORD")]),
        ({"password": "p" * 257}, [("password", "TOO_LONG")]),
        ({"username": "Bad Name"}, [("username", "INVALID_VALUE")]),
        ({"username": "ab"}, [("username", "INVALID_VALUE")]),
        ({"username": "1abc"}, [("username", "INVALID_VALUE")]),
        ({"username": "张伟"}, [("username", "INVALID_VALUE")]),
        ({"username": "clerk"}, [("username", "DUPLICATE")]),
        ({"username": "CLERK"}, [("username", "DUPLICATE")]),
        ({"displayName": " "}, [("displayName", "REQUIRED")]),
        ({"displayName": "名" * 65}, [("displayName", "TOO_LONG")]),
        ({"title": None}, [("title", "REQUIRED")]),
        ({"title": "职" * 65}, [("title", "TOO_LONG")]),
        ({"unitId": gid("OrgUnit", 999_999)}, [("unitId", "NOT_FOUND")]),
        ({"unitId": gid("User", 1)}, [("unitId", "INVALID_VALUE")]),
        ({"username": "Bad Name", "password": "x"}, [("username", "INVALID_VALUE"), ("password", "WEAK_PASSWORD")]),
    ],
)
async def test_create_user_validation_errors(
    admin: GraphQLClient, platform: Any, changes: dict, expected: list[tuple[str, str]]
) -> None:
    base = {
        "username": "newuser",
        "displayName": "新用户",
        "password": "Passw0rd!",
        "unitId": await unit_gid(platform, "370102"),
        "title": "科员",
    }
    before = await snapshot(platform)
    payload = (await admin.execute(CREATE_USER, {"input": {**base, **changes}}))["data"]["createUser"]
    assert payload["user"] is None
    assert errors_of(payload) == expected
    assert await snapshot(platform) == before


async def test_malformed_global_id_is_refused_before_anything_runs(admin: GraphQLClient, platform: Any) -> None:
    before = await snapshot(platform)
    data = await admin.execute(
        CREATE_USER,
        {"input": {"username": "u-1", "displayName": "u", "password": "Passw0rd!", "unitId": "garbage", "title": "t"}},
    )
    assert data["data"] is None
    assert len(data["errors"]) == 1
    assert await snapshot(platform) == before


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": " "}, [("title", "REQUIRED")]),
        ({"userId": gid("User", 999_999)}, [("userId", "NOT_FOUND")]),
        ({"unitId": gid("OrgUnit", 999_999)}, [("unitId", "NOT_FOUND")]),
        ({"userId": gid("OrgUnit", 1)}, [("userId", "INVALID_VALUE")]),
    ],
)
async def test_assign_position_validation_errors(
    admin: GraphQLClient, platform: Any, changes: dict, expected: list[tuple[str, str]]
) -> None:
    base = {"userId": await user_gid(platform, "clerk"), "unitId": await unit_gid(platform, "370102"), "title": "兼职"}
    before = await snapshot(platform)
    payload = (await admin.execute(ASSIGN, {"input": {**base, **changes}}))["data"]["assignPosition"]
    assert errors_of(payload) == expected
    assert await snapshot(platform) == before


# ---- scoped administration -------------------------------------------------------------


@pytest.fixture
async def jinan_admin(client: GraphQLClient, platform: Any) -> GraphQLClient:
    await make_unit_admin(platform, "jinan_admin", "370100")
    return await client.login("jinan_admin")


async def test_unit_admin_administers_its_subtree(jinan_admin: GraphQLClient, platform: Any) -> None:
    lixia = await unit_gid(platform, "370102")
    unit = (
        await jinan_admin.execute(
            CREATE_UNIT,
            {"input": {"code": "370102-office", "name": "历下区政府办公室", "kind": "OFFICE", "parentId": lixia}},
        )
    )["data"]["createOrgUnit"]
    assert unit["errors"] == []
    assert unit["orgUnit"]["depth"] == 3
    user = (
        await jinan_admin.execute(
            CREATE_USER,
            {
                "input": {
                    "username": "lixia_clerk",
                    "displayName": "历下文书",
                    "password": "Passw0rd!",
                    "unitId": unit["orgUnit"]["id"],
                    "title": "文书",
                }
            },
        )
    )["data"]["createUser"]
    assert user["errors"] == []
    post = (
        await jinan_admin.execute(
            ASSIGN, {"input": {"userId": user["user"]["id"], "unitId": lixia, "title": "兼职", "isPrimary": True}}
        )
    )["data"]["assignPosition"]
    assert post["errors"] == []
    row = await unit_row(platform, "370103")
    renamed = (
        await jinan_admin.execute(
            UPDATE_UNIT,
            {"input": {"id": await unit_gid(platform, "370103"), "version": row.version, "name": "市中区政府"}},
        )
    )["data"]["updateOrgUnit"]
    assert renamed["errors"] == []
    # Moving inside the subtree is allowed.
    moved = (
        await jinan_admin.execute(
            MOVE_UNIT, {"input": {"id": unit["orgUnit"]["id"], "parentId": await unit_gid(platform, "370103")}}
        )
    )["data"]["moveOrgUnit"]
    assert moved["errors"] == []
    assert [a["code"] for a in moved["orgUnit"]["ancestors"]] == ["370000", "370100", "370103"]
    # Its own scope root may be renamed too.
    jinan_row = await unit_row(platform, "370100")
    own = (
        await jinan_admin.execute(
            UPDATE_UNIT,
            {"input": {"id": await unit_gid(platform, "370100"), "version": jinan_row.version, "shortName": "济南"}},
        )
    )["data"]["updateOrgUnit"]
    assert own["errors"] == []


async def _refused_by_scope(client: GraphQLClient, platform: Any, query: str, variables: dict) -> None:
    before = await snapshot(platform)
    data = await client.execute(query, variables)
    assert top_level_code(data) == "FORBIDDEN", data
    assert await snapshot(platform) == before


async def test_unit_admin_is_forbidden_outside_its_subtree(jinan_admin: GraphQLClient, platform: Any) -> None:
    qingdao = await unit_gid(platform, "370200")
    lixia = await unit_gid(platform, "370102")
    province = await unit_gid(platform, "370000")
    jinan = await unit_gid(platform, "370100")
    clerk = await user_gid(platform, "clerk")
    qingdao_version = (await unit_row(platform, "370200")).version
    refused = [
        (CREATE_UNIT, {"input": {"code": "qd-1", "name": "青岛单位", "kind": "OFFICE", "parentId": qingdao}}),
        (CREATE_UNIT, {"input": {"code": "root-1", "name": "根", "kind": "OFFICE"}}),
        (CREATE_UNIT, {"input": {"code": "prov-1", "name": "省直单位", "kind": "OFFICE", "parentId": province}}),
        # Scope is checked before the input: no hints about what exists outside.
        (CREATE_UNIT, {"input": {"code": "370202", "name": "", "kind": "OFFICE", "parentId": qingdao}}),
        (UPDATE_UNIT, {"input": {"id": qingdao, "version": qingdao_version, "name": "改名"}}),
        (UPDATE_UNIT, {"input": {"id": province, "version": 1, "isActive": False}}),
        (MOVE_UNIT, {"input": {"id": lixia, "parentId": qingdao}}),
        (MOVE_UNIT, {"input": {"id": await unit_gid(platform, "370202"), "parentId": lixia}}),
        (MOVE_UNIT, {"input": {"id": jinan, "parentId": province}}),
        (
            CREATE_USER,
            {
                "input": {
                    "username": "qd1",
                    "displayName": "青岛",
                    "password": "Passw0rd!",
                    "unitId": qingdao,
                    "title": "科员",
                }
            },
        ),
        (CREATE_USER, {"input": {"username": "nounit", "displayName": "无单位", "password": "Passw0rd!"}}),
        (ASSIGN, {"input": {"userId": clerk, "unitId": qingdao, "title": "兼职"}}),
        # A user of another unit cannot be pulled into the subtree (their primary post would move).
        (ASSIGN, {"input": {"userId": clerk, "unitId": lixia, "title": "兼职", "isPrimary": True}}),
        (ASSIGN, {"input": {"userId": await user_gid(platform, "admin"), "unitId": lixia, "title": "科员"}}),
    ]
    for query, variables in refused:
        await _refused_by_scope(jinan_admin, platform, query, variables)


ADMIN_MUTATIONS = [
    (
        "createOrgUnit",
        CREATE_UNIT,
        lambda ids: {"code": "n-1", "name": "n", "kind": "OFFICE", "parentId": ids["lixia"]},
    ),
    ("updateOrgUnit", UPDATE_UNIT, lambda ids: {"id": ids["lixia"], "version": 1, "name": "n"}),
    ("moveOrgUnit", MOVE_UNIT, lambda ids: {"id": ids["lixia"], "parentId": ids["qingdao"]}),
    (
        "createUser",
        CREATE_USER,
        lambda ids: {
            "username": "n-user",
            "displayName": "n",
            "password": "Passw0rd!",
            "unitId": ids["lixia"],
            "title": "t",
        },
    ),
    ("assignPosition", ASSIGN, lambda ids: {"userId": ids["clerk"], "unitId": ids["lixia"], "title": "t"}),
]


async def test_non_admins_and_anonymous_callers_are_refused(client: GraphQLClient, platform: Any) -> None:
    ids = {
        "lixia": await unit_gid(platform, "370102"),
        "qingdao": await unit_gid(platform, "370200"),
        "clerk": await user_gid(platform, "clerk"),
    }
    clerk = await client.login("clerk")
    head = await client.login("finance_head")
    before = await snapshot(platform)
    # Interleave anonymous and signed-in callers: the answer must not depend on the previous request.
    for name, query, make in ADMIN_MUTATIONS:
        variables = {"input": make(ids)}
        anonymous = await client.execute(query, variables)
        assert top_level_code(anonymous) == "UNAUTHENTICATED", name
        assert top_level_code(await clerk.execute(query, variables)) == "FORBIDDEN", name
        assert top_level_code(await client.execute(query, variables, token="not-a-jwt")) == "UNAUTHENTICATED", name
        assert top_level_code(await head.execute(query, variables)) == "FORBIDDEN", name
    assert await snapshot(platform) == before


async def test_disabled_admin_is_unauthenticated(admin: GraphQLClient, platform: Any) -> None:
    async with platform.db.unit_of_work() as uow:
        user = (await uow.session.execute(select(User).where(User.username == "admin"))).scalar_one()
        user.is_active = False
    data = await admin.execute(CREATE_UNIT, {"input": {"code": "n-1", "name": "n", "kind": "OFFICE"}})
    assert top_level_code(data) == "UNAUTHENTICATED"


# ---- concurrency -----------------------------------------------------------------------


async def test_concurrent_updates_with_the_same_version_one_wins(
    client: GraphQLClient, admin: GraphQLClient, platform: Any
) -> None:
    await make_unit_admin(platform, "jinan_admin", "370100")
    other = await client.login("jinan_admin")
    lixia = await unit_gid(platform, "370102")
    version = (await unit_row(platform, "370102")).version
    results = await asyncio.gather(
        admin.execute(UPDATE_UNIT, {"input": {"id": lixia, "version": version, "name": "甲"}}),
        other.execute(UPDATE_UNIT, {"input": {"id": lixia, "version": version, "name": "乙"}}),
        admin.execute(UPDATE_UNIT, {"input": {"id": lixia, "version": version, "name": "丙"}}),
    )
    payloads = [r["data"]["updateOrgUnit"] for r in results]
    winners = [p for p in payloads if p["errors"] == []]
    losers = [p for p in payloads if p["errors"] != []]
    assert len(winners) == 1
    assert [p["errors"] for p in losers] == [[{"field": "version", "code": "STALE_VERSION"}]] * 2
    row = await unit_row(platform, "370102")
    assert (row.name, row.version) == (winners[0]["orgUnit"]["name"], version + 1)


async def test_concurrent_posts_leave_exactly_one_primary(admin: GraphQLClient, platform: Any) -> None:
    clerk = await user_gid(platform, "clerk")
    units = ["370102", "370103", "370104", "370105", "370112", "370113"]
    results = await asyncio.gather(
        *[
            admin.execute(
                ASSIGN,
                {"input": {"userId": clerk, "unitId": await unit_gid(platform, u), "title": "兼职", "isPrimary": True}},
            )
            for u in units
        ]
    )
    assert all(r["data"]["assignPosition"]["errors"] == [] for r in results), results
    positions = (await (await admin.login("clerk")).execute(MY_POSITIONS))["data"]["me"]["positions"]
    assert len(positions) == 7
    assert sum(p["isPrimary"] for p in positions) == 1


async def _assert_paths_consistent(platform: Any) -> None:
    async with platform.db.read() as s:
        rows = {u.id: u for u in (await s.execute(select(OrgUnit))).scalars()}
    for u in rows.values():
        parent = rows.get(u.parent_id) if u.parent_id else None
        expected_path = f"{parent.path if parent else '/'}{u.id}/"
        assert (u.path, u.depth) == (expected_path, parent.depth + 1 if parent else 0), u.code


async def test_concurrent_moves_and_creations_keep_the_tree_consistent(admin: GraphQLClient, platform: Any) -> None:
    jinan = await unit_gid(platform, "370100")
    qingdao = await unit_gid(platform, "370200")
    a = await _create(admin, "a", jinan)
    b = await _create(admin, "b", jinan)
    a1 = await _create(admin, "a1", a["id"])
    b1 = await _create(admin, "b1", b["id"])
    ops = [
        # Crossing moves: one of them must be refused as a cycle (or both succeed in some order).
        admin.execute(MOVE_UNIT, {"input": {"id": a["id"], "parentId": b1["id"]}}),
        admin.execute(MOVE_UNIT, {"input": {"id": b["id"], "parentId": a1["id"]}}),
        # Units created under a subtree while it moves.
        *[
            admin.execute(
                CREATE_UNIT, {"input": {"code": f"a1-{i}", "name": "n", "kind": "OFFICE", "parentId": a1["id"]}}
            )
            for i in range(4)
        ],
        admin.execute(MOVE_UNIT, {"input": {"id": a1["id"], "parentId": qingdao}}),
        *[
            admin.execute(
                CREATE_UNIT, {"input": {"code": f"b1-{i}", "name": "n", "kind": "OFFICE", "parentId": b1["id"]}}
            )
            for i in range(4)
        ],
    ]
    results = await asyncio.gather(*ops)
    for r in results:
        assert "errors" not in r or r.get("data") is not None, r
        payload = next(iter(r["data"].values()))
        assert [e["code"] for e in payload["errors"]] in ([], ["CYCLE"]), payload
    await _assert_paths_consistent(platform)


async def test_two_admins_moving_the_same_subtree_at_once_one_wins(
    client: GraphQLClient, admin: GraphQLClient, platform: Any
) -> None:
    await make_unit_admin(platform, "shandong_admin", "370000")
    other = await client.login("shandong_admin")
    lixia = await unit_gid(platform, "370102")
    version = (await unit_row(platform, "370102")).version
    targets = {"370200": await unit_gid(platform, "370200"), "370300": await unit_gid(platform, "370300")}
    results = await asyncio.gather(
        admin.execute(MOVE_UNIT, {"input": {"id": lixia, "parentId": targets["370200"], "version": version}}),
        other.execute(MOVE_UNIT, {"input": {"id": lixia, "parentId": targets["370300"], "version": version}}),
    )
    payloads = [r["data"]["moveOrgUnit"] for r in results]
    assert sorted(p["errors"] == [] for p in payloads) == [False, True]
    loser = next(p for p in payloads if p["errors"])
    assert loser == {"orgUnit": None, "errors": [{"field": "version", "code": "STALE_VERSION"}]}
    winner = 0 if payloads[0]["errors"] == [] else 1
    row = await unit_row(platform, "370102")
    parent = await unit_row(platform, ["370200", "370300"][winner])
    assert (row.parent_id, row.version) == (parent.id, version + 1)
    await _assert_paths_consistent(platform)


async def test_concurrent_users_with_the_same_username_one_wins(admin: GraphQLClient, platform: Any) -> None:
    lixia = await unit_gid(platform, "370102")
    variables = {
        "input": {"username": "twin", "displayName": "双", "password": "Passw0rd!", "unitId": lixia, "title": "科员"}
    }
    before = await counts(platform)
    results = await asyncio.gather(*[admin.execute(CREATE_USER, variables) for _ in range(3)])
    payloads = [r["data"]["createUser"] for r in results]
    assert sorted(str(errors_of(p)) for p in payloads) == sorted(
        [str([]), str([("username", "DUPLICATE")]), str([("username", "DUPLICATE")])]
    )
    after = await counts(platform)
    assert (after["users"], after["positions"]) == (before["users"] + 1, before["positions"] + 1)


async def test_concurrent_units_with_the_same_code_one_wins(admin: GraphQLClient, platform: Any) -> None:
    lixia = await unit_gid(platform, "370102")
    variables = {"input": {"code": "twin", "name": "双", "kind": "OFFICE", "parentId": lixia}}
    before = await counts(platform)
    results = await asyncio.gather(*[admin.execute(CREATE_UNIT, variables) for _ in range(3)])
    codes_seen = sorted(str(errors_of(r["data"]["createOrgUnit"])) for r in results)
    assert codes_seen == sorted([str([]), str([("code", "DUPLICATE")]), str([("code", "DUPLICATE")])])
    assert (await counts(platform))["org_units"] == before["org_units"] + 1


# ---- query counts ----------------------------------------------------------------------

TREE_DEEP = """query($parentId: ID, $first: Int) { orgUnits(parentId: $parentId, first: $first) {
  edges { node {
    code parent { code }
    ancestors { code }
    children(first: 5) { edges { node { code parent { code } } } pageInfo { hasNextPage } }
    members(first: 5) { edges { node { title user { username } unit { code } } } }
  } } } }"""


async def test_tree_query_count_does_not_grow_with_page_size(client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    province = await unit_gid(platform, "370000")
    counts = {}
    # Both pages hold cities (children, no members) and departments (members, no children).
    for first in (20, 50):
        with count_statements(platform) as statements:
            data = await clerk.execute(TREE_DEEP, {"parentId": province, "first": first})
        assert "errors" not in data, data
        edges = data["data"]["orgUnits"]["edges"]
        assert len(edges) == first
        counts[first] = len(statements)
    # Without batching this was 167 and 343 statements on SQLite. A loader batch may be split
    # over two event-loop ticks (one extra BEGIN + SELECT), never more.
    assert abs(counts[50] - counts[20]) <= 2, counts
    assert max(counts.values()) <= 20, counts
    # The batched children still page per parent, and members belong to their own unit.
    nodes = {e["node"]["code"]: e["node"] for e in edges}
    assert [e["node"]["code"] for e in nodes["370100"]["children"]["edges"]] == JINAN_COUNTIES[:5]
    assert nodes["370100"]["children"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["code"] for e in nodes["371000"]["children"]["edges"]] == ["371002", "371003", "371082", "371083"]
    assert nodes["371000"]["children"]["pageInfo"]["hasNextPage"] is False
    assert {e["node"]["parent"]["code"] for e in nodes["370200"]["children"]["edges"]} == {"370200"}
    assert nodes["370100"]["ancestors"] == [{"code": "370000"}]
    office = nodes["370000-general_office"]
    assert [(e["node"]["title"], e["node"]["user"]["username"]) for e in office["members"]["edges"]] == [
        ("文书", "clerk"),
        ("副主任", "deputy"),
        ("秘书长", "secretary_general"),
    ]
    assert nodes["370000-finance"]["members"]["edges"][0]["node"]["unit"] == {"code": "370000-finance"}
    assert nodes["370100"]["members"]["edges"] == [
        {"node": {"title": "文书", "user": {"username": "clerk_370100"}, "unit": {"code": "370100"}}},
        {"node": {"title": "副市长", "user": {"username": "leader_370100"}, "unit": {"code": "370100"}}},
    ]

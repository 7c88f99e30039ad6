"""The directory (通讯录): pinyin search, ranking, unit filters, pages, contact visibility,
the contact lookup log, and subtree queries, on SQLite and PostgreSQL.

Demo people (office_api/demo.py): 张伟 and 张维 (finance), 王伟 (DRC), 李娜 and 周伟 (历下区),
besides the README's accounts; leaders are 李副主任, 赵厅长, 钱主任 and 孙秘书长.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from office_api.org.models import ContactLookup, OrgUnit, RoleAssignment, User
from office_api.org.service import UserInput, create_user
from tests.api.test_org import gid, top_level_code, unit_gid, unit_pk
from tests.conftest import GraphQLClient, count_statements

DIRECTORY = """query($q: String, $unit: ID, $sub: Boolean, $first: Int, $after: String) {
  directory(query: $q, unitId: $unit, includeSubtree: $sub, first: $first, after: $after) {
    edges { cursor node { displayName } }
    pageInfo { hasNextPage hasPreviousPage endCursor } } }"""

CONTACTS = """query($q: String) { directory(query: $q) {
  edges { node { username displayName mobile officePhone email } } } }"""

UPDATE_CONTACT = """mutation($input: UpdateUserContactInput!) { updateUserContact(input: $input) {
  user { username mobile officePhone email } errors { field code } } }"""


def names(data: dict) -> list[str]:
    assert "errors" not in data, data
    return [e["node"]["displayName"] for e in data["data"]["directory"]["edges"]]


async def user_pk(platform: Any, username: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(User.id).where(User.username == username))).scalar_one()


async def add_person(platform: Any, username: str, display_name: str, unit_code: str = "370000-finance") -> int:
    unit = await unit_pk(platform, unit_code)
    async with platform.db.unit_of_work() as uow:
        user = await create_user(uow, None, UserInput(username, display_name, "Demo@2026", unit, "科员"))
        return user.id


async def lookups(platform: Any) -> list[tuple[int, int, str]]:
    async with platform.db.read() as s:
        rows = await s.execute(
            select(ContactLookup.viewer_id, ContactLookup.subject_id, ContactLookup.fields).order_by(ContactLookup.id)
        )
        return [tuple(r) for r in rows]


@pytest.fixture
async def clerk(client: GraphQLClient) -> GraphQLClient:
    return await client.login("clerk")


async def test_full_pinyin_and_initials_find_zhang_wei_first(clerk: GraphQLClient) -> None:
    assert names(await clerk.execute(DIRECTORY, {"q": "zhangwei"})) == ["张伟", "张维"]
    assert names(await clerk.execute(DIRECTORY, {"q": "zw"})) == ["张伟", "张维", "周伟"]
    assert names(await clerk.execute(DIRECTORY, {"q": "ZW"})) == ["张伟", "张维", "周伟"]
    assert names(await clerk.execute(DIRECTORY, {"q": "zhang wei"})) == ["张伟", "张维"]
    assert names(await clerk.execute(DIRECTORY, {"q": "ln"})) == ["李娜"]
    assert names(await clerk.execute(DIRECTORY, {"q": "wangwei"})) == ["王伟"]
    assert names(await clerk.execute(DIRECTORY, {"q": "张伟"})) == ["张伟"]
    assert names(await clerk.execute(DIRECTORY, {"q": "张"})) == ["张伟", "张维"]
    assert names(await clerk.execute(DIRECTORY, {"q": "伟"})) == ["王伟", "张伟", "周伟"]
    assert names(await clerk.execute(DIRECTORY, {"q": "13800000006"})) == ["张伟"]
    assert names(await clerk.execute(DIRECTORY, {"q": "0531-86000008"})) == ["李娜"]
    assert names(await clerk.execute(DIRECTORY, {"q": "100%_"})) == []


async def test_ranking_exact_then_name_prefix_then_pinyin_prefix_then_contains(
    clerk: GraphQLClient, platform: Any
) -> None:
    await add_person(platform, "wei_ming_cn", "魏明")
    await add_person(platform, "weiming", "weiming")
    await add_person(platform, "wei", "wei")
    # exact name, name prefix, pinyin prefix (weiming), then pinyin containing "wei" by pinyin.
    # The demo people of 潍坊市 and 威海市 (city clerks and leaders) are pinyin prefixes too:
    # weifangshi…, weihaishi…; within a rank, by pinyin (fushizhang before wenshu).
    expected = [
        "wei",
        "weiming",
        "潍坊市副市长",
        "潍坊市文书",
        "威海市副市长",
        "威海市文书",
        "魏明",
        "王伟",
        "张伟",
        "张维",
        "周伟",
    ]
    assert names(await clerk.execute(DIRECTORY, {"q": "wei"})) == expected
    # Pages of two walk across the ranks without loss or repetition.
    seen, after, pages = [], None, []
    while True:
        data = await clerk.execute(DIRECTORY, {"q": "wei", "first": 2, "after": after})
        conn = data["data"]["directory"]
        seen += names(data)
        pages.append((len(conn["edges"]), conn["pageInfo"]["hasNextPage"], conn["pageInfo"]["hasPreviousPage"]))
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == expected
    assert pages == [
        (2, True, False),
        (2, True, True),
        (2, True, True),
        (2, True, True),
        (2, True, True),
        (1, False, True),
    ]


async def test_a_renamed_person_is_found_by_the_new_pinyin(clerk: GraphQLClient, platform: Any) -> None:
    pk = await user_pk(platform, "li_na")
    async with platform.db.unit_of_work() as uow:
        user = await uow.session.get(User, pk)
        user.display_name = "李娜娜"
    async with platform.db.read() as s:
        row = (await s.execute(select(User.name_pinyin, User.name_initials).where(User.id == pk))).one()
    assert tuple(row) == ("linana", "lnn")
    assert names(await clerk.execute(DIRECTORY, {"q": "lnn"})) == ["李娜娜"]
    assert names(await clerk.execute(DIRECTORY, {"q": "lina"})) == ["李娜娜"]


async def test_unit_and_subtree_filters(clerk: GraphQLClient, platform: Any) -> None:
    finance = await unit_gid(platform, "370000-finance")
    assert names(await clerk.execute(DIRECTORY, {"unit": finance})) == ["张伟", "张维", "赵厅长"]
    assert names(await clerk.execute(DIRECTORY, {"q": "zw", "unit": finance})) == ["张伟", "张维"]
    province = await unit_gid(platform, "370000")
    assert names(await clerk.execute(DIRECTORY, {"q": "zw", "unit": province})) == []
    assert names(await clerk.execute(DIRECTORY, {"q": "zw", "unit": province, "sub": True})) == ["张伟", "张维", "周伟"]
    jinan = await unit_gid(platform, "370100")
    assert names(await clerk.execute(DIRECTORY, {"unit": jinan})) == ["济南市副市长", "济南市文书"]
    assert names(await clerk.execute(DIRECTORY, {"unit": jinan, "sub": True})) == [
        "济南市副市长",
        "济南市文书",
        "李娜",
        "周伟",
    ]
    missing = await clerk.execute(DIRECTORY, {"unit": gid("OrgUnit", 999_999)})
    assert top_level_code(missing) == "NOT_FOUND"


async def test_everyone_listed_by_pinyin_and_disabled_people_are_not(clerk: GraphQLClient, platform: Any) -> None:
    everyone = names(await clerk.execute(DIRECTORY, {"first": 100}))
    assert everyone == [
        "安全管理员",
        "安全审计员",
        "滨州市副市长",
        "滨州市文书",
        "德州市副市长",
        "德州市文书",
        "东营市副市长",
        "东营市文书",
        "菏泽市副市长",
        "菏泽市文书",
        "济南市副市长",
        "济南市文书",
        "济宁市副市长",
        "济宁市文书",
        "聊城市副市长",
        "聊城市文书",
        "李副主任",
        "李娜",
        "临沂市副市长",
        "临沂市文书",
        "钱主任",
        "青岛市副市长",
        "青岛市文书",
        "日照市副市长",
        "日照市文书",
        "孙秘书长",
        "泰安市副市长",
        "泰安市文书",
        "王伟",
        "王文书",
        "潍坊市副市长",
        "潍坊市文书",
        "威海市副市长",
        "威海市文书",
        "系统管理员",
        "烟台市副市长",
        "烟台市文书",
        "枣庄市副市长",
        "枣庄市文书",
        "张伟",
        "张维",
        "赵厅长",
        "周伟",
        "淄博市副市长",
        "淄博市文书",
    ]
    async with platform.db.unit_of_work() as uow:
        user = await uow.session.get(User, await user_pk(platform, "zhou_wei"))
        user.is_active = False
    assert names(await clerk.execute(DIRECTORY, {"q": "zw"})) == ["张伟", "张维"]


async def test_leader_mobile_is_hidden_from_ordinary_users(clerk: GraphQLClient, platform: Any) -> None:
    data = await clerk.execute(CONTACTS, {"q": "李副主任"})
    assert data["data"]["directory"]["edges"] == [
        {
            "node": {
                "username": "deputy",
                "displayName": "李副主任",
                "mobile": None,
                "officePhone": "0531-86000002",
                "email": "deputy@demo.shandong.gov.cn",
            }
        }
    ]
    ordinary = await clerk.execute(CONTACTS, {"q": "zhangwei"})
    assert [e["node"]["mobile"] for e in ordinary["data"]["directory"]["edges"]] == ["13800000006", "13800000009"]
    # A hidden number does not match a phone search either.
    assert names(await clerk.execute(DIRECTORY, {"q": "13800000002"})) == []
    # Leaders see their own number.
    deputy = await clerk.login("deputy")
    own = await deputy.execute("{ me { mobile } }")
    assert own["data"]["me"] == {"mobile": "13800000002"}


async def test_leader_mobile_is_visible_to_the_configured_roles(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")  # system_admin: in the default OFFICE_LEADER_MOBILE_VISIBLE_TO
    data = await admin.execute(CONTACTS, {"q": "李副主任"})
    assert data["data"]["directory"]["edges"][0]["node"]["mobile"] == "13800000002"
    assert names(await admin.execute(DIRECTORY, {"q": "13800000002"})) == ["李副主任"]

    platform.settings.leader_mobile_visible_to = ["directory_viewer"]
    async with platform.db.unit_of_work() as uow:
        uow.session.add(RoleAssignment(user_id=await user_pk(platform, "clerk"), role="directory_viewer"))
    clerk = await client.login("clerk")
    data = await clerk.execute(CONTACTS, {"q": "李副主任"})
    assert data["data"]["directory"]["edges"][0]["node"]["mobile"] == "13800000002"
    data = await admin.execute(CONTACTS, {"q": "李副主任"})
    assert data["data"]["directory"]["edges"][0]["node"]["mobile"] is None


async def test_contact_lookups_are_logged_once_per_person_per_request(clerk: GraphQLClient, platform: Any) -> None:
    assert names(await clerk.execute(DIRECTORY, {"q": "zw"})) == ["张伟", "张维", "周伟"]
    assert await lookups(platform) == []  # names only: nothing looked up
    viewer = await user_pk(platform, "clerk")
    people = [await user_pk(platform, u) for u in ("zhang_wei", "zhang_wei2", "zhou_wei")]
    q = 'query { directory(query: "zw") { edges { node { mobile email positions { user { mobile } } } } } }'
    with count_statements(platform) as statements:
        data = await clerk.execute(q)
    assert "errors" not in data, data
    assert await lookups(platform) == [(viewer, p, "email,mobile") for p in sorted(people)]
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO CONTACT_LOOKUPS")]
    assert len(inserts) == 1
    # A hidden leader's number is a lookup too.
    await clerk.execute(CONTACTS, {"q": "李副主任"})
    deputy = await user_pk(platform, "deputy")
    assert (await lookups(platform))[3:] == [(viewer, deputy, "email,mobile,office_phone")]


async def test_directory_query_count_does_not_grow_with_page_size(clerk: GraphQLClient, platform: Any) -> None:
    q = """query($first: Int) { directory(first: $first) { edges { node {
      displayName mobile officePhone positions { title unit { name parent { name } } } } } } }"""
    counts = {}
    for first in (3, 11):
        with count_statements(platform) as statements:
            data = await clerk.execute(q, {"first": first})
        assert len(data["data"]["directory"]["edges"]) == first
        counts[first] = len(statements)
    assert abs(counts[11] - counts[3]) <= 2, counts
    assert max(counts.values()) <= 20, counts


async def test_query_too_long_and_bad_cursor_are_typed_errors(clerk: GraphQLClient) -> None:
    data = await clerk.execute(DIRECTORY, {"q": "张" * 65})
    assert top_level_code(data) == "TOO_LONG"
    assert data["errors"][0]["extensions"]["field"] == "query"
    assert names(await clerk.execute(DIRECTORY, {"q": "张" * 64})) == []
    data = await clerk.execute(DIRECTORY, {"after": "bm90LWEtY3Vyc29y"})
    assert top_level_code(data) == "INVALID_VALUE"
    assert data["errors"][0]["extensions"]["field"] == "after"
    anonymous = await GraphQLClient(clerk.http).execute(DIRECTORY, {"q": "zw"})
    assert top_level_code(anonymous) == "UNAUTHENTICATED"


async def test_update_contact_validates_and_checks_who(client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    me = gid("User", await user_pk(platform, "clerk"))
    bad = await clerk.execute(
        UPDATE_CONTACT, {"input": {"userId": me, "mobile": "12345", "officePhone": "abc", "email": "not-an-email"}}
    )
    assert bad["data"]["updateUserContact"] == {
        "user": None,
        "errors": [
            {"field": "mobile", "code": "INVALID_VALUE"},
            {"field": "officePhone", "code": "INVALID_VALUE"},
            {"field": "email", "code": "INVALID_VALUE"},
        ],
    }
    ok = await clerk.execute(
        UPDATE_CONTACT,
        {"input": {"userId": me, "mobile": "+86 139-0000-0001", "email": "", "officePhone": "0531-1234567"}},
    )
    assert ok["data"]["updateUserContact"] == {
        "user": {"username": "clerk", "mobile": "13900000001", "officePhone": "0531-1234567", "email": None},
        "errors": [],
    }
    assert names(await clerk.execute(DIRECTORY, {"q": "1390000"})) == ["王文书"]
    # Someone else's contact: refused before the input is looked at, nothing changed.
    other = gid("User", await user_pk(platform, "zhang_wei"))
    refused = await clerk.execute(UPDATE_CONTACT, {"input": {"userId": other, "mobile": "13900000002"}})
    assert top_level_code(refused) == "FORBIDDEN"
    async with platform.db.read() as s:
        assert (await s.execute(select(User.mobile).where(User.username == "zhang_wei"))).scalar_one() == "13800000006"
    admin = await client.login("admin")
    done = await admin.execute(UPDATE_CONTACT, {"input": {"userId": other, "mobile": "13900000002"}})
    assert done["data"]["updateUserContact"]["user"]["mobile"] == "13900000002"


async def test_subtree_queries(clerk: GraphQLClient, platform: Any) -> None:
    q = """query($id: ID!, $anc: ID!, $first: Int, $after: String) { orgUnit(id: $id) {
      isInside(ancestorId: $anc)
      descendants(first: $first, after: $after) { edges { node { code } } pageInfo { hasNextPage endCursor } }
      membersInSubtree(first: 50) { edges { node { title user { username } unit { code } } } } } }"""
    jinan, province, qingdao = [await unit_gid(platform, c) for c in ("370100", "370000", "370200")]
    data = (await clerk.execute(q, {"id": jinan, "anc": province, "first": 5}))["data"]["orgUnit"]
    assert data["isInside"] is True
    assert [e["node"]["code"] for e in data["descendants"]["edges"]] == [
        "370102",
        "370103",
        "370104",
        "370105",
        "370112",
    ]
    assert data["descendants"]["pageInfo"]["hasNextPage"] is True
    rest = await clerk.execute(q, {"id": jinan, "anc": jinan, "after": data["descendants"]["pageInfo"]["endCursor"]})
    rest_data = rest["data"]["orgUnit"]
    assert rest_data["isInside"] is True
    assert [e["node"]["code"] for e in rest_data["descendants"]["edges"]] == [
        "370113", "370114", "370115", "370116", "370117", "370124", "370126",
    ]  # fmt: skip
    assert [(e["node"]["user"]["username"], e["node"]["unit"]["code"]) for e in data["membersInSubtree"]["edges"]] == [
        ("clerk_370100", "370100"),
        ("leader_370100", "370100"),
        ("li_na", "370102"),
        ("zhou_wei", "370102"),
    ]
    outside = (await clerk.execute(q, {"id": jinan, "anc": qingdao}))["data"]["orgUnit"]
    assert outside["isInside"] is False
    province_data = (await clerk.execute(q, {"id": province, "anc": jinan, "first": 100}))["data"]["orgUnit"]
    assert province_data["isInside"] is False
    assert len(province_data["descendants"]["edges"]) == 100
    async with platform.db.read() as s:
        total = len((await s.execute(select(OrgUnit.id))).all())
    assert total == 188
    # 10 primary posts in the province subtree, the Secretary-General's second post heading the General Office,
    # the 16 city clerks and the 16 city leaders
    assert len(province_data["membersInSubtree"]["edges"]) == 43

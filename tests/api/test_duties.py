"""Duties of posts (主要负责人, 副职, 文书) and their resolution, over GraphQL and the service.

The demo gives: secretary_general heads the General Office (a second post), deputy is its
deputy head, clerk its clerk; finance_head heads 370000-finance, drc_head 370000-drc.
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, update

from office_api.auth import issue_access_token
from office_api.config import Settings
from office_api.demo import DEMO_CITIES
from office_api.org.duties import resolve_duty
from office_api.org.models import OrgUnit, Position, PositionDuty, User
from tests.api.test_org import errors_of, gid, make_unit_admin, top_level_code, unit_gid, unit_pk
from tests.conftest import GraphQLClient, count_statements

DUTIES = """query($id: ID!) { orgUnit(id: $id) {
  code head { username } deputyHeads { username } clerks { username } } }"""
SET_DUTIES = """mutation($input: SetPositionDutiesInput!) { setPositionDuties(input: $input) {
  position { title duties user { username } unit { code } } errors { field code } } }"""
ASSIGN = """mutation($input: AssignPositionInput!) { assignPosition(input: $input) {
  position { title isPrimary duties user { username } unit { code } } errors { field code } } }"""

OFFICE = "370000-general_office"


async def user_pk(platform: Any, username: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(User.id).where(User.username == username))).scalar_one()


async def post_pk(platform: Any, username: str, unit_code: str) -> int:
    async with platform.db.read() as s:
        return (
            await s.execute(
                select(Position.id)
                .join(User, User.id == Position.user_id)
                .join(OrgUnit, OrgUnit.id == Position.unit_id)
                .where(User.username == username, OrgUnit.code == unit_code)
            )
        ).scalar_one()


async def duty_rows(platform: Any) -> list[tuple]:
    async with platform.db.read() as s:
        rows = await s.execute(
            select(User.username, OrgUnit.code, PositionDuty.duty)
            .join(Position, Position.id == PositionDuty.position_id)
            .join(User, User.id == Position.user_id)
            .join(OrgUnit, OrgUnit.id == PositionDuty.unit_id)
            .order_by(PositionDuty.unit_id, Position.id, PositionDuty.duty)
        )
        return [tuple(r) for r in rows]


async def as_user(client: GraphQLClient, settings: Settings, platform: Any, username: str) -> GraphQLClient:
    token, _ = issue_access_token(settings, await user_pk(platform, username))
    return GraphQLClient(client.http, token, client.lang)


DEMO_DUTIES = [
    ("secretary_general", OFFICE, "head"),
    ("deputy", OFFICE, "deputy_head"),
    ("clerk", OFFICE, "clerk"),
    ("finance_head", "370000-finance", "head"),
    ("drc_head", "370000-drc", "head"),
    *((f"clerk_{code}", code, "clerk") for code, _ in DEMO_CITIES),
    *((f"leader_{code}", code, "deputy_head") for code, _ in DEMO_CITIES),
]


async def test_demo_duties_resolve_in_queries(client: GraphQLClient, settings: Settings, platform: Any) -> None:
    assert sorted(await duty_rows(platform)) == sorted(DEMO_DUTIES)
    clerk = await as_user(client, settings, platform, "clerk")
    office = (await clerk.execute(DUTIES, {"id": await unit_gid(platform, OFFICE)}))["data"]["orgUnit"]
    assert office == {
        "code": OFFICE,
        "head": {"username": "secretary_general"},
        "deputyHeads": [{"username": "deputy"}],
        "clerks": [{"username": "clerk"}],
    }
    finance = (await clerk.execute(DUTIES, {"id": await unit_gid(platform, "370000-finance")}))["data"]["orgUnit"]
    assert finance == {"code": "370000-finance", "head": {"username": "finance_head"}, "deputyHeads": [], "clerks": []}
    province = (await clerk.execute(DUTIES, {"id": await unit_gid(platform, "370000")}))["data"]["orgUnit"]
    assert province == {"code": "370000", "head": None, "deputyHeads": [], "clerks": []}
    me = await clerk.execute("{ me { positions { title duties } } }")
    assert me["data"]["me"]["positions"] == [{"title": "文书", "duties": ["CLERK"]}]
    sg = await as_user(client, settings, platform, "secretary_general")
    me = await sg.execute("{ me { positions { title isPrimary duties unit { code } } } }")
    assert me["data"]["me"]["positions"] == [
        {"title": "秘书长", "isPrimary": True, "duties": [], "unit": {"code": "370000"}},
        {"title": "秘书长", "isPrimary": False, "duties": ["HEAD"], "unit": {"code": OFFICE}},
    ]


async def test_duty_fields_are_batched(client: GraphQLClient, settings: Settings, platform: Any) -> None:
    clerk = await as_user(client, settings, platform, "clerk")
    q = """query($id: ID!, $first: Int) { orgUnit(id: $id) { children(first: $first) { edges { node {
      code head { username } deputyHeads { username } clerks { username } } } } } }"""
    province = await unit_gid(platform, "370000")
    with count_statements(platform) as few:
        await clerk.execute(q, {"id": province, "first": 3})
    with count_statements(platform) as statements:
        data = await clerk.execute(q, {"id": province, "first": 40})
    heads = {
        e["node"]["code"]: e["node"]["head"]["username"]
        for e in data["data"]["orgUnit"]["children"]["edges"]
        if e["node"]["head"]
    }
    assert heads == {OFFICE: "secretary_general", "370000-finance": "finance_head", "370000-drc": "drc_head"}
    # The number of statements does not grow with the page: one batch per loader (the
    # first page has no duty holders, so it skips the users' batch: BEGIN + SELECT).
    assert len(statements) <= len(few) + 2, (few, statements)
    assert len(statements) <= 12, statements


async def test_resolve_duty_skips_deactivated_users_and_units(platform: Any) -> None:
    office, finance = await unit_pk(platform, OFFICE), await unit_pk(platform, "370000-finance")
    clerk, finance_head = await user_pk(platform, "clerk"), await user_pk(platform, "finance_head")
    async with platform.db.read() as s:
        assert await resolve_duty(s, office, "clerk") == [clerk]
        assert await resolve_duty(s, office, "head") == [await user_pk(platform, "secretary_general")]
        assert await resolve_duty(s, finance, "head") == [finance_head]
        assert await resolve_duty(s, finance, "clerk") == []
        assert await resolve_duty(s, 999_999, "head") == []
    async with platform.db.unit_of_work() as uow:
        await uow.session.execute(update(User).where(User.id == clerk).values(is_active=False))
        await uow.session.execute(update(OrgUnit).where(OrgUnit.id == finance).values(is_active=False))
    async with platform.db.read() as s:
        assert await resolve_duty(s, office, "clerk") == []
        assert await resolve_duty(s, finance, "head") == []
        assert await resolve_duty(s, office, "deputy_head") == [await user_pk(platform, "deputy")]


async def test_a_second_head_is_refused_and_changes_nothing(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    deputy_post = gid("Position", await post_pk(platform, "deputy", OFFICE))
    before = await duty_rows(platform)
    data = await admin.execute(SET_DUTIES, {"input": {"positionId": deputy_post, "duties": ["HEAD", "DEPUTY_HEAD"]}})
    assert data["data"]["setPositionDuties"] == {
        "position": None,
        "errors": [{"field": "duties", "code": "HEAD_TAKEN"}],
    }
    assert await duty_rows(platform) == before
    # assignPosition with a head duty in a unit that has one: refused, no post created.
    async with platform.db.read() as s:
        posts_before = (await s.execute(select(Position.id).order_by(Position.id))).scalars().all()
    data = await admin.execute(
        ASSIGN,
        {
            "input": {
                "userId": gid("User", await user_pk(platform, "drc_head")),
                "unitId": await unit_gid(platform, OFFICE),
                "title": "主任",
                "duties": ["HEAD"],
            }
        },
    )
    assert data["data"]["assignPosition"] == {"position": None, "errors": [{"field": "duties", "code": "HEAD_TAKEN"}]}
    async with platform.db.read() as s:
        assert (await s.execute(select(Position.id).order_by(Position.id))).scalars().all() == posts_before
    assert await duty_rows(platform) == before


async def test_set_duties_moves_the_head_and_assign_position_takes_duties(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    sg_post = gid("Position", await post_pk(platform, "secretary_general", OFFICE))
    deputy_post = gid("Position", await post_pk(platform, "deputy", OFFICE))
    data = await admin.execute(SET_DUTIES, {"input": {"positionId": sg_post, "duties": []}})
    assert data["data"]["setPositionDuties"] == {
        "position": {
            "title": "秘书长",
            "duties": [],
            "user": {"username": "secretary_general"},
            "unit": {"code": OFFICE},
        },
        "errors": [],
    }
    data = await admin.execute(
        SET_DUTIES, {"input": {"positionId": deputy_post, "duties": ["DEPUTY_HEAD", "HEAD", "HEAD"]}}
    )
    assert data["data"]["setPositionDuties"]["position"]["duties"] == ["HEAD", "DEPUTY_HEAD"]
    data = await admin.execute(
        ASSIGN,
        {
            "input": {
                "userId": gid("User", await user_pk(platform, "drc_head")),
                "unitId": await unit_gid(platform, OFFICE),
                "title": "文书",
                "duties": ["CLERK"],
            }
        },
    )
    assert data["data"]["assignPosition"] == {
        "position": {
            "title": "文书",
            "isPrimary": False,
            "duties": ["CLERK"],
            "user": {"username": "drc_head"},
            "unit": {"code": OFFICE},
        },
        "errors": [],
    }
    office = (await admin.execute(DUTIES, {"id": await unit_gid(platform, OFFICE)}))["data"]["orgUnit"]
    assert office == {
        "code": OFFICE,
        "head": {"username": "deputy"},
        "deputyHeads": [{"username": "deputy"}],
        "clerks": [{"username": "clerk"}, {"username": "drc_head"}],
    }
    too_many = await admin.execute(
        SET_DUTIES, {"input": {"positionId": deputy_post, "duties": ["HEAD", "CLERK", "DEPUTY_HEAD", "CLERK"]}}
    )
    assert too_many["data"]["setPositionDuties"]["errors"] == [{"field": "duties", "code": "TOO_MANY"}]


async def test_set_duties_outside_the_subtree_is_forbidden(
    client: GraphQLClient, settings: Settings, platform: Any
) -> None:
    await make_unit_admin(platform, "jinan_admin", "370100")
    jinan_admin = await as_user(client, settings, platform, "jinan_admin")
    before = await duty_rows(platform)
    clerk_post = gid("Position", await post_pk(platform, "clerk", OFFICE))
    data = await jinan_admin.execute(SET_DUTIES, {"input": {"positionId": clerk_post, "duties": ["HEAD"]}})
    assert top_level_code(data) == "FORBIDDEN"
    clerk = await as_user(client, settings, platform, "clerk")
    data = await clerk.execute(SET_DUTIES, {"input": {"positionId": clerk_post, "duties": ["HEAD"]}})
    assert top_level_code(data) == "FORBIDDEN"
    assert await duty_rows(platform) == before
    # Its own subtree is fine.
    own = gid("Position", await post_pk(platform, "jinan_admin", "370100"))
    data = await jinan_admin.execute(SET_DUTIES, {"input": {"positionId": own, "duties": ["CLERK"]}})
    assert errors_of(data["data"]["setPositionDuties"]) == []
    missing = await jinan_admin.execute(SET_DUTIES, {"input": {"positionId": gid("Position", 99999), "duties": []}})
    assert errors_of(missing["data"]["setPositionDuties"]) == [("positionId", "NOT_FOUND")]


async def test_two_admins_setting_the_head_at_once_leave_exactly_one(
    client: GraphQLClient, settings: Settings, platform: Any
) -> None:
    admin = await client.login("admin")
    await make_unit_admin(platform, "office_admin", OFFICE)
    office_admin = await as_user(client, settings, platform, "office_admin")
    sg_post = gid("Position", await post_pk(platform, "secretary_general", OFFICE))
    assert (
        errors_of(
            (await admin.execute(SET_DUTIES, {"input": {"positionId": sg_post, "duties": []}}))["data"][
                "setPositionDuties"
            ]
        )
        == []
    )
    deputy_post = gid("Position", await post_pk(platform, "deputy", OFFICE))
    clerk_post = gid("Position", await post_pk(platform, "clerk", OFFICE))
    results = await asyncio.gather(
        admin.execute(SET_DUTIES, {"input": {"positionId": deputy_post, "duties": ["HEAD"]}}),
        office_admin.execute(SET_DUTIES, {"input": {"positionId": clerk_post, "duties": ["HEAD"]}}),
    )
    outcomes = sorted(str(errors_of(r["data"]["setPositionDuties"])) for r in results)
    assert outcomes == ["[('duties', 'HEAD_TAKEN')]", "[]"]
    heads = [r for r in await duty_rows(platform) if r[1] == OFFICE and r[2] == "head"]
    assert len(heads) == 1
    async with platform.db.read() as s:
        assert await resolve_duty(s, await unit_pk(platform, OFFICE), "head") == [await user_pk(platform, heads[0][0])]

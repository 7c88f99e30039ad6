"""Accounts and sessions, separation of duties (三员分立) and the audit log, over GraphQL.

Every test starts from the demo organization and accounts (admin = system admin,
security_admin, audit_admin, and the civil servants of the walkthrough).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from documents.models import Document, RouteStep, RouteTemplate, StepAssignee, Task
from documents.service import AssigneeInput, StepInput
from documents.templates import TemplateInput, create_template
from documents.types import StepMode
from meetings.models import Room
from office_api.clients.models import ApiClient
from office_api.clients.service import register_client
from office_api.config import Settings
from office_api.org.identities import link_identity
from office_api.org.models import (
    AuditEntry,
    Duty,
    LoginThrottle,
    OrgUnit,
    Position,
    PositionDuty,
    RefreshToken,
    Role,
    RoleAssignment,
    User,
    UserIdentity,
)
from office_api.org.permissions import load_actor
from office_api.org.service import UserInput, create_user, grant_role
from office_api.sla import SlaBinding, SlaPolicy
from office_api.webhooks.models import Webhook, WebhookDelivery
from office_api.webhooks.service import create_webhook
from office_api.workdays import CalendarDay, CalendarYear
from tests.api.test_org import ASSIGN, CREATE_UNIT, CREATE_USER, MOVE_UNIT, UPDATE_UNIT, gid, unit_gid, user_gid
from tests.conftest import DEMO_PASSWORD, GraphQLClient

#: 2027's statutory days off on weekdays (the holidays package's estimate): a plausible year to load.
HOLIDAYS_2027 = [
    "2027-01-01",
    "2027-02-05",
    "2027-02-08",
    "2027-02-09",
    "2027-02-10",
    "2027-04-05",
    "2027-05-03",
    "2027-05-04",
    "2027-06-09",
    "2027-09-15",
    "2027-10-01",
    "2027-10-04",
    "2027-10-05",
]

LOGIN = """mutation($u:String!,$p:String!){ login(input:{username:$u,password:$p}){
  accessToken refreshToken mustChangePassword user { username } errors { field code message } } }"""
REFRESH = """mutation($t:String!){ refreshToken(input:{refreshToken:$t}){ accessToken errors { field code } } }"""
LOGOUT = """mutation($t:String){ logout(input:{refreshToken:$t}){ ok errors { code } } }"""
CHANGE = """mutation($o:String!,$n:String!){ changePassword(input:{oldPassword:$o,newPassword:$n}){
  accessToken refreshToken errors { field code message } } }"""
DISABLE = """mutation($id:ID!){ disableUser(input:{userId:$id}){ user { username isActive } errors { field code } } }"""
ENABLE = """mutation($id:ID!){ enableUser(input:{userId:$id}){ user { username isActive } errors { field code } } }"""
RESET = """mutation($id:ID!,$p:String!){ resetPassword(input:{userId:$id,temporaryPassword:$p}){
  user { username } errors { field code message } } }"""
GRANT = """mutation($id:ID!,$r:AdminRole!,$u:ID){ grantRole(input:{userId:$id,role:$r,unitId:$u}){
  user { username } errors { field code message } } }"""
REVOKE = """mutation($id:ID!,$r:AdminRole!,$u:ID){ revokeRole(input:{userId:$id,role:$r,unitId:$u}){
  user { username } errors { field code } } }"""
AUDIT = """query($f: AuditLogFilter, $first: Int, $after: String){ auditLog(filter:$f, first:$first, after:$after){
  edges { node { actorId action targetType targetId before after clientAddress createdAt } }
  pageInfo { hasNextPage endCursor } } }"""
ME = "{ me { username } }"
NEW_PASSWORD = "Chang3d!pass"


def code_of(data: dict) -> str:
    """The top-level ``extensions.code`` of a refused request (no data came back)."""
    assert data["data"] is None or all(v is None for v in data["data"].values()), data
    return data["errors"][0]["extensions"]["code"]


async def login_payload(client: GraphQLClient, username: str, password: str = DEMO_PASSWORD) -> dict:
    return (await client.execute(LOGIN, {"u": username, "p": password}))["data"]["login"]


async def make_user(platform: Any, username: str, unit_code: str | None = "370102", role: Role | None = None) -> int:
    """A user created on the trusted path (no forced change), with a post in ``unit_code``."""
    async with platform.db.read() as s:
        unit = (
            (await s.execute(select(OrgUnit.id).where(OrgUnit.code == unit_code))).scalar_one() if unit_code else None
        )
    async with platform.db.unit_of_work() as uow:
        user = await create_user(
            uow, None, UserInput(username, username, DEMO_PASSWORD, unit, "科员" if unit else None)
        )
        if role is not None:
            await grant_role(uow, user.id, role, unit if role is Role.UNIT_ADMIN else None)
        return user.id


async def audit_rows(platform: Any, action: str | None = None) -> list[AuditEntry]:
    async with platform.db.read() as s:
        q = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            q = q.where(AuditEntry.action == action)
        return list((await s.execute(q)).scalars())


async def snapshot(platform: Any) -> dict[str, list[tuple]]:
    """Every row of the tables an admin mutation could change, audit log included."""
    out: dict[str, list[tuple]] = {}
    async with platform.db.read() as s:
        for model, key in (
            (OrgUnit, OrgUnit.id),
            (User, User.id),
            (Position, Position.id),
            (RoleAssignment, RoleAssignment.id),
            (AuditEntry, AuditEntry.id),
            (RefreshToken, RefreshToken.id),
            (PositionDuty, PositionDuty.id),
            (UserIdentity, UserIdentity.id),
            (ApiClient, ApiClient.id),
            (Task, Task.id),
            (RouteTemplate, RouteTemplate.id),
            (CalendarYear, CalendarYear.year),
            (CalendarDay, CalendarDay.day),
            (SlaPolicy, SlaPolicy.id),
            (SlaBinding, SlaBinding.id),
            (Room, Room.id),
            (Webhook, Webhook.id),
            (WebhookDelivery, WebhookDelivery.id),
        ):
            cols = list(model.__table__.columns)
            out[model.__tablename__] = [tuple(r) for r in (await s.execute(select(*cols).order_by(key))).all()]
    return out


async def roles_of(platform: Any, username: str) -> list[tuple[str, int | None]]:
    async with platform.db.read() as s:
        rows = await s.execute(
            select(RoleAssignment.role, RoleAssignment.unit_id)
            .join(User, User.id == RoleAssignment.user_id)
            .where(User.username == username)
            .order_by(RoleAssignment.id)
        )
        return [tuple(r) for r in rows]


# ---- login lockout -----------------------------------------------------------------------


@pytest.mark.parametrize("username", ["clerk", "ghost_user"])
async def test_five_failures_lock_a_username_for_fifteen_minutes(
    client: GraphQLClient, platform: Any, username: str
) -> None:
    start = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
    platform.clock = lambda: start
    wrong = [await login_payload(client, username, "Wrong-pass1") for _ in range(5)]
    refused = {"accessToken": None, "refreshToken": None, "mustChangePassword": False, "user": None}
    expected = {**refused, "errors": [{"field": None, "code": "INVALID_CREDENTIALS", "message": "用户名或密码错误"}]}
    assert wrong == [expected] * 5
    # Locked: the right password (or any) gets exactly the same answer, for 15 minutes.
    platform.clock = lambda: start + dt.timedelta(minutes=14, seconds=59)
    assert await login_payload(client, username, DEMO_PASSWORD) == expected
    async with platform.db.read() as s:
        row = await s.get(LoginThrottle, username)
    assert row is not None
    assert row.locked_until == start + dt.timedelta(minutes=15)
    actions = [(r.action, r.target_type, r.target_id, r.after) for r in await audit_rows(platform)]
    assert actions == [
        *[("login.failure", "Username", username, {"failures": n}) for n in range(1, 5)],
        ("login.lockout", "Username", username, {"failures": 5, "lockedUntil": "2026-11-30T01:15:00+00:00"}),
        ("login.failure", "Username", username, {"reason": "locked", "lockedUntil": "2026-11-30T01:15:00+00:00"}),
    ]
    platform.clock = lambda: start + dt.timedelta(minutes=15)
    after = await login_payload(client, username, DEMO_PASSWORD)
    if username == "clerk":
        assert after["errors"] == []
        assert after["user"] == {"username": "clerk"}
    else:
        assert after == expected  # unlocked, but still no such user


async def test_four_failures_do_not_lock_and_a_success_resets_the_count(client: GraphQLClient, platform: Any) -> None:
    for _ in range(4):
        assert (await login_payload(client, "clerk", "Wrong-pass1"))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert (await login_payload(client, "clerk"))["errors"] == []
    for _ in range(4):
        await login_payload(client, "clerk", "Wrong-pass1")
    assert (await login_payload(client, "clerk"))["errors"] == []
    assert [r.action for r in await audit_rows(platform, "login.lockout")] == []


async def test_concurrent_failures_are_all_counted(client: GraphQLClient, platform: Any) -> None:
    results = await asyncio.gather(*(login_payload(client, "deputy", f"Wrong-pass{i}") for i in range(7)))
    assert {r["errors"][0]["code"] for r in results} == {"INVALID_CREDENTIALS"}
    assert (await login_payload(client, "deputy"))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert [r.after["failures"] for r in await audit_rows(platform, "login.lockout")] == [5]
    assert len(await audit_rows(platform, "login.failure")) == 7 - 1 + 1  # 4 counted, 2 while locked, 1 now


async def test_lockout_survives_a_restart(client: GraphQLClient, platform: Any, settings: Settings) -> None:
    from office_api.app import create_app

    for _ in range(5):
        await login_payload(client, "deputy", "Wrong-pass1")
    app = create_app(settings)  # a second server process on the same database
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            other = GraphQLClient(http)
            assert (await login_payload(other, "deputy"))["errors"][0]["code"] == "INVALID_CREDENTIALS"


# ---- logout, disable, enable -------------------------------------------------------------


async def test_logout_revokes_the_access_token_and_its_refresh_family(client: GraphQLClient, platform: Any) -> None:
    first = await login_payload(client, "clerk")
    second = await login_payload(client, "clerk")  # another device
    result = await client.execute(LOGOUT, {"t": None}, token=first["accessToken"])
    assert result["data"]["logout"] == {"ok": True, "errors": []}
    assert code_of(await client.execute(ME, token=first["accessToken"])) == "UNAUTHENTICATED"
    refreshed = (await client.execute(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshToken"]
    assert refreshed == {"accessToken": None, "errors": [{"field": "refreshToken", "code": "INVALID_TOKEN"}]}
    assert code_of(await client.execute(LOGOUT, {"t": None}, token=first["accessToken"])) == "UNAUTHENTICATED"
    # The other session goes on.
    assert (await client.execute(ME, token=second["accessToken"]))["data"] == {"me": {"username": "clerk"}}
    assert (await client.execute(REFRESH, {"t": second["refreshToken"]}))["data"]["refreshToken"]["errors"] == []
    rows = await audit_rows(platform, "logout")
    assert [(r.actor_id, r.target_type, r.after) for r in rows] == [
        (int(await _pk(platform, "clerk")), "User", {"familiesRevoked": 1})
    ]


async def _pk(platform: Any, username: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(User.id).where(User.username == username))).scalar_one()


async def test_disabling_revokes_every_token_at_once_and_enabling_restores_sign_in(
    client: GraphQLClient, platform: Any
) -> None:
    admin = await client.login("admin")
    session = await login_payload(client, "clerk")
    clerk_id = await user_gid(platform, "clerk")
    result = (await admin.execute(DISABLE, {"id": clerk_id}))["data"]["disableUser"]
    assert result == {"user": {"username": "clerk", "isActive": False}, "errors": []}
    assert code_of(await client.execute(ME, token=session["accessToken"])) == "UNAUTHENTICATED"
    refreshed = (await client.execute(REFRESH, {"t": session["refreshToken"]}))["data"]["refreshToken"]
    assert refreshed["errors"] == [{"field": "refreshToken", "code": "INVALID_TOKEN"}]
    assert (await login_payload(client, "clerk"))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    # Disabling again changes nothing.
    assert (await admin.execute(DISABLE, {"id": clerk_id}))["data"]["disableUser"]["errors"] == []
    result = (await admin.execute(ENABLE, {"id": clerk_id}))["data"]["enableUser"]
    assert result == {"user": {"username": "clerk", "isActive": True}, "errors": []}
    assert code_of(await client.execute(ME, token=session["accessToken"])) == "UNAUTHENTICATED"  # still revoked
    assert (await login_payload(client, "clerk"))["errors"] == []
    rows = [
        (r.action, r.target_id, r.before, r.after) for r in await audit_rows(platform) if r.action.startswith("user.")
    ]
    pk = str(await _pk(platform, "clerk"))
    assert rows == [
        ("user.disable", pk, {"isActive": True}, {"isActive": False}),
        ("user.enable", pk, {"isActive": False}, {"isActive": True}),
    ]


async def test_admins_cannot_disable_themselves(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    before = await snapshot(platform)
    result = (await admin.execute(DISABLE, {"id": await user_gid(platform, "admin")}))["data"]["disableUser"]
    assert result == {"user": None, "errors": [{"field": "userId", "code": "INVALID_STATE"}]}
    assert await snapshot(platform) == before


async def test_two_admins_disabling_at_once_disable_once(client: GraphQLClient, platform: Any) -> None:
    await make_user(platform, "jinan_admin", "370100", Role.UNIT_ADMIN)
    admin, unit_admin = await client.login("admin"), await client.login("jinan_admin")
    await make_user(platform, "target_user", "370102")
    target = await user_gid(platform, "target_user")
    results = await asyncio.gather(*(c.execute(DISABLE, {"id": target}) for c in (admin, unit_admin, admin)))
    assert [r["data"]["disableUser"] for r in results] == [
        {"user": {"username": "target_user", "isActive": False}, "errors": []}
    ] * 3
    assert len(await audit_rows(platform, "user.disable")) == 1
    async with platform.db.read() as s:
        user = (await s.execute(select(User).where(User.username == "target_user"))).scalar_one()
    assert (user.is_active, user.token_version) == (False, 1)


# ---- password policy, change, reset, forced change ---------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Sh0rt!", "The password breaks the password policy: at least 8 characters"),
        (
            "lowercase1",
            "The password breaks the password policy: at least 3 of: lowercase letter, uppercase letter, digit, symbol",
        ),
        (
            "abc",
            "The password breaks the password policy: at least 8 characters; "
            "at least 3 of: lowercase letter, uppercase letter, digit, symbol",
        ),
    ],
)
async def test_weak_passwords_are_refused_naming_the_rule(
    client: GraphQLClient, platform: Any, password: str, message: str
) -> None:
    admin = await client.login("admin")
    admin.lang = "en"
    before = await snapshot(platform)
    payload = (
        await admin.execute(
            CREATE_USER.replace("errors { field code }", "errors { field code message }"),
            {"input": {"username": "weak", "displayName": "弱", "password": password}},
        )
    )["data"]["createUser"]
    assert payload == {"user": None, "errors": [{"field": "password", "code": "WEAK_PASSWORD", "message": message}]}
    assert await snapshot(platform) == before


async def test_the_password_policy_is_configurable(settings: Settings) -> None:
    import httpx

    from office_api.app import create_app

    app = create_app(settings.model_copy(update={"password_min_length": 12, "password_min_classes": 4}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        admin = await GraphQLClient(http).login("admin")
        query = CREATE_USER.replace("errors { field code }", "errors { field code message }")
        weak = (
            await admin.execute(query, {"input": {"username": "policy1", "displayName": "p", "password": "Passw0rd!x"}})
        )["data"]["createUser"]
        assert weak["errors"] == [
            {
                "field": "password",
                "code": "WEAK_PASSWORD",
                "message": "密码不符合安全策略：长度至少 12 个字符",
            }
        ]
        ok = (
            await admin.execute(
                query, {"input": {"username": "policy2", "displayName": "p", "password": "Passw0rd!xyz"}}
            )
        )["data"]["createUser"]
        assert ok["errors"] == []


async def test_a_new_account_must_change_its_password_before_anything_else(
    client: GraphQLClient, platform: Any
) -> None:
    admin = await client.login("admin")
    created = (
        await admin.execute(
            CREATE_USER, {"input": {"username": "newbie", "displayName": "新人", "password": "Temp@2026"}}
        )
    )["data"]["createUser"]
    assert created["errors"] == []
    first = await login_payload(client, "newbie", "Temp@2026")
    assert (first["errors"], first["mustChangePassword"]) == ([], True)
    token = first["accessToken"]
    assert code_of(await client.execute(ME, token=token)) == "PASSWORD_CHANGE_REQUIRED"
    assert code_of(await client.execute("{ unreadNotificationCount }", token=token)) == "PASSWORD_CHANGE_REQUIRED"
    client.lang = "en"
    wrong = (await client.execute(CHANGE, {"o": "Wrong@2026", "n": NEW_PASSWORD}, token=token))["data"]
    assert wrong["changePassword"]["errors"] == [
        {"field": "oldPassword", "code": "INVALID_CREDENTIALS", "message": "Wrong username or password"}
    ]
    same = (await client.execute(CHANGE, {"o": "Temp@2026", "n": "Temp@2026"}, token=token))["data"]
    assert same["changePassword"]["errors"] == [
        {
            "field": "newPassword",
            "code": "WEAK_PASSWORD",
            "message": "The password breaks the password policy: must differ from the current password",
        }
    ]
    weak = (await client.execute(CHANGE, {"o": "Temp@2026", "n": "password"}, token=token))["data"]
    assert [(e["field"], e["code"]) for e in weak["changePassword"]["errors"]] == [("newPassword", "WEAK_PASSWORD")]
    changed = (await client.execute(CHANGE, {"o": "Temp@2026", "n": NEW_PASSWORD}, token=token))["data"]
    assert changed["changePassword"]["errors"] == []
    assert code_of(await client.execute(ME, token=token)) == "UNAUTHENTICATED"  # older tokens are revoked
    fresh = changed["changePassword"]["accessToken"]
    assert (await client.execute(ME, token=fresh))["data"] == {"me": {"username": "newbie"}}
    again = await login_payload(client, "newbie", NEW_PASSWORD)
    assert (again["errors"], again["mustChangePassword"]) == ([], False)
    assert (await login_payload(client, "newbie", "Temp@2026"))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    rows = await audit_rows(platform, "password.change")
    assert [(r.before, r.after) for r in rows] == [({"mustChangePassword": True}, {"mustChangePassword": False})]


async def test_demo_accounts_need_no_password_change(client: GraphQLClient) -> None:
    for username in ("admin", "security_admin", "audit_admin", "clerk"):
        payload = await login_payload(client, username)
        assert (payload["errors"], payload["mustChangePassword"]) == ([], False)


async def test_admin_reset_sets_a_temporary_password_and_forces_a_change(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    session = await login_payload(client, "clerk")
    clerk_id = await user_gid(platform, "clerk")
    weak = (await admin.execute(RESET, {"id": clerk_id, "p": "temp"}))["data"]["resetPassword"]
    assert [(e["field"], e["code"]) for e in weak["errors"]] == [("temporaryPassword", "WEAK_PASSWORD")]
    result = (await admin.execute(RESET, {"id": clerk_id, "p": "Reset#2026"}))["data"]["resetPassword"]
    assert result == {"user": {"username": "clerk"}, "errors": []}
    assert code_of(await client.execute(ME, token=session["accessToken"])) == "UNAUTHENTICATED"
    assert (await login_payload(client, "clerk"))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    again = await login_payload(client, "clerk", "Reset#2026")
    assert (again["errors"], again["mustChangePassword"]) == ([], True)
    assert code_of(await client.execute(ME, token=again["accessToken"])) == "PASSWORD_CHANGE_REQUIRED"
    changed = await client.first_login("clerk", "Reset#2026", NEW_PASSWORD)
    assert (await changed.execute(ME))["data"] == {"me": {"username": "clerk"}}
    rows = await audit_rows(platform, "user.reset_password")
    assert [(r.target_id, r.before, r.after) for r in rows] == [
        (str(await _pk(platform, "clerk")), {"mustChangePassword": False}, {"mustChangePassword": True})
    ]


# ---- separation of duties ----------------------------------------------------------------


async def test_security_admin_grants_and_revokes_roles(client: GraphQLClient, platform: Any) -> None:
    security = await client.login("security_admin")
    clerk = await user_gid(platform, "clerk")
    jinan = await unit_gid(platform, "370100")
    jinan_pk = await _pk_unit(platform, "370100")
    granted = (await security.execute(GRANT, {"id": clerk, "r": "UNIT_ADMIN", "u": jinan}))["data"]["grantRole"]
    assert granted == {"user": {"username": "clerk"}, "errors": []}
    assert await roles_of(platform, "clerk") == [("unit_admin", jinan_pk)]
    # The new unit admin works inside the subtree at once.
    unit_admin = await client.login("clerk")
    created = (
        await unit_admin.execute(
            CREATE_UNIT, {"input": {"code": "370100-new", "name": "新单位", "kind": "OFFICE", "parentId": jinan}}
        )
    )["data"]["createOrgUnit"]
    assert created["errors"] == []
    dup = (await security.execute(GRANT, {"id": clerk, "r": "UNIT_ADMIN", "u": jinan}))["data"]["grantRole"]
    assert dup["errors"] == [{"field": "role", "code": "DUPLICATE", "message": "已存在：unit_admin"}]
    missing_unit = (await security.execute(GRANT, {"id": clerk, "r": "UNIT_ADMIN"}))["data"]["grantRole"]
    assert [(e["field"], e["code"]) for e in missing_unit["errors"]] == [("unitId", "REQUIRED")]
    revoked = (await security.execute(REVOKE, {"id": clerk, "r": "UNIT_ADMIN", "u": jinan}))["data"]["revokeRole"]
    assert revoked == {"user": {"username": "clerk"}, "errors": []}
    assert await roles_of(platform, "clerk") == []
    assert (
        code_of(
            await unit_admin.execute(
                CREATE_UNIT, {"input": {"code": "x-2", "name": "x", "kind": "OFFICE", "parentId": jinan}}
            )
        )
        == "FORBIDDEN"
    )
    again = (await security.execute(REVOKE, {"id": clerk, "r": "UNIT_ADMIN", "u": jinan}))["data"]["revokeRole"]
    assert again["errors"] == [{"field": "role", "code": "NOT_FOUND"}]
    rows = [(r.action, r.before, r.after) for r in await audit_rows(platform) if r.action.startswith("role.")]
    assert rows == [
        ("role.grant", {"roles": []}, {"roles": [f"unit_admin@{jinan_pk}"]}),
        ("role.revoke", {"roles": [f"unit_admin@{jinan_pk}"]}, {"roles": []}),
    ]


async def _pk_unit(platform: Any, code: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(OrgUnit.id).where(OrgUnit.code == code))).scalar_one()


@pytest.mark.parametrize(
    ("holder", "role", "held"),
    [
        ("admin", "AUDIT_ADMIN", "系统管理员 system_admin"),
        ("admin", "SECURITY_ADMIN", "系统管理员 system_admin"),
        ("audit_admin", "SYSTEM_ADMIN", "安全审计员 audit_admin"),
        ("audit_admin", "UNIT_ADMIN", "安全审计员 audit_admin"),
        ("jinan_admin", "SYSTEM_ADMIN", "单位管理员 unit_admin"),
    ],
)
async def test_one_account_cannot_hold_two_of_the_three_roles(
    client: GraphQLClient, platform: Any, holder: str, role: str, held: str
) -> None:
    await make_user(platform, "jinan_admin", "370100", Role.UNIT_ADMIN)
    security = await client.login("security_admin")
    before = await snapshot(platform)
    unit = await unit_gid(platform, "370100") if role == "UNIT_ADMIN" else None
    payload = (await security.execute(GRANT, {"id": await user_gid(platform, holder), "r": role, "u": unit}))["data"]
    assert payload["grantRole"] == {
        "user": None,
        "errors": [
            {"field": "role", "code": "ROLE_CONFLICT", "message": f"三员分立：该账号已担任{held}，不能再担任此角色"}
        ],
    }
    assert await snapshot(platform) == before


async def test_concurrent_conflicting_grants_leave_one_role(client: GraphQLClient, platform: Any) -> None:
    await make_user(platform, "security_two", None, Role.SECURITY_ADMIN)
    await make_user(platform, "candidate", "370102")
    one, two = await client.login("security_admin"), await client.login("security_two")
    target = await user_gid(platform, "candidate")
    results = await asyncio.gather(
        one.execute(GRANT, {"id": target, "r": "SYSTEM_ADMIN"}),
        two.execute(GRANT, {"id": target, "r": "AUDIT_ADMIN"}),
        one.execute(GRANT, {"id": target, "r": "SECURITY_ADMIN"}),
    )
    codes = sorted(tuple(e["code"] for e in r["data"]["grantRole"]["errors"]) for r in results)
    assert codes == [(), ("ROLE_CONFLICT",), ("ROLE_CONFLICT",)]
    roles = await roles_of(platform, "candidate")
    assert len(roles) == 1
    assert len(await audit_rows(platform, "role.grant")) == 1


# ---- authorization matrix ----------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sign-in through an identity provider configured (never contacted by these tests), so
    that linkIdentity and unlinkIdentity reach their permission checks."""
    return settings.model_copy(
        update={
            "oidc_issuer": "https://idp.sd.gov.cn",
            "oidc_client_id": "office",
            "oidc_redirect_uri": "https://office.sd.gov.cn/auth/oidc/callback",
            "oidc_app_return_uris": ["cn.gov.sd.office:/oidc"],
        }
    )


async def _ids(platform: Any) -> dict[str, Any]:
    """Global ids of the matrix's targets. Makes an integration client of Lixia (370102) with a
    webhook (to a loopback address: private targets allowed) and a dead letter, and gives
    jinan_user a provider identity, so that rotate/revoke/unlink/replay have something to act on."""
    platform.settings.webhook_allow_private = True
    async with platform.db.read() as s:
        admin = await load_actor(s, (await s.execute(select(User.id).where(User.username == "admin"))).scalar_one())
        lixia = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == "370102"))).scalar_one()
        post = (
            await s.execute(
                select(Position.id).join(User, User.id == Position.user_id).where(User.username == "jinan_user")
            )
        ).scalar_one()
        jinan_user = (await s.execute(select(User.id).where(User.username == "jinan_user"))).scalar_one()
    async with platform.db.unit_of_work() as uow:
        made, _ = await register_client(uow, admin, "区政务系统", lixia, ["directory:read", "events:receive"])
        hook, _ = await create_webhook(uow, platform.settings, admin, made.id, "http://127.0.0.1:9/hook")
        dead = WebhookDelivery(
            uid="00000000-0000-4000-8000-000000000001",
            webhook_id=hook.id,
            payload=[],
            status="dead",
            attempts=8,
            next_attempt_at=uow.now,
            dead_at=uow.now,
        )
        uow.session.add(dead)
        template = await create_template(
            uow,
            admin,
            TemplateInput(
                lixia,
                None,
                "区发文流程",
                [StepInput("核稿", StepMode.SINGLE, assignees=[AssigneeInput(duty=Duty.HEAD)])],
            ),
        )
        await link_identity(uow, admin, jinan_user, platform.settings.oidc_issuer, "linked-subject")
        in_review = await _document_in_review(uow.session, jinan_user, lixia)
        room = Room(name="区政府会议室", capacity=20, owner_unit_id=lixia)
        uow.session.add(room)
        await uow.session.flush()
    async with platform.db.read() as s:
        policy = (await s.execute(select(SlaPolicy.id).where(SlaPolicy.code == "hotline-12345"))).scalar_one()
        binding = (await s.execute(select(func.min(SlaBinding.id)))).scalar_one()
    return {
        "lixia": await unit_gid(platform, "370102"),
        "jinan": await unit_gid(platform, "370100"),
        "qingdao_district": await unit_gid(platform, "370202"),
        "clerk": await user_gid(platform, "clerk"),
        "jinan_user": await user_gid(platform, "jinan_user"),
        "deputy": await user_gid(platform, "deputy"),
        "jinan_user_post": gid("Position", post),
        "api_client": gid("ApiClient", made.id),
        "document": gid("Document", in_review),
        "route_template": gid("RouteTemplate", template.id),
        "sla_policy": policy,
        "sla_binding": binding,
        "room": gid("Room", room.id),
        "webhook": gid("Webhook", hook.id),
        "dead_letter": gid("WebhookDelivery", dead.id),
    }


async def _document_in_review(session: Any, drafter_id: int, unit_id: int) -> int:
    """A document of Lixia in review, its one step's task pending with clerk (for rerouteDocument)."""
    clerk = (await session.execute(select(User.id).where(User.username == "clerk"))).scalar_one()
    doc = Document(
        title="关于做好值班工作的通知",
        doc_type="notice",
        status="in_review",
        drafter_id=drafter_id,
        issuing_unit_id=unit_id,
        current_step=0,
        round=1,
    )
    session.add(doc)
    await session.flush()
    rs = RouteStep(document_id=doc.id, index=0, name="核稿", mode="single")
    session.add(rs)
    await session.flush()
    session.add(StepAssignee(step_id=rs.id, user_id=clerk, position=0))
    session.add(Task(document_id=doc.id, step_id=rs.id, round=1, assignee_id=clerk, sender_id=drafter_id))
    await session.flush()
    return doc.id


SET_DUTIES = """mutation($input: SetPositionDutiesInput!){ setPositionDuties(input:$input){ errors { field code } } }"""
IMPORT = """mutation($input: ImportOrganizationInput!){ importOrganization(input:$input){ errors { field code } } }"""
EXPORT = """query($root: ID){ exportOrganization(rootId:$root){ unitsCsv } }"""
HAND_OVER = (
    """mutation($f:ID!,$t:ID!){ handOverTasks(input:{fromUserId:$f,toUserId:$t}){ movedCount errors { code } } }"""
)
REGISTER_CLIENT = """mutation($u:ID!){ registerApiClient(input:{name:"新系统",unitId:$u,scopes:[DIRECTORY_READ]}){
  clientSecret errors { field code } } }"""
ROTATE_CLIENT = """mutation($id:ID!){ rotateApiClientSecret(input:{id:$id}){ clientSecret errors { field code } } }"""
REVOKE_CLIENT = (
    """mutation($id:ID!){ revokeApiClient(input:{id:$id}){ apiClient { revokedAt } errors { field code } } }"""
)
API_CLIENT = """query($id:ID!){ apiClient(id:$id){ name } }"""
LINK = """mutation($id:ID!,$s:String!){ linkIdentity(input:{userId:$id,subject:$s}){ errors { field code } } }"""
UNLINK = """mutation($id:ID!,$s:String!){ unlinkIdentity(input:{userId:$id,subject:$s}){ errors { field code } } }"""
LINKED = """query($id:ID!){ linkedIdentities(userId:$id){ subject } }"""
REROUTE = """mutation($d:ID!,$f:ID!,$t:ID!){ rerouteDocument(input:{documentId:$d,fromUserId:$f,toUserId:$t}){
  errors { field code } } }"""
OPEN_LOG = """query($d: ID!){ documentOpenLog(documentId:$d){ edges { node { openedAt } } } }"""
RESET_TOTP = """mutation($id:ID!){ resetTotp(input:{userId:$id}){ user { username } errors { field code } } }"""
CREATE_TEMPLATE = """mutation($input: CreateRouteTemplateInput!){ createRouteTemplate(input:$input){
  routeTemplate { id } errors { field code } } }"""
UPDATE_TEMPLATE = """mutation($id:ID!){ updateRouteTemplate(input:{id:$id,name:"新流程"}){ errors { field code } } }"""
DELETE_TEMPLATE = """mutation($id:ID!){ deleteRouteTemplate(input:{id:$id}){ deletedId errors { field code } } }"""
TEMPLATES = """query($u:ID!){ routeTemplates(unitId:$u){ name } }"""
LOAD_CALENDAR = """mutation($input: LoadWorkCalendarYearInput!){ loadWorkCalendarYear(input:$input){
  recomputedDeadlines errors { field code } } }"""
CREATE_POLICY = """mutation($input: CreateSlaPolicyInput!){ createSlaPolicy(input:$input){ errors { field code } } }"""
UPDATE_POLICY = """mutation($id:Int!){ updateSlaPolicy(input:{id:$id,limit:6}){ errors { field code } } }"""
BIND_POLICY = """mutation($input: BindSlaPolicyInput!){ bindSlaPolicy(input:$input){ errors { field code } } }"""
UNBIND_POLICY = """mutation($id:Int!){ unbindSlaPolicy(input:{bindingId:$id}){ errors { field code } } }"""
CREATE_ROOM = """mutation($u:ID!){ createRoom(input:{ownerUnitId:$u,name:"矩阵会议室",capacity:10}){
  room { id } errors { field code } } }"""
UPDATE_ROOM = """mutation($id:ID!){ updateRoom(input:{id:$id,version:1,capacity:12}){ errors { field code } } }"""
RETIRE_ROOM = """mutation($id:ID!){ retireRoom(input:{id:$id}){ errors { field code } } }"""
CREATE_WEBHOOK = """mutation($c:ID!){ createWebhook(input:{clientId:$c,url:"http://127.0.0.1:9/other"}){
  secret errors { field code } } }"""
WEBHOOKS = """query($c:ID!){ webhooks(clientId:$c){ edges { node { url } } } }"""
UPDATE_WEBHOOK = """mutation($id:ID!){ updateWebhook(input:{id:$id,enabled:false}){ errors { field code } } }"""
ROTATE_WEBHOOK = """mutation($id:ID!){ rotateWebhookSecret(input:{id:$id}){ secret errors { field code } } }"""
DEAD_LETTERS = """query($c:ID!){ webhookDeadLetters(clientId:$c){ edges { node { status } } } }"""
REPLAY_WEBHOOK = """mutation($ids:[ID!]!){ replayWebhookDeliveries(input:{ids:$ids}){ errors { field code } } }"""
DELETE_WEBHOOK = """mutation($id:ID!){ deleteWebhook(input:{id:$id}){ deletedId errors { field code } } }"""


ALL_ADMIN_OPERATIONS = [
    (
        "createOrgUnit",
        CREATE_UNIT,
        lambda i: {"input": {"code": "n-1", "name": "n", "kind": "OFFICE", "parentId": i["lixia"]}},
    ),
    ("updateOrgUnit", UPDATE_UNIT, lambda i: {"input": {"id": i["lixia"], "version": 1, "name": "n"}}),
    ("moveOrgUnit", MOVE_UNIT, lambda i: {"input": {"id": i["lixia"], "parentId": i["jinan"]}}),
    (
        "createUser",
        CREATE_USER,
        lambda i: {
            "input": {
                "username": "n-user",
                "displayName": "n",
                "password": "Passw0rd!",
                "unitId": i["lixia"],
                "title": "t",
            }
        },
    ),
    ("assignPosition", ASSIGN, lambda i: {"input": {"userId": i["jinan_user"], "unitId": i["lixia"], "title": "t"}}),
    ("disableUser", DISABLE, lambda i: {"id": i["jinan_user"]}),
    ("enableUser", ENABLE, lambda i: {"id": i["jinan_user"]}),
    ("resetPassword", RESET, lambda i: {"id": i["jinan_user"], "p": "Reset#2026"}),
    ("grantRole", GRANT, lambda i: {"id": i["deputy"], "r": "UNIT_ADMIN", "u": i["jinan"]}),
    ("revokeRole", REVOKE, lambda i: {"id": i["jinan_user"], "r": "UNIT_ADMIN", "u": i["jinan"]}),
    ("auditLog", AUDIT, lambda i: {}),
    ("setPositionDuties", SET_DUTIES, lambda i: {"input": {"positionId": i["jinan_user_post"], "duties": ["CLERK"]}}),
    (
        "importOrganization",
        IMPORT,
        lambda i: {"input": {"csv": "code,name,kind,parent_code\n370102-new,新科室,office,370102\n"}},
    ),
    ("exportOrganization", EXPORT, lambda i: {"root": i["lixia"]}),
    ("handOverTasks", HAND_OVER, lambda i: {"f": i["jinan_user"], "t": i["clerk"]}),
    ("registerApiClient", REGISTER_CLIENT, lambda i: {"u": i["lixia"]}),
    ("apiClient", API_CLIENT, lambda i: {"id": i["api_client"]}),
    # webhooks before the client is revoked below (a revoked client takes no new endpoint)
    ("createWebhook", CREATE_WEBHOOK, lambda i: {"c": i["api_client"]}),
    ("webhooks", WEBHOOKS, lambda i: {"c": i["api_client"]}),
    ("updateWebhook", UPDATE_WEBHOOK, lambda i: {"id": i["webhook"]}),
    ("rotateWebhookSecret", ROTATE_WEBHOOK, lambda i: {"id": i["webhook"]}),
    ("webhookDeadLetters", DEAD_LETTERS, lambda i: {"c": i["api_client"]}),
    ("replayWebhookDeliveries", REPLAY_WEBHOOK, lambda i: {"ids": [i["dead_letter"]]}),
    ("deleteWebhook", DELETE_WEBHOOK, lambda i: {"id": i["webhook"]}),
    ("rotateApiClientSecret", ROTATE_CLIENT, lambda i: {"id": i["api_client"]}),
    ("revokeApiClient", REVOKE_CLIENT, lambda i: {"id": i["api_client"]}),
    ("linkedIdentities", LINKED, lambda i: {"id": i["jinan_user"]}),
    ("unlinkIdentity", UNLINK, lambda i: {"id": i["jinan_user"], "s": "linked-subject"}),
    ("linkIdentity", LINK, lambda i: {"id": i["jinan_user"], "s": "new-subject"}),
    ("resetTotp", RESET_TOTP, lambda i: {"id": i["jinan_user"]}),
    ("rerouteDocument", REROUTE, lambda i: {"d": i["document"], "f": i["clerk"], "t": i["deputy"]}),
    ("documentOpenLog", OPEN_LOG, lambda i: {"d": "RG9jdW1lbnQ6MQ=="}),
    (
        "createRouteTemplate",
        CREATE_TEMPLATE,
        lambda i: {
            "input": {
                "unitId": i["lixia"],
                "docType": "NOTICE",
                "name": "通知流程",
                "steps": [{"name": "签发", "mode": "SINGLE", "signOff": True, "assignees": [{"duty": "HEAD"}]}],
            }
        },
    ),
    ("routeTemplates", TEMPLATES, lambda i: {"u": i["lixia"]}),
    ("updateRouteTemplate", UPDATE_TEMPLATE, lambda i: {"id": i["route_template"]}),
    ("deleteRouteTemplate", DELETE_TEMPLATE, lambda i: {"id": i["route_template"]}),
    (
        "loadWorkCalendarYear",
        LOAD_CALENDAR,
        lambda i: {"input": {"year": 2027, "holidays": HOLIDAYS_2027, "workdays": [], "source": "notice"}},
    ),
    (
        "createSlaPolicy",
        CREATE_POLICY,
        lambda i: {"input": {"code": "matrix-policy", "name": "矩阵", "limit": 3}},
    ),
    ("updateSlaPolicy", UPDATE_POLICY, lambda i: {"id": i["sla_policy"]}),
    (
        "bindSlaPolicy",
        BIND_POLICY,
        lambda i: {"input": {"policyCode": "hotline-12345", "target": "DOCUMENT", "docType": "NOTICE"}},
    ),
    ("unbindSlaPolicy", UNBIND_POLICY, lambda i: {"id": i["sla_binding"]}),
    ("createRoom", CREATE_ROOM, lambda i: {"u": i["lixia"]}),
    ("updateRoom", UPDATE_ROOM, lambda i: {"id": i["room"]}),
    ("retireRoom", RETIRE_ROOM, lambda i: {"id": i["room"]}),
]

#: Administrator root fields left out of the matrix, and why.
NOT_IN_MATRIX = {
    # A list of what the caller administers: another subtree's clients are simply not in it
    # (tests/api/test_clients.py checks the filtering).
    "apiClients",
}

#: How a sibling-subtree unit admin is refused where it is not a top-level FORBIDDEN.
SIBLING_REFUSAL = {
    "importOrganization": "OUT_OF_SCOPE",  # a per-row report: the row's unit is outside the subtree
    "apiClient": "NULL",  # existence outside the subtree is not revealed
}


def refusal(name: str, data: dict) -> str:
    """The top-level error code, else the payload's error codes, else "NULL" for no data."""
    if data.get("errors"):
        assert data["data"] is None or data["data"].get(name) is None, data
        return data["errors"][0]["extensions"]["code"]
    value = data["data"][name]
    if value is None:
        return "NULL"
    errors = value.get("errors", []) if isinstance(value, dict) else []
    return ",".join(sorted({e["code"] for e in errors})) or "ALLOWED"


def test_the_matrix_tries_every_administrator_operation() -> None:
    """Every root field gated by an administrator role is in the matrix (or named in NOT_IN_MATRIX)."""
    from strawberry.utils.str_converters import to_camel_case

    from schema import schema as graphql_schema
    from schema.common import IsAdmin, IsAuditAdmin, IsSecurityAdmin

    gated = set()
    for root in (graphql_schema.query, graphql_schema.mutation):
        for f in root.__strawberry_definition__.fields:
            if set(f.permission_classes) & {IsAdmin, IsSecurityAdmin, IsAuditAdmin}:
                gated.add(f.graphql_name or to_camel_case(f.python_name))
    assert sorted(gated - NOT_IN_MATRIX) == sorted(name for name, _, _ in ALL_ADMIN_OPERATIONS)


#: What each administrator may do; everything else must be refused with FORBIDDEN.
ALLOWED = {
    "admin": {
        "createOrgUnit",
        "updateOrgUnit",
        "moveOrgUnit",
        "createUser",
        "assignPosition",
        "disableUser",
        "enableUser",
        "resetPassword",
        "setPositionDuties",
        "importOrganization",
        "exportOrganization",
        "handOverTasks",
        "registerApiClient",
        "apiClient",
        "rotateApiClientSecret",
        "revokeApiClient",
        "linkedIdentities",
        "unlinkIdentity",
        "linkIdentity",
        "resetTotp",
        "rerouteDocument",
        "createRouteTemplate",
        "routeTemplates",
        "updateRouteTemplate",
        "deleteRouteTemplate",
        "loadWorkCalendarYear",
        "createSlaPolicy",
        "updateSlaPolicy",
        "bindSlaPolicy",
        "unbindSlaPolicy",
        "createRoom",
        "updateRoom",
        "retireRoom",
        "createWebhook",
        "webhooks",
        "updateWebhook",
        "rotateWebhookSecret",
        "webhookDeadLetters",
        "replayWebhookDeliveries",
        "deleteWebhook",
    },
    "security_admin": {"grantRole", "revokeRole"},
    "audit_admin": {"auditLog", "documentOpenLog"},
    "qingdao_admin": set(),  # a unit admin of a sibling subtree
}


@pytest.mark.parametrize("who", sorted(ALLOWED))
async def test_each_admin_role_is_refused_everything_outside_its_job(
    client: GraphQLClient, platform: Any, who: str
) -> None:
    await make_user(platform, "qingdao_admin", "370200", Role.UNIT_ADMIN)
    await make_user(platform, "jinan_user", "370102", Role.UNIT_ADMIN)  # lives in Jinan; unit admin of Lixia
    await make_user(platform, "jinan_boss", "370100", Role.UNIT_ADMIN)
    ids = await _ids(platform)
    actor = await client.login(who)
    refused = [op for op in ALL_ADMIN_OPERATIONS if op[0] not in ALLOWED[who]]
    assert len(refused) == len(ALL_ADMIN_OPERATIONS) - len(ALLOWED[who])
    before = await snapshot(platform)
    for name, query, variables in refused:
        vars_ = variables(ids)
        if name == "revokeRole":
            vars_ = {**vars_, "u": ids["lixia"]}
        data = await actor.execute(query, vars_)
        expected = SIBLING_REFUSAL.get(name, "FORBIDDEN") if who == "qingdao_admin" else "FORBIDDEN"
        assert (name, refusal(name, data)) == (name, expected)
    assert await snapshot(platform) == before


async def test_each_admin_role_can_do_its_own_job(client: GraphQLClient, platform: Any) -> None:
    """The counterpart of the refusals: the same operations succeed for the right role."""
    await make_user(platform, "jinan_user", "370102", Role.UNIT_ADMIN)
    ids = await _ids(platform)
    for who in ("admin", "security_admin", "audit_admin"):
        actor = await client.login(who)
        for name, query, variables in ALL_ADMIN_OPERATIONS:
            if name not in ALLOWED[who]:
                continue
            vars_ = variables(ids)
            if name == "revokeRole":
                vars_ = {**vars_, "u": ids["lixia"]}
            data = await actor.execute(query, vars_)
            assert (who, name, refusal(name, data)) == (who, name, "ALLOWED")


# ---- audit log ---------------------------------------------------------------------------


async def test_every_admin_change_writes_an_audit_row_the_audit_admin_can_query(
    client: GraphQLClient, platform: Any
) -> None:
    admin = await client.login("admin")
    lixia = await unit_gid(platform, "370102")
    lixia_pk = await _pk_unit(platform, "370102")
    created = (
        await admin.execute(CREATE_UNIT, {"input": {"code": "a-1", "name": "甲", "kind": "OFFICE", "parentId": lixia}})
    )["data"]["createOrgUnit"]["orgUnit"]
    await admin.execute(UPDATE_UNIT, {"input": {"id": created["id"], "name": "乙"}})
    await admin.execute(MOVE_UNIT, {"input": {"id": created["id"], "parentId": await unit_gid(platform, "370103")}})
    user = (
        await admin.execute(
            CREATE_USER,
            {
                "input": {
                    "username": "audited",
                    "displayName": "审",
                    "password": "Temp@2026",
                    "unitId": lixia,
                    "title": "科员",
                }
            },
        )
    )["data"]["createUser"]["user"]
    await admin.execute(ASSIGN, {"input": {"userId": user["id"], "unitId": created["id"], "title": "兼职"}})
    auditor = await client.login("audit_admin")
    page = (await auditor.execute(AUDIT, {"f": {"targetType": "OrgUnit"}}))["data"]["auditLog"]
    nodes = [e["node"] for e in page["edges"]]
    async with platform.db.read() as s:
        unit_pk = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == "a-1"))).scalar_one()
        county_pk = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == "370103"))).scalar_one()
        jinan_pk = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == "370100"))).scalar_one()
    admin_gid = await user_gid(platform, "admin")
    base = {"code": "a-1", "shortName": None, "kind": "office", "divisionCode": None, "isActive": True}
    path_lixia = f"/{await _root(platform)}/{jinan_pk}/{lixia_pk}/{unit_pk}/"
    path_county = f"/{await _root(platform)}/{jinan_pk}/{county_pk}/{unit_pk}/"
    assert [(n["action"], n["actorId"], n["targetId"], n["before"], n["after"], n["clientAddress"]) for n in nodes] == [
        (
            "org_unit.move",
            admin_gid,
            created["id"],
            {**base, "name": "乙", "parentId": lixia_pk, "path": path_lixia, "version": 2},
            {**base, "name": "乙", "parentId": county_pk, "path": path_county, "version": 3},
            "127.0.0.1",
        ),
        (
            "org_unit.update",
            admin_gid,
            created["id"],
            {**base, "name": "甲", "parentId": lixia_pk, "path": path_lixia, "version": 1},
            {**base, "name": "乙", "parentId": lixia_pk, "path": path_lixia, "version": 2},
            "127.0.0.1",
        ),
        (
            "org_unit.create",
            admin_gid,
            created["id"],
            None,
            {**base, "name": "甲", "parentId": lixia_pk, "path": path_lixia, "version": 1},
            "127.0.0.1",
        ),
    ]
    users = (await auditor.execute(AUDIT, {"f": {"action": "user.create"}}))["data"]["auditLog"]["edges"]
    assert [e["node"]["after"] for e in users] == [
        {
            "username": "audited",
            "displayName": "审",
            "unitId": lixia_pk,
            "title": "科员",
            "isActive": True,
            "mustChangePassword": True,
        }
    ]
    posts = (await auditor.execute(AUDIT, {"f": {"action": "position.assign"}}))["data"]["auditLog"]["edges"]
    user_pk = int(await _pk(platform, "audited"))
    assert [(e["node"]["targetType"], e["node"]["before"], e["node"]["after"]) for e in posts] == [
        (
            "Position",
            {"primaryUnitId": lixia_pk},
            {"userId": user_pk, "unitId": unit_pk, "title": "兼职", "isPrimary": False, "isLeader": False},
        )
    ]
    # Filters: actor, time window, pagination.
    mine = (await auditor.execute(AUDIT, {"f": {"actorId": admin_gid}, "first": 2}))["data"]["auditLog"]
    assert [e["node"]["action"] for e in mine["edges"]] == ["position.assign", "user.create"]
    assert mine["pageInfo"]["hasNextPage"] is True
    rest = await auditor.execute(AUDIT, {"f": {"actorId": admin_gid}, "after": mine["pageInfo"]["endCursor"]})
    assert [e["node"]["action"] for e in rest["data"]["auditLog"]["edges"]] == [
        "org_unit.move",
        "org_unit.update",
        "org_unit.create",
        "totp.enroll",  # the demo admin's first sign-in enrolls (tests/conftest.py)
        "login.success",
    ]
    future = (await auditor.execute(AUDIT, {"f": {"from": "2099-01-01T00:00:00+00:00"}}))["data"]["auditLog"]
    assert future["edges"] == []
    past = (await auditor.execute(AUDIT, {"f": {"to": "2000-01-01T00:00:00Z", "actorId": admin_gid}}))["data"]
    assert past["auditLog"]["edges"] == []
    naive = await auditor.execute(AUDIT, {"f": {"from": "2026-01-01T00:00:00"}})
    assert naive["errors"][0]["extensions"]["code"] == "INVALID_VALUE"


async def _root(platform: Any) -> int:
    return await _pk_unit(platform, "370000")


async def test_login_and_session_events_are_audited(client: GraphQLClient, platform: Any) -> None:
    await login_payload(client, "clerk", "Wrong-pass1")
    session = await login_payload(client, "clerk")
    await client.execute(LOGOUT, {"t": session["refreshToken"]}, token=session["accessToken"])
    auditor = await client.login("audit_admin")
    edges = (await auditor.execute(AUDIT, {"f": {"targetType": "Username"}}))["data"]["auditLog"]["edges"]
    assert [(e["node"]["action"], e["node"]["targetId"], e["node"]["actorId"]) for e in edges] == [
        ("login.failure", "clerk", None)
    ]
    clerk = await user_gid(platform, "clerk")
    edges = (await auditor.execute(AUDIT, {"f": {"actorId": clerk}}))["data"]["auditLog"]["edges"]
    assert [(e["node"]["action"], e["node"]["targetId"]) for e in edges] == [
        ("logout", clerk),
        ("login.success", clerk),
    ]


async def test_no_operation_changes_or_deletes_the_audit_log() -> None:
    from schema import schema

    names = [f.name for f in schema.mutation.__strawberry_definition__.fields]
    assert [n for n in names if "audit" in n.lower()] == []


async def test_audit_rows_are_not_written_when_the_change_is_refused(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    count = len(await audit_rows(platform))
    bad = (
        await admin.execute(
            CREATE_UNIT,
            {
                "input": {
                    "code": "370100",
                    "name": "重复",
                    "kind": "OFFICE",
                    "parentId": await unit_gid(platform, "370100"),
                }
            },
        )
    )["data"]["createOrgUnit"]
    assert [e["code"] for e in bad["errors"]] == ["DUPLICATE"]
    assert len(await audit_rows(platform)) == count
    async with platform.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one() == count


def test_gid_helper_is_shared() -> None:
    assert gid("User", 1) == "VXNlcjox"


async def test_no_administrator_can_take_over_a_higher_account(client: GraphQLClient, platform: Any) -> None:
    """Resetting a password is signing in as that person: refused on the three separated
    roles (for everyone) and on accounts with a wider scope (for unit admins)."""
    await make_user(platform, "lixia_admin", "370102", Role.UNIT_ADMIN)
    sys_in_lixia = await make_user(platform, "sys_in_lixia", "370102", Role.SYSTEM_ADMIN)
    boss = await make_user(platform, "jinan_boss", "370102")
    async with platform.db.unit_of_work() as uow:
        await grant_role(uow, boss, Role.UNIT_ADMIN, await _pk_unit(platform, "370100"))
    admin, lixia_admin = await client.login("admin"), await client.login("lixia_admin")
    before = await snapshot(platform)
    for target in ("security_admin", "audit_admin", "sys_in_lixia"):
        data = await admin.execute(RESET, {"id": await user_gid(platform, target), "p": "Reset#2026"})
        assert (target, code_of(data)) == (target, "FORBIDDEN")
    for query, variables in (
        (RESET, {"id": gid("User", sys_in_lixia), "p": "Reset#2026"}),
        (DISABLE, {"id": gid("User", sys_in_lixia)}),
        (RESET, {"id": gid("User", boss), "p": "Reset#2026"}),
        (DISABLE, {"id": gid("User", boss)}),
    ):
        assert code_of(await lixia_admin.execute(query, variables)) == "FORBIDDEN"
    assert await snapshot(platform) == before
    # Within its scope a unit admin does manage accounts, unit admins below it included.
    await make_user(platform, "lixia_clerk", "370102")
    jinan_boss = await client.login("jinan_boss")
    for target in ("lixia_clerk", "lixia_admin"):
        result = (await jinan_boss.execute(DISABLE, {"id": await user_gid(platform, target)}))["data"]["disableUser"]
        assert result == {"user": {"username": target, "isActive": False}, "errors": []}


async def test_the_database_refuses_to_change_or_delete_recent_audit_rows(client: GraphQLClient, platform: Any) -> None:
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    await client.login("clerk")
    before = [(r.id, r.action, r.after) for r in await audit_rows(platform)]
    assert [a for _, a, _ in before] == ["login.success"]
    with pytest.raises(DBAPIError, match="append-only"):
        async with platform.db.unit_of_work() as uow:
            await uow.session.execute(update(AuditEntry).values(action="tampered"))
    with pytest.raises(DBAPIError, match="180 days"):
        async with platform.db.unit_of_work() as uow:
            await uow.session.execute(delete(AuditEntry))
    assert [(r.id, r.action, r.after) for r in await audit_rows(platform)] == before


def test_migration_0002_downgrades_and_upgrades_again(tmp_path: Any) -> None:
    from alembic import command

    from office_api.migrate import alembic_config, upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "0001")
    upgrade(url)


async def test_the_audit_log_filters_by_target(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    lixia = await unit_gid(platform, "370102")
    created = (
        await admin.execute(CREATE_UNIT, {"input": {"code": "t-1", "name": "甲", "kind": "OFFICE", "parentId": lixia}})
    )["data"]["createOrgUnit"]["orgUnit"]
    await admin.execute(UPDATE_UNIT, {"input": {"id": created["id"], "name": "乙"}})
    await client.execute(LOGIN, {"u": "ghost_user", "p": "wrong"})
    auditor = await client.login("audit_admin")

    async def actions(flt: dict) -> list[tuple[str, str, str]]:
        page = (await auditor.execute(AUDIT, {"f": flt}))["data"]["auditLog"]["edges"]
        return [(e["node"]["action"], e["node"]["targetType"], e["node"]["targetId"]) for e in page]

    unit_rows = [("org_unit.update", "OrgUnit", created["id"]), ("org_unit.create", "OrgUnit", created["id"])]
    assert await actions({"targetId": created["id"]}) == unit_rows
    assert await actions({"targetId": created["id"], "targetType": "OrgUnit"}) == unit_rows
    # The same primary key as a User's global id is another target.
    pk = base64.b64decode(created["id"]).decode().split(":")[1]
    assert await actions({"targetId": gid("User", int(pk)), "targetType": "OrgUnit"}) == []
    assert ("org_unit.create", "OrgUnit", created["id"]) not in await actions({"targetId": gid("User", int(pk))})
    assert await actions({"targetId": "ghost_user"}) == [("login.failure", "Username", "ghost_user")]

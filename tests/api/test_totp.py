"""Two-factor sign-in (TOTP, RFC 6238) over GraphQL: enrollment, login with a code, replay
protection, lockout, the restricted session of the three administrators, turning it off,
an administrator's reset, and the audit rows of all of it.

The platform clock is fixed (``platform.clock``), so time steps are deterministic; codes are
computed with pyotp, independently of the implementation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from office_api import totp
from office_api.org.models import AuditEntry, Role, User, UserTotp
from tests.api.test_accounts import GRANT, audit_rows, code_of, make_user, snapshot
from tests.api.test_org import CREATE_UNIT, unit_gid, user_gid
from tests.conftest import CONFIRM_TOTP, DEMO_PASSWORD, START_TOTP, GraphQLClient, totp_code

#: A whole minute: the start of a time step.
T0 = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
STEP = dt.timedelta(seconds=30)

LOGIN = """mutation($u:String!,$p:String!,$c:String){ login(input:{username:$u,password:$p,totpCode:$c}){
  accessToken refreshToken mustChangePassword mustEnrollTotp user { username } errors { field code message } } }"""
ME = "{ me { username totpEnabled mustEnrollTotp } }"
DISABLE_TOTP = """mutation($p:String!,$c:String!){ disableTotp(input:{password:$p,code:$c}){
  ok errors { field code message } } }"""
RESET_TOTP = """mutation($id:ID!){ resetTotp(input:{userId:$id}){ user { username } errors { field code message } } }"""
START = "mutation{ startTotpEnrollment { secret otpauthUri errors { field code message } } }"
CONFIRM = """mutation($c:String!){ confirmTotpEnrollment(input:{code:$c}){
  accessToken refreshToken expiresAt errors { field code message } } }"""
REFUSED_LOGIN = {"accessToken": None, "refreshToken": None, "mustChangePassword": False, "mustEnrollTotp": False}


def at(platform: Any, when: dt.datetime) -> dt.datetime:
    """Set the platform clock to ``when``."""
    platform.clock = lambda: when
    return when


async def login(client: GraphQLClient, username: str, code: str | None = None, password: str = DEMO_PASSWORD) -> dict:
    return (await client.execute(LOGIN, {"u": username, "p": password, "c": code}))["data"]["login"]


def wrong(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


async def enroll(client: GraphQLClient, token: str, when: dt.datetime) -> tuple[str, str]:
    """Enroll the token's user at ``when``; returns the secret and the fresh access token."""
    started = (await client.execute(START_TOTP, token=token))["data"]["startTotpEnrollment"]
    assert started["errors"] == [], started
    confirmed = (await client.execute(CONFIRM_TOTP, {"c": totp_code(started["secret"], when)}, token=token))["data"][
        "confirmTotpEnrollment"
    ]
    assert confirmed["errors"] == [], confirmed
    return started["secret"], confirmed["accessToken"]


async def totp_row(platform: Any, username: str) -> UserTotp | None:
    async with platform.db.read() as s:
        return (
            await s.execute(select(UserTotp).join(User, User.id == UserTotp.user_id).where(User.username == username))
        ).scalar_one_or_none()


async def totp_rows(platform: Any) -> list[tuple]:
    async with platform.db.read() as s:
        cols = list(UserTotp.__table__.columns)
        return [tuple(r) for r in (await s.execute(select(*cols).order_by(UserTotp.user_id))).all()]


async def actions(platform: Any, prefix: str) -> list[AuditEntry]:
    return [r for r in await audit_rows(platform) if r.action.startswith(prefix)]


# ---- enrollment and sign-in ---------------------------------------------------------------


async def test_enroll_confirm_and_sign_in_with_a_code(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    first = await login(client, "clerk")
    token = first["accessToken"]
    assert (first["errors"], first["mustEnrollTotp"]) == ([], False)  # optional for a civil servant
    assert (await client.execute(ME, token=token))["data"]["me"] == {
        "username": "clerk",
        "totpEnabled": False,
        "mustEnrollTotp": False,
    }

    started = (await client.execute(START, token=token))["data"]["startTotpEnrollment"]
    secret = started["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    assert started["otpauthUri"] == f"otpauth://totp/office-api:clerk?secret={secret}&issuer=office-api"
    # Starting again replaces the pending secret: a code of the first one no longer confirms.
    again = (await client.execute(START, token=token))["data"]["startTotpEnrollment"]
    assert again["secret"] != secret
    stale = (await client.execute(CONFIRM, {"c": totp_code(secret, T0)}, token=token))["data"]
    assert stale["confirmTotpEnrollment"]["errors"] == [
        {"field": "code", "code": "INVALID_CREDENTIALS", "message": "动态口令错误或已使用过"}
    ]
    secret = again["secret"]
    # Pending is not on: the password alone still signs in.
    assert (await login(client, "clerk"))["errors"] == []
    client.lang = "en"
    bad = (await client.execute(CONFIRM, {"c": wrong(totp_code(secret, T0))}, token=token))["data"]
    assert bad["confirmTotpEnrollment"]["errors"] == [
        {"field": "code", "code": "INVALID_CREDENTIALS", "message": "Wrong or already used one-time code"}
    ]
    client.lang = "zh"
    confirmed = (await client.execute(CONFIRM, {"c": totp_code(secret, T0)}, token=token))["data"][
        "confirmTotpEnrollment"
    ]
    assert confirmed["errors"] == []
    # Every session opened with the password alone ends; the fresh one is whole.
    assert code_of(await client.execute(ME, token=token)) == "UNAUTHENTICATED"
    assert (await client.execute(ME, token=confirmed["accessToken"]))["data"]["me"] == {
        "username": "clerk",
        "totpEnabled": True,
        "mustEnrollTotp": False,
    }
    # Stored encrypted.
    row = await totp_row(platform, "clerk")
    assert row is not None
    assert row.pending_secret is None
    assert secret not in row.secret
    assert totp.decrypt_secret(platform.settings, row.secret) == secret
    assert row.last_used_step == int(T0.timestamp()) // 30

    # Sign-in: the right password without a code is asked for one (no tokens) ...
    missing = await login(client, "clerk")
    assert missing == {
        **REFUSED_LOGIN,
        "user": None,
        "errors": [{"field": "totpCode", "code": "TOTP_REQUIRED", "message": "请输入身份验证器显示的动态口令"}],
    }
    # ... a wrong password with any code is the usual refusal (the code is not even looked at) ...
    assert (await login(client, "clerk", totp_code(secret, T0 + STEP), "Wrong-pass1"))["errors"] == [
        {"field": None, "code": "INVALID_CREDENTIALS", "message": "用户名或密码错误"}
    ]
    # ... a wrong code and the code already used for the confirmation are refused ...
    refused = [{"field": "totpCode", "code": "INVALID_CREDENTIALS", "message": "动态口令错误或已使用过"}]
    assert (await login(client, "clerk", wrong(totp_code(secret, T0))))["errors"] == refused
    assert (await login(client, "clerk", totp_code(secret, T0)))["errors"] == refused
    # ... and a fresh code signs in (spaces are ignored).
    at(platform, T0 + STEP)
    code = totp_code(secret, T0 + STEP)
    ok = await login(client, "clerk", f"{code[:3]} {code[3:]}")
    assert (ok["errors"], ok["user"], ok["mustEnrollTotp"]) == ([], {"username": "clerk"}, False)
    assert (await client.execute(ME, token=ok["accessToken"]))["data"]["me"]["totpEnabled"] is True
    # Refreshing needs no code.
    refreshed = (
        await client.execute(
            "mutation($t:String!){ refreshToken(input:{refreshToken:$t}){ accessToken mustEnrollTotp errors{code} } }",
            {"t": ok["refreshToken"]},
        )
    )["data"]["refreshToken"]
    assert (refreshed["errors"], refreshed["mustEnrollTotp"]) == ([], False)

    clerk_pk = str(await _pk(platform, "clerk"))
    assert [(r.action, r.actor_id, r.target_id, r.before, r.after) for r in await actions(platform, "totp.")] == [
        ("totp.enroll", int(clerk_pk), clerk_pk, {"totpEnabled": False}, {"totpEnabled": True})
    ]
    logins = [(r.action, r.target_id, r.after) for r in await actions(platform, "login.")]
    assert logins[-5:] == [
        ("login.failure", "clerk", {"reason": "totp_missing"}),
        ("login.failure", "clerk", {"failures": 1}),
        ("login.failure", "clerk", {"failures": 2, "reason": "totp_invalid"}),
        ("login.failure", "clerk", {"failures": 3, "reason": "totp_replayed"}),
        ("login.success", clerk_pk, {"mustChangePassword": False, "totp": True}),
    ]


async def _pk(platform: Any, username: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(User.id).where(User.username == username))).scalar_one()


async def test_codes_are_accepted_one_step_either_way_and_each_step_once(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    secret, _ = await enroll(client, (await login(client, "clerk"))["accessToken"], T0)
    later = at(platform, T0 + dt.timedelta(minutes=5))
    assert (await login(client, "clerk", totp_code(secret, later, -2)))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert (await login(client, "clerk", totp_code(secret, later, +2)))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert (await login(client, "clerk", totp_code(secret, later, -1)))["errors"] == []  # a slow phone
    assert (await login(client, "clerk", totp_code(secret, later, +1)))["errors"] == []  # a fast one
    # Step +1 was used: the current step's code is older, so it is refused too (RFC 6238 §5.2).
    assert (await login(client, "clerk", totp_code(secret, later)))["errors"][0]["field"] == "totpCode"
    assert (await login(client, "clerk", totp_code(secret, later, +1)))["errors"][0]["field"] == "totpCode"
    at(platform, later + 2 * STEP)
    assert (await login(client, "clerk", totp_code(secret, later, +2)))["errors"] == []
    row = await totp_row(platform, "clerk")
    assert row is not None
    assert row.last_used_step == int(later.timestamp()) // 30 + 2


async def test_two_logins_with_the_same_code_at_once_exactly_one_succeeds(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    secret, _ = await enroll(client, (await login(client, "clerk"))["accessToken"], T0)
    at(platform, T0 + STEP)
    code = totp_code(secret, T0 + STEP)
    results = await asyncio.gather(*(login(client, "clerk", code) for _ in range(4)))
    succeeded = [r for r in results if r["errors"] == []]
    assert len(succeeded) == 1, results
    assert sorted(r["errors"][0]["field"] for r in results if r["errors"]) == ["totpCode"] * 3
    reasons = [r.after.get("reason") for r in await actions(platform, "login.failure")]
    assert reasons.count("totp_replayed") == 3
    # The same race straight on the service, without HTTP in between.
    from office_api import auth
    from office_api.errors import DomainError

    at(platform, T0 + 2 * STEP)
    code = totp_code(secret, T0 + 2 * STEP)

    async def attempt() -> bool:
        try:
            await auth.login(platform.db, platform.settings, "clerk", DEMO_PASSWORD, now=T0 + 2 * STEP, totp_code=code)
        except DomainError:
            return False
        return True

    assert sorted(await asyncio.gather(attempt(), attempt())) == [False, True]


async def test_wrong_codes_count_toward_the_username_lockout(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    secret, _ = await enroll(client, (await login(client, "clerk"))["accessToken"], T0)
    now = at(platform, T0 + dt.timedelta(minutes=1))
    good = totp_code(secret, now)
    assert (await login(client, "clerk", good, "Wrong-pass1"))["errors"][0]["field"] is None  # 1
    assert (await login(client, "clerk"))["errors"][0]["code"] == "TOTP_REQUIRED"  # neither counts nor resets
    assert (await login(client, "clerk", wrong(good)))["errors"][0]["field"] == "totpCode"  # 2
    assert (await login(client, "clerk", "12345"))["errors"][0]["field"] == "totpCode"  # 3 (not even 6 digits)
    assert (await login(client, "clerk", "abcdef"))["errors"][0]["field"] == "totpCode"  # 4
    assert (await login(client, "clerk"))["errors"][0]["code"] == "TOTP_REQUIRED"
    assert (await login(client, "clerk", wrong(good)))["errors"][0]["field"] == "totpCode"  # 5: locked
    # Locked: the right password and the right code get the plain refusal, and the code is not spent.
    locked = await login(client, "clerk", good)
    assert locked["errors"] == [{"field": None, "code": "INVALID_CREDENTIALS", "message": "用户名或密码错误"}]
    assert (await login(client, "clerk"))["errors"][0] == locked["errors"][0]  # no TOTP_REQUIRED while locked
    lockouts = await actions(platform, "login.lockout")
    assert [(r.target_id, r.after["failures"], r.after["reason"]) for r in lockouts] == [("clerk", 5, "totp_invalid")]
    later = at(platform, now + dt.timedelta(minutes=15))
    assert (await login(client, "clerk", totp_code(secret, later)))["errors"] == []


# ---- the three administrators --------------------------------------------------------------


FORBIDDEN_BEFORE_ENROLLING = {
    "admin": (
        CREATE_UNIT,
        lambda ids: {"input": {"code": "totp-1", "name": "甲", "kind": "OFFICE", "parentId": ids[0]}},
    ),
    "security_admin": (GRANT, lambda ids: {"id": ids[1], "r": "UNIT_ADMIN", "u": ids[0]}),
    "audit_admin": ("{ auditLog(first: 5) { edges { node { action } } } }", lambda ids: {}),
}


@pytest.mark.parametrize("who", sorted(FORBIDDEN_BEFORE_ENROLLING))
async def test_an_administrator_without_totp_gets_a_restricted_session_until_enrolled(
    client: GraphQLClient, platform: Any, who: str
) -> None:
    at(platform, T0)
    ids = (await unit_gid(platform, "370102"), await user_gid(platform, "clerk"))
    query, variables = FORBIDDEN_BEFORE_ENROLLING[who]
    first = await login(client, who)
    assert (first["errors"], first["mustEnrollTotp"], first["mustChangePassword"]) == ([], True, False)
    token = first["accessToken"]
    before = await snapshot(platform)
    client.lang = "en"
    refused = await client.execute(query, variables(ids), token=token)
    assert code_of(refused) == "TOTP_ENROLLMENT_REQUIRED"
    assert refused["errors"][0]["message"] == (
        "System, security and audit administrators must use two-factor sign-in: enroll an authenticator app first "
        "(startTotpEnrollment, confirmTotpEnrollment)"
    )
    for other in (
        "{ orgUnits(first: 1) { edges { node { name } } } }",
        "{ unreadNotificationCount }",
        '{ directory(query: "zw") { edges { node { displayName } } } }',
        "{ me { positions { unit { name } } } }",
    ):
        assert code_of(await client.execute(other, token=token)) == "TOTP_ENROLLMENT_REQUIRED", other
    disabled = await client.execute(DISABLE_TOTP, {"p": DEMO_PASSWORD, "c": "123456"}, token=token)
    assert code_of(disabled) == "TOTP_ENROLLMENT_REQUIRED"
    assert await snapshot(platform) == before  # nothing changed, not even an audit row
    # What works: me, and the enrollment.
    assert (await client.execute(ME, token=token))["data"]["me"] == {
        "username": who,
        "totpEnabled": False,
        "mustEnrollTotp": True,
    }
    _, fresh = await enroll(client, token, T0)
    assert code_of(await client.execute(ME, token=token)) == "UNAUTHENTICATED"  # the restricted session ended
    allowed = await client.execute(query, variables(ids), token=fresh)
    assert allowed.get("errors") is None, allowed
    assert all(not (v or {}).get("errors") for v in allowed["data"].values()), allowed
    assert (await client.execute(ME, token=fresh))["data"]["me"]["mustEnrollTotp"] is False
    # From now on the administrator signs in with a code.
    at(platform, T0 + STEP)
    assert (await login(client, who))["errors"][0]["code"] == "TOTP_REQUIRED"


async def test_logout_and_change_password_work_in_a_restricted_session(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    token = (await login(client, "admin"))["accessToken"]
    changed = (
        await client.execute(
            """mutation($o:String!,$n:String!){ changePassword(input:{oldPassword:$o,newPassword:$n}){
              accessToken errors { code } } }""",
            {"o": DEMO_PASSWORD, "n": "Chang3d!pass"},
            token=token,
        )
    )["data"]["changePassword"]
    assert changed["errors"] == []
    token = changed["accessToken"]
    assert (await client.execute(ME, token=token))["data"]["me"]["mustEnrollTotp"] is True
    out = await client.execute("mutation{ logout(input:{}){ ok errors { code } } }", token=token)
    assert out["data"]["logout"] == {"ok": True, "errors": []}
    assert code_of(await client.execute(ME, token=token)) == "UNAUTHENTICATED"


async def test_a_forced_password_change_comes_before_the_enrollment(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    uid = await make_user(platform, "new_auditor", None, Role.AUDIT_ADMIN)
    async with platform.db.unit_of_work() as uow:
        (await uow.session.get(User, uid)).must_change_password = True
    first = await login(client, "new_auditor")
    assert (first["mustChangePassword"], first["mustEnrollTotp"]) == (True, True)
    assert code_of(await client.execute(ME, token=first["accessToken"])) == "PASSWORD_CHANGE_REQUIRED"
    assert code_of(await client.execute(START, token=first["accessToken"])) == "PASSWORD_CHANGE_REQUIRED"


async def test_granting_an_administrator_role_restricts_from_the_next_request(
    client: GraphQLClient, platform: Any
) -> None:
    at(platform, T0)
    await make_user(platform, "future_admin")
    await make_user(platform, "careful_admin")
    session = (await login(client, "future_admin"))["accessToken"]
    careful = (await login(client, "careful_admin"))["accessToken"]
    _, careful = await enroll(client, careful, T0)  # turned it on before being granted anything
    assert (await client.execute("{ unreadNotificationCount }", token=session))["data"] == {
        "unreadNotificationCount": 0
    }
    security = await client.login("security_admin")
    for username in ("future_admin", "careful_admin"):
        granted = await security.execute(GRANT, {"id": await user_gid(platform, username), "r": "SYSTEM_ADMIN"})
        assert granted["data"]["grantRole"]["errors"] == [], granted
    # The same token, next request: restricted (the actor is built from the database each time).
    assert code_of(await client.execute("{ unreadNotificationCount }", token=session)) == "TOTP_ENROLLMENT_REQUIRED"
    assert (await client.execute(ME, token=session))["data"]["me"]["mustEnrollTotp"] is True
    # Whoever has it on already is not restricted.
    lixia = await unit_gid(platform, "370102")
    created = await client.execute(
        CREATE_UNIT, {"input": {"code": "careful-1", "name": "乙", "kind": "OFFICE", "parentId": lixia}}, token=careful
    )
    assert created["data"]["createOrgUnit"]["errors"] == [], created


async def test_the_flags_are_only_shown_for_yourself(client: GraphQLClient, platform: Any) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute(
        """query($id: ID!) { orgUnit(id: $id) { members(first: 50) { edges { node { user {
             username totpEnabled mustEnrollTotp } } } } } }""",
        {"id": await unit_gid(platform, "370000-general_office")},
    )
    users = {e["node"]["user"]["username"]: e["node"]["user"] for e in data["data"]["orgUnit"]["members"]["edges"]}
    assert users["clerk"] == {"username": "clerk", "totpEnabled": False, "mustEnrollTotp": False}
    assert users["deputy"] == {"username": "deputy", "totpEnabled": None, "mustEnrollTotp": None}


# ---- turning it off, reset ----------------------------------------------------------------


async def test_disabling_your_own_totp_needs_the_password_and_a_code(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    clerk = (await login(client, "clerk"))["accessToken"]
    not_on = (await client.execute(DISABLE_TOTP, {"p": DEMO_PASSWORD, "c": "123456"}, token=clerk))["data"]
    assert [(e["field"], e["code"]) for e in not_on["disableTotp"]["errors"]] == [(None, "INVALID_STATE")]
    secret, clerk = await enroll(client, clerk, T0)
    now = at(platform, T0 + STEP)
    code = totp_code(secret, now)
    bad_password = (await client.execute(DISABLE_TOTP, {"p": "Wrong-pass1", "c": code}, token=clerk))["data"]
    assert [(e["field"], e["code"]) for e in bad_password["disableTotp"]["errors"]] == [
        ("password", "INVALID_CREDENTIALS")
    ]
    bad_code = (await client.execute(DISABLE_TOTP, {"p": DEMO_PASSWORD, "c": wrong(code)}, token=clerk))["data"]
    assert [(e["field"], e["code"]) for e in bad_code["disableTotp"]["errors"]] == [("code", "INVALID_CREDENTIALS")]
    used = (await client.execute(DISABLE_TOTP, {"p": DEMO_PASSWORD, "c": totp_code(secret, T0)}, token=clerk))["data"]
    assert [(e["field"], e["code"]) for e in used["disableTotp"]["errors"]] == [("code", "INVALID_CREDENTIALS")]
    assert (await totp_row(platform, "clerk")).secret is not None
    done = (await client.execute(DISABLE_TOTP, {"p": DEMO_PASSWORD, "c": code}, token=clerk))["data"]
    assert done["disableTotp"] == {"ok": True, "errors": []}
    assert (await login(client, "clerk"))["errors"] == []  # the password alone again
    assert (await client.execute(ME, token=clerk))["data"]["me"]["totpEnabled"] is False
    pk = await _pk(platform, "clerk")
    assert [(r.action, r.actor_id, r.target_id, r.before, r.after) for r in await actions(platform, "totp.")] == [
        ("totp.enroll", pk, str(pk), {"totpEnabled": False}, {"totpEnabled": True}),
        ("totp.disable", pk, str(pk), {"totpEnabled": True}, {"totpEnabled": False}),
    ]


async def test_an_administrator_cannot_turn_it_off(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    admin = await client.login("admin")
    secret, _ = await totp_secret(platform, "admin")
    now = at(platform, T0 + 4 * STEP)
    client.lang = "en"
    refused = (
        await client.execute(DISABLE_TOTP, {"p": DEMO_PASSWORD, "c": totp_code(secret, now)}, token=admin.token)
    )["data"]["disableTotp"]
    assert refused == {
        "ok": False,
        "errors": [
            {
                "field": None,
                "code": "TOTP_REQUIRED_BY_ROLE",
                "message": "Your administrator role requires two-factor sign-in: it cannot be turned off",
            }
        ],
    }
    assert (await totp_row(platform, "admin")).secret is not None
    assert await actions(platform, "totp.disable") == []


async def totp_secret(platform: Any, username: str) -> tuple[str, int]:
    row = await totp_row(platform, username)
    assert row is not None
    assert row.secret is not None
    return totp.decrypt_secret(platform.settings, row.secret), row.last_used_step


async def test_an_admin_who_may_reset_the_password_may_reset_the_totp(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    await make_user(platform, "lixia_user", "370102")
    await make_user(platform, "qingdao_admin", "370200", Role.UNIT_ADMIN)  # a sibling subtree
    await make_user(platform, "jinan_admin", "370100", Role.UNIT_ADMIN)
    user_token = (await login(client, "lixia_user"))["accessToken"]
    secret, user_token = await enroll(client, user_token, T0)
    target = await user_gid(platform, "lixia_user")
    qingdao, jinan = await client.login("qingdao_admin"), await client.login("jinan_admin")
    security, auditor, admin = [await client.login(who) for who in ("security_admin", "audit_admin", "admin")]
    before = (await snapshot(platform), await totp_rows(platform))
    assert code_of(await qingdao.execute(RESET_TOTP, {"id": target})) == "FORBIDDEN"
    assert code_of(await security.execute(RESET_TOTP, {"id": target})) == "FORBIDDEN"
    assert code_of(await auditor.execute(RESET_TOTP, {"id": target})) == "FORBIDDEN"
    # Nobody resets one of the three administrators through the API (as with passwords).
    assert code_of(await admin.execute(RESET_TOTP, {"id": await user_gid(platform, "audit_admin")})) == "FORBIDDEN"
    own = (await admin.execute(RESET_TOTP, {"id": await user_gid(platform, "admin")}))["data"]["resetTotp"]
    assert [(e["field"], e["code"]) for e in own["errors"]] == [("userId", "INVALID_STATE")]
    assert (await snapshot(platform), await totp_rows(platform)) == before  # nothing changed

    reset = (await jinan.execute(RESET_TOTP, {"id": target}))["data"]["resetTotp"]
    assert reset == {"user": {"username": "lixia_user"}, "errors": []}
    assert code_of(await client.execute(ME, token=user_token)) == "UNAUTHENTICATED"  # sessions revoked
    assert (await login(client, "lixia_user"))["errors"] == []  # the password alone: enroll again if wished
    row = await totp_row(platform, "lixia_user")
    assert (row.secret, row.pending_secret, row.last_used_step) == (None, None, None)
    # Nothing left to reset: nothing changes, no row.
    again = (await jinan.execute(RESET_TOTP, {"id": target}))["data"]["resetTotp"]
    assert again["errors"] == []
    rows = await actions(platform, "totp.reset")
    uid = await _pk(platform, "lixia_user")
    assert [(r.actor_id, r.target_id, r.before, r.after) for r in rows] == [
        (
            await _pk(platform, "jinan_admin"),
            str(uid),
            {"totpEnabled": True, "enrollmentPending": False},
            {"totpEnabled": False, "enrollmentPending": False},
        )
    ]
    assert pyotp.TOTP(secret).at(T0)  # the old secret no longer counts: sign-in needs no code


async def test_start_is_refused_while_on(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    _, token = await enroll(client, (await login(client, "clerk"))["accessToken"], T0)
    again = (await client.execute(START, token=token))["data"]["startTotpEnrollment"]
    assert (again["secret"], [e["code"] for e in again["errors"]]) == (None, ["INVALID_STATE"])
    confirm = (await client.execute(CONFIRM, {"c": "123456"}, token=token))["data"]["confirmTotpEnrollment"]
    assert [e["code"] for e in confirm["errors"]] == ["INVALID_STATE"]


async def test_the_test_client_signs_an_administrator_in_repeatedly(client: GraphQLClient, platform: Any) -> None:
    """tests/conftest.py: enrolls at the first sign-in, uses fresh codes, then opens sessions
    directly once both usable steps are spent (replay protection would refuse the code)."""
    at(platform, T0)
    tokens = [(await client.login("admin")).token for _ in range(4)]
    assert len(set(tokens)) == 4
    for token in tokens:
        assert (await client.execute(ME, token=token))["data"]["me"]["mustEnrollTotp"] is False
    _, last = await totp_secret(platform, "admin")
    assert last == int(T0.timestamp()) // 30 + 1
    assert pyotp.TOTP((await totp_secret(platform, "admin"))[0]).at(T0)  # a real secret


def test_the_operator_resets_an_administrator_from_the_command_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``office-api reset-totp USERNAME``: for the accounts no API caller may reset; audited."""
    from office_api.cli import main
    from office_api.config import Settings
    from office_api.db import Database
    from office_api.org import two_factor
    from tests.conftest import TEST_SECRET

    settings = Settings(database_url=database_url, jwt_secret=TEST_SECRET)

    async def enroll_admin() -> int:
        db = Database(database_url)
        try:
            async with db.read() as s:
                uid = (await s.execute(select(User.id).where(User.username == "admin"))).scalar_one()
            async with db.unit_of_work() as uow:
                started = await two_factor.start_enrollment(uow, settings, uid, T0)
            async with db.unit_of_work() as uow:
                await two_factor.confirm_enrollment(uow, settings, uid, totp_code(started.secret, T0), T0)
            return uid
        finally:
            await db.dispose()

    async def state(uid: int) -> tuple[object, list[tuple]]:
        db = Database(database_url)
        try:
            async with db.read() as s:
                row = await s.get(UserTotp, uid)
                audit = (await s.execute(select(AuditEntry).where(AuditEntry.action == "totp.reset"))).scalars()
                return row.secret, [(a.actor_id, a.target_id, a.after) for a in audit]
        finally:
            await db.dispose()

    uid = asyncio.run(enroll_admin())
    monkeypatch.setenv("OFFICE_DATABASE_URL", database_url)
    monkeypatch.setenv("OFFICE_JWT_SECRET", TEST_SECRET)
    assert main(["reset-totp", "ADMIN"]) == 0
    assert "admin: two-factor sign-in reset" in capsys.readouterr().out
    secret, rows = asyncio.run(state(uid))
    assert secret is None
    assert rows == [
        (None, str(uid), {"totpEnabled": False, "enrollmentPending": False, "source": "command line"}),
    ]
    assert main(["reset-totp", "nobody_here"]) == 1
    assert "no user nobody_here" in capsys.readouterr().err


async def test_posts_are_hidden_from_a_restricted_session_only(client: GraphQLClient, platform: Any) -> None:
    at(platform, T0)
    query = """mutation($u:String!,$p:String!){ login(input:{username:$u,password:$p}){
      accessToken mustEnrollTotp user { username positions { title } } errors { code } } }"""
    clerk = (await client.execute(query, {"u": "clerk", "p": DEMO_PASSWORD}))["data"]["login"]
    assert clerk["user"] == {"username": "clerk", "positions": [{"title": "文书"}]}  # no token needed here
    mine = await client.execute("{ me { positions { title } } }", token=clerk["accessToken"])
    assert mine["data"] == {"me": {"positions": [{"title": "文书"}]}}
    admin = (await client.execute(query, {"u": "admin", "p": DEMO_PASSWORD}))["data"]["login"]
    assert (admin["mustEnrollTotp"], admin["user"]) == (True, {"username": "admin", "positions": []})
    refused = await client.execute("{ me { username positions { title } } }", token=admin["accessToken"])
    assert code_of(refused) == "TOTP_ENROLLMENT_REQUIRED"


async def test_confirming_and_resetting_wake_the_users_subscriptions(client: GraphQLClient, platform: Any) -> None:
    """Both revoke the user's older tokens: their open subscriptions re-check at once (and close)."""
    at(platform, T0)
    uid = await make_user(platform, "lixia_user", "370102")
    token = (await login(client, "lixia_user"))["accessToken"]
    woken = platform.broker.listen(uid)
    _, token = await enroll(client, token, T0)
    assert woken.is_set()
    woken.clear()
    admin = await client.login("admin")
    reset = (await admin.execute(RESET_TOTP, {"id": await user_gid(platform, "lixia_user")}))["data"]["resetTotp"]
    assert reset["errors"] == []
    assert woken.is_set()
    platform.broker.unlisten(uid, woken)

"""Sign-in through the identity provider, end to end against a real OpenID provider
(oidc-provider-mock, a Flask app on a thread) on SQLite and PostgreSQL.

The test plays the phone's browser: it follows every redirect by hand (app -> provider ->
app callback -> app URI), and the app's code exchange goes through GraphQL.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import oidc_provider_mock
import pytest
from sqlalchemy import select

from office_api.app import create_app
from office_api.config import Settings
from office_api.db import utcnow
from office_api.oidc import s256_challenge
from office_api.org.models import OidcLoginCode, OidcLoginState, Role, User
from tests.api.test_accounts import DISABLE, ME, audit_rows, code_of, make_user
from tests.api.test_org import make_unit_admin
from tests.conftest import GraphQLClient

# The mock provider is built on Authlib's server side, which warns about its own deprecations.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

APP_URI = "cn.gov.office.app:/oidc"
CLIENT_ID = "office-app"
EXCHANGE = """mutation($c:String!,$v:String){ loginWithIdentityProvider(input:{loginCode:$c,codeVerifier:$v}){
  accessToken refreshToken user { username } errors { field code message } } }"""
LINK = """mutation($id:ID!,$s:String!){ linkIdentity(input:{userId:$id,subject:$s}){
  user { username } identities { issuer subject linkedAt } errors { field code message } } }"""
UNLINK = """mutation($id:ID!,$s:String!){ unlinkIdentity(input:{userId:$id,subject:$s}){
  user { username } identities { subject } errors { field code } } }"""
LINKED = """query($id:ID!){ linkedIdentities(userId:$id){ issuer subject } }"""
PROVIDER = "{ identityProvider { displayName issuer loginPath } }"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def settings(settings: Settings, issuer: str) -> Settings:
    return settings.model_copy(
        update={
            "oidc_issuer": issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": "s3cret-at-the-provider",
            "oidc_redirect_uri": "http://localhost/auth/oidc/callback",
            "oidc_app_return_uris": [APP_URI, "https://m.office.example.gov.cn/oidc"],
            "oidc_display_name": "山东省统一身份认证",
        }
    )


def gid(kind: str, pk: int) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


async def user_id(platform: Any, username: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(User.id).where(User.username == username))).scalar_one()


async def link(admin: GraphQLClient, platform: Any, username: str, subject: str) -> dict:
    data = await admin.execute(LINK, {"id": gid("User", await user_id(platform, username)), "s": subject})
    return data["data"]["linkIdentity"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def start(client: GraphQLClient, **params: str) -> httpx.Response:
    return await client.http.get("/auth/oidc/login", params={"return_to": APP_URI, **params})


async def at_provider(authorize_url: str, sub: str | None, *, deny: bool = False) -> str:
    """Submit the provider's sign-in form; returns where it redirects (our callback)."""
    form = {"action": "deny"} if deny else {"sub": sub or ""}
    async with httpx.AsyncClient() as browser:
        resp = await browser.post(authorize_url, data=form)
    assert resp.status_code == 302, resp.text
    return resp.headers["location"]


async def callback(client: GraphQLClient, provider_redirect: str) -> httpx.Response:
    parts = urlsplit(provider_redirect)
    assert parts.path == "/auth/oidc/callback"
    return await client.http.get(f"{parts.path}?{parts.query}")


async def sign_in(
    client: GraphQLClient, sub: str, *, rewrite: Callable[[str], str] = lambda u: u, **params: str
) -> dict[str, str]:
    """The whole browser trip; returns the query of the final redirect to the app."""
    started = await start(client, **params)
    assert started.status_code == 302, started.text
    back = await callback(client, await at_provider(rewrite(started.headers["location"]), sub))
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(APP_URI + "?"), location
    assert back.headers["cache-control"] == "no-store"
    return query_of(location)


async def exchange(client: GraphQLClient, code: str, verifier: str | None = None) -> dict:
    return (await client.execute(EXCHANGE, {"c": code, "v": verifier}))["data"]["loginWithIdentityProvider"]


def set_param(name: str, value: str) -> Callable[[str], str]:
    def rewrite(url: str) -> str:
        parts = urlsplit(url)
        query = query_of(url) | {name: value}
        return parts._replace(query=urlencode(query)).geturl()

    return rewrite


# ---- the happy path ----------------------------------------------------------------------


async def test_linked_subject_signs_in_and_gets_a_working_session(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    linked = await link(admin, platform, "li_na", "370102-li_na@sd.gov.cn")
    assert linked["errors"] == []
    assert [(i["issuer"], i["subject"]) for i in linked["identities"]] == [
        (platform.settings.oidc_issuer, "370102-li_na@sd.gov.cn")
    ]

    result = await sign_in(client, "370102-li_na@sd.gov.cn")
    assert set(result) == {"login_code"}
    assert len(result["login_code"]) == 43
    payload = await exchange(client, result["login_code"])
    assert payload["errors"] == []
    assert payload["user"] == {"username": "li_na"}
    me = await client.execute(ME, token=payload["accessToken"])
    assert me["data"]["me"] == {"username": "li_na"}
    refreshed = await client.execute(
        "mutation($t:String!){ refreshToken(input:{refreshToken:$t}){ accessToken errors { code } } }",
        {"t": payload["refreshToken"]},
    )
    assert refreshed["data"]["refreshToken"]["errors"] == []

    success = await audit_rows(platform, "login.success")
    assert success[-1].after["method"] == "oidc"
    assert success[-1].target_id == str(await user_id(platform, "li_na"))
    async with platform.db.read() as s:
        assert (await s.execute(select(OidcLoginState))).scalars().all() == []  # the state was spent


async def test_authorization_request_carries_state_nonce_and_pkce(client: GraphQLClient, platform: Any) -> None:
    seen: list[httpx.Request] = []

    class Spy(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return await self.inner.handle_async_request(request)

    client.http._transport.app.state.oidc.transport = Spy()  # type: ignore[attr-defined]
    admin = await client.login("admin")
    await link(admin, platform, "zhou_wei", "zhou")
    started = await start(client)
    authz = query_of(started.headers["location"])
    assert authz["response_type"] == "code"
    assert authz["client_id"] == CLIENT_ID
    assert authz["redirect_uri"] == "http://localhost/auth/oidc/callback"
    assert authz["scope"] == "openid"
    assert authz["code_challenge_method"] == "S256"
    assert len(authz["state"]) >= 43
    assert len(authz["nonce"]) >= 43
    async with platform.db.read() as s:
        pending = (await s.execute(select(OidcLoginState))).scalar_one()
    assert authz["code_challenge"] == s256_challenge(pending.code_verifier)
    assert pending.return_to == APP_URI

    back = await callback(client, await at_provider(started.headers["location"], "zhou"))
    assert "login_code" in query_of(back.headers["location"])
    token_request = next(r for r in seen if r.method == "POST")
    body = parse_qs(token_request.content.decode())
    assert body["grant_type"] == ["authorization_code"]
    assert body["code_verifier"] == [pending.code_verifier]
    assert token_request.headers["authorization"].startswith("Basic ")


async def test_identity_provider_query_and_disabled_configuration(
    client: GraphQLClient, settings: Settings, platform: Any
) -> None:
    data = await client.execute(PROVIDER)
    assert data["data"]["identityProvider"] == {
        "displayName": "山东省统一身份认证",
        "issuer": settings.oidc_issuer,
        "loginPath": "/auth/oidc/login",
    }
    off = create_app(settings.model_copy(update={"oidc_issuer": ""}))
    transport = httpx.ASGITransport(app=off)
    async with off.router.lifespan_context(off), httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        plain = GraphQLClient(http, lang="en")
        resp = await http.get("/auth/oidc/login", params={"return_to": APP_URI})
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "OIDC_DISABLED"
        resp = await http.get("/auth/oidc/callback", params={"code": "x", "state": "y"})
        assert resp.status_code == 404
        assert (await plain.execute(PROVIDER))["data"]["identityProvider"] is None
        payload = await exchange(plain, "whatever")
        assert payload["errors"][0]["code"] == "OIDC_DISABLED"
        admin = await plain.login("admin")
        linked = (await admin.execute(LINK, {"id": gid("User", 1), "s": "x"}))["data"]["linkIdentity"]
        assert linked["errors"][0]["code"] == "OIDC_DISABLED"
        # Who may not link is refused as such, whether or not a provider is configured.
        await make_unit_admin(platform, "lixia_admin", "370102")
        unit_admin = await GraphQLClient(http, lang="en").login("lixia_admin")
        refused = await unit_admin.execute(LINK, {"id": gid("User", 1), "s": "x"})
        assert (refused["data"], refused["errors"][0]["extensions"]["code"]) == (None, "FORBIDDEN")


# ---- refusals ---------------------------------------------------------------------------


async def test_unlinked_subject_is_sent_back_with_an_error(client: GraphQLClient, platform: Any) -> None:
    result = await sign_in(client, "nobody@sd.gov.cn")
    assert result == {"error": "IDENTITY_NOT_LINKED"}
    row = (await audit_rows(platform, "login.failure"))[-1]
    assert (row.target_type, row.target_id, row.after) == (
        "Identity",
        "nobody@sd.gov.cn",
        {"method": "oidc", "reason": "not_linked"},
    )


async def test_declining_at_the_provider_is_access_denied(client: GraphQLClient, platform: Any) -> None:
    started = await start(client)
    denied = await at_provider(started.headers["location"], None, deny=True)
    assert query_of(denied)["error"] == "access_denied"
    # RFC 6749 §4.1.2.1 requires the state on an error redirect too; the mock provider leaves
    # it out, so put it back as a compliant provider would. Without it: OIDC_STATE_INVALID.
    assert (await callback(client, denied)).json()["error"]["code"] == "OIDC_STATE_INVALID"
    state = query_of(started.headers["location"])["state"]
    back = await callback(client, set_param("state", state)(denied))
    assert back.status_code == 302
    assert query_of(back.headers["location"]) == {"error": "OIDC_ACCESS_DENIED"}
    assert (await audit_rows(platform, "login.failure"))[-1].after == {
        "method": "oidc",
        "reason": "provider:access_denied",
    }


async def test_bad_return_uri_and_challenge_are_refused_without_redirect(client: GraphQLClient) -> None:
    client.lang = "en"
    for params, field in (
        ({"return_to": "https://evil.example/steal"}, "return_to"),
        ({"return_to": ""}, "return_to"),
        ({"return_to": APP_URI, "code_challenge": "short"}, "code_challenge"),
        ({"return_to": APP_URI, "code_challenge": "a" * 43, "code_challenge_method": "plain"}, "code_challenge_method"),
    ):
        resp = await client.http.get("/auth/oidc/login", params=params, headers={"accept-language": "en"})
        assert resp.status_code == 400, params
        assert resp.headers["content-type"] == "application/json"
        assert resp.json()["error"]["field"] == field
        assert resp.json()["error"]["code"] in {"INVALID_VALUE", "REQUIRED"}


async def test_tampered_replayed_and_expired_state(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    await link(admin, platform, "li_na", "li")
    started = await start(client)
    provider_redirect = await at_provider(started.headers["location"], "li")
    tampered = set_param("state", "A" * 43)(provider_redirect)
    resp = await callback(client, tampered)
    assert resp.status_code == 400
    assert resp.json()["error"] == {
        "code": "OIDC_STATE_INVALID",
        "field": "state",
        "message": "登录请求无效、已过期或已使用，请重新登录",
    }
    first = await callback(client, provider_redirect)
    assert "login_code" in query_of(first.headers["location"])
    again = await callback(client, provider_redirect)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "OIDC_STATE_INVALID"

    started = await start(client)
    provider_redirect = await at_provider(started.headers["location"], "li")
    platform.clock = lambda: utcnow() + dt.timedelta(minutes=11)
    late = await callback(client, provider_redirect)
    assert late.status_code == 400
    assert late.json()["error"]["code"] == "OIDC_STATE_INVALID"
    reasons = [r.after["reason"] for r in await audit_rows(platform, "login.failure")]
    assert reasons == ["unknown_state", "unknown_state", "expired_state"]


async def test_id_token_for_another_nonce_is_refused(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    await link(admin, platform, "li_na", "li")
    result = await sign_in(client, "li", rewrite=set_param("nonce", "an-attacker-chosen-nonce"))
    assert result == {"error": "OIDC_ID_TOKEN_INVALID"}
    assert (await audit_rows(platform, "login.failure"))[-1].after == {"method": "oidc", "reason": "id_token"}


async def test_code_issued_to_another_client_is_refused(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    await link(admin, platform, "li_na", "li")
    result = await sign_in(client, "li", rewrite=set_param("client_id", "another-client"))
    assert result == {"error": "OIDC_PROVIDER_ERROR"}


async def test_tampered_id_token_is_refused(client: GraphQLClient, platform: Any) -> None:
    """A man in the middle swaps the subject in the ID token (signature kept): refused."""
    admin = await client.login("admin")
    await link(admin, platform, "li_na", "li")
    await link(admin, platform, "zhou_wei", "zhou")

    class Tamper(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            resp = await self.inner.handle_async_request(request)
            if request.method != "POST":
                return resp
            body = json.loads(await resp.aread())
            header, payload, signature = body["id_token"].split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            claims["sub"] = "zhou"
            forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            body["id_token"] = f"{header}.{forged}.{signature}"
            return httpx.Response(200, json=body)

    client.http._transport.app.state.oidc.transport = Tamper()  # type: ignore[attr-defined]
    assert await sign_in(client, "li") == {"error": "OIDC_ID_TOKEN_INVALID"}
    assert [r for r in await audit_rows(platform, "login.success") if r.after.get("method") == "oidc"] == []
    assert (await audit_rows(platform, "login.failure"))[-1].after == {"method": "oidc", "reason": "id_token"}


async def test_disabled_user_is_refused_at_callback_and_at_exchange(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    await link(admin, platform, "li_na", "li")
    li = gid("User", await user_id(platform, "li_na"))
    early = await sign_in(client, "li")  # a code handed out before the account is disabled
    assert (await admin.execute(DISABLE, {"id": li}))["data"]["disableUser"]["errors"] == []
    assert await sign_in(client, "li") == {"error": "ACCOUNT_DISABLED"}
    payload = await exchange(client, early["login_code"])
    assert payload["accessToken"] is None
    assert payload["errors"][0]["code"] == "ACCOUNT_DISABLED"
    reasons = [r.after["reason"] for r in await audit_rows(platform, "login.failure")]
    assert reasons == ["disabled", "disabled"]


async def test_login_code_is_single_use(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    await link(admin, platform, "li_na", "li")
    code = (await sign_in(client, "li"))["login_code"]
    assert (await exchange(client, code))["errors"] == []
    again = await exchange(client, code)
    assert again["accessToken"] is None
    assert again["errors"][0]["field"] == "loginCode"
    assert again["errors"][0]["code"] == "INVALID_TOKEN"
    unknown = await exchange(client, "x" * 43)
    assert unknown["errors"][0]["code"] == "INVALID_TOKEN"


async def test_expired_login_code_is_refused(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    await link(admin, platform, "li_na", "li")
    code = (await sign_in(client, "li"))["login_code"]
    platform.clock = lambda: utcnow() + dt.timedelta(seconds=61)
    assert (await exchange(client, code))["errors"][0]["code"] == "INVALID_TOKEN"


async def test_two_concurrent_exchanges_of_one_code_exactly_one_wins(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    await link(admin, platform, "li_na", "li")
    code = (await sign_in(client, "li"))["login_code"]
    results = await asyncio.gather(*(exchange(client, code) for _ in range(2)))
    winners = [r for r in results if r["accessToken"]]
    losers = [r for r in results if not r["accessToken"]]
    assert len(winners) == 1
    assert len(losers) == 1
    assert losers[0]["errors"][0]["code"] == "INVALID_TOKEN"
    oidc_success = [r for r in await audit_rows(platform, "login.success") if r.after.get("method") == "oidc"]
    assert len(oidc_success) == 1
    async with platform.db.read() as s:
        row = (await s.execute(select(OidcLoginCode))).scalar_one()
    assert row.used_at is not None


async def test_app_pkce_binds_the_login_code_to_the_app(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    await link(admin, platform, "li_na", "li")
    verifier = "v" * 20 + "-app-verifier-" + "w" * 20
    code = (await sign_in(client, "li", code_challenge=s256_challenge(verifier), code_challenge_method="S256"))[
        "login_code"
    ]
    stolen = await exchange(client, code)  # an app that intercepted the redirect has no verifier
    assert stolen["errors"][0] == {
        "field": "codeVerifier",
        "code": "INVALID_TOKEN",
        "message": "令牌无效或已过期",
    }
    code = (await sign_in(client, "li", code_challenge=s256_challenge(verifier)))["login_code"]
    assert (await exchange(client, code, "wrong" + verifier[5:]))["errors"][0]["field"] == "codeVerifier"
    code = (await sign_in(client, "li", code_challenge=s256_challenge(verifier)))["login_code"]
    assert (await exchange(client, code, verifier))["user"] == {"username": "li_na"}


# ---- administration of links -------------------------------------------------------------


async def test_link_unlink_uniqueness_and_audit(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    li, zhou = await user_id(platform, "li_na"), await user_id(platform, "zhou_wei")
    assert (await link(admin, platform, "li_na", "li"))["errors"] == []
    taken = await link(admin, platform, "zhou_wei", "li")
    assert taken["errors"][0]["field"] == "subject"
    assert taken["errors"][0]["code"] == "DUPLICATE"
    second = await link(admin, platform, "li_na", "li-2")
    assert (second["errors"][0]["field"], second["errors"][0]["code"]) == ("userId", "DUPLICATE")
    for bad, code in ((" li", "INVALID_VALUE"), ("", "REQUIRED"), ("x" * 256, "TOO_LONG")):
        assert (await link(admin, platform, "zhou_wei", bad))["errors"][0]["code"] == code
    listed = await admin.execute(LINKED, {"id": gid("User", li)})
    assert listed["data"]["linkedIdentities"] == [{"issuer": platform.settings.oidc_issuer, "subject": "li"}]

    missing = await admin.execute(UNLINK, {"id": gid("User", zhou), "s": "li"})
    assert missing["data"]["unlinkIdentity"]["errors"] == [{"field": "subject", "code": "NOT_FOUND"}]
    pending = (await sign_in(client, "li"))["login_code"]
    done = await admin.execute(UNLINK, {"id": gid("User", li), "s": "li"})
    assert done["data"]["unlinkIdentity"] == {"user": {"username": "li_na"}, "identities": [], "errors": []}
    assert (await exchange(client, pending))["errors"][0]["code"] == "INVALID_TOKEN"  # unused codes went with it
    assert await sign_in(client, "li") == {"error": "IDENTITY_NOT_LINKED"}

    rows = await audit_rows(platform)
    changes = [(r.action, r.target_id, r.before, r.after) for r in rows if r.action.startswith("identity.")]
    issuer = platform.settings.oidc_issuer
    assert changes == [
        ("identity.link", str(li), None, {"issuer": issuer, "subject": "li"}),
        ("identity.unlink", str(li), {"issuer": issuer, "subject": "li"}, None),
    ]


async def test_who_may_link(client: GraphQLClient, platform: Any) -> None:
    await make_user(platform, "jinan_admin", "370100", Role.UNIT_ADMIN)
    await make_user(platform, "qingdao_user", "370200")
    unit_admin = await client.login("jinan_admin")
    assert (await link(unit_admin, platform, "li_na", "li"))["errors"] == []  # Lixia is inside Jinan
    outside = await unit_admin.execute(LINK, {"id": gid("User", await user_id(platform, "qingdao_user")), "s": "q"})
    assert code_of(outside) == "FORBIDDEN"
    civil_servant = await client.login("zhou_wei")
    assert code_of(await civil_servant.execute(LINK, {"id": gid("User", 1), "s": "z"})) == "FORBIDDEN"
    assert code_of(await civil_servant.execute(LINKED, {"id": gid("User", 1)})) == "FORBIDDEN"
    admin = await client.login("admin")
    separated = await admin.execute(LINK, {"id": gid("User", await user_id(platform, "security_admin")), "s": "s"})
    assert code_of(separated) == "FORBIDDEN"  # a link would let the system admin sign in as the security admin
    anonymous = await client.execute(LINK, {"id": gid("User", 1), "s": "a"})
    assert code_of(anonymous) == "UNAUTHENTICATED"


async def test_two_admins_linking_one_subject_at_once(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    results = await asyncio.gather(
        link(admin, platform, "li_na", "contested"), link(admin, platform, "zhou_wei", "contested")
    )
    errors = sorted(e["code"] for r in results for e in r["errors"])
    assert errors == ["DUPLICATE"]
    assert len([r for r in results if r["errors"] == []]) == 1


async def test_an_administrator_without_totp_is_restricted_after_this_sign_in_too(
    client: GraphQLClient, platform: Any
) -> None:
    """The provider authenticates (no TOTP code is asked here), but the three administrators'
    restriction until they enroll holds for these sessions as for password ones."""
    from tests.api.test_accounts import GRANT

    admin = await client.login("admin")
    assert (await link(admin, platform, "li_na", "370102-li_na@sd.gov.cn"))["errors"] == []
    security = await client.login("security_admin")
    li_na = gid("User", await user_id(platform, "li_na"))
    assert (await security.execute(GRANT, {"id": li_na, "r": "AUDIT_ADMIN"}))["data"]["grantRole"]["errors"] == []
    code = (await sign_in(client, "370102-li_na@sd.gov.cn"))["login_code"]
    payload = (
        await client.execute(
            "mutation($c:String!){ loginWithIdentityProvider(input:{loginCode:$c}){ accessToken mustEnrollTotp "
            "errors { code } } }",
            {"c": code},
        )
    )["data"]["loginWithIdentityProvider"]
    assert (payload["errors"], payload["mustEnrollTotp"]) == ([], True)
    audit_log = "{ auditLog(first: 1) { edges { node { action } } } }"
    assert code_of(await client.execute(audit_log, token=payload["accessToken"])) == "TOTP_ENROLLMENT_REQUIRED"
    enrolled = await GraphQLClient(client.http, payload["accessToken"], client.lang).enroll_totp()
    assert (await enrolled.execute(audit_log)).get("errors") is None

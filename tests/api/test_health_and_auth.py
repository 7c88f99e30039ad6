"""Health endpoints and authentication over HTTP."""

from __future__ import annotations

import jwt
import pytest

from tests.conftest import TEST_SECRET, GraphQLClient

LOGIN = """mutation($u:String!,$p:String!){ login(input:{username:$u,password:$p}){
  accessToken refreshToken expiresAt user { username displayName } errors { field code message } } }"""
REFRESH = """mutation($t:String!){ refreshToken(input:{refreshToken:$t}){
  accessToken refreshToken errors { field code } } }"""


async def test_healthz_and_readyz(client: GraphQLClient) -> None:
    assert (await client.http.get("/healthz")).json() == {"status": "ok"}
    ready = await client.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}


async def test_login_returns_jwt_with_required_claims(client: GraphQLClient) -> None:
    data = (await client.execute(LOGIN, {"u": "clerk", "p": "Demo@2026"}))["data"]["login"]
    assert data["errors"] == []
    assert data["user"] == {"username": "clerk", "displayName": "王文书"}
    claims = jwt.decode(data["accessToken"], TEST_SECRET, algorithms=["HS256"], audience="office-api")
    assert set(claims) == {
        "sub",
        "iat",
        "nbf",
        "exp",
        "iss",
        "aud",
        "jti",
        "tv",
        "fam",
    }  # tv: token version, fam: session
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iss"] == "office-api"


@pytest.mark.parametrize(("username", "password"), [("clerk", "wrong-password"), ("nobody", "Demo@2026")])
async def test_wrong_password_and_unknown_user_answer_the_same(
    client: GraphQLClient, username: str, password: str
) -> None:
    data = (await client.execute(LOGIN, {"u": username, "p": password}))["data"]["login"]
    assert data["accessToken"] is None
    assert data["errors"] == [{"field": None, "code": "INVALID_CREDENTIALS", "message": "用户名或密码错误"}]


async def test_english_messages_on_accept_language_en(client: GraphQLClient) -> None:
    client.lang = "en"
    data = (await client.execute(LOGIN, {"u": "clerk", "p": "nope"}))["data"]["login"]
    assert data["errors"][0]["message"] == "Wrong username or password"


async def test_me_requires_a_token(client: GraphQLClient) -> None:
    data = await client.execute("{ me { username } }")
    assert data["data"] is None
    assert data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = await client.execute("{ me { username } }", token="not-a-jwt")
    assert bad["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_me_returns_the_current_user(client: GraphQLClient) -> None:
    deputy = await client.login("deputy")
    data = await deputy.execute("{ me { username displayName positions { title isPrimary isLeader unit { code } } } }")
    assert data["data"]["me"] == {
        "username": "deputy",
        "displayName": "李副主任",
        "positions": [
            {"title": "副主任", "isPrimary": True, "isLeader": True, "unit": {"code": "370000-general_office"}}
        ],
    }


async def test_refresh_rotates_and_reuse_revokes_the_family(client: GraphQLClient) -> None:
    first = (await client.execute(LOGIN, {"u": "clerk", "p": "Demo@2026"}))["data"]["login"]
    second = (await client.execute(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshToken"]
    assert second["errors"] == []
    assert second["refreshToken"] != first["refreshToken"]
    me = await client.execute("{ me { username } }", token=second["accessToken"])
    assert me["data"]["me"]["username"] == "clerk"
    # Presenting the spent token again is reuse: refused, and the live successor dies too.
    reused = (await client.execute(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshToken"]
    assert reused["errors"] == [{"field": "refreshToken", "code": "TOKEN_REUSED"}]
    after = (await client.execute(REFRESH, {"t": second["refreshToken"]}))["data"]["refreshToken"]
    assert after["errors"] == [{"field": "refreshToken", "code": "INVALID_TOKEN"}]
    # ... and so do the access tokens of that session, at once.
    for token in (first["accessToken"], second["accessToken"]):
        dead = await client.execute("{ me { username } }", token=token)
        assert dead["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    other = await client.login("clerk")  # another session of the same user is untouched
    assert (await other.execute("{ me { username } }"))["data"]["me"]["username"] == "clerk"


async def test_unknown_refresh_token_is_invalid(client: GraphQLClient) -> None:
    data = (await client.execute(REFRESH, {"t": "garbage"}))["data"]["refreshToken"]
    assert data["errors"] == [{"field": "refreshToken", "code": "INVALID_TOKEN"}]

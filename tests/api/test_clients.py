"""Integration clients: registration, POST /oauth/token (RFC 6749 §4.4), scopes, subtree,
rotation and revocation, and the audit rows written under the client's name.

Units of the demo organization used here: 370102 (历下区) and its sibling 370103 (市中区),
both under 370100 (济南市); 370000-general_office, where the clerk drafts documents.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from office_api import audit
from office_api.auth import issue_access_token
from office_api.clients.models import ApiClient
from office_api.config import Settings
from office_api.org.models import AuditEntry, Role, User
from tests.api.test_accounts import make_user
from tests.api.test_documents import DOCUMENT, Demo, demo, doc_input, submitted, users  # noqa: F401
from tests.api.test_org import gid, unit_gid
from tests.conftest import GraphQLClient, enable_totp_if_required

REGISTER = """mutation($n: String!, $u: ID!, $s: [ApiScope!]!) {
  registerApiClient(input: {name: $n, unitId: $u, scopes: $s}) {
    apiClient { id clientId name scopes version rotatedAt revokedAt unit { code } }
    clientSecret errors { field code message } } }"""
ROTATE = """mutation($id: ID!, $v: Int) { rotateApiClientSecret(input: {id: $id, version: $v}) {
  apiClient { version rotatedAt } clientSecret errors { field code } } }"""
REVOKE = """mutation($id: ID!, $v: Int) { revokeApiClient(input: {id: $id, version: $v}) {
  apiClient { version revokedAt } errors { field code } } }"""
LIST = "{ apiClients { edges { node { name unit { code } } } } }"
ONE = "query($id: ID!) { apiClient(id: $id) { name } }"
DIRECTORY = """query($q: String, $u: ID) { directory(query: $q, unitId: $u, first: 100) {
  edges { node { username mobile } } } }"""
TOKEN_URL = "/oauth/token"
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


async def as_user(client: GraphQLClient, platform: Any, username: str) -> GraphQLClient:
    """A client signed in as ``username`` (token issued directly: no argon2 per test; the
    three administrators with two-factor sign-in on, as their roles require)."""
    await enable_totp_if_required(platform, username)
    async with platform.db.read() as s:
        user = (await s.execute(select(User).where(User.username == username))).scalar_one()
    token, _ = issue_access_token(platform.settings, user.id, token_version=user.token_version)
    return GraphQLClient(client.http, token, client.lang)


async def register(
    admin: GraphQLClient, platform: Any, code: str = "370102", scopes: tuple[str, ...] = ("DIRECTORY_READ",)
) -> dict[str, Any]:
    data = await admin.execute(REGISTER, {"n": "历下区政务服务平台", "u": await unit_gid(platform, code), "s": scopes})
    payload = data["data"]["registerApiClient"]
    assert payload["errors"] == [], payload
    return payload


async def token_response(
    http: httpx.AsyncClient,
    form: dict[str, str] | None = None,
    *,
    basic: tuple[str, str] | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    h = dict(headers or {})
    if basic is not None:
        h["authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    if content is not None:
        h.setdefault("content-type", "application/x-www-form-urlencoded")
        return await http.post(TOKEN_URL, content=content, headers=h)
    return await http.post(TOKEN_URL, data=form or {}, headers=h)


async def get_token(http: httpx.AsyncClient, client_id: str, secret: str, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    resp = await token_response(http, form, basic=(client_id, secret))
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def refusal(data: dict) -> tuple[str, str]:
    """(extensions.code, message) of a request refused at the top level."""
    assert data["data"] is None or all(v is None for v in data["data"].values()), data
    error = data["errors"][0]
    return error["extensions"]["code"], error["message"]


async def client_pk(platform: Any, client_id: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(ApiClient.id).where(ApiClient.client_id == client_id))).scalar_one()


async def audit_rows(platform: Any, action: str) -> list[AuditEntry]:
    async with platform.db.read() as s:
        q = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await s.execute(q)).scalars())


# ---- the token endpoint -------------------------------------------------------------------


async def test_register_then_token_with_basic_and_with_body(client: GraphQLClient, platform: Any) -> None:
    admin = await as_user(client, platform, "admin")
    reg = await register(admin, platform, scopes=("DOCUMENTS_READ", "DIRECTORY_READ", "DIRECTORY_READ"))
    api = reg["apiClient"]
    assert api["name"] == "历下区政务服务平台"
    assert api["clientId"].startswith("oc_")
    assert len(api["clientId"]) == 27
    assert api["scopes"] == ["DIRECTORY_READ", "DOCUMENTS_READ"]
    assert (api["version"], api["rotatedAt"], api["revokedAt"], api["unit"]) == (1, None, None, {"code": "370102"})
    secret = reg["clientSecret"]
    assert len(secret) == 43
    async with platform.db.read() as s:
        row = (await s.execute(select(ApiClient))).scalar_one()
    assert secret not in (row.secret_hash, row.client_id)
    assert len(row.secret_hash) == 64

    form = {"grant_type": "client_credentials"}
    by_basic = await token_response(client.http, form, basic=(api["clientId"], secret))
    by_body = await token_response(client.http, {**form, "client_id": api["clientId"], "client_secret": secret})
    for resp in (by_basic, by_body):
        assert resp.status_code == 200, resp.text
        assert {k: resp.headers[k] for k in NO_STORE} == NO_STORE
        assert resp.headers["content-type"] == "application/json"
        body = resp.json()
        assert sorted(body) == ["access_token", "expires_in", "scope", "token_type"]
        assert (body["token_type"], body["expires_in"], body["scope"]) == (
            "Bearer",
            600,
            "directory:read documents:read",
        )
    # The token works on GraphQL and is told apart from a user token.
    token = by_basic.json()["access_token"]
    data = await client.execute(DIRECTORY, {"q": "周伟"}, token=token)
    assert data["data"]["directory"]["edges"] == [{"node": {"username": "zhou_wei", "mobile": None}}]
    assert refusal(await client.execute("{ me { username } }", token=token)) == (
        "FORBIDDEN",
        "me is not available to integration clients (user-only)",
    )


@pytest.mark.parametrize(
    ("request_kwargs", "status", "error"),
    [
        (
            {"content": b'{"grant_type": "client_credentials"}', "headers": {"content-type": "application/json"}},
            400,
            "invalid_request",
        ),
        ({"form": {}}, 400, "invalid_request"),
        ({"form": {"grant_type": "password", "username": "x", "password": "y"}}, 400, "unsupported_grant_type"),
        ({"form": {"grant_type": "authorization_code", "code": "x"}}, 400, "unsupported_grant_type"),
        ({"content": b"grant_type=client_credentials&grant_type=client_credentials"}, 400, "invalid_request"),
        ({"content": b"grant_type=client_credentials&scope=%FF%FE"}, 400, "invalid_request"),
        ({"content": b"grant_type=client_credentials&x=" + b"a" * 5000}, 400, "invalid_request"),
        ({"form": {"grant_type": "client_credentials"}}, 401, "invalid_client"),
        (
            {"form": {"grant_type": "client_credentials", "client_id": "oc_nobody", "client_secret": "x"}},
            401,
            "invalid_client",
        ),
        ({"form": {"grant_type": "client_credentials", "client_id": "oc_nobody"}}, 401, "invalid_client"),
        (
            {"form": {"grant_type": "client_credentials", "client_id": "x" * 2000, "client_secret": "y" * 2000}},
            401,
            "invalid_client",
        ),
        (
            {"form": {"grant_type": "client_credentials"}, "headers": {"authorization": "Basic !!not base64!!"}},
            400,
            "invalid_request",
        ),
        (
            {"form": {"grant_type": "client_credentials"}, "headers": {"authorization": "Basic " + "QUJD"}},
            400,
            "invalid_request",
        ),
        (
            {"form": {"grant_type": "client_credentials"}, "headers": {"authorization": "Basic /w=="}},
            400,
            "invalid_request",
        ),
        (
            {"form": {"grant_type": "client_credentials"}, "headers": {"authorization": "Bearer abc"}},
            401,
            "invalid_client",
        ),
        ({"form": {"grant_type": "client_credentials", "scope": 'bad"scope'}}, 400, "invalid_scope"),
    ],
)
async def test_token_endpoint_errors(
    client: GraphQLClient, request_kwargs: dict[str, Any], status: int, error: str
) -> None:
    resp = await token_response(client.http, **request_kwargs)
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert {k: resp.headers[k] for k in NO_STORE} == NO_STORE
    assert ("www-authenticate" in resp.headers) is (status == 401)
    if status == 401:
        assert resp.headers["www-authenticate"].startswith('Basic realm="office-api"')


async def test_wrong_secret_both_methods_and_scope_errors(client: GraphQLClient, platform: Any) -> None:
    admin = await as_user(client, platform, "admin")
    reg = await register(admin, platform)
    cid, secret = reg["apiClient"]["clientId"], reg["clientSecret"]
    form = {"grant_type": "client_credentials"}
    wrong = await token_response(client.http, form, basic=(cid, secret[:-1] + "x"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    both = await token_response(client.http, {**form, "client_id": cid, "client_secret": secret}, basic=(cid, secret))
    assert (both.status_code, both.json()["error"]) == (400, "invalid_request")
    for scope in ("documents:read", "directory:read documents:read", "nonsense"):
        resp = await token_response(client.http, {**form, "scope": scope}, basic=(cid, secret))
        assert (resp.status_code, resp.json()["error"]) == (400, "invalid_scope"), scope
    ok = await token_response(client.http, {**form, "scope": "directory:read"}, basic=(cid, secret))
    assert ok.json()["scope"] == "directory:read"
    # GET is not the token endpoint's method; still no 500.
    assert (await client.http.get(TOKEN_URL)).status_code == 405


async def test_scope_narrowing_and_a_field_needing_a_missing_scope(
    client: GraphQLClient,
    platform: Any,
    demo: Demo,  # noqa: F811 - fixture
    users: dict[str, GraphQLClient],  # noqa: F811 - fixture
) -> None:
    admin = users["admin"]
    doc_id = await submitted(users["clerk"], doc_input(demo))
    reg = await register(admin, platform, code="370000", scopes=("DIRECTORY_READ", "DOCUMENTS_READ"))
    cid, secret = reg["apiClient"]["clientId"], reg["clientSecret"]
    full = await get_token(client.http, cid, secret)
    narrow = await get_token(client.http, cid, secret, scope="directory:read")
    data = await client.execute("query($id: ID!) { document(id: $id) { title status } }", {"id": doc_id}, token=full)
    assert data["data"]["document"]["status"] == "IN_REVIEW"
    assert refusal(await client.execute(DOCUMENT, {"id": doc_id}, token=narrow)) == (
        "FORBIDDEN",
        "document needs the scope documents:read, which this client's token lacks",
    )
    # A client of another subtree does not see the document (nor a draft, ever).
    other = await register(admin, platform, code="370102", scopes=("DOCUMENTS_READ",))
    other_token = await get_token(client.http, other["apiClient"]["clientId"], other["clientSecret"])
    q = "query($id: ID!) { document(id: $id) { title } }"
    assert (await client.execute(q, {"id": doc_id}, token=other_token))["data"]["document"] is None
    draft = (
        await users["clerk"].execute(
            "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { document { id } } }",
            {"i": doc_input(demo)},
        )
    )["data"]["createDocument"]["document"]["id"]
    assert (await client.execute(q, {"id": draft}, token=full))["data"]["document"] is None


async def test_directory_and_org_reads_stay_inside_the_subtree(client: GraphQLClient, platform: Any) -> None:
    await make_user(platform, "shizhong_wei", "370103")  # 市中区: the sibling county
    admin = await as_user(client, platform, "admin")
    reg = await register(admin, platform, code="370102")
    token = await get_token(client.http, reg["apiClient"]["clientId"], reg["clientSecret"])
    user_view = await admin.execute(DIRECTORY, {"q": "wei"})
    everyone = {e["node"]["username"] for e in user_view["data"]["directory"]["edges"]}
    assert {"zhou_wei", "shizhong_wei", "zhang_wei"} <= everyone
    client_view = await client.execute(DIRECTORY, {"q": "wei"}, token=token)
    assert client_view["data"]["directory"]["edges"] == [{"node": {"username": "zhou_wei", "mobile": None}}]
    everything = await client.execute(DIRECTORY, {}, token=token)
    assert sorted(e["node"]["username"] for e in everything["data"]["directory"]["edges"]) == ["li_na", "zhou_wei"]
    sibling = await unit_gid(platform, "370103")
    assert refusal(await client.execute(DIRECTORY, {"u": sibling}, token=token))[0] == "FORBIDDEN"
    # Hidden phone numbers never match either: they cannot be found digit by digit.
    for digits in ("138", "13800000010", "0531", "0531-86000008"):
        hits = await client.execute(DIRECTORY, {"q": digits}, token=token)
        assert (digits, hits["data"]["directory"]["edges"]) == (digits, [])
    by_phone = await admin.execute(DIRECTORY, {"q": "13800000010"})
    assert [e["node"]["username"] for e in by_phone["data"]["directory"]["edges"]] == ["zhou_wei"]
    roots = await client.execute(
        "{ orgUnits { edges { node { code parent { code } ancestors { code } } } } }", token=token
    )
    assert roots["data"]["orgUnits"]["edges"] == [{"node": {"code": "370102", "parent": None, "ancestors": []}}]
    q = "query($id: ID!) { orgUnit(id: $id) { code children { edges { node { code } } } } }"
    assert (await client.execute(q, {"id": sibling}, token=token))["data"]["orgUnit"] is None
    own = await client.execute(q, {"id": await unit_gid(platform, "370102")}, token=token)
    assert own["data"]["orgUnit"]["code"] == "370102"
    jinan = await unit_gid(platform, "370100")
    kids = await client.execute(
        "query($p: ID) { orgUnits(parentId: $p) { edges { node { code } } } }", {"p": jinan}, token=token
    )
    assert kids["data"]["orgUnits"]["edges"] == []  # 济南 is outside: it has no children for the client
    inside = "query($id: ID!, $a: ID!) { orgUnit(id: $id) { isInside(ancestorId: $a) } }"
    lixia = await unit_gid(platform, "370102")
    for ancestor, expected in ((jinan, False), (sibling, False), (lixia, True)):  # no probing of ancestry
        probe = await client.execute(inside, {"id": lixia, "a": ancestor}, token=token)
        assert probe["data"]["orgUnit"]["isInside"] is expected
    assert (await admin.execute(inside, {"id": lixia, "a": jinan}))["data"]["orgUnit"]["isInside"] is True


async def test_clients_never_reach_admin_operations(client: GraphQLClient, platform: Any) -> None:
    admin = await as_user(client, platform, "admin")
    reg = await register(admin, platform, scopes=("DIRECTORY_READ", "DOCUMENTS_ROUTE", "MEETINGS_MANAGE"))
    token = await get_token(client.http, reg["apiClient"]["clientId"], reg["clientSecret"])
    assert await client.execute("{ __typename }", token=token) == {"data": {"__typename": "Query"}}
    parent = await unit_gid(platform, "370102")
    create = """mutation($p: ID) { createOrgUnit(input: {code: "x-1", name: "X", kind: OFFICE, parentId: $p}) {
      orgUnit { code } errors { code } } }"""
    assert refusal(await client.execute(create, {"p": parent}, token=token)) == (
        "FORBIDDEN",
        "createOrgUnit is not available to integration clients (user-only)",
    )
    for query, variables in (
        (LIST, {}),
        (REGISTER, {"n": "x", "u": parent, "s": ["DIRECTORY_READ"]}),
        ("{ auditLog { edges { node { action } } } }", {}),
    ):
        assert refusal(await client.execute(query, variables, token=token))[0] == "FORBIDDEN"
    async with platform.db.read() as s:
        assert (await s.execute(select(ApiClient.id))).scalars().all() == [
            await client_pk(platform, reg["apiClient"]["clientId"])
        ]


# ---- rotation and revocation ----------------------------------------------------------------


async def test_rotation_kills_the_old_secret_and_tokens(client: GraphQLClient, platform: Any) -> None:
    admin = await as_user(client, platform, "admin")
    reg = await register(admin, platform)
    cid, old_secret, api_id = reg["apiClient"]["clientId"], reg["clientSecret"], reg["apiClient"]["id"]
    old_token = await get_token(client.http, cid, old_secret)
    assert "data" in await client.execute(DIRECTORY, {"q": "周伟"}, token=old_token)
    rotated = (await admin.execute(ROTATE, {"id": api_id, "v": 1}))["data"]["rotateApiClientSecret"]
    assert rotated["errors"] == []
    assert rotated["apiClient"]["version"] == 2
    assert rotated["apiClient"]["rotatedAt"]
    new_secret = rotated["clientSecret"]
    assert new_secret != old_secret
    assert refusal(await client.execute(DIRECTORY, {"q": "周伟"}, token=old_token))[0] == "UNAUTHENTICATED"
    resp = await token_response(client.http, {"grant_type": "client_credentials"}, basic=(cid, old_secret))
    assert (resp.status_code, resp.json()["error"]) == (401, "invalid_client")
    new_token = await get_token(client.http, cid, new_secret)
    assert (await client.execute(DIRECTORY, {"q": "周伟"}, token=new_token))["data"]["directory"]["edges"]
    stale = (await admin.execute(ROTATE, {"id": api_id, "v": 1}))["data"]["rotateApiClientSecret"]
    assert stale == {"apiClient": None, "clientSecret": None, "errors": [{"field": "version", "code": "STALE_VERSION"}]}


async def test_revocation_kills_tokens_and_is_final(client: GraphQLClient, platform: Any) -> None:
    admin = await as_user(client, platform, "admin")
    reg = await register(admin, platform)
    cid, secret, api_id = reg["apiClient"]["clientId"], reg["clientSecret"], reg["apiClient"]["id"]
    token = await get_token(client.http, cid, secret)
    revoked = (await admin.execute(REVOKE, {"id": api_id}))["data"]["revokeApiClient"]
    assert revoked["errors"] == []
    assert revoked["apiClient"]["revokedAt"]
    assert revoked["apiClient"]["version"] == 2
    assert refusal(await client.execute(DIRECTORY, {"q": "周伟"}, token=token))[0] == "UNAUTHENTICATED"
    resp = await token_response(client.http, {"grant_type": "client_credentials"}, basic=(cid, secret))
    assert (resp.status_code, resp.json()["error"]) == (401, "invalid_client")
    again = (await admin.execute(REVOKE, {"id": api_id}))["data"]["revokeApiClient"]
    assert again["errors"] == []
    assert again["apiClient"]["version"] == 2
    rotate = (await admin.execute(ROTATE, {"id": api_id}))["data"]["rotateApiClientSecret"]
    assert rotate["errors"] == [{"field": "id", "code": "INVALID_STATE"}]
    assert len(await audit_rows(platform, audit.Action.API_CLIENT_REVOKE)) == 1


async def test_two_rotations_at_once_leave_exactly_one_working_secret(client: GraphQLClient, platform: Any) -> None:
    admin = await as_user(client, platform, "admin")
    second_admin_id = await make_user(platform, "admin2", None, Role.SYSTEM_ADMIN)
    assert second_admin_id
    admin2 = await as_user(client, platform, "admin2")
    reg = await register(admin, platform)
    cid, api_id = reg["apiClient"]["clientId"], reg["apiClient"]["id"]
    # Both read version 1: one wins, the other gets STALE_VERSION.
    results = await asyncio.gather(*(c.execute(ROTATE, {"id": api_id, "v": 1}) for c in (admin, admin2)))
    payloads = [r["data"]["rotateApiClientSecret"] for r in results]
    assert sorted(len(p["errors"]) for p in payloads) == [0, 1]
    assert [p["errors"] for p in payloads if p["errors"]] == [[{"field": "version", "code": "STALE_VERSION"}]]
    # Without a version both succeed, one after the other: only the later secret works.
    results = await asyncio.gather(*(c.execute(ROTATE, {"id": api_id}) for c in (admin, admin2)))
    payloads = [r["data"]["rotateApiClientSecret"] for r in results]
    assert sorted(p["apiClient"]["version"] for p in payloads) == [3, 4]
    works = []
    for p in payloads:
        resp = await token_response(client.http, {"grant_type": "client_credentials"}, basic=(cid, p["clientSecret"]))
        works.append((p["apiClient"]["version"], resp.status_code))
    assert sorted(works) == [(3, 401), (4, 200)]
    assert len(await audit_rows(platform, audit.Action.API_CLIENT_ROTATE)) == 3


# ---- who may administer clients --------------------------------------------------------------


async def test_unit_admin_only_inside_its_subtree(client: GraphQLClient, platform: Any) -> None:
    await make_user(platform, "lixia_admin", "370102", Role.UNIT_ADMIN)
    lixia = await as_user(client, platform, "lixia_admin")
    admin = await as_user(client, platform, "admin")
    own = await register(lixia, platform, code="370102")
    assert own["apiClient"]["unit"] == {"code": "370102"}
    sibling = await register(admin, platform, code="370103")
    refused = await lixia.execute(
        REGISTER, {"n": "市中区系统", "u": await unit_gid(platform, "370103"), "s": ["DIRECTORY_READ"]}
    )
    assert refusal(refused)[0] == "FORBIDDEN"
    for mutation in (ROTATE, REVOKE):
        assert refusal(await lixia.execute(mutation, {"id": sibling["apiClient"]["id"]}))[0] == "FORBIDDEN"
    assert (await lixia.execute(ONE, {"id": sibling["apiClient"]["id"]}))["data"]["apiClient"] is None
    assert (await lixia.execute(LIST))["data"]["apiClients"]["edges"] == [
        {"node": {"name": "历下区政务服务平台", "unit": {"code": "370102"}}}
    ]
    assert len((await admin.execute(LIST))["data"]["apiClients"]["edges"]) == 2
    # The sibling client is untouched: its secret still works.
    await get_token(client.http, sibling["apiClient"]["clientId"], sibling["clientSecret"])
    # Its own client: the unit admin rotates and revokes.
    rot = (await lixia.execute(ROTATE, {"id": own["apiClient"]["id"]}))["data"]["rotateApiClientSecret"]
    assert rot["errors"] == []


@pytest.mark.parametrize("username", ["security_admin", "audit_admin", "zhou_wei"])
async def test_security_and_audit_admins_cannot_register(client: GraphQLClient, platform: Any, username: str) -> None:
    user = await as_user(client, platform, username)
    data = await user.execute(REGISTER, {"n": "x", "u": await unit_gid(platform, "370102"), "s": ["DIRECTORY_READ"]})
    assert refusal(data)[0] == "FORBIDDEN"
    assert refusal(await user.execute(LIST))[0] == "FORBIDDEN"


async def test_register_validates_its_input(client: GraphQLClient, platform: Any) -> None:
    admin = await as_user(client, platform, "admin")
    unit = await unit_gid(platform, "370102")
    data = await admin.execute(REGISTER, {"n": "  ", "u": unit, "s": []})
    assert data["data"]["registerApiClient"]["errors"] == [
        {"field": "name", "code": "REQUIRED", "message": "此项必填"},
        {"field": "scopes", "code": "REQUIRED", "message": "此项必填"},
    ]
    data = await admin.execute(REGISTER, {"n": "x" * 101, "u": gid("OrgUnit", 999999), "s": ["DIRECTORY_READ"]})
    assert data["data"]["registerApiClient"]["errors"] == [
        {"field": "unitId", "code": "NOT_FOUND", "message": "未找到对象"}
    ]
    async with platform.db.read() as s:
        assert (await s.execute(select(ApiClient.id))).all() == []


# ---- throttle and audit -----------------------------------------------------------------------


async def test_bad_secrets_lock_the_client_id(client: GraphQLClient, platform: Any) -> None:
    platform.settings.client_max_failures = 3
    start = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
    platform.clock = lambda: start
    admin = await as_user(client, platform, "admin")
    reg = await register(admin, platform)
    cid, secret = reg["apiClient"]["clientId"], reg["clientSecret"]
    form = {"grant_type": "client_credentials"}
    for _ in range(3):
        resp = await token_response(client.http, form, basic=(cid, "wrong"))
        assert resp.status_code == 401
    locked = await token_response(client.http, form, basic=(cid, secret))
    assert (locked.status_code, locked.json()["error"]) == (401, "invalid_client")
    assert [r.target_id for r in await audit_rows(platform, audit.Action.API_CLIENT_LOCKOUT)] == [f"client:{cid}"]
    platform.clock = lambda: start + dt.timedelta(minutes=15)
    assert await get_token(client.http, cid, secret)


async def test_audit_rows_carry_the_client(client: GraphQLClient, platform: Any) -> None:
    admin = await as_user(client, platform, "admin")
    reg = await register(admin, platform)
    cid, api_id = reg["apiClient"]["clientId"], reg["apiClient"]["id"]
    await get_token(client.http, cid, reg["clientSecret"], scope="directory:read")
    pk = await client_pk(platform, cid)
    [registered] = await audit_rows(platform, audit.Action.API_CLIENT_REGISTER)
    assert (registered.actor_client_id, registered.target_id, registered.after["scopes"]) == (
        None,
        str(pk),
        ["directory:read"],
    )
    [issued] = await audit_rows(platform, audit.Action.API_CLIENT_TOKEN)
    assert (issued.actor_id, issued.actor_client_id, issued.after) == (
        None,
        pk,
        {"scope": "directory:read", "expiresIn": 600},
    )
    auditor = await as_user(client, platform, "audit_admin")
    data = await auditor.execute(
        """query($c: ID) { auditLog(filter: {actorClientId: $c}) { edges { node { action actorId actorClientId
        targetType targetId } } } }""",
        {"c": api_id},
    )
    assert data["data"]["auditLog"]["edges"] == [
        {
            "node": {
                "action": "api_client.token",
                "actorId": None,
                "actorClientId": api_id,
                "targetType": "ApiClient",
                "targetId": api_id,
            }
        }
    ]


def test_record_takes_the_client_of_the_request() -> None:
    class Session:
        def __init__(self) -> None:
            self.rows: list[Any] = []

        def add(self, row: Any) -> None:
            self.rows.append(row)

    session = Session()
    audit.set_actor_client(7)
    try:
        entry = audit.record(session, actor_id=None, action="x", target_type="T", target_id=1)  # type: ignore[arg-type]
    finally:
        audit.set_actor_client(None)
    assert (entry.actor_client_id, session.rows) == (7, [entry])


def test_client_token_ttl_is_configurable() -> None:
    assert Settings(jwt_secret="x" * 40, client_token_ttl_seconds=120).client_token_ttl_seconds == 120
    with pytest.raises(ValueError, match="client_token_ttl_seconds"):
        Settings(jwt_secret="x" * 40, client_token_ttl_seconds=5)

"""Request limits and input hygiene: no request can exhaust the server, and text no
database should store is refused with a typed error before anything is written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from graphql import parse
from sqlalchemy import func, select

from documents.models import Document
from schema.limits import MAX_QUERY_COST, _cost
from tests.conftest import GraphQLClient

CREATE = """mutation($title: String!, $me: ID!) { createDocument(input: {title: $title, docType: NOTICE,
  route: {steps: [{name: "核稿", mode: SINGLE, assigneeIds: [$me]}]}}) { document { id } errors { field code } } }"""


async def document_count(platform: Any) -> int:
    async with platform.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(Document))).scalar_one())


def nested(k: int) -> str:
    inner = "id"
    for _ in range(k):
        inner = f"members(first: 100) {{ edges {{ node {{ user {{ positions {{ unit {{ id {inner} }} }} }} }} }} }}"
    children = f"children(first: 100) {{ edges {{ node {{ {inner} }} }} }}"
    return f"{{ orgUnits(first: 100) {{ edges {{ node {{ {children} }} }} }} }}"


async def test_exponential_nesting_is_refused_before_running(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute(nested(10))
    assert data["data"] is None
    assert [e["extensions"]["code"] for e in data["errors"]] == ["QUERY_TOO_COMPLEX"]


async def test_wide_pages_of_nested_lists_are_refused(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute(
        "{ orgUnits(first: 100) { edges { node { children(first: 100) { edges { node {"
        " members(first: 100) { edges { node { title } } } } } } } } } }"
    )
    error = data["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == MAX_QUERY_COST
    assert error["extensions"]["cost"] > MAX_QUERY_COST


async def test_too_many_aliases_are_refused(client: GraphQLClient) -> None:
    guesses = " ".join(
        f'a{i}: login(input: {{username: "clerk", password: "guess{i}"}}) {{ accessToken }}' for i in range(31)
    )
    data = await client.execute(f"mutation {{ {guesses} }}")
    assert data["data"] is None
    assert data["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_every_readme_example_is_within_the_limits() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```graphql\n(.*?)```", readme, flags=re.S):
        for definition in parse(block).definitions:
            assert _cost(definition.selection_set, 1, {}, {}, set()) <= MAX_QUERY_COST, block


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("a\u0000b", "contains the control character U+0000"),
        ("a\u0007b", "contains the control character U+0007"),
        ("\u202eadmin", "contains a bidirectional control character U+202E"),
    ],
)
async def test_control_characters_are_refused_and_nothing_is_written(
    client: GraphQLClient, platform: Any, title: str, reason: str
) -> None:
    clerk = await client.login("clerk")
    me = (await clerk.execute("{ me { id } }"))["data"]["me"]["id"]
    before = await document_count(platform)
    data = await clerk.execute(CREATE, {"title": title, "me": me})
    assert data["data"] is None
    assert data["errors"] == [
        {"message": f"title: {reason}", "extensions": {"code": "INVALID_VALUE", "field": "title"}}
    ]
    assert await document_count(platform) == before


async def test_tabs_and_newlines_are_fine(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    me = (await clerk.execute("{ me { id } }"))["data"]["me"]["id"]
    data = await clerk.execute(CREATE, {"title": "第一行\n第二行\t完", "me": me})
    assert data["data"]["createDocument"]["errors"] == []


async def test_unpaired_surrogate_is_refused(client: GraphQLClient) -> None:
    body = '{"query": "mutation($u: String!) { login(input: {username: $u, password: \\"x\\"}) { accessToken } }",'
    body += ' "variables": {"u": "\\ud800"}}'
    resp = await client.http.post("/graphql", content=body.encode(), headers={"content-type": "application/json"})
    assert resp.status_code == 200
    assert resp.json()["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "u"}


async def test_control_characters_in_literals_are_refused(client: GraphQLClient) -> None:
    data = await client.execute('mutation { login(input: {username: "a\\u0000", password: "x"}) { accessToken } }')
    assert data["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": None}


@pytest.mark.parametrize("body", [b'"hello"', b"null", b"5", b'{"query": "{ __typename }\xff"}'])
async def test_bodies_that_are_not_json_objects_are_400(client: GraphQLClient, body: bytes) -> None:
    resp = await client.http.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert "Traceback" not in resp.text


async def test_oversized_body_is_413(client: GraphQLClient) -> None:
    body = json.dumps({"query": "# " + "x" * (9 * 1024 * 1024) + "\n{ __typename }"})
    resp = await client.http.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_validation_errors_carry_a_code(client: GraphQLClient) -> None:
    data = await client.execute("{ nope }")
    assert data["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($d: Date!) { __typename } ", {"d": "2026-02-30"}),
        ("query($n: Int!) { __typename } ", {"n": 2147483648}),
        ("query($i: ID!) { node: __typename } ", {"i": ["a"]}),
    ],
)
async def test_variables_that_do_not_coerce_carry_a_code(client: GraphQLClient, query: str, variables: dict) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute(query, variables)
    assert data["data"] is None
    assert [e["extensions"] for e in data["errors"]] == [{"code": "GRAPHQL_VALIDATION_FAILED"}]


async def test_login_is_case_insensitive_like_usernames(client: GraphQLClient) -> None:
    data = await client.execute(
        'mutation { login(input: {username: " CLERK ", password: "Demo@2026"}) { accessToken errors { code } } }'
    )
    assert data["data"]["login"]["errors"] == []


async def test_a_huge_password_is_a_plain_wrong_password(client: GraphQLClient) -> None:
    data = await client.execute(
        'mutation($p: String!) { login(input: {username: "clerk", password: $p}) { accessToken errors { code } } }',
        {"p": "x" * 100_000},
    )
    assert data["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]


NEW_UNIT = """mutation($code: String!, $division: String) { createOrgUnit(input: {code: $code, name: "测试单位",
  kind: OFFICE, divisionCode: $division}) { orgUnit { id } errors { field code } } }"""


@pytest.mark.parametrize(
    ("code", "division", "field"),
    [("t-1", "37０101", "divisionCode"), ("t-2", "٣70101", "divisionCode"), ("t-３", None, "code")],
)
async def test_codes_take_ascii_digits_only(client: GraphQLClient, code: str, division: str | None, field: str) -> None:
    admin = await client.login("admin")
    data = await admin.execute(NEW_UNIT, {"code": code, "division": division})
    assert data["data"]["createOrgUnit"] == {"orgUnit": None, "errors": [{"field": field, "code": "INVALID_VALUE"}]}


@pytest.mark.parametrize("raw", ["OrgUnit:１", "OrgUnit:1_0", "OrgUnit: 1"])
async def test_global_ids_take_ascii_digits_only(client: GraphQLClient, raw: str) -> None:
    import base64

    clerk = await client.login("clerk")
    gid = base64.b64encode(raw.encode()).decode()
    data = await clerk.execute("query($id: ID!) { orgUnit(id: $id) { code } }", {"id": gid})
    assert data["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "id"}


async def test_cursor_keys_take_ascii_digits_only(client: GraphQLClient) -> None:
    import base64

    clerk = await client.login("clerk")
    cursor = base64.urlsafe_b64encode("k:٣".encode()).decode()
    data = await clerk.execute("query($a: String) { orgUnits(after: $a) { edges { node { id } } } }", {"a": cursor})
    assert data["errors"][0]["extensions"]["code"] == "INVALID_VALUE"

"""Bad requests never produce a 500 or a stack trace; GraphiQL is served offline."""

from __future__ import annotations

from tests.conftest import GraphQLClient


async def test_malformed_json_is_a_400_not_a_500(client: GraphQLClient) -> None:
    resp = await client.http.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert "Traceback" not in resp.text


async def test_json_nested_beyond_the_decoders_limit_is_a_400_not_a_500(client: GraphQLClient) -> None:
    resp = await client.http.post("/graphql", content=b"[" * 100_000, headers={"content-type": "application/json"})
    assert (resp.status_code, resp.text) == (400, "Unable to parse request body as JSON")


async def test_syntax_error_is_reported_not_masked(client: GraphQLClient) -> None:
    data = await client.execute("{ me { username ")
    assert data["data"] is None
    assert "Syntax Error" in data["errors"][0]["message"]


async def test_unknown_field_is_a_validation_error(client: GraphQLClient) -> None:
    data = await client.execute("{ nope }")
    assert data["errors"][0]["message"] == "Cannot query field 'nope' on type 'Query'."


async def test_malformed_global_id_is_a_clear_error(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    data = await clerk.execute('{ orgUnit(id: "!!!") { name } }')
    assert data["data"] == {"orgUnit": None}
    assert data["errors"][0]["message"] == 'Value cannot represent a GlobalID: "!!!".'
    assert data["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": None}


async def test_wrong_type_global_id_names_the_field(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    me = (await clerk.execute("{ me { id } }"))["data"]["me"]["id"]
    data = await clerk.execute("query($id: ID!){ orgUnit(id: $id) { name } }", {"id": me})
    assert data["errors"][0]["extensions"] == {"code": "INVALID_VALUE", "field": "id"}


async def test_graphiql_page_and_assets_are_served_locally(client: GraphQLClient) -> None:
    page = await client.http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "unpkg.com" not in page.text
    assert "/static/graphiql/graphiql.min.js" in page.text
    asset = await client.http.get("/static/graphiql/graphiql.min.js")
    assert asset.status_code == 200
    assert len(asset.content) > 1_000_000

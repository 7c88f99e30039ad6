"""SLA policies as data through GraphQL, on SQLite and PostgreSQL: reading the seeded policies
and which one applies, and their administration (create, update, bind, unbind) with the
refusals of bad input and of anyone but a province-level administrator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from office_api.org.models import AuditEntry, Role
from office_api.sla import SlaBinding, SlaPolicy
from tests.api.test_accounts import make_user
from tests.conftest import GraphQLClient

POLICY = """id code name basis unit limit extensionLimit extensionApprover clockStopsFor yellowBefore escalateAfter
  matterType active bindings { id target docType urgency stepName policy { code } }"""
POLICIES = f"query($a: Boolean) {{ slaPolicies(activeOnly: $a) {{ {POLICY} }} }}"
RESOLVE = """query($t: SlaTarget!, $d: DocType, $u: Urgency, $s: String) {
  resolveSlaPolicy(target: $t, docType: $d, urgency: $u, stepName: $s) { code limit unit } }"""
CREATE = f"""mutation($input: CreateSlaPolicyInput!) {{ createSlaPolicy(input: $input) {{
  slaPolicy {{ {POLICY} }} errors {{ field code message }} }} }}"""
UPDATE = f"""mutation($input: UpdateSlaPolicyInput!) {{ updateSlaPolicy(input: $input) {{
  slaPolicy {{ {POLICY} }} errors {{ field code message }} }} }}"""
BIND = """mutation($input: BindSlaPolicyInput!) { bindSlaPolicy(input: $input) {
  binding { id target docType urgency stepName policy { code } } errors { field code message } } }"""
UNBIND = """mutation($id: Int!) { unbindSlaPolicy(input: {bindingId: $id}) {
  binding { id target policy { code } } errors { field code } } }"""

NEW = {
    "code": "permit-renewal",
    "name": "许可证延续",
    "basis": "《行政许可法》第五十条：有效期届满前作出是否准予延续的决定",
    "limit": 20,
    "extensionLimit": 10,
    "extensionApprover": "unit_head",
    "clockStopsFor": ["expert_review", "hearing"],
    "yellowBefore": 2,
    "escalateAfter": 5,
}


async def state(platform: Any) -> tuple[list[tuple], list[tuple], int]:
    """Every policy and binding row, and the number of sla_policy audit rows."""
    async with platform.db.read() as s:
        policies = [tuple(r) for r in (await s.execute(select(*SlaPolicy.__table__.columns).order_by(SlaPolicy.id)))]
        bindings = [tuple(r) for r in (await s.execute(select(*SlaBinding.__table__.columns).order_by(SlaBinding.id)))]
        audits = (await s.execute(select(AuditEntry.id).where(AuditEntry.action.like("sla_policy.%")))).all()
    return policies, bindings, len(audits)


async def policies(c: GraphQLClient, active_only: bool = False) -> dict[str, dict[str, Any]]:
    data = await c.execute(POLICIES, {"a": active_only})
    assert "errors" not in data, data
    return {p["code"]: p for p in data["data"]["slaPolicies"]}


async def resolve(c: GraphQLClient, target: str, **kw: Any) -> dict[str, Any] | None:
    data = await c.execute(RESOLVE, {"t": target, "d": kw.get("doc"), "u": kw.get("urgency"), "s": kw.get("step")})
    assert "errors" not in data, data
    return data["data"]["resolveSlaPolicy"]


async def run(c: GraphQLClient, query: str, variables: dict[str, Any], name: str) -> dict[str, Any]:
    data = await c.execute(query, variables)
    assert "errors" not in data, data
    return data["data"][name]


def codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


# ---- reading ------------------------------------------------------------------------------


async def test_the_seeded_policies_and_their_bindings(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    got = await policies(clerk)
    hotline = got["hotline-12345"]
    assert (hotline["unit"], hotline["limit"], hotline["extensionLimit"]) == ("WORKING_DAYS", 5, 10)
    assert hotline["clockStopsFor"] == ["returned_to_drafter"]
    assert (got["hotline-misrouted"]["limit"], got["3545-construction-permit"]["limit"]) == (2, 45)
    assert got["3545-real-estate"]["matterType"] == "real_estate_registration"
    assert got["document-urgent"]["bindings"] == [
        {
            "id": got["document-urgent"]["bindings"][0]["id"],
            "target": "TASK",
            "docType": None,
            "urgency": "URGENT",
            "stepName": None,
            "policy": {"code": "document-urgent"},
        },
        {
            "id": got["document-urgent"]["bindings"][1]["id"],
            "target": "INCOMING",
            "docType": None,
            "urgency": "URGENT",
            "stepName": None,
            "policy": {"code": "document-urgent"},
        },
    ]
    assert got["hotline-12345"]["bindings"] == []


async def test_which_policy_applies(client: GraphQLClient) -> None:
    clerk = await client.login("clerk")
    assert await resolve(clerk, "TASK") == {"code": "document-review", "limit": 3, "unit": "WORKING_DAYS"}
    assert (await resolve(clerk, "TASK", urgency="URGENT"))["code"] == "document-urgent"  # type: ignore[index]
    assert (await resolve(clerk, "INCOMING", urgency="EXTRA_URGENT")) == {
        "code": "document-extra-urgent",
        "limit": 24,
        "unit": "HOURS",
    }
    assert (await resolve(clerk, "SUPERVISION"))["code"] == "supervision-instruction"  # type: ignore[index]
    assert await resolve(clerk, "DOCUMENT") is None


async def test_reading_needs_a_signed_in_user(client: GraphQLClient) -> None:
    data = await client.execute(POLICIES, {})
    assert data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# ---- create --------------------------------------------------------------------------------


async def test_create_a_policy(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    payload = await run(admin, CREATE, {"input": NEW}, "createSlaPolicy")
    assert payload["errors"] == []
    made = payload["slaPolicy"]
    assert {k: made[k] for k in NEW} == NEW
    assert (made["unit"], made["matterType"], made["active"], made["bindings"]) == ("WORKING_DAYS", None, True, [])
    # Defaults for what is left out.
    minimal = await run(admin, CREATE, {"input": {"code": "m-1", "name": "最少", "limit": 1}}, "createSlaPolicy")
    p = minimal["slaPolicy"]
    assert (p["extensionLimit"], p["extensionApprover"], p["clockStopsFor"], p["yellowBefore"], p["escalateAfter"]) == (
        0,
        "assigner",
        [],
        1,
        3,
    )
    clerk = await client.login("clerk")
    assert (await policies(clerk))["permit-renewal"]["limit"] == 20
    async with platform.db.read() as s:
        [entry] = (
            await s.execute(
                select(AuditEntry).where(
                    AuditEntry.action == "sla_policy.create", AuditEntry.target_id == str(made["id"])
                )
            )
        ).scalars()
    assert entry.after is not None
    assert (entry.after["code"], entry.after["limit"], entry.after["clockStopsFor"]) == (
        "permit-renewal",
        20,
        ["expert_review", "hearing"],
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"limit": -1}, [("limit", "INVALID_VALUE")]),
        ({"limit": 0}, [("limit", "INVALID_VALUE")]),
        ({"limit": 100000}, [("limit", "INVALID_VALUE")]),
        ({"extensionLimit": -2}, [("extensionLimit", "INVALID_VALUE")]),
        ({"unit": "HOURS", "limit": 9000, "extensionLimit": 0}, [("limit", "INVALID_VALUE")]),
        ({"unit": "HOURS", "limit": 24, "extensionLimit": 5}, [("extensionLimit", "INVALID_VALUE")]),
        ({"clockStopsFor": ["expert_review", "lunch"]}, [("clockStopsFor.1", "INVALID_VALUE")]),
        ({"clockStopsFor": ["hearing", "hearing"]}, [("clockStopsFor", "DUPLICATE")]),
        ({"extensionApprover": "mayor"}, [("extensionApprover", "INVALID_VALUE")]),
        ({"yellowBefore": 31}, [("yellowBefore", "INVALID_VALUE")]),
        ({"escalateAfter": 0}, [("escalateAfter", "INVALID_VALUE")]),
        ({"matterType": "fishing_licence"}, [("matterType", "INVALID_VALUE")]),
        ({"name": "  "}, [("name", "REQUIRED")]),
        ({"basis": "x" * 501}, [("basis", "TOO_LONG")]),
        ({"code": "Hotline 12345"}, [("code", "INVALID_VALUE")]),
        ({"code": "hotline-12345"}, [("code", "DUPLICATE")]),
        ({"limit": -1, "name": ""}, [("name", "REQUIRED"), ("limit", "INVALID_VALUE")]),
    ],
)
async def test_bad_policies_are_refused(
    client: GraphQLClient, platform: Any, change: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    admin = await client.login("admin")
    before = await state(platform)
    payload = await run(admin, CREATE, {"input": {**NEW, **change}}, "createSlaPolicy")
    assert (payload["slaPolicy"], codes(payload)) == (None, expected)
    assert await state(platform) == before


async def test_an_unknown_unit_is_refused_by_the_schema(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    before = await state(platform)
    data = await admin.execute(CREATE, {"input": {**NEW, "unit": "FORTNIGHTS"}})
    assert data["data"] is None
    assert data["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "FORTNIGHTS" in data["errors"][0]["message"]
    assert await state(platform) == before


async def test_the_limit_message_names_the_rule(client: GraphQLClient) -> None:
    client.lang = "en"
    admin = await client.login("admin")
    payload = await run(admin, CREATE, {"input": {**NEW, "limit": 100000}}, "createSlaPolicy")
    assert payload["errors"][0]["message"] == "Invalid value: between 1 and 1000 working_days"


async def test_concurrent_creates_of_one_code(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    results = await asyncio.gather(*(run(admin, CREATE, {"input": NEW}, "createSlaPolicy") for _ in range(3)))
    assert sorted(len(r["errors"]) for r in results) == [0, 1, 1]
    assert {codes(r)[0] for r in results if r["errors"]} == {("code", "DUPLICATE")}
    async with platform.db.read() as s:
        assert len((await s.execute(select(SlaPolicy.id).where(SlaPolicy.code == NEW["code"]))).all()) == 1


# ---- update --------------------------------------------------------------------------------


async def policy_id(platform: Any, code: str) -> int:
    async with platform.db.read() as s:
        return (await s.execute(select(SlaPolicy.id).where(SlaPolicy.code == code))).scalar_one()


async def test_update_a_policy(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    pk = await policy_id(platform, "hotline-12345")
    payload = await run(admin, UPDATE, {"input": {"id": pk, "limit": 4, "yellowBefore": 2}}, "updateSlaPolicy")
    assert payload["errors"] == []
    p = payload["slaPolicy"]
    assert (p["limit"], p["yellowBefore"], p["extensionLimit"], p["code"]) == (4, 2, 10, "hotline-12345")
    # A unit change is checked as the policy would be: hours keeping the extension limit of 10
    # are refused (a limit in hours is not extended); 24 hours with none is fine; 2000 calendar
    # days is not.
    payload = await run(admin, UPDATE, {"input": {"id": pk, "unit": "HOURS", "limit": 24}}, "updateSlaPolicy")
    assert codes(payload) == [("extensionLimit", "INVALID_VALUE")]
    payload = await run(
        admin, UPDATE, {"input": {"id": pk, "unit": "HOURS", "limit": 24, "extensionLimit": 0}}, "updateSlaPolicy"
    )
    assert (payload["errors"], payload["slaPolicy"]["unit"]) == ([], "HOURS")
    before = await state(platform)
    payload = await run(admin, UPDATE, {"input": {"id": pk, "unit": "CALENDAR_DAYS", "limit": 2000}}, "updateSlaPolicy")
    assert codes(payload) == [("limit", "INVALID_VALUE")]
    assert await state(platform) == before
    # matterType: set, then cleared by an explicit null; active off drops it from activeOnly.
    payload = await run(admin, UPDATE, {"input": {"id": pk, "matterType": "business_licence"}}, "updateSlaPolicy")
    assert payload["slaPolicy"]["matterType"] == "business_licence"
    payload = await run(admin, UPDATE, {"input": {"id": pk, "matterType": None, "active": False}}, "updateSlaPolicy")
    assert (payload["slaPolicy"]["matterType"], payload["slaPolicy"]["active"]) == (None, False)
    assert "hotline-12345" not in await policies(admin, active_only=True)
    async with platform.db.read() as s:
        rows = list(
            (
                await s.execute(
                    select(AuditEntry).where(AuditEntry.action == "sla_policy.update").order_by(AuditEntry.id)
                )
            ).scalars()
        )
    assert [(r.before, r.after) for r in rows[:2]] == [
        ({"limit": 5, "yellowBefore": 1}, {"limit": 4, "yellowBefore": 2}),
        (
            {"extensionLimit": 10, "limit": 4, "unit": "working_days"},
            {"extensionLimit": 0, "limit": 24, "unit": "hours"},
        ),
    ]
    assert len(rows) == 4


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"limit": -5}, [("limit", "INVALID_VALUE")]),
        ({"limit": 100000}, [("limit", "INVALID_VALUE")]),
        ({"clockStopsFor": ["siesta"]}, [("clockStopsFor.0", "INVALID_VALUE")]),
        ({"name": ""}, [("name", "REQUIRED")]),
        ({"id": 999999, "limit": 3}, [("id", "NOT_FOUND")]),
    ],
)
async def test_bad_updates_are_refused(
    client: GraphQLClient, platform: Any, change: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    admin = await client.login("admin")
    pk = await policy_id(platform, "hotline-12345")
    before = await state(platform)
    payload = await run(admin, UPDATE, {"input": {"id": pk, **change}}, "updateSlaPolicy")
    assert (payload["slaPolicy"], codes(payload)) == (None, expected)
    assert await state(platform) == before


async def test_concurrent_updates_of_different_fields_both_take_effect(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    pk = await policy_id(platform, "provincial-complaint")
    a, b = await asyncio.gather(
        run(admin, UPDATE, {"input": {"id": pk, "limit": 12}}, "updateSlaPolicy"),
        run(admin, UPDATE, {"input": {"id": pk, "extensionLimit": 3}}, "updateSlaPolicy"),
    )
    assert (a["errors"], b["errors"]) == ([], [])
    got = (await policies(admin))["provincial-complaint"]
    assert (got["limit"], got["extensionLimit"]) == (12, 3)


# ---- bind and unbind -------------------------------------------------------------------------


async def test_bind_then_resolve_then_unbind(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    clerk = await client.login("clerk")
    assert await resolve(clerk, "DOCUMENT", doc="REQUEST") is None
    by_code = {"policyCode": "licence-decision", "target": "DOCUMENT", "docType": "REQUEST"}
    made = await run(admin, BIND, {"input": by_code}, "bindSlaPolicy")
    assert made["errors"] == []
    binding = made["binding"]
    assert (binding["target"], binding["docType"], binding["urgency"], binding["stepName"]) == (
        "DOCUMENT",
        "REQUEST",
        None,
        None,
    )
    assert (await resolve(clerk, "DOCUMENT", doc="REQUEST"))["code"] == "licence-decision"  # type: ignore[index]
    assert await resolve(clerk, "DOCUMENT", doc="NOTICE") is None

    # A step-specific binding by id wins over the urgency one for that step only.
    pk = await policy_id(platform, "hotline-misrouted")
    step = await run(admin, BIND, {"input": {"policyId": pk, "target": "TASK", "stepName": " 核稿 "}}, "bindSlaPolicy")
    assert (step["errors"], step["binding"]["stepName"]) == ([], "核稿")
    assert (await resolve(clerk, "TASK", urgency="URGENT", step="核稿"))["code"] == "hotline-misrouted"  # type: ignore[index]
    assert (await resolve(clerk, "TASK", urgency="URGENT", step="签发"))["code"] == "document-urgent"  # type: ignore[index]

    listed = (await policies(clerk))["licence-decision"]["bindings"]
    assert [b["id"] for b in listed] == [binding["id"]]

    gone = await run(admin, UNBIND, {"id": binding["id"]}, "unbindSlaPolicy")
    assert (gone["errors"], gone["binding"]["policy"]) == ([], {"code": "licence-decision"})
    assert await resolve(clerk, "DOCUMENT", doc="REQUEST") is None
    again = await run(admin, UNBIND, {"id": binding["id"]}, "unbindSlaPolicy")
    assert (again["binding"], codes(again)) == (None, [("bindingId", "NOT_FOUND")])
    async with platform.db.read() as s:
        actions = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.before, AuditEntry.after)
                .where(AuditEntry.action.like("sla_policy.%bind"))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [a[0] for a in actions] == ["sla_policy.bind", "sla_policy.bind", "sla_policy.unbind"]
    assert actions[2][1] == {
        "policyId": await policy_id(platform, "licence-decision"),
        "target": "document",
        "docType": "request",
        "urgency": None,
        "stepName": None,
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"policyCode": "no-such-policy", "target": "TASK"}, [("policyCode", "NOT_FOUND")]),
        ({"policyId": 999999, "target": "TASK"}, [("policyId", "NOT_FOUND")]),
        ({"target": "TASK"}, [("policyId", "REQUIRED")]),
        ({"policyId": 1, "policyCode": "hotline-12345", "target": "TASK"}, [("policyId", "REQUIRED")]),
        # The seeded default binding of tasks has exactly these attributes (any type, urgency, step).
        ({"policyCode": "hotline-12345", "target": "TASK"}, [("target", "DUPLICATE")]),
        ({"policyCode": "hotline-12345", "target": "TASK", "urgency": "URGENT"}, [("target", "DUPLICATE")]),
        ({"policyCode": "hotline-12345", "target": "TASK", "stepName": "长" * 65}, [("stepName", "TOO_LONG")]),
    ],
)
async def test_bad_bindings_are_refused(
    client: GraphQLClient, platform: Any, data: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    admin = await client.login("admin")
    before = await state(platform)
    payload = await run(admin, BIND, {"input": data}, "bindSlaPolicy")
    assert (payload["binding"], codes(payload)) == (None, expected)
    assert await state(platform) == before


async def test_an_inactive_policy_is_not_bound(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    pk = await policy_id(platform, "info-disclosure")
    await run(admin, UPDATE, {"input": {"id": pk, "active": False}}, "updateSlaPolicy")
    payload = await run(admin, BIND, {"input": {"policyId": pk, "target": "DOCUMENT"}}, "bindSlaPolicy")
    assert codes(payload) == [("policyId", "INACTIVE")]


@pytest.mark.parametrize(
    ("field", "value"),
    [("target", "MEETING"), ("docType", "POSTCARD"), ("urgency", "WHENEVER")],
)
async def test_unknown_targets_types_and_urgencies_are_refused_by_the_schema(
    client: GraphQLClient, platform: Any, field: str, value: str
) -> None:
    admin = await client.login("admin")
    before = await state(platform)
    data = await admin.execute(BIND, {"input": {"policyCode": "hotline-12345", "target": "DOCUMENT", field: value}})
    assert data["data"] is None
    err = data["errors"][0]
    assert err["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert value in err["message"]
    assert field in err["message"]
    assert await state(platform) == before
    resolved = await admin.execute(RESOLVE, {"t": "DOCUMENT", "u": "WHENEVER"})
    assert resolved["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_concurrent_identical_bindings_make_one(client: GraphQLClient, platform: Any) -> None:
    admin = await client.login("admin")
    data = {"policyCode": "licence-decision", "target": "DOCUMENT", "docType": "DECISION"}
    results = await asyncio.gather(*(run(admin, BIND, {"input": data}, "bindSlaPolicy") for _ in range(3)))
    assert sorted(codes(r) for r in results) == [[], [("target", "DUPLICATE")], [("target", "DUPLICATE")]]
    async with platform.db.read() as s:
        assert len((await s.execute(select(SlaBinding.id).where(SlaBinding.doc_type == "decision"))).all()) == 1


# ---- who may -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["clerk", "security_admin", "audit_admin", "jinan_admin"])
async def test_only_a_province_level_administrator_writes_policies(
    client: GraphQLClient, platform: Any, who: str
) -> None:
    await make_user(platform, "jinan_admin", "370100", Role.UNIT_ADMIN)
    actor = await client.login(who)
    pk = await policy_id(platform, "hotline-12345")
    async with platform.db.read() as s:
        binding = (await s.execute(select(SlaBinding.id).order_by(SlaBinding.id))).scalars().first()
    before = await state(platform)
    for query, variables in (
        (CREATE, {"input": NEW}),
        (UPDATE, {"input": {"id": pk, "limit": 4}}),
        (BIND, {"input": {"policyId": pk, "target": "DOCUMENT"}}),
        (UNBIND, {"id": binding}),
    ):
        data = await actor.execute(query, variables)
        assert data["data"] is None, (who, query)
        assert data["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await state(platform) == before
    # Reading is for everyone signed in.
    assert "hotline-12345" in await policies(actor)


async def test_an_administrator_of_the_root_unit_writes_policies(client: GraphQLClient, platform: Any) -> None:
    await make_user(platform, "province_admin", "370000", Role.UNIT_ADMIN)
    actor = await client.login("province_admin")
    payload = await run(actor, CREATE, {"input": NEW}, "createSlaPolicy")
    assert payload["errors"] == []

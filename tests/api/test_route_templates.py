"""Route templates (流程模板): administration, which template applies, and copying into a
document's route at creation, through GraphQL on SQLite and PostgreSQL.

Demo organization: the General Office (370000-general_office) sits under the province
government (370000), as does 财政厅 (370000-finance). In the General Office secretary_general
is HEAD, deputy DEPUTY_HEAD, clerk CLERK; finance_head heads 财政厅.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api import test_documents as shared
from tests.api.test_documents import Demo, codes, create, document_count, snapshot
from tests.conftest import count_statements

demo = shared.demo
users = shared.users

PROVINCE, GO, FINANCE = "370000", "370000-general_office", "370000-finance"

TEMPLATE = """id name docType version unit { code }
  steps { index name mode quorum signOff assignees { duty issuingUnit user { username } unit { code } } }"""
CREATE_T = f"""mutation($input: CreateRouteTemplateInput!) {{ createRouteTemplate(input: $input) {{
  routeTemplate {{ {TEMPLATE} }} errors {{ field code message }} }} }}"""
UPDATE_T = f"""mutation($input: UpdateRouteTemplateInput!) {{ updateRouteTemplate(input: $input) {{
  routeTemplate {{ {TEMPLATE} }} errors {{ field code }} }} }}"""
DELETE_T = """mutation($id: ID!) { deleteRouteTemplate(input: {id: $id}) { deletedId errors { field code } } }"""
APPLICABLE = f"""query($t: DocType!) {{ applicableRouteTemplates(docType: $t) {{ {TEMPLATE} }} }}"""
OF_UNIT = """query($u: ID!) { routeTemplates(unitId: $u) { name docType } }"""
PREVIEW = """query($id: ID!) { routePreview(documentId: $id) {
  steps { index name mode recipients { reason duty user { username } unit { code } } } } }"""
STEPS = """query($id: ID!) { document(id: $id) { steps { index name mode signOff assignees { username } } } }"""

TITLE = "山东省人民政府办公厅关于做好值班工作的通知"


def office_route(demo: Demo) -> list[dict[str, Any]]:
    """核稿 by deputy (named), 签发 by the issuing unit's head (by duty, any unit below)."""
    return [
        {"name": "核稿", "mode": "SINGLE", "assigneeIds": [demo.user("deputy")]},
        {"name": "签发", "mode": "SINGLE", "signOff": True, "assignees": [{"duty": "HEAD"}]},
    ]


def generic_route() -> list[dict[str, Any]]:
    """核稿 by the issuing unit's clerk, 签发 by its head: usable by every unit."""
    return [
        {"name": "核稿", "mode": "SINGLE", "assignees": [{"duty": "CLERK"}]},
        {"name": "签发", "mode": "SINGLE", "signOff": True, "assignees": [{"duty": "HEAD"}]},
    ]


async def create_template(c: Any, data: dict[str, Any]) -> dict[str, Any]:
    result = await c.execute(CREATE_T, {"input": data})
    assert "errors" not in result, result
    return result["data"]["createRouteTemplate"]


async def template_ok(c: Any, data: dict[str, Any]) -> dict[str, Any]:
    payload = await create_template(c, data)
    assert payload["errors"] == [], payload
    return payload["routeTemplate"]


async def steps_of(c: Any, doc_id: str) -> list[dict[str, Any]]:
    return (await c.execute(STEPS, {"id": doc_id}))["data"]["document"]["steps"]


async def test_admin_defines_templates_and_drafters_see_those_that_apply(
    users: dict[str, Any], demo: Demo, platform: Any
) -> None:
    admin, clerk = users["admin"], users["clerk"]
    notice = await template_ok(
        admin, {"unitId": demo.unit(GO), "docType": "NOTICE", "name": "办公厅通知流程", "steps": office_route(demo)}
    )
    assert notice["unit"] == {"code": GO}
    assert (notice["docType"], notice["version"]) == ("NOTICE", 1)
    assert notice["steps"] == [
        {
            "index": 0,
            "name": "核稿",
            "mode": "SINGLE",
            "quorum": None,
            "signOff": False,
            "assignees": [{"duty": None, "issuingUnit": False, "user": {"username": "deputy"}, "unit": None}],
        },
        {
            "index": 1,
            "name": "签发",
            "mode": "SINGLE",
            "quorum": None,
            "signOff": True,
            "assignees": [{"duty": "HEAD", "issuingUnit": True, "user": None, "unit": None}],
        },
    ]
    anything = await template_ok(
        admin, {"unitId": demo.unit(PROVINCE), "name": "省政府通用流程", "steps": generic_route()}
    )
    assert anything["docType"] is None
    go_any = await template_ok(admin, {"unitId": demo.unit(GO), "name": "办公厅通用流程", "steps": generic_route()})

    # Closest unit first; on one unit the typed template before the any-type one.
    applicable = (await clerk.execute(APPLICABLE, {"t": "NOTICE"}))["data"]["applicableRouteTemplates"]
    assert [t["name"] for t in applicable] == ["办公厅通知流程", "办公厅通用流程", "省政府通用流程"]
    letters = (await clerk.execute(APPLICABLE, {"t": "LETTER"}))["data"]["applicableRouteTemplates"]
    assert [t["name"] for t in letters] == ["办公厅通用流程", "省政府通用流程"]
    # 财政厅 is under the province, not under the General Office.
    finance = (await users["finance_head"].execute(APPLICABLE, {"t": "NOTICE"}))["data"]["applicableRouteTemplates"]
    assert [t["name"] for t in finance] == ["省政府通用流程"]
    listed = (await admin.execute(OF_UNIT, {"u": demo.unit(GO)}))["data"]["routeTemplates"]
    assert listed == [{"name": "办公厅通知流程", "docType": "NOTICE"}, {"name": "办公厅通用流程", "docType": None}]

    # One template per unit and type.
    before = await snapshot(platform)
    dup = await create_template(admin, {"unitId": demo.unit(GO), "name": "重复", "steps": generic_route()})
    assert codes(dup["errors"]) == [("docType", "DUPLICATE")]
    assert await snapshot(platform) == before

    deleted = (await admin.execute(DELETE_T, {"id": go_any["id"]}))["data"]["deleteRouteTemplate"]
    assert (deleted["deletedId"], deleted["errors"]) == (go_any["id"], [])
    letters = (await clerk.execute(APPLICABLE, {"t": "LETTER"}))["data"]["applicableRouteTemplates"]
    assert [t["name"] for t in letters] == ["省政府通用流程"]


async def test_template_steps_are_checked(users: dict[str, Any], demo: Demo, platform: Any) -> None:
    admin = users["admin"]
    cases = [
        (
            [{**generic_route()[1]}, generic_route()[0]],
            [("steps.0.signOff", "INVALID_VALUE")],
        ),
        (
            [{"name": "签发", "mode": "SINGLE", "signOff": True, "assignees": [{"duty": "CLERK"}]}],
            [("steps.0.assignees.0", "WRONG_SIGNER")],
        ),
        ([], [("steps", "REQUIRED")]),
        (
            [{"name": "", "mode": "QUORUM", "quorum": 3, "assignees": [{"duty": "HEAD"}, {"duty": "DEPUTY_HEAD"}]}],
            [("steps.0.name", "REQUIRED"), ("steps.0.quorum", "INVALID_VALUE")],
        ),
        (
            [
                {
                    "name": "核稿",
                    "mode": "SINGLE",
                    "assignees": [{"unitId": demo.unit(GO), "duty": "HEAD", "userId": demo.user("deputy")}],
                }
            ],
            [("steps.0.assignees.0", "INVALID_VALUE")],
        ),
    ]
    before = await snapshot(platform)
    for steps, expected in cases:
        payload = await create_template(admin, {"unitId": demo.unit(GO), "name": "流程", "steps": steps})
        assert (steps, codes(payload["errors"])) == (steps, expected)
        assert payload["routeTemplate"] is None
    blank = await create_template(admin, {"unitId": demo.unit(GO), "name": " ", "steps": generic_route()})
    assert codes(blank["errors"]) == [("name", "REQUIRED")]
    assert await snapshot(platform) == before


async def test_create_document_copies_the_template_route(users: dict[str, Any], demo: Demo, platform: Any) -> None:
    admin, clerk = users["admin"], users["clerk"]
    # No route, no template: REQUIRED on route, nothing written.
    count = await document_count(platform)
    missing = await create(clerk, {"title": TITLE, "docType": "NOTICE"})
    assert codes(missing["errors"]) == [("route", "REQUIRED")]
    assert await document_count(platform) == count

    notice = await template_ok(
        admin, {"unitId": demo.unit(GO), "docType": "NOTICE", "name": "办公厅通知流程", "steps": office_route(demo)}
    )
    generic = await template_ok(
        admin, {"unitId": demo.unit(PROVINCE), "name": "省政府通用流程", "steps": generic_route()}
    )

    # Neither route nor template: the default (closest) template for the type is copied.
    by_default = await create(clerk, {"title": TITLE, "docType": "NOTICE"})
    assert by_default["errors"] == []
    doc_id = by_default["document"]["id"]
    preview = (await clerk.execute(PREVIEW, {"id": doc_id}))["data"]["routePreview"]["steps"]
    assert [
        (
            s["name"],
            [(r["reason"], r["duty"], r["user"]["username"], (r["unit"] or {}).get("code")) for r in s["recipients"]],
        )
        for s in preview
    ] == [
        ("核稿", [("USER", None, "deputy", None)]),
        ("签发", [("DUTY", "HEAD", "secretary_general", GO)]),  # the issuing unit filled in
    ]
    assert [s["signOff"] for s in await steps_of(clerk, doc_id)] == [False, True]

    # An explicit template of an ancestor unit, for any type.
    chosen = await create(
        clerk, {"title": "山东省人民政府办公厅关于商请支持的函", "docType": "LETTER", "routeTemplateId": generic["id"]}
    )
    assert chosen["errors"] == []
    copied = (await clerk.execute(PREVIEW, {"id": chosen["document"]["id"]}))["data"]["routePreview"]["steps"]
    assert [[(r["duty"], r["user"]["username"], r["unit"]["code"]) for r in s["recipients"]] for s in copied] == [
        [("CLERK", "clerk", GO)],
        [("HEAD", "secretary_general", GO)],
    ]

    # Editing the template later does not change the documents made from it.
    changed = (
        await admin.execute(
            UPDATE_T,
            {
                "input": {
                    "id": notice["id"],
                    "expectedVersion": 1,
                    "steps": [
                        {"name": "签发", "mode": "SINGLE", "signOff": True, "assignees": [{"duty": "DEPUTY_HEAD"}]}
                    ],
                }
            },
        )
    )["data"]["updateRouteTemplate"]
    assert changed["errors"] == []
    assert (changed["routeTemplate"]["version"], len(changed["routeTemplate"]["steps"])) == (2, 1)
    assert [s["name"] for s in await steps_of(clerk, doc_id)] == ["核稿", "签发"]
    stale = (await admin.execute(UPDATE_T, {"input": {"id": notice["id"], "expectedVersion": 1, "name": "x"}}))["data"]
    assert codes(stale["updateRouteTemplate"]["errors"]) == [("expectedVersion", "STALE_VERSION")]


async def test_template_choice_errors(users: dict[str, Any], demo: Demo, platform: Any) -> None:
    admin, clerk = users["admin"], users["clerk"]
    notice = await template_ok(
        admin, {"unitId": demo.unit(GO), "docType": "NOTICE", "name": "办公厅通知流程", "steps": office_route(demo)}
    )
    finance = await template_ok(admin, {"unitId": demo.unit(FINANCE), "name": "财政厅流程", "steps": generic_route()})
    count = await document_count(platform)
    both = await create(
        clerk,
        {
            "title": TITLE,
            "docType": "NOTICE",
            "routeTemplateId": notice["id"],
            "route": {"steps": office_route(demo)[:1]},
        },
    )
    assert codes(both["errors"]) == [("routeTemplateId", "INVALID_VALUE")]
    other_unit = await create(clerk, {"title": TITLE, "docType": "NOTICE", "routeTemplateId": finance["id"]})
    assert codes(other_unit["errors"]) == [("routeTemplateId", "NOT_FOUND")]
    wrong_type = await create(
        clerk, {"title": "山东省人民政府办公厅关于商请支持的函", "docType": "LETTER", "routeTemplateId": notice["id"]}
    )
    assert codes(wrong_type["errors"]) == [("routeTemplateId", "INVALID_VALUE")]
    # The copied route is checked like one given by hand: an upward document needs the head's
    # sign-off, and the template names the deputy head.
    deputy_signs = await template_ok(
        admin,
        {
            "unitId": demo.unit(GO),
            "docType": "REQUEST",
            "name": "请示流程",
            "steps": [{"name": "签发", "mode": "SINGLE", "signOff": True, "assignees": [{"duty": "DEPUTY_HEAD"}]}],
        },
    )
    upward = await create(
        clerk,
        {
            "title": "山东省人民政府办公厅关于拨付值班经费的请示",
            "docType": "REQUEST",
            "direction": "UPWARD",
            "signers": ["孙秘书长"],
            "routeTemplateId": deputy_signs["id"],
        },
    )
    assert codes(upward["errors"]) == [("route.steps.0.assignees.0", "WRONG_SIGNER")]
    assert await document_count(platform) == count


async def test_concurrent_twins_get_one_template_and_a_retried_key_returns_the_first(
    users: dict[str, Any], demo: Demo, platform: Any
) -> None:
    admin = users["admin"]
    results = await asyncio.gather(
        *(
            create_template(
                admin, {"unitId": demo.unit(GO), "docType": "NOTICE", "name": f"流程{i}", "steps": generic_route()}
            )
            for i in range(2)
        )
    )
    assert sorted(codes(r["errors"]) for r in results) == [[], [("docType", "DUPLICATE")]]
    data = {
        "unitId": demo.unit(GO),
        "docType": "LETTER",
        "name": "函流程",
        "steps": generic_route(),
        "idempotencyKey": "t-1",
    }
    first = await template_ok(admin, data)
    again = await template_ok(admin, data)
    assert again == first
    listed = (await admin.execute(OF_UNIT, {"u": demo.unit(GO)}))["data"]["routeTemplates"]
    assert sorted(t["docType"] for t in listed) == ["LETTER", "NOTICE"]


async def test_applicable_templates_query_count_does_not_grow_with_the_list(
    users: dict[str, Any], demo: Demo, platform: Any
) -> None:
    admin, clerk = users["admin"], users["clerk"]
    counts = {}
    specs = [
        (GO, "NOTICE", office_route(demo)),
        (GO, None, generic_route()),
        (PROVINCE, None, generic_route()),
    ]
    for n, (unit, doc_type, steps) in enumerate(specs, start=1):
        await template_ok(admin, {"unitId": demo.unit(unit), "docType": doc_type, "name": f"流程{n}", "steps": steps})
        if n in (1, 3):
            with count_statements(platform) as statements:
                data = await clerk.execute(APPLICABLE, {"t": "NOTICE"})
            assert len(data["data"]["applicableRouteTemplates"]) == n
            counts[n] = len(statements)
    assert counts[1] == counts[3], counts

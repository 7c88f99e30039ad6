"""The published contract: SDL file in sync, descriptions everywhere, permissions declared."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

import schema as schema_package
from schema import schema
from schema.common import AllowAny, IsAdmin, IsAuditAdmin, IsSecurityAdmin
from schema.export import SDL_PATH, sdl
from schema.scopes import ROOT_FIELDS, USER_ONLY


def test_import_schema_is_ours() -> None:
    assert getattr(schema_package, "IS_OFFICE_API_SCHEMA", False) is True


def test_checked_in_sdl_matches_the_code() -> None:
    assert SDL_PATH.read_text(encoding="utf-8") == sdl(), "schema drifted: run ./dev schema and commit"


def test_every_type_and_field_has_a_description() -> None:
    missing = []
    for name, gtype in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Boolean", "ID", "Float", "JSON", "DateTime"}:
            continue
        if not gtype.description:
            missing.append(name)
        if isinstance(gtype, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for fname, f in gtype.fields.items():
                if not f.description:
                    missing.append(f"{name}.{fname}")
                for aname, arg in getattr(f, "args", {}).items():
                    if not arg.description and aname not in {"first", "after", "input", "id"}:
                        missing.append(f"{name}.{fname}({aname})")
        if isinstance(gtype, GraphQLEnumType):
            continue
    assert missing == []


def test_every_mutation_and_query_declares_permissions() -> None:
    undeclared = []
    for root in (schema.query, schema.mutation, schema.subscription):
        definition = root.__strawberry_definition__
        for field in definition.fields:
            if not field.permission_classes:
                undeclared.append(f"{definition.name}.{field.python_name}")
    assert undeclared == []


def test_only_login_and_refresh_are_public() -> None:
    public = sorted(
        f.python_name for f in schema.mutation.__strawberry_definition__.fields if AllowAny in f.permission_classes
    )
    assert public == ["login", "login_with_identity_provider", "refresh_token"]


def test_every_root_field_is_classified_for_integration_clients() -> None:
    """Each root field names the scope a client needs or is user-only (schema/scopes.py)."""
    gql = schema._schema
    names = {f"{t.name}.{f}" for t in (gql.query_type, gql.mutation_type, gql.subscription_type) for f in t.fields}
    assert sorted(names - ROOT_FIELDS.keys()) == [], "classify these root fields in schema/scopes.py"
    assert sorted(ROOT_FIELDS.keys() - names) == [], "these entries of schema/scopes.py name no field"


def test_admin_and_public_root_fields_are_user_only() -> None:
    """Clients never reach an administrator operation, sign-in, or a role-gated read."""
    from strawberry.utils.str_converters import to_camel_case

    gated = []
    for root in (schema.query, schema.mutation, schema.subscription):
        definition = root.__strawberry_definition__
        for field in definition.fields:
            if set(field.permission_classes) & {IsAdmin, IsSecurityAdmin, IsAuditAdmin, AllowAny}:
                gated.append(f"{definition.name}.{field.graphql_name or to_camel_case(field.python_name)}")
    assert len(gated) > 15
    assert {name: ROOT_FIELDS[name] for name in gated} == dict.fromkeys(gated, USER_ONLY)

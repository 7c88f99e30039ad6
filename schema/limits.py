"""Limits on what one GraphQL request may ask for.

A public API used by thousands of phones and by departmental systems must not let one
request exhaust the server:

* depth, aliases and tokens are capped with strawberry's own validators;
* :class:`QueryCostLimiter` estimates how many objects a query can return, multiplying
  down nested lists by their ``first`` argument (default 20 for connections), and refuses
  more than :data:`MAX_QUERY_COST` before anything runs;
* :class:`InputGuard` refuses text no database should store: NUL and other control
  characters (PostgreSQL cannot store NUL at all), unpaired UTF-16 surrogates, and
  bidirectional override characters that make names display as something else.

Refusals are top-level errors with ``extensions.code`` ``QUERY_TOO_COMPLEX`` or
``INVALID_VALUE`` (with the offending variable or argument as ``field``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    visit,
)
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5_000
#: Most objects one query may ask for, nested list sizes multiplied.
MAX_QUERY_COST = 50_000
#: Size assumed for a list field without ``first`` (connections default to 20).
DEFAULT_LIST_SIZE = 20
#: Fields that return whole lists without a ``first`` argument, and the size assumed for
#: them (a typical large value, not the hard maximum, so that a phone's detail screen fits).
UNPAGED_LIST_FIELDS = {
    "steps": 10,
    "tasks": 30,
    "history": 50,
    "opinions": 50,
    "assignees": 10,
    "positions": 5,
    "mainRecipients": 50,
    "ccRecipients": 50,
    "ancestors": 6,
    "deputyHeads": 5,
    "clerks": 5,
}

_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def bad_text_reason(value: str) -> str | None:
    """Why ``value`` is refused as text, or None."""
    m = _BAD_TEXT.search(value)
    if m is None:
        return None
    ch = m.group()
    if "\ud800" <= ch <= "\udfff":
        return "contains an unpaired UTF-16 surrogate"
    if ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        return f"contains a bidirectional control character U+{ord(ch):04X}"
    return f"contains the control character U+{ord(ch):04X}"


def _walk_values(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_values(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_values(v, f"{path}.{i}")


class InputGuard(SchemaExtension):
    """Refuse control characters, lone surrogates and bidi overrides in any input text."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        problems: list[GraphQLError] = []
        for path, text in _walk_values(ctx.variables or {}, "$"):
            reason = bad_text_reason(text)
            if reason:
                field = path[2:] if path.startswith("$.") else path
                problems.append(
                    GraphQLError(f"{field}: {reason}", extensions={"code": "INVALID_VALUE", "field": field})
                )
        document = ctx.graphql_document
        if document is not None:

            class Strings(Visitor):
                def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
                    reason = bad_text_reason(node.value)
                    if reason:
                        problems.append(
                            GraphQLError(
                                f"string literal {reason}",
                                nodes=[node],
                                extensions={"code": "INVALID_VALUE", "field": None},
                            )
                        )

            visit(document, Strings())
        if problems:
            ctx.pre_execution_errors = problems[:10]
        yield


class QueryCostLimiter(SchemaExtension):
    """Refuse queries that could return more than :data:`MAX_QUERY_COST` objects."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None and not ctx.pre_execution_errors:
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            variables = ctx.variables or {}
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    cost = _cost(definition.selection_set, 1, fragments, variables, set())
                    if cost > MAX_QUERY_COST:
                        ctx.pre_execution_errors = [
                            GraphQLError(
                                f"Query too complex: it may return about {cost} objects (limit {MAX_QUERY_COST}); "
                                "ask for smaller pages or fewer nested lists.",
                                nodes=[definition],
                                extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "limit": MAX_QUERY_COST},
                            )
                        ]
                        break
        yield


def _first(field: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value == "first":
            if isinstance(arg.value, IntValueNode):
                return int(arg.value.value)
            if isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
                return value if isinstance(value, int) else None
    return None


def _cost(
    selection_set: SelectionSetNode | None,
    multiplier: int,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    seen: set[str],
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            name = sel.name.value
            size = 1
            if any(a.name.value == "first" for a in sel.arguments or ()) or name in {"children", "members"}:
                size = max(_first(sel, variables) or DEFAULT_LIST_SIZE, 1)
            elif name in UNPAGED_LIST_FIELDS:
                size = UNPAGED_LIST_FIELDS[name]
            inner = multiplier * size
            total += inner + _cost(sel.selection_set, inner, fragments, variables, seen)
        elif isinstance(sel, InlineFragmentNode):
            total += _cost(sel.selection_set, multiplier, fragments, variables, seen)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            if name in fragments and name not in seen:
                total += _cost(fragments[name].selection_set, multiplier, fragments, variables, seen | {name})
        if total > MAX_QUERY_COST * 10:
            return total
    return total

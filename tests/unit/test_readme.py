"""The README stays true: its GraphQL examples validate against the schema, and it opens
with the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from schema import schema

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_graphql_examples() -> None:
    assert len(BLOCKS) >= 15


@pytest.mark.parametrize("block", BLOCKS, ids=[re.split(r"[\s({]", b.strip())[1] for b in BLOCKS])
def test_readme_example_is_valid_graphql(block: str) -> None:
    errors = validate(schema._schema, parse(block))
    assert [e.message for e in errors] == []


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"```sh\n(.*?)```", text, flags=re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["./dev demo", "./dev test"]

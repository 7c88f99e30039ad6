"""Write the schema's SDL to ``schema/schema.graphql`` (``./dev schema``).

The checked-in file is the published contract; ``tests/api/test_schema_contract.py`` fails
when it and the code disagree.
"""

from __future__ import annotations

from pathlib import Path

SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"


def sdl() -> str:
    from schema import schema

    return schema.as_str() + "\n"


def main() -> None:
    SDL_PATH.write_text(sdl(), encoding="utf-8")
    print(f"wrote {SDL_PATH}")


if __name__ == "__main__":
    main()

"""Alembic environment: async engine, batch mode on SQLite, the models' metadata."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from office_api.config import get_settings
from office_api.db import make_engine
from office_api.models import metadata

config = context.config


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


#: Search structures made by migration 0017 outside the models (documents/search.py): the
#: SQLite FTS5 table and its shadow tables, and the PostgreSQL GIN expression index.
_UNMODELLED_PREFIXES = ("document_search_fts", "ix_document_search_tsv")


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (name and name.startswith(_UNMODELLED_PREFIXES))


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    is_sqlite = (url or _url()).startswith("sqlite")
    context.configure(
        connection=connection,
        url=url,
        target_metadata=metadata,
        render_as_batch=is_sqlite,
        compare_type=True,
        include_name=_include_name,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = make_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run_sync(connectable)
    else:
        asyncio.run(run_migrations_online())

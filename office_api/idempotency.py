"""Idempotency keys: a retried mutation returns its first result and changes nothing.

A mutation that takes ``idempotencyKey`` inserts an :class:`IdempotencyRecord` keyed by
(actor, mutation, key) in the same transaction as its work, *before* the work runs, and
stores the work's result in it. Consequences:

* a rolled-back attempt (a domain or validation error, a crash) leaves no record, so a
  retry of a failed request runs and validates again: only successes are remembered;
* a retry with the same key and input finds the record and gets the stored result back
  without running the work (no new rows, history entries or notifications);
* two identical requests at the same moment: on PostgreSQL the second's insert of the
  same unique key waits until the first commits, then fails, and the second reads the
  first's record; on SQLite ``BEGIN IMMEDIATE`` serializes writers, so the second sees
  the committed record at its first look.

The stored result is the work's return value encoded as JSON by :func:`dump_result`:
ORM rows become a snapshot of their columns, dataclasses and enums keep their class, so
that :func:`load_result` rebuilds the same objects (detached, not in any session) and the
GraphQL payload built from them equals the first one, ids included.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import importlib
import json
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UTCDateTime

#: Longest key accepted.
MAX_KEY_LENGTH = 100
#: Packages whose classes a stored result may name (nothing else is ever imported).
_TRUSTED_PACKAGES = ("documents.", "office_api.", "messaging.", "meetings.", "schema.")


class IdempotencyRecord(Base):
    """The first result of one (actor, mutation, key), kept until ``expires_at``."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("actor_key", "mutation", "key"),
        Index("ix_idempotency_records_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``user:<id>`` or ``client:<id>`` (an integration client).
    actor_key: Mapped[str] = mapped_column(String(40))
    #: The GraphQL root field, e.g. ``approveTask``.
    mutation: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    #: SHA-256 of the canonical JSON of the field's input (the key itself left out).
    input_hash: Mapped[str] = mapped_column(String(64))
    #: The encoded result (:func:`dump_result`); null only inside the claiming transaction.
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def valid_key(key: str) -> bool:
    """1 to 100 printable ASCII characters (space to tilde)."""
    return 1 <= len(key) <= MAX_KEY_LENGTH and all(" " <= c <= "~" for c in key)


# ---- canonical input ------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return _canonical(value.value)
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.name == "idempotency_key" or type(v).__name__ == "UnsetType":
                continue  # an omitted optional field hashes like an absent one
            out[f.name] = _canonical(v)
        return out
    return str(value)  # GlobalID and other scalars: their wire form


def input_hash(input: Any) -> str:
    """SHA-256 of the canonical JSON of a GraphQL input object, ``idempotency_key`` left out."""
    text = json.dumps(_canonical(input), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# ---- results ---------------------------------------------------------------------------


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _class(path: str) -> type:
    module, _, name = path.partition(":")
    if not module.startswith(_TRUSTED_PACKAGES):
        raise ValueError(f"untrusted class in a stored result: {path}")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


async def _load_columns(session: AsyncSession, value: Any) -> None:
    """Load expired or deferred columns of the rows in ``value`` (no lazy load later)."""
    if isinstance(value, list | tuple):
        for v in value:
            await _load_columns(session, v)
        return
    state = inspect(value, raiseerr=False)
    if state is None or not hasattr(state, "unloaded") or state.session is None:
        return
    columns = {a.key for a in state.mapper.column_attrs}
    missing = sorted(columns & set(state.unloaded))
    if missing:
        await session.refresh(value, attribute_names=missing)


def _dump(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return {"$enum": _path(type(value)), "v": value.value}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple):
        return {"$tuple": [_dump(v) for v in value]}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {"$dict": {str(k): _dump(v) for k, v in value.items()}}
    mapper = inspect(type(value), raiseerr=False)
    if mapper is not None and hasattr(mapper, "column_attrs"):
        cols = {a.key: _dump(getattr(value, a.key)) for a in mapper.column_attrs}
        return {"$row": _path(type(value)), "v": cols}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {"$dataclass": _path(type(value)), "v": fields}
    raise TypeError(f"cannot store a {type(value).__name__} as an idempotent result")


def _load(data: Any) -> Any:
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [_load(v) for v in data]
    if "$enum" in data:
        return _class(data["$enum"])(data["v"])
    if "$datetime" in data:
        return dt.datetime.fromisoformat(data["$datetime"])
    if "$date" in data:
        return dt.date.fromisoformat(data["$date"])
    if "$tuple" in data:
        return tuple(_load(v) for v in data["$tuple"])
    if "$dict" in data:
        return {k: _load(v) for k, v in data["$dict"].items()}
    if "$row" in data:
        return _class(data["$row"])(**{k: _load(v) for k, v in data["v"].items()})
    if "$dataclass" in data:
        return _class(data["$dataclass"])(**{k: _load(v) for k, v in data["v"].items()})
    raise ValueError("malformed stored result")


async def dump_result(session: AsyncSession, value: Any) -> Any:
    """The JSON form of a mutation's work result (ORM rows, dataclasses, enums, dates,
    lists, tuples, dicts and scalars), taken inside its transaction."""
    await session.flush()
    await _load_columns(session, value)
    return _dump(value)


def load_result(data: Any) -> Any:
    """The objects :func:`dump_result` encoded (ORM rows come back detached)."""
    return _load(data)

"""The local-disk attachment storage (documents/storage.py) in a tmp_path root."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from documents.storage import LocalDiskStorage, TooLarge


async def stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def read_all(storage: LocalDiskStorage, key: str) -> bytes:
    return b"".join([c async for c in storage.open(key)])


async def test_save_hashes_while_streaming_and_renames_into_place(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    stored = await storage.save(stream(b"hello ", b"world"), limit=11)
    assert stored.size == 11
    assert stored.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert stored.key.startswith(f"{stored.sha256[:2]}/{stored.sha256}-")
    assert await read_all(storage, stored.key) == b"hello world"
    assert list((tmp_path / "tmp").iterdir()) == []  # no temporary file left
    again = await storage.save(stream(b"hello world"), limit=100)
    assert again.key != stored.key  # each save its own file: deleting one keeps the other
    await storage.delete(stored.key)
    assert not storage.path(stored.key).exists()
    assert await read_all(storage, again.key) == b"hello world"
    await storage.delete(stored.key)  # a missing file is not an error


async def test_too_large_stops_and_keeps_nothing(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    read: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(1000):
            read.append(i)
            yield b"x" * 1024

    with pytest.raises(TooLarge):
        await storage.save(endless(), limit=4096)
    assert len(read) == 5  # stopped at the first chunk past the limit
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def test_a_failing_stream_keeps_nothing(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        await storage.save(broken(), limit=100)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_sweep_removes_only_old_temporary_files(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    storage.tmp.mkdir(parents=True)
    old, fresh = storage.tmp / "old.part", storage.tmp / "fresh.part"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert storage.sweep_temp(older_than_seconds=3600) == 1
    assert [p.name for p in storage.tmp.iterdir()] == ["fresh.part"]


@pytest.mark.parametrize("key", ["../etc/passwd", "ab/../../x", "abc/def", "ab/.hidden", "ab/c/d", "ab/"])
def test_malformed_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="malformed storage key"):
        LocalDiskStorage(tmp_path).path(key)

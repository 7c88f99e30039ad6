"""Where attachment bytes live: a small storage interface and its local-disk implementation.

A stored file is named by a key derived from its SHA-256 (``ab/abcdef…-<random>``): the
digest and size are computed while the upload streams in, in chunks, so no file is held in
memory whole. Each save gets its own key (same bytes uploaded twice are two files), so
deleting one attachment's file never takes another's.

Crash safety: bytes go to a temporary file under ``<root>/tmp`` that is renamed atomically
(``os.replace``) into place only once complete; the database row that references the key is
written afterwards, and files are deleted only after the row's deletion has committed, so a
committed row never names a missing file. A save whose transaction then fails is deleted by
the caller; temporary files left by a crash are removed by :meth:`LocalDiskStorage.sweep_temp`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: Size of the chunks read from an upload and from a stored file, in bytes.
CHUNK = 64 * 1024


class TooLarge(Exception):
    """The stream passed ``limit`` bytes; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredFile:
    """A saved file: its storage ``key``, ``size`` in bytes and ``sha256`` (64 hex digits)."""

    key: str
    size: int
    sha256: str


class FileStorage(Protocol):
    """Saves, opens and deletes opaque files by key."""

    async def save(self, chunks: AsyncIterator[bytes], *, limit: int) -> StoredFile:
        """Store the stream; :class:`TooLarge` (and nothing kept) once it passes ``limit`` bytes."""
        ...

    def path(self, key: str) -> Path:
        """A local path to read the file from (for content checks)."""
        ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks; ``FileNotFoundError`` when the key is unknown."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file; a missing one is not an error."""
        ...


class LocalDiskStorage:
    """Files under ``root``: ``<root>/<sha[:2]>/<sha>-<16 hex>``, temporary files in ``<root>/tmp``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def path(self, key: str) -> Path:
        """The file of ``key``; ``ValueError`` for a key this storage cannot have made."""
        head, _, name = key.partition("/")
        if len(head) != 2 or not name or "/" in name or "\\" in name or name.startswith(".") or ".." in key:
            raise ValueError(f"malformed storage key {key!r}")
        return self.root / head / name

    async def save(self, chunks: AsyncIterator[bytes], *, limit: int) -> StoredFile:
        """Stream ``chunks`` to a temporary file while hashing, then rename it into place.

        Raises :class:`TooLarge` as soon as more than ``limit`` bytes arrived (the rest of the
        stream is not read; the temporary file is removed). Any other failure removes it too.
        """
        self.tmp.mkdir(parents=True, exist_ok=True)
        temp = self.tmp / f"{secrets.token_hex(16)}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            with open(temp, "xb") as fh:  # noqa: ASYNC230 - local disk, small chunks
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(limit)
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            sha = digest.hexdigest()
            key = f"{sha[:2]}/{sha}-{secrets.token_hex(8)}"
            final = self.path(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return StoredFile(key=key, size=size, sha256=sha)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The bytes of ``key`` in chunks of :data:`CHUNK`."""
        with open(self.path(key), "rb") as fh:  # noqa: ASYNC230 - local disk, small chunks
            while chunk := fh.read(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def sweep_temp(self, older_than_seconds: float = 3600) -> int:
        """Remove temporary files older than ``older_than_seconds`` (left by a crash); the count removed."""
        if not self.tmp.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self.tmp.iterdir():
            if entry.suffix == ".part" and entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed

"""Helpers for free-text input."""

from __future__ import annotations

import unicodedata


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) == "Cf"


def trimmed(value: str | None) -> str:
    """``value`` without surrounding white space and invisible format characters (Unicode
    category Cf: zero-width space U+200B, zero-width (non-)joiners U+200C/U+200D, word joiner
    U+2060, byte-order mark U+FEFF, direction marks), so that a value made only of them
    counts as empty (``REQUIRED``). Characters inside the text are kept (a joiner inside an
    emoji sequence, for instance). None becomes ""."""
    text = value or ""
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]

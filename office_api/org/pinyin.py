"""Pinyin search keys of a person's name (pure; pypinyin's bundled dictionary, no I/O).

``search_keys("张伟") == ("zhangwei", "zw")``. Letters and digits outside Chinese characters
are kept as words (``"Li Na"`` gives ``("lina", "ln")``); everything else is dropped. Keys
are lowercase ASCII so that prefix matches are exact on every database.
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

_WORD = re.compile(r"[A-Za-z0-9]+")
#: Longest full-pinyin key stored (``users.name_pinyin``); 64 characters of 6 letters each.
MAX_PINYIN = 400
MAX_INITIALS = 64


def _words(chunk: str) -> list[str]:
    return _WORD.findall(chunk)


def search_keys(name: str) -> tuple[str, str]:
    """(full pinyin, initials) of ``name``, lowercase ASCII."""
    syllables = [s.lower() for s in lazy_pinyin(name, style=Style.NORMAL, errors=_words) if s]
    syllables = [s for s in syllables if s.isascii() and s.isalnum()]
    full = "".join(syllables)[:MAX_PINYIN]
    initials = "".join(s[0] for s in syllables)[:MAX_INITIALS]
    return full, initials


def normalize_query(text: str) -> str:
    """A query as a pinyin key: lowercase ASCII letters and digits only ("Zhang Wei" -> "zhangwei")."""
    return "".join(_WORD.findall(text)).lower()

"""office_api.text.trimmed: surrounding white space and invisible format characters go."""

from __future__ import annotations

import pytest

from office_api.text import trimmed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        ("  公文  ", "公文"),
        ("\u3000通知\n", "通知"),
        ("\u200b", ""),
        ("\ufeff\u2060 \u200d\u200c", ""),
        ("\u200e\u200f办公室\u200b", "办公室"),
        ("张\u200b伟", "张\u200b伟"),  # inside the text: kept
        ("👨\u200d💻", "👨\u200d💻"),  # a joiner inside an emoji sequence
    ],
)
def test_trimmed(value: str | None, expected: str) -> None:
    assert trimmed(value) == expected

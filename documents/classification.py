"""The classification gate: refuse state-secret material (2012 regulation Arts. 26, 30).

"涉密不上网，上网不涉密": this platform is non-classified, so any state-secret level (绝密,
机密, 秘密) in the classification field, in any spelling (full-width characters, spaces,
with ★ and a period, date or condition), is refused, and so is "pending classification"
(拟定密级 / 待定密, regulation Art. 30) and cipher-telegram / 机要 labels (Art. 26).
Bare words in body text are not checked here: 商业秘密, 工作秘密 and 做好保密工作 are normal.
"""

from __future__ import annotations

import re
import unicodedata

_LEVELS = ("绝密", "机密", "秘密")
_PENDING = ("拟定密级", "待定密", "定密中", "拟定密", "待定密级", "密级待定")
_CHANNELS = ("密电", "密码电报", "机要")
#: Non-secret markings an integrating system may send in the classification field.
_ALLOWED = {"", "无", "非密", "公开", "内部", "不公开", "工作秘密", "内部事项注意保管"}


#: Traditional and variant characters of the level words, folded to the simplified form.
_VARIANTS = str.maketrans({"絕": "绝", "機": "机", "祕": "秘", "國": "国"})


def normalise(text: str) -> str:
    """NFKC-fold (full-width → half-width), drop white space and invisible format characters
    (zero-width space, BOM, soft hyphen …), fold traditional level characters, upper-case Latin."""
    folded = unicodedata.normalize("NFKC", text).translate(_VARIANTS)
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return re.sub(r"\s+", "", visible).upper()


def state_secret_reason(classification: str | None) -> str | None:
    """Why ``classification`` is refused, or None when it is acceptable.

    >>> state_secret_reason("机密★10年")
    'state-secret level 机密'
    >>> state_secret_reason("内部") is None
    True
    """
    if classification is None:
        return None
    value = normalise(classification)
    if value in _ALLOWED:
        return None
    for level in _LEVELS:
        if value.startswith(level) or f"{level}★" in value:
            return f"state-secret level {level}"
    if "国家秘密" in value:
        return "state secret"
    if value in {"TOPSECRET", "SECRET", "CONFIDENTIAL"}:
        return f"state-secret level {value}"
    for word in _PENDING:
        if word in value:
            return "pending classification"
    for word in _CHANNELS:
        if word in value:
            return "confidential channel"
    if "★" in value:
        return "state-secret mark"
    return f"unknown classification {classification.strip()!r}"

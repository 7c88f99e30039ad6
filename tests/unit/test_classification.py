"""The classification gate: exact reasons for refused spellings, None for accepted ones.

The platform is non-classified ("涉密不上网，上网不涉密"): any state-secret level in any spelling,
pending classification, cipher telegrams and 机要 channels are refused; non-secret markings pass.
Body text is not checked here (see tests/api/test_documents.py).
"""

from __future__ import annotations

import pytest

from documents.classification import normalise, state_secret_reason


@pytest.mark.parametrize(
    ("classification", "reason"),
    [
        # Spellings of the state-secret mark (level ★ period, date or condition).
        ("秘 密", "state-secret level 秘密"),
        ("机密★", "state-secret level 机密"),
        ("机密★10年", "state-secret level 机密"),
        ("秘密★6个月", "state-secret level 秘密"),
        ("绝密★长期", "state-secret level 绝密"),
        ("机密★2030年12月31日解密", "state-secret level 机密"),
        # Bare levels, a condition, and a level with a suffix.
        ("绝密", "state-secret level 绝密"),
        ("机密", "state-secret level 机密"),
        ("秘密", "state-secret level 秘密"),
        ("秘密★", "state-secret level 秘密"),
        ("绝密★启用前", "state-secret level 绝密"),
        ("秘密级", "state-secret level 秘密"),
        # Spaces of every width, around and inside the mark.
        ("机密　★　10年", "state-secret level 机密"),
        ("秘密 ★ 5年", "state-secret level 秘密"),
        (" 绝 密 ", "state-secret level 绝密"),
        ("\t机密\n", "state-secret level 机密"),
        ("秘\u00a0密", "state-secret level 秘密"),
        # Full-width digits and letters fold to half-width.
        ("机密★１０年", "state-secret level 机密"),
        # Invisible format characters (zero-width space, BOM, soft hyphen, word joiner) are dropped.
        ("秘\u200b密", "state-secret level 秘密"),
        ("\ufeff机密★10年", "state-secret level 机密"),
        ("绝\u00ad密", "state-secret level 绝密"),
        ("机\u2060密", "state-secret level 机密"),
        # Traditional and variant characters.
        ("機密★10年", "state-secret level 机密"),
        ("絕密", "state-secret level 绝密"),
        ("祕密", "state-secret level 秘密"),
        # A level word after other text, next to the mark.
        ("工作秘密★", "state-secret level 秘密"),
        # The generic words and English levels.
        ("国家秘密", "state secret"),
        ("國家秘密", "state secret"),
        ("TOP SECRET", "state-secret level TOPSECRET"),
        ("ＴＯＰ　ＳＥＣＲＥＴ", "state-secret level TOPSECRET"),
        ("top secret", "state-secret level TOPSECRET"),
        ("Secret", "state-secret level SECRET"),
        ("confidential", "state-secret level CONFIDENTIAL"),
        # Pending classification (Art. 30): already protected at the proposed level.
        ("拟定密级", "pending classification"),
        ("待定密", "pending classification"),
        ("待定密级", "pending classification"),
        ("密级待定", "pending classification"),
        ("拟 定 密 级", "pending classification"),
        # Cipher telegrams and the confidential channel (Art. 26).
        ("密电", "confidential channel"),
        ("密码电报", "confidential channel"),
        ("机要", "confidential channel"),
        ("机要件", "confidential channel"),
        # A star mark on any word is a state-secret mark.
        ("★", "state-secret mark"),
        ("内部★", "state-secret mark"),
        ("SECRET★5年", "state-secret mark"),
        # Anything unknown is refused: the gate fails closed.
        ("商业秘密", "unknown classification '商业秘密'"),
        ("不涉密", "unknown classification '不涉密'"),
        ("xyz", "unknown classification 'xyz'"),
        (" 普通 ", "unknown classification '普通'"),
    ],
)
def test_refused(classification: str, reason: str) -> None:
    assert state_secret_reason(classification) == reason


@pytest.mark.parametrize(
    "classification",
    [
        None,
        "",
        " ",
        "　",
        "\u200b",
        "内部",
        " 内部 ",
        "内 部",
        "内\u200b部",
        "工作秘密",
        "公开",
        "不公开",
        "非密",
        "无",
        "内部事项注意保管",
        "内部事项 注意保管",
    ],
)
def test_accepted(classification: str | None) -> None:
    assert state_secret_reason(classification) is None


def test_normalise_folds_width_drops_spaces_and_upper_cases() -> None:
    assert normalise("　机密　★　１０年 ") == "机密★10年"
    assert normalise("Top\u00a0Secret") == "TOPSECRET"
    assert normalise("秘\u200b密") == "秘密"
    assert normalise("") == ""

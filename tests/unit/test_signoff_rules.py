"""Pure sign-off rules (documents/signoff.py): route shape, who may sign, hash and date."""

from __future__ import annotations

import datetime as dt
import hashlib

from documents import signoff
from documents.signoff import StepRef
from documents.types import StepMode
from office_api.org.models import Duty


def steps(*spec: tuple[bool, StepMode]) -> list[StepRef]:
    return [StepRef(i, flag, mode) for i, (flag, mode) in enumerate(spec)]


def test_a_route_without_sign_off_or_with_one_last_single_step_is_fine() -> None:
    assert signoff.shape_problems(steps((False, StepMode.SINGLE), (False, StepMode.PARALLEL_ALL))) == []
    assert signoff.shape_problems(steps((False, StepMode.QUORUM), (True, StepMode.SINGLE))) == []
    assert signoff.shape_problems([]) == []


def test_sign_off_must_be_last() -> None:
    assert signoff.shape_problems(steps((True, StepMode.SINGLE), (False, StepMode.SINGLE))) == [
        ("route.steps.0.signOff", "the sign-off step must be the last step")
    ]


def test_at_most_one_sign_off_step() -> None:
    assert signoff.shape_problems(
        steps((False, StepMode.SINGLE), (True, StepMode.SINGLE), (True, StepMode.SINGLE))
    ) == [
        ("route.steps.2.signOff", "a route has at most one sign-off step"),
        ("route.steps.1.signOff", "the sign-off step must be the last step"),
    ]


def test_sign_off_is_single() -> None:
    for mode in (StepMode.PARALLEL_ALL, StepMode.ANY_ONE, StepMode.SEQUENTIAL, StepMode.QUORUM):
        assert signoff.shape_problems(steps((True, mode))) == [
            ("route.steps.0.mode", "a sign-off step is SINGLE (one signer)")
        ]


def test_who_may_sign_reg_art_22() -> None:
    assert signoff.allowed_duties("downward", False) == (Duty.HEAD, Duty.DEPUTY_HEAD)
    assert signoff.allowed_duties("parallel", False) == (Duty.HEAD, Duty.DEPUTY_HEAD)
    assert signoff.allowed_duties("upward", False) == (Duty.HEAD,)
    assert signoff.allowed_duties("downward", True) == (Duty.HEAD,)


def test_body_hash_and_sign_off_date() -> None:
    assert signoff.body_hash("正文") == hashlib.sha256("正文".encode()).hexdigest()
    assert signoff.body_hash("") == hashlib.sha256(b"").hexdigest()
    # 23:59:59 and 00:30 in Shanghai on either side of midnight UTC+8
    assert signoff.local_date(dt.datetime(2026, 1, 4, 15, 59, 59, tzinfo=dt.UTC)) == dt.date(2026, 1, 4)
    assert signoff.local_date(dt.datetime(2026, 1, 4, 16, 30, tzinfo=dt.UTC)) == dt.date(2026, 1, 5)

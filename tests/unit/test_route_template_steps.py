"""Pure parts of route templates (documents/templates.py): the stored JSON form of the steps
and the issuing unit filled in when a document copies them."""

from __future__ import annotations

from documents.service import AssigneeInput, StepInput
from documents.templates import steps_from_json, steps_to_json
from documents.types import StepMode
from office_api.org.models import Duty

STEPS = [
    StepInput(" 核稿 ", StepMode.SINGLE, assignee_ids=[7]),
    StepInput(
        "会签",
        StepMode.QUORUM,
        assignees=[AssigneeInput(unit_id=3, duty=Duty.HEAD), AssigneeInput(unit_id=4), AssigneeInput(user_id=9)],
        quorum=2,
    ),
    StepInput("签发", StepMode.SINGLE, assignees=[AssigneeInput(duty=Duty.HEAD)], sign_off=True),
]


def test_steps_are_stored_as_plain_json() -> None:
    assert steps_to_json(STEPS) == [
        {"name": "核稿", "mode": "single", "quorum": None, "signOff": False, "assignees": [{"userId": 7}]},
        {
            "name": "会签",
            "mode": "quorum",
            "quorum": 2,
            "signOff": False,
            "assignees": [{"unitId": 3, "duty": "head"}, {"unitId": 4}, {"userId": 9}],
        },
        {"name": "签发", "mode": "single", "quorum": None, "signOff": True, "assignees": [{"duty": "head"}]},
    ]


def test_copy_fills_in_the_issuing_unit_for_a_duty_without_unit() -> None:
    copied = steps_from_json(steps_to_json(STEPS), issuing_unit_id=42)
    assert [(s.name, s.mode, s.quorum, s.sign_off) for s in copied] == [
        ("核稿", StepMode.SINGLE, None, False),
        ("会签", StepMode.QUORUM, 2, False),
        ("签发", StepMode.SINGLE, None, True),
    ]
    assert [[(a.user_id, a.unit_id, a.duty) for a in s.assignees] for s in copied] == [
        [(7, None, None)],
        [(None, 3, Duty.HEAD), (None, 4, None), (9, None, None)],
        [(None, 42, Duty.HEAD)],
    ]
    # Without an issuing unit (the template as stored) the duty stays unit-less.
    assert steps_from_json(steps_to_json(STEPS[2:]))[0].assignees == [AssigneeInput(duty=Duty.HEAD)]

"""Pure rules of countersign inside a unit and of the circulation summary."""

from __future__ import annotations

import datetime as dt

import pytest

from documents.circulation import Summary, summarize
from documents.models import Circulation
from documents.unit_countersign import SubOutcome, WithinUnitMode, after_subtask_approval, initial_count

SEQ, ALL = WithinUnitMode.SEQUENTIAL, WithinUnitMode.PARALLEL_ALL


@pytest.mark.parametrize(("mode", "members", "expected"), [(SEQ, 3, 1), (SEQ, 1, 1), (ALL, 3, 3), (ALL, 1, 1)])
def test_initial_count(mode: WithinUnitMode, members: int, expected: int) -> None:
    assert initial_count(mode, members) == expected


@pytest.mark.parametrize(
    ("mode", "members", "opened", "pending", "expected"),
    [
        (SEQ, 3, 1, 0, SubOutcome.OPEN_NEXT),  # first of three approved: open the second
        (SEQ, 3, 2, 0, SubOutcome.OPEN_NEXT),
        (SEQ, 3, 3, 0, SubOutcome.DONE),  # the last approved
        (SEQ, 1, 1, 0, SubOutcome.DONE),
        (ALL, 3, 3, 2, SubOutcome.WAIT),  # two others still pending
        (ALL, 3, 3, 1, SubOutcome.WAIT),
        (ALL, 3, 3, 0, SubOutcome.DONE),
    ],
)
def test_after_subtask_approval(
    mode: WithinUnitMode, members: int, opened: int, pending: int, expected: SubOutcome
) -> None:
    assert after_subtask_approval(mode, members, opened, pending) is expected


def _item(pk: int, reader: int, read: bool) -> Circulation:
    at = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    return Circulation(id=pk, document_id=1, reader_id=reader, sent_by_id=9, sent_at=at, read_at=at if read else None)


def test_summary_counts_each_reader_once_by_their_latest_item() -> None:
    items = [_item(1, 10, True), _item(2, 11, False), _item(3, 10, False), _item(4, 12, True)]
    # Reader 10 read the first item but has an unread newer one: unread.
    assert summarize(items) == Summary(readers=3, read=1)
    assert summarize(list(reversed(items))) == Summary(readers=3, read=1)
    assert summarize([]) == Summary(readers=0, read=0)

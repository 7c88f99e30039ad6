"""The UTC timestamp type refuses naive datetimes and returns aware UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from office_api.db import UTCDateTime


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(dt.datetime(2026, 1, 5, 9, 0), None)  # noqa: DTZ001


def test_aware_datetime_is_stored_as_utc() -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    stored = UTCDateTime().process_bind_param(dt.datetime(2026, 1, 5, 9, 0, tzinfo=shanghai), None)
    assert stored == dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)
    assert stored.tzinfo == dt.UTC


def test_values_read_back_naive_are_taken_as_utc() -> None:
    value = UTCDateTime().process_result_value(dt.datetime(2026, 1, 5, 1, 0), None)  # noqa: DTZ001
    assert value == dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)

"""Recurring meetings: RFC 5545 RRULEs, validated and expanded with python-dateutil.

A rule is expanded in the meeting's own time zone (wall-clock times, ``Asia/Shanghai`` by
default) and each instance converted to UTC, so that "every Monday 09:00" stays 09:00 local
even where the zone changes its UTC offset. Every series must be bounded (``COUNT`` or
``UNTIL``) and yield at most :data:`MAX_OCCURRENCES` instances: occurrences are stored rows.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

from office_api.errors import DomainError, ErrorCode

#: Most occurrences one series may have (a weekly meeting for about ten years).
MAX_OCCURRENCES = 500
#: Frequencies a meeting may recur at; HOURLY and finer make no sense for meetings.
ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
MAX_RULE_LENGTH = 500

_UNTIL = re.compile(r"UNTIL=([0-9]{8})(T[0-9]{6})?(Z)?", re.IGNORECASE)


@dataclass(frozen=True)
class Instance:
    """One occurrence: ``start``/``end`` UTC instants; ``recurrence_id`` = ``start`` as generated."""

    recurrence_id: dt.datetime
    start: dt.datetime
    end: dt.datetime


def zone(name: str, field: str = "timeZone") -> ZoneInfo:
    """The IANA zone ``name``; ``INVALID_VALUE`` naming ``field`` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise DomainError(ErrorCode.INVALID_VALUE, field, detail=f"unknown IANA time zone {name!r}") from exc


def _normalize(rule: str, tz: ZoneInfo, field: str) -> str:
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or len(text) > MAX_RULE_LENGTH or "\n" in text or "\r" in text:
        raise DomainError(
            ErrorCode.RECURRENCE_INVALID, field, detail=f"one RRULE line of 1–{MAX_RULE_LENGTH} characters"
        )
    parts = {p.split("=", 1)[0].upper() for p in text.split(";") if p}
    if "DTSTART" in text.upper():
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="DTSTART comes from the meeting's start")
    freq = next((p.split("=", 1)[1].upper() for p in text.split(";") if p.upper().startswith("FREQ=")), None)
    if freq is None:
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="FREQ is required")
    if freq not in ALLOWED_FREQ:
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise DomainError(ErrorCode.RECURRENCE_UNBOUNDED, field, limit=MAX_OCCURRENCES)

    # RFC 5545 §3.3.10: with a zoned DTSTART, UNTIL is UTC. A date or local UNTIL is read in
    # the meeting's zone (end of that day for a bare date) and rewritten as UTC.
    def to_utc(m: re.Match[str]) -> str:
        day, clock, z = m.group(1), m.group(2), m.group(3)
        try:
            if z:
                return m.group(0).upper()
            local = dt.datetime.strptime(day + (clock or "T235959"), "%Y%m%dT%H%M%S").replace(tzinfo=tz)
        except ValueError as exc:
            raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="UNTIL is not a valid date") from exc
        return "UNTIL=" + local.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    return _UNTIL.sub(to_utc, text)


def parse(rule: str, first_start: dt.datetime, tz: ZoneInfo, field: str = "recurrence") -> rrule:
    """The dateutil rule of ``rule`` anchored at ``first_start`` (aware; read in ``tz``).

    Raises ``RECURRENCE_INVALID`` (syntax, FREQ, DTSTART given) or ``RECURRENCE_UNBOUNDED``
    (neither COUNT nor UNTIL), naming ``field``.
    """
    text = _normalize(rule, tz, field)
    try:
        parsed = rrulestr(text, dtstart=first_start.astimezone(tz))
    except (ValueError, TypeError, OverflowError) as exc:
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail=str(exc)[:200]) from exc
    if not isinstance(parsed, rrule):  # pragma: no cover - rrulestr returns an rruleset only with forceset
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="one RRULE expected")
    return parsed


def expand(
    rule: str | None,
    start: dt.datetime,
    end: dt.datetime,
    time_zone: str,
    *,
    field: str = "recurrence",
) -> list[Instance]:
    """The instances of a meeting: one for ``rule`` None, else every instance of the RRULE.

    ``start``/``end`` are the first occurrence's aware instants; every instance keeps the
    first one's local start time and its duration in local wall-clock terms. ``start`` must
    be the rule's first instance (RFC 5545 §3.8.5.3 counts DTSTART as the first one; a start
    the rule would skip is refused rather than silently added). Returns UTC instants in order.

    Raises ``RECURRENCE_INVALID``/``RECURRENCE_UNBOUNDED`` (see :func:`parse`) and
    ``TOO_MANY`` (more than :data:`MAX_OCCURRENCES`), naming ``field``.
    """
    if rule is None:
        s, e = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        return [Instance(s, s, e)]
    tz = zone(time_zone)
    local_start = start.astimezone(tz)
    local_end = end.astimezone(tz)
    wall_duration = local_end.replace(tzinfo=None) - local_start.replace(tzinfo=None)
    parsed = parse(rule, start, tz, field)
    starts: list[dt.datetime] = []
    for i, local in enumerate(parsed):
        if i >= MAX_OCCURRENCES + 1:
            break
        starts.append(local)
    if not starts or starts[0] != local_start:
        raise DomainError(
            ErrorCode.RECURRENCE_INVALID,
            field,
            detail="the meeting's start must be the rule's first occurrence (e.g. BYDAY on the start's weekday)",
        )
    if len(starts) > MAX_OCCURRENCES:
        raise DomainError(ErrorCode.TOO_MANY, field, limit=MAX_OCCURRENCES)
    out = []
    for local in starts:
        wall_end = (local.replace(tzinfo=None) + wall_duration).replace(tzinfo=tz)
        s = local.astimezone(dt.UTC)
        out.append(Instance(s, s, wall_end.astimezone(dt.UTC)))
    return out

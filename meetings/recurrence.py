"""Recurring meetings: RFC 5545 RRULEs, validated and expanded with python-dateutil.

A rule is expanded in the meeting's own time zone (wall-clock times, ``Asia/Shanghai`` by
default) and each instance converted to UTC, so that "every Monday 09:00" stays 09:00 local
even where the zone changes its UTC offset; each instance lasts the first one's exact duration
(RFC 5545 §3.8.5.3), all-day ones whole local days. Every series must be bounded (``COUNT`` or
``UNTIL``, not both: RFC 5545 §3.3.10), yield at most :data:`MAX_OCCURRENCES` instances
(occurrences are stored rows) and end within :data:`MAX_SPAN_YEARS` of its first start.

The span limit also bounds the work of one expansion: dateutil walks every period (day,
week…) until it finds a match, so a sparse rule such as "29 February that is a Monday" would
otherwise run towards year 9999 for seconds of CPU.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.rrule import rrule, rrulestr

from office_api.errors import DomainError, ErrorCode

#: Most occurrences one series may have (a weekly meeting for about ten years).
MAX_OCCURRENCES = 500
#: Frequencies a meeting may recur at; HOURLY and finer make no sense for meetings.
ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
MAX_RULE_LENGTH = 500
#: A series ends within this many years of its first start.
MAX_SPAN_YEARS = 20

_UNTIL = re.compile(r"UNTIL=([0-9]{8})(T[0-9]{6})?(Z)?", re.IGNORECASE)


@dataclass(frozen=True)
class Instance:
    """One occurrence: ``start``/``end`` UTC instants; ``recurrence_id`` = ``start`` as generated."""

    recurrence_id: dt.datetime
    start: dt.datetime
    end: dt.datetime


#: Names in the zone database that are no place's time: "Factory" (no offset meant) and
#: "localtime" (whatever the server's clock is set to).
_NOT_ZONES = frozenset({"Factory", "localtime"})


@functools.cache
def zone_names() -> frozenset[str]:
    """The IANA time-zone names a meeting may use: ``zoneinfo.available_timezones()`` (read
    once) without ``Factory`` and ``localtime``."""
    return frozenset(available_timezones() - _NOT_ZONES)


def zone(name: str, field: str = "timeZone") -> ZoneInfo:
    """The IANA zone ``name`` (one of :func:`zone_names`); ``INVALID_VALUE`` naming ``field``
    when unknown."""
    if not isinstance(name, str) or name not in zone_names():
        raise DomainError(ErrorCode.INVALID_VALUE, field, detail=f"unknown IANA time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:  # pragma: no cover - listed but unreadable
        raise DomainError(ErrorCode.INVALID_VALUE, field, detail=f"unknown IANA time zone {name!r}") from exc


def canonical(rule: str) -> str:
    """``rule`` as stored: without the ``RRULE:`` prefix, upper-cased, parts trimmed and empty
    parts (``FREQ=DAILY;COUNT=3;``) dropped. Validation is :func:`parse`'s."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    return ";".join(p.strip().upper() for p in text.split(";") if p.strip())


def _normalize(rule: str, tz: ZoneInfo, field: str) -> str:
    if "\n" in rule or "\r" in rule:
        raise DomainError(
            ErrorCode.RECURRENCE_INVALID, field, detail=f"one RRULE line of 1–{MAX_RULE_LENGTH} characters"
        )
    text = canonical(rule)
    if not text or len(text) > MAX_RULE_LENGTH:
        raise DomainError(
            ErrorCode.RECURRENCE_INVALID, field, detail=f"one RRULE line of 1–{MAX_RULE_LENGTH} characters"
        )
    names: list[str] = []
    for part in text.split(";"):
        name, eq, _ = part.partition("=")
        if not eq or not name.strip():
            raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail=f"{part!r} is not NAME=value")
        names.append(name.strip())
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail=f"{', '.join(twice)} given twice")
    parts = set(names)
    if "DTSTART" in text:
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="DTSTART comes from the meeting's start")
    freq = rule_parts(text).get("FREQ")
    if freq is None:
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="FREQ is required")
    if freq not in ALLOWED_FREQ:
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise DomainError(ErrorCode.RECURRENCE_UNBOUNDED, field, limit=MAX_OCCURRENCES)
    if "COUNT" in parts and "UNTIL" in parts:
        raise DomainError(
            ErrorCode.RECURRENCE_INVALID, field, detail="give COUNT or UNTIL, not both (RFC 5545 §3.3.10)"
        )
    count = rule_parts(text).get("COUNT")
    if count is not None and not (count.isascii() and count.isdigit() and int(count) >= 1):
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="COUNT must be a whole number of at least 1")
    interval = rule_parts(text).get("INTERVAL")
    if interval is not None and not (interval.isascii() and interval.isdigit() and int(interval) >= 1):
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="INTERVAL must be a whole number of at least 1")

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


def rule_parts(rule: str) -> dict[str, str]:
    """The ``NAME=value`` parts of an RRULE (names upper-cased, ``RRULE:`` prefix dropped)."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    out: dict[str, str] = {}
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            out[name.strip().upper()] = value.strip()
    return out


def rebound(rule: str, *, count: int | None = None, until: dt.datetime | None = None) -> str:
    """``rule`` with its bound replaced: ``COUNT=count`` or ``UNTIL=until`` (an aware instant,
    written in UTC as RFC 5545 §3.3.10 requires with a zoned start). Other parts keep their
    order and spelling."""
    if (count is None) == (until is None):
        raise ValueError("give exactly one of count and until")
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    kept = [p for p in text.split(";") if p.strip() and p.split("=", 1)[0].strip().upper() not in ("COUNT", "UNTIL")]
    if until is not None:
        return ";".join([*kept, "UNTIL=" + until.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")])
    return ";".join([*kept, f"COUNT={count}"])


def add_years(t: dt.datetime, years: int) -> dt.datetime:
    """``t`` moved by whole ``years`` (29 February becomes the 28th in a common year)."""
    try:
        return t.replace(year=t.year + years)
    except ValueError:  # 29 February
        return t.replace(year=t.year + years, day=28)


def _starts_at(parsed: rrule, local_start: dt.datetime) -> bool:
    """Whether ``local_start`` is the first instance of ``parsed`` (anchored there), found
    with bounded work: the Gregorian calendar repeats every 400 years (weekdays and leap
    years alike), so the rule is tried on the same wall-clock start moved to within 400
    years of year 9999, where dateutil's search for a first match stops."""
    naive = local_start.replace(tzinfo=None)
    shift = max(0, (9600 - naive.year) // 400) * 400
    probe_start = naive.replace(year=naive.year + shift)
    probe = parsed.replace(dtstart=probe_start, count=1, until=None)
    return next(iter(probe), None) == probe_start


def parse(rule: str, first_start: dt.datetime, tz: ZoneInfo, field: str = "recurrence") -> rrule:
    """The dateutil rule of ``rule`` anchored at ``first_start`` (aware; read in ``tz``).

    Raises ``RECURRENCE_INVALID`` (syntax, FREQ, DTSTART given, a part given twice, COUNT
    with UNTIL, COUNT or INTERVAL below 1) or ``RECURRENCE_UNBOUNDED`` (neither COUNT nor
    UNTIL), naming ``field``. Empty parts (a trailing ``;``) are ignored.
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
    all_day: bool = False,
    field: str = "recurrence",
) -> list[Instance]:
    """The instances of a meeting: one for ``rule`` None, else every instance of the RRULE.

    ``start``/``end`` are the first occurrence's aware instants. Every instance starts at the
    first one's local (wall-clock) time in ``time_zone`` and lasts the first one's EXACT
    duration ``end - start`` (RFC 5545 §3.8.5.3: the duration of DTSTART–DTEND applies to
    every instance), so a 30-minute meeting stays 30 minutes across a daylight-saving change.
    A local start that does not exist (skipped by a spring-forward change) is read with the
    offset before the change (``zoneinfo`` ``fold=0``: 02:30 in a 02:00→03:00 gap is 03:30
    the new time). An ``all_day`` meeting instead keeps whole local days: each instance runs
    from local midnight to local midnight as many days later as the first one (23 or 25
    hours on a change day).

    ``start`` must be the rule's first instance (RFC 5545 §3.8.5.3 counts DTSTART as the
    first one; a start the rule would skip is refused rather than silently added). Returns
    UTC instants in order; the first instance is exactly ``[start, end)``.

    Raises ``RECURRENCE_INVALID``/``RECURRENCE_UNBOUNDED`` (see :func:`parse`; also UNTIL
    before the start, occurrences that overlap each other, or a series running past
    :data:`MAX_SPAN_YEARS`) and ``TOO_MANY`` (more than :data:`MAX_OCCURRENCES`), naming
    ``field``.
    """
    s0, e0 = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    if rule is None:
        return [Instance(s0, s0, e0)]
    tz = zone(time_zone)
    local_start = start.astimezone(tz)
    duration = e0 - s0
    days = (end.astimezone(tz).date() - local_start.date()).days
    parsed = parse(rule, start, tz, field)
    if not _starts_at(parsed, local_start):
        raise DomainError(
            ErrorCode.RECURRENCE_INVALID,
            field,
            detail="the meeting's start must be the rule's first occurrence (e.g. BYDAY on the start's weekday)",
        )
    limit = add_years(local_start, MAX_SPAN_YEARS)
    # dateutil keeps the parsed bound only in these attributes.
    until: dt.datetime | None = parsed._until
    count: int | None = parsed._count
    if until is not None and until < local_start:
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="UNTIL is before the start")
    starts: list[dt.datetime] = []
    for local in parsed.replace(count=None, until=limit if until is None else min(until, limit)):
        starts.append(local)
        if len(starts) == count or len(starts) > MAX_OCCURRENCES:
            break
    if len(starts) > MAX_OCCURRENCES:
        raise DomainError(ErrorCode.TOO_MANY, field, limit=MAX_OCCURRENCES)
    if count is not None:
        too_long = len(starts) < count
    else:
        assert until is not None
        later = parsed.after(limit) if until > limit else None
        too_long = later is not None and later <= until
    if too_long:
        raise DomainError(
            ErrorCode.RECURRENCE_INVALID, field, detail=f"a series ends within {MAX_SPAN_YEARS} years of its start"
        )
    if not starts or starts[0] != local_start:  # pragma: no cover - _starts_at said so
        raise DomainError(ErrorCode.RECURRENCE_INVALID, field, detail="the start is not the rule's first occurrence")
    out = [Instance(s0, s0, e0)]
    for local in starts[1:]:
        s = local.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)
        if all_day:
            e = dt.datetime.combine(local.date() + dt.timedelta(days=days), dt.time(0), tzinfo=tz).astimezone(dt.UTC)
        else:
            e = s + duration
        out.append(Instance(s, s, e))
    out.sort(key=lambda i: i.start)
    for a, b in itertools.pairwise(out):
        if b.start < a.end:
            raise DomainError(
                ErrorCode.RECURRENCE_INVALID,
                field,
                detail=f"occurrences overlap ({a.start:%Y-%m-%d %H:%M} and {b.start:%Y-%m-%d %H:%M} UTC): "
                "each must end before the next begins",
            )
    return out

"""The lists people work from (办公箱): to do 待办, done 已办, my outgoing documents 我的发文,
archived 归档, to read 待阅, a unit's incoming documents 收文, and a search over everything
one may read.

A list is a :class:`Box`: what it returns (tasks, documents, circulation items or incoming
copies), ONE predicate saying which rows belong to the owner (a user; for ``incoming`` the
recipient unit, whose permission the caller checks), and the instant it is ordered and
date-filtered by. Everything else (filters, full-text search, ordering, cursors, the total)
is shared by every box; a box's own arguments (``unread``, ``state``) are extra conditions
passed to :func:`page`:

=============  ======  ==============================================  ============================
box            rows    predicate (for user ``u``)                      time (order, ``from``/``to``)
=============  ======  ==============================================  ============================
``todo``       Task    assignee ``u``, pending                          ``Task.created_at`` (received)
``done``       Task    assignee ``u``, approved or returned             ``Task.acted_at`` (acted)
``drafted``    Doc     drafter ``u``                                    ``Document.created_at``
``archived``   Doc     visible to ``u`` and ARCHIVED                    ``Document.updated_at`` (*)
``visible``    Doc     visible to ``u`` (service.visible_to)            ``Document.created_at``
``to_read``    Circ    circulated to ``u`` (reader ``u``)               ``Circulation.sent_at`` (sent)
``incoming``   Inc     copies of recipient unit ``u`` (**)              ``IncomingDocument.dispatched_at``
=============  ======  ==============================================  ============================

(*) an archived document is read-only, so its last change is its archiving.

(**) ``u`` is the unit id here. ``dispatched_at`` is when the copy was dispatched (核发), or
for an external document (no Document row, ``document_id`` null) when it was entered on
arrival. Task, Circ(ulation) and Inc(oming) rows are joined to their Document; incoming
copies with an OUTER join, so external copies are listed when no document filter is given.
Document filters on an external copy use what its header says: ``urgency`` its
``external_urgency``, ``search`` every term as a substring (case-insensitive) of its
``external_number``, ``external_title`` or ``external_issuer``; ``doc_type`` and ``status``
(which an external document does not have) exclude it.

Adding a box is one entry in :data:`BOXES` plus one root field calling
``box_connection(info, "<box>", …)`` of schema/document_lists.py (with the row's GraphQL
type's ``from_model``). Filters, search, cursors and the query-count behaviour come for free.

Filters (all optional, AND): ``doc_type``, ``urgency``, ``status`` (the document's),
``date_from``/``date_to`` (Asia/Shanghai calendar dates, inclusive, on the box's time:
``date_to`` 2026-06-01 includes everything before 2026-06-02T00:00+08:00), ``search``
(documents/search.py: number, title, body). Order: newest first by the box's time, then by
id; the cursor holds both (opaque base64), so pages stay stable while rows are added.

Task boxes can also be read by due date (:func:`due_page`: soonest due first by the task
clock's due instant, tasks without a clock last, then by id; a :class:`DueCursor` holds both)
and filtered by it (:func:`due_conditions` with ``page(..., clock=True)``), the clock being
the task's :class:`~office_api.deadlines.Deadline` (documents/clocks.py).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from documents import search as fts
from documents.incoming_models import IncomingDocument
from documents.models import Circulation, Document, Task
from documents.service import visible_to
from documents.types import DocumentStatus, TaskStatus
from office_api.deadlines import Deadline
from office_api.errors import DomainError, ErrorCode
from office_api.workdays import WorkCalendar, end_of_day, local_date

#: Dates of the ``from``/``to`` filters are calendar dates of this zone.
TIMEZONE = ZoneInfo("Asia/Shanghai")
#: Largest id in a cursor (INTEGER keys, 32-bit on PostgreSQL).
MAX_KEY = 2**31 - 1


def _external_search(words: list[str]) -> ColumnElement[bool]:
    """Every one of ``words`` (plain search terms, no LIKE wildcard) occurs in the external
    copy's number, title or issuer (case-insensitive)."""
    header = func.lower(
        func.coalesce(IncomingDocument.external_number, "")
        + literal(" ")
        + func.coalesce(IncomingDocument.external_title, "")
        + literal(" ")
        + func.coalesce(IncomingDocument.external_issuer, "")
    )
    return and_(IncomingDocument.document_id.is_(None), *[header.contains(w, autoescape=True) for w in words])


@dataclass(frozen=True)
class Box:
    """One list: ``rows`` (Task, Document, Circulation or IncomingDocument), ``where(owner)``
    the predicate of the rows that belong to the owner, ``time`` the instant column it is
    ordered and filtered by. ``outer``: rows may have no document (outer join; external
    incoming copies), filtered by ``urgency`` and ``external_search`` instead."""

    rows: type[Task] | type[Document] | type[Circulation] | type[IncomingDocument]
    where: Callable[[int], ColumnElement[bool]]
    time: InstrumentedAttribute[Any]
    outer: bool = False


BOXES: dict[str, Box] = {
    "todo": Box(Task, lambda u: and_(Task.assignee_id == u, Task.status == TaskStatus.PENDING.value), Task.created_at),
    "done": Box(
        Task,
        lambda u: and_(Task.assignee_id == u, Task.status.in_([TaskStatus.APPROVED.value, TaskStatus.RETURNED.value])),
        Task.acted_at,
    ),
    "drafted": Box(Document, lambda u: Document.drafter_id == u, Document.created_at),
    "archived": Box(
        Document,
        lambda u: and_(Document.status == DocumentStatus.ARCHIVED.value, visible_to(u)),
        Document.updated_at,
    ),
    "visible": Box(Document, visible_to, Document.created_at),
    "to_read": Box(Circulation, lambda u: Circulation.reader_id == u, Circulation.sent_at),
    "incoming": Box(
        IncomingDocument, lambda unit: IncomingDocument.unit_id == unit, IncomingDocument.dispatched_at, True
    ),
}


@dataclass(frozen=True)
class ListFilter:
    """Filters of a box; None = no filter. Dates are Asia/Shanghai, both inclusive."""

    doc_type: str | None = None
    urgency: str | None = None
    status: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    search: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Position after a row: its box time (UTC) and id. ``time`` None: a cursor of the id
    alone (``k:<id>``, the form ``myTasks`` used before boxes; ids grow with the to-do time)."""

    time: dt.datetime | None
    id: int

    def encode(self) -> str:
        assert self.time is not None
        micros = int(self.time.timestamp() * 1_000_000)
        return base64.urlsafe_b64encode(f"l:{micros}:{self.id}".encode()).decode()

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        """None for None; ``INVALID_VALUE`` on ``after`` when malformed."""
        if value is None:
            return None
        try:
            parts = base64.urlsafe_b64decode(value.encode()).decode().split(":")
            if len(parts) == 2 and parts[0] == "k" and parts[1].isascii() and parts[1].isdigit():
                if int(parts[1]) > MAX_KEY:
                    raise ValueError
                return cls(None, int(parts[1]))
            prefix, micros, key = parts
            if prefix != "l" or not (key.isascii() and key.isdigit()) or not micros.lstrip("-").isdigit():
                raise ValueError
            if int(key) > MAX_KEY:
                raise ValueError
            time = dt.datetime.fromtimestamp(0, dt.UTC) + dt.timedelta(microseconds=int(micros))
            return cls(time, int(key))
        except (ValueError, UnicodeDecodeError, OverflowError) as exc:
            raise DomainError(ErrorCode.INVALID_VALUE, "after", detail="malformed cursor") from exc


def local_midnight(day: dt.date) -> dt.datetime:
    """00:00 Asia/Shanghai of ``day`` as a UTC instant."""
    return dt.datetime.combine(day, dt.time(), TIMEZONE).astimezone(dt.UTC)


def _filtered(
    session: AsyncSession,
    box: Box,
    owner_id: int,
    flt: ListFilter,
    extra: tuple[ColumnElement[bool], ...],
    *,
    clock: bool = False,
) -> Select[Any]:
    q = select(box.rows)
    if box.rows is not Document:
        onclause = Document.id == box.rows.document_id
        q = q.outerjoin(Document, onclause) if box.outer else q.join(Document, onclause)
    if clock:
        q = q.outerjoin(Deadline, and_(Deadline.subject_type == "task", Deadline.subject_id == Task.id))
    q = q.where(box.where(owner_id), *extra)
    if flt.doc_type is not None:
        q = q.where(Document.doc_type == flt.doc_type)
    if flt.urgency is not None:
        urgency = func.coalesce(Document.urgency, IncomingDocument.external_urgency) if box.outer else Document.urgency
        q = q.where(urgency == flt.urgency)
    if flt.status is not None:
        q = q.where(Document.status == flt.status)
    if flt.date_from is not None:
        q = q.where(box.time >= local_midnight(flt.date_from))
    if flt.date_to is not None:
        q = q.where(box.time < local_midnight(flt.date_to + dt.timedelta(days=1)))
    if flt.search:
        cond = fts.matching(session, flt.search)
        if cond is not None:
            if box.outer:
                cond = or_(and_(Document.id.is_not(None), cond), _external_search(fts.query_words(flt.search)))
            q = q.where(cond)
    return q


def check_filter(flt: ListFilter) -> None:
    """``INVALID_VALUE`` on ``filter.to`` when it is before ``filter.from``."""
    if flt.date_from is not None and flt.date_to is not None and flt.date_to < flt.date_from:
        raise DomainError(ErrorCode.INVALID_VALUE, "filter.to", detail="before filter.from")


async def page(
    session: AsyncSession,
    box_name: str,
    owner_id: int,
    flt: ListFilter,
    after: Cursor | None,
    limit: int,
    extra: tuple[ColumnElement[bool], ...] = (),
    *,
    clock: bool = False,
) -> tuple[list[Any], int]:
    """``limit`` rows of box ``box_name`` for ``owner_id`` (a user; the unit for ``incoming``)
    after the cursor, newest first, and the total matching the filters and the box's own
    ``extra`` conditions (two queries, whatever the page size). ``clock``: a task box joins
    each task's deadline (outer join), so ``extra`` may hold :func:`due_conditions`."""
    check_filter(flt)
    box = BOXES[box_name]
    q = _filtered(session, box, owner_id, flt, extra, clock=clock)
    total = int((await session.execute(select(func.count()).select_from(q.subquery()))).scalar_one())
    row_id = box.rows.id
    if after is not None and after.time is None:
        q = q.where(row_id < after.id)
    elif after is not None:
        q = q.where(or_(box.time < after.time, and_(box.time == after.time, row_id < after.id)))
    q = q.order_by(box.time.desc(), row_id.desc()).limit(limit)
    return list((await session.execute(q)).scalars()), total


def cursor_of(box_name: str, row: Any) -> str:
    """The opaque cursor after ``row`` of box ``box_name``."""
    box = BOXES[box_name]
    return Cursor(getattr(row, box.time.key), row.id).encode()


# ---- tasks by due date (办理时限) ------------------------------------------------------------


class DueWhen(StrEnum):
    """Which tasks a due-date filter keeps, seen at an instant ``now`` (a task's deadline: its
    clock, office_api.deadlines; a task without one is never kept)."""

    OVERDUE = "overdue"  # the due instant has passed
    DUE_TODAY = "due_today"  # not overdue, due by 24:00 Asia/Shanghai today
    DUE_SOON = "due_soon"  # not overdue, due by the end of the N-th working day after today
    NOT_OVERDUE = "not_overdue"  # has a deadline that has not passed
    NO_DEADLINE = "no_deadline"  # no clock (no policy applied)


@dataclass(frozen=True)
class DueFilter:
    """A due-date filter: ``when`` (None = any), ``soon_working_days`` N for DUE_SOON (0–30), and
    a range of due dates ``due_from``/``due_to`` (Asia/Shanghai dates, inclusive, on the due
    instant: a date deadline is due at 24:00 of its date, an hours deadline at its instant)."""

    when: DueWhen | None = None
    soon_working_days: int = 1
    due_from: dt.date | None = None
    due_to: dt.date | None = None


#: Largest N of DUE_SOON (working days).
MAX_SOON = 30


def due_conditions(flt: DueFilter, cal: WorkCalendar, now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """SQL conditions on the joined :class:`Deadline` of a task box (``page(..., clock=True)``).

    Errors: ``INVALID_VALUE`` on ``due.soonWorkingDays`` outside 0–30 and on ``due.to`` before
    ``due.from``.
    """
    if not 0 <= flt.soon_working_days <= MAX_SOON:
        raise DomainError(ErrorCode.INVALID_VALUE, "due.soonWorkingDays", detail=f"between 0 and {MAX_SOON}")
    if flt.due_from is not None and flt.due_to is not None and flt.due_to < flt.due_from:
        raise DomainError(ErrorCode.INVALID_VALUE, "due.to", detail="before due.from")
    today = local_date(now)
    due = Deadline.due_at
    out: list[ColumnElement[bool]] = []
    if flt.when is DueWhen.NO_DEADLINE:
        out.append(Deadline.id.is_(None))
    elif flt.when is DueWhen.OVERDUE:
        out.append(due <= now)
    elif flt.when is DueWhen.NOT_OVERDUE:
        out.append(due > now)
    elif flt.when is DueWhen.DUE_TODAY:
        out += [due > now, due <= end_of_day(today)]
    elif flt.when is DueWhen.DUE_SOON:
        out += [due > now, due <= end_of_day(cal.add_working_days(today, flt.soon_working_days).on)]
    if flt.due_from is not None:
        out.append(due > local_midnight(flt.due_from))
    if flt.due_to is not None:
        out.append(due <= end_of_day(flt.due_to))
    return tuple(out)


@dataclass(frozen=True)
class DueCursor:
    """Position after a task in due-date order: its due instant (None: no deadline, listed
    last) and id. Encoded ``d:<micros>:<id>`` (``d::<id>`` without a due instant)."""

    due_at: dt.datetime | None
    id: int

    def encode(self) -> str:
        micros = "" if self.due_at is None else str(int(self.due_at.timestamp() * 1_000_000))
        return base64.urlsafe_b64encode(f"d:{micros}:{self.id}".encode()).decode()

    @classmethod
    def decode(cls, value: str | None) -> DueCursor | None:
        """None for None; ``INVALID_VALUE`` on ``after`` when malformed or of another order."""
        if value is None:
            return None
        try:
            prefix, micros, key = base64.urlsafe_b64decode(value.encode()).decode().split(":")
            if prefix != "d" or not (key.isascii() and key.isdigit()) or int(key) > MAX_KEY:
                raise ValueError
            if micros and not micros.lstrip("-").isdigit():
                raise ValueError
            due = dt.datetime.fromtimestamp(0, dt.UTC) + dt.timedelta(microseconds=int(micros)) if micros else None
            return cls(due, int(key))
        except (ValueError, UnicodeDecodeError, OverflowError) as exc:
            raise DomainError(
                ErrorCode.INVALID_VALUE, "after", detail="malformed cursor (or one of another order)"
            ) from exc


async def due_page(
    session: AsyncSession,
    box_name: str,
    owner_id: int,
    flt: ListFilter,
    after: DueCursor | None,
    limit: int,
    extra: tuple[ColumnElement[bool], ...] = (),
) -> tuple[list[tuple[Task, dt.datetime | None]], int]:
    """``limit`` tasks of task box ``box_name`` after the cursor, soonest due first: by the
    due instant, tasks without a deadline last, then by id (so the order is total and the
    cursor stable); each with its due instant, and the total (two queries)."""
    check_filter(flt)
    box = BOXES[box_name]
    if box.rows is not Task:
        raise ValueError(f"box {box_name} does not list tasks")
    q = _filtered(session, box, owner_id, flt, extra, clock=True)
    total = int((await session.execute(select(func.count()).select_from(q.subquery()))).scalar_one())
    due = Deadline.due_at
    if after is not None and after.due_at is None:
        q = q.where(due.is_(None), Task.id > after.id)
    elif after is not None:
        q = q.where(or_(due > after.due_at, and_(due == after.due_at, Task.id > after.id), due.is_(None)))
    q = q.add_columns(due).order_by(due.asc().nulls_last(), Task.id.asc()).limit(limit)
    return [(t, d) for t, d in (await session.execute(q)).all()], total

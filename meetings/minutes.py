"""Minutes (纪要) of a meeting and their decided matters (议定事项), DOMAIN §7.4.

A 纪要 is document type #15 (REG Art. 8): it records the main proceedings and the matters
decided. :func:`draft_minutes` creates it as an ordinary draft :class:`~documents.models.Document`
of type ``minutes`` in the organising unit through ``documents.service.create_document``, so it
is reviewed, signed off, registered and dispatched like any document. The body follows the
typical parts (DOMAIN §7.4) and GB/T 9704-2012 clause 10.3:

- basic information: 时间 (in the meeting's time zone, Asia/Shanghai by default), 地点, 主持,
  议题;
- 一、会议讨论情况 (the main discussion);
- 二、议定事项, numbered （一）（二）… (GB/T 9704 heading levels);
- optionally 三、需进一步研究的事项 (items left for further study);
- then the lines 出席： (participants and special invitees who attended, substitutes marked
  （代…）), 请假： (invitees on approved leave) and 列席： (non-voting attendees and observers
  who attended), each omitted when empty, taken from the attendance (``meetings.check_in``).

Individual remarks or proposals are not decisions of the meeting (DOMAIN §7.4): the input keeps
the discussion and the decided matters apart, and only the latter become ``decided_matters``
rows, each of which can become a supervision item (督办, DOMAIN §5.3) with
:func:`supervise_matter` (``documents.supervision.create_from_meeting_matter``: default policy
``supervision-minutes``, 20 calendar days).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from documents import service as documents
from documents import supervision, templates
from documents.service import DocumentInput, StepInput
from documents.supervision_models import SupervisionItem
from documents.types import DocType
from meetings import access, recurrence
from meetings.check_in import Attendance, AttendanceCategory, attendance_of
from meetings.models import (
    DEFAULT_TIME_ZONE,
    AttendeeRole,
    DecidedMatter,
    Meeting,
    MeetingMinutes,
    MeetingOccurrence,
    OccurrenceState,
    Room,
)
from meetings.service import holds_post_in, local_time
from messaging.outbox import Publisher
from office_api.db import UnitOfWork
from office_api.errors import DomainError, DomainErrors, ErrorCode, ErrorCollector
from office_api.org.models import OrgUnit, User
from office_api.org.permissions import Actor
from office_api.text import trimmed
from office_api.workdays import WorkCalendar, local_date

MAX_DISCUSSION = 20_000
MAX_FURTHER_STUDY = 5_000
#: A decided matter becomes a supervision item's instruction: the same limit.
MAX_MATTER = supervision.MAX_TEXT
MAX_MATTERS = 50
MAX_CO_HANDLERS = supervision.MAX_CO_HANDLERS

#: Roles listed under 出席 when they attended; the others (列席, 旁听) are listed under 列席.
VOTING_ROLES = (AttendeeRole.PARTICIPANT.value, AttendeeRole.SPECIAL_INVITEE.value)
PRESENT = (AttendanceCategory.PRESENT, AttendanceCategory.LATE, AttendanceCategory.SUBSTITUTE)
_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1–99 in Chinese numerals, as GB/T 9704 headings use them: 1 → 一, 10 → 十, 21 → 二十一."""
    if not 1 <= n <= 99:
        raise ValueError("1 to 99")
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


@dataclass(frozen=True)
class MatterInput:
    """A decided matter: its text, and optionally the lead unit (主办), co-handler units (协办)
    and due date (Asia/Shanghai) a supervision item would get."""

    text: str
    lead_unit_id: int | None = None
    co_handler_unit_ids: Sequence[int] = ()
    due_on: dt.date | None = None


@dataclass
class MinutesInput:
    """What :func:`draft_minutes` needs. ``title`` defaults to the meeting title + 纪要.
    ``steps`` is the document's route; with none, ``route_template_id`` or the organising
    unit's default template for 纪要 is copied."""

    occurrence_id: int
    discussion: str
    decided_matters: Sequence[MatterInput] = ()
    title: str | None = None
    further_study: str | None = None
    steps: list[StepInput] = field(default_factory=list)
    route_template_id: int | None = None


# ---- the body ----------------------------------------------------------------------------------


def _day(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _hm(t: dt.datetime) -> str:
    return f"{t.hour}:{t.minute:02d}"


def time_text(meeting: Meeting, occurrence: MeetingOccurrence) -> str:
    """时间 of the minutes in the meeting's time zone: ``2026年6月2日 9:00—10:00``; across days
    ``2026年6月2日 9:00至6月3日 12:00``; all-day ``2026年6月2日`` or ``2026年6月2日至6月3日``.
    A zone other than Asia/Shanghai is named after it."""
    tz = recurrence.zone(meeting.time_zone)
    start, end = occurrence.start_at.astimezone(tz), occurrence.end_at.astimezone(tz)
    if meeting.all_day:
        last = (end - dt.timedelta(days=1)).date()
        text = _day(start.date()) if last == start.date() else f"{_day(start.date())}至{last.month}月{last.day}日"
    elif start.date() == end.date():
        text = f"{_day(start.date())} {_hm(start)}—{_hm(end)}"
    else:
        text = f"{_day(start.date())} {_hm(start)}至{end.month}月{end.day}日 {_hm(end)}"
    return text if meeting.time_zone == DEFAULT_TIME_ZONE else f"{text}（{meeting.time_zone}）"


def place_text(meeting: Meeting, room: Room | None) -> str:
    """地点: the notice's place and the room (building + name); 视频会议 for an online meeting
    with neither; empty when nothing is known."""
    parts = [trimmed(meeting.location)] if trimmed(meeting.location) else []
    if room is not None:
        parts.append(f"{room.building}{room.name}")
    if not parts and meeting.online_link:
        parts.append("视频会议")
    return " ".join(parts)


@dataclass(frozen=True)
class AttendanceLists:
    """Names for the 出席, 请假 and 列席 lines (GB/T 9704 clause 10.3)."""

    attended: list[str]
    on_leave: list[str]
    sat_in: list[str]


async def attendance_lists(session: AsyncSession, report: Attendance) -> AttendanceLists:
    """出席: participants and special invitees who attended (present, late, substitute; a
    substitute written 李四（代王五）); 请假: invitees on approved leave; 列席: non-voting
    attendees and observers who attended. In the order of the attendance report."""
    user_ids = {r.invitation.user_id for r in report.rows} | {
        r.on_behalf_of.user_id for r in report.rows if r.on_behalf_of is not None
    }
    names = {
        pk: name
        for pk, name in (
            await session.execute(select(User.id, User.display_name).where(User.id.in_([u for u in user_ids if u])))
        ).all()
    }
    lists = AttendanceLists([], [], [])
    for row in report.rows:
        name = names.get(row.invitation.user_id or 0, "")
        if row.category is AttendanceCategory.ON_LEAVE:
            lists.on_leave.append(name)
        elif row.category in PRESENT:
            if row.on_behalf_of is not None and row.on_behalf_of.user_id is not None:
                name = f"{name}（代{names.get(row.on_behalf_of.user_id, '')}）"
            (lists.attended if row.invitation.role in VOTING_ROLES else lists.sat_in).append(name)
    return lists


def compose_body(
    *,
    time: str,
    place: str,
    chair: str | None,
    topic: str,
    discussion: str,
    matters: Sequence[str],
    further_study: str | None,
    lists: AttendanceLists,
) -> str:
    """The body of the minutes (module docstring): basic information, numbered sections, then
    the 出席/请假/列席 lines. Paragraphs are separated by a blank line."""
    info = [f"时间：{time}"]
    if place:
        info.append(f"地点：{place}")
    if chair:
        info.append(f"主持：{chair}")
    info.append(f"议题：{topic}")
    sections = [("会议讨论情况", discussion)]
    if matters:
        sections.append(("议定事项", "\n".join(f"（{chinese_number(i)}）{m}" for i, m in enumerate(matters, 1))))
    if further_study:
        sections.append(("需进一步研究的事项", further_study))
    parts = ["\n".join(info)]
    parts += [f"{chinese_number(i)}、{head}\n{text}" for i, (head, text) in enumerate(sections, 1)]
    tail = [
        f"{label}：{'，'.join(names)}"
        for label, names in (("出席", lists.attended), ("请假", lists.on_leave), ("列席", lists.sat_in))
        if names
    ]
    if tail:
        parts.append("\n".join(tail))
    return "\n\n".join(parts)


# ---- drafting ------------------------------------------------------------------------------------


def _text(errors: ErrorCollector, name: str, value: str | None, limit: int, *, required: bool = False) -> str:
    text = trimmed(value)
    if required and not text:
        errors.add(ErrorCode.REQUIRED, name)
    elif len(text) > limit:
        errors.add(ErrorCode.TOO_LONG, name, limit=limit)
    return text


async def _check_matters(
    session: AsyncSession, errors: ErrorCollector, matters: Sequence[MatterInput], today: dt.date
) -> list[str]:
    """Shape of the decided matters; returns their trimmed texts."""
    if len(matters) > MAX_MATTERS:
        errors.add(ErrorCode.TOO_MANY, "decidedMatters", limit=MAX_MATTERS)
        return []
    texts: list[str] = []
    unit_refs: list[tuple[str, int]] = []
    for i, m in enumerate(matters):
        prefix = f"decidedMatters.{i}"
        texts.append(_text(errors, f"{prefix}.text", m.text, MAX_MATTER, required=True))
        if m.lead_unit_id is not None:
            unit_refs.append((f"{prefix}.leadUnitId", m.lead_unit_id))
        if len(m.co_handler_unit_ids) > MAX_CO_HANDLERS:
            errors.add(ErrorCode.TOO_MANY, f"{prefix}.coHandlerUnitIds", limit=MAX_CO_HANDLERS)
            continue
        seen = {m.lead_unit_id}
        for j, unit_id in enumerate(m.co_handler_unit_ids):
            name = f"{prefix}.coHandlerUnitIds.{j}"
            if unit_id in seen:
                detail = "the lead unit cannot also co-handle" if unit_id == m.lead_unit_id else "unit listed twice"
                errors.add(ErrorCode.DUPLICATE, name, detail=detail)
            seen.add(unit_id)
            unit_refs.append((name, unit_id))
        if m.due_on is not None and m.due_on < today:
            errors.add(ErrorCode.INVALID_VALUE, f"{prefix}.dueOn", detail=f"not before today ({today.isoformat()})")
    if unit_refs:
        q = select(OrgUnit.id, OrgUnit.is_active, OrgUnit.name).where(OrgUnit.id.in_({u for _, u in unit_refs}))
        units = {pk: (active, name) for pk, active, name in (await session.execute(q)).all()}
        for name, unit_id in unit_refs:
            if unit_id not in units:
                errors.add(ErrorCode.NOT_FOUND, name)
            elif not units[unit_id][0]:
                errors.add(ErrorCode.INACTIVE, name, detail=units[unit_id][1])
    return texts


def default_title(meeting: Meeting) -> str:
    """会议名称 + 纪要 (GB/T 9704 clause 10.3: the banner reads "XXXX纪要")."""
    return f"{meeting.title}纪要"


async def _occurrence(session: AsyncSession, actor: Actor, occurrence_id: int) -> tuple[Meeting, MeetingOccurrence]:
    occurrence = await session.get(MeetingOccurrence, occurrence_id)
    if occurrence is None:
        raise DomainError(ErrorCode.NOT_FOUND, "occurrenceId")
    meeting = await access.meeting_for_organiser(session, actor, occurrence.meeting_id, "occurrenceId", lock=True)
    if occurrence.state == OccurrenceState.CANCELLED.value:
        raise DomainError(ErrorCode.MEETING_CANCELLED, "occurrenceId")
    return meeting, occurrence


async def draft_minutes(uow: UnitOfWork, actor: Actor, data: MinutesInput) -> MeetingMinutes:
    """Draft the minutes (纪要) of an occurrence: a draft document of type ``minutes`` drafted by
    ``actor`` in the organising unit, with the body of the module docstring, plus the
    ``meeting_minutes`` row and one ``decided_matters`` row per matter (numbered from 1).

    For the organisers (creator, convener, chair) who hold a post in the organising unit, once
    the occurrence has started (``uow.now`` ≥ its start). The lists come from the attendance at
    that instant; the drafter edits the document like any draft (``updateDocument``).
    Errors: ``NOT_FOUND`` / ``FORBIDDEN`` (no organiser, or no post in the organising unit) /
    ``MEETING_CANCELLED`` on ``occurrenceId``; ``REQUIRED``, ``TOO_LONG``, ``TOO_MANY``,
    ``DUPLICATE``, ``NOT_FOUND``, ``INACTIVE``, ``INVALID_VALUE`` on ``discussion``,
    ``furtherStudy``, ``decidedMatters.<i>.text|leadUnitId|coHandlerUnitIds.<j>|dueOn``;
    ``INVALID_STATE`` on ``occurrenceId`` before the start; ``DUPLICATE`` on ``occurrenceId``
    when the occurrence has minutes already; the document's own errors (``title``,
    ``route.steps…``, ``routeTemplateId``, ``route`` REQUIRED when no route and no template).
    """
    session = uow.session
    meeting, occurrence = await _occurrence(session, actor, data.occurrence_id)
    if not await holds_post_in(session, actor.user_id, meeting.organizer_unit_id):
        raise DomainError(ErrorCode.FORBIDDEN, "occurrenceId")
    errors = ErrorCollector()
    discussion = _text(errors, "discussion", data.discussion, MAX_DISCUSSION, required=True)
    further = _text(errors, "furtherStudy", data.further_study, MAX_FURTHER_STUDY)
    texts = await _check_matters(session, errors, data.decided_matters, local_date(uow.now))
    if data.steps and data.route_template_id is not None:
        errors.add(ErrorCode.INVALID_VALUE, "routeTemplateId", detail="give route or routeTemplateId, not both")
    errors.raise_if_any()
    if uow.now < occurrence.start_at:
        raise DomainError(
            ErrorCode.INVALID_STATE,
            "occurrenceId",
            detail=f"the meeting has not started (it starts {local_time(occurrence.start_at, meeting.time_zone)})",
        )
    taken = await session.execute(select(MeetingMinutes.id).where(MeetingMinutes.occurrence_id == occurrence.id))
    if taken.first() is not None:
        raise DomainError(ErrorCode.DUPLICATE, "occurrenceId", detail="this occurrence has minutes already")

    steps = data.steps or await templates.route_for_document(
        session, actor, DocType.MINUTES, data.route_template_id, unit_id=meeting.organizer_unit_id
    )
    room = await session.get(Room, occurrence.room_id) if occurrence.room_id is not None else None
    chair = await session.get(User, meeting.chair_id) if meeting.chair_id is not None else None
    lists = await attendance_lists(session, await attendance_of(session, meeting, occurrence))
    body = compose_body(
        time=time_text(meeting, occurrence),
        place=place_text(meeting, room),
        chair=chair.display_name if chair else None,
        topic=trimmed(meeting.agenda) or meeting.title,
        discussion=discussion,
        matters=texts,
        further_study=further or None,
        lists=lists,
    )
    title = data.title if data.title is not None else default_title(meeting)
    doc = await documents.create_document(
        uow,
        actor,
        DocumentInput(title=title, doc_type=DocType.MINUTES, body=body, steps=steps),
        issuing_unit_id=meeting.organizer_unit_id,
    )
    minutes = MeetingMinutes(
        meeting_id=meeting.id,
        occurrence_id=occurrence.id,
        document_id=doc.id,
        created_by_id=actor.user_id,
        created_at=uow.now,
    )
    session.add(minutes)
    await session.flush()
    session.add_all(
        DecidedMatter(
            minutes_id=minutes.id,
            seq=i,
            text=text,
            lead_unit_id=m.lead_unit_id,
            co_handler_unit_ids=list(m.co_handler_unit_ids),
            due_on=m.due_on,
            created_at=uow.now,
        )
        for i, (m, text) in enumerate(zip(data.decided_matters, texts, strict=True), 1)
    )
    await session.flush()
    return minutes


# ---- reading ---------------------------------------------------------------------------------


async def may_read(session: AsyncSession, actor: Actor, minutes: MeetingMinutes) -> bool:
    """The organisers of the meeting and whoever may see the minutes document (its drafter,
    the people on its route, …: ``documents.service.get_visible_document``)."""
    meeting = await session.get(Meeting, minutes.meeting_id)
    if meeting is not None and access.is_organiser(actor, meeting):
        return True
    return await documents.get_visible_document(session, actor, minutes.document_id) is not None


async def minutes_of_occurrence(session: AsyncSession, actor: Actor, occurrence_id: int) -> MeetingMinutes | None:
    """The minutes of an occurrence when there are some and ``actor`` may read them (:func:`may_read`)."""
    row = (
        await session.execute(select(MeetingMinutes).where(MeetingMinutes.occurrence_id == occurrence_id))
    ).scalar_one_or_none()
    return row if row is not None and await may_read(session, actor, row) else None


async def get_visible_minutes(session: AsyncSession, actor: Actor, minutes_id: int) -> MeetingMinutes | None:
    row = await session.get(MeetingMinutes, minutes_id)
    return row if row is not None and await may_read(session, actor, row) else None


async def matters_of_minutes(session: AsyncSession, minutes_ids: Sequence[int]) -> list[DecidedMatter]:
    """Decided matters of several minutes, by minutes then number."""
    q = (
        select(DecidedMatter)
        .where(DecidedMatter.minutes_id.in_(list(minutes_ids)))
        .order_by(DecidedMatter.minutes_id, DecidedMatter.seq)
    )
    return list((await session.execute(q)).scalars())


async def get_visible_matter(session: AsyncSession, actor: Actor, matter_id: int) -> DecidedMatter | None:
    matter = await session.get(DecidedMatter, matter_id)
    if matter is None or await get_visible_minutes(session, actor, matter.minutes_id) is None:
        return None
    return matter


async def visible_supervision_item(session: AsyncSession, actor: Actor, item_id: int) -> SupervisionItem | None:
    """The supervision item of a matter when ``actor`` may see it (``documents.supervision``)."""
    return await supervision.get_visible_item(session, actor, item_id)


# ---- supervision ---------------------------------------------------------------------------------

#: Field names of ``create_item``'s errors → the fields of ``superviseDecidedMatter``.
_RENAMED = {"lead": "leadUnitId", "lead.unitId": "leadUnitId", "lead.dueOn": "dueOn", "dueOn": "dueOn"}


def _rename(exc: DomainError) -> DomainError:
    name = exc.field or ""
    if name in _RENAMED:
        name = _RENAMED[name]
    elif name.startswith("coHandlers."):
        parts = name.split(".")
        name = f"coHandlerUnitIds.{parts[1]}" if parts[-1] == "unitId" else "dueOn"
    elif name in ("title", "instruction", "sourceId"):
        name = "matterId"
    if exc.code is ErrorCode.LEAD_REQUIRED:  # its message is about two or more handlers
        return DomainError(ErrorCode.REQUIRED, name or None)
    return DomainError(exc.code, name or None, **exc.params)


def matter_title(meeting: Meeting, seq: int) -> str:
    """Title of a supervision item from matter ``seq``: ``<meeting title> 议定事项（二）``, the
    meeting title shortened so that the whole fits 200 characters."""
    suffix = f" 议定事项（{chinese_number(seq)}）"
    head = meeting.title[: supervision.MAX_TITLE - len(suffix)]
    return head + suffix


async def supervise_matter(
    uow: UnitOfWork,
    broker: Publisher,
    cal: WorkCalendar,
    actor: Actor,
    matter_id: int,
    *,
    lead_unit_id: int | None = None,
    due_on: dt.date | None = None,
) -> DecidedMatter:
    """Turn a decided matter into a supervision item (督办, DOMAIN §5.3) and link the two.

    The lead unit is ``lead_unit_id`` or the matter's; the co-handlers are the matter's (less
    the lead); the due date ``due_on`` or the matter's, else the ``supervision-minutes``
    policy (20 calendar days). For the meeting's organisers who may also assign supervision
    items in those units (``documents.supervision.supervising_paths``). Errors: ``NOT_FOUND`` /
    ``FORBIDDEN`` / ``MEETING_CANCELLED`` on ``matterId``; ``DUPLICATE`` on ``matterId`` when the
    matter is supervised already; ``REQUIRED`` on ``leadUnitId`` when neither the input nor the
    matter names the lead unit (主办); ``NOT_FOUND``, ``INACTIVE``, ``FORBIDDEN`` on ``leadUnitId`` /
    ``coHandlerUnitIds.<i>``; ``INVALID_VALUE`` on ``dueOn`` (before today).
    """
    session = uow.session
    matter = (
        await session.execute(select(DecidedMatter).where(DecidedMatter.id == matter_id).with_for_update())
    ).scalar_one_or_none()
    minutes = await session.get(MeetingMinutes, matter.minutes_id) if matter is not None else None
    if matter is None or minutes is None or not await may_read(session, actor, minutes):
        raise DomainError(ErrorCode.NOT_FOUND, "matterId")
    meeting = await access.meeting_for_organiser(session, actor, minutes.meeting_id, "matterId", lock=False)
    if matter.supervision_item_id is not None:
        raise DomainError(ErrorCode.DUPLICATE, "matterId", detail="the matter is supervised already")
    lead = lead_unit_id or matter.lead_unit_id
    if lead is None:
        raise DomainError(ErrorCode.REQUIRED, "leadUnitId")
    co_handlers = [supervision.UnitAssignment(u) for u in matter.co_handler_unit_ids or [] if u != lead]
    try:
        item = await supervision.create_from_meeting_matter(
            uow,
            broker,
            cal,
            actor,
            matter_id=matter.id,
            matter_text=matter.text,
            title=matter_title(meeting, matter.seq),
            lead=supervision.UnitAssignment(lead),
            co_handlers=co_handlers,
            due_on=due_on or matter.due_on,
            now=uow.now,
        )
    except DomainErrors as exc:
        raise DomainErrors([_rename(e) for e in exc.errors]) from exc
    except DomainError as exc:
        raise _rename(exc) from exc
    matter.supervision_item_id = item.id
    await session.flush()
    return matter

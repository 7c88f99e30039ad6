"""Supervision items (督办事项, DOMAIN §5.3): the rows.

An item comes from a leader's instruction (批示) on a document or an incoming copy, from a
decided matter of a meeting (议定事项), or is entered by hand. It names a lead unit (主办) and
co-handler units (协办), each a :class:`SupervisionUnit` with its own clock in ``deadlines``
(subject ``supervision_unit``); the item's own clock is subject ``supervision``. Progress
reports and the lead unit's result are :class:`SupervisionReport` rows.

For the dashboard (documents/supervision_dashboard.py) the item keeps, as plain indexed
columns, what the aggregate queries need: the lead unit, the state, the "3545" matter type,
the Asia/Shanghai start and close dates, and, once closed, the handling time in working days
and whether it closed on time.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UTCDateTime, utcnow
from office_api.deadlines import Deadline


class SourceType(StrEnum):
    """Where an item comes from."""

    DOCUMENT = "document"  # a leader's instruction on a document (批示)
    INCOMING = "incoming"  # the instruction (批示) on an incoming copy (收文)
    MEETING_MATTER = "meeting_matter"  # a decided matter (议定事项) of a meeting
    MANUAL = "manual"  # entered by hand


class ItemState(StrEnum):
    """OPEN → RESULT_REPORTED (the lead unit reported the result) → CLOSED (办结, by the creator)."""

    OPEN = "open"
    RESULT_REPORTED = "result_reported"
    CLOSED = "closed"


class ReportKind(StrEnum):
    """A periodic progress report (进展), or the lead unit's result (办理结果)."""

    PROGRESS = "progress"
    RESULT = "result"


class SupervisionItem(Base):
    """One supervision item (督办事项). Dates are Asia/Shanghai, instants UTC."""

    __tablename__ = "supervision_items"
    __table_args__ = (
        # The dashboard's index: per lead unit (found through the org tree's path index), the
        # open items, or the closed ones in a date range with what their statistics need.
        Index(
            "ix_supervision_items_dashboard",
            "lead_unit_id",
            "state",
            "closed_on",
            "handling_days",
            "matter_type",
            "on_time",
            "yellow_before",
        ),
        Index("ix_supervision_items_source", "source_type", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    source_type: Mapped[str] = mapped_column(String(16))
    #: The document, incoming copy or meeting matter id; null for a manual item.
    source_id: Mapped[int | None] = mapped_column(Integer)
    #: The instruction or decided matter to carry out (批示内容 / 议定事项).
    instruction: Mapped[str] = mapped_column(Text)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id"))
    #: "3545" matter type copied from the policy (business_licence, real_estate_registration,
    #: construction_permit), null otherwise.
    matter_type: Mapped[str | None] = mapped_column(String(40))
    #: Working days before a due date that count as "due soon" (the policy's yellow card).
    yellow_before: Mapped[int] = mapped_column(Integer, default=1)
    #: Working days between progress reports; null = no periodic report asked.
    report_every: Mapped[int | None] = mapped_column(Integer)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    state: Mapped[str] = mapped_column(String(16), default=ItemState.OPEN.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Asia/Shanghai date of ``created_at`` (the clock counts from the next day).
    start_on: Mapped[dt.date] = mapped_column(Date)
    last_report_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    result_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    result_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    close_remark: Mapped[str | None] = mapped_column(Text)
    #: Asia/Shanghai date of ``closed_at``.
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    #: Working days in (start_on, closed_on] (WorkCalendar.working_days_between), set on closing.
    handling_days: Mapped[int | None] = mapped_column(Integer)
    #: Closed before the item's due instant (its clock ``met``), set on closing.
    on_time: Mapped[bool | None] = mapped_column(Boolean)


class SupervisionUnit(Base):
    """A unit assigned to an item: the lead (主办) or a co-handler (协办), with its own clock."""

    __tablename__ = "supervision_units"
    __table_args__ = (UniqueConstraint("item_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("supervision_items.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Order on the item (the lead is 0).
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: When the unit finished its part: a co-handler's 100 % report, the lead's result.
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SupervisionReport(Base):
    """A progress report or the result, by a member of an assigned unit."""

    __tablename__ = "supervision_reports"
    __table_args__ = (Index("ix_supervision_reports_item", "item_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("supervision_items.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text)
    #: Percent done, 0–100; null when not given.
    percent: Mapped[int | None] = mapped_column(Integer)
    #: A named stage, e.g. 调研中, 已起草方案; null when not given.
    stage: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


#: The dashboard reads an open item's clock (status, due date and instant) from this index alone
#: instead of the ``deadlines`` row (an index-only lookup; see documents/supervision_dashboard.py).
Index(
    "ix_deadlines_subject_due",
    Deadline.subject_type,
    Deadline.subject_id,
    Deadline.status,
    Deadline.due_on,
    Deadline.due_at,
)

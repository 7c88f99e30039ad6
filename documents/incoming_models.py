"""Dispatched copies of a document and their incoming procedure (收文办理, REG Art. 24).

Dispatch (核发, DOMAIN §1.4 step 4) writes one :class:`IncomingDocument` per recipient unit
of a registered document; that unit's clerk then drives it through the states of
:mod:`documents.incoming`. Every step is an :class:`IncomingAction` history entry.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    exists,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UTCDateTime, utcnow
from office_api.org.models import Duty, Position, PositionDuty


class IncomingDocument(Base):
    """The copy of document ``document_id`` sent to recipient unit ``unit_id`` (``kind``
    main 主送 or cc 抄送), and where that unit's incoming procedure is (``state``).

    ``version`` increases on every step. ``serial_year``/``serial_seq`` are the unit's 收文编号
    (Asia/Shanghai year of the registration, sequence per (unit, year) from 1, gapless).
    """

    __tablename__ = "incoming_documents"
    __table_args__ = (
        UniqueConstraint("document_id", "unit_id"),
        UniqueConstraint("unit_id", "serial_year", "serial_seq"),
        Index("ix_incoming_documents_unit_state", "unit_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The dispatched document; null for an external document registered on arrival.
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    #: main (主送) or cc (抄送), as on the document's recipient list.
    kind: Mapped[str] = mapped_column(String(8))
    #: Position on the document's recipient list of that kind (roll-up order).
    position: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: When and by whom it was dispatched (核发); for an external document, when and by whom
    #: it was entered on arrival.
    dispatched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    dispatched_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # -- an external (paper, e-mail, …) document registered on arrival: what its header says --
    #: 来文单位, e.g. 国务院办公厅.
    external_issuer: Mapped[str | None] = mapped_column(String(200))
    #: Its 发文字号 as printed, e.g. 国办发〔2026〕3号.
    external_number: Mapped[str | None] = mapped_column(String(40))
    external_title: Mapped[str | None] = mapped_column(String(200))
    #: normal, urgent or extra_urgent (documents.types.Urgency).
    external_urgency: Mapped[str | None] = mapped_column(String(16))
    #: How it arrived: paper, email, fax, system, plain_telegram (明电).
    channel: Mapped[str | None] = mapped_column(String(16))
    #: 签收: when and by whom.
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: 登记: the 收文编号 and when it was given.
    serial_year: Mapped[int | None] = mapped_column(Integer)
    serial_seq: Mapped[int | None] = mapped_column(Integer)
    registered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: 拟办意见 (the clerk's proposal) and the leader named to instruct (批示).
    proposal: Mapped[str | None] = mapped_column(Text)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: 批示: the leader's instruction.
    instruction: Mapped[str | None] = mapped_column(Text)
    instructed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: 办理时限: Asia/Shanghai date set at assignment (required for urgent documents).
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    #: 答复: the reply to the sender.
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: 初审退回: the reasons given to the sender.
    returned_reason: Mapped[str | None] = mapped_column(Text)
    returned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IncomingHandler(Base):
    """A person assigned to handle (承办) an incoming document: the lead (主办) or a co-handler (协办)."""

    __tablename__ = "incoming_handlers"
    __table_args__ = (UniqueConstraint("incoming_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incoming_id: Mapped[int] = mapped_column(ForeignKey("incoming_documents.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: What the handler did (办理结果); null until they record it.
    result: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class IncomingAction(Base):
    """One step of an incoming document's procedure: who, what, when, with which opinion."""

    __tablename__ = "incoming_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incoming_id: Mapped[int] = mapped_column(ForeignKey("incoming_documents.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))
    #: The state after the step.
    state: Mapped[str] = mapped_column(String(24))
    opinion: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncomingCounter(Base):
    """The last 收文编号 given per (unit, Asia/Shanghai year), incremented under a row lock."""

    __tablename__ = "incoming_counters"

    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


def incoming_visible_to(user_id: int) -> ColumnElement[bool]:
    """SQL condition on :class:`IncomingDocument`: ``user_id`` is a clerk (文书), head or deputy
    head of the recipient unit, the leader named to instruct, or one of its handlers."""
    return or_(
        IncomingDocument.leader_id == user_id,
        exists().where(IncomingHandler.incoming_id == IncomingDocument.id, IncomingHandler.user_id == user_id),
        exists().where(
            PositionDuty.unit_id == IncomingDocument.unit_id,
            PositionDuty.duty.in_([Duty.CLERK.value, Duty.HEAD.value, Duty.DEPUTY_HEAD.value]),
            Position.id == PositionDuty.position_id,
            Position.user_id == user_id,
        ),
    )

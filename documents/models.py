"""Document, recipients, route steps, tasks and the action history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UTCDateTime, utcnow


class Document(Base):
    """An official document (公文). ``version`` increases on every change.

    ``round`` counts submissions: a return and resubmission starts round n+1 at step 0.
    ``current_step`` is the index of the open step while ``status`` is ``in_review``.
    """

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    doc_type: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    sensitivity: Mapped[str] = mapped_column(String(16), default="public")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    drafter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    issuing_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    current_step: Mapped[int | None] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer, default=0)
    attested_no_state_secret_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # GB/T 9704-2012 format elements (checked by documents.validation; None/empty = not given).
    #: 行文方向: upward, downward (default) or parallel (documents.validation.Direction).
    direction: Mapped[str] = mapped_column(String(16), default="downward", server_default="downward")
    #: 份号: 6 Arabic digits, e.g. 000123.
    copy_number: Mapped[str | None] = mapped_column(String(6))
    #: 签发人: leaders' names in order (JSON list of strings; None = none).
    signers: Mapped[list[str] | None] = mapped_column(JSON)
    #: 主送 as text, e.g. 各市人民政府，省政府各部门： (units are DocumentRecipient rows).
    main_recipients_text: Mapped[str | None] = mapped_column(String(2000))
    #: 抄送 as text, e.g. 省委办公厅，省人大常委会办公厅。
    cc_text: Mapped[str | None] = mapped_column(String(2000))
    #: 附件说明: attachment titles in order (JSON list of strings; None = no attachments).
    attachment_titles: Mapped[list[str] | None] = mapped_column(JSON)
    #: 附注, e.g. （此件公开发布）.
    note: Mapped[str | None] = mapped_column(String(500))
    #: 成文日期: an Asia/Shanghai calendar date.
    issued_on: Mapped[dt.date | None] = mapped_column(Date)
    #: 印发机关 and 印发日期 (Asia/Shanghai date, not before issued_on).
    printing_office: Mapped[str | None] = mapped_column(String(200))
    printed_on: Mapped[dt.date | None] = mapped_column(Date)
    #: 发文机关署名: the issuer signature line above the date.
    issuer_signature: Mapped[str | None] = mapped_column(String(200))
    # -- registration (登记, DOMAIN §1.4): set once by documents/registration.py, never changed --
    #: 发文字号, e.g. 鲁政办发〔2026〕5号; unique; null until registered.
    doc_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    #: Issuer code (机关代字) of the number, e.g. 鲁政办发: with the year it keys the sequence.
    doc_number_code: Mapped[str | None] = mapped_column(String(32))
    #: Asia/Shanghai calendar year of the registration (the 〔YYYY〕 of the number).
    doc_number_year: Mapped[int | None] = mapped_column(Integer)
    #: Sequence within (code, year), from 1, gapless.
    doc_number_seq: Mapped[int | None] = mapped_column(Integer)
    registered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # -- sign-off (签发, REG Art. 22) and revoke/repeal (撤销/废止, REG Art. 33) --
    #: 重要公文: signed off by the principal leader (head) only, as upward documents are.
    important: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Who approved the sign-off step, when (UTC), and the SHA-256 (hex) of the body signed;
    #: all null until signed off, cleared again when the body changes after sign-off.
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_off_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    signed_body_sha256: Mapped[str | None] = mapped_column(String(64))
    #: Document ``version`` right after the sign-off.
    signed_version: Mapped[int | None] = mapped_column(Integer)
    #: 撤销: UTC instant the document was revoked (void from the start).
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: 废止: Asia/Shanghai date from which the document is void.
    repealed_on: Mapped[dt.date | None] = mapped_column(Date)
    #: Why it was revoked or repealed, and by whom.
    void_reason: Mapped[str | None] = mapped_column(String(500))
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class DocumentRecipient(Base):
    """A recipient unit: ``kind`` main (主送) or cc (抄送)."""

    __tablename__ = "document_recipients"
    __table_args__ = (UniqueConstraint("document_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    kind: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(Integer)


class RouteStep(Base):
    """Step ``index`` (0-based) of a document's route."""

    __tablename__ = "route_steps"
    __table_args__ = (UniqueConstraint("document_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    index: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    #: k of a ``quorum`` step (1 ≤ k ≤ assignees); null for the other modes.
    quorum: Mapped[int | None] = mapped_column(Integer)
    #: ``review`` or ``sign_off`` (签发, documents.types.StepKind).
    kind: Mapped[str] = mapped_column(String(16), default="review", server_default="review")


class StepAssignee(Base):
    """Who a step of the route names, at ``position``: a user (``user_id``), or the holder of
    ``duty`` in ``unit_id`` (``duty`` null = the unit's clerk), resolved when the step opens."""

    __tablename__ = "step_assignees"
    __table_args__ = (UniqueConstraint("step_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("route_steps.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    #: head, deputy_head or clerk (office_api.org.models.Duty); null with a unit = its clerk.
    duty: Mapped[str | None] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)


class Task(Base):
    """A to-do (待办) of one assignee in one step of one submission round."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_assignee_status", "assignee_id", "status", "id"),
        Index("ix_tasks_document_round", "document_id", "round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    step_id: Mapped[int] = mapped_column(ForeignKey("route_steps.id"))
    round: Mapped[int] = mapped_column(Integer)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The delegator whose task this is, when delegation (委托) routed it to ``assignee_id``.
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    opinion: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    acted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The unit whose clerk (文书) the route position named (a ``{unitId}`` assignee): the
    #: holder may route the task within that unit (documents/unit_countersign.py).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    #: Set on a sub-task: the clerk's task it was routed from within the unit. Sub-tasks share
    #: the parent's step and round but never count toward the step's mode.
    parent_task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)


class DocumentAction(Base):
    """One entry of a document's history: who did what, when, with which opinion."""

    __tablename__ = "document_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))
    round: Mapped[int] = mapped_column(Integer)
    step_index: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    opinion: Mapped[str | None] = mapped_column(Text)
    attested_no_state_secret: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The 发文字号 assigned, on ``registered`` entries.
    doc_number: Mapped[str | None] = mapped_column(String(40))
    #: The other person of a routing action: the new assignee (transferred, delegated,
    #: rerouted) or the signer added or removed.
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: On ``returned_to_step`` entries: the earlier step that reopened.
    to_step_index: Mapped[int | None] = mapped_column(Integer)


class RouteTemplate(Base):
    """A route template (流程模板) of an issuing unit for one document type (``doc_type``
    null = any type); it applies to the unit's subtree (documents/templates.py).

    ``steps`` is the route as JSON: ``[{"name", "mode", "quorum", "signOff", "assignees":
    [{"userId"} | {"unitId", "duty"} | {"duty"}]}]`` with integer ids; an assignee with a
    duty and no unit names that duty in the document's issuing unit. The steps are copied
    into a document's route when it is created.
    """

    __tablename__ = "route_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    doc_type: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(64))
    steps: Mapped[list] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DocNumberCounter(Base):
    """The last 发文字号 sequence given per (issuer code, Asia/Shanghai year).

    Registration increments ``last_seq`` inside its own transaction (row lock), so a rolled
    back registration leaves no gap and concurrent ones get consecutive numbers.
    """

    __tablename__ = "doc_number_counters"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class UnitRouting(Base):
    """A clerk's routing of a unit task within the unit (单位内部会签): who, in which mode.

    ``assignee_ids`` are the members in order; ``opened`` counts the sub-tasks opened so far
    (``sequential`` opens them one after another, ``parallel_all`` all at once). The routing is
    open while a sub-task of ``parent_task_id`` is pending (documents/unit_countersign.py).
    """

    __tablename__ = "unit_routings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    parent_task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    assignee_ids: Mapped[list[int]] = mapped_column(JSON)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Circulation(Base):
    """One item of a document's circulation for reading (传阅, REG Art. 24(5)): ``sent_by``
    sent the document to ``reader`` with a ``note``; ``read_at``/``comment`` once read.

    ``via_id`` is the sender's own item when a reader passed the document on, so the trail
    shows who sent it to whom.
    """

    __tablename__ = "circulations"
    __table_args__ = (
        Index("ix_circulations_reader", "reader_id", "id"),
        Index("ix_circulations_document_reader", "document_id", "reader_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    reader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sent_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    via_id: Mapped[int | None] = mapped_column(ForeignKey("circulations.id"))
    note: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str | None] = mapped_column(Text)

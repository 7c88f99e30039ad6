"""Use cases of document routing: create, submit, approve, return; visibility; reads.

Each write function runs inside the caller's unit of work, locks the document row it
changes (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite write transactions are serialized
by ``BEGIN IMMEDIATE``), records history and notifications in the same transaction, and
raises :class:`DomainError` for expected outcomes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from documents import attachments, clocks, routing, search, signoff, validation, versions
from documents.classification import state_secret_reason
from documents.file_scan import text_mark_reasons
from documents.incoming_models import IncomingDocument, incoming_visible_to
from documents.models import Circulation, Document, DocumentAction, DocumentRecipient, RouteStep, StepAssignee, Task
from documents.types import (
    ActionKind,
    DocType,
    DocumentStatus,
    RecipientKind,
    Sensitivity,
    StepKind,
    StepMode,
    TaskStatus,
    Urgency,
)
from messaging.models import NotificationKind, document_priority
from messaging.outbox import Message, Publisher, notify
from office_api.db import UnitOfWork, utcnow
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.delegation import local_today, resolve_assignee
from office_api.org.duties import resolve_duty
from office_api.org.models import Duty, OrgUnit, User
from office_api.org.permissions import Actor
from office_api.org.service import primary_unit_id
from office_api.text import trimmed

MAX_TITLE = 200
MAX_BODY = 200_000
MAX_OPINION = 2_000
MAX_STEPS = 20
MAX_ASSIGNEES = 50
MAX_RECIPIENTS = 300
#: Characters of an opinion quoted in a notification body (the full text is in the history).
NOTIFICATION_EXCERPT = 200


@dataclass
class AssigneeInput:
    """Who a step names: a user (``user_id``), or the holder of ``duty`` in ``unit_id``
    (``duty`` None = the unit's clerk). Exactly one of ``user_id`` / ``unit_id``."""

    user_id: int | None = None
    unit_id: int | None = None
    duty: Duty | None = None


@dataclass
class StepInput:
    name: str
    mode: StepMode
    assignee_ids: list[int] = field(default_factory=list)
    #: The new shape (by user, duty or unit); a step uses either this or ``assignee_ids``.
    assignees: list[AssigneeInput] = field(default_factory=list)
    #: k of a ``quorum`` step.
    quorum: int | None = None
    #: The sign-off step (签发, documents/signoff.py).
    sign_off: bool = False

    def named(self) -> tuple[str, list[AssigneeInput]]:
        """The input key the assignees came from and the assignees in order."""
        if self.assignees:
            return "assignees", list(self.assignees)
        return "assigneeIds", [AssigneeInput(user_id=u) for u in self.assignee_ids]


@dataclass
class DocumentInput:
    title: str
    doc_type: DocType
    body: str = ""
    urgency: Urgency = Urgency.NORMAL
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    classification: str | None = None
    main_recipient_ids: list[int] = field(default_factory=list)
    cc_recipient_ids: list[int] = field(default_factory=list)
    steps: list[StepInput] = field(default_factory=list)
    # GB/T 9704-2012 format elements (documents.validation); all optional.
    direction: validation.Direction = validation.Direction.DOWNWARD
    copy_number: str | None = None
    signers: list[str] = field(default_factory=list)
    main_recipients_text: str | None = None
    cc_text: str | None = None
    attachment_titles: list[str] = field(default_factory=list)
    note: str | None = None
    issued_on: dt.date | None = None
    issued_on_text: str | None = None
    printed_on: dt.date | None = None
    printed_on_text: str | None = None
    printing_office: str | None = None
    issuer_signature: str | None = None
    #: 重要公文: signed off by the head only (REG Art. 22).
    important: bool = False


#: Document attributes an update may change (see :func:`update_document`).
UPDATABLE = (
    "title",
    "body",
    "urgency",
    "direction",
    "copy_number",
    "signers",
    "main_recipients_text",
    "cc_text",
    "attachment_titles",
    "note",
    "issued_on",
    "printing_office",
    "printed_on",
    "issuer_signature",
)


def _format_fields(values: dict[str, Any], doc_type: str, main_count: int) -> validation.FormatFields:
    """The format elements for :func:`validation.check_format` from attribute ``values``."""
    return validation.FormatFields(
        doc_type=DocType(doc_type),
        title=values.get("title") or "",
        direction=validation.Direction(values.get("direction") or validation.Direction.DOWNWARD),
        copy_number=values.get("copy_number"),
        signers=list(values.get("signers") or []),
        main_recipient_count=main_count,
        main_recipients_text=values.get("main_recipients_text"),
        cc_text=values.get("cc_text"),
        attachment_titles=list(values.get("attachment_titles") or []),
        note=values.get("note"),
        issued_on=values.get("issued_on"),
        issued_on_text=values.get("issued_on_text"),
        printed_on=values.get("printed_on"),
        printed_on_text=values.get("printed_on_text"),
        printing_office=values.get("printing_office"),
        issuer_signature=values.get("issuer_signature"),
    )


def _stored_format(fields: validation.FormatFields) -> dict[str, Any]:
    """The column values of checked format elements: texts trimmed (empty → None), lists
    trimmed (empty → None), dates given as text parsed."""

    def text(v: str | None) -> str | None:
        return trimmed(v) or None

    issued, printed = validation.resolved_dates(fields)
    return {
        "direction": fields.direction.value,
        "copy_number": fields.copy_number,
        "signers": [trimmed(n) for n in fields.signers] or None,
        "main_recipients_text": text(fields.main_recipients_text),
        "cc_text": text(fields.cc_text),
        "attachment_titles": [trimmed(t) for t in fields.attachment_titles] or None,
        "note": text(fields.note),
        "issued_on": issued,
        "printing_office": text(fields.printing_office),
        "printed_on": printed,
        "issuer_signature": text(fields.issuer_signature),
    }


def _input_format(data: DocumentInput) -> validation.FormatFields:
    values = {k: getattr(data, k) for k in UPDATABLE if hasattr(data, k)}
    values |= {"issued_on_text": data.issued_on_text, "printed_on_text": data.printed_on_text}
    return _format_fields(values, data.doc_type.value, len(data.main_recipient_ids))


def _add_format_errors(errors: ErrorCollector, report: validation.Report) -> None:
    for p in report.errors:
        errors.add(p.code, p.field, **p.params)


async def _main_recipient_count(session: AsyncSession, document_id: int) -> int:
    q = (
        select(func.count())
        .select_from(DocumentRecipient)
        .where(DocumentRecipient.document_id == document_id, DocumentRecipient.kind == RecipientKind.MAIN.value)
    )
    return int((await session.execute(q)).scalar_one())


async def format_report(session: AsyncSession, doc: Document) -> validation.Report:
    """The format errors and warnings of a stored document (its main recipient units counted)."""
    main_count = await _main_recipient_count(session, doc.id)
    values = {k: getattr(doc, k) for k in UPDATABLE}
    return validation.check_format(_format_fields(values, doc.doc_type, main_count))


async def _validate(session: AsyncSession, data: DocumentInput) -> None:
    errors = ErrorCollector()
    _add_format_errors(errors, validation.check_format(_input_format(data)))
    reason = state_secret_reason(data.classification)
    if reason is not None:
        errors.add(ErrorCode.STATE_SECRET_REFUSED, "classification", detail=reason)
    for field_name, mark in text_mark_reasons({"title": data.title, "body": data.body}):
        errors.add(ErrorCode.STATE_SECRET_REFUSED, field_name, detail=mark)
    title = trimmed(data.title)
    if not title:
        errors.add(ErrorCode.REQUIRED, "title")
    elif len(title) > MAX_TITLE:
        errors.add(ErrorCode.TOO_LONG, "title", limit=MAX_TITLE)
    if len(data.body or "") > MAX_BODY:
        errors.add(ErrorCode.TOO_LONG, "body", limit=MAX_BODY)
    unit_ids: list[tuple[str, int]] = []
    assignee_units: list[tuple[str, int]] = []
    for key, ids in (("mainRecipientIds", data.main_recipient_ids), ("ccRecipientIds", data.cc_recipient_ids)):
        if len(ids) > MAX_RECIPIENTS:
            errors.add(ErrorCode.TOO_MANY, key, limit=MAX_RECIPIENTS)
            continue
        unit_ids += [(f"{key}.{i}", uid) for i, uid in enumerate(ids)]
    seen_units: set[int] = set()
    for path, uid in unit_ids:
        if uid in seen_units:
            errors.add(ErrorCode.DUPLICATE, path, detail="recipient listed twice")
        seen_units.add(uid)
    if not data.steps:
        errors.add(ErrorCode.REQUIRED, "route.steps")
    elif len(data.steps) > MAX_STEPS:
        errors.add(ErrorCode.TOO_MANY, "route.steps", limit=MAX_STEPS)
    user_refs: list[tuple[str, int]] = []
    for si, step in enumerate(data.steps[:MAX_STEPS]):
        prefix = f"route.steps.{si}"
        name = trimmed(step.name)
        if not name:
            errors.add(ErrorCode.REQUIRED, f"{prefix}.name")
        elif len(name) > 64:
            errors.add(ErrorCode.TOO_LONG, f"{prefix}.name", limit=64)
        if step.assignees and step.assignee_ids:
            errors.add(ErrorCode.INVALID_VALUE, f"{prefix}.assignees", detail="give assigneeIds or assignees, not both")
            continue
        key, named = step.named()
        if len(named) > MAX_ASSIGNEES:
            errors.add(ErrorCode.TOO_MANY, f"{prefix}.{key}", limit=MAX_ASSIGNEES)
            continue
        rule = routing.validate_step(step.mode, len(named), step.quorum)
        if rule:
            errors.add(
                ErrorCode.INVALID_VALUE, f"{prefix}.{key if rule[0] == 'assignees' else rule[0]}", detail=rule[1]
            )
        seen: set[tuple[int | None, int | None, str | None]] = set()
        dup_reported = False
        for i, a in enumerate(named):
            path = f"{prefix}.{key}.{i}"
            if (a.user_id is None) == (a.unit_id is None):
                errors.add(ErrorCode.INVALID_VALUE, path, detail="give userId or unitId")
                continue
            if a.user_id is not None and a.duty is not None:
                errors.add(ErrorCode.INVALID_VALUE, path, detail="duty goes with unitId")
                continue
            ident = (a.user_id, a.unit_id, (a.duty or Duty.CLERK).value if a.unit_id is not None else None)
            if ident in seen:
                if key == "assigneeIds":
                    if not dup_reported:
                        errors.add(ErrorCode.DUPLICATE, f"{prefix}.{key}", detail="assignee listed twice")
                    dup_reported = True
                else:
                    errors.add(ErrorCode.DUPLICATE, path, detail="assignee listed twice")
                continue
            seen.add(ident)
            if a.user_id is not None:
                user_refs.append((path, a.user_id))
            else:
                assert a.unit_id is not None
                assignee_units.append((path, a.unit_id))
    if unit_ids or assignee_units:
        found = {
            row.id: row.is_active
            for row in (
                await session.execute(
                    select(OrgUnit.id, OrgUnit.is_active).where(
                        OrgUnit.id.in_({u for _, u in unit_ids + assignee_units})
                    )
                )
            )
        }
        for path, uid in unit_ids + assignee_units:
            if uid not in found:
                errors.add(ErrorCode.NOT_FOUND, path)
            elif not found[uid]:
                errors.add(ErrorCode.INACTIVE, path, detail=f"unit {uid}")
    if user_refs:
        users = {
            row.id: row.is_active
            for row in (
                await session.execute(select(User.id, User.is_active).where(User.id.in_({u for _, u in user_refs})))
            )
        }
        for path, uid in user_refs:
            if uid not in users:
                errors.add(ErrorCode.NOT_FOUND, path)
            elif not users[uid]:
                errors.add(ErrorCode.INACTIVE, path, detail=f"user {uid}")
    errors.raise_if_any()


async def create_document(
    uow: UnitOfWork, actor: Actor, data: DocumentInput, *, issuing_unit_id: int | None = None
) -> Document:
    """Create a draft drafted by ``actor`` in the unit of their primary position, or in
    ``issuing_unit_id`` when a caller that has checked the actor may draft there gives one
    (the meeting minutes, 纪要, are drafted in the organising unit: ``meetings.minutes``).

    Raises ``STATE_SECRET_REFUSED`` for any state-secret classification (2012 regulation Art. 26),
    ``NO_POSITION`` when the actor holds no post, and field errors for invalid input.
    """
    session = uow.session
    await _validate(session, data)
    unit_id = issuing_unit_id or await primary_unit_id(session, actor.user_id)
    if unit_id is None:
        raise DomainError(ErrorCode.NO_POSITION)
    await signoff.check_route(session, unit_id, data.direction.value, data.important, _step_refs(data.steps))
    doc = Document(
        title=data.title.strip(),
        doc_type=data.doc_type.value,
        body=data.body or "",
        urgency=data.urgency.value,
        sensitivity=data.sensitivity.value,
        status=DocumentStatus.DRAFT.value,
        drafter_id=actor.user_id,
        issuing_unit_id=unit_id,
        round=0,
        important=data.important,
        **_stored_format(_input_format(data)),
    )
    session.add(doc)
    await session.flush()
    for kind, ids in ((RecipientKind.MAIN, data.main_recipient_ids), (RecipientKind.CC, data.cc_recipient_ids)):
        for i, uid in enumerate(ids):
            session.add(DocumentRecipient(document_id=doc.id, unit_id=uid, kind=kind.value, position=i))
    for si, step in enumerate(data.steps):
        rs = RouteStep(
            document_id=doc.id,
            index=si,
            name=step.name.strip(),
            mode=step.mode.value,
            quorum=step.quorum,
            kind=(StepKind.SIGN_OFF if step.sign_off else StepKind.REVIEW).value,
        )
        session.add(rs)
        await session.flush()
        for i, a in enumerate(step.named()[1]):
            session.add(
                StepAssignee(
                    step_id=rs.id,
                    user_id=a.user_id,
                    unit_id=a.unit_id,
                    duty=Duty(a.duty).value if a.duty is not None else None,
                    position=i,
                )
            )
    session.add(DocumentAction(document_id=doc.id, actor_id=actor.user_id, action=ActionKind.CREATED.value, round=0))
    await session.flush()
    await versions.record_body(session, doc, actor.user_id)  # body version 1
    await search.reindex(session, doc)
    return doc


def _step_refs(steps: Sequence[StepInput]) -> list[signoff.StepRef]:
    """The sign-off view of input steps (fields named after the input keys)."""
    out = []
    for si, step in enumerate(steps):
        key, named = step.named()
        signers = tuple(
            signoff.SignerRef(f"route.steps.{si}.{key}.{i}", a.user_id, a.unit_id, Duty(a.duty) if a.duty else None)
            for i, a in enumerate(named)
        )
        out.append(signoff.StepRef(si, step.sign_off, step.mode, signers))
    return out


async def refuse(session: AsyncSession, actor: Actor, doc: Document) -> NoReturn:
    """Refuse ``actor`` an act on ``doc``: ``FORBIDDEN`` when they may read it, ``NOT_FOUND``
    otherwise (existence is not revealed). Field ``documentId``."""
    visible = (
        await session.execute(select(Document.id).where(Document.id == doc.id, visible_to(actor.user_id)))
    ).first()
    raise DomainError(ErrorCode.FORBIDDEN if visible else ErrorCode.NOT_FOUND, "documentId")


async def require_drafter_or_clerk(session: AsyncSession, actor: Actor, doc: Document) -> None:
    """The acts of the issuing side after approval (register, dispatch, archive) are for the
    drafter or a clerk (duty CLERK, 文书) of the issuing unit; others: :func:`refuse`."""
    if doc.drafter_id == actor.user_id:
        return
    if actor.user_id not in await resolve_duty(session, doc.issuing_unit_id, Duty.CLERK):
        await refuse(session, actor, doc)


async def update_document(
    uow: UnitOfWork,
    actor: Actor,
    document_id: int,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
    broker: Publisher | None = None,
) -> Document:
    """Change a draft or returned document's title, body, urgency and format elements.

    ``changes`` maps attribute names of :data:`UPDATABLE` (plus ``issued_on_text`` /
    ``printed_on_text``, the dates written as ``2026年1月5日``) to new values; a missing key
    leaves the attribute as it is, None clears it. The result is checked as a whole by
    :func:`validation.check_format`: any error refuses the whole update (nothing written).
    Errors: ``NOT_FOUND`` (cannot see the document), ``FORBIDDEN`` (may read it but is not
    the drafter), ``INVALID_STATE`` (not draft or returned),
    ``STALE_VERSION`` (``expected_version`` given and not current), field errors.

    A signed-off approved document (not yet registered) may be edited too: a change of a
    :data:`signoff.SUBSTANTIVE` attribute invalidates the sign-off and sends the document back
    to the signer (:func:`signoff.invalidate`, notified through ``broker``); the 成文日期 is
    the sign-off date and cannot be edited then (``INVALID_VALUE`` on ``issuedOn``). Such an
    edit is refused whole with ``ATTACHMENTS_MISMATCH`` when 附件说明 no longer matches the
    uploaded attachments (no upload can follow sign-off), and with ``WRONG_SIGNER`` when the
    signer may not sign the edited document (marked important or made upward: REG Art. 22).
    """
    session = uow.session
    doc = await _lock_document(session, document_id)
    if doc.drafter_id != actor.user_id:
        await refuse(session, actor, doc)
    signed = signoff.editable_after_sign_off(doc)
    if not (routing.can_submit(DocumentStatus(doc.status)) or signed):
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)
    if signed:
        for key in ("issued_on", "issued_on_text"):
            if key in changes:
                raise DomainError(
                    ErrorCode.INVALID_VALUE, "issuedOn", detail="成文日期 is the sign-off date once signed off"
                )
    before = signoff.substantive_values(doc)
    if expected_version is not None and expected_version != doc.version:
        raise DomainError(ErrorCode.STALE_VERSION, "expectedVersion")
    errors = ErrorCollector()
    values = {k: getattr(doc, k) for k in UPDATABLE}
    values |= {k: v for k, v in changes.items() if k in UPDATABLE}
    for key in ("issued_on", "printed_on"):
        if f"{key}_text" in changes:  # the text form replaces the stored date
            values[f"{key}_text"] = changes[f"{key}_text"]
            if key not in changes:
                values[key] = None
    if "title" in changes:
        title = trimmed(changes["title"])
        if not title:
            errors.add(ErrorCode.REQUIRED, "title")
        elif len(title) > MAX_TITLE:
            errors.add(ErrorCode.TOO_LONG, "title", limit=MAX_TITLE)
        values["title"] = title
    if len(values.get("body") or "") > MAX_BODY:
        errors.add(ErrorCode.TOO_LONG, "body", limit=MAX_BODY)
    for field_name, mark in text_mark_reasons({k: changes.get(k) for k in ("title", "body") if k in changes}):
        errors.add(ErrorCode.STATE_SECRET_REFUSED, field_name, detail=mark)
    main_count = await _main_recipient_count(session, doc.id)
    fields = _format_fields(values, doc.doc_type, main_count)
    _add_format_errors(errors, validation.check_format(fields))
    errors.raise_if_any()
    doc.title = values["title"]
    doc.body = values.get("body") or ""
    doc.urgency = Urgency(values["urgency"]).value
    for key, value in _stored_format(fields).items():
        setattr(doc, key, value)
    if "important" in changes:
        doc.important = bool(changes["important"])
    doc.version += 1
    if signed:
        # No upload can follow sign-off, so 附件说明 must match the attachments now, and the
        # signer must still be entitled to sign what the document has become (e.g. marked
        # important, or made upward: the principal leader only). A refusal rolls back the edit.
        await attachments.check_attachment_list(session, doc)
        steps = await _steps(session, doc.id)
        await signoff.check_route(
            session, doc.issuing_unit_id, doc.direction, doc.important, await signoff.stored_steps(session, steps)
        )
    if signed and signoff.substantive_values(doc) != before:
        assert broker is not None, "an edit after sign-off notifies the signer"
        await notify(uow, broker, await signoff.invalidate(session, doc, actor))
    await session.flush()
    await versions.record_body(session, doc, actor.user_id)  # a new body version when the body changed
    await search.reindex(session, doc)
    return doc


async def _lock_document(session: AsyncSession, document_id: int) -> Document:
    doc = (
        await session.execute(select(Document).where(Document.id == document_id).with_for_update())
    ).scalar_one_or_none()
    if doc is None:
        raise DomainError(ErrorCode.NOT_FOUND, "documentId")
    # Every write on a document locks it first: its deadline clocks follow before the commit.
    clocks.track(session, doc.id)
    return doc


async def _steps(session: AsyncSession, document_id: int) -> list[RouteStep]:
    return list(
        (
            await session.execute(
                select(RouteStep).where(RouteStep.document_id == document_id).order_by(RouteStep.index)
            )
        ).scalars()
    )


class Basis(StrEnum):
    """Why a route position names the person it does."""

    USER = "user"  # named by id
    DUTY = "duty"  # holds the duty in the unit
    UNIT_CLERK = "unit_clerk"  # the unit's clerk (文书)
    DELEGATION = "delegation"  # (previews) delegation moved the task from the person above


@dataclass(frozen=True)
class Recipient:
    """Who receives the task of one route position, and why.

    ``named_id`` is the user the position resolves to before delegation (None: nobody holds
    the duty); ``assignee_id`` who gets the task after delegation (委托), ``on_behalf_of_id``
    the delegator when delegation moved it.
    """

    position: int
    field: str
    basis: Basis
    named_id: int | None
    assignee_id: int | None
    on_behalf_of_id: int | None
    unit_id: int | None = None
    duty: Duty | None = None


async def _assignee_rows(session: AsyncSession, step_id: int) -> list[StepAssignee]:
    return list(
        (
            await session.execute(
                select(StepAssignee).where(StepAssignee.step_id == step_id).order_by(StepAssignee.position)
            )
        ).scalars()
    )


async def resolve_step(session: AsyncSession, doc: Document, step: RouteStep, day: dt.date) -> list[Recipient]:
    """Who would receive the tasks of ``step`` on ``day``, position by position.

    A unit assignee resolves with :func:`resolve_duty` to the first active holder (position
    order) of the duty (the unit's clerk when no duty is named); the resolved user then goes
    through delegation (:func:`resolve_assignee`) as a user named by id does.
    """
    out: list[Recipient] = []
    for row in await _assignee_rows(session, step.id):
        field_name = f"route.steps.{step.index}.assignees.{row.position}"
        if row.user_id is not None:
            basis, named, duty = Basis.USER, row.user_id, None
            field_name = f"route.steps.{step.index}.assigneeIds.{row.position}"
        else:
            assert row.unit_id is not None
            duty = Duty(row.duty) if row.duty else None
            basis = Basis.DUTY if duty is not None else Basis.UNIT_CLERK
            holders = await resolve_duty(session, row.unit_id, duty or Duty.CLERK)
            named = holders[0] if holders else None
        assignee, on_behalf_of = (None, None)
        if named is not None:
            assignee, on_behalf_of = await resolve_assignee(session, named, doc.doc_type, day)
        out.append(Recipient(row.position, field_name, basis, named, assignee, on_behalf_of, row.unit_id, duty))
    return out


def _no_assignee(errors: ErrorCollector, recipients: Sequence[Recipient]) -> None:
    for r in recipients:
        if r.assignee_id is None:
            what = "clerk" if r.duty is None else r.duty.value
            errors.add(ErrorCode.NO_ASSIGNEE, r.field, detail=f"unit {r.unit_id} has no active {what}")


async def _open_step(
    session: AsyncSession,
    doc: Document,
    step: RouteStep,
    sender: Actor,
    positions: Sequence[int] | None = None,
    recipients: Sequence[Recipient] | None = None,
) -> list[Message]:
    """Open tasks of ``step`` for the current round; the TASK_ASSIGNED messages to send.

    ``positions``: which assignees (default: those the step's mode opens first, see
    :func:`routing.initial_positions`). Assignees by duty or unit are resolved now
    (``NO_ASSIGNEE`` when nobody holds the duty). A named assignee who delegated their tasks
    (委托) for today and this document type is replaced by the delegate (chains resolved, see
    :func:`resolve_assignee`); the task records the delegator in ``on_behalf_of_id`` and the
    delegator is told (TASK_DELEGATED).
    """
    if recipients is None:
        recipients = await resolve_step(session, doc, step, local_today())
    if positions is None:
        positions = routing.initial_positions(StepMode(step.mode), len(recipients))
    chosen = [r for r in recipients if r.position in set(positions)]
    errors = ErrorCollector()
    _no_assignee(errors, chosen)
    errors.raise_if_any()
    tasks = []
    for r in chosen:
        assert r.assignee_id is not None
        tasks.append(
            Task(
                document_id=doc.id,
                step_id=step.id,
                round=doc.round,
                assignee_id=r.assignee_id,
                sender_id=sender.user_id,
                on_behalf_of_id=r.on_behalf_of_id,
                # a unit's clerk may route the task within the unit (documents/unit_countersign.py)
                unit_id=r.unit_id if r.duty in (None, Duty.CLERK) else None,
            )
        )
    session.add_all(tasks)
    await session.flush()
    doc.current_step = step.index
    names = {}
    if any(t.on_behalf_of_id for t in tasks):
        ids = {t.on_behalf_of_id for t in tasks} | {t.assignee_id for t in tasks if t.on_behalf_of_id}
        names = dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))).all())
    messages = []
    for t in tasks:
        payload = {"taskId": t.id, "stepIndex": step.index, "round": doc.round}
        body = f"{sender.display_name} 送来《{doc.title}》，请{step.name}"
        if t.on_behalf_of_id is not None:
            payload["onBehalfOfId"] = t.on_behalf_of_id
            body += f"（代 {names[t.on_behalf_of_id]} 办理）"
        messages.append(
            Message(
                user_id=t.assignee_id,
                kind=NotificationKind.TASK_ASSIGNED.value,
                title=f"待办：{doc.title}",
                body=body,
                subject_type="Document",
                subject_id=doc.id,
                actor_id=sender.user_id,
                payload=payload,
                priority=document_priority(NotificationKind.TASK_ASSIGNED, doc.urgency),
            )
        )
        if t.on_behalf_of_id is not None:
            messages.append(
                Message(
                    user_id=t.on_behalf_of_id,
                    kind=NotificationKind.TASK_DELEGATED.value,
                    title=f"已委托办理：{doc.title}",
                    body=f"《{doc.title}》的{step.name}待办已按委托交由 {names[t.assignee_id]} 办理",
                    subject_type="Document",
                    subject_id=doc.id,
                    actor_id=sender.user_id,
                    payload={**payload, "assigneeId": t.assignee_id},
                )
            )
    return messages


async def submit_document(
    uow: UnitOfWork, broker: Publisher, actor: Actor, document_id: int, *, attest_no_state_secret: bool
) -> Document:
    """Submit a draft (or resubmit a returned document): a new round opens step 0.

    Only the drafter may submit (``NOT_FOUND`` for others, who cannot see the draft).
    ``attest_no_state_secret`` must be true (``ATTESTATION_REQUIRED``: 本文件不涉及国家秘密); the
    attestation is recorded in the history. ``INVALID_STATE`` unless draft or returned.
    """
    session = uow.session
    doc = await _lock_document(session, document_id)
    if doc.drafter_id != actor.user_id:
        raise DomainError(ErrorCode.NOT_FOUND, "documentId")
    if not routing.can_submit(DocumentStatus(doc.status)):
        raise DomainError(ErrorCode.INVALID_STATE, "documentId", detail=doc.status)
    if not attest_no_state_secret:
        raise DomainError(ErrorCode.ATTESTATION_REQUIRED, "attestNoStateSecret")
    format_errors = ErrorCollector()
    _add_format_errors(format_errors, await format_report(session, doc))
    format_errors.raise_if_any()
    await attachments.check_attachment_list(session, doc)  # 附件说明 = the uploaded attachments
    steps = await _steps(session, doc.id)
    await signoff.check_route(
        session, doc.issuing_unit_id, doc.direction, doc.important, await signoff.stored_steps(session, steps)
    )
    today = local_today()
    resolved = [await resolve_step(session, doc, st, today) for st in steps]
    missing = ErrorCollector()
    for recipients in resolved:
        _no_assignee(missing, recipients)
    missing.raise_if_any()
    now = utcnow()
    doc.round += 1
    doc.status = DocumentStatus.IN_REVIEW.value
    doc.attested_no_state_secret_at = now
    doc.version += 1
    session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.SUBMITTED.value,
            round=doc.round,
            step_index=0,
            attested_no_state_secret=True,
        )
    )
    await notify(uow, broker, await _open_step(session, doc, steps[0], actor, recipients=resolved[0]))
    return doc


async def _load_task_for_action(session: AsyncSession, actor: Actor, task_id: int) -> tuple[Task, Document]:
    task = await session.get(Task, task_id)
    if task is None:
        raise DomainError(ErrorCode.NOT_FOUND, "taskId")
    doc = await _lock_document(session, task.document_id)
    await session.refresh(task)
    if task.assignee_id != actor.user_id:
        raise DomainError(ErrorCode.NOT_YOUR_TASK, "taskId")
    if not routing.can_act(DocumentStatus(doc.status), TaskStatus(task.status)):
        raise DomainError(ErrorCode.TASK_ALREADY_HANDLED, "taskId")
    return task, doc


def _excerpt(text: str, limit: int = NOTIFICATION_EXCERPT) -> str:
    """``text`` cut to ``limit`` characters (with …) for a notification body."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _opinion(opinion: str | None, *, required: bool) -> str | None:
    text = trimmed(opinion)
    if required and not text:
        raise DomainError(ErrorCode.REQUIRED, "opinion")
    if len(text) > MAX_OPINION:
        raise DomainError(ErrorCode.TOO_LONG, "opinion", limit=MAX_OPINION)
    return text or None


async def approve_task(uow: UnitOfWork, broker: Publisher, actor: Actor, task_id: int, opinion: str | None) -> Task:
    """Approve ``actor``'s pending task with an optional opinion.

    Completes the step when its mode says so and opens the next one, or approves the
    document after the last step. Errors: ``NOT_FOUND``, ``NOT_YOUR_TASK``,
    ``TASK_ALREADY_HANDLED`` (e.g. a retried request, or a task cancelled by a return),
    ``SUBTASKS_PENDING`` (a unit's clerk whose routing within the unit is still open). A
    sub-task routed within a unit goes to :func:`unit_countersign.approve_subtask` instead.
    ``WRONG_SIGNER`` on a sign-off task of someone who may not sign (documents/signoff.py);
    approving the sign-off step records the sign-off (:func:`signoff.record_sign_off`).
    """
    session = uow.session
    text = _opinion(opinion, required=False)
    task, doc = await _load_task_for_action(session, actor, task_id)
    from documents import unit_countersign  # imports this module

    if task.parent_task_id is not None:  # a sub-task routed within a unit: not a step task
        return await unit_countersign.approve_subtask(uow, broker, actor, task, doc, text)
    await unit_countersign.ensure_no_pending_subtasks(session, task)
    sign_off_step = await session.get(RouteStep, task.step_id)
    if sign_off_step is not None and sign_off_step.kind == StepKind.SIGN_OFF.value:
        await signoff.check_approver(session, doc, actor.user_id)
    now = utcnow()
    task.status = TaskStatus.APPROVED.value
    task.opinion = text
    task.acted_at = now
    await session.flush()
    steps = await _steps(session, doc.id)
    step = next(s for s in steps if s.id == task.step_id)
    step_tasks = list(
        (
            await session.execute(
                select(Task)
                .where(Task.step_id == step.id, Task.round == doc.round, Task.parent_task_id.is_(None))
                .order_by(Task.id)
            )
        ).scalars()
    )
    # Transferred, superseded and cancelled tasks no longer count (docs/routing.md).
    statuses = routing.live([TaskStatus(t.status) for t in step_tasks])
    assignee_count = len(await _assignee_rows(session, step.id))
    session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.APPROVED.value,
            round=doc.round,
            step_index=step.index,
            task_id=task.id,
            opinion=text,
        )
    )
    doc.version += 1
    messages = [
        Message(
            user_id=doc.drafter_id,
            kind=NotificationKind.TASK_APPROVED.value,
            title=f"已{step.name}：{doc.title}",
            body=f"{actor.display_name}：{_excerpt(text or '同意')}",
            subject_type="Document",
            subject_id=doc.id,
            actor_id=actor.user_id,
            payload={"taskId": task.id, "stepIndex": step.index, "round": doc.round},
        )
    ]
    messages += on_behalf_result(task, doc, actor, f"已{step.name}（同意）")
    transition = routing.after_approval(
        step.index, len(steps), StepMode(step.mode), statuses, assignee_count=assignee_count, quorum=step.quorum
    )
    if transition.cancel_open:
        messages += _cancel(
            [t for t in step_tasks if t.status == TaskStatus.PENDING.value],
            doc,
            actor,
            now,
            f"{actor.display_name} 已办理{step.name}，此待办无需再办",
        )
    if transition.open_positions:  # sequential: the next assignee of the same step
        messages += await _open_step(session, doc, step, actor, transition.open_positions)
    if transition.outcome is routing.Outcome.FINISH:
        doc.status = DocumentStatus.APPROVED.value
        doc.current_step = None
        if step.kind == StepKind.SIGN_OFF.value:
            session.add(signoff.record_sign_off(doc, actor, now, step.index))
        session.add(
            DocumentAction(
                document_id=doc.id, actor_id=actor.user_id, action=ActionKind.COMPLETED.value, round=doc.round
            )
        )
        messages.append(
            Message(
                user_id=doc.drafter_id,
                kind=NotificationKind.DOCUMENT_APPROVED.value,
                title=f"已办结：{doc.title}",
                body="公文已完成全部审批环节",
                subject_type="Document",
                subject_id=doc.id,
                actor_id=actor.user_id,
            )
        )
    if transition.outcome is routing.Outcome.ADVANCE:
        assert transition.next_step is not None
        messages += await _open_step(session, doc, steps[transition.next_step], actor)
    messages += await unit_countersign.cancel_orphaned_subtasks(session, doc, actor)
    # One notify call per transaction: it locks the counters in ascending user order, so
    # concurrent approvals on different documents cannot deadlock on them.
    await notify(uow, broker, messages)
    await session.flush()
    return task


def on_behalf_result(task: Task, doc: Document, actor: Actor, what: str) -> list[Message]:
    """The DELEGATED_TASK_DONE message to the person a delegate acted for (委托人, the task's
    ``on_behalf_of_id``), who keeps sight of the task; none for a task of one's own."""
    if task.on_behalf_of_id is None or task.on_behalf_of_id == actor.user_id:
        return []
    return [
        Message(
            user_id=task.on_behalf_of_id,
            kind=NotificationKind.DELEGATED_TASK_DONE.value,
            title=f"受托人已办理：{doc.title}",
            body=f"{actor.display_name} 代您办理：{what}",
            subject_type="Document",
            subject_id=doc.id,
            actor_id=actor.user_id,
            payload={"taskId": task.id, "round": doc.round, "status": task.status},
        )
    ]


def _cancel(tasks: Sequence[Task], doc: Document, actor: Actor, now: dt.datetime, body: str) -> list[Message]:
    """Cancel pending ``tasks``; the TASK_CANCELLED messages to their assignees."""
    for t in tasks:
        t.status = TaskStatus.CANCELLED.value
        t.acted_at = now
    return [
        Message(
            user_id=t.assignee_id,
            kind=NotificationKind.TASK_CANCELLED.value,
            title=f"待办已取消：{doc.title}",
            body=body,
            subject_type="Document",
            subject_id=doc.id,
            actor_id=actor.user_id,
            payload={"taskId": t.id, "round": doc.round},
        )
        for t in tasks
    ]


async def return_task(uow: UnitOfWork, broker: Publisher, actor: Actor, task_id: int, opinion: str | None) -> Task:
    """Return the document to its drafter from ``actor``'s pending task (opinion required).

    The round's other pending tasks are cancelled (their assignees are told), sub-tasks
    routed within a unit included; the drafter may resubmit, which starts a new round at the
    first step. A sub-task goes back to the unit's clerk instead
    (:func:`unit_countersign.return_subtask`).
    """
    session = uow.session
    text = _opinion(opinion, required=True)
    task, doc = await _load_task_for_action(session, actor, task_id)
    if task.parent_task_id is not None:  # a sub-task goes back to the unit's clerk, not the drafter
        from documents import unit_countersign  # imports this module

        assert text is not None
        return await unit_countersign.return_subtask(uow, broker, actor, task, doc, text)
    now = utcnow()
    task.status = TaskStatus.RETURNED.value
    task.opinion = text
    task.acted_at = now
    others = list(
        (
            await session.execute(
                select(Task).where(
                    Task.document_id == doc.id,
                    Task.round == doc.round,
                    Task.status == TaskStatus.PENDING.value,
                    Task.id != task.id,
                )
            )
        ).scalars()
    )
    step = await session.get(RouteStep, task.step_id)
    assert step is not None
    transition = routing.after_return(
        StepMode(step.mode), [TaskStatus(task.status)] + [TaskStatus.PENDING] * len(others)
    )
    if not transition.cancel_open:
        others = []
    step_index = doc.current_step
    doc.status = DocumentStatus.RETURNED.value
    doc.current_step = None
    doc.version += 1
    session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.RETURNED.value,
            round=doc.round,
            step_index=step_index,
            task_id=task.id,
            opinion=text,
        )
    )
    messages = [
        Message(
            user_id=doc.drafter_id,
            kind=NotificationKind.DOCUMENT_RETURNED.value,
            title=f"被退回：{doc.title}",
            body=f"{actor.display_name}：{_excerpt(text)}",
            subject_type="Document",
            subject_id=doc.id,
            actor_id=actor.user_id,
            payload={"taskId": task.id, "stepIndex": step_index, "round": doc.round},
            priority=document_priority(NotificationKind.DOCUMENT_RETURNED, doc.urgency),
        )
    ]
    messages += on_behalf_result(task, doc, actor, "已退回拟稿人")
    messages += _cancel(others, doc, actor, now, f"{actor.display_name} 已将公文退回拟稿人")
    await notify(uow, broker, messages)
    await session.flush()
    return task


# ---- reads -----------------------------------------------------------------------------


def visible_to(user_id: int):
    """SQL condition: the drafter, or anyone with a task on the document (any round, sub-tasks
    within a unit included), including a delegator whose task went to their delegate
    (``on_behalf_of_id``); a reader it was circulated to (传阅, documents/circulation.py); who
    registered or dispatched it; and, once dispatched, the clerks, head and deputy heads of
    a recipient unit, the leader named to instruct there and its handlers
    (:func:`documents.incoming_models.incoming_visible_to`)."""
    return or_(
        Document.drafter_id == user_id,
        exists().where(Task.document_id == Document.id, Task.assignee_id == user_id),
        exists().where(Task.document_id == Document.id, Task.on_behalf_of_id == user_id),
        exists().where(Circulation.document_id == Document.id, Circulation.reader_id == user_id),
        Document.registered_by_id == user_id,
        exists().where(
            IncomingDocument.document_id == Document.id,
            or_(IncomingDocument.dispatched_by_id == user_id, incoming_visible_to(user_id)),
        ),
    )


async def get_visible_document(session: AsyncSession, actor: Actor, document_id: int) -> Document | None:
    """The document if ``actor`` may read it, else None (existence is not revealed)."""
    return (
        await session.execute(select(Document).where(Document.id == document_id, visible_to(actor.user_id)))
    ).scalar_one_or_none()


async def get_document_in_subtree(session: AsyncSession, unit_path: str, document_id: int) -> Document | None:
    """The document if it has left the draft stage and its issuing unit is inside the
    subtree whose root has materialized path ``unit_path`` (what an integration client with
    ``documents:read`` may read), else None (existence is not revealed)."""
    q = (
        select(Document)
        .join(OrgUnit, OrgUnit.id == Document.issuing_unit_id)
        .where(
            Document.id == document_id,
            Document.status != "draft",
            OrgUnit.path.startswith(unit_path, autoescape=True),
        )
    )
    return (await session.execute(q)).scalar_one_or_none()


async def visible_document_ids(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> set[int]:
    rows = await session.execute(select(Document.id).where(Document.id.in_(list(ids)), visible_to(actor.user_id)))
    return set(rows.scalars())


async def steps_of_documents(session: AsyncSession, document_ids: Sequence[int]) -> list[RouteStep]:
    """The route steps of several documents, by document then index (one query)."""
    return list(
        (
            await session.execute(
                select(RouteStep)
                .where(RouteStep.document_id.in_(list(document_ids)))
                .order_by(RouteStep.document_id, RouteStep.index)
            )
        ).scalars()
    )


async def tasks_of_documents(session: AsyncSession, document_ids: Sequence[int]) -> list[Task]:
    """Every task of several documents, all rounds, in creation order (one query)."""
    return list(
        (
            await session.execute(select(Task).where(Task.document_id.in_(list(document_ids))).order_by(Task.id))
        ).scalars()
    )


async def history_of_documents(session: AsyncSession, document_ids: Sequence[int]) -> list[DocumentAction]:
    """The history entries of several documents, oldest first (one query)."""
    return list(
        (
            await session.execute(
                select(DocumentAction)
                .where(DocumentAction.document_id.in_(list(document_ids)))
                .order_by(DocumentAction.id)
            )
        ).scalars()
    )


async def recipients_of_documents(session: AsyncSession, document_ids: Sequence[int]) -> list[DocumentRecipient]:
    """The recipients of several documents, by kind then the order given (one query)."""
    return list(
        (
            await session.execute(
                select(DocumentRecipient)
                .where(DocumentRecipient.document_id.in_(list(document_ids)))
                .order_by(DocumentRecipient.document_id, DocumentRecipient.kind, DocumentRecipient.position)
            )
        ).scalars()
    )


async def step_assignees(session: AsyncSession, step_ids: Sequence[int]) -> list[StepAssignee]:
    """The people named on several steps, in the order given (one query)."""
    return list(
        (
            await session.execute(
                select(StepAssignee)
                .where(StepAssignee.step_id.in_(list(step_ids)))
                .order_by(StepAssignee.step_id, StepAssignee.position)
            )
        ).scalars()
    )


@dataclass(frozen=True)
class StepPreview:
    step: RouteStep
    recipients: list[Recipient]


@dataclass(frozen=True)
class RoutePreview:
    """Who would receive each step's tasks if it opened today (:func:`route_preview`)."""

    document: Document
    next_step_index: int | None
    steps: list[StepPreview]


async def route_preview(session: AsyncSession, actor: Actor, document_id: int) -> RoutePreview | None:
    """The route of a document the actor may read (drafter or route participant) resolved for
    today: every step with its recipients (duty, unit clerk, delegation). ``next_step_index``
    is the step that opens next: the first on a draft or returned document, the one after the
    open step while in review, none once approved. None when the document is not visible."""
    doc = await get_visible_document(session, actor, document_id)
    if doc is None:
        return None
    steps = await _steps(session, doc.id)
    status = DocumentStatus(doc.status)
    if routing.can_submit(status):
        nxt: int | None = 0
    elif status is DocumentStatus.IN_REVIEW and doc.current_step is not None and doc.current_step + 1 < len(steps):
        nxt = doc.current_step + 1
    else:
        nxt = None
    today = local_today()
    return RoutePreview(doc, nxt, [StepPreview(st, await resolve_step(session, doc, st, today)) for st in steps])

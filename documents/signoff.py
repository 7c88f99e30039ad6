"""Sign-off (签发, REG Art. 22) and its invalidation by a later edit (复核, DOMAIN §1.4).

A route may mark one step as the sign-off (:class:`~documents.types.StepKind` ``sign_off``).
The rules:

* at most one sign-off step, it is the last step, and its mode is ``single`` (one signer);
* the signer is a leader (负责人) of the issuing unit: a holder of the duty ``head`` or
  ``deputy_head`` there (named by id, or by that duty in the issuing unit itself);
* upward documents (上行文) and important documents (``important``) are signed by the
  principal leader (主要负责人), the ``head``, only.

They are checked when the document is created and again when it is submitted (duties and
the document's direction may have changed meanwhile), and the person approving the sign-off
task must hold the duty at that moment (a task moved by delegation to someone who may not
sign cannot be approved: ``WRONG_SIGNER`` on ``taskId``). Approving the sign-off step records
who signed, when (UTC), the SHA-256 of the body signed, and sets the 成文日期 (``issued_on``)
to the Asia/Shanghai date of the sign-off (Art. 22: the date of the document is the sign-off
date). Registration (登记) requires a valid sign-off.

Editing the title, body, attachment list, direction or importance of a signed-off (approved,
not yet registered) document invalidates the sign-off and sends the document back to the
signer for re-review (复审); the other format elements (份号, 附注, 印发机关 …) may change
without that. The 成文日期 cannot be edited once signed off: it is the sign-off date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from documents.models import Document, DocumentAction, RouteStep, StepAssignee
from documents.types import ActionKind, DocumentStatus, StepKind, StepMode
from messaging.models import NotificationKind
from messaging.outbox import Message
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.duties import resolve_duty
from office_api.org.models import Duty
from office_api.org.permissions import Actor

TIMEZONE = ZoneInfo("Asia/Shanghai")
#: Attributes whose change after sign-off invalidates it (substantive changes, DOMAIN §1.4).
SUBSTANTIVE = ("title", "body", "attachment_titles", "direction", "important")


@dataclass(frozen=True)
class SignerRef:
    """One assignee of a sign-off step: a user (``user_id``), or ``duty`` in ``unit_id``
    (``duty`` None = the unit's clerk). ``field`` is the dotted input path to report."""

    field: str
    user_id: int | None
    unit_id: int | None
    duty: Duty | None


@dataclass(frozen=True)
class StepRef:
    """What the sign-off rules need of one route step."""

    index: int
    sign_off: bool
    mode: StepMode
    signers: tuple[SignerRef, ...] = ()


def shape_problems(steps: Sequence[StepRef]) -> list[tuple[str, str]]:
    """``(field, detail)`` for each sign-off step that breaks the shape rules: at most one
    sign-off step, the last step, mode SINGLE. Pure; field ``route.steps.<i>.signOff`` or
    ``route.steps.<i>.mode``."""
    out: list[tuple[str, str]] = []
    marked = [s for s in steps if s.sign_off]
    for extra in marked[1:]:
        out.append((f"route.steps.{extra.index}.signOff", "a route has at most one sign-off step"))
    if marked:
        first = marked[0]
        if first.index != len(steps) - 1:
            out.append((f"route.steps.{first.index}.signOff", "the sign-off step must be the last step"))
        if first.mode is not StepMode.SINGLE:
            out.append((f"route.steps.{first.index}.mode", "a sign-off step is SINGLE (one signer)"))
    return out


def allowed_duties(direction: str, important: bool) -> tuple[Duty, ...]:
    """Duties in the issuing unit that may sign off: the head only for upward or important
    documents, else the head or a deputy head (REG Art. 22)."""
    if important or direction == "upward":
        return (Duty.HEAD,)
    return (Duty.HEAD, Duty.DEPUTY_HEAD)


async def signer_problems(
    session: AsyncSession, issuing_unit_id: int, direction: str, important: bool, step: StepRef
) -> list[tuple[str, str]]:
    """``(field, detail)`` for each assignee of the sign-off ``step`` who is not a leader of
    the issuing unit allowed to sign this document (:func:`allowed_duties`)."""
    duties = allowed_duties(direction, important)
    who = "its head" if duties == (Duty.HEAD,) else "its head or a deputy head"
    out: list[tuple[str, str]] = []
    holders: set[int] | None = None
    for ref in step.signers:
        if ref.user_id is not None:
            if holders is None:
                holders = set()
                for duty in duties:
                    holders |= set(await resolve_duty(session, issuing_unit_id, duty))
            ok = ref.user_id in holders
        else:
            ok = ref.unit_id == issuing_unit_id and ref.duty in duties
        if not ok:
            out.append((ref.field, f"signer must be {who} of the issuing unit {issuing_unit_id}"))
    return out


async def check_route(
    session: AsyncSession, issuing_unit_id: int, direction: str, important: bool, steps: Sequence[StepRef]
) -> None:
    """Raise the shape (``INVALID_VALUE``) and signer (``WRONG_SIGNER``) problems of a route."""
    errors = ErrorCollector()
    for field, detail in shape_problems(steps):
        errors.add(ErrorCode.INVALID_VALUE, field, detail=detail)
    sign_off = next((s for s in steps if s.sign_off), None)
    if sign_off is not None:
        for field, detail in await signer_problems(session, issuing_unit_id, direction, important, sign_off):
            errors.add(ErrorCode.WRONG_SIGNER, field, detail=detail)
    errors.raise_if_any()


async def stored_steps(session: AsyncSession, steps: Sequence[RouteStep]) -> list[StepRef]:
    """:class:`StepRef` of a document's stored route (fields ``route.steps.<i>.assignees.<p>``)."""
    rows = (
        (
            await session.execute(
                select(StepAssignee)
                .where(StepAssignee.step_id.in_([s.id for s in steps]))
                .order_by(StepAssignee.step_id, StepAssignee.position)
            )
        )
        .scalars()
        .all()
    )
    by_step: dict[int, list[StepAssignee]] = {}
    for r in rows:
        by_step.setdefault(r.step_id, []).append(r)
    return [
        StepRef(
            index=s.index,
            sign_off=s.kind == StepKind.SIGN_OFF.value,
            mode=StepMode(s.mode),
            signers=tuple(
                SignerRef(
                    f"route.steps.{s.index}.assignees.{r.position}",
                    r.user_id,
                    r.unit_id,
                    Duty(r.duty) if r.duty else None,
                )
                for r in by_step.get(s.id, [])
            ),
        )
        for s in steps
    ]


async def check_approver(session: AsyncSession, doc: Document, user_id: int) -> None:
    """Raise ``WRONG_SIGNER`` on ``taskId`` unless ``user_id`` may sign ``doc`` off now: a holder
    of an :func:`allowed_duties` duty in the issuing unit. Covers duties that changed after
    submission and a task that delegation (委托) moved to someone who may not sign."""
    for duty in allowed_duties(doc.direction, doc.important):
        if user_id in await resolve_duty(session, doc.issuing_unit_id, duty):
            return
    raise DomainError(ErrorCode.WRONG_SIGNER, "taskId", detail=f"user {user_id} may not sign this document off")


def body_hash(body: str) -> str:
    """SHA-256 (hex) of the body text, UTF-8."""
    return hashlib.sha256((body or "").encode()).hexdigest()


def local_date(instant: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of a UTC instant (aware)."""
    return instant.astimezone(TIMEZONE).date()


def record_sign_off(doc: Document, actor: Actor, now: dt.datetime, step_index: int) -> DocumentAction:
    """Record ``actor``'s sign-off of ``doc`` at ``now`` (UTC): signer, instant, body hash,
    version, and 成文日期 = the Asia/Shanghai date of ``now`` (REG Art. 22). Returns the
    ``signed_off`` history entry to add."""
    doc.signed_off_by_id = actor.user_id
    doc.signed_off_at = now
    doc.signed_body_sha256 = body_hash(doc.body)
    doc.signed_version = doc.version
    doc.issued_on = local_date(now)
    return DocumentAction(
        document_id=doc.id,
        actor_id=actor.user_id,
        action=ActionKind.SIGNED_OFF.value,
        round=doc.round,
        step_index=step_index,
        created_at=now,
    )


def is_signed_off(doc: Document) -> bool:
    """True when ``doc`` carries a sign-off that still matches its body."""
    return doc.signed_off_at is not None and doc.signed_body_sha256 == body_hash(doc.body)


def editable_after_sign_off(doc: Document) -> bool:
    """An approved document with a sign-off, not yet registered: its drafter may still edit it
    (a substantive edit invalidates the sign-off)."""
    return doc.status == DocumentStatus.APPROVED.value and doc.signed_off_at is not None and doc.doc_number is None


def substantive_values(doc: Document) -> dict[str, object]:
    """The :data:`SUBSTANTIVE` attributes of ``doc`` (to compare before and after an edit)."""
    return {k: getattr(doc, k) for k in SUBSTANTIVE}


async def invalidate(session: AsyncSession, doc: Document, actor: Actor) -> list[Message]:
    """Invalidate ``doc``'s sign-off after a substantive edit and send it back to the signer.

    Clears the sign-off fields and the 成文日期 it set, starts a new round in which only the
    sign-off step opens (status ``in_review``; the step's assignee is resolved again, so a
    duty-named signer is today's holder), and writes a ``sign_off_invalidated`` history entry.
    Returns the messages to send: SIGN_OFF_INVALIDATED to the former signer and the new
    task's TASK_ASSIGNED. The caller has locked ``doc``.
    """
    from documents.service import _open_step, _steps  # the route helpers live with the use cases

    steps = await _steps(session, doc.id)
    step = next(s for s in steps if s.kind == StepKind.SIGN_OFF.value)
    former = doc.signed_off_by_id
    doc.signed_off_by_id = None
    doc.signed_off_at = None
    doc.signed_body_sha256 = None
    doc.signed_version = None
    doc.issued_on = None
    doc.round += 1
    doc.status = DocumentStatus.IN_REVIEW.value
    session.add(
        DocumentAction(
            document_id=doc.id,
            actor_id=actor.user_id,
            action=ActionKind.SIGN_OFF_INVALIDATED.value,
            round=doc.round,
            step_index=step.index,
        )
    )
    messages = []
    if former is not None:
        messages.append(
            Message(
                user_id=former,
                kind=NotificationKind.SIGN_OFF_INVALIDATED.value,
                title=f"签发已失效：{doc.title}",
                body=f"{actor.display_name} 在签发后修改了公文，须重新{step.name}",
                subject_type="Document",
                subject_id=doc.id,
                actor_id=actor.user_id,
                payload={"stepIndex": step.index, "round": doc.round},
            )
        )
    messages += await _open_step(session, doc, step, actor)
    return messages

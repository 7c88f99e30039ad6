"""External documents registered on arrival (收文 that did not come through the platform:
paper, e-mail, fax, another system, a plain telegram), behind the classification gate of
DOMAIN §3.3. Once registered they follow the incoming procedure of
:mod:`documents.incoming_service` like a dispatched copy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from documents.classification import normalise, state_secret_reason
from documents.file_scan import text_mark_reasons
from documents.incoming import IncomingState, IncomingStep
from documents.incoming_models import IncomingDocument
from documents.incoming_service import TIMEZONE, _clerks, _record, _your_turn, incoming_number, next_serial
from documents.types import RecipientKind, Urgency
from messaging.outbox import Publisher, notify
from office_api.db import UnitOfWork
from office_api.errors import DomainError, ErrorCode, ErrorCollector
from office_api.org.duties import resolve_duty
from office_api.org.models import Duty, OrgUnit
from office_api.org.permissions import Actor
from office_api.text import trimmed

#: How an external document may arrive. Telegrams only as plain telegrams (明电): cipher
#: telegrams (密电 / 密码电报) and 机要 channels are refused (REG Art. 26; DOMAIN §3.3).
CHANNELS = ("paper", "email", "fax", "system", "plain_telegram")
_SECRET_CHANNELS = ("密电", "密码电报", "机要")
MAX_EXTERNAL_TEXT = 200
MAX_EXTERNAL_NUMBER = 40


@dataclass
class ExternalDocumentInput:
    """An external document (paper, e-mail, fax, another system, plain telegram) as its header reads."""

    unit_id: int
    issuer: str
    title: str
    channel: str
    number: str | None = None
    classification: str | None = None
    urgency: Urgency = Urgency.NORMAL


async def register_external(
    uow: UnitOfWork, broker: Publisher, actor: Actor, data: ExternalDocumentInput, *, now: dt.datetime
) -> IncomingDocument:
    """签收 and 登记 in one step of a document that did not come through the platform.

    The classification gate first (DOMAIN §3.3, REG Arts. 26, 30): a state-secret level,
    pending classification or unknown value in ``classification`` is ``STATE_SECRET_REFUSED``
    (:func:`documents.classification.state_secret_reason`); so is a channel naming 密电,
    密码电报 or 机要. ``channel`` must be one of :data:`CHANNELS` (``INVALID_VALUE``);
    ``issuer`` and ``title`` are required (≤ 200 characters), ``number`` ≤ 40. Then the
    actor must be a clerk of ``unit_id`` (``NOT_FOUND`` for no such unit, ``FORBIDDEN``).
    Writes a main copy already ``registered`` (received and registered at ``now``, the
    unit's next 收文编号) with RECEIVE and REGISTER history entries; the unit's other clerks
    are told. It then follows the procedure like any copy; its sender is not on the
    platform, so returns and replies notify nobody.
    """
    session = uow.session
    errors = ErrorCollector()
    reason = state_secret_reason(data.classification)
    if reason is not None:
        errors.add(ErrorCode.STATE_SECRET_REFUSED, "classification", detail=reason)
    for field_name, mark in text_mark_reasons({"title": data.title}):
        errors.add(ErrorCode.STATE_SECRET_REFUSED, field_name, detail=mark)
    channel = (data.channel or "").strip().lower()
    if any(word in normalise(data.channel or "") for word in _SECRET_CHANNELS):
        errors.add(ErrorCode.STATE_SECRET_REFUSED, "channel", detail="confidential channel")
    elif channel not in CHANNELS:
        errors.add(ErrorCode.INVALID_VALUE, "channel", detail="one of " + ", ".join(CHANNELS))
    values = {}
    for key, value, limit, required in (
        ("issuer", data.issuer, MAX_EXTERNAL_TEXT, True),
        ("title", data.title, MAX_EXTERNAL_TEXT, True),
        ("number", data.number, MAX_EXTERNAL_NUMBER, False),
    ):
        text = trimmed(value)
        if required and not text:
            errors.add(ErrorCode.REQUIRED, key)
        elif len(text) > limit:
            errors.add(ErrorCode.TOO_LONG, key, limit=limit)
        values[key] = text or None
    errors.raise_if_any()
    if await session.get(OrgUnit, data.unit_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND, "unitId")
    if actor.user_id not in await resolve_duty(session, data.unit_id, Duty.CLERK):
        raise DomainError(ErrorCode.FORBIDDEN, "unitId")
    year = now.astimezone(TIMEZONE).year
    inc = IncomingDocument(
        document_id=None,
        unit_id=data.unit_id,
        kind=RecipientKind.MAIN.value,
        position=0,
        state=IncomingState.PENDING_RECEIPT.value,
        version=1,
        dispatched_at=now,
        dispatched_by_id=actor.user_id,
        received_at=now,
        received_by_id=actor.user_id,
        serial_year=year,
        serial_seq=await next_serial(session, data.unit_id, year),
        registered_at=now,
        external_issuer=values["issuer"],
        external_number=values["number"],
        external_title=values["title"],
        external_urgency=Urgency(data.urgency).value,
        channel=channel,
        updated_at=now,
    )
    session.add(inc)
    await session.flush()
    assert inc.serial_seq is not None
    _record(session, inc, actor, IncomingStep.RECEIVE, IncomingState.RECEIVED, now, channel)
    number = incoming_number(year, inc.serial_seq)
    _record(session, inc, actor, IncomingStep.REGISTER, IncomingState.REGISTERED, now, number)
    await notify(uow, broker, await _your_turn(session, inc, None, actor, await _clerks(session, inc), "初审"))
    await session.flush()
    return inc

"""A notification as clients see it, without strawberry: global ids and camelCase keys.

The GraphQL type (schema/notifications.py) and outbound channels (webhooks) both turn the
integer ids of a notification's ``payload`` into Relay global ids with :data:`PAYLOAD_ID_TYPES`.
"""

from __future__ import annotations

import base64
from typing import Any

from messaging.models import Notification, NotificationPriority

#: Keys of ``Notification.payload`` that hold ids, and the GraphQL type each id belongs to.
PAYLOAD_ID_TYPES: tuple[tuple[str, str], ...] = (
    ("taskId", "Task"),
    ("parentTaskId", "Task"),
    ("subtaskId", "Task"),
    ("circulationId", "CirculationItem"),
    ("documentId", "Document"),
    ("unitId", "OrgUnit"),
    ("splitFromId", "Meeting"),
    ("invitationId", "MeetingInvitation"),
    ("nominatedViaId", "MeetingInvitation"),
    ("onBehalfOfId", "MeetingInvitation"),
    ("occurrenceId", "MeetingOccurrence"),
    ("leaveRequestId", "MeetingLeaveRequest"),
)
#: Payload keys never sent outside the platform (contact details).
_PRIVATE_WORDS = ("mobile", "phone")


def global_id(type_name: str, pk: int | str) -> str:
    """The Relay global id of ``type_name`` ``pk``: base64 of ``"<type>:<pk>"`` (strawberry's form)."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def payload_with_global_ids(payload: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of a notification's ``payload`` with its id values as global ids."""
    data = dict(payload or {})
    for key, type_name in PAYLOAD_ID_TYPES:
        if key in data and data[key] is not None:
            data[key] = global_id(type_name, data[key])
    return data


def notification_json(row: Notification) -> dict[str, Any]:
    """``row`` as an outbound channel sends it (JSON-ready): ``id`` (Notification global id),
    ``sequence``, ``kind``, ``priority`` (NORMAL, URGENT 加急, EXTRA_URGENT 特急), ``title``,
    ``body``, ``subjectType``, ``subjectId`` (global id), ``data`` (global ids; keys naming
    a mobile or phone number left out), ``createdAt`` (UTC, ISO 8601), ``recipientId`` (User
    global id) and ``unitId`` (OrgUnit global id of the unit it was received for, or null)."""
    data = {
        k: v for k, v in payload_with_global_ids(row.payload).items() if not any(w in k.lower() for w in _PRIVATE_WORDS)
    }
    return {
        "id": global_id("Notification", row.id),
        "sequence": row.seq,
        "kind": row.kind,
        "priority": NotificationPriority(row.priority or NotificationPriority.NORMAL.value).name,
        "title": row.title,
        "body": row.body or "",
        "subjectType": row.subject_type,
        "subjectId": global_id(row.subject_type, row.subject_id) if row.subject_type and row.subject_id else None,
        "data": data,
        "createdAt": row.created_at.isoformat() if row.created_at else None,
        "recipientId": global_id("User", row.user_id),
        "unitId": global_id("OrgUnit", row.unit_id) if row.unit_id is not None else None,
    }

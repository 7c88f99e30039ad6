"""Contact details of a person (mobile, office phone, email): visibility and the lookup log.

Resolving any of the three fields of a ``User`` records (viewer, subject, field) for the
request; :class:`ContactLookupLog` writes the request's rows in ONE transaction after the
operation ran (one row per subject, the fields asked for in ``fields``). A leader's mobile
number (someone holding an ``isLeader`` post) resolves to null unless the viewer is that
person or holds one of the roles of ``Settings.leader_mobile_visible_to``
(``OFFICE_LEADER_MOBILE_VISIBLE_TO``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import insert
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from office_api.db import utcnow
from office_api.org import directory
from office_api.org.models import ContactLookup
from schema.common import require_actor


class _State:
    """Per request: the viewer's roles (read once) and the lookups to write."""

    def __init__(self) -> None:
        self.viewer_id: int | None = None
        self.sees_leader_mobile: bool | None = None
        self.lookups: dict[tuple[int, int], set[str]] = defaultdict(set)


def _state(ctx: Any) -> _State:
    state = ctx.__dict__.get("_contact_state")
    if state is None:
        state = _State()
        ctx.__dict__["_contact_state"] = state
    return state


async def viewer_sees_leader_mobile(info: Info) -> bool:
    """Whether the actor holds a role configured to see leaders' mobile numbers (cached per request)."""
    ctx = info.context
    state = _state(ctx)
    if state.sees_leader_mobile is None:
        actor = await require_actor(info)
        async with ctx.db.read() as session:
            roles = await directory.roles_of(session, actor.user_id)
        state.sees_leader_mobile = directory.sees_leader_mobile(roles, ctx.settings.leader_mobile_visible_to)
    return state.sees_leader_mobile


async def contact_field(info: Info, subject_id: int, field: str, value: str | None) -> str | None:
    """The value of ``field`` of ``subject_id`` as the actor may see it; the lookup is recorded.

    Integration clients see no contact details (null): the lookup log names a person."""
    if getattr(info.context, "client", None) is not None:
        return None
    actor = await require_actor(info)
    state = _state(info.context)
    state.viewer_id = actor.user_id
    state.lookups[(actor.user_id, subject_id)].add(field)
    if field == "mobile" and value is not None and subject_id != actor.user_id:
        positions = await info.context.loaders.user_positions.load(subject_id)
        if any(p.is_leader for p in positions) and not await viewer_sees_leader_mobile(info):
            return None
    return value


class ContactLookupLog(SchemaExtension):
    """Writes the contact lookups of the operation in one transaction (``contact_lookups``)."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        ctx = self.execution_context.context
        state = ctx.__dict__.get("_contact_state") if ctx is not None else None
        if state is None or not state.lookups:
            return
        now = utcnow()
        rows = [
            {"viewer_id": viewer, "subject_id": subject, "fields": ",".join(sorted(fields)), "created_at": now}
            for (viewer, subject), fields in sorted(state.lookups.items())
        ]
        state.lookups.clear()
        async with ctx.db.unit_of_work() as uow:
            await uow.session.execute(insert(ContactLookup), rows)

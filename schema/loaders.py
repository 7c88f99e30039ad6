"""Per-request DataLoaders, built in the context getter.

Each loader batches the keys asked for in one tick into one query, run in a short read
session, so that a list does not issue a query per row:

* by primary key (``user``, ``unit``, ``document``, ``step``, ``position``), missing keys
  load as None;
* grouped children of many owners (a document's steps, tasks, history and recipients; a
  step's assignees; a user's posts);
* one page of a nested list for many owners at once (a unit's children and members).

After a mutation commits, :meth:`Loaders.reset` forgets what was read, because a later
mutation of the same request must see the change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from documents import attachments as doc_attachments
from documents import circulation as circ
from documents import dispatch as docs_dispatch
from documents import incoming_service as docs_incoming
from documents import service as docs
from documents import supervision as docs_supervision
from documents import versions as doc_versions
from documents.incoming_models import IncomingDocument
from documents.models import Document, RouteStep
from documents.supervision_models import SupervisionItem
from meetings import access as meeting_access
from meetings import replies as meeting_replies
from meetings import rooms as meeting_rooms
from meetings.models import Invitation, LeaveRequest, Meeting, MeetingOccurrence, Room
from office_api import deadlines as clock
from office_api import sla
from office_api.db import Database
from office_api.org import duties as org_duties
from office_api.org import service as org
from office_api.org.models import OrgUnit, Position, User

#: A page request of a nested list: (owner id, after key, limit + 1).
PageKey = tuple[int, int | None, int]


class Loaders:
    """The loaders of one request (or one websocket connection)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.reset()

    def reset(self) -> None:
        """Forget every loaded row (after a mutation)."""
        self.user = self._by_id(User)
        self.unit = self._by_id(OrgUnit)
        self.document = self._by_id(Document)
        self.step = self._by_id(RouteStep)
        self.position = self._by_id(Position)
        self.document_steps = self._grouped(docs.steps_of_documents, lambda r: r.document_id)
        self.document_tasks = self._grouped(docs.tasks_of_documents, lambda r: r.document_id)
        self.document_history = self._grouped(docs.history_of_documents, lambda r: r.document_id)
        self.document_recipients = self._grouped(docs.recipients_of_documents, lambda r: r.document_id)
        self.document_circulation = self._grouped(circ.circulation_of_documents, lambda r: r.document_id)
        self.step_assignees = self._grouped(docs.step_assignees, lambda r: r.step_id)
        self.document_attachments = self._grouped(doc_attachments.attachments_of_documents, lambda r: r.document_id)
        self.document_body_versions = self._grouped(doc_versions.versions_of_documents, lambda r: r.document_id)
        self.body_version = self._by_id(doc_versions.BodyVersion)
        self.user_positions = self._grouped(org.positions_of_users, lambda r: r.user_id)
        self.unit_children = self._paged(org.children_of)
        self.unit_members = self._paged(org.members_of)
        self.position_duties = self._grouped(org_duties.duties_of_positions, lambda r: r.position_id)
        self.unit_duty_holders = self._grouped(org_duties.duty_holders_of_units, lambda r: r[0])
        self.incoming = self._by_id(IncomingDocument)
        self.document_incoming = self._grouped(docs_dispatch.incoming_of_documents, lambda r: r.document_id)
        self.incoming_handlers = self._grouped(docs_incoming.handlers_of_incoming, lambda r: r.incoming_id)
        self.incoming_history = self._grouped(docs_incoming.history_of_incoming, lambda r: r.incoming_id)
        self.sla_policy = self._by_id(sla.SlaPolicy)
        self.policy_bindings = self._grouped(sla.bindings_of_policies, lambda r: r.policy_id)
        self.deadline = self._deadlines()
        self.supervision_item = self._by_id(SupervisionItem)
        self.supervision_units = self._grouped(docs_supervision.units_of_items, lambda r: r.item_id)
        self.supervision_reports = self._grouped(docs_supervision.reports_of_items, lambda r: r.item_id)
        self.meeting = self._by_id(Meeting)
        self.occurrence = self._by_id(MeetingOccurrence)
        self.room = self._by_id(Room)
        self.meeting_occurrences = self._grouped(meeting_access.occurrences_of, lambda r: r.meeting_id)
        self.meeting_invitations = self._grouped(meeting_access.invitations_of, lambda r: r.meeting_id)
        self.occurrence_bookings = self._grouped(meeting_rooms.bookings_of_occurrences, lambda r: r.occurrence_id)
        self.meeting_invitation = self._by_id(Invitation)
        self.meeting_leave_request = self._by_id(LeaveRequest)
        self.meeting_occurrence_replies = self._grouped(
            meeting_replies.occurrence_replies_of, lambda r: r.invitation_id
        )

    def _deadlines(self) -> DataLoader[tuple[str, int], Any]:
        """Clocks by (subject type, subject id); one query per subject type in a tick."""

        async def batch(keys: Sequence[tuple[str, int]]) -> list[Any]:
            by_type: dict[str, list[int]] = defaultdict(list)
            for subject_type, subject_id in keys:
                by_type[subject_type].append(subject_id)
            found: dict[tuple[str, int], Any] = {}
            async with self._db.read() as session:
                for subject_type, ids in by_type.items():
                    for subject_id, d in (await clock.deadlines_for(session, subject_type, ids)).items():
                        found[(subject_type, subject_id)] = d
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=batch)

    def _by_id(self, model: Any) -> DataLoader[int, Any]:
        async def batch(ids: Sequence[int]) -> list[Any]:
            async with self._db.read() as session:
                rows = (await session.execute(select(model).where(model.id.in_(list(ids))))).scalars()
                found = {r.id: r for r in rows}
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=batch)

    def _grouped(
        self, fetch: Callable[[Any, Sequence[int]], Awaitable[Sequence[Any]]], key: Callable[[Any], Hashable]
    ) -> DataLoader[int, list[Any]]:
        async def batch(ids: Sequence[int]) -> list[list[Any]]:
            async with self._db.read() as session:
                rows = await fetch(session, ids)
            groups: dict[Hashable, list[Any]] = {i: [] for i in ids}
            for row in rows:
                groups[key(row)].append(row)
            return [groups[i] for i in ids]

        return DataLoader(load_fn=batch)

    def _paged(self, fetch: Callable[..., Awaitable[dict[int, list[Any]]]]) -> DataLoader[PageKey, list[Any]]:
        """Keys with the same ``after`` and limit (siblings in one response) share one query."""

        async def batch(keys: Sequence[PageKey]) -> list[list[Any]]:
            groups: dict[tuple[int | None, int], list[int]] = defaultdict(list)
            for owner, after, limit in keys:
                groups[(after, limit)].append(owner)
            found: dict[PageKey, list[Any]] = {}
            async with self._db.read() as session:
                for (after, limit), owners in groups.items():
                    rows = await fetch(session, sorted(set(owners)), after, limit)
                    for owner in owners:
                        found[(owner, after, limit)] = rows.get(owner, [])
            return [found[k] for k in keys]

        return DataLoader(load_fn=batch, cache=False)

"""Set-up shared by the dispatch and incoming-procedure tests.

:func:`registered_document` is the ONE place these tests make "a registered document": when
registration gains steps (e.g. a leader's sign-off), adapt it here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from strawberry.relay import GlobalID

from documents.models import Document, DocumentRecipient
from documents.registration import register_document
from documents.types import RecipientKind
from office_api.auth import issue_access_token
from office_api.org.duties import set_position_duties
from office_api.org.models import Duty, OrgUnit, Position, User
from office_api.org.permissions import load_actor
from office_api.org.service import assign_position
from tests.conftest import GraphQLClient
from tests.documents_helpers import signed_off_documents

#: The platform clock of these tests: 2026-06-01 10:00 in Shanghai.
NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
GENERAL_OFFICE = "370000-general_office"
#: The 16 city governments, in the order of the demo divisions.
CITIES = (
    "370100",
    "370200",
    "370300",
    "370400",
    "370500",
    "370600",
    "370700",
    "370800",
    "370900",
    "371000",
    "371100",
    "371300",
    "371400",
    "371500",
    "371600",
    "371700",
)


def gid(kind: str, pk: int) -> str:
    return str(GlobalID(kind, str(pk)))


def pk_of(global_id: str) -> int:
    return int(GlobalID.from_id(global_id).node_id)


async def ids_of(platform: Any) -> dict[str, int]:
    """Users by username and units by code."""
    async with platform.db.read() as s:
        users = {u: pk for pk, u in (await s.execute(select(User.id, User.username))).all()}
        units = {c: pk for pk, c in (await s.execute(select(OrgUnit.id, OrgUnit.code))).all()}
    return {**users, **units}


def signed_in(client: GraphQLClient, settings: Any, user_id: int) -> GraphQLClient:
    """A client with an access token for ``user_id`` (issued directly: no argon2 sign-in)."""
    token, _ = issue_access_token(settings, user_id)
    return GraphQLClient(client.http, token, client.lang)


async def registered_document(
    platform: Any,
    ids: dict[str, int],
    *,
    main: Sequence[str],
    cc: Sequence[str] = (),
    drafter: str = "clerk",
    urgency: str = "normal",
    title: str = "山东省人民政府办公厅关于做好防汛工作的通知",
    now: dt.datetime = NOW,
) -> int:
    """A REGISTERED document drafted by ``drafter`` in the General Office, addressed to the
    units with codes ``main`` (主送) and ``cc`` (抄送); returns its id.

    Approval and the leader's sign-off are written through the ORM
    (:func:`tests.documents_helpers.signed_off_documents`; the routing and sign-off tests cover
    them); the registration runs through :func:`documents.registration.register_document` as
    ``drafter``.
    """
    (doc_id,) = await signed_off_documents(platform, ids[drafter], ids[GENERAL_OFFICE], 1)
    async with platform.db.unit_of_work() as uow:
        doc = await uow.session.get(Document, doc_id)
        assert doc is not None
        doc.title = title
        doc.urgency = urgency
        for kind, codes in ((RecipientKind.MAIN, main), (RecipientKind.CC, cc)):
            uow.session.add_all(
                DocumentRecipient(document_id=doc.id, unit_id=ids[c], kind=kind.value, position=i)
                for i, c in enumerate(codes)
            )
    async with platform.db.unit_of_work() as uow:
        actor = await load_actor(uow.session, ids[drafter])
        assert actor is not None
        await register_document(uow, actor, doc_id, now=now)
    return doc_id


async def give_duty(platform: Any, username: str, unit_code: str, duty: Duty, *, is_leader: bool = False) -> None:
    """Give ``username`` a post in the unit carrying ``duty`` (created when missing)."""
    async with platform.db.unit_of_work() as uow:
        s = uow.session
        user_id = (await s.execute(select(User.id).where(User.username == username))).scalar_one()
        unit_id = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == unit_code))).scalar_one()
        pos = (
            await s.execute(select(Position).where(Position.user_id == user_id, Position.unit_id == unit_id))
        ).scalar_one_or_none()
        if pos is None:
            pos = await assign_position(uow, None, user_id=user_id, unit_id=unit_id, title="文书", is_leader=is_leader)
        await set_position_duties(uow, None, pos.id, [duty])

"""GraphQL surface of the directory (通讯录): search people, change contact details."""

from __future__ import annotations

import base64
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from office_api.errors import DomainError, ErrorCode
from office_api.org import directory
from schema.clients import directory_scope
from schema.common import (
    Connection,
    Edge,
    IsAuthenticated,
    UserError,
    decode_id,
    page_size,
    require_actor,
    run_mutation,
)
from schema.contacts import viewer_sees_leader_mobile
from schema.org import User


def encode_directory_cursor(c: directory.DirectoryCursor) -> str:
    return base64.urlsafe_b64encode(f"d:{c.rank}:{c.id}:{c.key}".encode()).decode()


def decode_directory_cursor(cursor: str | None) -> directory.DirectoryCursor | None:
    """The position in an opaque directory cursor; ``INVALID_VALUE`` on field ``after`` when malformed."""
    if cursor is None:
        return None
    try:
        prefix, rank, pk, key = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 3)
        c = directory.DirectoryCursor(int(rank), key, int(pk))
        if prefix != "d" or not 0 <= c.rank <= directory.RANK_CONTAINS or not 0 < c.id < 2**31 or len(key) > 400:
            raise ValueError
        return c
    except (ValueError, UnicodeDecodeError) as exc:
        raise DomainError(ErrorCode.INVALID_VALUE, "after", detail="malformed cursor") from exc


@strawberry.input(description="New contact details; omitted fields stay as they are, an empty string clears one.")
class UpdateUserContactInput:
    user_id: relay.GlobalID = strawberry.field(description="The person: yourself, or someone an admin administers.")
    mobile: str | None = strawberry.field(
        default=None, description="Mainland mobile number, 11 digits starting 13–19 (+86, spaces, dashes ignored)."
    )
    office_phone: str | None = strawberry.field(
        default=None, description="Office telephone: [area code-]7–8 digits[-extension], e.g. 0531-86000001."
    )
    email: str | None = strawberry.field(default=None, description="E-mail address, at most 254 characters.")


@strawberry.type(description="The person after the change, or errors (INVALID_VALUE, TOO_LONG, NOT_FOUND).")
class UpdateUserContactPayload:
    user: User | None = strawberry.field(description="The person.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type
class DirectoryQuery:
    @strawberry.field(
        description="Search the directory (通讯录) for active people. `query` matches the name, the full pinyin "
        '("zhangwei"), the pinyin initials ("zw") and phone numbers; results are ranked: exact name, name '
        "prefix, pinyin/initials/phone prefix, then name or pinyin containing the query; within a rank by pinyin. "
        "`query` at most 64 characters (TOO_LONG); omitted lists everyone. `unitId` keeps people with a post in "
        "that unit (`includeSubtree`: or below it). An integration client (scope directory:read) searches its "
        "subtree only and sees no contact details. `first`: 1–100, default 20.",
        permission_classes=[IsAuthenticated],
    )
    async def directory(
        self,
        info: Info,
        query: Annotated[str | None, strawberry.argument(description="Name, pinyin, initials or phone.")] = None,
        unit_id: Annotated[
            relay.GlobalID | None, strawberry.argument(description="Only people with a post in this unit.")
        ] = None,
        include_subtree: Annotated[
            bool, strawberry.argument(description="With unitId: also people in units below it.")
        ] = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[User]:
        limit = page_size(first)
        cursor = decode_directory_cursor(after)
        unit_pk = decode_id(unit_id, "OrgUnit", "unitId") if unit_id is not None else None
        if info.context.client is not None:  # an integration client: its subtree, no contact details
            unit_pk, include_subtree = await directory_scope(info, unit_pk, include_subtree)
            viewer_id, sees, phones = 0, False, False
        else:
            viewer_id, sees = (await require_actor(info)).user_id, await viewer_sees_leader_mobile(info)
            phones = True
        q = directory.DirectoryQuery(
            text=directory.clean_query(query), unit_id=unit_pk, include_subtree=include_subtree
        )
        async with info.context.db.read() as s:
            hits = await directory.search(
                s,
                q,
                viewer_id=viewer_id,
                can_see_leader_mobile=sees,
                after=cursor,
                limit=limit + 1,
                match_phones=phones,
            )
        has_next = len(hits) > limit
        edges = [Edge(cursor=encode_directory_cursor(h.cursor), node=User.from_model(h.user)) for h in hits[:limit]]
        return Connection(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type
class DirectoryMutation:
    @strawberry.mutation(
        description="Change a person's mobile, office phone or e-mail: your own, or as an admin of their "
        "primary unit (FORBIDDEN otherwise).",
        permission_classes=[IsAuthenticated],
    )
    async def update_user_contact(self, info: Info, input: UpdateUserContactInput) -> UpdateUserContactPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await directory.update_contact(
                uow,
                actor,
                decode_id(input.user_id, "User", "userId"),
                directory.ContactInput(input.mobile, input.office_phone, input.email),
            )

        user, errors = await run_mutation(info, work)
        return UpdateUserContactPayload(user=User.from_model(user) if user else None, errors=errors)

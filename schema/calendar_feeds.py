"""GraphQL surface of calendar feeds: per-user iCalendar URLs (``meetings.calendar_feeds``).

The feed itself is plain HTTP (``GET /calendar/{token}.ics``, office_api/calendar_http.py),
as is one meeting's ``GET /meetings/{id}.ics``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from meetings import calendar_feeds as svc
from meetings.ical import FEED_AHEAD, FEED_PAST, MAX_FEED_EVENTS
from meetings.models import CalendarFeed as FeedModel
from office_api.calendar_http import public_base_url
from schema.common import (
    IsAuthenticated,
    UserError,
    decode_id,
    idempotency_key_field,
    require_actor,
    run_mutation,
)


@strawberry.type(
    description="A calendar feed URL of yours (iCalendar, RFC 5545) for a calendar app to subscribe to. The URL "
    "itself is shown only once, by createCalendarFeed; only a hash of its secret is kept."
)
class CalendarFeed(relay.Node):
    id: relay.NodeID[int]
    label: str | None = strawberry.field(description="Your name for it, e.g. 手机日历; null for none.")
    created_at: dt.datetime = strawberry.field(description="UTC instant it was created.")
    last_used_at: dt.datetime | None = strawberry.field(
        description="UTC instant a calendar app last fetched it (recorded at most every 15 minutes); null if never."
    )
    revoked_at: dt.datetime | None = strawberry.field(
        description="UTC instant it was revoked (its URL answers 404 since); null while it works."
    )

    @strawberry.field(description="True until revoked.")
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_model(cls, m: FeedModel) -> CalendarFeed:
        return cls(
            id=m.id, label=m.label, created_at=m.created_at, last_used_at=m.last_used_at, revoked_at=m.revoked_at
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[CalendarFeed | None]:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            mine = {f.id: f for f in await svc.my_feeds(s, actor)}
        out: list[CalendarFeed | None] = []
        for i in node_ids:
            row = mine.get(int(i)) if str(i).isdigit() else None
            out.append(cls.from_model(row) if row else None)
        return out


@strawberry.input(description="A new calendar feed URL for one calendar app.")
class CreateCalendarFeedInput:
    label: str | None = strawberry.field(
        default=None, description="Your name for it, e.g. 手机日历 (at most 100 characters)."
    )


@strawberry.input(description="Revoke one of your calendar feeds.")
class RevokeCalendarFeedInput:
    feed_id: relay.GlobalID = strawberry.field(description="Your feed (CalendarFeed).")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The new feed and its URL, shown this once, or errors.")
class CreateCalendarFeedPayload:
    feed: CalendarFeed | None = strawberry.field(description="The feed; null on error.")
    url: str | None = strawberry.field(
        description="The feed URL, `<base>/calendar/<token>.ics` (the token: 32 random bytes, URL-safe base64). "
        "Shown only in this response: store it in the calendar app. <base> is OFFICE_PUBLIC_BASE_URL, else the "
        "scheme and host this request came to."
    )
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="The feed after the change, or errors.")
class CalendarFeedPayload:
    feed: CalendarFeed | None = strawberry.field(description="The feed; null on error.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


def _request_base(info: Info) -> str:
    request = getattr(info.context, "request", None)
    return str(request.base_url) if request is not None else ""


_FEED_CONTENT = (
    f"The feed holds the meetings you organise (creator, convener, chair) or are invited to in person (nominees and "
    f"substitutes too; not once the invitation is withdrawn) with an occurrence between {FEED_PAST.days} days ago "
    f"and {FEED_AHEAD.days} days ahead, cancelled ones marked STATUS:CANCELLED, at most {MAX_FEED_EVENTS} events."
)


@strawberry.type
class CalendarFeedQuery:
    @strawberry.field(
        description="Your calendar feeds, revoked ones too, newest first. Their URLs are not shown again.",
        permission_classes=[IsAuthenticated],
    )
    async def calendar_feeds(self, info: Info) -> list[CalendarFeed]:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            rows = await svc.my_feeds(s, actor)
        return [CalendarFeed.from_model(r) for r in rows]


@strawberry.type
class CalendarFeedMutation:
    @strawberry.mutation(
        description="Create a calendar feed URL for a calendar app to subscribe to (iCalendar, RFC 5545; no sign-in: "
        "the URL is the secret, so treat it like a password). Returns the URL once. "
        + _FEED_CONTENT
        + f" Errors: TOO_LONG (label), TOO_MANY with field null (you hold {svc.MAX_FEEDS} unrevoked feeds "
        "already: the message says so; revoke one first). "
        "Takes no idempotency key: a retried request would have to store the URL.",
        permission_classes=[IsAuthenticated],
    )
    async def create_calendar_feed(self, info: Info, input: CreateCalendarFeedInput) -> CreateCalendarFeedPayload:
        actor = await require_actor(info)
        base = public_base_url(info.context.settings, _request_base(info))

        async def work(uow: Any) -> svc.NewFeed:
            return await svc.create_feed(uow, actor, input.label)

        result, errors = await run_mutation(info, work)
        if result is None:
            return CreateCalendarFeedPayload(feed=None, url=None, errors=errors)
        return CreateCalendarFeedPayload(
            feed=CalendarFeed.from_model(result.feed), url=svc.feed_url(base, result.token), errors=[]
        )

    @strawberry.mutation(
        description="Revoke one of your calendar feeds: its URL answers 404 from now on. Revoking a revoked feed "
        "changes nothing. Errors: NOT_FOUND (feedId: not a feed of yours).",
        permission_classes=[IsAuthenticated],
    )
    async def revoke_calendar_feed(self, info: Info, input: RevokeCalendarFeedInput) -> CalendarFeedPayload:
        actor = await require_actor(info)

        async def work(uow: Any) -> FeedModel:
            return await svc.revoke_feed(uow, actor, decode_id(input.feed_id, "CalendarFeed", "feedId"))

        row, errors = await run_mutation(info, work, idempotent=input)
        return CalendarFeedPayload(feed=CalendarFeed.from_model(row) if row else None, errors=errors)

"""Per-user calendar feed URLs: ``<base>/calendar/<token>.ics``, revocable.

The token is 32 random bytes from :mod:`secrets` (43 URL-safe base64 characters); only its
SHA-256 (hex) is stored, so the URL is shown once, when the feed is created. A person keeps
at most :data:`MAX_FEEDS` unrevoked feeds (one per calendar app, say). Revoking is final: the
URL answers 404 from then on, as does an unknown token or one of a disabled account.

Fetching a feed records ``last_used_at`` at most once per :data:`TOUCH_INTERVAL` per feed (a
conditional UPDATE in its own short transaction), so calendar apps polling every few minutes
cause no stream of writes or row-lock waits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.models import CalendarFeed
from office_api.db import Database, UnitOfWork
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import User
from office_api.org.permissions import Actor
from office_api.text import trimmed

#: Unrevoked feeds one person may hold.
MAX_FEEDS = 10
MAX_LABEL = 100
#: Random bytes in a token (RFC 4086 §8: far beyond guessing).
TOKEN_BYTES = 32
#: ``last_used_at`` is rewritten at most this often per feed.
TOUCH_INTERVAL = dt.timedelta(minutes=15)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def token_hash(token: str) -> str:
    """SHA-256 hex of a feed token, the only form stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def feed_url(base_url: str, token: str) -> str:
    """``<base_url>/calendar/<token>.ics`` (``base_url`` without a trailing slash)."""
    return f"{base_url.rstrip('/')}/calendar/{token}.ics"


@dataclass(frozen=True)
class NewFeed:
    """A feed just created and its token (shown this once)."""

    feed: CalendarFeed
    token: str


async def create_feed(uow: UnitOfWork, actor: Actor, label: str | None) -> NewFeed:
    """Create a feed for ``actor`` with an optional ``label`` (trimmed, at most 100
    characters, e.g. 手机日历). Errors: ``TOO_LONG`` on ``label``; ``TOO_MANY`` with field null
    (the limit is on the feeds held, not on an input field) and the limit and the remedy in the
    message when the actor already holds :data:`MAX_FEEDS` unrevoked feeds. The count is taken with the
    actor's user row locked (``FOR UPDATE`` on PostgreSQL; SQLite write transactions are
    serialised), so concurrent requests cannot exceed it."""
    text = trimmed(label)
    if len(text) > MAX_LABEL:
        raise DomainError(ErrorCode.TOO_LONG, "label", limit=MAX_LABEL)
    session = uow.session
    await session.execute(select(User.id).where(User.id == actor.user_id).with_for_update())
    held = (
        await session.execute(
            select(CalendarFeed.id).where(CalendarFeed.user_id == actor.user_id, CalendarFeed.revoked_at.is_(None))
        )
    ).all()
    if len(held) >= MAX_FEEDS:
        raise DomainError(
            ErrorCode.TOO_MANY, None, limit=MAX_FEEDS, detail="unrevoked calendar feeds per person; revoke one first"
        )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed = CalendarFeed(user_id=actor.user_id, token_hash=token_hash(token), label=text or None, created_at=uow.now)
    session.add(feed)
    await session.flush()
    return NewFeed(feed, token)


async def my_feeds(session: AsyncSession, actor: Actor) -> list[CalendarFeed]:
    """The actor's feeds, revoked ones too, newest first."""
    q = (
        select(CalendarFeed)
        .where(CalendarFeed.user_id == actor.user_id)
        .order_by(CalendarFeed.created_at.desc(), CalendarFeed.id.desc())
    )
    return list((await session.execute(q)).scalars())


async def revoke_feed(uow: UnitOfWork, actor: Actor, feed_id: int, field: str = "feedId") -> CalendarFeed:
    """Revoke one of the actor's feeds (at ``uow.now``); revoking a revoked feed changes
    nothing. ``NOT_FOUND`` naming ``field`` for a feed that is not the actor's."""
    feed = (
        await uow.session.execute(select(CalendarFeed).where(CalendarFeed.id == feed_id).with_for_update())
    ).scalar_one_or_none()
    if feed is None or feed.user_id != actor.user_id:
        raise DomainError(ErrorCode.NOT_FOUND, field)
    if feed.revoked_at is None:
        feed.revoked_at = uow.now
        await uow.session.flush()
    return feed


async def feed_by_token(db: Database, token: str, now: dt.datetime) -> CalendarFeed | None:
    """The unrevoked feed of ``token`` whose owner's account is active, or None (malformed,
    unknown or revoked token, disabled account). Records ``now`` as ``last_used_at`` when the
    last record is older than :data:`TOUCH_INTERVAL`."""
    if not _TOKEN.fullmatch(token):
        return None
    q = (
        select(CalendarFeed)
        .join(User, User.id == CalendarFeed.user_id)
        .where(
            CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None), User.is_active.is_(True)
        )
    )
    async with db.read() as session:
        feed = (await session.execute(q)).scalar_one_or_none()
    if feed is None:
        return None
    if feed.last_used_at is None or now - feed.last_used_at >= TOUCH_INTERVAL:
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                update(CalendarFeed)
                .where(
                    CalendarFeed.id == feed.id,
                    CalendarFeed.revoked_at.is_(None),
                    or_(CalendarFeed.last_used_at.is_(None), CalendarFeed.last_used_at <= now - TOUCH_INTERVAL),
                )
                .values(last_used_at=now)
            )
        feed.last_used_at = now
    return feed

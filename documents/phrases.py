"""Saved opinion phrases (常用意见) of a person: 同意, 拟同意，请领导审示, 请按程序办理 ….

Each user keeps at most :data:`MAX_PHRASES` phrases of at most :data:`MAX_PHRASE` characters,
no two equal (after trimming), in the order they choose. ``approveTask``/``returnTask`` may
take a phrase instead of typed text (one tap): :func:`phrase_text` gives the opinion.

Every write locks the owner's user row first (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
serializes write transactions), so the limit and the order hold under concurrent requests.
Errors are typed with the input field: ``REQUIRED``/``TOO_LONG`` (``text``), ``DUPLICATE``
(``text``), ``TOO_MANY`` (``text``, the limit reached), ``NOT_FOUND`` (``id``: no phrase of
yours), ``INVALID_VALUE`` (``ids``: a reorder must name each of your phrases exactly once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UnitOfWork, UTCDateTime, utcnow
from office_api.errors import DomainError, ErrorCode
from office_api.org.models import User
from office_api.org.permissions import Actor
from office_api.text import trimmed

#: Phrases a user may keep.
MAX_PHRASES = 50
#: Characters of one phrase.
MAX_PHRASE = 200


class OpinionPhrase(Base):
    """One saved opinion phrase of ``user_id`` at ``position`` (0-based, the user's order)."""

    __tablename__ = "opinion_phrases"
    __table_args__ = (UniqueConstraint("user_id", "text"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(String(MAX_PHRASE))
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


async def _lock_owner(session: AsyncSession, user_id: int) -> None:
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())


async def my_phrases(session: AsyncSession, user_id: int) -> list[OpinionPhrase]:
    """The user's phrases in their order (at most :data:`MAX_PHRASES`)."""
    q = select(OpinionPhrase).where(OpinionPhrase.user_id == user_id).order_by(OpinionPhrase.position)
    return list((await session.execute(q)).scalars())


def _checked(text: str | None) -> str:
    value = trimmed(text)
    if not value:
        raise DomainError(ErrorCode.REQUIRED, "text")
    if len(value) > MAX_PHRASE:
        raise DomainError(ErrorCode.TOO_LONG, "text", limit=MAX_PHRASE)
    return value


def _no_duplicate(phrases: Sequence[OpinionPhrase], value: str, except_id: int | None = None) -> None:
    if any(p.text == value and p.id != except_id for p in phrases):
        raise DomainError(ErrorCode.DUPLICATE, "text", detail=value)


async def add_phrase(uow: UnitOfWork, actor: Actor, text: str) -> OpinionPhrase:
    """Append a phrase at the end of the actor's list. Errors: ``REQUIRED``, ``TOO_LONG``,
    ``DUPLICATE``, ``TOO_MANY`` (field ``text``)."""
    session = uow.session
    value = _checked(text)
    await _lock_owner(session, actor.user_id)
    phrases = await my_phrases(session, actor.user_id)
    _no_duplicate(phrases, value)
    if len(phrases) >= MAX_PHRASES:
        raise DomainError(ErrorCode.TOO_MANY, "text", limit=MAX_PHRASES)
    phrase = OpinionPhrase(user_id=actor.user_id, text=value, position=len(phrases))
    session.add(phrase)
    await session.flush()
    return phrase


async def _own(session: AsyncSession, actor: Actor, phrase_id: int, field: str) -> OpinionPhrase:
    phrase = await session.get(OpinionPhrase, phrase_id)
    if phrase is None or phrase.user_id != actor.user_id:
        raise DomainError(ErrorCode.NOT_FOUND, field)
    return phrase


async def update_phrase(uow: UnitOfWork, actor: Actor, phrase_id: int, text: str) -> OpinionPhrase:
    """Change the text of one of the actor's phrases (its place is kept). Errors:
    ``NOT_FOUND`` (``id``), ``REQUIRED``/``TOO_LONG``/``DUPLICATE`` (``text``)."""
    session = uow.session
    value = _checked(text)
    await _lock_owner(session, actor.user_id)
    phrase = await _own(session, actor, phrase_id, "id")
    _no_duplicate(await my_phrases(session, actor.user_id), value, except_id=phrase.id)
    phrase.text = value
    await session.flush()
    return phrase


async def delete_phrase(uow: UnitOfWork, actor: Actor, phrase_id: int) -> list[OpinionPhrase]:
    """Delete one of the actor's phrases; the others close up. Returns the remaining list.
    ``NOT_FOUND`` (``id``) when it is not the actor's (or already deleted)."""
    session = uow.session
    await _lock_owner(session, actor.user_id)
    phrase = await _own(session, actor, phrase_id, "id")
    await session.delete(phrase)
    await session.flush()
    rest = await my_phrases(session, actor.user_id)
    for i, p in enumerate(rest):
        p.position = i
    await session.flush()
    return rest


async def reorder_phrases(uow: UnitOfWork, actor: Actor, phrase_ids: Sequence[int]) -> list[OpinionPhrase]:
    """Put the actor's phrases in the order of ``phrase_ids``, which must name each of them
    exactly once (``INVALID_VALUE`` on ``ids`` otherwise). Returns the list in its new order."""
    session = uow.session
    await _lock_owner(session, actor.user_id)
    phrases = {p.id: p for p in await my_phrases(session, actor.user_id)}
    if len(phrase_ids) != len(set(phrase_ids)) or set(phrase_ids) != set(phrases):
        raise DomainError(ErrorCode.INVALID_VALUE, "ids", detail="name each of your phrases exactly once")
    for i, pid in enumerate(phrase_ids):
        phrases[pid].position = i
    await session.flush()
    return [phrases[pid] for pid in phrase_ids]


async def phrase_text(session: AsyncSession, actor: Actor, phrase_id: int) -> str:
    """The text of the actor's phrase ``phrase_id``, for use as an opinion; ``NOT_FOUND`` on
    ``opinionPhraseId`` when it is someone else's or does not exist."""
    return (await _own(session, actor, phrase_id, "opinionPhraseId")).text


async def count_phrases(session: AsyncSession, user_id: int) -> int:
    q = select(func.count()).select_from(OpinionPhrase).where(OpinionPhrase.user_id == user_id)
    return int((await session.execute(q)).scalar_one())


async def opinion_of(session: AsyncSession, actor: Actor, opinion: str | None, phrase_id: int) -> str:
    """The opinion of a one-tap approval: the text of the actor's phrase ``phrase_id``.
    ``INVALID_VALUE`` on ``opinionPhraseId`` when an ``opinion`` is typed as well (give one
    or the other); ``NOT_FOUND`` when the phrase is not the actor's."""
    if trimmed(opinion):
        raise DomainError(
            ErrorCode.INVALID_VALUE, "opinionPhraseId", detail="give opinion or opinionPhraseId, not both"
        )
    return await phrase_text(session, actor, phrase_id)

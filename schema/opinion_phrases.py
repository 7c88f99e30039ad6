"""GraphQL surface of saved opinion phrases (常用意见, documents/phrases.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import strawberry
from strawberry import relay
from strawberry.types import Info

from documents import phrases
from documents.phrases import OpinionPhrase as PhraseModel
from office_api.errors import DomainError, ErrorCode
from schema.common import (
    IsAuthenticated,
    UserError,
    decode_id,
    decode_ids,
    idempotency_key_field,
    require_actor,
    run_mutation,
)


@strawberry.type(description="A saved opinion phrase (常用意见) of yours, e.g. 同意 or 拟同意，请领导审示.")
class OpinionPhrase(relay.Node):
    id: relay.NodeID[int]
    text: str = strawberry.field(description="The phrase, 1–200 characters, unique among your phrases.")
    position: int = strawberry.field(description="0-based place in your list.")
    created_at: dt.datetime = strawberry.field(description="UTC instant it was saved.")
    updated_at: dt.datetime = strawberry.field(description="UTC instant of its last change.")

    @classmethod
    def from_model(cls, m: PhraseModel) -> OpinionPhrase:
        return cls(id=m.id, text=m.text, position=m.position, created_at=m.created_at, updated_at=m.updated_at)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[OpinionPhrase | None]:
        return [None for _ in node_ids]


@strawberry.input(description="Save a new opinion phrase at the end of your list.")
class AddOpinionPhraseInput:
    text: str = strawberry.field(description="The phrase, 1–200 characters (trimmed), not one you already have.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Change the text of one of your phrases (its place is kept).")
class UpdateOpinionPhraseInput:
    id: relay.GlobalID = strawberry.field(description="Your phrase.")
    text: str = strawberry.field(description="The new text, 1–200 characters, not one you already have.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Delete one of your phrases; the others close up.")
class DeleteOpinionPhraseInput:
    id: relay.GlobalID = strawberry.field(description="Your phrase.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Put your phrases in a new order.")
class ReorderOpinionPhrasesInput:
    ids: list[relay.GlobalID] = strawberry.field(
        description="Every one of your phrases exactly once (at most 50), in the new order."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type(description="The phrase saved or changed, or errors.")
class OpinionPhrasePayload:
    opinion_phrase: OpinionPhrase | None = strawberry.field(description="The phrase after the change.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type(description="Your phrases after the change, or errors.")
class OpinionPhrasesPayload:
    opinion_phrases: list[OpinionPhrase] | None = strawberry.field(description="All your phrases, in order.")
    errors: list[UserError] = strawberry.field(description="Expected problems; empty on success.")


@strawberry.type
class OpinionPhraseQuery:
    @strawberry.field(
        description="Your saved opinion phrases (常用意见) in your order, at most 50.",
        permission_classes=[IsAuthenticated],
    )
    async def my_opinion_phrases(self, info: Info) -> list[OpinionPhrase]:
        actor = await require_actor(info)
        async with info.context.db.read() as s:
            rows = await phrases.my_phrases(s, actor.user_id)
        return [OpinionPhrase.from_model(r) for r in rows]


def _one(result: PhraseModel | None, errors: list[UserError]) -> OpinionPhrasePayload:
    return OpinionPhrasePayload(opinion_phrase=OpinionPhrase.from_model(result) if result else None, errors=errors)


def _all(result: list[PhraseModel] | None, errors: list[UserError]) -> OpinionPhrasesPayload:
    items = [OpinionPhrase.from_model(p) for p in result] if result is not None else None
    return OpinionPhrasesPayload(opinion_phrases=items, errors=errors)


@strawberry.type
class OpinionPhraseMutation:
    @strawberry.mutation(
        description="Save an opinion phrase. Errors on `text`: REQUIRED, TOO_LONG (200), DUPLICATE, TOO_MANY (50).",
        permission_classes=[IsAuthenticated],
    )
    async def add_opinion_phrase(self, info: Info, input: AddOpinionPhraseInput) -> OpinionPhrasePayload:
        actor = await require_actor(info)

        async def work(uow):
            return await phrases.add_phrase(uow, actor, input.text)

        return _one(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Change a phrase's text. Errors: NOT_FOUND (`id`), REQUIRED, TOO_LONG, DUPLICATE (`text`).",
        permission_classes=[IsAuthenticated],
    )
    async def update_opinion_phrase(self, info: Info, input: UpdateOpinionPhraseInput) -> OpinionPhrasePayload:
        actor = await require_actor(info)

        async def work(uow):
            return await phrases.update_phrase(uow, actor, decode_id(input.id, "OpinionPhrase", "id"), input.text)

        return _one(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Delete a phrase. Errors: NOT_FOUND (`id`).",
        permission_classes=[IsAuthenticated],
    )
    async def delete_opinion_phrase(self, info: Info, input: DeleteOpinionPhraseInput) -> OpinionPhrasesPayload:
        actor = await require_actor(info)

        async def work(uow):
            return await phrases.delete_phrase(uow, actor, decode_id(input.id, "OpinionPhrase", "id"))

        return _all(*await run_mutation(info, work, idempotent=input))

    @strawberry.mutation(
        description="Reorder your phrases. Errors: INVALID_VALUE (`ids`: each of your phrases exactly once).",
        permission_classes=[IsAuthenticated],
    )
    async def reorder_opinion_phrases(self, info: Info, input: ReorderOpinionPhrasesInput) -> OpinionPhrasesPayload:
        actor = await require_actor(info)

        async def work(uow):
            if len(input.ids) > phrases.MAX_PHRASES:
                raise DomainError(ErrorCode.TOO_MANY, "ids", limit=phrases.MAX_PHRASES)
            return await phrases.reorder_phrases(uow, actor, decode_ids(input.ids, "OpinionPhrase", "ids"))

        return _all(*await run_mutation(info, work, idempotent=input))

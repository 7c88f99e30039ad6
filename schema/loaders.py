"""Per-request DataLoaders: one batched query per model per tick, in a short read session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from documents.models import Document, RouteStep
from office_api.db import Database
from office_api.org.models import OrgUnit, Position, User


class Loaders:
    """Load rows by primary key; missing keys load as None."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.user = self._by_id(User)
        self.unit = self._by_id(OrgUnit)
        self.document = self._by_id(Document)
        self.step = self._by_id(RouteStep)
        self.position = self._by_id(Position)

    def _by_id(self, model: Any) -> DataLoader[int, Any]:
        async def batch(ids: Sequence[int]) -> list[Any]:
            async with self._db.read() as session:
                rows = (await session.execute(select(model).where(model.id.in_(list(ids))))).scalars()
                found = {r.id: r for r in rows}
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=batch)

"""The ``api_clients`` table: registered integration clients (OAuth 2.0 confidential clients)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UTCDateTime, utcnow


class ApiClient(Base):
    """A departmental system allowed to call the API on its own behalf.

    ``client_id`` is the public identifier (RFC 6749 §2.2); only the SHA-256 hex digest of
    the secret is stored (the secret is 256 random bits, so a fast hash suffices and a
    leaked table reveals nothing usable). ``unit_id`` is the root of the subtree the client
    may read and act on; ``scopes`` is a space-separated, sorted list of scope names
    (RFC 6749 §3.3). ``version`` is carried by every access token (claim ``cv``): rotating
    the secret or revoking the client bumps it, so every token issued before is refused on
    its next use. A revoked client (``revoked_at`` set) never comes back.
    """

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    scopes: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

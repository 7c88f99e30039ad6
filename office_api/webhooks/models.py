"""The ``webhooks`` and ``webhook_deliveries`` tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from office_api.db import Base, UTCDateTime, utcnow

#: Delivery states: ``pending`` (due at ``next_attempt_at``, or being sent under a lease),
#: ``delivered`` (a 2xx answer) and ``dead`` (a dead letter: an administrator may replay it).
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


class Webhook(Base):
    """An HTTPS endpoint of an integration client that receives its subtree's notifications.

    ``kinds`` is a space-separated, sorted list of ``NotificationKind`` values; empty means
    every kind. ``secret`` is the signing secret encrypted at rest (Fernet token,
    :mod:`office_api.webhooks.signing`): it must be recoverable to sign each request.
    ``version`` is bumped by every change (optimistic concurrency).
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    kinds: Mapped[str] = mapped_column(String(2000), default="")
    description: Mapped[str] = mapped_column(String(200), default="")
    secret: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def kind_set(self) -> frozenset[str]:
        return frozenset(self.kinds.split())


class WebhookDelivery(Base):
    """One POST to one endpoint: a batch (JSON array) of notifications from one transaction.

    ``uid`` is the ``X-Office-Delivery-Id`` header (receivers de-duplicate on it: delivery is
    at least once). ``payload`` is the list of notifications as sent, fixed when the
    notifications were written. ``attempts`` counts POSTs tried; ``next_attempt_at`` is when
    a pending delivery is due (a claimed one's lease end); ``last_status`` the last HTTP
    status (null for a network error or timeout) and ``last_error`` a short reason.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_status", "webhook_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    payload: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

"""Delivered receipts on a live server: what a websocket subscription sent gets ``deliveredAt``
within about a second (``OFFICE_RECEIPT_FLUSH_SECONDS`` = 1), what it did not send stays null.

The server is shared by the tests of the module, so the test starts from the user's current last
sequence number.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.live import Office, subscribed

pytestmark = pytest.mark.e2e

RECEIPTS = "{ notifications(first: 20) { edges { node { id sequence deliveredAt readAt } } } }"


async def _after(office: Office, token: str, seq: int) -> dict[str, dict[str, Any]]:
    edges = (await office.call(token, RECEIPTS))["notifications"]["edges"]
    return {e["node"]["id"]: e["node"] for e in edges if e["node"]["sequence"] > seq}


async def test_rows_sent_over_a_websocket_are_marked_delivered_and_others_are_not(office: Office) -> None:
    clerk, deputy = await office.login("clerk"), await office.login("deputy")
    deputy_id = await office.user_id(deputy)
    base = await office.last_sequence(clerk)

    async with subscribed(office.server, clerk, after=base) as sock:
        await office.approved_document(clerk, deputy, deputy_id, "送达回执测试")
        sent = [n["id"] for n in await sock.take(2)]
        deadline = asyncio.get_running_loop().time() + 5
        while True:  # the recorder flushes every second
            rows = await _after(office, clerk, base)
            if all(rows[i]["deliveredAt"] for i in sent) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
    assert sorted(rows) == sorted(sent)
    assert all(rows[i]["deliveredAt"] is not None for i in sent), rows
    assert all(rows[i]["readAt"] is None for i in sent)  # delivered is not opened

    # Offline: two more, never sent over a socket, stay undelivered.
    await office.approved_document(clerk, deputy, deputy_id, "送达回执测试 离线")
    await asyncio.sleep(1.5)
    later = await _after(office, clerk, base + 2)
    assert len(later) == 2
    assert [n["deliveredAt"] for n in later.values()] == [None, None]
    office.server.assert_no_errors()

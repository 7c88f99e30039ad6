"""A scripted push provider for the push tests, loaded by name as a deployment's provider is
(``OFFICE_PUSH_PROVIDER=tests.push_helpers:ScriptedPush``)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from messaging.push import PushMessage, PushOutcome, PushTarget
from office_api.config import Settings


class ScriptedPush:
    """A push provider answering from a per-token script (then ``ok``); an exception in the
    script is raised. Loaded by name like a deployment's provider."""

    def __init__(self, settings: Settings) -> None:
        self.script: dict[str, list[Any]] = defaultdict(list)
        self.sent: list[tuple[PushTarget, PushMessage]] = []

    async def send(self, device: PushTarget, message: PushMessage) -> PushOutcome:
        self.sent.append((device, message))
        if self.script[device.token]:
            answer = self.script[device.token].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return PushOutcome.OK

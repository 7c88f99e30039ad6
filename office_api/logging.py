"""Structured logging: JSON lines in production, readable lines in development.

Tokens, passwords and document bodies are never logged: SQLAlchemy engines hide bound
parameters and unexpected GraphQL errors are logged by type and place only.
"""

from __future__ import annotations

import json
import logging
import sys

from office_api.config import Environment, Settings

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        return f"{record.levelname:5} {record.name}: {record.getMessage()} {extra}".rstrip()


def configure_logging(settings: Settings) -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.env is Environment.production else TextFormatter())
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    # Our ErrorPolicy logs unexpected errors without arguments; strawberry's own logger
    # would print full tracebacks for expected permission errors too.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)

"""Error policy: which errors clients see, with which ``extensions.code``.

* Request errors (syntax, validation, variable coercion) pass through unchanged.
* :class:`AuthError` becomes ``UNAUTHENTICATED`` / ``FORBIDDEN``; permission-class
  failures already carry their code.
* :class:`DomainError` raised by a query (e.g. a malformed cursor or id) keeps its message
  and gets ``extensions {code, field}``.
* Anything else is masked: the client sees "Internal error" and a request id; the log gets
  the exception type and where it was raised, never arguments or local values.
"""

from __future__ import annotations

import logging
import traceback
import uuid

from graphql.error import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import MaskErrors

from office_api.errors import AuthError, DomainError, DomainErrors

log = logging.getLogger("office_api.errors")


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames))


class ErrorPolicy(MaskErrors):
    """MaskErrors with the platform's rules (see module docstring)."""

    def __init__(self) -> None:
        super().__init__(error_message="Internal error")

    def _lang(self) -> str:
        ctx = getattr(self.execution_context, "context", None)
        return getattr(ctx, "lang", "zh")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out: list[GraphQLError] = []
        for error in errors:
            orig = error.original_error
            if orig is None or isinstance(orig, (StrawberryGraphQLError, GraphQLError)) or error.path is None:
                out.append(error)
            elif isinstance(orig, AuthError):
                out.append(self._with(error, orig.args[0], {"code": orig.code.value}))
            elif isinstance(orig, DomainError):
                out.append(
                    self._with(error, orig.message(self._lang()), {"code": orig.code.value, "field": orig.field})
                )
            elif isinstance(orig, DomainErrors):
                first = orig.errors[0]
                out.append(
                    self._with(error, first.message(self._lang()), {"code": first.code.value, "field": first.field})
                )
            else:
                request_id = uuid.uuid4().hex[:12]
                log.error("unexpected %s at %s (request %s)", type(orig).__name__, _where(orig), request_id)
                out.append(
                    self._with(
                        error,
                        f"Internal error (request id {request_id})",
                        {"code": "INTERNAL", "requestId": request_id},
                    )
                )
        return out

    @staticmethod
    def _with(error: GraphQLError, message: str, extensions: dict) -> GraphQLError:
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=extensions,
        )

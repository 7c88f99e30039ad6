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
import re
import traceback
import uuid
from collections.abc import AsyncIterator

from graphql.error import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.relay.types import GlobalIDValueError

from office_api.errors import AuthError, DomainError, DomainErrors

log = logging.getLogger("office_api.errors")
#: Messages of strawberry's depth, alias and token limiters (they carry no code of their own).
_LIMIT_MESSAGE = re.compile(r"exceeds maximum operation depth|aliases found|maximum number of tokens|tokens found")


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

    def _request_id(self) -> str:
        ctx = getattr(self.execution_context, "context", None)
        state = getattr(getattr(ctx, "request", None), "state", None)
        return getattr(state, "request_id", None) or uuid.uuid4().hex[:12]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out: list[GraphQLError] = []
        for error in errors:
            orig = error.original_error
            if isinstance(orig, GlobalIDValueError):
                out.append(self._with(error, error.message, {"code": "INVALID_VALUE", "field": None}))
            elif (
                error.path is None
                and not error.extensions
                and not isinstance(orig, (AuthError, DomainError, DomainErrors))
            ):
                # Before execution: a parse or validation error, or a variable that does not
                # coerce to its type (an impossible Date, an Int beyond 32 bits, a list for an ID).
                code = "QUERY_TOO_COMPLEX" if _LIMIT_MESSAGE.search(error.message) else "GRAPHQL_VALIDATION_FAILED"
                out.append(self._with(error, error.message, {"code": code}))
            elif orig is None or isinstance(orig, (StrawberryGraphQLError, GraphQLError)) or error.path is None:
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
                request_id = self._request_id()
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


class OperationLog(SchemaExtension):
    """Records the operation name and actor on the HTTP request for the one request log line."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        ctx = self.execution_context.context
        request = getattr(ctx, "request", None)
        if request is None or request.scope.get("type") != "http":
            return
        request.state.operation = self.execution_context.operation_name or "anonymous"
        actor = getattr(ctx, "_actor", None)
        request.state.actor_id = actor.user_id if actor is not None else None

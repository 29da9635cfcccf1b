"""RFC 9457 problem details for aiohttp apps.

One middleware maps every error to ``application/problem+json``: Vellet's
own errors keep their code, aiohttp's HTTP exceptions (404 route, 405, 413)
keep their status, a database or Redis that is down becomes a 503, and
anything unexpected becomes a 500 whose body says nothing about the cause
(the log has it, without secrets).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg
import redis.exceptions
from aiohttp import web

from vellet.common import jsontext
from vellet.common.errors import (
    PROBLEM_JSON,
    InvalidRequest,
    TooManyRequests,
    VelletError,
    problem_body,
)

__all__ = ["PROBLEM_JSON", "problem_body"]  # re-exported: where a handler looks for them

log = logging.getLogger("vellet.http")

#: Errors that mean a database or Redis is down or restarting, not that the
#: code is wrong: answered 503 (``unavailable``), never 500.
DEPENDENCY_DOWN: Final = (
    OSError,  # refused, reset and timed-out connections
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def dependency_down(err: BaseException) -> bool:
    """Whether ``err`` means "a database or Redis went away", not "the code is wrong".

    asyncpg does not always say it with a connection error. A backend killed
    by a restart under an open transaction raises ``AdminShutdownError`` or
    ``ConnectionDoesNotExistError`` inside the block, and then the rollback
    on the way out replaces it with a bare ``InterfaceError`` ("cannot call
    Transaction.__aexit__(): the underlying connection is closed"), chaining
    the real cause as its context. So the chain is searched, and a closed
    connection counts too. Other driver misuse (say, "another operation is in
    progress") stays a 500: that one is a bug.

    ``InternalClientError`` ("cannot switch to state 15; another operation is
    in progress") is asyncpg's protocol finding itself mid-operation on a
    socket the server closed under it: seen here only when PostgreSQL was
    restarted under a request (tests/common/test_connection_lost.py), so it
    counts as gone too.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DEPENDENCY_DOWN):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "connection is closed" in str(current):
            return True
        if isinstance(current, asyncpg.exceptions.InternalClientError):
            return True
        current = current.__cause__ or current.__context__
    return False


_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def problem(
    status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = problem_body(status, code, title, detail)
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def from_error(err: VelletError) -> web.Response:
    headers = None
    if isinstance(err, TooManyRequests):
        headers = {"Retry-After": str(err.retry_after)}
    status = err.status if 400 <= err.status < 600 else 500
    return problem(status, err.code, err.title, err.detail, headers)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except VelletError as err:
        return from_error(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return problem(
            exc.status,
            code,
            exc.reason,
            exc.text or exc.reason,
            {k: v for k, v in exc.headers.items() if k.lower() in {"allow"}},
        )
    except Exception as err:
        if not dependency_down(err):
            log.exception("unhandled error on %s %s", request.method, request.path)
            return problem(
                500,
                "internal_error",
                "Internal error",
                "an unexpected error occurred; it has been logged",
            )
        # Not a bug: a database or Redis that is down or restarting. The
        # detail names no host, address or credential.
        log.warning("%s %s: dependency down: %s", request.method, request.path,
                    type(err).__name__)  # fmt: skip
        return problem(
            503,
            "unavailable",
            "Service unavailable",
            "a database or queue the service needs is not reachable; retry shortly "
            "(with the same Idempotency-Key for a transfer)",
            {"Retry-After": "1"},
        )


async def json_body(request: web.Request) -> dict[str, Any]:
    """Read a JSON object body; refuse anything else with a 400 problem."""
    if request.content_type != "application/json":
        raise InvalidRequest("the body must be JSON (Content-Type: application/json)")
    raw = await request.read()  # over the body limit: 413, mapped by the middleware
    try:
        data = jsontext.loads(raw)
    except jsontext.TooDeep:
        raise InvalidRequest("the body is not valid JSON: nested too deeply") from None
    except ValueError:  # UnicodeDecodeError is one
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    return data


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)

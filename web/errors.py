"""Maps the error hierarchy to HTTP statuses and answer-socket close codes, in one place."""

from __future__ import annotations

import contextlib
import logging
import math

from quart import Quart, current_app, has_request_context, jsonify, request
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from core import kafka
from core.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    PdfchatError,
    TooManyRequests,
    Unauthenticated,
    UnsupportedMedia,
)
from llm.errors import BudgetExceeded
from retrieval import ProviderError
from storage.availability import is_unavailable as database_unavailable

log = logging.getLogger("pdfchat.web")

# A socket closes with 1000 after the end of the answer, 1013 (try again later) when the fault
# is ours or a dependency's, and 4000 + the HTTP status when the client's request is refused.
CLOSE_NORMAL = 1000
CLOSE_TRY_AGAIN = 1013

# Most specific first: the first matching class wins; anything else is 500 and 1013.
ERRORS: list[tuple[type[PdfchatError], int, int]] = [
    # (error, HTTP status, socket close code)
    (PayloadTooLarge, 413, CLOSE_TRY_AGAIN),
    (UnsupportedMedia, 415, CLOSE_TRY_AGAIN),
    (InvalidInput, 400, 4400),
    (Unauthenticated, 401, 4401),
    (Forbidden, 403, 4403),
    (NotFound, 404, 4404),
    (Conflict, 409, CLOSE_TRY_AGAIN),
    (Gone, 410, 4410),
    (Overloaded, 503, CLOSE_TRY_AGAIN),
    (TooManyRequests, 429, 4429),
    (BudgetExceeded, 402, CLOSE_TRY_AGAIN),
    (ProviderError, 502, CLOSE_TRY_AGAIN),
]
# A dependency (Postgres, Kafka) is down or restarting: the client should come back shortly.
UNAVAILABLE_RETRY_AFTER_S = 2


def http_status(exc: PdfchatError) -> int:
    return next((status for cls, status, _ in ERRORS if isinstance(exc, cls)), 500)


def close_code(exc: PdfchatError) -> int:
    return next((code for cls, _, code in ERRORS if isinstance(exc, cls)), CLOSE_TRY_AGAIN)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


async def _drain_body() -> None:
    """Read what is left of the request body before answering early (401, 403, ...): a server
    that answers while the client is still sending resets the connection under it. The body is
    bounded by MAX_CONTENT_LENGTH."""
    if has_request_context() and request.method in ("POST", "PUT", "PATCH"):
        with contextlib.suppress(Exception):
            await request.get_data()


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(PdfchatError)
    async def on_pdfchat_error(exc: PdfchatError) -> ResponseReturnValue:
        status = http_status(exc)
        await _drain_body()
        if status >= 500:
            log.exception("request failed", exc_info=exc)
        response = jsonify(error_body(exc.code, exc.message))
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return response, status

    @app.errorhandler(HTTPException)
    async def on_http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error_body(code, exc.description or exc.name)), exc.code or 500

    @app.errorhandler(Exception)
    async def on_unexpected(exc: Exception) -> ResponseReturnValue:
        if database_unavailable(exc) or kafka.is_unavailable(exc):
            log.warning("a dependency is unavailable", extra={"error": repr(exc)})
            if database_unavailable(exc) and "pool" in current_app.extensions:
                # Postgres restarted: every idle connection is dead, not just this one.
                await current_app.extensions["pool"].expire_connections()
            body = error_body("unavailable", "the service is briefly unavailable; retry shortly")
            return jsonify(body), 503, {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
        log.exception("unexpected error", exc_info=exc)
        return jsonify(error_body("internal", "internal error; see the server log")), 500

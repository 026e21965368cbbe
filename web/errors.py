"""Maps the error hierarchy to HTTP responses, in one place."""

from __future__ import annotations

import contextlib
import logging

from quart import Quart, current_app, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

from core import kafka
from core.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PdfchatError,
    Unauthenticated,
    UnsupportedMedia,
)
from llm.errors import BudgetExceeded
from retrieval import ProviderError
from storage.availability import is_unavailable as database_unavailable

log = logging.getLogger("pdfchat.web")

# Most specific first: the first matching class wins.
HTTP_STATUS: list[tuple[type[PdfchatError], int]] = [
    (PayloadTooLarge, 413),
    (UnsupportedMedia, 415),
    (InvalidInput, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Gone, 410),
    (BudgetExceeded, 402),
    (ProviderError, 502),
]
# A dependency (Postgres, Kafka) is down or restarting: the client should come back shortly.
UNAVAILABLE_RETRY_AFTER_S = 2


def http_status(exc: PdfchatError) -> int:
    return next((status for cls, status in HTTP_STATUS if isinstance(exc, cls)), 500)


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
    async def on_pdfchat_error(exc: PdfchatError):
        status = http_status(exc)
        await _drain_body()
        if status >= 500:
            log.exception("request failed", exc_info=exc)
        response = jsonify(error_body(exc.code, exc.message))
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response, status

    @app.errorhandler(HTTPException)
    async def on_http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error_body(code, exc.description or exc.name)), exc.code

    @app.errorhandler(Exception)
    async def on_unexpected(exc: Exception):
        if database_unavailable(exc) or kafka.is_unavailable(exc):
            log.warning("a dependency is unavailable", extra={"error": repr(exc)})
            if database_unavailable(exc) and "pool" in current_app.extensions:
                # Postgres restarted: every idle connection is dead, not just this one.
                await current_app.extensions["pool"].expire_connections()
            body = error_body("unavailable", "the service is briefly unavailable; retry shortly")
            return jsonify(body), 503, {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
        log.exception("unexpected error", exc_info=exc)
        return jsonify(error_body("internal", "internal error; see the server log")), 500

"""Request ids, a server span per request and socket, and the HTTP metrics of a Quart app.

``instrument(app)`` wraps the app's ASGI callable in two layers and adds two hooks:

    HTTP metrics           pdfchat_http_requests_total{route,method,status} and
                           pdfchat_http_request_duration_seconds{route,method}, the whole
                           exchange timed; ``route`` is the URL rule ("/v1/documents/<id>"),
                           never the raw path, so the label set stays small
    OpenTelemetryMiddleware one SERVER span per HTTP request and per WebSocket (continuing a
                           caller's ``traceparent``); none for /metrics, /healthz, /readyz
    before request/socket  the request id (``X-Request-ID`` or a new one) into
                           ``core.logging.request_id``; the span named by the route, with the
                           request id as an attribute
    after request          ``X-Request-ID`` echoed on the response
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from quart import Quart, Response, request, websocket

from core.logging import request_id
from core.metrics import HTTP_DURATION, HTTP_REQUESTS

# Requests to these paths get no span (probes and scrapes would drown the real traffic).
UNTRACED = ("/metrics", "/healthz", "/readyz")
# The route label of a request no URL rule matched (404, 405): one value for all of them.
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUEST_ID_ATTRIBUTE = "pdfchat.request_id"
# A caller's X-Request-ID is kept when it looks like an id: it goes into log lines, spans and
# the headers of every Kafka record the call makes, where subscribers read it. Anything else
# (too long, spaces, control characters) is replaced by one of ours, echoed in the response.
CALLER_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# Where the matched URL rule travels from the request hook out to the metrics layer.
_ROUTE_KEY = "pdfchat.route"


def instrument(app: Quart) -> Quart:
    traced = OpenTelemetryMiddleware(
        app.asgi_app,
        excluded_urls=",".join(f"{path}$" for path in UNTRACED),
        default_span_details=_span_details,
        # Not a span per message: a streamed answer sends hundreds.
        exclude_spans=["receive", "send"],
    )
    # Quart's documented way to wrap its ASGI callable; the wrapper's types are plain dicts.
    app.asgi_app = _HttpMetrics(traced)  # type: ignore[method-assign, assignment]
    app.before_request(_before_request)
    app.before_websocket(_before_websocket)
    app.after_request(_echo_request_id)
    return app


def route_of(rule: Any) -> str:
    return rule.rule if rule is not None else UNMATCHED


async def _before_request() -> None:
    _enter(request.headers.get("X-Request-ID"), request.method, request.url_rule, request.scope)


async def _before_websocket() -> None:
    _enter(websocket.headers.get("X-Request-ID"), "WS", websocket.url_rule, websocket.scope)


def _enter(given: str | None, method: str, rule: Any, scope: Any) -> None:
    """``scope`` is the ASGI scope: a TypedDict to Quart, a dict we add our key to."""
    rid = given if given and CALLER_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    request_id.set(rid)
    route = route_of(rule)
    scope[_ROUTE_KEY] = route
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}" if rule is not None else method)
        span.set_attribute(REQUEST_ID_ATTRIBUTE, rid)
        if rule is not None:
            span.set_attribute("http.route", route)


async def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id.get() or ""
    return response


def _span_details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The span's name until the route is known: the method alone, never the raw path."""
    if scope["type"] == "websocket":
        return "WS", {}
    method = scope.get("method", "HTTP")
    return (method if method in METHODS else "HTTP"), {}


class _HttpMetrics:
    """Counts and times every HTTP exchange, from the first byte in to the last byte out."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        cancelled = False
        try:
            await self.app(scope, receive, send_and_note)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            method = scope.get("method", "")
            method = method if method in METHODS else "OTHER"
            route = scope.get(_ROUTE_KEY, UNMATCHED)
            # No response at all: the client went away (499, as nginx counts it) or it failed.
            code = str(status) if status is not None else ("499" if cancelled else "500")
            HTTP_REQUESTS.labels(route, method, code).inc()
            HTTP_DURATION.labels(route, method).observe(time.perf_counter() - started)

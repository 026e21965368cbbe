"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response, current_app

from storage import outbox

blueprint = Blueprint("health", __name__)

CHECK_TIMEOUT_S = 2.0


@blueprint.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@blueprint.get("/readyz")
async def readyz() -> tuple[dict[str, Any], int]:
    checks = {"database": await _check(_database), "kafka": await _check(_kafka),
              "answer_streams": await _check(_answer_streams)}  # fmt: skip
    ready = all(c["ok"] for c in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


@blueprint.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


async def _check(probe) -> dict[str, Any]:
    try:
        detail = await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
        return {"ok": True, **detail}
    except Exception as exc:  # a readiness probe reports failures rather than raising them
        return {"ok": False, "error": str(exc) or type(exc).__name__}


async def _database() -> dict[str, Any]:
    async with current_app.extensions["pool"].acquire() as conn:
        waiting, age = await outbox.backlog(conn)
    return {"outbox_backlog": waiting, "outbox_oldest_s": round(age, 3)}


async def _kafka() -> dict[str, Any]:
    settings = current_app.extensions["settings"]
    _, writer = await asyncio.open_connection(settings.kafka_host, settings.kafka_port)
    writer.close()
    await writer.wait_closed()
    return {"bootstrap": settings.kafka_bootstrap}


async def _answer_streams() -> dict[str, Any]:
    if not current_app.extensions["streams"].caught_up.is_set():
        raise RuntimeError("still replaying the answers topic")
    return {}

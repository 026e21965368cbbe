"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response

from storage import outbox, workers
from web import resources

blueprint = Blueprint("health", __name__)

CHECK_TIMEOUT_S = 2.0


@blueprint.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@blueprint.get("/readyz")
async def readyz() -> tuple[dict[str, Any], int]:
    checks = {
        "database": await _check(_database),
        "kafka": await _check(_kafka),
        "answer_streams": await _check(_answer_streams),
        "workers": await _check(_workers),
    }
    ready = all(c["ok"] for c in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


@blueprint.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


async def _check(probe: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    try:
        detail = await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
        return {"ok": True, **detail}
    except Exception as exc:  # a readiness probe reports failures rather than raising them
        return {"ok": False, "error": str(exc) or type(exc).__name__}


async def _database() -> dict[str, Any]:
    async with resources.pool().acquire() as conn:
        waiting, age = await outbox.backlog(conn)
    return {"outbox_backlog": waiting, "outbox_oldest_s": round(age, 3)}


async def _workers() -> dict[str, Any]:
    """Every agent any worker ran lately still runs in a worker that beats, and none of them
    has held one event for too long: otherwise documents or answers stall, silently."""
    settings = resources.settings()
    seen = await workers.seen(resources.pool())
    if not seen:
        raise RuntimeError("no worker has started yet")
    live = [w for w in seen if w.seen_s_ago <= settings.worker_missing_after_s]
    missing = sorted({a for w in seen for a in w.agents} - {a for w in live for a in w.agents})
    stuck = [
        f"{w.id}: {agent} on one event for {age:.0f} s"
        for w in live
        for agent, age in w.busy.items()
        if age > settings.event_stuck_after_s
    ]
    gone = [f"{w.id} (last seen {w.seen_s_ago:.0f} s ago)" for w in seen if w not in live]
    if missing or stuck:
        problems = (
            [f"no live worker runs {', '.join(missing)}; gone: {', '.join(gone)}"]
            if missing
            else []
        ) + stuck
        raise RuntimeError("; ".join(problems))
    return {"live": [w.id for w in live]}


async def _kafka() -> dict[str, Any]:
    """Ready while enough brokers answer to take acknowledged writes (min.insync.replicas), or,
    with fewer bootstrap addresses than that (a cluster behind one service name), all of
    them."""
    settings = resources.settings()
    addresses = settings.kafka_addresses
    answering = [a for a in addresses if await _answers(*a)]
    needed = min(settings.min_insync_replicas, len(addresses))
    if len(answering) < needed:
        raise RuntimeError(
            f"{len(answering)} of {len(addresses)} Kafka bootstrap addresses answer;"
            f" writes need {needed}"
        )
    return {"bootstrap": settings.kafka_bootstrap, "brokers_answering": len(answering)}


async def _answers(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=2)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def _answer_streams() -> dict[str, Any]:
    if not resources.streams().caught_up.is_set():
        raise RuntimeError("still replaying the answers topic")
    return {}

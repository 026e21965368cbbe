"""The worker's own HTTP endpoints (health, Prometheus metrics) and its heartbeat.

The heartbeat row in Postgres (storage.workers) is how the web tier's /readyz tells that a
worker is missing (no beat lately) or stuck (one event holding an agent for too long).
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime

from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents import runner
from agents.app import app, settings
from agents.resources import WORKER_ID, resources
from storage import workers

log = logging.getLogger("pdfchat.agents.health")

STARTED_AT = datetime.now(UTC)
NAME = settings.worker_instance_id or WORKER_ID


@app.page("/healthz")
async def healthz(self: web.View, request: web.Request) -> web.Response:
    return self.json(
        {
            "status": "ok",
            "worker": app.conf.id,
            "role": settings.worker_role,
            "agents": sorted(app.agents),
        }
    )


# aiohttp (under Faust's web server) refuses a charset inside the content type: the text format
# is UTF-8 by definition, so the rest of the standard type says it all.
_CONTENT_TYPE = "; ".join(p for p in CONTENT_TYPE_LATEST.split("; ") if not p.startswith("charset"))


@app.page("/metrics")
async def metrics(self: web.View, request: web.Request) -> web.Response:
    return self.bytes(generate_latest(), content_type=_CONTENT_TYPE)


@app.task
async def beat() -> None:
    """Rows stay after a worker stops: its agents are still expected, and /readyz says so
    until another worker runs them (the maintenance sweep forgets workers gone for a day)."""
    deps = await resources()
    while True:
        try:
            await workers.heartbeat(
                deps.pool,
                worker_id=NAME,
                role=settings.worker_role,
                agents=sorted(app.agents),
                pid=os.getpid(),
                started_at=STARTED_AT,
                busy=runner.busy(longer_than_s=settings.worker_heartbeat_s),
            )
        except Exception as exc:  # the beat stops while Postgres is away, not the worker
            log.warning("heartbeat not written", extra={"error": str(exc)})
        await asyncio.sleep(settings.worker_heartbeat_s)

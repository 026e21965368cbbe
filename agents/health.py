"""The worker's own HTTP endpoints: health and Prometheus metrics."""

from __future__ import annotations

from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.app import app, settings


@app.page("/healthz")
async def healthz(self: web.View, request: web.Request) -> web.Response:
    return self.json({"status": "ok", "worker": app.conf.id, "role": settings.worker_role,
                      "agents": sorted(app.agents)})  # fmt: skip


@app.page("/metrics")
async def metrics(self: web.View, request: web.Request) -> web.Response:
    return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST)

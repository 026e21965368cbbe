"""The worker's live view of feature flags (core/flags.py), on its web page: what this process
decides now, for operators and tests (`GET /flags/` on the worker's port)."""

from __future__ import annotations

from faust import web

from agents.app import app
from agents.resources import resources


@app.page("/flags/")
async def live_flags(self: web.View, request: web.Request) -> web.Response:
    view = (await resources()).flags
    return self.json(
        {
            "caught_up": view.caught_up.is_set(),
            "flags": [
                {
                    "tenant": f.tenant_id,
                    "service": f.service,
                    "name": f.name,
                    "enabled": f.enabled,
                    "rollout_percent": f.rollout_percent,
                    "value": f.value,
                    "updated_at": f.updated_at.isoformat(),
                    "updated_by": f.updated_by,
                }
                for f in view.snapshot()
            ],
        }
    )

"""Audit agent: every audit event onto its tenant's hash chain in PostgreSQL.

One tenant's events share a partition (keyed by tenant), so they reach one agent in order and
the chain is a line; a redelivered event is recognised by its id and chained once.
"""

from __future__ import annotations

import asyncpg
import faust

import topics
from agents import runner
from agents.app import app
from agents.channels import audit
from agents.resources import resources
from workflows import audit as trail


@app.agent(audit)
async def record(events: faust.StreamT[topics.AuditEvent]) -> None:
    deps = await resources()
    await runner.run("audit", events, lambda event: _append(deps.pool, event))


async def _append(pool: asyncpg.Pool, event: topics.AuditEvent) -> None:
    await trail.append(pool, event)  # False for a redelivered event: chained already

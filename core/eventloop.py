"""The event loop of the worker and web processes."""

from __future__ import annotations

import asyncio

import uvloop


def use_uvloop() -> None:
    """Run asyncio on uvloop (libuv) in this process. Both processes spend much of their CPU
    in the event loop's own work per message: the web writes one WebSocket message per token
    of every answer it relays, the worker reads and writes Kafka and PostgreSQL for each.
    uvloop does that work in C (docs/benchmarks.md, "uvloop").

    Call it before anything creates a loop: ``asyncio.run`` and Faust's worker then get one of
    uvloop's."""
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

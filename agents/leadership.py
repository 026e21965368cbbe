"""Duties one worker performs for all (relaying the outbox, maintenance), each under a lock.

Every worker runs every duty's task; the one holding the duty's lock performs it and the
others wait on the lock, taking over as soon as the leader's database session ends. Losing
the database or the broker costs the leader its duty for a moment, never the worker its life.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

import storage
from agents import runner
from agents.app import settings
from storage.leadership import Duty, become_leader

log = logging.getLogger("pdfchat.agents.leadership")

RECONNECT_S = 1.0

Work = Callable[[asyncpg.Connection], Awaitable[None]]


async def lead_forever(duty: Duty, work: Work) -> None:
    """Wait to lead ``duty``, then do ``work`` with the session that holds its lock."""
    while True:
        try:
            conn = await storage.connect(settings.dsn)
            try:
                await become_leader(conn, duty)
                log.info("this worker now leads", extra={"duty": duty})
                await work(conn)
            finally:
                await conn.close(timeout=RECONNECT_S)
        except Exception as exc:
            if not runner.is_outage(exc) and not isinstance(exc, asyncpg.PostgresError):
                log.exception("a duty failed; starting over", extra={"duty": duty})
            else:
                log.warning(
                    "a duty lost its connection; reconnecting",
                    extra={"duty": duty, "error": str(exc)},
                )
            await asyncio.sleep(RECONNECT_S)

"""One leader per duty across every worker, on Postgres advisory locks.

A session that holds a duty's lock is its leader until the session ends (a crash or a lost
connection frees the lock at once), and the others wait on the lock to take over.
"""

from __future__ import annotations

from typing import Literal

import asyncpg

from storage.locks import Lock

Duty = Literal["relay", "maintenance"]

_LOCKS: dict[Duty, Lock] = {"relay": Lock.RELAY, "maintenance": Lock.MAINTENANCE}


async def become_leader(conn: asyncpg.Connection, duty: Duty) -> None:
    """Wait until this session leads ``duty``."""
    await conn.execute("SELECT pg_advisory_lock($1)", int(_LOCKS[duty]))

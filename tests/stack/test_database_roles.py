"""The stack's processes connect to PostgreSQL as their least-privilege roles
(storage/roles.py), never as the owner."""

from __future__ import annotations

import asyncpg
import psutil

from cli.stack import Stack
from config import Settings
from tests.waiting import wait_until


async def _users_of(db: asyncpg.Pool, settings: Settings, pid: int) -> set[str]:
    """The database users of the connections process ``pid`` holds to PostgreSQL. Only those:
    Linux gives one local port to connections with different peers, so the port of the
    process's connection to Kafka may be another process's port to PostgreSQL."""
    ports = [
        c.laddr.port
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == settings.postgres_port
    ]
    rows = await db.fetch(
        "SELECT usename FROM pg_stat_activity WHERE client_port = ANY($1::int[])", ports
    )
    return {r["usename"] for r in rows}


async def test_web_and_workers_connect_as_their_roles(
    stack: Stack, settings: Settings, db: asyncpg.Pool
) -> None:
    for name, role in (("web", "web"), ("worker-1", "worker")):
        pid = stack.pid(name)
        assert pid is not None, name

        async def connected(pid: int = pid) -> bool:
            return bool(await _users_of(db, settings, pid))

        await wait_until(connected, within_s=30)
        assert await _users_of(db, settings, pid) == {settings.database_role_name(role)}, name

"""Connection pool and schema migrations."""

from __future__ import annotations

import json
import logging
from importlib import resources

import asyncpg
from pgvector.asyncpg import register_vector

from config import Settings
from storage import roles
from storage.locks import Lock
from storage.search import HNSW_EF_SEARCH

log = logging.getLogger("pdfchat.storage")


# jsonb's binary wire format is a version byte (1) and the JSON text. Binary, so that COPY
# (which asyncpg always does in binary) can write jsonb columns too.
_JSONB_VERSION = b"\x01"


def _encode_jsonb(value: object) -> bytes:
    return _JSONB_VERSION + json.dumps(value).encode()


def _decode_jsonb(data: bytes) -> object:
    return json.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )


async def _init_pool_connection(conn: asyncpg.Connection) -> None:
    await _init_connection(conn)
    # Needs the vector extension, which the first migration creates: pools open after it.
    await register_vector(conn)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection's reset, instead of asyncpg's ``RESET ALL; UNLISTEN *; CLOSE
    ALL; pg_advisory_unlock_all()``: one more round trip on every release, 4 % of the worker's
    CPU under chat load. Nothing here leaves session state on a pooled connection: settings
    are ``SET LOCAL``, advisory locks on pooled connections are released in ``finally``
    (leaders hold theirs on connections of their own), and nothing LISTENs or opens cursors
    outside a transaction (tests/storage/test_pool.py keeps it so). asyncpg still rolls back
    a transaction left open."""


# Settings every session starts with, sent with the connection itself (no round trip):
# - HNSW searches use this ef_search (storage/search.py), without a transaction and SET LOCAL;
# - no parallel workers. Our queries are short and many run at once; PostgreSQL started two
#   workers (3.4 ms) for the vector search's exact branch at 100k vectors even when that branch
#   was not going to run, and a worker per query only takes CPU from the other queries.
_SERVER_SETTINGS = {
    "hnsw.ef_search": str(HNSW_EF_SEARCH),
    "max_parallel_workers_per_gather": "0",
}


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_pool_connection,
        reset=_keep_session,
        server_settings=_SERVER_SETTINGS,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection, for long-lived listeners and one-off scripts."""
    conn = await asyncpg.connect(dsn, server_settings=_SERVER_SETTINGS)
    await _init_connection(conn)
    return conn


def _migrations() -> list[tuple[str, str]]:
    folder = resources.files("storage") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


async def migrate_database(settings: Settings) -> None:
    """`pdfchat up`'s, `pdfchat migrate`'s and the test stack's preparation step, as the owner:
    the schema up to date, then the database roles and their grants (storage/roles.py)."""
    conn = await connect(settings.owner_dsn)
    try:
        await _lock_migrations(conn)
        # Before any migration runs as the owner: nothing the worker could have planted.
        await roles.check_nothing_planted(conn, settings)
        await _apply_migrations(conn)
        await roles.apply(conn, settings)
    finally:
        await conn.close()


async def migrate(dsn: str) -> list[str]:
    """Apply pending migrations in order; returns the names applied. The schema only: no
    roles (see migrate_database)."""
    conn = await connect(dsn)
    try:
        await _lock_migrations(conn)
        return await _apply_migrations(conn)
    finally:
        await conn.close()


async def _lock_migrations(conn: asyncpg.Connection) -> None:
    """One migrator at a time, until the connection closes."""
    await conn.execute("SELECT pg_advisory_lock($1)", int(Lock.MIGRATION))


async def _apply_migrations(conn: asyncpg.Connection) -> list[str]:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
    applied = []
    for name, sql in _migrations():
        if name in done:
            continue
        async with conn.transaction():
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
        log.info("applied migration", extra={"migration": name})
        applied.append(name)
    return applied

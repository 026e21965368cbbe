"""The audit trail in PostgreSQL: one hash chain per tenant.

Each event's ``hash`` is the SHA-256 of the previous event's hash and the event's canonical
JSON (sorted keys, no spaces), the first one chained to ``GENESIS``. Only the audit agent
appends (one tenant's events reach it in order, from one partition), so the chain is a line.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    tenant_id: str
    seq: int
    audit_id: uuid.UUID
    at: datetime
    actor: str
    action: str
    target: str
    detail: Mapping[str, Any] | None
    request_id: str | None
    prev_hash: str
    hash: str

    def canonical(self) -> str:
        """What the hash covers: everything but the hashes themselves."""
        return json.dumps(
            {
                "tenant_id": self.tenant_id,
                "seq": self.seq,
                "audit_id": str(self.audit_id),
                "at": self.at.astimezone(UTC).isoformat(),
                "actor": self.actor,
                "action": self.action,
                "target": self.target,
                "detail": self.detail,
                "request_id": self.request_id,
            },
            sort_keys=True,
            separators=(",", ":"),
        )


def chained(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


async def append(
    conn: asyncpg.Connection,
    *,
    tenant_id: str,
    audit_id: uuid.UUID,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    detail: Mapping[str, Any] | None,
    request_id: str | None,
) -> bool:
    """Chain the event to the tenant's trail; False if it is there already (redelivered)."""
    async with conn.transaction():
        if await conn.fetchval("SELECT 1 FROM audit_log WHERE audit_id = $1", audit_id):
            return False
        last = await conn.fetchrow(
            "SELECT seq, hash FROM audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1",
            tenant_id,
        )
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
        entry = Entry(
            tenant_id, seq, audit_id, at, actor, action, target, detail, request_id, prev, ""
        )
        await conn.execute(
            "INSERT INTO audit_log (tenant_id, seq, audit_id, at, actor, action, target, detail,"
            " request_id, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            tenant_id,
            seq,
            audit_id,
            at,
            actor,
            action,
            target,
            detail,
            request_id,
            prev,
            chained(prev, entry.canonical()),
        )
    return True


async def entries(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> list[Entry]:
    rows = await conn.fetch(
        """
        SELECT * FROM audit_log
        WHERE tenant_id = $1 AND seq > $2
          AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR action = $4)
          AND ($5::timestamptz IS NULL OR at >= $5)
        ORDER BY seq LIMIT $6
        """,
        tenant_id,
        after_seq,
        actor,
        action,
        since,
        limit,
    )
    return [_entry(r) for r in rows]


async def tenants(conn: asyncpg.Connection | asyncpg.Pool) -> list[str]:
    return [r["tenant_id"] for r in await conn.fetch("SELECT DISTINCT tenant_id FROM audit_log")]


def _entry(row: asyncpg.Record) -> Entry:
    return Entry(
        row["tenant_id"],
        row["seq"],
        row["audit_id"],
        row["at"],
        row["actor"],
        row["action"],
        row["target"],
        row["detail"],
        row["request_id"],
        row["prev_hash"],
        row["hash"],
    )


@dataclass(frozen=True)
class Archive:
    tenant_id: str
    day: date
    first_seq: int
    last_seq: int
    last_hash: str
    sha256: str
    blob_key: str


async def archived(conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str) -> list[Archive]:
    rows = await conn.fetch(
        "SELECT tenant_id, day, first_seq, last_seq, last_hash, sha256, blob_key"
        " FROM audit_archives WHERE tenant_id = $1 ORDER BY first_seq",
        tenant_id,
    )
    return [Archive(**dict(r)) for r in rows]


async def unarchived_before(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, before: datetime
) -> list[Entry]:
    """The events after the tenant's last archive, in order, up to the first one at or after
    ``before`` (an archive is a run of consecutive events)."""
    rows = await conn.fetch(
        """
        SELECT * FROM audit_log
        WHERE tenant_id = $1
          AND seq > coalesce((SELECT max(last_seq) FROM audit_archives WHERE tenant_id = $1), 0)
        ORDER BY seq
        """,
        tenant_id,
    )
    run: list[Entry] = []
    for row in rows:
        if row["at"] >= before:
            break
        run.append(_entry(row))
    return run


async def save_archive(conn: asyncpg.Connection | asyncpg.Pool, archive: Archive) -> None:
    await conn.execute(
        "INSERT INTO audit_archives (tenant_id, day, first_seq, last_seq, last_hash, sha256,"
        " blob_key) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        archive.tenant_id,
        archive.day,
        archive.first_seq,
        archive.last_seq,
        archive.last_hash,
        archive.sha256,
        archive.blob_key,
    )

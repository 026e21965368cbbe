"""The audit trail: acts recorded with the change that makes them, archived, and checked.

``recorded`` gives the outbox message of an act; callers enqueue it in the transaction of
the act itself (storage/outbox.py), so the trail holds exactly the acts that committed. The
audit agent appends each to its tenant's hash chain (storage/audit.py). Once a UTC day is
over, ``archive`` writes each tenant's events up to it to the blob store (JSON lines, with
their hashes) and records the file's SHA-256. ``verify`` walks the chain and compares it with
the archives (``pdfchat audit verify``; ``verify_all``, the maintenance leader's, every few
hours, with an alert on what it finds): an event changed, removed or inserted in the table is
found, even when the intruder rewrote the hashes after it consistently, as long as its day
was archived.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg

import topics
from core.errors import TransientError
from core.logging import request_id
from storage import audit, outbox
from storage.audit import GENESIS, Archive, Entry, chained
from storage.blobs import BlobStore, audit_archive_key
from storage.outbox import OutboxMessage

VERIFY_BATCH = 1000


def recorded(
    tenant_id: str, actor: str, action: str, target: str, detail: Mapping[str, Any] | None = None
) -> OutboxMessage:
    event = topics.AuditEvent(
        tenant_id=tenant_id,
        audit_id=str(uuid.uuid4()),
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        target=target,
        detail=json.dumps(detail, sort_keys=True) if detail is not None else None,
        request_id=request_id.get(),
    )
    return OutboxMessage.of(topics.AUDIT, event)


async def record_now(pool: asyncpg.Pool, message: OutboxMessage) -> None:
    """An act with no transaction of its own to ride in (a refused token)."""
    async with pool.acquire() as conn:
        await outbox.enqueue(conn, [message])


async def append(pool: asyncpg.Pool, event: topics.AuditEvent) -> bool:
    async with pool.acquire() as conn:
        return await audit.append(
            conn,
            tenant_id=event.tenant_id,
            audit_id=uuid.UUID(event.audit_id),
            at=event.at,
            actor=event.actor,
            action=event.action,
            target=event.target,
            detail=json.loads(event.detail) if event.detail else None,
            request_id=event.request_id,
        )


@dataclass(frozen=True)
class Verdict:
    tenant_id: str
    entries: int
    problems: list[str]


async def archive(pool: asyncpg.Pool, store: BlobStore, now: datetime | None = None) -> int:
    """Archive every tenant's events before today (UTC) not archived yet; returns how many
    archives were written. A file is written before its row, so a row always has its file."""
    today = datetime.combine((now or datetime.now(UTC)).date(), time(), tzinfo=UTC)
    written = 0
    for tenant_id in await audit.tenants(pool):
        run = await audit.unarchived_before(pool, tenant_id, today)
        if not run:
            continue
        day = (today - timedelta(days=1)).date()
        data = "".join(_line(entry) + "\n" for entry in run).encode()
        key = audit_archive_key(tenant_id, day.isoformat())
        await store.put(key, data)
        digest = hashlib.sha256(data).hexdigest()
        last = run[-1]
        await audit.save_archive(
            pool, Archive(tenant_id, day, run[0].seq, last.seq, last.hash, digest, key)
        )
        written += 1
    return written


def _line(entry: Entry) -> str:
    return json.dumps(
        {**json.loads(entry.canonical()), "prev_hash": entry.prev_hash, "hash": entry.hash},
        sort_keys=True,
        separators=(",", ":"),
    )


async def verify(pool: asyncpg.Pool, tenant_id: str, store: BlobStore | None = None) -> Verdict:
    """Walk the tenant's chain: every event's hash must follow from the one before and from its
    own content, and the numbers must run without a gap; with ``store``, every archive must be
    intact and every archived event in the table exactly as archived."""
    problems, count = await _chain_problems(pool, tenant_id)
    if store is not None:
        for archive in await audit.archived(pool, tenant_id):
            problems += await _archive_problems(pool, archive, store)
    return Verdict(tenant_id, count, problems)


async def verify_all(pool: asyncpg.Pool, store: BlobStore) -> list[Verdict]:
    """Every tenant's chain and archives (the maintenance leader, every few hours)."""
    return [await verify(pool, tenant_id, store) for tenant_id in await audit.tenants(pool)]


async def _archive_problems(pool: asyncpg.Pool, archive: Archive, store: BlobStore) -> list[str]:
    name = f"the archive of {archive.day}"
    try:
        data = await store.get(archive.blob_key)
    except TransientError:
        return [f"{name} is missing from the blob store"]
    if hashlib.sha256(data).hexdigest() != archive.sha256:
        return [f"{name} was changed"]
    span = archive.last_seq - archive.first_seq + 1
    rows = await audit.entries(pool, archive.tenant_id, after_seq=archive.first_seq - 1, limit=span)
    table = {e.seq: _line(e) for e in rows if e.seq <= archive.last_seq}
    problems = []
    for line in data.decode().splitlines():
        seq = json.loads(line)["seq"]
        if seq not in table:
            problems.append(f"event {seq} was removed (it is in {name})")
        elif table[seq] != line:
            problems.append(f"event {seq} differs from {name}")
    return problems


async def _chain_problems(pool: asyncpg.Pool, tenant_id: str) -> tuple[list[str], int]:
    problems: list[str] = []
    prev, expected_seq, count = GENESIS, 1, 0
    while batch := await audit.entries(
        pool, tenant_id, after_seq=expected_seq - 1, limit=VERIFY_BATCH
    ):
        for entry in batch:
            count += 1
            if entry.seq != expected_seq:
                problems.append(f"events {expected_seq}..{entry.seq - 1} are missing")
            if entry.prev_hash != prev:
                problems.append(f"event {entry.seq} does not follow the one before it")
            if chained(entry.prev_hash, entry.canonical()) != entry.hash:
                problems.append(f"event {entry.seq} ({entry.action}) was changed")
            prev, expected_seq = entry.hash, entry.seq + 1
    return problems, count

"""The audit trail: acts recorded with the change that makes them, and the chain checked.

``recorded`` gives the outbox message of an act; callers enqueue it in the transaction of
the act itself (storage/outbox.py), so the trail holds exactly the acts that committed. The
audit agent appends each to its tenant's hash chain (storage/audit.py); ``verify`` walks it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

import topics
from core.logging import request_id
from storage import audit
from storage.audit import GENESIS, chained
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


async def verify(pool: asyncpg.Pool, tenant_id: str) -> Verdict:
    """Walk the tenant's chain: every event's hash must follow from the one before and from its
    own content, and the numbers must run without a gap."""
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
    return Verdict(tenant_id, count, problems)

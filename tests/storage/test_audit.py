"""The audit trail's hash chain (storage.audit, workflows.audit.verify) on PostgreSQL alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from storage import audit
from workflows.audit import verify


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def _append(pg, tenant: str, n: int, audit_id: uuid.UUID | None = None) -> bool:
    async with pg.acquire() as conn:
        return await audit.append(
            conn,
            tenant_id=tenant,
            audit_id=audit_id or uuid.uuid4(),
            at=datetime.now(UTC),
            actor="alice",
            action="document.deleted",
            target=f"doc-{n}",
            detail={"filename": f"{n}.pdf"},
            request_id=f"r-{n}",
        )


async def test_events_chain_in_order_and_a_redelivered_one_is_chained_once(pg, tenant):
    twice = uuid.uuid4()
    assert await _append(pg, tenant, 1, twice)
    assert not await _append(pg, tenant, 1, twice)
    for n in (2, 3):
        await _append(pg, tenant, n)
    entries = await audit.entries(pg, tenant)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == audit.GENESIS
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert (await verify(pg, tenant)).problems == []
    assert (await verify(pg, tenant)).entries == 3


@pytest.mark.parametrize(
    ("tampering", "found"),
    [
        (
            'UPDATE audit_log SET detail = \'{"filename": "other.pdf"}\' WHERE seq = 2',
            "event 2 (document.deleted) was changed",
        ),
        (
            "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
            "event 1 (document.deleted) was changed",
        ),
        ("DELETE FROM audit_log WHERE seq = 2", "events 2..2 are missing"),
        (
            "UPDATE audit_log SET at = at - interval '1 day' WHERE seq = 3",
            "event 3 (document.deleted) was changed",
        ),
    ],
)
async def test_a_changed_or_missing_event_breaks_the_chain(pg, tenant, tampering, found):
    for n in (1, 2, 3, 4):
        await _append(pg, tenant, n)
    await pg.execute(f"{tampering} AND tenant_id = $1", tenant)
    assert found in (await verify(pg, tenant)).problems


async def test_an_event_rewritten_with_a_fresh_hash_still_breaks_the_next(pg, tenant):
    """A forger who recomputes the changed event's own hash cannot fix the chain after it."""
    for n in (1, 2, 3):
        await _append(pg, tenant, n)
    (second,) = [e for e in await audit.entries(pg, tenant) if e.seq == 2]
    forged = type(second)(**{**second.__dict__, "actor": "mallory"})
    await pg.execute(
        "UPDATE audit_log SET actor = 'mallory', hash = $2 WHERE tenant_id = $1 AND seq = 2",
        tenant,
        audit.chained(second.prev_hash, forged.canonical()),
    )
    assert (await verify(pg, tenant)).problems == ["event 3 does not follow the one before it"]

"""The audit trail's hash chain (storage.audit, workflows.audit.verify) on PostgreSQL alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from storage import audit
from storage.blobs import FilesystemBlobStore
from workflows.audit import archive, verify, verify_all


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


async def _append_at(pg, tenant: str, n: int, at: datetime) -> None:
    async with pg.acquire() as conn:
        await audit.append(
            conn,
            tenant_id=tenant,
            audit_id=uuid.uuid4(),
            at=at,
            actor="alice",
            action="document.deleted",
            target=f"doc-{n}",
            detail=None,
            request_id=None,
        )


async def _rewrite_chain(pg, tenant: str) -> None:
    """What a careful intruder does after deleting a row: renumber and re-hash the rest."""
    prev = audit.GENESIS
    for new_seq, entry in enumerate(await audit.entries(pg, tenant, limit=1000), start=1):
        moved = type(entry)(**{**entry.__dict__, "seq": new_seq, "prev_hash": prev})
        digest = audit.chained(prev, moved.canonical())
        await pg.execute(
            "UPDATE audit_log SET seq = $3, prev_hash = $4, hash = $5"
            " WHERE tenant_id = $1 AND seq = $2",
            tenant,
            entry.seq,
            new_seq,
            prev,
            digest,
        )
        prev = digest


async def test_finished_days_are_archived_once_and_checked(pg, tenant, tmp_path):
    store = FilesystemBlobStore(tmp_path)
    today = datetime.now(UTC)
    for n in (1, 2, 3):
        await _append_at(pg, tenant, n, today - timedelta(days=1))
    await _append_at(pg, tenant, 4, today)  # today's: not archived yet
    assert await archive(pg, store, today) >= 1
    assert await archive(pg, store, today) == 0
    (written,) = await audit.archived(pg, tenant)
    assert (written.first_seq, written.last_seq) == (1, 3)
    assert (await verify(pg, tenant, store)).problems == []

    await pg.execute("DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 2", tenant)
    await _rewrite_chain(pg, tenant)
    verdict = await verify(pg, tenant, store)
    assert "event 2 differs from the archive of" in " ".join(verdict.problems)
    assert not [p for p in verdict.problems if "does not follow" in p or "was changed" in p]


async def test_a_changed_or_missing_archive_is_found(pg, tenant, tmp_path):
    store = FilesystemBlobStore(tmp_path)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    await _append_at(pg, tenant, 1, yesterday)
    await archive(pg, store)
    (written,) = await audit.archived(pg, tenant)
    path = tmp_path / written.blob_key
    path.write_text(path.read_text().replace("alice", "bob__"))
    assert (await verify(pg, tenant, store)).problems == [
        f"the archive of {written.day} was changed"
    ]
    path.unlink()
    assert (await verify(pg, tenant, store)).problems == [
        f"the archive of {written.day} is missing from the blob store"
    ]


async def test_the_leaders_check_walks_every_tenant_and_names_the_damaged_one(pg, tmp_path):
    """verify_all, run by the maintenance leader every few hours: one verdict per tenant, the
    damaged tenant's with its problems, the others' clean (the metric and the alert
    AuditTrailDamaged are set from these)."""
    intact, damaged = f"t-{uuid.uuid4().hex[:12]}", f"t-{uuid.uuid4().hex[:12]}"
    for tenant in (intact, damaged):
        for n in (1, 2, 3):
            await _append(pg, tenant, n)
    await pg.execute("DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 2", damaged)
    verdicts = {v.tenant_id: v for v in await verify_all(pg, FilesystemBlobStore(tmp_path))}
    assert verdicts[intact].problems == [] and verdicts[intact].entries == 3
    assert "events 2..2 are missing" in verdicts[damaged].problems

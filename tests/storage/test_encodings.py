"""The re-ranker's stored encodings: written a batch at a time after ready, read for a search's
candidates, each tenant's its own."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from storage import encodings
from tests.rows import new_document

ENCODER = "test-encoder"


async def _document(pg, tenant: str, segments: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    doc_id = await new_document(pg, tenant)
    ids = [uuid.uuid4() for _ in range(segments)]
    await pg.executemany(
        "INSERT INTO segments (id, tenant_id, doc_id, seq, page, content)"
        " VALUES ($1, $2, $3, $4, 1, $5)",
        [(sid, tenant, doc_id, seq, f"segment {seq}") for seq, sid in enumerate(ids)],
    )
    return doc_id, ids


def _unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return vector / np.linalg.norm(vector)


async def test_a_document_is_encoded_batch_by_batch_in_reading_order(pg):
    tenant = f"enc-{uuid.uuid4().hex[:8]}"
    doc_id, ids = await _document(pg, tenant, 5)

    first = await encodings.unencoded(pg, tenant, doc_id, ENCODER, limit=3)
    assert [r["id"] for r in first] == ids[:3]
    assert [r["content"] for r in first] == ["segment 0", "segment 1", "segment 2"]
    stored = await encodings.save(
        pg, tenant, doc_id, ENCODER, [(i, _unit(n)) for n, i in enumerate(ids[:3])]
    )
    assert stored == 3
    assert [
        r["id"] for r in await encodings.unencoded(pg, tenant, doc_id, ENCODER, limit=3)
    ] == ids[3:]
    assert await encodings.count(pg, tenant, doc_id, ENCODER) == 3
    # Stored again (an event handled twice): nothing changes.
    assert await encodings.save(pg, tenant, doc_id, ENCODER, [(ids[0], _unit(9))]) == 0
    # Another encoder has encoded nothing yet.
    assert len(await encodings.unencoded(pg, tenant, doc_id, "other", limit=10)) == 5

    found = await encodings.of(pg, tenant, ENCODER, ids)
    assert set(found) == set(ids[:3])
    for n, sid in enumerate(ids[:3]):
        assert found[sid].dtype == np.float32
        assert found[sid] == pytest.approx(_unit(n), abs=1e-6)


async def test_encodings_are_the_tenants_own(pg):
    base = f"enc-{uuid.uuid4().hex[:8]}"
    mine, theirs = f"{base}-a", f"{base}-b"
    doc, _ = await _document(pg, mine, 2)
    foreign, foreign_ids = await _document(pg, theirs, 2)
    await encodings.save(pg, theirs, foreign, ENCODER, [(i, _unit(1)) for i in foreign_ids])

    # Another tenant's segments are neither read, nor written under my name.
    assert await encodings.of(pg, mine, ENCODER, foreign_ids) == {}
    assert await encodings.save(pg, mine, foreign, ENCODER, [(foreign_ids[0], _unit(2))]) == 0
    assert await encodings.save(pg, mine, doc, ENCODER, [(foreign_ids[1], _unit(2))]) == 0
    assert await encodings.unencoded(pg, mine, foreign, ENCODER, limit=5) == []
    assert await encodings.count(pg, mine, foreign, ENCODER) == 0
    assert len(await encodings.unencoded(pg, mine, doc, ENCODER, limit=5)) == 2


async def test_a_deleted_document_is_not_encoded_and_takes_its_encodings_along(pg):
    tenant = f"enc-{uuid.uuid4().hex[:8]}"
    doc_id, ids = await _document(pg, tenant, 3)
    await encodings.save(pg, tenant, doc_id, ENCODER, [(ids[0], _unit(0))])
    await pg.execute("DELETE FROM documents WHERE id = $1", doc_id)

    assert await encodings.unencoded(pg, tenant, doc_id, ENCODER, limit=5) == []
    assert await encodings.save(pg, tenant, doc_id, ENCODER, [(ids[1], _unit(1))]) == 0
    assert await encodings.of(pg, tenant, ENCODER, ids) == {}

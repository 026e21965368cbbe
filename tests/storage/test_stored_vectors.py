"""What a search reads of the stored vectors: the documents each model covers for a tenant
(counted by stepping through the index), and the candidates' vectors for the re-ranker."""

from __future__ import annotations

import uuid

import numpy as np

from storage import embeddings
from tests.rows import new_document

DIMENSION = 3


async def _document(pg, tenant: str, segments: int) -> uuid.UUID:
    doc_id = await new_document(pg, tenant)
    await pg.executemany(
        "INSERT INTO segments (id, tenant_id, doc_id, seq, page, content)"
        " VALUES ($1, $2, $3, $4, 1, 'text')",
        [(uuid.uuid4(), tenant, doc_id, seq) for seq in range(segments)],
    )
    return doc_id


async def _vectors(pg, tenant: str, model: str, doc_id: uuid.UUID) -> None:
    """A vector of ``model`` for each segment of the document."""
    async with pg.acquire() as conn, conn.transaction():
        await embeddings.register_model(conn, model, DIMENSION)
        ids = [
            r["id"] for r in await conn.fetch("SELECT id FROM segments WHERE doc_id = $1", doc_id)
        ]
        await embeddings.replace_for_document(
            conn, tenant, doc_id, model, [(sid, [1.0, 0.0, 0.0]) for sid in ids]
        )


async def _counted_plainly(pg, tenant: str) -> dict[str, int]:
    rows = await pg.fetch(
        "SELECT model, count(DISTINCT doc_id) AS n FROM segment_embeddings"
        " WHERE tenant_id = $1 GROUP BY model",
        tenant,
    )
    return {r["model"]: r["n"] for r in rows}


async def test_documents_per_model_of_one_tenant_only(pg):
    base = f"cover-{uuid.uuid4().hex[:8]}"
    # Neighbours in the index on both sides: "<base>", "<base>-a" and "<base>0" sort together.
    tenant, before, after = f"{base}-a", base, f"{base}0"
    old, new = f"test:old-{base}", f"test:new-{base}"
    for neighbour in (before, after):
        await _vectors(pg, neighbour, old, await _document(pg, neighbour, 3))
    documents = [await _document(pg, tenant, 4) for _ in range(5)]
    for doc_id in documents:
        await _vectors(pg, tenant, old, doc_id)
    for doc_id in documents[:2]:  # a switch to another model under way
        await _vectors(pg, tenant, new, doc_id)

    assert await embeddings.models_covering(pg, tenant) == {old: 5, new: 2}
    assert await embeddings.models_covering(pg, tenant) == await _counted_plainly(pg, tenant)
    assert await embeddings.models_covering(pg, before) == {old: 1}
    assert await embeddings.models_covering(pg, after) == {old: 1}
    assert await embeddings.models_covering(pg, f"{base}-none") == {}


async def test_stored_vectors_are_read_for_the_tenant_and_model_only(pg):
    """What the re-ranker reads instead of embedding the candidates again."""
    base = f"vectors-{uuid.uuid4().hex[:8]}"
    mine, other = f"{base}-a", f"{base}-b"
    model, another = f"test:one-{base}", f"test:two-{base}"
    doc, foreign = await _document(pg, mine, 3), await _document(pg, other, 2)
    await _vectors(pg, mine, model, doc)
    await _vectors(pg, other, model, foreign)
    ids = [r["id"] for r in await pg.fetch("SELECT id FROM segments WHERE doc_id = $1", doc)]
    theirs = [r["id"] for r in await pg.fetch("SELECT id FROM segments WHERE doc_id = $1", foreign)]

    found = await embeddings.vectors_of(pg, mine, model, [*ids, *theirs])
    assert set(found) == set(ids)
    assert all(v.dtype == np.float32 and v.tolist() == [1.0, 0.0, 0.0] for v in found.values())
    assert await embeddings.vectors_of(pg, mine, another, ids) == {}
    assert await embeddings.vectors_of(pg, mine, model, []) == {}

"""The per-model HNSW index is built once a model has enough vectors, and search then uses
it with the same answers as the exact scan."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

import pdfgen
from storage import embeddings, search
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

DIMENSION = 8


async def test_index_is_built_past_the_threshold_and_answers_like_an_exact_scan(
    api, tenant, db, monkeypatch
):
    client = api(tenant)
    document_id = (await client.upload(pdfgen.sample_pdf(4, seed=61), "a.pdf"))["document_id"]
    async with asyncio.timeout(90):
        await client.wait_for([document_id])
    segment_ids = [
        r["id"]
        for r in await db.fetch("SELECT id FROM segments WHERE doc_id = $1", uuid.UUID(document_id))
    ]
    model = f"test:random-{uuid.uuid4().hex[:8]}"
    rng = random.Random(7)
    vectors = [(sid, [rng.uniform(-1, 1) for _ in range(DIMENSION)]) for sid in segment_ids]
    query = [rng.uniform(-1, 1) for _ in range(DIMENSION)]

    async with db.acquire() as conn:
        async with conn.transaction():
            # Only the test model's vectors: were the configured model's vectors still there,
            # the relay's sweep would purge the test model's as those of a replaced model.
            await conn.execute(
                "DELETE FROM segment_embeddings WHERE doc_id = $1", uuid.UUID(document_id)
            )
            await embeddings.register_model(conn, model, DIMENSION)
            await embeddings.replace_for_document(
                conn, tenant, uuid.UUID(document_id), model, vectors
            )
        async with conn.transaction():
            exact = await search.nearest(
                conn, tenant, model=model, dimension=DIMENSION, query=query, limit=3
            )
            assert await _index_scans(conn, model) is None  # no index yet
        assert not await embeddings.has_index(conn, model)
        assert not await embeddings.ensure_index(conn, model, DIMENSION)  # below the threshold

        monkeypatch.setattr(embeddings, "INDEX_MIN_ROWS", len(vectors) - 1)
        monkeypatch.setattr(search, "INDEX_MIN_ROWS", len(vectors) - 1)
        analysed_before = await _last_analyze(conn)
        assert await embeddings.ensure_index(conn, model, DIMENSION)
        assert await embeddings.has_index(conn, model)
        # The planner has statistics at once: it needs them to choose the new index.
        await wait_until(lambda: _analysed_since(conn, analysed_before), within_s=10, poll=0.05)
        async with conn.transaction():
            # A scope this small is cheaper to scan or sort than to search in the index, and
            # the planner chooses so depending on what other tests left in the table: this
            # checks that the query can use the index.
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute("SET LOCAL enable_sort = off")
            indexed = await search.nearest(
                conn, tenant, model=model, dimension=DIMENSION, query=query, limit=3
            )
            assert await _index_scans(conn, model) == 1  # the index answered, not a scan
        # Set as every pooled session starts (storage/db.py): no transaction per search, and
        # no parallel workers started for a branch that does not run.
        assert await conn.fetchval("SHOW hnsw.ef_search") == str(search.HNSW_EF_SEARCH)
        assert await conn.fetchval("SHOW max_parallel_workers_per_gather") == "0"
    assert [h.segment_id for h in indexed] == [h.segment_id for h in exact]
    assert len(exact) == 3


async def _index_scans(conn, model: str) -> int | None:
    """Scans of the model's HNSW index in this transaction (None: there is no index)."""
    return await conn.fetchval(
        "SELECT pg_stat_get_xact_numscans(to_regclass($1))",
        embeddings.index_name(model),
    )


async def _last_analyze(conn):
    return await conn.fetchval(
        "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'segment_embeddings'"
    )


async def _analysed_since(conn, before) -> bool:
    after = await _last_analyze(conn)
    return after is not None and (before is None or after > before)

"""The re-ranker's stored encodings: written a batch at a time after ready, read for a search's
candidates, each tenant's its own."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from storage import embeddings, encodings, requests, topic_maps
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


async def test_a_finished_document_is_recorded_once_and_only_if_it_exists(pg):
    tenant = f"enc-{uuid.uuid4().hex[:8]}"
    doc_id, _ = await _document(pg, tenant, 1)
    await encodings.finish(pg, tenant, doc_id, ENCODER)
    await encodings.finish(pg, tenant, doc_id, ENCODER)  # handled twice: still one row
    await encodings.finish(pg, f"{tenant}-other", doc_id, ENCODER)  # not theirs: nothing
    await encodings.finish(pg, tenant, uuid.uuid4(), ENCODER)  # gone: nothing
    rows = await pg.fetch(
        "SELECT doc_id, tenant_id FROM encoded_documents WHERE tenant_id LIKE $1", f"{tenant}%"
    )
    assert [(r["doc_id"], r["tenant_id"]) for r in rows] == [(doc_id, tenant)]


async def test_a_deleted_document_is_not_encoded_and_takes_its_encodings_along(pg):
    tenant = f"enc-{uuid.uuid4().hex[:8]}"
    doc_id, ids = await _document(pg, tenant, 3)
    await encodings.save(pg, tenant, doc_id, ENCODER, [(ids[0], _unit(0))])
    await pg.execute("DELETE FROM documents WHERE id = $1", doc_id)

    assert await encodings.unencoded(pg, tenant, doc_id, ENCODER, limit=5) == []
    assert await encodings.save(pg, tenant, doc_id, ENCODER, [(ids[1], _unit(1))]) == 0
    assert await encodings.of(pg, tenant, ENCODER, ids) == {}


async def _ready_document(pg, tenant: str, segments: int, idle_s: float) -> uuid.UUID:
    doc_id, _ = await _document(pg, tenant, segments)
    async with pg.acquire() as conn:
        await embeddings.register_model(conn, "test:enc", 3)
    await pg.execute(
        "UPDATE documents SET status = 'ready', embedding_model = 'test:enc', segment_count = $2,"
        " updated_at = now() - make_interval(secs => $3) WHERE id = $1",
        doc_id,
        segments,
        idle_s,
    )
    return doc_id


async def _take(pg, *, max_requests: int = 3) -> list:
    async with pg.acquire() as conn, conn.transaction():
        return await encodings.take_unencoded(
            conn, ENCODER, older_than_s=30, max_requests=max_requests, limit=1000
        )


async def test_ready_documents_not_wholly_encoded_are_asked_for_once_a_lease(pg):
    tenant = f"enc-{uuid.uuid4().hex[:8]}"
    partly = await _ready_document(pg, tenant, 2, idle_s=60)
    whole = await _ready_document(pg, tenant, 1, idle_s=60)
    fresh = await _ready_document(pg, tenant, 1, idle_s=0)  # its encode agent is at work
    await encodings.save(pg, tenant, partly, ENCODER, [(await _first(pg, partly), _unit(0))])
    await encodings.save(pg, tenant, whole, ENCODER, [(await _first(pg, whole), _unit(1))])
    await encodings.finish(pg, tenant, whole, ENCODER)  # its encode agent found nothing left

    # A worker is at work on it: encoded a moment ago, so not asked for.
    assert partly not in {r["id"] for r in await _take(pg)}
    await pg.execute(
        "UPDATE segment_encodings SET encoded_at = now() - interval '1 minute' WHERE doc_id = $1",
        partly,
    )
    due = [r for r in await _take(pg) if r["tenant_id"] == tenant]
    assert [r["id"] for r in due] == [partly]
    assert (due[0]["model"], due[0]["dimension"], due[0]["segments"]) == ("test:enc", 3, 2)
    assert [r for r in await _take(pg) if r["tenant_id"] == tenant] == []  # asked this lease
    assert fresh not in {r["id"] for r in await _take(pg)}

    # A lease later it is asked again, until it was asked max_requests times.
    await pg.execute(
        "UPDATE encoding_requests SET requested_at = now() - interval '1 minute' WHERE doc_id = $1",
        partly,
    )
    assert [r["id"] for r in await _take(pg) if r["tenant_id"] == tenant] == [partly]
    await pg.execute(
        "UPDATE encoding_requests SET requested_at = now() - interval '1 minute' WHERE doc_id = $1",
        partly,
    )
    assert [r for r in await _take(pg, max_requests=2) if r["tenant_id"] == tenant] == []


async def _first(pg, doc_id: uuid.UUID) -> uuid.UUID:
    return await pg.fetchval("SELECT id FROM segments WHERE doc_id = $1 ORDER BY seq", doc_id)


async def _asked(pg, table: str, doc_id: uuid.UUID, attempts: int, ago_s: float) -> None:
    """As the sweep records its requests (``take_unencoded``, ``take_missing``), for this
    document alone: a sweep here would ask for other tests' documents too."""
    await pg.execute(
        f"INSERT INTO {table} (doc_id, tenant_id, attempts, requested_at)"
        " SELECT id, tenant_id, $2, now() - make_interval(secs => $3) FROM documents"
        " WHERE id = $1 ON CONFLICT (doc_id) DO UPDATE"
        " SET attempts = EXCLUDED.attempts, requested_at = EXCLUDED.requested_at",
        doc_id,
        attempts,
        ago_s,
    )


async def test_a_document_asked_for_in_vain_every_time_is_counted_as_given_up(pg):
    """pdfchat_documents_given_up{work="encodings"}: the sweep asks no more, so an operator must."""
    tenant = f"enc-{uuid.uuid4().hex[:8]}"

    async def given_up() -> int:
        return await encodings.given_up(pg, max_requests=2, older_than_s=30)

    before = await given_up()
    doc_id = await _ready_document(pg, tenant, 1, idle_s=60)
    await _asked(pg, "encoding_requests", doc_id, attempts=1, ago_s=60)
    assert await given_up() == before  # it will be asked again
    await _asked(pg, "encoding_requests", doc_id, attempts=2, ago_s=0)
    assert await given_up() == before  # asked a moment ago, the last time: it may be encoded
    await _asked(pg, "encoding_requests", doc_id, attempts=2, ago_s=60)
    assert await given_up() == before + 1
    await encodings.finish(pg, tenant, doc_id, ENCODER)  # encoded after all (a redelivery)
    assert await given_up() == before


async def test_a_document_never_mapped_though_asked_is_counted_as_given_up(pg):
    """pdfchat_documents_given_up{work="topic_maps"}, the topic maps' side of the same sweep."""
    tenant = f"map-{uuid.uuid4().hex[:8]}"

    async def given_up() -> int:
        return await topic_maps.given_up(pg, version=2, max_requests=2, older_than_s=30)

    before = await given_up()
    doc_id = await _ready_document(pg, tenant, 1, idle_s=60)
    await _asked(pg, "topic_map_requests", doc_id, attempts=2, ago_s=60)
    assert await given_up() == before + 1
    # A map of an older version than the guide's is no map.
    await pg.execute(
        "INSERT INTO document_topic_maps (doc_id, tenant_id, model, topic_map)"
        " VALUES ($1, $2, 'test:enc', '{\"version\": 1}')",
        doc_id,
        tenant,
    )
    assert await given_up() == before + 1
    await topic_maps.save(pg, tenant, doc_id, "test:enc", {"version": 2, "topics": []})
    assert await given_up() == before


async def test_ready_documents_without_a_current_map_are_asked_for_once_a_lease(pg):
    """The topic maps' side of the sweep (``topic_maps.take_missing``)."""
    tenant = f"map-{uuid.uuid4().hex[:8]}"
    unmapped = await _ready_document(pg, tenant, 1, idle_s=60)
    mapped = await _ready_document(pg, tenant, 1, idle_s=60)
    await topic_maps.save(pg, tenant, mapped, "test:enc", {"version": 2, "topics": []})

    async def taken(version: int = 2) -> set[uuid.UUID]:
        async with pg.acquire() as conn, conn.transaction():
            due = await topic_maps.take_missing(
                conn, version=version, older_than_s=30, max_requests=3, limit=1000
            )
        return {r["id"] for r in due if r["tenant_id"] == tenant}

    assert await taken() == {unmapped}
    assert await taken() == set()  # asked this lease
    assert await taken(version=3) == {mapped}  # a map older than the guide's version


async def test_only_the_request_tables_are_named_in_the_sweeps_sql(pg):
    with pytest.raises(ValueError, match="not a request table"):
        await requests.given_up(pg, "documents", "true", [], max_requests=1, older_than_s=1)

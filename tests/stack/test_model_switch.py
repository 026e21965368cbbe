"""A model switch: documents embedded with another model are queued again, and search keeps
answering from the model that covers the tenant's documents until the new one covers them."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from retrieval import LOCAL_MODEL
from storage import documents, embeddings
from tests import pdf_factory
from tests.waiting import wait_until
from workflows.embedding import schedule_reembedding
from workflows.search import search_model

pytestmark = pytest.mark.stack

OTHER = "test:other-4"


async def _ready_documents(api, tenant: str, seeds: list[int]) -> list[str]:
    client = api(tenant)
    ids = [(await client.upload(pdf_factory.sample_pdf(2, seed=s), f"{s}.pdf"))["document_id"]
           for s in seeds]  # fmt: skip
    async with asyncio.timeout(90):
        views = await client.wait_for(ids)
    assert {v["status"] for v in views.values()} == {"ready"}
    return ids


async def _add_vectors(db, tenant: str, document_id: str) -> None:
    rng = random.Random(document_id)
    rows = await db.fetch("SELECT id FROM segments WHERE doc_id = $1", uuid.UUID(document_id))
    async with db.acquire() as conn, conn.transaction():
        await embeddings.register_model(conn, OTHER, 4)
        await embeddings.replace_for_document(
            conn, tenant, uuid.UUID(document_id), OTHER,
            [(r["id"], [rng.uniform(-1, 1) for _ in range(4)]) for r in rows],
        )  # fmt: skip


async def test_search_keeps_the_old_model_until_the_new_one_covers_the_tenant(api, tenant, db):
    first, second = await _ready_documents(api, tenant, [71, 72])
    assert await search_model(db, tenant, LOCAL_MODEL) == LOCAL_MODEL
    # The configured model is now OTHER, with vectors for one document of two so far.
    await _add_vectors(db, tenant, first)
    assert await search_model(db, tenant, OTHER) == LOCAL_MODEL
    await _add_vectors(db, tenant, second)
    assert await search_model(db, tenant, OTHER) == OTHER
    assert await search_model(db, f"{tenant}-empty", OTHER) is None


async def test_documents_of_another_model_are_embedded_again_and_stay_ready(
    api, tenant, db, settings
):
    (document_id,) = await _ready_documents(api, tenant, [73])
    # Pretend the document was embedded with a model the stack is no longer configured for.
    await db.execute("UPDATE documents SET embedding_model = $2 WHERE id = $1",
                     uuid.UUID(document_id), OTHER)  # fmt: skip
    client = api(tenant)

    async def embedded_again() -> bool:
        await schedule_reembedding(db, LOCAL_MODEL)  # as the relay leader's sweep does
        view = await client.document(document_id)
        assert view["status"] == "ready"  # searchable throughout
        return [h["status"] for h in view["history"]].count("ready") == 2

    await wait_until(embedded_again, within_s=60)
    model = await db.fetchval("SELECT embedding_model FROM documents WHERE id = $1",
                              uuid.UUID(document_id))  # fmt: skip
    assert model == LOCAL_MODEL
    async with db.acquire() as conn:
        pending = await documents.embedded_with_other_model(conn, LOCAL_MODEL, limit=10_000)
    assert document_id not in {str(d.id) for d in pending}

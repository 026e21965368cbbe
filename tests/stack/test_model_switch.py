"""A model switch: documents embedded with another model are queued again, search keeps
answering from the model that covers the tenant's documents until the new one covers them, and
then the old model's vectors (and, once none are left, its index) are purged."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
import pytest
from pydantic import SecretStr

import pdfgen
from retrieval import LOCAL_MODEL
from storage import documents, embeddings
from tests.retrieval.fake_apis import API_KEY, FakeAPIs
from tests.stack.restart import apps_with
from tests.waiting import wait_until
from workflows.embedding import purge_replaced, schedule_reembedding
from workflows.search import search_model

pytestmark = pytest.mark.stack

OTHER = "test:other-4"


async def _ready_documents(api, tenant: str, seeds: list[int]) -> list[str]:
    client = api(tenant)
    ids = [
        (await client.upload(pdfgen.sample_pdf(2, seed=s), f"{s}.pdf"))["document_id"]
        for s in seeds
    ]
    async with asyncio.timeout(90):
        views = await client.wait_for(ids)
    assert {v["status"] for v in views.values()} == {"ready"}
    return ids


async def _add_vectors(db, tenant: str, document_id: str, model: str = OTHER) -> None:
    rng = random.Random(document_id)
    rows = await db.fetch("SELECT id FROM segments WHERE doc_id = $1", uuid.UUID(document_id))
    async with db.acquire() as conn, conn.transaction():
        await embeddings.register_model(conn, model, 4)
        await embeddings.replace_for_document(
            conn,
            tenant,
            uuid.UUID(document_id),
            model,
            [(r["id"], [rng.uniform(-1, 1) for _ in range(4)]) for r in rows],
        )


async def _drop_local_vectors(db, document_id: str) -> list[tuple]:
    """The configured model no longer covers the document; returns its vectors, to put back."""
    rows = await db.fetch(
        "DELETE FROM segment_embeddings WHERE doc_id = $1 AND model = $2"
        " RETURNING segment_id, embedding",
        uuid.UUID(document_id),
        LOCAL_MODEL,
    )
    assert rows
    return [(r["segment_id"], r["embedding"].to_list()) for r in rows]


async def _vectors(db, tenant: str, model: str) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM segment_embeddings WHERE tenant_id = $1 AND model = $2",
        tenant,
        model,
    )


async def test_search_keeps_the_old_model_until_the_new_one_covers_the_tenant(api, tenant, db):
    first, second = await _ready_documents(api, tenant, [71, 72])
    assert await search_model(db, tenant, LOCAL_MODEL) == LOCAL_MODEL
    # This tenant was embedded with "test:a" (not the stack's model, whose vectors would make
    # the relay's sweep purge the test models' as replaced ones); "test:b" is now configured,
    # with vectors for one document of two so far.
    for document_id in (first, second):
        await _drop_local_vectors(db, document_id)
        await _add_vectors(db, tenant, document_id, "test:a")
    await _add_vectors(db, tenant, first, "test:b")
    assert await search_model(db, tenant, "test:b") == "test:a"
    await _add_vectors(db, tenant, second, "test:b")
    assert await search_model(db, tenant, "test:b") == "test:b"
    assert await search_model(db, f"{tenant}-empty", "test:b") is None


async def test_documents_of_another_model_are_embedded_again_and_stay_ready(
    api, tenant, db, settings
):
    (document_id,) = await _ready_documents(api, tenant, [73])
    # Pretend the document was embedded with a model the stack is no longer configured for.
    await db.execute(
        "UPDATE documents SET embedding_model = $2 WHERE id = $1", uuid.UUID(document_id), OTHER
    )
    client = api(tenant)

    async def embedded_again() -> bool:
        await schedule_reembedding(db, LOCAL_MODEL)  # as the relay leader's sweep does
        view = await client.document(document_id)
        assert view["status"] == "ready"  # searchable throughout
        return [h["status"] for h in view["history"]].count("ready") == 2

    await wait_until(embedded_again, within_s=60)
    model = await db.fetchval(
        "SELECT embedding_model FROM documents WHERE id = $1", uuid.UUID(document_id)
    )
    assert model == LOCAL_MODEL
    async with db.acquire() as conn:
        pending = await documents.embedded_with_other_model(conn, LOCAL_MODEL, limit=10_000)
    assert document_id not in {str(d.id) for d in pending}


async def test_a_replaced_model_is_purged_only_once_covered_then_its_index_dropped(
    api, tenant, db, monkeypatch
):
    first, second = await _ready_documents(api, tenant, [77, 78])
    old = f"test:old-{uuid.uuid4().hex[:8]}"
    # Half-way through a switch from `old` to the stack's model: it covers one document of two.
    put_back = await _drop_local_vectors(db, second)
    for document_id in (first, second):
        await _add_vectors(db, tenant, document_id, old)
    monkeypatch.setattr(embeddings, "INDEX_MIN_ROWS", 0)
    async with db.acquire() as conn:
        assert await embeddings.ensure_index(conn, old, 4)

    await purge_replaced(db, LOCAL_MODEL)  # what the relay's sweep runs every 2 s
    assert await _vectors(db, tenant, old) > 0  # search still needs them
    assert await embeddings.has_index(db, old)

    async with db.acquire() as conn, conn.transaction():
        await embeddings.replace_for_document(
            conn, tenant, uuid.UUID(second), LOCAL_MODEL, put_back
        )

    async def forgotten() -> bool:
        # The sweep's last step: it drops the index, then forgets the model.
        return old not in await embeddings.other_models(db, LOCAL_MODEL)

    await wait_until(forgotten, within_s=30)  # the relay's sweep, on its own
    assert not await embeddings.has_index(db, old)
    assert await _vectors(db, tenant, old) == 0
    assert await _vectors(db, tenant, LOCAL_MODEL) > 0


# --- a switch between two real providers ------------------------------------------------------


async def _vector_search(settings, token: str, query: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=settings.web_url, timeout=30) as http:
        response = await http.post(
            "/v1/search",
            json={"query": query, "mode": "vector"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    return response.json()["results"]


async def test_switching_providers_re_embeds_answers_throughout_then_purges(
    stack, settings, api, tenant, token, db
):
    ids = await _ready_documents(api, tenant, [74, 75, 76])  # model A: the local provider
    assert await _vectors(db, tenant, LOCAL_MODEL) > 0
    query = "Who kept a diary of the weather?"
    with FakeAPIs() as fake:
        switched = settings.model_copy(
            update={
                "embedding_provider": "openai",
                "embedding_model": "fake-embed",
                "openai_api_key": SecretStr(API_KEY),
                "openai_base_url": f"{fake.url}/v1",
            }
        )
        new = "openai:fake-embed"  # model B: an OpenAI-compatible server
        with apps_with(stack, switched):
            answers: list[int] = []

            async def switched_over() -> bool:
                answers.append(len(await _vector_search(settings, token(tenant), query)))
                assert answers[-1] > 0  # search answers from A, then B: never empty
                return await _vectors(db, tenant, LOCAL_MODEL) == 0

            # Every document of every tenant is re-embedded: give the backlog of the
            # session's earlier tests time.
            await wait_until(switched_over, within_s=240, poll=0.5)
            assert await _vectors(db, tenant, new) > 0
            models = await db.fetch(
                "SELECT embedding_model FROM documents WHERE id = ANY($1)",
                [uuid.UUID(d) for d in ids],
            )
            assert {r["embedding_model"] for r in models} == {new}
            assert len(await _vector_search(settings, token(tenant), query)) > 0
            embedded = [c.body["input"] for c in fake.calls("/v1/embeddings")]
            assert [query] in embedded  # the query was embedded by B
            assert len(answers) > 1
        # Back to the local provider: the documents return to A, and B is retired in turn.
        await wait_until(lambda: _vectors(db, tenant, LOCAL_MODEL), within_s=240, poll=0.5)

        async def b_retired() -> bool:
            return new not in await embeddings.other_models(db, LOCAL_MODEL)

        await wait_until(b_retired, within_s=240, poll=0.5)

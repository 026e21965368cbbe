"""The re-ranker's encodings on the real stack: made after a document is ready, shown on its
view, read by searches, gone with the document."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import pdfgen
from cli.client import ApiError
from config import Settings
from core.processes import LOWEST_PRIORITY
from llm.local import MIN_MEANING
from retrieval.encoder import ENCODER, load_encoder
from storage import encodings
from storage.search import Hit
from tests.stack.processes import background
from tests.waiting import wait_until
from workflows.search import meanings

pytestmark = pytest.mark.stack

HANDBOOK = [
    [
        ("h1", "Getting around"),
        ("p", "Bicycles go in the shed behind the canteen. The shed is locked at night."),
    ],
    [
        ("h1", "Food"),
        ("p", "The canteen serves lunch from noon until two. Coffee is free all day."),
    ],
    [
        ("h1", "Holidays"),
        ("p", "Each employee has thirty days of paid leave a year, booked with the team lead."),
    ],
]


async def test_a_ready_document_is_encoded_and_searched_with_its_encodings(api, tenant, db):
    client = api(tenant)
    document_id = (await client.upload(pdfgen.text_pdf(HANDBOOK), "handbook.pdf"))["document_id"]
    async with asyncio.timeout(120):
        views = await client.wait_for([document_id])
        assert views[document_id]["status"] == "ready", views
        await client.wait_until_encoded([document_id])
    view = await client.document(document_id)
    assert view["segments"] >= 1
    assert view["encoded_segments"] == view["segments"]
    stored = await db.fetch(
        "SELECT tenant_id, encoder, vector_dims(encoding) AS dims FROM segment_encodings"
        " WHERE doc_id = $1",
        uuid.UUID(document_id),
    )
    assert len(stored) == view["segments"]
    assert {(r["tenant_id"], r["encoder"], r["dims"]) for r in stored} == {(tenant, ENCODER, 384)}
    # Finished, so the maintenance sweep never asks for it again.
    finished = "SELECT tenant_id FROM encoded_documents WHERE doc_id = $1 AND encoder = $2"
    assert await db.fetchval(finished, uuid.UUID(document_id), ENCODER) == tenant

    question = "Where can I leave my bike?"
    hits = await client.search(question, top_k=3)
    assert hits[0]["page"] == 1 and "shed" in hits[0]["text"]

    # What the orchestrator hands the local model: each passage's closeness in meaning.
    encoder = load_encoder(Settings())
    found = [
        Hit(uuid.UUID(h["segment_id"]), uuid.UUID(h["document_id"]), h["page"], h["text"], None, 0)
        for h in hits
    ]
    meaning = await meanings(db, encoder, tenant, question, found)
    assert set(meaning) == {h.segment_id for h in found}
    assert max(meaning, key=meaning.__getitem__) == found[0].segment_id
    assert meaning[found[0].segment_id] >= MIN_MEANING
    assert await meanings(db, encoder, f"{tenant}-other", question, found) == {}
    assert await meanings(db, encoder, tenant, "自行车停在哪里？", found) == {}
    assert await meanings(db, None, tenant, question, found) == {}

    # Another tenant sees neither the document nor how far it is encoded.
    other = api(f"{tenant}-other")
    with pytest.raises(ApiError) as caught:
        await other.document(document_id)
    assert caught.value.status == 404

    await client.delete(document_id)
    assert await encodings.count(db, tenant, uuid.UUID(document_id), ENCODER) == 0


async def test_a_document_left_unencoded_is_encoded_by_the_sweep_without_a_new_topic_map(
    api, tenant, db
):
    """A document ready before the encoder was installed (here: its encodings removed) is
    asked again by the maintenance sweep; the topic-map agent, which reads the same event,
    keeps the map it has."""
    client = api(tenant)
    document_id = (await client.upload(pdfgen.text_pdf(HANDBOOK), "again.pdf"))["document_id"]
    doc = uuid.UUID(document_id)

    async def mapped_at():
        return await db.fetchval(
            "SELECT created_at FROM document_topic_maps WHERE doc_id = $1", doc
        )

    async with asyncio.timeout(120):
        await client.wait_for([document_id])
        await client.wait_until_encoded([document_id])

    async def mapped() -> bool:
        return await mapped_at() is not None

    await wait_until(mapped, within_s=120)
    first_map = await mapped_at()
    segments = (await client.document(document_id))["segments"]
    # As if it had been ready before the encoder was installed: no encodings, not finished.
    await db.execute("DELETE FROM segment_encodings WHERE doc_id = $1", doc)
    assert await db.execute("DELETE FROM encoded_documents WHERE doc_id = $1", doc) == "DELETE 1"
    assert (await client.document(document_id))["encoded_segments"] == 0

    async with asyncio.timeout(120):
        await client.wait_until_encoded([document_id])
    assert (await client.document(document_id))["encoded_segments"] == segments
    requests = await db.fetchval("SELECT attempts FROM encoding_requests WHERE doc_id = $1", doc)
    assert requests >= 1
    assert await mapped_at() == first_map


async def test_a_killed_background_process_is_replaced_and_its_document_still_encoded(
    stack, api, tenant
):
    """kill -9 of the worker's background process while it encodes (core.processes): the
    worker lives on, a new process takes over, and the sweep asks for the rest."""
    client = api(tenant)
    data = pdfgen.sample_pdf(300, seed=77)  # some seconds of encoding: time to catch it at it
    document_id = (await client.upload(data, "long.pdf"))["document_id"]
    worker = stack.pid("worker-1")

    async def encoding_under_way() -> bool:
        view = await client.document(document_id)
        return 0 < (view.get("encoded_segments") or 0) < view["segments"]

    async with asyncio.timeout(120):
        assert (await client.wait_for([document_id]))[document_id]["status"] == "ready"
    await wait_until(encoding_under_way, within_s=120, poll=0.05)
    (killed,) = background(stack, "worker-1")
    killed.kill()

    async with asyncio.timeout(120):
        await client.wait_until_encoded([document_id])
    view = await client.document(document_id)
    assert view["encoded_segments"] == view["segments"]
    assert stack.pid("worker-1") == worker  # the worker itself never stopped
    (renewed,) = background(stack, "worker-1")
    assert renewed.pid != killed.pid and renewed.nice() == LOWEST_PRIORITY

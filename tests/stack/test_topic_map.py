"""GET /v1/documents/{id}/topics: the topic map the agent computes once a document is ready."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

import pdfgen
from retrieval.topic_map import VERSION
from tests.waiting import wait_until

pytestmark = pytest.mark.stack


async def _topics(settings, token: str, document_id: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        return await http.get(
            f"/v1/documents/{document_id}/topics", headers={"Authorization": f"Bearer {token}"}
        )


async def _ready(api, tenant: str, data: bytes) -> str:
    client = api(tenant)
    document_id = (await client.upload(data, "notes.pdf"))["document_id"]
    async with asyncio.timeout(90):
        await client.wait_for([document_id])
    return document_id


async def _computed(settings, token: str, document_id: str, *, within_s: float = 60) -> dict:
    responses: list[httpx.Response] = []

    async def computed() -> bool:
        responses.append(await _topics(settings, token, document_id))
        assert responses[-1].status_code in (200, 409), responses[-1].text
        return responses[-1].status_code == 200

    await wait_until(computed, within_s=within_s)
    return responses[-1].json()


async def test_a_ready_document_gets_a_two_level_topic_map(settings, token, api, tenant, db):
    document_id = await _ready(api, tenant, pdfgen.sample_pdf(30, seed=81))
    body = await _computed(settings, token(tenant), document_id)
    assert body["document_id"] == document_id
    assert body["topics"], body
    segments = {
        str(r["id"]): r["page"]
        for r in await db.fetch(
            "SELECT id, page FROM segments WHERE doc_id = $1", uuid.UUID(document_id)
        )
    }
    covered = [sid for topic in body["topics"] for sid in topic["segment_ids"]]
    assert sorted(covered) == sorted(segments)  # every segment in exactly one topic
    for topic in body["topics"]:
        assert topic["label"] and topic["summary"]
        assert topic["pages"] == sorted({segments[s] for s in topic["segment_ids"]})
        inner = [sid for sub in topic["subtopics"] for sid in sub["segment_ids"]]
        assert not topic["subtopics"] or sorted(inner) == sorted(topic["segment_ids"])
        for sub in topic["subtopics"]:
            assert sub["label"] and sub["summary"]
            assert sub["pages"] == sorted({segments[s] for s in sub["segment_ids"]})
    assert any(topic["subtopics"] for topic in body["topics"])  # 30 pages: two levels
    first_pages = [topic["pages"][0] for topic in body["topics"]]
    assert first_pages == sorted(first_pages)  # reading order
    for topic in body["topics"]:
        assert topic["label"] in body["overview"]
        assert topic["label"] in body["guide"]
        for sub in topic["subtopics"]:
            assert sub["label"] in body["guide"]
    assert body["version"] == VERSION


async def test_a_missing_or_outdated_map_is_computed_again(settings, token, api, tenant, db):
    """A lost ready event (or an agent that died on it) leaves a ready document without a map;
    a map of an older version lacks the guide. The relay leader's sweep asks again."""
    document_id = await _ready(api, tenant, pdfgen.sample_pdf(3, seed=83))
    first = await _computed(settings, token(tenant), document_id)
    doc = uuid.UUID(document_id)

    assert await db.execute("DELETE FROM document_topic_maps WHERE doc_id = $1", doc) == "DELETE 1"
    again = await _computed(settings, token(tenant), document_id)
    assert again["topics"] == first["topics"]
    assert again["computed_at"] > first["computed_at"]

    # A map from before sub-topics and the guide (version 1).
    await db.execute(
        "UPDATE document_topic_maps SET topic_map = topic_map - 'version' - 'guide'"
        " WHERE doc_id = $1",
        doc,
    )

    async def upgraded() -> bool:
        body = (await _topics(settings, token(tenant), document_id)).json()
        return body["version"] == VERSION and body["guide"] != body["overview"]

    await wait_until(upgraded, within_s=60)


async def test_topics_of_unknown_or_foreign_documents_are_404(settings, token, api, tenant):
    client = api(tenant)
    document_id = (await client.upload(pdfgen.sample_pdf(1, seed=82), "a.pdf"))["document_id"]
    for who, target in ((f"{tenant}-x", document_id), (tenant, str(uuid.uuid4()))):
        response = await _topics(settings, token(who), target)
        assert response.status_code == 404

"""GET /v1/documents/{id}/topics: the topic map the agent computes once a document is ready."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests import pdf_factory
from tests.waiting import wait_until

pytestmark = pytest.mark.stack


async def _topics(settings, token: str, document_id: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        return await http.get(f"/v1/documents/{document_id}/topics",
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip


async def test_a_ready_document_gets_a_topic_map(settings, token, api, tenant, db):
    client = api(tenant)
    document_id = (await client.upload(pdf_factory.sample_pdf(8, seed=81), "notes.pdf"))[
        "document_id"
    ]
    async with asyncio.timeout(90):
        await client.wait_for([document_id])

    responses: list[httpx.Response] = []

    async def computed() -> bool:
        responses.append(await _topics(settings, token(tenant), document_id))
        assert responses[-1].status_code in (200, 409), responses[-1].text
        return responses[-1].status_code == 200

    await wait_until(computed, within_s=60)
    body = responses[-1].json()
    assert body["document_id"] == document_id
    assert body["topics"], body
    segments = {str(r["id"]): r["page"] for r in await db.fetch(
        "SELECT id, page FROM segments WHERE doc_id = $1", uuid.UUID(document_id))}  # fmt: skip
    covered = [sid for topic in body["topics"] for sid in topic["segment_ids"]]
    assert sorted(covered) == sorted(segments)  # every chunk in exactly one topic
    for topic in body["topics"]:
        assert topic["label"] and topic["summary"]
        assert topic["pages"] == sorted({segments[s] for s in topic["segment_ids"]})
    first_pages = [topic["pages"][0] for topic in body["topics"]]
    assert first_pages == sorted(first_pages)  # reading order
    for topic in body["topics"]:
        assert topic["label"] in body["overview"]


async def test_topics_of_unknown_or_foreign_documents_are_404(settings, token, api, tenant):
    client = api(tenant)
    document_id = (await client.upload(pdf_factory.sample_pdf(1, seed=82), "a.pdf"))[
        "document_id"
    ]
    for who, target in ((f"{tenant}-x", document_id), (tenant, str(uuid.uuid4()))):
        response = await _topics(settings, token(who), target)
        assert response.status_code == 404

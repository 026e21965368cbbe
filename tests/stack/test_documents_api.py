"""API v1 documents against the real stack: upload → parse → segments, listing, deletion."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

import pdfgen
from cli.client import ApiError
from pdf import parse_pdf

pytestmark = pytest.mark.stack

PARSE_TIMEOUT_S = 90


async def test_several_pdfs_end_to_end(api, tenant, settings, db):
    client = api(tenant)
    files = {f"doc-{seed}.pdf": pdfgen.sample_pdf(n_pages=3 + seed, seed=seed) for seed in range(3)}
    created = {}
    for name, data in files.items():
        body = await client.upload(data, name)
        assert body["status"] == "queued"
        assert uuid.UUID(body["task_id"])
        created[body["document_id"]] = name

    async with asyncio.timeout(PARSE_TIMEOUT_S):
        views = await client.wait_for(created)

    for document_id, name in created.items():
        view = views[document_id]
        expected = parse_pdf(
            files[name], max_pages=settings.max_pages, segment_chars=settings.segment_chars
        )
        assert view["status"] == "ready", view
        assert view["filename"] == name
        assert view["pages"] == expected.page_count
        assert view["segments"] == len(expected.segments) > 0
        assert view["error"] is None
        history = view["history"]
        assert [h["status"] for h in history] == [
            "queued",
            "parsing",
            "parsed",
            "embedding",
            "ready",
        ]
        assert [h["at"] for h in history] == sorted(h["at"] for h in history)

        rows = await db.fetch(
            "SELECT seq, page, content, meta FROM segments WHERE tenant_id = $1 AND doc_id = $2"
            " ORDER BY seq",
            tenant,
            uuid.UUID(document_id),
        )
        assert [(r["page"], r["content"]) for r in rows] == [
            (c.page, c.text) for c in expected.segments
        ]
        assert [r["meta"]["heading"] for r in rows] == [c.heading for c in expected.segments]
        blob_dir = Path(settings.blob_root) / tenant / document_id
        assert (blob_dir / "original.pdf").read_bytes() == files[name]
        assert (blob_dir / "parse.json").is_file()

    listed = await client.documents()
    assert {d["document_id"] for d in listed} == set(created)


async def test_listing_filters_and_pages(api, tenant):
    client = api(tenant)
    ids = [
        (await client.upload(pdfgen.sample_pdf(1, seed=s), f"{s}.pdf"))["document_id"]
        for s in range(3)
    ]
    async with asyncio.timeout(PARSE_TIMEOUT_S):
        await client.wait_for(ids)
    first = await client.documents(limit=2)
    second = await client.documents(limit=2, offset=2)
    assert len(first) == 2 and len(second) == 1
    assert {d["document_id"] for d in first + second} == set(ids)
    assert len(await client.documents(status="ready")) == 3
    assert await client.documents(status="failed") == []
    for bad in ({"limit": 0}, {"limit": "many"}, {"offset": -1}, {"status": "done"}):
        with pytest.raises(ApiError) as caught:
            await client.documents(**bad)
        assert caught.value.status == 400


async def test_delete_removes_blobs_rows_and_segments(api, tenant, settings, db):
    client = api(tenant)
    kept = (await client.upload(pdfgen.sample_pdf(2, seed=7), "kept.pdf"))["document_id"]
    gone = (await client.upload(pdfgen.sample_pdf(2, seed=8), "gone.pdf"))["document_id"]
    async with asyncio.timeout(PARSE_TIMEOUT_S):
        await client.wait_for([kept, gone])

    assert await client.delete(gone) == {"document_id": gone, "deleted": True}

    with pytest.raises(ApiError) as caught:
        await client.document(gone)
    assert caught.value.status == 404
    with pytest.raises(ApiError) as caught:
        await client.delete(gone)
    assert caught.value.status == 404
    for table, column in (
        ("documents", "id"),
        ("segments", "doc_id"),
        ("tasks", "document_id"),
        ("document_events", "document_id"),
    ):
        count = await db.fetchval(
            f"SELECT count(*) FROM {table} WHERE {column} = $1", uuid.UUID(gone)
        )
        assert count == 0, table
    assert not (Path(settings.blob_root) / tenant / gone).exists()
    # The other document is untouched.
    assert (await client.document(kept))["status"] == "ready"
    assert await db.fetchval("SELECT count(*) FROM segments WHERE doc_id = $1", uuid.UUID(kept))
    assert (Path(settings.blob_root) / tenant / kept / "original.pdf").is_file()


async def test_idempotency_key_retry_returns_the_same_document(api, tenant, db):
    client = api(tenant)
    data = pdfgen.sample_pdf(2, seed=11)
    first = await client.upload(data, "a.pdf", idempotency_key="upload-1")
    again = await client.upload(data, "a.pdf", idempotency_key="upload-1")
    assert again["document_id"] == first["document_id"]
    assert again["task_id"] == first["task_id"]

    racing = await asyncio.gather(
        *(client.upload(data, "b.pdf", idempotency_key="upload-2") for _ in range(5))
    )
    assert len({r["document_id"] for r in racing}) == 1

    with pytest.raises(ApiError) as caught:
        await client.upload(pdfgen.sample_pdf(2, seed=12), "c.pdf", idempotency_key="upload-1")
    assert (caught.value.status, caught.value.code) == (409, "idempotency_key_reused")

    assert await db.fetchval("SELECT count(*) FROM documents WHERE tenant_id = $1", tenant) == 2
    assert (
        await db.fetchval(
            "SELECT count(*) FROM tasks WHERE tenant_id = $1 AND kind = 'parse'", tenant
        )
        == 2
    )
    async with asyncio.timeout(PARSE_TIMEOUT_S):
        views = await client.wait_for([first["document_id"], racing[0]["document_id"]])
    assert {v["status"] for v in views.values()} == {"ready"}
    # Each document was parsed once: one 'parsed' transition each.
    parsed_events = await db.fetchval(
        "SELECT count(*) FROM document_events WHERE tenant_id = $1 AND status = 'parsed'", tenant
    )
    assert parsed_events == 2


async def test_same_idempotency_key_in_two_tenants_makes_two_documents(api, tenant):
    data = pdfgen.sample_pdf(1, seed=13)
    mine = await api(tenant).upload(data, "a.pdf", idempotency_key="shared")
    theirs = await api(f"{tenant}-other").upload(data, "a.pdf", idempotency_key="shared")
    assert mine["document_id"] != theirs["document_id"]

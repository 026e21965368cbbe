"""Every kind of bad input gets a clear 4xx or a failed status with a reason, and loses
nothing else."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

import pdfgen
from cli.client import ApiError

pytestmark = pytest.mark.stack

PARSE_TIMEOUT_S = 90


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 400, "empty_file"),
        (b"hello, I am plain text", 415, "not_pdf"),
        (None, 415, "not_pdf"),  # a PNG
    ],
)
async def test_rejected_at_upload(api, tenant, data, status, code):
    client = api(tenant)
    if data is None:
        data = pdfgen.not_a_pdf()
    with pytest.raises(ApiError) as caught:
        await client.upload(data, "x.pdf")
    assert (caught.value.status, caught.value.code) == (status, code)
    assert await client.documents() == []


async def test_over_the_size_limit(api, tenant, settings):
    client = api(tenant)
    too_big = b"%PDF-1.7\n" + b"0" * settings.max_upload_bytes
    with pytest.raises(ApiError) as caught:
        await client.upload(too_big, "big.pdf")
    assert caught.value.status == 413
    assert str(settings.max_upload_bytes) in caught.value.message
    assert await client.documents() == []


async def test_missing_file_field(settings, token, tenant):
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        response = await http.post(
            "/v1/documents",
            headers={"Authorization": f"Bearer {token(tenant)}"},
            files={"document": ("a.pdf", pdfgen.sample_pdf(1), "application/pdf")},
        )
    assert response.status_code == 400
    assert "'file'" in response.json()["error"]["message"]


@pytest.mark.parametrize("key", ["", "x" * 201, "tab\there"])
async def test_bad_idempotency_key(settings, token, tenant, key):
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        response = await http.post(
            "/v1/documents",
            headers={"Authorization": f"Bearer {token(tenant)}", "Idempotency-Key": key},
            files={"file": ("a.pdf", pdfgen.sample_pdf(1), "application/pdf")},
        )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["message"]


def _stamps_pdf() -> bytes:
    return pdfgen.text_pdf([[("small", f"Scan {n}")] for n in range(1, 5)])


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (pdfgen.encrypted_pdf, "encrypted", "password"),
        # Pages with next to no text and no picture to read it from ("Scan 1", "Scan 2", …).
        (_stamps_pdf, "needs_ocr", "OCR"),
        (pdfgen.corrupt_pdf, "corrupt", ""),
        (lambda: pdfgen.truncated_pdf(0.5), "corrupt", ""),
    ],
    ids=["encrypted", "no-text-layer", "corrupt", "truncated"],
)
async def test_failed_with_a_readable_reason(api, tenant, make, code, words):
    client = api(tenant)
    good = await client.upload(pdfgen.sample_pdf(2, seed=21), "good.pdf")
    bad = await client.upload(make(), "bad.pdf")
    async with asyncio.timeout(PARSE_TIMEOUT_S):
        views = await client.wait_for([good["document_id"], bad["document_id"]])
    failed = views[bad["document_id"]]
    assert failed["status"] == "failed"
    assert failed["error_code"] == code
    assert words in failed["error"] and len(failed["error"]) > 15
    assert [h["status"] for h in failed["history"]] == ["queued", "parsing", "failed"]
    # The bad file costs nothing else: the good one beside it parses.
    assert views[good["document_id"]]["status"] == "ready"


async def test_a_scanned_pdf_is_read_by_ocr_and_searchable(api, tenant):
    """Pages that are pictures of text (no text layer) are read by Tesseract in the worker."""
    client = api(tenant)
    body = await client.upload(pdfgen.image_only_pdf(2, dpi=150), "scan.pdf")
    async with asyncio.timeout(PARSE_TIMEOUT_S):
        view = (await client.wait_for([body["document_id"]]))[body["document_id"]]
    assert view["status"] == "ready" and view["pages"] == 2, view
    # The sentence that names page 2 and appears nowhere else (pdfgen.sample_document).
    text = " ".join(t for _, t in pdfgen.sample_document(2, seed=9)[1])
    phrase = re.search(r"On page 2 [^.]*\.", text)
    assert phrase is not None
    found = await client.search(phrase.group(), top_k=1, mode="text")
    assert found and found[0]["page"] == 2, (phrase, found)


async def test_over_the_page_limit(api, tenant, settings):
    client = api(tenant)
    body = await client.upload(pdfgen.big_pdf(settings.max_pages + 1), "long.pdf")
    async with asyncio.timeout(PARSE_TIMEOUT_S):
        view = (await client.wait_for([body["document_id"]]))[body["document_id"]]
    assert (view["status"], view["error_code"]) == ("failed", "too_many_pages")
    assert str(settings.max_pages) in view["error"]


async def test_owner_password_only_pdf_parses(api, tenant):
    client = api(tenant)
    body = await client.upload(pdfgen.owner_only_encrypted_pdf(), "locked-for-edit.pdf")
    async with asyncio.timeout(PARSE_TIMEOUT_S):
        view = (await client.wait_for([body["document_id"]]))[body["document_id"]]
    assert view["status"] == "ready", view


@pytest.mark.parametrize(
    "path", ["/v1/documents/not-a-uuid", "/v1/documents/00000000-0000-0000-0000-000000000000"]
)
async def test_unknown_document(settings, token, tenant, path):
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        response = await http.get(path, headers={"Authorization": f"Bearer {token(tenant)}"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

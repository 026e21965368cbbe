"""Admission control on the real routes over PostgreSQL alone: past a tenant's share of work
in progress its uploads and questions get 429 with Retry-After, past everyone's 503; what is
refused leaves nothing behind, and other tenants go on."""

from __future__ import annotations

import uuid

import pdfgen
from tests.rows import new_document, unrelayed_session
from tests.web.files import pdf_file

LIMITS = {
    "tenant_max_pending_documents": 2,
    "max_pending_documents": 1000,
    "tenant_max_pending_questions": 1,
    "max_pending_questions": 1000,
    "documents_retry_after_s": 7.5,
    "questions_retry_after_s": 2.0,
}


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def _upload(client, auth, tenant: str, **headers: str):
    files = {"file": pdf_file(pdfgen.sample_pdf(1, seed=7))}
    return await client.post("/v1/documents", files=files, headers=auth(tenant, **headers))


async def _documents(pg, tenant: str) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM documents WHERE tenant_id = $1", tenant))


async def test_uploads_past_a_tenants_share_get_429_and_keep_nothing(make_app, auth, pg):
    client = (await make_app(**LIMITS)).test_client()
    busy, other = new_tenant(), new_tenant()
    first = await _upload(client, auth, busy, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 202
    await new_document(pg, busy)  # a second one in progress: the share is used up

    refused = await _upload(client, auth, busy)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "8"
    assert (await refused.get_json())["error"]["code"] == "too_many_documents"
    assert await _documents(pg, busy) == 2, "the refused upload left no row"

    replayed = await _upload(client, auth, busy, **{"Idempotency-Key": "k-1"})
    assert replayed.status_code == 202, "a retry of an accepted upload is not new work"
    assert (await _upload(client, auth, other)).status_code == 202


async def test_uploads_past_everyones_capacity_get_503(make_app, auth, pg):
    busy = new_tenant()
    await new_document(pg, busy)
    app = await make_app(**LIMITS | {"max_pending_documents": await _all_unfinished(pg)})
    refused = await _upload(app.test_client(), auth, new_tenant())
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "8"
    assert (await refused.get_json())["error"]["code"] == "overloaded"


async def test_questions_past_a_tenants_share_get_429(make_app, auth, pg):
    client = (await make_app(**LIMITS)).test_client()
    busy, other = new_tenant(), new_tenant()
    await unrelayed_session(pg, busy, "still being answered?")
    question = {"question": "how long do refunds take?"}

    refused = await client.post("/v1/chat", json=question, headers=auth(busy))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert (await refused.get_json())["error"]["code"] == "too_many_questions"
    sessions = await pg.fetchval("SELECT count(*) FROM chat_sessions WHERE tenant_id = $1", busy)
    assert sessions == 1, "the refused question left no session"
    assert (await client.post("/v1/chat", json=question, headers=auth(other))).status_code == 202


async def _all_unfinished(pg) -> int:
    return int(
        await pg.fetchval(
            "SELECT count(*) FROM documents"
            " WHERE status IN ('queued', 'parsing', 'parsed', 'embedding')"
        )
    )

"""storage.documents.ready: the tenant's ready documents, or those asked for, newest first."""

from __future__ import annotations

import uuid

import pdfgen
from storage import documents
from storage.blobs import FilesystemBlobStore
from workflows.admission import Limit
from workflows.documents import Upload, submit

ROOMY = Limit("documents", per_tenant=1000, in_all=100_000, retry_after_s=1.0)


async def _ready(pg, store, tenant: str, name: str) -> uuid.UUID:
    upload = Upload(
        tenant, "tester", name, "application/pdf", pdfgen.sample_pdf(1, seed=sum(map(ord, name)))
    )
    document = (await submit(pg, store, upload, max_bytes=10**7, limit=ROOMY))[0]
    await pg.execute("UPDATE documents SET status = 'ready' WHERE id = $1", document.id)
    return document.id


async def test_the_documents_asked_for_however_old_and_only_the_tenants(pg, tmp_path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = FilesystemBlobStore(tmp_path)
    older = await _ready(pg, store, tenant, "older.pdf")
    newer = await _ready(pg, store, tenant, "newer.pdf")
    foreign = await _ready(pg, store, f"{tenant}-other", "foreign.pdf")
    queued = (
        await submit(
            pg,
            store,
            Upload(tenant, "tester", "queued.pdf", "application/pdf", pdfgen.sample_pdf(1)),
            max_bytes=10**7,
            limit=ROOMY,
        )
    )[0].id

    assert [d.id for d in await documents.ready(pg, tenant, limit=10)] == [newer, older]
    assert [d.id for d in await documents.ready(pg, tenant, limit=1)] == [newer]
    asked = await documents.ready(pg, tenant, ids=[older, foreign, queued], limit=1)
    assert [d.id for d in asked] == [older]

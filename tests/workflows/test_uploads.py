"""Storing an upload (workflows.documents.submit) on PostgreSQL alone: the original file is
kept exactly when its row may have committed."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from asyncpg.transaction import Transaction

import pdfgen
from core.errors import TooManyRequests
from storage.blobs import (
    FilesystemBlobStore,
    audit_archive_key,
    original_key,
    parse_result_key,
)
from tests.waiting import wait_until
from workflows.admission import Limit
from workflows.documents import Upload, delete, remove_orphan_blobs, submit

ROOMY = Limit("documents", per_tenant=1000, in_all=100_000, retry_after_s=1.0)


def _upload(tenant: str) -> Upload:
    return Upload(tenant, "tester", "a.pdf", "application/pdf", pdfgen.sample_pdf(1, seed=5))


def _files(root: Path, tenant: str) -> list[Path]:
    return (
        [p for p in (root / tenant).rglob("*") if p.is_file()] if (root / tenant).exists() else []
    )


async def test_a_commit_whose_answer_was_lost_keeps_its_file(pg, tmp_path, monkeypatch) -> None:
    """PostgreSQL dies during COMMIT: the row may be there (it is, here), so the file must be."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = FilesystemBlobStore(tmp_path)
    committed = Transaction.__aexit__

    async def commit_then_lose_the_connection(self, *exc_info):
        await committed(self, *exc_info)
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of COMMIT")

    monkeypatch.setattr(Transaction, "__aexit__", commit_then_lose_the_connection)
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await submit(pg, store, _upload(tenant), max_bytes=10**7, limit=ROOMY)
    monkeypatch.undo()

    blob_key = await pg.fetchval("SELECT blob_key FROM documents WHERE tenant_id = $1", tenant)
    assert blob_key is not None, "the row committed"
    assert (await store.get(blob_key)).startswith(b"%PDF")


async def test_an_upload_refused_in_its_transaction_leaves_no_file(pg, tmp_path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = FilesystemBlobStore(tmp_path)
    full = Limit("documents", per_tenant=0, in_all=100_000, retry_after_s=1.0)
    with pytest.raises(TooManyRequests):
        await submit(pg, store, _upload(tenant), max_bytes=10**7, limit=full)
    assert await pg.fetchval("SELECT count(*) FROM documents WHERE tenant_id = $1", tenant) == 0
    assert _files(tmp_path, tenant) == []


async def test_files_of_documents_that_do_not_exist_are_removed_once_old(pg, tmp_path) -> None:
    """An upload whose row never committed, a parse finished after a delete, a delete cut
    short: their files go. A document's files stay, and so do fresh ones (an upload commits
    after its file is written)."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = FilesystemBlobStore(tmp_path)
    kept = (await submit(pg, store, _upload(tenant), max_bytes=10**7, limit=ROOMY))[0].id
    await store.put(parse_result_key(tenant, str(kept)), b"{}")
    orphans = [str(uuid.uuid4()), "not-a-uuid"]
    for name in orphans:
        await store.put(original_key(tenant, name), b"%PDF-")
    await store.put(audit_archive_key(tenant, "2026-12-01"), b"{}\n")  # not a document's
    await submit(pg, store, _upload(f"{tenant}-gone"), max_bytes=10**7, limit=ROOMY)
    await pg.execute("DELETE FROM documents WHERE tenant_id = $1", f"{tenant}-gone")
    files_before = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}

    assert await remove_orphan_blobs(pg, store, older_than_s=3600) == 0  # all too fresh
    _age(tmp_path, seconds=7200)
    fresh = str(uuid.uuid4())
    await store.put(original_key(tenant, fresh), b"%PDF-")  # an upload committing right now

    assert await remove_orphan_blobs(pg, store, older_than_s=3600) == 3
    assert sorted(p.name for p in (tmp_path / tenant).iterdir()) == sorted([str(kept), fresh])
    assert len(_files(tmp_path, tenant)) == 3  # kept's original and parse result, fresh's file
    assert not _files(tmp_path, f"{tenant}-gone")
    assert (tmp_path / audit_archive_key(tenant, "2026-12-01")).exists()
    assert len(files_before) == 6


def _age(root: Path, *, seconds: float) -> None:
    then = time.time() - seconds
    for path in root.rglob("*"):
        os.utime(path, (then, then))


async def test_a_delete_that_deadlocks_with_a_worker_runs_again(pg, tmp_path) -> None:
    """A worker's transaction holds the document's task row, then updates the document (a
    claim, a status change); the delete's cascade holds the document's row and waits for the
    task's. PostgreSQL rolls one of them back: the worker's event is retried by its runner,
    and the delete runs again instead of answering 503 (seen in CI)."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = FilesystemBlobStore(tmp_path)
    document = (await submit(pg, store, _upload(tenant), max_bytes=10**7, limit=ROOMY))[0]
    worker = await pg.acquire()
    moving = worker.transaction()
    await moving.start()
    await worker.execute("UPDATE tasks SET status = 'running' WHERE document_id = $1", document.id)
    deleting = asyncio.create_task(delete(pg, store, tenant, document.id, actor="tester"))

    async def delete_waits() -> bool:
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        return bool(await pg.fetchval(query))

    await wait_until(delete_waits, within_s=10)
    try:  # one of the two is the deadlock's victim, after deadlock_timeout (1 s)
        await worker.execute("UPDATE documents SET status = 'parsing' WHERE id = $1", document.id)
    except asyncpg.DeadlockDetectedError:
        await moving.rollback()
    else:
        await moving.commit()
    finally:
        await pg.release(worker)
    assert (await deleting).id == document.id
    assert await pg.fetchval("SELECT count(*) FROM documents WHERE id = $1", document.id) == 0

"""Blob store for original PDFs and parse results.

The database keeps only keys. ``BlobStore`` is what an S3 backend implements; the filesystem
store is the default for the local stack.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import Protocol

from core.errors import InvalidInput, TransientError


class BlobNotFound(TransientError):
    """Retried, because object stores may not show a fresh write to every reader at once."""

    code = "blob_not_found"


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def exists(self, key: str) -> bool: ...
    async def delete_prefix(self, prefix: str) -> int: ...
    async def documents_untouched(self, older_than_s: float) -> list[tuple[str, str]]: ...


# Keys outside any document start with "_", which no tenant id does (core.tokens), so nothing
# else can ever take them for a tenant's folder.
AUDIT_ARCHIVES = "_audit"


def audit_archive_key(tenant_id: str, day: str) -> str:
    """One tenant's audit events of one UTC day (``YYYY-MM-DD``), as JSON lines."""
    return f"{AUDIT_ARCHIVES}/{tenant_id}/{day}.jsonl"


def document_prefix(tenant_id: str, document_id: str) -> str:
    return f"{tenant_id}/{document_id}/"


def original_key(tenant_id: str, document_id: str) -> str:
    return document_prefix(tenant_id, document_id) + "original.pdf"


def parse_result_key(tenant_id: str, document_id: str) -> str:
    return document_prefix(tenant_id, document_id) + "parse.json"


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(p in ("..", ".") for p in parts):
            raise InvalidInput(f"invalid blob key {key!r}")
        return self.root.joinpath(*parts)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, self._path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        # Write to a temporary file and rename, so a reader never sees half a blob.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(f"blob {key!r} not found") from None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete_prefix(self, prefix: str) -> int:
        path = self._path(prefix.rstrip("/"))
        return await asyncio.to_thread(self._delete_tree, path)

    async def documents_untouched(self, older_than_s: float) -> list[tuple[str, str]]:
        """(tenant, document id) of every document prefix nothing was written to for
        ``older_than_s``: candidates for the orphan sweep."""
        return await asyncio.to_thread(self._untouched, time.time() - older_than_s)

    def _untouched(self, before: float) -> list[tuple[str, str]]:
        found = []
        for tenant in _subdirectories(self.root):
            if tenant.name.startswith("_"):
                continue  # not a tenant's: the audit archives
            for document in _subdirectories(tenant):
                files = [p.stat().st_mtime for p in document.iterdir() if p.is_file()]
                if max(files, default=document.stat().st_mtime) < before:
                    found.append((tenant.name, document.name))
        return found

    @staticmethod
    def _delete_tree(path: Path) -> int:
        if not path.exists():
            return 0
        count = sum(1 for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path)
        return count


def _subdirectories(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except FileNotFoundError:  # deleted meanwhile, or no blob yet
        return []


def create_blob_store(backend: str, root: Path) -> BlobStore:
    if backend == "fs":
        return FilesystemBlobStore(root)
    raise ValueError(f"unknown blob backend {backend!r}")

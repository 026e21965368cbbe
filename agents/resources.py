"""What agents share in one worker process: the database pool and the blob store."""

from __future__ import annotations

import asyncio
import os
import socket

import asyncpg
import mode

import storage
from agents.app import app, settings
from retrieval import Embedder, create_embedder
from storage.blobs import BlobStore, create_blob_store

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"

# Faust starts extra services only after the agents, so agents wait for this.
_started = asyncio.Event()
_current: Resources | None = None


@app.service
class Resources(mode.Service):
    pool: asyncpg.Pool
    blobs: BlobStore
    embedder: Embedder

    async def on_start(self) -> None:
        global _current
        self.pool = await storage.create_pool(settings.dsn)
        self.blobs = create_blob_store(settings.blob_backend, settings.blob_root)
        self.embedder = create_embedder(settings)
        _current = self
        _started.set()

    async def on_stop(self) -> None:
        _started.clear()
        await self.embedder.aclose()
        await self.pool.close()


async def resources() -> Resources:
    await _started.wait()
    assert _current is not None
    return _current

"""What agents share in one worker process: the database pool, the blob store, the processes
that read big PDFs, the embedder, the re-ranker and its encoder, the chat models and the live
view of feature flags."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import asyncpg
import mode

import storage
from agents.app import app, settings
from core.flags import FlagView
from core.heap import settle_after_start
from core.processes import Background
from llm import ChatModels
from pdf import ocr_available, page_reader_pool
from retrieval import Embedder, Reranker, create_embedder, create_reranker
from retrieval.encoder import Encoder, load_encoder
from storage.blobs import BlobStore, create_blob_store
from workflows.search import Embedders
from workflows.usage import Budget, budget_of

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"

# Faust starts extra services only after the agents, so agents wait for this.
log = logging.getLogger("pdfchat.agents.resources")
_started = asyncio.Event()
_current: Resources | None = None


@app.service
class Resources(mode.Service):
    pool: asyncpg.Pool
    blobs: BlobStore
    embedder: Embedder
    embedders: Embedders
    reranker: Reranker
    encoder: Encoder | None  # the re-ranker's, for the encode agent
    models: ChatModels
    budget: Budget
    flags: FlagView
    page_readers: ProcessPoolExecutor | None  # None: PDFs are read in this process
    background: Background  # where work that may wait runs: encodings, topic maps

    async def on_start(self) -> None:
        global _current
        self.flags = FlagView(settings.kafka_bootstrap)
        self._flagging = asyncio.create_task(self.flags.run(), name="flags")
        self.pool = await storage.create_pool(settings.dsn)
        self.blobs = create_blob_store(settings.blob_backend, settings.blob_root)
        self.page_readers = None
        self.renew_page_readers()
        # Chat workers have no such work: no process for it.
        in_process = not settings.background_process or settings.worker_role == "chat"
        self.background = Background(nice=settings.background_nice, in_process=in_process)
        _say_if_ocr_is_missing()
        self.embedder = create_embedder(settings)
        self.embedders = Embedders(settings, self.embedder)
        self.reranker = create_reranker(settings)
        self.encoder = load_encoder(settings)
        self.models = ChatModels(settings)
        self.budget = budget_of(settings, self.models.catalog, self.flags)
        _current = self
        settle_after_start()
        _started.set()

    async def on_stop(self) -> None:
        _started.clear()
        self._flagging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._flagging  # closes its consumer
        await self.models.aclose()
        await self.reranker.aclose()
        await self.embedders.aclose()
        await self.pool.close()
        if self.page_readers is not None:
            self.page_readers.shutdown(wait=False, cancel_futures=True)
        self.background.shutdown()

    def renew_page_readers(self) -> None:
        """A new pool of page-reading processes, in place of one that a dead process broke."""
        if self.page_readers is not None:
            self.page_readers.shutdown(wait=False, cancel_futures=True)
        if settings.parse_processes and settings.worker_role != "chat":  # chat never parses
            self.page_readers = page_reader_pool(settings.parse_processes)


def _say_if_ocr_is_missing() -> None:
    """Scanned PDFs fail as needs_ocr without Tesseract: an operator should know why."""
    if settings.ocr_languages and settings.worker_role != "chat" and not ocr_available():
        log.warning(
            "Tesseract is not installed: scanned PDFs will be refused as needs_ocr "
            "(install tesseract-ocr, or set PDFCHAT_OCR_LANGUAGES= to silence this)"
        )


async def resources() -> Resources:
    await _started.wait()
    assert _current is not None
    return _current


@contextlib.contextmanager
def provided(deps: Resources) -> Iterator[None]:
    """Agents get ``deps`` instead of the worker's own: for an agent run without a worker
    (Faust's ``agent.test_context()`` in tests)."""
    global _current
    _current = deps
    _started.set()
    try:
        yield
    finally:
        _current = None
        _started.clear()

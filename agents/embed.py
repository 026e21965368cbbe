"""Embedding agent: parsed → vectors in pgvector → ready (failures retried in the background)."""

from __future__ import annotations

import logging
import time

import faust
from prometheus_client import Histogram

import topics
from agents.app import app, settings
from agents.channels import parsed
from agents.resources import WORKER_ID, Resources, resources
from storage.documents import Claim
from workflows import embedding

log = logging.getLogger("pdfchat.agents.embed")

EMBED_DURATION = Histogram(
    "embed_duration_seconds",
    "Time to embed one document's chunks and store the vectors",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


@app.agent(parsed)
async def embed_documents(events: faust.StreamT[topics.DocumentParsed]) -> None:
    deps = await resources()
    async for event in events:
        try:
            await _handle(deps, event)
        except Exception:  # an escaping error would stop this agent for every document
            log.exception("embed request dropped", extra={"document_id": event.document_id})


async def _handle(deps: Resources, event: topics.DocumentParsed) -> None:
    claim = await embedding.claim(deps.pool, event, worker=WORKER_ID)
    if claim is None:
        return  # finished already, or deleted
    started = time.perf_counter()
    try:
        vectors = await _embed(deps, claim)
    except Exception as exc:  # the provider failed even after retries: compensate later
        log.warning("embedding failed", extra={"document_id": event.document_id, "error": str(exc)})
        await embedding.retry_later_or_fail(
            deps.pool, claim, error=str(exc) or type(exc).__name__,
            max_attempts=settings.embed_max_attempts, worker=WORKER_ID,
        )  # fmt: skip
        return
    await embedding.complete(
        deps.pool, claim, model=deps.embedder.model, dimension=deps.embedder.dimension,
        vectors=vectors, worker=WORKER_ID,
    )  # fmt: skip
    EMBED_DURATION.observe(time.perf_counter() - started)
    await embedding.index_when_large(deps.pool, deps.embedder.model, deps.embedder.dimension)


async def _embed(deps: Resources, claim: Claim) -> list[tuple]:
    chunks = await embedding.chunks(deps.pool, claim)
    # The embedder retries transient provider errors itself (core.retry).
    vectors = await deps.embedder.embed_documents([text for _, text in chunks])
    return [(segment_id, vector) for (segment_id, _), vector in zip(chunks, vectors, strict=True)]

"""Embedding agent: parsed → vectors in pgvector → ready (failures retried in the background)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import faust

import topics
from agents import runner
from agents.app import app, settings
from agents.channels import parsed
from agents.resources import WORKER_ID, Resources, resources
from core.metrics import (
    EMBED_DURATION,
    FAILURES,
    PAGES_EMBEDDED,
    RETRIES,
    SEGMENTS_EMBEDDED,
)
from storage.documents import Claim
from workflows import embedding

log = logging.getLogger("pdfchat.agents.embed")


@app.agent(parsed)
async def embed_documents(events: faust.StreamT[topics.DocumentParsed]) -> None:
    deps = await resources()
    await runner.run("embed", events, lambda event: _handle(deps, event))


async def _handle(deps: Resources, event: topics.DocumentParsed) -> None:
    claim = await embedding.claim(deps.pool, event, worker=WORKER_ID, turns=settings.fair_turns)
    if claim is None:
        return  # finished already, or deleted
    with runner.working_for("embed", claim.trace):
        await _embed_claimed(deps, claim)


async def _embed_claimed(deps: Resources, claim: Claim) -> None:
    started = time.perf_counter()
    try:
        vectors = await _embed(deps, claim)
    except Exception as exc:
        if runner.is_outage(exc):
            raise  # the database, not the provider: the runner holds the event
        # The provider failed even after its own retries: compensate in the background.
        document_id = str(claim.document.id)
        log.warning("embedding failed", extra={"document_id": document_id, "error": str(exc)})
        gave_up = await embedding.retry_later_or_fail(
            deps.pool,
            claim,
            error=str(exc) or type(exc).__name__,
            max_attempts=settings.embed_max_attempts,
            worker=WORKER_ID,
        )
        if gave_up:
            FAILURES.labels("embed", "embedding_failed").inc()
        else:
            RETRIES.labels("embed", "provider").inc()
        return
    await embedding.complete(
        deps.pool,
        claim,
        model=deps.embedder.model,
        dimension=deps.embedder.dimension,
        vectors=vectors,
        worker=WORKER_ID,
    )
    EMBED_DURATION.observe(time.perf_counter() - started)
    PAGES_EMBEDDED.inc(claim.document.pages or 0)
    SEGMENTS_EMBEDDED.inc(len(vectors))
    await embedding.index_when_large(deps.pool, deps.embedder.model, deps.embedder.dimension)


async def _embed(deps: Resources, claim: Claim) -> list[tuple[uuid.UUID, list[float]]]:
    segments = await embedding.segment_texts(deps.pool, claim)
    postings = asyncio.create_task(embedding.index_postings(deps.pool, claim))
    try:
        # The embedder retries transient provider errors itself (core.retry).
        vectors = await deps.embedder.embed_documents([text for _, text in segments])
    finally:
        await postings  # written meanwhile, in the database: ready needs both
    return [(segment_id, vector) for (segment_id, _), vector in zip(segments, vectors, strict=True)]

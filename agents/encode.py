"""Encode agent: ready → every segment of the document encoded for the re-ranker
(retrieval/encoder.py), a batch at a time."""

from __future__ import annotations

import asyncio
import uuid

import faust

import topics
from agents import runner
from agents.app import app
from agents.channels import ready
from agents.resources import Resources, resources
from storage import encodings

# Segments read, encoded and stored at a time: a crash loses at most this much work, and the
# next question's candidates are stored a batch at a time.
SEGMENTS_PER_ROUND = 64


@app.agent(ready)
async def encode_segments(events: faust.StreamT[topics.DocumentReady]) -> None:
    deps = await resources()
    await runner.run("encode", events, lambda event: _handle(deps, event))


async def _handle(deps: Resources, event: topics.DocumentReady) -> None:
    """Encodes what is not encoded yet, so an event handled again (after a crash, or a
    document ready again) costs only what is missing."""
    encoder = deps.encoder
    if encoder is None:
        return  # not installed, or turned off: the re-ranker ranks without it
    doc_id = uuid.UUID(event.document_id)
    while rows := await encodings.unencoded(
        deps.pool, event.tenant_id, doc_id, encoder.name, limit=SEGMENTS_PER_ROUND
    ):
        # About 15 ms of one core a segment: a thread keeps the worker's other agents going.
        encoded = await asyncio.to_thread(encoder.encode, [r["content"] for r in rows])
        stored = await encodings.save(
            deps.pool,
            event.tenant_id,
            doc_id,
            encoder.name,
            [(r["id"], vector) for r, vector in zip(rows, encoded, strict=True)],
        )
        if not stored:
            return  # the document was deleted meanwhile

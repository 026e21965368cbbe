"""Encode agent: ready → the document's segments encoded for the re-ranker
(retrieval/encoder.py), in the background of the worker.

Encoding takes about 10 ms a segment: minutes for a big manual, too long to handle as the event
itself (agents/backlog.py). The agent queues the document; the backlog encodes what is not
encoded yet, a batch at a time, in the worker's background process (core/processes.py): of
ingestion's CPU, encoding is the largest share and the one nobody waits for. A document not
wholly encoded a lease after it was last worked on is asked for again by the maintenance sweep
(workflows.encodings).
"""

from __future__ import annotations

import uuid

import faust

import topics
from agents import runner
from agents.app import app
from agents.backlog import Backlog
from agents.channels import ready
from agents.resources import Resources, resources
from retrieval.encoder import encode_passages
from storage import encodings

# Segments read, encoded and stored at a time: a crash loses at most this much work, and the
# next question's candidates are stored a batch at a time.
SEGMENTS_PER_ROUND = 64


@app.agent(ready)
async def encode_segments(events: faust.StreamT[topics.DocumentReady]) -> None:
    deps = await resources()
    backlog = Backlog("encode_document", lambda event: _encode(deps, event))

    async def queue(event: topics.DocumentReady) -> None:
        if deps.encoder is not None:  # without one, the re-ranker ranks without encodings
            await backlog.add(event)

    await runner.run("encode", events, queue)


async def _encode(deps: Resources, event: topics.DocumentReady) -> None:
    """Encodes what is not encoded yet, so a document asked for again costs only what is
    missing."""
    encoder = deps.encoder
    assert encoder is not None  # queue() queues nothing without one
    doc_id = uuid.UUID(event.document_id)
    while rows := await encodings.unencoded(
        deps.pool, event.tenant_id, doc_id, encoder.name, limit=SEGMENTS_PER_ROUND
    ):
        texts = [r["content"] for r in rows]
        encoded = await deps.background.run(encode_passages, encoder.directory, texts)
        stored = await encodings.save(
            deps.pool,
            event.tenant_id,
            doc_id,
            encoder.name,
            [(r["id"], vector) for r, vector in zip(rows, encoded, strict=True)],
        )
        if not stored:
            return  # the document was deleted meanwhile
    await encodings.finish(deps.pool, event.tenant_id, doc_id, encoder.name)

"""Encode agent: ready → the document's segments encoded for the re-ranker
(retrieval/encoder.py), in the background of the worker.

Encoding takes about 10 ms a segment: minutes for a big manual. Handled as the event itself, that
would hold every rebalance of the consumer group as long, since Faust waits for the events in
hand before it gives up partitions. So the agent only queues the document and goes on, and one
task per worker encodes the queue, a batch at a time. A document whose place in the queue is
lost (the worker stopped) is asked for again by the maintenance sweep, once nothing of it has
been encoded for a lease (workflows.encodings).
"""

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
    backlog = Backlog(await resources())
    await runner.run("encode", events, backlog.add)


class Backlog:
    """The documents this worker has still to encode, each once, in the order they came."""

    def __init__(self, deps: Resources) -> None:
        self._deps = deps
        self._waiting: asyncio.Queue[topics.DocumentReady] = asyncio.Queue()
        self._queued: set[str] = set()  # waiting or in hand: a second event adds nothing
        self._task: asyncio.Task[None] | None = None

    async def add(self, event: topics.DocumentReady) -> None:
        if self._deps.encoder is None or event.document_id in self._queued:
            return  # no encoder here (the re-ranker ranks without), or queued already
        self._queued.add(event.document_id)
        self._waiting.put_nowait(event)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="encode-backlog")

    async def _drain(self) -> None:
        while not self._waiting.empty():
            event = self._waiting.get_nowait()
            try:
                await runner.process("encode_document", event, self._encode)
            finally:
                self._queued.discard(event.document_id)

    async def _encode(self, event: topics.DocumentReady) -> None:
        """Encodes what is not encoded yet, so a document asked for again costs only what is
        missing."""
        encoder = self._deps.encoder
        assert encoder is not None  # add() queues nothing without one
        doc_id = uuid.UUID(event.document_id)
        while rows := await encodings.unencoded(
            self._deps.pool, event.tenant_id, doc_id, encoder.name, limit=SEGMENTS_PER_ROUND
        ):
            # CPU work that leaves the interpreter lock: a thread keeps the agents going.
            encoded = await asyncio.to_thread(encoder.encode, [r["content"] for r in rows])
            stored = await encodings.save(
                self._deps.pool,
                event.tenant_id,
                doc_id,
                encoder.name,
                [(r["id"], vector) for r, vector in zip(rows, encoded, strict=True)],
            )
            if not stored:
                return  # the document was deleted meanwhile
        await encodings.finish(self._deps.pool, event.tenant_id, doc_id, encoder.name)

"""Work on ready documents that runs behind the agent that takes their events.

Faust gives up a partition only once the events in hand are done, so a handler that runs for
minutes (encoding a big manual's segments, clustering them into a topic map) holds every
rebalance of the consumer group as long: a second worker waits to start, a dead one's
partitions wait to move. An agent whose work is long queues the document here and goes on;
one task per backlog works through the queue, each document once, in the order they came, in
the trace of the event that asked for it.

A document whose place is lost (the worker stopped) is asked for again by the maintenance
sweep (workflows.encodings, workflows.topic_maps), so the work must be idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import topics
from agents import runner

Work = Callable[[topics.DocumentReady], Awaitable[None]]


class Backlog:
    """The ready documents this worker has still to work on, each once, in arrival order."""

    def __init__(self, name: str, work: Work) -> None:
        self.name = name  # the agent name its metrics, logs and spans carry
        self._work = work
        self._waiting: asyncio.Queue[tuple[topics.DocumentReady, dict[str, bytes]]] = (
            asyncio.Queue()
        )
        self._queued: set[str] = set()  # waiting or in hand: a second event adds nothing
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._queued)

    async def add(self, event: topics.DocumentReady) -> None:
        """Queue the document (unless it is queued already) and return at once."""
        if event.document_id in self._queued:
            return
        self._queued.add(event.document_id)
        # The task outlives this event: its trace goes with the document, not with the task.
        self._waiting.put_nowait((event, runner.event_headers()))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=f"{self.name}-backlog")

    async def _drain(self) -> None:
        while not self._waiting.empty():
            event, headers = self._waiting.get_nowait()
            try:
                await runner.process(self.name, event, self._work, headers=headers)
            finally:
                self._queued.discard(event.document_id)

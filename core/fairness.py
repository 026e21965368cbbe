"""Tenants' turns at the CPU of one worker, for answers to their first token.

Claims in turn (storage.chat.claim_next_session) decide which question is answered next; this
decides who gets the worker while several answers run at once. A question's time to its first
token is mostly retrieval (query embedding, two searches, re-ranking: CPU and database), and on
a busy worker it shares the CPU with every answer already running. So answers of busier
tenants give way to the retrieval of a quieter tenant's question:

    with priority.answering(tenant):         one answer running in this worker
        with priority.retrieving(tenant):    its retrieval: busier tenants give way meanwhile
            ...   await checkpoint()         between the steps of a retrieval
        for token in answer:
            await checkpoint()               before each token

``checkpoint()`` waits while a tenant with fewer answers running here is retrieving; a quieter
tenant's own checkpoints pass at once. One tenant's 50 answers then stream and retrieve as
before, except for the milliseconds in which another tenant's question is retrieved, and that
retrieval no longer shares the worker with them. A pause never lasts longer than
``max_pause_s`` (a retrieval stuck on the database must not stall everyone else's answers).
Process-local: each worker orders its own answers.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from core.metrics import STREAM_PAUSES

MAX_PAUSE_S = 1.0


class AnswerPriority:
    def __init__(self, *, max_pause_s: float = MAX_PAUSE_S) -> None:
        self.max_pause_s = max_pause_s
        self._running: Counter[str] = Counter()
        self._retrieving: Counter[str] = Counter()
        self._retrieval_ended = asyncio.Event()

    @contextmanager
    def answering(self, tenant: str) -> Iterator[None]:
        """One answer of ``tenant`` running; its checkpoints (``checkpoint()``) give way."""
        self._running[tenant] += 1
        token = _answer.set((self, tenant))
        try:
            yield
        finally:
            _answer.reset(token)
            self._running[tenant] -= 1
            if not self._running[tenant]:
                del self._running[tenant]

    @contextmanager
    def retrieving(self, tenant: str) -> Iterator[None]:
        self._retrieving[tenant] += 1
        try:
            yield
        finally:
            self._retrieving[tenant] -= 1
            if not self._retrieving[tenant]:
                del self._retrieving[tenant]
            self._retrieval_ended.set()
            self._retrieval_ended = asyncio.Event()

    def tenants_running(self, *, at_least: int) -> set[str]:
        """The tenants with ``at_least`` answers running."""
        return {tenant for tenant, n in self._running.items() if n >= at_least}

    async def give_way(self, tenant: str) -> None:
        """Wait while a tenant with fewer answers running than ``tenant`` is retrieving."""
        if not self._quieter_retrieving(tenant):
            return
        STREAM_PAUSES.inc()
        try:
            async with asyncio.timeout(self.max_pause_s):
                while self._quieter_retrieving(tenant):
                    await self._retrieval_ended.wait()
        except TimeoutError:
            pass

    def _quieter_retrieving(self, tenant: str) -> bool:
        mine = self._running[tenant]
        return any(self._running[other] < mine for other in self._retrieving)


_answer: ContextVar[tuple[AnswerPriority, str] | None] = ContextVar("answer", default=None)


async def checkpoint() -> None:
    """Give way to a quieter tenant's retrieval, if this runs for an answer (else nothing)."""
    current = _answer.get()
    if current is not None:
        priority, tenant = current
        await priority.give_way(tenant)

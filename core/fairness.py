"""Tenants' turns at the CPU of one worker, for answers to their first token.

Claims in turn (storage.chat.claim_next_session) decide which question is answered next; this
decides who gets the worker while several answers run at once. A question's time to its first
token is mostly retrieval (query embedding, two searches, re-ranking: CPU and database), and
on a busy worker it shares the CPU with every answer already streaming. So:

    with priority.answering(tenant):                 one answer running in this worker
        async with priority.retrieval(tenant):       at most ``permits`` retrievals at once;
            ...                                      the next goes to the tenant with the
                                                     fewest answers running
        for token in answer:
            await priority.yield_to_quieter(tenant)  pauses while a tenant with fewer answers
            ...                                      running is retrieving

One tenant's 50 answers then stream on as before, except for the few milliseconds in which
another tenant's question is being retrieved; that question no longer shares the worker with
the 50. A pause never lasts longer than ``max_pause_s`` (a retrieval stuck on the database must
not stall everyone else's answers). Process-local: each worker orders its own answers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from core.metrics import STREAM_PAUSES


class AnswerPriority:
    def __init__(self, *, permits: int, max_pause_s: float = 1.0) -> None:
        self.permits = permits
        self.max_pause_s = max_pause_s
        self._running: Counter[str] = Counter()
        self._retrieving: Counter[str] = Counter()
        self._waiting: dict[int, tuple[str, asyncio.Future[None]]] = {}
        self._arrivals = itertools.count()
        self._retrieval_ended = asyncio.Event()

    @contextmanager
    def answering(self, tenant: str) -> Iterator[None]:
        self._running[tenant] += 1
        try:
            yield
        finally:
            self._running[tenant] -= 1
            if not self._running[tenant]:
                del self._running[tenant]

    def tenants_running(self, *, at_least: int) -> set[str]:
        """The tenants with ``at_least`` answers running."""
        return {tenant for tenant, n in self._running.items() if n >= at_least}

    @asynccontextmanager
    async def retrieval(self, tenant: str) -> AsyncIterator[None]:
        await self._acquire(tenant)
        try:
            yield
        finally:
            self._retrieving[tenant] -= 1
            self._release()

    async def yield_to_quieter(self, tenant: str) -> None:
        """Wait while a tenant with fewer answers running than ``tenant`` is retrieving (or
        waiting to)."""
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
        """A tenant with fewer answers running is retrieving, or waiting to."""
        mine = self._running[tenant]
        waiting = (t for t, _ in self._waiting.values())
        retrieving = (t for t, n in self._retrieving.items() if n)
        return any(self._running[t] < mine for t in itertools.chain(retrieving, waiting))

    async def _acquire(self, tenant: str) -> None:
        """Take a permit, counted in ``_retrieving`` (by ``_release`` when it was waited for)."""
        if self._free() and not self._waiting:
            self._retrieving[tenant] += 1
            return
        arrival = next(self._arrivals)
        turn = asyncio.get_running_loop().create_future()
        self._waiting[arrival] = (tenant, turn)
        try:
            await turn
        except asyncio.CancelledError:
            self._waiting.pop(arrival, None)
            if turn.done() and not turn.cancelled():  # granted, then cancelled: pass it on
                self._retrieving[tenant] -= 1
                self._release()
            raise

    def _release(self) -> None:
        self._retrieval_ended.set()
        self._retrieval_ended = asyncio.Event()
        while self._waiting and self._free():
            arrival = min(self._waiting, key=self._order)
            tenant, turn = self._waiting.pop(arrival)
            self._retrieving[tenant] += 1
            turn.set_result(None)

    def _free(self) -> bool:
        return sum(self._retrieving.values()) < self.permits

    def _order(self, arrival: int) -> tuple[int, int]:
        """The tenant with the fewest answers running first, then first come."""
        return self._running[self._waiting[arrival][0]], arrival

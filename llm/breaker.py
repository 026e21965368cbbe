"""One circuit breaker per model, on purgatory (asyncio-native, typed, no dependencies).

closed     calls go through; ``failures`` consecutive failures open the circuit
opened     calls are refused at once for ``reset_s`` seconds: the router skips the model
half-open  after that, calls go through again; the first outcome closes or re-opens it

We drive purgatory's breaker by its enter/exit hooks rather than ``async with`` around a call,
because a streamed answer has three outcomes, not two: it succeeds, it fails, or the user
goes away (the generator is closed or the task cancelled). ``async with`` would count the last
as a failure (or, excluded, as a success); here it counts as nothing.

Each change is exported as ``pdfchat_circuit_breaker_state{model}`` (0 closed, 1 half-open,
2 open), updated whenever a breaker admits, refuses, or records an outcome.

Known limits of purgatory 3.0: half-open admits every concurrent call, not one probe, so a
recovering model may get a small burst; the state is per process (purgatory has a Redis
backend for a shared one, not wired here).
"""

from __future__ import annotations

import time

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker

from core.metrics import BREAKER_STATE

# purgatory's state names → the gauge's values.
GAUGE = {"closed": 0, "half-opened": 1, "opened": 2}


class Breakers:
    def __init__(self, *, failures: int, reset_s: float) -> None:
        self._factory = AsyncCircuitBreakerFactory(default_threshold=failures, default_ttl=reset_s)
        self._breakers: dict[str, AsyncCircuitBreaker] = {}

    async def admit(self, model: str) -> AsyncCircuitBreaker | None:
        """The model's breaker with one call admitted, or None while its circuit is open.
        Every admitted call must end in ``succeeded`` or ``failed`` (or neither, if the
        caller went away)."""
        breaker = await self._breaker(model)
        try:
            await breaker.__aenter__()
        except OpenedState as exc:
            # purgatory raises the same instance on every refused call: drop the traceback
            # each raise would otherwise add to it, for as long as the circuit stays open.
            exc.__traceback__ = None
            _report(breaker)
            return None
        _report(breaker)
        return breaker

    async def succeeded(self, breaker: AsyncCircuitBreaker) -> None:
        await breaker.__aexit__(None, None, None)
        _report(breaker)

    async def failed(self, breaker: AsyncCircuitBreaker, exc: BaseException) -> None:
        await breaker.__aexit__(type(exc), exc, None)
        _report(breaker)

    def state(self, model: str) -> str:
        """ "closed", "opened" or "half-opened" (an opened circuit past its reset time reads
        "opened" until the next call moves it to half-open)."""
        breaker = self._breakers.get(model)
        return breaker.context.state if breaker else "closed"

    def is_open(self, model: str) -> bool:
        """Open and still within its reset time: calls would be refused."""
        breaker = self._breakers.get(model)
        if breaker is None or breaker.context.state != "opened":
            return False
        opened_at = breaker.context.opened_at or 0.0
        return time.time() <= opened_at + breaker.context.ttl  # purgatory's own clock

    async def _breaker(self, model: str) -> AsyncCircuitBreaker:
        breaker = self._breakers.get(model)
        if breaker is None:
            breaker = await self._factory.get_breaker(model)
            self._breakers[model] = breaker
            _report(breaker)
        return breaker


def _report(breaker: AsyncCircuitBreaker) -> None:
    BREAKER_STATE.labels(breaker.context.name).set(GAUGE.get(breaker.context.state, 0))

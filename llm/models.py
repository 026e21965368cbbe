"""``ChatModels``: the one place every model call goes through.

    models = ChatModels(settings)                 # once per process, inside the running loop
    async for event in models.answer(prompt, remaining_budget_usd=4.20, sla="interactive"):
        if isinstance(event, Delta): relay(event.text)
        else: finish(event)                       # Finished: text, usage (with cost_usd), citations
    await models.aclose()                         # at shutdown

``answer``:

1. estimates the prompt (``llm.prompt``) and asks the router (``llm.catalog.Router``) for the
   candidates (those of ``route`` alone, when a canary gives one): too-small windows, open
   circuits and models over the tenant's remaining budget are left out. Raises
   ``BudgetExceeded`` or ``ContextTooLong`` before any call when nothing fits;
2. tries the candidates in order. For each: the circuit breaker admits the call (or the model
   is skipped), the stream is opened and its first event awaited, with backoff
   (``core.retry.backoff``) on retriable errors — 429, 5xx, timeouts. A model that still fails,
   or fails for good (401, 404, 400), is recorded on its breaker and the next one is tried;
3. relays the rest of that model's stream, then yields one ``Finished`` whose usage names the
   model actually used and carries ``cost_usd``; ``Finished.skipped`` lists the models passed
   over and why, ``Finished.failed_calls`` counts the calls that failed on the way. With every
   candidate failed: ``ModelsUnavailable`` (retriable).

Retries and fallback stop at the first token. Once text has reached the user, retrying or
falling back would splice a second answer onto the first, so a later failure ends the answer
with ``AnswerInterrupted`` (carrying the partial text) and counts against the breaker.
A consumer that stops early (``aclose`` or cancellation) closes the provider's stream and
counts as neither success nor failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

from opentelemetry import trace
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker

from config import Settings
from core import tracing
from core.retry import backoff
from llm.breaker import Breakers
from llm.catalog import Catalog, ModelInfo, Need, Router, Sla
from llm.errors import AnswerInterrupted, ModelsUnavailable
from llm.events import Delta, Finished
from llm.prompt import Prompt, essential_tokens, history_tokens
from llm.providers import ChatProvider, create_provider

log = logging.getLogger("pdfchat.llm")

Event = Delta | Finished


class ChatModels:
    def __init__(
        self,
        settings: Settings,
        *,
        catalog: Catalog | None = None,
        providers: dict[str, ChatProvider] | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog or Catalog.from_settings(settings)
        self.breakers = Breakers(
            failures=settings.chat_breaker_failures, reset_s=settings.chat_breaker_reset_s
        )
        self.router = Router(
            self.catalog,
            interactive_ttft_ms=settings.chat_interactive_ttft_ms,
            is_open=self.breakers.is_open,
        )
        # Built now, so a missing key fails at start-up rather than on the first question.
        given = providers or {}
        self._providers: dict[str, ChatProvider] = {
            m.model: given.get(m.model) or create_provider(m, settings) for m in self.catalog.models
        }
        self.max_tokens = settings.chat_max_output_tokens

    def need(self, prompt: Prompt) -> Need:
        essential = essential_tokens(prompt)
        return Need(essential, essential + history_tokens(prompt), self.max_tokens)

    async def answer(
        self,
        prompt: Prompt,
        *,
        remaining_budget_usd: float | None = None,
        sla: Sla | None = None,
        route: Sequence[str] | None = None,
    ) -> AsyncIterator[Event]:
        candidates = self.router.choose(self.need(prompt), remaining_budget_usd, sla, route)
        skipped: list[tuple[str, str]] = []
        calls = _Calls()
        for info in candidates:
            breaker = await self.breakers.admit(info.model)
            if breaker is None:
                skipped.append((info.model, "circuit open"))
                continue
            # Current only while opening (no yield in between): across the yields below, the
            # consumer may resume or close this generator from another context.
            span = _start_span(info, skipped)
            try:
                try:
                    with trace.use_span(
                        span,
                        end_on_exit=False,
                        record_exception=False,
                        set_status_on_exception=False,
                    ):
                        first, events = await self._open(self._provider(info), prompt, span, calls)
                except Exception as exc:  # any failure before the first token: the next model
                    tracing.record_error(span, exc)
                    await self.breakers.failed(breaker, exc)
                    skipped.append((info.model, _reason(exc)))
                    log.warning("chat model %s failed, falling back: %s", info.model, _reason(exc))
                    continue
                span.set_attribute("pdfchat.chat.ttft_ms", _elapsed_ms(span))
                async with aclosing(events):
                    async for event in self._relay(info, first, events, breaker):
                        if isinstance(event, Finished):
                            event = replace(event, skipped=skipped, failed_calls=calls.failed)
                            _set_usage(span, event)
                            # Ended now: the consumer need not iterate past the last event.
                            span.end()
                        yield event
                return
            except AnswerInterrupted as exc:
                tracing.record_error(span, exc)
                raise
            except (GeneratorExit, asyncio.CancelledError):
                if span.is_recording():
                    span.set_attribute("pdfchat.chat.outcome", "abandoned")  # the user left
                raise
            finally:
                if span.is_recording():
                    span.end()
        raise ModelsUnavailable(
            "no chat model could answer: "
            + ("; ".join(f"{m}: {why}" for m, why in skipped) or "none configured is usable")
        )

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()

    # -----------------------------------------------------------------------------------------

    def _provider(self, info: ModelInfo) -> ChatProvider:
        return self._providers[info.model]

    async def _open(
        self, provider: ChatProvider, prompt: Prompt, span: trace.Span, calls: _Calls
    ) -> tuple[Event, AsyncGenerator[Event, None]]:
        """The provider's stream and its first event, retried with backoff on retriable
        errors; nothing has reached the user yet, so a retry is invisible (but for an event
        on the model's span)."""
        async for attempt in backoff(
            attempts=self.settings.chat_attempts,
            base_s=self.settings.retry_base_s,
            max_s=self.settings.chat_retry_max_s,
        ):
            with attempt:
                span.set_attribute("pdfchat.chat.attempts", attempt.retry_state.attempt_number)
                events = provider.stream(prompt, max_tokens=self.max_tokens)
                try:
                    return await anext(events), events
                except BaseException as exc:
                    await events.aclose()
                    if isinstance(exc, Exception):
                        calls.failed += 1
                        span.add_event("attempt failed", {"error": _reason(exc)})
                    raise
        raise AssertionError("unreachable: backoff reraises the last error")

    async def _relay(
        self,
        info: ModelInfo,
        first: Event,
        events: AsyncGenerator[Event, None],
        breaker: AsyncCircuitBreaker,
    ) -> AsyncIterator[Event]:
        parts: list[str] = []
        event = first
        try:
            while True:
                if isinstance(event, Finished):
                    break
                parts.append(event.text)
                yield event
                event = await anext(events)
        except Exception as exc:  # StopAsyncIteration too: a stream must end with Finished
            await self.breakers.failed(breaker, exc)
            raise AnswerInterrupted(
                f"{info.model} failed after it began to answer: {_reason(exc)}",
                model=info.model,
                partial_text="".join(parts),
            ) from exc
        await self.breakers.succeeded(breaker)
        usage = event.usage
        cost = info.cost_usd(usage.tokens_in, usage.tokens_out)
        yield replace(event, usage=replace(usage, model=info.model, cost_usd=cost))


@dataclass
class _Calls:
    """Provider calls of one answer that failed (``Finished.failed_calls``)."""

    failed: int = 0


def _start_span(info: ModelInfo, skipped: list[tuple[str, str]]) -> trace.Span:
    """A CLIENT span per model tried (GenAI semantic conventions where they apply)."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": info.provider,
        "gen_ai.request.model": info.name,
        "pdfchat.chat.model": info.model,
        "pdfchat.chat.fallback": bool(skipped),
    }
    if skipped:
        attributes["pdfchat.chat.fallback_from"] = [f"{m}: {why}" for m, why in skipped]
    return tracing.tracer.start_span(
        f"chat {info.model}", kind=trace.SpanKind.CLIENT, attributes=attributes
    )


def _set_usage(span: trace.Span, done: Finished) -> None:
    span.set_attributes(
        {
            "gen_ai.usage.input_tokens": done.usage.tokens_in,
            "gen_ai.usage.output_tokens": done.usage.tokens_out,
            "pdfchat.chat.cost_usd": done.usage.cost_usd,
            "pdfchat.chat.tokens_estimated": done.usage.estimated,
            "pdfchat.chat.citations": len(done.citations),
            "pdfchat.chat.outcome": "answered",
        }
    )


def _elapsed_ms(span: trace.Span) -> float:
    started = getattr(span, "start_time", None)  # SDK spans know it; no-op spans do not
    return round((time.time_ns() - started) / 1e6, 1) if started else 0.0


def _reason(exc: BaseException) -> str:
    return getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"

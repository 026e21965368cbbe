"""Every model call is a span (tokens, cost, time to first token, failures, fallback), and
each breaker's state is a gauge — through the real clients against the fake servers."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import REGISTRY

from core.tracing import tracer
from llm import ChatModels, Delta, Evidence, Finished, Prompt
from tests.core.spans import named
from tests.llm.fake_chat_apis import INPUT_TOKENS_BASE, FakeChatAPIs

PROMPT = Prompt(
    "How long do refunds take?",
    [Evidence("seg-a", "doc-1", 4, "Refunds are paid within 14 days of the return.", 0.9)],
)
RESET_S = 0.3


@pytest.fixture
async def models(chat_settings):
    made: list[ChatModels] = []

    def make(names: str, **overrides: object) -> ChatModels:
        values = {"chat_attempts": 1, "chat_breaker_failures": 2, "chat_breaker_reset_s": RESET_S}
        chat = ChatModels(chat_settings(names, **{**values, **overrides}))
        made.append(chat)
        return chat

    yield make
    for chat in made:
        await chat.aclose()


async def final(models: ChatModels) -> Finished:
    async for event in models.answer(PROMPT):
        if isinstance(event, Finished):
            return event
    raise AssertionError("no Finished event")


def breaker_state(model: str) -> float | None:
    return REGISTRY.get_sample_value("pdfchat_circuit_breaker_state", {"model": model})


@pytest.mark.parametrize("model", ["openai:gpt-4o", "cohere:command-r"])
async def test_a_model_call_is_a_span_with_its_usage(chat_apis, models, spans, model) -> None:
    chat_apis.replies[model.split(":")[1]] = "Refunds take 14 days [1]."
    with tracer.start_as_current_span("answer") as parent:
        done = await final(models(model))

    (span,) = named(spans, f"chat {model}")
    assert span.kind is SpanKind.CLIENT and span.parent.span_id == parent.get_span_context().span_id
    a = span.attributes
    assert (a["gen_ai.system"], a["gen_ai.request.model"]) == tuple(model.split(":"))
    assert a["gen_ai.usage.input_tokens"] == done.usage.tokens_in > INPUT_TOKENS_BASE
    assert a["gen_ai.usage.output_tokens"] == done.usage.tokens_out == 5  # one per word
    assert a["pdfchat.chat.cost_usd"] == done.usage.cost_usd > 0
    assert 0 < a["pdfchat.chat.ttft_ms"] < (span.end_time - span.start_time) / 1e6
    assert a["pdfchat.chat.fallback"] is False and a["pdfchat.chat.attempts"] == 1
    assert a["pdfchat.chat.outcome"] == "answered"
    assert span.status.status_code is StatusCode.UNSET


async def test_a_failed_model_is_an_error_and_the_next_is_marked_fallback(
    chat_apis: FakeChatAPIs, models, spans
) -> None:
    chat_apis.fail_always("gpt-4o", 500)
    done = await final(models("openai:gpt-4o,local:extractive", chat_attempts=2))

    assert done.usage.model == "local:extractive"
    (failed,) = named(spans, "chat openai:gpt-4o")
    (fallback,) = named(spans, "chat local:extractive")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["pdfchat.chat.attempts"] == 2
    assert [e.name for e in failed.events] == ["attempt failed", "attempt failed", "exception"]
    assert fallback.attributes["pdfchat.chat.fallback"] is True
    assert fallback.attributes["pdfchat.chat.fallback_from"][0].startswith("openai:gpt-4o: ")
    assert fallback.status.status_code is StatusCode.UNSET


async def test_a_retried_call_that_then_answers_is_no_error(chat_apis, models, spans) -> None:
    chat_apis.fail("gpt-4o", 429)
    await final(models("openai:gpt-4o", chat_attempts=3))
    (span,) = named(spans, "chat openai:gpt-4o")
    assert span.attributes["pdfchat.chat.attempts"] == 2
    assert [e.name for e in span.events] == ["attempt failed"]
    assert span.status.status_code is StatusCode.UNSET


async def test_a_user_who_leaves_is_no_error(chat_apis, models, spans) -> None:
    chat_apis.replies["gpt-4o"] = "one two three four five six [1]."
    stream = models("openai:gpt-4o").answer(PROMPT)
    assert isinstance(await anext(stream), Delta)
    await stream.aclose()
    (span,) = named(spans, "chat openai:gpt-4o")
    assert span.attributes["pdfchat.chat.outcome"] == "abandoned"
    assert span.status.status_code is StatusCode.UNSET


async def test_the_breaker_gauge_follows_the_circuit(chat_apis: FakeChatAPIs, models) -> None:
    chat = models("openai:gpt-4o-mini,local:extractive")
    chat_apis.fail_always("gpt-4o-mini", 500)
    await final(chat)
    assert breaker_state("openai:gpt-4o-mini") == 0  # one failure: still closed
    await final(chat)
    assert breaker_state("openai:gpt-4o-mini") == 2  # open
    await final(chat)  # refused without a call
    assert breaker_state("openai:gpt-4o-mini") == 2
    assert breaker_state("local:extractive") == 0

    chat_apis.heal("gpt-4o-mini")
    await asyncio.sleep(RESET_S + 0.05)  # the breaker's own clock: its reset time must pass
    chat_apis.delta_delay_s = 0.05
    stream = chat.answer(PROMPT)
    await anext(stream)  # admitted on trial, answering: half-open
    assert breaker_state("openai:gpt-4o-mini") == 1
    async for _ in stream:
        pass
    assert breaker_state("openai:gpt-4o-mini") == 0  # the trial succeeded: closed

"""ChatModels: routing by budget, the circuit breaker, early stops."""

from __future__ import annotations

import asyncio

import pytest

from llm import ChatModels, Delta, Evidence, Finished, Prompt
from llm.errors import BudgetExceeded
from tests.llm.fake_chat_apis import FakeChatAPIs

PROMPT = Prompt(
    "How long do refunds take?",
    [Evidence("seg-a", "doc-1", 4, "Refunds are paid within 14 days of the return.", 0.9)],
)
RESET_S = 0.3


async def final(models: ChatModels, **kwargs) -> Finished:
    async for event in models.answer(PROMPT, **kwargs):
        if isinstance(event, Finished):
            return event
    raise AssertionError("no Finished event")


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


async def test_local_default_answers(models) -> None:
    done = await final(models("local:extractive"))
    assert "14 days" in done.text and done.usage.model == "local:extractive"
    assert done.usage.cost_usd == 0.0 and done.citations[0].page == 4


async def test_over_budget_tenant_gets_the_free_model(chat_apis: FakeChatAPIs, models) -> None:
    chat = models("openai:gpt-4o,local:extractive")
    done = await final(chat, remaining_budget_usd=0.0)
    assert done.usage.model == "local:extractive"
    assert chat_apis.calls() == []
    done = await final(chat, remaining_budget_usd=5.0)
    assert done.usage.model == "openai:gpt-4o" and done.usage.cost_usd > 0


async def test_refused_when_nothing_fits_the_budget(chat_apis: FakeChatAPIs, models) -> None:
    with pytest.raises(BudgetExceeded) as info:
        await final(models("openai:gpt-4o,cohere:command-r"), remaining_budget_usd=0.0001)
    assert info.value.code == "budget_exceeded"
    assert chat_apis.calls() == []  # refused before any call


async def test_breaker_opens_skips_then_half_opens(chat_apis: FakeChatAPIs, models) -> None:
    chat = models("openai:gpt-4o,local:extractive")
    chat_apis.fail_always("gpt-4o", 500)
    for expected_calls in (1, 2):
        done = await final(chat)
        assert done.usage.model == "local:extractive"
        assert len(chat_apis.calls("gpt-4o")) == expected_calls
    assert chat.breakers.state("openai:gpt-4o") == "opened"

    chat_apis.heal("gpt-4o")
    for _ in range(3):  # open: skipped without a call, even though it would work now
        assert (await final(chat)).usage.model == "local:extractive"
    assert len(chat_apis.calls("gpt-4o")) == 2

    await asyncio.sleep(RESET_S + 0.05)  # half-open: one call goes through and succeeds
    assert (await final(chat)).usage.model == "openai:gpt-4o"
    assert chat.breakers.state("openai:gpt-4o") == "closed"
    assert len(chat_apis.calls("gpt-4o")) == 3


async def test_a_failed_trial_call_reopens_the_circuit(chat_apis: FakeChatAPIs, models) -> None:
    chat = models("openai:gpt-4o,local:extractive")
    chat_apis.fail_always("gpt-4o", 503)
    await final(chat)
    await final(chat)
    await asyncio.sleep(RESET_S + 0.05)
    assert (await final(chat)).usage.model == "local:extractive"
    assert len(chat_apis.calls("gpt-4o")) == 3  # the trial call
    assert chat.breakers.state("openai:gpt-4o") == "opened"
    await final(chat)
    assert len(chat_apis.calls("gpt-4o")) == 3


async def test_a_consumer_that_stops_early_is_not_a_failure(
    chat_apis: FakeChatAPIs, models
) -> None:
    chat = models("openai:gpt-4o,local:extractive", chat_breaker_failures=1)
    chat_apis.replies["gpt-4o"] = "one two three four five six [1]."
    chat_apis.delta_delay_s = 0.01
    for _ in range(2):
        stream = chat.answer(PROMPT)
        first = await anext(stream)
        assert isinstance(first, Delta)
        await stream.aclose()  # the user closed the socket
    assert chat.breakers.state("openai:gpt-4o") == "closed"

    async def cancelled() -> None:
        async for _ in chat.answer(PROMPT):
            await asyncio.sleep(10)

    task = asyncio.create_task(cancelled())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert chat.breakers.state("openai:gpt-4o") == "closed"
    assert (await final(chat)).usage.model == "openai:gpt-4o"


async def test_one_failure_then_success_keeps_the_circuit_closed(
    chat_apis: FakeChatAPIs, models
) -> None:
    chat = models("openai:gpt-4o,local:extractive")
    chat_apis.fail("gpt-4o", 500)
    assert (await final(chat)).usage.model == "local:extractive"
    assert (await final(chat)).usage.model == "openai:gpt-4o"  # success resets the count
    chat_apis.fail("gpt-4o", 500)
    await final(chat)
    assert chat.breakers.state("openai:gpt-4o") == "closed"


def test_a_missing_key_fails_at_start_up() -> None:
    from config import get_settings
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="PDFCHAT_OPENAI_API_KEY"):
        ChatModels(
            get_settings(chat_models="openai:gpt-4o", openai_api_key=None, openai_base_url=None)
        )

"""OpenAI and Cohere through their real client libraries against tests/llm/fake_chat_apis."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config import Settings
from core.errors import TransientError
from llm import REFUSAL, ChatModels, Delta, Evidence, Finished, Prompt, Turn
from llm.catalog import Catalog, ModelInfo
from llm.errors import AnswerInterrupted, ModelsUnavailable
from llm.providers import create_provider
from llm.remote import RemoteChat
from retrieval import ProviderError
from tests.llm.fake_chat_apis import INPUT_TOKENS_BASE, FakeChatAPIs, prompt_words

EVIDENCE = [
    Evidence(
        "seg-a",
        "doc-1",
        4,
        "Refunds are paid within 14 days. Damaged goods are replaced free of charge.",
        0.9,
        title="terms.pdf",
    ),
    Evidence("seg-b", "doc-2", 9, "Shipping to Norway takes five working days.", 0.7),
]
PROMPT = Prompt(
    "How long do refunds take, and what about shipping to Norway?",
    EVIDENCE,
    [Turn("user", "Hi"), Turn("assistant", "Hello! Ask me about your documents.")],
)
REPLY = "Refunds are paid within 14 days [1]. Shipping to Norway takes five days [2]."

PROVIDERS = [
    pytest.param("openai:gpt-4o-mini", "/v1/chat/completions", id="openai"),
    pytest.param("cohere:command-r", "/v2/chat", id="cohere"),
]


async def collect(
    models: ChatModels, prompt: Prompt = PROMPT, **kwargs
) -> tuple[list[str], Finished]:
    texts: list[str] = []
    async for event in models.answer(prompt, **kwargs):
        if isinstance(event, Delta):
            texts.append(event.text)
        else:
            return texts, event
    raise AssertionError("no Finished event")


@pytest.fixture
async def chat_models(chat_settings: Callable[..., Settings]):
    made: list[ChatModels] = []

    def make(models: str, **overrides: object) -> ChatModels:
        chat = ChatModels(chat_settings(models, **overrides))
        made.append(chat)
        return chat

    yield make
    for chat in made:
        await chat.aclose()


@pytest.mark.parametrize(("model", "path"), PROVIDERS)
async def test_streams_deltas_in_order_with_usage_and_citations(
    chat_apis: FakeChatAPIs, chat_models, model: str, path: str
) -> None:
    name = model.split(":")[1]
    chat_apis.replies[name] = REPLY
    texts, done = await collect(chat_models(model))
    assert texts == chat_apis.deltas(name) and len(texts) > 5
    assert done.text == REPLY
    # The provider's reported counts, not our estimate.
    (call,) = chat_apis.calls(name)
    assert call.path == path
    assert done.usage.model == model and not done.usage.estimated
    assert done.usage.tokens_in == INPUT_TOKENS_BASE + prompt_words(call.body)
    assert done.usage.tokens_out == len(texts)
    assert done.usage.cost_usd == pytest.approx(
        (done.usage.tokens_in * 0.15 + done.usage.tokens_out * 0.60) / 1e6
    )
    assert [(c.segment_id, c.page, c.quote) for c in done.citations] == [
        ("seg-a", 4, "Refunds are paid within 14 days."),
        ("seg-b", 9, "Shipping to Norway takes five working days."),
    ]


@pytest.mark.parametrize(("model", "path"), PROVIDERS)
async def test_request_carries_the_prompt_pipeline(
    chat_apis: FakeChatAPIs, chat_models, model: str, path: str
) -> None:
    await collect(chat_models(model, chat_max_output_tokens=321))
    body = chat_apis.calls(model.split(":")[1])[0].body
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "cite" in body["messages"][0]["content"].lower()
    user = body["messages"][-1]["content"]
    assert "[1] (terms.pdf, page 4) Refunds are paid" in user
    assert "[2] (doc-2, page 9) Shipping" in user
    assert user.endswith(PROMPT.question)
    assert body["stream"] is True
    # OpenAI-compatible servers (a custom base_url) get the widely known max_tokens field.
    assert body["max_tokens"] == 321
    if path.startswith("/v1/"):
        assert body["stream_options"] == {"include_usage": True}
    headers = chat_apis.calls()[0].headers
    assert headers["authorization"] == "Bearer test-key"


@pytest.mark.parametrize(("model", "path"), PROVIDERS)
async def test_429_then_success_is_retried_before_the_first_token(
    chat_apis: FakeChatAPIs, chat_models, model: str, path: str
) -> None:
    name = model.split(":")[1]
    chat_apis.fail(name, 429, 503)
    texts, done = await collect(chat_models(model))
    assert len(chat_apis.calls(name)) == 3
    assert done.usage.model == model and done.text and done.skipped == []
    assert "".join(texts) == done.text


@pytest.mark.parametrize(("model", "path"), PROVIDERS)
async def test_persistent_500_falls_back_to_the_next_model(
    chat_apis: FakeChatAPIs, chat_models, model: str, path: str
) -> None:
    name = model.split(":")[1]
    chat_apis.fail_always(name, 500)
    chat_apis.replies["gpt-4.1-nano"] = "From the fallback [1]."
    texts, done = await collect(chat_models(f"{model},openai:gpt-4.1-nano", chat_attempts=2))
    assert len(chat_apis.calls(name)) == 2  # retried, then given up
    assert done.usage.model == "openai:gpt-4.1-nano"
    assert "".join(texts) == "From the fallback [1]."
    assert done.skipped[0][0] == model and "500" in done.skipped[0][1]


@pytest.mark.parametrize(("model", "path"), PROVIDERS)
async def test_401_is_not_retried_and_falls_back(
    chat_apis: FakeChatAPIs, chat_models, model: str, path: str
) -> None:
    name = model.split(":")[1]
    chat_apis.fail_always(name, 401)
    _, done = await collect(chat_models(f"{model},local:extractive"))
    assert len(chat_apis.calls(name)) == 1
    assert done.usage.model == "local:extractive" and done.usage.cost_usd == 0.0
    assert "API_KEY" in done.skipped[0][1]


@pytest.mark.parametrize(("model", "path"), PROVIDERS)
async def test_provider_errors_are_classified(
    chat_apis: FakeChatAPIs, chat_settings, model: str, path: str
) -> None:
    settings = chat_settings(model)
    provider = create_provider(Catalog.from_settings(settings)[model], settings)
    name = model.split(":")[1]
    try:
        for status, kind, retriable in [
            (401, ProviderError, False),
            (400, ProviderError, False),
            (429, TransientError, True),
            (502, TransientError, True),
        ]:
            chat_apis.fail(name, status)
            with pytest.raises(kind) as info:
                async for _ in provider.stream(PROMPT, max_tokens=50):
                    pass
            assert info.value.retriable is retriable
            assert str(status) in info.value.message
    finally:
        await provider.aclose()


@pytest.mark.parametrize(("model", "path"), PROVIDERS)
async def test_failure_after_the_first_token_is_final(
    chat_apis: FakeChatAPIs, chat_models, model: str, path: str
) -> None:
    name = model.split(":")[1]
    chat_apis.replies[name] = REPLY
    chat_apis.drop_after[name] = 3
    models = chat_models(f"{model},local:extractive")
    texts: list[str] = []
    with pytest.raises(AnswerInterrupted) as info:
        async for event in models.answer(PROMPT):
            assert isinstance(event, Delta)  # never a Finished, never the local model's text
            texts.append(event.text)
    assert texts == chat_apis.deltas(name)[:3]
    assert info.value.partial_text == "".join(texts)
    assert info.value.model == model and not info.value.retriable
    assert len(chat_apis.calls(name)) == 1  # no retry once text has been streamed


async def test_every_model_failing_is_models_unavailable(
    chat_apis: FakeChatAPIs, chat_models
) -> None:
    chat_apis.fail_always("gpt-4o", 503)
    chat_apis.fail_always("command-r", 401)
    with pytest.raises(ModelsUnavailable) as info:
        await collect(chat_models("openai:gpt-4o,cohere:command-r", chat_attempts=1))
    assert info.value.retriable and info.value.code == "models_unavailable"
    assert "openai:gpt-4o" in info.value.message and "cohere:command-r" in info.value.message


async def test_usage_is_estimated_when_the_server_sends_none(
    chat_apis: FakeChatAPIs, chat_models
) -> None:
    # An OpenAI-compatible server that ignores stream_options: a Cohere-style server cannot
    # be scripted that way, so patch the fake's request to drop the option.
    original = chat_apis.status_for

    def without_usage(path, headers, body):
        if isinstance(body, dict):
            body.pop("stream_options", None)
        return original(path, headers, body)

    chat_apis.status_for = without_usage  # type: ignore[method-assign]
    chat_apis.replies["gpt-4o"] = REPLY
    _, done = await collect(chat_models("openai:gpt-4o"))
    assert done.usage.estimated
    assert 100 < done.usage.tokens_in < INPUT_TOKENS_BASE  # our estimate of the prompt
    assert 15 <= done.usage.tokens_out <= 30
    assert done.usage.cost_usd > 0


async def test_a_consumer_that_stops_early_closes_the_providers_stream_at_once():
    """Its HTTP response is released when the answer is given up, not whenever the garbage
    collector gets to the generators (late, and with a warning)."""
    closed: list[str] = []

    class Provider(RemoteChat):
        model = "openai:test"
        _info = ModelInfo("openai:test", 8192, 0.0, 0.0)

        async def _pieces(self, rendered, max_tokens):
            try:
                yield "one "
                yield "two "
            finally:
                closed.append("pieces")

    stream = Provider().stream(Prompt(question="q?"), max_tokens=50)
    assert await anext(stream) == Delta("one ")
    await stream.aclose()
    assert closed == ["pieces"]


@pytest.mark.parametrize(("model", "path"), PROVIDERS)
@pytest.mark.parametrize(
    "reply",
    [
        "I could not find this in your documents.",
        "I could not find this in your documents [1].",  # a marker on a refusal cites nothing
        "I couldn't find the answer in the provided context blocks.",
        "我无法在您的文档中找到这个问题的答案。",  # the question was in Chinese
        "未能在提供的资料中找到相关信息。",
        "提供的文档中找不到这个问题的答案。",
        "ドキュメントの中にこの質問の答えが見つかりませんでした。",
        "문서에서 이 질문의 답을 찾을 수 없습니다.",
    ],
)
async def test_a_refusal_is_passed_through_as_a_refusal(
    chat_apis: FakeChatAPIs, chat_models, model: str, path: str, reply: str
) -> None:
    name = model.split(":")[1]
    chat_apis.replies[name] = reply
    texts, done = await collect(chat_models(model))
    assert "".join(texts) == done.text == reply
    assert done.found is False and done.citations == []
    # The model was told the one sentence to say when the blocks do not answer.
    system = chat_apis.calls(name)[0].body["messages"][0]["content"]
    assert REFUSAL in system


@pytest.mark.parametrize(("model", "path"), PROVIDERS)
async def test_an_answer_that_mentions_finding_is_not_a_refusal(
    chat_apis: FakeChatAPIs, chat_models, model: str, path: str
) -> None:
    name = model.split(":")[1]
    chat_apis.replies[name] = "You can find refunds in the terms: paid within 14 days [1]."
    _, done = await collect(chat_models(model))
    assert done.found is True and [c.segment_id for c in done.citations] == ["seg-a"]

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from config import Settings, get_settings
from tests.core.spans import memory_exporter
from tests.llm.fake_chat_apis import FakeChatAPIs
from tests.retrieval.fake_apis import API_KEY


@pytest.fixture
def chat_apis() -> Iterator[FakeChatAPIs]:
    with FakeChatAPIs() as apis:
        yield apis


@pytest.fixture
def chat_settings(chat_apis: FakeChatAPIs) -> Callable[..., Settings]:
    """Settings pointing both providers at the fake, with quick retries."""

    def make(models: str, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "chat_models": models,
            "openai_api_key": API_KEY,
            "openai_base_url": f"{chat_apis.url}/v1",
            "cohere_api_key": API_KEY,
            "cohere_base_url": chat_apis.url,
            "retry_base_s": 0.01,
            "chat_retry_max_s": 0.05,
            "chat_timeout_s": 10.0,
            **overrides,
        }
        return get_settings(**values)

    return make


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    return memory_exporter()


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    span_exporter.clear()
    yield span_exporter
    span_exporter.clear()

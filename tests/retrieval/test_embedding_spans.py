"""Each call to an embedding provider is a span with its model and batch size (a remote
batch's retries inside it), through the real clients against the fake servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from config import Settings
from core.errors import TransientError
from core.tracing import tracer
from retrieval import Embedder, LocalEmbedder, RetryPolicy, create_embedder
from tests.core.spans import memory_exporter
from tests.retrieval.fake_apis import API_KEY, FakeAPIs

FAST = RetryPolicy(attempts=3, base_s=0.01, max_s=0.02, timeout_s=5.0)


@pytest.fixture(scope="module")
def span_exporter() -> InMemorySpanExporter:
    return memory_exporter()


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    span_exporter.clear()
    yield span_exporter
    span_exporter.clear()


@pytest.fixture
def apis() -> Iterator[FakeAPIs]:
    with FakeAPIs() as server:
        yield server


@pytest.fixture
async def embedders() -> AsyncIterator[list[Embedder]]:
    made: list[Embedder] = []
    yield made
    for embedder in made:
        await embedder.aclose()


def remote(apis: FakeAPIs, provider: str) -> Embedder:
    values: dict[str, object] = {
        "embedding_provider": provider,
        "embedding_batch_size": 2,
        "openai_api_key": API_KEY,
        "openai_base_url": f"{apis.url}/v1",
        "cohere_api_key": API_KEY,
        "cohere_base_url": apis.url,
    }
    return create_embedder(Settings(**values), retry=FAST)  # type: ignore[arg-type]


def embed_spans(exporter: InMemorySpanExporter):
    return [s for s in exporter.get_finished_spans() if s.name.startswith("embed ")]


@pytest.mark.parametrize(
    ("provider", "path"), [("openai", "/v1/embeddings"), ("cohere", "/v2/embed")]
)
async def test_a_span_per_remote_batch(apis, embedders, spans, provider, path) -> None:
    embedder = remote(apis, provider)
    embedders.append(embedder)
    apis.fail(path, 429)  # the first batch is retried inside its span
    with tracer.start_as_current_span("document") as parent:
        await embedder.embed_documents(["one", "two", "three"])

    batches = embed_spans(spans)
    assert [s.attributes["pdfchat.embedding.batch_size"] for s in batches] == [2, 1]
    assert len(apis.calls(path)) == 3
    for span in batches:
        assert span.name == f"embed {embedder.model}" and span.kind is SpanKind.CLIENT
        assert span.attributes["pdfchat.embedding.model"] == embedder.model
        assert span.attributes["gen_ai.system"] == provider
        assert span.parent.span_id == parent.get_span_context().span_id
        assert span.status.status_code is StatusCode.UNSET


async def test_a_batch_that_fails_for_good_is_an_error_span(apis, embedders, spans) -> None:
    embedder = remote(apis, "openai")
    embedders.append(embedder)
    apis.fail_always("/v1/embeddings", 500)
    with pytest.raises(TransientError):
        await embedder.embed_query("never")
    (span,) = embed_spans(spans)
    assert span.status.status_code is StatusCode.ERROR


async def test_the_local_embedder_is_one_span_per_call(spans) -> None:
    await LocalEmbedder(batch_size=2).embed_documents(["a b", "c d", "e f"])
    (span,) = embed_spans(spans)
    assert span.kind is SpanKind.INTERNAL
    assert span.attributes["pdfchat.embedding.batch_size"] == 3
    assert span.attributes["pdfchat.embedding.model"] == LocalEmbedder.model

"""The real app over PostgreSQL alone (no Kafka: its lifespan is not run, and the extensions
it would set are set here), and the spans it records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from quart import Quart

from core.flags import FlagView
from core.tokens import TokenVerifier, mint
from llm.catalog import Catalog
from retrieval import LocalEmbedder, create_reranker
from storage.blobs import create_blob_store
from tests.core.spans import memory_exporter
from web.app import create_app
from workflows.search import Embedders
from workflows.usage import budget_of


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    return memory_exporter()


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    span_exporter.clear()
    yield span_exporter
    span_exporter.clear()


@pytest.fixture
def make_app(postgres_settings, pg) -> Callable[..., Any]:
    """``await make_app(**setting_overrides)``: the app with these settings."""

    async def make(**overrides: Any) -> Quart:
        settings = postgres_settings.model_copy(update=overrides)
        app = create_app(settings)
        verifier = TokenVerifier(settings)
        await verifier.load_keys()
        embedder = LocalEmbedder()
        app.extensions.update(
            pool=pg,
            verifier=verifier,
            embedders=Embedders(settings, embedder),
            reranker=create_reranker(settings, embedder),
            blobs=create_blob_store(settings.blob_backend, settings.blob_root),
            budget=budget_of(settings, Catalog.from_settings(settings)),
            flags=FlagView("127.0.0.1:1"),  # not started: no flag set, unless a test adds one
        )
        return app

    return make


@pytest.fixture
async def app(make_app) -> Quart:
    return await make_app()


@pytest.fixture
def auth(postgres_settings):
    def headers(tenant: str, **extra: str) -> dict[str, str]:
        token = mint(postgres_settings, tenant=tenant, user="tester", roles=["admin"])
        return {"Authorization": f"Bearer {token}", **extra}

    return headers

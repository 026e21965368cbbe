"""The real app over PostgreSQL alone (no Kafka: its lifespan is not run, and the extensions
it would set are set here), and the spans it records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from quart import Quart

from core.tokens import mint
from tests.core.spans import memory_exporter
from tests.web.real_app import app_over_postgres


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
        return await app_over_postgres(postgres_settings.model_copy(update=overrides), pg)

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

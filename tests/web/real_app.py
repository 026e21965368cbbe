"""The real web app over PostgreSQL alone: no Kafka (its lifespan is not run), so the
extensions the lifespan would set are set here, and the flag view is an idle one."""

from __future__ import annotations

import asyncpg
from quart import Quart

from config import Settings
from core.flags import FlagView
from core.tokens import TokenVerifier
from llm.catalog import Catalog
from retrieval import LocalEmbedder, create_reranker
from storage.blobs import create_blob_store
from web.app import create_app
from workflows.search import Embedders
from workflows.usage import budget_of


async def app_over_postgres(settings: Settings, pool: asyncpg.Pool) -> Quart:
    app = create_app(settings)
    verifier = TokenVerifier(settings)
    await verifier.load_keys()
    embedder = LocalEmbedder()
    app.extensions.update(
        pool=pool,
        verifier=verifier,
        embedders=Embedders(settings, embedder),
        reranker=create_reranker(settings, embedder),
        blobs=create_blob_store(settings.blob_backend, settings.blob_root),
        budget=budget_of(settings, Catalog.from_settings(settings)),
        flags=FlagView("127.0.0.1:1"),  # not started: no flag set, unless a test adds one
    )
    return app

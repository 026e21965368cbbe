"""The Quart application: API v1 over the storage layer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from quart import Quart

import storage
from config import Settings
from core.flags import FlagView
from core.heap import settle_after_start
from core.kafka import declare_topics
from core.tokens import TokenVerifier
from llm.catalog import Catalog
from retrieval import create_embedder, create_reranker
from storage.blobs import create_blob_store
from web import analytics, audit, chat, documents, flags, health, pages, search, ui
from web.errors import register_error_handlers
from web.streams import AnswerStreams
from web.telemetry import instrument
from workflows import gauges
from workflows.search import Embedders
from workflows.usage import budget_of

# Room for the multipart envelope around a file of the largest allowed size.
MULTIPART_OVERHEAD = 64 * 1024


def create_app(settings: Settings) -> Quart:
    app = Quart("pdfchat")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + MULTIPART_OVERHEAD
    app.extensions["settings"] = settings
    app.register_blueprint(health.blueprint)
    app.register_blueprint(documents.blueprint)
    app.register_blueprint(search.blueprint)
    app.register_blueprint(chat.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(analytics.blueprint)
    app.register_blueprint(audit.blueprint)
    app.register_blueprint(flags.blueprint)
    app.register_blueprint(ui.blueprint)
    register_error_handlers(app)
    # Request ids, a span per request and socket, HTTP metrics (web/telemetry.py).
    instrument(app)

    @app.while_serving
    async def lifespan() -> AsyncGenerator[None, None]:
        verifier = TokenVerifier(settings)
        await verifier.load_keys()
        pool = await storage.create_pool(settings.dsn)
        embedders = Embedders(settings, create_embedder(settings))
        await declare_topics(settings)
        streams = AnswerStreams(
            settings.kafka_bootstrap,
            retention_s=settings.answer_retention_s,
            queue_max=settings.socket_queue_max,
        )
        following = asyncio.create_task(streams.run(), name="answer-streams")
        flag_view = FlagView(settings.kafka_bootstrap)
        flagging = asyncio.create_task(flag_view.run(), name="flags")
        budget = budget_of(settings, Catalog.from_settings(settings), flag_view)
        gauging = asyncio.create_task(gauges.poll_forever(settings, pool, budget), name="gauges")
        # Not the main embedder: with a paid one, every search would re-embed its candidates
        # through the provider's API. The local re-ranker brings its own.
        reranker = create_reranker(settings)
        app.extensions.update(
            pool=pool,
            verifier=verifier,
            blobs=create_blob_store(settings.blob_backend, settings.blob_root),
            embedders=embedders,
            reranker=reranker,
            streams=streams,
            budget=budget,
            flags=flag_view,
        )
        settle_after_start()
        try:
            yield
        finally:
            for task in (gauging, flagging, following):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task  # each closes its Kafka clients
            await reranker.aclose()
            await embedders.aclose()
            await pool.close()

    return app

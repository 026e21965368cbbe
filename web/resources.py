"""The app's shared resources, typed, for routes and sockets: ``resources.pool()`` and so on.

``create_app`` puts the settings in ``app.extensions``; the lifespan adds the rest when the app
starts serving (tests of one route set only what it needs).
"""

from __future__ import annotations

from typing import cast

import asyncpg
from quart import current_app

from config import Settings
from core.tokens import TokenVerifier
from retrieval import Reranker
from storage.blobs import BlobStore
from web.streams import AnswerStreams
from workflows.search import Embedders
from workflows.usage import Budget


def settings() -> Settings:
    return cast(Settings, current_app.extensions["settings"])


def pool() -> asyncpg.Pool:
    return cast(asyncpg.Pool, current_app.extensions["pool"])


def verifier() -> TokenVerifier:
    return cast(TokenVerifier, current_app.extensions["verifier"])


def blobs() -> BlobStore:
    return cast(BlobStore, current_app.extensions["blobs"])


def embedders() -> Embedders:
    return cast(Embedders, current_app.extensions["embedders"])


def reranker() -> Reranker:
    return cast(Reranker, current_app.extensions["reranker"])


def streams() -> AnswerStreams:
    return cast(AnswerStreams, current_app.extensions["streams"])


def budget() -> Budget:
    return cast(Budget, current_app.extensions["budget"])

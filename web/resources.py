"""The app's shared resources, typed, for routes and sockets: ``resources.pool()`` and so on.

``create_app`` puts the settings in ``app.extensions``; the lifespan adds the rest when the app
starts serving (tests of one route set only what it needs).
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

import asyncpg
from quart import current_app

from config import Settings
from core.flags import FlagView
from core.tokens import TokenVerifier
from retrieval import Reranker
from storage.blobs import BlobStore
from web.streams import AnswerStreams
from workflows.search import Embedders
from workflows.usage import Budget

T = TypeVar("T")


class _Extension(Generic[T]):
    """``resources.pool()`` reads ``current_app.extensions["pool"]``, typed."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self) -> T:
        return cast(T, current_app.extensions[self.name])


settings = _Extension[Settings]("settings")
pool = _Extension[asyncpg.Pool]("pool")
verifier = _Extension[TokenVerifier]("verifier")
blobs = _Extension[BlobStore]("blobs")
embedders = _Extension[Embedders]("embedders")
reranker = _Extension[Reranker]("reranker")
streams = _Extension[AnswerStreams]("streams")
budget = _Extension[Budget]("budget")
flags = _Extension[FlagView]("flags")

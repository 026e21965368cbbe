"""Postgres and blob store access. Knows nothing of web, agents or topics."""

from storage import blobs, documents, outbox, segments
from storage.db import connect, create_pool, migrate, migrate_database

__all__ = [
    "blobs",
    "connect",
    "create_pool",
    "documents",
    "migrate",
    "migrate_database",
    "outbox",
    "segments",
]

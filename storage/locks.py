"""Every Postgres advisory lock pdfchat takes, in one place, so no two duties share an id."""

from __future__ import annotations

from enum import IntEnum


class Lock(IntEnum):
    # "pdf" in hex, then a number per lock.
    MIGRATION = 0x706466_0001  # serialises concurrent migrators
    RELAY = 0x706466_0002  # one outbox relay at a time keeps each key's events in order
    INDEX_BUILD = 0x706466_0003  # one HNSW index build at a time
    MAINTENANCE = 0x706466_0004  # one maintenance sweeper at a time

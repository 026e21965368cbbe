"""Feature flags and dynamic settings (version 1): the latest state of each flag.

A compacted topic: the broker keeps the last record of every key, so a process that reads it
from the beginning knows every flag's current state (core/flags.py). Written through the
outbox with the change in PostgreSQL, the record of truth (storage/flags.py).

A flag is global (``tenant_id`` ``"*"``, the default of every tenant) or one tenant's own
(overriding the default for that tenant). The key is ``<tenant>:<service>:<name>``, so the
key's prefix is the record's tenant, as on every topic.
"""

from __future__ import annotations

from datetime import datetime

import faust

FLAGS = "pdfchat.flags.v1"
EVERY_TENANT = "*"


def flag_key(tenant_id: str, service: str, name: str) -> str:
    return f"{tenant_id}:{service}:{name}"


class FlagChanged(
    faust.Record, serializer="json", isodates=True, namespace="pdfchat.flags.FlagChanged.v1"
):
    """The state of flag ``service``/``name`` for ``tenant_id`` from ``updated_at`` on;
    ``value`` is JSON text (a dynamic setting) or None."""

    tenant_id: str
    service: str
    name: str
    enabled: bool
    rollout_percent: int
    value: str | None
    updated_at: datetime
    updated_by: str

    def kafka_key(self) -> str:
        return flag_key(self.tenant_id, self.service, self.name)

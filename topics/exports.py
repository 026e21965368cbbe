"""Per-tenant copies of the analytics topics, for subscribers allowed one tenant's data.

Kafka authorizes by topic, not by record: an analyst limited to one tenant reads copies of
that tenant's records on topics of its own, which the broker's ACLs grant by exact name. The
records are the same (same schemas, keys and headers); only the topic differs.
"""

from __future__ import annotations

from topics.chat import CHAT_REQUESTED, USAGE
from topics.documents import PARSED, READY, STATUS

# What an analyst gets: a document's life and the questions asked, with their cost. Not the
# answer stream (a record per token) nor the parse work orders (blob keys, internal).
EXPORTED = (STATUS, PARSED, READY, CHAT_REQUESTED, USAGE)


def tenant_topic(tenant_id: str, topic: str) -> str:
    """``pdfchat.tenant.<tenant>.documents.status.v1`` for ``pdfchat.documents.status.v1``.

    Distinct for every (tenant, topic): no exported name is a dotted suffix of another, so a
    tenant id with dots (``acme.eu``) cannot name another tenant's topic."""
    return f"pdfchat.tenant.{tenant_id}.{topic.removeprefix('pdfchat.')}"


def analytics_group(tenant_id: str, user: str) -> str:
    """The one consumer group an analyst may use."""
    return f"analytics.{tenant_id}.{user}"

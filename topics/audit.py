"""The audit trail (version 1): every sensitive act, who did it, to what.

Written through the outbox in the same transaction as the act, so an act that committed is
never missing from the trail, and one that did not is never in it. Keyed by tenant: one
tenant's trail is in one partition, in order, and the audit agent chains it (storage/audit.py).
"""

from __future__ import annotations

from datetime import datetime

import faust

AUDIT = "pdfchat.audit.v1"

# The acts recorded, as `action` names them.
DOCUMENT_DELETED = "document.deleted"
CONVERSATION_DELETED = "conversation.deleted"
ANALYST_GRANTED = "analytics.granted"
ANALYST_REVOKED = "analytics.revoked"
FLAG_CHANGED = "flag.changed"  # tenant "*": a default of every tenant (topics/flags.py)
AUTH_FAILURES = "auth.failures"  # repeated refused tokens from one address for one tenant


class AuditEvent(
    faust.Record, serializer="json", isodates=True, namespace="pdfchat.audit.AuditEvent.v1"
):
    """``actor`` did ``action`` to ``target`` in ``tenant_id``; ``detail`` is JSON text."""

    tenant_id: str
    audit_id: str
    at: datetime
    actor: str
    action: str
    target: str
    detail: str | None = None
    request_id: str | None = None

    def kafka_key(self) -> str:
        return self.tenant_id

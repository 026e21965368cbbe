"""How records are keyed: by tenant, then by the document or session they are about."""

from __future__ import annotations

import faust


def tenant_key(tenant_id: str, entity_id: str) -> str:
    """``<tenant>:<id>``. One document's (or session's) records share a partition, so they
    keep their order, and a consumer can tell a record's tenant without decoding it."""
    return f"{tenant_id}:{entity_id}"


class TenantRecord(faust.Record, abstract=True, serializer="json", isodates=True):
    tenant_id: str

    def kafka_key(self) -> str:
        return tenant_key(self.tenant_id, self.entity_id())

    def entity_id(self) -> str:
        """The id after the tenant in the key."""
        raise NotImplementedError


document_key = tenant_key


class DocumentRecord(TenantRecord, abstract=True):
    document_id: str  # a document's records share a partition: its history stays in order

    def entity_id(self) -> str:
        return self.document_id


session_key = tenant_key


class SessionRecord(TenantRecord, abstract=True):
    session_id: str  # one answer: its records share a partition, in the order they were sent

    def entity_id(self) -> str:
        return self.session_id

"""Progress agent: per-tenant document states in a Faust table, rebuilt from its changelog."""

from __future__ import annotations

from collections import Counter

import faust
from faust import web

import topics
from agents import runner
from agents.app import app, settings
from agents.channels import status

# tenant_id → {document_id: status}; deleted documents are dropped.
progress = app.Table("tenant-progress", default=dict, partitions=settings.topic_partitions)


@app.agent(status)
async def track_progress(events: faust.StreamT[topics.DocumentStatusChanged]) -> None:
    # Repartition by tenant so each tenant's entry lives in exactly one partition.
    # A field of the record class is a FieldDescriptor at run time; typed as its value.
    field = topics.DocumentStatusChanged.tenant_id
    by_tenant = events.group_by(field, name="by-tenant")  # type: ignore[arg-type]
    await runner.run("progress", by_tenant, _track)


async def _track(event: topics.DocumentStatusChanged) -> None:
    documents = dict(progress[event.tenant_id])
    if event.status == "deleted":
        documents.pop(event.document_id, None)
    else:
        documents[event.document_id] = event.status
    progress[event.tenant_id] = documents


def summary(documents: dict[str, str]) -> dict[str, object]:
    return {"documents": len(documents), "by_status": dict(Counter(documents.values()))}


@app.page("/progress/{tenant}/")
class TenantProgress(web.View):
    """Internal: this worker's view of a tenant, routed to the worker that owns the tenant."""

    # faust's View.get type knows no route arguments (``tenant``): the call is right.
    @app.table_route(table=progress, match_info="tenant")  # type: ignore[arg-type]
    async def get(self, request: web.Request, tenant: str) -> web.Response:
        return self.json(summary(progress[tenant]))

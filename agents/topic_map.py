"""Topic-map agent: ready → the document's segments clustered into labelled topics and sub-topics,
and a guide.

Clustering a big manual takes tens of seconds of CPU, too long to handle as the event itself
(agents/backlog.py): the agent queues the document and the backlog maps it. A ready document
left without a current map is asked for again by the maintenance sweep (workflows.topic_maps).
"""

from __future__ import annotations

import uuid

import faust

import topics
from agents import runner
from agents.app import app
from agents.backlog import Backlog
from agents.channels import ready
from agents.resources import Resources, resources
from core.errors import NotFound
from retrieval.topic_map import VERSION, Segment, topic_map
from storage import documents, topic_maps


@app.agent(ready)
async def map_topics(events: faust.StreamT[topics.DocumentReady]) -> None:
    deps = await resources()
    backlog = Backlog("topic_map_document", lambda event: _map(deps, event))
    await runner.run("topic_map", events, backlog.add)


async def _map(deps: Resources, event: topics.DocumentReady) -> None:
    pool = deps.pool
    doc_id = uuid.UUID(event.document_id)
    if await topic_maps.is_current(
        pool, event.tenant_id, doc_id, model=event.model, version=VERSION, since=event.ready_at
    ):
        return  # the event was published again for the encode agent (workflows.encodings)
    rows = await topic_maps.segments_with_vectors(pool, event.tenant_id, doc_id, event.model)
    if not rows:
        return  # that model's vectors are gone (a switch purged them): the sweep asks again
    try:
        title = (await documents.get(pool, event.tenant_id, doc_id)).title
    except NotFound:
        return  # deleted meanwhile
    segments = [
        Segment(str(r["id"]), r["page"], r["heading"], r["content"], r["embedding"].to_list())
        for r in rows
    ]
    # Work nobody waits for: in the background process, behind parsing and answers.
    result = await deps.background.run(topic_map, title, segments)
    await topic_maps.save(pool, event.tenant_id, doc_id, event.model, result.to_dict())

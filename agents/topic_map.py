"""Topic-map agent: ready → the document's segments clustered into labelled topics and sub-topics,
and a guide.

A map is a reading aid, not what makes a document searchable, and its clustering is the
heaviest CPU work of ingestion: it gives way while any document waits to be parsed or
embedded (one tenant's flood of uploads must not slow another's lone PDF to ready), for at
most ``topic_map_give_way_s`` per map, so maps still come during a long flood.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import faust

import topics
from agents import runner
from agents.app import app, settings
from agents.channels import ready
from agents.resources import resources
from core.errors import NotFound
from retrieval.topic_map import Segment, topic_map
from storage import documents, topic_maps


@app.agent(ready)
async def map_topics(events: faust.StreamT[topics.DocumentReady]) -> None:
    deps = await resources()
    await runner.run("topic_map", events, lambda event: _handle(deps.pool, event))


GIVE_WAY_POLL_S = 0.25


async def _handle(pool: asyncpg.Pool, event: topics.DocumentReady) -> None:
    await _give_way(pool)
    doc_id = uuid.UUID(event.document_id)
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
    # Clustering is CPU work: a thread keeps heartbeats and the other agents going.
    result = await asyncio.to_thread(topic_map, title, segments)
    await topic_maps.save(pool, event.tenant_id, doc_id, event.model, result.to_dict())


async def _give_way(pool: asyncpg.Pool) -> None:
    for _ in range(int(settings.topic_map_give_way_s / GIVE_WAY_POLL_S)):
        if not await documents.work_waiting(pool):
            return
        await asyncio.sleep(GIVE_WAY_POLL_S)

"""POST /v1/search."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from quart import Blueprint

from web import resources
from web.auth import principal, requires
from web.limits import within_rate
from web.params import json_body
from workflows.search import Mode, search_segments

blueprint = Blueprint("search", __name__, url_prefix="/v1")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    query: str
    top_k: int = 8
    document_ids: list[str] | None = None
    mode: Mode = "hybrid+rerank"


@blueprint.post("/search")
@requires("search")
async def search() -> dict[str, Any]:
    await within_rate("searches")
    body = await json_body(SearchRequest)
    hits = await search_segments(
        resources.pool(),
        resources.embedders(),
        resources.reranker(),
        principal().tenant_id,
        body.query,
        top_k=body.top_k,
        document_ids=body.document_ids,
        mode=body.mode,
    )
    return {
        "results": [
            {
                "document_id": str(h.document_id),
                "page": h.page,
                "segment_id": str(h.segment_id),
                "text": h.content,
                "heading": h.heading,
                "score": round(h.score, 6),
            }
            for h in hits
        ]
    }

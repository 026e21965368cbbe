"""POST /v1/search."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from quart import Blueprint, current_app, request

from core.errors import InvalidInput
from web.auth import principal, requires
from workflows.search import Mode, search_segments

blueprint = Blueprint("search", __name__, url_prefix="/v1")
M = TypeVar("M", bound=BaseModel)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    query: str
    top_k: int = 8
    document_ids: list[str] | None = None
    mode: Mode = "hybrid+rerank"


@blueprint.post("/search")
@requires("documents:read")
async def search() -> dict[str, Any]:
    body = await _json_body(SearchRequest)
    hits = await search_segments(
        current_app.extensions["pool"], current_app.extensions["embedders"],
        current_app.extensions["reranker"], principal().tenant_id, body.query,
        top_k=body.top_k, document_ids=body.document_ids, mode=body.mode,
    )  # fmt: skip
    return {"results": [
        {"document_id": str(h.document_id), "page": h.page, "segment_id": str(h.segment_id),
         "text": h.content, "heading": h.heading, "score": round(h.score, 6)}
        for h in hits
    ]}  # fmt: skip


async def _json_body(model: type[M]) -> M:
    payload = await request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InvalidInput("send a JSON object with Content-Type: application/json")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "body"
        raise InvalidInput(f"{where}: {first['msg']}") from None

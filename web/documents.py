"""Document routes of API v1."""

from __future__ import annotations

import uuid
from typing import Any

from quart import Blueprint, request

from core.errors import Conflict, Forbidden, InvalidInput
from retrieval.encoder import load_encoder
from storage import documents, encodings, topic_maps
from storage.documents import STATUSES, Document
from web import resources
from web.auth import may, principal, requires
from web.limits import within_rate
from web.params import int_arg
from workflows import admission
from workflows import documents as workflow
from workflows.documents import Upload

blueprint = Blueprint("documents", __name__, url_prefix="/v1/documents")

MAX_IDEMPOTENCY_KEY_CHARS = 200


@blueprint.post("")
@requires("documents:upload")
async def upload() -> tuple[dict[str, Any], int, dict[str, str]]:
    who = principal()
    await within_rate("uploads")
    files = await request.files
    file = files.get("file")
    if file is None:
        raise InvalidInput("send the PDF as multipart/form-data in a field named 'file'")
    new = Upload(
        tenant_id=who.tenant_id,
        user_id=who.user_id,
        filename=file.filename or "",
        content_type=file.content_type or "",
        data=file.read(),
        idempotency_key=_idempotency_key(),
    )
    document, created = await workflow.submit(
        resources.pool(),
        resources.blobs(),
        new,
        max_bytes=resources.settings().max_upload_bytes,
        limit=admission.limit_of(resources.settings(), "documents"),
    )
    headers = {"Location": f"/v1/documents/{document.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    body = {
        "document_id": str(document.id),
        "task_id": str(document.task_id),
        "status": document.status,
    }
    return body, 202, headers


@blueprint.get("")
@requires("documents:read")
async def list_documents() -> dict[str, Any]:
    limit = int_arg("limit", default=50, low=1, high=500)
    offset = int_arg("offset", default=0, low=0, high=10**9)
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    found = await documents.list_for_tenant(
        resources.pool(),
        principal().tenant_id,
        limit=limit,
        offset=offset,
        status=status,
    )
    return {"documents": [_view(d) for d in found], "limit": limit, "offset": offset}


@blueprint.get("/<uuid:document_id>")
@requires("documents:read")
async def get_document(document_id: uuid.UUID) -> dict[str, Any]:
    pool = resources.pool()
    tenant_id = principal().tenant_id
    document = await documents.get(pool, tenant_id, document_id)
    history = await documents.events(pool, tenant_id, document_id)
    # The re-ranker's encodings are made after ready, in the background (agents/encode.py):
    # until all segments have one, searches rank without them. None: no encoder here.
    encoder = load_encoder(resources.settings())
    encoded = (
        None
        if encoder is None
        else await encodings.count(pool, tenant_id, document_id, encoder.name)
    )
    return _view(document) | {
        "encoded_segments": encoded,
        "history": [{"status": e["status"], "at": e["at"].isoformat()} for e in history],
    }


@blueprint.get("/<uuid:document_id>/topics")
@requires("documents:read")
async def get_topics(document_id: uuid.UUID) -> dict[str, Any]:
    """The topic map and reading guide, computed in the background once the document is
    ready."""
    pool = resources.pool()
    tenant_id = principal().tenant_id
    document = await documents.get(pool, tenant_id, document_id)
    found = await topic_maps.get(pool, tenant_id, document_id)
    if found is None:
        raise Conflict(
            f"the topic map is computed after the document is ready (it is {document.status});"
            " try again shortly",
            code="topics_not_ready",
        )
    return {"document_id": str(document_id), **found}


@blueprint.delete("/<uuid:document_id>")
@requires("documents:delete_any", "documents:delete_own")
async def delete_document(document_id: uuid.UUID) -> dict[str, Any]:
    who = principal()
    if not may(who, "documents:delete_any"):
        document = await documents.get(resources.pool(), who.tenant_id, document_id)
        if document.created_by != who.user_id:
            raise Forbidden(
                f"your roles {sorted(who.roles)} allow deleting your own documents only;"
                " this one was uploaded by someone else"
            )
    await workflow.delete(
        resources.pool(), resources.blobs(), who.tenant_id, document_id, actor=who.user_id
    )
    return {"document_id": str(document_id), "deleted": True}


def _view(document: Document) -> dict[str, Any]:
    return {
        "id": str(document.id),
        "document_id": str(document.id),
        "task_id": str(document.task_id) if document.task_id else None,
        "filename": document.filename,
        "status": document.status,
        "pages": document.pages,
        "title": document.title,
        "segments": document.segment_count,
        "size_bytes": document.size_bytes,
        "sha256": document.sha256,
        "error": document.error,
        "error_code": document.error_code,
        "created_at": document.created_at.isoformat(),
        "updated_at": document.updated_at.isoformat(),
    }


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_CHARS or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable characters"
        )
    return key

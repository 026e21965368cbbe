"""One page of a document: its text (from the stored parse result) and an image of it
(rendered from the original PDF), for the web page's page viewer and citations."""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from typing import Any

from quart import Blueprint, Response, current_app, request

from core.errors import Conflict, InvalidInput, NotFound
from pdf import PageText, ParsedPdf, join_lines, render_page
from storage import documents
from storage.documents import Document
from web import resources
from web.auth import principal, requires

blueprint = Blueprint("pages", __name__, url_prefix="/v1/documents")

MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 100, 2000, 800
# Parse results of this many documents stay decoded in memory: a reader flips through the
# pages of one or two documents, and a 900-page parse.json takes a while to decode.
CACHED_DOCUMENTS = 8
# A page of a document never changes (a new upload is a new document).
IMAGE_CACHE = "private, max-age=86400"


@blueprint.get("/<uuid:document_id>/pages/<int:number>")
@requires("documents:read")
async def page_text(document_id: uuid.UUID, number: int) -> dict[str, Any]:
    document = await _parsed_page(document_id, number)
    pages = await _page_texts(document)
    if number > len(pages):
        raise NotFound(f"document {document_id} has no page {number}")
    page = pages[number - 1]
    return {
        "document_id": str(document_id),
        "page": number,
        "pages": document.pages,
        "text": page.text,
        # Wrapped lines joined and hyphenation mended, as in the segments citations quote from:
        # a quote is found in these, not always in the raw text.
        "paragraphs": [p for p in (join_lines(raw) for raw in page.text.split("\n\n")) if p],
        "headings": page.headings,
    }


@blueprint.get("/<uuid:document_id>/pages/<int:number>/image")
@requires("documents:read")
async def page_image(document_id: uuid.UUID, number: int) -> Response:
    width = _width()
    document = await _parsed_page(document_id, number)
    data = await resources.blobs().get(document.blob_key)
    png = await asyncio.to_thread(render_page, data, number, width)
    return Response(png, mimetype="image/png", headers={"Cache-Control": IMAGE_CACHE})


async def _parsed_page(document_id: uuid.UUID, number: int) -> Document:
    """The caller's document, once parsed and if it has page ``number``."""
    document = await documents.get(resources.pool(), principal().tenant_id, document_id)
    if document.status == "failed" and document.parse_result_key is None:
        raise Conflict(
            f"this document could not be read, so it has no pages to show: {document.error}",
            code="document_failed",
        )
    if document.parse_result_key is None or document.pages is None:
        raise Conflict(
            f"the document is still being read (it is {document.status}); its pages can be"
            " shown once it is parsed",
            code="page_not_ready",
        )
    if not 1 <= number <= document.pages:
        raise NotFound(f"page {number} is not in this document (pages 1 to {document.pages})")
    return document


def _width() -> int:
    raw = request.args.get("width", str(DEFAULT_WIDTH))
    if not raw.isdigit() or not MIN_WIDTH <= int(raw) <= MAX_WIDTH:
        raise InvalidInput(f"width must be a whole number of pixels, {MIN_WIDTH} to {MAX_WIDTH}")
    return int(raw)


async def _page_texts(document: Document) -> list[PageText]:
    cache: OrderedDict[tuple[Any, ...], list[PageText]]
    cache = current_app.extensions.setdefault("page_texts", OrderedDict())
    # The key changes if the document is parsed again (a redelivered parse writes anew).
    key = (document.id, document.parse_result_key, document.segment_count)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    assert document.parse_result_key is not None
    raw = await resources.blobs().get(document.parse_result_key)
    pages = await asyncio.to_thread(ParsedPdf.pages_from_json, raw)
    cache[key] = pages
    while len(cache) > CACHED_DOCUMENTS:
        cache.popitem(last=False)
    return pages

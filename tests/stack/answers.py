"""A question asked through chat on the real stack, its answer read whole from its socket; and
a generated PDF uploaded until it is ready to ask about."""

from __future__ import annotations

import asyncio

import pdfgen
from cli.client import PdfchatClient

ANSWER_TIMEOUT_S = 60
READY_TIMEOUT_S = 90


async def ready_document(client: PdfchatClient, pages: list, filename: str) -> str:
    """Upload ``pages`` (``pdfgen.text_pdf``'s) as ``filename`` and wait until it is ready."""
    document_id = (await client.upload(pdfgen.text_pdf(pages), filename))["document_id"]
    async with asyncio.timeout(READY_TIMEOUT_S):
        views = await client.wait_for([document_id])
    assert views[document_id]["status"] == "ready", views
    return document_id


async def ask(client: PdfchatClient, question: str, **scope) -> tuple[str, set[tuple[str, int]]]:
    """The answer's text, and the (document, page) of each of its citations."""
    started = await client.chat(question, **scope)
    text, cited = [], set()
    async with asyncio.timeout(ANSWER_TIMEOUT_S):
        async for message in client.answer(started["stream_session_id"]):
            if message["type"] == "token":
                text.append(message["content"])
            elif message["type"] == "citations":
                cited = {(i["document_id"], i["page"]) for i in message["items"]}
    return "".join(text), cited

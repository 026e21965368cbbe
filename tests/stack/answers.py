"""A question asked through chat on the real stack, its answer read whole from its socket."""

from __future__ import annotations

import asyncio

from cli.client import PdfchatClient

ANSWER_TIMEOUT_S = 60


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

"""``pdfchat ask "question"``: the answer as it streams, then its sources.

The answer goes to standard output (pipe it anywhere); sources follow it there; the
conversation id, model and cost go to standard error, so a follow-up can name the
conversation with ``--conversation``.
"""

from __future__ import annotations

import sys
from contextlib import aclosing
from typing import Any

from rich.console import Console

from cli.client import ApiError, PdfchatClient, StreamDropped


async def ask(
    base_url: str,
    token: str,
    question: str,
    *,
    document_ids: list[str] | None,
    conversation_id: str | None,
    notes: Console,
) -> int:
    """Returns the exit status: 0 answered, 1 refused or failed."""
    async with PdfchatClient(base_url, token) as client:
        try:
            started = await client.chat(
                question, document_ids=document_ids, conversation_id=conversation_id
            )
            last = await _relay(client, started["stream_session_id"])
        except (ApiError, StreamDropped, OSError) as exc:
            notes.print(f"[red]{getattr(exc, 'message', None) or exc}")
            return 1
        if last["type"] == "error":
            notes.print(f"\n[red]{last['message']}[/] ({last['code']})")
            return 1
        await _sources(client, last.get("citations", []))
        usage = last["usage"]
        notes.print(
            f"[dim]conversation {started['conversation_id']} · {usage['model']} · "
            f"{usage['tokens_in']} in / {usage['tokens_out']} out · ${usage['cost_usd']:.4f}"
        )
    return 0


async def _relay(client: PdfchatClient, session_id: str) -> dict[str, Any]:
    """Print tokens as they come; returns the last message, with the citations added."""
    citations: list[dict[str, Any]] = []
    async with aclosing(client.answer(session_id)) as messages:
        async for message in messages:
            if message["type"] == "token":
                sys.stdout.write(message["content"])
                sys.stdout.flush()
            elif message["type"] == "citations":
                citations = message["items"]
            else:
                sys.stdout.write("\n")
                return message | {"citations": citations}
    raise StreamDropped("the answer ended without an end message")


async def _sources(client: PdfchatClient, citations: list[dict[str, Any]]) -> None:
    if not citations:
        return
    names: dict[str, str] = {}
    for item in citations:
        if item["document_id"] not in names:
            try:
                found = await client.document(item["document_id"])
                names[item["document_id"]] = found["filename"]
            except ApiError:  # deleted since: the id is all we have
                names[item["document_id"]] = item["document_id"]
    sys.stdout.write("\nSources:\n")
    for (label, document_id, page), quotes in group_by_source(citations).items():
        said = " \u2026 ".join(f"\u201c{q}\u201d" for q in quotes)
        sys.stdout.write(f"  [{label}] {names[document_id]}, page {page}: {said}\n")


def group_by_source(citations: list[dict[str, Any]]) -> dict[tuple[int, str, int], list[str]]:
    """The quotes of each source, under the [n] the answer text uses for it (its place in
    the list when the model gave no marker): two sentences of one passage are one source."""
    sources: dict[tuple[int, str, int], list[str]] = {}
    for n, item in enumerate(citations, 1):
        key = (item.get("marker") or n, item["document_id"], item["page"])
        sources.setdefault(key, []).append(item["quote"])
    return sources

"""How `pdfchat ask` lists the sources of an answer."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from cli.ask import _relay, group_by_source
from cli.client import PdfchatClient


def test_quotes_of_one_source_share_its_line_and_number() -> None:
    citations = [
        {"marker": 1, "document_id": "d1", "page": 4, "quote": "First."},
        {"marker": 2, "document_id": "d2", "page": 9, "quote": "Other."},
        {"marker": 1, "document_id": "d1", "page": 4, "quote": "Second."},
    ]
    assert group_by_source(citations) == {
        (1, "d1", 4): ["First.", "Second."],
        (2, "d2", 9): ["Other."],
    }


def test_without_markers_sources_are_numbered_by_place() -> None:
    citations = [
        {"document_id": "d1", "page": 1, "quote": "A."},
        {"document_id": "d1", "page": 2, "quote": "B."},
    ]
    assert list(group_by_source(citations)) == [(1, "d1", 1), (2, "d1", 2)]


async def test_the_answer_socket_is_closed_when_the_reader_stops_at_the_end() -> None:
    """`pdfchat ask` stops reading at the end message; the socket's generator must close then,
    inside the event loop, not later from the garbage collector (which printed "Task was
    destroyed but it is pending!" after some answers)."""
    closed: list[bool] = []

    async def stream(
        session_id: str, *, last_token_seq: int = 0
    ) -> AsyncGenerator[dict[str, Any], None]:
        try:
            yield {"type": "token", "seq": 1, "content": "Yes"}
            yield {"type": "end", "seq": 2, "usage": {}}
            yield {"type": "token", "seq": 3, "content": "never read"}
        finally:
            closed.append(True)

    client = PdfchatClient("http://127.0.0.1:9", "token")
    client.stream = stream  # type: ignore[method-assign]
    try:
        last = await _relay(client, "session")
    finally:
        await client.aclose()
    assert last["type"] == "end"
    assert closed == [True]

"""How `pdfchat ask` lists the sources of an answer."""

from __future__ import annotations

from cli.ask import group_by_source


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

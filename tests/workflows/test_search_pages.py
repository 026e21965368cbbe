"""A re-ranked list's third and later segments of one page lose CROWDING_PENALTY of their
score (workflows.search.spread_pages)."""

from __future__ import annotations

import uuid

import pytest

from storage.search import Hit
from workflows.search import CROWDING_PENALTY, PER_PAGE, spread_pages

DOC, OTHER = uuid.uuid4(), uuid.uuid4()


def _hit(doc: uuid.UUID, page: int, score: float) -> Hit:
    return Hit(uuid.uuid4(), doc, page, f"text of page {page}", None, score)


def test_a_crowded_page_gives_way_after_its_first_two_segments() -> None:
    assert (PER_PAGE, CROWDING_PENALTY) == (2, 0.1)
    ranked = [
        _hit(DOC, 10, 0.9),
        _hit(DOC, 10, 0.8),
        _hit(DOC, 10, 0.7),
        _hit(DOC, 10, 0.65),
        _hit(DOC, 11, 0.62),
        _hit(OTHER, 10, 0.5),  # the same page number of another document is another page
    ]
    spread = spread_pages(ranked, top_k=5)
    assert [(h.document_id, h.page) for h in spread] == [
        (DOC, 10),
        (DOC, 10),
        (DOC, 11),
        (DOC, 10),  # 0.7 - 0.1: still above a page scored 0.5
        (DOC, 10),
    ]
    assert [h.score for h in spread] == pytest.approx([0.9, 0.8, 0.62, 0.6, 0.55])


def test_a_list_without_crowding_keeps_its_order_and_length() -> None:
    ranked = [_hit(DOC, page, 1 - page / 10) for page in range(6)]
    assert spread_pages(ranked, top_k=4) == ranked[:4]
    assert spread_pages([], top_k=8) == []

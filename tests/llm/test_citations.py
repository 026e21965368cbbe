from __future__ import annotations

from llm.citations import QUOTE_MAX_CHARS, best_quote, citations_from_markers, cited_numbers
from llm.prompt import Evidence

EVIDENCE = [
    Evidence("s1", "d1", 1, "Intro sentence. The warranty lasts two years. Batteries: one.", 0.9),
    Evidence("s2", "d2", 5, "Returns are free. Refunds are paid within 14 days.", 0.8),
    Evidence("s3", "d3", 8, "Unrelated text about parking.", 0.1),
]


def test_marker_forms() -> None:
    assert cited_numbers("1") == [1]
    assert cited_numbers("1, 3") == [1, 3]
    assert cited_numbers("2-4") == [2, 3, 4]
    assert cited_numbers("1-100000")[-1] == 21  # a typo cannot cite everything


def test_markers_become_citations_in_first_mention_order() -> None:
    answer = "Refunds take 14 days [2]. The warranty lasts two years [1][2]. See also [9]."
    citations = citations_from_markers(answer, EVIDENCE)
    assert [(c.segment_id, c.page) for c in citations] == [("s2", 5), ("s1", 1)]
    assert citations[0].quote == "Refunds are paid within 14 days."
    assert citations[1].quote == "The warranty lasts two years."


def test_marker_after_the_full_stop_refers_to_the_sentence_before() -> None:
    citations = citations_from_markers("The warranty lasts two years. [1]", EVIDENCE)
    assert citations[0].quote == "The warranty lasts two years."


def test_no_markers_no_citations() -> None:
    assert citations_from_markers("I could not find this.", EVIDENCE) == []


def test_long_quotes_are_cut_verbatim_at_a_word() -> None:
    text = "word " * 200
    quote = best_quote(text, "word")
    assert len(quote) <= QUOTE_MAX_CHARS and text.startswith(quote) and quote.endswith("word")

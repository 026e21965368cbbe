from __future__ import annotations

import itertools

from llm._text import american, has_term, same_term, terms

WORDS = [
    "employ",
    "employee",
    "employment",
    "employs",
    "emplo",
    "x200",
    "x2000a",
    "tol_bnd",
    "routing",
    "router",
    "route",
    "42",
    "420000",
    "数据",
    "数据库",
]


def test_has_term_is_same_term_against_each_term() -> None:
    for size in range(len(WORDS) + 1):
        for chosen in itertools.combinations(WORDS, min(size, 3)):
            said = frozenset(chosen)
            for word in WORDS:
                assert has_term(word, said) == any(same_term(word, t) for t in said), (word, said)


def test_has_term_reads_stems_and_shared_starts() -> None:
    said = frozenset(terms("Employment contracts are routed by the HR department."))
    assert has_term("employe", said)  # "employees": shares "employ" with "employment"
    assert has_term("departur", said)  # "departure": shares "depart"
    assert has_term("contract", said)
    assert not has_term("depar", said)  # under six letters: only the same stem counts
    assert not has_term("salary", said)


def test_british_spellings_are_the_american_terms() -> None:
    british = "licence colour coloured behavioural organised organisation analyse centres catalogue"
    american_ = "license color colored behavioral organized organization analyze centers catalog"
    assert terms(british) == terms(american_)
    assert [american(w) for w in british.split()] == american_.split()


ONE_SPELLING = ("analysis", "basis", "axis", "hour", "four", "tour", "mature", "house", "nurse")


def test_words_with_one_spelling_keep_their_terms() -> None:
    """Words that end like British spellings and are none are left as they are."""
    for word in ONE_SPELLING:
        assert american(word) == word
    assert terms("metres") == terms("meters")

from __future__ import annotations

import itertools

from llm._text import has_term, same_term, terms

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

"""A follow-up that asks the question before it of another thing ("How does CamlIDL map a C
struct to Caml?" — "And what about unions?"): searched with that question, the struct passages
outrank the union ones; alone, another subject's unions may come up."""

from __future__ import annotations

import uuid

from llm import new_topic
from storage.search import Hit
from workflows.search import with_new_topic

BEFORE = "How does CamlIDL map a C struct to Caml?"
DOCUMENT = uuid.uuid4()


def _hit(content: str, score: float, title: str = "Camlidl user's manual") -> Hit:
    return Hit(uuid.uuid4(), DOCUMENT, 1, content, None, score, title)


STRUCTS = [
    _hit(f"IDL structs are mapped to Caml record types ({n}).", 0.6 - n / 100) for n in range(8)
]
UNIONS = _hit("IDL discriminated unions are translated to Caml sum types.", 0.65)
TRADE_UNIONS = _hit("Trade unions bargain for wages.", 0.7, title="Labour history")


def test_the_new_thing_s_passages_join_those_of_the_question_before() -> None:
    topic = new_topic("And what about unions?")
    hits = with_new_topic(STRUCTS, [TRADE_UNIONS, UNIONS], topic, BEFORE, top_k=8)
    assert hits[0] == UNIONS  # best first, by either search's score
    assert TRADE_UNIONS not in hits  # unions, but of nothing asked before
    assert len(hits) == 8 and hits[1:] == STRUCTS[:7]


def test_only_a_follow_up_about_another_thing_has_a_new_topic() -> None:
    assert new_topic("And what about unions?") == ["union"]
    assert new_topic("and dh_make?") == ["dh", "make"]
    assert new_topic("And how much does it cost?") == []  # "it": the same thing
    assert new_topic(BEFORE) == []  # no follow-up

"""ops/eval/answers.py --offline: the local model answers from saved evidence, scored as the
end-to-end run scores it; evidence that does not cover the set is refused by name."""

from __future__ import annotations

import pytest

from ops.eval.answers import answer_offline
from ops.eval.sets import EvalSet, Question

QUESTIONS = [
    Question(
        "m1", "manual", "How many seconds does the timeout last?", ("lasts 30 seconds",), (4,)
    ),
    Question("m2", "manual", "Which colour is the sky on Mars?", (), (), unanswerable="off"),
]
SET = EvalSet("tiny", {}, {}, QUESTIONS)


def _hit(page: int, text: str, score: float) -> dict[str, object]:
    return {
        "segment_id": f"s{page}",
        "document_id": "d1",
        "page": page,
        "text": text,
        "score": score,
        "heading": "Timeouts",
        "title": "The manual",
        "corpus": "manual",
    }


EVIDENCE = {
    "m1": [
        _hit(4, "The request timeout lasts 30 seconds. It can be changed.", 0.9),
        _hit(7, "Logs are kept for a week.", 0.2),
    ],
    "m2": [_hit(7, "Logs are kept for a week.", 0.1)],
}


def test_answers_from_saved_evidence_are_scored_like_the_live_run():
    report = answer_offline(SET, EVIDENCE)
    answerable, unanswerable = report.outcomes
    assert answerable.answered and answerable.cites_an_answer_page
    assert answerable.quotes_the_evidence
    assert not unanswerable.answered  # "I could not find this in your documents"


def test_questions_without_saved_evidence_are_named():
    with pytest.raises(ValueError, match=r"1 questions of tiny \(m2…\).*--save-evidence"):
        answer_offline(SET, {"m1": EVIDENCE["m1"]})

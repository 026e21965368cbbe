"""The question files of ops/eval's debian set are checked against the PDFs' text: a question
that cannot be scored is named with what is wrong, and the others still get their pages."""

from __future__ import annotations

from ops.eval.sets import derive_pages, evidence_pages

TEXTS = {"manual": ["Set the key outside with set key outside.", "The ﬁt command uses Marquardt."]}


def test_answer_pages_come_from_the_evidence_with_ligatures_folded():
    raw = [
        {
            "id": "m1",
            "document": "manual",
            "question": "Which algorithm?",
            "evidence": ["The fit command   uses Marquardt"],
        }
    ]
    folded = {"manual": [t.replace("ﬁ", "fi") for t in TEXTS["manual"]]}
    assert derive_pages(raw, folded) == ({"m1": (2,)}, [])
    assert evidence_pages(["a ﬁt b"], ["a fit b"]) == ()  # page texts are folded, not phrases
    assert evidence_pages(["a fit b"], ["a ﬁt b"]) == (1,)


def test_every_bad_question_is_named_and_the_good_ones_still_scored():
    raw = [
        {"id": "ok", "document": "manual", "question": "Where?", "evidence": ["key outside"]},
        {"id": "x1", "document": "nope", "question": "?", "evidence": ["key"]},
        {"id": "x2", "document": "manual", "question": "?", "evidence": ["not in the text"]},
        {
            "id": "x3",
            "document": "manual",
            "question": "?",
            "unanswerable": "near",
            "evidence": ["key"],
        },
        {"id": "x4", "document": "manual", "question": "?", "unanswerable": "maybe"},
        {"id": "x5", "document": "manual", "question": "?"},
        {"document": "manual", "question": "no id"},
    ]
    found, problems = derive_pages(raw, TEXTS)
    assert found["ok"] == (1,)
    assert [p.split(":")[0] for p in problems] == [
        "x1",
        "x2",
        "x3",
        "x4",
        "x5",
        "question 7 (None)",
    ]
    assert "unknown document 'nope'" in problems[0] and "not in the text" in problems[1]

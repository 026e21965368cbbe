"""ops/eval/offtopic.py: the stray questions are asked of a set's own documents, every one
unanswerable, and the report counts the answers the local model gave from saved evidence."""

from __future__ import annotations

import pytest

from ops.eval import offtopic


def test_the_stray_questions_are_asked_of_the_sets_documents():
    eval_set = offtopic.offtopic_set("legal")
    assert len(eval_set.questions) == len(offtopic.QUESTIONS) == len(set(offtopic.QUESTIONS))
    assert all(q.unanswerable == "off" and not q.evidence for q in eval_set.questions)
    assert {q.document for q in eval_set.questions} <= set(eval_set.documents)
    assert eval_set.pdfs  # the documents themselves, uploaded as the set uploads them


def test_the_report_counts_the_answers_given(capsys):
    questions = offtopic.offtopic_set("legal").questions

    def hit(text: str, score: float) -> dict[str, object]:
        return {
            "segment_id": "s1",
            "document_id": "d1",
            "page": 1,
            "text": text,
            "score": score,
            "heading": None,
            "title": "doc",
            "corpus": "doc",
        }

    evidence = {
        q.id: [hit("Congress shall assemble at least once in every year.", 0.1)] for q in questions
    }
    # A passage scored high that shares the question's words: quoted, and counted.
    evidence[questions[0].id] = [hit("Bake sourdough bread at home in a hot oven.", 0.9)]
    offtopic.report("legal", evidence)
    out = capsys.readouterr().out
    assert f"1 of {len(questions)} off-topic questions answered" in out
    assert "sourdough" in out


def test_evidence_saved_for_other_questions_is_a_clear_error(tmp_path, monkeypatch, capsys):
    """answers.py's evidence file has the sets but not these questions: the script says so
    and stops, instead of a traceback."""
    saved = tmp_path / "answers-evidence.json"
    saved.write_text('{"legal": {"q001": []}}')
    monkeypatch.setattr("sys.argv", ["offtopic.py", "--set", "legal", "--offline", str(saved)])
    with pytest.raises(SystemExit) as stopped:
        offtopic.main()
    assert stopped.value.code == 2
    assert "no saved evidence for 35 questions of legal" in capsys.readouterr().err


def test_a_missing_evidence_file_is_a_clear_error(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "nothing.json"
    monkeypatch.setattr("sys.argv", ["offtopic.py", "--offline", str(missing)])
    with pytest.raises(SystemExit):
        offtopic.main()
    expected = f"no saved evidence of legal, debian, chinese, european in {missing}"
    assert expected in capsys.readouterr().err

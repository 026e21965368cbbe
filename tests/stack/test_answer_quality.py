"""Answer quality on the evaluation sets, through chat as a user meets it (POST /v1/chat and
the answer's socket, local model): does the answer cite a page that answers the question, and
does it say "I could not find this in your documents" (``found: false``) for the questions the
documents cannot answer, without refusing the ones they can.

Gated at the measured level less a margin (docs/evaluation.md has the figures): deterministic,
since retrieval and the local model are.
"""

from __future__ import annotations

import pytest

from ops.eval import answers, offtopic, retrieval

pytestmark = pytest.mark.stack

# set: (cites an answer page ≥, refuses the unanswerable ≥, refuses the answerable ≤)
FLOORS = {
    "legal": (0.72, None, 0.05),  # measured 0.76, –, 0.04 (names checked by shared words too)
    # measured 0.86, 0.85, 0.011 (options as lexemes, crowded pages: docs/evaluation.md)
    "debian": (0.81, 0.77, 0.05),
    # measured 0.95, 0.67, 0.025 (the Chinese grounding rules: docs/evaluation.md)
    "chinese": (0.90, 0.58, 0.05),
    # measured 0.82, 0.64, 0.03 (questions read in their own language: docs/evaluation.md)
    "european": (0.76, 0.50, 0.05),
}
# set: at most this many of ops/eval/offtopic.py's 35 stray questions answered (0 and 2 now,
# with the encoder's cosine: llm.local.MIN_MEANING, and uncommon words; 1 and 11 before)
STRAYS_CEILING = {"legal": 1, "debian": 4}


@pytest.mark.parametrize("name", FLOORS)
async def test_answers_cite_the_right_page_and_refuse_what_is_not_there(
    settings, token, tenant, name
):
    eval_set = retrieval.SETS[name]()
    report = await answers.evaluate(settings.web_url, token(tenant), eval_set)
    answerable = [o for o in report.outcomes if o.question.unanswerable is None]
    unanswerable = [o for o in report.outcomes if o.question.unanswerable is not None]

    cites = sum(o.cites_an_answer_page for o in answerable) / len(answerable)
    false_refusals = sum(not o.answered for o in answerable) / len(answerable)
    least_cites, least_refusals, most_false_refusals = FLOORS[name]
    message = f"{name}:\n{report.table()}"
    assert cites >= least_cites, message
    assert false_refusals <= most_false_refusals, message
    if least_refusals is not None:
        refusals = sum(not o.answered for o in unanswerable) / len(unanswerable)
        assert refusals >= least_refusals, message


@pytest.mark.parametrize("name", STRAYS_CEILING)
async def test_stray_questions_that_name_nothing_are_seldom_answered(settings, token, tenant, name):
    """Questions about nothing the documents cover, worded without names ("How do I get rid
    of fruit flies?"): every answer is a wrong one. Lowering the bar for answering from
    meaning would raise the sets' figures above and these answers with them."""
    report = await answers.evaluate(settings.web_url, token(tenant), offtopic.offtopic_set(name))
    answered = [o for o in report.outcomes if o.answered]
    assert len(answered) <= STRAYS_CEILING[name], "\n".join(
        f"{o.question.question} -> {o.answer[:100]}" for o in answered
    )

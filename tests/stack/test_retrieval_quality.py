"""Retrieval quality on the evaluation set of `ops/eval` (see docs/evaluation.md): paraphrased
questions over public-domain PDFs, each scored by whether a page that answers it comes back.

The target of the issue: with the local model, hybrid search + re-ranking puts an answer page
in the top 8 for at least 90% of the questions. The other modes are measured and reported in
the message, not asserted. Retrieval is deterministic (exact vector scan for a tenant this
small, fixed local models), so the figure is the same on every run.
"""

from __future__ import annotations

import pytest

from ops.eval import retrieval

pytestmark = pytest.mark.stack

TARGET_HIT_AT_8 = 0.9
KS = (1, 3, 5, 8)


async def test_hybrid_rerank_finds_the_answer_page_in_the_top_8(settings, token, tenant, api):
    corpus = retrieval.load_corpus()
    pdfs = retrieval.render(corpus)
    questions = retrieval.load_questions(pdfs)  # raises if answer pages drifted from the layout
    assert 60 <= len(questions) <= 100

    ids = await retrieval.ingest(api(tenant, roles=("editor",)), corpus, pdfs, wait_s=120)
    report = await retrieval.evaluate(settings.web_url, token(tenant), questions, ids, ks=KS)

    hit_at_8 = report.hit("hybrid+rerank", 8)
    assert hit_at_8 >= TARGET_HIT_AT_8, (
        f"hybrid+rerank hit@8 = {hit_at_8:.3f} < {TARGET_HIT_AT_8} over {len(questions)} "
        f"questions\n{report.summary()}\n{report.misses_text()}"
    )

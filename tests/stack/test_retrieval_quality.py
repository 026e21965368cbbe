"""Retrieval quality on both evaluation sets of `ops/eval` (see docs/evaluation.md): paraphrased
questions, each scored by whether a page that answers it comes back.

- `legal`: six public-domain texts rendered to clean PDFs; the target of the first retrieval
  issue was hit@8 ≥ 0.9 for hybrid search + re-ranking with the local models.
- `debian`: seven real PDFs of Debian's documentation packages in five layouts (a manual, a
  FAQ, two-column papers, slide decks, a reference full of tables), fetched with apt-get.
Both are gated at their measured level (with the re-ranker's encoder, options as lexemes and
crowded pages: hit@8 0.960 and 0.943, MRR 0.762 and 0.806) less about two questions' worth,
so a change that loses ground fails.

- `chinese`: a manual and a policy written in Chinese, ten pages in all, so hit@8 says
  nothing; gated on the rank of the answer page (MRR), for full text alone too, which found
  nothing in Chinese before its runs were read as character pairs.
- `european`: the Debian FAQ in French and German (152 pages, 34 answerable questions in each
  document's language); gated at hit@8 0.941 and MRR 0.769 less two questions' worth.

The other modes are measured and reported in the message, not asserted. Retrieval is
deterministic (exact vector scan for tenants this small, fixed local models), so the figures
are the same on every run.
"""

from __future__ import annotations

import pytest

from ops.eval import retrieval

pytestmark = pytest.mark.stack

KS = (1, 3, 5, 8)


async def _evaluated(eval_set, settings, bearer, editor):
    """The set's PDFs uploaded by ``editor`` and its questions asked with ``bearer``."""
    ids = await retrieval.ingest(editor, eval_set.documents, eval_set.pdfs, wait_s=300)
    return await retrieval.evaluate(settings.web_url, bearer, eval_set.questions, ids, ks=KS)


# set: (hit@8 ≥, MRR ≥) for hybrid+rerank
HIT_AT_8 = {"legal": 0.94, "debian": 0.93}
MRR = {"legal": 0.74, "debian": 0.79}


@pytest.mark.parametrize("name", HIT_AT_8)
async def test_hybrid_rerank_finds_the_answer_page_in_the_top_8(settings, token, tenant, api, name):
    eval_set = retrieval.SETS[name]()  # raises if answer pages drifted from the PDFs
    assert len(eval_set.answerable) >= 100
    report = await _evaluated(eval_set, settings, token(tenant), api(tenant, roles=("editor",)))
    hit_at_8, mrr = report.hit("hybrid+rerank", 8), report.modes["hybrid+rerank"].mrr
    assert hit_at_8 >= HIT_AT_8[name] and mrr >= MRR[name], (
        f"{name}: hybrid+rerank hit@8 = {hit_at_8:.3f} (≥ {HIT_AT_8[name]}), MRR = {mrr:.3f}"
        f" (≥ {MRR[name]}) over {report.questions} questions\n{report.summary()}\n"
        f"{report.layout_table()}\n{report.misses_text()}"
    )


# mode: MRR ≥ (measured 0.890 and 0.887, less about two questions' worth)
CHINESE_MRR = {"hybrid+rerank": 0.85, "text": 0.85}


async def test_chinese_questions_rank_the_answer_page_first(settings, token, tenant, api):
    eval_set = retrieval.SETS["chinese"]()
    report = await _evaluated(eval_set, settings, token(tenant), api(tenant, roles=("editor",)))
    for mode, least in CHINESE_MRR.items():
        assert report.modes[mode].mrr >= least, f"chinese, {mode}:\n{report.summary()}"


async def test_french_and_german_questions_find_their_page(settings, token, tenant, api):
    eval_set = retrieval.SETS["european"]()
    report = await _evaluated(eval_set, settings, token(tenant), api(tenant, roles=("editor",)))
    hit_at_8, mrr = report.hit("hybrid+rerank", 8), report.modes["hybrid+rerank"].mrr
    message = f"european:\n{report.summary()}\n{report.misses_text()}"
    assert hit_at_8 >= 0.88 and mrr >= 0.70, message

"""Fit the local re-ranker's weights on one half of the questions, report the other half.

    .venv/bin/python ops/eval/tune.py [--set all] [--cache /tmp/pdfchat-tune.pkl]

Starts its own stack once, ingests the sets, and keeps what the re-ranker is given for each
answerable question (``workflows.search.first_stage``: both halves fused, the best
``RERANK_CANDIDATES`` of them, with full text's share of each) in the cache; later runs read
the cache. Then it computes the re-ranker's features for every candidate, and a few more, checks
that the product's own weights rank as ``ops/eval/retrieval.py`` reports, and fits weights by
coordinate ascent on the questions with an even index, scoring hit@8 and MRR on the odd ones
and on all. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import storage
from cli.client import PdfchatClient
from cli.stack import scratch_stack
from config import Settings
from core.tokens import mint
from ops.eval.retrieval import SETS, ingest
from ops.eval.sets import Question
from retrieval.embeddings import LocalEmbedder, create_embedder
from retrieval.encoder import load_encoder
from retrieval.rerank import (
    CORPUS_WEIGHTS,
    ENCODER_WEIGHTS,
    Analysed,
    combine,
    local_features,
    prepared,
    soft_term_scores,
)
from storage import migrate_database
from workflows.search import CANDIDATES, RRF_K, Embedders, first_stage

TOP = 8
Features = dict[str, np.ndarray]


@dataclass
class Case:
    question: Question
    set_name: str
    texts: list[str]
    headings: list[str]  # the segment's heading and its document's title
    places: list[tuple[str, int]]  # (corpus document, page) per candidate
    wanted: list[bool]  # per candidate: on an answer page of the right document
    lexical: list[float]  # full text's share of the question's BM25 ceiling
    fused: list[float]  # reciprocal-rank fusion score


async def _collect(settings: Any, names: list[str]) -> list[Case]:
    cases: list[Case] = []
    embedders = Embedders(settings, create_embedder(settings))
    pool = await storage.create_pool(settings.dsn)
    try:
        for name in names:
            eval_set = SETS[name]()
            tenant = f"tune-{name}"
            token = mint(settings, tenant=tenant, user="eval", roles=["editor"])
            async with PdfchatClient(settings.web_url, token, timeout=300) as client:
                ids = await ingest(client, eval_set.documents, eval_set.pdfs, wait_s=900)
            corpus_of = {v: k for k, v in ids.items()}
            for q in eval_set.answerable:
                found = await first_stage(
                    pool, embedders, tenant, q.question, mode="hybrid+rerank", limit=CANDIDATES
                )
                candidates, lexical = found.for_reranker()
                places = [(corpus_of.get(str(h.document_id), "?"), h.page) for h in candidates]
                cases.append(
                    Case(
                        question=q,
                        set_name=name,
                        texts=[h.content for h in candidates],
                        headings=[f"{h.title or ''}. {h.heading or ''}" for h in candidates],
                        places=places,
                        wanted=[d == q.document and p in q.pages for d, p in places],
                        lexical=lexical or [0.0] * len(candidates),
                        fused=[h.score for h in candidates],
                    )
                )
    finally:
        await pool.close()
        await embedders.aclose()
    return cases


def _features(cases: list[Case]) -> list[Features]:
    """The re-ranker's features per candidate, and candidates for new ones."""
    embedder = LocalEmbedder()
    encodings = _encodings(cases)
    out: list[Features] = []
    for case in cases:
        if not case.texts:
            out.append({})
            continue
        query = case.question.question
        row = {k: np.asarray(v, float) for k, v in local_features(query, case.texts).items()}
        q = np.asarray(asyncio.run(embedder.embed_query(query)))
        row["cosine"] = np.asarray(asyncio.run(embedder.embed_documents(case.texts))) @ q
        row["corpus_bm25"] = np.asarray(case.lexical, float)
        if encodings:
            asked = encodings[query]
            row["encoder"] = np.array(
                [encodings[t] @ asked if t.strip() else 0.0 for t in case.texts]
            )
        row["fused"] = np.asarray(case.fused, float) * (RRF_K + 1) / 2  # 1: first in both
        row["heading_terms"] = soft_term_scores(
            Analysed.of(query), [prepared(h) for h in case.headings]
        )
        base = combine(row, CORPUS_WEIGHTS)
        row["page_best"] = _page_best(case.places, base)
        row["page_votes"] = _page_votes(case.places, row["fused"])
        out.append(row)
    return out


def _encodings(cases: list[Case]) -> dict[str, np.ndarray]:
    """Every question's and candidate's encoding (retrieval.encoder), by text; none without
    the encoder. About a minute for both sets: each passage is encoded once, as in the product."""
    encoder = load_encoder(Settings())
    if encoder is None:
        return {}
    texts = sorted({t for c in cases for t in c.texts} | {c.question.question for c in cases})
    return dict(zip(texts, encoder.encode(texts), strict=True))


def _page_best(places: list[tuple[str, int]], scores: np.ndarray) -> np.ndarray:
    """The best other candidate's base score on the same page (0 when it is alone there)."""
    best = np.zeros(len(places))
    for i, place in enumerate(places):
        others = [scores[j] for j, p in enumerate(places) if p == place and j != i]
        best[i] = max(others, default=0.0)
    return best


def _page_votes(places: list[tuple[str, int]], fused: np.ndarray) -> np.ndarray:
    """The fusion scores of the candidates on the same page, summed, over the best page's."""
    total: dict[tuple[str, int], float] = {}
    for place, score in zip(places, fused, strict=True):
        total[place] = total.get(place, 0.0) + float(score)
    top = max(total.values(), default=1.0) or 1.0
    return np.array([total[p] / top for p in places])


def _first_hit(case: Case, scores: np.ndarray) -> int | None:
    order = np.argsort(-scores, kind="stable")[:TOP]
    return next((rank for rank, j in enumerate(order, 1) if case.wanted[j]), None)


def _score(
    cases: list[Case],
    feats: list[Features],
    weights: dict[str, float],
    which: Callable[[int], bool],
) -> tuple[float, float]:
    hits = mrr = 0.0
    n = 0
    for i, (case, f) in enumerate(zip(cases, feats, strict=True)):
        if not which(i):
            continue
        n += 1
        if not case.texts:
            continue
        rank = _first_hit(case, combine(f, weights))
        if rank is not None:
            hits += 1
            mrr += 1 / rank
    return hits / max(n, 1), mrr / max(n, 1)


def _objective(cases: list[Case], feats: list[Features], weights: dict[str, float]) -> float:
    """hit@8 plus MRR on the even questions, each set counting the same."""
    total = 0.0
    for name in {c.set_name for c in cases}:
        idx = [i for i, c in enumerate(cases) if c.set_name == name and i % 2 == 0]
        hit, mrr = _score([cases[i] for i in idx], [feats[i] for i in idx], weights, _all)
        total += hit + mrr
    return total


def _all(_: int) -> bool:
    return True


def fit(
    cases: list[Case], feats: list[Features], start: dict[str, float], names: list[str]
) -> dict[str, float]:
    """Coordinate ascent from ``start`` over the weights of ``names``, steps of 0.05 in
    [0, 1], until no single step improves the even questions' objective."""
    weights = dict(start) | {n: start.get(n, 0.0) for n in names}
    best = _objective(cases, feats, weights)
    improved = True
    while improved:
        improved = False
        for name in names:
            for step in (0.05, -0.05, 0.1, -0.1):
                trial = dict(weights)
                trial[name] = round(min(1.0, max(0.0, trial[name] + step)), 2)
                if trial == weights:
                    continue
                value = _objective(cases, feats, trial)
                if value > best + 1e-9:
                    weights, best, improved = trial, value, True
    return weights


def report(cases: list[Case], feats: list[Features], weights: dict[str, float]) -> str:
    parts = []
    for name in sorted({c.set_name for c in cases}):
        idx = [i for i, c in enumerate(cases) if c.set_name == name]
        sub, subf = [cases[i] for i in idx], [feats[i] for i in idx]
        hit, mrr = _score(sub, subf, weights, _all)
        odd = _score(sub, subf, weights, lambda k, idx=idx: idx[k] % 2 == 1)
        parts.append(f"{name} all {hit:.3f}/{mrr:.3f} odd {odd[0]:.3f}/{odd[1]:.3f}")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", dest="eval_set")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pdfchat-tune.pkl"))
    args = parser.parse_args()
    names = list(SETS) if args.eval_set == "all" else [args.eval_set]
    if args.cache.exists():
        cases = pickle.loads(args.cache.read_bytes())
    else:
        with scratch_stack(migrate_database, prefix="pdfchat-tune-", log_level="WARNING") as s:
            cases = asyncio.run(_collect(s, names))
        args.cache.write_bytes(pickle.dumps(cases))
    feats = _features(cases)
    print("the product's weights without the encoder:", report(cases, feats, CORPUS_WEIGHTS))
    start = CORPUS_WEIGHTS
    if "encoder" in feats[0]:
        print("the product's weights with it:", report(cases, feats, ENCODER_WEIGHTS))
        start = ENCODER_WEIGHTS
    product = list(start)
    for extra in ([], ["fused"], ["heading_terms"], ["page_best"], ["page_votes"]):
        fitted = fit(cases, feats, start, product + extra)
        shown = {k: v for k, v in fitted.items() if v}
        print(f"fitted with {extra or 'the same features'}: {shown}")
        print("   ", report(cases, feats, fitted))


if __name__ == "__main__":
    main()

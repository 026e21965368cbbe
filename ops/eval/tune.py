"""Fit the local re-ranker's weights on one half of the questions, report the other half.

    .venv/bin/python ops/eval/tune.py [--set all] [--cache /tmp/pdfchat-tune.pkl]

Starts its own stack once, ingests the sets, and keeps each answerable question's 50 hybrid
candidates (the re-ranker's input, in the fused first-stage order) in the cache; later runs
read the cache. Then it computes the re-ranker's features for each
candidate, and searches a grid of weights (the four features of retrieval/rerank.py plus the
first stage's rank) on the questions with an even index, scoring hit@8 and MRR on the odd ones
and on all. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cli.client import PdfchatClient
from cli.stack import scratch_stack
from core.tokens import mint
from ops.eval.retrieval import SETS, ingest
from ops.eval.sets import Question
from retrieval.embeddings import LocalEmbedder
from retrieval.rerank import WEIGHTS, local_features
from storage import migrate_database

CANDIDATES = 50


@dataclass
class Case:
    question: Question
    set_name: str
    wanted: list[bool]  # per candidate: on an answer page of the right document
    texts: list[str]


async def _collect(settings: Any, names: list[str]) -> list[Case]:
    cases: list[Case] = []
    for name in names:
        eval_set = SETS[name]()
        token = mint(settings, tenant=f"tune-{name}", user="eval", roles=["editor"])
        async with PdfchatClient(settings.web_url, token, timeout=300) as client:
            ids = await ingest(client, eval_set.documents, eval_set.pdfs, wait_s=600)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=settings.web_url, headers=headers) as http:
            for q in eval_set.answerable:
                response = await http.post(
                    "/v1/search",
                    json={"query": q.question, "top_k": CANDIDATES, "mode": "hybrid"},
                )
                results = response.json()["results"]
                wanted = [
                    r["document_id"] == ids[q.document] and r["page"] in q.pages for r in results
                ]
                cases.append(Case(q, name, wanted, [r["text"] for r in results]))
    return cases


def _features(cases: list[Case]) -> list[dict[str, np.ndarray]]:
    """The re-ranker's four features per candidate, and the first stage's rank as a fifth."""
    embedder = LocalEmbedder()
    out = []
    for case in cases:
        row: dict[str, np.ndarray] = {}
        if case.texts:
            row = {
                k: np.asarray(v, dtype=float)
                for k, v in local_features(case.question.question, case.texts).items()
            }
            q = np.asarray(asyncio.run(embedder.embed_query(case.question.question)))
            row["cosine"] = np.asarray(asyncio.run(embedder.embed_documents(case.texts))) @ q
        # Reciprocal rank as fusion scores it, 1 at the top.
        row["rank"] = 60 / (60 + np.arange(1, len(case.texts) + 1))
        out.append(row)
    return out


def _score(cases: list[Case], feats, weights: dict[str, float], which) -> tuple[float, float]:
    hits = mrr = 0.0
    n = 0
    for i, (case, f) in enumerate(zip(cases, feats, strict=True)):
        if not which(i):
            continue
        n += 1
        if not case.texts:
            continue
        total = sum(w * f[k] for k, w in weights.items() if w)
        order = np.argsort(-total, kind="stable")[:8]
        for rank, j in enumerate(order, 1):
            if case.wanted[j]:
                hits += 1
                mrr += 1 / rank
                break
    return hits / n, mrr / n


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
    even, odd = (lambda i: i % 2 == 0), (lambda i: i % 2 == 1)
    grid = [0.0, 0.1, 0.2, 0.3, 0.4]
    results = []
    for cos, best, soft, bm25, rank in itertools.product(grid, grid, grid, grid, grid):
        if cos + best + soft + bm25 == 0:
            continue
        weights = {
            "cosine": cos,
            "best_sentence": best,
            "soft_terms": soft,
            "bm25": bm25,
            "rank": rank,
        }
        train = _score(cases, feats, weights, even)
        results.append((train[0] + train[1], weights))
    results.sort(key=lambda r: -r[0])
    current = dict(WEIGHTS)
    print("current weights:", _report(cases, feats, current, odd))
    for _, weights in results[:10]:
        short = {k: v for k, v in weights.items() if v}
        print(short, _report(cases, feats, weights, odd))


def _report(cases, feats, weights, held_out) -> str:
    parts = []
    for name in sorted({c.set_name for c in cases}):
        idx = [i for i, c in enumerate(cases) if c.set_name == name]
        sub = [cases[i] for i in idx]
        subf = [feats[i] for i in idx]
        hit, mrr = _score(sub, subf, weights, lambda i: True)
        h_hit, h_mrr = _score(sub, subf, weights, lambda i, idx=idx: held_out(idx[i]))
        parts.append(f"{name}: all {hit:.3f}/{mrr:.3f} held-out {h_hit:.3f}/{h_mrr:.3f}")
    return "; ".join(parts)


if __name__ == "__main__":
    main()

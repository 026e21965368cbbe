"""Retrieval-quality evaluation: paraphrased questions over PDFs, scored by the page that
answers them, for every search mode, per set and per layout of document.

    .venv/bin/python ops/eval/retrieval.py [--set legal|debian|chinese|european|all]
                                           [--k 1 3 5 8]
                                           [--json out.json] [--workers 1]
    .venv/bin/python ops/eval/retrieval.py --write-pages   # after editing the legal corpus

Four sets (ops/eval/sets.py): `legal`, below; `debian`, real PDFs of Debian's
documentation packages (ops/eval/debian_pdfs.py); `chinese`, a manual and a policy in
Chinese (ops/eval/chinese_pdfs.py); and `european`, the Debian FAQ in French and German
(ops/eval/european_pdfs.py). The legal corpus (`ops/eval/corpus/*.json`,
one document each, as pages of ("h1"/"h2"/"h3"/"p", text) blocks) is rendered with
`pdfgen.text_pdf`. Each question in `ops/eval/questions.json` carries one or more short
*evidence* phrases copied from the source; the answer pages are the pages of the rendered PDF
whose text holds an evidence phrase. They are recorded in the file and checked against the
rendering on every run, so they cannot drift from the layout.

Starts its own stack (PostgreSQL, Kafka, workers, web) in a temporary home on free ports, like
`ops/bench/ingest.py`, uploads each set for a tenant of its own, asks every answerable
question in each mode (`vector`, `text`, `hybrid`, `hybrid+rerank`) with top_k = max k, and
prints hit rate at k (any of the first k results is on an answer page of the right document)
and MRR (reciprocal rank of the first such result, 0 when it is not in the top max k), for
the whole set and, with hybrid+rerank, per layout. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pymupdf

# The repository root first: run as a script, this file's own folder would come first, and
# ops/eval/retrieval.py would shadow the product's `retrieval` package (and `ops` is no
# installed package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pdfgen
from cli.client import PdfchatClient
from cli.stack import scratch_stack
from config import Settings
from core.tokens import mint
from ops.eval.chinese_pdfs import chinese_set
from ops.eval.debian_pdfs import debian_set
from ops.eval.european_pdfs import european_set
from ops.eval.sets import (
    Document,
    EvalSet,
    Named,
    Question,
    evidence_pages,
    page_texts,
    read_corpus,
    write_questions,
)
from storage import migrate_database

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / "corpus"
QUESTIONS_FILE = HERE / "questions.json"
MODES = ("vector", "text", "hybrid", "hybrid+rerank")
DEFAULT_KS = (1, 3, 5, 8)
SEARCH_CONCURRENCY = 8


# --- corpus and questions -------------------------------------------------------------------


def load_corpus(directory: Path = CORPUS_DIR) -> dict[str, Document]:
    return read_corpus(directory)


def render(corpus: Mapping[str, Document]) -> dict[str, bytes]:
    return {
        doc_id: doc.checked(pdfgen.text_pdf(doc.pages, title=doc.title, page_numbers=True))
        for doc_id, doc in corpus.items()
    }


def _raw_questions(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["questions"]


def derive_pages(
    raw: Sequence[Mapping[str, Any]], pdfs: Mapping[str, bytes]
) -> dict[str, tuple[int, ...]]:
    """Question id → the pages of its document holding an evidence phrase. Raises when a
    phrase is found nowhere, or when a question names an unknown document."""
    texts = {doc_id: page_texts(pdf) for doc_id, pdf in pdfs.items()}
    found, problems = {}, []
    for q in raw:
        if q["document"] not in texts:
            problems.append(f"{q['id']}: unknown document {q['document']!r}")
            continue
        for phrase in q["evidence"]:
            if not evidence_pages(texts[q["document"]], [phrase]):
                problems.append(f"{q['id']}: evidence not in {q['document']}: {phrase!r}")
        found[q["id"]] = evidence_pages(texts[q["document"]], q["evidence"])
    if problems:
        raise ValueError("questions do not match the corpus:\n" + "\n".join(problems))
    return found


def load_questions(pdfs: Mapping[str, bytes], path: Path = QUESTIONS_FILE) -> list[Question]:
    """The question set, checked: every evidence phrase occurs in the rendered PDF of its
    document, exactly on the pages recorded for the question (run ``--write-pages`` after an
    intended change of the corpus)."""
    raw = _raw_questions(path)
    ids = [q["id"] for q in raw]
    if len(set(ids)) != len(ids):
        raise ValueError("question ids are not unique")
    derived = derive_pages(raw, pdfs)
    drift = [
        f"{q['id']}: recorded {q.get('pages')}, rendered {list(derived[q['id']])}"
        for q in raw
        if tuple(q.get("pages", ())) != derived[q["id"]]
    ]
    if drift:
        raise ValueError("answer pages drifted from the layout:\n" + "\n".join(drift))
    return [
        Question(q["id"], q["document"], q["question"], tuple(q["evidence"]), derived[q["id"]])
        for q in raw
    ]


def legal_set() -> EvalSet:
    corpus = load_corpus()
    pdfs = render(corpus)
    return EvalSet("legal", corpus, pdfs, load_questions(pdfs))


SETS = {
    "legal": legal_set,
    "debian": debian_set,
    "chinese": chinese_set,
    "european": european_set,
}


def write_pages(pdfs: Mapping[str, bytes], path: Path = QUESTIONS_FILE) -> int:
    """Record the rendered answer pages in the question file; returns how many changed."""
    body = json.loads(path.read_text())
    derived = derive_pages(body["questions"], pdfs)
    changed = 0
    for q in body["questions"]:
        pages = list(derived[q["id"]])
        changed += q.get("pages") != pages
        q["pages"] = pages
    write_questions(path, body["questions"])
    return changed


# --- ingestion and scoring ------------------------------------------------------------------


async def ingest(
    client: PdfchatClient,
    corpus: Mapping[str, Named],
    pdfs: Mapping[str, bytes],
    *,
    wait_s: float = 180.0,
) -> dict[str, str]:
    """Upload every document and wait until all are ready, and encoded for the re-ranker
    (which follows ready in the background); corpus id → document_id."""
    ids = {}
    for doc_id, pdf in pdfs.items():
        ids[doc_id] = (await client.upload(pdf, corpus[doc_id].filename))["document_id"]
    async with asyncio.timeout(wait_s):
        views = await client.wait_for(ids.values(), interval=0.1)
        failed = [v for v in views.values() if v["status"] != "ready"]
        if failed:
            raise RuntimeError(f"{len(failed)} documents did not become ready: {failed[0]}")
        await client.wait_until_encoded(ids.values())
    return ids


@dataclass
class ModeResult:
    mode: str
    hits: dict[int, float]
    mrr: float
    ranks: dict[str, int | None] = field(default_factory=dict)  # question id → first hit rank
    misses: list[dict[str, Any]] = field(default_factory=list)  # not in the top max k


@dataclass
class Report:
    questions: int
    ks: tuple[int, ...]
    modes: dict[str, ModeResult]
    layout_of: dict[str, str] = field(default_factory=dict)  # question id → layout

    def hit(self, mode: str, k: int) -> float:
        return self.modes[mode].hits[k]

    def table(self) -> str:
        head = "| mode | " + " | ".join(f"hit@{k}" for k in self.ks) + " | MRR |"
        rows = [head, "|---" * (len(self.ks) + 2) + "|"]
        for result in self.modes.values():
            cells = " | ".join(f"{result.hits[k]:.3f}" for k in self.ks)
            rows.append(f"| {result.mode} | {cells} | {result.mrr:.3f} |")
        return "\n".join(rows)

    def layout_table(self, mode: str = "hybrid+rerank") -> str:
        """The mode's figures per layout of document."""
        ranks = self.modes[mode].ranks
        head = "| layout | questions | " + " | ".join(f"hit@{k}" for k in self.ks) + " | MRR |"
        rows = [head, "|---" * (len(self.ks) + 3) + "|"]
        for layout in sorted(set(self.layout_of.values())):
            found = [r for q, r in ranks.items() if self.layout_of[q] == layout]
            cells = " | ".join(
                f"{sum(1 for r in found if r is not None and r <= k) / len(found):.3f}"
                for k in self.ks
            )
            mrr = sum(1 / r for r in found if r is not None) / len(found)
            rows.append(f"| {layout} | {len(found)} | {cells} | {mrr:.3f} |")
        return "\n".join(rows)

    def summary(self) -> str:
        """One line, for assertion messages."""
        return "; ".join(
            f"{m}: " + ", ".join(f"hit@{k}={r.hits[k]:.3f}" for k in self.ks) + f", MRR={r.mrr:.3f}"
            for m, r in self.modes.items()
        )

    def misses_text(self, limit: int = 5) -> str:
        out = []
        for result in self.modes.values():
            out.append(f"{result.mode}: {len(result.misses)} misses at {max(self.ks)}")
            for miss in result.misses[:limit]:
                out.append(
                    f"  - [{miss['id']}] {miss['question']} (wanted {miss['document']} "
                    f"p.{miss['pages']}; got {miss['got']})"
                )
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "ks": list(self.ks),
            "modes": {m: asdict(r) for m, r in self.modes.items()},
        }


async def search(
    http: httpx.AsyncClient, query: str, *, mode: str, top_k: int
) -> list[dict[str, Any]]:
    response = await http.post("/v1/search", json={"query": query, "top_k": top_k, "mode": mode})
    response.raise_for_status()
    return response.json()["results"]


def first_hit(
    results: Sequence[Mapping[str, Any]], document_id: str, pages: Iterable[int]
) -> int | None:
    """The 1-based rank of the first result on one of ``pages`` of the document, or None."""
    wanted = set(pages)
    for rank, result in enumerate(results, start=1):
        if result["document_id"] == document_id and result["page"] in wanted:
            return rank
    return None


async def evaluate(
    base_url: str,
    token: str,
    questions: Sequence[Question],
    document_ids: Mapping[str, str],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    modes: Sequence[str] = MODES,
    concurrency: int = SEARCH_CONCURRENCY,
) -> Report:
    """Ask every answerable question in every mode (top_k = max k) and score the answers."""
    questions = [q for q in questions if q.unanswerable is None]
    ks = tuple(sorted(set(ks)))
    top_k = max(ks)
    names = {v: k for k, v in document_ids.items()}
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:

        async def ask(q: Question, mode: str) -> list[dict[str, Any]]:
            async with limit:
                return await search(http, q.question, mode=mode, top_k=top_k)

        answers = await asyncio.gather(*(ask(q, m) for m in modes for q in questions))
    report = Report(len(questions), ks, {}, {q.id: q.layout for q in questions})
    for i, mode in enumerate(modes):
        result = ModeResult(mode, {}, 0.0)
        for q, results in zip(
            questions, answers[i * len(questions) : (i + 1) * len(questions)], strict=True
        ):
            rank = first_hit(results, document_ids[q.document], q.pages)
            result.ranks[q.id] = rank
            if rank is None:
                got = [f"{names.get(r['document_id'], '?')} p.{r['page']}" for r in results[:3]]
                result.misses.append(
                    {
                        "id": q.id,
                        "question": q.question,
                        "document": q.document,
                        "pages": list(q.pages),
                        "got": got,
                    }
                )
        n = len(questions)
        ranks = list(result.ranks.values())
        result.hits = {k: sum(1 for r in ranks if r is not None and r <= k) / n for k in ks}
        result.mrr = sum(1 / r for r in ranks if r is not None) / n
        report.modes[mode] = result
    return report


# --- the command ----------------------------------------------------------------------------


async def _run(
    settings: Settings, eval_set: EvalSet, ks: Sequence[int], tenant: str
) -> tuple[Report, float]:
    token = mint(settings, tenant=tenant, user="eval", roles=["editor"])
    started = time.perf_counter()
    async with PdfchatClient(settings.web_url, token, timeout=300) as client:
        ids = await ingest(client, eval_set.documents, eval_set.pdfs, wait_s=600)
    ingest_s = time.perf_counter() - started
    report = await evaluate(settings.web_url, token, eval_set.questions, ids, ks=ks)
    return report, ingest_s


def _page_count(pdf: bytes) -> int:
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        return doc.page_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", dest="eval_set")
    parser.add_argument("--k", type=int, nargs="+", default=list(DEFAULT_KS), metavar="K")
    parser.add_argument("--json", type=Path, help="also write the figures and misses here")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--misses", type=int, default=5, help="misses to print per mode")
    parser.add_argument(
        "--write-pages",
        action="store_true",
        help="record the rendered answer pages of the legal set in questions.json and exit",
    )
    args = parser.parse_args()
    if not 1 <= max(args.k) <= 50 or min(args.k) < 1:
        parser.error("every k must be within 1-50 (the API's top_k)")
    if args.write_pages:
        print(f"{write_pages(render(load_corpus()))} questions changed pages")
        return

    started = time.perf_counter()
    names = list(SETS) if args.eval_set == "all" else [args.eval_set]
    sets = [SETS[name]() for name in names]
    stack = scratch_stack(
        migrate_database, prefix="pdfchat-eval-", workers=args.workers, log_level="WARNING"
    )
    figures = {}
    with stack as settings:
        for eval_set in sets:  # one tenant per set: each is searched on its own
            report, ingest_s = asyncio.run(_run(settings, eval_set, args.k, eval_set.name))
            pages = sum(_page_count(pdf) for pdf in eval_set.pdfs.values())
            print(
                f"## {eval_set.name}: {report.questions} questions over "
                f"{len(eval_set.pdfs)} documents, {pages} pages; embedding provider "
                f"{settings.embedding_provider}, re-ranker {settings.rerank_provider}; "
                f"ingest {ingest_s:.1f} s\n"
            )
            print(report.table(), end="\n\n")
            print(report.layout_table(), end="\n\n")
            print(report.misses_text(args.misses), end="\n\n")
            figures[eval_set.name] = report.to_json()
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Answer evaluation: the question sets asked through chat, end to end.

    .venv/bin/python ops/eval/answers.py [--set legal|debian|chinese|european|all] [--misses 10]
    .venv/bin/python ops/eval/answers.py --save-evidence /tmp/evidence.json
    .venv/bin/python ops/eval/answers.py --offline /tmp/evidence.json

Starts its own stack, ingests each set's PDFs for a tenant of its own, then asks every
question with POST /v1/chat and reads the answer from its socket, four at a time. Per
answerable question: did it answer (not the "could not find" reply), does a citation point at
a page that answers it, and does the answer quote one of the question's evidence phrases. Per
unanswerable question: did it refuse. With the default local model these measure the
extractive provider on questions it never saw (paraphrased, not worded like the text). Not a
test: it asserts nothing.

For work on the local model's rules (llm/local.py, llm/grounding.py), two halves of the same
run: ``--save-evidence`` keeps what retrieval gives each question (POST /v1/search with the
chat's own settings, top ``chat_evidence_k`` by ``hybrid+rerank``, as the orchestrator asks),
and ``--offline`` answers from that file with ``local:extractive`` in this process, no stack,
in seconds. The offline figures are the end-to-end ones as long as retrieval is unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The repository root first: run as a script, this file's own folder would come first, and
# ops/eval/retrieval.py would shadow the product's `retrieval` package (and `ops` is no
# installed package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cli.client import PdfchatClient
from cli.stack import scratch_stack
from config import Settings
from core import cjk
from core.tokens import mint
from llm.events import Finished
from llm.local import MEANING_PASSAGES, LocalExtractive
from llm.prompt import Evidence, Prompt
from ops.eval.retrieval import SETS, ingest
from ops.eval.sets import EvalSet, Question
from retrieval.encoder import Encoder, load_encoder
from storage import migrate_database
from storage.search import document_name

# Questions asked at once. TTFT is measured under this much concurrency.
CONCURRENCY = 4


@dataclass
class Outcome:
    question: Question
    answer: str
    cited: list[tuple[str, int]]  # (corpus document, page)
    ttft_s: float
    # The end message's verdict: False when the model said the documents do not have it.
    answered: bool

    @property
    def cites_an_answer_page(self) -> bool:
        return any(
            doc == self.question.document and page in self.question.pages
            for doc, page in self.cited
        )

    @property
    def quotes_the_evidence(self) -> bool:
        return any(_norm(e) in _norm(self.answer) for e in self.question.evidence)


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def table(self) -> str:
        rows = [
            "| layout | answerable | answered | cites an answer page | quotes the evidence "
            "| unanswerable | refused | TTFT p50 ms |",
            "|---|---|---|---|---|---|---|---|",
        ]
        layouts = sorted({o.question.layout for o in self.outcomes})
        for layout in [*layouts, "all"] if len(layouts) > 1 else layouts:
            chosen = [o for o in self.outcomes if layout in ("all", o.question.layout)]
            rows.append(_row(layout, chosen))
        return "\n".join(rows)


def _row(layout: str, outcomes: list[Outcome]) -> str:
    answerable = [o for o in outcomes if o.question.unanswerable is None]
    unanswerable = [o for o in outcomes if o.question.unanswerable is not None]

    def share(among: list[Outcome], test: Callable[[Outcome], bool]) -> str:
        return f"{sum(1 for o in among if test(o)) / len(among):.2f}" if among else "–"

    ttft = sorted(o.ttft_s for o in outcomes)
    return (
        f"| {layout} | {len(answerable)} | {share(answerable, lambda o: o.answered)} | "
        f"{share(answerable, lambda o: o.cites_an_answer_page)} | "
        f"{share(answerable, lambda o: o.quotes_the_evidence)} | {len(unanswerable)} | "
        f"{share(unanswerable, lambda o: not o.answered)} | "
        f"{f'{ttft[len(ttft) // 2] * 1000:.0f}' if ttft[-1] else '–'} |"  # – offline
    )


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", re.sub(r"\[\d+\]", "", text))
    return re.sub(r"\s+", " ", text).strip().lower()


async def ask(client: PdfchatClient, question: Question, corpus_of: dict[str, str]) -> Outcome:
    sent = time.perf_counter()
    started = await client.chat(question.question)
    text: list[str] = []
    cited: list[tuple[str, int]] = []
    found = False
    first = None
    async for message in client.answer(started["stream_session_id"]):
        if message["type"] == "token":
            first = first or time.perf_counter()
            text.append(message["content"])
        elif message["type"] == "citations":
            cited = [(corpus_of.get(i["document_id"], "?"), i["page"]) for i in message["items"]]
        elif message["type"] == "end":
            found = message.get("found", True)
        elif message["type"] == "error":
            text.append(f"<error {message['code']}>")
    ttft = (first or time.perf_counter()) - sent
    return Outcome(question, "".join(text), cited, ttft, found)


async def evaluate(
    base_url: str, token: str, eval_set: EvalSet, *, concurrency: int = CONCURRENCY
) -> Report:
    """Ingest the set for the token's tenant and ask every question, a few at a time (each
    answer is a conversation of its own, so the order does not matter)."""
    async with PdfchatClient(base_url, token, timeout=300) as client:
        ids = await ingest(client, eval_set.documents, eval_set.pdfs, wait_s=600)
        corpus_of = {document_id: doc for doc, document_id in ids.items()}
        limit = asyncio.Semaphore(concurrency)

        async def one(question: Question) -> Outcome:
            async with limit:
                return await ask(client, question, corpus_of)

        outcomes = await asyncio.gather(*(one(q) for q in eval_set.questions))
    return Report(list(outcomes))


async def save_evidence(base_url: str, token: str, eval_set: EvalSet) -> dict[str, Any]:
    """Ingest the set and keep each question's evidence as the orchestrator would retrieve it:
    question id → the search hits, each with its document's title and corpus id."""
    k = Settings().chat_evidence_k
    async with PdfchatClient(base_url, token, timeout=300) as client:
        ids = await ingest(client, eval_set.documents, eval_set.pdfs, wait_s=600)
        corpus_of = {document_id: doc for doc, document_id in ids.items()}
        titles = {}
        for document_id in ids.values():
            document = await client.document(document_id)
            titles[document_id] = document_name(document.get("title"), document["filename"])
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(question: Question) -> list[dict[str, Any]]:
            async with limit:
                hits = await client.search(question.question, top_k=k)
            return [
                {**h, "title": titles[h["document_id"]], "corpus": corpus_of[h["document_id"]]}
                for h in hits
            ]

        found = await asyncio.gather(*(one(q) for q in eval_set.questions))
    return {q.id: hits for q, hits in zip(eval_set.questions, found, strict=True)}


def answer_offline(eval_set: EvalSet, evidence: dict[str, list[dict[str, Any]]]) -> Report:
    """Each question answered by ``local:extractive`` from its saved evidence. Raises
    ValueError, naming them, when questions have none (added since it was saved)."""
    settings = Settings()
    model = LocalExtractive(min_evidence_score=settings.chat_min_evidence_score)
    report = Report()
    for question, prompt in offline_prompts(eval_set, evidence, load_encoder(settings)):
        done = asyncio.run(finished(model, prompt, settings.chat_max_output_tokens))
        corpus_of = {h["document_id"]: h["corpus"] for h in evidence[question.id]}
        cited = [(corpus_of[c.document_id], c.page) for c in done.citations]
        report.outcomes.append(Outcome(question, done.text, cited, 0.0, done.found))
    return report


def offline_prompts(
    eval_set: EvalSet, evidence: dict[str, list[dict[str, Any]]], encoder: Encoder | None
) -> list[tuple[Question, Prompt]]:
    """Each question's prompt as the orchestrator gives it to the model, from its saved
    evidence. Raises ValueError, naming them, when questions have none (added since it was
    saved)."""
    unsaved = [q.id for q in eval_set.questions if q.id not in evidence]
    if unsaved:
        raise ValueError(
            f"no saved evidence for {len(unsaved)} questions of {eval_set.name} "
            f"({', '.join(unsaved[:5])}…): run --save-evidence again"
        )
    prompts = []
    for question in eval_set.questions:
        hits = evidence[question.id]
        meaning = _meanings(
            encoder, question.question, [h["text"] for h in hits[:MEANING_PASSAGES]]
        )
        passages = [
            Evidence(
                h["segment_id"],
                h["document_id"],
                h["page"],
                h["text"],
                h["score"],
                h["heading"],
                h["title"],
                meaning[i] if i < len(meaning) else None,
            )
            for i, h in enumerate(hits)
        ]
        prompts.append((question, Prompt(question.question, evidence=passages)))
    return prompts


def _meanings(encoder: Encoder | None, question: str, texts: list[str]) -> list[float]:
    """What workflows.search.meanings gives the orchestrator, from the passages' texts (their
    stored encodings are these, to the bit); none for a CJK question or without an encoder.
    Only the passages the local model reads it of, to keep an offline run in seconds."""
    if encoder is None or not texts or cjk.has_cjk(question):
        return []
    return [float(c) for c in encoder.encode(texts) @ encoder.encode_question(question)]


async def finished(model: LocalExtractive, prompt: Prompt, max_tokens: int) -> Finished:
    """The model's answer to ``prompt``, streamed to its end."""
    async for event in model.stream(prompt, max_tokens=max_tokens):
        if isinstance(event, Finished):
            return event
    raise RuntimeError("the local model ended without its Finished event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", dest="eval_set")
    parser.add_argument("--misses", type=int, default=8, help="misses of each kind to print")
    runs = parser.add_mutually_exclusive_group()
    runs.add_argument("--save-evidence", type=Path, help="keep each question's evidence here")
    runs.add_argument("--offline", type=Path, help="answer from evidence saved before")
    args = parser.parse_args()
    names = list(SETS) if args.eval_set == "all" else [args.eval_set]
    sets = [SETS[name]() for name in names]
    if args.offline:
        saved = _saved_evidence(args.offline, [s.name for s in sets], parser)
        for eval_set in sets:
            try:
                report = answer_offline(eval_set, saved[eval_set.name])
            except ValueError as exc:
                parser.error(f"{args.offline}: {exc}")
            _print_report(eval_set.name, report, args)
        return
    evidence: dict[str, Any] = {}
    with scratch_stack(migrate_database, prefix="pdfchat-eval-", log_level="WARNING") as settings:
        for eval_set in sets:
            token = mint(settings, tenant=eval_set.name, user="eval", roles=["editor"])
            if args.save_evidence:
                evidence[eval_set.name] = asyncio.run(
                    save_evidence(settings.web_url, token, eval_set)
                )
                continue
            _print_report(
                eval_set.name, asyncio.run(evaluate(settings.web_url, token, eval_set)), args
            )
    if args.save_evidence:
        args.save_evidence.write_text(json.dumps(evidence))
        print(f"evidence of {sum(map(len, evidence.values()))} questions in {args.save_evidence}")


def _saved_evidence(
    path: Path, names: list[str], parser: argparse.ArgumentParser
) -> dict[str, Any]:
    """What --save-evidence wrote, for these sets; a clear error for anything else."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read saved evidence from {path}: {exc}")
    missing = [name for name in names if not isinstance(saved, dict) or name not in saved]
    if missing:
        parser.error(f"{path} has no evidence of {', '.join(missing)}: save it with that --set")
    return saved


def _print_report(name: str, report: Report, args: argparse.Namespace) -> None:
    print(f"## {name}\n\n{report.table()}\n")
    _print_misses(report, args.misses)


def _print_misses(report: Report, limit: int) -> None:
    kinds = {
        "answerable, no answer page cited": lambda o: (
            o.question.unanswerable is None and not o.cites_an_answer_page
        ),
        "answerable, refused": lambda o: o.question.unanswerable is None and not o.answered,
        "unanswerable, answered": lambda o: o.question.unanswerable is not None and o.answered,
    }
    for kind, test in kinds.items():
        found = [o for o in report.outcomes if test(o)]
        print(f"{kind}: {len(found)}")
        for outcome in found[:limit]:
            print(
                f"- [{outcome.question.id}] {outcome.question.question}\n  → "
                f"{outcome.answer[:160]!r} cited {outcome.cited[:3]}"
            )


if __name__ == "__main__":
    main()

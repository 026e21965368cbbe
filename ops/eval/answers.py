"""Answer evaluation: the retrieval question set asked through chat, end to end.

    .venv/bin/python ops/eval/answers.py [--misses 10]

Starts its own stack, ingests ops/eval/corpus, then asks every question of
ops/eval/questions.json with POST /v1/chat and reads the answer from its socket, one at a
time. Per question: did it answer (not the "could not find" reply), does a citation point at
a page that answers it, and does the answer quote one of the question's evidence phrases.
With the default local model these measure the extractive provider on questions it never saw
(paraphrased, not worded like the text). Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# The repository root first: run as a script, this file's own folder would come first, and
# ops/eval/retrieval.py would shadow the product's `retrieval` package (and `ops` is no
# installed package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cli.client import PdfchatClient
from cli.stack import scratch_stack
from core.tokens import mint
from llm import NOT_FOUND
from ops.eval.retrieval import Question, ingest, load_corpus, load_questions, render
from storage import migrate_database


@dataclass
class Outcome:
    question: Question
    answer: str
    cited: list[tuple[str, int]]  # (corpus document, page)
    ttft_s: float

    @property
    def answered(self) -> bool:
        return self.answer.strip() != NOT_FOUND.strip()

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

    def share(self, test) -> float:
        return sum(1 for o in self.outcomes if test(o)) / len(self.outcomes)

    def table(self) -> str:
        ttft = sorted(o.ttft_s for o in self.outcomes)
        return "\n".join(
            [
                "| questions | answered | cites an answer page | quotes the evidence "
                "| TTFT p50 ms |",
                "|---|---|---|---|---|",
                f"| {len(self.outcomes)} | {self.share(lambda o: o.answered):.2f} | "
                f"{self.share(lambda o: o.cites_an_answer_page):.2f} | "
                f"{self.share(lambda o: o.quotes_the_evidence):.2f} | "
                f"{ttft[len(ttft) // 2] * 1000:.0f} |",
            ]
        )


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\[\d+\]", "", text)).strip().lower()


async def ask(client: PdfchatClient, question: Question, corpus_of: dict[str, str]) -> Outcome:
    sent = time.perf_counter()
    started = await client.chat(question.question)
    text: list[str] = []
    cited: list[tuple[str, int]] = []
    first = None
    async for message in client.answer(started["stream_session_id"]):
        if message["type"] == "token":
            first = first or time.perf_counter()
            text.append(message["content"])
        elif message["type"] == "citations":
            cited = [(corpus_of.get(i["document_id"], "?"), i["page"]) for i in message["items"]]
        elif message["type"] == "error":
            text.append(f"<error {message['code']}>")
    return Outcome(question, "".join(text), cited, (first or time.perf_counter()) - sent)


async def evaluate(base_url: str, token: str, corpus, pdfs, questions) -> Report:
    report = Report()
    async with PdfchatClient(base_url, token, timeout=120) as client:
        ids = await ingest(client, corpus, pdfs)
        corpus_of = {document_id: doc for doc, document_id in ids.items()}
        for question in questions:
            report.outcomes.append(await ask(client, question, corpus_of))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--misses", type=int, default=8, help="unanswered questions to print")
    args = parser.parse_args()
    corpus = load_corpus()
    pdfs = render(corpus)
    questions = load_questions(pdfs)
    with scratch_stack(migrate_database, prefix="pdfchat-eval-", log_level="WARNING") as settings:
        token = mint(settings, tenant="eval", user="eval", roles=["editor"])
        report = asyncio.run(evaluate(settings.web_url, token, corpus, pdfs, questions))
    print(report.table())
    for outcome in [o for o in report.outcomes if not o.cites_an_answer_page][: args.misses]:
        print(
            f"- [{outcome.question.id}] {outcome.question.question}\n  → "
            f"{outcome.answer[:160]!r} cited {outcome.cited[:3]}"
        )


if __name__ == "__main__":
    main()

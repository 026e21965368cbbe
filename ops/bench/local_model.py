"""The local answer model's own time per answer, over evidence saved by ops/eval/answers.py.

    .venv/bin/python ops/eval/answers.py --save-evidence /tmp/evidence.json
    .venv/bin/python ops/bench/local_model.py /tmp/evidence.json [--rounds 3] [--answers OUT]

Answers every question of the saved sets with ``local:extractive`` in this process (no stack),
``--rounds`` times, and prints each round's milliseconds per answer (mean, p50, p95). The first
round reads every passage for the first time; the later ones meet passages read before, as a
worker does when a tenant's questions come back to the same pages. ``--answers`` writes the
answers and their citations, to show that a change to the model's speed changed no answer
(compare two files with ``cmp``). Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from config import Settings
from llm.local import LocalExtractive
from llm.prompt import Prompt
from ops.eval.answers import finished, offline_prompts
from ops.eval.retrieval import SETS
from retrieval.encoder import load_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("evidence", type=Path, help="written by answers.py --save-evidence")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--answers", type=Path, help="write the answers here")
    args = parser.parse_args()
    try:
        saved = json.loads(args.evidence.read_text())
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read saved evidence from {args.evidence}: {exc}")
    settings = Settings()
    encoder = load_encoder(settings)
    prompts: list[tuple[str, Prompt]] = []
    for name in [n for n in SETS if n in saved]:
        try:
            found = offline_prompts(SETS[name](), saved[name], encoder)
        except ValueError as exc:
            parser.error(f"{args.evidence}: {exc}")
        prompts += [(question.id, prompt) for question, prompt in found]
    if not prompts:
        parser.error(f"{args.evidence} has the evidence of no set")
    answers = asyncio.run(_rounds(prompts, args.rounds, settings))
    if args.answers:
        args.answers.write_text(json.dumps(answers, indent=0, sort_keys=True) + "\n")


async def _rounds(
    prompts: list[tuple[str, Prompt]], rounds: int, settings: Settings
) -> dict[str, object]:
    model = LocalExtractive(min_evidence_score=settings.chat_min_evidence_score)
    answers: dict[str, object] = {}
    print(f"{len(prompts)} questions\n")
    print("| round | ms per answer, mean | p50 | p95 |")
    print("|---|---|---|---|")
    for round_ in range(1, rounds + 1):
        times = []
        for question_id, prompt in prompts:
            started = time.perf_counter()
            done = await finished(model, prompt, settings.chat_max_output_tokens)
            times.append((time.perf_counter() - started) * 1000)
            citations = [(c.document_id, c.page, c.quote) for c in done.citations]
            answers[question_id] = {"text": done.text, "citations": citations}
        times.sort()
        mean, p50 = statistics.mean(times), times[len(times) // 2]
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"| {round_} | {mean:.2f} | {p50:.2f} | {p95:.2f} |")
    return answers


if __name__ == "__main__":
    main()

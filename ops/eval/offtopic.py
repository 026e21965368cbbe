"""Questions about nothing the documents cover, worded without names: how many get an answer.

    .venv/bin/python ops/eval/offtopic.py [--set legal|debian|all]
    .venv/bin/python ops/eval/offtopic.py --save-evidence /tmp/offtopic.json
    .venv/bin/python ops/eval/offtopic.py --offline /tmp/offtopic.json

The off-topic questions of the evaluation sets all name something the documents never do
("Kubernetes", "Excel", "Homebrew"), which the local model's grounding checks catch. A user's
stray question often names nothing: "How do I get rid of fruit flies?". These 35 ask about
cooking, gardening, health, money and general programming, and each is asked of every set's
documents. Nothing in the documents answers them, so every answer is a wrong one. Prints per
set how many were answered, the best passage's re-ranker score of each, and the answers.

Like ops/eval/answers.py (whose stack and evidence files it uses): ``--save-evidence`` keeps
what retrieval gives each question, ``--offline`` answers from it with ``local:extractive``
in seconds (PDFCHAT_CHAT_MIN_EVIDENCE_SCORE applies). Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

# The repository root first: run as a script, this file's folder would come first.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cli.stack import scratch_stack
from core.tokens import mint
from ops.eval.answers import answer_offline, save_evidence
from ops.eval.retrieval import SETS
from ops.eval.sets import EvalSet, Question
from storage import migrate_database

QUESTIONS = (
    "How do I bake sourdough bread at home?",
    "What is the best way to train a puppy to sit?",
    "How long should I boil an egg for a soft yolk?",
    "Which houseplants survive in low light?",
    "How do I change a flat tire on a bicycle?",
    "What temperature should a fridge be set to?",
    "How can I improve my sleep at night?",
    "How many calories does a banana have?",
    "What is the recommended tire pressure for a family car?",
    "How do I remove a red wine stain from a carpet?",
    "How often should I water tomato plants in summer?",
    "What causes the northern lights?",
    "How do I knit a scarf for beginners?",
    "Why is the sky blue during the day?",
    "How do I negotiate a higher salary?",
    "What is a good stretching routine after running?",
    "How should I store fresh herbs in the kitchen?",
    "How do vaccines train the immune system?",
    "What is the difference between baking soda and baking powder?",
    "How do I clean the filter of a dishwasher?",
    "How do I write a cover letter for a job application?",
    "What are the symptoms of dehydration?",
    "How do I tune an acoustic guitar by ear?",
    "How do I fix a dripping kitchen faucet?",
    "What should I pack for a weekend hiking trip?",
    "How do I make cold brew coffee?",
    "How fast does a cheetah run?",
    "How do I get rid of fruit flies?",
    "What is compound interest and how is it calculated?",
    "How do I paint a room without leaving streaks?",
    "How do I center a div horizontally in a web page?",
    "How do I reverse a linked list in place?",
    "What does a load balancer do in a web architecture?",
    "How do I resize an image without losing quality?",
    "How do I stop my laptop from overheating?",
)


def offtopic_set(name: str) -> EvalSet:
    """The set's documents, asked the off-topic questions instead of its own."""
    eval_set = SETS[name]()
    document = next(iter(eval_set.documents))
    questions = [
        Question(f"off-{i:02d}", document, text, (), (), "off-topic", "off")
        for i, text in enumerate(QUESTIONS, 1)
    ]
    return dataclasses.replace(eval_set, questions=questions)


def report(name: str, evidence: dict[str, list[dict[str, Any]]]) -> None:
    eval_set = offtopic_set(name)
    outcomes = answer_offline(eval_set, evidence).outcomes
    answered = [o for o in outcomes if o.answered]
    best = {q: round(hits[0]["score"], 2) if hits else None for q, hits in evidence.items()}
    print(f"## {name}: {len(answered)} of {len(outcomes)} off-topic questions answered\n")
    print("best passage's score, each question:", sorted(s for s in best.values() if s))
    for outcome in answered:
        print(
            f"- [{best[outcome.question.id]}] {outcome.question.question}\n"
            f"  → {outcome.answer[:120]!r}"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", dest="eval_set")
    runs = parser.add_mutually_exclusive_group()
    runs.add_argument("--save-evidence", type=Path, help="keep each question's evidence here")
    runs.add_argument("--offline", type=Path, help="answer from evidence saved before")
    args = parser.parse_args()
    names = list(SETS) if args.eval_set == "all" else [args.eval_set]
    if args.offline:
        try:
            saved = json.loads(args.offline.read_text())
            evidence = {name: saved[name] for name in names}
        except (OSError, ValueError, KeyError) as exc:
            parser.error(f"no saved evidence of {', '.join(names)} in {args.offline}: {exc}")
    else:
        evidence = {}
        with scratch_stack(migrate_database, prefix="pdfchat-offtopic-", log_level="WARNING") as s:
            for name in names:
                token = mint(s, tenant=name, user="eval", roles=["editor"])
                evidence[name] = asyncio.run(save_evidence(s.web_url, token, offtopic_set(name)))
        if args.save_evidence:
            args.save_evidence.write_text(json.dumps(evidence))
    for name in names:
        try:
            report(name, evidence[name])
        except ValueError as exc:  # evidence saved for other questions (answers.py's)
            parser.error(f"{args.offline}: {exc}")


if __name__ == "__main__":
    main()

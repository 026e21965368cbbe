"""What tracing costs: answers/s and upload → ready pages/s with tracing off and on, in one run.

    .venv/bin/python ops/bench/tracing.py [--rounds 2] [--docs 10] [--pages 30]
                                          [--clients 10] [--questions 5] [--sample-percent 5]

Starts its own stack in a temporary home on free ports, and the trace collector (Jaeger, tail
sampling at ``--sample-percent``; `pdfchat up --observability` builds it). Then restarts the
worker and the web server with tracing off or on (each restart is a fresh process),
``--rounds`` times each, in the order off on on off off on ..., so a drift on the machine falls
on both sides alike. Every round ingests ``--docs`` new PDFs of ``--pages`` pages into a tenant
of its own, then runs ``--clients`` closed-loop clients asking ``--questions`` questions each
over the evaluation corpus (local model) in another tenant, whose documents stay the same from
round to round. Prints a row per round, with what the tail sampling of the web process and the
worker decided in the rounds with tracing on, and the median ratio on/off. Not a test: it
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

# The repository root first: `ops` is no installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pdfgen
from cli.client import PdfchatClient
from cli.observability import Collector
from cli.stack import AppProcess, Stack, isolated_settings, web_spec, worker_spec
from config import Settings
from core.tokens import mint
from ops.bench.chat import Run, client_loop, until_idle
from ops.bench.ingest import end_to_end
from ops.eval.retrieval import QUESTIONS_FILE, ingest, load_corpus, render
from storage import migrate_database


def restart_apps(stack: Stack, settings: Settings) -> None:
    """The worker and the web server again, as fresh processes with ``settings``."""
    for spec in (worker_spec(settings, 1), web_spec(settings)):
        stack.stop(spec.name)
        stack.apps[spec.name] = AppProcess(settings, spec)
        stack.start(spec.name)


def trace_decisions(settings: Settings) -> str:
    """What the tail sampling of the web process and the worker decided, from their /metrics:
    traces kept for an error, for being slow, as the sampled share, and dropped."""
    counts: Counter[str] = Counter()
    for port in (settings.web_port, settings.worker_web_port_base):
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "pdfchat_traces_total":
                    counts[sample.labels["decision"]] += int(sample.value)
    total = sum(counts.values()) or 1
    return ", ".join(f"{d} {counts[d]} ({counts[d] / total:.0%})"
                     for d in ("error", "slow", "sampled", "dropped"))  # fmt: skip


async def chat_rate(settings: Settings, questions: list[str], args: argparse.Namespace) -> float:
    token = mint(settings, tenant="bench", user="bench", roles=["editor"])
    run = Run(args.clients)
    started = time.perf_counter()
    await asyncio.gather(*(
        client_loop(settings.web_url, token, [
            questions[(c * args.questions + i) % len(questions)] for i in range(args.questions)
        ], run)
        for c in range(args.clients)
    ))  # fmt: skip
    if run.errors:
        raise SystemExit(f"answers failed: {sorted(set(run.errors))}")
    return len(run.ttft_s) / (time.perf_counter() - started)


async def prepare_corpus(settings: Settings) -> list[str]:
    token = mint(settings, tenant="bench", user="bench", roles=["editor"])
    corpus = load_corpus()
    async with PdfchatClient(settings.web_url, token, timeout=300) as client:
        ids = await ingest(client, corpus, render(corpus))
        await until_idle(client, list(ids.values()))
    return [q["question"] for q in json.loads(QUESTIONS_FILE.read_text())["questions"]]


def bench(args: argparse.Namespace, home: Path) -> list[tuple[str, float, float]]:
    plain = isolated_settings(home, log_level="WARNING", trace_sample_percent=args.sample_percent)
    traced = plain.model_copy(
        update={"otel_endpoint": f"http://127.0.0.1:{plain.collector_otlp_port}"}
    )
    stack, collector = Stack(plain), Collector(traced)
    rows = []
    try:
        stack.up(prepare=migrate_database, supervise=False)
        collector.start()
        questions = asyncio.run(prepare_corpus(plain))
        asyncio.run(chat_rate(plain, questions, args))  # warm-up, not measured
        for round_ in range(args.rounds * 2):
            label, settings = ("on", traced) if round_ % 4 in (1, 2) else ("off", plain)
            restart_apps(stack, settings)
            files = [pdfgen.sample_pdf(args.pages, seed=1000 * round_ + i)
                     for i in range(args.docs)]  # fmt: skip
            pages, seconds = asyncio.run(end_to_end(files, settings, f"bench-ingest-{round_}"))
            answers = asyncio.run(chat_rate(settings, questions, args))
            rows.append((label, pages / seconds, answers))
            decided = trace_decisions(settings) if label == "on" else ""
            print(f"| {label} | {pages / seconds:.0f} | {answers:.1f} | {decided} |", flush=True)
    finally:
        collector.stop()
        stack.down()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each, alternating")
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--questions", type=int, default=5, help="per client, in sequence")
    parser.add_argument("--sample-percent", type=float, default=5.0)
    args = parser.parse_args()
    print(
        "| tracing | upload → ready pages/s | answers/s | traces: kept for error, slow, "
        "sampled; dropped |\n|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory(prefix="pdfchat-bench-") as home:
        rows = bench(args, Path(home))
    for column, name in ((1, "pages/s"), (2, "answers/s")):
        on = statistics.median(r[column] for r in rows if r[0] == "on")
        off = statistics.median(r[column] for r in rows if r[0] == "off")
        print(f"{name}: off {off:.1f}, on {on:.1f} (median), on/off {on / off:.3f}")


if __name__ == "__main__":
    main()

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
round to round. Prints a row per round: throughput, and the CPU time the web process, the
worker and the collector spent per page (upload until the stack is idle again: topic maps
included) and per answer — on 2 cores throughput is noisy from round to round, CPU per unit of
work much less so — with what the tail sampling of the web process and the worker decided when
tracing was on; then the median ratio on/off of each. Not a test: it asserts nothing.
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
from typing import NamedTuple

import httpx
import psutil
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

# The stack is idle when its processes use less than this share of a core for QUIET_S (an idle
# web process alone uses about 8 %: its answer-stream consumer polls the broker every 5 ms).
QUIET_SHARE = 0.2
QUIET_S = 2.0
SETTLE_TIMEOUT_S = 300


class Row(NamedTuple):
    tracing: str
    pages_per_s: float
    answers_per_s: float
    cpu_ms_per_page: float
    cpu_ms_per_answer: float


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
    return ", ".join(
        f"{d} {counts[d]} ({counts[d] / total:.0%})"
        for d in ("error", "slow", "sampled", "dropped")
    )


async def chat(settings: Settings, questions: list[str], args: argparse.Namespace) -> int:
    """Answers ``--clients`` × ``--questions`` questions; returns how many were answered."""
    token = mint(settings, tenant="bench", user="bench", roles=["editor"])
    run = Run(args.clients)
    await asyncio.gather(
        *(
            client_loop(
                settings.web_url,
                token,
                [
                    questions[(c * args.questions + i) % len(questions)]
                    for i in range(args.questions)
                ],
                run,
            )
            for c in range(args.clients)
        )
    )
    if run.errors:
        raise SystemExit(f"answers failed: {sorted(set(run.errors))}")
    return len(run.ttft_s)


class CpuMeter:
    """CPU seconds (user + system) used so far by the given processes together."""

    def __init__(self, pids: list[int | None]) -> None:
        self.processes = [psutil.Process(pid) for pid in pids if pid is not None]

    def seconds(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self.processes)

    def settle(self) -> None:
        """Wait until the processes are idle (topic maps and other work after an ingest are
        done): under ``QUIET_SHARE`` of a core for ``QUIET_S`` in a row."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            before = self.seconds()
            time.sleep(QUIET_S)
            if self.seconds() - before < QUIET_SHARE * QUIET_S:
                return
        raise SystemExit(f"the stack did not settle within {SETTLE_TIMEOUT_S} s")


async def prepare_corpus(settings: Settings) -> list[str]:
    token = mint(settings, tenant="bench", user="bench", roles=["editor"])
    corpus = load_corpus()
    async with PdfchatClient(settings.web_url, token, timeout=300) as client:
        ids = await ingest(client, corpus, render(corpus))
        await until_idle(client, list(ids.values()))
    return [q["question"] for q in json.loads(QUESTIONS_FILE.read_text())["questions"]]


def bench(args: argparse.Namespace, home: Path) -> list[Row]:
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
        asyncio.run(chat(plain, questions, args))  # warm-up, not measured
        for round_ in range(args.rounds * 2):
            label, settings = ("on", traced) if round_ % 4 in (1, 2) else ("off", plain)
            restart_apps(stack, settings)
            meter = CpuMeter([stack.pid("web"), stack.pid("worker-1"), collector.pid()])
            meter.settle()
            files = [
                pdfgen.sample_pdf(args.pages, seed=1000 * round_ + i) for i in range(args.docs)
            ]
            cpu, started = meter.seconds(), time.perf_counter()
            pages, seconds = asyncio.run(end_to_end(files, settings, f"bench-ingest-{round_}"))
            meter.settle()  # what follows ready (topic maps) is part of ingesting too
            ingest_cpu = meter.seconds() - cpu
            cpu, started = meter.seconds(), time.perf_counter()
            answers = asyncio.run(chat(settings, questions, args))
            chat_s, chat_cpu = time.perf_counter() - started, meter.seconds() - cpu
            row = Row(
                label,
                pages / seconds,
                answers / chat_s,
                ingest_cpu / pages * 1000,
                chat_cpu / answers * 1000,
            )
            rows.append(row)
            decided = trace_decisions(settings) if label == "on" else ""
            print(
                f"| {label} | {row.pages_per_s:.0f} | {row.answers_per_s:.1f} | "
                f"{row.cpu_ms_per_page:.1f} | {row.cpu_ms_per_answer:.0f} | {decided} |",
                flush=True,
            )
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
        "| tracing | upload → ready pages/s | answers/s | CPU ms per page | CPU ms per answer "
        "| traces: kept for error, slow, sampled; dropped |\n|---|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory(prefix="pdfchat-bench-") as home:
        rows = bench(args, Path(home))
    for name in ("pages_per_s", "answers_per_s", "cpu_ms_per_page", "cpu_ms_per_answer"):
        on = statistics.median(getattr(r, name) for r in rows if r.tracing == "on")
        off = statistics.median(getattr(r, name) for r in rows if r.tracing == "off")
        print(f"{name}: off {off:.2f}, on {on:.2f} (median), on/off {on / off:.3f}")


if __name__ == "__main__":
    main()

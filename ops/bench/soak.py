"""Soak benchmark: mixed upload and chat for many minutes, and the memory (RSS) of every
process of the stack at the start and the end (issue 11).

    .venv/bin/python ops/bench/soak.py [--minutes 30] [--workers 1] [--brokers 1]
                                       [--upload-every-s 2] [--chat-clients 4]
                                       [--sample-every-s 30] [--turns | --no-turns]
                                       [--csv samples.csv]

Starts its own stack (PostgreSQL, Kafka, worker(s), web, supervisor) in a temporary home on
free ports. Warm-up, not measured: one PDF uploaded and followed to ``ready``, and one
question asked of it. Then, for ``--minutes``, one tenant uploads a generated PDF of 5–30
pages (`pdfgen.sample_pdf`, a new seed each time) every ``--upload-every-s`` seconds, whether
the last one is ready or not, while ``--chat-clients`` closed-loop clients each ask a question
about a random ready document (POST /v1/chat with its id, then the answer socket to its end)
and ask again as soon as the answer ends. The questions ask for a page's "ledger" number, so
an answer that names it is counted as right.

Every ``--sample-every-s`` seconds it samples the resident memory (RSS) of every process of
the stack: PostgreSQL (the postmaster and all its children summed, so the shared buffers are
counted once per process that touched them: an overstatement, but one that moves with
connections and work), every Kafka node, every worker, web and the supervisor (each with any
child processes summed too). "Start" is sampled after the warm-up, "end" once the load has
stopped and the documents still in flight are ready (bounded wait). The table gives start,
end, peak (of the samples) and the change; below it the counts, and time to first token and
upload → ready over the first and the last 5 minutes (the first and last fifth for runs under
25 minutes), so a slowdown over time shows. ``--csv PATH`` also writes every sample.

Refused requests (429/503 back-pressure) and failed answers are counted and reported, not
fatal. Answers come from the offline `local:extractive` model. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import math
import random
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

import pdfgen
from cli.client import ApiError, PdfchatClient
from cli.stack import SUPERVISOR, Stack, scratch_stack
from config import Settings
from core.tokens import mint
from storage import migrate_database

TENANT = "soak"
PAGES = (5, 30)
ANSWER_TIMEOUT_S = 60.0
REFUSED_PAUSE_S = 2.0  # a refused question (429/503) waits this long before the next
WARM_UP_TIMEOUT_S = 300.0
DRAIN_TIMEOUT_S = 120.0  # documents in flight when the load stops: wait this long for them
POLL_S = 1.0
MAX_UPLOADS_IN_FLIGHT = 16  # uploads past this are skipped (and counted), not queued
WINDOW_S = 300.0
FACT = re.compile(r"On page (\d+) the ledger of (\w+) records exactly (\d+) deliveries\.")


@dataclass(frozen=True)
class Fact:
    question: str
    expected: str  # the number a right answer names


@dataclass(frozen=True)
class Reading:
    t_s: float
    phase: str  # "start", "load" or "end"
    process: str
    pid: int | None
    processes: int
    rss_mb: float
    pss_mb: float  # proportional: shared pages split between the processes sharing them


@dataclass(frozen=True)
class Answer:
    sent_s: float  # since the load started
    ttft_s: float | None  # None: no answer (refused, failed)
    right: bool = False


@dataclass(frozen=True)
class Upload:
    sent_s: float
    pages: int
    facts: list[Fact]


@dataclass
class Soak:
    settings: Settings
    args: argparse.Namespace
    stack: Stack
    started: float = 0.0  # perf_counter when the load started
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    pending: dict[str, Upload] = field(default_factory=dict)  # uploaded, not yet ready/failed
    ready: list[tuple[str, list[Fact]]] = field(default_factory=list)
    ready_s: list[tuple[float, float]] = field(default_factory=list)  # (sent_s, upload → ready)
    uploaded: int = 0
    ready_pages: int = 0
    failed_documents: int = 0
    uploads_in_flight: int = 0
    answers: list[Answer] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    readings: list[Reading] = field(default_factory=list)
    load_s: float = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.started


# --- documents ------------------------------------------------------------------------------


def document(seed: int) -> tuple[bytes, int, list[Fact]]:
    """The PDF of ``seed`` (5–30 pages) and a question for each of its pages."""
    pages = random.Random(seed).randint(*PAGES)
    text = " ".join(content for page in pdfgen.sample_document(pages, seed) for _, content in page)
    facts = [
        Fact(f"How many deliveries does the ledger of {place} record on page {page}?", number)
        for page, place, number in FACT.findall(text)
    ]
    return pdfgen.sample_pdf(pages, seed=seed), pages, facts


async def upload_loop(soak: Soak, client: PdfchatClient) -> None:
    """One upload every ``--upload-every-s`` seconds until the load stops (open loop)."""
    uploads: set[asyncio.Task[None]] = set()
    next_at = time.perf_counter()
    for seed in itertools.count(1):
        if soak.uploads_in_flight >= MAX_UPLOADS_IN_FLIGHT:
            soak.errors["upload skipped: too many in flight"] += 1
        else:
            task = asyncio.create_task(upload_one(soak, client, seed))
            uploads.add(task)
            task.add_done_callback(uploads.discard)
        next_at += soak.args.upload_every_s
        try:
            async with asyncio.timeout(max(0.0, next_at - time.perf_counter())):
                await soak.stop.wait()
            break
        except TimeoutError:
            continue
    if uploads:
        await asyncio.wait(uploads, timeout=DRAIN_TIMEOUT_S)


async def upload_one(soak: Soak, client: PdfchatClient, seed: int) -> None:
    soak.uploads_in_flight += 1
    try:
        data, pages, facts = await asyncio.to_thread(document, seed)
        sent_s = soak.now()
        document_id = (await client.upload(data, f"soak-{seed}.pdf"))["document_id"]
        soak.uploaded += 1
        soak.pending[document_id] = Upload(sent_s, pages, facts)
    except ApiError as exc:
        soak.errors[f"upload refused: {exc.status} {exc.code}"] += 1
    except httpx.HTTPError as exc:
        soak.errors[f"upload failed: {type(exc).__name__}"] += 1
    finally:
        soak.uploads_in_flight -= 1


async def track_documents(soak: Soak, client: PdfchatClient) -> None:
    """Follow every uploaded document to ready or failed until the load stops."""
    while not soak.stop.is_set():
        await poll_pending(soak, client)
        await asyncio.sleep(POLL_S)


async def poll_pending(soak: Soak, client: PdfchatClient) -> None:
    for document_id in list(soak.pending):
        try:
            view = await client.document(document_id)
        except (ApiError, httpx.HTTPError) as exc:
            soak.errors[f"document poll: {_error_name(exc)}"] += 1
            continue
        if view["status"] in ("ready", "failed"):
            settle(soak, document_id, view)


def settle(soak: Soak, document_id: str, view: dict[str, Any]) -> None:
    upload = soak.pending.pop(document_id)
    if view["status"] == "failed":
        soak.failed_documents += 1
        soak.errors[f"document failed: {view.get('error')}"] += 1
        return
    stamps = [datetime.fromisoformat(h["at"]) for h in view["history"]]
    soak.ready_s.append((upload.sent_s, (stamps[-1] - stamps[0]).total_seconds()))
    soak.ready_pages += upload.pages
    if upload.facts:
        soak.ready.append((document_id, upload.facts))


async def drain(soak: Soak, client: PdfchatClient) -> None:
    """Wait (bounded) until the documents still in flight are ready or failed."""
    deadline = time.perf_counter() + DRAIN_TIMEOUT_S
    while soak.pending and time.perf_counter() < deadline:
        await asyncio.sleep(POLL_S)
        await poll_pending(soak, client)


def _error_name(exc: Exception) -> str:
    return f"{exc.status} {exc.code}" if isinstance(exc, ApiError) else type(exc).__name__


# --- chat -----------------------------------------------------------------------------------


async def chat_loop(soak: Soak, token: str, number: int) -> None:
    """A closed-loop client: asks about a random ready document, reads the answer to its end,
    asks again, until the load stops."""
    rng = random.Random(number)
    async with PdfchatClient(soak.settings.web_url, token, timeout=120) as client:
        while not soak.stop.is_set():
            document_id, facts = rng.choice(soak.ready)
            await one_answer(soak, client, document_id, rng.choice(facts))


async def one_answer(soak: Soak, client: PdfchatClient, document_id: str, fact: Fact) -> None:
    sent, sent_s = time.perf_counter(), soak.now()
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            answer = await _answer(soak, client, document_id, fact, sent)
    except ApiError as exc:
        soak.errors[f"question refused: {exc.status} {exc.code}"] += 1
        if exc.status in (429, 503):
            await asyncio.sleep(REFUSED_PAUSE_S)
        return
    except Exception as exc:  # a benchmark counts failures instead of stopping
        soak.errors[f"answer failed: {type(exc).__name__}"] += 1
        answer = None
    soak.answers.append(Answer(sent_s, None) if answer is None else answer)


async def _answer(
    soak: Soak, client: PdfchatClient, document_id: str, fact: Fact, sent: float
) -> Answer | None:
    started = await client.chat(fact.question, document_ids=[document_id])
    first: float | None = None
    text: list[str] = []
    async for message in client.stream(started["stream_session_id"]):
        if message["type"] == "token":
            first = first or time.perf_counter()
            text.append(message["content"])
        elif message["type"] == "error":
            soak.errors[f"answer failed: {message['code']}"] += 1
            return Answer(sent - soak.started, None)
    if first is None:
        soak.errors["answer failed: no_tokens"] += 1
        return Answer(sent - soak.started, None)
    return Answer(sent - soak.started, first - sent, fact.expected in "".join(text))


# --- memory ---------------------------------------------------------------------------------


def process_names(stack: Stack) -> list[str]:
    """postgres, the Kafka node(s), the workers, web, the supervisor."""
    return [*stack.infrastructure, *stack.apps, SUPERVISOR]


def read_rss(stack: Stack, name: str, t_s: float, phase: str) -> Reading:
    """The RSS of a service's process and all its descendants, summed."""
    pid = stack.pid(name)
    if pid is None:
        return Reading(t_s, phase, name, None, 0, math.nan, math.nan)
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return Reading(t_s, phase, name, None, 0, math.nan, math.nan)
    rss, pss, count = 0, 0.0, 0
    for process in tree:
        try:
            rss += process.memory_info().rss
            pss += _pss(process)
            count += 1
        except psutil.NoSuchProcess:
            continue  # a backend that just exited
    return Reading(t_s, phase, name, pid, count, rss / 2**20, pss / 2**20)


def _pss(process: psutil.Process) -> float:
    """Linux only, and only for processes we may read (root may read postgres's)."""
    try:
        return float(getattr(process.memory_full_info(), "pss", math.nan))
    except psutil.AccessDenied:
        return math.nan


async def sample(soak: Soak, phase: str) -> list[Reading]:
    t_s = soak.now()
    readings = await asyncio.to_thread(
        lambda: [read_rss(soak.stack, name, t_s, phase) for name in process_names(soak.stack)]
    )
    soak.readings += readings
    return readings


async def sample_loop(soak: Soak) -> None:
    while True:
        try:
            async with asyncio.timeout(soak.args.sample_every_s):
                await soak.stop.wait()
            return
        except TimeoutError:
            progress(soak, await sample(soak, "load"))


def progress(soak: Soak, readings: list[Reading]) -> None:
    answers = [a for a in soak.answers if a.ttft_s is not None]
    memory = ", ".join(f"{r.process} {r.rss_mb:.0f}" for r in readings)
    print(
        f"[{soak.now():5.0f} s] documents {soak.uploaded} uploaded, {len(soak.ready_s)} ready;"
        f" {len(answers)} answers; RSS MB: {memory}",
        file=sys.stderr,
        flush=True,
    )


# --- the run --------------------------------------------------------------------------------


async def warm_up(soak: Soak, client: PdfchatClient, token: str) -> None:
    """One document to ready and one answer about it, not measured."""
    data, _, facts = await asyncio.to_thread(document, 0)
    document_id = (await client.upload(data, "soak-0.pdf"))["document_id"]
    async with asyncio.timeout(WARM_UP_TIMEOUT_S):
        views = await client.wait_for([document_id], interval=0.1)
    if views[document_id]["status"] != "ready":
        raise SystemExit(f"the warm-up document did not become ready: {views[document_id]}")
    soak.ready.append((document_id, facts))
    async with PdfchatClient(soak.settings.web_url, token, timeout=120) as chat:
        await one_answer(soak, chat, document_id, facts[0])
    soak.answers.clear()
    soak.errors.clear()


async def run(settings: Settings, args: argparse.Namespace) -> Soak:
    soak = Soak(settings, args, Stack(settings))
    token = mint(settings, tenant=TENANT, user="bench", roles=["editor"])
    async with PdfchatClient(settings.web_url, token, timeout=120) as client:
        await warm_up(soak, client, token)
        soak.started = time.perf_counter()
        progress(soak, await sample(soak, "start"))
        load = [
            upload_loop(soak, client),
            track_documents(soak, client),
            sample_loop(soak),
            *(chat_loop(soak, token, n) for n in range(args.chat_clients)),
        ]
        loaded = asyncio.gather(*load)
        await asyncio.sleep(args.minutes * 60)
        soak.load_s = soak.now()
        soak.stop.set()
        await loaded
        await drain(soak, client)
        progress(soak, await sample(soak, "end"))
    return soak


# --- the report -----------------------------------------------------------------------------


def _pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def memory_table(readings: list[Reading]) -> list[str]:
    lines = [
        "| process | pid (start → end) | processes (start → end) | RSS start MB | RSS end MB |"
        " peak MB | change MB | change % | PSS start → end MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    names = list(dict.fromkeys(r.process for r in readings))
    totals = [0.0, 0.0, 0.0]
    for name in names:
        mine = [r for r in readings if r.process == name]
        start = next(r for r in mine if r.phase == "start")
        end = next(r for r in mine if r.phase == "end")
        peak = max((r.rss_mb for r in mine if not math.isnan(r.rss_mb)), default=math.nan)
        totals = [totals[0] + start.rss_mb, totals[1] + end.rss_mb, totals[2] + peak]
        pids = f"{start.pid} → {end.pid}" if start.pid != end.pid else f"{start.pid}"
        lines.append(
            f"| {name} | {pids} | {start.processes} → {end.processes} | "
            + _change_cells(start.rss_mb, end.rss_mb, peak)
            + f" {start.pss_mb:.0f} → {end.pss_mb:.0f} |"
        )
    lines.append("| all (peak: the sum of each one's) | | | " + _change_cells(*totals) + " |")
    return lines


def _change_cells(start: float, end: float, peak: float) -> str:
    change = end - start
    return f"{start:.0f} | {end:.0f} | {peak:.0f} | {change:+.0f} | {100 * change / start:+.1f} |"


def window_table(soak: Soak) -> list[str]:
    window = min(WINDOW_S, soak.load_s / 5)
    spans = [("first", 0.0, window), ("last", soak.load_s - window, soak.load_s)]
    lines = [
        "| window | answers | answers/s | TTFT p50 ms | TTFT p95 ms | right | "
        "documents ready | upload → ready p50 s | p95 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, low, high in spans:
        answers = [a for a in soak.answers if low <= a.sent_s < high and a.ttft_s is not None]
        ttft = [a.ttft_s for a in answers if a.ttft_s is not None]
        ready = [s for sent, s in soak.ready_s if low <= sent < high]
        right = sum(a.right for a in answers)
        lines.append(
            f"| {label} {window:.0f} s ({low:.0f}–{high:.0f} s) | {len(answers)} | "
            f"{len(answers) / window:.1f} | {_pct(ttft, 50) * 1000:.0f} | "
            f"{_pct(ttft, 95) * 1000:.0f} | {right} | {len(ready)} | "
            f"{_pct(ready, 50):.2f} | {_pct(ready, 95):.2f} |"
        )
    return lines


def counts(soak: Soak) -> list[str]:
    finished = [a for a in soak.answers if a.ttft_s is not None]
    failed = len(soak.answers) - len(finished)
    refused = sum(n for e, n in soak.errors.items() if e.startswith("question refused"))
    upload_errors = sum(n for e, n in soak.errors.items() if e.startswith("upload"))
    ttft = [a.ttft_s for a in finished if a.ttft_s is not None]
    ready_s = [s for _, s in soak.ready_s]
    return [
        f"documents: {soak.uploaded} uploaded, {len(soak.ready_s)} ready "
        f"({soak.ready_pages} pages), "
        f"{soak.failed_documents} failed, {len(soak.pending)} not ready after the "
        f"{DRAIN_TIMEOUT_S:.0f} s drain, {upload_errors} uploads refused or failed; "
        f"upload → ready p50 {_pct(ready_s, 50):.2f} s, p95 {_pct(ready_s, 95):.2f} s, "
        f"max {max(ready_s, default=math.nan):.2f} s",
        f"answers: {len(finished)} finished ({sum(a.right for a in finished)} naming the "
        f"asked number), {failed} failed, {refused} questions refused; "
        f"{len(finished) / soak.load_s:.1f} answers/s; TTFT p50 "
        f"{_pct(ttft, 50) * 1000:.0f} ms, p95 {_pct(ttft, 95) * 1000:.0f} ms, mean "
        f"{statistics.fmean(ttft or [math.nan]) * 1000:.0f} ms",
        f"errors: {dict(soak.errors) if soak.errors else 'none'}",
    ]


def restarts(readings: list[Reading]) -> list[str]:
    """Processes whose pid changed, or that were missing at a sample."""
    found = []
    for name in dict.fromkeys(r.process for r in readings):
        pids = [r.pid for r in readings if r.process == name]
        distinct = list(dict.fromkeys(p for p in pids if p is not None))
        if len(distinct) > 1 or None in pids:
            found.append(f"{name}: pids {distinct}, missing at {pids.count(None)} sample(s)")
    return found


def report(soak: Soak) -> None:
    args = soak.args
    print(
        f"\nsoak: {soak.load_s / 60:.1f} min of load, {args.workers} worker(s), "
        f"{args.brokers} Kafka broker(s), a PDF of {PAGES[0]}–{PAGES[1]} pages every "
        f"{args.upload_every_s:g} s, {args.chat_clients} chat clients, RSS every "
        f"{args.sample_every_s:g} s ({len({r.t_s for r in soak.readings})} samples)\n"
    )
    print("\n".join(memory_table(soak.readings)))
    print(
        "\npostgres: the postmaster and every child process summed (in RSS, shared buffers count"
        " once per process that touched them; PSS splits them); other services: the process"
        " and any children."
        " Start: after the warm-up; end: after the load stopped and the documents in flight"
        " were ready; peak: the largest sample.\n"
    )
    print("\n".join(window_table(soak)))
    print()
    print("\n".join(counts(soak)))
    for line in restarts(soak.readings):
        print(f"restarted or missing: {line}")


def write_csv(path: Path, readings: list[Reading]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["t_s", "phase", "process", "pid", "processes", "rss_mb", "pss_mb"])
        for r in readings:
            which = [f"{r.t_s:.1f}", r.phase, r.process, r.pid or "", r.processes]
            writer.writerow([*which, f"{r.rss_mb:.1f}", f"{r.pss_mb:.1f}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="of load, after warm-up")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--brokers", type=int, default=1, help="Kafka brokers (1 or 3)")
    parser.add_argument("--upload-every-s", type=float, default=2.0, help="one PDF each")
    parser.add_argument("--chat-clients", type=int, default=4, help="closed-loop clients")
    parser.add_argument("--sample-every-s", type=float, default=30.0, help="RSS samples")
    parser.add_argument(
        "--turns",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="PDFCHAT_FAIR_TURNS (unset: the product's default)",
    )
    parser.add_argument("--csv", type=Path, help="write every RSS sample to this file")
    args = parser.parse_args()
    turns = {} if args.turns is None else {"fair_turns": args.turns}
    stack = scratch_stack(
        migrate_database,
        prefix="pdfchat-bench-",
        workers=args.workers,
        kafka_brokers=args.brokers,
        log_level="WARNING",
        # One tenant plays every client: admission control of questions is not measured.
        tenant_max_pending_questions=max(64, args.chat_clients + 1),
        max_pending_questions=max(512, args.chat_clients + 1),
        **turns,
    )
    with stack as settings:
        soak = asyncio.run(run(settings, args))
    report(soak)
    if args.csv:
        write_csv(args.csv, soak.readings)
        print(f"\nsamples written to {args.csv}")


if __name__ == "__main__":
    main()

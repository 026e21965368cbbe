"""Chat benchmark: concurrent WebSocket clients asking questions of the evaluation corpus.

    .venv/bin/python ops/bench/chat.py [--clients 1 10 100] [--questions 5] [--workers 1]
                                       [--ingest-pages 900] [--workers 2 --chat-workers 1]
                                       [--brokers 3] [--clients 1 --flood-chats 50]

Starts its own stack (PostgreSQL, Kafka, worker(s), web) in a temporary home on free ports,
uploads the six documents of ops/eval/corpus, warms up (30 answers, not measured), then for
each client count runs that many clients at once; each asks ``--questions`` questions one
after another (POST /v1/chat, then the answer socket to its end). Measured per answer: time
to first token (from sending the POST to the first token message), tokens per second of the
stream, errors. Not a test: it asserts nothing. Answers come from the offline
`local:extractive` model.

``--ingest-pages N``: while each client count runs, another tenant uploads N-page PDFs one
after another (each followed to ``ready``), so the chat shares the worker with parsing and
embedding — the "a 900-page PDF never slows a live conversation" question, measured.
``--chat-workers 1`` (with ``--workers 2``) runs the chat agents in a worker of their own and
ingestion in the other, at a lower CPU priority (PDFCHAT_CHAT_WORKERS, PDFCHAT_INGEST_NICE).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import statistics
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess as Process
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

# The repository root first: run as a script, this file's own folder would come first, and
# ops/eval/retrieval.py would shadow the product's `retrieval` package (and `ops` is no
# installed package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pdfgen
from cli.client import ApiError, PdfchatClient
from cli.stack import scratch_stack
from config import Settings
from config.settings import ActionLimits
from core.tokens import mint
from ops.eval.retrieval import QUESTIONS_FILE, ingest, load_corpus, render
from storage import migrate_database

ANSWER_TIMEOUT_S = 60.0
FLOOD_TENANT = "bench-flood"


@dataclass
class Run:
    clients: int
    ttft_s: list[float] = field(default_factory=list)
    stream_tokens_per_s: list[float] = field(default_factory=list)
    tokens: int = 0
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    pages_ingested: int = 0  # by the background load, during this run

    def row(self) -> str:
        answers = len(self.ttft_s)
        ttft = sorted(self.ttft_s)
        return (
            f"| {self.clients} | {answers} | {_ms(_pct(ttft, 50))} | {_ms(_pct(ttft, 95))} | "
            f"{_ms(max(ttft, default=0))} | "
            f"{statistics.median(self.stream_tokens_per_s or [0]):.0f} | "
            f"{self.tokens / self.wall_s:.0f} | {answers / self.wall_s:.1f} | "
            f"{len(self.errors)} |"
        )


def _pct(values: list[float], p: int) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


async def one_answer(client: PdfchatClient, question: str, run: Run) -> None:
    sent = time.perf_counter()
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            await _answer(client, question, sent, run)
    except Exception as exc:  # a benchmark counts failures instead of stopping
        run.errors.append(type(exc).__name__)


async def _answer(client: PdfchatClient, question: str, sent: float, run: Run) -> None:
    started = await client.chat(question)
    first = last = None
    tokens = 0
    async for message in client.stream(started["stream_session_id"]):
        if message["type"] == "token":
            tokens += 1
            last = time.perf_counter()
            first = first or last
        elif message["type"] == "error":
            run.errors.append(message["code"])
            return
    if first is None or last is None:
        run.errors.append("no_tokens")
        return
    run.ttft_s.append(first - sent)
    run.tokens += tokens
    if last > first:
        run.stream_tokens_per_s.append((tokens - 1) / (last - first))


async def until_idle(client: PdfchatClient, document_ids: list[str]) -> None:
    """Encodings and topic maps are computed after ready: measure chat only once they are
    done (a search of passages not all encoded ranks without the encoder, which is cheaper)."""
    async with asyncio.timeout(300):
        await client.wait_until_encoded(document_ids)
        for document_id in document_ids:
            while True:
                try:
                    await client.topics(document_id)
                    break
                except ApiError:
                    await asyncio.sleep(0.5)


async def client_loop(base_url: str, token: str, questions: list[str], run: Run) -> None:
    async with PdfchatClient(base_url, token, timeout=120) as client:
        for question in questions:
            await one_answer(client, question, run)


async def ingest_load(settings: Settings, pages: int, busy: asyncio.Event, run: Run) -> None:
    """Upload ``pages``-page PDFs one after another until cancelled; ``busy`` is set once the
    first is being parsed. Counts the pages that reached ready into ``run``."""
    token = mint(settings, tenant="bench-load", user="bench", roles=["editor"])
    async with PdfchatClient(settings.web_url, token, timeout=300) as client:
        for seed in itertools.count():
            pdf = await asyncio.to_thread(pdfgen.big_pdf, pages, seed)
            document_id = (await client.upload(pdf, f"load-{seed}.pdf"))["document_id"]
            await client.wait_for(
                [document_id],
                statuses=frozenset({"parsing", "parsed", "embedding", "ready", "failed"}),
                interval=0.02,
            )
            busy.set()
            views = await client.wait_for([document_id], interval=0.1)
            run.pages_ingested += views[document_id]["pages"] or 0


async def chat_flood(web_url: str, token: str, questions: list[str], sent: Event) -> list[str]:
    """Another tenant asks every question at once and reads every answer; ``sent`` is set
    once all of them are asked. Returns the error codes."""
    errors: list[str] = []
    async with PdfchatClient(web_url, token, timeout=120) as client:
        started = await asyncio.gather(*(client.chat(q) for q in questions))
        sent.set()

        async def read(session_id: str) -> None:
            async for message in client.stream(session_id):
                if message["type"] == "error":
                    errors.append(message["code"])

        await asyncio.gather(*(read(s["stream_session_id"]) for s in started))
    return errors


def _flood_process(
    web_url: str, token: str, questions: list[str], sent: Event, out: Queue[list[str]]
) -> None:
    out.put(asyncio.run(chat_flood(web_url, token, questions, sent)))


def start_flood(
    settings: Settings, pool: list[str], chats: int
) -> tuple[Process, Queue[list[str]]]:
    """The flood in a process of its own, started, once its questions are asked: its clients
    are other machines, and 50 streams read in the measured clients' event loop would delay
    theirs (docs/benchmarks.md: the lone first question measured 264 ms instead of 218)."""
    context = multiprocessing.get_context("spawn")
    sent, out = context.Event(), context.Queue()
    token = mint(settings, tenant=FLOOD_TENANT, user="bench", roles=["editor"])
    questions = [pool[i % len(pool)] for i in range(chats)]
    process = context.Process(
        target=_flood_process, args=(settings.web_url, token, questions, sent, out)
    )
    process.start()
    if not sent.wait(timeout=ANSWER_TIMEOUT_S):
        process.kill()
        raise RuntimeError("the flood's questions were not all asked in time")
    return process, out


async def measured(
    settings: Settings, token: str, pool: list[str], clients: int, args: argparse.Namespace
) -> Run:
    run = Run(clients)
    load = None
    flood = None
    if args.flood_chats:
        flood = await asyncio.to_thread(start_flood, settings, pool, args.flood_chats)
    if args.ingest_pages:
        busy = asyncio.Event()
        load = asyncio.create_task(ingest_load(settings, args.ingest_pages, busy, run))
        await busy.wait()
    started = time.perf_counter()
    await asyncio.gather(
        *(
            client_loop(
                settings.web_url,
                token,
                [pool[(c * args.questions + i) % len(pool)] for i in range(args.questions)],
                run,
            )
            for c in range(clients)
        )
    )
    run.wall_s = time.perf_counter() - started
    if load is not None:
        load.cancel()
    if flood is not None:
        process, out = flood
        flood_errors = await asyncio.to_thread(out.get, timeout=ANSWER_TIMEOUT_S * 2)
        await asyncio.to_thread(process.join)
        run.errors += [f"flood: {error}" for error in flood_errors]
    return run


async def bench(args: argparse.Namespace) -> None:
    corpus = load_corpus()
    pdfs = render(corpus)
    pool = [q["question"] for q in json.loads(QUESTIONS_FILE.read_text())["questions"]]
    stack = scratch_stack(
        migrate_database,
        prefix="pdfchat-bench-",
        chat_concurrency=args.concurrency,
        workers=args.workers,
        chat_workers=args.chat_workers,
        kafka_brokers=args.brokers,
        fair_turns=not args.no_turns,
        log_level="WARNING",
        # One tenant (and one user) plays every client: neither admission control nor rate
        # limits are what is measured here.
        tenant_max_pending_questions=max(args.clients) + args.flood_chats + 1,
        max_pending_questions=max(args.clients) + args.flood_chats + 1,
        rate_limits={"chats": ActionLimits(tenant=None, user=None)},
    )
    with stack as settings:
        token = mint(settings, tenant="bench", user="bench", roles=["editor"])
        tenants = [token]
        if args.flood_chats:  # the flooding tenant asks of the same documents, its own copies
            tenants.append(mint(settings, tenant=FLOOD_TENANT, user="bench", roles=["editor"]))
        for each in tenants:
            async with PdfchatClient(settings.web_url, each, timeout=300) as client:
                ids = await ingest(client, corpus, pdfs)
                await until_idle(client, list(ids.values()))
        # Not measured: loads models and caches in every process, as traffic would.
        await asyncio.gather(
            *(client_loop(settings.web_url, token, pool[c::10][:3], Run(0)) for c in range(10))
        )
        print(
            "| clients | answers | TTFT p50 ms | TTFT p95 ms | TTFT max ms | "
            "stream tokens/s (median) | tokens/s (all) | answers/s | errors |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for clients in args.clients:
            run = await measured(settings, token, pool, clients, args)
            print(run.row(), flush=True)
            if args.ingest_pages:
                print(f"  while ingesting: {run.pages_ingested} pages reached ready")
            if run.errors:
                print(f"  errors: {sorted(set(run.errors))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--questions", type=int, default=3, help="per client, in sequence")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--brokers", type=int, default=1, help="Kafka brokers (1 or 3)")
    parser.add_argument(
        "--no-turns", action="store_true", help="PDFCHAT_FAIR_TURNS=false: arrival order"
    )
    parser.add_argument(
        "--flood-chats",
        type=int,
        default=0,
        help="another tenant asks this many questions at once as each run starts",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="answers in flight per worker (PDFCHAT_CHAT_CONCURRENCY)",
    )
    parser.add_argument(
        "--chat-workers",
        type=int,
        default=0,
        help="of the workers, these run only chat (PDFCHAT_CHAT_WORKERS)",
    )
    parser.add_argument(
        "--ingest-pages",
        type=int,
        default=0,
        help="while measuring, keep ingesting PDFs of this many pages",
    )
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()

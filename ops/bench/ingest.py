"""Ingestion benchmark: N PDFs end to end (upload → ready: parsed and embedded) against a real
stack, compared with raw PyMuPDF text extraction of the same files in the same run.

    .venv/bin/python ops/bench/ingest.py --docs 20 --pages 30 [--workers 1] [--dir PDFS]
    .venv/bin/python ops/bench/ingest.py --docs 1 --pages 2000      # one big document

Also reports the peak memory (RSS) of every worker (with its page-reading processes) and of
the web process while the documents go from upload to ready, and the largest a document may
be (max_pages) is raised to fit what is benchmarked. A lone document's history (each status
and when) shows where its time went.

With ``--behind``, it then waits for the work that follows `ready` (the re-ranker's encodings,
the topic maps) and prints, per agent, how many events each worker handled and how long they
held it (``pdfchat_agent_event_duration_seconds``): an event held long holds every rebalance
of the consumer group as long.

Starts its own stack (PostgreSQL, Kafka, workers, web) in a temporary home on free ports, so it
runs beside a `pdfchat up` stack, and stops it afterwards. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pymupdf
from prometheus_client.parser import text_string_to_metric_families

import pdfgen
from cli.client import ApiError, PdfchatClient
from cli.stack import Stack, scratch_stack
from config import Settings
from core.tokens import mint
from pdf import parse_pdf
from storage import migrate_database

UPLOAD_CONCURRENCY = 8
RSS_EVERY_S = 0.05


class PeakRss:
    """Samples the resident memory of the stack's web and worker processes in a thread."""

    def __init__(self, settings: Settings) -> None:
        stack = Stack(settings)
        names = ["web", *(f"worker-{n}" for n in range(1, settings.workers + 1))]
        self.processes = {name: psutil.Process(stack.pid(name)) for name in names}
        self.start_mb = {name: _rss_mb(p) for name, p in self.processes.items()}
        self.peak_mb = dict(self.start_mb)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(RSS_EVERY_S):
            for name, process in self.processes.items():
                self.peak_mb[name] = max(self.peak_mb[name], _rss_mb(process))


def _rss_mb(process: psutil.Process) -> float:
    """The process's resident memory with its children's: a worker's page readers count."""
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total / 2**20


def raw_extraction(files: list[bytes]) -> tuple[int, float]:
    """Plain `page.get_text()` of every page: the floor any pipeline pays."""
    started, pages = time.perf_counter(), 0
    for data in files:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            for page in doc:
                page.get_text()
                pages += 1
    return pages, time.perf_counter() - started


def in_process_parse(files: list[bytes], settings: Settings) -> tuple[int, float]:
    """Our extraction and segmenting without Kafka, Postgres or HTTP."""
    started, pages = time.perf_counter(), 0
    for data in files:
        pages += parse_pdf(
            data,
            max_pages=settings.max_pages,
            segment_chars=settings.segment_chars,
            ocr_languages=settings.ocr_languages,  # as the worker reads scanned pages
        ).page_count
    return pages, time.perf_counter() - started


async def end_to_end(
    files: list[bytes], settings: Settings, tenant: str = "bench", *, behind: bool = False
) -> tuple[int, float]:
    token = mint(settings, tenant=tenant, user="bench", roles=["editor"])
    limit = asyncio.Semaphore(UPLOAD_CONCURRENCY)
    async with PdfchatClient(settings.web_url, token, timeout=300) as client:

        async def upload(i: int, data: bytes) -> str:
            async with limit:
                return (await client.upload(data, f"bench-{i}.pdf"))["document_id"]

        started = time.perf_counter()
        ids = await asyncio.gather(*(upload(i, d) for i, d in enumerate(files)))
        views = await client.wait_for(ids, interval=0.05)
        elapsed = time.perf_counter() - started
        if len(ids) == 1:
            print_history(await client.document(ids[0]))
        if behind:
            await _work_behind(client, ids)
    failed = [v for v in views.values() if v["status"] != "ready"]
    if failed:
        raise SystemExit(f"{len(failed)} documents did not parse: {failed[0]['error']}")
    return sum(v["pages"] for v in views.values()), elapsed


async def _work_behind(client: PdfchatClient, ids: list[str]) -> None:
    """Wait until every document is encoded and has its topic map."""
    started = time.perf_counter()
    await client.wait_until_encoded(ids)
    for document_id in ids:
        while True:
            with contextlib.suppress(ApiError):  # 409 topics_not_ready
                await client.topics(document_id)
                break
            await asyncio.sleep(0.2)
    print(f"  encoded and mapped {time.perf_counter() - started:.2f} s after ready")


def agent_times(settings: Settings) -> list[tuple[int, str, float, float]]:
    """Per worker and agent: events handled and their seconds in all (from its /metrics)."""
    rows = []
    for n in range(1, settings.workers + 1):
        port = settings.worker_web_port_base + n - 1
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        totals: dict[str, dict[str, float]] = {}
        for family in text_string_to_metric_families(text):
            if family.name != "pdfchat_agent_event_duration_seconds":
                continue
            for sample in family.samples:
                kind = sample.name.removeprefix(family.name)
                if kind in ("_count", "_sum"):
                    totals.setdefault(sample.labels["agent"], {})[kind] = sample.value
        rows += [(n, agent, t["_count"], t["_sum"]) for agent, t in sorted(totals.items())]
    return rows


def print_history(view: dict[str, Any]) -> None:
    """Where one document's time went: each status and the seconds since the one before."""
    history = view["history"]
    first = previous = datetime.fromisoformat(history[0]["at"])
    for entry in history:
        at = datetime.fromisoformat(entry["at"])
        print(
            f"  {entry['status']:<10} +{(at - previous).total_seconds():6.2f} s"
            f"  ({(at - first).total_seconds():6.2f} s)"
        )
        previous = at


def load_files(args: argparse.Namespace) -> list[bytes]:
    if args.dir:
        return [p.read_bytes() for p in sorted(Path(args.dir).glob("*.pdf"))]
    return [pdfgen.sample_pdf(args.pages, seed=i) for i in range(args.docs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dir", help="benchmark these PDFs instead of generated ones")
    parser.add_argument(
        "--behind", action="store_true", help="wait for encodings and topic maps; agent times"
    )
    args = parser.parse_args()

    files = load_files(args)
    largest = max(pymupdf.open(stream=data, filetype="pdf").page_count for data in files)
    stack = scratch_stack(
        migrate_database,
        prefix="pdfchat-bench-",
        workers=args.workers,
        log_level="WARNING",
        max_pages=max(largest, Settings().max_pages),
        max_upload_bytes=max(max(len(data) for data in files), Settings().max_upload_bytes),
    )
    with stack as settings:
        raw_pages, raw_s = raw_extraction(files)
        parse_pages, parse_s = in_process_parse(files, settings)
        with PeakRss(settings) as rss:
            e2e_pages, e2e_s = asyncio.run(end_to_end(files, settings, behind=args.behind))
        held = agent_times(settings) if args.behind else []

    raw_rate, parse_rate, e2e_rate = raw_pages / raw_s, parse_pages / parse_s, e2e_pages / e2e_s
    print(f"{len(files)} PDFs, {raw_pages} pages, {args.workers} worker(s)\n")
    print("| stage | pages | seconds | pages/s | vs raw |")
    print("|---|---|---|---|---|")
    print(f"| raw PyMuPDF get_text | {raw_pages} | {raw_s:.2f} | {raw_rate:.0f} | 1.00 |")
    print(
        f"| parse_pdf in process | {parse_pages} | {parse_s:.2f} | {parse_rate:.0f} | "
        f"{parse_rate / raw_rate:.2f} |"
    )
    print(
        f"| end to end (upload → ready) | {e2e_pages} | {e2e_s:.2f} | {e2e_rate:.0f} | "
        f"{e2e_rate / raw_rate:.2f} |"
    )
    peaks = ", ".join(
        f"{name} {rss.start_mb[name]:.0f} → {mb:.0f} MB" for name, mb in rss.peak_mb.items()
    )
    print(f"\nRSS before the uploads → peak while ingesting: {peaks}")
    if held:
        print("\n| worker | agent | events | seconds held, in all |")
        print("|---|---|---|---|")
        for worker, agent, count, total in held:
            print(f"| {worker} | {agent} | {count:.0f} | {total:.2f} |")


if __name__ == "__main__":
    main()

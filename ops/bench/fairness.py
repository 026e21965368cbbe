"""Fair scheduling benchmark: one tenant's lone PDF, idle and under another tenant's flood.

    .venv/bin/python ops/bench/fairness.py [--flood 200] [--pages 4] [--workers 1] [--rounds 3]

Starts its own stack in a temporary home. First the lone tenant uploads one PDF on the idle
system, `--rounds` times: its time from upload to ready is the idle figure. Then the flood
tenant uploads `--flood` PDFs as fast as the API takes them, and once a tenth of them are in,
the lone tenant uploads one PDF again (`--rounds` times, one after another): its time to ready
under the flood, compared with the idle one. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime

import pdfgen
from cli.client import PdfchatClient
from cli.stack import scratch_stack
from config import Settings
from core.tokens import mint
from storage import migrate_database

UPLOAD_CONCURRENCY = 8


async def time_to_ready(client: PdfchatClient, data: bytes, name: str) -> float:
    started = time.perf_counter()
    document_id = (await client.upload(data, name))["document_id"]
    uploaded = time.perf_counter()
    views = await client.wait_for([document_id], interval=0.05)
    if views[document_id]["status"] != "ready":
        raise SystemExit(f"{name} did not become ready: {views[document_id]}")
    elapsed = time.perf_counter() - started
    history = (await client.document(document_id))["history"]
    stamps = [datetime.fromisoformat(h["at"]) for h in history]
    steps = [
        f"{h['status']} +{(t - stamps[0]).total_seconds():.2f}"
        for h, t in zip(history[1:], stamps[1:], strict=True)
    ]
    print(f"{name}: upload {uploaded - started:.2f} s, then {', '.join(steps)}", flush=True)
    return elapsed


async def flood(client: PdfchatClient, files: list[bytes], started: asyncio.Event) -> list[str]:
    limit = asyncio.Semaphore(UPLOAD_CONCURRENCY)
    uploaded: list[str] = []

    async def upload(i: int, data: bytes) -> None:
        async with limit:
            uploaded.append((await client.upload(data, f"flood-{i}.pdf"))["document_id"])
        if len(uploaded) >= len(files) // 10:
            started.set()

    await asyncio.gather(*(upload(i, data) for i, data in enumerate(files)))
    return uploaded


async def flood_left(client: PdfchatClient) -> int:
    """The flood's documents not yet ready: was it still on when a measurement ended?"""
    states = ("queued", "parsing", "parsed", "embedding")
    return sum([len(await client.documents(status=s, limit=500)) for s in states])


async def bench(
    settings: Settings, args: argparse.Namespace
) -> tuple[list[float], list[float], list[int]]:
    lone_token = mint(settings, tenant="lone", user="bench", roles=["editor"])
    flood_token = mint(settings, tenant="flood", user="bench", roles=["editor"])
    async with (
        PdfchatClient(settings.web_url, lone_token, timeout=600) as lone,
        PdfchatClient(settings.web_url, flood_token, timeout=600) as crowd,
    ):
        await time_to_ready(lone, pdfgen.sample_pdf(args.pages, seed=999), "warm-up.pdf")
        idle = [
            await time_to_ready(lone, pdfgen.sample_pdf(args.pages, seed=1000 + r), f"idle-{r}.pdf")
            for r in range(args.rounds)
        ]
        files = [pdfgen.sample_pdf(args.pages, seed=i) for i in range(args.flood)]
        flooding_started = asyncio.Event()
        flooding = asyncio.create_task(flood(crowd, files, flooding_started))
        await flooding_started.wait()
        busy, left = [], []
        for r in range(args.rounds):
            data = pdfgen.sample_pdf(args.pages, seed=2000 + r)
            busy.append(await time_to_ready(lone, data, f"busy-{r}.pdf"))
            left.append(await flood_left(crowd))
        flood_ids = await flooding
        await crowd.wait_for(flood_ids, interval=0.2)
    return idle, busy, left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flood", type=int, default=200)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-turns", action="store_true", help="work in arrival order")
    args = parser.parse_args()
    stack = scratch_stack(
        migrate_database,
        prefix="pdfchat-bench-",
        workers=args.workers,
        log_level="WARNING",
        fair_turns=not args.no_turns,
    )
    with stack as settings:
        idle, busy, left = asyncio.run(bench(settings, args))
    idle_s, busy_s = statistics.median(idle), statistics.median(busy)
    print(f"{args.flood} flood PDFs of {args.pages} pages, {args.workers} worker(s)\n")
    print("| lone tenant's PDF | upload → ready, each round (s) | median (s) |")
    print("|---|---|---|")
    print(f"| idle | {', '.join(f'{s:.2f}' for s in idle)} | {idle_s:.2f} |")
    print(f"| during the flood | {', '.join(f'{s:.2f}' for s in busy)} | {busy_s:.2f} |")
    print(f"\nunder the flood / idle: {busy_s / idle_s:.2f}x")
    print(f"flood PDFs not yet ready as each round ended: {', '.join(map(str, left))}")


if __name__ == "__main__":
    main()

"""Local embedder throughput: 1,000 segments of ~1,000 characters through wordllama; and its
tokenizing, whole texts against their words' ids (retrieval.embeddings.token_ids), on texts
never seen and seen before.

    .venv/bin/python ops/bench/embed.py
    .venv/bin/python ops/bench/embed.py --pdf refman.pdf    # also: the collector and the cache

With ``--pdf``: the segments of that PDF are tokenized, so their words fill the word cache,
and a full garbage collection is timed with the cache as it is and with its entries as lists
(what it held before): how much longer every stop of a process is for the words it knows.
Start-up objects are frozen first, as web and worker do. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

# The repository root first: run as a script, this file's folder would come first.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pdfgen
import retrieval.embeddings
from core.heap import settle_after_start
from pdf import parse_pdf
from retrieval import LocalEmbedder
from retrieval.embeddings import load_wordllama, token_ids, unpadded_tokenizer

SEGMENTS = 1000
SEGMENT_CHARS = 1000
ROUNDS = 3


def tokenizing() -> None:
    """Wall and CPU time (the tokenizer runs a thread per CPU) of both ways."""
    tokenizer = unpadded_tokenizer().tokenizer
    fresh = pdfgen.sample_passages(3 * SEGMENTS, chars=SEGMENT_CHARS, first_seed=10_000)
    whole = partial(tokenizer.encode_batch, fresh, add_special_tokens=False)
    by_word = partial(token_ids, fresh)
    for label in ("never seen", "seen before"):
        (whole_wall, whole_cpu), (word_wall, word_cpu) = timed(whole), timed(by_word)
        print(
            f"tokenizing {len(fresh)} segments {label}, wall / CPU ms: whole {whole_wall:.0f}"
            f" / {whole_cpu:.0f}, by the word {word_wall:.0f} / {word_cpu:.0f}"
        )


def timed(call: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def collector_walk(pdf: Path) -> None:
    load_wordllama()
    unpadded_tokenizer()
    texts = [s.text for s in parse_pdf(pdf.read_bytes(), max_pages=100_000).segments]
    settle_after_start()
    token_ids(texts)
    cached = retrieval.embeddings._word_ids
    as_is = full_collection_ms()
    retrieval.embeddings._word_ids = {word: list(ids) for word, ids in cached.items()}
    as_lists = full_collection_ms()
    retrieval.embeddings._word_ids = cached
    print(
        f"{len(texts)} segments of {pdf.name}, {len(cached):,} words cached: a full collection"
        f" takes {as_is:.1f} ms, {as_lists:.1f} ms with the entries as lists"
    )


def full_collection_ms() -> float:
    gc.collect()  # the collector's first look lets go of what it need not track
    times = []
    for _ in range(5):
        started = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pdf", type=Path, help="time the collector with its words cached")
    args = parser.parse_args()
    if args.pdf:
        if not args.pdf.is_file():
            parser.error(f"{args.pdf}: no such file")
        collector_walk(args.pdf)
    tokenizing()
    texts = pdfgen.sample_passages(SEGMENTS, chars=SEGMENT_CHARS)
    embedder = LocalEmbedder()
    started = time.perf_counter()
    await embedder.embed_query("warm up")
    print(f"model load: {time.perf_counter() - started:.2f} s")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        vectors = await embedder.embed_documents(texts)
        elapsed = time.perf_counter() - started
        print(
            f"{len(vectors)} segments: {elapsed:.3f} s = {len(vectors) / elapsed:,.0f} segments/s"
        )
    await embedder.aclose()


if __name__ == "__main__":
    asyncio.run(main())

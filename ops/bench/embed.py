"""Local embedder throughput: 1,000 segments of ~1,000 characters through wordllama; and its
tokenizing, whole texts against their words' ids (retrieval.embeddings.token_ids), on texts
never seen and seen before.

    .venv/bin/python ops/bench/embed.py

Not a test: it asserts nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial

import pdfgen
from retrieval import LocalEmbedder
from retrieval.embeddings import token_ids, unpadded_tokenizer

SEGMENTS = 1000
SEGMENT_CHARS = 1000
ROUNDS = 3


def tokenizing() -> None:
    """Wall and CPU time (the tokenizer runs a thread per CPU) of both ways."""
    tokenizer, _ = unpadded_tokenizer()
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


async def main() -> None:
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

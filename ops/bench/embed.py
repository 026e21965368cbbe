"""Local embedder throughput: 1,000 segments of ~1,000 characters through wordllama.

    .venv/bin/python ops/bench/embed.py

Not a test: it asserts nothing.
"""

from __future__ import annotations

import asyncio
import time

import pdfgen
from retrieval import LocalEmbedder

SEGMENTS = 1000
SEGMENT_CHARS = 1000
ROUNDS = 3


async def main() -> None:
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

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


def segments() -> list[str]:
    paragraphs = [
        text
        for seed in range(300)
        for page in pdfgen.sample_document(4, seed)
        for kind, text in page
        if kind == "p"
    ]
    out, current = [], ""
    for paragraph in paragraphs:
        current = f"{current} {paragraph}".strip()
        if len(current) >= SEGMENT_CHARS:
            out.append(current[:SEGMENT_CHARS])
            current = ""
    return out[:SEGMENTS]


async def main() -> None:
    texts = segments()
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

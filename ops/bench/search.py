"""Search latency at scale and HNSW recall against exact search.

    .venv/bin/python ops/bench/search.py --segments 100000 --queries 200
    .venv/bin/python ops/bench/search.py --corpus real --segments 100000 --queries 200
    .venv/bin/python ops/bench/search.py --corpus real --stages     (and where the time goes)

Starts its own PostgreSQL in a temporary home, writes N segments with real local (wordllama)
vectors for one tenant, builds the HNSW index the way the embedding agent does, then times
`storage.search.nearest` on the exact scan and on the index, the full-text half, and whole
`POST /v1/search`-equivalent hybrid + re-rank queries (with ``--encoded``, the segments'
encodings are stored too and the re-ranker reads its encoder, as after the encode agent);
recall@10 is the share of the exact top
10 that the index returns. With ``--stages`` the hybrid queries are traced (spans kept in
memory) and each step's span timed: the two halves, which run at once, and the re-rank. Not a
test: it asserts nothing.

Two corpora. ``generated`` (the default): paragraphs of `pdfgen.sample_document`, asked
"What did <a clause of one of them> mean?"; its few templates repeat, so one sentence is in a
third of the passages, the worst case for full text. ``real``: the segments (as the product
cuts them) of 22 manuals, references and guides that Debian's documentation packages ship
(`ops/bench/real_pdfs.json`, about 32,600 segments, fetched once with `apt-get download`
into `ops/bench/build/pdfs/`), repeated in order up to N, as a tenant that keeps several
versions of its manuals; asked the questions of ops/eval's debian set, paraphrased as users
type them.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# The repository root first: run as a script, this file's folder would come first (and `ops`
# is no installed package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pdfgen
import storage
from cli.postgres import Postgres
from cli.stack import isolated_settings
from config import Settings
from core.cpu import limit_library_threads
from core.heap import settle_after_start
from ops.eval.debian_pdfs import QUESTIONS_DIR, fetch, load_sources
from pdf import parse_pdf
from retrieval import LocalEmbedder, create_reranker
from retrieval.embeddings import load_wordllama
from retrieval.encoder import Encoder, load_encoder
from storage import embeddings, encodings, search
from workflows.search import Embedders, search_segments

TENANT = "bench"
SEGMENTS_PER_DOCUMENT = 1000
HERE = Path(__file__).resolve().parent
REAL_PDFS = HERE / "real_pdfs.json"
REAL_BUILD = HERE / "build" / "pdfs"


def sentences(n: int) -> list[str]:
    out: list[str] = []
    seed = 0
    while len(out) < n:
        for page in pdfgen.sample_document(6, seed):
            out += [text for kind, text in page if kind == "p"]
        seed += 1
    return out[:n]


def generated_corpus(segments: int, queries: int) -> tuple[list[str], list[str]]:
    texts = sentences(segments)
    # Questions in other words than the text: a clause of a sentence, asked about.
    step = max(1, len(texts) // queries)
    questions = [f"What did {t.split(',')[0][:60]} mean?" for t in texts[::step]][:queries]
    return texts, questions


def real_corpus(segments: int, queries: int) -> tuple[list[str], list[str]]:
    """The real documents' segments, repeated in order up to ``segments``, and the debian
    set's questions (answerable and not), cycled up to ``queries``."""
    # Parsed on every run (about 30 s), never cached: the segments are the parser's of the day.
    pdfs = fetch(load_sources(REAL_PDFS), REAL_BUILD)
    distinct = [s.text for pdf in pdfs.values() for s in parse_pdf(pdf, max_pages=10_000).segments]
    print(f"{len(distinct)} distinct segments of real documents")
    asked = [
        q["question"]
        for path in sorted(QUESTIONS_DIR.glob("*.json"))
        for q in json.loads(path.read_text())["questions"]
    ]
    return (
        list(itertools.islice(itertools.cycle(distinct), segments)),
        list(itertools.islice(itertools.cycle(asked), queries)),
    )


async def load(pool, embedder: LocalEmbedder, texts: list[str], encoder: Encoder | None) -> None:
    vectors = await embedder.embed_documents(texts)
    encoded = _encodings(encoder, texts)
    async with pool.acquire() as conn:
        await embeddings.register_model(conn, embedder.model, embedder.dimension)
        for start in range(0, len(texts), SEGMENTS_PER_DOCUMENT):
            doc_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO documents (id, tenant_id, filename, content_type, size_bytes,"
                " sha256, blob_key, status, created_by) VALUES ($1, $2, 'b.pdf',"
                " 'application/pdf', 1, '', '', 'ready', 'bench')",
                doc_id,
                TENANT,
            )
            batch = range(start, min(start + SEGMENTS_PER_DOCUMENT, len(texts)))
            ids = [uuid.uuid4() for _ in batch]
            await conn.copy_records_to_table(
                "segments",
                columns=["id", "tenant_id", "doc_id", "seq", "page", "content"],
                records=[
                    (sid, TENANT, doc_id, i, 1 + i // 4, texts[j])
                    for i, (sid, j) in enumerate(zip(ids, batch, strict=True))
                ],
            )
            await conn.execute("SELECT index_postings($1, $2)", TENANT, doc_id)
            await embeddings.replace_for_document(
                conn,
                TENANT,
                doc_id,
                embedder.model,
                [(sid, vectors[j]) for sid, j in zip(ids, batch, strict=True)],
            )
            if encoder is not None:
                pairs = [(sid, encoded[texts[j]]) for sid, j in zip(ids, batch, strict=True)]
                await encodings.save(conn, TENANT, doc_id, encoder.name, pairs)


def _encodings(encoder: Encoder | None, texts: list[str]) -> dict[str, np.ndarray]:
    """Each distinct text's encoding, as the encode agent stores it (about 15 ms a text: the
    real corpus's 32,566 distinct segments take ten minutes)."""
    if encoder is None:
        return {}
    distinct = list(dict.fromkeys(texts))
    started = time.perf_counter()
    found = dict(zip(distinct, encoder.encode(distinct), strict=True))
    print(f"encoded {len(distinct)} distinct segments in {time.perf_counter() - started:.0f} s")
    return found


async def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = await call()
    return (time.perf_counter() - started) * 1000, result


def summary(name: str, millis: list[float]) -> str:
    q = statistics.quantiles(millis, n=100)
    return f"| {name} | {statistics.median(millis):.1f} | {q[94]:.1f} | {max(millis):.1f} |"


async def run(args: argparse.Namespace, settings: Settings) -> None:
    await storage.migrate(settings.dsn)
    pool = await storage.create_pool(settings.dsn, max_size=4)
    embedder = LocalEmbedder()
    reranker = create_reranker(settings)
    encoder = load_encoder(settings) if args.encoded else None
    load_wordllama()
    settle_after_start()  # as the web process does once its models are loaded
    corpus = real_corpus if args.corpus == "real" else generated_corpus
    texts, questions = corpus(args.segments, args.queries)
    started = time.perf_counter()
    await load(pool, embedder, texts, encoder)
    # Statistics, as autovacuum gathers them soon after a load: without them the planner
    # guesses, and at 100k segments it took a sequential scan over the HNSW index (41 ms
    # against 5 ms).
    await pool.execute("ANALYZE")
    print(f"loaded {len(texts)} segments with vectors in {time.perf_counter() - started:.1f} s")
    vectors = [await embedder.embed_query(q) for q in questions]

    async def nearest(vector):
        async with pool.acquire() as conn, conn.transaction():
            return await search.nearest(
                conn,
                TENANT,
                model=embedder.model,
                dimension=embedder.dimension,
                query=vector,
                limit=10,
            )

    exact = [await timed(lambda v=v: nearest(v)) for v in vectors]
    started = time.perf_counter()
    async with pool.acquire() as conn:
        embeddings.INDEX_MIN_ROWS = 0  # build now, as the agent does past the threshold
        await embeddings.ensure_index(conn, embedder.model, embedder.dimension)
    print(f"HNSW index built in {time.perf_counter() - started:.1f} s")
    search.INDEX_MIN_ROWS = 0
    indexed = [await timed(lambda v=v: nearest(v)) for v in vectors]
    text = [
        await timed(lambda q=q: search.full_text(pool, TENANT, query=q, limit=50))
        for q in questions
    ]
    embedders = Embedders(settings, embedder)
    spans = _keep_spans() if args.stages else None
    hybrid = [
        await timed(lambda q=q: search_segments(pool, embedders, reranker, TENANT, q, top_k=8))
        for q in questions
    ]
    recall = statistics.mean(
        len({h.segment_id for h in i[1]} & {h.segment_id for h in e[1]}) / 10
        for i, e in zip(indexed, exact, strict=True)
    )
    print(
        f"\n{len(texts)} segments ({args.corpus}), {len(questions)} queries,"
        " 256-dimensional vectors\n"
    )
    print("| query | p50 ms | p95 ms | max ms |\n|---|---|---|---|")
    print(summary("vector, exact scan (top 10)", [m for m, _ in exact]))
    print(summary("vector, HNSW ef_search 200 (top 10)", [m for m, _ in indexed]))
    print(summary("full text (top 50)", [m for m, _ in text]))
    print(summary("hybrid + local re-rank, end to end (top 8)", [m for m, _ in hybrid]))
    print(f"\nHNSW recall@10 against exact search: {recall:.3f}")
    if spans is not None:
        print("\n| step of hybrid + re-rank | p50 ms | p95 ms | max ms |\n|---|---|---|---|")
        for name, millis in _span_millis(spans.get_finished_spans()).items():
            print(summary(name, millis))
    await reranker.aclose()
    await embedder.aclose()
    await pool.close()


def _keep_spans() -> InMemorySpanExporter:
    """Trace from now on, every span kept in memory (the product's own spans, no exporter)."""
    kept = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    trace.set_tracer_provider(provider)
    return kept


def _span_millis(spans: Sequence[ReadableSpan]) -> dict[str, list[float]]:
    """Each span name's durations, in the order the steps first ran."""
    millis: dict[str, list[float]] = {}
    for span in spans:
        if span.start_time is not None and span.end_time is not None:
            millis.setdefault(span.name, []).append((span.end_time - span.start_time) / 1e6)
    return {name: found for name, found in millis.items() if len(found) > 1}


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=_positive, default=100_000)
    parser.add_argument("--queries", type=_positive, default=200)
    parser.add_argument("--corpus", choices=["generated", "real"], default="generated")
    parser.add_argument("--stages", action="store_true", help="time each step of a search too")
    parser.add_argument(
        "--encoded",
        action="store_true",
        help="store the re-ranker's encodings too, so that searches read them (slow to load)",
    )
    args = parser.parse_args()
    limit_library_threads()  # as the web and worker processes that search run
    settings = isolated_settings(Path(tempfile.mkdtemp(prefix="pdfchat-bench-")))
    postgres = Postgres(settings)
    postgres.start()
    try:
        asyncio.run(run(args, settings))
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()

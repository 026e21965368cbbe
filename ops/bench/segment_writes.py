"""What the database spends writing a document's segments and reading their lexemes, with and
without a stored tsvector column and its GIN index (migration 020 dropped them).

    .venv/bin/python ops/bench/segment_writes.py [--segments 20000] [--rounds 3]

Starts its own PostgreSQL in a temporary home and brings the schema up to date (for
``search_vector``). Per round and layout: COPY of the segments (the legal corpus's paragraphs,
numbered so none repeats) into a fresh table, then every lexeme occurrence read as
``index_postings`` reads them — from the stored column before, from ``search_vector`` of the
text now. Prints seconds per step. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

# The repository root first (see ops/eval/answers.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cli.postgres import Postgres
from cli.stack import isolated_settings
from config import Settings
from ops.eval.retrieval import load_corpus
from storage import migrate_database

# layout: (the table, where index_postings reads a segment's lexemes)
LAYOUTS = {
    "stored tsv + GIN index (before)": (
        "content text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED",
        "s.tsv",
    ),
    "text only, search_vector (after)": ("content text", "search_vector(s.content)"),
}


def paragraphs(count: int) -> list[tuple[int, str]]:
    texts = [
        text
        for document in load_corpus().values()
        for page in document.pages
        for kind, text in page
        if kind == "p"
    ]
    return [(seq, f"{texts[seq % len(texts)]} {seq}") for seq in range(count)]


async def run(settings: Settings, count: int, rounds: int) -> None:
    rows = paragraphs(count)
    conn = await asyncpg.connect(settings.owner_dsn)
    try:
        print(f"{count} segments; seconds per step\n")
        print("| round | layout | COPY | lexemes read | total |")
        print("|---|---|---|---|---|")
        for round_ in range(1, rounds + 1):
            for name, (columns, lexemes) in LAYOUTS.items():
                await conn.execute("DROP TABLE IF EXISTS bench_segments")
                await conn.execute(f"CREATE TABLE bench_segments (seq int, {columns})")
                if "tsv" in columns:
                    await conn.execute("CREATE INDEX ON bench_segments USING gin (tsv)")
                started = time.perf_counter()
                await conn.copy_records_to_table(
                    "bench_segments", records=rows, columns=["seq", "content"]
                )
                copied = time.perf_counter()
                await conn.fetchval(
                    f"SELECT count(*) FROM bench_segments s, unnest({lexemes}) AS t"
                )
                read = time.perf_counter()
                print(
                    f"| {round_} | {name} | {copied - started:.2f} | {read - copied:.2f} "
                    f"| {read - started:.2f} |"
                )
        await conn.execute("DROP TABLE bench_segments")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = isolated_settings(Path(tempfile.mkdtemp(prefix="pdfchat-bench-")))
    postgres = Postgres(settings)
    postgres.start()
    try:
        asyncio.run(migrate_database(settings))
        asyncio.run(run(settings, args.segments, args.rounds))
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()

"""The two halves of hybrid retrieval, each scoped by tenant: nearest vectors and full text."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np

from storage.embeddings import INDEX_MIN_ROWS, index_name, sql_literal

# Up to INDEX_MIN_ROWS vectors in scope an exact scan is fast and never misses; above it the
# model's HNSW index answers (when built). pgvector 0.6 filters HNSW results after the scan,
# so a small tenant inside a large index could otherwise get fewer than k hits: every
# connection searches with this ef_search (storage/db.py sets it as the session starts).
HNSW_EF_SEARCH = 200


@dataclass(frozen=True)
class Hit:
    segment_id: uuid.UUID
    document_id: uuid.UUID
    page: int
    content: str
    heading: str | None
    score: float
    title: str | None = None  # the document's name for people: document_name()


_PDF_SUFFIX = re.compile(r"\.pdf$", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")


def document_name(title: str | None, filename: str) -> str:
    """How people name a document: its title, with its file's name in brackets when the title
    does not say it ("Hypertext marks in LaTeX (hyperref)": users ask about "hyperref"); its
    file name when it has no title. The title says the file's name when each word of the name
    is among the title's letters ("Keeper's Guide" says "keepers-guide"); words of one or two
    characters ("en" of "debian-faq.en.pdf") are not looked for."""
    title = (title or "").strip()
    if not title:
        return filename
    stem = _PDF_SUFFIX.sub("", filename)
    letters = "".join(_WORD.findall(title.lower()))
    if all(w in letters for w in _WORD.findall(stem.lower()) if len(w) > 2):
        return title
    return f"{title} ({stem})"


# With the document's names, so that a chat's prompt needs no query of its own for them.
_COLUMNS = "s.id, s.doc_id, s.page, s.content, s.meta->>'heading' AS heading, d.title, d.filename"
_DOCUMENT = "JOIN documents d ON d.id = s.doc_id AND d.tenant_id = s.tenant_id"


def _hits(rows: Sequence[asyncpg.Record]) -> list[Hit]:
    return [
        Hit(
            r["id"],
            r["doc_id"],
            r["page"],
            r["content"],
            r["heading"],
            float(r["score"]),
            document_name(r["title"], r["filename"]),
        )
        for r in rows
    ]


async def openings(
    db: asyncpg.Pool | asyncpg.Connection,
    tenant_id: str,
    document_ids: Sequence[uuid.UUID],
    *,
    per_document: int,
) -> list[Hit]:
    """The first ``per_document`` segments of each of the tenant's documents given, in the
    order given and each in reading order (score 0: nothing was ranked)."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS}, 0.0::float8 AS score"
        " FROM unnest($2::uuid[]) WITH ORDINALITY AS wanted(doc_id, n)"
        " CROSS JOIN LATERAL (SELECT * FROM segments s WHERE s.tenant_id = $1"
        " AND s.doc_id = wanted.doc_id ORDER BY s.seq LIMIT $3) s"
        f" {_DOCUMENT} ORDER BY wanted.n, s.seq",
        tenant_id,
        list(document_ids),
        per_document,
    )
    return _hits(rows)


async def passages(
    db: asyncpg.Pool | asyncpg.Connection, tenant_id: str, segment_ids: Sequence[uuid.UUID]
) -> list[Hit]:
    """These segments, in the order given; another tenant's or a deleted one is left out."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS}, 0.0::float8 AS score"
        " FROM unnest($2::uuid[]) WITH ORDINALITY AS wanted(id, n)"
        f" JOIN segments s ON s.id = wanted.id AND s.tenant_id = $1 {_DOCUMENT}"
        " ORDER BY wanted.n",
        tenant_id,
        list(segment_ids),
    )
    return _hits(rows)


async def nearest(
    db: asyncpg.Pool | asyncpg.Connection,
    tenant_id: str,
    *,
    model: str,
    dimension: int,
    query: Sequence[float],
    limit: int,
    document_ids: Sequence[uuid.UUID] | None = None,
) -> list[Hit]:
    """Segments closest to ``query`` by cosine distance, best first; score = similarity.

    The model's HNSW index serves tenants with more than INDEX_MIN_ROWS vectors in scope; an
    exact scan serves the others (the index would return the nearest of every tenant, and
    filter most away). One statement decides, counting no further than that threshold, and
    runs only the branch it chose (the other's filter is false before it starts)."""
    rows = await db.fetch(
        _nearest_sql(model, dimension),
        tenant_id,
        list(query),
        document_ids,
        limit,
        model,
        INDEX_MIN_ROWS,
        index_name(model),
    )
    return _hits(rows)


def _nearest_sql(model: str, dimension: int) -> str:
    # The indexed expression (with the cast) lets the planner use the model's HNSW index,
    # whose predicate names the model as a literal; the uncast one forces the exact scan.
    # Nearest first on the vectors alone (the index's own query shape), then the join for text.
    cast = f"::vector({int(dimension)})"
    exact, indexed = "e.embedding <=> $2::vector", f"e.embedding{cast} <=> $2{cast}"
    where = (
        f"e.tenant_id = $1 AND e.model = {sql_literal(model)}"
        " AND ($3::uuid[] IS NULL OR e.doc_id = ANY($3))"
    )
    return f"""
        WITH scope AS (  -- read by both branches, computed once
            SELECT (SELECT count(*) FROM (SELECT FROM segment_embeddings
                                          WHERE tenant_id = $1 AND model = $5
                                            AND ($3::uuid[] IS NULL OR doc_id = ANY($3))
                                          LIMIT $6 + 1) AS bounded) > $6
                   AND EXISTS (SELECT FROM pg_indexes WHERE indexname = $7) AS indexed
        ), nearest AS (
            (SELECT e.segment_id, {exact} AS distance FROM segment_embeddings e
             WHERE NOT (SELECT indexed FROM scope) AND {where}
             ORDER BY {exact} LIMIT $4)
            UNION ALL
            (SELECT e.segment_id, {indexed} AS distance FROM segment_embeddings e
             WHERE (SELECT indexed FROM scope) AND {where}
             ORDER BY {indexed} LIMIT $4)
        )
        SELECT {_COLUMNS}, 1 - n.distance AS score
        FROM nearest n JOIN segments s ON s.id = n.segment_id {_DOCUMENT}
        ORDER BY n.distance
        """


# Okapi BM25's textbook parameters, over a tenant's corpus. The local re-ranker's BM25
# (retrieval/rerank.py) uses the same values over its candidates; each is tuned apart if ever.
BM25_K1 = 1.2
BM25_B = 0.75

# The postings of the question's lexemes in scope, one row per lexeme (each document's
# postings laid end to end in key order, the same in the three columns), and the scope's
# size. The lexemes are worked out once and each is looked up by the primary key: a plan that
# filtered the tenant's postings by an expression of $2 (as PostgreSQL chose for tables not
# yet analysed) would run to_tsvector for every row. Public: a test checks that plan. The
# question's lexeme count (for the ceiling, bm25_bound) is a subquery: computed once, not per row.
POSTINGS_SQL = """
    WITH scope AS (
        SELECT segments, occurrences FROM document_lexicons
        WHERE tenant_id = $1 AND ($3::uuid[] IS NULL OR doc_id = ANY($3))
    )
    SELECT found.keys, found.counts, found.lengths,
           (SELECT cardinality(tsvector_to_array(search_vector($2)))) AS lexemes,
           (SELECT sum(segments) FROM scope)::float8 AS segments,
           (SELECT sum(occurrences) FROM scope)::float8 AS occurrences
    FROM unnest(tsvector_to_array(search_vector($2))) AS word(lexeme),
    LATERAL (
        SELECT string_agg(p.keys, ''::bytea ORDER BY p.keys) AS keys,
               string_agg(p.counts, ''::bytea ORDER BY p.keys) AS counts,
               string_agg(p.lengths, ''::bytea ORDER BY p.keys) AS lengths
        FROM postings p
        WHERE p.tenant_id = $1 AND p.lexeme = word.lexeme
          AND ($3::uuid[] IS NULL OR p.doc_id = ANY($3))
    ) AS found
    WHERE found.keys IS NOT NULL
"""

# The ranked segments by their postings keys (document number << 32 | seq), in that order.
_BY_KEYS = f"""
    SELECT {_COLUMNS}, k.score
    FROM unnest($2::bigint[], $3::float8[]) WITH ORDINALITY AS k(key, score, rank)
    JOIN document_lexicons l ON l.number = k.key >> 32 AND l.tenant_id = $1
    JOIN segments s ON s.tenant_id = $1 AND s.doc_id = l.doc_id
                   AND s.seq = (k.key & 4294967295)::integer
    {_DOCUMENT}
    ORDER BY k.rank
"""


async def full_text(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    *,
    query: str,
    limit: int,
    document_ids: Sequence[uuid.UUID] | None = None,
) -> list[Hit]:
    """Segments holding any of the query's words (English stemming), best first by Okapi
    BM25 over the tenant's segments in scope; equal scores in reading order.

    The words are ORed: questions rarely share every word with their answer. BM25 weighs each
    word by its rarity in scope, so a passage with the one rare word of a question outranks
    one with three of its common words.

    Speed: a question's common words match thousands of segments. Reading each of them in the
    database cost about 3 µs, whatever the ranking; their postings (migration 019) are a few
    bytes each, read in one round trip per question and scored here in a few vector
    operations, and only the top ``limit`` segments are read."""
    found = await full_text_ranked(
        conn, tenant_id, query=query, limit=limit, document_ids=document_ids
    )
    return found.hits


@dataclass(frozen=True)
class FullText:
    hits: list[Hit]
    # The most any segment could score for the query: every one of its words, each counted in
    # full (a word no segment has at its rarest). A hit's score over it says how much of the
    # question the segment carries, comparable from question to question.
    bound: float


async def full_text_ranked(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    *,
    query: str,
    limit: int,
    document_ids: Sequence[uuid.UUID] | None = None,
) -> FullText:
    """``full_text``'s hits, and the bound of their scores."""
    rows = await conn.fetch(POSTINGS_SQL, tenant_id, query, document_ids)
    keys, scores = bm25_top(rows, limit)
    if not keys.size:
        return FullText([], 0.0)
    ranked = await conn.fetch(_BY_KEYS, tenant_id, keys.tolist(), scores.tolist())
    return FullText(_hits(ranked), bm25_bound(rows))


def bm25_bound(rows: Sequence[Mapping[str, Any]]) -> float:
    """Σ idf · (k1 + 1) over the query's words: BM25's ceiling for it. The words no segment in
    scope has (no row) count at the IDF of a word found nowhere."""
    if not rows or not rows[0]["segments"]:
        return 0.0
    segments = rows[0]["segments"]
    found = np.array([len(row["keys"]) // 8 for row in rows], dtype=float)  # 8-byte keys
    unseen = max(rows[0]["lexemes"] - len(rows), 0) * _idf(segments, 0)
    return float((_idf(segments, found).sum() + unseen) * (BM25_K1 + 1))


def _idf(segments: float, found_in: float | np.ndarray) -> np.ndarray:
    """BM25's IDF of a word found in ``found_in`` of ``segments`` (a number or an array)."""
    idf: np.ndarray = np.log(1 + (segments - found_in + 0.5) / (found_in + 0.5))
    return idf


def bm25_top(rows: Sequence[Mapping[str, Any]], limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``limit`` best postings keys by BM25 over the lexemes' postings ``rows``, and their
    scores, best first (ties: the smaller key, which is reading order within a document)."""
    if not rows or not rows[0]["segments"]:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    segments = rows[0]["segments"]
    mean_length = rows[0]["occurrences"] / segments or 1.0
    keys = [np.frombuffer(row["keys"], dtype=">i8").astype(np.int64) for row in rows]
    slots = _Slots(keys)
    contributions = []
    for row, lexeme_keys in zip(rows, keys, strict=True):
        counts = np.frombuffer(row["counts"], dtype=">i2").astype(np.float64)
        lengths = np.frombuffer(row["lengths"], dtype=">i2").astype(np.float64)
        idf = _idf(segments, len(lexeme_keys))
        norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / mean_length)
        contributions.append(idf * counts * (BM25_K1 + 1) / (counts + norm))
    # Summed by slot, not by sorting the keys: tens of thousands of them for common words.
    totals = np.bincount(
        np.concatenate(slots.of_keys), weights=np.concatenate(contributions), minlength=slots.size
    )
    best = min(limit, int(np.count_nonzero(totals)))
    if best == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    cutoff = np.partition(totals, -best)[-best]
    # Slots are in key order: a stable sort by score keeps reading order in ties.
    chosen = np.flatnonzero(totals >= cutoff)
    chosen = chosen[np.argsort(-totals[chosen], kind="stable")][:best]
    return slots.keys(chosen), totals[chosen]


class _Slots:
    """A slot for every seq up to the highest in the postings of each of their documents, in
    key order (document number, then seq): the keys' places in one dense array."""

    def __init__(self, keys: list[np.ndarray]) -> None:
        # A document's number is read where a run of its keys starts (the query sorts each
        # lexeme's keys, so there are few runs; any order would give the same documents).
        starts = [k[np.r_[True, np.diff(k >> 32) != 0]] >> 32 for k in keys]
        self.documents = np.unique(np.concatenate(starts))
        places = [(np.searchsorted(self.documents, k >> 32), k & 0xFFFFFFFF) for k in keys]
        span = np.zeros(len(self.documents), dtype=np.int64)
        for document, seq in places:
            np.maximum.at(span, document, seq + 1)
        self.offsets = np.concatenate(([0], np.cumsum(span)[:-1]))
        self.size = int(span.sum())
        self.of_keys = [self.offsets[document] + seq for document, seq in places]

    def keys(self, slots: np.ndarray) -> np.ndarray:
        document = np.searchsorted(self.offsets, slots, side="right") - 1
        keys: np.ndarray = (self.documents[document] << 32) | (slots - self.offsets[document])
        return keys

"""Hybrid retrieval: nearest vectors and full text, fused by reciprocal rank, then re-ranked.

Re-ranking runs in the caller's process: inline on the search request path, and inside the
orchestrator agent for chat. A round trip through a Kafka re-rank agent would add latency to
every interactive query and make search depend on worker availability, for no gain: the
re-ranker is stateless and cheap locally, and remote re-rankers are already an HTTP call.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

import asyncpg
import numpy as np

from config import Settings
from core import cjk
from core.errors import InvalidInput, NotFound
from core.fairness import checkpoint
from core.metrics import SEARCH_DURATION
from core.tracing import tracer
from llm.prompt import on_new_topic
from retrieval import Embedder, Reranker, create_embedder_for_model
from retrieval.encoder import Encoder
from storage import documents, embeddings, encodings, search
from storage.search import FullText, Hit

Mode = Literal["vector", "text", "hybrid", "hybrid+rerank"]
MODES: tuple[Mode, ...] = ("vector", "text", "hybrid", "hybrid+rerank")
MAX_QUERY_CHARS = 2000
MAX_TOP_K = 50
MAX_DOCUMENT_IDS = 100
# Candidates each half retrieves: recall before precision.
CANDIDATES = 50
# The best fused candidates the re-ranker sees (of up to 2 × CANDIDATES). Since full text
# ranks by BM25 the answer is rarely below the 70th: both evaluation sets rank as they did
# with all of them (docs/evaluation.md), and the median search re-ranks 70 instead of 86.
RERANK_CANDIDATES = 70
# A re-ranked list's segments of one page beyond PER_PAGE lose CROWDING_PENALTY of their score
# (``spread_pages``; the local re-ranker's scores run about 0.2–0.7, Cohere's relevance 0–1):
# over the debian set, hit@8 0.932 -> 0.943 (docs/evaluation.md, "Pages that crowd the list").
PER_PAGE = 2
CROWDING_PENALTY = 0.1
# Reciprocal rank fusion constant (Cormack et al. 2009): damps the weight of the top ranks.
RRF_K = 60

T = TypeVar("T")


def validate(query: str, top_k: int, document_ids: Sequence[str] | None, mode: str) -> None:
    if not query.strip():
        raise InvalidInput("query must not be empty", code="empty_query")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"query is longer than {MAX_QUERY_CHARS} characters", code="query_too_long"
        )
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"top_k must be between 1 and {MAX_TOP_K}", code="bad_top_k")
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}", code="bad_mode")
    if document_ids is not None and len(document_ids) > MAX_DOCUMENT_IDS:
        raise InvalidInput(f"at most {MAX_DOCUMENT_IDS} document_ids", code="too_many_documents")


class Embedders:
    """The configured embedder and, on demand, those of models a switch is moving away from."""

    def __init__(self, settings: Settings, current: Embedder) -> None:
        self._settings = settings
        self.current = current
        self._others: dict[str, Embedder] = {}

    def for_model(self, model: str) -> Embedder:
        if model == self.current.model:
            return self.current
        if model not in self._others:
            self._others[model] = create_embedder_for_model(self._settings, model)
        return self._others[model]

    async def aclose(self) -> None:
        for embedder in (self.current, *self._others.values()):
            await embedder.aclose()


async def search_model(pool: asyncpg.Pool, tenant_id: str, current: str) -> str | None:
    """The model whose vectors answer for this tenant: the configured one once it covers as
    many of the tenant's documents as any other; until then (a switch under way) the one that
    covers the most. None when the tenant has no vectors."""
    coverage = await embeddings.models_covering(pool, tenant_id)
    if not coverage:
        return None
    if coverage.get(current, 0) >= max(coverage.values()):
        return current
    return max(coverage, key=lambda model: (coverage[model], model))


async def search_segments(
    pool: asyncpg.Pool,
    embedders: Embedders,
    reranker: Reranker,
    tenant_id: str,
    query: str,
    *,
    top_k: int = 8,
    document_ids: Sequence[str] | None = None,
    mode: Mode = "hybrid+rerank",
) -> list[Hit]:
    """Every search (the HTTP route's and the orchestrator's) is one span and one observation
    of ``pdfchat_search_duration_seconds{mode}``."""
    validate(query, top_k, document_ids, mode)
    started = time.perf_counter()
    with tracer.start_as_current_span(
        "search", attributes={"pdfchat.search.mode": mode, "pdfchat.search.top_k": top_k}
    ) as span:
        try:
            hits = await _search(
                pool,
                embedders,
                reranker,
                tenant_id,
                query,
                top_k=top_k,
                document_ids=document_ids,
                mode=mode,
            )
        finally:
            SEARCH_DURATION.labels(mode).observe(time.perf_counter() - started)
        span.set_attribute("pdfchat.search.hits", len(hits))
        return hits


async def _search(
    pool: asyncpg.Pool,
    embedders: Embedders,
    reranker: Reranker,
    tenant_id: str,
    query: str,
    *,
    top_k: int,
    document_ids: Sequence[str] | None,
    mode: Mode,
) -> list[Hit]:
    scope = await _own_documents(pool, tenant_id, document_ids)
    limit = top_k if mode in ("vector", "text") else CANDIDATES
    found = await first_stage(
        pool, embedders, tenant_id, query, mode=mode, limit=limit, scope=scope
    )
    if mode != "hybrid+rerank" or not found.fused:
        return found.fused[:top_k]
    candidates, lexical = found.for_reranker()
    await checkpoint()
    with tracer.start_as_current_span(
        "search.rerank",
        attributes={
            "pdfchat.rerank.candidates": len(candidates),
            "pdfchat.rerank.model": reranker.name,
        },
    ):
        stored = StoredHitVectors(pool, tenant_id, found.model, candidates) if found.model else None
        order = await reranker.rerank(
            query,
            [h.content for h in candidates],
            top_n=len(candidates),
            stored=stored,
            lexical=lexical,
        )
    return spread_pages([replace(candidates[i], score=score) for i, score in order], top_k)


def spread_pages(ranked: Sequence[Hit], top_k: int) -> list[Hit]:
    """The best ``top_k`` hits once a page's third and later segments (in score order) lose
    ``CROWDING_PENALTY``: overlapping segments of one page would otherwise fill the list, as
    one host's pages would a web search's ("host crowding"). Scores still only fall."""
    seen: dict[tuple[uuid.UUID, int], int] = {}
    out: list[Hit] = []
    for hit in ranked:
        place = (hit.document_id, hit.page)
        seen[place] = seen.get(place, 0) + 1
        crowded = seen[place] > PER_PAGE
        out.append(replace(hit, score=hit.score - CROWDING_PENALTY) if crowded else hit)
    return sorted(out, key=lambda h: -h.score)[:top_k]  # stable: ties keep the ranking's order


@dataclass(frozen=True)
class FirstStage:
    """What the two halves found, fused: the re-ranker's input."""

    model: str | None  # whose vectors answered; None without the vector half or any vectors
    fused: list[Hit]  # best first, by reciprocal rank
    text: FullText | None  # the full-text half, with its bound; None when it did not run

    def for_reranker(self) -> tuple[list[Hit], list[float] | None]:
        """The best ``RERANK_CANDIDATES`` of the fused hits, and full text's share of each."""
        candidates = self.fused[:RERANK_CANDIDATES]
        return candidates, full_text_shares(self.text, candidates)


async def first_stage(
    pool: asyncpg.Pool,
    embedders: Embedders,
    tenant_id: str,
    query: str,
    *,
    mode: Mode,
    limit: int,
    scope: list[uuid.UUID] | None = None,
) -> FirstStage:
    """The halves ``mode`` needs, ``limit`` hits each, fused when both ran. Public for
    ops/eval/tune.py, which fits the re-ranker on exactly what it is given."""
    # The two halves at once: each waits on the database most of its time.
    (model, nearest), text = await asyncio.gather(
        _vector_half(pool, embedders, tenant_id, query, limit, scope)
        if mode != "text"
        else _nothing((None, None)),
        _full_text(pool, tenant_id, query, limit, scope) if mode != "vector" else _nothing(None),
    )
    ranked = [hits for hits in (nearest, None if text is None else text.hits) if hits is not None]
    fused = fuse(ranked) if len(ranked) > 1 else (ranked[0] if ranked else [])
    return FirstStage(model, fused, text)


def full_text_shares(text: FullText | None, candidates: Sequence[Hit]) -> list[float] | None:
    """Each candidate's BM25 score from the full-text half over its bound for the question, in
    [0, 1] (0 for one full text did not find): how much of the question it carries, weighed by
    the rarity of each word across the tenant's corpus, not only across the candidates."""
    if text is None:
        return None
    scores = {hit.segment_id: hit.score / text.bound for hit in text.hits if text.bound > 0}
    return [min(scores.get(hit.segment_id, 0.0), 1.0) for hit in candidates]


async def _vector_half(
    pool: asyncpg.Pool,
    embedders: Embedders,
    tenant_id: str,
    query: str,
    limit: int,
    scope: list[uuid.UUID] | None,
) -> tuple[str | None, list[Hit] | None]:
    """The model whose vectors answer for the tenant and its nearest segments; (None, None)
    when the tenant has no vectors."""
    model = await search_model(pool, tenant_id, embedders.current.model)
    if model is None:
        return None, None
    return model, await _nearest(pool, embedders.for_model(model), tenant_id, query, limit, scope)


async def _nothing(value: T) -> T:
    return value


async def _nearest(
    pool: asyncpg.Pool,
    embedder: Embedder,
    tenant_id: str,
    query: str,
    limit: int,
    scope: list[uuid.UUID] | None,
) -> list[Hit]:
    with tracer.start_as_current_span("search.vector") as span:
        await checkpoint()
        vector = await embedder.embed_query(query)
        await checkpoint()
        hits = await search.nearest(
            pool,
            tenant_id,
            model=embedder.model,
            dimension=embedder.dimension,
            query=vector,
            limit=limit,
            document_ids=scope,
        )
        span.set_attributes(
            {"pdfchat.embedding.model": embedder.model, "pdfchat.search.hits": len(hits)}
        )
        return hits


async def _full_text(
    pool: asyncpg.Pool, tenant_id: str, query: str, limit: int, scope: list[uuid.UUID] | None
) -> FullText:
    await checkpoint()
    with tracer.start_as_current_span("search.text") as span:
        found = await search.full_text_ranked(
            pool, tenant_id, query=query, limit=limit, document_ids=scope
        )
        span.set_attribute("pdfchat.search.hits", len(found.hits))
        return found


async def meanings(
    pool: asyncpg.Pool, encoder: Encoder | None, tenant_id: str, query: str, hits: Sequence[Hit]
) -> dict[uuid.UUID, float]:
    """The encoder's cosine between ``query`` and each hit that has a stored encoding: how
    close in meaning the best passages are, which the local model's abstention reads. Empty
    without an encoder, or for a question in Chinese, Japanese or Korean (it reads English)."""
    if encoder is None or not hits or cjk.has_cjk(query):
        return {}
    found = await encodings.of(pool, tenant_id, encoder.name, [h.segment_id for h in hits])
    if not found:
        return {}
    asked = await asyncio.to_thread(encoder.encode_question, query)
    return {segment_id: float(encoding @ asked) for segment_id, encoding in found.items()}


@dataclass(frozen=True)
class StoredHitVectors:
    """The candidates' vectors as the embedding agent stored them (retrieval.StoredVectors):
    a re-ranker of the same model reads those it has not seen instead of embedding them; and
    their encodings, as the encode agent stored them."""

    pool: asyncpg.Pool
    tenant_id: str
    model: str
    hits: Sequence[Hit]

    async def __call__(self, indices: Sequence[int]) -> dict[int, np.ndarray]:
        found = await embeddings.vectors_of(
            self.pool, self.tenant_id, self.model, [self.hits[i].segment_id for i in indices]
        )
        return self._by_index(indices, found)

    async def encodings(self, encoder: str, indices: Sequence[int]) -> dict[int, np.ndarray]:
        found = await encodings.of(
            self.pool, self.tenant_id, encoder, [self.hits[i].segment_id for i in indices]
        )
        return self._by_index(indices, found)

    def _by_index(
        self, indices: Sequence[int], found: dict[uuid.UUID, np.ndarray]
    ) -> dict[int, np.ndarray]:
        return {
            i: found[self.hits[i].segment_id] for i in indices if self.hits[i].segment_id in found
        }


def with_new_topic(
    together: Sequence[Hit], alone: Sequence[Hit], topic: list[str], before: str, top_k: int
) -> list[Hit]:
    """The hits of a follow-up that asks the question before it of another thing ("How does
    CamlIDL map a C struct? — And what about unions?"), searched with that question (its
    subject: ``together``) and alone (its new thing: ``alone``). With the question before it,
    the old thing's passages outrank the new one's; alone, another subject's may come up. So
    a passage of ``alone`` joins when it names the new thing and shares a term with the
    question before; then best first, by the re-ranker's scores of either search."""
    joining = [
        hit
        for hit in alone
        if on_new_topic(f"{hit.title or ''} {hit.heading or ''} {hit.content}", topic, before)
    ]
    merged = {hit.segment_id: hit for hit in [*together, *joining]}
    return sorted(merged.values(), key=lambda h: -h.score)[:top_k]


def fuse(rankings: Sequence[Sequence[Hit]]) -> list[Hit]:
    """Reciprocal rank fusion: each list votes 1 / (RRF_K + rank) for its hits."""
    scores: dict[uuid.UUID, float] = {}
    hits: dict[uuid.UUID, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.segment_id] = scores.get(hit.segment_id, 0.0) + 1.0 / (RRF_K + rank)
            hits.setdefault(hit.segment_id, hit)
    # Ties in a stable order (ids are random): by page, then text.
    best = sorted(scores, key=lambda sid: (-scores[sid], hits[sid].page, hits[sid].content))
    return [replace(hits[sid], score=scores[sid]) for sid in best]


async def _own_documents(
    pool: asyncpg.Pool, tenant_id: str, document_ids: Sequence[str] | None
) -> list[uuid.UUID] | None:
    """The requested documents, all of which must be the tenant's; foreign ones are reported
    exactly like unknown ones."""
    if document_ids is None:
        return None
    try:
        wanted = [uuid.UUID(str(d)) for d in document_ids]
    except ValueError:
        raise InvalidInput(
            "document_ids must be document ids (UUIDs)", code="bad_document_id"
        ) from None
    missing = set(wanted) - await documents.existing(pool, tenant_id, wanted)
    if missing:
        raise NotFound(f"unknown documents: {', '.join(sorted(map(str, missing)))}")
    return wanted

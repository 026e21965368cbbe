"""POST /v1/search against the real stack: hybrid retrieval, isolation and bad input."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

import pdfgen
from retrieval.embeddings import LOCAL_MODEL, WORDLLAMA_DIM
from storage import search

pytestmark = pytest.mark.stack

MODES = ["vector", "text", "hybrid", "hybrid+rerank"]


def _fact_on_page(seed: int, n_pages: int, page: int) -> tuple[str, str]:
    """The unique sentence of ``page`` and the ledger's place and count in it."""
    blocks = pdfgen.sample_document(n_pages, seed)[page - 1]
    fact = next(text for _, text in blocks if f"On page {page} the ledger" in text)
    sentence = re.search(
        rf"On page {page} the ledger of \w+ records exactly \d+ deliveries\.", fact
    )
    assert sentence is not None
    place, count = re.search(r"ledger of (\w+) records exactly (\d+)", sentence[0]).groups()
    return place, count


@pytest.fixture
async def library(api, tenant):
    """Two ready documents of one tenant; returns (client, ids by seed)."""
    client = api(tenant)
    ids = {}
    for seed in (51, 52):
        body = await client.upload(pdfgen.sample_pdf(5, seed=seed), f"doc-{seed}.pdf")
        ids[seed] = body["document_id"]
    async with asyncio.timeout(90):
        views = await client.wait_for(ids.values())
    assert {v["status"] for v in views.values()} == {"ready"}
    return client, ids


async def _search(settings, token: str, body: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=settings.web_url, timeout=30) as http:
        return await http.post(
            "/v1/search", json=body, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.mark.parametrize("mode", MODES)
async def test_finds_the_page_that_answers(settings, token, tenant, library, mode):
    _, ids = library
    place, count = _fact_on_page(52, 5, 3)
    query = f"How many deliveries were recorded in the {place} ledger, {count}?"
    response = await _search(settings, token(tenant), {"query": query, "top_k": 5, "mode": mode})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert 0 < len(results) <= 5
    best = results[0]
    assert (best["document_id"], best["page"]) == (ids[52], 3), results[:3]
    assert count in best["text"]
    assert set(best) >= {"document_id", "page", "segment_id", "text", "score"}
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


async def test_document_filter_limits_the_scope(settings, token, tenant, library):
    _, ids = library
    place, count = _fact_on_page(52, 5, 3)
    body = {"query": f"{place} ledger {count} deliveries", "document_ids": [ids[51]]}
    response = await _search(settings, token(tenant), body)
    assert response.status_code == 200
    assert {r["document_id"] for r in response.json()["results"]} == {ids[51]}


async def test_another_tenant_finds_nothing_and_cannot_name_the_documents(
    settings, token, tenant, library
):
    _, ids = library
    stranger = token(f"{tenant}-x")
    place, count = _fact_on_page(52, 5, 3)
    for mode in MODES:
        response = await _search(settings, stranger, {"query": f"{place} {count}", "mode": mode})
        assert response.status_code == 200
        assert response.json()["results"] == []
    response = await _search(settings, stranger, {"query": "ledger", "document_ids": [ids[52]]})
    assert response.status_code == 404
    assert ids[52] in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": ""}, "empty_query"),
        ({"query": "   "}, "empty_query"),
        ({"query": "x" * 2001}, "query_too_long"),
        ({"query": "ledger", "top_k": 0}, "bad_top_k"),
        ({"query": "ledger", "top_k": 51}, "bad_top_k"),
        ({"query": "ledger", "top_k": "5"}, "invalid_input"),
        ({"query": "ledger", "document_ids": ["not-a-uuid"]}, "bad_document_id"),
        ({"query": "ledger", "mode": "psychic"}, "invalid_input"),
        ({"query": "ledger", "colour": "blue"}, "invalid_input"),
        ({"top_k": 3}, "invalid_input"),
        (["ledger"], "invalid_input"),
    ],
)
async def test_bad_requests_get_a_clear_400(settings, token, tenant, body, code):
    response = await _search(settings, token(tenant), body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


async def test_unknown_document_id_is_404(settings, token, tenant):
    body = {"query": "ledger", "document_ids": ["00000000-0000-0000-0000-000000000001"]}
    response = await _search(settings, token(tenant), body)
    assert response.status_code == 404


# Full text as it was scored before the cutoff: cover density computed for every match.
_EVERY_MATCH_SCORED = """
    WITH q AS (
        SELECT to_tsquery('english',
                          replace(plainto_tsquery('english', $2)::text, '&', '|')) AS tsq,
               ARRAY(SELECT to_tsquery('simple', quote_literal(word))
                     FROM unnest(tsvector_to_array(to_tsvector('english', $2))) word) AS words
    )
    SELECT s.id FROM segments s, q
    WHERE s.tenant_id = $1 AND s.tsv @@ q.tsq
    ORDER BY (SELECT count(*) FROM unnest(q.words) word WHERE s.tsv @@ word)
             + ts_rank_cd(s.tsv, q.tsq, 32) DESC, s.seq, s.content
    LIMIT $3
"""


async def _passes(db, words: int) -> list[int]:
    return await db.fetchval(
        "SELECT full_text_passes($1, $2)", words, list(search.FULL_TEXT_PASSES)
    )


@pytest.mark.parametrize("statistics", [False, True], ids=["no statistics", "analysed"])
async def test_full_text_ranks_as_if_every_match_were_scored(library, tenant, db, statistics):
    """Neither the passes over the rarest words nor cover density only for passages that can
    reach the top may change the order. The order of the words (by the column's statistics,
    or none) changes only how soon a pass settles it."""
    if statistics:
        await db.execute("ANALYZE segments")
    queries = [
        "Who kept a diary of the weather for many years?",
        "How many shillings were spent in a single season?",
        "Why did the parts wear out that year, and who rebuilt them after the storm?",
        "What did the ledger of the mill record about deliveries every winter?",
        "ledger deliveries",
        "weather",
        "Kubernetes weather",
        # Operators, quotes and backslashes are words or nothing, never tsquery syntax.
        "O'Neil's ledger: 'storm' & | ! <-> :* (weather) C:\\temp\\it's.txt?",
    ]
    cut = settled_early = every_pass = 0
    for query in queries:
        matches = len(await db.fetch(_EVERY_MATCH_SCORED, tenant, query, 10_000))
        words = await db.fetchval(
            "SELECT cardinality(tsvector_to_array(to_tsvector('english', $1)))", query
        )
        for limit in (1, 3, 8, 50):
            found = await search.full_text(db, tenant, query=query, limit=limit)
            expected = await db.fetch(_EVERY_MATCH_SCORED, tenant, query, limit)
            assert [h.segment_id for h in found] == [r["id"] for r in expected], (query, limit)
            cut += matches > limit
            # The share of the words the settling pass asked for (1: the last pass, every match).
            asked = await db.fetchval(
                "SELECT asked FROM full_text_ranked($1, $2, NULL, $3, $4) LIMIT 1",
                tenant,
                query,
                limit,
                list(search.FULL_TEXT_PASSES),
            )
            settled_early += asked is not None and asked > 1
            every_pass += asked == 1 and words > 1
    assert cut >= 10  # most cases had passages the cutoff left unscored
    assert settled_early >= 5  # a pass over the rarest words was the answer
    assert every_pass >= 3  # and passes that fell short went on to the next


async def test_full_text_of_stop_words_finds_nothing(library, tenant, db):
    assert await search.full_text(db, tenant, query="Why is it that they were?", limit=8) == []


@pytest.mark.parametrize("word", ["it's", "o''neil", "back\\slash", "c++", "a b", "|&!"])
async def test_any_of_matches_the_lexeme_as_it_is(db, word):
    """Lexemes go into the tsquery as they are: quotes and backslashes escaped, nothing
    parsed or stemmed."""
    any_of = await db.fetchval("SELECT tsquery_any_of(ARRAY[$1::text])", word)
    assert await db.fetchval("SELECT array_to_tsvector(ARRAY[$1::text]) @@ $2", word, any_of)
    assert not await db.fetchval("SELECT array_to_tsvector(ARRAY['other']) @@ $1", any_of)


async def test_passes_ask_for_fewer_words_each_time_and_end_with_one(db) -> None:
    assert await _passes(db, 1) == [1]
    assert await _passes(db, 2) == [2, 1]
    assert await _passes(db, 6) == [6, 5, 4, 3, 2, 1]
    assert await _passes(db, 30) == [30, 25, 20, 15, 10, 5, 1]


async def test_each_hit_names_its_document_for_the_prompt(library, tenant, db):
    """The orchestrator labels evidence with the document's name from the hit itself (no
    query of its own): the title the parse found, else the file name."""
    _, ids = library
    titles = {
        r["id"]: r["title"]
        for r in await db.fetch(
            "SELECT id::text, title FROM documents WHERE tenant_id = $1", tenant
        )
    }
    for hits in (
        await search.full_text(db, tenant, query="ledger deliveries", limit=20),
        await search.nearest(
            db, tenant, model=LOCAL_MODEL, dimension=WORDLLAMA_DIM, query=[0.1] * 256, limit=20
        ),
    ):
        assert {str(h.document_id) for h in hits} == set(ids.values())
        for hit in hits:
            expected = titles[str(hit.document_id)] or f"doc-{_seed(ids, hit.document_id)}.pdf"
            assert hit.title == expected


def _seed(ids: dict[int, str], document_id) -> int:
    return next(seed for seed, i in ids.items() if i == str(document_id))

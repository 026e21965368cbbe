"""Full text's postings (migration 019) follow the segments they index: written with them,
replaced with them, deleted with their document, and read only within the tenant and scope."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from storage import search, segments
from storage.segments import NewSegment
from tests.rows import new_document

TEXTS = [
    "The harbour master logs every ship that enters the harbour.",
    "Cargo manifests list each container and its weight.",
    "Storms close the harbour, and ships wait in the outer roads.",
]


async def _parsed(pg, tenant: str, texts: list[str]) -> uuid.UUID:
    doc_id = await new_document(pg, tenant)
    await _replace(pg, tenant, doc_id, texts)
    return doc_id


async def _replace(pg, tenant: str, doc_id: uuid.UUID, texts: list[str]) -> None:
    """A parse (the segments), then the embed step's postings."""
    async with pg.acquire() as conn, conn.transaction():
        await segments.replace_for_document(
            conn, tenant, doc_id, [NewSegment(seq, 1 + seq, t) for seq, t in enumerate(texts)]
        )
    await segments.index_postings(pg, tenant, doc_id)


async def _postings(pg, doc_id: uuid.UUID) -> dict[str, list[int]]:
    rows = await pg.fetch(
        "SELECT lexeme, keys FROM postings WHERE doc_id = $1 ORDER BY lexeme", doc_id
    )
    return {
        r["lexeme"]: [int(k) & 0xFFFFFFFF for k in np.frombuffer(r["keys"], ">i8")] for r in rows
    }


async def test_each_lexeme_lists_the_segments_that_hold_it_with_their_counts(pg) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    doc_id = await _parsed(pg, tenant, TEXTS)
    postings = await _postings(pg, doc_id)
    assert postings["harbour"] == [0, 2]
    assert postings["cargo"] == [1]
    assert "the" not in postings  # a stop word is no lexeme
    row = await pg.fetchrow(
        "SELECT counts, lengths FROM postings WHERE doc_id = $1 AND lexeme = 'harbour'", doc_id
    )
    assert np.frombuffer(row["counts"], ">i2").tolist() == [2, 1]
    lengths = await pg.fetch(
        "SELECT seq, length(search_vector(content)) AS distinct_lexemes FROM segments"
        " WHERE doc_id = $1 ORDER BY seq",
        doc_id,
    )
    # Occurrences of all lexemes: segment 0 holds "harbour" twice, so one more than distinct.
    assert np.frombuffer(row["lengths"], ">i2").tolist() == [
        lengths[0]["distinct_lexemes"] + 1,
        lengths[2]["distinct_lexemes"],
    ]
    totals = await pg.fetchrow(
        "SELECT segments, occurrences FROM document_lexicons WHERE doc_id = $1", doc_id
    )
    assert totals["segments"] == 3


async def test_a_parse_delivered_again_replaces_the_postings(pg) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    doc_id = await _parsed(pg, tenant, TEXTS)
    await _replace(pg, tenant, doc_id, ["Only cargo now, in one segment."])
    assert await _postings(pg, doc_id) == {"cargo": [0], "one": [0], "segment": [0]}
    lexicons = "SELECT count(*) FROM document_lexicons WHERE doc_id = $1"
    assert await pg.fetchval(lexicons, doc_id) == 1
    hits = await search.full_text(pg, tenant, query="harbour cargo", limit=10)
    assert [h.content for h in hits] == ["Only cargo now, in one segment."]


async def test_new_segments_have_no_postings_until_indexed_and_keep_them(pg) -> None:
    """A parse leaves no stale postings; a document embedded again keeps its postings (the
    segments did not change) instead of writing them again."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    doc_id = await _parsed(pg, tenant, TEXTS)
    async with pg.acquire() as conn, conn.transaction():
        await segments.replace_for_document(conn, tenant, doc_id, [NewSegment(0, 1, "Cargo.")])
    assert await _postings(pg, doc_id) == {}
    assert await search.full_text(pg, tenant, query="harbour cargo", limit=10) == []
    await segments.index_postings(pg, tenant, doc_id)
    number = "SELECT number FROM document_lexicons WHERE doc_id = $1"
    first = await pg.fetchval(number, doc_id)
    await segments.index_postings(pg, tenant, doc_id)
    assert await pg.fetchval(number, doc_id) == first
    assert await _postings(pg, doc_id) == {"cargo": [0]}


async def test_a_deleted_document_gets_no_postings(pg) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    doc_id = await _parsed(pg, tenant, TEXTS)
    await pg.execute("DELETE FROM documents WHERE id = $1", doc_id)
    await segments.index_postings(pg, tenant, doc_id)
    assert (
        await pg.fetchval("SELECT count(*) FROM document_lexicons WHERE doc_id = $1", doc_id) == 0
    )


async def test_deleting_the_document_deletes_its_postings(pg) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    doc_id = await _parsed(pg, tenant, TEXTS)
    await pg.execute("DELETE FROM documents WHERE id = $1", doc_id)
    assert await _postings(pg, doc_id) == {}
    assert await search.full_text(pg, tenant, query="harbour", limit=10) == []


async def test_search_stays_in_its_tenant_and_scope(pg) -> None:
    tenant, other = (f"t-{uuid.uuid4().hex[:12]}" for _ in range(2))
    first = await _parsed(pg, tenant, TEXTS)
    second = await _parsed(pg, tenant, ["A harbour in another document."])
    await _parsed(pg, other, ["The harbour of another tenant, harbour upon harbour."])
    hits = await search.full_text(pg, tenant, query="harbour", limit=10)
    assert {h.document_id for h in hits} == {first, second}
    scoped = await search.full_text(pg, tenant, query="harbour", limit=10, document_ids=[second])
    assert [h.document_id for h in scoped] == [second]
    # Rarity is counted in scope: one segment of one holds the word, so it weighs less than
    # among the four segments of both documents.
    assert scoped[0].score < next(h.score for h in hits if h.document_id == second)


@pytest.mark.parametrize("query", ["", "the of and", "zyzzyva", "'; DROP TABLE postings; --"])
async def test_questions_without_indexed_words_find_nothing(pg, query) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    await _parsed(pg, tenant, TEXTS)
    assert await search.full_text(pg, tenant, query=query, limit=10) == []


async def test_an_empty_document_has_no_postings_and_counts_for_nothing(pg) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    empty = await _parsed(pg, tenant, [])
    await _parsed(pg, tenant, TEXTS)
    assert await _postings(pg, empty) == {}
    assert [h.page for h in await search.full_text(pg, tenant, query="cargo", limit=5)] == [2]


CHINESE = [
    "数据库的最大连接数由参数 max_connections 控制，默认值为 500。",
    "备份文件默认保留 30 天，过期后由后台任务自动删除。",
    "当磁盘使用率超过百分之八十五时，系统会发出告警。",
]


async def test_chinese_text_is_found_by_its_character_pairs(pg) -> None:
    """The English parser kept a whole run of ideographs as one lexeme, so no Chinese question
    ever matched. Runs are indexed as their pairs (core.cjk.words reads them the same)."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    doc_id = await _parsed(pg, tenant, CHINESE)
    postings = await _postings(pg, doc_id)
    assert postings["连接"] == [0] and postings["备份"] == [1] and postings["天"] == [1]
    assert postings["connect"] == [0]  # English words in Chinese text: stemmed as ever
    asked = {
        "数据库的最大连接数是多少？": 1,
        "备份文件保留多久": 2,
        "磁盘告警": 3,
        "How many connections at most?": 1,
    }
    for question, page in asked.items():
        hits = await search.full_text(pg, tenant, query=question, limit=3)
        assert hits and hits[0].page == page, question


async def test_text_without_cjk_has_the_lexemes_english_stemming_gives(pg) -> None:
    for text in [*TEXTS, "Naïve cafés, 3.5 mm — x_y", ""]:
        ours = await pg.fetchval("SELECT search_vector($1)::text", text)
        assert ours == await pg.fetchval("SELECT to_tsvector('english', $1)::text", text)


OPTIONS = [
    "-i texinputs, --texinputs texinputs: path added to TEXINPUTS.",
    "-I figure_path, --fig-path=figure_path: additional lookup path of the figures.",
    "The non-interactive mode prints a x-y plot; see pages 5-10.",
]


async def test_options_are_found_as_written(pg) -> None:
    """The English parser reads "-I" as the stopword i and "-p" as the letter p: options are
    lexemes of their own too (migration 023), with their case and hyphens."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    doc_id = await _parsed(pg, tenant, OPTIONS)
    postings = await _postings(pg, doc_id)
    assert postings["-i"] == [0] and postings["-I"] == [1] and postings["--fig-path"] == [1]
    options = {w for w in postings if w.startswith("-") and w.lstrip("-")[:1].isalpha()}
    assert options == {"-i", "--texinputs", "-I", "--fig-path"}  # not "non-interactive"
    for question, page in {"What does -I do?": 2, "What does -i do?": 1}.items():
        hits = await search.full_text(pg, tenant, query=question, limit=3)
        assert hits and hits[0].page == page, question


@pytest.mark.parametrize("analysed", [False, True], ids=["no statistics", "analysed"])
async def test_each_word_is_looked_up_by_its_key_whatever_the_statistics(pg, analysed) -> None:
    """Before autovacuum had analysed the new table, PostgreSQL read all of a tenant's
    postings and filtered them, running to_tsvector of the question once per row (half a
    core at 10 chat clients). Each word must be an index lookup, in a plan for any question."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    await _parsed(pg, tenant, TEXTS * 50)
    if analysed:
        await pg.execute("ANALYZE postings")
    else:
        await pg.execute("DELETE FROM pg_statistic WHERE starelid = 'postings'::regclass")
        await pg.execute("UPDATE pg_class SET reltuples = -1 WHERE oid = 'postings'::regclass")
    async with pg.acquire() as conn:
        try:
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            await conn.execute(f"PREPARE words AS {search.POSTINGS_SQL}")
            plan = [r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE words('{tenant}', 'x', NULL)")]
        finally:
            await conn.execute("DEALLOCATE words; RESET plan_cache_mode")
    lookups = [line for line in plan if "Index Cond" in line and "lexeme = word.lexeme" in line]
    assert lookups, "\n".join(plan)
    await pg.execute("ANALYZE postings")


def _row(keys: list[int], counts: list[int], lengths: list[int]) -> dict[str, object]:
    return {
        "keys": np.array(keys, dtype=">i8").tobytes(),
        "counts": np.array(counts, dtype=">i2").tobytes(),
        "lengths": np.array(lengths, dtype=">i2").tobytes(),
        "segments": 20.0,
        "occurrences": 80.0,
    }


def test_scores_add_up_by_segment_and_ties_keep_key_order() -> None:
    """Documents numbered 2 and 5, seqs with gaps: equal scores come in key order, a segment
    holding both words outranks them all, and the rarer word weighs more."""
    first = _row([2 << 32 | 0, 2 << 32 | 7, 5 << 32 | 3], [1, 1, 1], [4, 4, 4])
    keys, scores = search.bm25_top([first], limit=2)
    assert keys.tolist() == [2 << 32 | 0, 2 << 32 | 7] and scores[0] == scores[1]
    second = _row([5 << 32 | 3, 5 << 32 | 9], [2, 1], [4, 4])
    keys, scores = search.bm25_top([first, second], limit=10)
    assert keys.tolist() == [5 << 32 | 3, 5 << 32 | 9, 2 << 32 | 0, 2 << 32 | 7]
    assert scores[0] > scores[1] > scores[2] == scores[3] > 0
    assert search.bm25_top([], limit=5)[0].size == 0


async def test_ready_documents_without_postings_are_counted(pg) -> None:
    """The gauge behind alert DocumentsWithoutPostings: a ready document with segments and no
    postings counts until they are rebuilt; one still parsing, or with no segments, never."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    before = await segments.ready_without_postings(pg)
    ready = await new_document(pg, tenant, status="ready")
    parsing = await new_document(pg, tenant, status="parsing")
    await new_document(pg, tenant, status="ready")  # no segments: nothing to index
    for doc_id in (ready, parsing):
        async with pg.acquire() as conn, conn.transaction():
            await segments.replace_for_document(conn, tenant, doc_id, [NewSegment(0, 1, "Oars.")])
    assert await segments.ready_without_postings(pg) == before + 1
    await segments.index_postings(pg, tenant, ready)
    assert await segments.ready_without_postings(pg) == before

-- Full text for Chinese, Japanese and Korean (storage/search.py, core/cjk.py). The English
-- parser keeps a whole run of ideographs as one lexeme ('数据库的最大连接数是多少'), so no
-- question ever matched a passage in these scripts. A run is now indexed as its overlapping
-- character pairs, as core.cjk.words reads it for the re-ranker and the local model; a lone
-- character as itself. Text with no such character is read exactly as before.

-- The pairs of every CJK run of ``content``, space-separated, in order. The class is
-- core.cjk.CJK_CLASS.
CREATE FUNCTION cjk_bigrams(content text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(string_agg(substr(run.chars[1], i, 2), ' ' ORDER BY run.n, i), '')
    FROM regexp_matches(content, '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+', 'g')
         WITH ORDINALITY AS run(chars, n),
         generate_series(1, greatest(length(run.chars[1]) - 1, 1)) AS i
$$;

-- The lexemes a segment is found by, and a question looks for: English stemming for words,
-- character pairs for CJK runs. One function for both sides, so they always agree.
CREATE FUNCTION search_vector(content text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT CASE
        WHEN content ~ '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]' THEN
            to_tsvector('english', regexp_replace(
                content, '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+',
                ' ', 'g'))
            || to_tsvector('simple', cjk_bigrams(content))
        ELSE to_tsvector('english', content)
    END
$$;

-- Since migration 019 a segment's tsvector was read only to write its document's postings,
-- and its GIN index by nothing: every COPY of a document's segments paid for both. The
-- postings are now written from the text itself.
ALTER TABLE segments DROP COLUMN tsv;

CREATE OR REPLACE FUNCTION index_postings(tenant text, document uuid) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM document_lexicons WHERE doc_id = document;
    WITH occurrences AS (
        SELECT s.seq, t.lexeme, least(coalesce(cardinality(t.positions), 1), 32767) AS n
        FROM segments s, unnest(search_vector(s.content)) AS t
        WHERE s.tenant_id = tenant AND s.doc_id = document
    ), lengths AS (
        SELECT seq, least(sum(n), 32767)::smallint AS length FROM occurrences GROUP BY seq
    ), doc AS (
        INSERT INTO document_lexicons (doc_id, tenant_id, segments, occurrences)
        SELECT document, tenant,
               (SELECT count(*) FROM segments WHERE tenant_id = tenant AND doc_id = document),
               coalesce((SELECT sum(length) FROM lengths), 0)
        FROM documents WHERE id = document AND tenant_id = tenant
        RETURNING number
    )
    INSERT INTO postings (tenant_id, lexeme, doc_id, keys, counts, lengths)
    SELECT tenant, o.lexeme, document,
           string_agg(int8send((doc.number << 32) | o.seq), ''::bytea ORDER BY o.seq),
           string_agg(int2send(o.n::smallint), ''::bytea ORDER BY o.seq),
           string_agg(int2send(l.length), ''::bytea ORDER BY o.seq)
    FROM occurrences o JOIN lengths l USING (seq), doc
    GROUP BY o.lexeme;
$$;

-- Documents already indexed with CJK text get their pairs.
SELECT index_postings(d.tenant_id, d.id) FROM documents d
WHERE EXISTS (SELECT 1 FROM document_lexicons l WHERE l.doc_id = d.id)
  AND EXISTS (SELECT 1 FROM segments s WHERE s.doc_id = d.id
              AND s.content ~ '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]');

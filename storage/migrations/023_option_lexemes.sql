-- Command-line options as lexemes of their own (storage/search.py, docs/evaluation.md). The
-- English parser reads "-p" as the letter p and "-I" as the stopword i, so "What does the -I
-- option of dblatex do?" matched no passage by its option, and "-p" every p of the corpus.
-- An option — one or two hyphens, a letter, then letters, digits, "_" or "-", not inside a
-- word ("non-interactive") — is now also kept as written, case and hyphens included: "-I"
-- and "-i" are different options. Text with no option is read exactly as before.

-- The distinct options of ``content`` as lexemes (no positions).
CREATE FUNCTION option_lexemes(content text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT array_to_tsvector(coalesce(array_agg(DISTINCT m[1]), '{}'))
    FROM regexp_matches(content, '(?:^|[^[:alnum:]_-])(--?[[:alpha:]][[:alnum:]_-]{0,38})', 'g')
         AS m
$$;

CREATE OR REPLACE FUNCTION search_vector(content text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT CASE
        WHEN content ~ '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]' THEN
            to_tsvector('english', regexp_replace(
                content, '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+',
                ' ', 'g'))
            || to_tsvector('simple', cjk_bigrams(content))
        ELSE to_tsvector('english', content)
    END || option_lexemes(content)
$$;

-- Documents already indexed that have an option get its postings.
SELECT index_postings(d.tenant_id, d.id) FROM documents d
WHERE EXISTS (SELECT 1 FROM document_lexicons l WHERE l.doc_id = d.id)
  AND EXISTS (SELECT 1 FROM segments s WHERE s.doc_id = d.id
              AND s.content ~ '(^|[^[:alnum:]_-])--?[[:alpha:]]');

-- Full text in passes over the query's rarest words (storage/search.py full_text), run where
-- the data is: one round trip for a search instead of one for the words and one per pass (up
-- to eight). Each round trip of a busy worker waits its turn at the CPU twice, in the worker
-- and in its PostgreSQL backend.

-- The query's distinct words (English stemming), rarest first by the statistics ANALYZE keeps
-- of the column (all tenants'; a word it has no figure for counts as rare). Only the speed of
-- full_text_ranked depends on the order.
CREATE FUNCTION words_rarest_first(question text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    WITH common AS (
        SELECT x.word, x.frequency
        FROM pg_stats, unnest(most_common_elems::text::text[], most_common_elem_freqs)
                       AS x(word, frequency)
        WHERE schemaname = current_schema() AND tablename = 'segments' AND attname = 'tsv'
    )
    SELECT coalesce(array_agg(w ORDER BY
                              coalesce((SELECT max(frequency) FROM common WHERE word = w), 0),
                              w),
                    '{}')
    FROM unnest(tsvector_to_array(to_tsvector('english', question))) AS w
$$;

-- How many of its ``words`` a passage must match, pass by pass: each share of them rounded
-- up, the largest first, ending with 1 (every match).
CREATE FUNCTION full_text_passes(words integer, shares double precision[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(k ORDER BY k DESC)
    FROM (SELECT DISTINCT greatest(1, ceil(words * share))::integer AS k
          FROM unnest(shares || 0::double precision) AS share) AS ks
$$;

-- A tsquery matching any of these lexemes as they are (no parsing or stemming): quotes and
-- backslashes escaped.
CREATE FUNCTION tsquery_any_of(lexemes text[]) RETURNS tsquery
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_to_string(
        ARRAY(SELECT '''' || replace(replace(w, '\', '\\'), '''', '''''') || ''''
              FROM unnest(lexemes) AS w),
        ' | ')::tsquery
$$;

-- Segments of the tenant matching any of the question's words, best first: those with more of
-- the distinct words, then by cover density; the first pass whose limit-th best has its
-- share of the words is the ranking (see full_text in storage/search.py for why that is the
-- same order as scoring every match). ``asked`` is that pass's share, in words.
CREATE FUNCTION full_text_ranked(
    tenant text, question text, documents uuid[], wanted integer, shares double precision[]
) RETURNS TABLE (
    id uuid, doc_id uuid, page integer, content text, heading text, title text,
    score double precision, asked integer
)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    words text[] := words_rarest_first(question);
    n integer := cardinality(words);
    at_least integer;
BEGIN
    IF n = 0 THEN
        RETURN;  -- only stop words
    END IF;
    FOREACH at_least IN ARRAY full_text_passes(n, shares) LOOP
        -- Every match gets only its count of distinct query words (tsvector length minus the
        -- length without them); cover density, the costly part, only the passages whose count
        -- reaches that of the limit-th best (the cutoff): the only ones that can make the top.
        -- A CTE read twice is computed once, so the plan never depends on the words.
        RETURN QUERY
        WITH q AS (
            SELECT to_tsquery('english',
                              replace(plainto_tsquery('english', question)::text, '&', '|'))
                       AS tsq,
                   tsquery_any_of(words[1:n - at_least + 1]) AS wanted_words
        ), matched AS (
            SELECT s.id, length(s.tsv) - length(ts_delete(s.tsv, words)) AS hits
            FROM segments s, q
            WHERE s.tenant_id = tenant AND s.tsv @@ q.wanted_words
              AND (documents IS NULL OR s.doc_id = ANY(documents))
        ), cutoff AS (
            SELECT coalesce((SELECT hits FROM matched ORDER BY hits DESC
                             OFFSET wanted - 1 LIMIT 1), 0) AS hits
        )
        SELECT s.id, s.doc_id, s.page, s.content, s.meta->>'heading',
               coalesce(nullif(d.title, ''), d.filename),
               (m.hits + ts_rank_cd(s.tsv, q.tsq, 32))::double precision, at_least
        FROM matched m
        JOIN segments s ON s.id = m.id
        JOIN documents d ON d.id = s.doc_id AND d.tenant_id = s.tenant_id,
        q, cutoff
        WHERE m.hits >= cutoff.hits AND (cutoff.hits >= at_least OR at_least = 1)
        ORDER BY 7 DESC, s.seq, s.content  -- ties in a stable order: ids are random
        LIMIT wanted;
        IF FOUND THEN
            RETURN;  -- this pass settled the top: nothing outside it ranks
        END IF;
    END LOOP;
END
$$;

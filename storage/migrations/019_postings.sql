-- Full text from postings (storage/search.py full_text): for each document and each lexeme of
-- it, the segments that hold the lexeme, packed in bytea. A search reads the rows of its
-- question's lexemes, a few kilobytes each, and ranks in the searching process (Okapi BM25),
-- instead of reading every matching segment's tsvector in the database: a question's common
-- words match thousands of segments, and each row read and scored there cost 3 µs.

-- One row per document that has postings: its number in the packed keys, and what BM25
-- needs of it (how many segments, how many lexeme occurrences in all).
CREATE TABLE document_lexicons (
    doc_id      uuid    PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    tenant_id   text    NOT NULL,
    number      bigint  GENERATED ALWAYS AS IDENTITY UNIQUE,
    segments    integer NOT NULL,
    occurrences bigint  NOT NULL
);
CREATE INDEX document_lexicons_tenant ON document_lexicons (tenant_id);

-- Three arrays of the same length, one entry per segment holding the lexeme, in seq order,
-- big-endian: ``keys`` int8 (the document's number << 32 | the segment's seq), ``counts``
-- int2 (occurrences of the lexeme in the segment), ``lengths`` int2 (occurrences of all
-- lexemes in the segment). Counts and lengths stop at 32,767.
CREATE TABLE postings (
    tenant_id   text  NOT NULL,
    lexeme      text  NOT NULL,
    doc_id      uuid  NOT NULL REFERENCES document_lexicons (doc_id) ON DELETE CASCADE,
    keys        bytea NOT NULL,
    counts      bytea NOT NULL,
    lengths     bytea NOT NULL,
    PRIMARY KEY (tenant_id, lexeme, doc_id)
);
-- Postings are read whole and never compressed well (they are numbers): keep them out of
-- pglz, whose decompression would be the largest cost of reading them.
ALTER TABLE postings ALTER COLUMN keys SET STORAGE EXTERNAL,
                     ALTER COLUMN counts SET STORAGE EXTERNAL,
                     ALTER COLUMN lengths SET STORAGE EXTERNAL;

-- The document's postings, from its segments' tsvectors, replacing any it had (the embed
-- step writes them, storage/segments.py index_postings; nothing for a deleted document).
CREATE FUNCTION index_postings(tenant text, document uuid) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM document_lexicons WHERE doc_id = document;
    WITH occurrences AS (
        SELECT s.seq, t.lexeme, least(coalesce(cardinality(t.positions), 1), 32767) AS n
        FROM segments s, unnest(s.tsv) AS t
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

SELECT index_postings(tenant_id, id) FROM documents
WHERE EXISTS (SELECT 1 FROM segments s WHERE s.doc_id = documents.id);

-- The passes of migration 018 are replaced.
DROP FUNCTION full_text_ranked(text, text, uuid[], integer, double precision[]);
DROP FUNCTION words_rarest_first(text);
DROP FUNCTION full_text_passes(integer, double precision[]);
DROP FUNCTION tsquery_any_of(text[]);

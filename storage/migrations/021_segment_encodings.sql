-- The local re-ranker's encodings of each segment (retrieval/encoder.py): written by the
-- encode agent after a document is ready, read for a search's candidates. Keyed by encoder so
-- that another one can be added beside it. Not the first stage's vectors
-- (segment_embeddings): nothing searches these by nearness, so they have no index of their own.
CREATE TABLE segment_encodings (
    segment_id  uuid   NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    encoder     text   NOT NULL,
    tenant_id   text   NOT NULL,
    doc_id      uuid   NOT NULL,
    encoding    vector NOT NULL,
    PRIMARY KEY (segment_id, encoder)
);
CREATE INDEX segment_encodings_document ON segment_encodings (tenant_id, doc_id, encoder);

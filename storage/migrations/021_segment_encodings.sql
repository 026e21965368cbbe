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
    encoded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, encoder)
);
CREATE INDEX segment_encodings_document ON segment_encodings (tenant_id, doc_id, encoder);

-- Ready documents whose segments are not all encoded, and of which nothing was encoded for a
-- while (ready before the encoder existed, or their worker stopped), are asked for again by
-- the maintenance sweep, each at most so often and so many times
-- (storage.encodings.take_unencoded).
CREATE TABLE encoding_requests (
    doc_id        uuid        PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    tenant_id     text        NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 1
);

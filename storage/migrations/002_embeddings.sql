-- Vectors live beside the segments, one row per segment and embedding model, so a model
-- switch adds the new vectors while search keeps answering from the old ones.
-- Each model gets its own partial HNSW index on a cast to its dimension (see
-- storage.embeddings.register_model): pgvector indexes need a fixed dimension.

CREATE TABLE embedding_models (
    name        text PRIMARY KEY,
    dimension   integer     NOT NULL CHECK (dimension > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE segment_embeddings (
    segment_id  uuid        NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    model       text        NOT NULL REFERENCES embedding_models (name),
    tenant_id   text        NOT NULL,
    doc_id      uuid        NOT NULL,
    embedding   vector      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, model)
);
CREATE INDEX segment_embeddings_tenant ON segment_embeddings (tenant_id, model, doc_id);

-- Full-text search over the chunks, for the lexical half of hybrid retrieval.
ALTER TABLE segments ADD COLUMN tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english', content)) STORED;
CREATE INDEX segments_tsv ON segments USING gin (tsv);

-- The model each document's vectors come from; one task of each kind per document.
ALTER TABLE documents ADD COLUMN embedding_model text;
CREATE UNIQUE INDEX tasks_one_per_kind ON tasks (document_id, kind);

-- The stale-task sweep looks only at unfinished tasks, oldest first.
CREATE INDEX tasks_unfinished ON tasks (updated_at) WHERE status IN ('queued', 'running');

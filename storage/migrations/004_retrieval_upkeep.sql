-- When the topic-map sweep last republished a ready document's event because its map was
-- missing or outdated, and how often: the sweep waits a lease between requests and gives up
-- after a few, so a document the agent cannot map never makes it spin.
CREATE TABLE topic_map_requests (
    doc_id        uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    tenant_id     text        NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 1
);

-- A model switch looks up a model's vectors by model (which tenants and documents it still
-- covers, and whether any are left): without this index every sweep during a switch would
-- scan all vectors.
CREATE INDEX segment_embeddings_model ON segment_embeddings (model, tenant_id, doc_id);

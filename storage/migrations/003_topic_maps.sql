-- A document's topic map and reading guide, computed by the topic-map agent once it is ready.
CREATE TABLE document_topic_maps (
    doc_id      uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    tenant_id   text        NOT NULL,
    model       text        NOT NULL,
    topic_map   jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX document_topic_maps_tenant ON document_topic_maps (tenant_id, doc_id);

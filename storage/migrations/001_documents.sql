-- Documents, their processing tasks, their state transitions, their chunks, and the outbox.
-- Every table carries tenant_id and every query filters on it.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE documents (
    id               uuid PRIMARY KEY,
    tenant_id        text        NOT NULL,
    filename         text        NOT NULL,
    content_type     text        NOT NULL,
    size_bytes       bigint      NOT NULL,
    sha256           text        NOT NULL,
    blob_key         text        NOT NULL,
    status           text        NOT NULL,
    error_code       text,
    error            text,
    pages            integer,
    title            text,
    segment_count    integer,
    parse_result_key text,
    idempotency_key  text,
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT documents_status_check
        CHECK (status IN ('queued', 'parsing', 'parsed', 'embedding', 'ready', 'failed'))
);
CREATE UNIQUE INDEX documents_idempotency_key
    ON documents (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX documents_tenant_created ON documents (tenant_id, created_at DESC, id);

-- One row per unit of background work on a document; attempts survive worker crashes, so a
-- message that kills its worker every time still ends in the dead-letter topic.
CREATE TABLE tasks (
    id           uuid PRIMARY KEY,
    tenant_id    text        NOT NULL,
    document_id  uuid        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    kind         text        NOT NULL,
    status       text        NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tasks_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'failed'))
);
CREATE INDEX tasks_document ON tasks (tenant_id, document_id);

-- Every state transition, timestamped: the history behind documents.status.
CREATE TABLE document_events (
    id           bigserial PRIMARY KEY,
    tenant_id    text        NOT NULL,
    document_id  uuid        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    status       text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX document_events_document ON document_events (tenant_id, document_id, id);

-- Page-aware chunks. Embeddings are added by a later migration.
CREATE TABLE segments (
    id          uuid PRIMARY KEY,
    tenant_id   text        NOT NULL,
    doc_id      uuid        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    seq         integer     NOT NULL,
    page        integer     NOT NULL,
    content     text        NOT NULL,
    meta        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT segments_doc_seq UNIQUE (doc_id, seq)
);
CREATE INDEX segments_tenant_doc ON segments (tenant_id, doc_id, seq);

-- Transactional outbox: rows are written in the same transaction as the data they describe
-- and relayed to Kafka by the outbox relay, which deletes them once the broker has them.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text        NOT NULL,
    key         text        NOT NULL,
    value       jsonb       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

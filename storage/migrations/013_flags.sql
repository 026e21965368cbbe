-- Feature flags and dynamic settings (storage/flags.py): the record of truth. Every change is
-- published on the compacted topic pdfchat.flags.v1 through the outbox, in its transaction.
-- tenant_id '*' is the default of every tenant; a tenant's own row overrides it.
CREATE TABLE flags (
    tenant_id       text        NOT NULL,
    service         text        NOT NULL,
    name            text        NOT NULL,
    enabled         boolean     NOT NULL,
    rollout_percent smallint    NOT NULL CHECK (rollout_percent BETWEEN 0 AND 100),
    value           jsonb,
    updated_at      timestamptz NOT NULL,
    updated_by      text        NOT NULL,
    PRIMARY KEY (service, name, tenant_id)
);

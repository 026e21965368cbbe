-- The audit trail (storage/audit.py): each tenant's events in the order the audit agent
-- recorded them, each hashed with the one before, so a changed, removed or inserted event
-- breaks the chain (`pdfchat audit verify`).
CREATE TABLE audit_log (
    tenant_id  text        NOT NULL,
    seq        bigint      NOT NULL,
    audit_id   uuid        NOT NULL UNIQUE,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    target     text        NOT NULL,
    detail     jsonb,
    request_id text,
    prev_hash  text        NOT NULL,
    hash       text        NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);

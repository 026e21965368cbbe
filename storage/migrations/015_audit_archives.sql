-- Each tenant's audit events of a finished UTC day, written once to the blob store as JSON
-- lines: what `pdfchat audit verify` compares the table with, so an event removed or changed
-- after its day was archived is found even when the rows were rewritten consistently.
CREATE TABLE audit_archives (
    tenant_id  text        NOT NULL,
    day        date        NOT NULL,
    first_seq  bigint      NOT NULL,
    last_seq   bigint      NOT NULL,
    last_hash  text        NOT NULL,
    sha256     text        NOT NULL,
    blob_key   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, day)
);

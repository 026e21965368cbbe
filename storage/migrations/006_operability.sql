-- Workers announce themselves: /readyz tells a missing or stuck worker from these rows, and
-- the agents each one runs say which work would go undone without it.
CREATE TABLE workers (
    id          text        PRIMARY KEY,
    role        text        NOT NULL,
    agents      text[]      NOT NULL,
    pid         integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    -- agent name -> seconds its current event has taken, for events held longer than a beat
    busy        jsonb       NOT NULL DEFAULT '{}'::jsonb
);

-- The maintenance sweep looks for documents that stopped moving, oldest first.
CREATE INDEX documents_unfinished ON documents (updated_at)
    WHERE status IN ('queued', 'parsing', 'parsed', 'embedding');

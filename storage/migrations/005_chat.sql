-- Conversations, their messages, answer stream sessions, and the usage ledger.
-- Every table carries tenant_id and every query filters on it; conversations and sessions
-- also belong to one user of the tenant.

CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    tenant_id   text        NOT NULL,
    user_id     text        NOT NULL,
    title       text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_owner ON conversations (tenant_id, user_id, updated_at DESC, id);

CREATE TABLE messages (
    id               uuid PRIMARY KEY,
    tenant_id        text        NOT NULL,
    conversation_id  uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role             text        NOT NULL CHECK (role IN ('user', 'assistant')),
    content          text        NOT NULL,
    citations        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    usage            jsonb,
    session_id       uuid,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX messages_conversation ON messages (tenant_id, conversation_id, created_at, id);

-- One answer being produced: the orchestrator claims it, finishes or fails it; the sweep
-- fails those whose orchestrator died.
CREATE TABLE chat_sessions (
    id                  uuid PRIMARY KEY,
    tenant_id           text        NOT NULL,
    user_id             text        NOT NULL,
    conversation_id     uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    question_message_id uuid        NOT NULL,
    question            text        NOT NULL,
    document_ids        uuid[],
    status              text        NOT NULL DEFAULT 'pending',
    model               text,
    last_seq            integer,
    error_code          text,
    error               text,
    attempts            integer     NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    CONSTRAINT chat_sessions_status_check
        CHECK (status IN ('pending', 'answering', 'finished', 'failed'))
);
CREATE INDEX chat_sessions_unfinished ON chat_sessions (updated_at)
    WHERE status IN ('pending', 'answering');

-- The record of account: one row per answered question, written by the accounting agent.
CREATE TABLE usage_ledger (
    id               uuid PRIMARY KEY,  -- the stream session: a redelivered event is a no-op
    tenant_id        text           NOT NULL,
    user_id          text           NOT NULL,
    conversation_id  uuid,
    model            text           NOT NULL,
    tokens_in        integer        NOT NULL,
    tokens_out       integer        NOT NULL,
    cost_usd         numeric(14, 8) NOT NULL,
    recorded_at      timestamptz    NOT NULL
);
CREATE INDEX usage_ledger_tenant ON usage_ledger (tenant_id, recorded_at);

-- A task or an answer may be done on another's turn (claim_next_task, claim_next_session):
-- each carries the trace of the request that made it, so its work joins that trace and not
-- the trace of the event that happened to give the turn.
ALTER TABLE tasks ADD COLUMN trace jsonb NOT NULL DEFAULT '{}';
ALTER TABLE chat_sessions ADD COLUMN trace jsonb NOT NULL DEFAULT '{}';

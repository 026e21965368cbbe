-- Admission control counts each tenant's unfinished work on every upload and question.
CREATE INDEX documents_unfinished_tenant ON documents (tenant_id)
    WHERE status IN ('queued', 'parsing', 'parsed', 'embedding');
CREATE INDEX chat_sessions_unfinished_tenant ON chat_sessions (tenant_id)
    WHERE status IN ('pending', 'answering');

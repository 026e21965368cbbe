-- Fair claims count each tenant's tasks started lately (storage.documents.claim_next_task).
CREATE INDEX tasks_kind_updated ON tasks (kind, updated_at);

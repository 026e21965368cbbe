-- When the relay may send a row. A row its writer sends itself at once (a chat request, sent
-- by the web process right after its commit) is due a few seconds later, so the relay sends
-- it only if the writer died or Kafka refused it; the writer deletes it once sent.
ALTER TABLE outbox ADD COLUMN deliver_after timestamptz NOT NULL DEFAULT now();

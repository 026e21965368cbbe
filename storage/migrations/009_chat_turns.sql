-- A question's service level travels with its session: the answer may be given on another
-- question's turn (storage.chat.claim_next_session), without its request at hand.
ALTER TABLE chat_sessions ADD COLUMN sla text;

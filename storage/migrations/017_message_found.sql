-- Whether an assistant's answer found what was asked in the documents (false: the answer is
-- that they do not say). NULL for the user's messages and for answers kept before this column.
ALTER TABLE messages ADD COLUMN found boolean;

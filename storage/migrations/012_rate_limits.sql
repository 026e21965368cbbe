-- Token buckets for rate limits (storage/rate_limits.py): one row per (action, tenant) and
-- (action, tenant, user), shared by every web process.
CREATE TABLE rate_buckets (
    key        text PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX rate_buckets_updated_at ON rate_buckets (updated_at);

-- Take one token from every bucket of ``keys`` (each refilled at ``rates`` per second up to
-- ``capacities`` since it was last touched), or from none: returns 0 when taken, else the
-- seconds until all of them hold a token. One round trip; the rows are locked in the order
-- given, so callers pass the keys sorted and two requests never wait on each other in a cycle.
CREATE FUNCTION take_token(keys text[], capacities double precision[], rates double precision[])
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    levels double precision[] := '{}';
    level double precision;
    stamp timestamptz;
    wait double precision := 0;
BEGIN
    INSERT INTO rate_buckets (key, tokens, updated_at)
    SELECT k, c, now() FROM unnest(keys, capacities) AS t(k, c)
    ON CONFLICT (key) DO NOTHING;
    FOR i IN 1 .. array_length(keys, 1) LOOP
        SELECT tokens, updated_at INTO level, stamp FROM rate_buckets WHERE key = keys[i] FOR UPDATE;
        level := LEAST(capacities[i], level + GREATEST(0, EXTRACT(EPOCH FROM now() - stamp)) * rates[i]);
        levels := levels || level;
        IF level < 1 THEN
            wait := GREATEST(wait, (1 - level) / rates[i]);
        END IF;
    END LOOP;
    FOR i IN 1 .. array_length(keys, 1) LOOP
        UPDATE rate_buckets
        SET tokens = levels[i] - CASE WHEN wait = 0 THEN 1 ELSE 0 END, updated_at = now()
        WHERE key = keys[i];
    END LOOP;
    RETURN wait;
END
$$;

-- Limits on what a client without a secret can spend.
--
-- Rate-limit counters: one row per bucket, an opaque keyed hash of what it
-- counts (a limit, a credential's id, the client's network; never an
-- address or an id in clear), holding the fixed window it counts in. A row
-- whose window has ended is purged (`purge_rate_limits`), so the table
-- holds about the buckets used within one window.
CREATE TABLE oauth_rate_limits (
    bucket       bytea       PRIMARY KEY
        CHECK (octet_length(bucket) = 32),
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    count        integer     NOT NULL CHECK (count >= 0)
);

CREATE INDEX oauth_rate_limits_window_end ON oauth_rate_limits (window_end);

-- The publishable keys' old per-key counter: their limit is now counted per
-- key and client address, above.
ALTER TABLE oauth_publishable_keys DROP COLUMN window_start, DROP COLUMN window_uses;

-- Pushed authorization requests that needed no secret (a public client's)
-- are kept per requester (a keyed hash of the client and the pushing
-- address) in a bounded number of slots: a push takes a free slot or
-- replaces the oldest, and the unique index makes more than one session
-- per slot impossible, concurrent pushes included.
ALTER TABLE oauth_sessions
    ADD COLUMN requester bytea NULL CHECK (octet_length(requester) = 32),
    ADD COLUMN requester_slot integer NULL CHECK (requester_slot >= 0);

CREATE UNIQUE INDEX oauth_sessions_requester_slot ON oauth_sessions (requester, requester_slot)
    WHERE requester IS NOT NULL;

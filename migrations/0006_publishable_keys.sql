-- Publishable Connect keys and the origins they may be used from.
--
-- An app's allowed origins are serialised origins (`https://host[:port]`),
-- compared as plain strings; the GIN index answers "does any app allow this
-- origin?" (the CORS preflight) without a scan.
ALTER TABLE oauth_apps
    ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}',
    -- The app's publishable keys, kept by the statements that insert and
    -- revoke them: the per-app bound is a compare-and-increment on the app
    -- row, atomic under concurrent inserts.
    ADD COLUMN publishable_key_count integer NOT NULL DEFAULT 0
        CHECK (publishable_key_count >= 0);

CREATE INDEX oauth_apps_allowed_origins ON oauth_apps USING gin (allowed_origins);

-- The keys: only the keyed hash of each (never the key), and the fixed
-- rate-limit window it was last used in with its count. Revoking a key
-- deletes its row; deleting the app deletes its keys (same statement).
CREATE TABLE oauth_publishable_keys (
    id           text        COLLATE "C" PRIMARY KEY,
    hash         bytea       NOT NULL UNIQUE
        CHECK (octet_length(hash) = 32),
    workspace_id text        NOT NULL,
    app_id       text        COLLATE "C" NOT NULL
        REFERENCES oauth_apps (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    window_start timestamptz NULL,
    window_uses  integer     NOT NULL DEFAULT 0
        CHECK (window_uses >= 0)
);

-- An app's keys in listing order.
CREATE INDEX oauth_publishable_keys_app ON oauth_publishable_keys (app_id, created_at, id);

-- Workspace admin keys: the keyed hash of each key (never the key) and the
-- workspace it administers. Looked up by hash equality.
CREATE TABLE oauth_admin_keys (
    hash         bytea       PRIMARY KEY
        CHECK (octet_length(hash) = 32),
    workspace_id text        NOT NULL,
    created_at   timestamptz NOT NULL
);

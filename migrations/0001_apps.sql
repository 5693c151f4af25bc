-- OAuth apps (clients).
--
-- No credential is stored: a confidential app keeps only the keyed hashes
-- (HMAC-SHA-256, 32 bytes) of its current secret and, during a rotation's
-- grace period, of its previous one. Hashes are looked up by equality.
-- Ids sort bytewise (COLLATE "C"), as in every backend, whatever the
-- database's collation.
CREATE TABLE oauth_apps (
    id                   text        COLLATE "C" PRIMARY KEY,
    client_id            text        NOT NULL UNIQUE,
    workspace_id         text        NOT NULL,
    name                 text        NOT NULL,
    description          text        NULL,
    redirect_uris        text[]      NOT NULL,
    allowed_scopes       text[]      NOT NULL,
    app_type             text        NOT NULL
        CHECK (app_type IN ('CONFIDENTIAL', 'PUBLIC')),
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    secret_hash          bytea       NULL
        CHECK (octet_length(secret_hash) = 32),
    previous_secret_hash bytea       NULL
        CHECK (octet_length(previous_secret_hash) = 32),
    previous_valid_until timestamptz NULL,
    -- A previous secret has an end, and exists only beside a current one.
    CONSTRAINT oauth_apps_previous_secret_complete CHECK (
        (previous_secret_hash IS NULL) = (previous_valid_until IS NULL)
        AND (previous_secret_hash IS NULL OR secret_hash IS NOT NULL)
    )
);

-- Listing: a workspace's apps by creation time, then id.
CREATE INDEX oauth_apps_workspace_created ON oauth_apps (workspace_id, created_at, id);

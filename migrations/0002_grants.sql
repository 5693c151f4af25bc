-- Pending authorizations (sessions), grants, authorization codes and
-- access/refresh tokens.
--
-- As for apps: no credential is stored, only keyed hashes (32 bytes, looked
-- up by equality); ids sort bytewise (COLLATE "C"); scopes are text[] in
-- their order. Deleting an app deletes, in the same statement, its sessions
-- and grants, and through the grants their codes and tokens (ON DELETE
-- CASCADE); each foreign key has an index so the cascade is a lookup.

CREATE TABLE oauth_sessions (
    hash                    bytea       PRIMARY KEY
        CHECK (octet_length(hash) = 32),
    workspace_id            text        NOT NULL,
    app_id                  text        COLLATE "C" NOT NULL
        REFERENCES oauth_apps (id) ON DELETE CASCADE,
    client_id               text        NOT NULL,
    redirect_uri            text        NOT NULL,
    redirect_uri_in_request boolean     NOT NULL,
    scopes                  text[]      NOT NULL,
    state                   text        NULL,
    code_challenge          text        NULL,
    created_at              timestamptz NOT NULL,
    expires_at              timestamptz NOT NULL,
    open_by                 timestamptz NULL,
    opened_at               timestamptz NULL,
    status                  text        NOT NULL
        CHECK (status IN ('pending', 'approved', 'denied'))
);

CREATE INDEX oauth_sessions_app ON oauth_sessions (app_id);
CREATE INDEX oauth_sessions_expires ON oauth_sessions (expires_at);

CREATE TABLE oauth_grants (
    id           text        COLLATE "C" PRIMARY KEY,
    workspace_id text        NOT NULL,
    app_id       text        COLLATE "C" NOT NULL
        REFERENCES oauth_apps (id) ON DELETE CASCADE,
    client_id    text        NOT NULL,
    subject      text        NULL,
    scopes       text[]      NOT NULL,
    created_at   timestamptz NOT NULL,
    -- NULL: never expires (purge keeps it until it is revoked).
    expires_at   timestamptz NULL,
    revoked_at   timestamptz NULL
);

CREATE INDEX oauth_grants_app ON oauth_grants (app_id);
CREATE INDEX oauth_grants_expires ON oauth_grants (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX oauth_grants_revoked ON oauth_grants (revoked_at)
    WHERE revoked_at IS NOT NULL;

CREATE TABLE oauth_codes (
    hash                    bytea       PRIMARY KEY
        CHECK (octet_length(hash) = 32),
    grant_id                text        COLLATE "C" NOT NULL
        REFERENCES oauth_grants (id) ON DELETE CASCADE,
    workspace_id            text        NOT NULL,
    app_id                  text        COLLATE "C" NOT NULL,
    client_id               text        NOT NULL,
    redirect_uri            text        NOT NULL,
    redirect_uri_in_request boolean     NOT NULL,
    code_challenge          text        NULL,
    scopes                  text[]      NOT NULL,
    subject                 text        NOT NULL,
    issued_at               timestamptz NOT NULL,
    expires_at              timestamptz NOT NULL,
    redeemed_at             timestamptz NULL
);

CREATE INDEX oauth_codes_grant ON oauth_codes (grant_id);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

CREATE TABLE oauth_tokens (
    hash         bytea       PRIMARY KEY
        CHECK (octet_length(hash) = 32),
    kind         text        NOT NULL
        CHECK (kind IN ('access', 'refresh')),
    grant_id     text        COLLATE "C" NOT NULL
        REFERENCES oauth_grants (id) ON DELETE CASCADE,
    workspace_id text        NOT NULL,
    app_id       text        COLLATE "C" NOT NULL,
    client_id    text        NOT NULL,
    subject      text        NULL,
    scopes       text[]      NOT NULL,
    issued_at    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    rotated_at   timestamptz NULL,
    successor    bytea       NULL
        CHECK (octet_length(successor) = 32),
    -- A successor is written only together with the rotation time, so an
    -- unrotated token never has one.
    CONSTRAINT oauth_tokens_successor_rotated CHECK (
        successor IS NULL OR rotated_at IS NOT NULL
    )
);

CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);

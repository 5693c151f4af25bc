-- Connect: the Connect context of a session, customers, connections and
-- scoped keys.
--
-- As before: ids sort bytewise (COLLATE "C"), times are timestamptz, lists
-- are text[] in their order. JSON documents of the crate's own types
-- (`ConnectContext`, `CustomerInfo`) are jsonb, written and read whole.
--
-- Connections and scoped keys belong to an app and go with it (ON DELETE
-- CASCADE); customers belong to the workspace and stay. Neither a
-- connection nor a scoped key references its customer or grant by a
-- foreign key: deleting a customer revokes its connections and keys but
-- keeps them, and a revoked grant is purged while its connection stays.

-- The Connect context of a Connect session; NULL for a plain OAuth session.
ALTER TABLE oauth_sessions ADD COLUMN connect jsonb NULL;

-- The scoped key minted with the grant of a Connect approval (written in the
-- same statement), to deliver in the token response.
ALTER TABLE oauth_codes ADD COLUMN scoped_key_id text COLLATE "C" NULL;

CREATE TABLE oauth_customers (
    id           text        COLLATE "C" PRIMARY KEY,
    workspace_id text        NOT NULL,
    reference_id text        NOT NULL,
    info         jsonb       NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT oauth_customers_reference UNIQUE (workspace_id, reference_id)
);

-- Listing: a workspace's customers by creation time, then id.
CREATE INDEX oauth_customers_workspace_created
    ON oauth_customers (workspace_id, created_at, id);

CREATE TABLE oauth_connections (
    id              text        COLLATE "C" PRIMARY KEY,
    workspace_id    text        NOT NULL,
    app_id          text        COLLATE "C" NOT NULL
        REFERENCES oauth_apps (id) ON DELETE CASCADE,
    customer_id     text        COLLATE "C" NOT NULL,
    reference_id    text        NOT NULL,
    grant_id        text        COLLATE "C" NOT NULL,
    tags            text[]      NOT NULL,
    status          text        NOT NULL
        CHECK (status IN ('active', 'revoked')),
    browser_created boolean     NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- At most one active connection per app and reference id: the one a later
-- approval updates in place.
CREATE UNIQUE INDEX oauth_connections_active
    ON oauth_connections (app_id, reference_id) WHERE status = 'active';
-- The app-delete cascade (revoked rows too), and a customer's connections.
CREATE INDEX oauth_connections_app ON oauth_connections (app_id);
CREATE INDEX oauth_connections_customer ON oauth_connections (customer_id);

-- The key itself is never stored: it is the id and nonce signed under the
-- server key ring's key `signing_key_id`.
CREATE TABLE oauth_scoped_keys (
    id             text        COLLATE "C" PRIMARY KEY,
    workspace_id   text        NOT NULL,
    app_id         text        COLLATE "C" NOT NULL
        REFERENCES oauth_apps (id) ON DELETE CASCADE,
    client_id      text        NOT NULL,
    customer_id    text        COLLATE "C" NOT NULL,
    reference_id   text        NOT NULL,
    scopes         text[]      NOT NULL,
    label          text        NULL,
    nonce          bytea       NOT NULL
        CHECK (octet_length(nonce) = 16),
    signing_key_id smallint    NOT NULL
        CHECK (signing_key_id BETWEEN 0 AND 255),
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NULL,
    revoked_at     timestamptz NULL
);

-- Listing: a workspace's keys by creation time, then id, optionally of one
-- app (that index also serves the app-delete cascade) or one customer
-- (also revoking all of a customer's keys).
CREATE INDEX oauth_scoped_keys_workspace_created
    ON oauth_scoped_keys (workspace_id, created_at, id);
CREATE INDEX oauth_scoped_keys_app_created
    ON oauth_scoped_keys (app_id, created_at, id);
CREATE INDEX oauth_scoped_keys_customer_created
    ON oauth_scoped_keys (customer_id, created_at, id);

-- Connect steps: the account a connection's flow linked at a provider, and
-- one active connection per linked provider account.
--
-- The steps' own state (`progress`, `stepVersion`) lives in the session's
-- Connect context, already a jsonb column: no change for it.

-- All three set, or none (a flow without a link step).
ALTER TABLE oauth_connections
    ADD COLUMN linked_provider          text NULL,
    ADD COLUMN linked_account_reference text NULL,
    ADD COLUMN linked_label             text NULL,
    ADD CONSTRAINT oauth_connections_linked CHECK (
        (linked_provider IS NULL) = (linked_account_reference IS NULL)
        AND (linked_provider IS NULL) = (linked_label IS NULL)
    );

-- At most one active connection per app, reference id and linked provider
-- account (no link counting as one account): the one a later approval
-- updates in place. COALESCE makes the unlinked rows collide with each other
-- (NULLS NOT DISTINCT would need PostgreSQL 15).
DROP INDEX oauth_connections_active;
CREATE UNIQUE INDEX oauth_connections_active
    ON oauth_connections (
        app_id, reference_id,
        COALESCE(linked_provider, ''), COALESCE(linked_account_reference, '')
    )
    WHERE status = 'active';

-- Listing: a workspace's connections by creation time, then id.
CREATE INDEX oauth_connections_workspace_created
    ON oauth_connections (workspace_id, created_at, id);

-- Customers belong to the app whose Connect session created them: only
-- that app (and the workspace's admins) reaches them, reference ids are
-- unique per app, and they go with their app (ON DELETE CASCADE).
--
-- Browser-created connections (sessions made with a publishable key) keep
-- the `referenceId` the web page claimed as an unverified label, and say
-- when the app's backend attached them to one of its customers.

ALTER TABLE oauth_customers
    ADD COLUMN app_id text COLLATE "C" NULL REFERENCES oauth_apps (id) ON DELETE CASCADE;

-- Reference ids were unique per workspace; they become unique per app once
-- each customer has one.
ALTER TABLE oauth_customers DROP CONSTRAINT oauth_customers_reference;

-- Existing customers: each is its oldest connection's app's.
UPDATE oauth_customers u SET app_id = (
    SELECT n.app_id FROM oauth_connections n
    WHERE n.customer_id = u.id
    ORDER BY n.created_at, n.id
    LIMIT 1
);

-- Another app connected to the same customer gets a customer of its own,
-- a copy under a new id (derived from the customer's and the app's ids, so
-- the same on every run), and its connections and scoped keys follow the
-- copy.
WITH copies AS (
    SELECT DISTINCT n.customer_id AS old_id, n.app_id,
           'cus_' || md5(n.customer_id || '/' || n.app_id) AS new_id
    FROM oauth_connections n
    JOIN oauth_customers u ON u.id = n.customer_id
    WHERE n.app_id <> u.app_id
), inserted AS (
    INSERT INTO oauth_customers (id, workspace_id, reference_id, info, created_at, updated_at,
                                 app_id)
    SELECT c.new_id, u.workspace_id, u.reference_id, u.info, u.created_at, u.updated_at, c.app_id
    FROM copies c JOIN oauth_customers u ON u.id = c.old_id
), connections AS (
    UPDATE oauth_connections n SET customer_id = c.new_id
    FROM copies c WHERE n.customer_id = c.old_id AND n.app_id = c.app_id
), keys AS (
    UPDATE oauth_scoped_keys k SET customer_id = c.new_id
    FROM copies c WHERE k.customer_id = c.old_id AND k.app_id = c.app_id
)
SELECT count(*) FROM copies;

-- A customer without any connection outlived its app (deleted apps took
-- their connections and kept the workspace's customers): it goes, as a
-- customer now goes with its app.
DELETE FROM oauth_customers WHERE app_id IS NULL;

ALTER TABLE oauth_customers
    ALTER COLUMN app_id SET NOT NULL,
    ADD CONSTRAINT oauth_customers_reference UNIQUE (app_id, reference_id);

-- Listing: an app's customers by creation time, then id; a workspace's
-- by reference id (one per app), as the unique constraint did before.
CREATE INDEX oauth_customers_app_created
    ON oauth_customers (app_id, created_at, id);
CREATE INDEX oauth_customers_workspace_reference
    ON oauth_customers (workspace_id, reference_id);

ALTER TABLE oauth_connections
    ADD COLUMN claimed_reference_id text        NULL,
    ADD COLUMN attached_at          timestamptz NULL;

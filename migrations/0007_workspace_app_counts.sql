-- The number of apps of each workspace, so that a listing page reads its
-- total in one indexed lookup instead of counting the workspace's apps
-- (the cost of a page grows with the page size, not with the workspace).
--
-- The store keeps it in the statement that inserts or deletes an app (a
-- data-modifying common table expression beside the INSERT or DELETE), so
-- the count and the table change together; concurrent inserts into one
-- workspace queue briefly on its counter row. No trigger: like every other
-- write, it is in the store's own statements.
--
-- The backfill counts the apps present when this migration runs. Apply it
-- before any node of the new version serves, and with no node of an older
-- version still creating or deleting apps (an older node does not keep the
-- count). The backfill statement below, run again while no app is being
-- created or deleted, repairs the counts.
CREATE TABLE oauth_workspace_app_counts (
    workspace_id text   PRIMARY KEY,
    apps         bigint NOT NULL CHECK (apps >= 0)
);

INSERT INTO oauth_workspace_app_counts (workspace_id, apps)
SELECT workspace_id, count(*) FROM oauth_apps GROUP BY workspace_id
ON CONFLICT (workspace_id) DO UPDATE SET apps = EXCLUDED.apps;

-- Scoped keys belong to their grant: the grant of the connection they were
-- minted for. Revoking a connection revokes the keys minted under its grant
-- (not every key of the app and customer: another linked account's
-- connection keeps its own), an update-mode approval that replaces a
-- connection's grant revokes the old grant's keys, and verification reads
-- the key with its grant, so a key dies with its grant however the grant
-- was revoked.
--
-- No foreign key: a revoked grant is purged a day later while its keys stay
-- listed (revoked).

ALTER TABLE oauth_scoped_keys ADD COLUMN grant_id text COLLATE "C" NULL;

-- Existing keys: a key minted with a Connect approval is named by that
-- approval's code; any other was minted for the app's connection to the
-- customer, the most recently changed active one (as minting chose it),
-- else the most recently changed one.
UPDATE oauth_scoped_keys k SET grant_id = c.grant_id
FROM oauth_codes c
WHERE c.scoped_key_id = k.id AND c.app_id = k.app_id;

UPDATE oauth_scoped_keys k SET grant_id = (
    SELECT n.grant_id FROM oauth_connections n
    WHERE n.app_id = k.app_id AND n.customer_id = k.customer_id
    ORDER BY n.status = 'active' DESC, n.updated_at DESC, n.id DESC
    LIMIT 1
)
WHERE k.grant_id IS NULL;

-- A key that no connection explains cannot have been minted by this crate
-- (every key is minted for a connection, and connections are never deleted
-- but with their app, which takes its keys along): it would not verify any
-- more, so it goes.
DELETE FROM oauth_scoped_keys WHERE grant_id IS NULL;

ALTER TABLE oauth_scoped_keys ALTER COLUMN grant_id SET NOT NULL;

-- Revoking a grant's keys (a connection revoked, a grant replaced).
CREATE INDEX oauth_scoped_keys_grant ON oauth_scoped_keys (grant_id);
-- A connection by its grant (minting checks that an active connection
-- holds the key's grant).
CREATE INDEX oauth_connections_grant ON oauth_connections (grant_id);

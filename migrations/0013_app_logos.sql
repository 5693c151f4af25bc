-- An app's logo (`logoUri`), shown on the hosted consent and Connect pages:
-- an absolute https URL, checked by the server before it is written.
ALTER TABLE oauth_apps ADD COLUMN IF NOT EXISTS logo_uri text;
ALTER TABLE oauth_apps ADD CONSTRAINT oauth_apps_logo_uri_https
    CHECK (logo_uri IS NULL OR (logo_uri LIKE 'https://%' AND length(logo_uri) <= 2048));

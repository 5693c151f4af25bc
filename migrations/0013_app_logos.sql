-- An app's logo (`logoUri`), shown on the hosted consent and Connect pages:
-- an absolute https URL, checked by the server before it is written.
ALTER TABLE oauth_apps ADD COLUMN logo_uri text
    CHECK (logo_uri IS NULL OR (logo_uri LIKE 'https://%' AND length(logo_uri) <= 2048));

-- The response mode of a pending authorization: `query` (the redirect of
-- RFC 6749 §4.1.2, the default) or `web_message` (postMessage to the
-- opener). A pushed request (RFC 9126) carries it to the authorization
-- endpoint, so it is stored with the session.

ALTER TABLE oauth_sessions
    ADD COLUMN response_mode text NOT NULL DEFAULT 'query'
        CHECK (response_mode IN ('query', 'web_message'));

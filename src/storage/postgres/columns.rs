//! The column lists of the grant and Connect tables, as macros for the
//! statements' `concat!`: declared first (`#[macro_use]`), so every
//! statement module uses the same lists in table order.

/// The columns of `oauth_sessions`, in table order (to write).
macro_rules! session_columns {
    () => {
        "hash, workspace_id, app_id, client_id, redirect_uri, redirect_uri_in_request, \
         scopes, state, code_challenge, created_at, expires_at, open_by, opened_at, status, \
         connect, response_mode"
    };
}

/// The columns `decode_session` reads, in table order (`connect` as
/// text).
macro_rules! session_fields {
    () => {
        "hash, workspace_id, app_id, client_id, redirect_uri, redirect_uri_in_request, \
         scopes, state, code_challenge, created_at, expires_at, open_by, opened_at, status, \
         connect::text AS connect, response_mode"
    };
}

/// The columns `decode_grant` reads, in table order.
macro_rules! grant_columns {
    () => {
        "id, workspace_id, app_id, client_id, subject, scopes, created_at, expires_at, \
         revoked_at"
    };
}

/// The columns `decode_code` reads, in table order.
macro_rules! code_columns {
    () => {
        "hash, grant_id, workspace_id, app_id, client_id, redirect_uri, \
         redirect_uri_in_request, code_challenge, scopes, subject, issued_at, expires_at, \
         redeemed_at, scoped_key_id"
    };
}

/// The columns the apps' decoder reads, of the table aliased `a` (beside
/// a code or a token, whose columns have the same names).
macro_rules! joined_app_columns {
    () => {
        "a.id, a.client_id, a.workspace_id, a.name, a.description, a.redirect_uris, \
         a.allowed_scopes, a.app_type, a.created_at, a.updated_at, a.secret_hash, \
         a.previous_secret_hash, a.previous_valid_until, a.allowed_origins, a.logo_uri"
    };
}

/// The columns `decode_token` reads, in table order.
macro_rules! token_columns {
    () => {
        "hash, kind, grant_id, workspace_id, app_id, client_id, subject, scopes, issued_at, \
         expires_at, rotated_at, successor"
    };
}

/// The columns of `oauth_customers`, in table order (to write).
macro_rules! customer_columns {
    () => {
        "id, workspace_id, reference_id, info, created_at, updated_at, app_id"
    };
}

/// The columns `decode_customer` reads (`info` as text).
macro_rules! customer_fields {
    () => {
        "id, workspace_id, reference_id, info::text AS info, created_at, updated_at, app_id"
    };
}

/// The columns `decode_connection` reads, in table order.
macro_rules! connection_columns {
    () => {
        "id, workspace_id, app_id, customer_id, reference_id, grant_id, tags, status, \
         browser_created, created_at, updated_at, linked_provider, linked_account_reference, \
         linked_label, claimed_reference_id, attached_at"
    };
}

/// The columns of `oauth_scoped_keys`, in table order (to write).
macro_rules! scoped_key_columns {
    () => {
        "id, workspace_id, app_id, client_id, customer_id, reference_id, scopes, label, nonce, \
         signing_key_id, created_at, expires_at, revoked_at, grant_id"
    };
}

/// The columns `decode_scoped_key` reads, of `oauth_scoped_keys k LEFT
/// JOIN oauth_grants g ON g.id = k.grant_id`: `revoked_at` is the key's own
/// revocation, else its grant's (a grant no longer stored, purged after its
/// revocation, leaves the key revoked at its creation time).
macro_rules! scoped_key_fields {
    () => {
        "k.id, k.workspace_id, k.app_id, k.client_id, k.customer_id, k.reference_id, k.scopes, \
         k.label, k.nonce, k.signing_key_id, k.created_at, k.expires_at, \
         COALESCE(k.revoked_at, g.revoked_at, CASE WHEN g.id IS NULL THEN k.created_at END) \
           AS revoked_at, \
         k.grant_id"
    };
}

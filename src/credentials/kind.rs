use super::{CredentialKind, CredentialPrefixes, sealed::Sealed};

/// A confidential client's secret.
#[derive(Debug)]
pub enum ClientSecret {}
/// An authorization code, exchanged once for tokens.
#[derive(Debug)]
pub enum AuthorizationCode {}
/// An access token.
#[derive(Debug)]
pub enum AccessToken {}
/// A refresh token.
#[derive(Debug)]
pub enum RefreshToken {}
/// A token that opens a hosted Connect session.
#[derive(Debug)]
pub enum ConnectToken {}
/// An administrator's API key.
#[derive(Debug)]
pub enum AdminKey {}
/// A publishable key, safe to embed in a client application.
#[derive(Debug)]
pub enum PublishableKey {}

impl Sealed for ClientSecret {}
impl CredentialKind for ClientSecret {
    const NAME: &'static str = "client secret";
    const DOMAIN: &'static str = "client_secret";
    const SUCCESSOR_DOMAIN: &'static str = "secret/next";
    fn prefix(prefixes: &CredentialPrefixes) -> &str {
        prefixes.client_secret()
    }
}

impl Sealed for AuthorizationCode {}
impl CredentialKind for AuthorizationCode {
    const NAME: &'static str = "authorization code";
    const DOMAIN: &'static str = "auth_code";
    const SUCCESSOR_DOMAIN: &'static str = "code/next";
    fn prefix(prefixes: &CredentialPrefixes) -> &str {
        prefixes.authorization_code()
    }
}

impl Sealed for AccessToken {}
impl CredentialKind for AccessToken {
    const NAME: &'static str = "access token";
    const DOMAIN: &'static str = "access_token";
    const SUCCESSOR_DOMAIN: &'static str = "at/next";
    fn prefix(prefixes: &CredentialPrefixes) -> &str {
        prefixes.access_token()
    }
}

impl Sealed for RefreshToken {}
impl CredentialKind for RefreshToken {
    const NAME: &'static str = "refresh token";
    const DOMAIN: &'static str = "refresh_token";
    const SUCCESSOR_DOMAIN: &'static str = "rt/next";
    fn prefix(prefixes: &CredentialPrefixes) -> &str {
        prefixes.refresh_token()
    }
}

impl Sealed for ConnectToken {}
impl CredentialKind for ConnectToken {
    const NAME: &'static str = "connect token";
    const DOMAIN: &'static str = "connect_token";
    const SUCCESSOR_DOMAIN: &'static str = "ct/next";
    fn prefix(prefixes: &CredentialPrefixes) -> &str {
        prefixes.connect_token()
    }
}

impl Sealed for AdminKey {}
impl CredentialKind for AdminKey {
    const NAME: &'static str = "admin key";
    const DOMAIN: &'static str = "admin_key";
    const SUCCESSOR_DOMAIN: &'static str = "admin/next";
    fn prefix(prefixes: &CredentialPrefixes) -> &str {
        prefixes.admin_key()
    }
}

impl Sealed for PublishableKey {}
impl CredentialKind for PublishableKey {
    const NAME: &'static str = "publishable key";
    const DOMAIN: &'static str = "publishable";
    const SUCCESSOR_DOMAIN: &'static str = "pk/next";
    fn prefix(prefixes: &CredentialPrefixes) -> &str {
        prefixes.publishable_key()
    }
}

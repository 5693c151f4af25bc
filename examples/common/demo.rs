//! The demo provider catalogue of the examples: what a host writes to plug
//! its providers into the hosted Connect flow.
//!
//! - `demo-energy` (categories `battery`, `ev`): a redirect provider. Its
//!   "manufacturer" is a second [`AuthorizationServer`] in the same process,
//!   mounted under `<issuer>/upstream` with its own key ring, store and
//!   demo sign-in. The hook is an ordinary OAuth 2.0 client (the `oauth2`
//!   crate): authorization code with PKCE, the verifier derived from
//!   [`LinkContext::link_secret`] (nothing to store between the two legs),
//!   the code exchanged at the upstream's token endpoint, the account
//!   identified by introspecting the access token.
//! - `demo-utility` (category `meter`): a form provider (username and
//!   password) that accepts [`DEMO_UTILITY_PASSWORD`] only.
//!
//! Set `OAUTH_CONNECT_DEMO_PROVIDERS=off` to serve the flow without them.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use oauth_connect::{
    AppType, AuthorizationServer, DemoSignIn, KeyRing, LinkContext, LinkError, LinkField, LinkHook,
    LinkedAccount, MemoryStore, NewOAuthApp, Provider, ScopeCatalogue, Terms, WorkspaceId,
};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    IntrospectionUrl, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    TokenIntrospectionResponse as _, TokenResponse as _, TokenUrl,
};

/// Where the upstream authorization server is mounted.
pub(crate) const UPSTREAM_PREFIX: &str = "/upstream";
/// The demo utility's password (any username).
pub(crate) const DEMO_UTILITY_PASSWORD: &str = "demo-password";
const UPSTREAM_WORKSPACE: &str = "ws_upstream";
const UPSTREAM_SCOPE: &str = "energy:read";

/// The demo providers, their terms, and the upstream server to mount.
pub(crate) struct Catalogue {
    pub(crate) providers: Vec<Provider>,
    pub(crate) terms: Terms,
    pub(crate) upstream: AuthorizationServer<MemoryStore>,
}

/// Builds the upstream authorization server at `<issuer>/upstream`, its
/// app for the Connect callback, and the demo providers. `back_channel` is
/// how this process reaches itself (`http://127.0.0.1:PORT`): the hook's
/// token and introspection requests go there, the browser goes to `issuer`.
pub(crate) async fn catalogue(
    issuer: &str,
    back_channel: &str,
) -> Result<Catalogue, Box<dyn Error>> {
    let upstream_issuer = format!("{issuer}{UPSTREAM_PREFIX}");
    let upstream = AuthorizationServer::builder(MemoryStore::new())
        .issuer(upstream_issuer.clone())
        .key_ring(KeyRing::generate(&oauth_connect::SystemRandom::new())?)
        .resource_owner(Arc::new(DemoSignIn))
        .scope_catalogue(
            ScopeCatalogue::new().describe(UPSTREAM_SCOPE, "See your batteries and chargers"),
        )
        .build()?;
    let callback = format!("{issuer}/connect/callback/demo-energy");
    let app = upstream
        .create_app(
            &WorkspaceId::parse(UPSTREAM_WORKSPACE)?,
            &NewOAuthApp {
                name: "oauth-connect demo".into(),
                description: None,
                redirect_uris: vec![callback],
                allowed_scopes: vec![UPSTREAM_SCOPE.into()],
                allowed_origins: vec![],
                app_type: AppType::Confidential,
                logo_uri: None,
            },
        )
        .await?;
    let secret = app.client_secret.ok_or("a confidential app has a secret")?;
    let client = BasicClient::new(ClientId::new(app.app.client_id.as_str().to_owned()))
        .set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()))
        .set_auth_uri(AuthUrl::new(format!("{upstream_issuer}/oauth/authorize"))?)
        .set_token_uri(TokenUrl::new(format!(
            "{back_channel}{UPSTREAM_PREFIX}/oauth/token"
        ))?)
        .set_introspection_url(IntrospectionUrl::new(format!(
            "{back_channel}{UPSTREAM_PREFIX}/oauth/introspect"
        ))?);
    let http = reqwest::Client::builder()
        // An OAuth client follows no redirects (SSRF).
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let energy = DemoEnergy {
        client,
        http,
        issuer: upstream_issuer,
    };
    let providers = vec![
        Provider::redirect("demo-energy", "Demo Energy", Arc::new(energy))
            .categories(["battery", "ev"]),
        Provider::form(
            "demo-utility",
            "Demo Utility",
            vec![
                LinkField::new("username", "Username", "text", true),
                LinkField::new("password", "Password", "password", true),
            ],
            Arc::new(DemoUtility),
        )
        .categories(["meter"]),
    ];
    let terms = Terms::new(
        "Demo terms: this example links demo accounts only, and forgets everything when it stops.",
        Some("https://example.com/terms".into()),
    );
    Ok(Catalogue {
        providers,
        terms,
        upstream,
    })
}

type UpstreamClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointNotSet, EndpointSet>;

/// The redirect provider: an OAuth 2.0 client of the upstream server.
struct DemoEnergy {
    client: UpstreamClient,
    http: reqwest::Client,
    issuer: String,
}

impl fmt::Debug for DemoEnergy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoEnergy")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// The PKCE verifier of this link: the same on both legs, stored nowhere.
fn verifier(context: &LinkContext) -> PkceCodeVerifier {
    PkceCodeVerifier::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(context.link_secret),
    )
}

fn redirect_url(context: &LinkContext) -> Result<RedirectUrl, LinkError> {
    RedirectUrl::new(context.callback_url.clone()).map_err(|_| LinkError::Unavailable)
}

#[async_trait]
impl LinkHook for DemoEnergy {
    async fn authorization_url(
        &self,
        context: &LinkContext,
        state: &str,
    ) -> Result<String, LinkError> {
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier(context));
        let (url, _) = self
            .client
            .authorize_url(|| CsrfToken::new(state.to_owned()))
            .set_redirect_uri(std::borrow::Cow::Owned(redirect_url(context)?))
            .add_scope(Scope::new(UPSTREAM_SCOPE.into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url.into())
    }

    async fn complete_redirect(
        &self,
        context: &LinkContext,
        query: &[(String, String)],
    ) -> Result<LinkedAccount, LinkError> {
        let param = |name: &str| {
            query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        // RFC 9207: the answer must come from the server we sent the user to.
        if param("iss").is_some_and(|iss| iss != self.issuer) {
            return Err(LinkError::Refused(
                "the answer came from another server".into(),
            ));
        }
        match param("error") {
            Some("access_denied") => return Err(LinkError::Denied),
            Some(_) => return Err(LinkError::Refused("Demo Energy refused the link".into())),
            None => {}
        }
        let code = param("code").ok_or(LinkError::Unavailable)?;
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_redirect_uri(std::borrow::Cow::Owned(redirect_url(context)?))
            .set_pkce_verifier(verifier(context))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(_) => {
                    LinkError::Refused("Demo Energy refused the grant; try again".into())
                }
                _ => LinkError::Unavailable,
            })?;
        let introspection = self
            .client
            .introspect(tokens.access_token())
            .request_async(&self.http)
            .await
            .map_err(|_| LinkError::Unavailable)?;
        match introspection.sub() {
            Some(sub) if introspection.active() => Ok(LinkedAccount::new(
                "demo-energy",
                sub,
                format!("Demo Energy account {sub}"),
            )),
            _ => Err(LinkError::Unavailable),
        }
    }
}

/// The form provider: any username with the demo password.
#[derive(Debug)]
struct DemoUtility;

#[async_trait]
impl LinkHook for DemoUtility {
    async fn complete_form(
        &self,
        _: &LinkContext,
        values: &[(String, String)],
    ) -> Result<LinkedAccount, LinkError> {
        let value = |name: &str| {
            values
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| v.as_str())
        };
        let username = value("username").trim();
        if username.is_empty() || value("password") != DEMO_UTILITY_PASSWORD {
            return Err(LinkError::Refused("wrong username or password".into()));
        }
        Ok(LinkedAccount::new(
            "demo-utility",
            format!("meter-{username}"),
            format!("Demo Utility meter of {username}"),
        ))
    }
}

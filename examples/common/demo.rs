//! The demo provider catalogue of the examples: what a host writes to plug
//! its providers into the hosted Connect flow.
//!
//! - `demo-energy` (categories `battery`, `ev`): a redirect provider. Its
//!   "manufacturer" is a second [`AuthorizationServer`] in the same process,
//!   mounted under `<issuer>/upstream` with its own key ring, store and
//!   demo sign-in. The hook is an ordinary OAuth 2.0 client (a few lines on
//!   `reqwest`): authorization code with PKCE, the verifier derived from
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
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_connect::hooks::{
    LinkContext, LinkError, LinkField, LinkFormValues, LinkedAccount, Provider, ProviderQuery,
    ScopeCatalogue, Terms,
};
use oauth_connect::{
    AppType, AuthorizationServer, KeyRing, LinkHook, MemoryStore, NewOAuthApp, WorkspaceId,
};
use serde_json::Value;
use zeroize::Zeroizing;

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
        .key_ring(KeyRing::generate(
            &oauth_connect::hooks::SystemRandom::new(),
        )?)
        // The upstream's own consent page: a demo sign-in (dangerous).
        .dangerous()
        .demo_sign_in()
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
    let client = UpstreamClient {
        client_id: app.app.client_id.as_str().to_owned(),
        secret: Zeroizing::new(secret.expose_secret().to_owned()),
        authorize_url: url::Url::parse(&format!("{upstream_issuer}/oauth/authorize"))?,
        token_url: format!("{back_channel}{UPSTREAM_PREFIX}/oauth/token"),
        introspection_url: format!("{back_channel}{UPSTREAM_PREFIX}/oauth/introspect"),
    };
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

/// The hook's registration at the upstream server: a confidential client.
struct UpstreamClient {
    client_id: String,
    secret: Zeroizing<String>,
    authorize_url: url::Url,
    /// The token and introspection endpoints, over the back channel.
    token_url: String,
    introspection_url: String,
}

impl UpstreamClient {
    /// `Authorization: Basic` with the client's credentials, each
    /// form-encoded first (RFC 6749 §2.3.1).
    fn basic(&self) -> String {
        let encode =
            |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(&self.client_id), encode(&self.secret));
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// POSTs `form` to `url` with the client's credentials: the status and
    /// the JSON answer (`null` when it is not JSON).
    async fn post(
        &self,
        http: &reqwest::Client,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, Value), LinkError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let answer = http
            .post(url)
            .header("authorization", self.basic())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|_| LinkError::Unavailable)?;
        let status = answer.status().as_u16();
        let body = answer.bytes().await.map_err(|_| LinkError::Unavailable)?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }
}

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

/// The PKCE verifier of this link: the same on both legs, stored nowhere
/// (RFC 7636 §4.1: 43 characters of base64url).
fn verifier(context: &LinkContext) -> Zeroizing<String> {
    Zeroizing::new(URL_SAFE_NO_PAD.encode(context.link_secret))
}

#[async_trait]
impl LinkHook for DemoEnergy {
    async fn authorization_url(
        &self,
        context: &LinkContext,
        state: &str,
    ) -> Result<String, LinkError> {
        // RFC 7636 §4.2: S256.
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier(context).as_bytes());
        let challenge = URL_SAFE_NO_PAD.encode(digest.as_ref());
        let mut url = self.client.authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client.client_id)
            .append_pair("redirect_uri", &context.callback_url)
            .append_pair("scope", UPSTREAM_SCOPE)
            .append_pair("state", state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    async fn complete_redirect(
        &self,
        context: &LinkContext,
        query: &ProviderQuery,
    ) -> Result<LinkedAccount, LinkError> {
        let param = |name: &str| query.get(name);
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
        // RFC 6749 §4.1.3, with the RFC 7636 §4.5 verifier.
        let verifier = verifier(context);
        let (status, tokens) = self
            .client
            .post(
                &self.http,
                &self.client.token_url,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &context.callback_url),
                    ("code_verifier", &verifier),
                ],
            )
            .await?;
        let access_token = match (status, tokens["access_token"].as_str()) {
            (200, Some(token)) => Zeroizing::new(token.to_owned()),
            // RFC 6749 §5.2: the grant was refused.
            (400, _) => {
                return Err(LinkError::Refused(
                    "Demo Energy refused the grant; try again".into(),
                ));
            }
            _ => return Err(LinkError::Unavailable),
        };
        // RFC 7662 §2: who the token speaks for.
        let (status, introspection) = self
            .client
            .post(
                &self.http,
                &self.client.introspection_url,
                &[("token", &access_token)],
            )
            .await?;
        let active = status == 200 && introspection["active"] == Value::Bool(true);
        match introspection["sub"].as_str() {
            Some(sub) if active => Ok(LinkedAccount::new(
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
        values: &LinkFormValues,
    ) -> Result<LinkedAccount, LinkError> {
        let value = |name: &str| values.get(name).unwrap_or_default();
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

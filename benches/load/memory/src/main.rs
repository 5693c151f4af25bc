//! `MemoryStore`'s resident memory per stored record (issue 23 item 3):
//! builds a server on the memory store, stores N records of one kind
//! (1,000,000 by default) and divides the growth of the process's `VmRSS`
//! (`/proc/self/status`) by N. The system allocator (glibc's malloc).
//!
//!     load-memory [--count N] [KIND...]   every kind (or these)
//!
//!     load-memory --latency [--count N] [KIND...]
//!
//! Each kind runs in a fresh process (this program again, with `--alone`),
//! so that no kind grows into memory another one freed.
//!
//! With `--latency` it times each of the N calls instead (a flat tail as
//! the tables grow, issue 23 item 2) and prints `LATENCY KIND N P50_US
//! P99_US P999_US MAX_US`, then the five slowest calls as `WORST KIND
//! INDEX MICROSECONDS` (the index counts the calls from 0, after the
//! warm-up's 1,000): a table that doubles in one piece shows as a call
//! far slower than the rest at a power of two times 7/8.
//!
//! Each kind prints one line, `RESULT KIND N RSS_BEFORE_KIB RSS_AFTER_KIB
//! BYTES_PER_RECORD`, and the growth at each quarter on stderr. Before the
//! first reading the kind's setup has run and 1,000 records of it are
//! stored (first-use allocations are not counted); the division is by the
//! N stored after that reading. Kinds (through the public API unless said):
//!
//! - `access-token`: `client_credentials`, which stores a grant and its
//!   access token.
//! - `access-token-record`: access-token records alone, through the storage
//!   trait (`insert_grant`, 1,000 tokens per grant: the grants are 0.1 %).
//! - `refresh-rotation`: `refresh` on the previous refresh token, which
//!   stores a new access token and a new refresh token (and keeps the
//!   rotated-out one for reuse detection).
//! - `refresh-token-record`: refresh-token records alone, as
//!   `access-token-record`.
//! - `pending-authorization`: a confidential client's pushed authorization
//!   request (RFC 9126), the pending authorization a consent page opens.
//! - `connect-session`: `create_connect_session` (customer details given).
//! - `scoped-key`: `mint_scoped_key` for one customer.

use std::error::Error;
use std::process::Command;
use std::sync::Arc;

use http::HeaderMap;
use oauth_connect::connect::ConnectDecision;
use oauth_connect::connect::NewScopedKey;
use oauth_connect::credentials::CredentialHash;
use oauth_connect::hooks::{ConsentRequest, PriorConsent, RandomSource as _, SystemRandom};
use oauth_connect::oauth::{AuthorizationRequest, AuthorizeOutcome};
use oauth_connect::registry::AuthenticatedClient;
use oauth_connect::storage::{GrantRecord, GrantStore as _, TokenKind, TokenRecord};
use oauth_connect::{
    AppType, AuthorizationServer, GrantId, MemoryStore, NewConnectSession, NewOAuthApp,
    ResourceOwnerAuthenticator, Subject, WorkspaceId,
};

type Server = AuthorizationServer<MemoryStore>;
type Failure = Box<dyn Error>;

const KINDS: [&str; 7] = [
    "access-token",
    "access-token-record",
    "refresh-rotation",
    "refresh-token-record",
    "pending-authorization",
    "connect-session",
    "scoped-key",
];
const WARM_UP: usize = 1_000;
const REDIRECT: &str = "https://app.example.com/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// Tokens per grant for the `*-record` kinds.
const TOKENS_PER_GRANT: usize = 1_000;

/// A customer's details, complete (the Connect page then asks nothing).
fn customer() -> serde_json::Value {
    serde_json::json!({
        "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "phone": "555-555-0100",
        "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                     "postalCode": "62701", "country": "US"}
    })
}

/// Every user already consented to `read`: codes come without the page.
#[derive(Debug)]
struct Consented;

#[async_trait::async_trait]
impl ResourceOwnerAuthenticator for Consented {
    async fn authenticate(&self, _: &HeaderMap, _: Option<&str>) -> Option<Subject> {
        Subject::parse("user-42").ok()
    }

    async fn prior_consent(&self, _: &HeaderMap, request: &ConsentRequest<'_>) -> PriorConsent {
        match Subject::parse("user-42") {
            Ok(subject) => PriorConsent::Granted {
                subject,
                scopes: request.scopes.clone(),
            },
            Err(_) => PriorConsent::Ask,
        }
    }
}

fn main() -> Result<(), Failure> {
    let mut count = 1_000_000;
    let mut kinds = Vec::new();
    let mut alone = false;
    let mut latency = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--count" => {
                count = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--count needs a positive number")?;
            }
            "--alone" => alone = true,
            "--latency" => latency = true,
            kind if KINDS.contains(&kind) => kinds.push(kind.to_owned()),
            other => {
                return Err(
                    format!("unknown argument {other:?}; kinds: {}", KINDS.join(" ")).into(),
                );
            }
        }
    }
    if alone {
        let [kind] = kinds.as_slice() else {
            return Err("--alone measures one kind".into());
        };
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        if latency {
            return rt.block_on(time_calls(kind, count));
        }
        return rt.block_on(measure(kind, count));
    }
    if kinds.is_empty() {
        kinds = KINDS.iter().map(|&kind| kind.to_owned()).collect();
    }
    let me = std::env::current_exe()?;
    for kind in kinds {
        let mut command = Command::new(&me);
        if latency {
            command.arg("--latency");
        }
        let status = command
            .args(["--alone", "--count", &count.to_string(), &kind])
            .status()?;
        if !status.success() {
            return Err(format!("{kind} failed: {status}").into());
        }
    }
    Ok(())
}

/// The process's resident memory, KiB.
fn rss_kib() -> Result<u64, Failure> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/self/status".into())
}

async fn measure(kind: &str, count: usize) -> Result<(), Failure> {
    let mut fixture = Fixture::new().await?;
    fixture.store(kind, WARM_UP).await?;
    let before = rss_kib()?;
    let quarter = (count / 4).max(1);
    let mut done = 0;
    while done < count {
        let n = quarter.min(count - done);
        fixture.store(kind, n).await?;
        done += n;
        let now = rss_kib()?;
        eprintln!(
            "{kind}: {done} stored, RSS +{} KiB, {:.0} bytes each",
            now.saturating_sub(before),
            (now.saturating_sub(before) * 1024) as f64 / done as f64
        );
    }
    let after = rss_kib()?;
    let per_record = (after.saturating_sub(before) * 1024) as f64 / count as f64;
    println!("RESULT {kind} {count} {before} {after} {per_record:.0}");
    Ok(())
}

/// Times each of `count` calls storing one record of `kind`.
async fn time_calls(kind: &str, count: usize) -> Result<(), Failure> {
    let mut fixture = Fixture::new().await?;
    fixture.store(kind, WARM_UP).await?;
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let start = std::time::Instant::now();
        fixture.store(kind, 1).await?;
        times.push(start.elapsed());
    }
    let mut worst: Vec<(usize, std::time::Duration)> = times.iter().copied().enumerate().collect();
    worst.sort_by_key(|w| std::cmp::Reverse(w.1));
    let mut sorted = times;
    sorted.sort();
    let at = |q: f64| {
        let i = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
        sorted[i].as_secs_f64() * 1e6
    };
    println!(
        "LATENCY {kind} {count} {:.1} {:.1} {:.1} {:.1}",
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    );
    for (index, took) in worst.iter().take(5) {
        println!("WORST {kind} {index} {:.1}", took.as_secs_f64() * 1e6);
    }
    Ok(())
}

/// A server on the memory store with what every kind needs: a confidential
/// and a public app, a customer with a grant (for scoped keys), a refresh
/// token, and templates of an access-token and a refresh-token record.
struct Fixture {
    server: Server,
    confidential: AuthenticatedClient,
    public: AuthenticatedClient,
    refresh_token: String,
    access_record: TokenRecord,
    refresh_record: TokenRecord,
    grant: GrantRecord,
    grants_made: u64,
    rng: SystemRandom,
}

impl Fixture {
    async fn new() -> Result<Self, Failure> {
        let server = AuthorizationServer::builder(MemoryStore::new())
            .issuer("https://auth.example.com")
            .resource_owner(Arc::new(Consented))
            .build()?;
        let ws = WorkspaceId::parse("ws_memory")?;
        let app = |app_type| NewOAuthApp {
            name: "memory".into(),
            description: None,
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: vec!["read".into()],
            allowed_origins: vec![],
            app_type,
            logo_uri: None,
        };
        let created = server.create_app(&ws, &app(AppType::Confidential)).await?;
        let secret = created.client_secret.ok_or("no client secret")?;
        let confidential = server
            .authenticate_client(created.app.client_id.as_str(), Some(secret.expose_secret()))
            .await?;
        let created = server.create_app(&ws, &app(AppType::Public)).await?;
        let public = server
            .authenticate_client(created.app.client_id.as_str(), None)
            .await?;

        // A customer with a grant, for scoped keys.
        let request: NewConnectSession = serde_json::from_value(serde_json::json!({
            "redirectUrl": REDIRECT,
            "referenceId": "customer-1",
            "customerInfo": customer(),
        }))?;
        let session = server
            .create_connect_session(&confidential.app, &request, false)
            .await?;
        let token = session.connect_token.expose_secret();
        let browser = server.new_browser_secret()?;
        let page = server
            .connect_open(token, &browser, None)
            .await
            .map_err(|e| format!("connect_open: {e:?}"))?;
        server
            .connect_complete(
                token,
                page.csrf_token.expose_secret(),
                &browser,
                ConnectDecision::Approve,
            )
            .await
            .map_err(|e| format!("connect_complete: {e:?}"))?;

        // A code flow of the public client: its refresh token, and the
        // records of its two tokens as templates.
        let request = AuthorizationRequest {
            response_type: Some("code".into()),
            client_id: Some(public.app.client_id.as_str().into()),
            redirect_uri: Some(REDIRECT.into()),
            scope: Some("read".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            ..AuthorizationRequest::default()
        };
        let AuthorizeOutcome::Approved(to) = server
            .authorize_request(Some(&HeaderMap::new()), &request)
            .await
            .map_err(|e| format!("authorize_request: {e:?}"))?
        else {
            return Err("the consent policy did not approve".into());
        };
        let query = to.location.split_once('?').ok_or("no query")?.1;
        let code = form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "code")
            .ok_or("no code")?
            .1
            .into_owned();
        let tokens = server
            .exchange_code(&public, &code, Some(REDIRECT), Some(VERIFIER))
            .await?;
        let keys = server.config().keys();
        let access_hash = tokens.access_token.hash(keys).ok_or("unhashable")?;
        let refresh = tokens.refresh_token.ok_or("no refresh token")?;
        let refresh_hash = refresh.hash(keys).ok_or("unhashable")?;
        let storage = server.storage();
        let access_record = storage.get_token(&access_hash).await?.ok_or("no record")?;
        let refresh_record = storage.get_token(&refresh_hash).await?.ok_or("no record")?;
        let grant = storage
            .get_grant(&access_record.grant_id)
            .await?
            .ok_or("no grant")?;
        if access_record.kind != TokenKind::Access || refresh_record.kind != TokenKind::Refresh {
            return Err("unexpected token kinds".into());
        }
        Ok(Self {
            refresh_token: refresh.expose_secret().to_owned(),
            server,
            confidential,
            public,
            access_record,
            refresh_record,
            grant,
            grants_made: 0,
            rng: SystemRandom::new(),
        })
    }

    /// Stores `n` more records of `kind`.
    async fn store(&mut self, kind: &str, n: usize) -> Result<(), Failure> {
        let server = &self.server;
        match kind {
            "access-token" => {
                for _ in 0..n {
                    server.client_credentials(&self.confidential, None).await?;
                }
            }
            "refresh-rotation" => {
                for _ in 0..n {
                    let tokens = server
                        .refresh(&self.public, &self.refresh_token, None)
                        .await?;
                    let next = tokens.refresh_token.ok_or("no refresh token")?;
                    self.refresh_token = next.expose_secret().to_owned();
                }
            }
            "access-token-record" => self.records(TokenKind::Access, n).await?,
            "refresh-token-record" => self.records(TokenKind::Refresh, n).await?,
            "pending-authorization" => {
                let request = AuthorizationRequest {
                    response_type: Some("code".into()),
                    redirect_uri: Some(REDIRECT.into()),
                    scope: Some("read".into()),
                    state: Some("af0ifjsldkj".into()),
                    code_challenge: Some(CHALLENGE.into()),
                    code_challenge_method: Some("S256".into()),
                    ..AuthorizationRequest::default()
                };
                for _ in 0..n {
                    server
                        .push_authorization_request(&self.confidential, &request, None)
                        .await?;
                }
            }
            "connect-session" => {
                let request: NewConnectSession = serde_json::from_value(serde_json::json!({
                    "redirectUrl": REDIRECT,
                    "customerInfo": customer(),
                }))?;
                for _ in 0..n {
                    server
                        .create_connect_session(&self.confidential.app, &request, false)
                        .await?;
                }
            }
            "scoped-key" => {
                let mint: NewScopedKey =
                    serde_json::from_value(serde_json::json!({"referenceId": "customer-1"}))?;
                for _ in 0..n {
                    server.mint_scoped_key(&self.confidential, &mint).await?;
                }
            }
            other => return Err(format!("unknown kind {other}").into()),
        }
        Ok(())
    }

    /// `n` token records of `kind` through the storage trait, cloned from
    /// the fixture's (fresh random hashes), `TOKENS_PER_GRANT` per new grant.
    async fn records(&mut self, kind: TokenKind, n: usize) -> Result<(), Failure> {
        let template = match kind {
            TokenKind::Access => &self.access_record,
            _ => &self.refresh_record,
        };
        let mut left = n;
        while left > 0 {
            let batch = left.min(TOKENS_PER_GRANT);
            self.grants_made += 1;
            let mut grant = self.grant.clone();
            grant.id = GrantId::parse(&format!("grant_{:032x}", self.grants_made))?;
            let mut tokens = Vec::with_capacity(batch);
            for _ in 0..batch {
                let mut hash = [0u8; 32];
                self.rng.fill(&mut hash)?;
                let mut token = template.clone();
                token.hash = CredentialHash::from_bytes(hash);
                token.grant_id = grant.id.clone();
                tokens.push(token);
            }
            self.server.storage().insert_grant(&grant, &tokens).await?;
            left -= batch;
        }
        Ok(())
    }
}

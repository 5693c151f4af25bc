//! What the axum and actix-web examples share: configuration, choosing the
//! store, building the server, the start-up banner, the periodic purge, the
//! shutdown signal and per-request logging. Each example adds only its
//! framework adapter, generic over the store.
//!
//! Configuration (all optional):
//!
//! | knob | default |
//! |---|---|
//! | `--addr HOST:PORT`, or `PORT` | `127.0.0.1:3000` |
//! | `OAUTH_CONNECT_ISSUER` | `http://<the bound address>`; behind a load balancer, its public URL, the same on every node |
//! | `OAUTH_CONNECT_ADMIN_KEYS` (`workspace=key,…`) | workspace `ws_demo` with a fresh admin key, printed; required with `DATABASE_URL`, the same on every node |
//! | `OAUTH_CONNECT_SERVER_KEY` (hex or base64, ≥ 32 bytes) | a random key: credentials die with the process; required with `DATABASE_URL`, the same on every node |
//! | `DATABASE_URL` | in-memory storage; set: PostgreSQL, tables created or upgraded at start |
//! | `DATABASE_SCHEMA` | the connection's default schema (`public`); set: every table in that schema, created if needed |
//! | `RUST_LOG` | `info` |
//! | `OAUTH_CONNECT_DEMO_PROVIDERS` (`off`) | on: the demo providers of [`demo`] and their upstream at `/upstream` (always in memory, per process) |
//! | `--demo-app-addr HOST:PORT`, or `OAUTH_CONNECT_DEMO_APP` (`HOST:PORT` or `off`) | the demo integrating app of [`demo_app`] on the server's port + 1; with `DATABASE_URL`, off |
//! | `OAUTH_CONNECT_SESSION_LIFETIME` (seconds, 60–86400) | Connect sessions live 1800 s |
//! | `OAUTH_CONNECT_PURGE_SECONDS` (1–86400) | expired records are purged every 60 s |
//! | `OAUTH_CONNECT_REVOKED_GRANT_RETENTION_SECONDS` (60–31536000) | a revoked grant is kept 1 day |
//! | `OAUTH_CONNECT_MAX_CONNECTION_TAGS` (1–100) | 20 tags per Connect session or connection |
//! | `OAUTH_CONNECT_HEADER_TIMEOUT_SECONDS`, `OAUTH_CONNECT_BODY_TIMEOUT_SECONDS`, `OAUTH_CONNECT_MAX_CONNECTIONS` | 10 s for a request head, 30 s for a body, 1000 connections: see [`sockets`] |
//! | `OAUTH_CONNECT_TRUSTED_PROXIES` (CIDRs or addresses, comma-separated) | none: the socket's peer is the client the limits count |
//! | `OAUTH_CONNECT_BRAND_NAME`, `OAUTH_CONNECT_BRAND_LOGO_URL` (https), `OAUTH_CONNECT_BRAND_COLOR` (`#rrggbb`), `OAUTH_CONNECT_SUPPORT_URL` | no brand: the hosted pages show the app only |
//! | `OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT` (a user id) | off. **Load tests only**: see [`AutoConsent`] |

mod demo;
mod demo_app;
mod sockets;

pub(crate) use demo::UPSTREAM_PREFIX;
pub(crate) use demo_app::DemoApp;
#[allow(unused_imports)] // each adapter uses its part
pub(crate) use sockets::{Guarded, HeadClock, Limits};

use std::error::Error;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use oauth_connect::credentials::ServerKey;
use oauth_connect::hooks::{ConsentRequest, PriorConsent, ScopeCatalogue};
use oauth_connect::http::Brand;
use oauth_connect::{
    AuthorizationServer, BearerKind, BearerPrincipal, KeyRing, MemoryStore, PostgresStore,
    ResourceOwnerAuthenticator, Storage, Subject, WorkspaceId,
};
use sqlx::postgres::PgConnectOptions;
use tracing::Span;
use zeroize::Zeroizing;

mod observe;
pub(crate) use observe::{metrics, stop_webhooks};

/// The demo providers' upstream authorization server: in memory in every
/// case. It stands in for a third party (a manufacturer's own OAuth
/// server), so it shares nothing with the example's store; on several
/// nodes each has its own (see `docs/postgres.md`, "Several nodes").
pub(crate) type Upstream = AuthorizationServer<MemoryStore>;

/// How often expired records are purged (by default), and how many per
/// call.
const PURGE_EVERY: Duration = Duration::from_secs(60);
const PURGE_BATCH: u32 = 1000;

/// The workspace made at start-up when no admin keys are configured.
const DEMO_WORKSPACE: &str = "ws_demo";

/// RFC 7636 Appendix B's example verifier and challenge, for the printed
/// URLs only: a real client makes a fresh verifier per request.
const DEMO_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const DEMO_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const DEMO_REDIRECT: &str = "http://127.0.0.1:8080/callback";

/// The configuration, from the command line and the environment. No
/// `Debug`: it holds admin keys and the server key.
pub(crate) struct Config {
    addr: SocketAddr,
    issuer: Option<String>,
    admin_keys: Vec<(WorkspaceId, Zeroizing<String>)>,
    server_key: Option<Zeroizing<Vec<u8>>>,
    database: Option<Database>,
    demo_providers: bool,
    /// Where the demo integrating app listens; `None`: not served.
    demo_app_addr: Option<SocketAddr>,
    session_lifetime: Option<time::Duration>,
    purge_every: Duration,
    /// `OAUTH_CONNECT_REVOKED_GRANT_RETENTION_SECONDS`: how long a revoked
    /// grant is kept (reuse detection, the audit trail) before the purge.
    revoked_grant_retention: Option<time::Duration>,
    /// `OAUTH_CONNECT_MAX_CONNECTION_TAGS`: the most tags a Connect session
    /// or a connection may carry.
    max_connection_tags: Option<usize>,
    /// What a slow client may hold.
    limits: Limits,
    /// Proxies whose `Forwarded`/`X-Forwarded-For` names the client.
    trusted_proxies: Vec<String>,
    /// The host's brand on the hosted pages.
    brand: Brand,
    /// `OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT`: approve every authorization
    /// request as this user (load tests on loopback only).
    auto_consent: Option<Subject>,
}

/// `DATABASE_URL` and `DATABASE_SCHEMA`. No `Debug`: the URL may hold a
/// password.
struct Database {
    url: Zeroizing<String>,
    schema: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The number in the variable `name`, if set: within `range`, or an
/// error naming the variable and the range (`unit` after it, such as
/// `" seconds"`).
fn env_number<T>(
    name: &str,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<Option<T>, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(value) = env(name) else {
        return Ok(None);
    };
    match value.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "{name} must be {} to {}{unit}",
            range.start(),
            range.end()
        )),
    }
}

const USAGE: &str = "usage: [PORT=3000] cargo run [-p example-actix] --example <axum|actix> [-- --addr HOST:PORT] [--demo-app-addr HOST:PORT|off]

environment: OAUTH_CONNECT_ISSUER, OAUTH_CONNECT_ADMIN_KEYS (workspace=key,...),
             OAUTH_CONNECT_SERVER_KEY (hex or base64, 32+ bytes), RUST_LOG,
             DATABASE_URL (PostgreSQL; then also the server key and admin keys),
             DATABASE_SCHEMA, OAUTH_CONNECT_DEMO_PROVIDERS=off (no demo providers),
             OAUTH_CONNECT_DEMO_APP=HOST:PORT|off (the demo integrating app; default: port + 1),
             OAUTH_CONNECT_SESSION_LIFETIME=SECONDS (Connect sessions; 60-86400, default 1800),
             OAUTH_CONNECT_PURGE_SECONDS=SECONDS (how often expired records go; default 60),
             OAUTH_CONNECT_REVOKED_GRANT_RETENTION_SECONDS=SECONDS (revoked grants kept; 60-31536000, default 86400),
             OAUTH_CONNECT_MAX_CONNECTION_TAGS=N (tags per Connect session or connection; 1-100, default 20),
             OAUTH_CONNECT_HEADER_TIMEOUT_SECONDS=SECONDS (a request head; 1-3600, default 10),
             OAUTH_CONNECT_BODY_TIMEOUT_SECONDS=SECONDS (a request body, a stalled reader; 1-3600, default 30),
             OAUTH_CONNECT_MAX_CONNECTIONS=N (open at once; 1-1000000, default 1000),
             OAUTH_CONNECT_TRUSTED_PROXIES=CIDR,... (whose X-Forwarded-For/Forwarded is believed; default none),
             OAUTH_CONNECT_BRAND_NAME, OAUTH_CONNECT_BRAND_LOGO_URL (https),
               OAUTH_CONNECT_BRAND_COLOR (#rrggbb, the primary buttons), OAUTH_CONNECT_SUPPORT_URL
               (the host's brand and help link on every hosted page; default none),
             OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT=USER_ID (load tests on loopback only: every
               authorization request is approved as USER_ID, nobody is asked; default off)";

/// The brand of `OAUTH_CONNECT_BRAND_NAME`, `…_BRAND_LOGO_URL`,
/// `…_BRAND_COLOR` and `OAUTH_CONNECT_SUPPORT_URL` (checked by the
/// server's builder).
fn brand_from_env() -> Brand {
    let mut brand = env("OAUTH_CONNECT_BRAND_NAME")
        .map(|name| Brand::new(name.trim()))
        .unwrap_or_default();
    if let Some(logo) = env("OAUTH_CONNECT_BRAND_LOGO_URL") {
        brand = brand.logo_url(logo.trim());
    }
    if let Some(color) = env("OAUTH_CONNECT_BRAND_COLOR") {
        brand = brand.color(color.trim());
    }
    if let Some(url) = env("OAUTH_CONNECT_SUPPORT_URL") {
        brand = brand.support_url(url.trim());
    }
    brand
}

/// `HOST:PORT` or `off` for the demo app.
fn demo_app_addr(value: &str) -> Result<Option<SocketAddr>, String> {
    match value.trim() {
        "off" | "0" | "false" => Ok(None),
        addr => addr.parse().map(Some).map_err(|_| {
            format!(
                "the demo app address must be HOST:PORT (e.g. 127.0.0.1:3001) or off, not {value:?}"
            )
        }),
    }
}

impl Config {
    /// Reads `--addr` / `PORT` and the `OAUTH_CONNECT_*` variables. `None`
    /// when `--help` was asked for (the usage is printed).
    ///
    /// Error messages name the variable at fault, never its value.
    pub(crate) fn from_env() -> Result<Option<Self>, Box<dyn Error>> {
        let mut addr = match env("PORT") {
            Some(port) => {
                let port: u16 = port
                    .trim()
                    .parse()
                    .map_err(|_| format!("PORT must be a port number, not {port:?}"))?;
                SocketAddr::from(([127, 0, 0, 1], port))
            }
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let mut demo_app = env("OAUTH_CONNECT_DEMO_APP")
            .map(|value| demo_app_addr(&value))
            .transpose()?;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let (name, value) = match arg.as_str() {
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Ok(None);
                }
                "--addr" => ("--addr", args.next().ok_or("--addr needs HOST:PORT")?),
                "--demo-app-addr" => (
                    "--demo-app-addr",
                    args.next()
                        .ok_or("--demo-app-addr needs HOST:PORT or off")?,
                ),
                other => match other.split_once('=') {
                    Some((name @ ("--addr" | "--demo-app-addr"), value)) => {
                        (name, value.to_owned())
                    }
                    _ => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
                },
            };
            if name == "--demo-app-addr" {
                demo_app = Some(demo_app_addr(&value)?);
                continue;
            }
            addr = value.parse().map_err(|_| {
                format!("--addr must be HOST:PORT (e.g. 127.0.0.1:3000), not {value:?}")
            })?;
        }
        let purge_every = env_number("OAUTH_CONNECT_PURGE_SECONDS", 1..=86_400, " seconds")?
            .map_or(PURGE_EVERY, Duration::from_secs);
        let session_lifetime =
            env_number("OAUTH_CONNECT_SESSION_LIFETIME", 60..=86_400, " seconds")?
                .map(time::Duration::seconds);
        let revoked_grant_retention = env_number(
            "OAUTH_CONNECT_REVOKED_GRANT_RETENTION_SECONDS",
            60..=31_536_000,
            " seconds",
        )?
        .map(time::Duration::seconds);
        let max_connection_tags = env_number("OAUTH_CONNECT_MAX_CONNECTION_TAGS", 1..=100, "")?;

        let mut admin_keys = Vec::new();
        if let Some(list) = env("OAUTH_CONNECT_ADMIN_KEYS").map(Zeroizing::new) {
            for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (workspace, key) = entry.split_once('=').ok_or(
                    "OAUTH_CONNECT_ADMIN_KEYS must be workspace=key pairs separated by commas",
                )?;
                let workspace = WorkspaceId::parse(workspace.trim()).map_err(|_| {
                    format!("OAUTH_CONNECT_ADMIN_KEYS: {workspace:?} is not a workspace id (ws_…)")
                })?;
                admin_keys.push((workspace, Zeroizing::new(key.trim().to_owned())));
            }
        }

        let server_key = match env("OAUTH_CONNECT_SERVER_KEY").map(Zeroizing::new) {
            Some(raw) => Some(decode_key(raw.trim()).ok_or(
                "OAUTH_CONNECT_SERVER_KEY must be at least 32 random bytes, in hex or base64",
            )?),
            None => None,
        };

        let database = match env("DATABASE_URL").map(Zeroizing::new) {
            Some(url) => Some(Database::from_env(url, &server_key, &admin_keys)?),
            None => None,
        };
        // By default the demo app listens on the next port (an ephemeral
        // one when the server's is); on a database only when asked for,
        // since it registers an app there.
        let demo_app_addr = demo_app.unwrap_or_else(|| {
            let mut next = addr;
            next.set_port(match addr.port() {
                0 | u16::MAX => 0,
                port => port + 1,
            });
            database.is_none().then_some(next)
        });

        Ok(Some(Self {
            addr,
            issuer: env("OAUTH_CONNECT_ISSUER"),
            admin_keys,
            server_key,
            database,
            demo_providers: !env("OAUTH_CONNECT_DEMO_PROVIDERS")
                .is_some_and(|v| matches!(v.trim(), "off" | "0" | "false")),
            demo_app_addr,
            session_lifetime,
            purge_every,
            revoked_grant_retention,
            max_connection_tags,
            limits: Limits::from_env()?,
            trusted_proxies: env("OAUTH_CONNECT_TRUSTED_PROXIES")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            brand: brand_from_env(),
            auto_consent: env("OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT")
                .map(|user| {
                    Subject::parse(user.trim()).map_err(|_| {
                        "OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT must be a user id \
                         (1-255 characters, no control characters)"
                    })
                })
                .transpose()?,
        }))
    }

    /// Binds the listening socket (port 0 picks a free port).
    pub(crate) fn bind(&self) -> Result<TcpListener, Box<dyn Error>> {
        let listener = TcpListener::bind(self.addr)
            .map_err(|e| format!("cannot listen on {}: {e}", self.addr))?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    }
}

/// Hex (64+ digits) or base64 (standard or URL-safe, padded or not) of at
/// least 32 bytes.
fn decode_key(raw: &str) -> Option<Zeroizing<Vec<u8>>> {
    let hex = (raw.len().is_multiple_of(2) && raw.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| {
            (0..raw.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(raw.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .flatten();
    let bytes = hex.or_else(|| {
        let trimmed = raw.trim_end_matches('=');
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
            .ok()
    })?;
    let bytes = Zeroizing::new(bytes);
    (bytes.len() >= 32).then_some(bytes)
}

const NEEDS_SERVER_KEY: &str = "DATABASE_URL is set: set OAUTH_CONNECT_SERVER_KEY too \
    (e.g. `openssl rand -hex 32`, the same on every node): the database keeps credentials only \
    as hashes keyed by it, which a random per-process key would make unverifiable after a \
    restart or on another node";

const NEEDS_ADMIN_KEYS: &str = "DATABASE_URL is set: set OAUTH_CONNECT_ADMIN_KEYS too \
    (e.g. `ws_demo=$(openssl rand -hex 32)`, the same on every node): a key made at each \
    start-up would stay valid in the database";

impl Database {
    /// Checks what PostgreSQL needs besides the URL: the keys every node
    /// must share. A random server key would leave the database full of
    /// hashes nothing can verify after a restart (or on another node), and
    /// an admin key made at each start would stay valid in the database.
    fn from_env(
        url: Zeroizing<String>,
        server_key: &Option<Zeroizing<Vec<u8>>>,
        admin_keys: &[(WorkspaceId, Zeroizing<String>)],
    ) -> Result<Self, Box<dyn Error>> {
        if server_key.is_none() {
            return Err(NEEDS_SERVER_KEY.into());
        }
        if admin_keys.is_empty() {
            return Err(NEEDS_ADMIN_KEYS.into());
        }
        let schema = env("DATABASE_SCHEMA").map(|s| s.trim().to_owned());
        // The URL is parsed again by `PostgresStore::connect`; here for
        // an early error and the banner. Neither message shows the URL.
        Self::options(&url)?;
        Ok(Self { url, schema })
    }

    fn options(url: &str) -> Result<PgConnectOptions, Box<dyn Error>> {
        url.parse::<PgConnectOptions>().map_err(|e| {
            format!("DATABASE_URL must be postgres://user[:password]@host[:port]/database ({e})")
                .into()
        })
    }

    /// Where the store is, for the banner: user, host, port, database and
    /// schema. Never the password (nor the rest of the query string).
    fn describe(&self) -> String {
        let Ok(options) = Self::options(&self.url) else {
            return "PostgreSQL".to_owned();
        };
        let host = match options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => format!("{}:{}", options.get_host(), options.get_port()),
        };
        let mut out = format!(
            "PostgreSQL, {}@{host}/{}",
            options.get_username(),
            options.get_database().unwrap_or_default()
        );
        if let Some(schema) = &self.schema {
            let _ = write!(out, ", schema {schema}");
        }
        out
    }

    /// Connects (the default pool: `PostgresStore::default_pool_options`)
    /// and creates or upgrades the tables. Several nodes may start at once:
    /// `migrate` serialises them with an advisory lock.
    async fn connect(&self) -> Result<PostgresStore, Box<dyn Error>> {
        let store = match &self.schema {
            Some(schema) => PostgresStore::connect_with_schema(&self.url, schema).await,
            None => PostgresStore::connect(&self.url).await,
        }
        .map_err(|e| format!("DATABASE_URL: cannot open {} ({e})", self.describe()))?;
        store
            .migrate()
            .await
            .map_err(|e| format!("DATABASE_URL: migrating {} failed ({e})", self.describe()))?;
        Ok(store)
    }
}

/// What the banner shows about admin keys.
pub(crate) enum Admin {
    /// A key made at start-up for the demo workspace: printed once.
    Created(WorkspaceId, Zeroizing<String>),
    /// Keys from `OAUTH_CONNECT_ADMIN_KEYS`: only their workspaces are shown.
    Configured(Vec<WorkspaceId>),
}

/// A running example over the store `S`: what an adapter serves.
pub(crate) struct Running<S> {
    /// The server to mount.
    pub(crate) server: AuthorizationServer<S>,
    /// The demo providers' upstream authorization server, to mount under
    /// [`demo::UPSTREAM_PREFIX`] (`None` with `OAUTH_CONNECT_DEMO_PROVIDERS=off`).
    pub(crate) upstream: Option<Upstream>,
    /// The bound socket.
    pub(crate) listener: TcpListener,
    /// The demo integrating app and its own socket (another origin), to
    /// serve with [`demo_app::handle`].
    pub(crate) demo_app: Option<(DemoApp, TcpListener)>,
    /// What a slow client may hold, on both sockets.
    pub(crate) limits: Limits,
}

/// The demo app's answer to one request (framework-neutral, like
/// `AuthorizationServer::handle`).
pub(crate) async fn demo_app_handle(
    app: &DemoApp,
    request: http::Request<Bytes>,
) -> http::Response<Bytes> {
    demo_app::handle(app, request).await
}

/// The example on the store `DATABASE_URL` chose. An adapter's `serve` is
/// generic over the store, so both arms run the same code.
pub(crate) enum Started {
    /// No `DATABASE_URL`: [`MemoryStore`].
    Memory(Running<MemoryStore>),
    /// `DATABASE_URL`: [`PostgresStore`], migrated.
    Postgres(Running<PostgresStore>),
}

/// Reads the configuration, binds, opens the store (`DATABASE_URL`: connects
/// and migrates PostgreSQL), builds the server, registers or creates the
/// admin keys, prints the banner and starts the purge task. `None` when
/// only `--help` was asked for.
pub(crate) async fn start(framework: &str) -> Result<Option<Started>, Box<dyn Error>> {
    init_tracing();
    listen_for_terminate();
    observe::init_metrics();
    let Some(config) = Config::from_env()? else {
        return Ok(None);
    };
    let listener = config.bind()?;
    Ok(Some(match &config.database {
        None => {
            let storage = "in memory (everything is lost on exit)".to_owned();
            let store = MemoryStore::new();
            Started::Memory(launch(framework, &config, listener, store, storage).await?)
        }
        Some(database) => {
            let store = database.connect().await?;
            let storage = format!(
                "{} (tables up to date)\n              \
                 several nodes over it share OAUTH_CONNECT_SERVER_KEY and the admin keys",
                database.describe()
            );
            Started::Postgres(launch(framework, &config, listener, store, storage).await?)
        }
    }))
}

async fn launch<S: Storage>(
    framework: &str,
    config: &Config,
    listener: TcpListener,
    store: S,
    storage: String,
) -> Result<Running<S>, Box<dyn Error>> {
    let addr = listener.local_addr()?;
    let (server, upstream, admin) = build(config, addr, store).await?;
    let demo_app = match config.demo_app_addr {
        Some(demo_addr) => {
            let demo_listener = TcpListener::bind(demo_addr)
                .map_err(|e| format!("cannot listen on {demo_addr} for the demo app: {e}"))?;
            demo_listener.set_nonblocking(true)?;
            let mut bound = demo_listener.local_addr()?;
            if bound.ip().is_unspecified() {
                bound.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            let workspace = match &admin {
                Admin::Created(workspace, _) => workspace.clone(),
                Admin::Configured(workspaces) => workspaces
                    .first()
                    .cloned()
                    .ok_or("no workspace for the demo app")?,
            };
            let app = demo_app::setup(
                &server,
                &workspace,
                &format!("http://{bound}"),
                &back_channel(addr),
            )
            .await?;
            Some((app, demo_listener))
        }
        None => None,
    };
    banner(
        framework,
        config,
        &server,
        addr,
        &admin,
        &storage,
        demo_app.as_ref().map(|(app, _)| app),
    );
    spawn_purge(server.clone(), config.purge_every);
    observe::spawn_webhooks(server.clone())?;
    if let Some(upstream) = &upstream {
        spawn_purge(upstream.clone(), config.purge_every);
    }
    Ok(Running {
        server,
        upstream,
        listener,
        demo_app,
        limits: config.limits,
    })
}

/// How this process reaches its own server: loopback, even when bound to
/// every interface.
fn back_channel(addr: SocketAddr) -> String {
    let mut local = addr;
    if local.ip().is_unspecified() {
        local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{local}")
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`): a level, or
/// `target=level` directives separated by commas (`info,sqlx=warn`).
fn init_tracing() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    // An embedding process may have set a subscriber already: keep it.
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .try_init();
}

async fn build<S: Storage>(
    config: &Config,
    addr: SocketAddr,
    store: S,
) -> Result<(AuthorizationServer<S>, Option<Upstream>, Admin), Box<dyn Error>> {
    let key_ring = match &config.server_key {
        Some(secret) => KeyRing::new(ServerKey::new(1, secret)?),
        None => KeyRing::generate(&oauth_connect::hooks::SystemRandom::new())?,
    };
    let issuer = config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let mut builder = AuthorizationServer::builder(store);
    let mut upstream = None;
    if config.demo_providers {
        // This process as its own client reaches itself on loopback.
        let catalogue = demo::catalogue(&issuer, &back_channel(addr)).await?;
        for provider in catalogue.providers {
            builder = builder.provider(provider);
        }
        builder = builder.terms(catalogue.terms);
        upstream = Some(catalogue.upstream);
    }
    if let Some(lifetime) = config.session_lifetime {
        builder = builder.connect_session_lifetime(lifetime);
    }
    if let Some(retention) = config.revoked_grant_retention {
        builder = builder.revoked_grant_retention(retention);
    }
    if let Some(max) = config.max_connection_tags {
        builder = builder.max_connection_tags(max);
    }
    // A demo sign-in field on the consent page, which believes any typed
    // user id (dangerous): plug your login in here instead.
    builder = builder.dangerous().demo_sign_in();
    if let Some(user) = &config.auto_consent {
        AutoConsent::check(&issuer, addr)?;
        tracing::warn!(
            "OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT: every authorization request is approved \
             without asking anyone (load tests only)"
        );
        builder = builder.resource_owner(Arc::new(AutoConsent(user.clone())));
    }
    let server = builder
        .issuer(issuer)
        .key_ring(key_ring)
        // The limits count per client address: the socket's peer, or what
        // these proxies say in `X-Forwarded-For`/`Forwarded`.
        .trusted_proxies(config.trusted_proxies.iter().cloned())
        // The demo's webhook receivers may listen on loopback.
        .webhook_destinations(oauth_connect::webhooks::WebhookDestinations::with_loopback())
        .brand(config.brand.clone())
        .scope_catalogue(
            ScopeCatalogue::new()
                .describe("read:devices", "See your devices and their status")
                .describe("write:devices", "Control your devices")
                .describe("read:sites", "See your sites and their energy use"),
        )
        .build()
        .map_err(|e| match e {
            oauth_connect::ConfigError::Invalid("trusted_proxies") => {
                "OAUTH_CONNECT_TRUSTED_PROXIES must be CIDR blocks or addresses separated by commas"
                    .into()
            }
            oauth_connect::ConfigError::Invalid(what) if what.starts_with("brand") => {
                format!("OAUTH_CONNECT_BRAND_*/OAUTH_CONNECT_SUPPORT_URL: invalid {what}").into()
            }
            e => Box::<dyn Error>::from(e),
        })?;

    let admin = if config.admin_keys.is_empty() {
        let workspace = WorkspaceId::parse(DEMO_WORKSPACE)?;
        let key = server.create_admin_key(&workspace).await?;
        Admin::Created(workspace, Zeroizing::new(key.expose_secret().to_owned()))
    } else {
        let mut workspaces = Vec::new();
        for (workspace, key) in &config.admin_keys {
            server
                .register_admin_key(workspace, key)
                .await
                .map_err(|e| {
                    format!(
                        "OAUTH_CONNECT_ADMIN_KEYS: the key of {} was refused ({e}); keys are \
                         32–256 printable characters without spaces",
                        workspace.as_str()
                    )
                })?;
            workspaces.push(workspace.clone());
        }
        Admin::Configured(workspaces)
    };
    Ok((server, upstream, admin))
}

/// **Dangerous: for load tests on loopback only.** The resource owner of
/// `OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT=USER_ID`: its consent policy
/// ([`ResourceOwnerAuthenticator::prior_consent`]) says that `USER_ID` is
/// signed in and has consented to whatever every authorization request
/// asks, so `GET /oauth/authorize` answers each valid request with its
/// code at once, without a page, a sign-in or anyone's consent; the
/// consent page (`prompt=consent`) keeps the demo sign-in. It lets a load
/// driver walk the code flow over HTTP without a browser
/// (`benches/load/postgres.sh`), as the criterion comparison's consent
/// policy does in process.
///
/// Anyone who can reach such a server gets codes for that user (PKCE and
/// the registered redirect URIs still apply), so it starts only when both
/// the issuer and the listening address are loopback; it is off unless
/// the variable is set.
#[derive(Debug)]
struct AutoConsent(Subject);

impl AutoConsent {
    const REFUSED: &str = "OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT approves every authorization \
        request without asking anyone: it is for load tests on this machine only, so the \
        issuer and the listening address must be loopback (127.0.0.1, ::1 or localhost)";

    /// Refuses an issuer or a listening address that is not loopback.
    fn check(issuer: &str, addr: SocketAddr) -> Result<(), Box<dyn Error>> {
        let loopback_issuer = url::Url::parse(issuer)
            .ok()
            .and_then(|url| {
                url.host().map(|host| match host {
                    url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
                    url::Host::Ipv4(ip) => ip.is_loopback(),
                    url::Host::Ipv6(ip) => ip.is_loopback(),
                })
            })
            .unwrap_or(false);
        if loopback_issuer && addr.ip().is_loopback() {
            Ok(())
        } else {
            Err(Self::REFUSED.into())
        }
    }
}

#[async_trait::async_trait]
impl ResourceOwnerAuthenticator for AutoConsent {
    async fn authenticate(&self, _: &http::HeaderMap, _: Option<&str>) -> Option<Subject> {
        // Every decision is the configured user's (load tests only).
        Some(self.0.clone())
    }

    async fn prior_consent(
        &self,
        _: &http::HeaderMap,
        request: &ConsentRequest<'_>,
    ) -> PriorConsent {
        PriorConsent::Granted {
            subject: self.0.clone(),
            scopes: request.scopes.clone(),
        }
    }
}

/// Prints what a newcomer needs to stdout (not to the log): the address,
/// the admin key made at start-up, and commands to try.
fn banner<S: Storage>(
    framework: &str,
    config: &Config,
    server: &AuthorizationServer<S>,
    addr: SocketAddr,
    admin: &Admin,
    storage: &str,
    demo_app: Option<&DemoApp>,
) {
    let issuer = server.config().issuer_str();
    let mut out = String::new();
    let _ = writeln!(out, "oauth-connect example server ({framework})");
    let _ = writeln!(out, "listening on http://{addr}");
    if let Some(app) = demo_app {
        let _ = writeln!(out, "demo app listening on {}", app.origin());
    }
    let _ = writeln!(out, "  issuer:     {issuer}");
    let _ = writeln!(out, "  storage:    {storage}");
    if let Some(user) = &config.auto_consent {
        let _ = writeln!(
            out,
            "  consent:    DANGEROUS: every authorization request is approved as {} without asking \
             (OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT, for load tests only)",
            user.as_str()
        );
    }
    if config.server_key.is_some() {
        let _ = writeln!(out, "  server key: from OAUTH_CONNECT_SERVER_KEY");
    } else {
        let _ = writeln!(
            out,
            "  server key: random: every credential dies with the process \
             (set OAUTH_CONNECT_SERVER_KEY to keep them)"
        );
    }
    let key = match admin {
        Admin::Created(workspace, key) => {
            let _ = writeln!(out, "  workspace:  {}", workspace.as_str());
            let _ = writeln!(out, "  admin key:  {}", key.as_str());
            key.as_str()
        }
        Admin::Configured(workspaces) => {
            let names: Vec<&str> = workspaces.iter().map(WorkspaceId::as_str).collect();
            let _ = writeln!(
                out,
                "  workspaces: {} (admin keys from OAUTH_CONNECT_ADMIN_KEYS)",
                names.join(", ")
            );
            "$ADMIN_KEY"
        }
    };
    let _ = writeln!(out, "\nTry:");
    let _ = writeln!(
        out,
        "  curl {issuer}/.well-known/oauth-authorization-server\n  curl {issuer}/openapi.json"
    );
    let _ = writeln!(out, "\nCreate a public app:");
    let _ = writeln!(
        out,
        "  curl -s -X POST {issuer}/v1/oauth-apps -H 'Authorization: Bearer {key}' \
         -H 'Content-Type: application/json' -d '{{\"name\":\"Demo app\",\"redirectUris\":[\"{DEMO_REDIRECT}\"],\
         \"allowedScopes\":[\"read:devices\"],\"type\":\"PUBLIC\"}}'"
    );
    let _ = writeln!(
        out,
        "\nThen open in a browser (put the app's clientId in), approve, and copy `code` from the address bar:"
    );
    let _ = writeln!(
        out,
        "  {issuer}/oauth/authorize?response_type=code&client_id=CLIENT_ID&redirect_uri={}\
         &scope=read:devices&state=xyz&code_challenge={DEMO_CHALLENGE}&code_challenge_method=S256",
        form_urlencoded::byte_serialize(DEMO_REDIRECT.as_bytes()).collect::<String>()
    );
    let _ = writeln!(
        out,
        "\nExchange the code, then call the protected resource:"
    );
    let _ = writeln!(
        out,
        "  curl -s {issuer}/oauth/token -d grant_type=authorization_code -d client_id=CLIENT_ID \
         -d code=CODE --data-urlencode redirect_uri={DEMO_REDIRECT} -d code_verifier={DEMO_VERIFIER}"
    );
    let _ = writeln!(
        out,
        "  curl -s {issuer}/v1/me -H 'Authorization: Bearer ACCESS_TOKEN'"
    );
    if config.demo_providers {
        demo_banner(&mut out, issuer, key);
    }
    if let Some(app) = demo_app {
        let _ = writeln!(
            out,
            "\nConnect in the browser: open the demo integrating app at {} (another origin); it opens \
             Connect in a popup or a modal with {issuer}/connect/sdk.js, through its publishable key \
             or a Connect token its backend makes (its app: {}; OAUTH_CONNECT_DEMO_APP=off removes it)",
            app.origin(),
            app.client_id()
        );
    }
    if let Some(lifetime) = config.session_lifetime {
        let _ = writeln!(
            out,
            "\nConnect sessions live {} s (OAUTH_CONNECT_SESSION_LIFETIME)",
            lifetime.whole_seconds()
        );
    }
    let _ = writeln!(out, "\nCtrl-C stops the server.");
    // Not `println!`, which panics when stdout is closed (`… | head`).
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{out}").and_then(|()| stdout.flush());
}

/// The demo providers, and how to walk the Connect flow through them.
fn demo_banner(out: &mut String, issuer: &str, key: &str) {
    let upstream = demo::UPSTREAM_PREFIX;
    let password = demo::DEMO_UTILITY_PASSWORD;
    let _ = writeln!(
        out,
        "\nDemo Connect providers (OAUTH_CONNECT_DEMO_PROVIDERS=off removes them):\n  \
         demo-energy   battery, ev   redirect: OAuth 2.0 + PKCE to the demo upstream server \
         {issuer}{upstream}\n                              (sign in there with any user id, then Allow)\n  \
         demo-utility  meter         form: any username, password {password}"
    );
    let _ = writeln!(
        out,
        "\nTry them: create a confidential app (as above, with \"type\":\"CONFIDENTIAL\"), open a \
         Connect session with its credentials, and open the `url` it returns:"
    );
    let _ = writeln!(
        out,
        "  curl -s -X POST {issuer}/v1/connect/sessions -u CLIENT_ID:CLIENT_SECRET \
         -H 'Content-Type: application/json' -d '{{\"redirectUrl\":\"{DEMO_REDIRECT}\",\
         \"referenceId\":\"user-1\",\"filters\":{{\"providers\":[\"demo-energy\"]}}}}'"
    );
    let _ = writeln!(
        out,
        "  (without filters: the picker shows both; \"filters\":{{\"categories\":[\"meter\"]}} \
         goes straight to the utility's form)\n  then: curl -s {issuer}/v1/connections \
         -H 'Authorization: Bearer {key}'"
    );
}

/// Purges expired sessions, codes, tokens and grants every `every` (a
/// minute by default), in batches, for as long as the runtime runs.
fn spawn_purge<S: Storage>(server: AuthorizationServer<S>, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let mut removed = 0;
            loop {
                match server.purge_expired(PURGE_BATCH).await {
                    Ok(n) => {
                        removed += n;
                        if n < u64::from(PURGE_BATCH) {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "purge failed");
                        break;
                    }
                }
            }
            tracing::debug!(removed, "purged expired records");
        }
    });
}

/// The process's one shutdown signal, which every part that stops with the
/// server (the listeners, the webhook worker) waits on.
static SHUTDOWN: std::sync::OnceLock<tokio::sync::watch::Receiver<bool>> =
    std::sync::OnceLock::new();

/// Starts listening for Ctrl-C and SIGTERM, before the banner announces the
/// address: a signal sent as soon as the server says where it listens is
/// never missed, and it reaches every waiter, however many there are.
fn listen_for_terminate() {
    let _ = shutdown_receiver();
}

/// The shutdown signal's receiver; the first call makes the listeners.
fn shutdown_receiver() -> &'static tokio::sync::watch::Receiver<bool> {
    SHUTDOWN.get_or_init(|| {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        #[cfg(unix)]
        let terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::spawn(async move {
            let ctrl_c = async {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            #[cfg(unix)]
            let terminate = async move {
                match terminate {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let terminate = std::future::pending::<()>();
            tokio::select! {
                () = ctrl_c => {},
                () = terminate => {},
            }
            tracing::info!("shutting down: finishing the requests in flight");
            let _ = stop.send(true);
        });
        stopped
    })
}

/// Resolves on Ctrl-C or SIGTERM: the signal to stop accepting requests
/// and finish the ones in flight.
pub(crate) async fn shutdown_signal() {
    let mut stopped = shutdown_receiver().clone();
    if stopped.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The span of one request: method and path only. Never the query string
/// (`/oauth/authorize?…` carries the PKCE challenge and state), headers
/// (credentials) or bodies (secrets and codes).
pub(crate) fn request_span(method: &str, path: &str) -> Span {
    tracing::info_span!("request", method, path)
}

/// Logs the end of a request in its span, once: status and latency in
/// milliseconds with two decimals, e.g.
/// `request{method=GET path=/v1/me}: response status=200 latency_ms=0.41`.
pub(crate) fn log_response(span: &Span, status: u16, started: Instant) {
    let latency_ms = Milliseconds(started.elapsed());
    tracing::info!(parent: span, status, %latency_ms, "response");
}

/// A duration as milliseconds with two decimals (no float noise).
struct Milliseconds(std::time::Duration);

impl std::fmt::Display for Milliseconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hundredths = self.0.as_micros() / 10;
        write!(f, "{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

fn json_error(status: http::StatusCode, error: &str, message: String) -> http::Response<Bytes> {
    let body = serde_json::json!({ "error": error, "message": message });
    let mut response = http::Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// `/v1/me` with another method than GET: the JSON 405 with `Allow`, as
/// every other route of the API answers it.
pub(crate) fn me_method_not_allowed() -> http::Response<Bytes> {
    let mut response = json_error(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this resource allows GET".into(),
    );
    response
        .headers_mut()
        .insert(http::header::ALLOW, http::HeaderValue::from_static("GET"));
    response
}

/// The JSON body of `GET /v1/me`.
pub(crate) fn me(principal: &BearerPrincipal) -> String {
    let kind = match principal.kind {
        BearerKind::ScopedKey => "scoped_key",
        _ => "access_token",
    };
    serde_json::json!({
        "kind": kind,
        "workspaceId": principal.workspace_id.as_str(),
        "appId": principal.app_id.as_str(),
        "clientId": principal.client_id.as_str(),
        "subject": principal.subject.as_ref().map(|s| s.as_str()),
        "scopes": principal.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    })
    .to_string()
}

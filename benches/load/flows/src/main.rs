//! The PostgreSQL throughput driver of `benches/load/postgres.sh` (issue 23
//! item 4): closed-loop clients walking the authorization-code flow, or
//! rotating refresh tokens, over HTTP against one or more example nodes
//! that share one database, round-robin over the nodes request by request.
//!
//!     load-flows --nodes http://127.0.0.1:4101,http://127.0.0.1:4102 \
//!         --admin-key KEY --mode code|refresh [--clients 32] \
//!         [--warm-up 3] [--duration 20 | --flows N]
//!
//! The nodes run the example with `OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT`,
//! so `GET /oauth/authorize` answers a valid request with its code at once
//! (no consent page), as the criterion comparison's consent policy does in
//! process. At the start the driver registers a public app through the
//! management API of the first node (the admin key's workspace), with the
//! scope `read:devices`.
//!
//! - `code` flow: `GET /oauth/authorize` (response_type=code, PKCE S256,
//!   state), expect `303` to the redirect URI with `code`, then `POST
//!   /oauth/token` (authorization_code, the RFC 7636 Appendix B verifier),
//!   expect `200` with a refresh token. Two requests, on two different
//!   nodes when there are several (each client's requests go round-robin).
//! - `refresh` flow: `POST /oauth/token` (refresh_token), expect `200` with
//!   the next refresh token, which the client presents next. Each client
//!   first walks one code flow (not counted) for its first refresh token.
//!
//! Each client keeps one HTTP/1.1 connection per node, and starts its next
//! flow when the previous one ends. After `--warm-up` seconds of flows that
//! are not counted, flows are counted for `--duration` seconds (a flow
//! counts when it ends inside the window); with `--flows N` each client
//! walks N flows, all counted, and no time limit applies (for the
//! statement count of `postgres.sh`).
//!
//! Prints a summary and one line for the script:
//! `RESULT MODE NODES CLIENTS FLOWS SECONDS FLOWS_PER_S P50_MS P90_MS P99_MS
//! MAX_MS ERRORS ALL_FLOWS` (`ALL_FLOWS`: every flow walked, warm-up and the
//! first code flows of `refresh` included, for per-flow database
//! statistics). A flow with an unexpected answer counts as an error, not in
//! the latencies; the exit status is 1 when there was one.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Failure = Box<dyn Error + Send + Sync>;

const FORM: &str = "application/x-www-form-urlencoded";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const SCOPE: &str = "read:devices";
/// RFC 7636 Appendix B's verifier and its S256 challenge. The server does
/// the same work for any verifier.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Code,
    Refresh,
}

struct Args {
    nodes: Vec<Node>,
    admin_key: String,
    mode: Mode,
    clients: usize,
    warm_up: Duration,
    duration: Duration,
    flows: Option<usize>,
}

#[derive(Clone)]
struct Node {
    addr: SocketAddr,
    authority: String,
}

const USAGE: &str = "usage: load-flows --nodes http://IP:PORT[,http://IP:PORT...] --admin-key KEY \
    --mode code|refresh [--clients 32] [--warm-up SECONDS] [--duration SECONDS | --flows N]";

fn parse_args() -> Result<Args, Failure> {
    let mut nodes = Vec::new();
    let mut admin_key = None;
    let mut mode = None;
    let mut clients = 32;
    let mut warm_up = Duration::from_secs(3);
    let mut duration = Duration::from_secs(20);
    let mut flows = None;
    let mut args = std::env::args().skip(1);
    let seconds = |value: Option<String>, name: &str| -> Result<Duration, Failure> {
        value
            .and_then(|v| v.trim_end_matches('s').parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("{name} needs seconds\n{USAGE}").into())
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--nodes" => {
                for url in args.next().ok_or(USAGE)?.split(',') {
                    let authority = url
                        .trim()
                        .strip_prefix("http://")
                        .ok_or_else(|| format!("{url}: http://IP:PORT\n{USAGE}"))?
                        .trim_end_matches('/')
                        .to_owned();
                    let addr = authority
                        .parse()
                        .map_err(|_| format!("{url}: http://IP:PORT\n{USAGE}"))?;
                    nodes.push(Node { addr, authority });
                }
            }
            "--admin-key" => admin_key = Some(args.next().ok_or(USAGE)?),
            "--mode" => {
                mode = Some(match args.next().as_deref() {
                    Some("code") => Mode::Code,
                    Some("refresh") => Mode::Refresh,
                    _ => return Err(USAGE.into()),
                })
            }
            "--clients" => {
                clients = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or(USAGE)?
            }
            "--warm-up" => warm_up = seconds(args.next(), "--warm-up")?,
            "--duration" => duration = seconds(args.next(), "--duration")?,
            "--flows" => {
                flows = Some(
                    args.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|n| *n > 0)
                        .ok_or(USAGE)?,
                )
            }
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}").into()),
        }
    }
    if nodes.is_empty() {
        return Err(format!("no --nodes\n{USAGE}").into());
    }
    Ok(Args {
        nodes,
        admin_key: admin_key.ok_or(USAGE)?,
        mode: mode.ok_or(USAGE)?,
        clients,
        warm_up,
        duration,
        flows,
    })
}

/// One kept-alive HTTP/1.1 connection to one node, opened on first use
/// and again after an error.
struct Connection {
    node: Node,
    sender: Option<SendRequest<Full<Bytes>>>,
}

struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: Bytes,
}

impl Connection {
    fn new(node: Node) -> Self {
        Self { node, sender: None }
    }

    async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        headers: &[(header::HeaderName, &str)],
        body: Option<(&str, String)>,
    ) -> Result<Answer, Failure> {
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::HOST, &self.node.authority);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        let body = match body {
            Some((content_type, body)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Bytes::from(body)
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(body))?;
        let sender = match &mut self.sender {
            Some(sender) => sender,
            None => {
                let stream = TcpStream::connect(self.node.addr).await?;
                stream.set_nodelay(true)?;
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(connection);
                self.sender.insert(sender)
            }
        };
        let answered = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, Failure>(Answer {
                status: parts.status,
                location: parts
                    .headers
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body,
            })
        }
        .await;
        if answered.is_err() {
            self.sender = None;
        }
        answered
    }
}

/// A client: one connection per node, its requests round-robin over them.
struct Client {
    connections: Vec<Connection>,
    next: usize,
    client_id: String,
}

impl Client {
    fn connection(&mut self) -> &mut Connection {
        let n = self.connections.len();
        let i = self.next % n;
        self.next = self.next.wrapping_add(1);
        &mut self.connections[i]
    }

    /// `GET /oauth/authorize` then `POST /oauth/token`: the refresh token.
    async fn code_flow(&mut self, timing: &mut [u32; 2]) -> Result<String, Failure> {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", self.client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("scope", SCOPE),
                ("state", "load"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        let started = Instant::now();
        let answer = self
            .connection()
            .send(Method::GET, &format!("/oauth/authorize?{query}"), &[], None)
            .await?;
        timing[0] = micros(started.elapsed());
        let location = match (answer.status, answer.location) {
            (StatusCode::SEE_OTHER, Some(location)) if location.starts_with(REDIRECT) => location,
            (status, _) => {
                return Err(format!(
                    "authorize answered {status}, not a 303 with the code (is \
                     OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT set on every node?): {}",
                    String::from_utf8_lossy(&answer.body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                )
                .into());
            }
        };
        let code = location
            .split_once('?')
            .and_then(|(_, query)| {
                form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "code")
            })
            .ok_or("no code in the redirect")?
            .1
            .into_owned();
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("client_id", self.client_id.as_str()),
                ("code_verifier", VERIFIER),
            ])
            .finish();
        let started = Instant::now();
        let refresh = self.token(body).await?;
        timing[1] = micros(started.elapsed());
        Ok(refresh)
    }

    /// `POST /oauth/token` with `refresh`: the next refresh token.
    async fn refresh_flow(&mut self, refresh: &str) -> Result<String, Failure> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", self.client_id.as_str()),
            ])
            .finish();
        self.token(body).await
    }

    async fn token(&mut self, body: String) -> Result<String, Failure> {
        let answer = self
            .connection()
            .send(Method::POST, "/oauth/token", &[], Some((FORM, body)))
            .await?;
        if answer.status != StatusCode::OK {
            return Err(format!(
                "token endpoint answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            )
            .into());
        }
        let tokens: serde_json::Value = serde_json::from_slice(&answer.body)?;
        tokens["refresh_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no refresh_token in the token response".into())
    }
}

fn micros(elapsed: Duration) -> u32 {
    u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX)
}

/// What one client measured.
#[derive(Default)]
struct Tally {
    /// Flow latencies (µs) of the counted flows.
    flows: Vec<u32>,
    /// For code flows: the authorize and token requests' latencies (µs).
    steps: [Vec<u32>; 2],
    errors: u64,
    first_error: Option<String>,
    /// Every flow walked, counted or not.
    all: u64,
}

struct Window {
    counted_from: Instant,
    until: Option<Instant>,
    flows: Option<usize>,
}

async fn run_client(mut client: Client, mode: Mode, window: Arc<Window>) -> Tally {
    let mut tally = Tally::default();
    let mut refresh = None;
    if mode == Mode::Refresh {
        match client.code_flow(&mut [0; 2]).await {
            Ok(token) => refresh = Some(token),
            Err(error) => {
                tally.errors += 1;
                tally.first_error = Some(error.to_string());
                return tally;
            }
        }
        tally.all += 1;
    }
    let mut walked = 0;
    loop {
        if window.flows.is_some_and(|n| walked >= n)
            || window.until.is_some_and(|until| Instant::now() >= until)
        {
            return tally;
        }
        walked += 1;
        let started = Instant::now();
        let mut steps = [0u32; 2];
        let outcome = match (mode, &refresh) {
            (Mode::Refresh, Some(token)) => client.refresh_flow(token).await,
            _ => client.code_flow(&mut steps).await,
        };
        let ended = Instant::now();
        tally.all += 1;
        let counted = ended >= window.counted_from && window.until.is_none_or(|u| ended <= u);
        match outcome {
            Ok(token) => {
                if mode == Mode::Refresh {
                    refresh = Some(token);
                }
                if counted {
                    tally.flows.push(micros(ended - started));
                    if mode == Mode::Code {
                        tally.steps[0].push(steps[0]);
                        tally.steps[1].push(steps[1]);
                    }
                }
            }
            Err(error) => {
                tally.errors += 1;
                if tally.first_error.is_none() {
                    tally.first_error = Some(error.to_string());
                }
                if mode == Mode::Refresh {
                    // The chain is broken: start a new one.
                    match client.code_flow(&mut [0; 2]).await {
                        Ok(token) => refresh = Some(token),
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }
        }
    }
}

/// The `q` quantile (0–1) of sorted latencies, in ms (nearest rank).
fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

/// Registers the public app on the first node: its client id.
async fn register(node: &Node, admin_key: &str) -> Result<String, Failure> {
    let body = serde_json::json!({
        "name": "Load: code flows",
        "redirectUris": [REDIRECT],
        "allowedScopes": [SCOPE],
        "type": "PUBLIC",
    })
    .to_string();
    let bearer = format!("Bearer {admin_key}");
    let answer = Connection::new(node.clone())
        .send(
            Method::POST,
            "/v1/oauth-apps",
            &[(header::AUTHORIZATION, &bearer)],
            Some(("application/json", body)),
        )
        .await?;
    if answer.status != StatusCode::CREATED {
        return Err(format!(
            "registering the app answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )
        .into());
    }
    let app: serde_json::Value = serde_json::from_slice(&answer.body)?;
    app["clientId"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no clientId in the created app".into())
}

fn main() -> Result<(), Failure> {
    let args = parse_args()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let failed = rt.block_on(drive(args))?;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

async fn drive(args: Args) -> Result<bool, Failure> {
    let client_id = register(&args.nodes[0], &args.admin_key).await?;
    let started = Instant::now();
    let window = Arc::new(match args.flows {
        Some(n) => Window {
            counted_from: started,
            until: None,
            flows: Some(n),
        },
        None => Window {
            counted_from: started + args.warm_up,
            until: Some(started + args.warm_up + args.duration),
            flows: None,
        },
    });
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let client = Client {
            connections: args.nodes.iter().cloned().map(Connection::new).collect(),
            // Spread the clients' first requests over the nodes.
            next: i,
            client_id: client_id.clone(),
        };
        tasks.push(tokio::spawn(run_client(
            client,
            args.mode,
            Arc::clone(&window),
        )));
    }
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await?;
        total.flows.extend(tally.flows);
        for (all, some) in total.steps.iter_mut().zip(tally.steps) {
            all.extend(some);
        }
        total.errors += tally.errors;
        total.all += tally.all;
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
    }
    let seconds = match args.flows {
        Some(_) => started.elapsed().as_secs_f64(),
        None => args.duration.as_secs_f64(),
    };
    total.flows.sort_unstable();
    let flows = &total.flows;
    let mode = match args.mode {
        Mode::Code => "code",
        Mode::Refresh => "refresh",
    };
    let per_second = flows.len() as f64 / seconds;
    eprintln!(
        "{mode} flows: {} in {seconds:.1} s over {} node(s), {} clients: {per_second:.0}/s, \
         p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {}",
        flows.len(),
        args.nodes.len(),
        args.clients,
        quantile(flows, 0.5),
        quantile(flows, 0.9),
        quantile(flows, 0.99),
        quantile(flows, 1.0),
        total.errors,
    );
    if args.mode == Mode::Code {
        for (name, steps) in ["GET /oauth/authorize", "POST /oauth/token"]
            .iter()
            .zip(total.steps.iter_mut())
        {
            steps.sort_unstable();
            eprintln!(
                "  {name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                quantile(steps, 0.5),
                quantile(steps, 0.99),
                quantile(steps, 1.0)
            );
        }
    }
    if let Some(error) = &total.first_error {
        eprintln!("first error: {error}");
    }
    println!(
        "RESULT {mode} {} {} {} {seconds:.2} {per_second:.1} {:.3} {:.3} {:.3} {:.3} {} {}",
        args.nodes.len(),
        args.clients,
        flows.len(),
        quantile(flows, 0.5),
        quantile(flows, 0.9),
        quantile(flows, 0.99),
        quantile(flows, 1.0),
        total.errors,
        total.all,
    );
    Ok(total.errors > 0)
}

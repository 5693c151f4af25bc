//! oauth-connect embedded in an axum app: the authorization server under
//! `/auth`, and a resource of the app's own at `/v1/devices` that takes
//! its access tokens.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::get;
use oauth_connect::axum::Bearer;
use oauth_connect::hooks::ScopeCatalogue;
use oauth_connect::http::BearerRejection;
use oauth_connect::{AuthorizationServer, MemoryStore, WorkspaceId};

type Server = AuthorizationServer<MemoryStore>;

/// The app's state: the server (for `Bearer`) and the workspace whose
/// tokens the app accepts.
#[derive(Debug, Clone)]
struct AppState {
    oauth: Server,
    workspace: WorkspaceId,
}

impl FromRef<AppState> for Server {
    fn from_ref(state: &AppState) -> Server {
        state.oauth.clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    // The server's public URL; its path is where it is mounted.
    let issuer = std::env::var("ISSUER").unwrap_or_else(|_| format!("http://{local}/auth"));
    let oauth = AuthorizationServer::builder(MemoryStore::new())
        .issuer(issuer.clone())
        // A demo sign-in that believes any typed user id: dangerous. Plug
        // your login in instead (`.resource_owner(..)`, your own
        // `ResourceOwnerAuthenticator`) and drop these two lines.
        .dangerous()
        .demo_sign_in()
        // What the consent page says for each scope.
        .scope_catalogue(ScopeCatalogue::new().describe("read:devices", "See your devices"))
        .build()?;

    // The workspace admin's key, from your secrets (32 characters or more),
    // for the management API (`/auth/v1/oauth-apps`).
    let workspace = WorkspaceId::parse("ws_main")?;
    let admin_key =
        std::env::var("ADMIN_KEY").map_err(|_| "set ADMIN_KEY, e.g. to `openssl rand -hex 32`")?;
    oauth.register_admin_key(&workspace, &admin_key).await?;

    // Expired codes, tokens and sessions go every minute.
    let purger = oauth.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            // Again while a whole batch went: more may be left.
            while matches!(purger.purge_expired(1000).await, Ok(1000)) {}
        }
    });

    let state = AppState {
        oauth: oauth.clone(),
        workspace,
    };
    let app = Router::new()
        .route("/v1/devices", get(devices))
        .with_state(state)
        .nest_service("/auth", oauth_connect::axum::router(oauth));
    println!("listening on http://{local}");
    println!("issuer {issuer}");
    // The socket's peer feeds the limits per client address.
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

/// A protected resource: a token of this app's workspace with
/// `read:devices`.
async fn devices(State(state): State<AppState>, bearer: Bearer) -> Result<String, BearerRejection> {
    // Another tenant's token: 401 invalid_token (RFC 6750 §3.1).
    bearer.require_workspace(&state.workspace)?;
    // Without the scope: 403 insufficient_scope.
    bearer.require_scope("read:devices")?;
    let user = bearer.subject.as_ref().map_or("", |user| user.as_str());
    Ok(format!("the devices of {user}"))
}

/// Ctrl-C or SIGTERM: the requests in flight finish, then the server stops.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

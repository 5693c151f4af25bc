//! oauth-connect embedded in an actix-web app: the authorization server
//! under `/auth`, and a resource of the app's own at `/v1/devices` that
//! takes its access tokens.

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use oauth_connect::actix::Bearer;
use oauth_connect::hooks::ScopeCatalogue;
use oauth_connect::http::BearerRejection;
use oauth_connect::{AuthorizationServer, MemoryStore, WorkspaceId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    actix_web::rt::System::new().block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = std::net::TcpListener::bind(addr)?;
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
    actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            // Again while a whole batch went: more may be left.
            while matches!(purger.purge_expired(1000).await, Ok(1000)) {}
        }
    });

    let workspace = web::Data::new(workspace);
    println!("listening on http://{local}");
    println!("issuer {issuer}");
    // actix-web stops on Ctrl-C and SIGTERM, once the requests in flight
    // are done.
    HttpServer::new(move || {
        App::new()
            // The server for `Bearer` on the app's own routes.
            .app_data(web::Data::new(oauth.clone()))
            .app_data(workspace.clone())
            .route("/v1/devices", web::get().to(devices))
            .service(web::scope("/auth").configure(oauth_connect::actix::configure(oauth.clone())))
    })
    .listen(listener)?
    .run()
    .await?;
    Ok(())
}

/// A protected resource: a token of this app's workspace with
/// `read:devices`.
async fn devices(
    workspace: web::Data<WorkspaceId>,
    bearer: Bearer,
) -> Result<HttpResponse, BearerRejection> {
    // Another tenant's token: 401 invalid_token (RFC 6750 §3.1).
    bearer.require_workspace(&workspace)?;
    // Without the scope: 403 insufficient_scope.
    bearer.require_scope("read:devices")?;
    let user = bearer.subject.as_ref().map_or("", |user| user.as_str());
    Ok(HttpResponse::Ok().body(format!("the devices of {user}")))
}

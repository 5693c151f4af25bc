//! Who may reach a customer, as an attacker tries it over HTTP: the
//! scenarios of issue 17, items 1 and 2, written once over any storage
//! backend and run on the memory store (`tests/publishable_keys.rs`,
//! `tests/connect.rs`) and on PostgreSQL (`tests/conformance_postgres.rs`).
//!
//! - A publishable key never reaches an existing customer: a session it
//!   creates with the `referenceId` of a customer of the app's backend
//!   neither resolves to that customer (no `customerId`, `mode` `create`,
//!   nothing stored on the page) nor changes it, its connection, its
//!   tokens or its scoped keys when approved, and the scoped key the page
//!   receives speaks for a new customer of its own.
//! - The app's backend attaches such a browser-created connection to one
//!   of its customers, explicitly (`POST /v1/connections/{id}/attach`).
//! - Customers belong to the app whose session created them: another app
//!   of the workspace can neither read, name, change nor delete them.
//!
//! Everything goes through `AuthorizationServer::handle`, as a request
//! from the network would.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Mutex;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use oauth_connect::{AuthorizationServer, Storage, WorkspaceId};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://auth.example.com";
pub const ORIGIN: &str = "https://app.example.com";
pub const REDIRECT: &str = "https://app.example.com/callback";

/// The victim's details as the app's backend stored them.
pub fn ada() -> Value {
    json!({
        "firstName": "Augusta Ada", "lastName": "Lovelace", "email": "ada@victim.example",
        "phone": "555-555-0100",
        "location": {"streetOne": "12 Analytical Row", "city": "Springfield", "state": "IL",
                     "postalCode": "62701", "country": "US"}
    })
}

/// What the victim's customer record says, none of which a stranger may see.
/// Each has a space or an `@`, or is 8 letters long, so that no random
/// credential on a page contains one by chance (a 3-letter "Ada" once did).
const ADA_TRACES: [&str; 4] = [
    "Augusta Ada",
    "Lovelace",
    "ada@victim.example",
    "Analytical Row",
];

fn body_text(response: &Response<Bytes>) -> String {
    String::from_utf8_lossy(response.body()).into_owned()
}

fn body_json(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap_or(Value::Null)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// A browser's cookies, as far as the hosted pages need them: every cookie
/// set is sent back on every request (these tests talk to one origin).
#[derive(Default)]
pub struct Jar(Mutex<Vec<(String, String)>>);

impl Jar {
    fn header(&self) -> Option<String> {
        let cookies = self.0.lock().unwrap();
        (!cookies.is_empty()).then(|| {
            cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn keep(&self, response: &Response<Bytes>) {
        let mut cookies = self.0.lock().unwrap();
        for header in response.headers().get_all("set-cookie") {
            let header = header.to_str().unwrap();
            let pair = header.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let gone = header.to_ascii_lowercase().contains("max-age=0");
            cookies.retain(|(n, _)| n != name);
            if !gone {
                cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }
}

/// A server, an admin key of its workspace, and ways to talk to it.
pub struct World<S: Storage> {
    pub server: AuthorizationServer<S>,
    pub workspace: WorkspaceId,
    pub admin: String,
}

/// A confidential app made through the management API.
pub struct App {
    pub id: String,
    pub basic: String,
}

/// One hosted page as the browser got it.
pub struct Page {
    pub status: StatusCode,
    pub html: String,
}

impl<S: Storage + 'static> World<S> {
    /// A world on `server` (whose issuer is [`ISSUER`]), with an admin key
    /// of a workspace of its own.
    pub async fn new(server: AuthorizationServer<S>, workspace: WorkspaceId) -> Self {
        let admin = server.create_admin_key(&workspace).await.unwrap();
        let admin = format!("Bearer {}", admin.expose_secret());
        Self {
            server,
            workspace,
            admin,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Response<Bytes> {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        self.server.handle(request.body(body).unwrap()).await
    }

    /// `GET` with `authorization`, expecting 200; the JSON body.
    pub async fn read(&self, authorization: &str, uri: &str) -> Value {
        let got = self
            .send(Method::GET, uri, &[("authorization", authorization)], None)
            .await;
        assert_eq!(got.status(), StatusCode::OK, "{uri}: {}", body_text(&got));
        body_json(&got)
    }

    /// A confidential app allowing [`ORIGIN`], through the management API.
    pub async fn app(&self, name: &str) -> App {
        let created = self
            .send(
                Method::POST,
                "/v1/oauth-apps",
                &[("authorization", &self.admin)],
                Some(json!({
                    "name": name,
                    "redirectUris": [REDIRECT],
                    "allowedScopes": ["read:devices"],
                    "allowedOrigins": [ORIGIN],
                    "type": "CONFIDENTIAL"
                })),
            )
            .await;
        assert_eq!(
            created.status(),
            StatusCode::CREATED,
            "{}",
            body_text(&created)
        );
        let app = body_json(&created);
        let credentials = format!(
            "{}:{}",
            app["clientId"].as_str().unwrap(),
            app["clientSecret"].as_str().unwrap()
        );
        App {
            id: app["id"].as_str().unwrap().to_owned(),
            basic: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
        }
    }

    /// A publishable key of `app`, through the management API.
    pub async fn publishable_key(&self, app: &App) -> String {
        let created = self
            .send(
                Method::POST,
                &format!("/v1/oauth-apps/{}/publishable-keys", app.id),
                &[("authorization", &self.admin)],
                None,
            )
            .await;
        assert_eq!(
            created.status(),
            StatusCode::CREATED,
            "{}",
            body_text(&created)
        );
        body_json(&created)["publishableKey"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `POST /v1/connect/sessions` with `authorization` (and `Origin`, for
    /// a publishable key).
    pub async fn create_session(&self, authorization: &str, body: Value) -> Response<Bytes> {
        self.send(
            Method::POST,
            "/v1/connect/sessions",
            &[("authorization", authorization), ("origin", ORIGIN)],
            Some(body),
        )
        .await
    }

    /// A browser's `GET` of the hosted page at `url`.
    pub async fn open(&self, jar: &Jar, url: &str) -> Page {
        let path = url.strip_prefix(ISSUER).unwrap_or(url);
        let mut request = Request::get(path);
        if let Some(cookie) = jar.header() {
            request = request.header("cookie", cookie);
        }
        let response = self
            .server
            .handle(request.body(Bytes::new()).unwrap())
            .await;
        jar.keep(&response);
        Page {
            status: response.status(),
            html: body_text(&response),
        }
    }

    /// A form post of the hosted page, in the browser of `jar`.
    async fn post_page(&self, jar: &Jar, pairs: &[(&str, &str)]) -> Response<Bytes> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let mut request = Request::post("/connect")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", ISSUER);
        if let Some(cookie) = jar.header() {
            request = request.header("cookie", cookie);
        }
        let response = self
            .server
            .handle(request.body(Bytes::from(body)).unwrap())
            .await;
        jar.keep(&response);
        response
    }

    /// Walks the hosted page from `page` to the end: the customer step with
    /// `customer` (form field names and values) when it asks, then approval
    /// on the consent step. The redirect to the app.
    pub async fn approve(&self, jar: &Jar, mut page: Page, customer: &[(&str, &str)]) -> String {
        loop {
            assert_eq!(page.status, StatusCode::OK, "{}", page.html);
            let token = hidden(&page.html, "token");
            let csrf = hidden(&page.html, "csrf_token");
            let step = hidden(&page.html, "step");
            let mut pairs = vec![
                ("token", token.as_str()),
                ("csrf_token", csrf.as_str()),
                ("step", step.as_str()),
            ];
            match step.as_str() {
                "customer" => pairs.extend_from_slice(customer),
                "consent" => pairs.push(("decision", "approve")),
                other => panic!("unexpected step {other}"),
            }
            let answer = self.post_page(jar, &pairs).await;
            assert_eq!(
                answer.status(),
                StatusCode::SEE_OTHER,
                "{}",
                body_text(&answer)
            );
            let to = answer.headers()["location"].to_str().unwrap().to_owned();
            if step == "consent" {
                return to;
            }
            page = self.open(jar, &to).await;
        }
    }

    /// A session made by `authorization`, opened in a new browser and
    /// approved with `customer` on the form: the body of the 201, the page
    /// as first shown, and the redirect.
    pub async fn connect(
        &self,
        authorization: &str,
        session: Value,
        customer: &[(&str, &str)],
    ) -> (Value, String, String) {
        let created = self.create_session(authorization, session).await;
        assert_eq!(
            created.status(),
            StatusCode::CREATED,
            "{}",
            body_text(&created)
        );
        let created = body_json(&created);
        let jar = Jar::default();
        let page = self.open(&jar, created["url"].as_str().unwrap()).await;
        let shown = page.html.clone();
        let to = self.approve(&jar, page, customer).await;
        assert!(to.starts_with(REDIRECT), "{to}");
        (created, shown, to)
    }

    /// `POST /oauth/token` exchanging the code of `redirect` for `app`.
    pub async fn exchange(&self, app: &App, redirect: &str) -> Value {
        let code = query_param(redirect, "code").expect("a code");
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
            ])
            .finish();
        let request = Request::post("/oauth/token")
            .header("authorization", &app.basic)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from(body))
            .unwrap();
        let response = self.server.handle(request).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            body_text(&response)
        );
        body_json(&response)
    }

    /// RFC 7662 introspection by `app`.
    pub async fn introspect(&self, app: &App, token: &str) -> Value {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        let request = Request::post("/oauth/introspect")
            .header("authorization", &app.basic)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from(body))
            .unwrap();
        let response = self.server.handle(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        body_json(&response)
    }

    /// `POST /v1/connections/{id}/attach` with `authorization`.
    pub async fn attach(
        &self,
        authorization: &str,
        connection: &str,
        body: Value,
    ) -> Response<Bytes> {
        self.send(
            Method::POST,
            &format!("/v1/connections/{connection}/attach"),
            &[("authorization", authorization)],
            Some(body),
        )
        .await
    }

    /// The app's one connection for `reference` (by its credentials).
    pub async fn connection_of(&self, app: &App, reference: &str) -> Value {
        let listed = self
            .read(
                &app.basic,
                &format!("/v1/connections?referenceId={reference}"),
            )
            .await;
        let data = listed["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{listed}");
        data[0].clone()
    }
}

fn customer_form(
    first: &'static str,
    last: &'static str,
    email: &'static str,
) -> [(&'static str, &'static str); 3] {
    [("firstName", first), ("lastName", last), ("email", email)]
}

/// The app's backend connects its user `victim-42` (its details, a scoped
/// key, tokens): what an attacker then aims at.
pub struct Victim {
    pub customer: Value,
    pub connection: Value,
    pub access_token: String,
    pub refresh_token: String,
    pub scoped_key: String,
}

pub async fn victim<S: Storage + 'static>(w: &World<S>, app: &App, reference: &str) -> Victim {
    let (created, _, to) = w
        .connect(
            &app.basic,
            json!({
                "redirectUrl": REDIRECT, "referenceId": reference, "customerInfo": ada(),
                "scopedKey": true
            }),
            &[],
        )
        .await;
    assert_eq!(created["mode"], "create");
    let tokens = w.exchange(app, &to).await;
    let customers = w
        .read(
            &app.basic,
            &format!("/v1/customers?referenceId={reference}"),
        )
        .await;
    assert_eq!(
        customers["data"].as_array().unwrap().len(),
        1,
        "{customers}"
    );
    Victim {
        customer: customers["data"][0].clone(),
        connection: w.connection_of(app, reference).await,
        access_token: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        scoped_key: tokens["scoped_key"].as_str().unwrap().to_owned(),
    }
}

/// Everything of the victim is as the backend left it: the customer's
/// details, the connection (same grant: `updatedAt` unchanged, not
/// browser-created), its tokens and its scoped key.
pub async fn assert_untouched<S: Storage + 'static>(w: &World<S>, app: &App, v: &Victim) {
    let id = v.customer["id"].as_str().unwrap();
    let customer = w.read(&app.basic, &format!("/v1/customers/{id}")).await;
    assert_eq!(customer, v.customer, "the customer record is unchanged");
    let connection_id = v.connection["id"].as_str().unwrap();
    let connection = w
        .read(&app.basic, &format!("/v1/connections/{connection_id}"))
        .await;
    assert_eq!(connection, v.connection, "the connection is unchanged");
    for credential in [&v.access_token, &v.refresh_token, &v.scoped_key] {
        let seen = w.introspect(app, credential).await;
        assert_eq!(seen["active"], true, "{seen}");
        assert_eq!(seen["sub"], v.customer["referenceId"], "{seen}");
    }
}

/// Issue 17, item 1, end to end: a session made with the app's publishable
/// key and the victim's `referenceId`, asking for its scoped key in the
/// redirect, approved in the attacker's browser. Returns the browser-created
/// connection (as the app's backend lists it) and the scoped key the
/// attacker got.
pub async fn publishable_key_never_reaches_an_existing_customer<S: Storage + 'static>(
    w: &World<S>,
) -> (App, Victim, Value, String) {
    let app = w.app("Web app").await;
    let key = w.publishable_key(&app).await;
    let v = victim(w, &app, "victim-42").await;

    let bearer = format!("Bearer {key}");
    let created = w
        .create_session(
            &bearer,
            json!({
                "redirectUrl": REDIRECT, "referenceId": "victim-42", "scopedKey": true,
                "scopedKeyDelivery": "redirect", "state": "attack"
            }),
        )
        .await;
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "{}",
        body_text(&created)
    );
    let created = body_json(&created);
    // The 201 reveals nothing stored: no customer, create mode, and a
    // reference id of its own (the label names no record).
    assert!(created.get("customerId").is_none(), "{created}");
    assert_eq!(created["mode"], "create");
    assert_ne!(created["referenceId"], "victim-42");

    // The page shows nothing of the victim.
    let jar = Jar::default();
    let page = w.open(&jar, created["url"].as_str().unwrap()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    for trace in ADA_TRACES {
        assert!(!page.html.contains(trace), "the page shows {trace}");
    }
    assert_eq!(
        hidden(&page.html, "step"),
        "customer",
        "nothing is prefilled"
    );

    let to = w
        .approve(
            &jar,
            page,
            &customer_form("Mallory", "Attacker", "mallory@evil.example"),
        )
        .await;
    assert_eq!(query_param(&to, "state").as_deref(), Some("attack"));
    let stolen = query_param(&to, "scoped_key").expect("the key in the redirect, as asked");

    // The victim's records, tokens and keys are as they were.
    assert_untouched(w, &app, &v).await;

    // The key the attacker holds speaks for a new customer of its own.
    let seen = w.introspect(&app, &stolen).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_ne!(seen["sub"], "victim-42", "{seen}");
    assert_eq!(seen["sub"], created["referenceId"]);
    // So do the tokens the code gives the app's backend.
    let tokens = w.exchange(&app, &to).await;
    let access = w
        .introspect(&app, tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(access["sub"], created["referenceId"], "{access}");

    // The app's backend sees a new, browser-created connection, with the
    // label the page claimed, to a new customer.
    let listed = w
        .read(&app.basic, "/v1/connections?referenceId=victim-42")
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let browser = w
        .connection_of(&app, created["referenceId"].as_str().unwrap())
        .await;
    assert_eq!(browser["browserCreated"], true);
    assert_eq!(browser["claimedReferenceId"], "victim-42");
    assert_ne!(browser["customerId"], v.customer["id"]);
    assert!(browser["attachedAt"].is_null(), "{browser}");
    assert_eq!(v.connection["browserCreated"], false);
    let customer = w
        .read(
            &app.basic,
            &format!("/v1/customers/{}", browser["customerId"].as_str().unwrap()),
        )
        .await;
    assert_eq!(customer["firstName"], "Mallory");
    assert_eq!(customer["appId"], app.id.as_str());
    (app, v, browser, stolen)
}

/// The app's backend attaches browser-created connections, explicitly:
/// by `referenceId` to a customer it has not yet (the browser-created
/// customer takes that reference id), and by `customerId` to one it has
/// (the browser-created customer goes). Never across apps, never with a
/// publishable key, never a connection its backend made, never twice,
/// never beside the customer's active connection for the same account.
/// Credentials issued before keep their subject: attaching never makes a
/// key the browser got speak for the customer.
pub async fn the_backend_attaches_browser_created_connections<S: Storage + 'static>(w: &World<S>) {
    let (app, v, browser, stolen) = publishable_key_never_reaches_an_existing_customer(w).await;
    let key = w.publishable_key(&app).await;
    let id = browser["id"].as_str().unwrap();
    let own_customer = browser["customerId"].as_str().unwrap().to_owned();
    let subject_before = w.introspect(&app, &stolen).await["sub"].clone();

    // Refusals first: nothing changes.
    let with_key = w
        .attach(
            &format!("Bearer {key}"),
            id,
            json!({ "referenceId": "u-1" }),
        )
        .await;
    assert_eq!(with_key.status(), StatusCode::UNAUTHORIZED);
    let other_app = w.app("Other app").await;
    let across = w
        .attach(&other_app.basic, id, json!({ "referenceId": "u-1" }))
        .await;
    assert_eq!(
        across.status(),
        StatusCode::NOT_FOUND,
        "{}",
        body_text(&across)
    );
    for bad in [
        json!({}),
        json!({ "referenceId": "u-1", "customerId": own_customer }),
        json!({ "referenceId": " u-1" }),
        json!({ "customerId": "not-an-id" }),
    ] {
        let refused = w.attach(&app.basic, id, bad.clone()).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let backend_made = v.connection["id"].as_str().unwrap();
    let not_browser = w
        .attach(&app.basic, backend_made, json!({ "referenceId": "u-1" }))
        .await;
    assert_eq!(
        not_browser.status(),
        StatusCode::CONFLICT,
        "{}",
        body_text(&not_browser)
    );
    // The victim's customer already has an active connection (no linked
    // account, like this one): one per account.
    let beside = w
        .attach(&app.basic, id, json!({ "customerId": v.customer["id"] }))
        .await;
    assert_eq!(
        beside.status(),
        StatusCode::CONFLICT,
        "{}",
        body_text(&beside)
    );
    assert_untouched(w, &app, &v).await;
    let unchanged = w.read(&app.basic, &format!("/v1/connections/{id}")).await;
    assert_eq!(unchanged, browser);

    // By referenceId, to a customer the app has not yet: adopted.
    let attached = w
        .attach(&app.basic, id, json!({ "referenceId": "u-1" }))
        .await;
    assert_eq!(
        attached.status(),
        StatusCode::OK,
        "{}",
        body_text(&attached)
    );
    let attached = body_json(&attached);
    assert_eq!(attached["referenceId"], "u-1");
    assert_eq!(attached["customerId"], own_customer.as_str());
    assert_eq!(attached["browserCreated"], true);
    assert_eq!(attached["claimedReferenceId"], "victim-42");
    assert!(attached["attachedAt"].is_string(), "{attached}");
    let customer = w
        .read(&app.basic, &format!("/v1/customers/{own_customer}"))
        .await;
    assert_eq!(customer["referenceId"], "u-1");
    // Once only.
    let again = w
        .attach(&app.basic, id, json!({ "referenceId": "u-2" }))
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    // The key the page got keeps its subject.
    assert_eq!(w.introspect(&app, &stolen).await["sub"], subject_before);

    // By customerId, to a customer the app has (whose own connection was
    // revoked): the browser-created customer goes.
    let revoked = w
        .send(
            Method::DELETE,
            &format!("/v1/connections/{backend_made}"),
            &[("authorization", &app.basic)],
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let bearer = format!("Bearer {key}");
    let (created, _, to) = w
        .connect(
            &bearer,
            json!({ "redirectUrl": REDIRECT, "referenceId": "victim-42", "scopedKey": true,
                    "scopedKeyDelivery": "redirect" }),
            &customer_form("Eve", "Second", "eve@evil.example"),
        )
        .await;
    let second_key = query_param(&to, "scoped_key").unwrap();
    let second = w
        .connection_of(&app, created["referenceId"].as_str().unwrap())
        .await;
    let second_customer = second["customerId"].as_str().unwrap().to_owned();
    let victim_id = v.customer["id"].as_str().unwrap();
    let attached = w
        .attach(
            &w.admin,
            second["id"].as_str().unwrap(),
            json!({ "customerId": victim_id }),
        )
        .await;
    assert_eq!(
        attached.status(),
        StatusCode::OK,
        "{}",
        body_text(&attached)
    );
    let attached = body_json(&attached);
    assert_eq!(attached["customerId"], victim_id);
    assert_eq!(attached["referenceId"], "victim-42");
    let gone = w
        .send(
            Method::GET,
            &format!("/v1/customers/{second_customer}"),
            &[("authorization", &app.basic)],
            None,
        )
        .await;
    assert_eq!(
        gone.status(),
        StatusCode::NOT_FOUND,
        "the browser-created customer went"
    );
    let customer = w
        .read(&app.basic, &format!("/v1/customers/{victim_id}"))
        .await;
    assert_eq!(
        customer["firstName"], "Augusta Ada",
        "attaching changes no customer details"
    );
    let seen = w.introspect(&app, &second_key).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["sub"], created["referenceId"], "still its own subject");
}

/// Issue 17, item 2: customers belong to the app whose session created
/// them. Another app of the same workspace can neither read, list, name
/// (by `customerId` or `referenceId`), change, delete, nor mint a scoped
/// key for them, whether it authenticates itself or a workspace admin
/// creates its session; its own customer with the same reference id is
/// another record; deleting that app deletes only its own customers. The
/// workspace admin sees them all.
pub async fn an_app_never_reaches_another_apps_customer<S: Storage + 'static>(w: &World<S>) {
    let a = w.app("App A").await;
    let a2 = w.app("App A2").await;
    let v = victim(w, &a, "shared-7").await;
    let cus = v.customer["id"].as_str().unwrap();
    assert_eq!(v.customer["appId"], a.id.as_str());

    let read = w
        .send(
            Method::GET,
            &format!("/v1/customers/{cus}"),
            &[("authorization", &a2.basic)],
            None,
        )
        .await;
    assert_eq!(read.status(), StatusCode::NOT_FOUND);
    let listed = w.read(&a2.basic, "/v1/customers").await;
    assert_eq!(listed["meta"]["total"], 0, "{listed}");
    let listed = w
        .read(&a2.basic, "/v1/customers?referenceId=shared-7")
        .await;
    assert_eq!(listed["meta"]["total"], 0, "{listed}");
    let deleted = w
        .send(
            Method::DELETE,
            &format!("/v1/customers/{cus}"),
            &[("authorization", &a2.basic)],
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NOT_FOUND);
    let minted = w
        .send(
            Method::POST,
            "/v1/scoped-keys",
            &[("authorization", &a2.basic)],
            Some(json!({ "customerId": cus })),
        )
        .await;
    assert_eq!(minted.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(&minted)["field"], "customerId");

    // Naming the customer by id: as unknown, for the app or for an admin
    // making the app's session.
    for (authorization, body) in [
        (
            a2.basic.as_str(),
            json!({ "redirectUrl": REDIRECT, "customerId": cus }),
        ),
        (
            w.admin.as_str(),
            json!({ "redirectUrl": REDIRECT, "customerId": cus, "appId": a2.id }),
        ),
    ] {
        let refused = w.create_session(authorization, body).await;
        assert_eq!(
            refused.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            body_text(&refused)
        );
        assert_eq!(body_json(&refused)["field"], "customerId");
    }
    assert_untouched(w, &a, &v).await;

    // By reference id: A2's own, new customer.
    let (created, shown, to) = w
        .connect(
            &a2.basic,
            json!({ "redirectUrl": REDIRECT, "referenceId": "shared-7" }),
            &customer_form("Bob", "Other", "bob@a2.example"),
        )
        .await;
    assert_eq!(created["mode"], "create");
    assert!(created.get("customerId").is_none(), "{created}");
    for trace in ADA_TRACES {
        assert!(!shown.contains(trace), "A2's page shows {trace}");
    }
    w.exchange(&a2, &to).await;
    assert_untouched(w, &a, &v).await;
    let own = w
        .read(&a2.basic, "/v1/customers?referenceId=shared-7")
        .await;
    assert_eq!(own["meta"]["total"], 1, "{own}");
    let own = own["data"][0].clone();
    assert_ne!(own["id"], v.customer["id"]);
    assert_eq!(own["appId"], a2.id.as_str());
    assert_eq!(own["firstName"], "Bob");

    // The admin sees both, and deleting A2 takes only A2's.
    let both = w.read(&w.admin, "/v1/customers?referenceId=shared-7").await;
    assert_eq!(both["meta"]["total"], 2, "{both}");
    let gone = w
        .send(
            Method::DELETE,
            &format!("/v1/oauth-apps/{}", a2.id),
            &[("authorization", &w.admin)],
            None,
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let left = w.read(&w.admin, "/v1/customers?referenceId=shared-7").await;
    assert_eq!(left["meta"]["total"], 1, "{left}");
    assert_eq!(left["data"][0]["id"], v.customer["id"]);
    assert_untouched(w, &a, &v).await;
}

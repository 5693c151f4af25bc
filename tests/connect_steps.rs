//! The hosted Connect flow's steps through `AuthorizationServer::handle`:
//! terms → provider → link → customer → consent, the skip rules, filters,
//! the redirect and form links and their failures, reloads and
//! out-of-order posts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, StatusCode};
use oauth_connect::LinkHook;
use oauth_connect::hooks::{
    LinkContext, LinkError, LinkField, LinkFormValues, LinkedAccount, Provider, ProviderQuery,
    Terms,
};
use oauth_connect::storage::ConnectStore as _;
use serde_json::{Value, json};
use support::*;
use time::Duration;

/// A provider with its own OAuth page: the authorization URL carries the
/// state; the callback's `code=good` links account `acct-<reference>`.
#[derive(Debug, Default)]
struct Upstream {
    seen_states: Mutex<Vec<String>>,
    /// The query of each `complete_redirect` call.
    completions: Mutex<Vec<Vec<(String, String)>>>,
    /// Released to let a `code=slow` completion finish.
    release: tokio::sync::Notify,
}

#[async_trait]
impl LinkHook for Upstream {
    async fn authorization_url(&self, ctx: &LinkContext, state: &str) -> Result<String, LinkError> {
        self.seen_states.lock().unwrap().push(state.to_owned());
        Ok(format!(
            "https://upstream.example/authorize?{}",
            query(&[("redirect_uri", &ctx.callback_url), ("state", state)])
        ))
    }

    async fn complete_redirect(
        &self,
        ctx: &LinkContext,
        q: &ProviderQuery,
    ) -> Result<LinkedAccount, LinkError> {
        assert!(q.get("state").is_none(), "the crate removes state");
        self.completions.lock().unwrap().push(owned(q.iter()));
        let code = q.get("code");
        if code == Some("slow") {
            // Waits (a while at most) for the test to let it finish.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(2), self.release.notified())
                    .await;
        }
        match code {
            Some("good" | "slow") => Ok(LinkedAccount::new(
                "",
                format!("acct-{}", ctx.reference_id),
                "Upstream account",
            )),
            _ => Err(LinkError::Denied),
        }
    }
}

/// Pairs as the test keeps them.
fn owned<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    pairs.map(|(n, v)| (n.to_owned(), v.to_owned())).collect()
}

/// A provider with a credentials form; remembers what it was given.
#[derive(Debug, Default)]
struct Utility {
    received: Mutex<Vec<Vec<(String, String)>>>,
}

#[async_trait]
impl LinkHook for Utility {
    async fn complete_form(
        &self,
        _: &LinkContext,
        values: &LinkFormValues,
    ) -> Result<LinkedAccount, LinkError> {
        self.received.lock().unwrap().push(owned(values.iter()));
        if values.get("password") == Some("hunter2-correct") {
            Ok(LinkedAccount::new("", "utility-42", "Utility account 42"))
        } else {
            Err(LinkError::Refused("wrong username or password".into()))
        }
    }
}

struct Flow {
    h: Harness,
    upstream: Arc<Upstream>,
    utility: Arc<Utility>,
}

async fn flow(terms: bool) -> Flow {
    let upstream = Arc::new(Upstream::default());
    let utility = Arc::new(Utility::default());
    let (mut builder, clock, events) = builder();
    builder = builder
        .provider(
            Provider::redirect("tesla", "Tesla", upstream.clone()).categories(["battery", "ev"]),
        )
        .provider(
            Provider::redirect("enphase", "Enphase", upstream.clone())
                .categories(["battery", "solar"]),
        )
        .provider(
            Provider::form(
                "utility",
                "City Utility",
                vec![
                    LinkField::new("username", "Username", "text", true),
                    LinkField::new("password", "Password", "password", true),
                ],
                utility.clone(),
            )
            .categories(["meter"]),
        );
    if terms {
        builder = builder.terms(Terms::new(
            "Be nice to the grid.",
            Some("https://host.example/terms".into()),
        ));
    }
    let h = harness_with(builder.build().unwrap(), clock, events).await;
    Flow {
        h,
        upstream,
        utility,
    }
}

async fn session(h: &Harness, body: Value) -> http::Response<Bytes> {
    h.server
        .handle(
            Request::post("/v1/connect/sessions")
                .header("content-type", "application/json")
                .header("authorization", basic(&h.confidential))
                .body(Bytes::from(body.to_string()))
                .unwrap(),
        )
        .await
}

async fn start(h: &Harness, extra: Value) -> String {
    let mut body = json!({"redirectUrl": REDIRECT, "referenceId": "user-7", "state": "st",
        "customerInfo": {"firstName": "Ada", "lastName": "L", "email": "ada@example.com",
            "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL", "postalCode": "62701", "country": "US"}}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let response = session(h, body).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        text(&response)
    );
    json(&response)["url"]
        .as_str()
        .unwrap()
        .strip_prefix(ISSUER)
        .unwrap()
        .to_owned()
}

/// The page at `path`: its step, token and CSRF token.
struct Page {
    html: String,
    step: String,
    token: String,
    csrf: String,
}

async fn page(h: &Harness, path: &str) -> Page {
    let response = h.browser.get(&h.server, path).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
    let html = text(&response);
    Page {
        step: field(&html, "step"),
        token: field(&html, "token"),
        csrf: field(&html, "csrf_token"),
        html,
    }
}

async fn post(h: &Harness, p: &Page, step: &str, extra: &[(&str, &str)]) -> http::Response<Bytes> {
    let mut pairs = vec![
        ("token", p.token.as_str()),
        ("csrf_token", p.csrf.as_str()),
        ("step", step),
    ];
    pairs.extend_from_slice(extra);
    h.browser.post_form(&h.server, "/connect", &pairs).await
}

/// Posts and follows the 303 back to the page.
async fn advance(h: &Harness, p: &Page, step: &str, extra: &[(&str, &str)]) -> Page {
    let response = post(h, p, step, extra).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{step}: {}",
        text(&response)
    );
    page(h, location(&response).strip_prefix(ISSUER).unwrap()).await
}

fn path_of(url: &str) -> String {
    url.strip_prefix(ISSUER).unwrap().to_owned()
}

#[tokio::test]
async fn full_flow_terms_picker_redirect_link_consent_and_the_connection() {
    let f = flow(true).await;
    let h = &f.h;
    let p = page(h, &start(h, json!({"tags": ["pilot"]})).await).await;
    assert_eq!(p.step, "terms");
    assert!(
        p.html.contains("Be nice to the grid.") && p.html.contains("https://host.example/terms")
    );
    let p = advance(h, &p, "terms", &[("action", "accept")]).await;
    assert_eq!(p.step, "provider");
    for name in ["Tesla", "Enphase", "City Utility"] {
        assert!(p.html.contains(name), "{name}");
    }
    let p = advance(h, &p, "provider", &[("provider", "tesla")]).await;
    assert_eq!(p.step, "link");
    assert!(p.html.contains("Continue to Tesla"));
    let go = post(h, &p, "link", &[("action", "start")]).await;
    assert_eq!(go.status(), StatusCode::SEE_OTHER);
    let upstream_url = location(&go);
    assert!(upstream_url.starts_with("https://upstream.example/authorize?"));
    let state = param(&upstream_url, "state").unwrap();
    assert!(
        !state.contains(&p.token),
        "the provider never sees the Connect token"
    );
    assert_eq!(
        param(&upstream_url, "redirect_uri").unwrap(),
        format!("{ISSUER}/connect/callback/tesla")
    );

    let back = h
        .browser
        .get(
            &h.server,
            &format!(
                "/connect/callback/tesla?{}",
                query(&[("code", "good"), ("state", &state)])
            ),
        )
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "{}", text(&back));
    let p = page(h, &path_of(&location(&back))).await;
    assert_eq!(
        p.step, "consent",
        "customer info was complete: straight to consent"
    );
    assert!(p.html.contains("Upstream account"));
    let done = post(h, &p, "consent", &[("decision", "approve")]).await;
    let to = location(&done);
    assert_eq!(param(&to, "state").as_deref(), Some("st"));
    let connection = h
        .server
        .storage()
        .find_connection(&app_id(h).await, "user-7")
        .await
        .unwrap()
        .unwrap();
    let linked = connection.linked.unwrap();
    assert_eq!(
        (linked.provider.as_str(), linked.account_reference.as_str()),
        ("tesla", "acct-user-7")
    );
    assert_eq!(connection.tags, ["pilot"]);
    let created = h
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, oauth_connect::hooks::Event::ConnectionCreated { .. }));
    assert!(created, "connection created event");
}

async fn app_id(h: &Harness) -> oauth_connect::AppId {
    h.server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app
        .id
}

#[tokio::test]
async fn callback_state_missing_tampered_reused_expired_or_denied_never_completes() {
    let f = flow(false).await;
    let h = &f.h;
    let p = page(
        h,
        &start(h, json!({"filters": {"providers": ["tesla"]}})).await,
    )
    .await;
    assert_eq!(
        p.step, "link",
        "one provider left by the filters: no picker"
    );
    assert!(!p.html.contains("Choose another provider"));
    let state = param(
        &location(&post(h, &p, "link", &[("action", "start")]).await),
        "state",
    )
    .unwrap();
    let callback = |q: Vec<(&str, String)>| {
        let pairs: Vec<(String, String)> = q.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        async move {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            h.browser
                .get(&h.server, &format!("/connect/callback/tesla?{query}"))
                .await
        }
    };
    let missing = callback(vec![("code", "good".into())]).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let mut tampered = state.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let tampered = callback(vec![
        ("code", "good".into()),
        ("state", String::from_utf8(tampered).unwrap()),
    ])
    .await;
    assert_eq!(tampered.status(), StatusCode::BAD_REQUEST);
    let wrong_provider = h
        .browser
        .get(
            &h.server,
            &format!(
                "/connect/callback/enphase?{}",
                query(&[("code", "good"), ("state", &state)])
            ),
        )
        .await;
    assert_eq!(wrong_provider.status(), StatusCode::BAD_REQUEST);

    // The provider denies: back on the link step with retry and exit, nothing linked.
    let denied = callback(vec![
        ("error", "access_denied".into()),
        ("state", state.clone()),
    ])
    .await;
    assert_eq!(denied.status(), StatusCode::SEE_OTHER);
    let p = page(h, &path_of(&location(&denied))).await;
    assert_eq!(p.step, "link");
    assert!(p.html.contains("cancelled at the provider") && p.html.contains("Exit"));
    // The state was consumed: reusing it links nothing (the hook is not
    // asked), and while the session lives the user lands on the link step
    // again, told why, with retry and exit (not on a dead end).
    let before = f.upstream.completions.lock().unwrap().len();
    let reused = callback(vec![("code", "good".into()), ("state", state.clone())]).await;
    assert_eq!(reused.status(), StatusCode::SEE_OTHER, "{}", text(&reused));
    let p = page(h, &path_of(&location(&reused))).await;
    assert_eq!(p.step, "link");
    assert!(
        p.html.contains("was not expected or was already used"),
        "{}",
        p.html
    );
    assert!(p.html.contains("value=\"start\"") && p.html.contains("Exit"));
    assert_eq!(
        f.upstream.completions.lock().unwrap().len(),
        before,
        "a reused state never reaches the hook"
    );
    // Expired: a fresh state, then the clock moves past the link lifetime.
    let state = param(
        &location(&post(h, &p, "link", &[("action", "start")]).await),
        "state",
    )
    .unwrap();
    h.clock.advance(Duration::minutes(16));
    let late = callback(vec![("code", "good".into()), ("state", state)]).await;
    assert_eq!(late.status(), StatusCode::SEE_OTHER, "{}", text(&late));
    let p = page(h, &path_of(&location(&late))).await;
    assert_eq!(p.step, "link");
    assert!(p.html.contains("took too long"), "{}", p.html);
    assert!(p.html.contains("value=\"start\"") && p.html.contains("Exit"));
    assert_eq!(
        f.upstream.completions.lock().unwrap().len(),
        before,
        "nor does a late one"
    );
    assert_eq!(f.upstream.seen_states.lock().unwrap().len(), 2);
    // No failure path completed the session.
    assert!(
        h.server
            .storage()
            .find_connection(&app_id(h).await, "user-7")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn form_link_hands_values_to_the_hook_and_stores_no_trace_of_them() {
    let f = flow(false).await;
    let h = &f.h;
    let p = page(
        h,
        &start(h, json!({"filters": {"categories": ["meter"]}})).await,
    )
    .await;
    assert_eq!(p.step, "link");
    assert!(p.html.contains("type=\"password\"") && p.html.contains("name=\"username\""));
    let wrong = post(
        h,
        &p,
        "link",
        &[
            ("action", "submit"),
            ("username", "ada"),
            ("password", "nope"),
            ("extra", "x"),
        ],
    )
    .await;
    // The form again at once, with the username kept (never the
    // password) and the host's reason as a sentence of its own.
    assert_eq!(wrong.status(), StatusCode::OK);
    let html = text(&wrong);
    assert!(
        html.contains("wrong username or password. You can try again"),
        "{html}"
    );
    assert!(
        html.contains("name=\"username\" autocomplete=\"off\" value=\"ada\""),
        "{html}"
    );
    assert!(!html.contains("nope"), "the password is not sent back");
    let p = page(h, &format!("/connect?token={}", p.token)).await;
    assert_eq!(p.step, "link");
    assert!(p.html.contains("wrong username or password"));
    let p = advance(
        h,
        &p,
        "link",
        &[
            ("action", "submit"),
            ("username", "ada"),
            ("password", "hunter2-correct"),
        ],
    )
    .await;
    assert_eq!(p.step, "consent");
    let received = f.utility.received.lock().unwrap().clone();
    assert_eq!(
        received[1],
        [
            ("username".to_owned(), "ada".to_owned()),
            ("password".to_owned(), "hunter2-correct".to_owned())
        ]
    );
    assert!(
        received[0].iter().all(|(n, _)| n != "extra"),
        "only the declared fields"
    );
    // Nothing of the posted values is kept in the session.
    let browser = h
        .server
        .browser_from_cookie(&h.browser.cookie("__Host-oc_connect_browser").unwrap())
        .unwrap();
    let session = h
        .server
        .connect_open(&p.token, &browser, None)
        .await
        .unwrap();
    let stored = format!("{:?}", session.flow);
    assert!(!stored.contains("hunter2") && !stored.contains("\"ada\""));
    let hash =
        oauth_connect::credentials::ConnectToken::parse(h.server.config().prefixes(), &p.token)
            .unwrap()
            .hash(h.server.config().keys())
            .unwrap();
    use oauth_connect::storage::GrantStore as _;
    let record = h
        .server
        .storage()
        .open_session(&hash, h.clock_now())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !format!("{record:?}").contains("hunter2"),
        "storage holds no trace of the password"
    );
    let log = format!("{:?}", h.events.0.lock().unwrap());
    assert!(
        !log.contains("hunter2") && log.contains("LinkFailed"),
        "link failure reported without the secret"
    );
}

trait ClockNow {
    fn clock_now(&self) -> time::OffsetDateTime;
}

impl ClockNow for Harness {
    fn clock_now(&self) -> time::OffsetDateTime {
        use oauth_connect::hooks::Clock as _;
        self.clock.now()
    }
}

#[tokio::test]
async fn filters_are_validated_against_the_catalogue() {
    let f = flow(false).await;
    let h = &f.h;
    for (filters, field) in [
        (json!({"providers": ["nope"]}), "filters.providers[0]"),
        (
            json!({"manufacturers": ["tesla", "nope"]}),
            "filters.manufacturers[1]",
        ),
        (json!({"categories": ["fridge"]}), "filters.categories[0]"),
        (json!({"deviceTypes": ["fridge"]}), "filters.deviceTypes[0]"),
        (
            json!({"providers": ["utility"], "categories": ["battery"]}),
            "filters",
        ),
        // Mistyped filters are refused, never silently ignored.
        (json!({"providers": "tesla"}), "filters.providers"),
        (json!({"manufacturers": [1]}), "filters.manufacturers"),
        (json!({"categories": null}), "filters.categories"),
        (json!({"deviceTypes": {"a": 1}}), "filters.deviceTypes"),
        // One spelling at a time: the alias is not silently ignored either.
        (
            json!({"providers": ["tesla"], "manufacturers": ["nope"]}),
            "filters.manufacturers",
        ),
        (
            json!({"categories": ["battery"], "deviceTypes": ["meter"]}),
            "filters.deviceTypes",
        ),
    ] {
        let response = session(h, json!({"redirectUrl": REDIRECT, "filters": filters})).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{filters}");
        assert_eq!(json(&response)["field"], field, "{filters}");
    }
    // Keys the flow does not read are the host's, passed on untouched.
    let other = session(
        h,
        json!({"redirectUrl": REDIRECT, "filters": {"theme": "dark", "providers": ["tesla"]}}),
    )
    .await;
    assert_eq!(other.status(), StatusCode::CREATED, "{}", text(&other));
    let p = page(
        h,
        &start(h, json!({"filters": {"categories": ["battery"]}})).await,
    )
    .await;
    assert_eq!(p.step, "provider", "two batteries left: the picker");
    assert!(
        p.html.contains("Tesla") && p.html.contains("Enphase") && !p.html.contains("City Utility")
    );
    let searched = page(
        h,
        &format!("/connect?{}", query(&[("token", &p.token), ("q", "enph")])),
    )
    .await;
    assert!(searched.html.contains("Enphase") && !searched.html.contains(">Tesla<"));
    let none = page(
        h,
        &format!("/connect?{}", query(&[("token", &p.token), ("q", "zzz")])),
    )
    .await;
    assert!(none.html.contains("No provider matches"));
    // A provider outside the filters is refused.
    let refused = post(h, &p, "provider", &[("provider", "utility")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reloads_back_second_tabs_and_out_of_order_posts_change_nothing() {
    let f = flow(true).await;
    let h = &f.h;
    let first = page(h, &start(h, json!({})).await).await;
    let second_tab = page(h, &format!("/connect?token={}", first.token)).await;
    let p = advance(h, &first, "terms", &[("action", "accept")]).await;
    // The second tab posts the terms again: out of order, shows where we are.
    let stale = post(h, &second_tab, "terms", &[("action", "accept")]).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let html = text(&stale);
    assert!(
        html.contains("here is where you are") && html.contains("name=\"step\" value=\"provider\"")
    );
    // Skipping ahead is refused too.
    let ahead = post(h, &p, "consent", &[("decision", "approve")]).await;
    assert_eq!(ahead.status(), StatusCode::CONFLICT);
    let ahead = post(h, &p, "customer", &[("firstName", "X")]).await;
    assert_eq!(ahead.status(), StatusCode::CONFLICT);
    // A reload shows the same step.
    assert_eq!(
        page(h, &format!("/connect?token={}", p.token)).await.step,
        "provider"
    );
    // Choose, change your mind, choose again.
    let p = advance(h, &p, "provider", &[("provider", "enphase")]).await;
    let p = advance(h, &p, "link", &[("action", "change")]).await;
    assert_eq!(p.step, "provider");
    let p = advance(h, &p, "provider", &[("provider", "utility")]).await;
    let p = advance(
        h,
        &p,
        "link",
        &[
            ("action", "submit"),
            ("username", "ada"),
            ("password", "hunter2-correct"),
        ],
    )
    .await;
    assert_eq!(p.step, "consent");
    // Exit from any step denies.
    let exit = post(h, &p, "consent", &[("decision", "deny")]).await;
    assert_eq!(
        param(&location(&exit), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        post(h, &p, "consent", &[("decision", "approve")])
            .await
            .status(),
        StatusCode::GONE
    );
}

#[tokio::test]
async fn update_mode_skips_terms_and_updates_the_same_linked_account() {
    let f = flow(true).await;
    let h = &f.h;
    let filters = json!({"filters": {"providers": ["utility"]}});
    async fn run(h: &Harness, p: Page) -> String {
        let p = advance(
            h,
            &p,
            "link",
            &[
                ("action", "submit"),
                ("username", "ada"),
                ("password", "hunter2-correct"),
            ],
        )
        .await;
        location(&post(h, &p, "consent", &[("decision", "approve")]).await)
    }
    let p = page(h, &start(h, filters.clone()).await).await;
    let p = advance(h, &p, "terms", &[("action", "accept")]).await;
    run(h, p).await;
    let first = h
        .server
        .storage()
        .find_connection(&app_id(h).await, "user-7")
        .await
        .unwrap()
        .unwrap();

    // Tags edited with the API since (emptied here) are the connection's
    // own: the update keeps them and adds the session's.
    let admin = format!(
        "Bearer {}",
        h.server
            .create_admin_key(&h.workspace)
            .await
            .unwrap()
            .expose_secret()
    );
    let patched = api(
        h,
        "PATCH",
        &format!("/v1/connections/{}", first.id.as_str()),
        &admin,
        Some(json!({"tags": []})),
    )
    .await;
    assert_eq!(json(&patched)["tags"], json!([]));
    let mut update = filters.clone();
    update["tags"] = json!(["spring"]);
    let p = page(h, &start(h, update).await).await;
    assert_eq!(
        p.step, "link",
        "update mode: no terms, one provider: straight to the link"
    );
    assert!(p.html.contains("Update your connection"));
    run(h, p).await;
    let second = h
        .server
        .storage()
        .find_connection(&app_id(h).await, "user-7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.id, first.id, "updated, not duplicated");
    assert_ne!(second.grant_id, first.grant_id);
    assert_eq!(
        second.tags,
        ["spring"],
        "the emptied tags stay empty; the session's are added"
    );
    let updated = h
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, oauth_connect::hooks::Event::ConnectionUpdated { .. }));
    assert!(updated);
}

#[tokio::test]
async fn without_a_catalogue_the_flow_is_customer_then_consent() {
    let h = harness().await;
    let response = h
        .server
        .handle(
            Request::post("/v1/connect/sessions")
                .header("content-type", "application/json")
                .header("authorization", basic(&h.confidential))
                .body(Bytes::from(json!({"redirectUrl": REDIRECT}).to_string()))
                .unwrap(),
        )
        .await;
    let path = path_of(json(&response)["url"].as_str().unwrap());
    let p = page(&h, &path).await;
    assert_eq!(p.step, "customer");
    let p = advance(
        &h,
        &p,
        "customer",
        &[
            ("firstName", "Ada"),
            ("lastName", "L"),
            ("email", "ada@example.com"),
        ],
    )
    .await;
    assert_eq!(p.step, "consent");
    assert!(p.html.contains("Ada L"));
    assert_eq!(
        post(&h, &p, "consent", &[("decision", "approve")])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

async fn api(
    h: &Harness,
    method: &str,
    uri: &str,
    auth: &str,
    body: Option<Value>,
) -> http::Response<Bytes> {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", auth);
    let body = match body {
        Some(b) => {
            request = request.header("content-type", "application/json");
            Bytes::from(b.to_string())
        }
        None => Bytes::new(),
    };
    h.server.handle(request.body(body).unwrap()).await
}

/// Completes a utility-linked session for `reference` with `tags`; returns
/// the token response.
async fn connected(h: &Harness, reference: &str, tags: Value) -> Value {
    let url = start(h, json!({"referenceId": reference, "tags": tags, "filters": {"providers": ["utility"]}, "scopedKey": true})).await;
    let p = page(h, &url).await;
    let p = advance(
        h,
        &p,
        "link",
        &[
            ("action", "submit"),
            ("username", "ada"),
            ("password", "hunter2-correct"),
        ],
    )
    .await;
    let to = location(&post(h, &p, "consent", &[("decision", "approve")]).await);
    let response = token(
        &h.server,
        &h.confidential,
        &[
            ("grant_type", "authorization_code"),
            ("code", &param(&to, "code").unwrap()),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    json(&response)
}

#[tokio::test]
async fn connections_api_filters_tags_and_revocation_cascades() {
    let f = flow(false).await;
    let h = &f.h;
    let tokens = connected(h, "ref-1", json!(["boston"])).await;
    h.clock.advance(Duration::seconds(1));
    connected(h, "ref-2", json!(["nyc"])).await;
    let admin = format!(
        "Bearer {}",
        h.server
            .create_admin_key(&h.workspace)
            .await
            .unwrap()
            .expose_secret()
    );
    let client = basic(&h.confidential);

    let all = json(&api(h, "GET", "/v1/connections", &admin, None).await);
    assert_eq!(all["meta"]["total"], 2);
    assert_eq!(all["data"][0]["provider"], "utility");
    assert_eq!(all["data"][0]["accountReference"], "utility-42");
    for (query, total) in [
        ("referenceId=ref-1", 1),
        ("tag=nyc", 1),
        ("provider=utility", 2),
        ("provider=tesla", 0),
        ("status=active", 2),
        ("status=revoked", 0),
    ] {
        let page = json(&api(h, "GET", &format!("/v1/connections?{query}"), &client, None).await);
        assert_eq!(page["meta"]["total"], total, "{query}");
    }
    let id = all["data"][0]["id"].as_str().unwrap().to_owned();
    let customer = all["data"][0]["customerId"].as_str().unwrap().to_owned();
    let by_customer = json(
        &api(
            h,
            "GET",
            &format!("/v1/connections?customerId={customer}"),
            &admin,
            None,
        )
        .await,
    );
    assert_eq!(by_customer["meta"]["total"], 1);
    for query in ["status=weird", "status=", "perPage=", "page="] {
        // An empty value is not in the enum nor an integer: a 400 naming it.
        let bad = api(h, "GET", &format!("/v1/connections?{query}"), &admin, None).await;
        assert_eq!(bad.status(), 400, "{query}");
        let field = query.split('=').next().unwrap();
        assert_eq!(json(&bad)["field"], field, "{query}");
    }

    // Tags: add, remove, replace, bounds.
    let path = format!("/v1/connections/{id}");
    let added = json(
        &api(
            h,
            "PATCH",
            &path,
            &client,
            Some(json!({"addTags": ["vip", "boston"], "removeTags": []})),
        )
        .await,
    );
    assert_eq!(added["tags"], json!(["boston", "vip"]));
    let removed = json(
        &api(
            h,
            "PATCH",
            &path,
            &client,
            Some(json!({"removeTags": ["boston"]})),
        )
        .await,
    );
    assert_eq!(removed["tags"], json!(["vip"]));
    let replaced = json(&api(h, "PATCH", &path, &admin, Some(json!({"tags": ["a", "b"]}))).await);
    assert_eq!(replaced["tags"], json!(["a", "b"]));
    let many: Vec<String> = (0..19).map(|i| format!("t{i}")).collect();
    let too_many = api(h, "PATCH", &path, &admin, Some(json!({"addTags": many}))).await;
    assert_eq!(
        (too_many.status(), json(&too_many)["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("tags"))
    );
    let long = api(
        h,
        "PATCH",
        &path,
        &admin,
        Some(json!({"addTags": ["x".repeat(65)]})),
    )
    .await;
    assert_eq!(json(&long)["field"], "addTags[0]");
    let empty = api(h, "PATCH", &path, &admin, Some(json!({}))).await;
    assert_eq!(json(&empty)["field"], "tags");

    // Isolation: another app's client and another workspace see nothing.
    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    assert_eq!(
        api(h, "GET", &path, &basic(&other), None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        json(&api(h, "GET", "/v1/connections", &basic(&other), None).await)["meta"]["total"],
        0
    );
    let foreign = h
        .server
        .create_admin_key(&oauth_connect::WorkspaceId::parse("ws_other").unwrap())
        .await
        .unwrap();
    let foreign = format!("Bearer {}", foreign.expose_secret());
    assert_eq!(
        api(h, "GET", &path, &foreign, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api(h, "DELETE", &path, &foreign, None).await.status(),
        StatusCode::NOT_FOUND
    );

    // Revocation: the grant's tokens and the scoped keys stop at once.
    let at = tokens["access_token"].as_str().unwrap();
    let key = tokens["scoped_key"].as_str().unwrap();
    assert!(h.server.authenticate_bearer(key).await.is_ok());
    let deleted = api(h, "DELETE", &path, &client, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        introspect(&h.server, &h.confidential, at).await["active"],
        false
    );
    assert!(h.server.authenticate_bearer(key).await.is_err());
    let revoked = json(&api(h, "GET", &path, &admin, None).await);
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        api(h, "DELETE", &path, &client, None).await.status(),
        StatusCode::NOT_FOUND,
        "already revoked"
    );
    assert!(
        h.events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, oauth_connect::hooks::Event::ConnectionRevoked { .. }))
    );
}

#[tokio::test]
async fn customers_api_lists_reads_and_deletes_with_cascade() {
    let f = flow(false).await;
    let h = &f.h;
    let tokens = connected(h, "cust-1", json!([])).await;
    h.clock.advance(Duration::seconds(1));
    connected(h, "cust-2", json!([])).await;
    let admin = format!(
        "Bearer {}",
        h.server
            .create_admin_key(&h.workspace)
            .await
            .unwrap()
            .expose_secret()
    );
    let page = json(&api(h, "GET", "/v1/customers?perPage=1&page=2", &admin, None).await);
    assert_eq!(
        (
            page["meta"]["total"].clone(),
            page["data"][0]["referenceId"].clone()
        ),
        (json!(2), json!("cust-2"))
    );
    let one = json(&api(h, "GET", "/v1/customers?referenceId=cust-1", &admin, None).await);
    let id = one["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(one["data"][0]["location"]["city"], "Springfield");
    let got = api(h, "GET", &format!("/v1/customers/{id}"), &admin, None).await;
    assert_eq!(json(&got)["referenceId"], "cust-1");
    let as_client = json(&api(h, "GET", "/v1/customers", &basic(&h.confidential), None).await);
    assert_eq!(
        as_client["meta"]["total"], 2,
        "the app's own credentials see its connected customers"
    );
    assert_eq!(
        api(h, "DELETE", &format!("/v1/customers/{id}"), &admin, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api(h, "GET", &format!("/v1/customers/{id}"), &admin, None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        introspect(
            &h.server,
            &h.confidential,
            tokens["access_token"].as_str().unwrap()
        )
        .await["active"],
        false
    );
    assert!(
        h.server
            .authenticate_bearer(tokens["scoped_key"].as_str().unwrap())
            .await
            .is_err()
    );
    let connections =
        json(&api(h, "GET", "/v1/connections?referenceId=cust-1", &admin, None).await);
    assert_eq!(
        connections["data"][0]["status"], "revoked",
        "the customer's connections are revoked"
    );
}

/// `connected` for another app's credentials `client`: a utility-linked
/// session approved and its code exchanged.
async fn connected_as(h: &Harness, client: &Client, reference: &str) -> Value {
    let body = json!({"redirectUrl": REDIRECT, "referenceId": reference,
        "filters": {"providers": ["utility"]}, "scopedKey": true,
        "customerInfo": {"firstName": "Ada", "lastName": "L", "email": "ada@example.com",
            "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                "postalCode": "62701", "country": "US"}}});
    let created = api(
        h,
        "POST",
        "/v1/connect/sessions",
        &basic(client),
        Some(body),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", text(&created));
    let url = path_of(json(&created)["url"].as_str().unwrap());
    let p = page(h, &url).await;
    let p = advance(
        h,
        &p,
        "link",
        &[
            ("action", "submit"),
            ("username", "ada"),
            ("password", "hunter2-correct"),
        ],
    )
    .await;
    let to = location(&post(h, &p, "consent", &[("decision", "approve")]).await);
    let response = token(
        &h.server,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &param(&to, "code").unwrap()),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
    json(&response)
}

/// DESIGN: `/v1/customers` answers an admin or a confidential client. A
/// customer belongs to the app whose session created it: a client sees,
/// reads and deletes only its own app's (another app's customer of the
/// same reference id is another record), and its DELETE deletes the
/// customer with its connections (their grants, tokens and scoped keys);
/// the other app's customer and connection stay. Every revocation is a
/// `ConnectionRevoked` event, and `ConnectionCreated` names the connection
/// it made.
#[tokio::test]
async fn customers_for_an_apps_own_credentials_and_connection_events() {
    let f = flow(false).await;
    let h = &f.h;
    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    let mine = connected_as(h, &h.confidential, "shared").await;
    let theirs = connected_as(h, &other, "shared").await;
    connected_as(h, &other, "only-theirs").await;
    let admin = format!(
        "Bearer {}",
        h.server
            .create_admin_key(&h.workspace)
            .await
            .unwrap()
            .expose_secret()
    );
    let me = basic(&h.confidential);
    let them = basic(&other);

    // ConnectionCreated names each connection.
    let connections = json(&api(h, "GET", "/v1/connections", &admin, None).await);
    let ids: Vec<String> = connections["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    let created: Vec<String> = h
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            oauth_connect::hooks::Event::ConnectionCreated { connection_id, .. } => {
                Some(connection_id.as_str().to_owned())
            }
            _ => None,
        })
        .collect();
    let (mut created, mut ids) = (created, ids);
    created.sort();
    ids.sort();
    assert_eq!(created, ids, "one event per connection, naming it");

    let all = json(&api(h, "GET", "/v1/customers", &admin, None).await);
    assert_eq!(all["meta"]["total"], 3, "one \"shared\" per app");
    let listed = json(&api(h, "GET", "/v1/customers", &me, None).await);
    assert_eq!(listed["meta"]["total"], 1, "only the app's own customers");
    assert_eq!(listed["data"][0]["referenceId"], "shared");
    let shared = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let only_theirs = json(
        &api(
            h,
            "GET",
            "/v1/customers?referenceId=only-theirs",
            &admin,
            None,
        )
        .await,
    )["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        api(h, "GET", &format!("/v1/customers/{only_theirs}"), &me, None)
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "another app's customer"
    );
    assert_eq!(
        json(&api(h, "GET", "/v1/customers?referenceId=only-theirs", &me, None).await)["meta"]["total"],
        0
    );
    assert_eq!(
        api(
            h,
            "DELETE",
            &format!("/v1/customers/{only_theirs}"),
            &me,
            None
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    let got = api(h, "GET", &format!("/v1/customers/{shared}"), &me, None).await;
    assert_eq!(json(&got)["referenceId"], "shared");

    // The client deletes its customer: only its own connection goes.
    let before = h.events.0.lock().unwrap().len();
    assert_eq!(
        api(h, "DELETE", &format!("/v1/customers/{shared}"), &me, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let revoked: Vec<_> = h.events.0.lock().unwrap()[before..]
        .iter()
        .filter(|e| matches!(e, oauth_connect::hooks::Event::ConnectionRevoked { .. }))
        .cloned()
        .collect();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(
        introspect(
            &h.server,
            &h.confidential,
            mine["access_token"].as_str().unwrap()
        )
        .await["active"],
        false,
        "its tokens"
    );
    assert!(
        h.server
            .authenticate_bearer(mine["scoped_key"].as_str().unwrap())
            .await
            .is_err(),
        "its scoped key"
    );
    assert_eq!(
        introspect(&h.server, &other, theirs["access_token"].as_str().unwrap()).await["active"],
        true,
        "the other app's connection stays"
    );
    assert!(
        h.server
            .authenticate_bearer(theirs["scoped_key"].as_str().unwrap())
            .await
            .is_ok()
    );
    assert_eq!(
        api(h, "GET", &format!("/v1/customers/{shared}"), &admin, None)
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "the customer record went"
    );
    assert_eq!(
        json(&api(h, "GET", "/v1/customers", &them, None).await)["meta"]["total"],
        2
    );

    // The admin deletes the other app's: its connection goes too, one
    // event for it.
    let their_shared = json(&api(h, "GET", "/v1/customers?referenceId=shared", &them, None).await)
        ["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(their_shared, shared);
    let before = h.events.0.lock().unwrap().len();
    assert_eq!(
        api(
            h,
            "DELETE",
            &format!("/v1/customers/{their_shared}"),
            &admin,
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    let events = h.events.0.lock().unwrap()[before..].to_vec();
    let revoked: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            oauth_connect::hooks::Event::ConnectionRevoked { connection_id, .. } => {
                Some(connection_id.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(revoked.len(), 1, "{events:?}");
    assert_eq!(
        introspect(&h.server, &other, theirs["access_token"].as_str().unwrap()).await["active"],
        false
    );
}

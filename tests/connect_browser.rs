//! The hosted Connect flow bound to the browser whose first post claims it
//! (RFC 9700 §2.1: CSRF protection "securely bound to the user agent"),
//! with a binding cookie of the server's own and `GET`s that claim nothing
//! (issue 17, items 6 and 7), the provider callback's single use under
//! concurrency, what the pages show of the host's and the provider's text,
//! and what would break a page's CSP refused before any page is shown
//! (item 9), all through `AuthorizationServer::handle`.

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
use http::{Request, Response, StatusCode};
use oauth_connect::LinkHook;
use oauth_connect::hooks::{
    LinkContext, LinkError, LinkField, LinkFormValues, LinkedAccount, Provider, ProviderQuery,
};
use oauth_connect::storage::ConnectStore as _;
use serde_json::{Value, json};
use support::*;
use time::Duration;

/// A provider with its own OAuth page. At the callback, `code=good` links
/// `acct-<reference>` (labelled with the query's `label`, as an upstream
/// may say), `code=slow` too but only once released, anything else is the
/// refusal the query's `why` says.
#[derive(Debug, Default)]
struct Upstream {
    completions: Mutex<Vec<Vec<(String, String)>>>,
    release: tokio::sync::Notify,
}

#[async_trait]
impl LinkHook for Upstream {
    async fn authorization_url(&self, ctx: &LinkContext, state: &str) -> Result<String, LinkError> {
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
        let pairs = q.iter().map(|(n, v)| (n.to_owned(), v.to_owned()));
        self.completions.lock().unwrap().push(pairs.collect());
        let get = |name: &str| q.get(name).map(str::to_owned);
        let code = get("code");
        if code.as_deref() == Some("slow") {
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(3), self.release.notified())
                    .await;
        }
        match code.as_deref() {
            Some("good" | "slow") => Ok(LinkedAccount::new(
                "",
                format!("acct-{}", ctx.reference_id),
                get("label").unwrap_or_else(|| "Upstream account".to_owned()),
            )),
            _ => Err(LinkError::Refused(
                get("why").unwrap_or_else(|| "refused".to_owned()),
            )),
        }
    }
}

/// A form provider that accepts anything.
#[derive(Debug, Default)]
struct Utility;

#[async_trait]
impl LinkHook for Utility {
    async fn complete_form(
        &self,
        _: &LinkContext,
        _: &LinkFormValues,
    ) -> Result<LinkedAccount, LinkError> {
        Ok(LinkedAccount::new("", "utility-1", "Utility account"))
    }
}

struct Flow {
    h: Harness,
    upstream: Arc<Upstream>,
}

async fn flow_with(
    configure: impl FnOnce(
        oauth_connect::AuthorizationServerBuilder<oauth_connect::MemoryStore>,
    ) -> oauth_connect::AuthorizationServerBuilder<oauth_connect::MemoryStore>,
) -> Flow {
    let upstream = Arc::new(Upstream::default());
    let (builder, clock, events) = builder();
    let builder = builder
        .provider(
            Provider::redirect("tesla", "Tesla <b>&</b> Co", upstream.clone())
                .categories(["battery"])
                .logo_url("https://cdn.example.com/logos/tesla.svg?size=24&v=2"),
        )
        .provider(
            Provider::form(
                "utility",
                "City Utility",
                vec![LinkField::new("username", "Username", "text", true)],
                Arc::new(Utility),
            )
            .categories(["meter"])
            .logo_url("https://img.example.org/utility.png"),
        );
    let server = configure(builder).build().unwrap();
    let h = harness_with(server, clock, events).await;
    Flow { h, upstream }
}

async fn flow() -> Flow {
    flow_with(|b| b).await
}

/// A session whose customer is complete, narrowed to `providers`; its
/// page's path.
async fn start(h: &Harness, reference: &str, extra: Value) -> String {
    let mut body = json!({"redirectUrl": REDIRECT, "referenceId": reference, "state": "st",
        "customerInfo": {"firstName": "Ada", "lastName": "L", "email": "ada@example.com",
            "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                "postalCode": "62701", "country": "US"}}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let response = h
        .server
        .handle(
            Request::post("/v1/connect/sessions")
                .header("content-type", "application/json")
                .header("authorization", basic(&h.confidential))
                .body(Bytes::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        text(&response)
    );
    path_of(json(&response)["url"].as_str().unwrap())
}

fn path_of(url: &str) -> String {
    url.strip_prefix(ISSUER).unwrap_or(url).to_owned()
}

/// The page a browser got: its step, token and CSRF token.
struct Page {
    html: String,
    step: String,
    token: String,
    csrf: String,
}

fn page_of(response: &Response<Bytes>) -> Page {
    assert_eq!(response.status(), StatusCode::OK, "{}", text(response));
    let html = text(response);
    Page {
        step: field(&html, "step"),
        token: field(&html, "token"),
        csrf: field(&html, "csrf_token"),
        html,
    }
}

async fn open(browser: &Browser, h: &Harness, path: &str) -> Page {
    page_of(&browser.get(&h.server, path).await)
}

async fn post(
    browser: &Browser,
    h: &Harness,
    p: &Page,
    step: &str,
    extra: &[(&str, &str)],
) -> Response<Bytes> {
    let mut pairs = vec![
        ("token", p.token.as_str()),
        ("csrf_token", p.csrf.as_str()),
        ("step", step),
    ];
    pairs.extend_from_slice(extra);
    browser.post_form(&h.server, "/connect", &pairs).await
}

fn refused_as_another_browser(response: &Response<Bytes>) {
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "{}",
        text(response)
    );
    let html = text(response);
    assert!(
        html.contains("This Connect session was opened in another browser")
            && html.contains("Start again from the app"),
        "{html}"
    );
    assert!(response.headers().get("location").is_none(), "no redirect");
}

async fn connections_of(h: &Harness, reference: &str) -> u64 {
    let mut filter = oauth_connect::storage::ConnectionFilter::default();
    filter.reference_id = Some(reference.to_owned());
    h.server
        .storage()
        .list_connections(&h.workspace, &filter, 0, 10)
        .await
        .unwrap()
        .total
}

/// The first opening sets an HttpOnly binding cookie: on an https issuer
/// `__Host-` prefixed (so `Path=/`, `Secure`, no `Domain`: no other host
/// can set it), `SameSite=None; Partitioned` (a modal iframe is cross-site;
/// CHIPS keeps it partitioned). Later openings, and the browser's next
/// session, keep it.
#[tokio::test]
async fn the_first_opening_sets_the_binding_cookie_and_later_ones_keep_it() {
    let f = flow().await;
    let h = &f.h;
    let path = start(
        h,
        "cookie-1",
        json!({"filters": {"providers": ["utility"]}}),
    )
    .await;
    let first = h.browser.get(&h.server, &path).await;
    assert_eq!(first.status(), StatusCode::OK);
    let cookie = first.headers()["set-cookie"].to_str().unwrap();
    let value = h.browser.cookie("__Host-oc_connect_browser").unwrap();
    assert_eq!(
        cookie,
        format!(
            "__Host-oc_connect_browser={value}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
        )
    );
    let again = h.browser.get(&h.server, &path).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(
        again.headers().get("set-cookie").is_none(),
        "kept, not replaced"
    );
    // The browser's next session reuses its cookie.
    let next = start(h, "cookie-2", json!({})).await;
    let other = h.browser.get(&h.server, &next).await;
    assert_eq!(other.status(), StatusCode::OK);
    assert!(other.headers().get("set-cookie").is_none());
}

/// Issue 17, item 6: a binding value the server never issued is never
/// adopted. Someone who can plant cookies in the victim's browser (the
/// old 43-character form under the plain name, a well-formed forgery of
/// the signed form under the `__Host-` name) does not get to share the
/// victim's binding: the page gives the victim a cookie of the server's
/// own instead, the victim's first post claims the session for that one,
/// and the planter, holding the planted values, is another browser on the
/// page, the posts and the provider's callback.
#[tokio::test]
async fn a_planted_binding_cookie_is_replaced_never_adopted() {
    use base64::Engine as _;
    let f = flow().await;
    let h = &f.h;
    let path = start(h, "fixation", json!({"filters": {"providers": ["tesla"]}})).await;
    let legacy = "A".repeat(43);
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 65]);
    assert_eq!(forged.len(), 87);
    let plant = |browser: &Browser| {
        browser.plant("oc_connect_browser", &legacy, "/connect");
        browser.plant("__Host-oc_connect_browser", &forged, "/");
    };
    let victim = &h.browser;
    let planter = Browser::new();
    plant(victim);
    plant(&planter);

    let opened = victim.get(&h.server, &path).await;
    let set = opened
        .headers()
        .get("set-cookie")
        .expect("the planted value is replaced")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set.starts_with("__Host-oc_connect_browser="), "{set}");
    let issued = victim.cookie("__Host-oc_connect_browser").unwrap();
    assert!(issued != forged && issued != legacy);
    assert!(h.server.browser_from_cookie(&issued).is_some());
    assert!(h.server.browser_from_cookie(&forged).is_none());
    assert!(h.server.browser_from_cookie(&legacy).is_none());
    let p = page_of(&opened);
    let go = post(victim, h, &p, "link", &[("action", "start")]).await;
    assert_eq!(go.status(), StatusCode::SEE_OTHER, "{}", text(&go));
    let state = param(&location(&go), "state").unwrap();

    // A request carrying only what was planted is another browser's.
    let only_planted = |uri: &str, body: Option<String>| {
        let cookie = format!("oc_connect_browser={legacy}; __Host-oc_connect_browser={forged}");
        let request = match body {
            Some(body) => Request::post(uri)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", cookie)
                .body(Bytes::from(body)),
            None => Request::get(uri)
                .header("cookie", cookie)
                .body(Bytes::new()),
        };
        h.server.handle(request.unwrap())
    };
    refused_as_another_browser(&only_planted(&path, None).await);
    let deny = query(&[
        ("token", p.token.as_str()),
        ("csrf_token", p.csrf.as_str()),
        ("step", "link"),
        ("decision", "deny"),
    ]);
    refused_as_another_browser(&only_planted("/connect", Some(deny)).await);
    let callback = format!(
        "/connect/callback/tesla?{}",
        query(&[("code", "good"), ("state", &state)])
    );
    refused_as_another_browser(&only_planted(&callback, None).await);
    refused_as_another_browser(&planter.get(&h.server, &callback).await);
    assert!(f.upstream.completions.lock().unwrap().is_empty());
    // The victim's own return links the account.
    let back = victim.get(&h.server, &callback).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "{}", text(&back));
    assert_eq!(open(victim, h, &path).await.step, "consent");
}

/// Issue 17, item 7: link previews do not burn sessions. Any number of
/// `GET`s of the hosted URL without the user's cookie (an e-mail link
/// scanner, a chat unfurl, `curl`; with or without keeping the cookie they
/// are given), and of the same session as a PAR `request_uri`
/// (`/oauth/authorize`), claim nothing: the user's browser then opens the
/// page, its first post claims the session, and it completes. After the
/// claim, the same previews are refused (RFC 9700 §2.1).
#[tokio::test]
async fn link_previews_do_not_claim_the_session() {
    let f = flow().await;
    let h = &f.h;
    let path = start(
        h,
        "e-mailed",
        json!({"filters": {"providers": ["utility"]}}),
    )
    .await;
    let token = param(&format!("{ISSUER}{path}"), "token").unwrap();
    let authorize = format!(
        "/oauth/authorize?{}",
        query(&[
            ("client_id", h.confidential.client_id.as_str()),
            ("request_uri", token.as_str()),
        ])
    );
    let cookieless = |uri: &str| {
        h.server
            .handle(Request::get(uri).body(Bytes::new()).unwrap())
    };
    for _ in 0..3 {
        for uri in [&path, &authorize] {
            let preview = cookieless(uri).await;
            assert_eq!(
                preview.status(),
                StatusCode::OK,
                "{uri}: {}",
                text(&preview)
            );
            assert_eq!(field(&text(&preview), "step"), "link");
        }
        let scanner = Browser::new();
        assert_eq!(scanner.get(&h.server, &path).await.status(), StatusCode::OK);
        assert_eq!(scanner.get(&h.server, &path).await.status(), StatusCode::OK);
    }
    let p = open(&h.browser, h, &path).await;
    assert_eq!(p.step, "link");
    let linked = post(
        &h.browser,
        h,
        &p,
        "link",
        &[("action", "submit"), ("username", "ada")],
    )
    .await;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER, "{}", text(&linked));
    refused_as_another_browser(&cookieless(&path).await);
    refused_as_another_browser(&cookieless(&authorize).await);
    let p = open(&h.browser, h, &path).await;
    assert_eq!(p.step, "consent");
    let done = post(&h.browser, h, &p, "consent", &[("decision", "approve")]).await;
    assert!(param(&location(&done), "code").is_some(), "{}", text(&done));
    assert_eq!(connections_of(h, "e-mailed").await, 1);
}

/// Once a browser's first post has claimed the session, another browser —
/// without the cookie, or with its own — gets the "opened in another
/// browser" page on the page itself, on every post (even with the first
/// browser's token and CSRF token) and on the provider's callback, and
/// never completes anything; the first browser goes on.
#[tokio::test]
async fn another_browser_is_refused_on_the_page_the_posts_and_the_callback() {
    let f = flow().await;
    let h = &f.h;
    let path = start(h, "bound", json!({"filters": {"providers": ["tesla"]}})).await;
    let mine = open(&h.browser, h, &path).await;
    assert_eq!(mine.step, "link");
    let stranger = Browser::new();
    // Before the claim, opening is harmless: another browser sees the page.
    assert_eq!(open(&stranger, h, &path).await.step, "link");
    // The first browser starts the link: its first post claims the session.
    let go = post(&h.browser, h, &mine, "link", &[("action", "start")]).await;
    assert_eq!(go.status(), StatusCode::SEE_OTHER);
    let state = param(&location(&go), "state").unwrap();

    refused_as_another_browser(&stranger.get(&h.server, &path).await);
    let with_own_cookie = Browser::new();
    let other_path = start(h, "elsewhere", json!({})).await;
    open(&with_own_cookie, h, &other_path).await;
    assert!(
        with_own_cookie
            .cookie("__Host-oc_connect_browser")
            .is_some()
    );
    refused_as_another_browser(&with_own_cookie.get(&h.server, &path).await);

    for browser in [&stranger, &with_own_cookie] {
        for (step, extra) in [
            ("link", vec![("action", "start")]),
            ("link", vec![("decision", "deny")]),
            ("consent", vec![("decision", "approve")]),
        ] {
            let answer = post(browser, h, &mine, step, &extra).await;
            refused_as_another_browser(&answer);
        }
    }
    // The typed API says the same.
    let intruder = h.server.new_browser_secret().unwrap();
    assert_eq!(
        h.server
            .connect_complete(
                &mine.token,
                &mine.csrf,
                &intruder,
                oauth_connect::connect::ConnectDecision::Deny
            )
            .await
            .unwrap_err(),
        oauth_connect::connect::StepRefusal::Page(oauth_connect::oauth::ErrorPage::OtherBrowser)
    );

    // The callback in another browser is refused and links nothing.
    let callback = format!(
        "/connect/callback/tesla?{}",
        query(&[("code", "good"), ("state", &state)])
    );
    refused_as_another_browser(&stranger.get(&h.server, &callback).await);
    refused_as_another_browser(&with_own_cookie.get(&h.server, &callback).await);
    assert!(
        f.upstream.completions.lock().unwrap().is_empty(),
        "the hook never ran"
    );
    // And the first browser's own return still works (the state was not
    // spent by the refusals).
    let back = h.browser.get(&h.server, &callback).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "{}", text(&back));
    let p = open(&h.browser, h, &path_of(&location(&back))).await;
    assert_eq!(p.step, "consent");
    let done = post(&h.browser, h, &p, "consent", &[("decision", "approve")]).await;
    assert!(param(&location(&done), "code").is_some());
    assert_eq!(connections_of(h, "bound").await, 1);
}

/// The attack the binding stops: a user opens a session for themselves,
/// starts the link step and sends the provider's authorization URL to a
/// victim. The victim signs in at the provider, which sends the victim's
/// browser to the callback with the victim's code: refused, the hook never
/// exchanges it, and the attacker's session links nothing.
#[tokio::test]
async fn a_forwarded_provider_authorization_url_links_nothing() {
    let f = flow().await;
    let h = &f.h;
    let attacker = &h.browser;
    let path = start(h, "attacker", json!({"filters": {"providers": ["tesla"]}})).await;
    let p = open(attacker, h, &path).await;
    let go = post(attacker, h, &p, "link", &[("action", "start")]).await;
    let provider_url = location(&go);
    assert!(provider_url.starts_with("https://upstream.example/authorize?"));

    // At the provider the victim signs in; it redirects the victim's browser.
    let victim = Browser::new();
    let callback = format!(
        "{}?{}",
        path_of(&param(&provider_url, "redirect_uri").unwrap()),
        query(&[
            ("code", "good"),
            ("label", "the victim's account"),
            ("state", &param(&provider_url, "state").unwrap()),
        ])
    );
    let answer = victim.get(&h.server, &callback).await;
    refused_as_another_browser(&answer);
    assert!(
        f.upstream.completions.lock().unwrap().is_empty(),
        "the victim's code was never exchanged"
    );
    let p = open(attacker, h, &path).await;
    assert_eq!(
        p.step, "link",
        "nothing was linked into the attacker's session"
    );
    assert!(!p.html.contains("acct-"));
    assert_eq!(connections_of(h, "attacker").await, 0);
}

/// Two browsers that both opened a fresh session post their first step at
/// once: the compare-and-swap claims the session once. One post goes on,
/// the other is refused as another browser's, and the session holds the
/// winner's choice.
#[tokio::test]
async fn concurrent_first_posts_claim_the_session_once() {
    let f = flow().await;
    let h = &f.h;
    for round in 0..5 {
        let path = start(h, &format!("race-{round}"), json!({})).await;
        let (one, two) = (Browser::new(), Browser::new());
        let (a, b) = tokio::join!(one.get(&h.server, &path), two.get(&h.server, &path));
        let (a, b) = (page_of(&a), page_of(&b));
        assert_eq!((a.step.as_str(), b.step.as_str()), ("provider", "provider"));
        assert_ne!(a.csrf, b.csrf, "a CSRF token per browser");
        let (x, y) = tokio::join!(
            post(&one, h, &a, "provider", &[("provider", "utility")]),
            post(&two, h, &b, "provider", &[("provider", "tesla")]),
        );
        let statuses = [x.status(), y.status()];
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::SEE_OTHER)
                .count(),
            1,
            "{statuses:?}"
        );
        let (winner, chosen, loser) = if x.status() == StatusCode::SEE_OTHER {
            (&one, "City Utility", &y)
        } else {
            (&two, "Tesla", &x)
        };
        refused_as_another_browser(loser);
        let p = open(winner, h, &path).await;
        assert_eq!(p.step, "link");
        assert!(p.html.contains(chosen), "{}", p.html);
    }
}

/// Tabs of one browser share its cookie: a second tab works, and of two
/// tabs approving one session one completes; there is one connection.
#[tokio::test]
async fn two_tabs_of_one_browser_complete_one_session_once() {
    let f = flow().await;
    let h = &f.h;
    let path = start(h, "tabs", json!({"filters": {"providers": ["utility"]}})).await;
    let first = open(&h.browser, h, &path).await;
    let second = open(&h.browser, h, &path).await;
    assert_eq!(
        (first.step.as_str(), second.step.as_str()),
        ("link", "link")
    );
    // The second tab links; the first tab's link post is then out of order.
    let linked = post(
        &h.browser,
        h,
        &second,
        "link",
        &[("action", "submit"), ("username", "ada")],
    )
    .await;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER, "{}", text(&linked));
    let stale = post(
        &h.browser,
        h,
        &first,
        "link",
        &[("action", "submit"), ("username", "bob")],
    )
    .await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let tab_one = open(&h.browser, h, &path).await;
    let tab_two = open(&h.browser, h, &path).await;
    assert_eq!(tab_one.step, "consent");
    let (a, b) = tokio::join!(
        post(
            &h.browser,
            h,
            &tab_one,
            "consent",
            &[("decision", "approve")]
        ),
        post(
            &h.browser,
            h,
            &tab_two,
            "consent",
            &[("decision", "approve")]
        ),
    );
    let codes = [&a, &b]
        .iter()
        .filter(|r| r.status() == StatusCode::SEE_OTHER && param(&location(r), "code").is_some())
        .count();
    assert_eq!(codes, 1, "{} / {}", a.status(), b.status());
    assert!(
        [a.status(), b.status()].contains(&StatusCode::GONE),
        "the other tab is told it is done"
    );
    assert_eq!(connections_of(h, "tabs").await, 1, "one connection");
}

/// Of two concurrent returns from the provider with one `state`, one
/// consumes it before the hook runs: the hook exchanges one code, and the
/// other return links nothing (it lands on the page).
#[tokio::test]
async fn two_concurrent_callbacks_reach_the_hook_once() {
    let f = flow().await;
    let h = &f.h;
    let path = start(h, "twice", json!({"filters": {"providers": ["tesla"]}})).await;
    let p = open(&h.browser, h, &path).await;
    let go = post(&h.browser, h, &p, "link", &[("action", "start")]).await;
    let state = param(&location(&go), "state").unwrap();
    let callback = format!(
        "/connect/callback/tesla?{}",
        query(&[("code", "slow"), ("state", &state)])
    );
    let first = h.browser.get(&h.server, &callback);
    let second = async {
        // The first return is inside the hook before the second arrives.
        while f.upstream.completions.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let answer = h.browser.get(&h.server, &callback).await;
        f.upstream.release.notify_one();
        answer
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(
        f.upstream.completions.lock().unwrap().len(),
        1,
        "the hook ran once"
    );
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    let p = open(&h.browser, h, &path_of(&location(&first))).await;
    assert_eq!(p.step, "consent", "the first return linked the account");
}

fn same_origin_post(pairs: &[(&str, &str)], origin: &str, site: Option<&str>) -> Request<Bytes> {
    let mut request = Request::post("/connect")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", origin);
    if let Some(site) = site {
        request = request.header("sec-fetch-site", site);
    }
    request.body(Bytes::from(query(pairs))).unwrap()
}

/// An embedded modal page lives in a cross-site iframe, whose cookie is
/// partitioned under the embedding site; the provider's sign-in opens in a
/// window of its own (a top-level context without that cookie). That
/// window's same-origin start post carries the iframe page's binding: it
/// claims the session for the iframe's browser (it may be the flow's first
/// post) and binds the link to the window (a cookie of its own); the
/// provider's return there links the account. A cross-site post, a post
/// without the page's binding, a post for a session that is not an
/// embedded modal, and the return in yet another browser are refused.
#[tokio::test]
async fn an_embedded_modal_sign_in_window_binds_itself_with_a_same_origin_post() {
    let f = flow().await;
    let h = &f.h;
    let path = start(h, "modal", json!({"filters": {"providers": ["tesla"]}})).await;
    let token = param(&format!("{ISSUER}{path}"), "token").unwrap();
    let iframe = &h.browser;
    let modal = format!(
        "/connect?{}",
        query(&[
            ("token", &token),
            ("embed", "modal"),
            ("nonce", "Zm9yLXRoZS1lbWJlZC1zY3JpcHQ")
        ])
    );
    let p = open(iframe, h, &modal).await;
    assert_eq!(p.step, "link");
    let binding = field(&p.html, "binding");
    assert_eq!(binding.len(), 64, "{}", p.html);
    let without_binding = [
        ("token", p.token.as_str()),
        ("csrf_token", p.csrf.as_str()),
        ("step", "link"),
        ("action", "start"),
    ];
    let mut pairs = without_binding.to_vec();
    pairs.push(("binding", binding.as_str()));

    // From another site: refused, whatever it claims.
    let window = Browser::new();
    let forged = window
        .send(
            &h.server,
            same_origin_post(&pairs, "https://evil.example", Some("cross-site")),
        )
        .await;
    refused_as_another_browser(&forged);
    let lying = window
        .send(
            &h.server,
            same_origin_post(&pairs, ISSUER, Some("cross-site")),
        )
        .await;
    refused_as_another_browser(&lying);
    // Without the page's binding: nothing to check the CSRF token against.
    let unbound = window
        .send(
            &h.server,
            same_origin_post(&without_binding, ISSUER, Some("same-origin")),
        )
        .await;
    assert_eq!(
        unbound.status(),
        StatusCode::FORBIDDEN,
        "{}",
        text(&unbound)
    );
    assert!(unbound.headers().get("location").is_none());
    // Another browser's binding does not fit this page's CSRF token.
    let elsewhere = open(&Browser::new(), h, &modal).await;
    let mut mixed = without_binding.to_vec();
    let other_binding = field(&elsewhere.html, "binding");
    mixed.push(("binding", other_binding.as_str()));
    let mixed = window
        .send(
            &h.server,
            same_origin_post(&mixed, ISSUER, Some("same-origin")),
        )
        .await;
    assert_eq!(mixed.status(), StatusCode::FORBIDDEN, "{}", text(&mixed));
    assert!(window.cookie("__Host-oc_connect_browser").is_none());

    // From the hosted page itself (same origin), in the sign-in window.
    let go = window
        .send(
            &h.server,
            same_origin_post(&pairs, ISSUER, Some("same-origin")),
        )
        .await;
    assert_eq!(go.status(), StatusCode::SEE_OTHER, "{}", text(&go));
    assert!(location(&go).starts_with("https://upstream.example/authorize?"));
    assert!(
        window.cookie("__Host-oc_connect_browser").is_some(),
        "the window is bound"
    );
    // The window's post claimed the session for the iframe's browser.
    refused_as_another_browser(&Browser::new().get(&h.server, &modal).await);
    let state = param(&location(&go), "state").unwrap();
    let callback = format!(
        "/connect/callback/tesla?{}",
        query(&[("code", "good"), ("state", &state)])
    );
    refused_as_another_browser(&Browser::new().get(&h.server, &callback).await);
    let back = window.get(&h.server, &callback).await;
    assert_eq!(back.status(), StatusCode::OK, "{}", text(&back));
    assert!(text(&back).contains("account is linked"));
    let p = open(iframe, h, &modal).await;
    assert_eq!(p.step, "consent", "the iframe moves on");
    // The window itself cannot drive the flow.
    let taken = window
        .send(
            &h.server,
            same_origin_post(
                &[
                    ("token", p.token.as_str()),
                    ("csrf_token", p.csrf.as_str()),
                    ("step", "consent"),
                    ("decision", "approve"),
                ],
                ISSUER,
                Some("same-origin"),
            ),
        )
        .await;
    refused_as_another_browser(&taken);

    // A session that is not an embedded modal gets no such exception.
    let plain = start(h, "not-modal", json!({"filters": {"providers": ["tesla"]}})).await;
    let p = open(iframe, h, &plain).await;
    let pairs = [
        ("token", p.token.as_str()),
        ("csrf_token", p.csrf.as_str()),
        ("step", "link"),
        ("action", "start"),
        ("binding", binding.as_str()),
    ];
    let refused = Browser::new()
        .send(
            &h.server,
            same_origin_post(&pairs, ISSUER, Some("same-origin")),
        )
        .await;
    refused_as_another_browser(&refused);
}

/// What the host (provider names), the hook (its error text) and the
/// upstream (the account label it returns) say is shown escaped.
#[tokio::test]
async fn provider_names_hook_errors_and_upstream_labels_are_escaped() {
    let f = flow().await;
    let h = &f.h;
    let path = start(h, "escape", json!({"filters": {"providers": ["tesla"]}})).await;
    let p = open(&h.browser, h, &path).await;
    assert!(
        p.html.contains("Tesla &lt;b&gt;&amp;&lt;/b&gt; Co"),
        "{}",
        p.html
    );
    assert!(!p.html.contains("<b>&</b>"));
    let go = post(&h.browser, h, &p, "link", &[("action", "start")]).await;
    let state = param(&location(&go), "state").unwrap();
    let refused = h
        .browser
        .get(
            &h.server,
            &format!(
                "/connect/callback/tesla?{}",
                query(&[
                    ("code", "bad"),
                    ("why", "<script>alert('hook')</script>"),
                    ("state", &state),
                ])
            ),
        )
        .await;
    let p = open(&h.browser, h, &path_of(&location(&refused))).await;
    assert_eq!(p.step, "link");
    assert!(
        p.html
            .contains("&lt;script&gt;alert(&#x27;hook&#x27;)&lt;/script&gt;")
            || p.html
                .contains("&lt;script&gt;alert('hook')&lt;/script&gt;"),
        "{}",
        p.html
    );
    assert!(!p.html.contains("<script>alert"));
    let go = post(&h.browser, h, &p, "link", &[("action", "start")]).await;
    let state = param(&location(&go), "state").unwrap();
    let linked = h
        .browser
        .get(
            &h.server,
            &format!(
                "/connect/callback/tesla?{}",
                query(&[
                    ("code", "good"),
                    ("label", "<img src=x onerror=alert(1)>"),
                    ("state", &state),
                ])
            ),
        )
        .await;
    let p = open(&h.browser, h, &path_of(&location(&linked))).await;
    assert_eq!(p.step, "consent");
    assert!(
        p.html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        p.html
    );
    assert!(!p.html.contains("<img src=x"));
}

/// The picker shows each provider's logo, escaped, and the page's CSP lets
/// images come from exactly those origins; `form-action` allows `https:`
/// (the provider's page) only on a redirect provider's link step.
#[tokio::test]
async fn logos_and_the_csp_follow_the_providers_shown() {
    let f = flow().await;
    let h = &f.h;
    let path = start(h, "logos", json!({})).await;
    let picker = h.browser.get(&h.server, &path).await;
    let html = text(&picker);
    assert_eq!(field(&html, "step"), "provider");
    assert!(
        html.contains(
            "<img src=\"https://cdn.example.com/logos/tesla.svg?size=24&amp;v=2\" alt=\"\""
        ),
        "{html}"
    );
    assert!(html.contains("<img src=\"https://img.example.org/utility.png\""));
    let csp = picker.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("img-src https://cdn.example.com https://img.example.org;"),
        "{csp}"
    );
    assert!(
        !csp.contains("form-action 'self' https://app.example.com https:"),
        "{csp}"
    );
    // Narrowed by the search: only its logo's origin.
    let searched = h.browser.get(&h.server, &format!("{path}&q=utility")).await;
    let csp = searched.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("img-src https://img.example.org;"), "{csp}");

    // A form provider's link step posts here only: no https: in form-action.
    let p = page_of(&picker);
    let chosen = post(&h.browser, h, &p, "provider", &[("provider", "utility")]).await;
    let link = h.browser.get(&h.server, &path_of(&location(&chosen))).await;
    assert_eq!(field(&text(&link), "step"), "link");
    let csp = link.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example.com;"),
        "{csp}"
    );
    assert!(csp.contains("img-src 'none';"), "{csp}");
    // A redirect provider's does (its post is answered with the provider's
    // own page).
    let redirect = start(h, "logos-2", json!({"filters": {"providers": ["tesla"]}})).await;
    let link = h.browser.get(&h.server, &redirect).await;
    let csp = link.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example.com https:;"),
        "{csp}"
    );
}

/// Posts the link step's start; the provider URL's `state`.
async fn start_link(h: &Harness, p: &Page) -> String {
    let go = post(&h.browser, h, p, "link", &[("action", "start")]).await;
    param(&location(&go), "state").unwrap()
}

/// The redirect link's lifetime is the server's configuration: past it, the
/// return is refused (and the page says so, with retry and exit).
#[tokio::test]
async fn the_link_lifetime_is_configured_on_the_builder() {
    let f = flow_with(|b| b.connect_link_lifetime(Duration::minutes(2))).await;
    let h = &f.h;
    let path = start(h, "lifetime", json!({"filters": {"providers": ["tesla"]}})).await;
    let p = open(&h.browser, h, &path).await;
    let in_time = start_link(h, &p).await;
    h.clock.advance(Duration::seconds(119));
    let back = h
        .browser
        .get(
            &h.server,
            &format!(
                "/connect/callback/tesla?{}",
                query(&[("code", "good"), ("state", &in_time)])
            ),
        )
        .await;
    let done = open(&h.browser, h, &path_of(&location(&back))).await;
    assert_eq!(done.step, "consent", "within two minutes");

    let path = start(
        h,
        "lifetime-2",
        json!({"filters": {"providers": ["tesla"]}}),
    )
    .await;
    let p = open(&h.browser, h, &path).await;
    let late = start_link(h, &p).await;
    h.clock.advance(Duration::seconds(120));
    let back = h
        .browser
        .get(
            &h.server,
            &format!(
                "/connect/callback/tesla?{}",
                query(&[("code", "good"), ("state", &late)])
            ),
        )
        .await;
    let p = open(&h.browser, h, &path_of(&location(&back))).await;
    assert_eq!(p.step, "link");
    assert!(p.html.contains("took too long"), "{}", p.html);
}

/// Issue 17, item 9: nothing that goes into a page's CSP (or its cookies'
/// attributes) can break it at request time, so no page ever goes out
/// without its policy. A provider logo or a frame ancestor whose host is
/// not a plain host name (`;` or `,` would end the directive or the
/// policy, a quote or `*` change what a source means), and an issuer whose
/// host is not one or whose path holds `;` or `,`, are configuration
/// errors when the server is built; an app's redirect URI or allowed
/// origin with such a host is refused when it is registered.
#[tokio::test]
async fn what_would_break_a_pages_csp_is_refused_before_any_page_is_shown() {
    for logo in [
        "https://a;b.example/logo.png",
        "https://a,b.example/logo.png",
        "https://*.cdn.example/logo.png",
        "https://a'b.example/logo.png",
        "https://a\"b.example/logo.png",
        "https://a$b.example/logo.png",
    ] {
        let (builder, _, _) = builder();
        let built = builder
            .provider(
                Provider::form("utility", "City Utility", vec![], Arc::new(Utility)).logo_url(logo),
            )
            .build();
        assert!(
            matches!(built, Err(oauth_connect::ConfigError::Invalid("provider"))),
            "{logo}"
        );
    }
    for ancestor in ["https://a;b.example", "https://a,b.example"] {
        let (builder, _, _) = builder();
        assert!(
            matches!(
                builder.frame_ancestors([ancestor]).build(),
                Err(oauth_connect::ConfigError::Invalid("frame_ancestors"))
            ),
            "{ancestor}"
        );
    }
    for issuer in [
        "https://auth;x.example.com",
        "https://auth,x.example.com",
        "https://auth.example.com/tenant;Domain=example.com",
        "http://127.0.0.1:3000/a,b",
    ] {
        let (builder, _, _) = builder();
        assert!(
            matches!(
                builder.issuer(issuer).build(),
                Err(oauth_connect::ConfigError::InvalidIssuer(_))
            ),
            "{issuer}"
        );
    }
    let (builder, _, _) = builder();
    assert!(
        builder
            .issuer("https://auth_1.example.com/tenant-a/")
            .build()
            .is_ok()
    );

    // Registered values: refused over the management API, nothing written.
    let f = flow().await;
    let h = &f.h;
    let admin = h.server.create_admin_key(&h.workspace).await.unwrap();
    let admin = format!("Bearer {}", admin.expose_secret());
    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    let patch = |body: Value| {
        h.server.handle(
            Request::patch(format!("/v1/oauth-apps/{}", app.id.as_str()))
                .header("authorization", admin.as_str())
                .header("content-type", "application/json")
                .body(Bytes::from(body.to_string()))
                .unwrap(),
        )
    };
    for host in ["a;b.example", "a,b.example", "a'b.example", "a\"b.example"] {
        let origin = format!("https://{host}");
        let refused = patch(json!({"allowedOrigins": [origin]})).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{origin}");
        assert_eq!(json(&refused)["field"], "allowedOrigins[0]");
        let redirect = format!("https://{host}/callback");
        let refused = patch(json!({"redirectUris": [redirect]})).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{redirect}");
        assert_eq!(json(&refused)["field"], "redirectUris[0]");
    }
    let kept = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    assert!(kept.allowed_origins.is_empty());
    assert_eq!(
        kept.redirect_uris
            .iter()
            .map(|u| u.as_str())
            .collect::<Vec<_>>(),
        [REDIRECT]
    );
    let accepted = patch(json!({"allowedOrigins": ["https://app_1.example.com"]})).await;
    assert_eq!(accepted.status(), StatusCode::OK, "{}", text(&accepted));
}

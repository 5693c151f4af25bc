//! The hosted Connect page over HTTP: `GET`/`POST /connect` (each step,
//! rendered in the session's language and the host's brand), the status an
//! embedded page polls, and the return from a provider's own sign-in.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};

use super::browser::{browser_of, browser_or_new, error_page, form_target, with_browser_cookie};
use super::{allow, embed, response};
use crate::connect::browser::BrowserSecret;
use crate::connect::steps::{LinkFormValues, ProviderReturn, Step, StepAction, StepOutcome};
use crate::connect::{ConnectDecision, ConnectPage, CustomerInfoInput, LocationInput, StepRefusal};
use crate::hooks::link::LinkMethod;
use crate::http::params::Params;
use crate::http::ui;
use crate::oauth::authorize::ErrorPage;
use crate::server::AuthorizationServer;
use crate::storage::{ConnectEmbed, ConnectMode, EmbedMode, Storage};

fn customer_view<'a>(page: &'a ConnectPage, form: Option<&'a Params>) -> ui::CustomerView<'a> {
    let c = &page.customer;
    let location = c.location.as_ref();
    let pick = |name: &str, known: Option<&'a str>| form.and_then(|f| f.get(name)).or(known);
    ui::CustomerView {
        first_name: pick("firstName", c.first_name.as_deref()),
        last_name: pick("lastName", c.last_name.as_deref()),
        email: pick("email", c.email.as_deref()),
        phone: pick("phone", c.phone.as_deref()),
        street_one: pick("streetOne", location.map(|l| l.street_one.as_str())),
        city: pick("city", location.map(|l| l.city.as_str())),
        state: pick("state", location.map(|l| l.state.as_str())),
        postal_code: pick("postalCode", location.map(|l| l.postal_code.as_str())),
        country: pick("country", location.map(|l| l.country.as_str())),
    }
}

/// How a page is shown: its status, and what to tell the user.
pub(super) struct Shown<'a> {
    pub(super) status: StatusCode,
    pub(super) form: Option<&'a Params<'a>>,
    pub(super) error: Option<&'a crate::error::FieldError>,
    pub(super) notice: Option<String>,
    pub(super) search: Option<&'a str>,
}

impl Default for Shown<'_> {
    fn default() -> Self {
        Self {
            status: StatusCode::OK,
            form: None,
            error: None,
            notice: None,
            search: None,
        }
    }
}

/// The steps this flow shows, in order, and where `step` stands among
/// them (1-based).
fn progress(page: &ConnectPage) -> (usize, usize) {
    let flow = &page.flow;
    let steps = &flow.steps;
    let at = steps
        .iter()
        .position(|s| *s == flow.step)
        .map_or(1, |i| i + 1);
    (at, steps.len().max(at))
}

/// The body of the current step.
fn step_body<'a>(
    server_catalogue: &'a crate::hooks::resource_owner::ScopeCatalogue,
    page: &'a ConnectPage,
    shown: &Shown<'a>,
) -> ui::StepBody<'a> {
    let flow = &page.flow;
    let provider_name = flow
        .provider
        .as_ref()
        .map_or("the provider", |p| p.name.as_str());
    match flow.step {
        Step::Terms => match &flow.terms {
            Some(terms) => ui::StepBody::Terms {
                text: &terms.text,
                url: terms.url.as_deref(),
            },
            None => ui::StepBody::Customer(customer_view(page, shown.form)),
        },
        Step::Provider => ui::StepBody::Provider {
            providers: flow
                .providers
                .iter()
                .map(|p| ui::ProviderLine {
                    id: &p.id,
                    name: &p.name,
                    categories: &p.categories,
                    logo_url: p.logo_url.as_deref(),
                })
                .collect(),
            search: shown.search,
        },
        Step::Link => match flow.provider.as_ref().map(|p| &p.method) {
            Some(LinkMethod::Form(fields)) => ui::StepBody::LinkForm {
                provider: provider_name,
                fields: fields
                    .iter()
                    .map(|f| ui::LinkInput {
                        name: &f.name,
                        label: &f.label,
                        kind: &f.kind,
                        required: f.required,
                        // What was typed before a failed attempt (the
                        // renderer never shows a password).
                        value: shown.form.and_then(|form| form.get(&f.name)),
                    })
                    .collect(),
                can_change: flow.can_change_provider,
            },
            _ => ui::StepBody::LinkRedirect {
                provider: provider_name,
                can_change: flow.can_change_provider,
            },
        },
        Step::Customer => ui::StepBody::Customer(customer_view(page, shown.form)),
        _ => ui::StepBody::Consent {
            scopes: page
                .scopes
                .iter()
                .map(|s| ui::ScopeLine {
                    token: s.as_str(),
                    description: server_catalogue.description(s.as_str()),
                })
                .collect(),
            customer: customer_view(page, None),
            linked: flow.linked.as_ref().map(|l| l.label.as_str()),
        },
    }
}

/// The hosted page at its current step, in the session's language (else
/// the browser's).
pub(super) fn render<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
    page: &ConnectPage,
    shown: Shown<'_>,
) -> Response<Bytes> {
    let config = server.config();
    let flow = &page.flow;
    let lang = ui::language(config, page.locale.as_deref(), headers);
    let look = ui::Look {
        config,
        lang: &lang,
        app_logo: page.app.logo_uri.as_deref(),
    };
    crate::telemetry::connect_step(flow.step.as_str());
    let body = step_body(config.scope_catalogue(), page, &shown);
    let error = shown.error.map(|e| {
        let message = look.t(ui::keys::problem_key(&e.problem)).to_owned();
        (e.field, message)
    });
    let action = format!("{}/connect", config.issuer().path().trim_end_matches('/'));
    // The server-wide ancestors, and the app's own origins (its pages open
    // the page as a modal iframe); a popup's pages, no one.
    let popup = page
        .embed
        .as_ref()
        .is_some_and(|e| e.mode == EmbedMode::Popup);
    let ancestors: Vec<&str> = config
        .frame_ancestors()
        .iter()
        .map(String::as_str)
        .chain(
            page.app
                .allowed_origins
                .iter()
                .map(crate::model::origin::Origin::as_str),
        )
        .filter(|_| !popup)
        .collect();
    let frame_ancestors = if ancestors.is_empty() {
        "'none'".to_owned()
    } else {
        ancestors.join(" ")
    };
    let mut targets: Vec<String> = form_target(&page.redirect_url).into_iter().collect();
    let redirect_provider = flow
        .provider
        .as_ref()
        .is_some_and(|p| p.method == LinkMethod::Redirect);
    if flow.step == Step::Link && redirect_provider {
        // A redirect link's form post is answered with a redirect to the
        // provider's own authorization page, whose address only the hook
        // knows: form-action must allow it (a form link posts here only).
        targets.push("https:".to_owned());
    }
    // The picker shows the providers' logos: exactly their origins.
    let mut images: Vec<String> = Vec::new();
    if flow.step == Step::Provider {
        for origin in flow
            .providers
            .iter()
            .filter_map(|p| p.logo_url.as_deref())
            .filter_map(crate::hooks::link::logo_origin)
        {
            if !images.contains(&origin) {
                images.push(origin);
            }
        }
    }
    // The page's script: on an embedded page it reports the step to the
    // window that opened it (and, on a redirect link step, opens the
    // provider's sign-in in a window of its own and waits for it); on the
    // picker it filters the providers as the user types.
    let embedded = page
        .embed
        .as_ref()
        .and_then(|e| Some((e, embed::web_origin(&page.redirect_url)?)));
    let redirect_link =
        flow.step == Step::Link && matches!(body, ui::StepBody::LinkRedirect { .. });
    let picker = matches!(body, ui::StepBody::Provider { .. });
    let mut data = Vec::new();
    if let Some((embed, origin)) = &embedded {
        data.extend([
            ("target", embed::target(embed.mode)),
            ("target-origin", origin.clone()),
            (
                "message",
                embed::message(
                    embed,
                    "step",
                    serde_json::json!({ "step": flow.step.as_str() }),
                ),
            ),
            ("nonce", embed.nonce.clone()),
        ]);
        if redirect_link {
            data.push((
                "status",
                crate::model::redirect::append_query(
                    &embed::issuer_path(server, "/connect/status"),
                    &[("token", page.session.expose_secret())],
                ),
            ));
            data.push(("version", page.step_version.to_string()));
        }
    }
    if picker {
        data.push(("count", look.t("picker.count").to_owned()));
    }
    let nonce = if data.is_empty() {
        None
    } else {
        match embed::csp_nonce(server) {
            Some(nonce) => Some(nonce),
            None => return error_page(ErrorPage::TemporarilyUnavailable),
        }
    };
    let mut src = String::new();
    let script = nonce
        .as_deref()
        .map(|nonce| embed::page_script(server, &mut src, nonce, data));
    let view = ui::ConnectView {
        action: &action,
        client_name: &page.client_name,
        update: page.mode == ConnectMode::Update,
        token: page.session.expose_secret(),
        csrf_token: page.csrf_token.expose_secret(),
        body,
        progress: progress(page),
        error,
        notice: shown.notice,
        link_error: flow
            .link_error
            .as_deref()
            .filter(|_| flow.step == Step::Link),
        embed: embedded.as_ref().map(|(embed, _)| ui::EmbedView {
            link_window: format!(
                "oc-link-{}",
                embed.nonce.chars().take(12).collect::<String>()
            ),
            binding: &page.browser_binding,
        }),
        script,
    };
    let policy = nonce.as_deref().map(|nonce| ui::ScriptPolicy {
        nonce,
        fetch_self: redirect_link && embedded.is_some(),
    });
    let csp =
        ui::content_security_policy(&look, &targets, &frame_ancestors, policy.as_ref(), &images);
    let answer = response::html(shown.status, ui::connect_page(&look, &view), &csp);
    match embedded.map(|(embed, _)| embed.mode) {
        Some(EmbedMode::Popup) => response::keep_opener(answer),
        _ => answer,
    }
}

fn see_page<S: Storage>(server: &AuthorizationServer<S>, token: &str) -> Response<Bytes> {
    response::see_other(&crate::model::redirect::append_query(
        &format!("{}/connect", server.config().issuer_str()),
        &[("token", token)],
    ))
}

/// Whether a form post comes from a page of this server itself: its
/// `Origin` is the issuer's origin, and `Sec-Fetch-Site`, when the browser
/// sends it, says `same-origin`. Both are set by the browser; no page of
/// another site can make such a request.
fn same_origin_post<S: Storage>(server: &AuthorizationServer<S>, headers: &HeaderMap) -> bool {
    let issuer = server.config().issuer().origin().ascii_serialization();
    let origin = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    origin == Some(issuer.as_str()) && site.is_none_or(|s| s == "same-origin")
}

/// `GET /connect?token=…[&q=…]` and `POST /connect`.
pub(super) async fn page<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET, Method::POST]) {
        return response;
    }
    if request.method() == Method::POST {
        return post(server, request).await;
    }
    let Ok(query) = Params::parse_query(request.uri().query()) else {
        return error_page(ErrorPage::UnknownRequest);
    };
    let Some(token) = query.get("token") else {
        return error_page(ErrorPage::UnknownRequest);
    };
    // The embed script's marker: both parts or none.
    let embed = match (query.get("embed"), query.get("nonce")) {
        (None, None) => None,
        (Some(mode), Some(nonce)) => match ConnectEmbed::parse(mode, nonce) {
            Some(embed) => Some(embed),
            None => return error_page(ErrorPage::UnknownRequest),
        },
        _ => return error_page(ErrorPage::UnknownRequest),
    };
    // Opening claims nothing (the first form post does): a browser
    // without a valid binding cookie gets one, for its page's CSRF token.
    let (browser, cookie) = match browser_or_new(server, request.headers()) {
        Ok(browser) => browser,
        Err(response) => return response,
    };
    if let Some(embed) = &embed
        && let Err(page) = server.connect_embed(token, &browser, embed).await
    {
        return embed::connect_error(server, request.headers(), token, Some(embed), page).await;
    }
    let search = query.get("q");
    match server.connect_open(token, &browser, search).await {
        Ok(page) => with_browser_cookie(
            render(
                server,
                request.headers(),
                &page,
                Shown {
                    search,
                    ..Shown::default()
                },
            ),
            cookie.as_deref(),
        ),
        Err(page) => {
            embed::connect_error(server, request.headers(), token, embed.as_ref(), page).await
        }
    }
}

/// `GET /connect/status?token=…`: where the flow stands, for an embedded
/// page waiting while the user signs in at a provider in another window.
///
/// Asked cross-origin (with an `Origin` header), by the embed script
/// before it opens a modal, the answer also says whether the hosted page
/// lets that origin frame it and reports to it (`embed`, an
/// [`EmbedCheck`](crate::connect::steps::EmbedCheck)), and is readable there (CORS:
/// `Access-Control-Allow-Origin` naming that origin, no credentials), the
/// errors included. The Connect token is the credential; nothing in the
/// answer is more than its holder sees on the page itself.
pub(super) async fn status<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET]) {
        return response;
    }
    let origin = super::cors::origin(request.headers());
    let readable = |answer: Response<Bytes>| match origin {
        Some(origin) => super::cors::allow_origin(answer, origin),
        None => answer,
    };
    let token = Params::parse_query(request.uri().query())
        .ok()
        .and_then(|q| q.get("token").map(str::to_owned));
    let Some(token) = token else {
        return readable(response::api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the query must carry the Connect token as `token`",
            Some("token"),
        ));
    };
    let answer = match origin {
        Some(origin) => server
            .connect_embed_check(&token, origin)
            .await
            .map(|(status, check)| {
                serde_json::json!({
                    "step": status.step.as_str(),
                    "version": status.version,
                    "embed": {
                        "origin": check.origin,
                        "framable": check.framable,
                        "messages": check.messages,
                    },
                })
            }),
        None => server.connect_status(&token).await.map(
            |status| serde_json::json!({ "step": status.step.as_str(), "version": status.version }),
        ),
    };
    let answer = match answer {
        Ok(body) => response::json(StatusCode::OK, &body),
        Err(page) => {
            let (status, code) = match page {
                ErrorPage::ExpiredRequest => (StatusCode::GONE, "session_expired"),
                ErrorPage::CompletedRequest => (StatusCode::GONE, "session_used"),
                ErrorPage::TemporarilyUnavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
                }
                _ => (StatusCode::NOT_FOUND, "not_found"),
            };
            response::api_error(status, code, page.message(), None)
        }
    };
    readable(response::no_store(answer))
}

fn customer_input(form: &Params) -> CustomerInfoInput {
    let get = |name: &str| form.get(name).map(str::to_owned);
    let location = LocationInput {
        street_one: get("streetOne"),
        city: get("city"),
        state: get("state"),
        postal_code: get("postalCode"),
        country: get("country"),
    };
    CustomerInfoInput {
        first_name: get("firstName"),
        last_name: get("lastName"),
        email: get("email"),
        phone: get("phone"),
        location: Some(location),
    }
}

/// The form's step and action as a typed step action.
fn step_action(step: Step, form: &Params) -> Option<StepAction> {
    match (step, form.get("action")) {
        (Step::Terms, Some("accept")) => Some(StepAction::AcceptTerms),
        (Step::Provider, _) => form
            .get("provider")
            .map(|p| StepAction::ChooseProvider(p.to_owned())),
        (Step::Link, Some("start")) => Some(StepAction::StartLink),
        (Step::Link, Some("change")) => Some(StepAction::ChangeProvider),
        (Step::Link, Some("submit")) => {
            let mut values = LinkFormValues::new();
            for (name, value) in form.pairs().filter(|(n, _)| {
                !matches!(*n, "token" | "csrf_token" | "step" | "action" | "decision")
            }) {
                values.insert(name, value);
            }
            Some(StepAction::SubmitLink(values))
        }
        (Step::Customer, _) => Some(StepAction::SubmitCustomer(Box::new(customer_input(form)))),
        _ => None,
    }
}

async fn post<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    let Ok(form) = Params::parse(request.body()) else {
        return error_page(ErrorPage::InvalidCsrfToken);
    };
    let (Some(token), Some(csrf)) = (form.get("token"), form.get("csrf_token")) else {
        return error_page(ErrorPage::InvalidCsrfToken);
    };
    let step = form.get("step").and_then(Step::parse);
    // The provider sign-in window of an embedded modal page starts its
    // link without the page's cookie, with the page's binding instead (see
    // `connect_link_in_window`).
    let link_window = step == Some(Step::Link)
        && form.get("action") == Some("start")
        && form.get("decision").is_none()
        && same_origin_post(server, request.headers());
    let binding = form.get("binding").unwrap_or_default();
    let Some(browser) = browser_of(server, request.headers()) else {
        if link_window {
            return link_in_window(server, token, csrf, binding, None).await;
        }
        return embed::connect_error(
            server,
            request.headers(),
            token,
            None,
            ErrorPage::OtherBrowser,
        )
        .await;
    };
    let browser = &browser;
    // Approve on the consent step; deny (exit) from any step.
    let outcome = match (form.get("decision"), step) {
        (Some("deny"), _) => server
            .connect_complete(token, csrf, browser, ConnectDecision::Deny)
            .await
            .map(Some),
        (Some("approve"), Some(Step::Consent)) => server
            .connect_complete(token, csrf, browser, ConnectDecision::Approve)
            .await
            .map(Some),
        (Some(_), _) => Err(StepRefusal::OutOfOrder),
        (None, Some(step)) => match step_action(step, &form) {
            Some(action) => match server
                .connect_step(token, csrf, browser, step, action)
                .await
            {
                Ok(StepOutcome::Redirect(url)) => return response::see_other(&url),
                // A failed form link: the form again, with what the user
                // typed (never a password) and why it failed.
                Ok(_) if step == Step::Link && form.get("action") == Some("submit") => match server
                    .connect_open(token, browser, None)
                    .await
                {
                    Ok(page) if page.flow.step == Step::Link && page.flow.link_error.is_some() => {
                        return render(
                            server,
                            request.headers(),
                            &page,
                            Shown {
                                form: Some(&form),
                                ..Shown::default()
                            },
                        );
                    }
                    _ => Ok(None),
                },
                Ok(_) => Ok(None),
                // The window has a cookie of its own (another flow's).
                Err(StepRefusal::Page(ErrorPage::OtherBrowser | ErrorPage::InvalidCsrfToken))
                    if link_window =>
                {
                    return link_in_window(server, token, csrf, binding, Some(browser)).await;
                }
                Err(e) => Err(e),
            },
            None => Err(StepRefusal::OutOfOrder),
        },
        (None, None) => Err(StepRefusal::OutOfOrder),
    };
    match outcome {
        Ok(Some(to)) => match &to.embed {
            Some(embed) => {
                let reason = if step == Some(Step::Consent) {
                    "denied"
                } else {
                    "user-cancelled"
                };
                let record = server.any_connect_session(token).await;
                let locale = record
                    .as_ref()
                    .and_then(|r| r.connect.as_deref())
                    .and_then(|c| c.locale.as_deref());
                let config = server.config();
                let lang = ui::language(config, locale, request.headers());
                let look = ui::Look {
                    config,
                    lang: &lang,
                    app_logo: None,
                };
                embed::connect_result(server, &look, &to, embed, reason)
            }
            None => response::see_other(&to.location),
        },
        Ok(None) => see_page(server, token),
        Err(StepRefusal::Page(page)) => embed::connect_error(server, request.headers(), token, None, page).await,
        Err(StepRefusal::Invalid(field)) => match server.connect_open(token, browser, None).await {
            Ok(page) => render(
                server,
                request.headers(),
                &page,
                Shown {
                    status: StatusCode::BAD_REQUEST,
                    form: Some(&form),
                    error: Some(&field),
                    ..Shown::default()
                },
            ),
            Err(page) => error_page(page),
        },
        Err(StepRefusal::OutOfOrder) => match server.connect_open(token, browser, None).await {
            Ok(page) => render(
                server,
                request.headers(),
                &page,
                Shown {
                    status: StatusCode::CONFLICT,
                    notice: Some("That step was already done (or is not available yet): here is where you are.".to_owned()),
                    ..Shown::default()
                },
            ),
            Err(page) => error_page(page),
        },
    }
}

/// The provider sign-in window of an embedded modal page starting its link
/// (a same-origin post without the session's cookie, or with this window's
/// own, carrying the page's `binding`): bound to the window's secret, given
/// to it now if it has none.
async fn link_in_window<S: Storage>(
    server: &AuthorizationServer<S>,
    token: &str,
    csrf: &str,
    binding: &str,
    window: Option<&BrowserSecret>,
) -> Response<Bytes> {
    let (window, cookie) = match window {
        Some(window) => (window.clone(), None),
        None => match server.new_browser_secret() {
            Ok(window) => {
                let cookie = server.browser_cookie(&window);
                (window, Some(cookie))
            }
            Err(_) => return error_page(ErrorPage::TemporarilyUnavailable),
        },
    };
    match server
        .connect_link_in_window(token, csrf, binding, &window)
        .await
    {
        Ok(StepOutcome::Redirect(url)) => {
            with_browser_cookie(response::see_other(&url), cookie.as_deref())
        }
        // The hook failed: the page shows why (in the embedded page,
        // which moves on by itself; here, in this window).
        Ok(_) => see_page(server, token),
        Err(StepRefusal::Page(page)) => error_page(page),
        Err(_) => error_page(ErrorPage::CompletedRequest),
    }
}

/// `GET /connect/callback/{provider}`: the return from a provider's own
/// authorization page to the link step.
pub(super) async fn callback<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    provider: &str,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET]) {
        return response;
    }
    let query = request.uri().query().unwrap_or_default();
    let Ok(pairs) = crate::http::params::pairs(query.as_bytes()) else {
        return error_page(ErrorPage::InvalidLinkState);
    };
    // The first `state` is the crate's to check; the rest is the hook's.
    let state = pairs
        .iter()
        .find(|(n, _)| n == "state")
        .map(|(_, v)| v.clone().into_owned());
    let mut back = ProviderReturn::new(state);
    for (name, value) in pairs.iter().filter(|(n, _)| n != "state") {
        back.insert(name.as_ref(), value.as_ref());
    }
    let browser = browser_of(server, request.headers());
    match server
        .connect_link_callback(provider, &back, browser.as_ref())
        .await
    {
        // An embedded page's sign-in window: it closes; the page moves on.
        Ok(back) if back.embed.is_some() => {
            embed::link_window_return(server, request.headers(), None, &back.provider, back.linked)
        }
        Ok(back) => response::see_other(&back.location),
        Err(page) => error_page(page),
    }
}

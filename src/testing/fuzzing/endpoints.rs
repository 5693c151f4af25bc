//! The checks that drive the HTTP surface, through
//! [`AuthorizationServer::handle`](crate::AuthorizationServer::handle).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::Value;

use crate::credentials::{CredentialPrefixes, kind};
use crate::http::BearerRejection;
use crate::model::redirect::RedirectUri;
use crate::{BearerKind, credentials::Credential};

use super::{
    ALLOWED_ORIGIN, CLIENT_ERRORS, Harness, ISSUER, MARKUP_MARKER, PAR_ERRORS, PROVIDER_AUTHORIZE,
    REGISTERED, form_request,
};

impl Harness {
    /// `GET /oauth/authorize?<data>`: never a 5xx, and a redirect only to a
    /// registered redirect URI.
    pub fn authorize_query(&self, data: &[u8]) {
        let data = self.expand(data);
        let Ok(query) = std::str::from_utf8(&data) else {
            return;
        };
        let Ok(request) = Request::get(format!("/oauth/authorize?{query}")).body(Bytes::new())
        else {
            return; // not a URI any HTTP server would hand over
        };
        let response = self.handle(request);
        assert_redirect_registered(&response);
    }

    /// A form body posted to the token (first byte 0), revocation (1),
    /// introspection (2) or PAR (3) endpoint, with the confidential
    /// client's Basic credentials when the first byte's bit 2 is set:
    /// never a 5xx, and every error body is RFC 6749 §5.2 JSON.
    pub fn client_form(&self, data: &[u8]) {
        let data = self.expand(data);
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let path = match selector & 3 {
            0 => "/oauth/token",
            1 => "/oauth/revoke",
            2 => "/oauth/introspect",
            _ => "/oauth/par",
        };
        let basic = (selector & 4 != 0).then(|| self.basic());
        let response = self.handle(form_request(path, body.to_vec(), basic.as_deref()));
        assert_client_error_body(&response, path == "/oauth/par");
    }

    /// `Authorization: <data>` on a client-credentials token request: never
    /// a 5xx, §5.2 error bodies, and tokens only for the real credentials.
    pub fn basic_header(&self, data: &[u8]) {
        let data = self.expand(data);
        let data = data.as_slice();
        let Ok(value) = http::HeaderValue::from_bytes(data) else {
            return;
        };
        let mut request = form_request(
            "/oauth/token",
            b"grant_type=client_credentials".to_vec(),
            None,
        );
        request.headers_mut().insert("authorization", value);
        let response = self.handle(request);
        assert_client_error_body(&response, false);
        if response.status() == StatusCode::OK {
            let text = std::str::from_utf8(data).expect("visible ASCII");
            let (scheme, encoded) = text.trim().split_once(' ').expect("a scheme");
            assert!(scheme.eq_ignore_ascii_case("basic"));
            let lenient = base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
            );
            let decoded = lenient.decode(encoded.trim()).expect("base64");
            let decoded = String::from_utf8(decoded).expect("UTF-8");
            let (id, secret) = decoded.split_once(':').expect("id:secret");
            let unescape = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            assert_eq!(unescape(id), self.confidential_id);
            assert_eq!(unescape(secret), self.secret);
        }
    }

    /// A management JSON body, sent with the admin key to create (first
    /// byte 0), update (1) or rotate the secret of (2) an app: never a 5xx,
    /// and a 400 names a field or says `invalid_request`.
    pub fn management_json(&self, data: &[u8]) {
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let (method, path) = match selector % 3 {
            0 => (http::Method::POST, "/v1/oauth-apps".to_owned()),
            1 => (
                http::Method::PATCH,
                format!("/v1/oauth-apps/{}", self.app_id),
            ),
            _ => (
                http::Method::POST,
                format!("/v1/oauth-apps/{}/rotate-secret", self.app_id),
            ),
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.admin_key))
            .header("content-type", "application/json")
            .body(Bytes::copy_from_slice(body))
            .expect("a request");
        let response = self.handle(request);
        assert_field_error(&response);
    }

    /// The consent form's post, `data` as its body, with the CSRF cookie of
    /// the harness's pending prompt: never a 5xx; a redirect only to a
    /// registered URI and only when the body carried that prompt's CSRF
    /// token.
    pub fn consent_post(&mut self, data: &[u8]) {
        let data = self.expand(data);
        let cookie = format!(
            "oc_consent_{}={}",
            self.csrf_token
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect::<String>(),
            self.csrf_token
        );
        let mut request = form_request("/oauth/authorize", data.clone(), None);
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("a cookie"));
        let response = self.handle(request);
        assert_redirect_registered(&response);
        if response.status().is_redirection() {
            let form: Vec<(String, String)> = form_urlencoded::parse(&data).into_owned().collect();
            assert!(
                form.iter()
                    .any(|(n, v)| n == "csrf_token" && *v == self.csrf_token),
                "a decision without the CSRF token was accepted"
            );
            self.new_prompt();
        }
    }

    /// A `POST /v1/connect/sessions` body, from the confidential client
    /// (first byte 0, Basic), the admin key (1; `$APP` names the app) or
    /// the publishable key from the allowed origin (2): never a 5xx; a 400
    /// names a field or says `invalid_request`; a 201 carries a Connect
    /// token, the hosted page's URL, a `mode`, and the request's
    /// `referenceId` (or a generated one; with the publishable key always a
    /// generated one, no `customerId` and `create` mode), and only for a
    /// `redirectUrl` the app registered, exactly.
    pub fn connect_json(&self, data: &[u8]) {
        let data = self.expand(data);
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let mut request =
            Request::post("/v1/connect/sessions").header("content-type", "application/json");
        request = match selector % 3 {
            0 => request.header("authorization", self.basic()),
            1 => request.header("authorization", format!("Bearer {}", self.admin_key)),
            _ => request
                .header("authorization", format!("Bearer {}", self.publishable_key))
                .header("origin", ALLOWED_ORIGIN),
        };
        let response = self.handle(
            request
                .body(Bytes::copy_from_slice(body))
                .expect("a request"),
        );
        assert_field_error(&response);
        if response.status() != StatusCode::CREATED {
            return;
        }
        let sent: Value = serde_json::from_slice(body).expect("a 201 for a JSON body");
        let created: Value = serde_json::from_slice(response.body()).expect("a JSON answer");
        let redirect = sent["redirectUrl"].as_str().expect("a redirectUrl");
        assert!(
            REGISTERED.contains(&redirect),
            "a session for an unregistered redirect URL: {redirect}"
        );
        let token = created["connectToken"].as_str().expect("a Connect token");
        Credential::<kind::ConnectToken>::parse(&CredentialPrefixes::default(), token)
            .expect("a well-formed Connect token");
        let url = created["url"].as_str().expect("a url");
        assert!(
            url.starts_with(&format!("{ISSUER}/connect?token=")),
            "{url}"
        );
        assert!(matches!(
            created["mode"].as_str(),
            Some("create" | "update")
        ));
        let reference = created["referenceId"].as_str().expect("a referenceId");
        assert!(!reference.is_empty() && reference.chars().count() <= 255);
        if selector % 3 == 2 {
            // A web page's `referenceId` is a label: the session's own is
            // generated, names no customer, and the mode is `create`.
            assert!(reference.starts_with("oc-generated:"), "{reference}");
            assert!(created.get("customerId").is_none(), "{created}");
            assert_eq!(created["mode"], "create");
        } else if let Some(given) = sent["referenceId"].as_str() {
            assert_eq!(reference, given, "the referenceId given is kept");
        }
        assert!(created["expiresAt"].is_string());
    }

    /// A post of the hosted Connect page's forms (`POST /connect`), `data`
    /// after its first byte as the body, with the open session's browser
    /// cookie when the first byte's bit 0 is set and the issuer's `Origin`
    /// when its bit 1 is: never a 5xx; a redirect only back to the hosted
    /// page, to the provider's sign-in page or to a registered redirect
    /// URI, the latter only for the session's browser and CSRF token, and
    /// with a `code` only for an approval posted at the consent step; a
    /// form value carrying [`MARKUP_MARKER`] never comes back unescaped.
    pub fn connect_form(&mut self, data: &[u8]) {
        let data = self.expand(data);
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let with_cookie = selector & 1 != 0;
        let mut request = form_request("/connect", body.to_vec(), None);
        let headers = request.headers_mut();
        if with_cookie {
            headers.insert("cookie", self.browser_cookie.parse().expect("a cookie"));
        }
        if selector & 2 != 0 {
            headers.insert("origin", http::HeaderValue::from_static(ISSUER));
        }
        let response = self.handle(request);
        let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        for (_, value) in &form {
            if value.contains(MARKUP_MARKER) {
                let page = String::from_utf8_lossy(response.body());
                assert!(
                    !page.contains(value.as_str()),
                    "echoed unescaped: {value:?}"
                );
            }
        }
        let Some(location) = response.headers().get("location") else {
            return;
        };
        let location = location.to_str().expect("an ASCII Location");
        let has = |name: &str, value: &str| form.iter().any(|(n, v)| n == name && v == value);
        if location.starts_with("/connect?") || location.starts_with(&format!("{ISSUER}/connect?"))
        {
            return;
        }
        if location.starts_with(&format!("{PROVIDER_AUTHORIZE}?")) {
            assert!(has("action", "start"), "a provider redirect without start");
            return;
        }
        assert_redirect_registered(&response);
        assert!(
            with_cookie && has("csrf_token", &self.connect_csrf),
            "left the flow without the session's browser and CSRF token: {location}"
        );
        let to_client = url::Url::parse(location).expect("an absolute redirect");
        if to_client.query_pairs().any(|(n, _)| n == "code") {
            assert!(
                has("decision", "approve") && has("step", "consent"),
                "a code without an approval at the consent step"
            );
        }
        self.new_connect_session();
    }

    /// `Authorization: <data>` at a protected resource
    /// ([`AuthorizationServer::authenticate_request`]): a principal only
    /// for the harness's live access token or scoped key, of that kind; a
    /// refusal is one of the variants that carry no data (so never the
    /// credential) and answers with an RFC 6750 challenge.
    pub fn bearer_header(&self, data: &[u8]) {
        let data = self.expand(data);
        let Ok(value) = http::HeaderValue::from_bytes(&data) else {
            return;
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", value);
        let presented = String::from_utf8_lossy(&data);
        match self
            .runtime
            .block_on(self.server.authenticate_request(&headers))
        {
            Ok(principal) => {
                // A field value's surrounding whitespace is not part of it
                // (RFC 9110 §5.5).
                let (scheme, credential) = presented
                    .trim_matches([' ', '\t'])
                    .split_once(' ')
                    .expect("a scheme and a credential");
                assert!(scheme.eq_ignore_ascii_case("bearer"));
                let credential = credential.trim_matches(' ');
                let expected = match principal.kind {
                    BearerKind::AccessToken => &self.access_token,
                    BearerKind::ScopedKey => &self.scoped_key,
                };
                assert_eq!(credential, expected, "a principal for another credential");
            }
            Err(rejection) => {
                // The refusals a presented credential can cause carry no
                // data: nothing of the credential can reach the answer.
                assert!(
                    matches!(
                        rejection,
                        BearerRejection::Missing
                            | BearerRejection::InvalidRequest
                            | BearerRejection::InvalidToken
                    ),
                    "{rejection:?}"
                );
                let answer = rejection.to_response();
                let challenge = answer
                    .headers()
                    .get("www-authenticate")
                    .expect("an RFC 6750 challenge")
                    .to_str()
                    .expect("ASCII");
                assert!(challenge.starts_with("Bearer realm=\"oauth-connect\""));
            }
        }
    }

    /// `Origin: <data>` on a CORS preflight of session creation, then on
    /// the session request itself with the harness's publishable key. The
    /// preflight reads nothing: every origin that is a header's visible
    /// ASCII gets the same 204, naming exactly that origin (anything else,
    /// a 403 without CORS headers). The request creates a session only from
    /// the app's allowed origin, byte for byte; from any other it is a 403
    /// no page can read.
    pub fn origin_preflight(&self, data: &[u8]) {
        let Ok(value) = http::HeaderValue::from_bytes(data) else {
            return;
        };
        let request = Request::builder()
            .method(http::Method::OPTIONS)
            .uri("/v1/connect/sessions")
            .header("origin", value.clone())
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(Bytes::new())
            .expect("a request");
        let response = self.handle(request);
        let allowed = response.headers().get("access-control-allow-origin");
        if value.to_str().is_ok() {
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
            assert_eq!(allowed.map(|v| v.as_bytes()), Some(data), "another origin");
        } else {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert!(allowed.is_none());
        }
        let request = Request::post("/v1/connect/sessions")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.publishable_key))
            .header("origin", value)
            .body(Bytes::from(format!(
                r#"{{"redirectUrl":"{}"}}"#,
                REGISTERED[0]
            )))
            .expect("a request");
        let response = self.handle(request);
        if data == ALLOWED_ORIGIN.as_bytes() {
            assert_eq!(response.status(), StatusCode::CREATED);
        } else {
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "a session from an unregistered origin"
            );
            assert!(
                response
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none()
            );
        }
    }

    /// How many Connect sessions the harness has opened for the step
    /// posts: one more each time a post ends the open one.
    pub fn connect_sessions_opened(&self) -> u64 {
        self.connect_sessions
    }
}

/// A 400 from the JSON API names a field or says `invalid_request`.
fn assert_field_error(response: &Response<Bytes>) {
    if response.status() == StatusCode::BAD_REQUEST {
        let json: Value = serde_json::from_slice(response.body()).expect("a JSON error body");
        let named_field = json["field"].as_str().is_some_and(|f| !f.is_empty());
        assert!(
            named_field || json["error"] == "invalid_request",
            "a 400 without a field or invalid_request: {json}"
        );
    }
}

fn assert_redirect_registered(response: &Response<Bytes>) {
    let Some(location) = response.headers().get("location") else {
        return;
    };
    let location = location.to_str().expect("an ASCII Location");
    // The registered URIs carry no query, so the redirect URI is what
    // precedes the response parameters; a loopback IP literal may add a port
    // (RFC 8252 §7.3), so the library's own matching decides.
    let target = location.split_once('?').map_or(location, |(uri, _)| uri);
    assert!(
        REGISTERED
            .iter()
            .filter_map(|uri| RedirectUri::parse(uri).ok())
            .any(|uri| uri.matches(target)),
        "redirect to an unregistered URI: {location}"
    );
}

/// An error from a client endpoint is `{"error": <§5.2 code>,
/// "error_description"?: <NQSCHAR*>}` and nothing else (PAR may also use
/// the authorization endpoint's codes).
fn assert_client_error_body(response: &Response<Bytes>, par: bool) {
    if !response.status().is_client_error() {
        return;
    }
    let json: Value = serde_json::from_slice(response.body()).unwrap_or_else(|e| {
        panic!(
            "{} with a non-JSON body ({e}): {}",
            response.status(),
            String::from_utf8_lossy(response.body())
        )
    });
    let object = json.as_object().expect("a JSON object");
    let code = object["error"].as_str().expect("an error code");
    let allowed = CLIENT_ERRORS.contains(&code)
        || (par && PAR_ERRORS.contains(&code))
        || (response.status() == StatusCode::METHOD_NOT_ALLOWED && code == "method_not_allowed");
    assert!(allowed, "not an RFC 6749 §5.2 error: {json}");
    for (name, value) in object {
        match name.as_str() {
            "error" => {}
            "error_description" => {
                let text = value.as_str().expect("a string description");
                assert!(
                    text.bytes()
                        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
                    "error_description outside NQSCHAR: {text:?}"
                );
            }
            other => panic!("unexpected member {other} in {json}"),
        }
    }
}

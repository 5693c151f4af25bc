//! The HTTP client of the tests that drive the example servers as
//! processes: it never follows redirects, keeps the hosted Connect pages'
//! binding cookie as a browser does, and checks every answer against the
//! OpenAPI document.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::example_process::Process;
use crate::openapi_check::Spec;

/// An answer, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON (`null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// A header's value, if it is there and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Location`; panics, saying what came instead, without one.
    pub fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location; {}: {}", self.status, self.text))
            .to_owned()
    }
}

/// A confidential app, with what Basic authentication needs.
pub struct Confidential {
    pub id: String,
    pub client_id: String,
    pub secret: String,
}

impl Confidential {
    /// From the management API's `201` answer to the app's creation.
    pub fn from_created(app: &Value) -> Self {
        let text = |name: &str| app[name].as_str().unwrap().to_owned();
        Self {
            id: text("id"),
            client_id: text("clientId"),
            secret: text("clientSecret"),
        }
    }
}

/// A real HTTP client that never follows redirects and checks every
/// answer against the OpenAPI document.
pub struct Http {
    pub client: reqwest::Client,
    pub spec: Spec,
    /// The Connect binding cookie (`name=value`), kept as a browser keeps
    /// it, for every server it talks to (cookies ignore the port).
    connect_cookie: Mutex<Option<String>>,
}

impl Http {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .unwrap();
        Self {
            client,
            spec: Spec::load(),
            connect_cookie: Mutex::default(),
        }
    }

    /// Sends `request` and reads the answer whole, after checking it
    /// against the OpenAPI document.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let mut request = request.build().unwrap();
        let method = request.method().as_str().to_owned();
        let path = request.url().path().to_owned();
        // Like a browser: the hosted Connect pages' binding cookie goes back
        // on every request under its path.
        let connect_path = path == "/connect" || path.starts_with("/connect/");
        let cookie = self.connect_cookie.lock().unwrap().clone();
        if let Some(cookie) = cookie
            && connect_path
            && !request.headers().contains_key("cookie")
        {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().unwrap());
        }
        let response = self.client.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for set in headers.get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            // Its name on an http (loopback) issuer, and on an https one.
            if pair.starts_with("oc_connect_browser=")
                || pair.starts_with("__Host-oc_connect_browser=")
            {
                *self.connect_cookie.lock().unwrap() = Some(pair.to_owned());
            }
        }
        let text = response.text().await.unwrap();
        let is_json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = is_json.then(|| serde_json::from_str(&text).unwrap());
        self.spec.check(&method, &path, status, body.as_ref());
        Reply {
            status,
            headers,
            text,
        }
    }

    /// A form POST to `path` on `server`, authenticated with the app's
    /// Basic credentials (RFC 6749 §2.3.1).
    pub async fn post_basic(
        &self,
        server: &Process,
        path: &str,
        app: &Confidential,
        pairs: &[(&str, &str)],
    ) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.send(
            self.client
                .post(server.url(path))
                .basic_auth(&app.client_id, Some(&app.secret))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }
}

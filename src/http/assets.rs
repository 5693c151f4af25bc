//! The scripts of Connect in the browser, served by [`handle`]:
//!
//! - `GET /connect/sdk.js`: the embed SDK as a classic script (one global,
//!   `OAuthConnect`), and `GET /connect/sdk.mjs`, the same source as an ES
//!   module (`export default`, `export const create`, `export const
//!   version`). Both wrap `src/http/ui/assets/connect-sdk.js`, at compile time.
//! - `GET /connect/sdk/<version>.js`, `.mjs` and `.d.ts`: the same bytes at a
//!   versioned URL, `Cache-Control: immutable`, for a `<script>` tag with
//!   Subresource Integrity ([`ConnectScript::integrity`]).
//! - `GET /connect/sdk.d.ts`: the SDK's TypeScript declarations
//!   (`src/http/ui/assets/connect-sdk.d.ts`: the options, callbacks, error types and
//!   events of `OAuthConnect.create`), for both forms.
//! - `GET /connect/page/<version>.js`: the hosted pages' own side
//!   (`src/http/ui/assets/connect-page.js`), loaded by this server's pages only.
//!
//! Every answer has a strong `ETag` (a 304 for a matching `If-None-Match`).
//! The SDK is readable cross-origin (`Access-Control-Allow-Origin: *`,
//! `Cross-Origin-Resource-Policy: cross-origin`): a module import and an
//! integrity check of a cross-origin script need CORS. It is public code
//! and is fetched without credentials.
//!
//! [`handle`]: crate::AuthorizationServer::handle

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderName,
    HeaderValue, IF_NONE_MATCH,
};
use http::{Method, Request, Response, StatusCode};

use super::{allow, response};

/// The embed SDK as a classic script: defines `window.OAuthConnect`, its
/// server being the script's own URL.
const SDK_CLASSIC: &str = concat!(
    "(function () {\n",
    include_str!("ui/assets/connect-sdk.js"),
    "var script = document.currentScript;\n",
    "window.OAuthConnect = oauthConnect(script && script.src);\n",
    "})();\n"
);

/// The same source as an ES module.
const SDK_MODULE: &str = concat!(
    include_str!("ui/assets/connect-sdk.js"),
    "const OAuthConnect = oauthConnect(import.meta.url);\n",
    "export default OAuthConnect;\n",
    "export const create = OAuthConnect.create;\n",
    "export const version = OAuthConnect.version;\n"
);

/// The SDK's TypeScript declarations.
const SDK_TYPES: &str = include_str!("ui/assets/connect-sdk.d.ts");

/// The hosted pages' script.
const PAGE: &str = include_str!("ui/assets/connect-page.js");

/// One of the scripts the server serves for Connect in the browser, with
/// what a page needs to load it safely.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectScript {
    /// The script, byte for byte as served.
    pub body: &'static str,
    /// Its versioned path under the issuer (`/connect/sdk/<version>.js`),
    /// served with `Cache-Control: public, max-age=31536000, immutable`.
    pub versioned_path: String,
    /// Its Subresource Integrity value, `sha384-<base64>`, for the
    /// `integrity` attribute of the tag that loads
    /// [`versioned_path`](Self::versioned_path) (with
    /// `crossorigin="anonymous"`).
    pub integrity: String,
    /// The version in the path: the first 16 hex digits of the SHA-384.
    version: String,
    /// The strong `ETag`: the quoted SHA-384 in hex.
    etag: String,
    content_type: &'static str,
}

impl ConnectScript {
    fn new(body: &'static str, path: &str, extension: &str) -> Self {
        Self::typed(body, path, extension, "text/javascript; charset=utf-8")
    }

    fn typed(body: &'static str, path: &str, extension: &str, content_type: &'static str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA384, body.as_bytes());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let version = hex[..16].to_owned();
        Self {
            body,
            versioned_path: format!("{path}/{version}.{extension}"),
            integrity: format!("sha384-{}", STANDARD.encode(digest.as_ref())),
            etag: format!("\"{hex}\""),
            version,
            content_type,
        }
    }

    /// The embed SDK as a classic script (`/connect/sdk.js`): one global,
    /// `OAuthConnect`.
    pub fn classic() -> &'static Self {
        static SCRIPT: OnceLock<ConnectScript> = OnceLock::new();
        SCRIPT.get_or_init(|| Self::new(SDK_CLASSIC, "/connect/sdk", "js"))
    }

    /// The embed SDK as an ES module (`/connect/sdk.mjs`): `export default
    /// OAuthConnect` and `export const create`.
    pub fn module() -> &'static Self {
        static SCRIPT: OnceLock<ConnectScript> = OnceLock::new();
        SCRIPT.get_or_init(|| Self::new(SDK_MODULE, "/connect/sdk", "mjs"))
    }

    /// The SDK's TypeScript declarations (`/connect/sdk.d.ts`), for the
    /// classic script's global and the module's exports alike.
    pub fn types() -> &'static Self {
        static SCRIPT: OnceLock<ConnectScript> = OnceLock::new();
        SCRIPT.get_or_init(|| {
            Self::typed(
                SDK_TYPES,
                "/connect/sdk",
                "d.ts",
                "application/typescript; charset=utf-8",
            )
        })
    }

    /// The hosted pages' script (`/connect/page/<version>.js`): what this
    /// server's own pages load to post their messages (a host that renders
    /// its own pages from the typed API loads it the same way).
    pub fn page() -> &'static Self {
        static SCRIPT: OnceLock<ConnectScript> = OnceLock::new();
        SCRIPT.get_or_init(|| Self::new(PAGE, "/connect/page", "js"))
    }
}

/// How long a browser may keep an answer.
#[derive(Clone, Copy)]
enum Caching {
    /// The unversioned URL: five minutes, then revalidate (the `ETag`).
    Short,
    /// The versioned URL: its bytes never change.
    Immutable,
}

/// Who may read the script.
#[derive(Clone, Copy)]
enum Readers {
    /// Any origin (the SDK).
    Anyone,
    /// This server's pages only.
    SameOrigin,
}

/// Whether `If-None-Match` names `etag` (RFC 9110 §13.1.2, weak
/// comparison; `*` matches any current representation).
fn matches(request: &Request<Bytes>, etag: &str) -> bool {
    request
        .headers()
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

fn serve(
    request: &Request<Bytes>,
    script: &ConnectScript,
    caching: Caching,
    readers: Readers,
) -> Response<Bytes> {
    if let Err(answer) = allow(request.method(), &[Method::GET, Method::HEAD]) {
        return answer;
    }
    let not_modified = matches(request, &script.etag);
    let body = if not_modified || request.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(script.body.as_bytes())
    };
    let mut answer = Response::new(body);
    if not_modified {
        *answer.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let headers = answer.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(script.content_type));
    if request.method() == Method::HEAD {
        // The size a GET would send (RFC 9110 §9.3.2).
        headers.insert(CONTENT_LENGTH, HeaderValue::from(script.body.len()));
    }
    if let Ok(etag) = HeaderValue::from_str(&script.etag) {
        headers.insert(ETAG, etag);
    }
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static(match caching {
            Caching::Short => "public, max-age=300",
            Caching::Immutable => "public, max-age=31536000, immutable",
        }),
    );
    let resource_policy = HeaderName::from_static("cross-origin-resource-policy");
    match readers {
        Readers::Anyone => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            headers.insert(resource_policy, HeaderValue::from_static("cross-origin"));
        }
        Readers::SameOrigin => {
            headers.insert(resource_policy, HeaderValue::from_static("same-origin"));
        }
    }
    response::finish(answer)
}

/// `GET /connect/sdk.js`, `GET /connect/sdk.mjs` and `GET /connect/sdk.d.ts`.
pub(super) fn sdk(request: &Request<Bytes>, file: &str) -> Response<Bytes> {
    match file {
        "sdk.js" => serve(
            request,
            ConnectScript::classic(),
            Caching::Short,
            Readers::Anyone,
        ),
        "sdk.mjs" => serve(
            request,
            ConnectScript::module(),
            Caching::Short,
            Readers::Anyone,
        ),
        "sdk.d.ts" => serve(
            request,
            ConnectScript::types(),
            Caching::Short,
            Readers::Anyone,
        ),
        _ => response::not_found("no such resource"),
    }
}

/// `GET /connect/sdk/<version>.js` (or `.mjs`, or `.d.ts`): only the
/// current version.
pub(super) fn versioned_sdk(request: &Request<Bytes>, file: &str) -> Response<Bytes> {
    for script in [
        ConnectScript::classic(),
        ConnectScript::module(),
        ConnectScript::types(),
    ] {
        if script.versioned_path.rsplit('/').next() == Some(file) {
            return serve(request, script, Caching::Immutable, Readers::Anyone);
        }
    }
    response::not_found("no such version of the script: load the one `docs/browser.md` names")
}

/// `GET /connect/page/<version>.js`.
pub(super) fn page(request: &Request<Bytes>, file: &str) -> Response<Bytes> {
    let script = ConnectScript::page();
    if file.strip_suffix(".js") == Some(script.version.as_str()) {
        serve(request, script, Caching::Immutable, Readers::SameOrigin)
    } else {
        response::not_found("no such resource")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_and_module_wrap_one_source() {
        let source = include_str!("ui/assets/connect-sdk.js");
        let classic = ConnectScript::classic();
        let module = ConnectScript::module();
        assert!(classic.body.contains(source) && module.body.contains(source));
        assert!(classic.body.contains("window.OAuthConnect = oauthConnect("));
        // A classic script with `import.meta` or an `export` statement is a
        // syntax error.
        assert!(!classic.body.contains("import.meta"));
        assert!(!classic.body.lines().any(|l| l.starts_with("export ")));
        assert!(module.body.contains("export default OAuthConnect;"));
        assert!(!module.body.contains("window.OAuthConnect"));
        assert_ne!(classic.integrity, module.integrity);
        assert!(classic.versioned_path.starts_with("/connect/sdk/"));
        assert!(classic.versioned_path.ends_with(".js"));
        assert!(module.versioned_path.ends_with(".mjs"));
    }

    #[test]
    fn sri_is_sha384_of_the_body() {
        let script = ConnectScript::classic();
        let digest = ring::digest::digest(&ring::digest::SHA384, script.body.as_bytes());
        assert_eq!(
            script.integrity,
            format!("sha384-{}", STANDARD.encode(digest.as_ref()))
        );
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let etag = &ConnectScript::classic().etag;
        let with = |value: &str| {
            Request::get("/connect/sdk.js")
                .header(IF_NONE_MATCH, value)
                .body(Bytes::new())
                .unwrap()
        };
        assert!(matches(&with(etag), etag));
        assert!(matches(&with(&format!("W/{etag}")), etag));
        assert!(matches(&with(&format!("\"other\", {etag}")), etag));
        assert!(matches(&with("*"), etag));
        assert!(!matches(&with("\"other\""), etag));
    }
}

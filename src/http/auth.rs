//! The `Authorization` header: HTTP Basic client authentication (RFC 6749
//! §2.3.1, RFC 7617) and Bearer tokens (RFC 6750 §2.1).
//!
//! The scheme name is case-insensitive (RFC 9110 §11.1); a request may carry
//! at most one `Authorization` header. Nothing here prints a credential.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderMap;
use http::header::AUTHORIZATION;
use zeroize::Zeroizing;

use crate::credentials::{Redacted, Secret};
use crate::oauth::token::BasicCredentials;

use super::params as form;

/// The longest `Authorization` header value looked at, in bytes.
const MAX_HEADER_LEN: usize = 4096;

/// Standard base64 (RFC 4648 §4), padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why an `Authorization` header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthHeaderError {
    /// More than one `Authorization` header.
    Multiple,
    /// A scheme other than the one expected.
    WrongScheme,
    /// The credentials do not follow the scheme's syntax (or the header is
    /// too long, or not visible ASCII).
    Malformed,
}

impl fmt::Display for AuthHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Multiple => "more than one Authorization header",
            Self::WrongScheme => "unsupported authentication scheme",
            Self::Malformed => "malformed Authorization header",
        })
    }
}

impl std::error::Error for AuthHeaderError {}

/// The single `Authorization` header's value, if any.
///
/// # Errors
///
/// [`AuthHeaderError::Multiple`] for two or more headers;
/// [`AuthHeaderError::Malformed`] for a value that is too long or not
/// visible ASCII and spaces.
pub(crate) fn authorization(headers: &HeaderMap) -> Result<Option<&str>, AuthHeaderError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthHeaderError::Multiple);
    }
    if value.len() > MAX_HEADER_LEN {
        return Err(AuthHeaderError::Malformed);
    }
    let value = value.to_str().map_err(|_| AuthHeaderError::Malformed)?;
    Ok(Some(value.trim_matches([' ', '\t'])))
}

/// Splits `<scheme> 1*SP <credentials>`, matching the scheme
/// case-insensitively; `None` when the scheme is another one.
fn credentials<'a>(value: &'a str, scheme: &str) -> Result<Option<&'a str>, AuthHeaderError> {
    let (name, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !name.eq_ignore_ascii_case(scheme) {
        return Ok(None);
    }
    let rest = rest.trim_start_matches(' ');
    if rest.is_empty() {
        return Err(AuthHeaderError::Malformed);
    }
    Ok(Some(rest))
}

/// Client credentials from `Authorization: Basic …`; `None` when the
/// request has no `Authorization` header.
///
/// Per RFC 6749 §2.3.1 the client id and secret are each
/// `application/x-www-form-urlencoded` before being joined with `:` and
/// base64-encoded, so each is form-urldecoded after the split at the first
/// `:` (a `:` inside either is therefore sent as `%3A`).
///
/// # Errors
///
/// [`AuthHeaderError::WrongScheme`] for another scheme;
/// [`AuthHeaderError::Malformed`] for bad base64, a missing `:`, an empty
/// client id, invalid percent-encoding or non-UTF-8; and the errors of
/// [`authorization`].
pub(crate) fn basic(headers: &HeaderMap) -> Result<Option<BasicCredentials>, AuthHeaderError> {
    let Some(value) = authorization(headers)? else {
        return Ok(None);
    };
    let encoded = credentials(value, "Basic")?.ok_or(AuthHeaderError::WrongScheme)?;
    let mut decoded = Zeroizing::new(
        BASE64
            .decode(encoded)
            .map_err(|_| AuthHeaderError::Malformed)?,
    );
    let at = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or(AuthHeaderError::Malformed)?;
    let client_id = form::decode(&decoded[..at])
        .map_err(|_| AuthHeaderError::Malformed)?
        .into_owned();
    if client_id.is_empty() {
        return Err(AuthHeaderError::Malformed);
    }
    let escaped = match form::decode(&decoded[at + 1..]).map_err(|_| AuthHeaderError::Malformed)? {
        Cow::Owned(secret) => Some(Zeroizing::new(secret)),
        Cow::Borrowed(_) => None,
    };
    let client_secret = match escaped {
        Some(secret) => secret,
        None => {
            // The secret as sent (valid UTF-8, nothing to decode): moved to
            // the front of the decoded buffer, which becomes its text, so
            // it is not copied into another allocation. `Zeroizing` clears
            // the whole capacity on drop, the bytes past the end included.
            let len = decoded.len() - (at + 1);
            decoded.copy_within(at + 1.., 0);
            decoded.truncate(len);
            match String::from_utf8(std::mem::take(&mut *decoded)) {
                Ok(secret) => Zeroizing::new(secret),
                Err(e) => {
                    drop(Zeroizing::new(e.into_bytes()));
                    return Err(AuthHeaderError::Malformed);
                }
            }
        }
    };
    Ok(Some(BasicCredentials {
        client_id: Redacted::new(client_id),
        client_secret: Secret::from(client_secret),
    }))
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1), in its
/// `b64token` syntax; `None` when the request has no `Authorization`
/// header.
///
/// # Errors
///
/// [`AuthHeaderError::WrongScheme`] for another scheme;
/// [`AuthHeaderError::Malformed`] when the token is not a `b64token`; and
/// the errors of [`authorization`].
#[allow(dead_code)] // for the protocol endpoints (`/v1/me`, scoped keys)
pub(crate) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AuthHeaderError> {
    let Some(token) = bearer_credential(headers)? else {
        return Ok(None);
    };
    if is_b64token(token) {
        Ok(Some(token))
    } else {
        Err(AuthHeaderError::Malformed)
    }
}

/// As [`bearer`], but the credential may be any run of visible ASCII
/// characters: admin keys may be chosen outside the crate (from
/// configuration) and use any printable character.
///
/// # Errors
///
/// As [`bearer`], without the `b64token` rule.
pub(crate) fn bearer_credential(headers: &HeaderMap) -> Result<Option<&str>, AuthHeaderError> {
    let Some(value) = authorization(headers)? else {
        return Ok(None);
    };
    let token = credentials(value, "Bearer")?.ok_or(AuthHeaderError::WrongScheme)?;
    if token.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(Some(token))
    } else {
        Err(AuthHeaderError::Malformed)
    }
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn basic_header(raw: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn basic_decodes_id_and_secret() {
        let creds = basic(&headers(&[&basic_header("oc_client_1:oc_secret_x")]))
            .unwrap()
            .unwrap();
        assert_eq!(creds.client_id.as_str(), "oc_client_1");
        assert_eq!(
            Some(creds.client_secret.expose_secret()),
            Some("oc_secret_x")
        );
    }

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        // RFC 6749 §2.3.1: "client:id" and "p@ss:w+rd" are encoded first.
        let creds = basic(&headers(&[&basic_header("client%3Aid:p%40ss%3Aw%2Brd+x")]))
            .unwrap()
            .unwrap();
        assert_eq!(creds.client_id.as_str(), "client:id");
        assert_eq!(
            Some(creds.client_secret.expose_secret()),
            Some("p@ss:w+rd x")
        );
        // The split is at the first colon: a raw colon in the secret stays.
        let creds = basic(&headers(&[&basic_header("id:a:b")]))
            .unwrap()
            .unwrap();
        assert_eq!(Some(creds.client_secret.expose_secret()), Some("a:b"));
    }

    #[test]
    fn basic_scheme_is_case_insensitive_and_padding_optional() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("id:s");
        for value in [
            format!("basic {encoded}"),
            format!("BASIC  {encoded}"),
            format!("Basic {}", encoded.trim_end_matches('=')),
        ] {
            let creds = basic(&headers(&[&value])).unwrap().unwrap();
            assert_eq!(creds.client_id.as_str(), "id");
        }
    }

    #[test]
    fn basic_empty_secret_is_absent() {
        let creds = basic(&headers(&[&basic_header("public_client:")]))
            .unwrap()
            .unwrap();
        assert_eq!(creds.client_id.as_str(), "public_client");
        assert!(creds.client_secret.is_empty());
    }

    #[test]
    fn malformed_basic_is_refused() {
        for value in [
            "Basic".to_owned(),
            "Basic ".to_owned(),
            "Basic !!!notbase64".to_owned(),
            "Basic Zm9v=YmFy".to_owned(),
            basic_header("no-colon"),
            basic_header(":secret"),
            basic_header("id%zz:secret"),
            basic_header("id:bad%"),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(b"id:\xff\xfe")
            ),
            format!("Basic {}", "A".repeat(MAX_HEADER_LEN)),
        ] {
            assert_eq!(
                basic(&headers(&[&value])).unwrap_err(),
                AuthHeaderError::Malformed,
                "{value}"
            );
        }
    }

    #[test]
    fn basic_with_another_scheme_or_nothing() {
        assert_eq!(
            basic(&headers(&["Bearer abc"])).unwrap_err(),
            AuthHeaderError::WrongScheme
        );
        assert!(basic(&HeaderMap::new()).unwrap().is_none());
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        let map = headers(&[&basic_header("a:b"), &basic_header("c:d")]);
        assert_eq!(basic(&map).unwrap_err(), AuthHeaderError::Multiple);
        let map = headers(&["Bearer abc", "Bearer abc"]);
        assert_eq!(bearer(&map).unwrap_err(), AuthHeaderError::Multiple);
        assert_eq!(
            bearer_credential(&map).unwrap_err(),
            AuthHeaderError::Multiple
        );
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer tok.en-_~+/==",
            "bearer tok.en-_~+/==",
            "BEARER   tok.en-_~+/== ",
        ] {
            assert_eq!(bearer(&headers(&[value])).unwrap(), Some("tok.en-_~+/=="));
        }
    }

    #[test]
    fn bearer_requires_b64token() {
        for value in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer =abc",
            "Bearer ab=c",
            "Bearer a!b",
        ] {
            assert_eq!(
                bearer(&headers(&[value])).unwrap_err(),
                AuthHeaderError::Malformed,
                "{value}"
            );
        }
        assert_eq!(
            bearer(&headers(&["Basic abc"])).unwrap_err(),
            AuthHeaderError::WrongScheme
        );
        assert_eq!(
            bearer(&headers(&["Bearerabc"])).unwrap_err(),
            AuthHeaderError::WrongScheme
        );
        assert!(bearer(&HeaderMap::new()).unwrap().is_none());
    }

    #[test]
    fn bearer_credential_accepts_printable_ascii() {
        let value = "Bearer k3y!#$%&()*@[]^{|}~";
        assert_eq!(
            bearer_credential(&headers(&[value])).unwrap(),
            Some("k3y!#$%&()*@[]^{|}~")
        );
        assert_eq!(
            bearer_credential(&headers(&["Bearer a b"])).unwrap_err(),
            AuthHeaderError::Malformed
        );
        let mut map = HeaderMap::new();
        map.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xe9t\xe9").unwrap(),
        );
        assert_eq!(
            bearer_credential(&map).unwrap_err(),
            AuthHeaderError::Malformed
        );
    }
}

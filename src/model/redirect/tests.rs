//! The unit tests of `model::redirect`.

use super::*;

fn ok(s: &str) -> RedirectUri {
    match RedirectUri::parse(s) {
        Ok(u) => u,
        Err(e) => unreachable!("{s:?} should be accepted: {e}"),
    }
}

fn err(s: &str) -> RedirectUriError {
    match RedirectUri::parse(s) {
        Ok(_) => unreachable!("{s:?} should be rejected"),
        Err(e) => e,
    }
}

// ---- registration: accepted forms ----

#[test]
fn rfc6749_3_1_2_https_accepted_and_kept_verbatim() {
    for s in [
        "https://example.com/cb",
        "https://example.com",
        "https://Example.COM:443/a/../b?x=1&y=%20",
        "https://203.0.113.7:8443/cb",
        "https://[2001:db8::1]/cb",
        "HTTPS://example.com/cb",
    ] {
        let u = ok(s);
        assert_eq!(u.as_str(), s);
        assert_eq!(u.to_string(), s);
        assert_eq!(u.kind(), RedirectUriKind::Https);
        assert!(!u.is_loopback_ip());
    }
}

#[test]
fn rfc8252_7_3_http_loopback_accepted() {
    for s in [
        "http://127.0.0.1/cb",
        "http://127.0.0.1:8080/cb",
        "http://127.255.255.254/cb",
        "http://[::1]/cb",
        "http://[::1]:51234/cb",
    ] {
        let u = ok(s);
        assert_eq!(u.kind(), RedirectUriKind::Loopback);
        assert!(u.is_loopback_ip(), "{s}");
    }
}

#[test]
fn rfc8252_8_3_localhost_accepted_but_not_ip_literal() {
    for s in [
        "http://localhost/cb",
        "http://localhost:3000/cb",
        "http://LocalHost/cb",
    ] {
        let u = ok(s);
        assert_eq!(u.kind(), RedirectUriKind::Loopback);
        assert!(!u.is_loopback_ip());
    }
}

#[test]
fn rfc8252_7_1_private_use_scheme_accepted() {
    for s in [
        "com.example.app:/cb",
        "com.example.app:/oauth2redirect/example-provider",
        "com.example.app://cb",
        "Com.Example.App:/cb",
        // A single word, as native apps register them (Texture's own
        // examples): accepted, the reverse domain name only recommended.
        "myapp://device/connected",
        "myapp:/cb",
        "example://",
        "fb1234567890://authorize",
        "my-app+oauth://cb",
    ] {
        let u = ok(s);
        assert_eq!(u.kind(), RedirectUriKind::PrivateUse);
        assert!(!u.is_loopback_ip());
        assert_eq!(u.origin(), None);
    }
}

// ---- registration: rejected forms ----

// RFC 6749 §3.1.2: the redirection endpoint URI must be an absolute URI; an empty string is not.
#[test]
fn empty_rejected() {
    assert_eq!(err(""), RedirectUriError::Empty);
}

// RFC 9700 §4.1 (bounded input); limit is MAX_LEN bytes.
#[test]
fn length_limit_edge() {
    let base = "https://example.com/";
    let exact = format!("{base}{}", "a".repeat(MAX_LEN - base.len()));
    assert_eq!(exact.len(), MAX_LEN);
    ok(&exact);
    let over = format!("{exact}a");
    assert_eq!(err(&over), RedirectUriError::TooLong { max: MAX_LEN });
}

// RFC 6749 §3.1.2 / RFC 3986 §2: URIs contain no whitespace, controls or non-ASCII.
#[test]
fn whitespace_and_control_rejected_before_url_parsing() {
    // The url crate would silently strip these.
    for (s, index) in [
        (" https://example.com/cb", 0),
        ("https://example.com/cb ", 22),
        ("https://example.com/c\tb", 21),
        ("https://example.com/c\nb", 21),
        ("https://example.com/c\rb", 21),
        ("https://example.com/c b", 21),
        ("https://example.com/c\u{7f}b", 21),
        ("https://example.com/c\u{0}b", 21),
        ("https://example.com/caf\u{e9}", 23),
        ("https://example.com\\@evil.example/", 19),
    ] {
        assert_eq!(
            err(s),
            RedirectUriError::InvalidCharacter { index },
            "{s:?}"
        );
    }
}

#[test]
fn rfc6749_3_1_2_fragment_rejected() {
    assert_eq!(
        err("https://example.com/cb#frag"),
        RedirectUriError::Fragment
    );
    // A bare trailing `#` is a fragment too.
    assert_eq!(err("https://example.com/cb#"), RedirectUriError::Fragment);
    assert_eq!(err("com.example.app:/cb#x"), RedirectUriError::Fragment);
}

#[test]
fn rfc9700_4_1_wildcard_rejected() {
    for s in [
        "https://*.example.com/cb",
        "https://example.com/*",
        "https://example.com/cb?x=*",
        "http://127.0.0.1:*/cb",
    ] {
        assert_eq!(err(s), RedirectUriError::Wildcard, "{s}");
    }
}

#[test]
fn rfc6749_3_1_2_must_be_absolute() {
    for s in [
        "/cb",
        "example.com/cb",
        "//example.com/cb",
        "https://",
        "https://exa mple",
    ] {
        assert!(
            matches!(
                RedirectUri::parse(s),
                Err(RedirectUriError::Malformed { .. } | RedirectUriError::InvalidCharacter { .. })
            ),
            "{s}"
        );
    }
    assert!(matches!(err("/cb"), RedirectUriError::Malformed { .. }));
    assert!(matches!(
        err("https://"),
        RedirectUriError::Malformed { .. }
    ));
    assert!(matches!(
        err("http://127.0.0.1:99999/"),
        RedirectUriError::Malformed { .. }
    ));
}

#[test]
fn rfc9700_4_1_userinfo_rejected() {
    for s in [
        "https://user:pass@example.com/cb",
        "https://user@example.com/cb",
        "https://:pass@example.com/cb",
        "https://@example.com/cb",
        "http://evil.example@127.0.0.1/cb",
        "com.example.app://user@host/cb",
    ] {
        assert_eq!(err(s), RedirectUriError::UserInfo, "{s}");
    }
    // `@` in path or query is not userinfo.
    ok("https://example.com/@user?who=a@b");
}

#[test]
fn rfc9700_2_1_http_only_on_loopback() {
    for s in [
        "http://example.com/cb",
        "http://10.0.0.1/cb",
        "http://0.0.0.0/cb",
        "http://128.0.0.1/cb",
        "http://[::2]/cb",
        "http://localhost.example.com/cb",
        "http://localhost./cb",
    ] {
        assert_eq!(err(s), RedirectUriError::InsecureHttp, "{s}");
    }
}

// RFC 6749 §3.1.2 and RFC 3986 §3.2: https/http need an authority with a host.
#[test]
fn http_and_https_need_slashes_and_host() {
    for (s, scheme) in [
        ("https:example.com/cb", "https"),
        ("https:/example.com/cb", "https"),
        ("https:///example.com/cb", "https"),
        ("http:127.0.0.1/cb", "http"),
    ] {
        assert_eq!(
            err(s),
            RedirectUriError::MissingHost {
                scheme: scheme.to_owned()
            },
            "{s}"
        );
    }
}

#[test]
fn rfc9700_4_1_forbidden_schemes() {
    for (s, scheme) in [
        ("javascript:alert(1)", "javascript"),
        ("JavaScript:alert(1)", "javascript"),
        ("data:text/html,hi", "data"),
        ("vbscript:msgbox", "vbscript"),
        ("file:///etc/passwd", "file"),
        ("about:blank", "about"),
        ("blob:https://example.com/uuid", "blob"),
        ("filesystem:https://example.com/temporary/x", "filesystem"),
        ("ws://example.com/cb", "ws"),
        ("WSS://example.com/cb", "wss"),
        ("ftp://example.com/cb", "ftp"),
    ] {
        assert_eq!(
            err(s),
            RedirectUriError::ForbiddenScheme {
                scheme: scheme.to_owned()
            },
            "{s}"
        );
    }
}

// RFC 8252 §7.1 recommends reverse domain names but a single word is a
// scheme too; a single letter is a Windows drive (`c:/…`), not one.
#[test]
fn rfc8252_7_1_one_letter_scheme_is_a_drive() {
    for (s, scheme) in [("c:/Windows/cb", "c"), ("C:/cb", "c"), ("x://cb", "x")] {
        assert_eq!(
            err(s),
            RedirectUriError::DriveLetter {
                scheme: scheme.to_owned()
            },
            "{s}"
        );
    }
    ok("cc:/cb");
}

// Schemes that are not an app's callback, now that any single word
// may be one: browser internals, OS handlers, messaging, out-of-band.
#[test]
fn rfc9700_4_1_other_schemes_that_are_no_callback() {
    for (s, scheme) in [
        ("urn:ietf:wg:oauth:2.0:oob", "urn"),
        ("intent://scan/?Intent;scheme=zxing;end", "intent"),
        ("intent://cb", "intent"),
        ("view-source:https://example.com/", "view-source"),
        ("chrome://settings", "chrome"),
        ("chrome-extension://abcdef/cb.html", "chrome-extension"),
        ("moz-extension://abcdef/cb.html", "moz-extension"),
        ("ms-msdt:/id", "ms-msdt"),
        ("MS-Settings:privacy", "ms-settings"),
        ("search-ms:query=x", "search-ms"),
        ("mailto:someone@example.com", "mailto"),
        ("tel:+15555550100", "tel"),
        ("sms:+15555550100", "sms"),
        ("livescript:alert(1)", "livescript"),
        ("mhtml:https://example.com/x", "mhtml"),
        ("itms-services://?action=download-manifest", "itms-services"),
        ("ssh://host/cb", "ssh"),
    ] {
        assert_eq!(
            err(s),
            RedirectUriError::ForbiddenScheme {
                scheme: scheme.to_owned()
            },
            "{s}"
        );
    }
    // Only the families: a scheme that merely contains the letters is
    // an app's own.
    for s in [
        "msapp://cb",
        "chromecast.example.app:/cb",
        "com.ms-app:/cb",
        "telly://cb",
    ] {
        assert_eq!(ok(s).kind(), RedirectUriKind::PrivateUse, "{s}");
    }
}

// RFC 6749 §3.1.2.2: registration errors are reported to the developer.
#[test]
fn error_messages_are_actionable() {
    assert_eq!(
        RedirectUriError::Fragment.to_string(),
        "redirect URI must not contain a fragment"
    );
    for e in [
        RedirectUriError::Empty,
        RedirectUriError::Wildcard,
        RedirectUriError::UserInfo,
        RedirectUriError::InsecureHttp,
        RedirectUriError::TooLong { max: MAX_LEN },
    ] {
        let m = e.to_string();
        assert!(!m.ends_with('.'), "{m}");
        assert!(m.starts_with(char::is_lowercase), "{m}");
    }
}

// ---- matching ----

#[test]
fn rfc6749_3_1_2_3_exact_match() {
    let r = ok("https://example.com/cb?x=1");
    assert!(r.matches("https://example.com/cb?x=1"));
    // Trailing slash, path case, query and host case all differ.
    assert!(!ok("https://example.com/cb").matches("https://example.com/cb/"));
    assert!(!ok("https://example.com/cb/").matches("https://example.com/cb"));
    assert!(!ok("https://example.com/cb").matches("https://example.com/CB"));
    assert!(!r.matches("https://example.com/cb?x=2"));
    assert!(!r.matches("https://example.com/cb?x=1&y=2"));
    assert!(!r.matches("https://example.com/cb"));
    assert!(!r.matches("https://EXAMPLE.com/cb?x=1"));
    // Even an equivalent default port is a different string (RFC 9700 §4.1.3).
    assert!(!ok("https://example.com/cb").matches("https://example.com:443/cb"));
    // https gets no port exception.
    assert!(!ok("https://127.0.0.1/cb").matches("https://127.0.0.1:8443/cb"));
}

#[test]
fn rfc8252_7_3_loopback_ipv4_port_may_differ() {
    let r = ok("http://127.0.0.1/cb");
    assert!(r.matches("http://127.0.0.1:51234/cb"));
    assert!(r.matches("http://127.0.0.1/cb"));
    let r = ok("http://127.0.0.1:8080/cb");
    assert!(r.matches("http://127.0.0.1:9/cb"));
    assert!(r.matches("http://127.0.0.1/cb"));
    assert!(!r.matches("http://127.0.0.1:9/other"));
    assert!(!r.matches("http://127.0.0.2:9/cb"));
    assert!(!r.matches("http://127.0.0.1:9/cb/"));
    assert!(!r.matches("https://127.0.0.1:9/cb"));
    assert!(!r.matches("http://127.0.0.1:9x/cb"));
    assert!(!r.matches("http://127.0.0.1:70000/cb"));
    assert!(!r.matches("http://127.0.0.1:80:80/cb"));
}

#[test]
fn rfc8252_7_3_loopback_ipv6_port_may_differ() {
    let r = ok("http://[::1]/cb");
    assert!(r.matches("http://[::1]:51234/cb"));
    let r = ok("http://[::1]:8080/cb");
    assert!(r.matches("http://[::1]:9/cb"));
    assert!(r.matches("http://[::1]/cb"));
    assert!(!r.matches("http://[::1]:9/other"));
    assert!(!r.matches("http://[::2]:9/cb"));
    assert!(!r.matches("http://127.0.0.1:9/cb"));
}

#[test]
fn rfc8252_8_3_localhost_gets_no_port_exception() {
    let r = ok("http://localhost:3000/cb");
    assert!(r.matches("http://localhost:3000/cb"));
    assert!(!r.matches("http://localhost:4000/cb"));
    assert!(!ok("http://localhost/cb").matches("http://localhost:4000/cb"));
}

#[test]
fn rfc6749_3_1_2_requested_fragment_never_matches() {
    assert!(!ok("https://example.com/cb").matches("https://example.com/cb#"));
    assert!(!ok("https://example.com/cb").matches("https://example.com/cb#x"));
    assert!(!ok("http://127.0.0.1/cb").matches("http://127.0.0.1:5/cb#x"));
}

// RFC 6749 §3.1.2.3 and RFC 9700 §4.1.3: only well-formed strings can match.
#[test]
fn requested_whitespace_control_or_too_long_never_matches() {
    let r = ok("http://127.0.0.1/cb");
    assert!(!r.matches(""));
    assert!(!r.matches("http://127.0.0.1/cb "));
    assert!(!r.matches(" http://127.0.0.1/cb"));
    assert!(!r.matches("http://127.0.0.1/c\tb"));
    assert!(!r.matches("http://127.0.0.1:5/cb\n"));
    let base = "https://example.com/";
    let long = format!("{base}{}", "a".repeat(MAX_LEN + 1 - base.len()));
    assert!(!RedirectUri(Arc::from(long.as_str())).matches(&long));
}

#[test]
fn rfc8252_7_3_port_stripping_not_fooled_by_path_or_query() {
    let r = ok("http://127.0.0.1/cb?x=:80");
    assert!(r.matches("http://127.0.0.1:5000/cb?x=:80"));
    assert!(!r.matches("http://127.0.0.1:5000/cb?x="));
    assert!(!r.matches("http://127.0.0.1:5000/cb?x=:81"));
    let r = ok("http://127.0.0.1?next=:1@evil.example");
    assert!(r.matches("http://127.0.0.1:7?next=:1@evil.example"));
    let r = ok("http://127.0.0.1/a:b@c");
    assert!(r.matches("http://127.0.0.1:7/a:b@c"));
    assert!(!r.matches("http://127.0.0.1:7/a:c@c"));
    // Userinfo in the requested authority never matches.
    let r = ok("http://127.0.0.1/cb");
    assert!(!r.matches("http://127.0.0.1:1@evil.example/cb"));
    assert!(!r.matches("http://x@127.0.0.1:1/cb"));
    assert!(!r.matches("http://127.0.0.1:1\\@evil.example/cb"));
}

// RFC 6749 §3.1.2.3: with several registered URIs, the request must match one.
#[test]
fn find_match_returns_first_match() {
    let regs = [
        ok("https://example.com/cb"),
        ok("http://127.0.0.1/cb"),
        ok("http://127.0.0.1:8080/cb"),
    ];
    assert_eq!(find_match(&regs, "https://example.com/cb"), Some(&regs[0]));
    assert_eq!(
        find_match(&regs, "http://127.0.0.1:8080/cb"),
        Some(&regs[1])
    );
    assert_eq!(find_match(&regs, "https://example.com/other"), None);
    assert_eq!(find_match(&[], "https://example.com/cb"), None);
}

// RFC 6454 §6.2 origin serialisation; RFC 8252 §7.3 loopback.
#[test]
fn origin_for_https_and_loopback() {
    assert_eq!(
        ok("https://Example.com:443/cb?x=1").origin().as_deref(),
        Some("https://example.com")
    );
    assert_eq!(
        ok("https://example.com:8443/cb").origin().as_deref(),
        Some("https://example.com:8443")
    );
    assert_eq!(
        ok("http://127.0.0.1:8080/cb").origin().as_deref(),
        Some("http://127.0.0.1:8080")
    );
    assert_eq!(
        ok("http://[::1]/cb").origin().as_deref(),
        Some("http://[::1]")
    );
    assert_eq!(
        ok("http://localhost:3000/cb").origin().as_deref(),
        Some("http://localhost:3000")
    );
    assert_eq!(ok("com.example.app:/cb").origin(), None);
}

// RFC 6749 §3.1.2: registration rules apply to deserialised values too.
#[test]
fn serde_round_trip_and_validation() {
    let u = ok("http://127.0.0.1:8080/cb");
    let json = serde_json::to_string(&u).unwrap();
    assert_eq!(json, r#""http://127.0.0.1:8080/cb""#);
    let back: RedirectUri = serde_json::from_str(&json).unwrap();
    assert_eq!(back, u);
    let e = serde_json::from_str::<RedirectUri>(r#""https://example.com/cb#x""#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("must not contain a fragment"), "{e}");
    assert!(serde_json::from_str::<RedirectUri>(r#""http://example.com/""#).is_err());
}

// RFC 6749 §3.1.2: the registered string is kept verbatim.
#[test]
fn string_conversions() {
    let s = String::from("https://example.com/cb");
    let u = RedirectUri::try_from(s.clone()).unwrap();
    assert_eq!(String::from(u), s);
    assert_eq!(
        RedirectUri::try_from(String::from("javascript:alert(1)")),
        Err(RedirectUriError::ForbiddenScheme {
            scheme: "javascript".to_owned()
        })
    );
}

/// The query is what `form_urlencoded`'s serializer writes, byte for byte,
/// for every byte value, multi-byte characters and the separators.
#[test]
fn append_query_encodes_as_form_urlencoded_does() {
    let every_char: String = (0u8..=0x7f).map(char::from).collect();
    let values = [
        "",
        "plain",
        "x y",
        "a&b=c+d%e",
        "https://auth.example.com/issuer?x=1#f",
        "oc_ac_AQID-_~.*!'()",
        "é€𝄞 and ünïcödé",
        every_char.as_str(),
        "\u{0}\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
    ];
    for base in ["https://a.example/cb", "https://a.example/cb?tenant=1"] {
        for value in values {
            let expected = {
                let mut s = form_urlencoded::Serializer::new(String::new());
                s.append_pair("code", value).append_pair(value, "state");
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}{}", s.finish())
            };
            assert_eq!(
                append_query(base, &[("code", value), (value, "state")]),
                expected
            );
        }
    }
}

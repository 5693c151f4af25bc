//! The unit tests of `server::builder`.

use super::*;

#[test]
fn code_lifetime_is_capped_at_ten_minutes_rfc6749_section_4_1_2() {
    let build = |d| {
        crate::AuthorizationServer::builder(crate::MemoryStore::new())
            .issuer("https://auth.example.com")
            .code_lifetime(d)
            .build()
    };
    assert!(build(Duration::minutes(10)).is_ok());
    assert!(matches!(
        build(Duration::minutes(10) + Duration::SECOND),
        Err(ConfigError::OutOfRange {
            what: "code_lifetime",
            ..
        })
    ));
}

type Setter = fn(
    AuthorizationServerBuilder<crate::MemoryStore>,
    Duration,
) -> AuthorizationServerBuilder<crate::MemoryStore>;

/// Every duration the builder bounds, at and just past each bound: the
/// bound itself builds, one second (or one nanosecond) beyond is
/// `OutOfRange` naming the setting and its range. RFC 6749 §4.1.2 caps
/// codes at 10 minutes; RFC 9700 §4.14.2's grace for a lost refresh
/// response is capped at 60 s.
#[test]
fn every_bounded_setting_accepts_its_bounds_and_refuses_beyond() {
    let cases: [(&str, Setter, Duration, Duration); 12] = [
        (
            "revoked_grant_retention",
            |b, d| b.revoked_grant_retention(d),
            Duration::MINUTE,
            Duration::days(365),
        ),
        (
            "max_secret_grace",
            |b, d| b.max_secret_grace(d),
            Duration::ZERO,
            Duration::days(90),
        ),
        (
            "code_lifetime",
            |b, d| b.code_lifetime(d),
            Duration::SECOND,
            Duration::minutes(10),
        ),
        (
            "access_token_lifetime",
            |b, d| b.access_token_lifetime(d),
            Duration::MINUTE,
            Duration::DAY,
        ),
        (
            "refresh_token_lifetime",
            |b, d| b.refresh_token_lifetime(d),
            Duration::HOUR,
            Duration::days(365),
        ),
        (
            "consent_lifetime",
            |b, d| b.consent_lifetime(d),
            Duration::MINUTE,
            Duration::HOUR,
        ),
        (
            "pushed_request_lifetime",
            |b, d| b.pushed_request_lifetime(d),
            Duration::seconds(5),
            Duration::minutes(10),
        ),
        (
            "refresh_grace",
            |b, d| b.refresh_grace(d),
            Duration::ZERO,
            Duration::seconds(60),
        ),
        (
            "connect_session_lifetime",
            |b, d| b.connect_session_lifetime(d),
            Duration::MINUTE,
            Duration::DAY,
        ),
        (
            "connect_link_lifetime",
            |b, d| b.connect_link_lifetime(d),
            Duration::MINUTE,
            Duration::HOUR,
        ),
        (
            "publishable_key_rate_limit window",
            |b, d| b.publishable_key_rate_limit(10, d),
            Duration::SECOND,
            Duration::DAY,
        ),
        (
            "authentication_failure_limit window",
            |b, d| b.authentication_failure_limit(20, d),
            Duration::SECOND,
            Duration::DAY,
        ),
    ];
    let base = || {
        crate::AuthorizationServer::builder(crate::MemoryStore::new())
            .issuer("https://auth.example.com")
    };
    for (name, set, min, max) in cases {
        assert!(set(base(), min).build().is_ok(), "{name}: its minimum");
        assert!(set(base(), max).build().is_ok(), "{name}: its maximum");
        let beyond = [
            max + Duration::SECOND,
            max + Duration::nanoseconds(1),
            min - Duration::nanoseconds(1),
            min - Duration::SECOND,
        ];
        for value in beyond {
            match set(base(), value).build() {
                Err(ConfigError::OutOfRange {
                    what,
                    min: lo,
                    max: hi,
                }) => {
                    assert_eq!((what, lo, hi), (name, min, max), "{name} at {value}");
                }
                other => panic!("{name} at {value}: {other:?}"),
            }
        }
    }
    // The rate limit's request count: 1 to 100 000.
    for requests in [1, 100_000] {
        assert!(
            base()
                .publishable_key_rate_limit(requests, Duration::MINUTE)
                .build()
                .is_ok()
        );
    }
    for requests in [0, 100_001] {
        assert!(matches!(
            base()
                .publishable_key_rate_limit(requests, Duration::MINUTE)
                .build(),
            Err(ConfigError::Invalid("publishable_key_rate_limit requests"))
        ));
    }
    // The failure limit's count: 1 to 100 000; the push cap 1 to 10 000.
    for failures in [1, 100_000] {
        assert!(
            base()
                .authentication_failure_limit(failures, Duration::MINUTE)
                .build()
                .is_ok()
        );
    }
    for failures in [0, 100_001] {
        assert!(matches!(
            base()
                .authentication_failure_limit(failures, Duration::MINUTE)
                .build(),
            Err(ConfigError::Invalid(
                "authentication_failure_limit failures"
            ))
        ));
    }
    for cap in [1, 10_000] {
        assert!(base().public_pushed_request_cap(cap).build().is_ok());
    }
    for cap in [0, 10_001] {
        assert!(matches!(
            base().public_pushed_request_cap(cap).build(),
            Err(ConfigError::Invalid("public_pushed_request_cap"))
        ));
    }
    // The trusted proxies: CIDR blocks or addresses.
    let server = base()
        .trusted_proxies(["10.0.0.0/8", "2001:db8::1"])
        .build()
        .unwrap();
    assert!(
        server
            .config()
            .is_trusted_proxy("10.3.2.1".parse().unwrap())
    );
    assert!(
        !server
            .config()
            .is_trusted_proxy("11.0.0.1".parse().unwrap())
    );
    assert!(matches!(
        base()
            .trusted_proxies(["10.0.0.0/8", "proxy.internal"])
            .build(),
        Err(ConfigError::Invalid("trusted_proxies"))
    ));
    // The reference-id prefix: 1 to 32 characters.
    assert!(base().reference_id_prefix("a".repeat(32)).build().is_ok());
    for bad in [String::new(), "a".repeat(33)] {
        assert!(matches!(
            base().reference_id_prefix(bad).build(),
            Err(ConfigError::Invalid("reference_id_prefix"))
        ));
    }
}

#[test]
fn connect_settings_are_validated() {
    let base = || {
        crate::AuthorizationServer::builder(crate::MemoryStore::new())
            .issuer("https://auth.example.com")
    };
    assert!(
        base()
            .frame_ancestors(["https://app.example.com"])
            .build()
            .is_ok()
    );
    for bad in [
        "https://app.example.com/path",
        "*",
        "'self' https://x.example",
        "http://app.example.com",
    ] {
        assert!(
            matches!(
                base().frame_ancestors([bad]).build(),
                Err(ConfigError::Invalid("frame_ancestors"))
            ),
            "{bad}"
        );
    }
    assert!(base().reference_id_prefix("acme").build().is_ok());
    assert!(matches!(
        base().reference_id_prefix("Acme Inc").build(),
        Err(ConfigError::Invalid("reference_id_prefix"))
    ));
    assert!(matches!(
        base().connect_session_lifetime(Duration::days(2)).build(),
        Err(ConfigError::OutOfRange {
            what: "connect_session_lifetime",
            ..
        })
    ));
}

#[test]
fn issuer_rules_rfc8414_section_2() {
    assert!(parse_issuer("https://auth.example.com").is_ok());
    assert!(parse_issuer("https://example.com/tenant/1").is_ok());
    assert!(parse_issuer("http://127.0.0.1:3000").is_ok());
    assert!(parse_issuer("http://localhost:3000").is_ok());
    assert!(parse_issuer("http://auth.example.com").is_err());
    assert!(parse_issuer("https://auth.example.com?x=1").is_err());
    assert!(parse_issuer("https://auth.example.com#frag").is_err());
    assert!(parse_issuer("https://user@auth.example.com").is_err());
    assert!(parse_issuer("ftp://auth.example.com").is_err());
    assert!(parse_issuer("/relative").is_err());
}

/// The dangerous switches are off unless asked for, each turns on only
/// itself, and the demo sign-in (which believes the typed id) and the
/// host's own authenticator replace each other: the last call wins.
#[tokio::test]
async fn dangerous_switches_are_off_by_default_and_turn_on_one_at_a_time() {
    let builder = || {
        crate::AuthorizationServer::builder(crate::MemoryStore::new())
            .issuer("https://auth.example.com")
    };
    let headers = http::HeaderMap::new();
    let subject = crate::Subject::parse("user-42").unwrap();

    let plain = builder().build().unwrap();
    assert!(!plain.config().demo_sign_in());
    assert!(!plain.config().pkce_for_public_clients_only());
    let owner = plain.config().resource_owner();
    assert_eq!(owner.authenticate(&headers, Some("user-42")).await, None);

    let demo = builder().dangerous().demo_sign_in().build().unwrap();
    assert!(demo.config().demo_sign_in());
    assert!(!demo.config().pkce_for_public_clients_only());
    let owner = demo.config().resource_owner();
    assert_eq!(
        owner.authenticate(&headers, Some(" user-42 ")).await,
        Some(subject)
    );
    assert_eq!(owner.authenticate(&headers, None).await, None);

    let pkce = builder()
        .dangerous()
        .pkce_for_public_clients_only()
        .build()
        .unwrap();
    assert!(pkce.config().pkce_for_public_clients_only());
    assert!(!pkce.config().demo_sign_in());

    let hosts = builder()
        .dangerous()
        .demo_sign_in()
        .resource_owner(Arc::new(NoResourceOwner))
        .build()
        .unwrap();
    assert!(!hosts.config().demo_sign_in());
    let owner = hosts.config().resource_owner();
    assert_eq!(owner.authenticate(&headers, Some("user-42")).await, None);
    let demo = builder()
        .resource_owner(Arc::new(NoResourceOwner))
        .dangerous()
        .demo_sign_in()
        .build()
        .unwrap();
    assert!(demo.config().demo_sign_in());
    let owner = demo.config().resource_owner();
    assert!(
        owner
            .authenticate(&headers, Some("user-42"))
            .await
            .is_some()
    );
}

/// The purge's retention and the tag cap are configuration: the defaults
/// (a day, 20 tags), a chosen value carried into `ServerConfig`, and a tag
/// cap outside 1 to 100 refused by name.
#[test]
fn retention_and_tag_cap_are_configured_and_bounded() {
    let base = || {
        crate::AuthorizationServer::builder(crate::MemoryStore::new())
            .issuer("https://auth.example.com")
    };
    let defaults = base().build().unwrap();
    assert_eq!(
        defaults.config().purge_policy(),
        crate::storage::PurgePolicy::new(Duration::DAY)
    );
    assert_eq!(defaults.config().max_connection_tags(), 20);
    let chosen = base()
        .revoked_grant_retention(Duration::HOUR)
        .max_connection_tags(3)
        .build()
        .unwrap();
    assert_eq!(
        chosen.config().purge_policy().revoked_grant_retention,
        Duration::HOUR
    );
    assert_eq!(chosen.config().max_connection_tags(), 3);
    for ok in [1, 100] {
        assert!(base().max_connection_tags(ok).build().is_ok(), "{ok}");
    }
    for bad in [0, 101, usize::MAX] {
        match base().max_connection_tags(bad).build() {
            Err(ConfigError::Invalid(what)) => {
                assert_eq!(what, "max_connection_tags (1 to 100)");
                assert_eq!(
                    ConfigError::Invalid(what).to_string(),
                    "invalid max_connection_tags (1 to 100)"
                );
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

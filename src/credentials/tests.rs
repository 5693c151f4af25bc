//! The unit tests of `credentials`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::digest;

use super::*;
use crate::credentials::keyring::ServerKey;
use crate::model::random::SystemRandom;

/// Deterministic: each `fill` expands SHA-256(counter ‖ block) and bumps the counter.
#[derive(Debug)]
struct CounterRandom(AtomicU64);

impl CounterRandom {
    fn new(start: u64) -> Self {
        Self(AtomicU64::new(start))
    }
}

impl RandomSource for CounterRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        for (block, chunk) in dest.chunks_mut(32).enumerate() {
            let mut context = digest::Context::new(&digest::SHA256);
            context.update(&n.to_be_bytes());
            context.update(&(block as u64).to_be_bytes());
            let d = context.finish();
            chunk.copy_from_slice(&d.as_ref()[..chunk.len()]);
        }
        Ok(())
    }
}

#[derive(Debug)]
struct FailingRandom;

impl RandomSource for FailingRandom {
    fn fill(&self, _dest: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError)
    }
}

fn ring() -> KeyRing {
    KeyRing::new(ServerKey::new(1, &[1; 32]).unwrap())
        .with_key(ServerKey::new(2, &[2; 32]).unwrap())
        .unwrap()
}

fn generate<K: CredentialKind>(rng: &dyn RandomSource) -> Credential<K> {
    Credential::<K>::generate(&CredentialPrefixes::default(), &ring(), rng).unwrap()
}

fn body_of_with<'a, K: CredentialKind>(
    credential: &'a Credential<K>,
    prefixes: &CredentialPrefixes,
) -> &'a str {
    &credential.expose_secret()[K::prefix(prefixes).len()..]
}

fn body_of<K: CredentialKind>(credential: &Credential<K>) -> &str {
    let prefixes = CredentialPrefixes::default();
    &credential.expose_secret()[K::prefix(&prefixes).len()..]
}

/// Replaces the byte at `index` of an ASCII credential with `with`.
fn replace_at(text: &str, index: usize, with: u8) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[index] = with;
    String::from_utf8(bytes).unwrap()
}

/// A base64url character other than `c`.
fn other_char(c: u8) -> u8 {
    if c == b'A' { b'B' } else { b'A' }
}

fn check_round_trip<K: CredentialKind>() {
    let prefixes = CredentialPrefixes::default();
    let credential = generate::<K>(&SystemRandom::new());
    let text = credential.expose_secret();
    assert!(text.starts_with(K::prefix(&prefixes)));
    assert_eq!(text.len(), K::prefix(&prefixes).len() + 50);
    let parsed = Credential::<K>::parse(&prefixes, text).unwrap();
    assert_eq!(parsed, credential);
    assert_eq!(parsed.expose_secret(), text);
    assert_eq!(parsed.key_id(), credential.key_id());
    assert_eq!(parsed.hash(&ring()), credential.hash(&ring()));
}

#[test]
fn generate_expose_parse_round_trip_every_kind() {
    check_round_trip::<kind::ClientSecret>();
    check_round_trip::<kind::AuthorizationCode>();
    check_round_trip::<kind::AccessToken>();
    check_round_trip::<kind::RefreshToken>();
    check_round_trip::<kind::ConnectToken>();
    check_round_trip::<kind::AdminKey>();
    check_round_trip::<kind::PublishableKey>();
}

#[test]
fn generated_credential_carries_current_key_id_and_parse_recovers_it() {
    let prefixes = CredentialPrefixes::default();
    let mut keys = ring();
    let rng = SystemRandom::new();
    let first = AccessToken::generate(&prefixes, &keys, &rng).unwrap();
    assert_eq!(first.key_id(), 1);
    keys.set_current(2).unwrap();
    let second = AccessToken::generate(&prefixes, &keys, &rng).unwrap();
    assert_eq!(second.key_id(), 2);
    let parsed = AccessToken::parse(&prefixes, second.expose_secret()).unwrap();
    assert_eq!(parsed.key_id(), 2);
}

#[test]
fn generate_hashed_returns_the_credentials_own_hash() {
    let keys = ring();
    let (secret, hash) =
        ClientSecret::generate_hashed(&CredentialPrefixes::default(), &keys, &SystemRandom::new())
            .unwrap();
    assert_eq!(secret.hash(&keys), Some(hash));
    assert!(
        ClientSecret::generate_hashed(&CredentialPrefixes::default(), &keys, &FailingRandom)
            .is_err()
    );
}

#[test]
fn generate_propagates_random_failure() {
    let result = ClientSecret::generate(&CredentialPrefixes::default(), &ring(), &FailingRandom);
    assert_eq!(result.unwrap_err(), RandomError);
}

#[test]
fn parse_rejects_another_kinds_credential_as_wrong_prefix() {
    let prefixes = CredentialPrefixes::default();
    let refresh = generate::<kind::RefreshToken>(&SystemRandom::new());
    assert_eq!(
        AccessToken::parse(&prefixes, refresh.expose_secret()),
        Err(CredentialError::WrongPrefix {
            expected: "access token"
        })
    );
    let secret = generate::<kind::ClientSecret>(&SystemRandom::new());
    assert_eq!(
        AdminKey::parse(&prefixes, secret.expose_secret()),
        Err(CredentialError::WrongPrefix {
            expected: "admin key"
        })
    );
    assert!(matches!(
        ClientSecret::parse(&prefixes, ""),
        Err(CredentialError::WrongPrefix { .. })
    ));
}

#[test]
fn parse_rejects_every_single_flipped_body_char_by_checksum() {
    let prefixes = CredentialPrefixes::default();
    let credential = generate::<kind::ClientSecret>(&CounterRandom::new(7));
    let text = credential.expose_secret();
    let start = prefixes.client_secret().len();
    for index in start..start + BODY_LEN {
        let altered = replace_at(text, index, other_char(text.as_bytes()[index]));
        assert_eq!(
            ClientSecret::parse(&prefixes, &altered),
            Err(CredentialError::BadChecksum),
            "position {index}"
        );
    }
}

#[test]
fn parse_rejects_every_single_flipped_checksum_char() {
    let prefixes = CredentialPrefixes::default();
    let credential = generate::<kind::AccessToken>(&CounterRandom::new(11));
    let text = credential.expose_secret();
    for index in text.len() - CHECKSUM_LEN..text.len() {
        let altered = replace_at(text, index, other_char(text.as_bytes()[index]));
        assert_eq!(
            AccessToken::parse(&prefixes, &altered),
            Err(CredentialError::BadChecksum),
            "position {index}"
        );
    }
}

#[test]
fn parse_rejects_truncated_credential_as_malformed() {
    let prefixes = CredentialPrefixes::default();
    let credential = generate::<kind::AccessToken>(&SystemRandom::new());
    let text = credential.expose_secret();
    for len in [text.len() - 1, text.len() - CHECKSUM_LEN, 6] {
        assert_eq!(
            AccessToken::parse(&prefixes, &text[..len]),
            Err(CredentialError::Malformed),
            "length {len}"
        );
    }
}

#[test]
fn parse_rejects_extended_credential_as_malformed() {
    let prefixes = CredentialPrefixes::default();
    let credential = generate::<kind::AccessToken>(&SystemRandom::new());
    let text = credential.expose_secret();
    for suffix in ["A", "=", "\n", " ", "AAAA"] {
        assert_eq!(
            AccessToken::parse(&prefixes, &format!("{text}{suffix}")),
            Err(CredentialError::Malformed)
        );
    }
    assert_eq!(
        AccessToken::parse(&prefixes, &format!(" {text}")),
        Err(CredentialError::WrongPrefix {
            expected: "access token"
        })
    );
}

#[test]
fn parse_rejects_non_base64url_char_as_malformed() {
    let prefixes = CredentialPrefixes::default();
    let credential = generate::<kind::RefreshToken>(&SystemRandom::new());
    let text = credential.expose_secret();
    let start = prefixes.refresh_token().len();
    for bad in [b'+', b'/', b'=', b'.', b' ', 0] {
        for index in [start, start + 20, text.len() - 1] {
            assert_eq!(
                RefreshToken::parse(&prefixes, &replace_at(text, index, bad)),
                Err(CredentialError::Malformed)
            );
        }
    }
    // Multi-byte characters with the right total byte length must not panic.
    let multibyte = format!("{}é{}", &text[..start], &text[start + 2..]);
    assert_eq!(multibyte.len(), text.len());
    assert_eq!(
        RefreshToken::parse(&prefixes, &multibyte),
        Err(CredentialError::Malformed)
    );
    let split = format!("{}é{}", &text[..start + 43], &text[start + 45..]);
    assert_eq!(split.len(), text.len());
    assert_eq!(
        RefreshToken::parse(&prefixes, &split),
        Err(CredentialError::Malformed)
    );
}

#[test]
fn parse_refuses_10_kb_input_as_too_long() {
    let prefixes = CredentialPrefixes::default();
    let credential = generate::<kind::ClientSecret>(&SystemRandom::new());
    let huge = format!("{}{}", credential.expose_secret(), "A".repeat(10 * 1024));
    assert_eq!(
        ClientSecret::parse(&prefixes, &huge),
        Err(CredentialError::TooLong)
    );
    assert_eq!(
        ClientSecret::parse(&prefixes, &"x".repeat(10 * 1024)),
        Err(CredentialError::TooLong)
    );
    assert_eq!(
        ClientSecret::parse(&prefixes, &"x".repeat(513)),
        Err(CredentialError::TooLong)
    );
    assert_ne!(
        ClientSecret::parse(&prefixes, &"x".repeat(512)),
        Err(CredentialError::TooLong)
    );
}

#[test]
fn parse_errors_never_echo_the_input() {
    let prefixes = CredentialPrefixes::default();
    let credential = generate::<kind::ClientSecret>(&SystemRandom::new());
    let text = credential.expose_secret();
    let body = &text[prefixes.client_secret().len()..];
    let inputs = [
        text[..text.len() - 1].to_owned(),
        replace_at(
            text,
            text.len() - 1,
            other_char(text.as_bytes()[text.len() - 1]),
        ),
        format!("oc_at_{body}"),
        format!("{text}{}", "A".repeat(600)),
    ];
    for input in &inputs {
        let err = ClientSecret::parse(&prefixes, input).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(&body[..8]), "{shown}");
        }
    }
}

#[test]
fn error_messages_name_the_kind_and_the_fix() {
    let err = CredentialError::WrongPrefix {
        expected: "client secret",
    };
    assert!(err.to_string().contains("client secret"));
    assert!(err.to_string().contains("wrong prefix"));
    assert_eq!(
        CredentialError::BadChecksum.to_string(),
        "checksum mismatch: the credential was mistyped or altered"
    );
    assert!(CredentialError::TooLong.to_string().contains("512"));
}

#[test]
fn thousand_generated_credentials_are_all_distinct() {
    let rng = SystemRandom::new();
    let credentials: Vec<AccessToken> = (0..1000).map(|_| generate(&rng)).collect();
    let texts: HashSet<&str> = credentials.iter().map(Credential::expose_secret).collect();
    assert_eq!(texts.len(), 1000);
    for (i, a) in credentials.iter().take(40).enumerate() {
        for (j, b) in credentials.iter().take(40).enumerate() {
            assert_eq!(a == b, i == j);
            assert_eq!(bool::from(a.ct_eq(b)), i == j);
        }
    }
}

#[test]
fn counter_random_credentials_are_distinct_and_reproducible() {
    let a: Vec<ClientSecret> = (0..100).map(|_| generate(&CounterRandom::new(0))).collect();
    assert!(a.iter().all(|c| c == &a[0]));
    let rng = CounterRandom::new(0);
    let b: Vec<ClientSecret> = (0..100).map(|_| generate(&rng)).collect();
    let texts: HashSet<&str> = b.iter().map(Credential::expose_secret).collect();
    assert_eq!(texts.len(), 100);
    assert_eq!(b[0], a[0]);
}

#[test]
fn equal_strings_compare_equal() {
    let prefixes = CredentialPrefixes::default();
    let credential = generate::<kind::ConnectToken>(&SystemRandom::new());
    let text = credential.expose_secret().to_owned();
    let a = ConnectToken::parse(&prefixes, &text).unwrap();
    let b = ConnectToken::parse(&prefixes, &text).unwrap();
    assert_eq!(a, b);
    assert!(bool::from(a.ct_eq(&b)));
    assert_eq!(a.clone(), credential);
}

#[test]
fn different_lengths_compare_unequal() {
    let long = CredentialPrefixes::default();
    let short = CredentialPrefixes::default()
        .set(PrefixKind::ClientSecret, "s_")
        .unwrap();
    let keys = ring();
    let a = ClientSecret::generate(&long, &keys, &CounterRandom::new(3)).unwrap();
    let b = ClientSecret::generate(&short, &keys, &CounterRandom::new(3)).unwrap();
    assert_ne!(a.expose_secret().len(), b.expose_secret().len());
    assert_ne!(a, b);
    assert!(!bool::from(a.ct_eq(&b)));
}

#[test]
fn hash_is_stable() {
    let keys = ring();
    let credential = generate::<kind::ClientSecret>(&SystemRandom::new());
    let hash = credential.hash(&keys).unwrap();
    assert_eq!(credential.hash(&keys), Some(hash));
    assert_eq!(credential.clone().hash(&ring()), Some(hash));
    let again = ClientSecret::parse(&CredentialPrefixes::default(), credential.expose_secret());
    assert_eq!(again.unwrap().hash(&keys), Some(hash));
}

#[test]
fn hash_differs_between_kinds_for_the_same_body() {
    let keys = ring();
    let secret = generate::<kind::ClientSecret>(&CounterRandom::new(5));
    let token = generate::<kind::AccessToken>(&CounterRandom::new(5));
    assert_eq!(body_of(&secret)[..BODY_LEN], body_of(&token)[..BODY_LEN]);
    assert_ne!(secret.hash(&keys), token.hash(&keys));
    // Even over identical text, the domains keep the kinds apart.
    let text: &[&[u8]] = &[secret.expose_secret().as_bytes()];
    assert_ne!(
        keys.hash(1, kind::ClientSecret::DOMAIN, text),
        keys.hash(1, kind::AccessToken::DOMAIN, text)
    );
}

#[test]
fn hash_differs_between_key_ids() {
    let prefixes = CredentialPrefixes::default();
    let mut keys = ring();
    let under_one = RefreshToken::generate(&prefixes, &keys, &CounterRandom::new(9)).unwrap();
    keys.set_current(2).unwrap();
    let under_two = RefreshToken::generate(&prefixes, &keys, &CounterRandom::new(9)).unwrap();
    assert_ne!(under_one.hash(&keys), under_two.hash(&keys));
    let text: &[&[u8]] = &[under_one.expose_secret().as_bytes()];
    assert_ne!(
        keys.hash(1, kind::RefreshToken::DOMAIN, text),
        keys.hash(2, kind::RefreshToken::DOMAIN, text)
    );
}

#[test]
fn hash_after_retiring_the_key_is_none() {
    let mut keys = ring();
    let credential = generate::<kind::AdminKey>(&SystemRandom::new());
    assert_eq!(credential.key_id(), 1);
    keys.set_current(2).unwrap();
    assert!(credential.hash(&keys).is_some());
    keys.retire(1).unwrap();
    assert_eq!(credential.hash(&keys), None);
}

#[test]
fn successors_are_deterministic_and_differ_by_token_kind_and_key() {
    let prefixes = CredentialPrefixes::default();
    let mut keys = ring();
    let old = RefreshToken::generate(&prefixes, &keys, &CounterRandom::new(7)).unwrap();
    let (a, a_hash) = RefreshToken::successor_of(&prefixes, &keys, 1, &old).unwrap();
    let (b, b_hash) = RefreshToken::successor_of(&prefixes, &keys, 1, &old).unwrap();
    assert_eq!(a, b);
    assert_eq!(a_hash, b_hash);
    assert_eq!(
        a.hash(&keys),
        Some(a_hash),
        "the hash is the successor's own"
    );
    assert_eq!(a.key_id(), 1);
    assert_ne!(a, old);
    let other = RefreshToken::generate(&prefixes, &keys, &CounterRandom::new(8)).unwrap();
    assert_ne!(
        RefreshToken::successor_of(&prefixes, &keys, 1, &other)
            .unwrap()
            .0,
        a
    );
    let (access, access_hash) = AccessToken::successor_of(&prefixes, &keys, 1, &old).unwrap();
    assert_ne!(body_of(&access), body_of(&a));
    assert_eq!(access.hash(&keys), Some(access_hash));
    let parsed = RefreshToken::parse(&prefixes, a.expose_secret()).unwrap();
    assert_eq!(parsed, a);
    // Under another key: other successors, made under that key.
    let (c, c_hash) = RefreshToken::successor_of(&prefixes, &keys, 2, &old).unwrap();
    assert_eq!(c.key_id(), 2);
    assert_ne!(body_of(&c)[1..], body_of(&a)[1..]);
    assert_eq!(c.hash(&keys), Some(c_hash));
    // A key that is not in the ring derives nothing.
    keys.set_current(2).unwrap();
    keys.retire(1).unwrap();
    assert!(RefreshToken::successor_of(&prefixes, &keys, 1, &old).is_none());
    assert!(RefreshToken::successor_of(&prefixes, &keys, 2, &old).is_some());
}

#[test]
fn checksum_is_crc32_ieee() {
    // The CRC-32 check value: CRC-32("123456789") = 0xCBF43926.
    assert_eq!(checksum(b"1234", b"56789"), 0xCBF4_3926_u32.to_be_bytes());
    let prefixes = CredentialPrefixes::default();
    let token = generate::<kind::AccessToken>(&SystemRandom::new());
    let text = token.expose_secret();
    let (head, sum) = text.split_at(text.len() - CHECKSUM_LEN);
    let crc = crc32fast::hash(head.as_bytes()).to_be_bytes();
    assert_eq!(sum, URL_SAFE_NO_PAD.encode(crc));
    assert!(head.starts_with(prefixes.access_token()));
}

#[test]
fn hash_presented_equals_parse_then_hash() {
    let prefixes = CredentialPrefixes::default();
    let keys = ring();
    let token = generate::<kind::AccessToken>(&SystemRandom::new());
    let text = token.expose_secret();
    assert_eq!(
        AccessToken::hash_presented(&prefixes, &keys, text),
        Ok(token.hash(&keys))
    );
    let typo = replace_at(text, 10, other_char(text.as_bytes()[10]));
    assert_eq!(
        AccessToken::hash_presented(&prefixes, &keys, &typo),
        Err(CredentialError::BadChecksum)
    );
    assert_eq!(
        RefreshToken::hash_presented(&prefixes, &keys, text),
        Err(CredentialError::WrongPrefix {
            expected: "refresh token"
        })
    );
}

#[test]
fn mac_inputs_fit_one_block_with_the_default_prefixes() {
    // One length byte per element: (1 + domain) + (1 + prefix) + (1 + 33
    // body bytes) must stay within the 55 bytes one SHA-256 block holds
    // after padding; the client secret's longer prefix takes a second.
    fn check<K: CredentialKind>(fits: bool) {
        let prefixes = CredentialPrefixes::default();
        let prefix = K::prefix(&prefixes);
        let hash_input = 1 + K::DOMAIN.len() + 1 + prefix.len() + 1 + RAW_LEN;
        assert_eq!(hash_input <= 55, fits, "{} {prefix}", K::DOMAIN);
        assert!(1 + K::SUCCESSOR_DOMAIN.len() + 1 + RAW_LEN <= 55);
        assert_ne!(K::DOMAIN, K::SUCCESSOR_DOMAIN);
    }
    check::<kind::ClientSecret>(false);
    check::<kind::AuthorizationCode>(true);
    check::<kind::AccessToken>(true);
    check::<kind::RefreshToken>(true);
    check::<kind::ConnectToken>(true);
    check::<kind::AdminKey>(true);
    check::<kind::PublishableKey>(true);
}

#[test]
fn the_prefix_is_part_of_the_hash() {
    // The same key id and random bytes under another prefix: another
    // hash, so re-prefixing a credential after a prefix change revives
    // nothing.
    let keys = ring();
    let old = CredentialPrefixes::default();
    let new = old.clone().set(PrefixKind::AccessToken, "new_at_").unwrap();
    let (a, a_hash) = AccessToken::from_random(&old, &keys, &[9; 32]).unwrap();
    let (b, b_hash) = AccessToken::from_random(&new, &keys, &[9; 32]).unwrap();
    assert_eq!(
        body_of_with(&a, &old)[..BODY_LEN],
        body_of_with(&b, &new)[..BODY_LEN]
    );
    assert_ne!(a_hash, b_hash);
    assert_eq!(a.hash(&keys), Some(a_hash));
    assert_eq!(b.hash(&keys), Some(b_hash));
    assert_eq!(
        AccessToken::hash_presented(&new, &keys, b.expose_secret()),
        Ok(Some(b_hash))
    );
}

#[test]
fn default_prefixes_use_the_oc_brand() {
    let prefixes = CredentialPrefixes::default();
    assert_eq!(CredentialPrefixes::with_brand("oc"), Ok(prefixes.clone()));
    assert_eq!(
        prefixes.all(),
        [
            "oc_secret_",
            "oc_code_",
            "oc_at_",
            "oc_rt_",
            "oc_ct_",
            "oc_sk_",
            "oc_admin_",
            "oc_pk_",
            "oc_client_"
        ]
    );
    assert_eq!(prefixes.get(PrefixKind::ScopedKey), prefixes.scoped_key());
    assert_eq!(prefixes.get(PrefixKind::ClientId), prefixes.client_id());
}

#[test]
fn custom_brand_is_applied_to_every_prefix_and_credential() {
    let prefixes = CredentialPrefixes::with_brand("acme").unwrap();
    assert_eq!(prefixes.client_secret(), "acme_secret_");
    assert_eq!(prefixes.authorization_code(), "acme_code_");
    assert_eq!(prefixes.access_token(), "acme_at_");
    assert_eq!(prefixes.refresh_token(), "acme_rt_");
    assert_eq!(prefixes.connect_token(), "acme_ct_");
    assert_eq!(prefixes.scoped_key(), "acme_sk_");
    assert_eq!(prefixes.admin_key(), "acme_admin_");
    assert_eq!(prefixes.publishable_key(), "acme_pk_");
    assert_eq!(prefixes.client_id(), "acme_client_");
    let token = AccessToken::generate(&prefixes, &ring(), &SystemRandom::new()).unwrap();
    assert!(token.expose_secret().starts_with("acme_at_"));
    assert!(AccessToken::parse(&prefixes, token.expose_secret()).is_ok());
    assert!(matches!(
        AccessToken::parse(&CredentialPrefixes::default(), token.expose_secret()),
        Err(CredentialError::WrongPrefix { .. })
    ));
    assert!(CredentialPrefixes::with_brand("abcdefghij123456").is_ok());
}

#[test]
fn invalid_brand_is_rejected() {
    for brand in ["", "Acme", "ac_me", "ac-me", "abcdefghij1234567", "é"] {
        assert_eq!(
            CredentialPrefixes::with_brand(brand),
            Err(PrefixError::Invalid),
            "{brand:?}"
        );
    }
}

#[test]
fn invalid_prefix_is_rejected() {
    let bad = [
        "",
        "_",
        "a",
        "ab",
        "AB_",
        "a-b_",
        "a b_",
        "é_",
        &"a".repeat(32),
    ];
    for prefix in bad {
        assert_eq!(
            CredentialPrefixes::default().set(PrefixKind::AccessToken, prefix),
            Err(PrefixError::Invalid),
            "{prefix:?}"
        );
    }
    let longest = format!("{}_", "a".repeat(31));
    assert!(
        CredentialPrefixes::default()
            .set(PrefixKind::AccessToken, &longest)
            .is_ok()
    );
    assert!(
        CredentialPrefixes::default()
            .set(PrefixKind::AccessToken, &format!("a{longest}"))
            .is_err()
    );
    assert!(
        CredentialPrefixes::default()
            .set(PrefixKind::AccessToken, "t_")
            .is_ok()
    );
}

#[test]
fn ambiguous_prefix_is_rejected() {
    for prefix in ["oc_rt_", "oc_", "oc_secret_2_", "oc_client_x_"] {
        assert_eq!(
            CredentialPrefixes::default().set(PrefixKind::AccessToken, prefix),
            Err(PrefixError::Ambiguous),
            "{prefix:?}"
        );
    }
    // Setting a kind to its own prefix is not ambiguous.
    assert!(
        CredentialPrefixes::default()
            .set(PrefixKind::AccessToken, "oc_at_")
            .is_ok()
    );
}

#[test]
fn custom_prefix_is_used_by_generate_and_parse() {
    let prefixes = CredentialPrefixes::default()
        .set(PrefixKind::PublishableKey, "pub_live_")
        .unwrap();
    let key = PublishableKey::generate(&prefixes, &ring(), &SystemRandom::new()).unwrap();
    assert!(key.expose_secret().starts_with("pub_live_"));
    assert_eq!(key.expose_secret().len(), "pub_live_".len() + 50);
    assert_eq!(
        PublishableKey::parse(&prefixes, key.expose_secret()).unwrap(),
        key
    );
}

//! The `scope` parameter (RFC 6749 §3.3): whatever parses has no duplicate,
//! and its canonical form parses back to the same set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::ScopeSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(set) = ScopeSet::parse(text) else { return };
    let again = ScopeSet::parse(&set.to_param()).expect("canonical form parses");
    assert_eq!(again, set);
    let mut seen = std::collections::HashSet::new();
    assert!(set.iter().all(|s| seen.insert(s.as_str().to_owned())), "no duplicates");
    assert!(set.iter().all(|s| text.split(' ').any(|t| t == s.as_str())));
});

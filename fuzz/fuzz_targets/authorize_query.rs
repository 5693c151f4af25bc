//! The authorization request query, through `handle()` on
//! `GET /oauth/authorize?…`: never a 5xx, never a redirect to an
//! unregistered URI.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing::Harness;

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(Harness::new)
}

fuzz_target!(|data: &[u8]| harness().authorize_query(data));

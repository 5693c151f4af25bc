//! The management API's JSON bodies, through `handle()` with an admin key:
//! never a 5xx; a 400 names a field or says `invalid_request`.
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

fuzz_target!(|data: &[u8]| harness().management_json(data));

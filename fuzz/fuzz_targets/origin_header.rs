//! Origins (`allowedOrigins`, the `Origin` header): what parses is its own
//! browser serialisation; a CORS preflight of session creation reads
//! nothing (every origin gets the same answer), and the session request
//! succeeds only from the app's registered origin, byte for byte.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::origin(data);
    fuzzing::with_harness(|h| h.origin_preflight(data));
});

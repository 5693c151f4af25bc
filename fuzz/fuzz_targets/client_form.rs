//! The token, revocation, introspection and PAR form bodies through
//! `handle()`: never a 5xx; every error body is RFC 6749 §5.2 JSON.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::with_harness(|h| h.client_form(data)));

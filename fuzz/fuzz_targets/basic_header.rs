//! The `Authorization` header of a token request: never a 5xx; §5.2
//! error bodies; tokens only for the real client id and secret.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::with_harness(|h| h.basic_header(data)));

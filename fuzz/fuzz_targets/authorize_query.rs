//! `GET /oauth/authorize?…` through `handle()`: never a 5xx; a redirect
//! only to a registered redirect URI.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::with_harness(|h| h.authorize_query(data)));

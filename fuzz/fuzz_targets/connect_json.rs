//! `POST /v1/connect/sessions` bodies (client, admin key, publishable key)
//! through `handle()`: never a 5xx; a 400 names a field; a 201 only for a
//! registered redirect URL, with a well-formed Connect token.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::with_harness(|h| h.connect_json(data)));

//! The management API's JSON bodies, through `handle()` with an admin key:
//! never a 5xx; a 400 names a field or says `invalid_request`.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::with_harness(|h| h.management_json(data)));

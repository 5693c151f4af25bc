//! The hosted Connect page's step posts (`POST /connect`) through
//! `handle()`: never a 5xx; out of the flow only with the session's browser
//! and CSRF token, a code only for an approval at the consent step; form
//! values echoed escaped.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::with_harness(|h| h.connect_form(data)));

//! The consent form's post, through `handle()`: never a 5xx; a redirect
//! only to a registered URI and only with the prompt's CSRF token.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::with_harness(|h| h.consent_post(data)));

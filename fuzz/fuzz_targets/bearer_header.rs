//! `Authorization: Bearer …` at a protected resource (access tokens and
//! scoped keys): a principal only for the live credential itself; refusals
//! carry an RFC 6750 challenge and never the credential.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::with_harness(|h| h.bearer_header(data)));

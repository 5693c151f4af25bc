//! Credential parsing, every kind: whatever parses re-encodes to the same
//! text, keeps its prefix and parses as no other kind.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::credential(data));

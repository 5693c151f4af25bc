//! The consent form's post, through `handle()`: never a 5xx; a redirect
//! only to a registered URI and only with the prompt's CSRF token.
//! The checks live in `oauth_connect::fuzzing`, shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use oauth_connect::fuzzing::Harness;

fn harness() -> &'static Mutex<Harness> {
    static HARNESS: OnceLock<Mutex<Harness>> = OnceLock::new();
    HARNESS.get_or_init(|| Mutex::new(Harness::new()))
}

fuzz_target!(|data: &[u8]| harness().lock().unwrap_or_else(std::sync::PoisonError::into_inner).consent_post(data));

//! The management API's app bodies: arbitrary JSON never panics the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::{AppUpdate, NewOAuthApp, RotateSecretRequest};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<NewOAuthApp>(data);
    let _ = serde_json::from_slice::<AppUpdate>(data);
    let _ = serde_json::from_slice::<RotateSecretRequest>(data);
});

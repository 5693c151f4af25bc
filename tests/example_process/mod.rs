//! Finding the compiled example servers, for the tests that start them as
//! processes.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

/// The compiled example `name` (`axum` or `actix`): beside this test's
/// executable (`…/deps/..`), or built now into a separate target directory
/// (a nested cargo must not wait for the lock of the one running this test).
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let binary = profile_dir.join("examples").join(name);
    if binary.exists() {
        return binary;
    }
    let target = profile_dir.join("e2e-examples");
    eprintln!(
        "{} is missing: building it into {}",
        binary.display(),
        target.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--example", name])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building the {name} example failed");
    target.join("debug").join("examples").join(name)
}

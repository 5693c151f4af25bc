//! `npm ci` for the tests that run Node.js (`tests/browser`, `sdk/react`):
//! at most one at a time on the machine, across every test binary and
//! thread, under an exclusive lock on one file (`target/npm-ci.lock`), and
//! skipped when the folder already holds a finished install of its
//! current lockfile. A marker written after `npm ci` succeeded names the
//! lockfile it installed (its SHA-256), so an install that was cut short,
//! or one of an older lockfile, is done again rather than trusted.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Written into `node_modules` once `npm ci` succeeded: the SHA-256 of the
/// lockfile it installed. `npm ci` removes `node_modules` first, so a
/// marker never outlives the install it vouches for.
pub const MARKER: &str = "node_modules/.oauth-connect-npm-ci";

/// The lock every test binary takes around its `npm ci`: in the target
/// directory of this build (a test binary is `<target>/<profile>/deps/<name>`).
pub fn lock_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .expect("the target directory")
        .join("npm-ci.lock")
}

fn lockfile_digest(dir: &Path) -> Result<String, String> {
    let lockfile = dir.join("package-lock.json");
    let bytes = std::fs::read(&lockfile).map_err(|e| format!("{}: {e}", lockfile.display()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    Ok(digest.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `dir` holds a finished install of its current lockfile.
pub fn installed(dir: &Path) -> bool {
    match (
        lockfile_digest(dir),
        std::fs::read_to_string(dir.join(MARKER)),
    ) {
        (Ok(want), Ok(have)) => want == have.trim(),
        _ => false,
    }
}

/// `npm ci --no-audit --no-fund` in `dir` unless it already holds a
/// finished install of its lockfile; under the machine-wide lock, so two
/// installs never run at once (nor one beside a test reading the folder
/// it would replace). `Err` with npm's output when it fails.
pub fn npm_ci(dir: &Path) -> Result<(), String> {
    npm_ci_with("npm", dir)
}

/// [`npm_ci`] with another `npm` program (the tests of this module use a
/// stand-in).
pub fn npm_ci_with(npm: &str, dir: &Path) -> Result<(), String> {
    let path = lock_path();
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Exclusive, held until `lock` is dropped (at return, or if npm fails).
    lock.lock()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if installed(dir) {
        return Ok(());
    }
    let output = Command::new(npm)
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("npm ci in {}: {e}", dir.display()))?;
    if !output.status.success() {
        return Err(format!(
            "npm ci in {} failed:\n{}\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let marker = dir.join(MARKER);
    std::fs::write(&marker, lockfile_digest(dir)?).map_err(|e| format!("{}: {e}", marker.display()))
}

//! The example servers as processes, for the tests that start them: finding
//! the compiled binary, starting it, reading what it prints, and stopping it.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// What the example prints once it serves (`listening on <base>`), and,
/// when it serves the demo integrating app too, that app's origin.
const LISTENING: &str = "listening on ";
const DEMO_APP_LISTENING: &str = "demo app listening on ";

/// The compiled example `name` (`axum`, `actix`, `embed-axum` or
/// `embed-actix`): beside this test's executable (`…/deps/..`), or built
/// now into a separate target directory (a nested cargo must not wait for
/// the lock of the one running this test). Built by its package's name: the
/// workspace's default members hold only the axum example.
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
    let package = if name.starts_with("embed-") {
        name.to_owned()
    } else {
        format!("example-{name}")
    };
    let status = Command::new(cargo)
        .args(["build", "-p", &package, "--example", name])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building the {name} example failed");
    target.join("debug").join("examples").join(name)
}

/// A running example server, its standard output and error collected line
/// by line; killed on drop.
pub struct Process {
    pub child: Child,
    /// Where it listens: `http://127.0.0.1:<port>`.
    pub base: String,
    /// The demo integrating app's origin, when it was asked to serve one.
    pub demo_app: Option<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts `command` (an example binary, its arguments and environment;
    /// its standard streams are set here), waits for the address it prints
    /// (and the demo app's, when `demo_app`), then until its metadata
    /// answers. `name` is for the messages.
    pub async fn spawn(name: &str, mut command: Command, demo_app: bool) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = collect(child.stdout.take().unwrap(), Some(tx));
        let stderr = collect(child.stderr.take().unwrap(), None);
        let mut process = Self {
            child,
            base: String::new(),
            demo_app: None,
            stdout,
            stderr,
        };
        let announced = |what: &str, within: Duration| {
            rx.recv_timeout(within).unwrap_or_else(|_| {
                panic!(
                    "the {name} example announced no {what}: {:#?}",
                    process.output()
                )
            })
        };
        let base = announced("address", Duration::from_secs(60));
        let demo = demo_app.then(|| announced("demo app", Duration::from_secs(10)));
        process.base = base;
        process.demo_app = demo;
        let client = reqwest::Client::new();
        for _ in 0..100 {
            let ready = client
                .get(process.url("/.well-known/oauth-authorization-server"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the {name} example does not answer: {:#?}",
            process.output()
        );
    }

    /// `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What it printed on standard output so far (the banner).
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// What it printed on standard error so far (its log).
    pub fn logs(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything it printed: the banner, then its log.
    pub fn output(&self) -> Vec<String> {
        let mut all = self.stdout();
        all.extend(self.logs());
        all
    }

    /// Sends SIGTERM and waits (10 s at most) for the process to exit,
    /// which it must do with success (`kill -TERM`: Unix only).
    pub async fn stop_gracefully(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        for _ in 0..200 {
            if let Some(exit) = self.child.try_wait().unwrap() {
                assert!(exit.success(), "exited with {exit}: {:#?}", self.output());
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("did not stop within 10 s of SIGTERM: {:#?}", self.output());
    }
}

/// Collects `stream`'s lines on a thread of their own, sending the
/// addresses it announces to `announce`.
fn collect(
    stream: impl Read + Send + 'static,
    announce: Option<mpsc::Sender<String>>,
) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(tx) = &announce {
                let address = line
                    .strip_prefix(LISTENING)
                    .or_else(|| line.strip_prefix(DEMO_APP_LISTENING));
                if let Some(address) = address {
                    let _ = tx.send(address.trim().to_owned());
                }
            }
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

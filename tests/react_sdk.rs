#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The embed script's TypeScript declarations (`src/http/ui/assets/connect-sdk.d.ts`)
//! and the React package (`sdk/react`):
//!
//! - the declarations name exactly the options, `open()` options, error
//!   types, exit reasons, events, steps and result fields the script (and
//!   the server's error pages) know, and the session fields the API takes;
//! - the server serves them beside the script (`/connect/sdk.d.ts`);
//! - the package builds, its unit tests pass (React 19 and 18), it and a
//!   consumer of every documented option type-check, and `npm pack` holds
//!   only the build, the types, the README and the licences;
//! - in Chromium, a React page completes Connect in a popup and in a modal
//!   through the package, against the axum example (`test/browser/run.mjs`);
//! - the manual's React quick start (docs/browser.md) is the file those tests check.
//!
//! The npm steps need `node` and `npm` (and the browser test Chromium):
//! skipped, saying so, where they are missing, except in CI (`CI` set),
//! where that fails. `npm ci` runs only where `node_modules` lacks a
//! finished install of the lockfile, one at a time on the machine, under
//! the file lock of `npm_support` (two at once in one folder break each
//! other).

mod example_process;
mod npm_support;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use bytes::Bytes;
use example_process::{Process, example_binary};
use http::{Request, StatusCode};
use oauth_connect::http::ConnectScript;
use regex_lite::Regex;
use serde_json::Value;
use support::harness;

const ADMIN_KEY: &str = "react-sdk-admin-key-0123456789abcdefghijklmnopqrstuvwxyz";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap()
}

/// Every first capture of `pattern` in `text`.
fn captures(pattern: &str, text: &str) -> BTreeSet<String> {
    Regex::new(pattern)
        .unwrap()
        .captures_iter(text)
        .map(|c| c[1].to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The body of `export interface <name> … {` up to its closing brace at
/// the start of a line.
fn interface<'a>(dts: &'a str, name: &str) -> &'a str {
    let start = dts
        .find(&format!("export interface {name} "))
        .unwrap_or_else(|| panic!("no interface {name}"));
    let body = &dts[start..];
    let open = body.find("{\n").unwrap();
    let close = body.find("\n}\n").unwrap();
    &body[open..close]
}

/// The member names of an interface (one per line, maybe `readonly`).
fn members(dts: &str, name: &str) -> BTreeSet<String> {
    captures(
        r"(?m)^  (?:readonly )?([A-Za-z]+)\??[:(]",
        interface(dts, name),
    )
}

/// The string literals of `export type <name> = …;`.
fn literals(dts: &str, name: &str) -> BTreeSet<String> {
    let start = dts
        .find(&format!("export type {name} ="))
        .unwrap_or_else(|| panic!("no type {name}"));
    let body = &dts[start..];
    let end = body.find(";\n").unwrap();
    // Comments inside the union are not members.
    let code: String = body[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("/**"))
        .collect::<Vec<_>>()
        .join("\n");
    captures(r"'([a-z-]+)'", &code)
}

/// The properties of a schema of the OpenAPI document.
fn schema_properties(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn embed_types_declare_exactly_what_the_script_knows() {
    let script = read("src/http/ui/assets/connect-sdk.js");
    let dts = read("src/http/ui/assets/connect-sdk.d.ts");
    let pages = read("src/http/embed.rs");

    // Every `options.x` the script reads is declared, and nothing else.
    let options = captures(r"options\.([A-Za-z]+)", &script);
    assert_eq!(
        options,
        set(&[
            "connectToken",
            "locale",
            "onError",
            "onEvent",
            "onExit",
            "onSuccess",
            "publishableKey",
            "server",
            "session"
        ])
    );
    let mut declared = members(&dts, "BaseOptions");
    declared.extend(members(&dts, "TokenOptions"));
    declared.extend(members(&dts, "KeyOptions"));
    assert_eq!(declared, options, "create()'s options");

    let open = captures(r"\bo\.([a-z]+)", &script);
    assert_eq!(open, set(&["height", "mode", "width"]));
    assert_eq!(members(&dts, "OpenOptions"), open, "open()'s options");
    let modes = captures(r"mode !== '([a-z]+)'", &script);
    assert_eq!(modes, set(&["modal", "popup"]));
    assert_eq!(literals(&dts, "Mode"), modes);

    // onError types: those the script makes, and those the server's
    // error pages post (src/http/embed.rs, `error_type`).
    let mut errors = captures(r"\bfail(?:ure)?\('([a-z-]+)'", &script);
    // (not `typeof m.error === 'string'`)
    errors.extend(captures(r"(?:\(|\|\| )m\.error === '([a-z-]+)'", &script));
    let error_type = &pages[pages.find("fn error_type").unwrap()..];
    let error_type = &error_type[..error_type.find("\n}\n").unwrap()];
    let served = captures(r#"=> "([a-z-]+)""#, error_type);
    assert!(served.contains("session-other-browser"), "{served:?}");
    errors.extend(served);
    assert_eq!(errors.len(), 10, "{errors:?}");
    assert_eq!(literals(&dts, "ErrorType"), errors, "onError's types");

    let mut exits = captures(r"(?:\(|\|\| )m\.reason === '([a-z-]+)'", &script);
    exits.extend(captures(r"\bexit\('([a-z-]+)'\)", &script));
    assert_eq!(exits, set(&["denied", "user-cancelled"]));
    assert_eq!(literals(&dts, "ExitReason"), exits, "onExit's reasons");

    // onEvent: each name and the key of what comes with it.
    let events = captures(r"on\.event\('([a-z]+)'", &script);
    assert_eq!(events, set(&["closed", "completed", "opened", "step"]));
    assert_eq!(members(&dts, "EventMap"), events, "onEvent's names");
    let event_map = interface(&dts, "EventMap");
    for (event, key) in Regex::new(r"on\.event\('([a-z]+)', \{ ([a-z]+):")
        .unwrap()
        .captures_iter(&script)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
    {
        assert!(
            event_map.contains(&format!("  {event}: {{ {key}: ")),
            "{event} carries {key}"
        );
    }
    let steps = &script[script.find("var STEPS = [").unwrap()..];
    let steps = captures(r"'([a-z]+)'", &steps[..steps.find(']').unwrap()]);
    assert_eq!(steps.len(), 5);
    assert_eq!(literals(&dts, "Step"), steps, "the steps");

    // onSuccess's result, and the handle.
    let mut result = captures(r"result\.([A-Za-z]+) = ", &script);
    let made = &script[script.find("result = { ").unwrap()..];
    result.extend(captures(r"([a-z]+): ", &made[..made.find('}').unwrap()]));
    assert_eq!(result, set(&["code", "iss", "scopedKey", "state"]));
    assert_eq!(members(&dts, "Result"), result, "onSuccess's result");
    let handle = &script[script.rfind("return Object.freeze({\n").unwrap()..];
    let handle = &handle[..handle.find("});").unwrap()];
    let mut methods = captures(r"(?m)^\s+([a-z]+): ", handle);
    methods.extend(captures(r"get ([a-z]+)\(\)", handle));
    assert_eq!(methods, set(&["close", "open", "result", "url"]));
    assert_eq!(members(&dts, "Handle"), methods, "the handle");

    // The session a publishable key creates: the API's body, less what
    // only a backend may set.
    let openapi: Value = serde_json::from_str(&read("src/http/openapi.json")).unwrap();
    let schemas = &openapi["components"]["schemas"];
    let mut body = schema_properties(&schemas["NewConnectSession"]);
    assert!(body.remove("customerId"));
    assert_eq!(members(&dts, "SessionRequest"), body, "the session");
    let customer = &schemas["CustomerInfo"];
    assert_eq!(
        members(&dts, "CustomerInfo"),
        schema_properties(customer),
        "customerInfo"
    );
    assert_eq!(
        customer["properties"]["location"]["$ref"],
        "#/components/schemas/Location"
    );
    assert_eq!(
        members(&dts, "Location"),
        schema_properties(&schemas["Location"]),
        "customerInfo.location"
    );
}

#[tokio::test]
async fn embed_types_are_served_beside_the_script() {
    let h = harness().await;
    let types = ConnectScript::types();
    assert_eq!(types.body, read("src/http/ui/assets/connect-sdk.d.ts"));
    for path in ["/connect/sdk.d.ts", types.versioned_path.as_str()] {
        let answer = h
            .server
            .handle(Request::get(path).body(Bytes::new()).unwrap())
            .await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let header = |name: &str| answer.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(
            header("content-type"),
            "application/typescript; charset=utf-8"
        );
        assert_eq!(header("access-control-allow-origin"), "*");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert!(header("etag").starts_with('"'));
        assert_eq!(answer.body().as_ref(), types.body.as_bytes());
    }
    assert!(types.versioned_path.starts_with("/connect/sdk/"));
    assert!(types.versioned_path.ends_with(".d.ts"));
    // The module exports what the declarations say it does.
    let module = ConnectScript::module().body;
    for export in [
        "export default OAuthConnect;",
        "export const create = ",
        "export const version = ",
    ] {
        assert!(module.contains(export), "{export}");
    }
}

#[test]
fn manual_react_quick_start_is_the_file_the_tests_check() {
    let manual = read("docs/browser.md");
    let quick_start = read("sdk/react/test/consumer/quick-start.tsx");
    let block = format!("```tsx\n{quick_start}```\n");
    assert!(
        manual.contains(&block),
        "docs/browser.md shows sdk/react/test/consumer/quick-start.tsx as it is"
    );
    assert!(
        quick_start.lines().count() <= 20,
        "a quick start of at most 20 lines"
    );
    let package = read("sdk/react/README.md");
    assert!(package.contains(&block), "sdk/react/README.md shows it too");
}

// ---- the npm package ----

/// Whether this runs in CI (`CI` set, and not to `false` or `0`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn package_dir() -> PathBuf {
    repo().join("sdk/react")
}

/// Runs `program args` in the package, `what` for the messages.
fn run(dir: &Path, program: &str, args: &[&str], what: &str) -> Output {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `npm ci` (unless `node_modules` holds a finished install of the
/// lockfile; under the machine-wide lock of `npm_support`) and
/// `npm run build`, once for every test of this run: the first caller
/// does it while the others wait. `None` (after saying so) where `node`
/// or `npm` is missing; never in CI.
fn built_package(test: &str) -> Option<PathBuf> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    if !found("node") || !found("npm") {
        let why = format!(
            "{test} needs `node` and `npm` (apt-get install -y nodejs npm; .ci/run installs them)"
        );
        assert!(!in_ci(), "CI is set: {why}");
        println!("SKIPPED {why}");
        return None;
    }
    let dir = package_dir();
    let outcome = BUILT.get_or_init(|| {
        // One `npm ci` at a time on the machine, and only when the folder
        // lacks a finished install of its lockfile.
        npm_support::npm_ci(&dir)?;
        let step = |program: &str, args: &[&str]| {
            let output = Command::new(program)
                .args(args)
                .current_dir(&dir)
                .output()
                .map_err(|e| format!("{program}: {e}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{program} {args:?} failed:\n{}\n{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        };
        step("npm", &["run", "build"])
    });
    if let Err(why) = outcome {
        panic!("{why}");
    }
    Some(dir)
}

/// The unit tests (node's test runner: the hook and the button in jsdom,
/// server rendering, the bundled script; React 19 and 18), the type check
/// of the package and of a consumer of every documented option (React 19's
/// types and 18's), and the packed file list.
#[test]
fn react_package_builds_passes_its_unit_tests_type_checks_and_packs() {
    let Some(dir) =
        built_package("react_package_builds_passes_its_unit_tests_type_checks_and_packs")
    else {
        return;
    };
    let unit = run(&dir, "npm", &["test"], "npm test");
    let report = String::from_utf8_lossy(&unit.stdout);
    let passed: u32 = report
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `# pass` line:\n{report}"));
    assert!(passed >= 30, "{report}");
    assert!(report.lines().any(|l| l == "# fail 0"), "{report}");
    for react in ["React 19.", "React 18."] {
        assert!(report.contains(react), "ran with {react}x:\n{report}");
    }

    run(&dir, "npm", &["run", "typecheck"], "npm run typecheck");

    let pack = run(
        &dir,
        "npm",
        &["pack", "--dry-run", "--json", "--ignore-scripts"],
        "npm pack --dry-run",
    );
    let packed: Value = serde_json::from_slice(&pack.stdout).unwrap();
    let files: BTreeSet<String> = packed[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        files,
        set(&[
            "LICENSE-APACHE",
            "LICENSE-MIT",
            "README.md",
            "dist/ConnectButton.d.ts",
            "dist/connect-sdk.d.ts",
            "dist/index.d.ts",
            "dist/index.js",
            "dist/sdk.d.ts",
            "dist/useConnect.d.ts",
            "package.json",
        ]),
        "the build, the types, the README and the licences"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("LICENSE-MIT")).unwrap(),
        read("LICENSE-MIT")
    );
}

/// Headless Chromium (Playwright, `sdk/react/test/browser/run.mjs`) on a
/// React page served beside the axum example (demo providers off), with
/// React 19 and React 18: the server-rendered `ConnectButton` disabled
/// until the page is hydrated; Connect in a popup (publishable key) and in
/// a modal (a token from the page's backend) through the package, each code
/// exchanged and its token accepted; a component unmounted while its popup
/// or modal is open takes it away, silently; and the manual's quick start (docs/browser.md).
/// Screenshots land in `target/browser-artifacts/react-*.png`. Skipped,
/// saying so, only where `node`, `npm` or Chromium is missing, and never in
/// CI.
#[tokio::test]
async fn react_browser_connect_in_a_popup_and_a_modal() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        let why = format!("react_browser_connect_in_a_popup_and_a_modal needs {chromium}");
        assert!(!in_ci(), "CI is set: {why}");
        println!("SKIPPED {why}");
        return;
    }
    let Some(dir) = built_package("react_browser_connect_in_a_popup_and_a_modal") else {
        return;
    };
    let mut command = Command::new(example_binary("axum"));
    command
        .args(["--addr", "127.0.0.1:0"])
        .env("OAUTH_CONNECT_DEMO_APP", "off")
        .env("OAUTH_CONNECT_DEMO_PROVIDERS", "off")
        .env("OAUTH_CONNECT_ADMIN_KEYS", format!("ws_react={ADMIN_KEY}"))
        .env("RUST_LOG", "warn")
        .env_remove("PORT")
        .env_remove("OAUTH_CONNECT_ISSUER")
        .env_remove("OAUTH_CONNECT_SERVER_KEY")
        .env_remove("DATABASE_URL");
    let server = Process::spawn("axum", command, false).await;
    let exe = std::env::current_exe().unwrap();
    let artifacts = exe.ancestors().nth(3).unwrap().join("browser-artifacts");
    let vars = [
        ("OAUTH_CONNECT_BASE", server.base.clone()),
        ("OAUTH_CONNECT_ADMIN_KEY", ADMIN_KEY.to_owned()),
        ("ARTIFACTS_DIR", artifacts.display().to_string()),
        ("CHROMIUM", chromium),
    ];
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("test/browser/run.mjs")
            .current_dir(dir)
            .envs(vars)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "run.mjs failed:\n{stdout}\n{stderr}\nserver: {:#?}",
        server.output()
    );
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|r| serde_json::from_str(r).unwrap())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"));
    let mut expected = Vec::new();
    for react in ["r19", "r18"] {
        for step in ["ready", "popup", "modal", "unmount-popup", "unmount-modal"] {
            expected.push(format!("{react}:{step}"));
        }
    }
    expected.push("quick-start".to_owned());
    assert_eq!(result["done"], serde_json::json!(expected));
    for shot in ["react-r19-popup.png", "react-r18-modal.png"] {
        assert!(artifacts.join(shot).exists(), "{shot}");
    }
}

/// `npm ci` runs one at a time on the machine and once per lockfile
/// (`npm_support`): eight threads asking at once for the install of one
/// folder, with a stand-in `npm` that fails when another install of that
/// folder is under way, all succeed after exactly one install; an install
/// cut short (no marker) and a changed lockfile are installed again, a
/// finished install of the current lockfile is not.
#[test]
fn npm_ci_runs_one_at_a_time_and_once_per_lockfile() {
    use std::os::unix::fs::PermissionsExt as _;
    let root =
        npm_support::lock_path().with_file_name(format!("npm-ci-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("package");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package-lock.json"), r#"{"lockfileVersion": 3}"#).unwrap();
    let npm = root.join("npm");
    std::fs::write(
        &npm,
        "#!/bin/sh\n\
         mkdir busy || exit 3\n\
         echo ci >> installs\n\
         rm -rf node_modules && mkdir node_modules\n\
         sleep 0.2\n\
         rmdir busy\n",
    )
    .unwrap();
    std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let npm = npm.to_str().unwrap().to_owned();
    let installs = || {
        std::fs::read_to_string(dir.join("installs"))
            .unwrap_or_default()
            .lines()
            .count()
    };

    let outcomes: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let asks: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| npm_support::npm_ci_with(&npm, &dir)))
            .collect();
        asks.into_iter().map(|ask| ask.join().unwrap()).collect()
    });
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(installs(), 1, "one install for eight asks");
    assert!(npm_support::installed(&dir));

    std::fs::remove_file(dir.join(npm_support::MARKER)).unwrap();
    npm_support::npm_ci_with(&npm, &dir).unwrap();
    assert_eq!(installs(), 2, "an install without its marker is done again");

    std::fs::write(
        dir.join("package-lock.json"),
        r#"{"lockfileVersion": 3, "x": 1}"#,
    )
    .unwrap();
    assert!(!npm_support::installed(&dir));
    npm_support::npm_ci_with(&npm, &dir).unwrap();
    assert_eq!(installs(), 3, "a changed lockfile is installed again");

    npm_support::npm_ci_with(&npm, &dir).unwrap();
    assert_eq!(installs(), 3, "a finished install of the lockfile is kept");
    std::fs::remove_dir_all(&root).unwrap();
}

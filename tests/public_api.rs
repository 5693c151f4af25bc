//! The public API, listed and checked (issue 18 item 2).
//!
//! `tests/public-api.txt` lists every public item of the crate with all its
//! features: modules, types, fields, variants, functions and methods with
//! their signatures, trait items, constants, and the trait impls a type
//! carries. This test builds the crate's rustdoc JSON (one `cargo rustdoc`
//! run, `RUSTC_BOOTSTRAP=1` for the unstable output format, into a target
//! directory of its own so it never waits for the lock of the cargo running
//! it), renders the same list, and fails with a diff when they differ, so
//! that every change to the public API shows up in review.
//!
//! After an intended change, regenerate the file:
//!
//! ```text
//! UPDATE_PUBLIC_API=1 cargo test --all-features --test public_api
//! ```
//!
//! The second check keeps the crate root short: rustdoc's first page lists
//! at most [`MAX_ROOT_ITEMS`] items, the public modules and the macro
//! counted (the rest lives in the public modules by audience).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test: it fails loudly

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// The most items rustdoc's root page may list: modules, macros, types,
/// traits and re-exports alike.
const MAX_ROOT_ITEMS: usize = 50;

const LIST: &str = "tests/public-api.txt";
const REGENERATE: &str = "UPDATE_PUBLIC_API=1 cargo test --all-features --test public_api";

#[test]
fn the_public_api_matches_the_committed_list() {
    let api = api();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LIST);
    let rendered = render_file(&api.lines);
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == rendered {
        return;
    }
    let old: BTreeSet<&str> = committed.lines().filter(|l| !l.starts_with('#')).collect();
    let new: BTreeSet<&str> = rendered.lines().filter(|l| !l.starts_with('#')).collect();
    let mut diff = String::new();
    for line in old.difference(&new) {
        diff.push_str(&format!("- {line}\n"));
    }
    for line in new.difference(&old) {
        diff.push_str(&format!("+ {line}\n"));
    }
    panic!(
        "the public API differs from {LIST} (- only in the file, + only in the crate):\n{diff}\n\
         If the change is intended, regenerate the file and commit it:\n    {REGENERATE}\n"
    );
}

#[test]
fn rustdoc_root_page_lists_at_most_fifty_items() {
    let api = api();
    assert!(
        api.root_items.len() <= MAX_ROOT_ITEMS,
        "rustdoc's root page lists {} items, more than {MAX_ROOT_ITEMS}: put the names a host does not need to build, embed or protect in a public module by audience \
         (oauth, connect, registry, hooks, credentials, storage, http, limits):\n{}",
        api.root_items.len(),
        api.root_items.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Building the rustdoc JSON (once per test binary).

struct Api {
    lines: Vec<String>,
    root_items: Vec<String>,
}

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        let json = rustdoc_json();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", json.display()));
        let mut walker = Walker {
            doc: &doc,
            lines: BTreeSet::new(),
            seen: BTreeSet::new(),
        };
        let root = doc["root"].clone();
        let root_item = walker.item(&root).unwrap();
        let mut root_items = Vec::new();
        for id in root_item["inner"]["module"]["items"].as_array().unwrap() {
            let Some((name, item)) = walker.resolve(id) else {
                continue;
            };
            root_items.push(format!("{} {name}", kind_of(item)));
        }
        root_items.sort();
        walker.module("oauth_connect", root_item);
        Api {
            lines: walker.lines.into_iter().collect(),
            root_items,
        }
    })
}

fn rustdoc_json() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let target = profile_dir.join("public-api");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["rustdoc", "-p", "oauth-connect", "--lib", "--all-features"])
        .arg("--target-dir")
        .arg(&target)
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("RUSTDOCFLAGS")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo rustdoc --output-format json failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target.join("doc").join("oauth_connect.json")
}

fn render_file(lines: &[String]) -> String {
    let mut out = String::from(
        "# The public API of oauth-connect with all its features, one item a line.\n\
         # Checked by tests/public_api.rs; after an intended change, regenerate with\n",
    );
    out.push_str(&format!("#     {REGENERATE}\n"));
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------
// Walking the items.

struct Walker<'a> {
    doc: &'a Value,
    lines: BTreeSet<String>,
    /// Modules already walked (a module re-exported twice is listed once
    /// per path, but never walked in a loop).
    seen: BTreeSet<String>,
}

impl<'a> Walker<'a> {
    fn item(&self, id: &Value) -> Option<&'a Value> {
        let key = match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.doc["index"].get(&key)
    }

    /// The name under which a module lists `id`, and the item it names
    /// (through a `use`); `None` for a re-export of another crate's item.
    fn resolve(&self, id: &Value) -> Option<(String, &'a Value)> {
        let item = self.item(id)?;
        if let Some(import) = item["inner"].get("use") {
            let name = import["name"].as_str()?.to_owned();
            let target = self.item(&import["id"])?;
            return Some((name, target));
        }
        Some((item["name"].as_str()?.to_owned(), item))
    }

    fn module(&mut self, path: &str, module: &Value) {
        if !self.seen.insert(path.to_owned()) {
            return;
        }
        for id in module["inner"]["module"]["items"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(item) = self.item(id) else { continue };
            if let Some(import) = item["inner"].get("use") {
                match self.item(&import["id"]) {
                    Some(target) => {
                        let name = import["name"].as_str().unwrap_or("_");
                        if import["is_glob"].as_bool() == Some(true) {
                            self.module(path, target);
                        } else {
                            self.one(&format!("{path}::{name}"), target);
                        }
                    }
                    None => {
                        let source = import["source"].as_str().unwrap_or("_");
                        self.lines.insert(format!("pub use {path}::{source}"));
                    }
                }
                continue;
            }
            let name = item["name"].as_str().unwrap_or("_");
            self.one(&format!("{path}::{name}"), item);
        }
    }

    fn one(&mut self, path: &str, item: &'a Value) {
        let inner = &item["inner"];
        let kind = kind_of(item);
        match kind {
            "mod" => {
                self.lines.insert(format!("pub mod {path}"));
                self.module(path, item);
            }
            "struct" => {
                let s = &inner["struct"];
                self.lines
                    .insert(format!("pub struct {path}{}", generics(&s["generics"])));
                let kind = &s["kind"];
                if let Some(fields) = kind.get("plain").and_then(|p| p["fields"].as_array()) {
                    for f in fields {
                        self.field(path, f);
                    }
                } else if let Some(fields) = kind.get("tuple").and_then(Value::as_array) {
                    for (i, f) in fields.iter().enumerate() {
                        if let Some(field) = self.item(f) {
                            let ty = ty(&field["inner"]["struct_field"]);
                            self.lines.insert(format!("pub field {path}::{i}: {ty}"));
                        }
                    }
                }
                self.impls(path, &s["impls"]);
            }
            "enum" => {
                let e = &inner["enum"];
                self.lines
                    .insert(format!("pub enum {path}{}", generics(&e["generics"])));
                for v in e["variants"].as_array().into_iter().flatten() {
                    let Some(variant) = self.item(v) else {
                        continue;
                    };
                    let name = variant["name"].as_str().unwrap_or("_");
                    let vk = &variant["inner"]["variant"]["kind"];
                    let shape = if let Some(t) = vk.get("tuple").and_then(Value::as_array) {
                        let parts: Vec<String> = t
                            .iter()
                            .map(|f| {
                                self.item(f)
                                    .map_or("_".into(), |f| ty(&f["inner"]["struct_field"]))
                            })
                            .collect();
                        format!("({})", parts.join(", "))
                    } else {
                        String::new()
                    };
                    self.lines
                        .insert(format!("pub variant {path}::{name}{shape}"));
                    if let Some(fields) = vk.get("struct").and_then(|s| s["fields"].as_array()) {
                        for f in fields {
                            self.field(&format!("{path}::{name}"), f);
                        }
                    }
                }
                self.impls(path, &e["impls"]);
            }
            "union" => {
                self.lines.insert(format!("pub union {path}"));
            }
            "trait" => {
                let t = &inner["trait"];
                self.lines
                    .insert(format!("pub trait {path}{}", generics(&t["generics"])));
                for i in t["items"].as_array().into_iter().flatten() {
                    let Some(member) = self.item(i) else { continue };
                    let name = member["name"].as_str().unwrap_or("_");
                    self.member(&format!("{path}::{name}"), member);
                }
            }
            "fn" => {
                self.lines.insert(function(path, &inner["function"]));
            }
            "const" => {
                let c = &inner["constant"];
                let t = if c.is_null() { &inner["const"] } else { c };
                self.lines
                    .insert(format!("pub const {path}: {}", ty(&t["type"])));
            }
            "static" => {
                self.lines.insert(format!(
                    "pub static {path}: {}",
                    ty(&inner["static"]["type"])
                ));
            }
            "type" => {
                let t = &inner["type_alias"];
                self.lines.insert(format!(
                    "pub type {path}{} = {}",
                    generics(&t["generics"]),
                    ty(&t["type"])
                ));
            }
            "macro" => {
                let name = path.rsplit("::").next().unwrap_or(path);
                self.lines
                    .insert(format!("pub macro oauth_connect::{name}!"));
            }
            other => {
                self.lines.insert(format!("pub {other} {path}"));
            }
        }
    }

    fn field(&mut self, owner: &str, id: &Value) {
        // rustdoc leaves private fields out of the list.
        let Some(field) = self.item(id) else { return };
        let name = field["name"].as_str().unwrap_or("_");
        let t = ty(&field["inner"]["struct_field"]);
        self.lines.insert(format!("pub field {owner}::{name}: {t}"));
    }

    /// A trait's or an impl's associated item.
    fn member(&mut self, path: &str, member: &Value) {
        let inner = &member["inner"];
        if let Some(f) = inner.get("function") {
            self.lines.insert(function(path, f));
        } else if let Some(c) = inner.get("assoc_const") {
            self.lines
                .insert(format!("pub const {path}: {}", ty(&c["type"])));
        } else if inner.get("assoc_type").is_some() {
            self.lines.insert(format!("pub type {path}"));
        }
    }

    fn impls(&mut self, path: &str, impls: &Value) {
        for id in impls.as_array().into_iter().flatten() {
            let Some(imp) = self.item(id) else { continue };
            let i = &imp["inner"]["impl"];
            if i["is_synthetic"].as_bool() == Some(true) || !i["blanket_impl"].is_null() {
                continue;
            }
            if i["trait"].is_null() {
                for m in i["items"].as_array().into_iter().flatten() {
                    let Some(member) = self.item(m) else { continue };
                    if member["visibility"] != "public" {
                        continue;
                    }
                    let name = member["name"].as_str().unwrap_or("_");
                    self.member(&format!("{path}::{name}"), member);
                }
            } else {
                let t = path_of(&i["trait"]);
                let negative = if i["is_negative"].as_bool() == Some(true) {
                    "!"
                } else {
                    ""
                };
                self.lines.insert(format!(
                    "impl{} {negative}{t} for {}",
                    generics(&i["generics"]),
                    ty(&i["for"])
                ));
            }
        }
    }
}

fn kind_of(item: &Value) -> &'static str {
    let Some(inner) = item["inner"].as_object() else {
        return "?";
    };
    match inner.keys().next().map(String::as_str) {
        Some("module") => "mod",
        Some("struct") => "struct",
        Some("enum") => "enum",
        Some("union") => "union",
        Some("trait") => "trait",
        Some("function") => "fn",
        Some("constant" | "const") => "const",
        Some("static") => "static",
        Some("type_alias") => "type",
        Some("macro" | "proc_macro") => "macro",
        Some("use") => "use",
        Some("trait_alias") => "trait alias",
        _ => "?",
    }
}

// ---------------------------------------------------------------------------
// Rendering signatures and types, compactly.

fn function(path: &str, f: &Value) -> String {
    let header = &f["header"];
    let mut out = String::from("pub ");
    for (flag, word) in [
        ("is_const", "const "),
        ("is_async", "async "),
        ("is_unsafe", "unsafe "),
    ] {
        if header[flag].as_bool() == Some(true) {
            out.push_str(word);
        }
    }
    out.push_str("fn ");
    out.push_str(path);
    out.push_str(&generics(&f["generics"]));
    let sig = &f["sig"];
    let inputs: Vec<String> = sig["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pair| {
            let name = pair[0].as_str().unwrap_or("_");
            let t = &pair[1];
            if name == "self" {
                self_param(t)
            } else {
                format!("{name}: {}", ty(t))
            }
        })
        .collect();
    out.push_str(&format!("({})", inputs.join(", ")));
    if !sig["output"].is_null() {
        out.push_str(" -> ");
        out.push_str(&ty(&sig["output"]));
    }
    let bounds = where_clause(&f["generics"]);
    out.push_str(&bounds);
    out
}

fn self_param(t: &Value) -> String {
    if let Some(r) = t.get("borrowed_ref")
        && r["type"].get("generic").and_then(Value::as_str) == Some("Self")
    {
        let m = if r["is_mutable"].as_bool() == Some(true) {
            "mut "
        } else {
            ""
        };
        return format!("&{m}self");
    }
    if t.get("generic").and_then(Value::as_str) == Some("Self") {
        return "self".into();
    }
    format!("self: {}", ty(t))
}

fn generics(g: &Value) -> String {
    let params: Vec<String> = g["params"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p["name"].as_str()?;
            let kind = &p["kind"];
            if let Some(t) = kind.get("type") {
                if t["is_synthetic"].as_bool() == Some(true) {
                    return None; // `impl Trait` in argument position
                }
                let bounds = bounds(&t["bounds"]);
                let default = if t["default"].is_null() {
                    String::new()
                } else {
                    format!(" = {}", ty(&t["default"]))
                };
                Some(if bounds.is_empty() {
                    format!("{name}{default}")
                } else {
                    format!("{name}: {bounds}{default}")
                })
            } else if kind.get("const").is_some() {
                Some(format!("const {name}: {}", ty(&kind["const"]["type"])))
            } else {
                Some(name.to_owned())
            }
        })
        .collect();
    if params.is_empty() {
        String::new()
    } else {
        format!("<{}>", params.join(", "))
    }
}

fn where_clause(g: &Value) -> String {
    let preds: Vec<String> = g["where_predicates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let b = p.get("bound_predicate")?;
            Some(format!("{}: {}", ty(&b["type"]), bounds(&b["bounds"])))
        })
        .collect();
    if preds.is_empty() {
        String::new()
    } else {
        format!(" where {}", preds.join(", "))
    }
}

fn bounds(b: &Value) -> String {
    b.as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            if let Some(t) = b.get("trait_bound") {
                let m = match t["modifier"].as_str() {
                    Some("maybe") => "?",
                    _ => "",
                };
                format!("{m}{}", path_of(&t["trait"]))
            } else if let Some(l) = b.get("outlives").and_then(Value::as_str) {
                l.to_owned()
            } else {
                "_".into()
            }
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn path_of(p: &Value) -> String {
    let name = p["path"]
        .as_str()
        .or_else(|| p["name"].as_str())
        .unwrap_or("_");
    // Only the last segment: where a type lives is listed where it is defined.
    let name = name.rsplit("::").next().unwrap_or(name);
    format!("{name}{}", args(&p["args"]))
}

fn args(a: &Value) -> String {
    if let Some(ab) = a.get("angle_bracketed") {
        let mut parts: Vec<String> = ab["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                if let Some(t) = g.get("type") {
                    ty(t)
                } else if let Some(l) = g.get("lifetime").and_then(Value::as_str) {
                    l.to_owned()
                } else if let Some(c) = g.get("const") {
                    c["expr"].as_str().unwrap_or("_").to_owned()
                } else {
                    "_".into()
                }
            })
            .collect();
        for c in ab["constraints"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or("_");
            if let Some(t) = c["binding"].get("equality").and_then(|e| e.get("type")) {
                parts.push(format!("{name} = {}", ty(t)));
            } else if let Some(b) = c["binding"].get("constraint") {
                parts.push(format!("{name}: {}", bounds(b)));
            }
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("<{}>", parts.join(", "))
        }
    } else if let Some(p) = a.get("parenthesized") {
        let inputs: Vec<String> = p["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(ty)
            .collect();
        let output = if p["output"].is_null() {
            String::new()
        } else {
            format!(" -> {}", ty(&p["output"]))
        };
        format!("({}){output}", inputs.join(", "))
    } else {
        String::new()
    }
}

fn ty(t: &Value) -> String {
    if let Some(p) = t.get("resolved_path") {
        return path_of(p);
    }
    if let Some(g) = t.get("generic").and_then(Value::as_str) {
        return g.to_owned();
    }
    if let Some(p) = t.get("primitive").and_then(Value::as_str) {
        return p.to_owned();
    }
    if let Some(r) = t.get("borrowed_ref") {
        let l = r["lifetime"]
            .as_str()
            .map_or(String::new(), |l| format!("{l} "));
        let m = if r["is_mutable"].as_bool() == Some(true) {
            "mut "
        } else {
            ""
        };
        return format!("&{l}{m}{}", ty(&r["type"]));
    }
    if let Some(items) = t.get("tuple").and_then(Value::as_array) {
        let parts: Vec<String> = items.iter().map(ty).collect();
        return format!("({})", parts.join(", "));
    }
    if let Some(s) = t.get("slice") {
        return format!("[{}]", ty(s));
    }
    if let Some(a) = t.get("array") {
        return format!("[{}; {}]", ty(&a["type"]), a["len"].as_str().unwrap_or("_"));
    }
    if let Some(b) = t.get("impl_trait") {
        return format!("impl {}", bounds(b));
    }
    if let Some(d) = t.get("dyn_trait") {
        let traits: Vec<String> = d["traits"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| path_of(&p["trait"]))
            .collect();
        let l = d["lifetime"]
            .as_str()
            .map_or(String::new(), |l| format!(" + {l}"));
        return format!("dyn {}{l}", traits.join(" + "));
    }
    if let Some(q) = t.get("qualified_path") {
        let name = q["name"].as_str().unwrap_or("_");
        let self_type = ty(&q["self_type"]);
        return if q["trait"].is_null() {
            format!("{self_type}::{name}")
        } else {
            format!("<{self_type} as {}>::{name}", path_of(&q["trait"]))
        };
    }
    if let Some(p) = t.get("raw_pointer") {
        let m = if p["is_mutable"].as_bool() == Some(true) {
            "mut"
        } else {
            "const"
        };
        return format!("*{m} {}", ty(&p["type"]));
    }
    if let Some(f) = t.get("function_pointer") {
        let inputs: Vec<String> = f["sig"]["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|pair| ty(&pair[1]))
            .collect();
        let output = if f["sig"]["output"].is_null() {
            String::new()
        } else {
            format!(" -> {}", ty(&f["sig"]["output"]))
        };
        return format!("fn({}){output}", inputs.join(", "));
    }
    if t.as_str() == Some("infer") {
        return "_".into();
    }
    "_".into()
}

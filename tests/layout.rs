//! The layout check (issue 18 item 1): `src/` is laid out as the crate's
//! architecture, and this test keeps it so. It reads every file under
//! `src/`, collects the `crate::…` and `super::…` paths of the code (not of
//! comments, strings or `#[cfg(test)]` items), resolves each to the module it
//! names (through the crate root's re-exports), and fails
//!
//! - on any import cycle between modules (Tarjan's strongly connected
//!   components), apart from [`KNOWN_CYCLES`];
//! - on any import that does not point down the layer order, [`LAYERS`];
//! - on any source file over [`MAX_LINES`] lines, apart from [`LONG_FILES`].
//!
//! The README's "Layout" section describes the same order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test: it fails loudly

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layer order, bottom first. A module imports only from its own
/// top-level module (a folder under `src/` or a file beside `lib.rs`) and from
/// those in earlier layers; the top-level modules of one layer do not import
/// each other. `lib.rs` is the façade and re-exports from all of them.
const LAYERS: &[&[&str]] = &[
    // Plain values: ids, scopes, redirect URIs, origins, times, apps.
    &["model"],
    // Credentials, their prefixes and hashes, the key ring.
    &["credentials"],
    // What a host plugs in besides storage: resource owner, link hook, events, clock.
    &["hooks"],
    // Traces and metrics of requests, storage calls and flows (issue 22).
    &["telemetry"],
    // The storage traits, their records, the memory and PostgreSQL backends.
    &["storage"],
    // The management and Connect API's Error, its status table and parts.
    &["error"],
    // How the hosted pages look and speak, as configuration: the brand and
    // its theme, the message catalogues, the page language, the `locale`
    // check (the configuration, the builder and Connect sessions read them;
    // the HTML itself is http::ui's).
    &["presentation"],
    // ServerConfig and its parts.
    &["config"],
    // AuthorizationServer, its builder, rate limits, client addresses.
    &["server"],
    // The flows, each a set of methods on the server: the registry first,
    // then OAuth (which authenticates the registry's clients), then Connect
    // (which ends in an OAuth code) and the webhooks (issue 22) beside it,
    // then the resource-server side (bearer checks over all of them).
    &["registry"],
    &["oauth"],
    &["connect", "webhooks"],
    &["resource"],
    // The HTTP layer: router, handlers, pages.
    &["http"],
    // The framework adapters.
    &["adapter"],
    &["axum", "actix"],
    // The constants' façade (`oauth_connect::limits`): re-exports only, of
    // every MAX_*/DEFAULT_* the modules below define.
    &["limits"],
    // Feature-gated helpers for tests elsewhere, and the manual's doctests.
    &["testing", "manual"],
];

/// The longest a file under `src/` may be, in lines.
const MAX_LINES: usize = 800;

/// Imports against the layer order not cut yet, as (from, to) pairs of
/// top-level modules. The check fails on any other, and on a listed pair
/// that is gone (take it off the list).
const KNOWN_UPWARD: &[(&str, &str)] = &[];

/// Files under `src/` allowed over [`MAX_LINES`].
const LONG_FILES: &[&str] = &[
    // Data, not code.
    "src/http/openapi.json",
];

/// Import cycles not cut yet. The check fails on any other cycle, and on a
/// listed one that is gone (take it off the list).
const KNOWN_CYCLES: &[&[&str]] = &[];

// ---------------------------------------------------------------------------
// The checks over the crate.

#[test]
fn src_has_no_import_cycle_between_modules() {
    let graph = crate_graph();
    let found = cycles(&graph.edges);
    let known: Vec<Vec<String>> = KNOWN_CYCLES
        .iter()
        .map(|c| c.iter().map(|m| (*m).to_owned()).collect())
        .collect();
    let gone: Vec<_> = known.iter().filter(|c| !found.contains(c)).collect();
    assert!(
        gone.is_empty(),
        "cycles cut, to take off KNOWN_CYCLES in tests/layout.rs: {gone:?}"
    );
    let cycles: Vec<_> = found.into_iter().filter(|c| !known.contains(c)).collect();
    assert!(
        cycles.is_empty(),
        "import cycles in src/ (each line one strongly connected component; cut an edge by moving \
         the shared item down a layer):\n{}",
        cycles
            .iter()
            .map(|c| c.join(" <-> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn src_imports_only_point_down_the_layer_order() {
    let graph = crate_graph();
    let top = |m: &str| m.split("::").next().unwrap_or("").to_owned();
    let mut seen = BTreeSet::new();
    for (from, tos) in &graph.edges {
        for to in tos {
            seen.insert((top(from), top(to)));
        }
    }
    let gone: Vec<_> = KNOWN_UPWARD
        .iter()
        .filter(|(a, b)| !seen.contains(&((*a).to_owned(), (*b).to_owned())))
        .collect();
    assert!(
        gone.is_empty(),
        "imports cut, to take off KNOWN_UPWARD in tests/layout.rs: {gone:?}"
    );
    let known: BTreeMap<String, BTreeSet<String>> = graph
        .edges
        .iter()
        .map(|(from, tos)| {
            let kept = tos
                .iter()
                .filter(|to| !KNOWN_UPWARD.contains(&(top(from).as_str(), top(to).as_str())))
                .cloned()
                .collect();
            (from.clone(), kept)
        })
        .collect();
    let violations = upward_imports(&known, LAYERS);
    assert!(
        violations.is_empty(),
        "imports against the layer order (tests/layout.rs, LAYERS):\n{}",
        violations.join("\n")
    );
}

#[test]
fn src_files_stay_under_800_lines() {
    let mut long = Vec::new();
    for path in files(&src_dir()) {
        let name = relative(&path);
        let code = ["rs", "js", "ts"]
            .iter()
            .any(|ext| path.extension().is_some_and(|e| e == *ext));
        if !code || LONG_FILES.contains(&name.as_str()) {
            continue;
        }
        let lines = read(&path).lines().count();
        if lines > MAX_LINES {
            long.push(format!("{name}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (split them by concern):\n{}",
        long.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let graph = crate_graph();
    let placed: BTreeSet<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    let missing: Vec<_> = graph
        .modules
        .iter()
        .filter_map(|m| m.split("::").next())
        .filter(|top| !top.is_empty() && !placed.contains(top))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        missing.is_empty(),
        "top-level modules missing from LAYERS in tests/layout.rs: {missing:?}"
    );
}

// ---------------------------------------------------------------------------
// Reading the crate.

struct Graph {
    modules: BTreeSet<String>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `src/lib.rs` is the root, "".
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src_dir()).unwrap();
    let mut segs: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    if segs.last().is_some_and(|s| s == "mod" || s == "lib") {
        segs.pop();
    }
    segs.join("::")
}

fn crate_graph() -> Graph {
    let mut sources = BTreeMap::new();
    let mut test_only = BTreeSet::new();
    for path in files(&src_dir()) {
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let module = module_of(&path);
        let code = strip(&read(&path));
        for child in test_children(&code) {
            test_only.insert(join(&module, &child));
        }
        sources.insert(module, code);
    }
    // Modules declared `#[cfg(test)] mod name;` are tests, not architecture.
    sources.retain(|m, _| !test_only.contains(m));
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    let aliases = root_aliases(&sources[""]);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &sources {
        if module.is_empty() {
            continue;
        }
        let out = edges.entry(module.clone()).or_default();
        for path in paths(module, &without_tests(code)) {
            if let Some(target) = resolve(&path, &modules, &aliases)
                && !target.is_empty()
                && target != *module
            {
                out.insert(target);
            }
        }
    }
    Graph { modules, edges }
}

fn join(module: &str, child: &str) -> String {
    if module.is_empty() {
        child.to_owned()
    } else {
        format!("{module}::{child}")
    }
}

// ---------------------------------------------------------------------------
// Pure functions: the lexer, the path collector, the resolver and the checks.

/// The source without comments and with every string and character literal
/// emptied, so that only code is left to scan.
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && !prev_is_ident(&b, i)
            && raw_string_start(&b, if c == 'b' { i + 1 } else { i }).is_some()
        {
            let start = if c == 'b' { i + 1 } else { i };
            let hashes = raw_string_start(&b, start).unwrap_or(0);
            i = start + 1 + hashes + 1;
            loop {
                if i >= b.len() {
                    break;
                }
                if b[i] == '"' && (0..hashes).all(|k| b.get(i + 1 + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if next == Some('\\') {
                i += 3;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// At `r` of `r"`, `r#"`, …: the number of `#`s.
fn raw_string_start(b: &[char], i: usize) -> Option<usize> {
    if b.get(i) != Some(&'r') {
        return None;
    }
    let mut k = i + 1;
    while b.get(k) == Some(&'#') {
        k += 1;
    }
    (b.get(k) == Some(&'"')).then_some(k - i - 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Punct(char),
    PathSep,
}

fn tokens(code: &str) -> Vec<Tok> {
    let b: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push(Tok::PathSep);
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

fn is_ident(t: Option<&Tok>, name: &str) -> bool {
    matches!(t, Some(Tok::Ident(s)) if s == name)
}

/// The names of the child modules declared `#[cfg(test)] mod name;`.
fn test_children(code: &str) -> Vec<String> {
    let t = tokens(code);
    let mut out = Vec::new();
    for i in 0..t.len() {
        if cfg_test_at(&t, i) {
            let mut k = i + 7;
            while matches!(t.get(k), Some(Tok::Ident(s)) if s == "pub" || s == "crate") {
                k += 1;
            }
            if is_ident(t.get(k), "mod")
                && let Some(Tok::Ident(name)) = t.get(k + 1)
                && t.get(k + 2) == Some(&Tok::Punct(';'))
            {
                out.push(name.clone());
            }
        }
    }
    out
}

/// Whether `#[cfg(test)]` starts at token `i` (7 tokens).
fn cfg_test_at(t: &[Tok], i: usize) -> bool {
    t.get(i) == Some(&Tok::Punct('#'))
        && t.get(i + 1) == Some(&Tok::Punct('['))
        && is_ident(t.get(i + 2), "cfg")
        && t.get(i + 3) == Some(&Tok::Punct('('))
        && is_ident(t.get(i + 4), "test")
        && t.get(i + 5) == Some(&Tok::Punct(')'))
        && t.get(i + 6) == Some(&Tok::Punct(']'))
}

/// The tokens without the items marked `#[cfg(test)]`.
fn without_tests(code: &str) -> Vec<Tok> {
    let t = tokens(code);
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if !cfg_test_at(&t, i) {
            out.push(t[i].clone());
            i += 1;
            continue;
        }
        // Skip to the end of the item: its `;`, or the `}` closing its
        // first block, whichever comes first.
        i += 7;
        while i < t.len() && t[i] != Tok::Punct(';') && t[i] != Tok::Punct('{') {
            i += 1;
        }
        if t.get(i) == Some(&Tok::Punct('{')) {
            let mut depth = 0;
            while i < t.len() {
                match t[i] {
                    Tok::Punct('{') => depth += 1,
                    Tok::Punct('}') => depth -= 1,
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every absolute path (`crate::…`, `super::…` made absolute) in the code of
/// `module`, with use trees (`crate::a::{b, c::d}`) expanded. Paths relative
/// to the module itself (`self::…`, a child's name) are left out: a module
/// may use its children.
fn paths(module: &str, t: &[Tok]) -> Vec<Vec<String>> {
    let file: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        match &t[i] {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                while inline.last().is_some_and(|(_, d)| *d > depth) {
                    inline.pop();
                }
            }
            Tok::Ident(s) if s == "mod" => {
                if let Some(Tok::Ident(name)) = t.get(i + 1)
                    && t.get(i + 2) == Some(&Tok::Punct('{'))
                {
                    depth += 1;
                    inline.push((name.clone(), depth));
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(s)
                if (s == "crate" || s == "super")
                    && t.get(i + 1) == Some(&Tok::PathSep)
                    && t.get(i.wrapping_sub(1)) != Some(&Tok::Punct('$'))
                    && (i == 0 || t.get(i - 1) != Some(&Tok::PathSep)) =>
            {
                let mut base: Vec<String> = if s == "crate" {
                    Vec::new()
                } else {
                    let mut here = file.clone();
                    here.extend(inline.iter().map(|(n, _)| n.clone()));
                    here.pop();
                    here
                };
                let mut k = i + 2;
                while is_ident(t.get(k), "super") && t.get(k + 1) == Some(&Tok::PathSep) {
                    base.pop();
                    k += 2;
                }
                let (trees, end) = use_tree(t, k);
                for tail in trees {
                    let mut p = base.clone();
                    p.extend(tail);
                    out.push(p);
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Parses a path or use tree starting at token `k` (after `crate::`):
/// `a::b`, `a::{b, c::{d, e}}`, `a::b as c`. Returns the expanded paths
/// (`self` in a group is the group's base) and the token after the tree.
fn use_tree(t: &[Tok], mut k: usize) -> (Vec<Vec<String>>, usize) {
    let mut base = Vec::new();
    loop {
        match t.get(k) {
            Some(Tok::Ident(s)) => {
                if s != "self" {
                    base.push(s.clone());
                }
                k += 1;
                if t.get(k) == Some(&Tok::PathSep) {
                    k += 1;
                    continue;
                }
                return (vec![base], k);
            }
            Some(Tok::Punct('{')) => {
                k += 1;
                let mut out = Vec::new();
                while k < t.len() && t[k] != Tok::Punct('}') {
                    if t[k] == Tok::Punct(',') {
                        k += 1;
                        continue;
                    }
                    let (inner, end) = use_tree(t, k);
                    for tail in inner {
                        let mut p = base.clone();
                        p.extend(tail);
                        out.push(p);
                    }
                    // Skip a rename (`as name`) or anything else up to the
                    // next item of the group.
                    k = end.max(k + 1);
                    while k < t.len() && t[k] != Tok::Punct(',') && t[k] != Tok::Punct('}') {
                        k += 1;
                    }
                }
                return (out, k + 1);
            }
            _ => return (vec![base], k),
        }
    }
}

/// The crate root's `use` and `pub use` items: each name it brings into the
/// root, with the path it stands for (`Scope` → `model::scope::Scope`,
/// `conformance` → `testing::conformance`).
fn root_aliases(lib: &str) -> BTreeMap<String, Vec<String>> {
    let t = tokens(lib);
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < t.len() {
        if is_ident(t.get(i), "use") {
            let mut k = i + 1;
            if t.get(k) == Some(&Tok::PathSep) {
                k += 1;
            }
            for (name, path) in named_tree(&t, k, Vec::new()).0 {
                out.insert(name, path);
            }
        }
        i += 1;
    }
    out
}

/// Like [`use_tree`], but keeps each leaf's name in scope (its `as` name).
#[allow(clippy::type_complexity)]
fn named_tree(
    t: &[Tok],
    mut k: usize,
    mut base: Vec<String>,
) -> (Vec<(String, Vec<String>)>, usize) {
    loop {
        match t.get(k) {
            Some(Tok::Ident(s)) => {
                if s != "self" {
                    base.push(s.clone());
                }
                k += 1;
                if t.get(k) == Some(&Tok::PathSep) {
                    k += 1;
                    continue;
                }
                let mut name = base.last().cloned().unwrap_or_default();
                if is_ident(t.get(k), "as")
                    && let Some(Tok::Ident(alias)) = t.get(k + 1)
                {
                    name = alias.clone();
                    k += 2;
                }
                return (vec![(name, base)], k);
            }
            Some(Tok::Punct('{')) => {
                k += 1;
                let mut out = Vec::new();
                while k < t.len() && t[k] != Tok::Punct('}') {
                    if t[k] == Tok::Punct(',') {
                        k += 1;
                        continue;
                    }
                    let (inner, end) = named_tree(t, k, base.clone());
                    out.extend(inner);
                    k = end.max(k + 1);
                    while k < t.len() && t[k] != Tok::Punct(',') && t[k] != Tok::Punct('}') {
                        k += 1;
                    }
                }
                return (out, k + 1);
            }
            _ => return (Vec::new(), k),
        }
    }
}

/// The module a path names: the longest prefix that is a module, after
/// replacing a root re-export by what it re-exports. `None` for what is no
/// module's (a macro at the root, a path into another crate).
fn resolve(
    path: &[String],
    modules: &BTreeSet<String>,
    aliases: &BTreeMap<String, Vec<String>>,
) -> Option<String> {
    let mut path = path.to_vec();
    for _ in 0..8 {
        let first = path.first()?;
        if modules.contains(first.as_str()) {
            break;
        }
        let target = aliases.get(first)?;
        let mut next = target.clone();
        next.extend(path[1..].iter().cloned());
        if next == path {
            break;
        }
        path = next;
    }
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    let nodes: BTreeSet<&str> = edges
        .iter()
        .flat_map(|(a, bs)| std::iter::once(a.as_str()).chain(bs.iter().map(String::as_str)))
        .collect();
    for v in nodes {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

/// Every edge between top-level modules that does not point to an earlier
/// layer, and every top-level module missing from the layers.
fn upward_imports(edges: &BTreeMap<String, BTreeSet<String>>, layers: &[&[&str]]) -> Vec<String> {
    let layer = |m: &str| {
        let top = m.split("::").next().unwrap_or("");
        layers.iter().position(|l| l.contains(&top))
    };
    let top = |m: &str| m.split("::").next().unwrap_or("").to_owned();
    let mut out = Vec::new();
    for (from, tos) in edges {
        for to in tos {
            if top(from) == top(to) {
                continue;
            }
            match (layer(from), layer(to)) {
                (Some(a), Some(b)) if b < a => {}
                (Some(_), Some(_)) => out.push(format!(
                    "{from} imports {to}: `{}` is not below `{}`",
                    top(to),
                    top(from)
                )),
                _ => out.push(format!(
                    "{from} imports {to}: `{}` or `{}` has no layer",
                    top(from),
                    top(to)
                )),
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The checker's own tests, over small in-memory graphs and sources.

fn graph(edges: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, b) in edges {
        g.entry((*a).to_owned())
            .or_default()
            .insert((*b).to_owned());
    }
    g
}

#[test]
fn checker_finds_a_planted_cycle() {
    let g = graph(&[
        ("oauth::token", "connect::scoped_keys"),
        ("connect::scoped_keys", "connect"),
        ("connect", "oauth::token"),
        ("connect", "model::ids"),
        ("http", "connect"),
    ]);
    assert_eq!(
        cycles(&g),
        vec![vec![
            "connect".to_owned(),
            "connect::scoped_keys".to_owned(),
            "oauth::token".to_owned()
        ]]
    );
    let acyclic = graph(&[("http", "connect"), ("connect", "model"), ("http", "model")]);
    assert!(cycles(&acyclic).is_empty());
}

#[test]
fn checker_finds_a_planted_upward_import() {
    let layers: &[&[&str]] = &[
        &["model"],
        &["storage"],
        &["connect", "webhooks"],
        &["http"],
    ];
    let down = graph(&[("storage::memory", "model::app"), ("http", "connect")]);
    assert!(upward_imports(&down, layers).is_empty());
    let up = graph(&[
        ("storage", "connect"),
        ("connect", "webhooks"),
        ("x", "model"),
    ]);
    assert_eq!(
        upward_imports(&up, layers),
        vec![
            "connect imports webhooks: `webhooks` is not below `connect`",
            "storage imports connect: `connect` is not below `storage`",
            "x imports model: `x` or `model` has no layer",
        ]
    );
}

#[test]
fn checker_reads_paths_from_code_only() {
    let src = r##"
//! Mentions `crate::http` in a doc comment.
use crate::model::{ids::{AppId, Subject}, scope, self};
use super::sibling::Thing;
/* crate::connect in a block comment */
fn f() -> &'static str {
    let _ = crate::storage::Storage::x(b'a', 'b', '\n');
    let _ = "crate::oauth in a string";
    let _ = r#"crate::oauth in a raw "string""#;
    $crate::not_a_path();
    mod inner { use super::super::up::Item; }
    "ok"
}
#[cfg(test)]
mod tests { use crate::http::Anything; }
#[cfg(test)]
mod key_tests;
"##;
    let code = strip(src);
    let found = paths("flows::here", &without_tests(&code));
    let found: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        vec![
            "model::ids::AppId",
            "model::ids::Subject",
            "model::scope",
            "model",
            "flows::sibling::Thing",
            "storage::Storage::x",
            "flows::up::Item",
        ]
    );
    assert_eq!(test_children(&code), vec!["key_tests"]);
}

#[test]
fn checker_resolves_root_re_exports_to_their_modules() {
    let lib = strip(
        "mod model;\npub use model::scope::{Scope, ScopeSet};\npub use testing::conformance;\n\
         use {oauth::{token, error as oauth_error}};\n",
    );
    let aliases = root_aliases(&lib);
    let modules: BTreeSet<String> = [
        "model",
        "model::scope",
        "oauth",
        "oauth::token",
        "oauth::error",
        "testing::conformance",
        "testing",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let r = |p: &str| {
        let path: Vec<String> = p.split("::").map(str::to_owned).collect();
        resolve(&path, &modules, &aliases)
    };
    assert_eq!(r("ScopeSet").as_deref(), Some("model::scope"));
    assert_eq!(
        r("conformance::run").as_deref(),
        Some("testing::conformance")
    );
    assert_eq!(
        r("oauth_error::OAuthError").as_deref(),
        Some("oauth::error")
    );
    assert_eq!(r("token::TokenError").as_deref(), Some("oauth::token"));
    assert_eq!(r("storage_conformance_tests"), None);
}

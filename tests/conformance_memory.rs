//! The storage conformance suite against the in-memory backend.

use oauth_connect::MemoryStore;

oauth_connect::storage_conformance_tests!(async { MemoryStore::new() });

/// The suite's checks are the `pub async fn`s of `src/testing/conformance/`
/// (one file per trait); the macro above runs the list written in
/// `storage_conformance_tests!`. A check missing from that list would never
/// run on any backend, so: every check is listed exactly once, and the list
/// names nothing but checks.
#[test]
fn the_macro_lists_every_check_exactly_once() {
    use std::collections::BTreeMap;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/testing/conformance");
    let mut checks = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("pub async fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let file = path.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    checks.insert(name.clone(), file).is_none(),
                    "{name} defined twice"
                );
            }
        }
    }
    assert!(checks.len() > 70, "found only {} checks", checks.len());

    let module = std::fs::read_to_string(dir.join("mod.rs")).unwrap();
    let start = module
        .find("storage_conformance_tests!(@each $make;")
        .expect("the macro's list");
    let list = &module[start..];
    let list = &list[list.find(';').unwrap() + 1..list.find(");").unwrap()];
    let mut listed: BTreeMap<String, usize> = BTreeMap::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        *listed.entry(name.to_owned()).or_default() += 1;
    }

    let unlisted: Vec<_> = checks
        .iter()
        .filter(|(name, _)| !listed.contains_key(*name))
        .collect();
    assert!(
        unlisted.is_empty(),
        "checks not in storage_conformance_tests!: {unlisted:?}"
    );
    let twice: Vec<_> = listed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "listed more than once: {twice:?}");
    let unknown: Vec<_> = listed
        .keys()
        .filter(|name| !checks.contains_key(*name))
        .collect();
    assert!(unknown.is_empty(), "listed but not a check: {unknown:?}");
}

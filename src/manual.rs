//! The README and the manual (`docs/*.md`), kept true.
//!
//! Their Rust snippets are compiled (and, unless marked `no_run` or
//! `ignore`, run) as doc tests: each page is the doc comment of one item
//! below. The snippets use the `postgres`, `axum` and `actix` features:
//! `cargo test --workspace --all-features`. The unit tests check that the README stays
//! a front page (at most 15 KiB), that every page of `docs/` is listed
//! here, and that every relative link of the README, the manual and
//! `benches/README.md` reaches an existing file and heading.

/// Every page of the manual, by file name under `docs/`.
#[cfg(test)]
const PAGES: &[&str] = &[
    "browser.md",
    "configuration.md",
    "connect.md",
    "design.md",
    "embedding.md",
    "hosted-pages.md",
    "native-apps.md",
    "oauth.md",
    "postgres.md",
    "security.md",
    "testing.md",
    "webhooks.md",
    "observability.md",
];

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

#[cfg(doctest)]
#[doc = include_str!("../docs/browser.md")]
struct Browser;

#[cfg(doctest)]
#[doc = include_str!("../docs/configuration.md")]
struct Configuration;

#[cfg(doctest)]
#[doc = include_str!("../docs/connect.md")]
struct Connect;

#[cfg(doctest)]
#[doc = include_str!("../docs/design.md")]
struct Design;

#[cfg(doctest)]
#[doc = include_str!("../docs/embedding.md")]
struct Embedding;

#[cfg(doctest)]
#[doc = include_str!("../docs/hosted-pages.md")]
struct HostedPages;

#[cfg(doctest)]
#[doc = include_str!("../docs/native-apps.md")]
struct NativeApps;

#[cfg(doctest)]
#[doc = include_str!("../docs/oauth.md")]
struct OAuth;

#[cfg(doctest)]
#[doc = include_str!("../docs/postgres.md")]
struct Postgres;

#[cfg(doctest)]
#[doc = include_str!("../docs/webhooks.md")]
struct Webhooks;

#[cfg(doctest)]
#[doc = include_str!("../docs/observability.md")]
struct Observability;

#[cfg(doctest)]
#[doc = include_str!("../docs/security.md")]
struct Security;

#[cfg(doctest)]
#[doc = include_str!("../docs/testing.md")]
struct Testing;

#[cfg(test)]
mod tests {
    use super::PAGES;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// The README is a front page: at most 15 KiB.
    const README_MAX_BYTES: usize = 15 * 1024;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// The text of a Markdown page outside its fenced code blocks.
    fn prose(markdown: &str) -> String {
        let mut out = String::new();
        let mut fenced = false;
        for line in markdown.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            if !fenced {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// The anchor GitHub gives a heading: lowercase, spaces to `-`, other
    /// punctuation but `-` and `_` dropped.
    fn slug(heading: &str) -> String {
        heading
            .trim()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .collect()
    }

    fn anchors(markdown: &str) -> BTreeSet<String> {
        prose(markdown)
            .lines()
            .filter(|line| line.starts_with('#'))
            .filter_map(|line| line.trim_start_matches('#').strip_prefix(' '))
            .map(slug)
            .collect()
    }

    /// The targets of the inline links `[text](target)` of a page's prose.
    fn link_targets(markdown: &str) -> Vec<String> {
        let text = prose(markdown);
        let mut targets = Vec::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                let target = &rest[..end];
                if !target.contains(char::is_whitespace) {
                    targets.push(target.to_owned());
                }
                rest = &rest[end..];
            }
        }
        targets
    }

    fn pages() -> Vec<PathBuf> {
        let mut pages = vec![root().join("README.md"), root().join("benches/README.md")];
        pages.extend(PAGES.iter().map(|page| root().join("docs").join(page)));
        pages
    }

    #[test]
    fn the_readme_is_at_most_15_kib() {
        let size = read(&root().join("README.md")).len();
        assert!(
            size <= README_MAX_BYTES,
            "README.md is {size} bytes, more than {README_MAX_BYTES}: move detail into docs/"
        );
    }

    #[test]
    fn every_page_of_docs_is_doctested_and_linked_from_the_readme() {
        let on_disk: BTreeSet<String> = std::fs::read_dir(root().join("docs"))
            .unwrap_or_else(|e| panic!("docs/: {e}"))
            .map(|entry| entry.unwrap_or_else(|e| panic!("docs/: {e}")).file_name())
            .filter_map(|name| name.into_string().ok())
            .filter(|name| name.ends_with(".md"))
            .collect();
        let listed: BTreeSet<String> = PAGES.iter().map(|page| (*page).to_owned()).collect();
        assert_eq!(on_disk, listed, "src/manual.rs lists every page of docs/");
        let source = include_str!("manual.rs");
        let readme = read(&root().join("README.md"));
        for page in PAGES {
            assert!(
                source.contains(&format!("#[doc = include_str!(\"../docs/{page}\")]")),
                "docs/{page} is included as a doc test"
            );
            assert!(
                readme.contains(&format!("](docs/{page})")),
                "the README links docs/{page}"
            );
        }
    }

    #[test]
    fn every_relative_link_reaches_a_file_and_a_heading() {
        let mut broken = Vec::new();
        for page in pages() {
            let text = read(&page);
            let dir = page.parent().unwrap_or(Path::new("."));
            for target in link_targets(&text) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (path, fragment) = target.split_once('#').unwrap_or((target.as_str(), ""));
                let file = if path.is_empty() {
                    page.clone()
                } else {
                    dir.join(path)
                };
                if !file.exists() {
                    broken.push(format!("{}: {target} (no such file)", page.display()));
                    continue;
                }
                let is_page = file.extension().is_some_and(|ext| ext == "md");
                if !fragment.is_empty() && is_page && !anchors(&read(&file)).contains(fragment) {
                    broken.push(format!("{}: {target} (no such heading)", page.display()));
                }
            }
        }
        assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    }

    /// The body of the first fenced block after `heading` in `markdown`.
    fn first_block_after(markdown: &str, heading: &str) -> String {
        let at = markdown
            .find(&format!("\n{heading}\n"))
            .unwrap_or_else(|| panic!("no heading {heading:?}"));
        let rest = &markdown[at..];
        let start = rest
            .find("```")
            .unwrap_or_else(|| panic!("no block after {heading:?}"));
        let body = &rest[start..];
        let body = &body[body.find('\n').unwrap_or(0) + 1..];
        body[..body.find("```").unwrap_or(body.len())]
            .trim()
            .to_owned()
    }

    /// The README's two commands: the quick start runs the axum example
    /// from the root, and `.ci/run` ends with exactly the test command.
    #[test]
    fn the_readmes_commands_are_the_quick_start_and_what_ci_runs() {
        let readme = read(&root().join("README.md"));
        assert_eq!(
            first_block_after(&readme, "## Quick start"),
            "cargo run --example axum"
        );
        let test_command = first_block_after(&readme, "## Tests");
        assert_eq!(test_command, "cargo test --workspace --all-features");
        let ci = read(&root().join(".ci/run"));
        let last = ci
            .lines()
            .rev()
            .map(str::trim)
            .find(|line| !line.is_empty());
        assert_eq!(
            last,
            Some(test_command.as_str()),
            ".ci/run runs the README's test command"
        );
    }

    /// The quick start stays lean: cargo unifies the features of every
    /// default member (and of the root's dev-dependencies), so none of them
    /// may ask for the crate's `actix` feature, or `cargo run --example
    /// axum` builds actix-web too.
    #[test]
    fn no_default_member_asks_for_actix() {
        let manifest = read(&root().join("Cargo.toml"));
        let line = manifest
            .lines()
            .find(|line| line.starts_with("default-members = ["))
            .unwrap_or_else(|| panic!("Cargo.toml names its default members"));
        let members: Vec<&str> = line
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|member| *member != ".")
            .collect();
        assert_eq!(members, ["examples/axum"]);
        let mut manifests = vec![manifest.clone()];
        manifests.extend(
            members
                .iter()
                .map(|m| read(&root().join(m).join("Cargo.toml"))),
        );
        for text in manifests {
            for dependency in text.lines().filter(|l| l.starts_with("oauth-connect = ")) {
                assert!(
                    !dependency.contains("\"actix\""),
                    "a default member asks for `actix`: {dependency}"
                );
            }
        }
    }

    #[test]
    fn slugs_are_githubs() {
        assert_eq!(slug("How it stays safe"), "how-it-stays-safe");
        assert_eq!(
            slug("`response_mode=web_message`"),
            "response_modeweb_message"
        );
        assert_eq!(
            slug("What it is, and what it is not"),
            "what-it-is-and-what-it-is-not"
        );
    }
}

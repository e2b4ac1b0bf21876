//! The tidy test (after rust-analyzer's `xtask/src/tidy.rs`): rules about where code lives
//! that the compiler cannot check, run with `cargo test` (so in `cargo xtask ci`).
//!
//! - Platform knowledge lives in the model (the configs), the scripts (platform SQL), the
//!   contract's catalogue (the tests as data) and the adapter crates (every crate under
//!   `crates/` that is not one of the core crates): a `match` or comparison on a particular
//!   integration type (`IntegrationType::Redshift`, `PlatformConfig::...`) anywhere else is a
//!   failure. The engine, the api and the server know platforms only by their descriptors.
//! - Control-plane SQL lives in the store, platform SQL in the adapters (and the scripts):
//!   `sqlx::query` or `sqlx::raw_sql` anywhere else is a failure.
//!
//! - Nothing in the repository refers to the folder beside the clone that the project's
//!   specification came from, nor to its API file: a user's clone does not have them. The
//!   API reference is the user guide's (`docs/book/src/reference/`).
//!
//! Test code (`tests/` directories, and a file's `#[cfg(test)]` part), the benchmarks and
//! this crate are exempt.

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use crate::workspace_root;

    /// Where naming a particular platform is the point, besides the adapter crates.
    const PLATFORM_HOMES: &[&str] = &["crates/model/", "crates/scripts/", "crates/platform/src/catalogue.rs"];

    /// The crates that are not adapters: they know platforms only through the contract.
    const CORE_CRATES: &[&str] = &[
        "crates/api/",
        "crates/client/",
        "crates/aws/",
        "crates/engine/",
        "crates/lifecycle/",
        "crates/platform/",
        "crates/server/",
        "crates/store/",
        "crates/validation/",
        "crates/webhooks/",
        "crates/model/",
        "crates/scripts/",
    ];

    /// Whether a path is in an adapter crate (a crate under `crates/` that is not core).
    fn in_adapter(path: &str) -> bool {
        path.starts_with("crates/") && !within(path, CORE_CRATES)
    }

    /// Where control-plane SQL may be sent, besides the adapter crates.
    const SQL_HOMES: &[&str] = &["crates/store/"];

    const VARIANTS: &[&str] = &[
        "IntegrationType::Redshift",
        "IntegrationType::Snowflake",
        "IntegrationType::Databricks",
        "IntegrationType::NativeS3",
        "IntegrationType::GoogleBigQuery",
        "IntegrationType::AzureSynapseAnalytics",
        "IntegrationType::Trino",
        "PlatformConfig::",
    ];

    /// The non-test Rust sources of the workspace, by path relative to its root.
    fn sources() -> Vec<(String, String)> {
        let root = workspace_root();
        let mut out = Vec::new();
        let mut stack: Vec<PathBuf> = ["crates", "tests/src"].iter().map(|d| root.join(d)).collect();
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let relative = path.strip_prefix(&root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                if path.is_dir() {
                    if !relative.ends_with("/tests") && !relative.contains("/target") {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push((relative, std::fs::read_to_string(&path).unwrap_or_default()));
                }
            }
        }
        // Files that are test modules (`#[cfg(test)] mod name;`) are test code.
        let mut test_files = Vec::new();
        for (path, text) in &out {
            let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
            for declared in text.split("#[cfg(test)]\nmod ").skip(1) {
                if let Some(name) = declared.split(';').next().filter(|n| !n.contains([' ', '{', '\n'])) {
                    test_files.push(format!("{dir}/{name}.rs"));
                }
            }
        }
        out.retain(|(path, _)| !test_files.contains(path));
        out.into_iter().map(|(path, text)| (path, production_part(&text))).collect()
    }

    /// A file's text without its inline test module (`#[cfg(test)] mod tests { ... }`, which
    /// closes the file).
    fn production_part(text: &str) -> String {
        let inline_tests = text.match_indices("#[cfg(test)]\nmod ").find(|(at, found)| {
            text[at + found.len()..].split_whitespace().nth(1).is_some_and(|brace| brace.starts_with('{'))
        });
        match inline_tests {
            Some((at, _)) => text[..at].to_owned(),
            None => text.to_owned(),
        }
    }

    fn within(path: &str, homes: &[&str]) -> bool {
        homes.iter().any(|home| path.starts_with(home))
    }

    #[test]
    fn platform_knowledge_stays_in_its_crates() {
        let sources = sources();
        let catalogue = sources.iter().find(|(p, _)| p == "crates/platform/src/catalogue.rs");
        assert!(
            catalogue.is_some_and(|(_, text)| VARIANTS.iter().any(|v| text.contains(v))),
            "the walk reads the workspace and sees the catalogue's platform names"
        );
        assert!(in_adapter("crates/redshift/src/lib.rs") && !in_adapter("crates/engine/src/lib.rs"));
        let mut found: BTreeMap<String, usize> = BTreeMap::new();
        for (path, text) in sources {
            if within(&path, PLATFORM_HOMES) || in_adapter(&path) || path.starts_with("tests/src/") {
                continue;
            }
            let count: usize = VARIANTS.iter().map(|v| text.matches(v).count()).sum();
            if count > 0 {
                found.insert(path, count);
            }
        }
        assert_eq!(
            found,
            BTreeMap::new(),
            "a particular platform is named outside the model, the scripts, the catalogue and the adapters; \
             move the knowledge behind the adapter's descriptor or trait"
        );
    }

    #[test]
    fn sql_is_sent_only_by_the_store_and_the_adapters() {
        let mut offenders = Vec::new();
        let sources = sources();
        let store = sources.iter().filter(|(p, t)| p.starts_with("crates/store/") && t.contains("sqlx::query")).count();
        assert!(store > 0, "the store's queries are seen: the walk reads the workspace");
        for (path, text) in sources {
            if within(&path, SQL_HOMES) || in_adapter(&path) || path.starts_with("tests/src/") {
                continue;
            }
            if text.contains("sqlx::query") || text.contains("sqlx::raw_sql") {
                offenders.push(path);
            }
        }
        assert!(offenders.is_empty(), "SQL sent outside the store and the adapters: {offenders:?}");
    }

    /// Every file git tracks, by path relative to the root, with its text (binary files
    /// are skipped).
    fn tracked_texts() -> Vec<(String, String)> {
        let root = workspace_root();
        let listed = std::process::Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(&root)
            .output()
            .expect("git ls-files runs");
        String::from_utf8_lossy(&listed.stdout)
            .split('\0')
            .filter(|p| !p.is_empty())
            .filter_map(|p| std::fs::read_to_string(root.join(p)).ok().map(|text| (p.to_owned(), text)))
            .collect()
    }

    #[test]
    fn nothing_refers_to_files_a_clone_does_not_have() {
        // Spelled in pieces, so that this file does not name them itself.
        let forbidden = [concat!("..", "/shared"), concat!("shared", "/spec"), concat!("API", ".md")];
        let texts = tracked_texts();
        assert!(texts.iter().any(|(p, _)| p == "README.md"), "git ls-files lists the repository");
        let offenders: Vec<String> = texts
            .iter()
            .flat_map(|(path, text)| {
                // An applied migration is checksummed: editing even a comment in one would make
                // every existing store refuse to start, so the old comments stay.
                let migration = path.starts_with("crates/store/migrations/");
                forbidden
                    .iter()
                    .filter(move |f| text.contains(**f) && !(migration && f.ends_with(".md")))
                    .map(move |f| format!("{path} names {f}"))
            })
            .collect();
        assert!(offenders.is_empty(), "files a user's clone does not have are named: {offenders:#?}");
    }
}

//! `cargo xtask docs`: builds the user guide (`docs/book/`, mdBook) into `target/book/`,
//! failing on any warning mdBook prints, then checks every link offline:
//!
//! - in the built book, every `href` and `src` that is not an absolute URL must name a file
//!   of the book, and a `#fragment` an `id` in that file;
//! - in the Markdown files of the repository (`README.md`, `ARCHITECTURE.md`, `docs/*.md`,
//!   `tests/README.md`), every relative link must name a file or folder of the repository,
//!   and a `#fragment` of a Markdown file one of its headings.
//!
//! External links (`http:`, `https:`, `mailto:`) are not followed: this machine may not reach
//! them. mdBook is installed with `cargo install` when it is missing (about a minute).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, workspace_root};

/// The mdBook release the guide is built with.
const MDBOOK_VERSION: &str = "0.5.4";

/// Builds the guide and checks its links; `Err` lists every problem.
pub fn build_and_check() -> Result<(), String> {
    let mdbook = ensure_mdbook()?;
    let root = workspace_root();
    eprintln!("\n==> {} build docs/book", mdbook.display());
    let output = Command::new(&mdbook)
        .args(["build", "docs/book"])
        .current_dir(&root)
        .output()
        .map_err(|e| format!("could not start mdbook: {e}"))?;
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprint!("{log}");
    if !output.status.success() {
        return Err(format!("mdbook build failed ({})", output.status));
    }
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
    if !warnings.is_empty() {
        return Err(format!("mdbook build printed warnings:\n{}", warnings.join("\n")));
    }
    let mut problems = check_built_book(&root.join("target/book"));
    problems.extend(check_repository_markdown(&root));
    if problems.is_empty() {
        eprintln!("<== the guide is in target/book/index.html; no broken link");
        Ok(())
    } else {
        Err(format!("{} broken links:\n{}", problems.len(), problems.join("\n")))
    }
}

/// The mdbook binary: on PATH (or in `~/.cargo/bin`) at [`MDBOOK_VERSION`], else installed.
fn ensure_mdbook() -> Result<PathBuf, String> {
    let installed = || {
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .map(|home| home.join("bin/mdbook"));
        [Some(PathBuf::from("mdbook")), cargo_bin].into_iter().flatten().find(|candidate| {
            Command::new(candidate)
                .arg("--version")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(MDBOOK_VERSION))
        })
    };
    if let Some(found) = installed() {
        return Ok(found);
    }
    run(
        "cargo",
        &[
            "install",
            "mdbook",
            "--locked",
            "--version",
            MDBOOK_VERSION,
            "--no-default-features",
            "--features",
            "search",
        ],
        &[],
    )?;
    installed().ok_or_else(|| format!("cargo installed mdbook {MDBOOK_VERSION}, but it is not on PATH"))
}

/// Files under `dir`, recursively, whose name ends with `suffix`.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Whether a link leaves the site (not checked offline).
fn is_external(link: &str) -> bool {
    link.starts_with("http:")
        || link.starts_with("https:")
        || link.starts_with("mailto:")
        || link.starts_with("//")
        || link.starts_with("data:")
        || link.starts_with("javascript:")
}

/// The values of `attribute="..."` in an HTML text.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        if let Some(end) = rest.find('"') {
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    out
}

/// The broken links of the built book.
pub fn check_built_book(book: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let pages = files(book, ".html");
    if pages.is_empty() {
        problems.push(format!("{}: no page was built", book.display()));
    }
    for page in &pages {
        let Ok(html) = std::fs::read_to_string(page) else { continue };
        let name = page.strip_prefix(book).unwrap_or(page).display().to_string();
        // The print page repeats every chapter with rewritten links; the chapters are checked.
        if name == "print.html" || name == "404.html" {
            continue;
        }
        let links = attribute_values(&html, "href").into_iter().chain(attribute_values(&html, "src"));
        for link in links {
            if is_external(link) || link.is_empty() {
                continue;
            }
            let (path, fragment) = link.split_once('#').map_or((link, None), |(p, f)| (p, Some(f)));
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            let target =
                if path.is_empty() { page.clone() } else { page.parent().unwrap_or(book).join(percent_decoded(path)) };
            let target = if target.is_dir() { target.join("index.html") } else { target };
            if !target.is_file() {
                problems.push(format!("target/book/{name}: {link} names no file"));
                continue;
            }
            if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
                let ids = std::fs::read_to_string(&target).map(|t| html_ids(&t)).unwrap_or_default();
                if !ids.contains(&percent_decoded(fragment)) {
                    problems.push(format!("target/book/{name}: {link} names no anchor in its page"));
                }
            }
        }
    }
    problems
}

/// The `id`s of an HTML page.
fn html_ids(html: &str) -> BTreeSet<String> {
    attribute_values(html, "id").into_iter().map(str::to_owned).collect()
}

/// `%20` and the like decoded (the book's file names are plain ASCII).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(value) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The Markdown links `[text](target)` of a text, outside fenced code blocks and code spans.
pub fn markdown_links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Code spans hold examples, not links.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].trim().to_owned());
                rest = &rest[end..];
            }
        }
    }
    out
}

/// The anchors GitHub and mdBook give a Markdown file's headings.
pub fn heading_anchors(markdown: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let anchor: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        out.insert(anchor);
    }
    out
}

/// The broken relative links of the repository's own Markdown files outside the book (the
/// book's are checked in its built form).
fn check_repository_markdown(root: &Path) -> Vec<String> {
    let mut documents: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "tests/README.md"]
        .iter()
        .map(|f| root.join(f))
        .chain(files(&root.join("docs"), ".md").into_iter().filter(|p| !p.starts_with(root.join("docs/book"))))
        .collect();
    documents.retain(|p| p.is_file());
    let mut problems = Vec::new();
    for document in documents {
        let Ok(text) = std::fs::read_to_string(&document) else { continue };
        let name = document.strip_prefix(root).unwrap_or(&document).display().to_string();
        for link in markdown_links(&text) {
            if is_external(&link) {
                continue;
            }
            let (path, fragment) = link.split_once('#').map_or((link.as_str(), None), |(p, f)| (p, Some(f)));
            let target = if path.is_empty() {
                document.clone()
            } else {
                document.parent().unwrap_or(root).join(percent_decoded(path))
            };
            if !target.exists() {
                problems.push(format!("{name}: ({link}) names no file"));
                continue;
            }
            if let Some(fragment) = fragment.filter(|f| !f.is_empty())
                && target.extension().is_some_and(|e| e == "md")
            {
                let anchors = std::fs::read_to_string(&target).map(|t| heading_anchors(&t)).unwrap_or_default();
                if !anchors.contains(fragment) {
                    problems.push(format!("{name}: ({link}) names no heading of its file"));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is a failed test
mod tests {
    use super::{check_built_book, heading_anchors, markdown_links};

    #[test]
    fn reads_markdown_links_outside_code() {
        let text = "See [a](a.md#x) and `[b](b.md)`.\n```sh\n[c](c.md)\n```\n[d](https://example.com)";
        assert_eq!(markdown_links(text), vec!["a.md#x", "https://example.com"]);
    }

    #[test]
    fn anchors_follow_the_heading_rules() {
        let anchors = heading_anchors("# The user guide\n## 2.4 DELETE /integrations/{id}\n```\n# not\n```\n");
        assert!(anchors.contains("the-user-guide"), "{anchors:?}");
        assert!(anchors.contains("24-delete-integrationsid"), "{anchors:?}");
        assert!(!anchors.contains("not"), "{anchors:?}");
    }

    #[test]
    fn a_broken_link_of_a_built_page_is_found() {
        let book = tempfile_dir();
        std::fs::write(book.join("index.html"), r#"<a href="a.html#there">a</a> <a href="b.html">b</a>"#).unwrap();
        std::fs::write(book.join("a.html"), r#"<h2 id="here">x</h2>"#).unwrap();
        let problems = check_built_book(&book);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("a.html#there names no anchor"), "{problems:?}");
        assert!(problems[1].contains("b.html names no file"), "{problems:?}");
        std::fs::remove_dir_all(&book).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

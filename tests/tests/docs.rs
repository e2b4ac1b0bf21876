//! Every request example of the documentation runs: each `sh` block of `README.md` and of
//! the user guide (`docs/book/src/**/*.md`) that calls `curl` on `$W` is executed by bash
//! against a real `warden serve`, one fresh server (SQLite) per file, blocks in file order, so
//! the ids an example names are the ones its page created. An example that stops working (a
//! route, a field or a body the server refuses) fails this test.
//!
//! The rules a page follows, so that its examples are also what a reader can paste:
//! - `KEY=` and `W=` lines are the reader's own settings; the runner drops them and sets
//!   `KEY` to the test server's admin key and `W` to its URL.
//! - Every `curl` call must be answered with a status below 400, unless a comment in the same
//!   block says `HTTP <status>` (an example that shows an error): each declared status must
//!   be answered by one call, and each status of 400 or more must be declared.
//! - A block runs with `set -euo pipefail`, in a working directory of its page (files one
//!   block writes are there for the next), with at most 60 s to finish. Between blocks the
//!   runner waits until no integration is in a transitional status.
//! - The server is `warden-under-test` with the rehearsal platform standing in for every
//!   platform but Trino (`WARDEN_REHEARSAL_EVERY_TYPE=1`): the examples' hosts are the
//!   reader's, not reachable here. So this checks the requests, the payloads and the
//!   lifecycle they start; each adapter's own tests check the platform side against its
//!   server or emulator. The working directory holds `warden-key.json`, a Google service
//!   account key file as `gcloud iam service-accounts keys create` writes it, for the
//!   BigQuery page.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Backend, REHEARSAL, Server};

/// One fenced `sh` block that calls Warden.
#[derive(Debug)]
struct Example {
    /// The 1-based line of its opening fence.
    line: usize,
    /// Its text, without the fences.
    text: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// README.md and every page of the guide, in a stable order.
fn documents() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let root = workspace_root();
    let mut out = vec![root.join("README.md")];
    walk(&root.join("docs/book/src"), &mut out);
    out
}

/// The request examples of a Markdown text: `sh` blocks that call `curl` on `$W`.
fn examples(markdown: &str) -> Vec<Example> {
    let mut out = Vec::new();
    // (opening line, fence indentation, text so far, whether it is an `sh` block)
    let mut open: Option<(usize, usize, String, bool)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None if trimmed.starts_with("```") => {
                let info = trimmed.trim_start_matches('`').trim();
                open = Some((index + 1, indent, String::new(), info == "sh"));
            }
            None => {}
            Some((start, fence_indent, text, is_sh)) => {
                if trimmed.starts_with("```") {
                    if *is_sh && text.contains("curl ") && text.contains("$W") {
                        out.push(Example { line: *start, text: std::mem::take(text) });
                    }
                    open = None;
                } else {
                    // A fence inside a list item is indented, and so are its lines.
                    text.push_str(&line[indent.min(*fence_indent)..]);
                    text.push('\n');
                }
            }
        }
    }
    out
}

/// The statuses a block declares it shows (`HTTP 409` in a comment).
fn declared_statuses(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((_, comment)) = line.split_once('#') else { continue };
        let mut rest = comment;
        while let Some(at) = rest.find("HTTP ") {
            let digits: String = rest[at + 5..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(code) = digits.parse::<u16>()
                && digits.len() == 3
            {
                out.push(code);
            }
            rest = &rest[at + 5..];
        }
    }
    out
}

/// The block as bash runs it: the reader's `KEY=`/`W=` settings dropped, `curl` recording
/// each answer's status on standard error.
fn script(example: &Example, base: &str) -> String {
    let body: String = example
        .text
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !(line.starts_with("KEY=") || line.starts_with("W="))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    format!(
        "set -euo pipefail\nKEY='{ADMIN_KEY}'\nW='{base}'\n\
         curl() {{ command curl --write-out '%{{stderr}}warden-docs-status %{{http_code}} %{{url_effective}}\\n' \"$@\"; }}\n\
         {body}"
    )
}

/// A key file in the shape Google issues, with a fresh RSA key.
fn google_key_file() -> String {
    let pem = warden_http::jwt::generate_pem().expect("a generated key");
    serde_json::json!({"type": "service_account", "project_id": "acme-analytics",
        "private_key_id": "0123456789abcdef", "private_key": pem.expose(),
        "client_email": "warden@acme-analytics.iam.gserviceaccount.com", "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"})
    .to_string()
}

/// Waits until no integration is creating, editing, deleting or migrating.
async fn settle(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = server.call("GET", "/integrations?includeDeleted=true", None).await;
        let busy = list.body.as_array().is_some_and(|items| {
            items
                .iter()
                .any(|i| matches!(i["status"].as_str(), Some("creating" | "editing" | "deleting" | "migrating")))
        });
        if !busy {
            return;
        }
        assert!(Instant::now() < deadline, "integrations still transitional after 30 s: {}", list.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs one block; the problems it found (empty when it worked).
async fn run(example: &Example, server: &Server, workdir: &Path) -> Vec<String> {
    let child = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(script(example, &server.base))
        .current_dir(workdir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bash starts");
    let Ok(output) = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await else {
        return vec!["did not finish within 60 s".to_owned()];
    };
    let output = output.expect("bash runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut problems = Vec::new();
    if !output.status.success() {
        problems.push(format!("exited with {}; stderr: {stderr}", output.status));
    }
    let answered: Vec<(u16, String)> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("warden-docs-status "))
        .filter_map(|rest| rest.split_once(' ').map(|(code, url)| (code.parse().unwrap_or(0), url.to_owned())))
        .collect();
    if answered.is_empty() {
        problems.push("no curl call was made".to_owned());
    }
    let mut declared = declared_statuses(&example.text);
    for (code, url) in &answered {
        if *code == 0 {
            problems.push(format!("{url}: no answer"));
        } else if *code >= 400 {
            match declared.iter().position(|d| d == code) {
                Some(at) => {
                    declared.remove(at);
                }
                None => problems.push(format!("{url}: HTTP {code}, which the example does not show")),
            }
        } else if let Some(at) = declared.iter().position(|d| d == code) {
            declared.remove(at);
        }
    }
    for code in declared {
        problems.push(format!("the example shows HTTP {code}, but no call was answered so"));
    }
    if !problems.is_empty() {
        problems.push(format!("its output:\n{stdout}"));
    }
    problems
}

#[tokio::test]
async fn every_request_example_of_the_documentation_works() {
    let root = workspace_root();
    let mut failures = Vec::new();
    let mut ran = 0;
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        let found = examples(&text);
        if found.is_empty() {
            continue;
        }
        let temp = tempfile::tempdir().unwrap();
        let server = Server::start_binary_with_env(
            REHEARSAL,
            &Backend::Sqlite,
            tempfile::tempdir().unwrap(),
            &[("WARDEN_REHEARSAL_EVERY_TYPE", "1")],
        )
        .await;
        std::fs::write(temp.path().join("warden-key.json"), google_key_file()).unwrap();
        let name = document.strip_prefix(&root).unwrap().display().to_string();
        for example in &found {
            ran += 1;
            let problems = run(example, &server, temp.path()).await;
            if !problems.is_empty() {
                failures.push(format!("{name}:{}:\n  {}", example.line, problems.join("\n  ")));
            }
            settle(&server).await;
        }
        eprintln!("{name}: {} request examples ran", found.len());
    }
    assert!(ran >= 10, "only {ran} request examples were found: the finder is broken");
    assert!(failures.is_empty(), "request examples that do not work:\n\n{}", failures.join("\n\n"));
}

#[test]
fn the_finder_takes_sh_blocks_that_call_warden_and_reads_declared_statuses() {
    let markdown = "text\n```sh\ncargo run\n```\n- item\n\n  ```sh\n  curl -s $W/integrations # HTTP 404 here\n  ```\n```json\n{\"curl \": \"$W\"}\n```\n";
    let found = examples(markdown);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, 7);
    assert_eq!(found[0].text, "curl -s $W/integrations # HTTP 404 here\n");
    assert_eq!(declared_statuses(&found[0].text), vec![404]);
    assert_eq!(declared_statuses("# HTTP 2000 and HTTP 42\n"), Vec::<u16>::new());
}

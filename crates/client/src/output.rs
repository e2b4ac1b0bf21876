//! What the client prints: a plan field by field (secrets as the server shows them,
//! `[REDACTED]`), validation results test by test, and the progress of a wait (a spinner
//! line on a terminal, a plain line per change otherwise). Plans and results go to stdout;
//! progress goes to stderr.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::plan::{Action, shown};

/// Writes to stdout (what a command answers: plans, documents, JSON).
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes a line to stderr (progress, errors).
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A plan as text.
pub fn plan_text(actions: &[Action]) -> String {
    let mut out = String::new();
    let (mut create, mut update, mut delete) = (0, 0, 0);
    for action in actions {
        match action {
            Action::Create { document } => {
                create += 1;
                let _ = writeln!(out, "+ create {} ({})", document.name, document.spec.integration_type().wire_name());
                let redacted = document.spec.redacted();
                for change in crate::plan::differences(&Value::Null, &redacted) {
                    let _ = writeln!(out, "    {}: {}", change.path, shown(change.after.as_ref()));
                }
            }
            Action::Update { document, id, changes } => {
                update += 1;
                let _ = writeln!(out, "~ update {} (id {id})", document.name);
                for change in changes {
                    let _ = writeln!(
                        out,
                        "    {}: {} -> {}",
                        change.path,
                        shown(change.before.as_ref()),
                        shown(change.after.as_ref())
                    );
                }
            }
            Action::Unchanged { document, id } => {
                let _ = writeln!(out, "= {} (id {id}) is up to date", document.name);
            }
            Action::Delete { name, id, integration_type } => {
                delete += 1;
                let _ = writeln!(out, "- delete {name} (id {id}, {integration_type})");
            }
        }
    }
    if create + update + delete == 0 {
        out.push_str("No changes: the server matches the documents.\n");
    } else {
        let _ = writeln!(out, "Plan: {create} to create, {update} to update, {delete} to delete.");
    }
    out
}

/// A validation run as text: its status, then each test that did not pass with its message.
pub fn validation_text(name: &str, results: &Value) -> String {
    let status = results["status"].as_str().unwrap_or("unknown");
    let mut out = format!("validation of {name} (dryRun): {status}\n");
    for test in results["validationTests"].as_array().into_iter().flatten() {
        let test_status = test["status"].as_str().unwrap_or("?");
        let mark = match test_status {
            "passed" => "ok  ",
            "skipped" => "skip",
            "warning" => "warn",
            _ => "FAIL",
        };
        let _ = write!(out, "    {mark} {}", test["name"].as_str().unwrap_or("?"));
        if let Some(message) = test["message"].as_str().filter(|_| test_status != "passed") {
            let _ = write!(out, ": {message}");
        }
        out.push('\n');
    }
    out
}

/// The tests of a refusal that did not pass, one per line.
pub fn failed_tests(tests: &[Value]) -> String {
    tests
        .iter()
        .filter(|t| !matches!(t["status"].as_str(), Some("passed" | "skipped")))
        .map(|t| {
            format!(
                "\n  - {} ({}): {}",
                t["name"].as_str().unwrap_or("?"),
                t["status"].as_str().unwrap_or("?"),
                t["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The progress of a wait, on stderr.
pub struct Progress {
    what: String,
    started: Instant,
    terminal: bool,
    last: Option<String>,
    frame: usize,
}

impl Progress {
    /// Starts showing the progress of `what` (`analytics-redshift (id 4)`).
    pub fn new(what: String) -> Self {
        Self { what, started: Instant::now(), terminal: std::io::stderr().is_terminal(), last: None, frame: 0 }
    }

    /// Shows the current status.
    pub fn show(&mut self, status: &str) {
        let elapsed = self.started.elapsed();
        let mut err = std::io::stderr().lock();
        if self.terminal {
            const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
            self.frame = (self.frame + 1) % FRAMES.len();
            let _ = write!(err, "\r\x1b[2K{} {}: {status} ({})", FRAMES[self.frame], self.what, seconds(elapsed));
            let _ = err.flush();
        } else if self.last.as_deref() != Some(status) {
            let _ = writeln!(err, "{}: {status} ({})", self.what, seconds(elapsed));
        }
        self.last = Some(status.to_owned());
    }

    /// Ends the progress line with the final status.
    pub fn done(&mut self, status: &str) {
        let elapsed = self.started.elapsed();
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = writeln!(err, "\r\x1b[2K{}: {status} after {}", self.what, seconds(elapsed));
        } else {
            let _ = writeln!(err, "{}: {status} after {}", self.what, seconds(elapsed));
        }
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1} s", elapsed.as_secs_f64())
}

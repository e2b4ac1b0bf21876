//! The OpenAPI check: the `warden` binary (debug build, SQLite in a temporary directory) on a
//! free 127.0.0.1 port, and schemathesis (PyPI, in `.venv-schemathesis`) generating requests
//! for every operation of the document it serves at `/openapi.json`, failing on any 5xx and
//! on any answer whose status, content type or body the document does not describe. The
//! server is stopped when this returns, whatever happened.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::{run, workspace_root};

/// The admin key of the server under test.
const KEY: &str = "wdn_schemathesis_admin_key_0123456789";
/// How long schemathesis generates requests, in seconds.
const BUDGET_SECS: &str = "45";

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        eprintln!("==> warden (schemathesis) stopped");
    }
}

/// Builds and starts the server, then runs schemathesis against it.
pub fn check(python: &Path) -> Result<(), String> {
    run("cargo", &["build", "--locked", "-p", "warden-server"], &[])?;
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| workspace_root().join("target"), Into::into);
    let binary: std::path::PathBuf = Path::new(&target).join("debug/warden");
    let temp = std::env::temp_dir().join(format!("warden-schemathesis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    std::fs::create_dir_all(&temp).map_err(|e| format!("{}: {e}", temp.display()))?;
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let log = std::fs::File::create(temp.join("server.log")).map_err(|e| e.to_string())?;
    let child = Command::new(&binary)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(temp.join("data"))
        .env("WARDEN_ADMIN_API_KEY", KEY)
        .env_remove("WARDEN_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    let served = Served(child);
    eprintln!("==> warden (schemathesis) started on 127.0.0.1:{port}");
    let schemathesis = python.parent().ok_or("no virtualenv bin directory")?.join("schemathesis");
    let url = format!("http://127.0.0.1:{port}/openapi.json");
    let header = format!("Authorization: {KEY}");
    let args = [
        "run",
        url.as_str(),
        "--wait-for-schema",
        "30",
        "--header",
        header.as_str(),
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-time",
        BUDGET_SECS,
        // GET /events is a stream that never ends (its events are tested in tests/api.rs);
        // every other request gets 30 s.
        "--exclude-path",
        "/events",
        "--request-timeout",
        "30",
    ];
    eprintln!("\n==> schemathesis {}", args.join(" "));
    let status = Command::new(&schemathesis)
        .args(args)
        .current_dir(&temp)
        .status()
        .map_err(|e| format!("could not start {}: {e}", schemathesis.display()))?;
    drop(served);
    let log = std::fs::read_to_string(temp.join("server.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&temp);
    if status.success() {
        Ok(())
    } else {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("--- the server's last log lines ---");
        for line in tail.iter().rev() {
            eprintln!("{line}");
        }
        Err(format!("schemathesis found responses the OpenAPI document does not describe ({status})"))
    }
}

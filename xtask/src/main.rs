//! Project automation, run as `cargo xtask <command>`.
//!
//! - `bench [--quick]`: the benchmarks (`bench/`), see [`bench`].
//! - `fuzz [--cases N] [--seed S]`: the long fuzz campaigns (`fuzz/`), see [`fuzz`].
//! - `docs`: builds the user guide (`docs/book/`) into `target/book/` and checks its links
//!   offline, see [`docs`].
//! - `ci`: everything CI checks, in order: formatting, clippy with warnings denied, the
//!   user guide's build and link check, the whole test suite, and `cargo deny` (installing cargo-deny when it is missing). It stops
//!   at the first failing step and exits non-zero. The tests get a throwaway PostgreSQL
//!   server (see [`postgres`]) through `WARDEN_TEST_POSTGRES_URL`; it is stopped at the end.
//!   The script oracle gets the Python of the sqlglot virtualenv through
//!   `WARDEN_SQLGLOT_PYTHON` (see [`venv`]), the AWS tests a moto server through
//!   `WARDEN_TEST_MOTO_URL` with its test user's key in `WARDEN_TEST_MOTO_ACCESS_KEY_ID` and
//!   `WARDEN_TEST_MOTO_SECRET_KEY`, the Snowflake tests a fakesnow server through
//!   `WARDEN_TEST_FAKESNOW_URL`, and the Databricks tests minilake through
//!   `WARDEN_TEST_MINILAKE_URL` and tinyproxy through `WARDEN_TEST_TINYPROXY`, and the
//!   BigQuery tests bqemulator through `WARDEN_TEST_BIGQUERY_EMULATOR` (see [`emulators`])
//!   and shellcheck (from apt) through `WARDEN_TEST_SHELLCHECK`; the status page's tests
//!   Chromium (from apt) through `WARDEN_TEST_CHROMIUM` and axe-core (from npm) through
//!   `WARDEN_TEST_AXE` (see [`browser`]).
//!   Then schemathesis checks every operation of the served OpenAPI document against the
//!   running server (see [`schemathesis`]).

#![allow(clippy::print_stdout)] // a command-line tool: stdout is its output

mod browser;
mod docs;
mod emulators;
mod postgres;
mod schemathesis;
mod tidy;
mod venv;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("docs") => docs::build_and_check(),
        Some("bench") => bench(
            args.iter().any(|a| a == "--quick"),
            args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).map(String::as_str),
        ),
        Some("fuzz") => fuzz(
            args.iter().position(|a| a == "--cases").and_then(|i| args.get(i + 1)).map_or("1000000", String::as_str),
            args.iter().position(|a| a == "--seed").and_then(|i| args.get(i + 1)).map_or("24301", String::as_str),
        ),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | cargo xtask docs | cargo xtask bench [--quick] [--only <group>] | cargo xtask fuzz [--cases N] [--seed S]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs a command in the workspace root, echoing it, and fails on a non-zero exit.
fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("\n==> {program} {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not start {program}: {e}"))?;
    eprintln!("<== {program} {} ({:.1} s)", args.first().unwrap_or(&""), started.elapsed().as_secs_f64());
    if status.success() { Ok(()) } else { Err(format!("`{program} {}` failed ({status})", args.join(" "))) }
}

/// `apt-get <args>`, non-interactive, with no service started by a package's scripts.
fn apt_get(args: &[&str]) -> Result<(), String> {
    Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("RUNLEVEL", "1")
        .status()
        .map_err(|e| format!("apt-get: {e}"))
        .and_then(|s| if s.success() { Ok(()) } else { Err(format!("apt-get {} failed", args.join(" "))) })
}

/// The shellcheck binary (Debian's package, installed from apt when missing and run as root).
fn ensure_shellcheck() -> Result<PathBuf, String> {
    ensure_apt_binary("/usr/bin/shellcheck", "shellcheck", "the BigQuery setup script's tests")
}

/// The binary at `path` from Debian's `package`, installed from apt when missing (as root;
/// otherwise the error says what to run). `purpose` says what needs it.
fn ensure_apt_binary(path: &str, package: &str, purpose: &str) -> Result<PathBuf, String> {
    let installed = PathBuf::from(path);
    if installed.exists() {
        return Ok(installed);
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return Err(format!("{package} is not installed: run `sudo apt-get install -y {package}` and try again"));
    }
    eprintln!("==> installing {package} from apt (for {purpose})");
    apt_get(&["install", "-y", "-qq", package]).or_else(|_| {
        apt_get(&["update", "-qq"])?;
        apt_get(&["install", "-y", "-qq", package])
    })?;
    if installed.exists() { Ok(installed) } else { Err(format!("apt installed {package} but there is no {path}")) }
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `cargo xtask fuzz`: the long fuzz campaigns (`fuzz/`), every target over its corpus and
/// `cases` mutated inputs from `seed`, built with optimisations. A failing input is kept in
/// `fuzz/failures/`.
fn fuzz(cases: &str, seed: &str) -> Result<(), String> {
    for (name, value) in [("--cases", cases), ("--seed", seed)] {
        value.parse::<u64>().map_err(|_| format!("{name} takes a whole number, not {value:?}"))?;
    }
    let started = Instant::now();
    run(
        "cargo",
        &["test", "--release", "--locked", "-p", "warden-fuzz", "--test", "fuzz", "--", "--nocapture"],
        &[("WARDEN_FUZZ_CASES", cases), ("WARDEN_FUZZ_SEED", seed)],
    )?;
    eprintln!(
        "xtask fuzz: {cases} mutated inputs per target from seed {seed} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn ci() -> Result<(), String> {
    let started = Instant::now();
    run("cargo", &["fmt", "--all", "--", "--check"], &[])?;
    run("cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"], &[])?;
    docs::build_and_check()?;
    // Snapshots are never written in CI: a changed snapshot is a failure to review.
    let sqlglot = venv::ensure_sqlglot()?;
    let moto_python = venv::ensure_moto()?;
    let fakesnow_python = venv::ensure_fakesnow()?;
    let minilake_python = venv::ensure_minilake()?;
    let (bqemulator_python, bqemulator_home) = venv::ensure_bqemulator()?;
    let tinyproxy = emulators::ensure_tinyproxy()?;
    let shellcheck = ensure_shellcheck()?;
    let chromium = browser::ensure_chromium()?;
    let axe = browser::ensure_axe()?;
    let tally = {
        let server = postgres::Postgres::start()?;
        let aws = emulators::Emulator::moto(&moto_python)?;
        let (moto_key_id, moto_secret) = aws.moto_keys(&moto_python)?;
        let aws_unsigned = emulators::Emulator::moto_unsigned(&moto_python)?;
        let snowflake = emulators::Emulator::fakesnow(&fakesnow_python)?;
        let (certificate, key) = server.certificate();
        let minilake_log = server.ca_path().with_file_name("minilake-requests.log");
        let databricks = emulators::Emulator::minilake(&minilake_python, &certificate, &key, &minilake_log)?;
        let bigquery_log = server.ca_path().with_file_name("bqemulator-requests.log");
        let bigquery = emulators::Emulator::bqemulator(&bqemulator_python, &bqemulator_home, &bigquery_log)?;
        let pythons = Pythons { sqlglot: &sqlglot };
        let urls = EmulatorUrls {
            moto: aws.url(),
            moto_key: (moto_key_id, moto_secret),
            moto_unsigned: aws_unsigned.url(),
            fakesnow: snowflake.url(),
            minilake: databricks.url(),
            minilake_log: minilake_log.display().to_string(),
            bigquery: bigquery.host_port(),
            bigquery_log: bigquery_log.display().to_string(),
            tinyproxy: tinyproxy.display().to_string(),
            shellcheck: shellcheck.display().to_string(),
            chromium: chromium.display().to_string(),
            axe: axe.display().to_string(),
        };
        let tally = test_workspace(&server, &pythons, &urls)?;
        // The benchmark harness must never rot: its quick mode runs here and only checks
        // that every measurement produced a number.
        run_bench(true, None, &server, (&snowflake, &fakesnow_python), &databricks)?;
        tally
    };
    // The served OpenAPI document and the server agree on every operation.
    schemathesis::check(&venv::ensure_schemathesis()?)?;
    deny()?;
    eprintln!(
        "\nxtask ci: fmt, clippy, the guide, tests and cargo-deny passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // The closing line: the whole suite's count, not the last test binary's.
    println!("tests: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

/// `cargo xtask bench`: installs wrk when missing, starts PostgreSQL, builds the server
/// (release; debug with `--quick`) and runs `warden-bench`, which writes
/// `docs/BENCHMARKS.md` (or `target/bench/quick.md`).
fn bench(quick: bool, only: Option<&str>) -> Result<(), String> {
    let fakesnow_python = venv::ensure_fakesnow()?;
    let minilake_python = venv::ensure_minilake()?;
    let server = postgres::Postgres::start()?;
    let snowflake = emulators::Emulator::fakesnow(&fakesnow_python)?;
    let (certificate, key) = server.certificate();
    let log = server.ca_path().with_file_name("minilake-requests.log");
    let databricks = emulators::Emulator::minilake(&minilake_python, &certificate, &key, &log)?;
    run_bench(quick, only, &server, (&snowflake, &fakesnow_python), &databricks)
}

/// Runs the benchmarks against `postgres` and `fakesnow` (the emulator and its virtualenv's
/// Python, whose Snowflake connector is the Snowflake measurement's floor).
fn run_bench(
    quick: bool,
    only: Option<&str>,
    postgres: &postgres::Postgres,
    fakesnow: (&emulators::Emulator, &Path),
    minilake: &emulators::Emulator,
) -> Result<(), String> {
    if !succeeds("wrk", &["--version"]) && !Command::new("which").arg("wrk").status().is_ok_and(|s| s.success()) {
        let is_root =
            Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !is_root {
            return Err("wrk is missing: install it with `sudo apt-get install -y wrk`".into());
        }
        run("apt-get", &["install", "-y", "-q", "wrk"], &[("DEBIAN_FRONTEND", "noninteractive")])?;
    }
    let (profile_args, dir): (&[&str], &str) = if quick { (&[], "debug") } else { (&["--release"], "release") };
    let mut build = vec!["build", "--locked", "-p", "warden-server", "-p", "warden-bench"];
    build.extend_from_slice(profile_args);
    run("cargo", &build, &[])?;
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| workspace_root().join("target"), PathBuf::from);
    let server = target.join(dir).join("warden");
    let bench = target.join(dir).join("warden-bench");
    let mut args = vec!["--server".to_owned(), server.display().to_string()];
    if quick {
        args.push("--quick".into());
    }
    if let Some(only) = only {
        args.extend(["--only".to_owned(), only.to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ca_file = postgres.ca_path().display().to_string();
    run(
        &bench.display().to_string(),
        &args,
        &[
            ("WARDEN_TEST_POSTGRES_URL", &postgres.url()),
            ("WARDEN_CA_FILE", &ca_file),
            ("WARDEN_TEST_FAKESNOW_URL", &fakesnow.0.url()),
            ("WARDEN_FAKESNOW_PYTHON", &fakesnow.1.display().to_string()),
            ("WARDEN_TEST_MINILAKE_URL", &minilake.url()),
        ],
    )
}

/// Runs `cargo test` for the workspace, echoing its output and adding up every
/// `test result:` line.
/// The virtualenvs' Pythons the tests run tools with.
struct Pythons<'a> {
    sqlglot: &'a Path,
}

/// Where the emulators listen.
struct EmulatorUrls {
    moto: String,
    /// The access key id and secret of moto's test user (`xtask/moto_setup.py`).
    moto_key: (String, String),
    /// A moto that checks no signature (`Emulator::moto_unsigned`).
    moto_unsigned: String,
    fakesnow: String,
    minilake: String,
    /// minilake's request log (`xtask/minilake_server.py`).
    minilake_log: String,
    /// bqemulator's `host:port`.
    bigquery: String,
    /// bqemulator's request log (`xtask/bqemulator_server.py`).
    bigquery_log: String,
    /// The tinyproxy binary the proxy tests start.
    tinyproxy: String,
    /// The shellcheck binary the BigQuery setup script is checked with.
    shellcheck: String,
    /// The Chromium binary the status page is tested in.
    chromium: String,
    /// axe-core's script, run in that browser.
    axe: String,
}

fn test_workspace(postgres: &postgres::Postgres, pythons: &Pythons<'_>, urls: &EmulatorUrls) -> Result<Tally, String> {
    use std::io::{BufRead, BufReader};
    let args = ["test", "--workspace", "--locked"];
    eprintln!("\n==> cargo {}", args.join(" "));
    let mut child = Command::new("cargo")
        .args(args)
        .envs([
            ("INSTA_UPDATE", "no"),
            ("CI", "true"),
            ("WARDEN_TEST_POSTGRES_URL", &postgres.url()),
            // The test server's CA: Warden verifies its certificate as it does Redshift's.
            ("WARDEN_CA_FILE", &postgres.ca_path().display().to_string()),
            ("WARDEN_SQLGLOT_PYTHON", &pythons.sqlglot.display().to_string()),
            ("WARDEN_TEST_MOTO_URL", &urls.moto),
            ("WARDEN_TEST_MOTO_ACCESS_KEY_ID", &urls.moto_key.0),
            ("WARDEN_TEST_MOTO_SECRET_KEY", &urls.moto_key.1),
            ("WARDEN_TEST_MOTO_UNSIGNED_URL", &urls.moto_unsigned),
            ("WARDEN_TEST_FAKESNOW_URL", &urls.fakesnow),
            ("WARDEN_TEST_MINILAKE_URL", &urls.minilake),
            ("WARDEN_TEST_MINILAKE_LOG", &urls.minilake_log),
            ("WARDEN_TEST_BIGQUERY_EMULATOR", &urls.bigquery),
            ("WARDEN_TEST_BIGQUERY_LOG", &urls.bigquery_log),
            ("WARDEN_TEST_TINYPROXY", &urls.tinyproxy),
            ("WARDEN_TEST_SHELLCHECK", &urls.shellcheck),
            ("WARDEN_TEST_CHROMIUM", &urls.chromium),
            ("WARDEN_TEST_AXE", &urls.axe),
            ("WARDEN_TEST_POSTGRES_LOG", &postgres.log_path().display().to_string()),
            // The test CA's certificate and key for 127.0.0.1, for the stand-ins that serve TLS.
            ("WARDEN_TEST_TLS_CERT", &postgres.certificate().0.display().to_string()),
            ("WARDEN_TEST_TLS_KEY", &postgres.certificate().1.display().to_string()),
        ])
        .current_dir(workspace_root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start cargo test: {e}"))?;
    let mut tally = Tally::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                tally.passed += count_before(rest, " passed");
                tally.failed += count_before(rest, " failed");
            }
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    if !status.success() {
        println!("tests: {} passed, {} failed", tally.passed, tally.failed.max(1));
        return Err(format!("`cargo test` failed ({status})"));
    }
    Ok(tally)
}

/// The number just before `label` in a `test result:` line ("ok. 7 passed; 0 failed; ...").
fn count_before(line: &str, label: &str) -> u64 {
    line.split(';')
        .find_map(|part| part.trim().strip_suffix(label.trim()).map(str::trim))
        .and_then(|n| n.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn deny() -> Result<(), String> {
    if !succeeds("cargo", &["deny", "--version"]) {
        run("cargo", &["install", "cargo-deny", "--locked", "--version", "0.20.2"], &[])?;
    }
    run("cargo", &["deny", "check", "bans", "licenses", "sources"], &[])?;
    if succeeds("cargo", &["deny", "fetch", "db"]) {
        run("cargo", &["deny", "check", "advisories"], &[])
    } else {
        eprintln!(
            "\n==> cargo deny check advisories: SKIPPED. The RustSec advisory database could not be fetched \
             (it is cloned from github.com, which this machine cannot reach). Run it where it can be fetched."
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::count_before;

    #[test]
    fn reads_counts_from_a_cargo_test_result_line() {
        let line = "ok. 7 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s";
        assert_eq!(count_before(line, " passed"), 7);
        assert_eq!(count_before(line, " failed"), 2);
        assert_eq!(count_before("FAILED. 0 passed; 1 failed;", " failed"), 1);
    }
}

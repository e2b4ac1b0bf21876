//! `warden-bench`: Warden's benchmarks, each measured against a floor in the same run on the
//! same machine, as issue 6 lists them. Run through `cargo xtask bench` (which starts
//! PostgreSQL, installs wrk, builds the server and passes `--server`). Full mode writes
//! `docs/BENCHMARKS.md`; `--quick` runs every measurement briefly, writes
//! `target/bench/quick.md`, and fails unless each produced a number.
//!
//! 1. API: `GET /integrations/{id}` and `GET /integrations` with 100 and 10,000 stored
//!    integrations, 64 keep-alive connections (wrk), SQLite and PostgreSQL; floor: the same
//!    server's `/healthz` under the same load.
//! 2. Validation: `POST /integrations?dryRun=true` for Redshift against PostgreSQL; floor:
//!    the same catalogue queries issued directly with sqlx in this process. And for a manual
//!    Snowflake integration against fakesnow; floor: Snowflake's Python connector signing in
//!    and running the same statements on the same fakesnow (`bench/snowflake_floor.py`). And
//!    for a manual Databricks integration against minilake; floor: the same REST calls from
//!    a plain reqwest client in this process.
//! 3. Automatic setup: POST create until `enabled`; floor: psql running the same scripts.
//! 4. Script generation: scripts per second per platform (build and render).
//! 5. Footprint: resident memory idle and under load, cold start to `/readyz`, database
//!    size per integration.
//! 6. Scale-out: requests per second of 1, 2 and 3 processes on one PostgreSQL.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, clippy::expect_used)] // a command-line tool; a failed measurement aborts the run

mod measure;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let server = args.iter().position(|a| a == "--server").and_then(|i| args.get(i + 1)).cloned();
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    let Some(server) = server else {
        eprintln!(
            "usage: warden-bench --server <path to warden> [--quick] [--only <group>] (run it through `cargo xtask bench`)"
        );
        return ExitCode::from(2);
    };
    let Ok(postgres) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        eprintln!("warden-bench: WARDEN_TEST_POSTGRES_URL is not set (cargo xtask bench starts PostgreSQL)");
        return ExitCode::from(2);
    };
    let (Ok(fakesnow), Ok(fakesnow_python)) =
        (std::env::var("WARDEN_TEST_FAKESNOW_URL"), std::env::var("WARDEN_FAKESNOW_PYTHON"))
    else {
        eprintln!(
            "warden-bench: WARDEN_TEST_FAKESNOW_URL or WARDEN_FAKESNOW_PYTHON is not set (cargo xtask bench starts fakesnow)"
        );
        return ExitCode::from(2);
    };
    let Ok(minilake) = std::env::var("WARDEN_TEST_MINILAKE_URL") else {
        eprintln!("warden-bench: WARDEN_TEST_MINILAKE_URL is not set (cargo xtask bench starts minilake)");
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let setup = measure::Setup {
        quick,
        server: server.into(),
        postgres,
        fakesnow: (fakesnow, fakesnow_python.into()),
        minilake,
        only: only.clone(),
    };
    let rows = runtime.block_on(measure::all(setup));
    let report = measure::report(&rows, quick);
    println!("{report}");
    let out = match (&only, quick) {
        (Some(_), _) => "target/bench/only.md",
        (None, true) => "target/bench/quick.md",
        (None, false) => "docs/BENCHMARKS.md",
    };
    if let Some(dir) = std::path::Path::new(out).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(error) = std::fs::write(out, &report) {
        eprintln!("warden-bench: cannot write {out}: {error}");
        return ExitCode::FAILURE;
    }
    let missing: Vec<&str> =
        rows.iter().filter(|r| !(r.value.is_finite() && r.value > 0.0)).map(|r| r.name.as_str()).collect();
    if missing.is_empty() {
        eprintln!("warden-bench: {} measurements written to {out}", rows.len());
        ExitCode::SUCCESS
    } else {
        eprintln!("warden-bench: no number for {missing:?}");
        ExitCode::FAILURE
    }
}

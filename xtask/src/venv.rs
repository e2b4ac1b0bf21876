//! The project's Python virtualenvs, one per tool because their pins conflict (each
//! `.venv-<tool>/` at the workspace root, git-ignored): the pinned sqlglot the script oracle
//! uses (`xtask/sqlglot_oracle.py`), the pinned moto (with boto3) the AWS tests run against,
//! and the pinned schemathesis that checks the OpenAPI document. Each is created on first use
//! from PyPI, reused while it holds the pinned version; Debian's `python3-venv` is installed
//! from apt when `python3 -m venv` is missing and we run as root.

use std::path::PathBuf;
use std::process::Command;

use crate::{run, succeeds, workspace_root};

/// The sqlglot release the oracle is checked against.
const SQLGLOT: &str = "30.30.0";
/// The moto release the AWS tests run against (emulators-and-crates.md).
const MOTO: &str = "5.2.5";

/// The fakesnow release the Snowflake tests run against, and the Python connector release it
/// works with (emulators-and-crates.md: fakesnow 0.12.1 breaks with connector 5.x).
const FAKESNOW: &str = "0.12.1";
const SNOWFLAKE_CONNECTOR: &str = "4.8.1";

/// The minilake release the Databricks tests run against (emulators-and-crates.md).
const MINILAKE: &str = "1.9.0";

/// The bqemulator release the BigQuery tests run against, and the pins it needs here
/// (emulators-and-crates.md): bqemulator pulls a DuckDB whose spatial extension it downloads
/// at start, which this machine cannot reach, so DuckDB is held at the release whose spatial
/// extension ships as a wheel, installed once into the emulator's own home; numpy is a
/// dependency it does not declare.
const BQEMULATOR: &str = "1.4.0";
const BQEMULATOR_DUCKDB: &str = "1.5.5";
const BQEMULATOR_NUMPY: &str = "2.4.6";

/// The schemathesis release `cargo xtask ci` checks the OpenAPI document with.
pub const SCHEMATHESIS: &str = "4.32.5";

/// The virtualenv of sqlglot, the script oracle's parser; returns its Python.
pub fn ensure_sqlglot() -> Result<PathBuf, String> {
    let check = format!("import sqlglot, sys; sys.exit(sqlglot.__version__ != '{SQLGLOT}')");
    ensure_named(".venv-sqlglot", &[format!("sqlglot=={SQLGLOT}")], &check)
}

/// The virtualenv of moto (with boto3), the AWS emulator; returns its Python.
pub fn ensure_moto() -> Result<PathBuf, String> {
    let check = format!("import moto, boto3, sys; sys.exit(moto.__version__ != '{MOTO}')");
    ensure_named(".venv-moto", &[format!("moto[server]=={MOTO}")], &check)
}

/// The virtualenv of fakesnow (with the Python connector it needs), the Snowflake emulator;
/// returns its Python.
pub fn ensure_fakesnow() -> Result<PathBuf, String> {
    let check = format!(
        "import importlib.metadata as m, sys; sys.exit(m.version('fakesnow') != '{FAKESNOW}' or m.version('snowflake-connector-python') != '{SNOWFLAKE_CONNECTOR}')"
    );
    let packages =
        [format!("fakesnow[server]=={FAKESNOW}"), format!("snowflake-connector-python=={SNOWFLAKE_CONNECTOR}")];
    ensure_named(".venv-fakesnow", &packages, &check)
}

/// The virtualenv of minilake, the Databricks emulator; returns its Python.
pub fn ensure_minilake() -> Result<PathBuf, String> {
    let check = format!("import importlib.metadata as m, sys; sys.exit(m.version('minilake') != '{MINILAKE}')");
    ensure_named(".venv-minilake", &[format!("minilake=={MINILAKE}")], &check)
}

/// The virtualenv of bqemulator, the BigQuery emulator, with DuckDB's spatial extension
/// installed from its wheel into the emulator's home (`.venv-bqemulator/home`, the `HOME`
/// it runs with); returns its Python and that home.
pub fn ensure_bqemulator() -> Result<(PathBuf, PathBuf), String> {
    let check = format!(
        "import importlib.metadata as m, sys; sys.exit(m.version('bqemulator') != '{BQEMULATOR}' or m.version('duckdb') != '{BQEMULATOR_DUCKDB}')"
    );
    let packages = [
        format!("bqemulator=={BQEMULATOR}"),
        format!("duckdb=={BQEMULATOR_DUCKDB}"),
        format!("duckdb-extension-spatial=={BQEMULATOR_DUCKDB}"),
        format!("numpy=={BQEMULATOR_NUMPY}"),
    ];
    let python = ensure_named(".venv-bqemulator", &packages, &check)?;
    let home = workspace_root().join(".venv-bqemulator/home");
    let extension = home.join(format!(".duckdb/extensions/v{BQEMULATOR_DUCKDB}/linux_amd64/spatial.duckdb_extension"));
    if !extension.exists() {
        std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        let install = format!(
            "import duckdb, os, duckdb_extension_spatial as e; duckdb.connect().execute(\"INSTALL '\" + os.path.join(os.path.dirname(e.__file__), 'extensions/v{BQEMULATOR_DUCKDB}/spatial.duckdb_extension') + \"'\")"
        );
        let home_text = home.to_string_lossy().into_owned();
        run(&python.to_string_lossy(), &["-c", &install], &[("HOME", &home_text)])?;
    }
    Ok((python, home))
}

/// The virtualenv of schemathesis (its own: its pins conflict with the others'); returns its
/// Python.
pub fn ensure_schemathesis() -> Result<PathBuf, String> {
    let check = format!("import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '{SCHEMATHESIS}')");
    ensure_named(".venv-schemathesis", &[format!("schemathesis=={SCHEMATHESIS}")], &check)
}

/// Makes sure the virtualenv `dir` (under the workspace root) exists and `check` passes in
/// it, installing `packages` from PyPI when it does not; returns its Python.
fn ensure_named(dir: &str, packages: &[String], check: &str) -> Result<PathBuf, String> {
    let root = workspace_root();
    let python = root.join(dir).join("bin/python");
    let python_str = python.to_string_lossy().into_owned();
    if python.exists() && succeeds(&python_str, &["-c", check]) {
        return Ok(python);
    }
    if !succeeds("python3", &["-m", "venv", "--help"]) || !succeeds("python3", &["-c", "import ensurepip"]) {
        install_venv_support()?;
    }
    run("python3", &["-m", "venv", dir], &[])?;
    let mut args = vec!["-m", "pip", "install", "--quiet", "--disable-pip-version-check"];
    args.extend(packages.iter().map(String::as_str));
    run(&python_str, &args, &[])?;
    if succeeds(&python_str, &["-c", check]) {
        Ok(python)
    } else {
        Err(format!("the virtualenv at {} does not hold {}", root.join(dir).display(), packages.join(", ")))
    }
}

fn install_venv_support() -> Result<(), String> {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        return Err("python3 cannot create a virtualenv: install it with `sudo apt-get install -y python3-venv`".into());
    }
    run("apt-get", &["install", "-y", "-q", "python3-venv"], &[("DEBIAN_FRONTEND", "noninteractive")])
}

//! The local emulators the tests talk to, each from its own project virtualenv, on a free
//! 127.0.0.1 port, stopped when dropped (also when the run fails):
//!
//! - moto's server mode (PyPI `moto[server]`), the AWS emulator, checking SigV4 signatures
//!   after its first four requests (`INITIAL_NO_AUTH_ACTION_COUNT=4`, spent by
//!   `xtask/moto_setup.py`); its URL reaches the tests as `WARDEN_TEST_MOTO_URL`.
//! - fakesnow's server mode (PyPI `fakesnow[server]`), the Snowflake emulator speaking the
//!   connectors' HTTP protocol, started by `xtask/fakesnow_server.py` (which adds the
//!   `DROP DATABASE` fakesnow lacks); its URL reaches the tests as `WARDEN_TEST_FAKESNOW_URL`.
//! - minilake (PyPI `minilake`), the Databricks emulator, over HTTPS with the test CA's
//!   certificate, started by `xtask/minilake_server.py` (a request log, the system views
//!   Warden's delete reads, metastore faults by token); its URL reaches the tests as
//!   `WARDEN_TEST_MINILAKE_URL` and its request log as `WARDEN_TEST_MINILAKE_LOG`.
//! - bqemulator (PyPI `bqemulator`), the BigQuery emulator, started by
//!   `xtask/bqemulator_server.py` (bearer tokens resolved to service accounts, permissions
//!   refused by account name, a request log); its `host:port` reaches the tests as
//!   `WARDEN_TEST_BIGQUERY_EMULATOR` and its request log as `WARDEN_TEST_BIGQUERY_LOG`.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running emulator.
pub struct Emulator {
    name: &'static str,
    child: Child,
    port: u16,
    scheme: &'static str,
}

/// The tinyproxy binary (Debian's package, installed from apt when missing and run as
/// root; its service is not started: the proxy tests start their own on a free port).
pub fn ensure_tinyproxy() -> Result<std::path::PathBuf, String> {
    let installed = std::path::PathBuf::from("/usr/bin/tinyproxy");
    if installed.exists() {
        return Ok(installed);
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return Err("tinyproxy is not installed: run `sudo apt-get install -y tinyproxy` and try again".into());
    }
    eprintln!("==> installing tinyproxy from apt (for the Databricks proxy tests)");
    crate::apt_get(&["install", "-y", "-qq", "tinyproxy"]).or_else(|_| {
        crate::apt_get(&["update", "-qq"])?;
        crate::apt_get(&["install", "-y", "-qq", "tinyproxy"])
    })?;
    Ok(installed)
}

/// A port nothing listens on now.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))
        .map(|a| a.port())
}

impl Emulator {
    /// Starts moto from the virtualenv whose Python is `python`.
    pub fn moto(python: &Path) -> Result<Self, String> {
        let bin = python.parent().ok_or("no virtualenv bin directory")?.join("moto_server");
        Self::start("moto", &bin, &["-H", "127.0.0.1", "-p"], &[("INITIAL_NO_AUTH_ACTION_COUNT", "4")])
    }

    /// Starts a second moto that checks no signature, for the calls AWS takes unsigned
    /// (STS `AssumeRoleWithSAML`, which the Redshift Okta sign-in makes): the first moto
    /// fails every unsigned call once its user exists.
    pub fn moto_unsigned(python: &Path) -> Result<Self, String> {
        let bin = python.parent().ok_or("no virtualenv bin directory")?.join("moto_server");
        Self::start("moto (unsigned)", &bin, &["-H", "127.0.0.1", "-p"], &[])
    }

    /// Makes moto's test user (`xtask/moto_setup.py`, the only unsigned calls moto accepts)
    /// and answers its access key id and secret, which the AWS tests sign with.
    pub fn moto_keys(&self, python: &Path) -> Result<(String, String), String> {
        let setup = crate::workspace_root().join("xtask/moto_setup.py");
        let output = Command::new(python)
            .arg(setup)
            .arg(self.url())
            .output()
            .map_err(|e| format!("could not run moto_setup.py: {e}"))?;
        if !output.status.success() {
            return Err(format!("moto_setup.py failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        match text.split_whitespace().collect::<Vec<_>>()[..] {
            [id, secret] => Ok((id.to_owned(), secret.to_owned())),
            _ => Err("moto_setup.py printed no key".into()),
        }
    }

    /// Starts fakesnow from the virtualenv whose Python is `python`, through
    /// `xtask/fakesnow_server.py` (fakesnow's own server, with the `DROP DATABASE` it lacks).
    pub fn fakesnow(python: &Path) -> Result<Self, String> {
        let launcher = crate::workspace_root().join("xtask/fakesnow_server.py");
        let launcher = launcher.to_str().ok_or("the workspace path is not UTF-8")?;
        Self::start("fakesnow", python, &[launcher, "-s", "--host", "127.0.0.1", "-p"], &[])
    }

    /// Starts minilake from the virtualenv whose Python is `python`, through
    /// `xtask/minilake_server.py` (minilake's own server, with a request log at `request_log`,
    /// the system views Warden's delete reads, and metastore faults chosen by token), serving
    /// HTTPS with `certificate` and `key` (the test CA's certificate for 127.0.0.1).
    pub fn minilake(python: &Path, certificate: &Path, key: &Path, request_log: &Path) -> Result<Self, String> {
        let launcher = crate::workspace_root().join("xtask/minilake_server.py");
        let text = |path: &Path| path.to_str().map(str::to_owned).ok_or("a path is not UTF-8");
        let http_port = free_port()?.to_string();
        let (launcher, certificate, key, log) = (text(&launcher)?, text(certificate)?, text(key)?, text(request_log)?);
        let data = std::env::temp_dir().join(format!("warden-minilake-{}", std::process::id()));
        let data = text(&data)?;
        Self::start(
            "minilake",
            python,
            &[
                &launcher,
                "--host",
                "127.0.0.1",
                "--port",
                &http_port,
                "--tls",
                "--ssl-certfile",
                &certificate,
                "--ssl-keyfile",
                &key,
                "--https-port",
            ],
            &[("MINILAKE_REQUEST_LOG", &log), ("MINILAKE_DATA_DIR", &data)],
        )
        .map(|mut emulator| {
            emulator.scheme = "https";
            emulator
        })
    }

    /// Starts bqemulator from the virtualenv whose Python is `python` with `home` as its
    /// `HOME` (where DuckDB's spatial extension was installed), through
    /// `xtask/bqemulator_server.py`, with a request log at `request_log`.
    pub fn bqemulator(python: &Path, home: &Path, request_log: &Path) -> Result<Self, String> {
        let launcher = crate::workspace_root().join("xtask/bqemulator_server.py");
        let text = |path: &Path| path.to_str().map(str::to_owned).ok_or("a path is not UTF-8");
        let (launcher, home, log) = (text(&launcher)?, text(home)?, text(request_log)?);
        let grpc_port = free_port()?.to_string();
        Self::start(
            "bqemulator",
            python,
            &[&launcher, "start", "--rest-host", "127.0.0.1", "--grpc-port", &grpc_port, "--rest-port"],
            &[("HOME", &home), ("BQEMULATOR_REQUEST_LOG", &log)],
        )
    }

    /// Its `host:port`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts `bin` with `args` and a free port after them, and waits until the port answers.
    fn start(name: &'static str, bin: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<Self, String> {
        let port = free_port()?;
        let child = Command::new(bin)
            .args(args)
            .arg(port.to_string())
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        let emulator = Self { name, child, port, scheme: "http" };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{name} did not start listening within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("==> {name} started on 127.0.0.1:{port}");
        Ok(emulator)
    }

    /// Its endpoint URL.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("==> {} stopped", self.name);
    }
}

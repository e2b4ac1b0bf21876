//! The local emulators the tests talk to, each from its own project virtualenv, on a free
//! 127.0.0.1 port, stopped when dropped (also when the run fails):
//!
//! - moto's server mode (PyPI `moto[server]`), the AWS emulator, checking SigV4 signatures
//!   after its first four requests (`INITIAL_NO_AUTH_ACTION_COUNT=4`, spent by
//!   `xtask/moto_setup.py`); its URL reaches the tests as `WARDEN_TEST_MOTO_URL`.
//! - fakesnow's server mode (PyPI `fakesnow[server]`), the Snowflake emulator speaking the
//!   connectors' HTTP protocol, started by `xtask/fakesnow_server.py` (which adds the
//!   `DROP DATABASE` fakesnow lacks); its URL reaches the tests as `WARDEN_TEST_FAKESNOW_URL`.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running emulator.
pub struct Emulator {
    name: &'static str,
    child: Child,
    port: u16,
}

impl Emulator {
    /// Starts moto from the virtualenv whose Python is `python`.
    pub fn moto(python: &Path) -> Result<Self, String> {
        let bin = python.parent().ok_or("no virtualenv bin directory")?.join("moto_server");
        Self::start("moto", &bin, &["-H", "127.0.0.1", "-p"], &[("INITIAL_NO_AUTH_ACTION_COUNT", "4")])
    }

    /// Starts fakesnow from the virtualenv whose Python is `python`, through
    /// `xtask/fakesnow_server.py` (fakesnow's own server, with the `DROP DATABASE` it lacks).
    pub fn fakesnow(python: &Path) -> Result<Self, String> {
        let launcher = crate::workspace_root().join("xtask/fakesnow_server.py");
        let launcher = launcher.to_str().ok_or("the workspace path is not UTF-8")?;
        Self::start("fakesnow", python, &[launcher, "-s", "--host", "127.0.0.1", "-p"], &[])
    }

    /// Starts `bin` with `args` and a free port after them, and waits until the port answers.
    fn start(name: &'static str, bin: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let child = Command::new(bin)
            .args(args)
            .arg(port.to_string())
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        let emulator = Self { name, child, port };
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
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("==> {} stopped", self.name);
    }
}

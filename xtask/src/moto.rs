//! The local AWS emulator for the tests: moto's server mode (PyPI `moto[server]`, in the
//! project virtualenv), on a free 127.0.0.1 port, checking SigV4 signatures after its first
//! four requests (`INITIAL_NO_AUTH_ACTION_COUNT=4`, spent by `xtask/moto_setup.py`). Its
//! URL reaches the tests as `WARDEN_TEST_MOTO_URL`; it is stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts moto from the virtualenv whose Python is `python`.
    pub fn start(python: &Path) -> Result<Self, String> {
        let bin = python.parent().ok_or("no virtualenv bin directory")?.join("moto_server");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        let moto = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("moto did not start listening within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("==> moto started on 127.0.0.1:{port}");
        Ok(moto)
    }

    /// Its endpoint URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("==> moto stopped");
    }
}

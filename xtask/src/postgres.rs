//! A throwaway PostgreSQL server for the test suite: installed from apt when missing,
//! initialised in a temporary directory, started on a free loopback port as an unprivileged
//! user (the server refuses to run as root), and stopped and removed when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running test server.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
}

fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn install() -> Result<(), String> {
    if !is_root() {
        return Err("PostgreSQL is not installed: run `sudo apt-get install -y postgresql` and try again".into());
    }
    eprintln!("==> installing PostgreSQL from apt");
    crate::apt_get(&["update", "-qq"])?;
    crate::apt_get(&["install", "-y", "-qq", "postgresql"])
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The password of the throwaway server's superuser (the server lives for one run, on
/// loopback only).
const SUPERUSER_PASSWORD: &str = "warden-ci-superuser";
/// The one login trusted without a password (see `Postgres::start`).
const TRUSTED_IAM_USER: &str = "IAM:okta_trusted";

impl Postgres {
    /// Installs (if needed), initialises and starts a server.
    pub fn start() -> Result<Self, String> {
        let bin = match bin_dir() {
            Some(bin) => bin,
            None => {
                install()?;
                bin_dir().ok_or("PostgreSQL was installed but its initdb cannot be found")?
            }
        };
        let run_as = is_root().then_some("postgres");
        let dir = std::env::temp_dir().join(format!("warden-ci-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port()?;
        let server = Self { bin, dir, port, run_as };
        if let Some(user) = run_as {
            server.command("chown", &[&format!("{user}:"), &server.dir.display().to_string()], false)?;
        }
        let data = server.dir.join("data").display().to_string();
        // Connections over TCP need the password (SCRAM), as on a real Redshift cluster, so
        // the tests can see a wrong password fail; the socket in the temp dir stays trusted.
        let password_file = server.dir.join("password");
        std::fs::write(&password_file, format!("{SUPERUSER_PASSWORD}\n"))
            .map_err(|e| format!("{}: {e}", password_file.display()))?;
        if let Some(user) = run_as {
            server.command("chown", &[&format!("{user}:"), &password_file.display().to_string()], false)?;
        }
        let pwfile = format!("--pwfile={}", password_file.display());
        server.command(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "warden",
                &pwfile,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-N",
            ],
            true,
        )?;
        // One user logs in without a password: "IAM:okta_trusted", the database user the Okta
        // stand-in's assertion names, whose password moto's GetClusterCredentials makes up at
        // random. It is how the Redshift Okta test's dry run can pass all the way through (the
        // accessKey test stops at the refused login). No other login is trusted.
        let hba = server.dir.join("data").join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).map_err(|e| format!("{}: {e}", hba.display()))?;
        std::fs::write(&hba, format!("hostssl all \"{TRUSTED_IAM_USER}\" 127.0.0.1/32 trust\n{rules}"))
            .map_err(|e| format!("{}: {e}", hba.display()))?;
        // TLS as a Redshift cluster offers it, with a throwaway CA of its own: the server's
        // certificate (for 127.0.0.1) is signed by it, and the tests trust it through
        // WARDEN_CA_FILE, so Warden's default verify-full runs against this server as it does
        // against Redshift. (openssl comes with the postgresql packages, through ssl-cert.)
        let (cert, key) = (server.dir.join("server.crt"), server.dir.join("server.key"));
        let (cert_path, key_path) = (cert.display().to_string(), key.display().to_string());
        server.make_certificates(&cert_path, &key_path)?;
        if let Some(user) = run_as {
            server.command("chown", &[&format!("{user}:"), &cert_path, &key_path], false)?;
        }
        server.command("chmod", &["600", &key_path], false)?;
        let options = format!(
            "-h 127.0.0.1 -p {port} -k {} -F -c ssl=on -c ssl_cert_file={cert_path} -c ssl_key_file={key_path}",
            server.dir.display()
        );
        let log = server.dir.join("server.log").display().to_string();
        server.command("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start"], true)?;
        eprintln!("==> PostgreSQL started on 127.0.0.1:{port} ({})", server.dir.display());
        Ok(server)
    }

    /// The server's certificate and key for 127.0.0.1, signed by [`Postgres::ca_path`]
    /// (the HTTPS emulators serve with them too).
    pub fn certificate(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("server.crt"), self.dir.join("server.key"))
    }

    /// The CA that signed the server's certificate (PEM), for `WARDEN_CA_FILE`.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// A CA, and the server's key and certificate for 127.0.0.1 signed by it.
    fn make_certificates(&self, cert_path: &str, key_path: &str) -> Result<(), String> {
        let in_dir = |name: &str| self.dir.join(name).display().to_string();
        let (ca_cert, ca_key, csr, extensions) =
            (in_dir("ca.crt"), in_dir("ca.key"), in_dir("server.csr"), in_dir("server.ext"));
        std::fs::write(
            &extensions,
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1\n",
        )
        .map_err(|e| format!("{extensions}: {e}"))?;
        let days = ["-days", "2"];
        self.command(
            "openssl",
            &[
                &["req", "-x509", "-newkey", "rsa:2048", "-nodes"][..],
                &days,
                &["-subj", "/CN=warden-test-ca", "-keyout", &ca_key, "-out", &ca_cert],
            ]
            .concat(),
            false,
        )?;
        self.command(
            "openssl",
            &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key_path, "-out", &csr],
            false,
        )?;
        self.command(
            "openssl",
            &[
                &["x509", "-req", "-in", &csr, "-CA", &ca_cert, "-CAkey", &ca_key, "-CAcreateserial"][..],
                &days,
                &["-extfile", &extensions, "-out", cert_path],
            ]
            .concat(),
            false,
        )
    }

    /// Its server log (the tests read it: no password may appear in a statement it logs).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The URL of its `postgres` database as the `warden` superuser.
    pub fn url(&self) -> String {
        format!("postgres://warden:{SUPERUSER_PASSWORD}@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, program: &str, args: &[&str], server_binary: bool) -> Result<(), String> {
        let program_path = if server_binary { self.bin.join(program) } else { PathBuf::from(program) };
        let mut command = match (self.run_as, server_binary) {
            (Some(user), true) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program_path);
                c
            }
            _ => Command::new(&program_path),
        };
        let output = command.args(args).current_dir(Path::new("/")).output().map_err(|e| format!("{program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data").display().to_string();
        if let Err(e) = self.command("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"], true) {
            eprintln!("xtask: stopping PostgreSQL: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        eprintln!("==> PostgreSQL stopped");
    }
}

//! The harness: starts `warden-under-test` as a child process on a free 127.0.0.1 port,
//! on SQLite (a temporary data directory) or PostgreSQL (a fresh database on the server
//! named by `WARDEN_TEST_POSTGRES_URL`, which `cargo xtask ci` starts), waits for
//! `/readyz`, and sends requests. The server's log goes to a file the tests can read.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared by several test files; a panic is a failed test

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection as _;

/// The admin key every test server starts with.
pub const ADMIN_KEY: &str = "wdn_test_admin_key_0123456789abcdef";
/// The master key of the test servers (so two processes on one PostgreSQL share it).
pub const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Which store a test server uses.
#[derive(Debug, Clone)]
pub enum Backend {
    /// SQLite in the server's data directory.
    Sqlite,
    /// A database of its own on the test PostgreSQL server.
    Postgres(String),
}

impl Backend {
    /// A short name for assertion messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

/// SQLite, and PostgreSQL when `WARDEN_TEST_POSTGRES_URL` is set (with `CI=true` it must
/// be: the PostgreSQL half is part of the suite, not an option).
pub async fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    match std::env::var("WARDEN_TEST_POSTGRES_URL") {
        Ok(url) => out.push(Backend::Postgres(fresh_database(&url).await)),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but WARDEN_TEST_POSTGRES_URL is not set: run the suite with `cargo xtask ci`")
        }
        Err(_) => eprintln!("WARDEN_TEST_POSTGRES_URL is not set: PostgreSQL half skipped"),
    }
    out
}

/// Creates an empty database on the server of `admin_url` and returns its URL.
pub async fn fresh_database(admin_url: &str) -> String {
    let name = format!("warden_e2e_{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::SeqCst));
    let mut conn = sqlx::PgConnection::connect(admin_url).await.expect("connect to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.expect("create db");
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
    format!("{base}/{name}")
}

/// An HTTP client. reqwest's rustls is built without a crypto provider (the Redshift
/// adapter brings ring), so the process installs ring's before the first client.
/// `value` without the validation tests' `durationMs` (how long a check took differs from
/// run to run), for comparing two answers whole.
#[allow(dead_code)] // not every test binary compares answers whole
pub fn without_durations(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(k, _)| *k != "durationMs").map(|(k, v)| (k.clone(), without_durations(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_durations).collect()),
        other => other.clone(),
    }
}

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client")
}

/// An HTTP client that shows redirects instead of following them.
pub fn http_no_redirects() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60));
    client.redirect(reqwest::redirect::Policy::none()).build().expect("http client")
}

/// A Redshift payload for the rehearsal platform: the host's words choose its behaviour;
/// `auto` gives privileged credentials for an automatic setup. Its secrets contain `S3CRET`.
pub fn redshift(host: &str, auto: bool) -> Value {
    let mut config = serde_json::json!({"host": host, "database": "warden", "authenticationType": "userPassword",
        "username": "warden_system", "password": "S3CRET-system-pw"});
    if auto {
        config["initialDatabase"] = serde_json::json!("dev");
        config["username"] = serde_json::json!("awsuser");
        config["password"] = serde_json::json!("S3CRET-privileged-pw");
    }
    serde_json::json!({"type": "Redshift", "autoBootstrap": auto, "config": config})
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A running (or stopped) test server.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    port: u16,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    backend: Backend,
    extra_args: Vec<String>,
    client: reqwest::Client,
    starts: u32,
    binary: &'static str,
    /// Environment variables the server starts with besides the harness's own.
    env: Vec<(String, String)>,
}

/// The `warden` binary with the rehearsal platform (see `src/rehearsal.rs`).
pub const REHEARSAL: &str = env!("CARGO_BIN_EXE_warden-under-test");
/// The `warden` binary as shipped, with the real adapters.
pub const SHIPPED: &str = env!("CARGO_BIN_EXE_warden-shipped");
/// The shipped adapters, each dying at the failure point `WARDEN_TEST_DIE_AT` arms
/// (see `src/dying.rs`).
pub const FAILPOINTS: &str = env!("CARGO_BIN_EXE_warden-failpoints");

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body as JSON.
    pub body: Value,
    /// The body as text.
    pub text: String,
    /// The `Link` header, when there is one.
    pub link: Option<String>,
}

impl Server {
    /// Starts a server on `backend` with a data directory of its own.
    pub async fn start(backend: &Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    /// Starts a server with extra `warden serve` arguments.
    pub async fn start_with(backend: &Backend, extra_args: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().to_path_buf();
        Self::start_in(backend, &data_dir, Some(temp), extra_args).await
    }

    /// Starts a server with its data directory at `data_dir` (two processes on one
    /// PostgreSQL use two directories).
    pub async fn start_in(
        backend: &Backend,
        data_dir: &Path,
        temp: Option<tempfile::TempDir>,
        extra_args: &[&str],
    ) -> Self {
        Self::start_binary(REHEARSAL, backend, data_dir, temp, extra_args).await
    }

    /// Starts `binary` ([`REHEARSAL`] or [`SHIPPED`]).
    pub async fn start_binary(
        binary: &'static str,
        backend: &Backend,
        data_dir: &Path,
        temp: Option<tempfile::TempDir>,
        extra_args: &[&str],
    ) -> Self {
        let mut server = Self {
            child: None,
            base: String::new(),
            port: 0,
            data_dir: data_dir.to_path_buf(),
            _temp: temp,
            backend: backend.clone(),
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            client: http(),
            starts: 0,
            binary,
            env: Vec::new(),
        };
        server.spawn().await;
        server
    }

    /// Starts `binary` with `env` in its environment too (an emulator's endpoint, say; an
    /// empty value removes the variable).
    pub async fn start_binary_with_env(
        binary: &'static str,
        backend: &Backend,
        temp: tempfile::TempDir,
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_binary_with_env_and_args(binary, backend, temp, env, &[]).await
    }

    /// Starts `binary` with `env` in its environment and extra `warden serve` arguments.
    pub async fn start_binary_with_env_and_args(
        binary: &'static str,
        backend: &Backend,
        temp: tempfile::TempDir,
        env: &[(&str, &str)],
        extra_args: &[&str],
    ) -> Self {
        let mut server = Self {
            child: None,
            base: String::new(),
            port: 0,
            data_dir: temp.path().to_path_buf(),
            _temp: Some(temp),
            backend: backend.clone(),
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            client: http(),
            starts: 0,
            binary,
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        };
        server.spawn().await;
        server
    }

    /// The file the server's standard error (its log) goes to, for start `n` (1-based).
    pub fn log_path(&self, n: u32) -> PathBuf {
        self.data_dir.join(format!("server-{n}.log"))
    }

    /// Every log line written so far, all starts together.
    pub fn logs(&self) -> String {
        (1..=self.starts).filter_map(|n| std::fs::read_to_string(self.log_path(n)).ok()).collect()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The change log of the rehearsal platform.
    pub fn rehearsal_log_path(&self) -> PathBuf {
        self.data_dir.join("rehearsal.log")
    }

    async fn spawn(&mut self) {
        self.starts += 1;
        self.port = free_port();
        self.base = format!("http://127.0.0.1:{}", self.port);
        let log = std::fs::File::create(self.log_path(self.starts)).expect("log file");
        let mut command = Command::new(self.binary);
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra_args)
            .env("WARDEN_ADMIN_API_KEY", ADMIN_KEY)
            .env("WARDEN_MASTER_KEY", MASTER_KEY)
            .env("WARDEN_REHEARSAL_LOG", self.rehearsal_log_path())
            .env("RUST_LOG", "debug,sqlx=warn,hyper=info,h2=info")
            .env_remove("WARDEN_DATABASE_URL")
            .envs(self.env.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // An empty value removes the variable (a server with its master key in a file).
        for (name, _) in self.env.iter().filter(|(_, v)| v.is_empty()) {
            command.env_remove(name);
        }
        if let Backend::Postgres(url) = &self.backend {
            command.arg("--database-url").arg(url);
        }
        self.child = Some(command.spawn().expect("start warden-under-test"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = self.client.get(format!("{}/readyz", self.base)).send().await;
            if ready.is_ok_and(|response| response.status() == 200) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("the server exited with {status}: {}", self.logs());
            }
            assert!(Instant::now() < deadline, "the server was not ready within 60 s: {}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process with SIGKILL (no chance to clean up) and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("wait");
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        let sent = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM failed");
        child.wait().expect("wait").success()
    }

    /// Sets `name` in the environment of the next start (an empty value removes it).
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// Waits up to `timeout` for the process to exit by itself; whether it did.
    pub async fn exited_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.as_mut().map(Child::try_wait) {
                None => return true,
                Some(Ok(Some(_))) => {
                    self.child = None;
                    return true;
                }
                _ if Instant::now() >= deadline => return false,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Starts the process again on the same data directory and store.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn().await;
    }

    /// Sends a request with the admin key.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        self.send(method, path, Some(ADMIN_KEY), body).await
    }

    /// Sends a request with any key (or none) and any body.
    pub async fn send(&self, method: &str, path: &str, key: Option<&str>, body: Option<(&str, Vec<u8>)>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("Authorization", key);
        }
        if let Some((content_type, bytes)) = body {
            if !content_type.is_empty() {
                request = request.header("Content-Type", content_type);
            }
            request = request.body(bytes);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let link = response.headers().get("link").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text, link }
    }

    /// Polls an integration's status until it is not transitional; returns the status body.
    pub async fn settled(&self, id: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = self.call("GET", &format!("/integrations/{id}/status"), None).await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            let status = answer.body["status"].as_str().unwrap_or_default().to_owned();
            if !["creating", "editing", "deleting", "migrating"].contains(&status.as_str()) {
                return answer.body;
            }
            assert!(Instant::now() < deadline, "integration {id} still {status} after 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The test PostgreSQL's superuser, as a platform's administrator would be given it.
#[allow(dead_code)] // not every test binary talks to PostgreSQL as a platform
pub struct PgAdmin {
    /// `WARDEN_TEST_POSTGRES_URL`.
    pub admin_url: String,
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The superuser.
    pub user: String,
    /// Its password.
    pub password: String,
}

/// The test PostgreSQL, or `None` (the test skips) when `WARDEN_TEST_POSTGRES_URL` is not set;
/// with `CI=true` it must be.
#[allow(dead_code)] // not every test binary talks to PostgreSQL as a platform
pub fn pg_admin() -> Option<PgAdmin> {
    let Ok(admin_url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_POSTGRES_URL");
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: skipped");
        return None;
    };
    let url = url::Url::parse(&admin_url).expect("WARDEN_TEST_POSTGRES_URL is a URL");
    Some(PgAdmin {
        host: url.host_str().expect("a host").to_owned(),
        port: url.port().unwrap_or(5432),
        user: url.username().to_owned(),
        password: url.password().unwrap_or_default().to_owned(),
        admin_url,
    })
}

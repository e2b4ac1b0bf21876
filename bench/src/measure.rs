//! The measurements and the report. Each returns rows: a value, its unit, and (when the
//! measurement has one) the floor it is compared with.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, Row as _};
use warden_model::{IntegrationSpec, Status};
use warden_scripts::{ScriptKind, build};
use warden_store::{MasterKey, Store};

const ADMIN_KEY: &str = "wdn_bench_admin_key_0123456789abcdef";
const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const CONNECTIONS: u32 = 64;

/// What every measurement needs.
pub struct Setup {
    pub quick: bool,
    pub server: PathBuf,
    pub postgres: String,
    /// fakesnow's URL and the Python of its virtualenv (which has Snowflake's connector).
    pub fakesnow: (String, PathBuf),
    /// minilake's HTTPS URL (its certificate signed by the CA in `WARDEN_CA_FILE`).
    pub minilake: String,
    /// Only the groups whose name contains this (`--only`), for working on one.
    pub only: Option<String>,
}

impl Setup {
    fn wants(&self, group: &str) -> bool {
        self.only.as_deref().is_none_or(|only| group.to_lowercase().contains(&only.to_lowercase()))
    }
}

/// Whether bigger is better.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One number.
pub struct Row {
    pub group: &'static str,
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub floor: Option<(f64, String)>,
    pub better: Better,
}

fn row(group: &'static str, name: impl Into<String>, value: f64, unit: &'static str, better: Better) -> Row {
    Row { group, name: name.into(), value, unit, floor: None, better }
}

impl Row {
    fn against(mut self, floor: f64, what: impl Into<String>) -> Self {
        self.floor = Some((floor, what.into()));
        self
    }

    /// The value over its floor, oriented so that 1.0 is the floor and the direction says
    /// better or worse: throughput as a share of the floor, time as a multiple of it.
    fn ratio(&self) -> Option<f64> {
        self.floor.as_ref().map(|(floor, _)| self.value / floor)
    }
}

pub async fn all(setup: Setup) -> Vec<Row> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut rows = Vec::new();
    let sizes: &[usize] = if setup.quick { &[100] } else { &[100, 10_000] };
    if setup.wants("API") || setup.wants("Footprint") {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for &n in sizes {
                rows.extend(api(&setup, backend, n).await);
            }
        }
    }
    if setup.wants("Validation") {
        rows.extend(validation(&setup).await);
        rows.extend(snowflake_validation(&setup).await);
        rows.extend(databricks_validation(&setup).await);
    }
    if setup.wants("Automatic setup") {
        rows.extend(automatic_setup(&setup).await);
    }
    if setup.wants("Scripts") {
        rows.extend(script_generation(&setup));
    }
    if setup.wants("Scale-out") {
        rows.extend(scale_out(&setup).await);
    }
    rows
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("http client")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

static DATABASES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Creates an empty database and answers its URL.
async fn fresh_database(admin_url: &str, prefix: &str) -> String {
    let name =
        format!("{prefix}_{}_{}", std::process::id(), DATABASES.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    let mut admin = PgConnection::connect(admin_url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0)
}

fn redshift_manual(host: &str) -> Value {
    json!({"type": "Redshift", "autoBootstrap": false, "config": {"host": host, "database": "warden",
        "authenticationType": "userPassword", "username": "warden_system", "password": "Bench-Passw0rd-1"}})
}

/// Stores `n` integrations directly (the API would validate each against a platform).
async fn seed(store: &Store, n: usize) -> u64 {
    let mut first = 0;
    for i in 0..n {
        let spec = IntegrationSpec::from_value(&redshift_manual(&format!("h{i}.bench.example.com")), None).unwrap();
        let stored = store.insert_integration(&spec, Status::Enabled).await.unwrap();
        if i == 0 {
            first = stored.id.get();
        }
    }
    first
}

/// A running server process.
struct Server {
    child: Child,
    base: String,
    started: Instant,
    ready_after: Duration,
}

impl Server {
    async fn start(setup: &Setup, data_dir: &Path, database_url: Option<&str>) -> Self {
        let port = free_port();
        let log = std::fs::File::create(data_dir.join(format!("server-{port}.log"))).unwrap();
        let mut command = Command::new(&setup.server);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data_dir)
            .env("WARDEN_ADMIN_API_KEY", ADMIN_KEY)
            .env("WARDEN_MASTER_KEY", MASTER_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(url) = database_url {
            command.arg("--database-url").arg(url);
        }
        let started = Instant::now();
        let child = command.spawn().expect("start the server");
        let base = format!("http://127.0.0.1:{port}");
        let client = http();
        loop {
            if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Self { child, base, started, ready_after: started.elapsed() }
    }

    /// Resident memory now.
    fn rss_mib(&self) -> f64 {
        self.status_mib("VmRSS:")
    }

    /// The most resident memory the process has had since it started.
    fn peak_rss_mib(&self) -> f64 {
        self.status_mib("VmHWM:")
    }

    fn status_mib(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.started;
    }
}

/// What wrk measured.
struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn millis(text: &str) -> f64 {
    let text = text.trim();
    let (number, factor) = if let Some(v) = text.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

/// Runs wrk against `url` (64 connections split over `threads`) and reads its report.
fn wrk(url: &str, seconds: u64, connections: u32, threads: u32) -> Load {
    let output = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency"])
        .args(["--timeout", "60s"])
        .args(["-H", &format!("Authorization: {ADMIN_KEY}"), url])
        .output()
        .expect("wrk (cargo xtask bench installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("Non-2xx") && !text.contains("Socket errors"), "wrk saw errors for {url}:\n{text}");
    let find = |prefix: &str| {
        text.lines().find_map(|l| l.trim_start().strip_prefix(prefix).map(str::to_owned)).unwrap_or_default()
    };
    Load {
        rps: find("Requests/sec:").trim().parse().unwrap_or(f64::NAN),
        p50_ms: millis(&find("50%")),
        p99_ms: millis(&find("99%")),
    }
}

async fn api(setup: &Setup, backend: Backend, n: usize) -> Vec<Row> {
    let seconds = if setup.quick { 1 } else { 10 };
    let temp = tempfile::tempdir().unwrap();
    let key = MasterKey::from_hex(MASTER_KEY).unwrap();
    let url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(fresh_database(&setup.postgres, "bench_api").await),
    };
    let store = match &url {
        Some(url) => Store::connect(url, key).await.unwrap(),
        None => Store::open_sqlite(temp.path(), key).await.unwrap(),
    };
    let empty_size = database_bytes(temp.path(), url.as_deref()).await;
    let id = seed(&store, n).await;
    drop(store);
    let cold_start = cold_start_ms(setup, temp.path(), url.as_deref()).await;
    let server = Server::start(setup, temp.path(), url.as_deref()).await;
    let label = format!("{}, {n} integrations", backend.name());
    let idle = server.rss_mib();
    let floor = wrk(&format!("{}/healthz", server.base), seconds, CONNECTIONS, 2);
    let one = wrk(&format!("{}/integrations/{id}", server.base), seconds, CONNECTIONS, 2);
    let list = wrk(&format!("{}/integrations", server.base), seconds, CONNECTIONS, 2);
    // The peak over the server's life: idle, then the two loads above.
    let loaded = server.peak_rss_mib();
    let per_integration = (database_bytes(temp.path(), url.as_deref()).await - empty_size) / n as f64;
    let floor_name = "/healthz, same load";
    let mut rows = vec![row("API", format!("/healthz req/s ({label})"), floor.rps, "req/s", Better::Higher)];
    rows.push(
        row("API", format!("GET /integrations/{{id}} req/s ({label})"), one.rps, "req/s", Better::Higher)
            .against(floor.rps, floor_name),
    );
    rows.push(
        row("API", format!("GET /integrations/{{id}} p50 ({label})"), one.p50_ms, "ms", Better::Lower)
            .against(floor.p50_ms, floor_name),
    );
    rows.push(
        row("API", format!("GET /integrations/{{id}} p99 ({label})"), one.p99_ms, "ms", Better::Lower)
            .against(floor.p99_ms, floor_name),
    );
    // The list against a floor that does its work in-process under the same concurrency:
    // sqlx reads the same rows, serde_json writes the same JSON.
    let list_floor = list_floor(temp.path(), url.as_deref(), seconds).await;
    let list_floor_name = "in-process: sqlx reads the rows, serde_json writes the JSON, 64 tasks";
    for (what, value, floor_value, unit, better) in [
        ("req/s", list.rps, list_floor.rps, "req/s", Better::Higher),
        ("p50", list.p50_ms, list_floor.p50_ms, "ms", Better::Lower),
        ("p99", list.p99_ms, list_floor.p99_ms, "ms", Better::Lower),
    ] {
        rows.push(
            row("API", format!("GET /integrations {what} ({label})"), value, unit, better)
                .against(floor_value, list_floor_name),
        );
    }
    rows.push(row("Footprint", format!("resident memory idle ({label})"), idle, "MiB", Better::Lower));
    rows.push(row("Footprint", format!("resident memory under load ({label})"), loaded, "MiB", Better::Lower));
    rows.push(row("Footprint", format!("cold start to /readyz, median ({label})"), cold_start, "ms", Better::Lower));
    rows.push(row(
        "Footprint",
        format!("database size per integration ({label})"),
        per_integration,
        "bytes",
        Better::Lower,
    ));
    rows
}

/// How long the server takes from its start to a ready `/readyz` on this store: the median
/// of five starts (one in quick mode), one after the other, each stopped once ready.
async fn cold_start_ms(setup: &Setup, dir: &Path, database_url: Option<&str>) -> f64 {
    let starts = if setup.quick { 1 } else { 5 };
    let mut samples = Vec::with_capacity(starts);
    for _ in 0..starts {
        let server = Server::start(setup, dir, database_url).await;
        samples.push(server.ready_after.as_secs_f64() * 1000.0);
        drop(server); // killed and waited for, so the next start finds the data directory free
    }
    percentile(&mut samples, 0.5)
}

/// The floor of `GET /integrations`: 64 tasks in this process, each in a loop reading the
/// listed rows with sqlx (a pool of 8 connections, as the server's SQLite store has) and
/// writing the same JSON with serde_json, for `seconds`.
async fn list_floor(dir: &Path, postgres_url: Option<&str>, seconds: u64) -> Load {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    match postgres_url {
        None => {
            let url = format!("sqlite://{}?mode=ro", dir.join("warden.db").display());
            let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(8).connect(&url).await.unwrap();
            for _ in 0..CONNECTIONS {
                let pool = pool.clone();
                tasks.spawn(floor_task(deadline, move || {
                    let pool = pool.clone();
                    async move { sqlx::query(LIST_FLOOR_SQL).fetch_all(&pool).await.unwrap().iter().map(list_row).collect() }
                }));
            }
        }
        Some(url) => {
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(16).connect(url).await.unwrap();
            for _ in 0..CONNECTIONS {
                let pool = pool.clone();
                tasks.spawn(floor_task(deadline, move || {
                    let pool = pool.clone();
                    async move { sqlx::query(LIST_FLOOR_SQL).fetch_all(&pool).await.unwrap().iter().map(list_row).collect() }
                }));
            }
        }
    }
    let mut times = Vec::new();
    while let Some(done) = tasks.join_next().await {
        times.extend(done.unwrap());
    }
    let rps = times.len() as f64 / seconds as f64;
    Load { rps, p50_ms: percentile(&mut times, 0.5), p99_ms: percentile(&mut times, 0.99) }
}

/// One task of the list's floor: reads the rows with `read` and writes their JSON, again and
/// again until `deadline`; answers each round's time in milliseconds.
async fn floor_task<F, Fut>(deadline: Instant, read: F) -> Vec<f64>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<ListRow>>,
{
    let mut times = Vec::new();
    while Instant::now() < deadline {
        let started = Instant::now();
        std::hint::black_box(list_json(read().await.into_iter()));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times
}

const LIST_FLOOR_SQL: &str = "SELECT id, integration_type, status, status_message, config, created_at, updated_at, \
    validation_results FROM integrations WHERE status <> 'deleted' ORDER BY id";

/// The columns of a listed row, as the floor reads them.
type ListRow = (i64, String, String, Option<String>, String, i64, i64, Option<String>);

fn list_row<R: sqlx::Row>(row: &R) -> ListRow
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    (
        row.get("id"),
        row.get("integration_type"),
        row.get("status"),
        row.get("status_message"),
        row.get("config"),
        row.get("created_at"),
        row.get("updated_at"),
        row.get("validation_results"),
    )
}

/// The list's JSON as the API writes it, made with serde_json from the rows.
fn list_json(rows: impl Iterator<Item = ListRow>) -> Vec<u8> {
    let items: Vec<Value> = rows
        .map(|(id, kind, status, message, config, created, updated, results)| {
            let mut stored: Value = serde_json::from_str(&config).unwrap();
            let mut item = json!({"id": id, "type": kind, "autoBootstrap": stored["autoBootstrap"], "status": status,
                "config": stored["config"].take(), "createdAt": warden_api::rfc3339(created), "updatedAt": warden_api::rfc3339(updated)});
            if let Some(results) = results {
                item["validationResults"] = serde_json::from_str(&results).unwrap();
            }
            if let Some(message) = message {
                item["message"] = json!(message);
            }
            item
        })
        .collect();
    serde_json::to_vec(&items).unwrap()
}

/// The store's size: the SQLite database once its write-ahead log is folded in (the log's
/// own size depends on when SQLite last checkpointed it), or the PostgreSQL store's tables with
/// their indexes and TOAST. (`pg_database_size` of a 100-integration store sometimes did not
/// grow at all: the catalog's preallocated files dominate it.)
async fn database_bytes(dir: &Path, postgres_url: Option<&str>) -> f64 {
    match postgres_url {
        None => {
            let url = format!("sqlite://{}", dir.join("warden.db").display());
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut db).await.unwrap();
            let row = sqlx::query("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
                .fetch_one(&mut db)
                .await
                .unwrap();
            row.get::<i64, _>(0) as f64
        }
        Some(url) => {
            let mut store = PgConnection::connect(url).await.unwrap();
            let row = sqlx::query(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
            )
            .fetch_one(&mut store)
            .await
            .unwrap();
            row.get::<f64, _>(0)
        }
    }
}

struct Admin {
    host: String,
    port: u16,
    user: String,
    password: String,
}

fn admin(setup: &Setup) -> Admin {
    let url = url::Url::parse(&setup.postgres).unwrap();
    Admin {
        host: url.host_str().unwrap().to_owned(),
        port: url.port().unwrap_or(5432),
        user: url.username().to_owned(),
        password: url.password().unwrap_or_default().to_owned(),
    }
}

fn automatic(admin: &Admin, database: &str) -> Value {
    json!({"type": "Redshift", "autoBootstrap": true, "config": {"host": admin.host, "port": admin.port,
        "database": database, "initialDatabase": "postgres", "authenticationType": "userPassword",
        "username": admin.user, "password": admin.password,
        "impersonation": {"enabled": true, "role": format!("{database}_imp")}}})
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(index).copied().unwrap_or(f64::NAN)
}

async fn validation(setup: &Setup) -> Vec<Row> {
    let admin = admin(setup);
    let temp = tempfile::tempdir().unwrap();
    let server = Server::start(setup, temp.path(), None).await;
    let client = http();
    let payload = automatic(&admin, "bench_never_created");
    let dry_run = || passing_dry_run(&client, &server, &payload);
    // Cold: a validation after the adapter's check connection has been closed (it keeps one
    // for a second), so each run connects; the floor connects for each run too.
    let cold_runs = if setup.quick { 2 } else { 20 };
    let (mut warden_cold, mut floor_cold) = (Vec::new(), Vec::new());
    for _ in 0..cold_runs {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        warden_cold.push(dry_run().await.wall);
        let started = Instant::now();
        let mut connection = PgConnection::connect(&setup.postgres).await.unwrap();
        check_queries(&mut connection).await;
        connection.close().await.unwrap();
        floor_cold.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    // Warm: back-to-back validations, which share the adapter's open connection; the floor
    // issues the same queries on one open connection.
    let warm_runs = if setup.quick { 10 } else { 200 };
    let mut warm_runs_seen = Vec::new();
    for _ in 0..warm_runs {
        warm_runs_seen.push(dry_run().await);
    }
    let mut warden_warm: Vec<f64> = warm_runs_seen.iter().map(|r| r.wall).collect();
    let mut connection = PgConnection::connect(&setup.postgres).await.unwrap();
    let mut floor_warm = Vec::new();
    for _ in 0..warm_runs {
        let started = Instant::now();
        check_queries(&mut connection).await;
        floor_warm.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let cold = "sqlx: connect, then the checks' three queries";
    let warm = "sqlx: the checks' three queries on an open connection";
    let mut rows = p50_and_p99(", cold (Redshift on PostgreSQL)", &mut warden_cold, &mut floor_cold, cold);
    rows.extend(p50_and_p99(", warm (Redshift on PostgreSQL)", &mut warden_warm, &mut floor_warm, warm));
    rows.extend(concurrency_rows("Redshift on PostgreSQL, warm", &warm_runs_seen));
    rows
}

/// The p50 and p99 rows of a dry-run measurement (`POST dryRun p50<suffix>`), each against
/// the same percentile of its floor, `floor_is` saying what the floor is.
fn p50_and_p99(suffix: &str, warden: &mut [f64], floor: &mut [f64], floor_is: &str) -> Vec<Row> {
    [("p50", 0.5), ("p99", 0.99)]
        .into_iter()
        .map(|(label, p)| {
            row("Validation", format!("POST dryRun {label}{suffix}"), percentile(warden, p), "ms", Better::Lower)
                .against(percentile(floor, p), floor_is)
        })
        .collect()
}

/// One dry run's times, in milliseconds: the request's, and the sum and the longest of its
/// tests' own (`durationMs`).
#[derive(Clone, Copy)]
struct DryRun {
    wall: f64,
    tests_sum: f64,
    tests_max: f64,
}

/// One `POST /integrations?dryRun=true` of `payload`, which must pass; answers its times.
async fn passing_dry_run(client: &reqwest::Client, server: &Server, payload: &Value) -> DryRun {
    let started = Instant::now();
    let answer = client
        .post(format!("{}/integrations?dryRun=true", server.base))
        .header("Authorization", ADMIN_KEY)
        .json(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(body["validationResults"]["status"], "passed", "{body}");
    let tests: Vec<f64> = body["validationResults"]["validationTests"]
        .as_array()
        .map(|tests| tests.iter().filter_map(|t| t["durationMs"].as_f64()).collect())
        .unwrap_or_default();
    DryRun { wall, tests_sum: tests.iter().sum(), tests_max: tests.iter().copied().fold(0.0, f64::max) }
}

/// Rows for a platform's dry runs: the request's p50 against the p50 of the sum and of the
/// longest of its tests' times (the runner runs tests concurrently, so a run should take
/// about its longest test, not the sum).
fn concurrency_rows(platform: &str, runs: &[DryRun]) -> Vec<Row> {
    let mut wall: Vec<f64> = runs.iter().map(|r| r.wall).collect();
    let mut sum: Vec<f64> = runs.iter().map(|r| r.tests_sum).collect();
    let mut max: Vec<f64> = runs.iter().map(|r| r.tests_max).collect();
    let wall = percentile(&mut wall, 0.5);
    vec![
        row(
            "Validation",
            format!("POST dryRun p50 against the sum of its tests' times ({platform})"),
            wall,
            "ms",
            Better::Lower,
        )
        .against(percentile(&mut sum, 0.5), "the sum of the tests' durationMs, p50"),
        row("Validation", format!("POST dryRun p50 against its longest test ({platform})"), wall, "ms", Better::Lower)
            .against(percentile(&mut max, 0.5), "the longest test's durationMs, p50"),
    ]
}

/// `runs` back-to-back [`passing_dry_run`]s.
async fn passing_dry_runs(server: &Server, payload: &Value, runs: usize) -> Vec<DryRun> {
    let client = http();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(passing_dry_run(&client, server, payload).await);
    }
    times
}

/// The statements a dry run of a manual Snowflake integration runs once signed in: the
/// default warehouse check and the table-grants role prefix check, as `warden-snowflake`
/// issues them (SHOW ... LIKE with Snowflake's literal quoting).
const SNOWFLAKE_CHECKS: [&str; 2] =
    ["SHOW WAREHOUSES LIKE 'FAKESNOW_WAREHOUSE'", "SHOW ROLES LIKE 'WARDEN\\\\_USER\\\\_%'"];

/// `POST /integrations?dryRun=true` of a manual Snowflake integration against fakesnow (sign
/// in, the checks, close), against Snowflake's Python connector doing the same on the same
/// fakesnow in the same run.
async fn snowflake_validation(setup: &Setup) -> Vec<Row> {
    let (fakesnow, python) = &setup.fakesnow;
    let url = url::Url::parse(fakesnow).unwrap();
    let (host, port) = (url.host_str().unwrap().to_owned(), url.port().unwrap());
    let temp = tempfile::tempdir().unwrap();
    let server = Server::start(setup, temp.path(), None).await;
    let payload = json!({"type": "Snowflake", "autoBootstrap": false, "config": {"host": host, "port": port,
        "warehouse": "FAKESNOW_WAREHOUSE", "database": "BENCH_DB", "authenticationType": "userPassword",
        "username": "WARDEN_SYSTEM", "password": "bench-pw", "connectArgs": "protocol=http"}});
    let runs = if setup.quick { 5 } else { 200 };
    let seen = passing_dry_runs(&server, &payload, runs).await;
    let mut warden: Vec<f64> = seen.iter().map(|r| r.wall).collect();
    let floor_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("snowflake_floor.py");
    let output = Command::new(python)
        .arg(&floor_script)
        .args([host.as_str(), &port.to_string(), &runs.to_string(), &json!(SNOWFLAKE_CHECKS).to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut floor: Vec<f64> = serde_json::from_slice(&output.stdout).unwrap();
    let what = "Snowflake's Python connector: sign in, the same statements, close";
    let mut rows = p50_and_p99(" (Snowflake on fakesnow, manual)", &mut warden, &mut floor, what);
    rows.extend(concurrency_rows("Snowflake on fakesnow", &seen));
    rows
}

/// An HTTPS client as Warden's adapters build one (it is theirs: the system's roots plus
/// the CA of `WARDEN_CA_FILE`).
fn https_client() -> reqwest::Client {
    warden_http::https_client(None).unwrap()
}

/// `POST /integrations?dryRun=true` of a manual Databricks integration against minilake
/// (SCIM `Me`, the SQL warehouse, the catalog, the metastore assignment), against the same
/// four REST calls made by a plain reqwest client in this process, a new client (so a new
/// TLS connection) per run as Warden makes one per validation.
async fn databricks_validation(setup: &Setup) -> Vec<Row> {
    let url = url::Url::parse(&setup.minilake).unwrap();
    let base = setup.minilake.trim_end_matches('/').to_owned();
    let setup_client = https_client();
    let warehouse: Value = setup_client
        .post(format!("{base}/api/2.0/sql/warehouses"))
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let warehouse = warehouse["id"].as_str().unwrap().to_owned();
    let catalog = format!("bench_{}", std::process::id());
    setup_client
        .post(format!("{base}/api/2.1/unity-catalog/catalogs"))
        .json(&json!({"name": catalog}))
        .send()
        .await
        .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let server = Server::start(setup, temp.path(), None).await;
    let payload = json!({"type": "Databricks", "autoBootstrap": false, "config": {"workspaceUrl": url.host_str().unwrap(),
        "port": url.port().unwrap(), "httpPath": format!("/sql/1.0/warehouses/{warehouse}"),
        "authenticationType": "token", "token": "dapi-bench", "catalog": catalog}});
    let runs = if setup.quick { 5 } else { 200 };
    let seen = passing_dry_runs(&server, &payload, runs).await;
    let mut warden: Vec<f64> = seen.iter().map(|r| r.wall).collect();
    let paths = [
        "/api/2.0/preview/scim/v2/Me".to_owned(),
        format!("/api/2.0/sql/warehouses/{warehouse}"),
        format!("/api/2.1/unity-catalog/catalogs/{catalog}"),
        "/api/2.1/unity-catalog/current-metastore-assignment".to_owned(),
    ];
    let mut floor = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let plain = https_client();
        for path in &paths {
            let answer = plain.get(format!("{base}{path}")).bearer_auth("dapi-bench").send().await.unwrap();
            assert!(answer.status().is_success(), "{path}");
            let _: Value = answer.json().await.unwrap();
        }
        floor.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let what = "reqwest: a new client, the same four REST calls";
    let mut rows = p50_and_p99(" (Databricks on minilake, manual)", &mut warden, &mut floor, what);
    rows.extend(concurrency_rows("Databricks on minilake", &seen));
    rows
}

/// The queries the Redshift checks of an automatic setup's dry run issue, as the adapter
/// issues them: the database, the system account it would create, the impersonation group.
async fn check_queries(connection: &mut PgConnection) {
    use warden_redshift::queries::{DATABASE_EXISTS, GROUP_EXISTS, ROLE_EXISTS};
    let database = "bench_never_created";
    for (sql, name) in [
        (DATABASE_EXISTS, database.to_owned()),
        (ROLE_EXISTS, format!("{database}_system")),
        (GROUP_EXISTS, format!("{database}_imp")),
    ] {
        sqlx::query(sql).bind(name).fetch_one(&mut *connection).await.unwrap();
    }
}

fn psql(url: &str, sql: &str) {
    use std::io::Write as _;
    let mut child = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql");
    child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "psql: {}", String::from_utf8_lossy(&output.stderr));
}

/// The SQL of a script part without its Redshift-only statements (PostgreSQL runs the rest).
fn part_sql(part: &warden_scripts::Part) -> String {
    part.statements.iter().filter(|s| s.vendor_only.is_none()).map(|s| format!("{};\n", s.sql)).collect()
}

async fn automatic_setup(setup: &Setup) -> Vec<Row> {
    let runs = if setup.quick { 1 } else { 10 };
    let admin = admin(setup);
    let temp = tempfile::tempdir().unwrap();
    let server = Server::start(setup, temp.path(), None).await;
    let client = http();
    let base_url = setup.postgres.rsplit_once('/').unwrap().0.to_owned();
    let (mut warden, mut floor) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let database = format!("bench_setup_{}_{run}", std::process::id());
        let started = Instant::now();
        let created: Value = client
            .post(format!("{}/integrations", server.base))
            .header("Authorization", ADMIN_KEY)
            .json(&automatic(&admin, &database))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_u64().unwrap_or_else(|| panic!("{created}"));
        wait_for(&client, &server.base, id, "enabled").await;
        warden.push(started.elapsed().as_secs_f64() * 1000.0);
        let credentials = json!({"config": {"authenticationType": "userPassword", "username": admin.user, "password": admin.password}});
        client
            .delete(format!("{}/integrations/{id}", server.base))
            .header("Authorization", ADMIN_KEY)
            .json(&credentials)
            .send()
            .await
            .unwrap();
        wait_for(&client, &server.base, id, "deleted").await;

        // The floor: psql runs the same two scripts.
        let floor_database = format!("bench_floor_{}_{run}", std::process::id());
        let mut payload = automatic(&admin, &floor_database);
        payload["autoBootstrap"] = json!(false);
        payload["config"]["username"] = json!(format!("{floor_database}_system"));
        payload["config"]["password"] = json!("Bench-Passw0rd-1");
        let spec = IntegrationSpec::from_value(&payload, None).unwrap();
        let scripts =
            [build(ScriptKind::InitialCreate, &spec, None).unwrap(), build(ScriptKind::Create, &spec, None).unwrap()];
        let started = Instant::now();
        for script in &scripts {
            for part in &script.parts {
                psql(&format!("{base_url}/{}", part.connect_to), &part_sql(part));
            }
        }
        floor.push(started.elapsed().as_secs_f64() * 1000.0);
        for part in &build(ScriptKind::Delete, &spec, None).unwrap().parts {
            psql(&format!("{base_url}/{}", part.connect_to), &part_sql(part));
        }
    }
    vec![
        row(
            "Automatic setup",
            "POST create to enabled (Redshift on PostgreSQL), median",
            percentile(&mut warden, 0.5),
            "ms",
            Better::Lower,
        )
        .against(percentile(&mut floor, 0.5), "psql running the same initial-create and create scripts"),
    ]
}

async fn wait_for(client: &reqwest::Client, base: &str, id: u64, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer: Value = client
            .get(format!("{base}/integrations/{id}/status"))
            .header("Authorization", ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["status"] == status {
            return;
        }
        assert!(
            Instant::now() < deadline && !answer["status"].as_str().unwrap_or_default().ends_with("Error"),
            "{answer}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn script_generation(setup: &Setup) -> Vec<Row> {
    let window = Duration::from_millis(if setup.quick { 100 } else { 2000 });
    let payloads = [
        ("Redshift", redshift_manual("rs.example.com")),
        (
            "Snowflake",
            json!({"type": "Snowflake", "autoBootstrap": false, "config": {"host": "acme.snowflakecomputing.com",
            "warehouse": "WH", "database": "WARDEN_DB", "authenticationType": "userPassword", "username": "U", "password": "P",
            "audit": {"enabled": true}, "impersonation": {"enabled": true}}}),
        ),
        (
            "Azure Synapse Analytics",
            json!({"type": "Azure Synapse Analytics", "autoBootstrap": false, "config": {
            "host": "acme.sql.azuresynapse.net", "database": "analytics", "schema": "warden_views",
            "authenticationType": "userPassword", "username": "warden_system", "password": "P"}}),
        ),
        (
            "Databricks",
            json!({"type": "Databricks", "autoBootstrap": false, "config": {"workspaceUrl": "dbc-a1b2.cloud.databricks.com",
            "httpPath": "/sql/1.0/warehouses/abc", "authenticationType": "token", "token": "t", "audit": {"enabled": true}}}),
        ),
    ];
    payloads
        .iter()
        .map(|(name, payload)| {
            let spec = IntegrationSpec::from_value(payload, None).unwrap();
            let started = Instant::now();
            let mut count = 0u64;
            while started.elapsed() < window {
                let script = build(ScriptKind::Create, &spec, None).unwrap();
                std::hint::black_box(script.render());
                count += 1;
            }
            row(
                "Scripts",
                format!("create script built and rendered ({name})"),
                count as f64 / started.elapsed().as_secs_f64(),
                "scripts/s",
                Better::Higher,
            )
        })
        .collect()
}

async fn scale_out(setup: &Setup) -> Vec<Row> {
    let seconds = if setup.quick { 1 } else { 10 };
    let counts: &[usize] = if setup.quick { &[1, 2] } else { &[1, 2, 3] };
    let url = fresh_database(&setup.postgres, "bench_scale").await;
    let store = Store::connect(&url, MasterKey::from_hex(MASTER_KEY).unwrap()).await.unwrap();
    let id = seed(&store, 100).await;
    drop(store);
    let mut rows = Vec::new();
    let mut single = None;
    for &count in counts {
        let dirs: Vec<tempfile::TempDir> = (0..count).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut servers = Vec::new();
        for dir in &dirs {
            servers.push(Server::start(setup, dir.path(), Some(&url)).await);
        }
        let per = CONNECTIONS / u32::try_from(count).unwrap_or(1);
        let loads: Vec<_> = servers
            .iter()
            .map(|s| {
                let target = format!("{}/integrations/{id}", s.base);
                std::thread::spawn(move || wrk(&target, seconds, per, 1))
            })
            .collect();
        let total: f64 = loads.into_iter().map(|h| h.join().unwrap().rps).sum();
        let mut r = row(
            "Scale-out",
            format!("GET /integrations/{{id}} req/s, {count} process(es) on one PostgreSQL"),
            total,
            "req/s",
            Better::Higher,
        );
        if let Some(one) = single {
            r = r.against(one, "1 process");
        } else {
            single = Some(total);
        }
        rows.push(r);
    }
    rows
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {memory} memory")
}

fn today() -> String {
    let output = Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output();
    output.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
}

fn number(value: f64) -> String {
    if value >= 100.0 { format!("{value:.0}") } else { format!("{value:.2}") }
}

/// The report, as Markdown: one table per group.
pub fn report(rows: &[Row], quick: bool) -> String {
    let mut out = String::new();
    let command = if quick { "cargo xtask bench --quick" } else { "cargo xtask bench" };
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(out, "Generated by `{command}` on {}, machine: {}.", today(), machine());
    let _ = writeln!(
        out,
        "Server: the release `warden` binary (debug in quick mode), SQLite in a temporary directory or a fresh database on a PostgreSQL 15 on the same machine; load from wrk, 64 keep-alive connections. Each ratio is the value over the floor measured in the same run: for requests per second a share of the floor (1.00 = as fast), for times a multiple of it (1.00 = as quick).\n"
    );
    let mut groups: Vec<&str> = Vec::new();
    for r in rows {
        if !groups.contains(&r.group) {
            groups.push(r.group);
        }
    }
    for group in groups {
        let _ = writeln!(out, "## {group}\n");
        let _ = writeln!(out, "| Measurement | Value | Floor | Ratio |");
        let _ = writeln!(out, "|---|---|---|---|");
        for r in rows.iter().filter(|r| r.group == group) {
            let floor =
                r.floor.as_ref().map_or("—".to_owned(), |(v, what)| format!("{} {} ({what})", number(*v), r.unit));
            let ratio = r.ratio().map_or("—".to_owned(), |x| {
                let note = match r.better {
                    Better::Higher => "of the floor",
                    Better::Lower => "× the floor",
                };
                format!("{x:.2} {note}")
            });
            let _ = writeln!(out, "| {} | {} {} | {floor} | {ratio} |", r.name, number(r.value), r.unit);
        }
        let _ = writeln!(out);
    }
    if let (false, Ok(notes)) = (quick, std::fs::read_to_string("docs/benchmarks-notes.md")) {
        out.push_str(&notes);
    }
    out
}

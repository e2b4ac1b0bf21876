//! The `warden` command line: `warden serve` runs the API and the worker on a store
//! (SQLite in the data directory by default, or PostgreSQL with `--database-url`);
//! `warden keys create` adds an API key; the client commands (`apply`, `plan`, `export`,
//! `get`, `list`, `status`, `wait`, `scripts`) are `warden-client`'s. [`main_with`] takes the platform adapters so that a
//! build (or the end-to-end tests) can choose them; everything else is the same.

use std::fs::File;
use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use tokio::sync::watch;
use warden_api::AppState;
use warden_engine::{Engine, EngineOptions, Platforms};
use warden_model::Secret;
use warden_store::{MasterKey, Permission, Store, StoreError};

/// The environment variable that sets the first admin API key.
pub const ADMIN_KEY_ENV: &str = "WARDEN_ADMIN_API_KEY";

#[derive(Debug, Parser)]
#[command(name = "warden", version, about = "Warden: wires a data-governance service into data platforms.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and run the worker.
    Serve(ServeArgs),
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Write a consistent snapshot of the SQLite store to a new file, while it serves (for
    /// PostgreSQL it says how to use pg_dump). The master key is not in it: keep it apart.
    Backup {
        /// The file to write (it must not exist).
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace the SQLite store of the data directory with a backup, once the backup passes
    /// its checks (integrity, Warden's tables, secrets that open with the master key). The
    /// server must be stopped.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Replace a store that holds integrations.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The client commands (apply, plan, export, get, list, status, wait, scripts).
    #[command(flatten)]
    Client(warden_client::ClientCommand),
}

#[derive(Debug, clap::Args)]
struct StoreArgs {
    /// Where Warden keeps its SQLite database and master key.
    #[arg(long, env = "WARDEN_DATA_DIR", default_value = "./warden-data")]
    data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://user@host:port/db) instead of the embedded SQLite.
    #[arg(long, env = "WARDEN_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "WARDEN_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// Log format.
    #[arg(long, value_enum, env = "WARDEN_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// The URL Trino clusters use to reach this Warden (default: the Host of the request).
    #[arg(long, env = "WARDEN_PUBLIC_URL")]
    public_url: Option<String>,
    /// How long shutdown waits for running jobs before parking them, in seconds.
    #[arg(long, default_value_t = 20)]
    shutdown_grace_secs: u64,
    /// How long a job stays claimed by a process that stopped renewing it, in seconds: on
    /// PostgreSQL, how soon another process recovers the jobs of one that crashed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..=3600))]
    job_lease_secs: u64,
    /// How often enabled integrations are validated again, in seconds (jittered by a tenth).
    #[arg(long, env = "WARDEN_RECHECK_INTERVAL_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    recheck_interval_secs: u64,
    /// How many more times a recurring validation that failed only on transient faults (the
    /// platform unreachable, too slow or throttling) is tried before the integration turns red.
    #[arg(long, env = "WARDEN_RECHECK_RETRIES", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
    recheck_retries: u32,
    /// How long before the first of those tries, in milliseconds; each next one waits twice
    /// as long.
    #[arg(long, env = "WARDEN_RECHECK_RETRY_DELAY_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    recheck_retry_delay_ms: u64,
    /// How long one change on a platform (setup, edit, removal) may take, in seconds, before
    /// Warden stops waiting and gives the integration its error status.
    #[arg(long, env = "WARDEN_CHANGE_TIMEOUT_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86400))]
    change_timeout_secs: u64,
    /// A prefix of the secret references (`{"secretRef": ...}`) configs may hold instead of a
    /// secret's value: `env://SNOWFLAKE_`, `file:///run/secrets/`, `aws-sm://warden/`.
    /// Repeat it, or separate prefixes with commas; none (the default) accepts no reference.
    /// Warden's own variables (`WARDEN_*`) and files under its data directory are never read.
    #[arg(long = "secret-ref-allow", env = "WARDEN_SECRET_REF_ALLOW", value_delimiter = ',')]
    secret_ref_allow: Vec<String>,
    /// How long one validation check (and opening a validation run's connection) may take,
    /// in seconds, before the check fails with a timeout.
    #[arg(long, env = "WARDEN_CHECK_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    check_timeout_secs: u64,
    /// How long a client may take to send a request's headers, in seconds, counted from when
    /// its connection opens or its previous answer was sent: also the idle keep-alive timeout.
    #[arg(long, env = "WARDEN_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_read_timeout_secs: u64,
    /// How long one request may take, body upload included, in seconds (then 408; the
    /// operation it started is not cut short).
    #[arg(long, env = "WARDEN_REQUEST_TIMEOUT_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    request_timeout_secs: u64,
    /// A PEM file of CA certificates Warden trusts besides the system's roots when it
    /// connects to a platform over TLS (a corporate proxy's or a private CA).
    #[arg(long, env = "WARDEN_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Who may read GET /metrics: loopback (a client on this machine without a key, any
    /// other with an administration key), key (always a key) or open (anyone).
    #[arg(long, value_enum, env = "WARDEN_METRICS_ACCESS", default_value = "loopback")]
    metrics_access: MetricsAccessArg,
    /// How many connections may be open at once; past that a new one is answered 503.
    #[arg(long, env = "WARDEN_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    #[command(flatten)]
    webhooks: WebhookArgs,
}

#[derive(Debug, clap::Args)]
struct WebhookArgs {
    /// A URL that receives every status change as a signed JSON POST (repeatable, or
    /// comma-separated in the environment variable).
    #[arg(long = "webhook-url", env = "WARDEN_WEBHOOK_URLS", value_delimiter = ',')]
    urls: Vec<String>,
    /// A file holding the secret webhook deliveries are signed with (HMAC-SHA256); or set
    /// WARDEN_WEBHOOK_SECRET. At least 16 characters.
    #[arg(long = "webhook-secret-file")]
    secret_file: Option<PathBuf>,
    /// How long after a failed delivery the next attempt is made, in milliseconds; each
    /// later one waits twice as long, up to 10 minutes.
    #[arg(long = "webhook-first-retry-ms", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    first_retry_ms: u64,
    /// How many attempts a delivery gets before it is given up (and recorded as abandoned).
    #[arg(long = "webhook-max-attempts", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    max_attempts: u32,
}

/// The environment variable that holds the webhook secret itself.
const WEBHOOK_SECRET_ENV: &str = "WARDEN_WEBHOOK_SECRET";

impl WebhookArgs {
    /// The configured webhooks, or none; a URL without a usable secret is refused.
    fn webhooks(&self) -> Result<Option<warden_webhooks::Webhooks>, String> {
        if self.urls.is_empty() {
            return Ok(None);
        }
        let secret = match &self.secret_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--webhook-secret-file {}: {e}", path.display()))?
                    .trim()
                    .to_owned(),
            ),
            None => std::env::var(WEBHOOK_SECRET_ENV).ok().map(|value| value.trim().to_owned()),
        };
        let options = warden_webhooks::WebhookOptions {
            first_retry: Duration::from_millis(self.first_retry_ms),
            max_attempts: self.max_attempts,
            ..warden_webhooks::WebhookOptions::default()
        };
        warden_webhooks::Webhooks::new(&self.urls, secret.map(Secret::new), options)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an API key and print it (it cannot be read again).
    Create {
        /// A label for the key.
        #[arg(long, default_value = "admin")]
        name: String,
        /// A permission: APPLICATION_ADMIN or CREATE_S3_DATASOURCE (repeatable).
        #[arg(long = "permission", required = true, value_parser = parse_permission)]
        permissions: Vec<Permission>,
        /// When the key stops working: an RFC 3339 time in the future (2027-01-31T00:00:00Z).
        #[arg(long, value_parser = parse_expiry)]
        expires_at: Option<i64>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the API keys (never their values): id, name, permissions, created, expiry, revoked.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Rotate the master key: seal every stored secret again with a new key, while servers
    /// run. With the key in <data-dir>/master.key, the first run makes the new key (the old
    /// one moves to master.key.previous, still accepted) and seals again; a run cut short is
    /// finished by running it again; `--finish` makes a last pass and removes the old key.
    /// With WARDEN_MASTER_KEY, set the new key there and the old one in
    /// WARDEN_MASTER_KEY_PREVIOUS on every process first.
    RotateMaster {
        /// Make a last pass and retire the old key.
        #[arg(long)]
        finish: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke an API key by its id (`warden keys list`). On PostgreSQL every process refuses it
    /// at once; on SQLite the server refuses it within 5 s.
    Revoke {
        /// The key's id.
        id: i64,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn parse_expiry(text: &str) -> Result<i64, String> {
    let at = warden_model::time::parse_rfc3339_millis(text)
        .ok_or_else(|| format!("{text} is not an RFC 3339 time such as 2027-01-31T00:00:00Z"))?;
    if at <= warden_model::time::now_millis() {
        return Err(format!("{text} has passed; a key must expire in the future"));
    }
    Ok(at)
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MetricsAccessArg {
    Loopback,
    Key,
    Open,
}

impl From<MetricsAccessArg> for warden_api::MetricsAccess {
    fn from(access: MetricsAccessArg) -> Self {
        match access {
            MetricsAccessArg::Loopback => Self::Loopback,
            MetricsAccessArg::Key => Self::Key,
            MetricsAccessArg::Open => Self::Open,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn parse_permission(text: &str) -> Result<Permission, String> {
    Permission::parse(text)
        .ok_or_else(|| format!("{text} is not a permission: use APPLICATION_ADMIN or CREATE_S3_DATASOURCE"))
}

/// The adapters this build of Warden ships, registered here and nowhere else: one line per
/// platform.
pub fn shipped_platforms() -> Platforms {
    Platforms::new()
        .with(Arc::new(warden_trino::Trino))
        .with(Arc::new(warden_redshift::Redshift::new()))
        .with(Arc::new(warden_snowflake::Snowflake))
        .with(Arc::new(warden_databricks::Databricks))
        .with(Arc::new(warden_s3::NativeS3))
        .with(Arc::new(warden_bigquery::BigQuery))
        .with(Arc::new(warden_synapse::Synapse))
}

/// Runs the command line with these adapters.
pub fn main_with(platforms: Platforms) -> ExitCode {
    // A command line clap refuses exits 1, not clap's 2: `warden plan` answers 2 for
    // "changes pending", and a CI job must not read a typo as that.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("warden: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let command = match cli.command {
        Command::Client(command) => return runtime.block_on(warden_client::run(command)),
        command => command,
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Serve(args) => serve(args, platforms).await,
            Command::Keys { command: KeysCommand::Create { name, permissions, expires_at, store } } => {
                create_key(&name, &permissions, expires_at, &store).await
            }
            Command::Keys { command: KeysCommand::List { store } } => list_keys(&store).await,
            Command::Keys { command: KeysCommand::Revoke { id, store } } => revoke_key(id, &store).await,
            Command::Keys { command: KeysCommand::RotateMaster { finish, store } } => {
                rotate_master(finish, &store).await
            }
            Command::Backup { file, store } => backup(&file, &store).await,
            Command::Restore { file, force, store } => restore(&file, force, &store).await,
            Command::Client(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("warden: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
    }
}

/// Creates the data directory readable by this user only (0700), and makes an existing one
/// so: it holds the store and the master key.
fn private_data_dir(data_dir: &Path) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot create the data directory {}: {e}", data_dir.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(data_dir).map_err(cannot)?;
        let mode = std::fs::metadata(data_dir).map_err(cannot)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)).map_err(cannot)?;
            tracing::info!(data_dir = %data_dir.display(), "the data directory was readable by others; it is now 0700");
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(data_dir).map_err(cannot)?;
    Ok(())
}

/// Raises this process's open-file limit to its hard limit: every connection costs one, and
/// a flood of idle connections must not starve the rest before the header deadline closes
/// them.
fn raise_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}

async fn open_store(args: &StoreArgs) -> Result<Store, String> {
    private_data_dir(&args.data_dir)?;
    let key = MasterKey::load_or_create(&args.data_dir).map_err(|e| e.to_string())?;
    let previous = MasterKey::load_previous(&args.data_dir).map_err(|e| e.to_string())?;
    let store = match &args.database_url {
        Some(url) => Store::connect(url, key).await,
        None => Store::open_sqlite(&args.data_dir, key).await,
    };
    let store = store.map_err(|e| match e {
        StoreError::Database(_) | StoreError::Migration(_) => format!("cannot open the store: {e}"),
        other => other.to_string(),
    })?;
    // Keys in files are followed, so a rotation begun by another process is taken up.
    store.use_keys(previous, (!MasterKey::from_environment()).then_some(args.data_dir.as_path()));
    Ok(store)
}

/// `warden keys rotate-master`: see its help.
async fn rotate_master(finish: bool, args: &StoreArgs) -> Result<(), String> {
    private_data_dir(&args.data_dir)?;
    let in_files = !MasterKey::from_environment();
    let current = MasterKey::load_or_create(&args.data_dir).map_err(|e| e.to_string())?;
    let previous = MasterKey::load_previous(&args.data_dir).map_err(|e| e.to_string())?;
    let begun = previous.iter().any(|key| !key.same_as(&current));
    if !begun && !finish {
        if !in_files {
            return Err(format!(
                "{} is set: put the new key there and the old one in {} on every process (64 hex characters each), restart them, then run this again",
                warden_store::MASTER_KEY_ENV,
                warden_store::PREVIOUS_KEYS_ENV
            ));
        }
        // The old key is kept first, then the new one replaces master.key: a crash between
        // leaves master.key.previous equal to master.key, and the next run goes on from there.
        current.write_file(&args.data_dir, warden_store::PREVIOUS_KEY_FILE).map_err(|e| e.to_string())?;
        let new = MasterKey::generate().map_err(|e| e.to_string())?;
        new.write_file(&args.data_dir, warden_store::MASTER_KEY_FILE).map_err(|e| e.to_string())?;
    }
    let store = open_store(args).await?;
    let report = store.reseal_secrets().await.map_err(|e| format!("rotation stopped (run it again to go on): {e}"))?;
    let mut out = std::io::stdout().lock();
    let print = |out: &mut std::io::StdoutLock<'_>, text: String| {
        writeln!(out, "{text}").map_err(|e| format!("cannot print: {e}"))
    };
    print(
        &mut out,
        format!(
            "Sealed {} of {} stored secret maps again with the new master key (the others were already).",
            report.resealed, report.examined
        ),
    )?;
    if !finish {
        return print(
            &mut out,
            "The old key is still accepted. Once every process has taken the new key up (on SQLite at once; with WARDEN_MASTER_KEY after their restart), run `warden keys rotate-master --finish`.".to_owned(),
        );
    }
    if in_files {
        match std::fs::remove_file(args.data_dir.join(warden_store::PREVIOUS_KEY_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot remove {}: {e}", warden_store::PREVIOUS_KEY_FILE));
            }
            _ => {}
        }
        print(
            &mut out,
            format!(
                "Rotation finished: {} is gone; back up the new {}.",
                warden_store::PREVIOUS_KEY_FILE,
                warden_store::MASTER_KEY_FILE
            ),
        )
    } else {
        print(&mut out, format!("Rotation finished: remove {} from every process.", warden_store::PREVIOUS_KEYS_ENV))
    }
}

/// Holds an exclusive lock on the data directory while one process serves from its SQLite
/// database, so a second `warden serve` on it fails at once instead of sharing its jobs.
fn lock_data_dir(data_dir: &Path) -> Result<File, String> {
    private_data_dir(data_dir)?;
    let path = data_dir.join("warden.lock");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => Err(format!(
            "another warden process is serving from {}; stop it first, or use PostgreSQL (--database-url) to run several",
            data_dir.display()
        )),
    }
}

async fn serve(args: ServeArgs, platforms: Platforms) -> Result<(), String> {
    init_logging(args.log_format);
    raise_file_limit();
    if let Some(ca_file) = &args.ca_file {
        let certificates = warden_platform::reach::check_ca_file(ca_file).map_err(|e| format!("--ca-file: {e}"))?;
        tracing::info!(ca_file = %ca_file.display(), certificates, "trusting this CA bundle besides the system's roots");
    }
    warden_platform::reach::set_ca_file(args.ca_file.clone());
    let webhooks = args.webhooks.webhooks()?;
    let _lock = match args.store.database_url {
        None => Some(lock_data_dir(&args.store.data_dir)?),
        Some(_) => None,
    };
    let store = Arc::new(open_store(&args.store).await?);
    tracing::info!(backend = store.backend_name(), "store open");
    ensure_admin_key(&store).await?;
    let allow = warden_model::SecretRefAllowList::new(args.secret_ref_allow.clone())
        .map_err(|e| format!("--secret-ref-allow: {e}"))?;
    if !allow.is_empty() {
        tracing::info!(prefixes = ?allow.prefixes(), "secret references accepted");
    }
    let secrets = warden_engine::SecretResolver::new(allow, vec![args.store.data_dir.clone()]);
    let options = EngineOptions {
        secrets: Arc::new(secrets),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        lease: Duration::from_secs(args.job_lease_secs),
        recheck_interval: Duration::from_secs(args.recheck_interval_secs),
        recheck_retries: args.recheck_retries,
        recheck_retry_delay: Duration::from_millis(args.recheck_retry_delay_ms),
        change_timeout: Duration::from_secs(args.change_timeout_secs),
        validation: warden_engine::RunOptions {
            per_test_timeout: Duration::from_secs(args.check_timeout_secs),
            ..warden_engine::RunOptions::default()
        },
        ..EngineOptions::default()
    };
    let engine = Engine::new(Arc::clone(&store), platforms, options);
    let ready = Arc::new(AtomicBool::new(false));
    let state = AppState {
        metrics: warden_api::ApiMetrics::new(&engine),
        engine: Arc::clone(&engine),
        ready: Arc::clone(&ready),
        public_url: args.public_url,
        admin_keys: Arc::default(),
        metrics_access: args.metrics_access.into(),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%address, "listening on http://{address}");

    engine.recover_on_start().await.map_err(|e| format!("recovery after start failed: {e}"))?;
    // Integrations whose platform objects an earlier version made are migrated by the worker
    // (or told what request migrates them); a failure here is logged, not fatal.
    if let Err(error) = engine.migrate_outdated().await {
        tracing::error!(%error, "could not start the migration of integrations set up by an earlier version");
    }
    let (stop_worker, worker_stopped) = watch::channel(false);
    let worker = tokio::spawn(Arc::clone(&engine).run_worker(worker_stopped.clone()));
    let rechecks = tokio::spawn(Arc::clone(&engine).run_rechecks(worker_stopped.clone()));
    let dispatcher = match webhooks {
        Some(webhooks) => {
            tracing::info!(receivers = webhooks.urls().count(), "delivering status changes to webhooks");
            let dispatcher = warden_webhooks::Dispatcher::new(Arc::clone(&store), webhooks)?;
            Some(tokio::spawn(dispatcher.run(worker_stopped)))
        }
        None => None,
    };
    ready.store(true, Ordering::Release);

    let app = warden_api::router(state);
    let limits = warden_api::ServeOptions {
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        ..warden_api::ServeOptions::default()
    };
    let served = warden_api::serve(listener, app, limits, shutdown_signal()).await;
    ready.store(false, Ordering::Release);
    tracing::info!("no longer accepting requests; stopping the worker");
    let _ = stop_worker.send(true);
    if let Err(error) = worker.await {
        tracing::error!(%error, "the worker stopped abnormally");
    }
    if let Err(error) = rechecks.await {
        tracing::error!(%error, "recurring validation stopped abnormally");
    }
    if let Some(Err(error)) = match dispatcher {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::error!(%error, "the webhook dispatcher stopped abnormally");
    }
    tracing::info!("stopped");
    served.map_err(|e| format!("the server failed: {e}"))
}

/// With no admin key stored, creates the first one: the value of `WARDEN_ADMIN_API_KEY`, or
/// a generated key printed once on standard output.
async fn ensure_admin_key(store: &Store) -> Result<(), String> {
    let from_env = std::env::var(ADMIN_KEY_ENV).ok().map(|value| value.trim().to_owned()).filter(|v| !v.is_empty());
    if store.count_admin_keys().await.map_err(|e| e.to_string())? > 0 {
        if from_env.is_some() {
            tracing::info!("admin keys exist already; {ADMIN_KEY_ENV} is only used for the first one");
        }
        return Ok(());
    }
    let admin = [Permission::ApplicationAdmin];
    match from_env {
        Some(value) => {
            if value.len() < 24 || value.len() > 256 || !value.chars().all(|c| c.is_ascii_graphic()) {
                return Err(format!("{ADMIN_KEY_ENV} must be 24 to 256 printable ASCII characters without spaces"));
            }
            store.import_api_key("admin", &admin, &Secret::new(value)).await.map_err(|e| e.to_string())?;
            tracing::info!("first admin API key set from {ADMIN_KEY_ENV}");
        }
        None => {
            let (_, key) = store.create_api_key("admin", &admin, None).await.map_err(|e| e.to_string())?;
            let mut out = std::io::stdout().lock();
            let printed = writeln!(
                out,
                "\nFirst start: Warden created an admin API key. It is shown this once; keep it somewhere safe.\n\n    {}\n\nUse it as: curl -H 'Authorization: <key>' http://<listen address>/integrations\n",
                key.expose()
            );
            printed.and_then(|()| out.flush()).map_err(|e| format!("cannot print the admin key: {e}"))?;
            tracing::info!("first admin API key created and printed on standard output");
        }
    }
    Ok(())
}

async fn create_key(
    name: &str,
    permissions: &[Permission],
    expires_at: Option<i64>,
    args: &StoreArgs,
) -> Result<(), String> {
    let store = open_store(args).await?;
    let (_, key) =
        store.create_expiring_api_key(name, permissions, None, expires_at).await.map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", key.expose()).map_err(|e| format!("cannot print the key: {e}"))
}

/// `warden keys list`: one line per key, tab-separated, with a header.
async fn list_keys(args: &StoreArgs) -> Result<(), String> {
    let store = open_store(args).await?;
    let keys = store.list_api_keys().await.map_err(|e| e.to_string())?;
    let time = |at: Option<i64>| at.map_or_else(|| "-".to_owned(), warden_model::time::rfc3339);
    let mut out = std::io::stdout().lock();
    let mut lines = vec!["ID\tNAME\tPERMISSIONS\tCREATED\tEXPIRES\tREVOKED".to_owned()];
    for key in keys {
        let permissions: Vec<&str> = key.permissions.iter().map(|p| p.as_str()).collect();
        lines.push(format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            key.id,
            key.name,
            permissions.join(","),
            time(Some(key.created_at)),
            time(key.expires_at),
            time(key.revoked_at)
        ));
    }
    writeln!(out, "{}", lines.join("\n")).map_err(|e| format!("cannot print: {e}"))
}

/// `warden keys revoke <id>`.
async fn revoke_key(id: i64, args: &StoreArgs) -> Result<(), String> {
    let store = open_store(args).await?;
    if !store.revoke_api_key(id).await.map_err(|e| e.to_string())? {
        return Err(format!("no API key {id} is in force (see warden keys list)"));
    }
    if store.count_admin_keys().await.map_err(|e| e.to_string())? == 0 {
        eprintln!(
            "warden: that was the last administration key in force; create another with `warden keys create --permission APPLICATION_ADMIN`"
        );
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "API key {id} revoked.").map_err(|e| format!("cannot print: {e}"))
}

/// `warden backup`: a snapshot of the SQLite store, taken while it may serve.
async fn backup(file: &Path, args: &StoreArgs) -> Result<(), String> {
    if args.database_url.is_some() {
        return Err(format!(
            "the store is on PostgreSQL: back it up with pg_dump, which takes a consistent snapshot of a running database \
             (pg_dump --format=custom --file {} <database URL>; restore with pg_restore --clean --dbname <database URL> {}), \
             and keep the master key (WARDEN_MASTER_KEY) with it",
            file.display(),
            file.display()
        ));
    }
    let database = warden_store::backup::sqlite_path(&args.data_dir);
    if !database.exists() {
        return Err(format!("there is no store in {} (no warden.db)", args.data_dir.display()));
    }
    let summary = warden_store::backup::snapshot_sqlite(&database, file).await.map_err(|e| format!("backup: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Backed up {} integrations and {} audit entries to {}.\nThe secrets in it are sealed with the master key, which is not in the backup: keep {} (or WARDEN_MASTER_KEY) with it.",
        summary.integrations,
        summary.audit_entries,
        file.display(),
        args.data_dir.join(warden_store::MASTER_KEY_FILE).display()
    )
    .map_err(|e| format!("cannot print: {e}"))
}

/// `warden restore`: the data directory's SQLite store replaced by a checked backup, with
/// the server stopped (the data-directory lock says so).
async fn restore(file: &Path, force: bool, args: &StoreArgs) -> Result<(), String> {
    if args.database_url.is_some() {
        return Err("the store is on PostgreSQL: restore it with pg_restore (see warden backup --help)".into());
    }
    let _lock = lock_data_dir(&args.data_dir)?;
    let mut keys = vec![MasterKey::load_or_create(&args.data_dir).map_err(|e| e.to_string())?];
    keys.extend(MasterKey::load_previous(&args.data_dir).map_err(|e| e.to_string())?);
    let summary = warden_store::backup::check_backup(file, &keys).await.map_err(|e| match e {
        StoreError::WrongMasterKey => format!(
            "the secrets in {} were sealed with another master key: put that key in {} or WARDEN_MASTER_KEY and run restore again",
            file.display(),
            args.data_dir.join(warden_store::MASTER_KEY_FILE).display()
        ),
        other => format!("{} cannot be restored: {other}", file.display()),
    })?;
    let database = warden_store::backup::sqlite_path(&args.data_dir);
    let existing = warden_store::backup::count_integrations(&database).await.map_err(|e| e.to_string())?;
    if existing > 0 && !force {
        return Err(format!(
            "{} holds {existing} integrations; restoring replaces them. Run again with --force to replace them",
            database.display()
        ));
    }
    let staged = args.data_dir.join("warden.db.restoring");
    let io = |e: std::io::Error| format!("restore: {e}");
    std::fs::copy(file, &staged).map_err(io)?;
    std::fs::File::open(&staged).and_then(|f| f.sync_all()).map_err(io)?;
    for stale in ["warden.db-wal", "warden.db-shm"] {
        match std::fs::remove_file(args.data_dir.join(stale)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    std::fs::rename(&staged, &database).map_err(io)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Restored {} integrations and {} audit entries from {}; every one of its {} sealed secrets opens with the master key.",
        summary.integrations,
        summary.audit_entries,
        file.display(),
        summary.sealed_secrets
    )
    .map_err(|e| format!("cannot print: {e}"))
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("interrupted; shutting down"),
        () = terminate => tracing::info!("terminated; shutting down"),
    }
}

//! Warden's persistence. One [`Store`] over SQLite (the embedded default: a WAL-mode file in
//! the data directory) or PostgreSQL (for several `warden` processes), with the same SQL and
//! one migration set per backend. It keeps integrations (config redacted in clear, secrets
//! sealed with the master key), optimistic versions, leased jobs, hashed API keys and the
//! audit log. No other crate writes control-plane SQL.

mod crypto;
mod error;
mod read_cache;

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row as _};
use warden_model::time::now_millis;
use warden_model::{CONFIG_VERSION, IntegrationId, IntegrationSpec, IntegrationType, Secret, Status};

pub use audit::{AuditEntry, AuditQuery};
pub use crypto::{MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey, PREVIOUS_KEY_FILE, PREVIOUS_KEYS_ENV};
pub use data_sources::{DataSourcesOf, StoredDataSource};
pub use error::StoreError;
use read_cache::ReadCache;
pub use read_cache::Shown;
pub use rotation::ResealReport;
pub use webhooks::{DeliveryOutcome, WebhookDelivery, WebhookDeliveryRecord};

/// Which integrations a list answers (`GET /integrations`): those of one type or in one
/// status, after an id (a cursor), at most `limit` of them; `deleted` ones only when asked
/// for (by `include_deleted`, or by asking for that status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Also `deleted` integrations.
    pub include_deleted: bool,
    /// Only this type.
    pub integration_type: Option<IntegrationType>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only ids above this one.
    pub after: Option<IntegrationId>,
    /// At most this many.
    pub limit: Option<u32>,
}

enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store has. The body is type-checked
/// once per backend, so row decoding is written once.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// The store.
pub struct Store {
    backend: Backend,
    keys: std::sync::RwLock<crypto::Keyring>,
    cache: Arc<ReadCache>,
    /// The task that follows PostgreSQL's change notifications, stopped with the store.
    notifications: Option<tokio::task::JoinHandle<()>>,
    /// The id of the latest audit entry this process knows of: its own as it writes them, and
    /// on PostgreSQL every process's as their notifications arrive.
    audit_appended: tokio::sync::watch::Sender<i64>,
    /// A generation that moves when an API key is revoked (here, or on PostgreSQL anywhere).
    api_keys_changed: tokio::sync::watch::Sender<u64>,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(task) = &self.notifications {
            task.abort();
        }
    }
}

/// An integration as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIntegration {
    /// Its id.
    pub id: IntegrationId,
    /// Its checked config, secrets included.
    pub spec: IntegrationSpec,
    /// Its status.
    pub status: Status,
    /// What the status means and what to do, for error statuses.
    pub status_message: Option<String>,
    /// Bumped on every change; an update names the version it read.
    pub version: i64,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
    /// The latest validation run (JSON), absent before any.
    pub validation_results: Option<serde_json::Value>,
    /// What the adapter's last change returned about the platform (JSON, never a secret).
    pub platform_state: Option<serde_json::Value>,
    /// The version of what the adapter created on the platform for it.
    pub objects_version: u32,
}

/// An integration as responses show it, read without decrypting the secrets (showing does
/// not need them). The config and validation results are the stored JSON text, passed
/// through unparsed.
#[derive(Debug, Clone)]
pub struct IntegrationSummary {
    /// Its id.
    pub id: IntegrationId,
    /// Its type.
    pub integration_type: IntegrationType,
    /// The host it is on (what keeps two integrations of a type off one host).
    pub host: String,
    /// Whether Warden set the platform up itself.
    pub auto_bootstrap: bool,
    /// Its status.
    pub status: Status,
    /// What the status means and what to do.
    pub status_message: Option<String>,
    /// The platform config with every secret `[REDACTED]` (absent for Trino), as stored.
    pub config: Option<Box<RawValue>>,
    /// The user's labels as stored (absent when it has none).
    pub labels: Option<Box<RawValue>>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
    /// The latest validation run as stored, absent before any.
    pub validation_results: Option<Box<RawValue>>,
}

/// A job claimed by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// The integration it works on.
    pub integration_id: IntegrationId,
    /// What to do (`create`, `edit`, `delete`, ...).
    pub kind: String,
    /// How many times it was claimed, this time included. More than one means a worker
    /// that held it stopped before finishing.
    pub attempts: i64,
    /// The config the job applies (an edit's new config), if it carries one.
    pub input: Option<IntegrationSpec>,
}

/// Who runs a job being queued.
#[derive(Debug, Clone, Copy)]
pub enum JobOwner<'a> {
    /// Any worker may claim it.
    Anyone,
    /// It is claimed at once by this worker for this long (a job that needs what only this
    /// process holds, such as privileged credentials).
    Worker(&'a str, Duration),
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Manage integrations.
    ApplicationAdmin,
    /// Create S3 data sources.
    CreateS3Datasource,
}

impl Permission {
    /// The name used in the API and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ApplicationAdmin => "APPLICATION_ADMIN",
            Self::CreateS3Datasource => "CREATE_S3_DATASOURCE",
        }
    }

    /// Reads a permission name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::ApplicationAdmin, Self::CreateS3Datasource].into_iter().find(|p| p.as_str() == s)
    }
}

/// A known API key (never its value: only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: i64,
    /// A label.
    pub name: String,
    /// What it may do.
    pub permissions: Vec<Permission>,
    /// The Trino integration it belongs to, for integration keys.
    pub integration_id: Option<IntegrationId>,
    /// When it stops working (Unix milliseconds), if it expires.
    pub expires_at: Option<i64>,
}

/// An API key as `warden keys list` shows it (never its value: the store does not have it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Its id.
    pub id: i64,
    /// Its label.
    pub name: String,
    /// What it may do.
    pub permissions: Vec<Permission>,
    /// When it was created (Unix milliseconds).
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

fn deadline(now: i64, lease: Duration) -> i64 {
    now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

fn id_from(raw: i64) -> Result<IntegrationId, StoreError> {
    u64::try_from(raw).ok().and_then(IntegrationId::new).ok_or_else(|| StoreError::Corrupt(format!("bad id {raw}")))
}

fn db_id(id: IntegrationId) -> i64 {
    i64::try_from(id.get()).unwrap_or(i64::MAX)
}

/// Creates `warden.db` with mode 0600 if it is missing, and takes group and other access away
/// from it and its WAL and shared-memory files if they have it.
fn private_files(data_dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let io = |e: std::io::Error| StoreError::Io(e.to_string());
        let database = data_dir.join("warden.db");
        if !database.exists() {
            std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&database).map_err(io)?;
        }
        for name in ["warden.db", "warden.db-wal", "warden.db-shm"] {
            let path = data_dir.join(name);
            if let Ok(metadata) = std::fs::metadata(&path)
                && metadata.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = data_dir;
    Ok(())
}

/// A unique-index violation on insert means the host is in use; anything else stays a
/// database error.
fn host_taken_or(error: sqlx::Error) -> StoreError {
    match error.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::HostTaken,
        _ => StoreError::Database(error),
    }
}

/// SHA-256 of an API key, hex: what the store keeps instead of the key (and what a cache
/// of key lookups may key on without holding keys).
pub fn key_hash(key: &str) -> String {
    warden_model::hex::encode(&Sha256::digest(key.as_bytes()))
}

/// The columns of an integration row, read the same way from either backend.
struct RawIntegration {
    id: i64,
    status: String,
    status_message: Option<String>,
    config: String,
    secrets: Vec<u8>,
    version: i64,
    created_at: i64,
    updated_at: i64,
    validation_results: Option<String>,
    platform_state: Option<String>,
    config_version: i64,
    objects_version: i64,
}

/// The statuses of integrations no longer in use, as the SQL filters (and the unique index of
/// migration 0002) spell them; a test ties the list to `Status::is_not_in_use`.
const NOT_IN_USE: &str = "('deleted', 'disabled')";
/// The transitional statuses, as SQL spells them; a test ties the list to
/// `Status::is_transitional`.
const TRANSITIONAL: &str = "('creating', 'editing', 'deleting', 'migrating')";

const INTEGRATION_COLUMNS: &str = "id, status, status_message, config, secrets, version, created_at, updated_at, validation_results, platform_state, config_version, objects_version";

const SUMMARY_COLUMNS: &str =
    "id, integration_type, host, status, status_message, config, created_at, updated_at, validation_results";

/// The summary columns: (id, integration_type, host, status, status_message, config,
/// created_at, updated_at, validation_results).
type RawSummary = (i64, String, String, String, Option<String>, String, i64, i64, Option<String>);

macro_rules! raw_summary {
    ($row:expr) => {
        (
            $row.try_get::<i64, _>("id")?,
            $row.try_get::<String, _>("integration_type")?,
            $row.try_get::<String, _>("host")?,
            $row.try_get::<String, _>("status")?,
            $row.try_get::<Option<String>, _>("status_message")?,
            $row.try_get::<String, _>("config")?,
            $row.try_get::<i64, _>("created_at")?,
            $row.try_get::<i64, _>("updated_at")?,
            $row.try_get::<Option<String>, _>("validation_results")?,
        )
    };
}

/// What a summary reads of the stored redacted config: the config itself stays text.
#[derive(serde::Deserialize)]
struct StoredShape {
    #[serde(rename = "autoBootstrap", default)]
    auto_bootstrap: bool,
    #[serde(default)]
    config: Option<Box<RawValue>>,
    #[serde(default)]
    labels: Option<Box<RawValue>>,
}

/// Reads the stored validation results; a row that does not parse shows none rather than
/// failing the read (they are a report, not state).
fn validation_results(id: IntegrationId, text: Option<&str>) -> Option<serde_json::Value> {
    let text = text?;
    serde_json::from_str(text)
        .map_err(|error| tracing::warn!(integration = %id, %error, "stored validation results do not parse"))
        .ok()
}

fn summary(raw: RawSummary) -> Result<IntegrationSummary, StoreError> {
    let (id, integration_type, host, status, status_message, config, created_at, updated_at, results) = raw;
    let id = id_from(id)?;
    let corrupt = |what: String| StoreError::Corrupt(format!("integration {id}: {what}"));
    let status = Status::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?;
    let integration_type =
        IntegrationType::parse(&integration_type).map_err(|_| corrupt(format!("type {integration_type}")))?;
    let shape: StoredShape = serde_json::from_str(&config).map_err(|e| corrupt(e.to_string()))?;
    let validation_results = results.and_then(|text| {
        RawValue::from_string(text)
            .map_err(|error| tracing::warn!(integration = %id, %error, "stored validation results do not parse"))
            .ok()
    });
    Ok(IntegrationSummary {
        id,
        integration_type,
        host,
        auto_bootstrap: shape.auto_bootstrap,
        status,
        status_message,
        config: shape.config,
        labels: shape.labels,
        created_at,
        updated_at,
        validation_results,
    })
}

macro_rules! raw_integration {
    ($row:expr) => {
        RawIntegration {
            id: $row.try_get("id")?,
            status: $row.try_get("status")?,
            status_message: $row.try_get("status_message")?,
            config: $row.try_get("config")?,
            secrets: $row.try_get("secrets")?,
            version: $row.try_get("version")?,
            created_at: $row.try_get("created_at")?,
            updated_at: $row.try_get("updated_at")?,
            validation_results: $row.try_get("validation_results")?,
            platform_state: $row.try_get("platform_state")?,
            config_version: $row.try_get("config_version")?,
            objects_version: $row.try_get("objects_version")?,
        }
    };
}

impl Store {
    /// Opens (creating if needed) the SQLite store `warden.db` in `data_dir`, in WAL mode.
    /// The database files are created readable by this user only (0600), and existing ones
    /// are made so; SQLite gives its WAL and shared-memory files the database file's mode.
    pub async fn open_sqlite(data_dir: &Path, key: MasterKey) -> Result<Self, StoreError> {
        private_files(data_dir)?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("warden.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        Self::over(Backend::Sqlite(pool), key).await
    }

    /// Connects to `postgres://...` (or `sqlite://path`) and migrates.
    pub async fn connect(url: &str, key: MasterKey) -> Result<Self, StoreError> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(
                PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?,
            )
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            Backend::Sqlite(SqlitePoolOptions::new().max_connections(8).connect_with(options).await?)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        Self::over(backend, key).await
    }

    /// The store over a connected backend, migrated. The read cache is on at once for
    /// SQLite (one process owns it) and, for PostgreSQL, while change notifications arrive.
    async fn over(backend: Backend, key: MasterKey) -> Result<Self, StoreError> {
        let cache = Arc::new(ReadCache::new(matches!(backend, Backend::Sqlite(_))));
        let (audit_appended, _) = tokio::sync::watch::channel(0);
        let (api_keys_changed, _) = tokio::sync::watch::channel(0);
        let keys = std::sync::RwLock::new(crypto::Keyring::new(key));
        let mut store = Self { backend, keys, cache, notifications: None, audit_appended, api_keys_changed };
        store.migrate().await?;
        if let Backend::Postgres(pool) = &store.backend {
            let task = read_cache::follow_notifications(
                pool.clone(),
                Arc::clone(&store.cache),
                store.audit_appended.clone(),
                store.api_keys_changed.clone(),
            );
            store.notifications = Some(tokio::spawn(task));
        }
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Backend::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Answers when the database does (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let sql = self.sql("SELECT 1");
        on_pool!(self, pool => sqlx::query(sql).execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Whether this is the embedded SQLite store, which one process owns (the server holds
    /// the data directory's lock), as opposed to PostgreSQL, which several may share.
    pub fn is_embedded(&self) -> bool {
        matches!(self.backend, Backend::Sqlite(_))
    }

    /// Which backend this is, for logs: `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The SQL for this backend: queries are written with `$1` placeholders, which SQLite
    /// reads as `?1` (so no query text may contain a `$` of its own). Every query text in this crate is assembled from constants only; every
    /// value is a bound parameter, which is what makes the `AssertSqlSafe` true.
    /// The connection pool's open connections and how many of them are idle.
    pub fn pool_connections(&self) -> (u32, usize) {
        match &self.backend {
            Backend::Sqlite(pool) => (pool.size(), pool.num_idle()),
            Backend::Postgres(pool) => (pool.size(), pool.num_idle()),
        }
    }

    fn sql(&self, text: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(match self.backend {
            Backend::Sqlite(_) => text.replace('$', "?"),
            Backend::Postgres(_) => text.to_owned(),
        })
    }

    /// Also opens secrets sealed with `previous` keys (a rotation's old ones); with
    /// `data_dir`, follows its key files, so a rotation begun by `warden keys rotate-master`
    /// is taken up without a restart.
    pub fn use_keys(&self, previous: Vec<MasterKey>, data_dir: Option<&Path>) {
        self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner).with(previous, data_dir);
    }

    /// Seals with the current master key (after noticing a changed key file).
    fn seal(&self, secrets: &warden_model::SecretMap) -> Result<Vec<u8>, StoreError> {
        let mut keys = self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.refresh()?;
        keys.seal(secrets)
    }

    /// Opens sealed secrets with the current key or a previous one (reading the key files
    /// again when none opens them); answers whether the current key did.
    fn unseal(&self, sealed: &[u8]) -> Result<(warden_model::SecretMap, bool), StoreError> {
        let opened = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner).open(sealed);
        match opened {
            Err(StoreError::WrongMasterKey) => {
                let mut keys = self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                if keys.refresh()? { keys.open(sealed) } else { Err(StoreError::WrongMasterKey) }
            }
            other => other,
        }
    }

    /// Reads a stored config back: the redacted JSON with its sealed secrets put back in.
    /// Reads a stored config written at schema `version` (brought forward and read
    /// leniently by [`IntegrationSpec::from_stored`]).
    fn read_spec(&self, config: &str, sealed: &[u8], version: i64, what: &str) -> Result<IntegrationSpec, StoreError> {
        let secrets = self.unseal(sealed)?.0;
        let config: serde_json::Value =
            serde_json::from_str(config).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
        IntegrationSpec::from_stored(&config, &secrets, version).map_err(|problems| {
            let first = problems.first().map(|p| format!("{} {}", p.path, p.message)).unwrap_or_default();
            StoreError::Corrupt(format!("{what}'s stored config does not read: {first}"))
        })
    }

    fn integration(&self, raw: RawIntegration) -> Result<StoredIntegration, StoreError> {
        let id = id_from(raw.id)?;
        let spec = self.read_spec(&raw.config, &raw.secrets, raw.config_version, &format!("integration {id}"))?;
        let status = Status::parse(&raw.status)
            .ok_or_else(|| StoreError::Corrupt(format!("integration {id}: status {}", raw.status)))?;
        Ok(StoredIntegration {
            id,
            spec,
            status,
            status_message: raw.status_message,
            version: raw.version,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            validation_results: validation_results(id, raw.validation_results.as_deref()),
            platform_state: raw
                .platform_state
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("integration {id}: platform state: {e}")))?,
            objects_version: u32::try_from(raw.objects_version).map_err(|_| {
                StoreError::Corrupt(format!("integration {id}: objects version {}", raw.objects_version))
            })?,
        })
    }
}

// The aggregates, each an `impl Store` of its own; declared after the macros they use.
mod audit;
pub mod backup;
mod data_sources;
mod integrations;
mod jobs;
mod keys;
mod rotation;
mod webhooks;

#[cfg(test)]
mod tests {
    use warden_model::Status;

    use super::{NOT_IN_USE, TRANSITIONAL};

    /// The statuses an SQL list `('a', 'b')` names.
    fn listed(sql: &str) -> Vec<Status> {
        sql.trim_matches(['(', ')']).split(',').map(|s| Status::parse(s.trim().trim_matches('\'')).unwrap()).collect()
    }

    #[test]
    fn the_sql_status_lists_are_the_model_s() {
        let not_in_use: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_not_in_use()).collect();
        let transitional: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_transitional()).collect();
        assert_eq!(listed(NOT_IN_USE), not_in_use);
        assert_eq!(listed(TRANSITIONAL), transitional);
        for migration in [
            include_str!("../migrations/sqlite/0002_job_input_and_host_guard.sql"),
            include_str!("../migrations/postgres/0002_job_input_and_host_guard.sql"),
        ] {
            assert!(migration.contains(&format!("WHERE status NOT IN {NOT_IN_USE}")), "{migration}");
        }
    }
}

//! Warden's persistence. One [`Store`] over SQLite (the embedded default: a WAL-mode file in
//! the data directory) or PostgreSQL (for several `warden` processes), with the same SQL and
//! one migration set per backend. It keeps integrations (config redacted in clear, secrets
//! sealed with the master key), optimistic versions, leased jobs, hashed API keys and the
//! audit log. No other crate writes control-plane SQL.

mod crypto;
mod error;

use std::path::Path;
use std::str::FromStr as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row as _};
use warden_model::{IntegrationId, IntegrationSpec, IntegrationType, Secret, Status};

pub use crypto::{MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey};
pub use error::StoreError;

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
    key: MasterKey,
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
}

/// An integration as responses show it: the redacted config as stored, read without
/// decrypting the secrets (listing does not need them).
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationSummary {
    /// Its id.
    pub id: IntegrationId,
    /// Its status.
    pub status: Status,
    /// What the status means and what to do.
    pub status_message: Option<String>,
    /// `{type, autoBootstrap, config}` with every secret `[REDACTED]`.
    pub redacted: serde_json::Value,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
    /// The latest validation run (JSON), absent before any.
    pub validation_results: Option<serde_json::Value>,
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
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
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
}

const INTEGRATION_COLUMNS: &str =
    "id, status, status_message, config, secrets, version, created_at, updated_at, validation_results";

const SUMMARY_COLUMNS: &str = "id, status, status_message, config, created_at, updated_at, validation_results";

/// The summary columns: (id, status, status_message, config, created_at, updated_at,
/// validation_results).
type RawSummary = (i64, String, Option<String>, String, i64, i64, Option<String>);

macro_rules! raw_summary {
    ($row:expr) => {
        (
            $row.try_get::<i64, _>("id")?,
            $row.try_get::<String, _>("status")?,
            $row.try_get::<Option<String>, _>("status_message")?,
            $row.try_get::<String, _>("config")?,
            $row.try_get::<i64, _>("created_at")?,
            $row.try_get::<i64, _>("updated_at")?,
            $row.try_get::<Option<String>, _>("validation_results")?,
        )
    };
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
    let (id, status, status_message, config, created_at, updated_at, results) = raw;
    let id = id_from(id)?;
    let status =
        Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("integration {id}: status {status}")))?;
    let redacted = serde_json::from_str(&config).map_err(|e| StoreError::Corrupt(format!("integration {id}: {e}")))?;
    let validation_results = validation_results(id, results.as_deref());
    Ok(IntegrationSummary { id, status, status_message, redacted, created_at, updated_at, validation_results })
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
        let store = Self { backend: Backend::Sqlite(pool), key };
        store.migrate().await?;
        Ok(store)
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
        let store = Self { backend, key };
        store.migrate().await?;
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
    fn sql(&self, text: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(match self.backend {
            Backend::Sqlite(_) => text.replace('$', "?"),
            Backend::Postgres(_) => text.to_owned(),
        })
    }

    /// Reads a stored config back: the redacted JSON with its sealed secrets put back in.
    fn read_spec(&self, config: &str, sealed: &[u8], what: &str) -> Result<IntegrationSpec, StoreError> {
        let secrets = self.key.open(sealed)?;
        let config: serde_json::Value =
            serde_json::from_str(config).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
        IntegrationSpec::from_value(&config, Some(&secrets)).map_err(|problems| {
            let first = problems.first().map(|p| p.message.clone()).unwrap_or_default();
            StoreError::Corrupt(format!("{what} no longer reads as a valid config: {first}"))
        })
    }

    fn integration(&self, raw: RawIntegration) -> Result<StoredIntegration, StoreError> {
        let id = id_from(raw.id)?;
        let spec = self.read_spec(&raw.config, &raw.secrets, &format!("integration {id}"))?;
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
        })
    }

    /// Stores a new integration in `status` and returns it.
    /// Fails with [`StoreError::HostTaken`] when another integration of the type is in use
    /// on the spec's [host](IntegrationSpec::host).
    pub async fn insert_integration(
        &self,
        spec: &IntegrationSpec,
        status: Status,
    ) -> Result<StoredIntegration, StoreError> {
        let host = spec.host();
        let config = spec.redacted().to_string();
        let sealed = self.key.seal(&spec.secrets())?;
        let now = now_millis();
        let sql = self.sql(&format!(
            "INSERT INTO integrations (integration_type, host, status, status_message, config, secrets, version, created_at, updated_at) \
             VALUES ($1, $2, $3, NULL, $4, $5, 1, $6, $6) RETURNING {INTEGRATION_COLUMNS}"
        ));
        let raw = on_pool!(self, pool => {
            let row = sqlx::query(sql)
                .bind(spec.integration_type().wire_name())
                .bind(&host)
                .bind(status.as_str())
                .bind(&config)
                .bind(&sealed)
                .bind(now)
                .fetch_one(pool)
                .await
                .map_err(host_taken_or)?;
            raw_integration!(row)
        });
        self.integration(raw)
    }

    /// One integration, whatever its status.
    pub async fn get_integration(&self, id: IntegrationId) -> Result<Option<StoredIntegration>, StoreError> {
        let sql = self.sql(&format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = $1"));
        let raw = on_pool!(self, pool => {
            match sqlx::query(sql).bind(db_id(id)).fetch_optional(pool).await? {
                Some(row) => Some(raw_integration!(row)),
                None => None,
            }
        });
        raw.map(|r| self.integration(r)).transpose()
    }

    /// Every integration, oldest first; `deleted` ones only when asked for.
    pub async fn list_integrations(&self, include_deleted: bool) -> Result<Vec<StoredIntegration>, StoreError> {
        let filter = if include_deleted { "" } else { "WHERE status <> 'deleted'" };
        let sql = self.sql(&format!("SELECT {INTEGRATION_COLUMNS} FROM integrations {filter} ORDER BY id"));
        self.fetch_integrations(sql, &[]).await
    }

    /// Every integration as shown, oldest first; `deleted` ones only when asked for. No
    /// secret is decrypted.
    pub async fn list_summaries(&self, include_deleted: bool) -> Result<Vec<IntegrationSummary>, StoreError> {
        let filter = if include_deleted { "" } else { "WHERE status <> 'deleted'" };
        let sql = self.sql(&format!("SELECT {SUMMARY_COLUMNS} FROM integrations {filter} ORDER BY id"));
        let raws = on_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            let mut raws = Vec::with_capacity(rows.len());
            for row in rows {
                raws.push(raw_summary!(row));
            }
            raws
        });
        raws.into_iter().map(summary).collect()
    }

    /// One integration as shown, whatever its status. No secret is decrypted.
    pub async fn get_summary(&self, id: IntegrationId) -> Result<Option<IntegrationSummary>, StoreError> {
        let sql = self.sql(&format!("SELECT {SUMMARY_COLUMNS} FROM integrations WHERE id = $1"));
        let raw = on_pool!(self, pool => {
            match sqlx::query(sql).bind(db_id(id)).fetch_optional(pool).await? {
                Some(row) => Some(raw_summary!(row)),
                None => None,
            }
        });
        raw.map(summary).transpose()
    }

    /// Runs a query that selects [`INTEGRATION_COLUMNS`] with text parameters, and reads
    /// every row back.
    async fn fetch_integrations(
        &self,
        sql: AssertSqlSafe<String>,
        params: &[&str],
    ) -> Result<Vec<StoredIntegration>, StoreError> {
        let raws = on_pool!(self, pool => {
            let mut query = sqlx::query(sql);
            for param in params {
                query = query.bind(*param);
            }
            let rows = query.fetch_all(pool).await?;
            let mut raws = Vec::with_capacity(rows.len());
            for row in rows {
                raws.push(raw_integration!(row));
            }
            raws
        });
        raws.into_iter().map(|r| self.integration(r)).collect()
    }

    /// Integrations of `integration_type` on `host` that are still in use.
    pub async fn integrations_on_host(
        &self,
        integration_type: IntegrationType,
        host: &str,
    ) -> Result<Vec<StoredIntegration>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations \
             WHERE integration_type = $1 AND host = $2 AND status NOT IN ('deleted', 'disabled') ORDER BY id"
        ));
        self.fetch_integrations(sql, &[integration_type.wire_name(), host]).await
    }

    /// Changes an integration's status (and, with `spec`, its config) if it is still at
    /// `expected_version`; otherwise [`StoreError::VersionConflict`] ([`StoreError::HostTaken`]
    /// when the new config or status would put two integrations in use on one host). Two concurrent writers
    /// that read the same version cannot both win.
    pub async fn update_integration(
        &self,
        id: IntegrationId,
        expected_version: i64,
        status: Status,
        status_message: Option<&str>,
        spec: Option<&IntegrationSpec>,
    ) -> Result<StoredIntegration, StoreError> {
        let now = now_millis();
        let (config, sealed, host) = match spec {
            Some(spec) => (Some(spec.redacted().to_string()), Some(self.key.seal(&spec.secrets())?), Some(spec.host())),
            None => (None, None, None),
        };
        let sql = self.sql(&format!(
            "UPDATE integrations SET status = $1, status_message = $2, config = COALESCE($3, config), \
             secrets = COALESCE($4, secrets), host = COALESCE($8, host), version = version + 1, updated_at = $5 \
             WHERE id = $6 AND version = $7 RETURNING {INTEGRATION_COLUMNS}"
        ));
        let raw = on_pool!(self, pool => {
            match sqlx::query(sql)
                .bind(status.as_str())
                .bind(status_message)
                .bind(config.as_deref())
                .bind(sealed.as_deref())
                .bind(now)
                .bind(db_id(id))
                .bind(expected_version)
                .bind(host.as_deref())
                .fetch_optional(pool)
                .await
                .map_err(host_taken_or)?
            {
                Some(row) => Some(raw_integration!(row)),
                None => None,
            }
        });
        match raw {
            Some(raw) => self.integration(raw),
            None if self.integration_exists(id).await? => Err(StoreError::VersionConflict { id }),
            None => Err(StoreError::NotFound { id }),
        }
    }

    /// Records the latest validation run of an integration (shown as `validationResults`).
    /// It does not bump the version: it is a report on the integration, not a change to it.
    pub async fn record_validation(&self, id: IntegrationId, results: &serde_json::Value) -> Result<(), StoreError> {
        let sql = self.sql("UPDATE integrations SET validation_results = $1 WHERE id = $2");
        let text = results.to_string();
        on_pool!(self, pool => sqlx::query(sql).bind(&text).bind(db_id(id)).execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Whether a row with this id exists, without reading (or decrypting) it.
    async fn integration_exists(&self, id: IntegrationId) -> Result<bool, StoreError> {
        let sql = self.sql("SELECT COUNT(*) AS n FROM integrations WHERE id = $1");
        let n: i64 = on_pool!(self, pool => sqlx::query(sql).bind(db_id(id)).fetch_one(pool).await?.try_get("n")?);
        Ok(n > 0)
    }

    /// Queues a job for an integration, carrying `input` (sealed like an integration's
    /// secrets) when given.
    pub async fn enqueue_job(
        &self,
        integration_id: IntegrationId,
        kind: &str,
        input: Option<&IntegrationSpec>,
        owner: JobOwner<'_>,
    ) -> Result<i64, StoreError> {
        let now = now_millis();
        let (state, lease_owner, lease_expires_at, attempts) = match owner {
            JobOwner::Anyone => ("queued", None, None, 0_i64),
            JobOwner::Worker(worker, lease) => ("running", Some(worker), Some(deadline(now, lease)), 1),
        };
        let input_config = input.map(|spec| spec.redacted().to_string());
        let input_secrets = input.map(|spec| self.key.seal(&spec.secrets())).transpose()?;
        let sql = self.sql(
            "INSERT INTO jobs (integration_id, kind, state, lease_owner, lease_expires_at, attempts, created_at, input_config, input_secrets) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        );
        Ok(on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(db_id(integration_id))
                .bind(kind)
                .bind(state)
                .bind(lease_owner)
                .bind(lease_expires_at)
                .bind(attempts)
                .bind(now)
                .bind(input_config)
                .bind(input_secrets)
                .fetch_one(pool)
                .await?
                .try_get("id")?
        }))
    }

    /// Extends `worker`'s lease on a running job. Returns whether it still held it.
    pub async fn renew_lease(&self, job_id: i64, worker: &str, lease: Duration) -> Result<bool, StoreError> {
        let sql =
            self.sql("UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'");
        let until = deadline(now_millis(), lease);
        let renewed = on_pool!(self, pool => {
            sqlx::query(sql).bind(until).bind(job_id).bind(worker).execute(pool).await?.rows_affected()
        });
        Ok(renewed == 1)
    }

    /// Expires every running job's lease, so the next claim takes them over. Only for a
    /// store that one process holds (SQLite under the data-directory lock): at its start,
    /// every running job belongs to a process that is gone.
    pub async fn expire_all_leases(&self) -> Result<u64, StoreError> {
        let sql = self.sql("UPDATE jobs SET lease_expires_at = 0 WHERE state = 'running'");
        Ok(on_pool!(self, pool => sqlx::query(sql).execute(pool).await?.rows_affected()))
    }

    /// Integrations in a transitional status that no queued or running job will finish (a
    /// process stopped between changing the status and queueing the job, or a job was
    /// completed without moving its integration on), and whose status is older than
    /// `settle_time`: a request moves the status a moment before it queues the job, and
    /// that moment must not count as stranded.
    pub async fn stranded_integrations(&self, settle_time: Duration) -> Result<Vec<StoredIntegration>, StoreError> {
        let before = now_millis().saturating_sub(i64::try_from(settle_time.as_millis()).unwrap_or(i64::MAX));
        let sql = self.sql(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations i \
             WHERE status IN ('creating', 'editing', 'deleting', 'migrating') AND updated_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.integration_id = i.id AND j.state <> 'done') ORDER BY id"
        ));
        let raws = on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(before).fetch_all(pool).await?;
            let mut raws = Vec::with_capacity(rows.len());
            for row in rows {
                raws.push(raw_integration!(row));
            }
            raws
        });
        raws.into_iter().map(|r| self.integration(r)).collect()
    }

    /// Claims the oldest queued job, or a running one whose lease expired, for `worker` for
    /// `lease`. On PostgreSQL the row is locked with `FOR UPDATE SKIP LOCKED`, so two
    /// processes never claim the same job; SQLite has a single writer.
    pub async fn claim_job(&self, worker: &str, lease: Duration) -> Result<Option<Job>, StoreError> {
        let now = now_millis();
        let until = deadline(now, lease);
        let lock = match self.backend {
            Backend::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite(_) => "",
        };
        let sql = self.sql(&format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' OR (state = 'running' AND lease_expires_at < $3) \
                         ORDER BY id LIMIT 1 {lock}) \
             RETURNING id, integration_id, kind, attempts, input_config, input_secrets"
        ));
        type RawJob = (i64, i64, String, i64, Option<String>, Option<Vec<u8>>);
        let raw: Option<RawJob> = on_pool!(self, pool => {
            match sqlx::query(sql).bind(worker).bind(until).bind(now).fetch_optional(pool).await? {
                Some(row) => Some((
                    row.try_get("id")?,
                    row.try_get("integration_id")?,
                    row.try_get("kind")?,
                    row.try_get("attempts")?,
                    row.try_get("input_config")?,
                    row.try_get("input_secrets")?,
                )),
                None => None,
            }
        });
        let Some((id, integration_id, kind, attempts, input_config, input_secrets)) = raw else {
            return Ok(None);
        };
        let input = match (input_config, input_secrets) {
            (Some(config), Some(sealed)) => Some(self.read_spec(&config, &sealed, &format!("job {id}"))?),
            _ => None,
        };
        Ok(Some(Job { id, integration_id: id_from(integration_id)?, kind, attempts, input }))
    }

    /// Marks a job done, if `worker` still holds its lease. Returns whether it did.
    pub async fn complete_job(&self, job_id: i64, worker: &str) -> Result<bool, StoreError> {
        let sql = self.sql("UPDATE jobs SET state = 'done', lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2 AND state = 'running'");
        let done =
            on_pool!(self, pool => sqlx::query(sql).bind(job_id).bind(worker).execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Creates an API key and returns it; only its hash is stored, so this is the one time
    /// the key can be read.
    pub async fn create_api_key(
        &self,
        name: &str,
        permissions: &[Permission],
        integration_id: Option<IntegrationId>,
    ) -> Result<(ApiKey, Secret<String>), StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::MasterKey(format!("no randomness: {e}")))?;
        let key: String = std::iter::once("wdn_".to_owned()).chain(bytes.iter().map(|b| format!("{b:02x}"))).collect();
        let api_key = self.insert_api_key(name, permissions, integration_id, &key).await?;
        let api_key = api_key.ok_or_else(|| StoreError::Corrupt("a fresh random API key already exists".into()))?;
        Ok((api_key, Secret::new(key)))
    }

    /// Stores a key chosen by the operator (`WARDEN_ADMIN_API_KEY`). Returns `None` when that
    /// key is already stored (two processes starting at once both import it).
    pub async fn import_api_key(
        &self,
        name: &str,
        permissions: &[Permission],
        key: &Secret<String>,
    ) -> Result<Option<ApiKey>, StoreError> {
        self.insert_api_key(name, permissions, None, key.expose()).await
    }

    async fn insert_api_key(
        &self,
        name: &str,
        permissions: &[Permission],
        integration_id: Option<IntegrationId>,
        key: &str,
    ) -> Result<Option<ApiKey>, StoreError> {
        let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        let sql = self.sql(
            "INSERT INTO api_keys (name, key_hash, permissions, integration_id, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (key_hash) DO NOTHING RETURNING id",
        );
        let id: Option<i64> = on_pool!(self, pool => {
            match sqlx::query(sql)
                .bind(name)
                .bind(key_hash(key))
                .bind(names.join(","))
                .bind(integration_id.map(db_id))
                .bind(now_millis())
                .fetch_optional(pool)
                .await?
            {
                Some(row) => Some(row.try_get("id")?),
                None => None,
            }
        });
        Ok(id.map(|id| ApiKey { id, name: name.to_owned(), permissions: permissions.to_vec(), integration_id }))
    }

    /// The unrevoked key whose value is `key`, if any.
    pub async fn find_api_key(&self, key: &str) -> Result<Option<ApiKey>, StoreError> {
        let sql = self.sql(
            "SELECT id, name, permissions, integration_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        );
        let raw: Option<(i64, String, String, Option<i64>)> = on_pool!(self, pool => {
            match sqlx::query(sql).bind(key_hash(key)).fetch_optional(pool).await? {
                Some(row) => Some((row.try_get("id")?, row.try_get("name")?, row.try_get("permissions")?, row.try_get("integration_id")?)),
                None => None,
            }
        });
        raw.map(|(id, name, permissions, integration_id)| {
            let permissions = permissions.split(',').filter(|p| !p.is_empty()).filter_map(Permission::parse).collect();
            Ok(ApiKey { id, name, permissions, integration_id: integration_id.map(id_from).transpose()? })
        })
        .transpose()
    }

    /// Revokes every key of an integration but `keep` (Trino key rotation creates the new
    /// key first, so a failure in between never leaves the integration without one).
    /// Returns how many were revoked.
    pub async fn revoke_integration_keys(
        &self,
        integration_id: IntegrationId,
        keep: Option<i64>,
    ) -> Result<u64, StoreError> {
        let sql = self
            .sql("UPDATE api_keys SET revoked_at = $1 WHERE integration_id = $2 AND revoked_at IS NULL AND id <> $3");
        Ok(on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(now_millis())
                .bind(db_id(integration_id))
                .bind(keep.unwrap_or(-1))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// How many unrevoked administration keys exist, not counting the keys of Trino
    /// integrations (the server creates the first admin key when there are none).
    pub async fn count_admin_keys(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL AND integration_id IS NULL";
        Ok(on_pool!(self, pool => sqlx::query(sql).fetch_one(pool).await?.try_get("n")?))
    }

    /// Appends an audit entry. `before` and `after` must be redacted (`IntegrationSpec::redacted`).
    pub async fn record_audit(
        &self,
        actor: &str,
        action: &str,
        integration_id: Option<IntegrationId>,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let sql = self.sql(
            "INSERT INTO audit_log (at, actor, action, integration_id, before_state, after_state) VALUES ($1, $2, $3, $4, $5, $6)",
        );
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(now_millis())
                .bind(actor)
                .bind(action)
                .bind(integration_id.map(db_id))
                .bind(before.map(ToString::to_string))
                .bind(after.map(ToString::to_string))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// The audit entries of an integration, oldest first: (actor, action, before, after).
    pub async fn audit_of(
        &self,
        integration_id: IntegrationId,
    ) -> Result<Vec<(String, String, Option<String>, Option<String>)>, StoreError> {
        let sql = self.sql(
            "SELECT actor, action, before_state, after_state FROM audit_log WHERE integration_id = $1 ORDER BY id",
        );
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(db_id(integration_id)).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push((row.try_get("actor")?, row.try_get("action")?, row.try_get("before_state")?, row.try_get("after_state")?));
            }
            out
        }))
    }
}

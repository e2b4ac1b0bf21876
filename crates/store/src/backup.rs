//! Backups of the SQLite store: a consistent snapshot of a store that may be serving
//! (`VACUUM INTO` on a read-only connection, so the live database is never written or
//! migrated by the backup), and the checks a file passes before it replaces a data
//! directory's database: SQLite's integrity check, Warden's tables, no migration this version
//! does not know, and every sealed secret opening with the master key. The master key is not
//! in a backup; it is kept (and must be backed up) apart. PostgreSQL stores are backed up
//! with `pg_dump`.

use sqlx::Connection as _;
use sqlx::sqlite::SqliteConnection;

use super::*;

/// What a backup file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSummary {
    /// Integrations (deleted ones included).
    pub integrations: i64,
    /// Audit entries.
    pub audit_entries: i64,
    /// Sealed secret maps opened with the master key (integrations and job inputs).
    pub sealed_secrets: i64,
}

/// Where the SQLite database of `data_dir` is.
pub fn sqlite_path(data_dir: &Path) -> PathBuf {
    data_dir.join("warden.db")
}

/// Writes a consistent snapshot of the SQLite database at `database` to `target` (a new
/// file, mode 0600), while the store may be serving, and answers what it holds.
pub async fn snapshot_sqlite(database: &Path, target: &Path) -> Result<BackupSummary, StoreError> {
    if target.exists() {
        return Err(StoreError::Io(format!("{} exists already; choose a new file", target.display())));
    }
    let mut live = read_only(database).await?;
    let target_text = target.to_str().ok_or_else(|| StoreError::Io("the backup file's path is not UTF-8".into()))?;
    // VACUUM INTO takes its file name as a value, bound like any other.
    sqlx::query("VACUUM INTO ?1").bind(target_text).execute(&mut live).await?;
    live.close().await?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::Io(format!("{}: {e}", target.display())))?;
    }
    let mut written = read_only(target).await?;
    let summary = summarise(&mut written, &[]).await;
    written.close().await?;
    summary
}

/// Checks a backup file for a restore with `keys` (the master key, and during a rotation the
/// key it replaces): SQLite's integrity check, Warden's tables, migrations this version knows,
/// and every sealed secret opening with one of them.
pub async fn check_backup(file: &Path, keys: &[MasterKey]) -> Result<BackupSummary, StoreError> {
    let mut connection = read_only(file).await?;
    let summary = summarise(&mut connection, keys).await;
    connection.close().await?;
    summary
}

/// How many integrations `database` holds (0 when it has no store yet).
pub async fn count_integrations(database: &Path) -> Result<i64, StoreError> {
    if !database.exists() || std::fs::metadata(database).is_ok_and(|m| m.len() == 0) {
        return Ok(0);
    }
    let mut connection = read_only(database).await?;
    let tables: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'integrations'")
            .fetch_one(&mut connection)
            .await?;
    let count = if tables == 0 {
        0
    } else {
        sqlx::query_scalar("SELECT COUNT(*) FROM integrations").fetch_one(&mut connection).await?
    };
    connection.close().await?;
    Ok(count)
}

async fn read_only(path: &Path) -> Result<SqliteConnection, StoreError> {
    let options = SqliteConnectOptions::new().filename(path).read_only(true).busy_timeout(Duration::from_secs(10));
    Ok(SqliteConnection::connect_with(&options).await?)
}

/// What the file holds, after its checks; with `keys`, every sealed secret must open with one
/// of them.
async fn summarise(connection: &mut SqliteConnection, keys: &[MasterKey]) -> Result<BackupSummary, StoreError> {
    let verdict: String = sqlx::query("PRAGMA integrity_check").fetch_one(&mut *connection).await?.try_get(0)?;
    if verdict != "ok" {
        return Err(StoreError::Corrupt(format!("the file fails SQLite's integrity check: {verdict}")));
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&mut *connection).await?;
    for wanted in ["_sqlx_migrations", "integrations", "audit_log", "jobs"] {
        if !tables.iter().any(|t| t == wanted) {
            return Err(StoreError::Corrupt(format!("the file is not a Warden store (it has no {wanted} table)")));
        }
    }
    let known = sqlx::migrate!("./migrations/sqlite");
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations").fetch_all(&mut *connection).await?;
    if let Some(newer) = applied.iter().find(|v| !known.iter().any(|m| m.version == **v)) {
        return Err(StoreError::Corrupt(format!(
            "the file was written by a newer Warden (migration {newer}); restore it with that version"
        )));
    }
    let integrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM integrations").fetch_one(&mut *connection).await?;
    let audit_entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&mut *connection).await?;
    let mut sealed_secrets = 0;
    if !keys.is_empty() {
        let sealed: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT secrets FROM integrations UNION ALL SELECT input_secrets FROM jobs WHERE input_secrets IS NOT NULL",
        )
        .fetch_all(&mut *connection)
        .await?;
        for bytes in sealed {
            // A backup taken before a rotation began opens with the key the rotation replaced.
            if !keys.iter().any(|key| key.open(&bytes).is_ok()) {
                return Err(StoreError::WrongMasterKey);
            }
            sealed_secrets += 1;
        }
    }
    Ok(BackupSummary { integrations, audit_entries, sealed_secrets })
}

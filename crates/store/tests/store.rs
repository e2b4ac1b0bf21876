//! The store's behaviour, checked on both backends: SQLite in a temporary directory and
//! PostgreSQL (a fresh database per test on the server named by `WARDEN_TEST_POSTGRES_URL`,
//! which `cargo xtask ci` starts). Without that variable the PostgreSQL half is skipped
//! with a message, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used)] // test helpers may panic: a panic is a failed test

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;
use sqlx::{AssertSqlSafe, Connection as _, Row as _};
use warden_model::{IntegrationSpec, IntegrationType, Secret, Status};
use warden_store::{DataSourcesOf, JobOwner, MasterKey, Permission, Store, StoreError};

const MARK: &str = "S3CRET";

struct Backend {
    name: &'static str,
    store: Store,
    /// Reads the raw database, bypassing the store.
    raw_url: String,
    _dir: Option<tempfile::TempDir>,
}

fn key() -> MasterKey {
    MasterKey::from_hex(&"ab".repeat(32)).unwrap()
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let raw_url = format!("sqlite://{}", dir.path().join("warden.db").display());
    let sqlite = Store::open_sqlite(dir.path(), key()).await.unwrap();
    let mut out = vec![Backend { name: "sqlite", store: sqlite, raw_url, _dir: Some(dir) }];
    match std::env::var("WARDEN_TEST_POSTGRES_URL") {
        Ok(admin_url) => {
            let db = format!("warden_t{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&mut admin).await.unwrap();
            let (base, _) = admin_url.rsplit_once('/').unwrap();
            let url = format!("{base}/{db}");
            let store = Store::connect(&url, key()).await.unwrap();
            out.push(Backend { name: "postgres", store, raw_url: url, _dir: None });
        }
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("WARDEN_TEST_POSTGRES_URL is not set: CI must run the PostgreSQL half (run `cargo xtask ci`)")
        }
        Err(_) => eprintln!("WARDEN_TEST_POSTGRES_URL is not set: PostgreSQL half skipped (`cargo xtask ci` runs it)"),
    }
    out
}

fn snowflake() -> IntegrationSpec {
    let payload = json!({"type": "Snowflake", "autoBootstrap": false, "config": {
        "host": "acme.snowflakecomputing.com", "warehouse": "WH", "database": "WARDEN_DB",
        "authenticationType": "keyPair", "username": "WARDEN_DB_SYSTEM_ACCOUNT",
        "privateKey": "-----BEGIN PRIVATE KEY-----\\nS3CRET-key\\n-----END PRIVATE KEY-----",
        "privateKeyPassword": "S3CRET-pass"}});
    IntegrationSpec::from_value(&payload, None).unwrap()
}

async fn raw_rows(url: &str, sql: &str) -> Vec<String> {
    let text_of = |v: Result<String, sqlx::Error>, b: Result<Vec<u8>, sqlx::Error>| {
        v.unwrap_or_else(|_| String::from_utf8_lossy(&b.unwrap_or_default()).into_owned())
    };
    if url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        let rows = sqlx::query(AssertSqlSafe(sql.to_owned())).fetch_all(&mut c).await.unwrap();
        rows.iter().flat_map(|r| (0..r.len()).map(|i| text_of(r.try_get(i), r.try_get(i)))).collect()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        let rows = sqlx::query(AssertSqlSafe(sql.to_owned())).fetch_all(&mut c).await.unwrap();
        rows.iter().flat_map(|r| (0..r.len()).map(|i| text_of(r.try_get(i), r.try_get(i)))).collect()
    }
}

#[tokio::test]
async fn integrations_round_trip_and_no_secret_is_readable_in_the_database() {
    for b in backends().await {
        let spec = snowflake();
        let stored = b.store.insert_integration(&spec, Status::Creating).await.unwrap();
        assert_eq!(stored.spec, spec, "{}", b.name);
        assert_eq!((stored.status, stored.version), (Status::Creating, 1));
        let read = b.store.get_integration(stored.id).await.unwrap().unwrap();
        assert_eq!(read, stored, "{}", b.name);
        assert_eq!(read.spec.secrets().len(), 2);

        let cells = raw_rows(&b.raw_url, "SELECT * FROM integrations").await;
        assert!(cells.iter().any(|c| c.contains("WARDEN_DB_SYSTEM_ACCOUNT")), "{}: config is readable", b.name);
        assert!(!cells.iter().any(|c| c.contains(MARK)), "{}: a secret is readable in the database", b.name);
        // The audit log keeps the redacted states it is given: never a secret.
        let state = stored.spec.redacted();
        b.store.record_audit("key:1 admin", "create", Some(stored.id), None, Some(&state)).await.unwrap();
        let audit_cells = raw_rows(&b.raw_url, "SELECT * FROM audit_log").await;
        assert!(audit_cells.iter().any(|c| c.contains("WARDEN_DB_SYSTEM_ACCOUNT")), "{}: the entry is there", b.name);
        assert!(!audit_cells.iter().any(|c| c.contains(MARK)), "{}: a secret is in the audit log", b.name);
    }
}

#[tokio::test]
async fn listing_hides_deleted_unless_asked_and_host_lookup_skips_unused() {
    for b in backends().await {
        let spec = snowflake();
        let a = b.store.insert_integration(&spec, Status::Enabled).await.unwrap();
        let d = b.store.insert_integration(&spec, Status::Deleted).await.unwrap();
        b.store.insert_integration(&spec, Status::Disabled).await.unwrap();
        let ids: Vec<_> = b.store.list_integrations(false).await.unwrap().iter().map(|i| i.id).collect();
        assert_eq!(ids.len(), 2, "{}", b.name);
        assert!(!ids.contains(&d.id));
        assert_eq!(b.store.list_integrations(true).await.unwrap().len(), 3);
        let summaries = b.store.list_shown(&warden_store::ListQuery::default()).await.unwrap();
        assert_eq!(summaries.iter().map(|i| i.summary.id).collect::<Vec<_>>(), ids, "{}", b.name);
        let config: serde_json::Value =
            serde_json::from_str(summaries[0].summary.config.as_ref().unwrap().get()).unwrap();
        assert_eq!(config, spec.redacted()["config"], "{}: a summary is the redacted config", b.name);
        assert_eq!(b.store.shown(d.id).await.unwrap().unwrap().summary.status, Status::Deleted);
        let on_host = b.store.in_use_on_host(spec.integration_type(), &spec.host()).await.unwrap();
        assert_eq!(on_host, vec![(a.id, Status::Enabled)], "{}", b.name);
    }
}

#[tokio::test]
async fn a_host_holds_one_integration_in_use_even_under_racing_inserts() {
    for b in backends().await {
        let store = Arc::new(b.store);
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.insert_integration(&snowflake(), Status::Creating).await })
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Ok(_) => won += 1,
                Err(StoreError::HostTaken) => {}
                Err(other) => panic!("{}: {other}", b.name),
            }
        }
        assert_eq!(won, 1, "{}", b.name);
        let in_use = store.list_integrations(false).await.unwrap();
        let winner = in_use.iter().find(|i| i.spec.host() == snowflake().host()).unwrap();
        let moved = store.update_integration(winner.id, winner.version, Status::Deleted, None, None).await.unwrap();
        assert_eq!(moved.status, Status::Deleted);
        store.insert_integration(&snowflake(), Status::Creating).await.expect("a deleted one frees the host");
    }
}

#[tokio::test]
async fn a_job_carries_its_input_sealed_and_a_claimed_job_is_not_offered_again() {
    for b in backends().await {
        let integration = b.store.insert_integration(&snowflake(), Status::Editing).await.unwrap();
        let input = snowflake();
        b.store.enqueue_job(integration.id, "edit", Some(&input), JobOwner::Anyone).await.unwrap();
        let job = b.store.claim_job("w", Duration::from_secs(60)).await.unwrap().unwrap();
        assert_eq!(job.input.as_ref(), Some(&input), "{}", b.name);
        let cells = raw_rows(&b.raw_url, "SELECT * FROM jobs").await;
        assert!(!cells.iter().any(|c| c.contains(MARK)), "{}: a job input secret is readable", b.name);

        let pinned = b.store.enqueue_job(integration.id, "edit", None, JobOwner::Worker("me", Duration::from_secs(60)));
        let pinned = pinned.await.unwrap();
        assert!(b.store.claim_job("other", Duration::from_secs(60)).await.unwrap().is_none(), "{}", b.name);
        assert!(b.store.renew_lease(pinned, "me", Duration::from_secs(60)).await.unwrap());
        assert!(!b.store.renew_lease(pinned, "other", Duration::from_secs(60)).await.unwrap());
        assert_eq!(b.store.expire_all_leases().await.unwrap(), 2);
        let taken = b.store.claim_job("other", Duration::from_secs(60)).await.unwrap().unwrap();
        assert!(taken.attempts >= 2, "{}: a taken-over job shows it was interrupted", b.name);
    }
}

#[tokio::test]
async fn an_integration_in_a_transitional_status_without_an_open_job_is_stranded() {
    for b in backends().await {
        let creating = b.store.insert_integration(&snowflake(), Status::Creating).await.unwrap();
        let a_minute = Duration::from_secs(60);
        assert!(b.store.stranded_integrations(a_minute).await.unwrap().is_empty(), "{}: just changed", b.name);
        assert_eq!(b.store.stranded_integrations(Duration::ZERO).await.unwrap().len(), 1, "{}", b.name);
        let job = b.store.enqueue_job(creating.id, "create", None, JobOwner::Anyone).await.unwrap();
        assert!(b.store.stranded_integrations(Duration::ZERO).await.unwrap().is_empty(), "{}", b.name);
        b.store.claim_job("w", Duration::from_secs(60)).await.unwrap();
        assert!(b.store.complete_job(job, "w").await.unwrap());
        let stranded = b.store.stranded_integrations(Duration::ZERO).await.unwrap();
        assert_eq!(stranded.iter().map(|i| i.id).collect::<Vec<_>>(), vec![creating.id], "{}", b.name);
    }
}

#[tokio::test]
async fn of_concurrent_updates_from_one_version_exactly_one_wins() {
    for b in backends().await {
        let store = Arc::new(b.store);
        let stored = store.insert_integration(&snowflake(), Status::Enabled).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let message = format!("writer {i}");
                    store.update_integration(stored.id, stored.version, Status::Editing, Some(&message), None).await
                })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(after) => {
                    wins += 1;
                    assert_eq!((after.status, after.version), (Status::Editing, 2));
                }
                Err(StoreError::VersionConflict { id }) => assert_eq!(id, stored.id),
                Err(other) => panic!("{}: {other}", b.name),
            }
        }
        assert_eq!(wins, 1, "{}", b.name);
    }
}

#[tokio::test]
async fn a_config_update_reseals_secrets() {
    for b in backends().await {
        let stored = b.store.insert_integration(&snowflake(), Status::Enabled).await.unwrap();
        let mut new = stored.spec.redacted();
        new["config"]["privateKeyPassword"] = json!("S3CRET-rotated");
        let spec = stored.spec.updated_from(&new).unwrap();
        let after = b.store.update_integration(stored.id, 1, Status::Enabled, None, Some(&spec)).await.unwrap();
        assert_eq!(after.spec.secrets()["config.privateKeyPassword"].expose(), "S3CRET-rotated", "{}", b.name);
        let stale = b.store.update_integration(stored.id, 99, Status::Enabled, None, None).await;
        assert!(matches!(stale, Err(StoreError::VersionConflict { .. })), "{}", b.name);
        let absent = warden_model::IntegrationId::new(stored.id.get() + 1000).unwrap();
        let missing = b.store.update_integration(absent, 1, Status::Enabled, None, None).await;
        assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{}", b.name);
    }
}

#[tokio::test]
async fn every_queued_job_is_claimed_exactly_once_by_competing_workers() {
    for b in backends().await {
        let store = Arc::new(b.store);
        let integration = store.insert_integration(&snowflake(), Status::Creating).await.unwrap();
        let mut queued = HashSet::new();
        for _ in 0..40 {
            queued.insert(store.enqueue_job(integration.id, "create", None, JobOwner::Anyone).await.unwrap());
        }
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let name = format!("worker-{w}");
                    let mut mine = Vec::new();
                    while let Some(job) = store.claim_job(&name, Duration::from_secs(60)).await.unwrap() {
                        assert!(store.complete_job(job.id, &name).await.unwrap());
                        mine.push(job.id);
                    }
                    mine
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for w in workers {
            claimed.extend(w.await.unwrap());
        }
        let unique: HashSet<_> = claimed.iter().copied().collect();
        assert_eq!(claimed.len(), 40, "{}: a job ran twice or not at all", b.name);
        assert_eq!(unique, queued, "{}", b.name);
    }
}

#[tokio::test]
async fn an_expired_lease_is_reclaimed_and_the_old_holder_cannot_complete() {
    for b in backends().await {
        let integration = b.store.insert_integration(&snowflake(), Status::Creating).await.unwrap();
        let job = b.store.enqueue_job(integration.id, "create", None, JobOwner::Anyone).await.unwrap();
        let first = b.store.claim_job("a", Duration::ZERO).await.unwrap().unwrap();
        assert_eq!((first.id, first.attempts), (job, 1));
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = b.store.claim_job("b", Duration::from_secs(60)).await.unwrap().unwrap();
        assert_eq!((second.id, second.attempts), (job, 2), "{}", b.name);
        assert!(!b.store.complete_job(job, "a").await.unwrap(), "{}", b.name);
        assert!(b.store.complete_job(job, "b").await.unwrap());
        assert!(b.store.claim_job("c", Duration::from_secs(60)).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn api_keys_are_stored_as_hashes_and_can_be_revoked() {
    for b in backends().await {
        let (admin, admin_key) = b.store.create_api_key("admin", &[Permission::ApplicationAdmin], None).await.unwrap();
        assert_eq!(b.store.find_api_key(admin_key.expose()).await.unwrap(), Some(admin.clone()), "{}", b.name);
        assert_eq!(b.store.find_api_key("wdn_wrong").await.unwrap(), None);
        let chosen = Secret::new("an-operator-chosen-key-of-enough-length".to_owned());
        let imported = b.store.import_api_key("env", &[Permission::ApplicationAdmin], &chosen).await.unwrap();
        assert!(imported.is_some(), "{}", b.name);
        let again = b.store.import_api_key("env", &[Permission::ApplicationAdmin], &chosen).await.unwrap();
        assert!(again.is_none(), "{}: a second import of one key is a no-op", b.name);
        assert_eq!(b.store.find_api_key(chosen.expose()).await.unwrap(), imported, "{}", b.name);
        let cells = raw_rows(&b.raw_url, "SELECT * FROM api_keys").await;
        assert!(!cells.iter().any(|c| c.contains(admin_key.expose().as_str())), "{}: key stored in clear", b.name);

        let trino = b.store.insert_integration(&snowflake(), Status::Enabled).await.unwrap();
        let (_, old) = b.store.create_api_key("trino", &[], Some(trino.id)).await.unwrap();
        let (current_key, current) = b.store.create_api_key("trino", &[], Some(trino.id)).await.unwrap();
        assert_eq!(b.store.count_admin_keys().await.unwrap(), 2, "{}: integration keys are not admin keys", b.name);
        assert_eq!(b.store.revoke_integration_keys(trino.id, Some(current_key.id)).await.unwrap(), 1);
        assert_eq!(b.store.find_api_key(old.expose()).await.unwrap(), None, "{}", b.name);
        assert_eq!(b.store.find_api_key(current.expose()).await.unwrap(), Some(current_key), "{}", b.name);
        assert_eq!(b.store.revoke_integration_keys(trino.id, None).await.unwrap(), 1);
        assert_eq!(b.store.find_api_key(current.expose()).await.unwrap(), None);
        assert!(
            b.store.find_api_key(admin_key.expose()).await.unwrap().is_some(),
            "{}: revoking hit the admin key",
            b.name
        );
    }
}

#[tokio::test]
async fn audit_entries_keep_who_what_and_the_redacted_states() {
    for b in backends().await {
        let stored = b.store.insert_integration(&snowflake(), Status::Creating).await.unwrap();
        let after = stored.spec.redacted();
        b.store.record_audit("key:1 admin", "create", Some(stored.id), None, Some(&after)).await.unwrap();
        let entries = b.store.audit_of(stored.id).await.unwrap();
        assert_eq!(entries.len(), 1, "{}", b.name);
        assert_eq!((entries[0].0.as_str(), entries[0].1.as_str()), ("key:1 admin", "create"));
        assert!(entries[0].3.as_deref().unwrap().contains("[REDACTED]"));
    }
}

#[tokio::test]
async fn another_master_key_cannot_read_stored_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path(), key()).await.unwrap();
    let stored = store.insert_integration(&snowflake(), Status::Enabled).await.unwrap();
    drop(store);
    let other = Store::open_sqlite(dir.path(), MasterKey::from_hex(&"cd".repeat(32)).unwrap()).await.unwrap();
    assert!(matches!(other.get_integration(stored.id).await, Err(StoreError::WrongMasterKey)));
    // A stale version is still reported as a conflict, not as a key problem.
    let stale = other.update_integration(stored.id, 99, Status::Enabled, None, None).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { .. })), "{stale:?}");
}

#[tokio::test]
async fn the_key_file_is_created_private_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = MasterKey::load_or_create(dir.path()).unwrap();
    let path = dir.path().join(warden_store::MASTER_KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(format!("{first:?}"), "MasterKey([REDACTED])");
    // What the first key sealed, the key loaded again (and the key file's text) opens.
    let data = tempfile::tempdir().unwrap();
    let stored = {
        let store = Store::open_sqlite(data.path(), first).await.unwrap();
        store.insert_integration(&snowflake(), Status::Enabled).await.unwrap()
    };
    let second = MasterKey::load_or_create(dir.path()).unwrap();
    let again = Store::open_sqlite(data.path(), second).await.unwrap();
    assert_eq!(again.get_integration(stored.id).await.unwrap().unwrap().spec, stored.spec, "the key was reused");
    let text = std::fs::read_to_string(&path).unwrap();
    let from_text = Store::open_sqlite(data.path(), MasterKey::from_hex(&text).unwrap()).await.unwrap();
    assert!(from_text.get_integration(stored.id).await.is_ok(), "the file holds the key");
    let fresh = Store::open_sqlite(data.path(), MasterKey::generate().unwrap()).await.unwrap();
    assert!(matches!(fresh.get_integration(stored.id).await, Err(StoreError::WrongMasterKey)), "a new key differs");
    assert!(MasterKey::from_hex("zz").is_err());
}

/// Platform state is stored with its integration and cleared on demand; the registry's
/// query lists integrations in use of one type; data sources are unique by name within an
/// integration (the constraint decides, so two racing registrations cannot both win), carry
/// their state, and are read per integration or per type.
#[tokio::test]
async fn platform_state_and_data_sources_round_trip() {
    for b in backends().await {
        let spec = snowflake();
        let a = b.store.insert_integration(&spec, Status::Enabled).await.unwrap();
        b.store.insert_integration(&spec, Status::Deleted).await.unwrap();
        assert_eq!(a.platform_state, None);
        let state = json!({"locationId": "loc-1"});
        b.store.set_platform_state(a.id, Some(&state)).await.unwrap();
        assert_eq!(b.store.get_integration(a.id).await.unwrap().unwrap().platform_state, Some(state), "{}", b.name);
        b.store.set_platform_state(a.id, None).await.unwrap();
        assert_eq!(b.store.get_integration(a.id).await.unwrap().unwrap().platform_state, None, "{}", b.name);
        let in_use = b.store.integrations_in_use(IntegrationType::Snowflake).await.unwrap();
        assert_eq!(in_use.iter().map(|i| i.id).collect::<Vec<_>>(), vec![a.id], "{}", b.name);
        assert!(b.store.integrations_in_use(IntegrationType::Redshift).await.unwrap().is_empty());

        let sales = b.store.insert_data_source(a.id, "sales", "s3://lake/sales", None).await.unwrap();
        let grant = json!({"grantId": "g-1"});
        let sales = b.store.set_data_source_state(sales.id, &grant).await.unwrap();
        assert_eq!(sales.state, Some(grant), "{}", b.name);
        let racing = tokio::join!(
            b.store.insert_data_source(a.id, "hr", "s3://lake/hr", None),
            b.store.insert_data_source(a.id, "hr", "s3://lake/hr2", None),
        );
        let wins = [&racing.0, &racing.1].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{}: exactly one registration of a name wins", b.name);
        let loser = if racing.0.is_err() { racing.0 } else { racing.1 };
        assert!(matches!(loser, Err(StoreError::NameTaken { ref name }) if name == "hr"), "{}: {loser:?}", b.name);
        let of_integration = b.store.data_sources(DataSourcesOf::Integration(a.id)).await.unwrap();
        assert_eq!(of_integration.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["sales", "hr"], "{}", b.name);
        let of_type = b.store.data_sources(DataSourcesOf::Type(IntegrationType::Snowflake)).await.unwrap();
        assert_eq!(of_type, of_integration, "{}", b.name);
        assert!(b.store.data_sources(DataSourcesOf::Type(IntegrationType::NativeS3)).await.unwrap().is_empty());
        b.store.delete_data_source(sales.id).await.unwrap();
        assert_eq!(b.store.data_sources(DataSourcesOf::Integration(a.id)).await.unwrap().len(), 1, "{}", b.name);
    }
}

/// Each stored config carries the schema version it was written at; a row from an older
/// Warden with a field this one dropped still reads, and one from a newer Warden is refused
/// by name (while listing, which reads no config, still answers).
#[tokio::test]
async fn stored_configs_carry_their_schema_version_and_read_leniently() {
    for b in backends().await {
        let spec = snowflake();
        let a = b.store.insert_integration(&spec, Status::Enabled).await.unwrap();
        let version = raw_rows(
            &b.raw_url,
            &format!("SELECT CAST(config_version AS TEXT) FROM integrations WHERE id = {a}", a = a.id),
        )
        .await;
        assert_eq!(version, vec![warden_model::CONFIG_VERSION.to_string()], "{}", b.name);
        let mut old = spec.redacted();
        old["config"]["retiredField"] = json!("kept by an older Warden");
        let old = old.to_string().replace('\'', "''");
        raw_exec(
            &b.raw_url,
            &format!("UPDATE integrations SET config = '{old}', config_version = 1 WHERE id = {}", a.id),
        )
        .await;
        assert_eq!(b.store.get_integration(a.id).await.unwrap().unwrap().spec, spec, "{}", b.name);
        raw_exec(&b.raw_url, &format!("UPDATE integrations SET config_version = 99 WHERE id = {}", a.id)).await;
        let newer = b.store.get_integration(a.id).await.unwrap_err().to_string();
        assert!(newer.contains("written by a newer Warden"), "{}: {newer}", b.name);
        assert_eq!(b.store.list_shown(&warden_store::ListQuery::default()).await.unwrap().len(), 1, "{}", b.name);
    }
}

/// Waits up to five seconds for `check` to hold.
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "not within 5 s: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_read_cache_shows_a_write_to_the_next_read() {
    for b in backends().await {
        eventually("the read cache is on", || async { b.store.read_cache_on() }).await;
        let status = |id| {
            let store = &b.store;
            async move { store.shown(id).await.unwrap().map(|s| s.summary.status) }
        };
        let listed = |query: warden_store::ListQuery| {
            let store = &b.store;
            async move {
                store
                    .list_shown(&query)
                    .await
                    .unwrap()
                    .iter()
                    .map(|s| (s.summary.id, s.summary.status))
                    .collect::<Vec<_>>()
            }
        };
        let a = b.store.insert_integration(&snowflake(), Status::Creating).await.unwrap();
        assert_eq!(status(a.id).await, Some(Status::Creating), "{}", b.name);
        assert_eq!(listed(Default::default()).await, [(a.id, Status::Creating)], "{}", b.name);
        let a = b.store.update_integration(a.id, a.version, Status::Enabled, None, None).await.unwrap();
        assert_eq!(status(a.id).await, Some(Status::Enabled), "{}: an update", b.name);
        assert_eq!(listed(Default::default()).await, [(a.id, Status::Enabled)], "{}", b.name);
        b.store.record_validation(a.id, &json!({"status": "passed", "tests": []})).await.unwrap();
        let results = b.store.shown(a.id).await.unwrap().unwrap().summary.validation_results.clone();
        assert_eq!(results.map(|r| r.get().to_owned()).as_deref(), Some(r#"{"status":"passed","tests":[]}"#));
        let c = b.store.insert_integration(&snowflake(), Status::Deleted).await.unwrap();
        assert_eq!(listed(Default::default()).await, [(a.id, Status::Enabled)], "{}: deleted ones are hidden", b.name);
        let every = warden_store::ListQuery { include_deleted: true, ..Default::default() };
        assert_eq!(listed(every).await, [(a.id, Status::Enabled), (c.id, Status::Deleted)], "{}: an insert", b.name);
        let paged =
            warden_store::ListQuery { include_deleted: true, after: Some(a.id), limit: Some(1), ..Default::default() };
        assert_eq!(listed(paged).await, [(c.id, Status::Deleted)], "{}", b.name);
        let by_type =
            warden_store::ListQuery { integration_type: Some(IntegrationType::Redshift), ..Default::default() };
        assert!(listed(by_type).await.is_empty(), "{}", b.name);
    }
}

#[tokio::test]
async fn on_postgresql_another_process_s_write_reaches_the_read_cache() {
    let Some(b) = backends().await.into_iter().find(|b| b.name == "postgres") else { return };
    let other = Store::connect(&b.raw_url, key()).await.unwrap();
    eventually("the read cache is on", || async { b.store.read_cache_on() }).await;
    let a = b.store.insert_integration(&snowflake(), Status::Enabled).await.unwrap();
    let status_is = |wanted: Status| {
        let store = &b.store;
        move || async move { store.shown(a.id).await.unwrap().unwrap().summary.status == wanted }
    };
    assert!(status_is(Status::Enabled)().await);
    other.update_integration(a.id, a.version, Status::EditError, Some("from another process"), None).await.unwrap();
    eventually("another store's update is seen", status_is(Status::EditError)).await;
    raw_exec(&b.raw_url, &format!("UPDATE integrations SET status = 'createError' WHERE id = {}", a.id)).await;
    eventually("an update outside Warden is seen", status_is(Status::CreateError)).await;

    // The notification connection is lost: a change made meanwhile is still seen (the cache
    // stops answering, and starts empty when the connection is back).
    raw_exec(
        &b.raw_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .await;
    raw_exec(&b.raw_url, &format!("UPDATE integrations SET status = 'deleteError' WHERE id = {}", a.id)).await;
    eventually("a change while notifications were down is seen", status_is(Status::DeleteError)).await;
    eventually("the read cache is on again", || async { b.store.read_cache_on() }).await;
    raw_exec(&b.raw_url, &format!("UPDATE integrations SET status = 'enabled' WHERE id = {}", a.id)).await;
    eventually("a change after the reconnection is seen", status_is(Status::Enabled)).await;
}

async fn raw_exec(url: &str, sql: &str) {
    if url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
    }
}

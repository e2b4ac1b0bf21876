//! The rehearsal platform: a stand-in adapter for the end-to-end tests, registered for
//! Snowflake, Redshift and Databricks in the `warden-under-test` binary only (for every type
//! but Trino when `WARDEN_REHEARSAL_EVERY_TYPE=1`, which the documentation's examples use:
//! see `tests/docs.rs`). It talks to no
//! platform. Its behaviour is read from the integration's host (the first DNS label is a
//! list of words joined by `-`), so a test picks it through the public API:
//!
//! - `failconnect`: opening the run's session fails (so the connection test fails); `failcheck`:
//!   every other check fails; the connection test also fails when any secret of the config
//!   contains `wrong` (a wrong password in a DELETE body, say); `abortcheck`: the first check
//!   after the connection test aborts the request (Databricks' metastore lookup error);
//!   `hangcheck`: every check after the connection test never answers (until the check timeout);
//! - `failsetup`, `failcleanup`, `failedit`, `faildelete`: that change fails (a failed setup
//!   rolls back, and `failrollback` fails that rollback);
//! - `slowsetup`, `slowedit`, `slowdelete`: that change takes 2 s; `hangsetup`, `hangedit`,
//!   `hangdelete`: it never ends (until the change deadline or a kill).
//!
//! - a transient fault on demand: when `WARDEN_REHEARSAL_FAULTS` names a directory holding a
//!   file named after the host with a number `n` in it, the next `n` validation runs of that
//!   (stored) integration cannot connect (`connection reset by peer`, an unreachable platform:
//!   a transient fault), each taking one from the number.
//!
//! Every change it makes is appended to the file named by `WARDEN_REHEARSAL_LOG` (one line:
//! change, integration host, process id), so tests can count how often a job ran.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use warden_engine::Platforms;
use warden_model::ErrorCode;
use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig, Secret};
use warden_platform::{
    Applied, Change, CheckContext, CheckOutcome, Descriptor, Needs, Phase, Platform, PlatformError, Session,
    SetupModel, TestId, catalogue,
};

/// The environment variable naming the change log file.
pub const LOG_ENV: &str = "WARDEN_REHEARSAL_LOG";
/// The environment variable naming the directory of injected transient faults.
pub const FAULTS_ENV: &str = "WARDEN_REHEARSAL_FAULTS";

/// The environment variable that registers the rehearsal for every type but Trino.
pub const EVERY_TYPE_ENV: &str = "WARDEN_REHEARSAL_EVERY_TYPE";

/// The adapters of the test binary: Trino plus the rehearsal platform for three types, or
/// for all six others when [`EVERY_TYPE_ENV`] is `1`.
pub fn platforms() -> Platforms {
    let types: &[IntegrationType] = if std::env::var(EVERY_TYPE_ENV).is_ok_and(|v| v == "1") {
        &[
            IntegrationType::Snowflake,
            IntegrationType::Redshift,
            IntegrationType::Databricks,
            IntegrationType::AzureSynapseAnalytics,
            IntegrationType::GoogleBigQuery,
            IntegrationType::NativeS3,
        ]
    } else {
        &[IntegrationType::Snowflake, IntegrationType::Redshift, IntegrationType::Databricks]
    };
    types.iter().fold(Platforms::new().with(Arc::new(warden_trino::Trino)), |platforms, &integration_type| {
        platforms.with(Arc::new(Rehearsal { integration_type }))
    })
}

/// The rehearsal's descriptors: each type's real setup model.
static REDSHIFT: Descriptor = Descriptor::new(
    IntegrationType::Redshift,
    SetupModel::PrivilegedOnce,
    &["authenticationType", "username", "databaseUser", "accessKeyId", "okta"],
);
static SNOWFLAKE: Descriptor = Descriptor::new(
    IntegrationType::Snowflake,
    SetupModel::PrivilegedOnce,
    &["authenticationType", "username", "role"],
);
static DATABRICKS: Descriptor = Descriptor::new(IntegrationType::Databricks, SetupModel::OwnIdentity, &[]);
static SYNAPSE: Descriptor = Descriptor::new(
    IntegrationType::AzureSynapseAnalytics,
    SetupModel::PrivilegedOnce,
    &["authenticationType", "username"],
);
static BIGQUERY: Descriptor = Descriptor::new(IntegrationType::GoogleBigQuery, SetupModel::ManualOnly, &[]);
static NATIVE_S3: Descriptor =
    Descriptor { data_sources: true, ..Descriptor::new(IntegrationType::NativeS3, SetupModel::ManualOnly, &[]) };

/// The stand-in adapter for one type.
#[derive(Debug)]
pub struct Rehearsal {
    integration_type: IntegrationType,
}

fn behaviour(spec: &IntegrationSpec) -> String {
    spec.host().split('.').next().unwrap_or_default().to_owned()
}

fn has(spec: &IntegrationSpec, word: &str) -> bool {
    behaviour(spec).split('-').any(|w| w == word)
}

fn record(change: &str, spec: &IntegrationSpec) {
    let Ok(path) = std::env::var(LOG_ENV) else { return };
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        // One write per line: with O_APPEND a single write is never interleaved with another
        // task's or process's, while writeln! may split a line into several writes.
        let line = format!("{change} {} {}\n", spec.host(), std::process::id());
        let _ = file.write_all(line.as_bytes());
    }
}

/// Whether an injected transient fault is due for `spec` (and takes it).
fn take_fault(spec: &IntegrationSpec) -> bool {
    let Ok(dir) = std::env::var(FAULTS_ENV) else { return false };
    let path = std::path::Path::new(&dir).join(spec.host());
    let Ok(text) = std::fs::read_to_string(&path) else { return false };
    let left: u32 = text.trim().parse().unwrap_or(0);
    if left == 0 {
        return false;
    }
    std::fs::write(&path, (left - 1).to_string()).is_ok()
}

/// A password for the system account: 32 hex characters from the OS CSPRNG.
fn generated_password() -> Result<String, PlatformError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| PlatformError::unsupported(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[async_trait]
impl Platform for Rehearsal {
    fn descriptor(&self) -> &'static Descriptor {
        match self.integration_type {
            IntegrationType::Databricks => &DATABRICKS,
            IntegrationType::Snowflake => &SNOWFLAKE,
            IntegrationType::AzureSynapseAnalytics => &SYNAPSE,
            IntegrationType::GoogleBigQuery => &BIGQUERY,
            IntegrationType::NativeS3 => &NATIVE_S3,
            _ => &REDSHIFT,
        }
    }

    async fn open(&self, spec: &IntegrationSpec, phase: Phase) -> Result<Session, PlatformError> {
        if phase == Phase::Installed && take_fault(spec) {
            return Err(PlatformError::unreachable("connection reset by peer (rehearsal fault)"));
        }
        if has(spec, "failconnect") {
            return Err(PlatformError::new(
                warden_platform::ErrorKind::Unauthenticated,
                "FATAL: password authentication failed (rehearsal)",
            ));
        }
        Ok(Session::none())
    }

    async fn check(&self, test: TestId, context: &CheckContext) -> Result<CheckOutcome, PlatformError> {
        let spec = &context.spec;
        let defs = catalogue(self.integration_type);
        let is_connection = defs.iter().any(|d| d.id == test && d.needs == Needs::IsConnectionTest);
        let wrong_secret = spec.secrets().values().any(|secret| secret.expose().contains("wrong"));
        if is_connection && wrong_secret {
            return Ok(CheckOutcome::failed("FATAL: password authentication failed (rehearsal)"));
        }
        if !is_connection && has(spec, "hangcheck") {
            std::future::pending::<()>().await;
        }
        if !is_connection && has(spec, "abortcheck") {
            return Ok(CheckOutcome::Abort(ErrorCode::MetastoreLookupFailed));
        }
        if !is_connection && has(spec, "failcheck") {
            return Ok(CheckOutcome::failed("the rehearsal was told to fail this check"));
        }
        Ok(CheckOutcome::Passed)
    }

    fn system_account(
        &self,
        requested: &IntegrationSpec,
        current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        if !matches!(
            requested.config,
            PlatformConfig::Redshift(_) | PlatformConfig::Snowflake(_) | PlatformConfig::AzureSynapse(_)
        ) {
            return Ok(requested.clone());
        }
        let (username, password) = match current {
            Some(current) => {
                let username = current.redacted()["config"]["username"].as_str().unwrap_or("warden_system").to_owned();
                let password = current.secrets().get("config.password").cloned();
                (username, password.ok_or_else(|| PlatformError::unsupported("no stored password"))?)
            }
            None => ("warden_system".to_owned(), Secret::new(generated_password()?)),
        };
        with_user_password(requested, &username, &password).map_err(|problems| {
            PlatformError::unsupported(format!("the system-account config does not read back: {problems:?}"))
        })
    }

    async fn apply(&self, change: Change<'_>) -> Result<Applied, PlatformError> {
        let (spec, word, slow, hang) = match change {
            Change::Create { spec, .. } => (spec, "failsetup", "slowsetup", "hangsetup"),
            Change::Edit { to, .. } => (to, "failedit", "slowedit", "hangedit"),
            Change::Delete { spec, .. } => (spec, "faildelete", "slowdelete", "hangdelete"),
            Change::Cleanup { spec, .. } => (spec, "failcleanup", "slowcleanup", "hangcleanup"),
            Change::Migrate { spec, .. } => (spec, "failmigrate", "slowmigrate", "hangmigrate"),
        };
        record(change.name(), spec);
        if has(spec, hang) {
            std::future::pending::<()>().await;
        }
        if has(spec, slow) {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        if !has(spec, word) {
            return Ok(Applied::NOTHING);
        }
        let cause = PlatformError::other(format!("the rehearsal was told to fail the {}", change.name()));
        if !matches!(change, Change::Create { .. }) {
            return Err(cause);
        }
        // A failed setup removes what it created before it returns (the contract); the
        // rehearsal records that removal, and fails it when told to.
        record("rollback", spec);
        let rollback = has(spec, "failrollback").then(|| "the rehearsal was told to fail the cleanup".to_owned());
        Err(PlatformError::SetupFailed { cause: Box::new(cause), rollback })
    }

    async fn register_data_source(
        &self,
        spec: &IntegrationSpec,
        _state: Option<&serde_json::Value>,
        _request: &warden_platform::DataSourceRequest,
    ) -> Result<Applied, PlatformError> {
        record("register-data-source", spec);
        Ok(Applied::NOTHING)
    }
}

/// `spec` with its credentials replaced by a user and password login, as an automatic
/// setup's stored config names the system account it created (what the real adapters do with
/// their typed configs). Fields of the other authentication types are dropped.
fn with_user_password(
    spec: &IntegrationSpec,
    username: &str,
    password: &Secret<String>,
) -> Result<IntegrationSpec, Vec<warden_model::Problem>> {
    const OTHER_AUTH: &[&str] = &[
        "databaseUser",
        "accessKeyId",
        "secretKey",
        "sessionToken",
        "okta",
        "privateKey",
        "privateKeyPassword",
        "oAuthClientConfig",
    ];
    let mut payload = spec.redacted();
    let mut secrets = spec.secrets();
    if let Some(config) = payload.get_mut("config").and_then(serde_json::Value::as_object_mut) {
        config.retain(|key, _| !OTHER_AUTH.contains(&key.as_str()));
        secrets.retain(|path, _| !OTHER_AUTH.iter().any(|f| path.starts_with(&format!("config.{f}"))));
        config.insert("authenticationType".into(), "userPassword".into());
        config.insert("username".into(), username.into());
        config.insert("password".into(), warden_model::REDACTED.into());
        secrets.insert("config.password".into(), password.clone());
    }
    IntegrationSpec::from_value(&payload, Some(&secrets))
}

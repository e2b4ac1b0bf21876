//! The rehearsal platform: a stand-in adapter for the end-to-end tests, registered for
//! Snowflake, Redshift and Databricks in the `warden-under-test` binary only. It talks to no
//! platform. Its behaviour is read from the integration's host (the first DNS label is a
//! list of words joined by `-`), so a test picks it through the public API:
//!
//! - `failconnect`: the connection test fails; `failcheck`: every other check fails; the
//!   connection test also fails when any secret of the config contains `wrong` (a wrong
//!   password in a DELETE body, say);
//! - `failsetup`, `failcleanup`, `failedit`, `faildelete`: that change fails (a failed setup
//!   rolls back, and `failrollback` fails that rollback);
//! - `slowsetup`, `slowedit`, `slowdelete`: that change takes 2 s; `hangsetup`, `hangedit`,
//!   `hangdelete`: it never ends (until the change deadline or a kill).
//!
//! Every change it makes is appended to the file named by `WARDEN_REHEARSAL_LOG` (one line:
//! change, integration host, process id), so tests can count how often a job ran.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use warden_engine::Platforms;
use warden_model::{IntegrationSpec, IntegrationType, PlatformConfig, Secret};
use warden_platform::{Change, CheckOutcome, Descriptor, Phase, Platform, PlatformError, SetupModel};
use warden_validation::{Needs, catalogue};

/// The environment variable naming the change log file.
pub const LOG_ENV: &str = "WARDEN_REHEARSAL_LOG";

/// The adapters of the test binary: Trino plus the rehearsal platform for three types.
pub fn platforms() -> Platforms {
    [IntegrationType::Snowflake, IntegrationType::Redshift, IntegrationType::Databricks]
        .into_iter()
        .fold(Platforms::new(), |platforms, integration_type| platforms.with(Arc::new(Rehearsal { integration_type })))
}

/// The rehearsal's descriptors: each type's real setup model.
static REDSHIFT: Descriptor = Descriptor {
    integration_type: IntegrationType::Redshift,
    setup: SetupModel::PrivilegedOnce,
    delete_credential_fields: &["authenticationType", "username", "databaseUser", "accessKeyId", "okta"],
};
static SNOWFLAKE: Descriptor = Descriptor {
    integration_type: IntegrationType::Snowflake,
    setup: SetupModel::PrivilegedOnce,
    delete_credential_fields: &["authenticationType", "username", "role"],
};
static DATABRICKS: Descriptor = Descriptor {
    integration_type: IntegrationType::Databricks,
    setup: SetupModel::OwnIdentity,
    delete_credential_fields: &[],
};

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
            _ => &REDSHIFT,
        }
    }

    async fn check(&self, test: &str, spec: &IntegrationSpec, _phase: Phase) -> Result<CheckOutcome, PlatformError> {
        let is_connection =
            catalogue(self.integration_type).iter().any(|d| d.name == test && d.needs == Needs::IsConnectionTest);
        let wrong_secret = spec.secrets().values().any(|secret| secret.expose().contains("wrong"));
        if is_connection && (has(spec, "failconnect") || wrong_secret) {
            return Ok(CheckOutcome::Failed("FATAL: password authentication failed (rehearsal)".into()));
        }
        if !is_connection && has(spec, "failcheck") {
            return Ok(CheckOutcome::Failed("the rehearsal was told to fail this check".into()));
        }
        Ok(CheckOutcome::Passed)
    }

    fn system_account(
        &self,
        requested: &IntegrationSpec,
        current: Option<&IntegrationSpec>,
    ) -> Result<IntegrationSpec, PlatformError> {
        if !matches!(requested.config, PlatformConfig::Redshift(_) | PlatformConfig::Snowflake(_)) {
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
        requested.with_user_password(&username, &password).map_err(|problems| {
            PlatformError::unsupported(format!("the system-account config does not read back: {problems:?}"))
        })
    }

    async fn apply(&self, change: Change<'_>) -> Result<(), PlatformError> {
        let (spec, word, slow, hang) = match change {
            Change::Create { spec, .. } => (spec, "failsetup", "slowsetup", "hangsetup"),
            Change::Edit { to, .. } => (to, "failedit", "slowedit", "hangedit"),
            Change::Delete { spec, .. } => (spec, "faildelete", "slowdelete", "hangdelete"),
            Change::Cleanup { spec, .. } => (spec, "failcleanup", "slowcleanup", "hangcleanup"),
        };
        record(change.name(), spec);
        if has(spec, hang) {
            std::future::pending::<()>().await;
        }
        if has(spec, slow) {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        if !has(spec, word) {
            return Ok(());
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
}

//! Automatic setup: the `warden-scripts` Snowflake scripts run statement by statement on one
//! session of the privileged login (its `role` taken first), which is used for this change
//! only and never kept. A create that fails part way removes what it had created, and only
//! that (each top-level object is recorded as its `CREATE` succeeds, run without the script's
//! `IF NOT EXISTS`, so a success means Warden made it). A removal goes on past objects that
//! are already gone.

use warden_model::IntegrationSpec;
use warden_platform::{ErrorKind, Phase, PlatformError};
use warden_scripts::{Created, Dialect, Script, ScriptKind};

use crate::{client, config, connect};

/// Whether a statement about an object that is not there stops the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnError {
    /// Stop at the first failure.
    Stop,
    /// Removing what may be half there: skip a statement about an object that is gone.
    TolerateMissing,
}

/// A session of the privileged login, with its `role` taken.
pub(crate) async fn privileged_session(privileged: &IntegrationSpec) -> Result<client::Session, PlatformError> {
    let config = config(privileged)?;
    let (endpoint, login) = connect::session_for(privileged, config, Phase::Request).await?;
    let session = client::login(&endpoint, &login).await?;
    if let Some(role) = &config.role {
        let role =
            Dialect::Snowflake.ident("config.role", role).map_err(|e| PlatformError::unsupported(e.to_string()))?;
        if let Err(error) = session.query(&format!("USE ROLE {role}")).await {
            session.close().await;
            return Err(error);
        }
    }
    Ok(session)
}

fn script(kind: ScriptKind, spec: &IntegrationSpec, from: Option<&IntegrationSpec>) -> Result<Script, PlatformError> {
    warden_scripts::build(kind, spec, from).map_err(|e| PlatformError::unsupported(e.to_string()))
}

/// Runs `script`, pushing to `created` each object a statement created.
async fn run_script(
    session: &client::Session,
    script: &Script,
    on_error: OnError,
    created: &mut Vec<Created>,
) -> Result<(), PlatformError> {
    for statement in script.statements() {
        let sql = statement.setup_sql();
        tracing::debug!(statement = %warden_scripts::label(&sql), "running on Snowflake");
        match session.query(&sql).await {
            Ok(_) => created.extend(statement.creates.clone()),
            Err(error) if on_error == OnError::TolerateMissing && error.kind() == Some(ErrorKind::NotFound) => {
                tracing::info!(%error, "skipping: already gone");
            }
            // The client's error names the statement by its label, which stops before any
            // literal: a failed CREATE USER never echoes a secret.
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Runs the script of `kind` for `spec` (an edit from `from`).
pub(crate) async fn run(
    session: &client::Session,
    kind: ScriptKind,
    spec: &IntegrationSpec,
    from: Option<&IntegrationSpec>,
) -> Result<(), PlatformError> {
    let on_error =
        if matches!(kind, ScriptKind::Delete | ScriptKind::Cleanup) { OnError::TolerateMissing } else { OnError::Stop };
    run_script(session, &script(kind, spec, from)?, on_error, &mut Vec::new()).await
}

/// Sets `spec` up; when a statement fails, removes what the setup had created.
pub(crate) async fn create(session: &client::Session, spec: &IntegrationSpec) -> Result<(), PlatformError> {
    let mut created = Vec::new();
    let Err(cause) = run_script(session, &script(ScriptKind::Create, spec, None)?, OnError::Stop, &mut created).await
    else {
        return Ok(());
    };
    if created.is_empty() {
        return Err(PlatformError::SetupFailed { cause: Box::new(cause), rollback: None });
    }
    tracing::warn!(objects = created.len(), "a Snowflake setup failed part way; removing what it created");
    let rollback = match warden_scripts::undo(warden_model::IntegrationType::Snowflake, &created, "") {
        Ok(undo) => run_script(session, &undo, OnError::TolerateMissing, &mut Vec::new()).await.err(),
        Err(error) => Some(PlatformError::unsupported(error.to_string())),
    };
    Err(PlatformError::SetupFailed { cause: Box::new(cause), rollback: rollback.map(|e| e.to_string()) })
}
